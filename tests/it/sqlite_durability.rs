//! The embedded backend keeps accepted webhooks across restarts and crashes: what was queued
//! when the process died is run by the next one.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::adapters::sqlite::worker_loop::{LocalWorkerConfig, drain_once};
use webhook_trigger::app::{App, GenericRequest, NewWorkflow};
use webhook_trigger::domain::{
    Execution, ExecutionId, ExecutionStatus, SnsOptions, Step, Trigger, WorkflowId,
};
use webhook_trigger::ports::{ExecutionStore, Store};

async fn stored(store: &SqliteStore, workflow: &WorkflowId, id: &ExecutionId) -> Execution {
    store
        .get_execution(workflow, id)
        .await
        .expect("get")
        .expect("exists")
}

fn open(path: &std::path::Path) -> (SqliteStore, App) {
    let store = SqliteStore::open(path).expect("open");
    let app = webhook_trigger::wiring::app(
        Arc::new(store.clone()),
        Arc::new(store.queue()),
        Default::default(),
    );
    (store, app)
}

async fn accept_one(app: &App) -> (webhook_trigger::domain::Workflow, ExecutionId) {
    let (workflow, id, _) = accept_one_with_key(app).await;
    (workflow, id)
}

async fn accept_one_with_key(
    app: &App,
) -> (webhook_trigger::domain::Workflow, ExecutionId, String) {
    let key = app.create_api_key("k").await.expect("key");
    let workflow = app
        .create_workflow(NewWorkflow {
            name: "w".into(),
            trigger: Trigger::GenericWebhook,
            api_key_name: "k".into(),
            steps: vec![Step::Echo.into()],
            sns: SnsOptions::default(),
            auth: Default::default(),
            payload_schema: None,
        })
        .await
        .expect("workflow");
    let delivery = GenericRequest {
        body: br#"{"a":1}"#,
        content_type: None,
        idempotency_key: None,
        sns_message_type: None,
        meta: Default::default(),
    };
    let accepted = app
        .accept_generic(&workflow, delivery)
        .await
        .expect("accepted");
    (
        workflow,
        accepted.execution_id,
        key.secret.expose().to_owned(),
    )
}

#[tokio::test]
async fn queued_work_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("wt.db");
    let (workflow, id) = {
        let (_, app) = open(&path);
        accept_one(&app).await
    };
    // A new process: new connection, new queue, new worker.
    let (store, _) = open(&path);
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let worker = crate::support::test_worker(shared, chrono::Duration::seconds(300));
    assert_eq!(
        drain_once(&worker, &store.queue(), &LocalWorkerConfig::default()).await,
        1
    );
    let e = stored(&store, &workflow.id, &id).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_message_taken_by_a_worker_that_died_comes_back() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, app) = open(&dir.path().join("wt.db"));
    let (workflow, id) = accept_one(&app).await;
    let queue = store.queue();
    // The dying worker receives the message and never deletes it.
    let visibility = Duration::from_millis(50);
    assert_eq!(
        queue
            .receive(10, visibility, 5)
            .await
            .expect("receive")
            .len(),
        1
    );
    assert!(
        queue
            .receive(10, visibility, 5)
            .await
            .expect("receive")
            .is_empty(),
        "hidden while leased"
    );
    tokio::time::sleep(visibility * 2).await;

    let worker =
        crate::support::test_worker(Arc::new(store.clone()), chrono::Duration::seconds(300));
    let config = LocalWorkerConfig {
        visibility,
        ..Default::default()
    };
    assert_eq!(drain_once(&worker, &queue, &config).await, 1);
    let e = stored(&store, &workflow.id, &id).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(queue.depth().await.expect("depth"), 0);
}

#[tokio::test]
async fn an_execution_left_running_by_a_dead_worker_is_taken_over_after_its_lease() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, app) = open(&dir.path().join("wt.db"));
    let (workflow, id) = accept_one(&app).await;
    // The first worker claimed it, then died before finishing.
    let queued = stored(&store, &workflow.id, &id).await;
    let running = queued
        .claim(
            chrono::Utc::now() - chrono::Duration::seconds(600),
            chrono::Duration::seconds(300),
        )
        .expect("claim");
    assert!(
        store
            .replace_execution(&queued, &running)
            .await
            .expect("cas")
    );

    let worker =
        crate::support::test_worker(Arc::new(store.clone()), chrono::Duration::seconds(300));
    assert_eq!(
        drain_once(&worker, &store.queue(), &LocalWorkerConfig::default()).await,
        1
    );
    let e = stored(&store, &workflow.id, &id).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.attempts, 2);
}

