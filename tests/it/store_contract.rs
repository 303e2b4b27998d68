//! What every `Store` backend promises, written once and run on SQLite and on DynamoDB (moto).
//! Backend-specific behaviour (item layout, compression, durability across restarts) is tested
//! beside each backend: `aws_dynamodb.rs`, `sqlite_durability.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::support::dynamodb::fixture;
use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::domain::{
    ApiKey, ApiKeyName, Execution, ExecutionId, ExecutionStatus, RejectionCounts, RejectionReason,
    SnsOptions, SnsSubscription, Step, SubscriptionState, Trigger, TriggerMeta, Workflow,
    WorkflowId, hour_of,
};
use webhook_trigger::ports::{ExecutionQuery, Recorded, Store, StoreError};

macro_rules! contracts_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            contracts_for!(@store $make;
                an_execution_is_read_back_as_written,
                a_used_dedup_key_returns_the_earlier_execution_and_writes_nothing,
                a_dedup_key_whose_execution_expired_can_be_used_again,
                replace_execution_is_compare_and_swap,
                executions_are_listed_newest_first_in_pages_and_by_status,
                api_keys_are_unique_by_name_and_updated_only_when_present,
                workflows_are_unique_by_id_and_updated_only_when_present,
                subscriptions_are_upserted_and_listed_per_workflow,
                rejection_counts_add_up_per_workflow_and_hour,
            );
            contracts_for!(@backend $make;
                an_orphaned_dedup_key_can_be_used_again,
            );
        }
    };
    (@store $make:path; $($contract:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $contract() {
                let backend = $make().await;
                super::$contract(backend.store.clone()).await;
            }
        )*
    };
    (@backend $make:path; $($contract:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $contract() {
                super::$contract(&$make().await).await;
            }
        )*
    };
}

contracts_for!(sqlite, sqlite_backend);
contracts_for!(dynamodb, dynamodb_backend);

/// A fresh, empty store, and a way to change what it holds behind its back.
struct Backend {
    store: Arc<dyn Store>,
    raw: Box<dyn BehindTheStore>,
}

/// Direct writes to the backend's storage, bypassing the store, to make states that only
/// outside events produce (retention deleting a record, an operator's manual delete).
#[async_trait]
trait BehindTheStore: Send + Sync {
    /// Deletes the execution's own record and nothing else.
    async fn delete_execution(&self, workflow: &WorkflowId, id: &ExecutionId);
}

struct SqliteFile {
    /// Kept alive (and deleted) with the backend.
    dir: tempfile::TempDir,
}

#[async_trait]
impl BehindTheStore for SqliteFile {
    async fn delete_execution(&self, workflow: &WorkflowId, id: &ExecutionId) {
        let conn = rusqlite::Connection::open(self.dir.path().join("store.db")).expect("open");
        let deleted = conn
            .execute(
                "DELETE FROM executions WHERE workflow_id = ?1 AND id = ?2",
                [workflow.to_string(), id.to_string()],
            )
            .expect("delete");
        assert_eq!(deleted, 1, "the execution was there to delete");
    }
}

async fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("store.db")).expect("open sqlite");
    Backend {
        store: Arc::new(store),
        raw: Box::new(SqliteFile { dir }),
    }
}

struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

#[async_trait]
impl BehindTheStore for DynamoTable {
    async fn delete_execution(&self, workflow: &WorkflowId, id: &ExecutionId) {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("WORKFLOW#{workflow}")))
            .key("sk", AttributeValue::S(format!("EXEC#{id}")))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .expect("DeleteItem");
        assert!(
            out.attributes.is_some(),
            "the execution was there to delete"
        );
    }
}

async fn dynamodb_backend() -> Backend {
    let f = fixture().await;
    Backend {
        store: Arc::new(f.store.clone()),
        raw: Box::new(DynamoTable {
            client: f.dynamodb,
            table: f.table,
        }),
    }
}

/// A queued generic-webhook execution received now, kept for `retention`.
fn execution(workflow: &WorkflowId, retention: Duration) -> Execution {
    Execution::new(
        workflow.clone(),
        TriggerMeta::GenericWebhook {
            content_type: Some("application/json".into()),
            idempotency_key: None,
            body_bytes: 7,
        },
        json!({"n": 1}),
        Utc::now(),
        retention,
    )
}

fn live(workflow: &WorkflowId) -> Execution {
    execution(workflow, Duration::days(30))
}

fn ids(executions: &[Execution]) -> Vec<ExecutionId> {
    executions.iter().map(|e| e.id).collect()
}

