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
    ApiKey, ApiKeyName, Execution, ExecutionId, ExecutionStatus, ItemRecord, ItemStatus,
    RejectionCounts, RejectionReason, SnsOptions, SnsSubscription, Step, SubscriptionState,
    Trigger, TriggerMeta, Workflow, WorkflowId, WorkflowVersion, hour_of,
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
                workflow_saves_are_versioned_conditional_and_kept_after_a_delete,
                subscriptions_are_upserted_and_listed_per_workflow,
                rejection_counts_add_up_per_workflow_and_hour,
                items_are_listed_by_index_and_a_later_put_replaces_one,
                items_are_paged_after_an_index_and_up_to_a_limit,
                items_are_listed_only_for_their_execution_and_step,
                items_never_appear_in_execution_listings,
            );
            contracts_for!(@backend $make;
                a_workflow_stored_before_versions_is_version_1,
                an_orphaned_dedup_key_can_be_used_again,
                an_unreadable_item_record_is_reported_as_corrupt,
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
    /// Overwrites a stored item record with text that is not JSON (a bug or a manual edit).
    async fn garble_item(&self, workflow: &WorkflowId, id: &ExecutionId, step: &str, index: u32);
    /// Rewrites a workflow as stored before versions existed: no `version` anywhere.
    async fn unversion_workflow(&self, workflow: &WorkflowId);
}

/// What a garbled record holds instead of JSON.
const NOT_JSON: &str = "{not json";

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

    async fn garble_item(&self, workflow: &WorkflowId, id: &ExecutionId, step: &str, index: u32) {
        let conn = rusqlite::Connection::open(self.dir.path().join("store.db")).expect("open");
        let updated = conn
            .execute(
                "UPDATE items SET record = ?5
                 WHERE workflow_id = ?1 AND execution_id = ?2 AND step_id = ?3 AND item_index = ?4",
                rusqlite::params![workflow.to_string(), id.to_string(), step, index, NOT_JSON],
            )
            .expect("update");
        assert_eq!(updated, 1, "the item was there to garble");
    }

    async fn unversion_workflow(&self, workflow: &WorkflowId) {
        let conn = rusqlite::Connection::open(self.dir.path().join("store.db")).expect("open");
        let updated = conn
            .execute(
                "UPDATE workflows SET record = json_remove(record, '$.version') WHERE id = ?1",
                [workflow.to_string()],
            )
            .expect("update");
        assert_eq!(updated, 1, "the workflow was there to rewrite");
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

    async fn garble_item(&self, workflow: &WorkflowId, id: &ExecutionId, step: &str, index: u32) {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("WORKFLOW#{workflow}")))
            .key(
                "sk",
                AttributeValue::S(format!("ITEM#{id}#{step}#{index:010}")),
            )
            .update_expression("SET #record = :garbled")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#record", "record")
            .expression_attribute_values(":garbled", AttributeValue::S(NOT_JSON.into()))
            .send()
            .await
            .expect("the item was there to garble");
    }

    async fn unversion_workflow(&self, workflow: &WorkflowId) {
        let key = [
            ("pk", format!("WORKFLOW#{workflow}")),
            ("sk", "WORKFLOW".to_owned()),
        ];
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(key[0].0, AttributeValue::S(key[0].1.clone()))
            .key(key[1].0, AttributeValue::S(key[1].1.clone()))
            .send()
            .await
            .expect("GetItem")
            .item
            .expect("the workflow was there to rewrite");
        let Some(AttributeValue::S(record)) = item.get("record") else {
            panic!("a workflow item holds its record: {item:?}");
        };
        let mut record: serde_json::Value = serde_json::from_str(record).expect("JSON");
        record.as_object_mut().unwrap().remove("version");
        self.client
            .update_item()
            .table_name(&self.table)
            .key(key[0].0, AttributeValue::S(key[0].1.clone()))
            .key(key[1].0, AttributeValue::S(key[1].1.clone()))
            .update_expression("SET #record = :record REMOVE #version")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":record", AttributeValue::S(record.to_string()))
            .send()
            .await
            .expect("UpdateItem");
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

