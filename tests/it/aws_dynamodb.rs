//! The DynamoDB store and the SQS queue against moto's server, through the real SDK clients.
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
    ApiKey, ApiKeyName, Execution, ExecutionId, ExecutionStatus, SnsOptions, SnsSubscription, Step,
    SubscriptionState, Trigger, TriggerMeta, Workflow, WorkflowId,
};
use webhook_trigger::ports::{
    ApiKeyStore, ExecutionQuery, ExecutionStore, QueueError, Recorded, StoreError,
    SubscriptionStore, WorkItem, WorkQueue, WorkflowStore,
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

#[tokio::test]
async fn api_keys_insert_get_update_list() {
    let f = fixture().await;
    let store = &f.store;
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
    // The listing copy is written in the same transaction, so it follows the update.
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

#[tokio::test]
async fn workflows_insert_get_update_list() {
    let f = fixture().await;
    let store = &f.store;
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
    match f
        .store
        .insert_execution(&second, Some("idem#a"))
        .await
        .unwrap()
    {
        Recorded::Duplicate(existing) => assert_eq!(*existing, first),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(f.store.get_execution(&wf, &second.id).await.unwrap(), None);

    // An execution id that exists already cancels the whole transaction: no dedup record
    // is left behind for the new key.
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

    // The same key on another workflow is another key.
    let elsewhere = execution(&workflow_id(), Duration::days(30));
    assert_eq!(
        f.store
            .insert_execution(&elsewhere, Some("idem#a"))
            .await
            .unwrap(),
        Recorded::Created
    );
}

#[tokio::test]
async fn an_expired_dedup_record_that_ttl_has_not_deleted_yet_does_not_block() {
    let f = fixture().await;
    let wf = workflow_id();
    // Retention in the past: its dedup record is expired the moment it is written.
    let old = execution(&wf, Duration::seconds(-60));
    assert_eq!(
        f.store
            .insert_execution(&old, Some("sns#m-1"))
            .await
            .unwrap(),
        Recorded::Created
    );
    let fresh = execution(&wf, Duration::days(30));
    assert_eq!(
        f.store
            .insert_execution(&fresh, Some("sns#m-1"))
            .await
            .unwrap(),
        Recorded::Created
    );
    let items = partition(&f, &wf).await;
    let (_, dedup) = items.iter().find(|(sk, _)| sk == "DEDUP#sns#m-1").unwrap();
    assert_eq!(dedup["execution_id"].as_s().unwrap(), &fresh.id.to_string());
}

#[tokio::test]
async fn a_dedup_record_whose_execution_is_gone_is_taken_over() {
    let f = fixture().await;
    let wf = workflow_id();
    let vanished = ExecutionId::generate();
    let expires = (Utc::now() + Duration::days(1)).timestamp();
    f.dynamodb
        .put_item()
        .table_name(&f.table)
        .item("pk", AttributeValue::S(format!("WORKFLOW#{wf}")))
        .item("sk", AttributeValue::S("DEDUP#idem#x".into()))
        .item("execution_id", AttributeValue::S(vanished.to_string()))
        .item("expires_at", AttributeValue::N(expires.to_string()))
        .send()
        .await
        .unwrap();
    let e = execution(&wf, Duration::days(30));
    assert_eq!(
        f.store.insert_execution(&e, Some("idem#x")).await.unwrap(),
        Recorded::Created
    );
    assert_eq!(f.store.get_execution(&wf, &e.id).await.unwrap(), Some(e));
}

#[tokio::test]
async fn transitions_are_compare_and_swap() {
    let f = fixture().await;
    let wf = workflow_id();
    let queued = execution(&wf, Duration::days(30));
    f.store.insert_execution(&queued, None).await.unwrap();
    let now = Utc::now();
    let running = queued.claim(now, Duration::minutes(5)).unwrap();
    assert!(f.store.replace_execution(&queued, &running).await.unwrap());
    // A second worker holding the stale queued copy loses.
    assert!(!f.store.replace_execution(&queued, &running).await.unwrap());
    let done = running.succeed(1, json!("ok"), now).unwrap();
    assert!(f.store.replace_execution(&running, &done).await.unwrap());
    assert!(!f.store.replace_execution(&running, &done).await.unwrap());
    let stored = f
        .store
        .get_execution(&wf, &queued.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, done);
    let items = partition(&f, &wf).await;
    let (_, item) = items
        .iter()
        .find(|(sk, _)| sk.starts_with("EXEC#"))
        .unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "succeeded");
    assert_eq!(item["attempts"].as_n().unwrap(), "1");
    // Replacing an execution that was never stored writes nothing.
    let ghost = execution(&wf, Duration::days(30));
    let ghost_running = ghost.claim(now, Duration::minutes(5)).unwrap();
    assert!(
        !f.store
            .replace_execution(&ghost, &ghost_running)
            .await
            .unwrap()
    );
    assert_eq!(f.store.get_execution(&wf, &ghost.id).await.unwrap(), None);
}

fn ids(executions: &[Execution]) -> Vec<ExecutionId> {
    executions.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn listing_is_newest_first_paginated_and_filtered_across_query_pages() {
    let f = fixture().await;
    let wf = workflow_id();
    // 130 executions (more than one filtered Query page of 100); the 3 oldest failed.
    let mut all = Vec::new();
    for i in 0..130u64 {
        let mut e = execution(&wf, Duration::days(30));
        e.id = ExecutionId::from_ulid(ulid::Ulid::from_parts(1_700_000_000_000 + i, 0));
        if i < 3 {
            e.status = ExecutionStatus::Failed;
        }
        all.push(e);
    }
    for (i, e) in all.iter().enumerate() {
        // Dedup records share the partition; they must never show up in listings.
        let key = format!("idem#{i}");
        f.store.insert_execution(e, Some(&key)).await.unwrap();
    }
    let newest_first: Vec<ExecutionId> = all.iter().rev().map(|e| e.id).collect();

    let q = |status, limit, before| ExecutionQuery {
        status,
        limit,
        before,
    };
    let page1 = f
        .store
        .list_executions(&wf, &q(None, 10, None))
        .await
        .unwrap();
    assert_eq!(ids(&page1), newest_first[..10]);
    let page2 = f
        .store
        .list_executions(&wf, &q(None, 10, Some(page1[9].id)))
        .await
        .unwrap();
    assert_eq!(ids(&page2), newest_first[10..20]);
    let tail = f
        .store
        .list_executions(&wf, &q(None, 100, Some(newest_first[125])))
        .await
        .unwrap();
    assert_eq!(ids(&tail), newest_first[126..]);
    let past_the_end = f
        .store
        .list_executions(&wf, &q(None, 10, Some(newest_first[129])))
        .await
        .unwrap();
    assert!(past_the_end.is_empty());

    let failed_newest_first = [all[2].id, all[1].id, all[0].id];
    let failed = f
        .store
        .list_executions(&wf, &q(Some(ExecutionStatus::Failed), 2, None))
        .await
        .unwrap();
    assert_eq!(ids(&failed), failed_newest_first[..2]);
    let failed_rest = f
        .store
        .list_executions(
            &wf,
            &q(Some(ExecutionStatus::Failed), 2, Some(failed[1].id)),
        )
        .await
        .unwrap();
    assert_eq!(ids(&failed_rest), failed_newest_first[2..]);
    let none_running = f
        .store
        .list_executions(&wf, &q(Some(ExecutionStatus::Running), 5, None))
        .await
        .unwrap();
    assert!(none_running.is_empty());
}

#[tokio::test]
async fn subscriptions_are_upserted_and_listed_per_workflow() {
    let f = fixture().await;
    let wf = workflow_id();
    let topic = "arn:aws:sns:us-east-1:123456789012:orders";
    let mut sub = SnsSubscription {
        workflow_id: wf.clone(),
        topic_arn: topic.into(),
        subscription_arn: Some(format!("{topic}:abc")),
        state: SubscriptionState::Confirmed,
        updated_at: Utc::now(),
    };
    f.store.put_subscription(&sub).await.unwrap();
    sub.state = SubscriptionState::Unsubscribed;
    f.store.put_subscription(&sub).await.unwrap();
    assert_eq!(f.store.list_subscriptions(&wf).await.unwrap(), vec![sub]);
    assert!(
        f.store
            .list_subscriptions(&workflow_id())
            .await
            .unwrap()
            .is_empty()
    );
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
