//! The `webhook-trigger` command line: `serve`, and management of keys, workflows and
//! executions, against the embedded store or DynamoDB.

mod backend;
mod output;
mod serve;
pub mod setup;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use backend::{Backend, StoreLocation, open as open_backend, open_with_queue};
pub use serve::{DEMO_BODY, DEMO_WORKFLOW};

use crate::app::{
    AppError, BulkReplay, CheckReport, FilterParams, InputChoice, ListExecutions, ListItems,
    NewWorkflow, ReplayVersion, SearchParams, TypedInput,
};
use crate::config::Config;
use crate::domain::{SnsOptions, Trigger, WorkflowFile, WorkflowStep};
use output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "webhook-trigger",
    version,
    about = "Per-workflow webhook URLs that start workflow executions"
)]
pub struct Cli {
    /// Where data lives: a SQLite file path (or sqlite://PATH), or dynamodb://TABLE.
    #[arg(long, global = true, env = "WEBHOOK_STORE", default_value = backend::DEFAULT_DB)]
    store: StoreLocation,
    /// SQS queue for a dynamodb:// store (the stack's QueueUrl); only `executions replay` needs it.
    #[arg(long, global = true, env = "QUEUE_URL")]
    queue_url: Option<String>,
    /// Base URL printed in webhook URLs [default: http://127.0.0.1:3000; for serve, the
    /// address it listens on].
    #[arg(long, global = true, env = "WEBHOOK_BASE_URL")]
    base_url: Option<String>,
    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and the worker in this process on the embedded store.
    Serve(ServeArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCommand),
    /// Create, list and revoke admin keys: the operator's credential for the console
    /// (`/console`) and the `/admin` routes, apart from workflow keys.
    #[command(subcommand, name = "admin-keys")]
    AdminKeys(AdminKeysCommand),
    /// Create, list, show, enable and disable workflows.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
    /// List, show and replay executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Create the table (with TTL) and the queue + dead-letter queue, e.g. on an emulator.
    Setup(setup::SetupArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long, env = "WEBHOOK_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Older spelling of `--store PATH`, kept so existing scripts still work.
    #[arg(long, hide = true)]
    db: Option<std::path::PathBuf>,
    /// On a fresh store, create a demo key and workflow and print a ready curl line.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Subcommand)]
enum ApiKeysCommand {
    /// Create a key; its value is printed once and never again.
    Create { name: String },
    /// Keys with their prefix, creation, rotation and `lastUsedAt` (at most a minute behind).
    List,
    /// Revoke a key; workflows that name it stop accepting calls.
    Revoke { name: String },
    /// Give the key a new value (printed once); the old value keeps working until
    /// `--retire-after` has passed or `api-keys retire NAME`.
    Rotate {
        name: String,
        /// e.g. 90s, 30m, 24h, 7d; without it the old value works until `retire`.
        #[arg(long, value_parser = parse_duration)]
        retire_after: Option<chrono::Duration>,
    },
    /// Stop accepting the value from before the last rotation.
    Retire { name: String },
}

#[derive(Debug, Subcommand)]
enum AdminKeysCommand {
    /// Create an admin key; its value is printed once and never again.
    Create { name: String },
    /// Admin keys with their prefix and creation time.
    List,
    /// Revoke an admin key; the console stops accepting it (other processes within the
    /// cache TTL).
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Replace the workflow's signing secrets with one: the value on stdin, or `--generate`d
    /// (printed once). Afterwards only its fingerprint is ever shown.
    Set(SecretValueArgs),
    /// Add a new current secret (stdin or `--generate`); the older one stays valid, so the
    /// provider can be switched over without a gap.
    Rotate(SecretValueArgs),
    /// Drop the older of the two secrets, ending the overlap.
    Retire { id: String },
}

#[derive(Debug, Args)]
struct SecretValueArgs {
    id: String,
    /// Make a random secret (printed once) instead of reading one from stdin.
    #[arg(long)]
    generate: bool,
}

#[derive(Debug, Subcommand)]
enum WorkflowsCommand {
    Create(CreateWorkflowArgs),
    List,
    Show {
        id: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    /// The SNS subscriptions confirmed for an amazon_sns workflow.
    Subscriptions {
        id: String,
    },
    /// Samples of the webhook requests the workflow refused over the last 48 h (one per
    /// reason and minute), newest first, secrets redacted.
    Refusals {
        id: String,
    },
    /// Replace a workflow's definition from a file; its id and webhook URL stay the same.
    Update {
        id: String,
        /// A workflow file (YAML or JSON); `-` reads stdin.
        #[arg(long)]
        file: PathBuf,
    },
    /// Set, rotate and retire the signing secrets a `verify` block checks.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Print the workflow file's JSON Schema (what `GET /schemas/workflow.json` serves and
    /// schemas/workflow.schema.json holds); needs no store.
    Schema,
    /// Check a workflow file by the loader that saves use and print its refusals (as
    /// `POST /admin/workflows/check` answers); exit 1 when there are any. Needs no store.
    Check {
        /// A workflow file (YAML or JSON); `-` reads stdin.
        #[arg(long)]
        file: PathBuf,
    },
    /// Render every step against a stored execution and print what would be sent; sends
    /// nothing.
    DryRun {
        id: String,
        /// The execution whose request the steps are rendered against.
        #[arg(long)]
        execution: String,
    },
    /// Run the saved workflow for real, as a test execution (marked `test`, left out of the
    /// metrics' counts), on an execution's input: --execution's, else the latest one's, or
    /// a typed --body.
    TestRun {
        id: String,
        /// The execution whose body, headers and query to use.
        #[arg(long, conflicts_with = "body")]
        execution: Option<String>,
        /// With --execution: the workflow it belongs to (this one by default).
        #[arg(long, requires = "execution")]
        execution_workflow: Option<String>,
        /// A typed JSON body.
        #[arg(long)]
        body: Option<String>,
    },
}

#[derive(Debug, Args)]
struct CreateWorkflowArgs {
    /// A workflow file (YAML or JSON: name, trigger, api_key, sns, steps); `-` reads stdin.
    /// Replaces the flags below.
    #[arg(long, conflicts_with_all = ["name", "api_key", "steps", "allow_topics", "require_signature_v2"])]
    file: Option<PathBuf>,
    #[arg(long, required_unless_present = "file")]
    name: Option<String>,
    /// generic_webhook or amazon_sns
    #[arg(long, default_value = "generic_webhook")]
    trigger: Trigger,
    /// Name of the API key that guards the webhook URL.
    #[arg(long = "api-key", required_unless_present = "file")]
    api_key: Option<String>,
    /// Steps as a JSON array, e.g. '[{"type":"echo"}]'.
    #[arg(long, default_value = "[]")]
    steps: String,
    /// For amazon_sns: accept only this topic (repeatable; none = any topic).
    #[arg(long = "allow-topic")]
    allow_topics: Vec<String>,
    /// For amazon_sns: refuse SignatureVersion 1 (SHA1) messages.
    #[arg(long)]
    require_signature_v2: bool,
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// A workflow's executions, newest first; without WORKFLOW, every workflow's (or those
    /// whose name holds --workflow-name), each workflow's newest 1000 in the range read.
    List {
        workflow_id: Option<String>,
        /// Only workflows whose name holds this (ignoring case); without WORKFLOW.
        #[arg(long, conflicts_with_all = ["workflow_id", "cursor"])]
        workflow_name: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long)]
        limit: Option<String>,
        #[arg(long, requires = "workflow_id")]
        cursor: Option<String>,
    },
    /// An execution: its path through the workflow (steps skipped off it named), each step
    /// that ran, and for a `for_each` its items counted by status.
    Show {
        workflow_id: String,
        execution_id: String,
        /// Print the items of this `for_each` step instead, a page at a time.
        #[arg(long, value_name = "STEP")]
        items: Option<String>,
        /// With --items: only items with a higher index (the previous page's nextAfter).
        #[arg(long, requires = "items")]
        after: Option<String>,
        /// With --items: items per page, 1..=200 (default 50).
        #[arg(long, requires = "items")]
        limit: Option<String>,
    },
    /// Run an execution's payload again, as a new execution; without EXECUTION, the newest
    /// --max executions that match the filters (bulk replay, at most 100).
    Replay {
        workflow_id: String,
        execution_id: Option<String>,
        #[arg(long, conflicts_with = "execution_id")]
        status: Option<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// How many to replay, 1 to 100 (bulk replay).
        #[arg(long, conflicts_with = "execution_id")]
        max: Option<u32>,
        /// Only count what would be replayed.
        #[arg(long, conflicts_with = "execution_id")]
        count_only: bool,
        /// `current` (default: the workflow as it is now) or `original` (the version the
        /// replayed execution ran).
        #[arg(long)]
        version: Option<String>,
    },
}

/// The listings' and bulk replay's filters.
#[derive(Debug, Args)]
struct FilterArgs {
    /// Received at or after (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Received at or before (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Text in the body or a header value, or `body.a[0].b=v`, `headers.h=v`, `query.k=v`.
    #[arg(long)]
    q: Option<String>,
}

impl FilterArgs {
    fn with_status(self, status: Option<String>) -> FilterParams {
        FilterParams {
            status,
            since: self.since,
            until: self.until,
            q: self.q,
        }
    }
}

/// Where printed webhook URLs point when neither `--base-url` nor `WEBHOOK_BASE_URL` says.
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";

/// Why a command failed, with the same `code` the API would answer.
#[derive(Debug)]
pub struct CliError {
    code: &'static str,
    message: String,
    /// Already printed on stdout (`workflows check`): only the exit status is left to give.
    reported: bool,
}

impl CliError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reported: false,
        }
    }

    fn reported(code: &'static str) -> Self {
        Self {
            reported: true,
            ..Self::new(code, "")
        }
    }
}