/// A crash mid-run leaves the execution `running` under a lease that outlives the queue's
/// visibility timeout. Redeliveries during the lease must wait for it to end, not use up the
/// receives and dead-letter an execution that never finished.
#[tokio::test]
async fn a_restart_during_a_run_waits_for_the_lease_instead_of_dead_lettering() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, app) = open(&dir.path().join("wt.db"));
    let (workflow, id) = accept_one(&app).await;
    let lease = chrono::Duration::milliseconds(1500);
    // The previous process claimed it just now, then died.
    let queued = stored(&store, &workflow.id, &id).await;
    let running = queued.claim(chrono::Utc::now(), lease).expect("claim");
    assert!(
        store
            .replace_execution(&queued, &running)
            .await
            .expect("cas")
    );

    let worker = crate::support::test_worker(Arc::new(store.clone()), lease);
    let queue = store.queue();
    let config = LocalWorkerConfig {
        visibility: Duration::ZERO,
        max_receives: 3,
        ..Default::default()
    };
    for _ in 0..5 {
        drain_once(&worker, &queue, &config).await;
    }
    assert_eq!(queue.dead_letter_count().await.expect("count"), 0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(drain_once(&worker, &queue, &config).await, 1);
    let e = stored(&store, &workflow.id, &id).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.attempts, 2);
    assert_eq!(queue.depth().await.expect("depth"), 0);
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_max_receives() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = open(&dir.path().join("wt.db"));
    let queue = store.queue();
    queue
        .enqueue_raw("not a work item".into())
        .await
        .expect("enqueue");
    let worker =
        crate::support::test_worker(Arc::new(store.clone()), chrono::Duration::seconds(300));
    let config = LocalWorkerConfig {
        visibility: Duration::ZERO,
        max_receives: 3,
        ..Default::default()
    };
    for _ in 0..3 {
        assert_eq!(drain_once(&worker, &queue, &config).await, 1);
    }
    assert_eq!(drain_once(&worker, &queue, &config).await, 0);
    assert_eq!(queue.dead_letter_count().await.expect("count"), 1);
    assert_eq!(queue.depth().await.expect("depth"), 0);
}

#[tokio::test]
async fn an_unwritable_store_refuses_the_webhook_with_503() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("wt.db");
    let (_, app) = open(&path);
    let (workflow, _, key) = accept_one_with_key(&app).await;
    // Another process holds the write lock for longer than the busy timeout allows.
    let blocker = rusqlite::Connection::open(&path).expect("open");
    blocker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let router = webhook_trigger::http::router(app);
    use tower::ServiceExt;
    let request = axum::http::Request::post(format!("/webhooks/{}", workflow.id))
        .header("x-api-key", key)
        .body(axum::body::Body::from("{}"))
        .expect("request");
    let status = router.oneshot(request).await.expect("response").status();
    // Reads still work under WAL; the execution write times out, so nothing is accepted.
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    blocker.execute_batch("ROLLBACK").expect("unlock");
}

/// Retention on SQLite: `purge_expired` (what DynamoDB's TTL does on AWS) deletes expired
/// executions with their dedup records and keeps live ones.
#[tokio::test]
async fn purging_deletes_expired_executions_and_frees_their_dedup_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = open(&dir.path().join("wt.db"));
    let workflow = WorkflowId::generate();
    let execution = |retention| {
        Execution::new(
            workflow.clone(),
            webhook_trigger::domain::TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            serde_json::json!({}),
            chrono::Utc::now(),
            retention,
        )
    };
    let expired = execution(chrono::Duration::seconds(-60));
    let live = execution(chrono::Duration::days(30));
    store
        .insert_execution(&expired, Some("old"))
        .await
        .expect("insert");
    store
        .insert_execution(&live, Some("new"))
        .await
        .expect("insert");

    assert_eq!(store.purge_expired().await.expect("purge"), 1);
    assert_eq!(
        store
            .get_execution(&workflow, &expired.id)
            .await
            .expect("get"),
        None
    );
    assert_eq!(stored(&store, &workflow, &live.id).await, live);
    let dedup_keys: Vec<String> = rusqlite::Connection::open(dir.path().join("wt.db"))
        .expect("open")
        .prepare("SELECT key FROM dedup ORDER BY key")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(dedup_keys, vec!["new".to_owned()]);
}

fn finished_item(step: &str, index: u32) -> webhook_trigger::domain::ItemRecord {
    webhook_trigger::domain::ItemRecord {
        step_id: step.into(),
        index,
        status: webhook_trigger::domain::ItemStatus::Succeeded,
        steps: Vec::new(),
        output: Some(serde_json::json!({"index": index})),
        error: None,
        updated_at: chrono::Utc::now(),
    }
}

