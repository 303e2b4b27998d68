//! Samples of refused requests: one row per (workflow, minute, reason), the first taken wins
//! (`INSERT OR IGNORE`), so several processes sampling the same minute store one.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{SqliteStore, unavailable};
use crate::adapters::record::{from_json, to_json};
use crate::domain::{REFUSAL_SAMPLE_RETENTION_HOURS, RefusalSample, WorkflowId};
use crate::ports::{RefusalSampleStore, StoreError};

#[async_trait]
impl RefusalSampleStore for SqliteStore {
    async fn put_refusal_sample(&self, sample: &RefusalSample) -> Result<bool, StoreError> {
        let record = to_json(sample)?;
        let (workflow_id, minute, reason, at) = (
            sample.workflow_id.to_string(),
            sample.minute().timestamp(),
            sample.reason.as_str(),
            sample.at.timestamp_millis(),
        );
        self.write_background(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO refusal_samples (workflow_id, minute, reason, at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(rusqlite::params![workflow_id, minute, reason, at, record]))
            .map(|inserted| inserted == 1)
            .map_err(unavailable)
        })
        .await
    }

    async fn refusal_samples_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RefusalSample>, StoreError> {
        let (workflow_id, since) = (workflow_id.to_string(), since.timestamp_millis());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT record FROM refusal_samples WHERE workflow_id = ?1 AND at >= ?2
                     ORDER BY at DESC LIMIT ?3",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(rusqlite::params![workflow_id, since, limit], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for raw in rows {
                out.push(from_json(&raw.map_err(unavailable)?)?);
            }
            Ok(out)
        })
        .await
    }
}

impl SqliteStore {
    /// Deletes samples past their retention (DynamoDB's TTL does it on AWS).
    pub(super) fn purge_refusal_samples(
        c: &rusqlite::Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let cutoff = now - Duration::hours(REFUSAL_SAMPLE_RETENTION_HOURS);
        c.execute(
            "DELETE FROM refusal_samples WHERE at < ?1",
            [cutoff.timestamp_millis()],
        )
        .map_err(unavailable)
    }
}
