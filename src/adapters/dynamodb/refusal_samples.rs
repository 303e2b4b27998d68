//! Samples of refused requests: one item per (workflow, minute, reason) in the workflow's
//! partition (`REFUSED#{minute}#{reason}`), put only if absent so the first sample of a
//! minute wins whichever function took it. TTL removes an item
//! [`REFUSAL_SAMPLE_RETENTION_HOURS`] after it was taken; reads filter by time as well, since
//! TTL deletes late.
//!
//! [`REFUSAL_SAMPLE_RETENTION_HOURS`]: crate::domain::REFUSAL_SAMPLE_RETENTION_HOURS

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};

use super::item::{n, record, record_item, workflow_pk};
use super::schema::TTL_ATTRIBUTE;
use super::{DynamoStore, Item, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{RefusalSample, WorkflowId, minute_of};
use crate::ports::{RefusalSampleStore, StoreError};

pub(super) const REFUSED_PREFIX: &str = "REFUSED#";

/// `REFUSED#2026-11-25T14:05:00Z`: fixed width, so sort order is time order.
fn minute_prefix(minute: DateTime<Utc>) -> String {
    format!(
        "{REFUSED_PREFIX}{}",
        minute.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn sample_sk(sample: &RefusalSample) -> String {
    format!("{}#{}", minute_prefix(sample.minute()), sample.reason)
}

#[async_trait]
impl RefusalSampleStore for DynamoStore {
    async fn put_refusal_sample(&self, sample: &RefusalSample) -> Result<bool, StoreError> {
        let mut item = record_item(
            workflow_pk(&sample.workflow_id),
            sample_sk(sample),
            to_json(sample)?,
        );
        item.insert(TTL_ATTRIBUTE.into(), n(sample.expires_at().timestamp()));
        self.put_if_absent(item, "PutItem (refusal sample)").await
    }

    async fn refusal_samples_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RefusalSample>, StoreError> {
        let mut out: Vec<RefusalSample> = Vec::new();
        let mut start: Option<Item> = None;
        let page = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        loop {
            let answer = self
                .query_from(
                    workflow_pk(workflow_id),
                    minute_prefix(minute_of(since)),
                    REFUSED_PREFIX,
                )
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query (refusal samples)", e))?;
            for item in answer.items() {
                let sample: RefusalSample = record(item)?;
                if sample.at >= since {
                    out.push(sample);
                }
            }
            let more = matches!(&answer.last_evaluated_key, Some(next) if !next.is_empty());
            // A minute's samples (one per reason) sort by reason, not time: read past the limit
            // by the rest of a page, then order by time.
            if !more || out.len() > limit {
                out.sort_by_key(|s| std::cmp::Reverse(s.at));
                out.truncate(limit);
                return Ok(out);
            }
            start = answer.last_evaluated_key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_sort_by_minute() {
        let m = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let a = minute_prefix(m("2026-11-25T09:59:00Z"));
        let b = minute_prefix(m("2026-11-25T10:00:00Z"));
        assert_eq!(a, "REFUSED#2026-11-25T09:59:00Z");
        assert!(a < b && b < format!("{REFUSED_PREFIX}~"));
    }
}
