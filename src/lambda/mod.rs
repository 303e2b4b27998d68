//! The Lambda functions, as plain async functions so tests can call them with built
//! events: `api` (API Gateway → the same axum router as `serve`), `worker` (an SQS batch →
//! `Worker::process` per record, with partial batch failures) and `sweeper` (a schedule →
//! re-send executions whose queue message was lost).
//!
//! The binaries in `src/bin/` only read the environment, build the SDK clients once per
//! execution environment (not per invocation, with `crate::adapters::aws`) and call
//! `api::run` / `worker::run` / `sweeper::run`.

pub mod api;
pub mod sweeper;
pub mod worker;

/// A setting the function cannot start without.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set (template.yaml sets it for the deployed functions)")]
pub struct MissingEnv(pub &'static str);

/// A required, non-empty environment variable.
pub fn env(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingEnv(name))
}
