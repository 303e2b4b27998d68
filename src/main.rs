//! The `webhook-trigger` command: the local server (`serve`) and the operator's CLI.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    webhook_trigger::cli::main().await
}
