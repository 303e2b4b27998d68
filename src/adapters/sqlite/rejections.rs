//! Refused requests per workflow and hour: one row per (workflow, hour), one column per
//! reason (named as the reason is), added to with an UPSERT so a flush is one statement.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;

use super::{SqliteStore, unavailable};
use crate::domain::{REJECTION_RETENTION_HOURS, RejectionCounts, RejectionReason, WorkflowId};
use crate::ports::{RejectionStore, StoreError};

fn columns() -> impl Iterator<Item = &'static str> {
    RejectionReason::ALL
        .into_iter()
        .map(RejectionReason::as_str)
}

/// `INSERT ... ON CONFLICT DO UPDATE SET auth = auth + excluded.auth, ...`: the first flush of
/// an hour creates the row, later ones (from any process) add to it.
fn upsert_sql() -> String {
    let names: Vec<&str> = columns().collect();
    let placeholders: Vec<String> = (0..names.len()).map(|i| format!("?{}", i + 3)).collect();
    let sums: Vec<String> = names
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO rejection_counts (workflow_id, hour, {}) VALUES (?1, ?2, {})
         ON CONFLICT (workflow_id, hour) DO UPDATE SET {}",
        names.join(", "),
        placeholders.join(", "),
        sums.join(", ")
    )
}

fn select_sql() -> String {
    format!(
        "SELECT hour, {} FROM rejection_counts WHERE workflow_id = ?1 AND hour >= ?2 ORDER BY hour",
        columns().collect::<Vec<_>>().join(", ")
    )
}

fn to_sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl RejectionStore for SqliteStore {
    async fn add_rejections(
        &self,
        workflow_id: &WorkflowId,
        hour: DateTime<Utc>,
        counts: &RejectionCounts,
    ) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut values = vec![
            Sql::Text(workflow_id.to_string()),
            Sql::Integer(hour.timestamp()),
        ];
        values.extend(counts.iter().map(|(_, n)| Sql::Integer(to_sql_count(n))));
        self.write_background(move |c| {
            c.execute(&upsert_sql(), params_from_iter(values.iter()))
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }

    async fn rejections_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, RejectionCounts)>, StoreError> {
        let (workflow_id, since) = (workflow_id.to_string(), since.timestamp());
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(&select_sql()).map_err(unavailable)?;
            let rows = stmt
                .query_map(rusqlite::params![workflow_id, since], |row| {
                    let hour: i64 = row.get(0)?;
                    let mut counts = RejectionCounts::default();
                    for (i, reason) in RejectionReason::ALL.into_iter().enumerate() {
                        let n: i64 = row.get(i + 1)?;
                        counts.add(reason, u64::try_from(n).unwrap_or(0));
                    }
                    Ok((hour, counts))
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let (hour, counts) = row.map_err(unavailable)?;
                let hour = DateTime::from_timestamp(hour, 0).ok_or_else(|| {
                    StoreError::Corrupt(format!("rejection count hour {hour} is out of range"))
                })?;
                out.push((hour, counts));
            }
            Ok(out)
        })
        .await
    }
}

impl SqliteStore {
    /// Deletes hourly rejection counts past their retention (DynamoDB's TTL does it on AWS).
    pub(super) fn purge_rejections(
        c: &rusqlite::Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let cutoff = now - Duration::hours(REJECTION_RETENTION_HOURS);
        c.execute(
            "DELETE FROM rejection_counts WHERE hour < ?1",
            [cutoff.timestamp()],
        )
        .map_err(unavailable)
    }
}
