//! The DynamoDB store and the SQS queue against moto's server, through the real SDK clients:
//! what is particular to them (item layout, errors, queue attributes). What every store does
//! is in `store_contract.rs`.
//! Each test makes its own table and queues. Needs `make test` (or moto + AWS_ENDPOINT_URL).

use crate::support;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use serde_json::json;

use support::dynamodb::{Fixture, fixture};
use webhook_trigger::adapters::dynamodb::DynamoStore;
use webhook_trigger::adapters::sqs::SqsQueue;
use webhook_trigger::domain::{
    Execution, ExecutionId, ItemRecord, ItemStatus, RejectionCounts, RejectionReason, TriggerMeta,
    WorkflowId, hour_of,
};
use webhook_trigger::ports::{
    ExecutionStore, ItemStore, QueueError, Recorded, RejectionStore, StoreError, WorkItem,
    WorkQueue, WorkflowStore,
};

fn workflow_id() -> WorkflowId {
    WorkflowId::generate()
}

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

/// Every item of a workflow's partition, straight from the table: (sk, item).
async fn partition(
    f: &Fixture,
    workflow: &WorkflowId,
) -> Vec<(String, HashMap<String, AttributeValue>)> {
    let out = f
        .dynamodb
        .query()
        .table_name(&f.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("WORKFLOW#{workflow}")))
        .consistent_read(true)
        .send()
        .await
        .expect("query");
    out.items()
        .iter()
        .map(|item| {
            let sk = item["sk"].as_s().expect("sk").clone();
            (sk, item.clone())
        })
        .collect()
}

fn count_with_prefix(items: &[(String, HashMap<String, AttributeValue>)], prefix: &str) -> usize {
    items
        .iter()
        .filter(|(sk, _)| sk.starts_with(prefix))
        .count()
}

/// Rejection counts: one item per workflow-hour in the workflow's partition, one number
/// attribute per reason, deleted by TTL two days after its hour.
#[tokio::test]
async fn rejection_counts_are_one_item_per_hour_that_ttl_removes_after_two_days() {
    let f = fixture().await;
    let wf = workflow_id();
    let hour = hour_of(Utc::now());
    let counts: RejectionCounts = [(RejectionReason::Size, 2), (RejectionReason::Auth, 1)]
        .into_iter()
        .collect();
    f.store
        .add_rejections(&wf, hour, &counts)
        .await
        .expect("add");
    f.store
        .add_rejections(&wf, hour, &counts)
        .await
        .expect("add");
    let items = partition(&f, &wf).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let (sk, item) = &items[0];
    assert_eq!(
        sk,
        &format!("REJECTED#{}", hour.format("%Y-%m-%dT%H:00:00Z"))
    );
    let number = |name: &str| item[name].as_n().expect(name).parse::<i64>().expect(name);
    assert_eq!((number("size"), number("auth")), (4, 2));
    assert!(
        !item.contains_key("signature"),
        "no attribute for a reason never counted"
    );
    assert_eq!(number("hour"), hour.timestamp());
    assert_eq!(
        number("expires_at"),
        (hour + Duration::hours(48)).timestamp()
    );
}

