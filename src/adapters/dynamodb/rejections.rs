//! Refused requests per workflow and hour: one item per (workflow, hour) in the workflow's
//! partition (`REJECTED#{hour}`), one number attribute per reason, added to with `ADD` so
//! writes from any number of functions all count without a read. TTL removes an item
//! [`REJECTION_RETENTION_HOURS`] after its hour; the console reads a day with one Query.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::item::{corrupt, n, number_attr, s, workflow_pk};
use super::schema::{PARTITION_KEY as PK, SORT_KEY as SK, TTL_ATTRIBUTE};
use super::{DynamoStore, Item, unavailable};
use crate::domain::{REJECTION_RETENTION_HOURS, RejectionCounts, RejectionReason, WorkflowId};
use crate::ports::{RejectionStore, StoreError};

pub(super) const REJECTED_PREFIX: &str = "REJECTED#";
/// The hour an item counts, epoch seconds (its sort key says the same, for people).
const HOUR: &str = "hour";

/// `REJECTED#2026-11-25T14:00:00Z`: fixed width, so sort order is time order.
fn rejected_sk(hour: DateTime<Utc>) -> String {
    format!(
        "{REJECTED_PREFIX}{}",
        hour.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// The `ADD` expression and its values for the reasons that have something to add; `None`
/// when nothing does (no write is needed).
fn add_expression(counts: &RejectionCounts) -> Option<(String, Vec<(String, u64)>)> {
    let adds: Vec<(String, u64)> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| (reason.as_str().to_owned(), n))
        .collect();
    if adds.is_empty() {
        return None;
    }
    let terms: Vec<String> = adds
        .iter()
        .map(|(name, _)| format!("#{name} :{name}"))
        .collect();
    Some((
        format!("SET #hour = :hour, #exp = :exp ADD {}", terms.join(", ")),
        adds,
    ))
}

fn counts_of(item: &Item) -> Result<(DateTime<Utc>, RejectionCounts), StoreError> {
    let hour = number_attr(item, HOUR)?;
    let hour = DateTime::from_timestamp(hour, 0)
        .ok_or_else(|| corrupt(item, format!("hour {hour} is out of range")))?;
    let mut counts = RejectionCounts::default();
    for reason in RejectionReason::ALL {
        if item.contains_key(reason.as_str()) {
            let n = number_attr(item, reason.as_str())?;
            counts.add(reason, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok((hour, counts))
}

#[async_trait]
impl RejectionStore for DynamoStore {
    async fn add_rejections(
        &self,
        workflow_id: &WorkflowId,
        hour: DateTime<Utc>,
        counts: &RejectionCounts,
    ) -> Result<(), StoreError> {
        let Some((expression, adds)) = add_expression(counts) else {
            return Ok(());
        };
        let expires = hour + Duration::hours(REJECTION_RETENTION_HOURS);
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(workflow_pk(workflow_id)))
            .key(SK, s(rejected_sk(hour)))
            .update_expression(expression)
            .expression_attribute_names("#hour", HOUR)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":hour", n(hour.timestamp()))
            .expression_attribute_values(":exp", n(expires.timestamp()));
        // Placeholders for every name: `size` is one of DynamoDB's reserved words.
        for (name, value) in adds {
            request = request
                .expression_attribute_names(format!("#{name}"), name.clone())
                .expression_attribute_values(format!(":{name}"), n(value));
        }
        request
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem (rejection counts)", e))?;
        Ok(())
    }

    async fn rejections_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, RejectionCounts)>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .query_from(
                    workflow_pk(workflow_id),
                    rejected_sk(since),
                    REJECTED_PREFIX,
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query (rejection counts)", e))?;
            for item in page.items() {
                out.push(counts_of(item)?);
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_sort_by_hour() {
        let h = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let a = rejected_sk(h("2026-11-25T09:00:00Z"));
        let b = rejected_sk(h("2026-11-25T10:00:00Z"));
        assert_eq!(a, "REJECTED#2026-11-25T09:00:00Z");
        assert!(a < b && b < format!("{REJECTED_PREFIX}~"));
    }

    #[test]
    fn only_reasons_with_a_count_are_added() {
        let mut counts = RejectionCounts::default();
        assert!(add_expression(&counts).is_none(), "nothing to write");
        counts.add(RejectionReason::Size, 2);
        counts.add(RejectionReason::Duplicate, 1);
        let (expression, adds) = add_expression(&counts).unwrap();
        assert_eq!(
            expression,
            "SET #hour = :hour, #exp = :exp ADD #size :size, #duplicate :duplicate"
        );
        assert_eq!(adds, vec![("size".into(), 2), ("duplicate".into(), 1)]);
    }
}
