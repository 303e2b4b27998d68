//! The integration tests, as one binary: one build and link instead of one per file, and
//! helpers in `support` that every module shares. Tests that need moto's server fail (never
//! skip) without it: run `make test`, or see `support::dynamodb`.
//!
//! Everything runs in one process, so no test may change process-wide state: no global
//! tracing subscriber and no environment variables (a test that needs either runs alone in a
//! child process: `support::child_process`), ports bound to 0 on loopback, temp dirs from
//! `tempfile`.

mod support;

mod admin;
mod aws_calls;
mod aws_cli;
mod aws_dynamodb;
mod aws_lambda;
mod aws_template;
mod cli;
mod console_browser;
mod credentials;
mod events;
mod examples;
mod faults;
mod flow_control;
mod flows;
mod fuzz_corpus;
mod group_commit;
mod hostile_input;
mod local_worker;
mod log_redaction;
mod openapi;
mod operator_executions;
mod panics;
mod path_flows;
mod payload_schema_flows;
mod refusal_samples;
mod send_email;
mod serve_binary;
mod serve_limits;
mod signatures;
mod sns_flows;
mod sns_known_answers;
mod sns_publish;
mod sns_verification;
mod sqlite_durability;
mod step_flows;
mod store_contract;
mod wait_flows;
mod workflow_schema;
mod workflow_tools;
