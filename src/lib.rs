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
pub mod steps;
pub mod telemetry;
pub mod wire;
pub mod wiring;
pub mod worker;

/// The allocator of every binary built on this crate (the servers, the Lambda functions, the
/// CLI, tests and benchmarks alike): request handling allocates a lot of small, short-lived
/// values across threads, which mimalloc serves faster than glibc's malloc (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