/// An execution and its dedup record are two items of the workflow's partition, written in
/// one transaction: a transaction that is cancelled (the key is taken, or the execution id
/// exists already) leaves no item behind. The behaviour itself is in `store_contract.rs`.
#[tokio::test]
async fn dedup_record_and_execution_are_written_together_once() {
    let f = fixture().await;
    let wf = workflow_id();
    let first = execution(&wf, Duration::days(30));
    assert_eq!(
        f.store
            .insert_execution(&first, Some("idem#a"))
            .await
            .unwrap(),
        Recorded::Created
    );
    let second = execution(&wf, Duration::days(30));
    assert!(matches!(
        f.store.insert_execution(&second, Some("idem#a")).await,
        Ok(Recorded::Duplicate(_))
    ));
    assert!(matches!(
        f.store.insert_execution(&first, Some("idem#b")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let items = partition(&f, &wf).await;
    assert_eq!(count_with_prefix(&items, "EXEC#"), 1);
    assert_eq!(count_with_prefix(&items, "DEDUP#"), 1);
    let (_, dedup) = items.iter().find(|(sk, _)| sk == "DEDUP#idem#a").unwrap();
    assert_eq!(dedup["execution_id"].as_s().unwrap(), &first.id.to_string());
    assert_eq!(
        dedup["expires_at"].as_n().unwrap(),
        &first.expires_at.timestamp().to_string()
    );
    let (_, exec) = items
        .iter()
        .find(|(sk, _)| sk.starts_with("EXEC#"))
        .unwrap();
    assert_eq!(exec["status"].as_s().unwrap(), "queued");
    assert_eq!(exec["attempts"].as_n().unwrap(), "0");
}

fn item_record(index: u32, output: serde_json::Value) -> ItemRecord {
    ItemRecord {
        step_id: "fetch".into(),
        index,
        status: ItemStatus::Succeeded,
        steps: Vec::new(),
        output: Some(output),
        error: None,
        updated_at: Utc::now(),
    }
}

/// `for_each` item records: one item each in the workflow's partition, keyed by execution,
/// step and ten-digit index, carrying their execution's TTL so they go when it goes. A put
/// with a record too large for an item is refused before anything of it is written.
#[tokio::test]
async fn item_records_are_items_that_ttl_removes_with_their_execution() {
    let f = fixture().await;
    let wf = workflow_id();
    let e = execution(&wf, Duration::days(30));
    f.store.insert_execution(&e, None).await.unwrap();
    // A lone record (PutItem) and a batch (BatchWriteItem).
    f.store
        .put_items(&e, &[item_record(0, json!(0))])
        .await
        .unwrap();
    let batch: Vec<ItemRecord> = (1..4).map(|i| item_record(i, json!(i))).collect();
    f.store.put_items(&e, &batch).await.unwrap();

    let items = partition(&f, &wf).await;
    assert_eq!(count_with_prefix(&items, "EXEC#"), 1);
    assert_eq!(count_with_prefix(&items, "ITEM#"), 4);
    for index in 0..4 {
        let sk = format!("ITEM#{}#fetch#{index:010}", e.id);
        let (_, item) = items
            .iter()
            .find(|(k, _)| *k == sk)
            .unwrap_or_else(|| panic!("no item {sk}"));
        assert_eq!(
            item["expires_at"].as_n().unwrap(),
            &e.expires_at.timestamp().to_string()
        );
        assert!(
            item["record"]
                .as_s()
                .unwrap()
                .contains("\"stepId\":\"fetch\"")
        );
    }

    // Random bytes as hex: far over 400 KB even compressed.
    let mut bytes = vec![0u8; 1_000_000];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let huge = item_record(5, json!(hex::encode(bytes)));
    match f
        .store
        .put_items(&e, &[item_record(4, json!(4)), huge])
        .await
    {
        Err(StoreError::TooLarge(message)) => assert!(message.contains("400 KB"), "{message}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(count_with_prefix(&partition(&f, &wf).await, "ITEM#"), 4);
}

#[tokio::test]
async fn a_missing_table_is_reported_as_unavailable_with_the_reason() {
    let f = fixture().await;
    let store = DynamoStore::new(f.dynamodb.clone(), "wt-no-such-table");
    match store.get_workflow(&workflow_id()).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("ResourceNotFound"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn sqs_queue_sends_the_work_item_and_nothing_else() {
    let f = fixture().await;
    let item = WorkItem {
        workflow_id: workflow_id(),
        execution_id: ExecutionId::generate(),
    };
    f.queue.enqueue(&item).await.unwrap();
    let out = f
        .sqs
        .receive_message()
        .queue_url(&f.queues.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = out.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body(), Some(item.to_json().as_str()));
    assert_eq!(
        WorkItem::from_json(messages[0].body().unwrap()).unwrap(),
        item
    );

    let gone = SqsQueue::new(f.sqs.clone(), format!("{}-missing", f.queues.queue_url));
    match gone.enqueue(&item).await {
        Err(QueueError::Unavailable(message)) => {
            assert!(message.contains("SendMessage"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn queues_have_the_redrive_policy_of_the_template() {
    let f = fixture().await;
    let attributes = f
        .sqs
        .get_queue_attributes()
        .queue_url(&f.queues.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy])
            .unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        webhook_trigger::adapters::sqs::MAX_RECEIVE_COUNT.to_string()
    );
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with("-dlq")
    );
    assert_eq!(
        attributes[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
        webhook_trigger::adapters::sqs::VISIBILITY_TIMEOUT_SECONDS.to_string()
    );
}
