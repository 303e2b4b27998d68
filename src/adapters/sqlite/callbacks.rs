//! Resume URLs' records: one row per token hash, the record whole as JSON beside the columns
//! the single-use update and the purge need.

use async_trait::async_trait;
use rusqlite::params;

use super::store::{is_constraint, select_one};
use super::{SqliteStore, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{Callback, Decision};
use crate::ports::{CallbackStore, StoreError};

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn insert_callback(&self, callback: &Callback) -> Result<(), StoreError> {
        let record = to_json(callback)?;
        let hash = callback.token_hash.clone();
        let retain_until = callback.retain_until.timestamp();
        self.write_background(move |c| {
            c.prepare_cached(
                "INSERT INTO callbacks (token_hash, decided, retain_until, record)
                 VALUES (?1, 0, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![hash, retain_until, record]))
            .map(|_| ())
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::AlreadyExists("callback".into())
                } else {
                    unavailable(e)
                }
            })
        })
        .await
    }

    async fn get_callback(&self, token_hash: &str) -> Result<Option<Callback>, StoreError> {
        let hash = token_hash.to_owned();
        self.with_conn(move |c| {
            select_one(
                c,
                "SELECT record FROM callbacks WHERE token_hash = ?1",
                [hash],
            )
        })
        .await
    }

    async fn decide_callback(
        &self,
        token_hash: &str,
        decision: &Decision,
    ) -> Result<bool, StoreError> {
        let Some(callback) = self
            .get_callback(token_hash)
            .await?
            .and_then(|c| c.decided(decision))
        else {
            return Ok(false);
        };
        let record = to_json(&callback)?;
        let hash = token_hash.to_owned();
        // The `decided = 0` condition is the single use: of two decisions racing, the
        // writer applies one and the other changes no row.
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE callbacks SET decided = 1, record = ?2 WHERE token_hash = ?1 AND decided = 0",
            )
            .and_then(|mut s| s.execute(params![hash, record]))
            .map(|n| n == 1)
            .map_err(unavailable)
        })
        .await
    }
}