async fn an_execution_is_read_back_as_written(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let e = live(&wf);
    assert_eq!(
        store.insert_execution(&e, None).await.unwrap(),
        Recorded::Created
    );
    assert_eq!(
        store.get_execution(&wf, &e.id).await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(
        store
            .get_execution(&WorkflowId::generate(), &e.id)
            .await
            .unwrap(),
        None,
        "an execution is only found under its own workflow"
    );
    assert_eq!(
        store
            .get_execution(&wf, &ExecutionId::generate())
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.insert_execution(&e, None).await,
        Err(StoreError::AlreadyExists(_))
    ));
}

async fn a_used_dedup_key_returns_the_earlier_execution_and_writes_nothing(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let first = live(&wf);
    assert_eq!(
        store
            .insert_execution(&first, Some("idem#a"))
            .await
            .unwrap(),
        Recorded::Created
    );
    let second = live(&wf);
    assert_eq!(
        store
            .insert_execution(&second, Some("idem#a"))
            .await
            .unwrap(),
        Recorded::Duplicate(Box::new(first.clone()))
    );
    assert_eq!(store.get_execution(&wf, &second.id).await.unwrap(), None);

    // An execution id that exists already fails the whole write: the new key stays unused.
    assert!(matches!(
        store.insert_execution(&first, Some("idem#b")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let third = live(&wf);
    assert_eq!(
        store
            .insert_execution(&third, Some("idem#b"))
            .await
            .unwrap(),
        Recorded::Created
    );

    // The same key on another workflow is another key.
    let elsewhere = live(&WorkflowId::generate());
    assert_eq!(
        store
            .insert_execution(&elsewhere, Some("idem#a"))
            .await
            .unwrap(),
        Recorded::Created
    );
}

async fn a_dedup_key_whose_execution_expired_can_be_used_again(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    // Retention in the past: expired the moment it is written, and not yet deleted (DynamoDB's
    // TTL deletes within days; SQLite's purge runs now and then).
    let old = execution(&wf, Duration::seconds(-60));
    assert_eq!(
        store.insert_execution(&old, Some("sns#m-1")).await.unwrap(),
        Recorded::Created
    );
    let fresh = live(&wf);
    assert_eq!(
        store
            .insert_execution(&fresh, Some("sns#m-1"))
            .await
            .unwrap(),
        Recorded::Created
    );
    assert_eq!(
        store
            .insert_execution(&live(&wf), Some("sns#m-1"))
            .await
            .unwrap(),
        Recorded::Duplicate(Box::new(fresh)),
        "the key now belongs to the new execution"
    );
}

async fn an_orphaned_dedup_key_can_be_used_again(backend: &Backend) {
    let store = &backend.store;
    let wf = WorkflowId::generate();
    let vanished = live(&wf);
    store
        .insert_execution(&vanished, Some("idem#x"))
        .await
        .unwrap();
    // Its dedup record stays behind: the key points at nothing.
    backend.raw.delete_execution(&wf, &vanished.id).await;

    let e = live(&wf);
    assert_eq!(
        store.insert_execution(&e, Some("idem#x")).await.unwrap(),
        Recorded::Created
    );
    assert_eq!(
        store.get_execution(&wf, &e.id).await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(
        store
            .insert_execution(&live(&wf), Some("idem#x"))
            .await
            .unwrap(),
        Recorded::Duplicate(Box::new(e)),
        "the key now belongs to the new execution"
    );
}

async fn replace_execution_is_compare_and_swap(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let queued = live(&wf);
    store.insert_execution(&queued, None).await.unwrap();
    let now = Utc::now();
    let lease = Duration::minutes(5);
    let running = queued.claim(now - Duration::minutes(10), lease).unwrap();
    assert!(store.replace_execution(&queued, &running).await.unwrap());
    // A second worker holding the stale queued copy loses.
    assert!(!store.replace_execution(&queued, &running).await.unwrap());
    // Another worker takes over after the lease: the same status, one more attempt...
    let taken_over = running.claim(now, lease).unwrap();
    assert!(
        store
            .replace_execution(&running, &taken_over)
            .await
            .unwrap()
    );
    // ...so the first worker, back from the dead, cannot finish it.
    let late = running.succeed(1, json!("late"), now).unwrap();
    assert!(!store.replace_execution(&running, &late).await.unwrap());
    let done = taken_over.succeed(2, json!("ok"), now).unwrap();
    assert!(store.replace_execution(&taken_over, &done).await.unwrap());
    assert!(!store.replace_execution(&taken_over, &done).await.unwrap());
    assert_eq!(
        store.get_execution(&wf, &queued.id).await.unwrap(),
        Some(done)
    );
    // The status that listings filter on follows the transitions.
    let by_status = |status| ExecutionQuery {
        status: Some(status),
        limit: 10,
        before: None,
    };
    let succeeded = store
        .list_executions(&wf, &by_status(ExecutionStatus::Succeeded))
        .await
        .unwrap();
    assert_eq!(ids(&succeeded), vec![queued.id]);
    assert!(
        store
            .list_executions(&wf, &by_status(ExecutionStatus::Queued))
            .await
            .unwrap()
            .is_empty()
    );

    // Replacing an execution that was never stored writes nothing.
    let ghost = live(&wf);
    let ghost_running = ghost.claim(now, Duration::minutes(5)).unwrap();
    assert!(
        !store
            .replace_execution(&ghost, &ghost_running)
            .await
            .unwrap()
    );
    assert_eq!(store.get_execution(&wf, &ghost.id).await.unwrap(), None);
}

async fn executions_are_listed_newest_first_in_pages_and_by_status(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    // 130 executions (on DynamoDB, more than one filtered Query page of 100); the 3 oldest
    // failed.
    let mut all = Vec::new();
    for i in 0..130u64 {
        let mut e = live(&wf);
        e.id = ExecutionId::from_ulid(ulid::Ulid::from_parts(1_700_000_000_000 + i, 0));
        if i < 3 {
            e.status = ExecutionStatus::Failed;
        }
        all.push(e);
    }
    for (i, e) in all.iter().enumerate() {
        // Dedup records live beside executions; they must never show up in listings.
        let key = format!("idem#{i}");
        store.insert_execution(e, Some(&key)).await.unwrap();
    }
    // Another workflow's executions are not listed.
    store
        .insert_execution(&live(&WorkflowId::generate()), None)
        .await
        .unwrap();
    let newest_first: Vec<ExecutionId> = all.iter().rev().map(|e| e.id).collect();

    let q = |status, limit, before| ExecutionQuery {
        status,
        limit,
        before,
    };
    let page1 = store
        .list_executions(&wf, &q(None, 10, None))
        .await
        .unwrap();
    assert_eq!(ids(&page1), newest_first[..10]);
    let page2 = store
        .list_executions(&wf, &q(None, 10, Some(page1[9].id)))
        .await
        .unwrap();
    assert_eq!(ids(&page2), newest_first[10..20]);
    let tail = store
        .list_executions(&wf, &q(None, 100, Some(newest_first[125])))
        .await
        .unwrap();
    assert_eq!(ids(&tail), newest_first[126..]);
    let past_the_end = store
        .list_executions(&wf, &q(None, 10, Some(newest_first[129])))
        .await
        .unwrap();
    assert!(past_the_end.is_empty());
    assert!(
        store
            .list_executions(&wf, &q(None, 0, None))
            .await
            .unwrap()
            .is_empty()
    );

    let failed_newest_first = [all[2].id, all[1].id, all[0].id];
    let failed = store
        .list_executions(&wf, &q(Some(ExecutionStatus::Failed), 2, None))
        .await
        .unwrap();
    assert_eq!(ids(&failed), failed_newest_first[..2]);
    let failed_rest = store
        .list_executions(
            &wf,
            &q(Some(ExecutionStatus::Failed), 2, Some(failed[1].id)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&failed_rest), failed_newest_first[2..]);
    let none_running = store
        .list_executions(&wf, &q(Some(ExecutionStatus::Running), 5, None))
        .await
        .unwrap();
    assert!(none_running.is_empty());
}

async fn api_keys_are_unique_by_name_and_updated_only_when_present(store: Arc<dyn Store>) {
    let (mut key, _secret) = ApiKey::generate(ApiKeyName::parse("ci").unwrap(), Utc::now());
    store.insert_api_key(&key).await.unwrap();
    assert!(matches!(
        store.insert_api_key(&key).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store.get_api_key(&key.name).await.unwrap(),
        Some(key.clone())
    );
    key.revoke(Utc::now());
    store.update_api_key(&key).await.unwrap();
    assert!(
        store
            .get_api_key(&key.name)
            .await
            .unwrap()
            .unwrap()
            .is_revoked()
    );
    // The listing follows the update too, and is sorted by name.
    let (other, _) = ApiKey::generate(ApiKeyName::parse("another").unwrap(), Utc::now());
    store.insert_api_key(&other).await.unwrap();
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed, vec![other.clone(), key.clone()]);
    let (ghost, _) = ApiKey::generate(ApiKeyName::parse("ghost").unwrap(), Utc::now());
    assert!(matches!(
        store.update_api_key(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.get_api_key(&ghost.name).await.unwrap(), None);
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2);
}

async fn workflows_are_unique_by_id_and_updated_only_when_present(store: Arc<dyn Store>) {
    let mut workflow = Workflow::new(
        "orders",
        Trigger::GenericWebhook,
        ApiKeyName::parse("ci").unwrap(),
        vec![Step::Echo],
        SnsOptions::default(),
        Utc::now(),
    )
    .unwrap();
    store.insert_workflow(&workflow).await.unwrap();
    assert!(matches!(
        store.insert_workflow(&workflow).await,
        Err(StoreError::AlreadyExists(_))
    ));
    workflow.enabled = false;
    store.update_workflow(&workflow).await.unwrap();
    assert_eq!(
        store.get_workflow(&workflow.id).await.unwrap(),
        Some(workflow.clone())
    );
    assert_eq!(
        store.list_workflows().await.unwrap(),
        vec![workflow.clone()]
    );
    let missing = WorkflowId::generate();
    assert_eq!(store.get_workflow(&missing).await.unwrap(), None);
    let mut ghost = workflow.clone();
    ghost.id = missing;
    assert!(matches!(
        store.update_workflow(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn subscriptions_are_upserted_and_listed_per_workflow(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let subscription = |topic: &str, state| SnsSubscription {
        workflow_id: wf.clone(),
        topic_arn: topic.into(),
        subscription_arn: Some(format!("{topic}:abc")),
        state,
        updated_at: Utc::now(),
    };
    let orders = "arn:aws:sns:us-east-1:123456789012:orders";
    let alarms = "arn:aws:sns:us-east-1:123456789012:alarms";
    store
        .put_subscription(&subscription(orders, SubscriptionState::Confirmed))
        .await
        .unwrap();
    let unsubscribed = subscription(orders, SubscriptionState::Unsubscribed);
    store.put_subscription(&unsubscribed).await.unwrap();
    assert_eq!(
        store.list_subscriptions(&wf).await.unwrap(),
        vec![unsubscribed.clone()],
        "a second put for the same topic overwrites the first"
    );
    let confirmed = subscription(alarms, SubscriptionState::Confirmed);
    store.put_subscription(&confirmed).await.unwrap();
    let mut listed = store.list_subscriptions(&wf).await.unwrap();
    listed.sort_by(|a, b| a.topic_arn.cmp(&b.topic_arn));
    assert_eq!(listed, vec![confirmed, unsubscribed]);
    assert!(
        store
            .list_subscriptions(&WorkflowId::generate())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn rejection_counts_add_up_per_workflow_and_hour(store: Arc<dyn Store>) {
    use RejectionReason::{Auth, Duplicate, Other, Size};
    let counts =
        |pairs: &[(RejectionReason, u64)]| -> RejectionCounts { pairs.iter().copied().collect() };
    let wf = WorkflowId::generate();
    let neighbour = WorkflowId::generate();
    let h0 = hour_of(Utc::now()) - Duration::hours(2);
    let (h1, h2) = (h0 + Duration::hours(1), h0 + Duration::hours(2));

    store
        .add_rejections(&wf, h0, &counts(&[(Auth, 2)]))
        .await
        .unwrap();
    store
        .add_rejections(&wf, h0, &counts(&[(Auth, 1), (Size, 1)]))
        .await
        .unwrap();
    store.add_rejections(&wf, h1, &counts(&[])).await.unwrap();
    store
        .add_rejections(&wf, h2, &counts(&[(Duplicate, 3)]))
        .await
        .unwrap();
    store
        .add_rejections(&neighbour, h0, &counts(&[(Other, 5)]))
        .await
        .unwrap();

    assert_eq!(
        store.rejections_since(&wf, h0).await.unwrap(),
        vec![
            (h0, counts(&[(Auth, 3), (Size, 1)])),
            (h2, counts(&[(Duplicate, 3)])),
        ],
        "adds to one hour sum up; an hour with nothing has no row; oldest first"
    );
    assert_eq!(
        store.rejections_since(&wf, h1).await.unwrap(),
        vec![(h2, counts(&[(Duplicate, 3)]))],
        "read from an hour on"
    );
    assert_eq!(
        store.rejections_since(&neighbour, h0).await.unwrap(),
        vec![(h0, counts(&[(Other, 5)]))],
        "each workflow has its own"
    );
    assert!(
        store
            .rejections_since(&WorkflowId::generate(), h0)
            .await
            .unwrap()
            .is_empty()
    );

    // Several processes flushing the same hour at once: every add counts.
    let adds = (0..10).map(|_| {
        let (store, wf) = (store.clone(), wf.clone());
        tokio::spawn(async move { store.add_rejections(&wf, h2, &counts(&[(Auth, 1)])).await })
    });
    for add in adds {
        add.await.expect("task").expect("add");
    }
    assert_eq!(
        store.rejections_since(&wf, h2).await.unwrap(),
        vec![(h2, counts(&[(Auth, 10), (Duplicate, 3)]))]
    );

    // The counts live beside the workflow's executions and are never listed as one.
    let listed = store
        .list_executions(
            &wf,
            &ExecutionQuery {
                status: None,
                limit: 10,
                before: None,
            },
        )
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}
