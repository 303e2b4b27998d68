//! `template.yaml` agrees with the code: the table with the one schema definition
//! (`adapters::dynamodb::schema`), the queue with the SQS adapter's constants, the functions
//! with the binaries and the router, the parameters with `Config`'s defaults. No emulator
//! needed. (cfn-lint checks the template against CloudFormation itself; `make test` runs it.)

use std::collections::BTreeSet;

use serde_norway::Value;

use crate::support::routes::{assert_router_has_exactly_these_methods, route_names};
use webhook_trigger::adapters::dynamodb::schema;
use webhook_trigger::adapters::sqs::{MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECONDS};
use webhook_trigger::config::Config;

/// The template with CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`) kept as
/// tagged values, which this test never needs to resolve.
fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("template has no {}", path.join(".")))
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn number(v: &Value) -> u64 {
    text(v).parse().expect("a whole number")
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    at(t, &["Resources", name])
}

#[test]
fn table_matches_the_schema_in_code() {
    let t = template();
    let table = resource(&t, "Table");
    assert_eq!(text(at(table, &["Type"])), "AWS::DynamoDB::Table");
    let props = at(table, &["Properties"]);
    assert_eq!(text(at(props, &["BillingMode"])), schema::BILLING_MODE);

    let key_schema: Vec<(String, String)> = at(props, &["KeySchema"])
        .as_sequence()
        .expect("KeySchema list")
        .iter()
        .map(|k| (text(at(k, &["AttributeName"])), text(at(k, &["KeyType"]))))
        .collect();
    let expected: Vec<(String, String)> = schema::KEY_SCHEMA
        .iter()
        .map(|k| (k.name.to_owned(), k.key_type.to_owned()))
        .collect();
    assert_eq!(key_schema, expected);

    let definitions: BTreeSet<(String, String)> = at(props, &["AttributeDefinitions"])
        .as_sequence()
        .expect("AttributeDefinitions list")
        .iter()
        .map(|d| {
            (
                text(at(d, &["AttributeName"])),
                text(at(d, &["AttributeType"])),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = schema::KEY_SCHEMA
        .iter()
        .chain(schema::UNDELIVERED_INDEX_KEYS.iter())
        .map(|k| (k.name.to_owned(), k.attribute_type.to_owned()))
        .collect();
    assert_eq!(definitions, expected);

    let ttl = at(props, &["TimeToLiveSpecification"]);
    assert_eq!(text(at(ttl, &["AttributeName"])), schema::TTL_ATTRIBUTE);
    assert_eq!(text(at(ttl, &["Enabled"])), "true");
    let indexes = at(props, &["GlobalSecondaryIndexes"])
        .as_sequence()
        .expect("GlobalSecondaryIndexes list");
    assert_eq!(indexes.len(), 1, "the code uses one index");
    let index = &indexes[0];
    assert_eq!(text(at(index, &["IndexName"])), schema::UNDELIVERED_INDEX);
    assert_eq!(
        text(at(index, &["Projection", "ProjectionType"])),
        "KEYS_ONLY"
    );
    let index_keys: Vec<(String, String)> = at(index, &["KeySchema"])
        .as_sequence()
        .expect("index KeySchema list")
        .iter()
        .map(|k| (text(at(k, &["AttributeName"])), text(at(k, &["KeyType"]))))
        .collect();
    let expected: Vec<(String, String)> = schema::UNDELIVERED_INDEX_KEYS
        .iter()
        .map(|k| (k.name.to_owned(), k.key_type.to_owned()))
        .collect();
    assert_eq!(index_keys, expected);
}

#[test]
fn queue_matches_the_sqs_adapter_and_the_worker_timeout() {
    let t = template();
    let queue = at(resource(&t, "WorkQueue"), &["Properties"]);
    assert_eq!(
        number(at(queue, &["RedrivePolicy", "maxReceiveCount"])),
        u64::from(MAX_RECEIVE_COUNT)
    );
    let visibility = number(at(queue, &["VisibilityTimeout"]));
    assert_eq!(visibility, u64::from(VISIBILITY_TIMEOUT_SECONDS));
    let worker = at(resource(&t, "WorkerFunction"), &["Properties"]);
    let timeout = number(at(worker, &["Timeout"]));
    assert!(
        visibility >= 6 * timeout,
        "visibility {visibility} < 6 x worker timeout {timeout}"
    );
    let lease = number(at(
        worker,
        &["Environment", "Variables", "WORKER_LEASE_SECONDS"],
    ));
    assert!(lease > timeout, "the lease must outlast a worker run");
    assert!(
        timeout >= webhook_trigger::domain::WORKER_STEP_BUDGET.as_secs(),
        "the worker must have time for the steps' budget that workflows are checked against"
    );
    let max_receives = number(at(worker, &["Environment", "Variables", "MAX_RECEIVES"]));
    assert_eq!(max_receives, u64::from(MAX_RECEIVE_COUNT));
    assert!(resource(&t, "DeadLetterQueue").get("Properties").is_some());
}

#[test]
fn functions_are_the_two_binaries_on_arm64_al2023() {
    let t = template();
    assert_eq!(text(at(&t, &["Transform"])), "AWS::Serverless-2016-10-31");
    let globals = at(&t, &["Globals", "Function"]);
    assert_eq!(text(at(globals, &["Runtime"])), "provided.al2023");
    assert_eq!(
        at(globals, &["Architectures"]).as_sequence().unwrap(),
        &vec![Value::String("arm64".into())]
    );
    assert!(
        at(globals, &["Environment", "Variables"])
            .get("TABLE_NAME")
            .is_some()
    );
    let cargo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    for (function, binary) in [
        ("ApiFunction", "api-lambda"),
        ("WorkerFunction", "worker-lambda"),
        ("SweeperFunction", "sweeper-lambda"),
    ] {
        let f = resource(&t, function);
        assert_eq!(
            text(at(f, &["Metadata", "BuildMethod"])),
            "rust-cargolambda"
        );
        assert_eq!(
            text(at(f, &["Metadata", "BuildProperties", "Binary"])),
            binary
        );
        assert!(
            cargo.contains(&format!("name = \"{binary}\"")),
            "Cargo.toml has no [[bin]] {binary}"
        );
    }
    let api_env = at(
        resource(&t, "ApiFunction"),
        &["Properties", "Environment", "Variables"],
    );
    assert_eq!(
        text(at(api_env, &["AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"])),
        "true"
    );
    assert!(api_env.get("QUEUE_URL").is_some());
    let work = at(
        resource(&t, "WorkerFunction"),
        &["Properties", "Events", "Work", "Properties"],
    );
    assert_eq!(
        at(work, &["FunctionResponseTypes"]).as_sequence().unwrap(),
        &vec![Value::String("ReportBatchItemFailures".into())]
    );
}

fn actions(t: &Value, function: &str) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for policy in at(resource(t, function), &["Properties", "Policies"])
        .as_sequence()
        .expect("Policies list")
    {
        for statement in at(policy, &["Statement"])
            .as_sequence()
            .expect("Statement list")
        {
            assert_eq!(text(at(statement, &["Effect"])), "Allow");
            let resource = at(statement, &["Resource"]);
            assert!(
                matches!(resource, Value::Tagged(_)),
                "{function}: resources are the stack's own (!GetAtt), never '*': {resource:?}"
            );
            match at(statement, &["Action"]) {
                Value::Sequence(list) => all.extend(list.iter().map(text)),
                one => {
                    all.insert(text(one));
                }
            }
        }
    }
    all
}

#[test]
fn policies_are_least_privilege() {
    let t = template();
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        actions(&t, "ApiFunction"),
        set(&[
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "sqs:SendMessage"
        ])
    );
    assert_eq!(
        actions(&t, "WorkerFunction"),
        set(&[
            "dynamodb:BatchWriteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "ses:SendEmail",
            "sns:Publish",
            "sqs:SendMessage"
        ])
    );
    assert_eq!(
        actions(&t, "SweeperFunction"),
        set(&["dynamodb:Query", "dynamodb:UpdateItem", "sqs:SendMessage"])
    );
    // The sweeper queries the sparse index, never the table.
    let sweeper = at(resource(&t, "SweeperFunction"), &["Properties", "Policies"]);
    let sweeper_text = serde_json::to_string(sweeper).unwrap_or_default();
    assert!(
        sweeper_text.contains("/index/undelivered"),
        "{sweeper_text}"
    );
    // Re-sends wait longer than the API function may still be sending.
    let sweep_after = number(at(
        resource(&t, "SweeperFunction"),
        &[
            "Properties",
            "Environment",
            "Variables",
            "SWEEP_AFTER_SECONDS",
        ],
    ));
    let api_timeout = number(at(resource(&t, "ApiFunction"), &["Properties", "Timeout"]));
    assert!(sweep_after > api_timeout, "{sweep_after} <= {api_timeout}");
    // sns:Publish only on the topics the stack was given, never on "*".
    let worker = at(resource(&t, "WorkerFunction"), &["Properties", "Policies"]);
    let text = serde_json::to_string(worker).unwrap_or_default();
    assert!(text.contains("PublishTopicArns"), "{text}");
    // ses:SendEmail only on the one identity the stack was given, in its own account and
    // region: never "*", never a wildcard identity.
    let ses: Vec<&Value> = worker
        .as_sequence()
        .expect("Policies list")
        .iter()
        .flat_map(|policy| {
            at(policy, &["Statement"])
                .as_sequence()
                .expect("Statements")
        })
        .filter(|statement| {
            matches!(at(statement, &["Action"]), Value::String(a) if a.starts_with("ses:"))
        })
        .collect();
    assert_eq!(ses.len(), 1, "{text}");
    let Value::Tagged(sub) = at(ses[0], &["Resource"]) else {
        panic!("ses:SendEmail's resource is a !Sub: {:?}", ses[0]);
    };
    assert_eq!(sub.tag.to_string(), "!Sub");
    let arn = self::text(&sub.value);
    assert_eq!(
        arn,
        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailIdentity}"
    );
    let env = at(
        resource(&t, "WorkerFunction"),
        &["Properties", "Environment", "Variables"],
    );
    assert_eq!(self::text(at(env, &["EMAIL_TRANSPORT"])), "ses");
    let Value::Tagged(from) = at(env, &["EMAIL_FROM"]) else {
        panic!("EMAIL_FROM is a !Ref");
    };
    assert_eq!(self::text(&from.value), "EmailFrom");
}