impl From<AppError> for CliError {
    fn from(err: AppError) -> Self {
        // The operator runs the CLI with the store's own access, so the full cause is shown.
        Self::new(err.code(), err.to_string())
    }
}

/// `serve` and `setup` report plain sentences.
impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::new("command_failed", message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        Self::new("command_failed", message)
    }
}

/// A closed stdout (`| head`) is the reader saying it has seen enough, not a failure.
impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Self::new(BROKEN_PIPE, "")
        } else {
            Self::new("output_failed", format!("cannot write output: {err}"))
        }
    }
}

const BROKEN_PIPE: &str = "broken_pipe";

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init(false);
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.code == BROKEN_PIPE => ExitCode::SUCCESS,
        Err(err) if err.reported => ExitCode::FAILURE,
        Err(err) => {
            output::error(json, err.code, &err.message);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let config = Config::from_env().map_err(|e| CliError::new("invalid_config", e.to_string()))?;
    let out = Output {
        json: cli.json,
        base_url: cli
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
    };
    let location = match &cli.command {
        Command::Serve(ServeArgs { db: Some(db), .. }) => StoreLocation::Sqlite(db.clone()),
        _ => cli.store.clone(),
    };
    if matches!(cli.command, Command::Serve(_)) && matches!(location, StoreLocation::DynamoDb(_)) {
        // Nothing would drain the queue here (on AWS the worker is the SQS-fed function), and
        // without a queue URL every webhook would be refused.
        return Err(CliError::new(
            "invalid_request",
            "serve runs only on the embedded store (a SQLite file); on AWS the API and the \
             worker are the Lambda functions of template.yaml",
        ));
    }
    if let Command::Setup(args) = cli.command {
        return Ok(setup::run(&location, args, cli.json).await?);
    }
    match &cli.command {
        Command::Workflows(WorkflowsCommand::Schema) => return Ok(out.workflow_schema()?),
        Command::Workflows(WorkflowsCommand::Check { file }) => {
            let report = CheckReport::of_text(&read_text(file)?);
            out.check(&report)?;
            return if report.errors.is_empty() {
                Ok(())
            } else {
                Err(CliError::reported("invalid_definition"))
            };
        }
        _ => {}
    }
    let replay = matches!(
        cli.command,
        Command::Executions(ExecutionsCommand::Replay { .. })
            | Command::Workflows(WorkflowsCommand::TestRun { .. })
    );
    if replay
        && matches!(location, StoreLocation::DynamoDb(_))
        && cli.queue_url.as_deref().is_none_or(str::is_empty)
    {
        // Checked first: otherwise the replay would be recorded and then fail to send.
        return Err(CliError::new(
            "invalid_request",
            "replaying on a dynamodb:// store needs its queue: pass --queue-url or set \
             QUEUE_URL (the stack's QueueUrl output)",
        ));
    }
    let backend = open_with_queue(&location, cli.queue_url.clone())
        .await
        .map_err(|e| CliError::new("store_unavailable", e.to_string()))?;
    if let Command::Serve(args) = cli.command {
        let options = serve::ServeOptions {
            addr: args.addr,
            base_url: cli.base_url.clone(),
            demo: args.demo,
        };
        return Ok(serve::serve(backend, config, options).await?);
    }
    let app = crate::wiring::app(backend.store, backend.queue, config);
    match cli.command {
        // Both returned above; listed so a new command cannot be forgotten here.
        Command::Serve(_) | Command::Setup(_) => Ok(()),
        Command::ApiKeys(cmd) => match cmd {
            ApiKeysCommand::Create { name } => out.created_key(&app.create_api_key(&name).await?),
            ApiKeysCommand::List => out.keys(&app.list_api_keys_with_usage().await?),
            ApiKeysCommand::Revoke { name } => out.revoked(&app.revoke_api_key(&name).await?),
            ApiKeysCommand::Rotate { name, retire_after } => {
                out.rotated_key(&app.rotate_api_key(&name, retire_after).await?)
            }
            ApiKeysCommand::Retire { name } => out.retired_key(&app.retire_api_key(&name).await?),
        },
        Command::AdminKeys(cmd) => match cmd {
            AdminKeysCommand::Create { name } => {
                out.created_admin_key(&app.create_admin_key(&name).await?)
            }
            AdminKeysCommand::List => out.admin_keys(&app.list_admin_keys().await?),
            AdminKeysCommand::Revoke { name } => {
                out.revoked_admin_key(&app.revoke_admin_key(&name).await?)
            }
        },
        Command::Workflows(cmd) => match cmd {
            // Both returned above, before a store was opened.
            WorkflowsCommand::Schema | WorkflowsCommand::Check { .. } => Ok(()),
            WorkflowsCommand::Create(CreateWorkflowArgs {
                file: Some(path), ..
            }) => out.workflow(&app.create_workflow(read_workflow_file(&path)?).await?),
            WorkflowsCommand::Update { id, file } => {
                out.workflow(&app.update_workflow(&id, read_workflow_file(&file)?).await?)
            }
            WorkflowsCommand::DryRun { id, execution } => {
                let run = app.dry_run(&id, &execution).await?;
                out.dry_run(&run.workflow, &run.execution, &run.previews)
            }
            WorkflowsCommand::TestRun {
                id,
                execution,
                execution_workflow,
                body,
            } => {
                let input = body
                    .map(|text| {
                        serde_json::from_str(&text).map(|body| TypedInput {
                            body,
                            ..TypedInput::default()
                        })
                    })
                    .transpose()
                    .map_err(|e| {
                        CliError::new("invalid_json", format!("--body is not JSON: {e}"))
                    })?;
                let request = InputChoice {
                    input,
                    execution_id: execution,
                    execution_workflow_id: execution_workflow,
                };
                out.test_run(&app.test_run(&id, request).await?)
            }
            WorkflowsCommand::Create(args) => {
                let steps: Vec<WorkflowStep> = serde_json::from_str(&args.steps).map_err(|e| {
                    CliError::new(
                        "invalid_request",
                        format!("--steps is not a valid list of steps: {e}"),
                    )
                })?;
                let new = NewWorkflow {
                    name: args.name.unwrap_or_default(),
                    trigger: args.trigger,
                    api_key_name: args.api_key.unwrap_or_default(),
                    steps,
                    sns: SnsOptions {
                        allowed_topic_arns: args.allow_topics,
                        require_signature_v2: args.require_signature_v2,
                    },
                    auth: Default::default(),
                    payload_schema: None,
                };
                out.workflow(&app.create_workflow(new).await?)
            }
            WorkflowsCommand::List => out.workflows(&app.list_workflows().await?),
            WorkflowsCommand::Show { id } => {
                let workflow = app.workflow(&id).await?;
                let secrets = app.signing_secrets(&workflow).await?;
                out.workflow_with_secrets(&workflow, Some(&secrets))
            }
            WorkflowsCommand::Secret(cmd) => match cmd {
                SecretCommand::Set(args) => {
                    let value = secret_value(&args)?;
                    out.secrets(&app.set_signing_secret(&args.id, value).await?)
                }
                SecretCommand::Rotate(args) => {
                    let value = secret_value(&args)?;
                    out.secrets(&app.rotate_signing_secret(&args.id, value).await?)
                }
                SecretCommand::Retire { id } => out.secrets(&app.retire_signing_secret(&id).await?),
            },
            WorkflowsCommand::Enable { id } => {
                out.workflow(&app.set_workflow_enabled(&id, true).await?)
            }
            WorkflowsCommand::Disable { id } => {
                out.workflow(&app.set_workflow_enabled(&id, false).await?)
            }
            WorkflowsCommand::Subscriptions { id } => {
                out.subscriptions(&app.list_subscriptions(&id).await?)
            }
            WorkflowsCommand::Refusals { id } => out.refusals(&app.refusal_samples(&id).await?),
        },
        Command::Executions(cmd) => match cmd {
            ExecutionsCommand::List {
                workflow_id: None,
                workflow_name,
                status,
                filter,
                limit,
                ..
            } => {
                let params = SearchParams {
                    workflow: workflow_name,
                    filter: filter.with_status(status),
                    limit,
                };
                out.found(&app.search_executions(&params).await?)
            }
            ExecutionsCommand::List {
                workflow_id: Some(workflow_id),
                status,
                filter,
                limit,
                cursor,
                ..
            } => {
                let workflow = app.workflow(&workflow_id).await?;
                let page = app
                    .list_executions(
                        &workflow.id,
                        &ListExecutions {
                            status,
                            limit,
                            cursor,
                            since: filter.since,
                            until: filter.until,
                            q: filter.q,
                        },
                    )
                    .await?;
                out.executions(&page, &workflow)
            }
            ExecutionsCommand::Show {
                workflow_id,
                execution_id,
                items: Some(step_id),
                after,
                limit,
            } => {
                let workflow = app.workflow(&workflow_id).await?;
                let page = app
                    .list_items(
                        &workflow,
                        &execution_id,
                        &step_id,
                        &ListItems { after, limit },
                    )
                    .await?;
                out.items(&step_id, &page)
            }
            ExecutionsCommand::Show {
                workflow_id,
                execution_id,
                items: None,
                ..
            } => {
                let workflow = app.workflow(&workflow_id).await?;
                let execution = app.get_execution(&workflow.id, &execution_id).await?;
                let mut loops = Vec::new();
                if !out.json {
                    for planned in execution.plan(&workflow.steps) {
                        let is_loop =
                            matches!(planned.step.action, crate::domain::Step::ForEach(_));
                        if is_loop && planned.state != crate::domain::PlanState::Skipped {
                            let id = &planned.step.id;
                            loops.push((
                                id.clone(),
                                app.item_counts(&workflow, &execution, id).await?,
                            ));
                        }
                    }
                }
                out.execution(&execution, &workflow, &loops)
            }
            ExecutionsCommand::Replay {
                workflow_id,
                execution_id: Some(execution_id),
                version,
                ..
            } => {
                let version = ReplayVersion::parse(version.as_deref())?;
                out.replayed(
                    &app.replay_execution(&workflow_id, &execution_id, version)
                        .await?,
                )
            }
            ExecutionsCommand::Replay {
                workflow_id,
                execution_id: None,
                status,
                filter,
                max,
                count_only,
                version,
            } => {
                let request = BulkReplay {
                    filter: filter.with_status(status),
                    max,
                    version,
                    count_only,
                };
                let replayed = app.replay_matching(&workflow_id, &request).await?;
                out.bulk_replayed(&replayed, count_only)
            }
        },
    }?;
    Ok(())
}