async fn workflow_saves_are_versioned_conditional_and_kept_after_a_delete(store: Arc<dyn Store>) {
    let now = Utc::now();
    let first = Workflow::new(
        "orders",
        Trigger::GenericWebhook,
        ApiKeyName::parse("ci").unwrap(),
        vec![Step::Echo],
        SnsOptions::default(),
        now,
    )
    .unwrap();
    let v1 = WorkflowVersion::of(&first, "cli", None, now);
    store.save_workflow(&first, &v1).await.unwrap();
    assert!(matches!(
        store.save_workflow(&first, &v1).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let second = Workflow {
        name: "orders v2".into(),
        version: 2,
        ..first.clone()
    };
    let v2 = WorkflowVersion::of(&second, "ops", Some("rename".into()), now);
    store.save_workflow(&second, &v2).await.unwrap();
    assert_eq!(
        store.get_workflow(&first.id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.list_workflows().await.unwrap(), vec![second.clone()]);

    // Another save based on version 1 lost the race: nothing of it is written.
    let stale = Workflow {
        name: "stale".into(),
        ..second.clone()
    };
    let stale_version = WorkflowVersion::of(&stale, "other", None, now);
    assert!(matches!(
        store.save_workflow(&stale, &stale_version).await,
        Err(StoreError::VersionConflict(_))
    ));
    assert_eq!(
        store.get_workflow(&first.id).await.unwrap(),
        Some(second.clone())
    );
    // A flag change between saves keeps the version the next save is conditional on.
    let disabled = Workflow {
        enabled: false,
        ..second.clone()
    };
    store.update_workflow_at_version(&disabled).await.unwrap();
    assert_eq!(
        store.get_workflow(&first.id).await.unwrap(),
        Some(disabled.clone())
    );
    // ...and is refused when the workflow is no longer at the version it read.
    let behind = Workflow {
        version: 1,
        ..disabled.clone()
    };
    assert!(matches!(
        store.update_workflow_at_version(&behind).await,
        Err(StoreError::VersionConflict(_))
    ));
    let third = Workflow {
        version: 3,
        ..disabled.clone()
    };
    store
        .save_workflow(&third, &WorkflowVersion::of(&third, "ops", None, now))
        .await
        .unwrap();

    let ghost = Workflow {
        id: WorkflowId::generate(),
        ..third.clone()
    };
    assert!(matches!(
        store
            .save_workflow(&ghost, &WorkflowVersion::of(&ghost, "ops", None, now))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_workflow_at_version(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    // A workflow stored before versions (no version record) is version 1.
    let legacy = Workflow::new(
        "legacy",
        Trigger::GenericWebhook,
        ApiKeyName::parse("ci").unwrap(),
        vec![Step::Echo],
        SnsOptions::default(),
        now,
    )
    .unwrap();
    store.insert_workflow(&legacy).await.unwrap();
    store.update_workflow_at_version(&legacy).await.unwrap();
    let legacy_two = Workflow {
        version: 2,
        ..legacy.clone()
    };
    store
        .save_workflow(
            &legacy_two,
            &WorkflowVersion::of(&legacy_two, "cli", None, now),
        )
        .await
        .unwrap();

    let numbers: Vec<u32> = store
        .list_workflow_versions(&first.id)
        .await
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(
        store.get_workflow_version(&first.id, 2).await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(
        store.get_workflow_version(&first.id, 9).await.unwrap(),
        None
    );

    store.delete_workflow(&first.id).await.unwrap();
    assert_eq!(store.get_workflow(&first.id).await.unwrap(), None);
    assert!(
        !store
            .list_workflows()
            .await
            .unwrap()
            .iter()
            .any(|w| w.id == first.id)
    );
    assert!(matches!(
        store.delete_workflow(&first.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.list_workflow_versions(&first.id).await.unwrap().len(),
        3
    );
}

/// Records from before versions read as version 1, and both a flag change and a replace
/// (which is conditional on version 1) work on them.
async fn a_workflow_stored_before_versions_is_version_1(backend: &Backend) {
    let store = &backend.store;
    let now = Utc::now();
    let workflow = Workflow::new(
        "legacy",
        Trigger::GenericWebhook,
        ApiKeyName::parse("ci").unwrap(),
        vec![Step::Echo],
        SnsOptions::default(),
        now,
    )
    .unwrap();
    store.insert_workflow(&workflow).await.unwrap();
    backend.raw.unversion_workflow(&workflow.id).await;
    let read = store.get_workflow(&workflow.id).await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    let disabled = Workflow {
        enabled: false,
        ..read
    };
    store.update_workflow_at_version(&disabled).await.unwrap();
    backend.raw.unversion_workflow(&workflow.id).await;
    let second = Workflow {
        version: 2,
        ..disabled
    };
    store
        .save_workflow(&second, &WorkflowVersion::of(&second, "cli", None, now))
        .await
        .unwrap();
    assert_eq!(
        store.get_workflow(&workflow.id).await.unwrap(),
        Some(second.clone())
    );
    // Now versioned: a save based on 1 again conflicts.
    assert!(matches!(
        store
            .save_workflow(&second, &WorkflowVersion::of(&second, "cli", None, now))
            .await,
        Err(StoreError::VersionConflict(_))
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

/// A finished item of step `step`, its output naming where it belongs so that a record listed
/// under the wrong execution or step cannot pass for the right one.
fn item(execution: &Execution, step: &str, index: u32) -> ItemRecord {
    ItemRecord {
        step_id: step.into(),
        index,
        status: ItemStatus::Succeeded,
        steps: Vec::new(),
        output: Some(json!({"execution": execution.id, "step": step, "index": index})),
        error: None,
        updated_at: Utc::now(),
    }
}

/// Every record of the step, by index.
async fn all_items(
    store: &dyn Store,
    wf: &WorkflowId,
    id: &ExecutionId,
    step: &str,
) -> Vec<ItemRecord> {
    store.list_items(wf, id, step, None, 1000).await.unwrap()
}

fn indexes(records: &[ItemRecord]) -> Vec<u32> {
    records.iter().map(|r| r.index).collect()
}

async fn items_are_listed_by_index_and_a_later_put_replaces_one(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let e = live(&wf);
    store.insert_execution(&e, None).await.unwrap();
    let list = || store.list_items(&wf, &e.id, "fetch", None, 10);

    assert!(list().await.unwrap().is_empty(), "nothing written yet");
    store.put_items(&e, &[]).await.unwrap();
    let (first, third) = (item(&e, "fetch", 0), item(&e, "fetch", 2));
    store
        .put_items(&e, &[third.clone(), first.clone()])
        .await
        .unwrap();
    let mut second = item(&e, "fetch", 1);
    second.status = ItemStatus::Running;
    store.put_items(&e, &[second.clone()]).await.unwrap();
    assert_eq!(
        list().await.unwrap(),
        vec![first.clone(), second.clone(), third.clone()],
        "by index, whatever the order of the writes"
    );

    let mut failed = second.clone();
    failed.status = ItemStatus::Failed;
    failed.output = Some(json!({"error": "HTTP 500"}));
    failed.error = Some("HTTP 500".into());
    store.put_items(&e, &[failed.clone()]).await.unwrap();
    assert_eq!(
        list().await.unwrap(),
        vec![first.clone(), failed, third.clone()],
        "a later put for the same index replaces the record"
    );

    // Two records for one index in one put: the later one is what stays.
    let mut running = third.clone();
    running.status = ItemStatus::Running;
    let mut done = third.clone();
    done.output = Some(json!("done"));
    store
        .put_items(&e, &[running, done.clone(), first.clone()])
        .await
        .unwrap();
    let listed = list().await.unwrap();
    assert_eq!(indexes(&listed), vec![0, 1, 2]);
    assert_eq!(listed[2], done);
}

async fn items_are_paged_after_an_index_and_up_to_a_limit(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let e = live(&wf);
    store.insert_execution(&e, None).await.unwrap();
    // 60 in one put (on DynamoDB, three batches), and two past 99,999, where a sort key
    // padded to five digits would put 100,000 first.
    let mut all: Vec<ItemRecord> = (0..60).map(|i| item(&e, "fetch", i)).collect();
    all.extend([item(&e, "fetch", 100_000), item(&e, "fetch", 99_999)]);
    store.put_items(&e, &all).await.unwrap();
    let page = |after, limit| store.list_items(&wf, &e.id, "fetch", after, limit);

    let first = page(None, 10).await.unwrap();
    assert_eq!(first, all[..10]);
    let second = page(Some(9), 10).await.unwrap();
    assert_eq!(indexes(&second), (10..20).collect::<Vec<_>>());
    let tail = page(Some(55), 100).await.unwrap();
    assert_eq!(indexes(&tail), vec![56, 57, 58, 59, 99_999, 100_000]);
    assert_eq!(indexes(&page(Some(59), 1).await.unwrap()), vec![99_999]);
    let everything = page(None, 1000).await.unwrap();
    assert_eq!(everything.len(), 62);
    assert!(everything.windows(2).all(|w| w[0].index < w[1].index));

    assert!(
        page(Some(100_000), 10).await.unwrap().is_empty(),
        "past the end"
    );
    assert!(page(Some(u32::MAX), 10).await.unwrap().is_empty());
    assert!(page(None, 0).await.unwrap().is_empty());
}

async fn items_are_listed_only_for_their_execution_and_step(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let (e, sibling) = (live(&wf), live(&wf));
    // The same execution id under another workflow is another execution.
    let mut elsewhere = e.clone();
    elsewhere.workflow_id = WorkflowId::generate();
    for x in [&e, &sibling, &elsewhere] {
        store.insert_execution(x, None).await.unwrap();
    }
    let mine = vec![item(&e, "fetch", 0), item(&e, "fetch", 1)];
    // Step ids that begin like "fetch" or sort right beside it.
    let neighbours = [
        item(&e, "fetch-2", 0),
        item(&e, "fetch_all", 0),
        item(&e, "fetcg", 0),
        item(&e, "fetci", 0),
    ];
    store.put_items(&e, &mine).await.unwrap();
    store.put_items(&e, &neighbours).await.unwrap();
    let siblings = vec![item(&sibling, "fetch", 0)];
    store.put_items(&sibling, &siblings).await.unwrap();
    let elsewheres = vec![item(&elsewhere, "fetch", 5)];
    store.put_items(&elsewhere, &elsewheres).await.unwrap();

    let store = &*store;
    assert_eq!(all_items(store, &wf, &e.id, "fetch").await, mine);
    for neighbour in &neighbours {
        assert_eq!(
            all_items(store, &wf, &e.id, &neighbour.step_id).await,
            vec![neighbour.clone()]
        );
    }
    assert_eq!(all_items(store, &wf, &sibling.id, "fetch").await, siblings);
    assert_eq!(
        all_items(store, &elsewhere.workflow_id, &e.id, "fetch").await,
        elsewheres
    );
    assert!(all_items(store, &wf, &e.id, "fetc").await.is_empty());
    assert!(all_items(store, &wf, &e.id, "other").await.is_empty());
    assert!(
        all_items(store, &wf, &ExecutionId::generate(), "fetch")
            .await
            .is_empty()
    );
}

async fn items_never_appear_in_execution_listings(store: Arc<dyn Store>) {
    let wf = WorkflowId::generate();
    let executions = [live(&wf), live(&wf), live(&wf)];
    for e in &executions {
        store
            .insert_execution(e, Some(&e.id.to_string()))
            .await
            .unwrap();
        let records: Vec<ItemRecord> = (0..3).map(|i| item(e, "fetch", i)).collect();
        store.put_items(e, &records).await.unwrap();
    }
    let mut newest_first = ids(&executions);
    newest_first.sort_by(|a, b| b.cmp(a));
    let q = |status, before| ExecutionQuery {
        status,
        limit: 10,
        before,
    };
    let all = store.list_executions(&wf, &q(None, None)).await.unwrap();
    assert_eq!(ids(&all), newest_first);
    let older = store
        .list_executions(&wf, &q(None, Some(newest_first[0])))
        .await
        .unwrap();
    assert_eq!(ids(&older), newest_first[1..]);
    let queued = store
        .list_executions(&wf, &q(Some(ExecutionStatus::Queued), None))
        .await
        .unwrap();
    assert_eq!(ids(&queued), newest_first);
}

async fn an_unreadable_item_record_is_reported_as_corrupt(backend: &Backend) {
    let store = &backend.store;
    let wf = WorkflowId::generate();
    let e = live(&wf);
    store.insert_execution(&e, None).await.unwrap();
    let records: Vec<ItemRecord> = (0..3).map(|i| item(&e, "fetch", i)).collect();
    store.put_items(&e, &records).await.unwrap();
    backend.raw.garble_item(&wf, &e.id, "fetch", 1).await;

    match store.list_items(&wf, &e.id, "fetch", None, 10).await {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A page that does not reach the garbled record still reads.
    assert_eq!(
        store
            .list_items(&wf, &e.id, "fetch", Some(1), 10)
            .await
            .unwrap(),
        records[2..]
    );
    assert_eq!(
        store
            .list_items(&wf, &e.id, "fetch", None, 1)
            .await
            .unwrap(),
        records[..1]
    );
}
