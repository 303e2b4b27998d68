//! Resume URLs' records: `CALLBACK#{token hash}` / `CALLBACK`, one GetItem away from the
//! request that carries the token, removed by TTL with their execution. `decided` beside the
//! record is what the single-use condition reads.

use async_trait::async_trait;

use super::item::{key, n, record, record_item, s};
use super::schema::{PARTITION_KEY as PK, TTL_ATTRIBUTE};
use super::{DynamoStore, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{Callback, Decision};
use crate::ports::{CallbackStore, StoreError};

const CALLBACK_PREFIX: &str = "CALLBACK#";
const CALLBACK_SK: &str = "CALLBACK";
const DECIDED: &str = "decided";

fn callback_pk(token_hash: &str) -> String {
    format!("{CALLBACK_PREFIX}{token_hash}")
}

#[async_trait]
impl CallbackStore for DynamoStore {
    async fn insert_callback(&self, callback: &Callback) -> Result<(), StoreError> {
        let mut item = record_item(
            callback_pk(&callback.token_hash),
            CALLBACK_SK,
            to_json(callback)?,
        );
        item.insert(DECIDED.into(), n(0));
        item.insert(TTL_ATTRIBUTE.into(), n(callback.retain_until.timestamp()));
        if self.put_if_absent(item, "PutItem (callback)").await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists("callback".into()))
        }
    }

    async fn get_callback(&self, token_hash: &str) -> Result<Option<Callback>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(callback_pk(token_hash), CALLBACK_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem (callback)", e))?;
        out.item().map(record).transpose()
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
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(callback_pk(token_hash), CALLBACK_SK)))
            .update_expression("SET #record = :record, #decided = :one")
            // The single use: of two decisions racing, one sees `decided` still 0.
            .condition_expression("attribute_exists(#pk) AND #decided = :zero")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#record", super::item::RECORD)
            .expression_attribute_names("#decided", DECIDED)
            .expression_attribute_values(":record", s(to_json(&callback)?))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable("UpdateItem (callback decision)", err)),
        }
    }
}