/// The secret to store: `None` asks the service to generate one; otherwise stdin, without
/// the line break a shell's `echo` or a file adds.
fn secret_value(args: &SecretValueArgs) -> Result<Option<String>, CliError> {
    if args.generate {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| CliError::new("invalid_request", format!("cannot read stdin: {e}")))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(CliError::new(
            "invalid_request",
            "no secret on stdin: pipe the provider's secret in, or pass --generate",
        ));
    }
    Ok(Some(value.to_owned()))
}

/// `--retire-after`, read as the admin API reads `retireAfter`.
fn parse_duration(raw: &str) -> Result<chrono::Duration, String> {
    crate::domain::parse_duration(raw).map_err(|e| e.to_string())
}

/// Reads and checks a workflow file; errors name the file and the offending field.
fn read_workflow_file(path: &Path) -> Result<NewWorkflow, CliError> {
    let text = read_text(path)?;
    let file = WorkflowFile::parse(&text)
        .map_err(|e| CliError::new("invalid_definition", format!("{}: {e}", path.display())))?;
    Ok(file.into())
}

/// A file's text, or stdin's for `-`.
fn read_text(path: &Path) -> Result<String, CliError> {
    Ok(if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::new("invalid_request", format!("cannot read stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                "invalid_request",
                format!("cannot read {}: {e}", path.display()),
            )
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("webhook-trigger").chain(args.iter().copied()))
            .expect("parses")
    }

    #[tokio::test]
    async fn serve_refuses_a_dynamodb_store() {
        let err = run(parse(&["--store", "dynamodb://some-table", "serve"]))
            .await
            .expect_err("refused");
        assert!(err.message.contains("embedded store"), "{err:?}");
        assert_eq!(err.code, "invalid_request");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("24h"), Ok(chrono::Duration::hours(24)));
        assert_eq!(parse_duration("7d"), Ok(chrono::Duration::days(7)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("999999999999d").is_err());
    }

    #[test]
    fn base_url_flag_reaches_serve() {
        let cli = parse(&["--base-url", "https://hooks.example.com", "serve"]);
        assert_eq!(cli.base_url.as_deref(), Some("https://hooks.example.com"));
        let cli = parse(&["serve", "--base-url", "https://h.example"]);
        assert_eq!(cli.base_url.as_deref(), Some("https://h.example"));
    }
}