#[test]
fn parameters_default_to_the_configs_defaults_and_outputs_exist() {
    let t = template();
    let d = Config::default();
    assert_eq!(
        number(at(&t, &["Parameters", "RetentionDays", "Default"])),
        d.retention.num_days() as u64
    );
    assert_eq!(
        number(at(&t, &["Parameters", "BodyLimitBytes", "Default"])),
        d.body_limit_bytes as u64
    );
    assert!(at(&t, &["Parameters"]).get("LogLevel").is_some());
    assert_eq!(
        text(at(
            &t,
            &["Parameters", "MetricsWorkflowDimension", "Default"]
        )) == "on",
        d.metrics_workflow_dimension
    );
    assert_eq!(
        at(
            &t,
            &[
                "Globals",
                "Function",
                "Environment",
                "Variables",
                "METRICS_WORKFLOW_DIMENSION"
            ]
        ),
        &serde_norway::from_str::<Value>("!Ref MetricsWorkflowDimension").unwrap()
    );
    for output in [
        "WebhookBaseUrl",
        "TableName",
        "QueueUrl",
        "DeadLetterQueueUrl",
    ] {
        assert!(
            at(&t, &["Outputs"]).get(output).is_some(),
            "no output {output}"
        );
    }
}

/// The API events of the template are the routes of `support::routes::ROUTES` (all but the
/// ones it marks as not in the template), and the router answers exactly those.
#[tokio::test]
async fn api_events_and_router_routes_are_the_same() {
    let t = template();
    let events = at(resource(&t, "ApiFunction"), &["Properties", "Events"])
        .as_mapping()
        .expect("Events map");
    let dir = tempfile::tempdir().unwrap();
    let store =
        webhook_trigger::adapters::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
    let app = webhook_trigger::wiring::app(
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(store.queue()),
        Config::default(),
    );
    let router = webhook_trigger::http::router(app);
    let mut seen = BTreeSet::new();
    for (_, event) in events {
        assert_eq!(text(at(event, &["Type"])), "Api");
        let method = text(at(event, &["Properties", "Method"])).to_uppercase();
        // The template names path parameters in camelCase, the router in snake_case.
        let path = text(at(event, &["Properties", "Path"]))
            .replace("{workflowId}", "{workflow_id}")
            .replace("{executionId}", "{execution_id}")
            .replace("{stepId}", "{step_id}");
        seen.insert(format!("{method} {path}"));
    }
    assert_eq!(seen, route_names(|r| r.not_in_template.is_none()));
    assert_router_has_exactly_these_methods(&router).await;
}

