//! Items as the table holds them: attribute names, key builders, and records encoded into and
//! decoded from items (large execution records gzip-compressed). No requests are made here.

use std::io::{Read, Write};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::de::DeserializeOwned;

use super::Item;
use super::schema::{
    PARTITION_KEY as PK, SORT_KEY as SK, TTL_ATTRIBUTE, UNDELIVERED_SHARD, UNDELIVERED_SHARDS,
    UNDELIVERED_SINCE,
};
use crate::adapters::record::to_json;
use crate::domain::{Execution, ExecutionId, ExecutionStatus, ItemRecord, WorkflowId};
use crate::ports::StoreError;

pub(super) const RECORD: &str = "record";
pub(super) const RECORD_GZ: &str = "record_gz";
pub(super) const STATUS: &str = "status";
pub(super) const ATTEMPTS: &str = "attempts";
pub(super) const EXECUTION_ID: &str = "execution_id";

pub(super) const WORKFLOW_PREFIX: &str = "WORKFLOW#";
pub(super) const EXEC_PREFIX: &str = "EXEC#";
pub(super) const DEDUP_PREFIX: &str = "DEDUP#";
pub(super) const SUBSCRIPTION_PREFIX: &str = "SNSSUB#";
pub(super) const ITEM_PREFIX: &str = "ITEM#";

/// A record (an execution's, or a `for_each` item's) larger than this is stored
/// gzip-compressed (`record_gz`, binary): DynamoDB bills reads and writes by the KB and holds
/// at most 400 KB per item, and a payload near the 256 KiB body limit appears twice once an
/// echo step copies it into the result. Smaller records stay plain JSON, readable in the
/// console.
const COMPRESS_ABOVE: usize = 64 * 1024;
/// What is left of DynamoDB's 400 KB item limit for the record, after keys and attributes.
const MAX_STORED_RECORD: usize = 390 * 1024;
/// Refuses to inflate more than this from one item (the data is ours; this is a fuse).
const MAX_INFLATED: u64 = 32 * 1024 * 1024;

pub(super) fn workflow_pk(id: &WorkflowId) -> String {
    format!("{WORKFLOW_PREFIX}{id}")
}

pub(super) fn exec_sk(id: &ExecutionId) -> String {
    format!("{EXEC_PREFIX}{id}")
}

pub(super) fn dedup_sk(dedup_key: &str) -> String {
    format!("{DEDUP_PREFIX}{dedup_key}")
}

/// `ITEM#{execution}#{step}#`: what every item record of one `for_each` step of one
/// execution starts with. Neither part can contain `#` (ULIDs; step ids are letters, digits,
/// `_` and `-`), so no other step's items share the prefix.
pub(super) fn item_prefix(execution_id: &ExecutionId, step_id: &str) -> String {
    format!("{ITEM_PREFIX}{execution_id}#{step_id}#")
}

/// The index zero-padded to ten digits, every `u32`'s width, so that sort-key order is
/// index order for any index (five digits would put 100000 before 99999).
pub(super) fn item_sk(execution_id: &ExecutionId, step_id: &str, index: u32) -> String {
    format!("{}{index:010}", item_prefix(execution_id, step_id))
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// An item that holds a record as plain JSON and nothing else beside its key.
pub(super) fn record_item(pk: impl Into<String>, sk: impl Into<String>, json: String) -> Item {
    let mut item = key(pk, sk);
    item.insert(RECORD.into(), s(json));
    item
}

fn optional_string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The sort key of an item, if it has a readable one.
pub(super) fn sort_key(item: &Item) -> Option<&str> {
    optional_string(item, SK)
}

/// How errors name an item: its key, never its contents.
pub(super) fn item_label(item: &Item) -> String {
    let part = |name: &str| optional_string(item, name).unwrap_or("?");
    format!("{}/{}", part(PK), part(SK))
}

pub(super) fn corrupt(item: &Item, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("item {}: {e}", item_label(item)))
}

pub(super) fn string_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    optional_string(item, name).ok_or_else(|| corrupt(item, format!("no string attribute {name}")))
}

pub(super) fn number_attr(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|raw| raw.parse::<i64>().ok())
        .ok_or_else(|| corrupt(item, format!("no whole-number attribute {name}")))
}

/// The record an item holds, plain or compressed.
pub(super) fn record<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    match (item.get(RECORD), item.get(RECORD_GZ)) {
        (Some(AttributeValue::S(json)), _) => {
            serde_json::from_str(json).map_err(|e| corrupt(item, e))
        }
        (None, Some(AttributeValue::B(gz))) => {
            let mut json = Vec::new();
            GzDecoder::new(gz.as_ref())
                .take(MAX_INFLATED)
                .read_to_end(&mut json)
                .map_err(|e| corrupt(item, e))?;
            serde_json::from_slice(&json).map_err(|e| corrupt(item, e))
        }
        _ => Err(corrupt(
            item,
            format!("no {RECORD} (string) or {RECORD_GZ} (binary) attribute"),
        )),
    }
}

pub(super) fn records<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
    items.iter().map(record).collect()
}