/// The `for_each` item records of an expired execution go with it; a live one's stay.
#[tokio::test]
async fn purging_deletes_the_item_records_of_expired_executions() {
    use webhook_trigger::ports::ItemStore;

    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = open(&dir.path().join("wt.db"));
    let workflow = WorkflowId::generate();
    let execution = |retention| {
        Execution::new(
            workflow.clone(),
            webhook_trigger::domain::TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            serde_json::json!({}),
            chrono::Utc::now(),
            retention,
        )
    };
    let expired = execution(chrono::Duration::seconds(-60));
    let live = execution(chrono::Duration::days(30));
    let records: Vec<_> = (0..3).map(|i| finished_item("fetch", i)).collect();
    for e in [&expired, &live] {
        store.insert_execution(e, None).await.expect("insert");
        store.put_items(e, &records).await.expect("put items");
    }

    assert_eq!(store.purge_expired().await.expect("purge"), 1);
    for (e, left) in [(&expired, vec![]), (&live, records)] {
        let listed = store.list_items(&workflow, &e.id, "fetch", None, 10).await;
        assert_eq!(listed.expect("list"), left);
    }
    let rows: i64 = rusqlite::Connection::open(dir.path().join("wt.db"))
        .expect("open")
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 3, "only the live execution's rows are left");
}

/// A store file written before item records existed has no `items` table: opening it adds
/// one, and everything else in the file stays.
#[tokio::test]
async fn a_store_file_from_before_item_records_gets_their_table_on_open() {
    use webhook_trigger::ports::ItemStore;

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("wt.db");
    let (store, app) = open(&path);
    let (workflow, id) = accept_one(&app).await;
    drop((store, app));
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch("DROP INDEX items_by_expiry; DROP TABLE items;")
        .expect("drop the items table");

    let (store, _) = open(&path);
    let execution = stored(&store, &workflow.id, &id).await;
    let record = finished_item("fetch", 0);
    store
        .put_items(&execution, std::slice::from_ref(&record))
        .await
        .expect("put items");
    assert_eq!(
        store
            .list_items(&workflow.id, &id, "fetch", None, 10)
            .await
            .expect("list"),
        vec![record]
    );
}

/// Hourly rejection counts are kept two days on SQLite too: `purge_expired` deletes older
/// hours (DynamoDB's TTL does it on AWS).
#[tokio::test]
async fn purging_deletes_rejection_counts_older_than_two_days() {
    use webhook_trigger::domain::{RejectionCounts, RejectionReason, hour_of};
    use webhook_trigger::ports::RejectionStore;

    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = open(&dir.path().join("wt.db"));
    let workflow = WorkflowId::generate();
    let now = hour_of(chrono::Utc::now());
    let one: RejectionCounts = [(RejectionReason::Auth, 1)].into_iter().collect();
    for hours_ago in [49, 47, 0] {
        store
            .add_rejections(&workflow, now - chrono::Duration::hours(hours_ago), &one)
            .await
            .expect("add");
    }
    store.purge_expired().await.expect("purge");
    let kept: Vec<i64> = store
        .rejections_since(&workflow, now - chrono::Duration::days(3))
        .await
        .expect("read")
        .into_iter()
        .map(|(hour, _)| (now - hour).num_hours())
        .collect();
    assert_eq!(kept, vec![47, 0]);
}

/// Refused-request samples are kept two days on SQLite too: `purge_expired` deletes older ones
/// (DynamoDB's TTL does it on AWS).
#[tokio::test]
async fn purging_deletes_refusal_samples_older_than_two_days() {
    use webhook_trigger::domain::{RefusalSample, RejectionReason};
    use webhook_trigger::ports::RefusalSampleStore;

    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = open(&dir.path().join("wt.db"));
    let workflow = WorkflowId::generate();
    let now = chrono::Utc::now();
    for hours_ago in [49, 47] {
        let sample = RefusalSample {
            workflow_id: workflow.clone(),
            at: now - chrono::Duration::hours(hours_ago),
            status: 401,
            code: format!("{hours_ago}h"),
            reason: RejectionReason::Auth,
            source_ip: None,
            headers: Default::default(),
            headers_dropped: 0,
            body: String::new(),
            body_truncated: false,
        };
        assert!(store.put_refusal_sample(&sample).await.expect("put"));
    }
    store.purge_expired().await.expect("purge");
    let kept: Vec<String> = store
        .refusal_samples_since(&workflow, now - chrono::Duration::days(3), 10)
        .await
        .expect("read")
        .into_iter()
        .map(|s| s.code)
        .collect();
    assert_eq!(kept, vec!["47h"]);
}
