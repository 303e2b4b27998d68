//! webhook-trigger: per-workflow webhook URLs that start workflow executions.
//!
//! Read in this order: `domain` (the rules), `ports` (what the rules need from the world),
//! `app` (the use cases), `http` (the API), `worker` (running executions), `adapters`
//! (SQLite, DynamoDB, SQS), `cli`.

pub mod adapters;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error_chain;
pub mod error_kind;
pub mod http;
pub mod lambda;
pub mod measure;
pub mod ports;
pub mod sns;
pub mod telemetry;
pub mod wire;
pub mod wiring;
pub mod worker;