/// The alarms watch the names the code records, in the namespace the functions write.
#[test]
fn alarms_watch_the_metrics_the_functions_write() {
    use webhook_trigger::{lambda::METRICS_NAMESPACE, measure};
    let t = template();
    for (alarm, metric) in [
        ("FailedExecutionsAlarm", measure::EXECUTIONS),
        ("RejectionSpikeAlarm", measure::REJECTIONS),
        ("OverdueWakeupsAlarm", measure::WAKEUP_OVERDUE_SECONDS),
    ] {
        let p = at(resource(&t, alarm), &["Properties"]);
        assert_eq!(text(at(p, &["Namespace"])), METRICS_NAMESPACE, "{alarm}");
        assert_eq!(text(at(p, &["MetricName"])), metric, "{alarm}");
    }
    // A wake-up engine that stops reporting is as broken as one that reports a backlog.
    let overdue = at(resource(&t, "OverdueWakeupsAlarm"), &["Properties"]);
    assert_eq!(text(at(overdue, &["TreatMissingData"])), "breaching");
    let sweeper = at(resource(&t, "SweeperErrorsAlarm"), &["Properties"]);
    assert_eq!(text(at(sweeper, &["MetricName"])), "Errors");
    // The dashboard is JSON under !Sub; with the substitutions blanked it must parse, and
    // name the metrics the code writes: the aggregates as they are, the per-workflow ones
    // through a SEARCH on their workflow dimension.
    let body = match at(resource(&t, "Dashboard"), &["Properties", "DashboardBody"]) {
        Value::Tagged(tagged) => text(&tagged.value),
        other => panic!("DashboardBody is not a !Sub: {other:?}"),
    };
    let blanked = blank_substitutions(&body);
    let dashboard: serde_json::Value =
        serde_json::from_str(&blanked).unwrap_or_else(|e| panic!("dashboard JSON: {e}\n{body}"));
    let widgets = dashboard["widgets"].to_string();
    for name in [
        measure::ACCEPTED,
        measure::DUPLICATE,
        measure::REJECTIONS,
        measure::EXECUTIONS,
        measure::ACCEPTED_BY_WORKFLOW,
        measure::REJECTED_BY_WORKFLOW,
        measure::EXECUTIONS_BY_WORKFLOW,
    ] {
        assert!(widgets.contains(name), "the dashboard does not show {name}");
    }
    assert!(widgets.contains(",workflow}"), "{widgets}");
}

/// `${...}` replaced by `x`, so the JSON parses as CloudFormation would leave it.
fn blank_substitutions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push('x');
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}