/// A record attribute: plain JSON, or gzip when large (see `COMPRESS_ABOVE`). A record
/// that does not fit even compressed is refused here, with its size, rather than by
/// DynamoDB with a bare "Item size has exceeded the maximum allowed size". `what` names the
/// record in errors; it is only called on one.
fn stored_record(
    json: String,
    what: impl Fn() -> String,
) -> Result<(&'static str, AttributeValue), StoreError> {
    if json.len() <= COMPRESS_ABOVE {
        return Ok((RECORD, s(json)));
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    let gz = encoder
        .write_all(json.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Unavailable(format!("cannot compress {}: {e}", what())))?;
    if gz.len() > MAX_STORED_RECORD {
        return Err(StoreError::TooLarge(format!(
            "{} is {} bytes as JSON and {} bytes compressed, more than a DynamoDB item holds \
             (400 KB)",
            what(),
            json.len(),
            gz.len()
        )));
    }
    Ok((RECORD_GZ, AttributeValue::B(Blob::new(gz))))
}

/// The execution item, with beside its record the attributes conditions and filters need.
pub(super) fn execution_item(execution: &Execution) -> Result<Item, StoreError> {
    let mut item = key(workflow_pk(&execution.workflow_id), exec_sk(&execution.id));
    item.insert(STATUS.into(), s(execution.status.as_str()));
    item.insert(ATTEMPTS.into(), n(execution.attempts));
    item.insert(TTL_ATTRIBUTE.into(), n(execution.expires_at.timestamp()));
    let (name, value) = stored_record(to_json(execution)?, || {
        format!("execution {}", execution.id)
    })?;
    item.insert(name.into(), value);
    // Only an execution no worker has taken can be missing its queue message; every other
    // item stays out of the sparse index.
    if execution.awaiting_first_delivery() {
        item.insert(
            UNDELIVERED_SHARD.into(),
            s(undelivered_shard(&execution.id)),
        );
        item.insert(
            UNDELIVERED_SINCE.into(),
            n(execution.received_at.timestamp_millis()),
        );
    }
    // A waiting execution is in the same index under its own shards, by wake-up time: the
    // sweeper wakes whatever is due, however long it waited, with no schedule to clean up.
    if execution.status == ExecutionStatus::Waiting
        && let Some(waiting) = &execution.waiting
    {
        item.insert(UNDELIVERED_SHARD.into(), s(waiting_shard(&execution.id)));
        item.insert(
            UNDELIVERED_SINCE.into(),
            n(waiting.wake_at.timestamp_millis()),
        );
    }
    Ok(item)
}

/// The index shard of an execution, from the random part of its id, so shards fill evenly.
pub(super) fn undelivered_shard(id: &ExecutionId) -> String {
    format!("U#{}", spread(id))
}

/// The index shard of a waiting execution.
pub(super) fn waiting_shard(id: &ExecutionId) -> String {
    format!("W#{}", spread(id))
}

fn spread(id: &ExecutionId) -> u32 {
    let spread = id.to_string().bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    spread % UNDELIVERED_SHARDS
}

/// A `for_each` item's record in its execution's workflow partition, kept as long as the
/// execution (the same TTL attribute and value), compressed when large as executions are.
pub(super) fn for_each_item(
    execution: &Execution,
    record: &ItemRecord,
) -> Result<Item, StoreError> {
    let mut item = key(
        workflow_pk(&execution.workflow_id),
        item_sk(&execution.id, &record.step_id, record.index),
    );
    item.insert(TTL_ATTRIBUTE.into(), n(execution.expires_at.timestamp()));
    let (name, value) = stored_record(to_json(record)?, || {
        format!(
            "item {} of step {} of execution {}",
            record.index, record.step_id, execution.id
        )
    })?;
    item.insert(name.into(), value);
    Ok(item)
}

/// The dedup record: which execution holds the key, until when.
pub(super) fn dedup_item(execution: &Execution, dedup_key: &str) -> Item {
    let mut item = key(workflow_pk(&execution.workflow_id), dedup_sk(dedup_key));
    item.insert(EXECUTION_ID.into(), s(execution.id.to_string()));
    item.insert(TTL_ATTRIBUTE.into(), n(execution.expires_at.timestamp()));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TriggerMeta;

    fn queued() -> Execution {
        Execution::new(
            WorkflowId::generate(),
            TriggerMeta::ReplayOf {
                original: ExecutionId::generate(),
            },
            serde_json::Value::Null,
            chrono::Utc::now(),
            chrono::Duration::days(1),
        )
    }

    #[test]
    fn only_executions_awaiting_their_first_worker_are_in_the_undelivered_index() {
        let waiting = queued();
        let item = execution_item(&waiting).expect("item");
        assert!(item.contains_key(UNDELIVERED_SHARD));
        assert_eq!(
            number_attr(&item, UNDELIVERED_SINCE).expect("since"),
            waiting.received_at.timestamp_millis()
        );
        let running = waiting
            .claim(chrono::Utc::now(), chrono::Duration::seconds(60))
            .expect("claim");
        let item = execution_item(&running).expect("item");
        assert!(!item.contains_key(UNDELIVERED_SHARD));
        assert!(!item.contains_key(UNDELIVERED_SINCE));
    }

    #[test]
    fn undelivered_shards_are_all_used() {
        let shards: std::collections::BTreeSet<String> = (0..200)
            .map(|_| undelivered_shard(&ExecutionId::generate()))
            .collect();
        assert_eq!(shards.len(), UNDELIVERED_SHARDS as usize, "{shards:?}");
    }

    #[test]
    fn execution_sort_keys_sort_by_time_and_after_dedup_records() {
        let older = ExecutionId::from_ulid(ulid::Ulid::from_parts(1, 9));
        let newer = ExecutionId::from_ulid(ulid::Ulid::from_parts(2, 0));
        assert!(exec_sk(&older) < exec_sk(&newer));
        // BETWEEN "EXEC#" AND cursor never reaches dedup records.
        assert!(dedup_sk("zzz").as_str() < EXEC_PREFIX);
        assert!(EXEC_PREFIX < exec_sk(&older).as_str());
    }

    fn item_record(step_id: &str, index: u32, output: serde_json::Value) -> ItemRecord {
        ItemRecord {
            step_id: step_id.into(),
            index,
            status: crate::domain::ItemStatus::Succeeded,
            steps: Vec::new(),
            output: Some(output),
            error: None,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn item_sort_keys_sort_by_index_and_outside_every_execution_listing() {
        let id = ExecutionId::generate();
        let keys: Vec<String> = [0, 9, 10, 99_999, 100_000, u32::MAX]
            .into_iter()
            .map(|i| item_sk(&id, "fetch", i))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let prefix = item_prefix(&id, "fetch");
        let end = format!("{prefix}~");
        for k in &keys {
            assert!(
                k.starts_with(&prefix) && k < &end,
                "{k} is in its step's range"
            );
            // list_executions reads begins_with("EXEC#"), or BETWEEN "EXEC#" AND a cursor.
            assert!(!k.starts_with(EXEC_PREFIX));
            let last = exec_sk(&ExecutionId::from_ulid(ulid::Ulid(u128::MAX)));
            assert!(k > &last, "{k} sorts after every execution");
        }
        // A step whose id starts like another's has its own range.
        let longer = item_sk(&id, "fetch-2", 0);
        assert!(!(prefix.as_str()..end.as_str()).contains(&longer.as_str()));
    }

    #[test]
    fn for_each_items_live_as_long_as_their_execution_and_read_back() {
        let execution = queued();
        let stored = item_record("fetch", 7, serde_json::json!({"ok": true}));
        let item = for_each_item(&execution, &stored).unwrap();
        assert_eq!(
            sort_key(&item),
            Some(item_sk(&execution.id, "fetch", 7).as_str())
        );
        assert_eq!(
            number_attr(&item, TTL_ATTRIBUTE).unwrap(),
            execution.expires_at.timestamp()
        );
        assert_eq!(record::<ItemRecord>(&item).unwrap(), stored);
    }

    #[test]
    fn an_item_record_too_large_even_compressed_is_refused_with_its_name() {
        let mut bytes = vec![0u8; 1_000_000];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let stored = item_record("fetch", 3, serde_json::json!(hex::encode(bytes)));
        match for_each_item(&queued(), &stored) {
            Err(StoreError::TooLarge(msg)) => {
                assert!(
                    msg.contains("item 3 of step fetch") && msg.contains("400 KB"),
                    "{msg}"
                )
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn unreadable_items_are_reported_as_corrupt_with_their_key() {
        let item = record_item("WORKFLOW#wf", "EXEC#x", "{not json".into());
        match record::<Execution>(&item) {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("WORKFLOW#wf/EXEC#x"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            number_attr(&item, TTL_ATTRIBUTE),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn large_execution_records_are_compressed_and_read_back() {
        let mut execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::ReplayOf {
                original: ExecutionId::generate(),
            },
            serde_json::json!({ "text": "webhook ".repeat(40_000) }),
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        execution.result = Some(execution.payload.clone());
        let item = execution_item(&execution).unwrap();
        assert!(!item.contains_key(RECORD));
        let stored = item[RECORD_GZ].as_b().unwrap().as_ref().len();
        assert!(stored < 100 * 1024, "{stored} bytes");
        assert_eq!(record::<Execution>(&item).unwrap(), execution);

        execution.payload = serde_json::json!({"small": true});
        execution.result = None;
        let item = execution_item(&execution).unwrap();
        assert!(item[RECORD].as_s().unwrap().contains("small"));
        assert_eq!(record::<Execution>(&item).unwrap(), execution);
    }

    #[test]
    fn a_record_too_large_even_compressed_is_refused_with_its_size() {
        // Random bytes as hex: compresses to about half, still far over 400 KB.
        let mut bytes = vec![0u8; 1_000_000];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let noise = hex::encode(bytes);
        let execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::ReplayOf {
                original: ExecutionId::generate(),
            },
            serde_json::json!({ "noise": noise }),
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        match execution_item(&execution) {
            Err(StoreError::TooLarge(msg)) => assert!(msg.contains("400 KB"), "{msg}"),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }
}
