use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serde::de::DeserializeOwned;

use super::group_commit::{Item, write_one};
use super::{SqliteStore, unavailable};
use crate::adapters::record::{ByKind, Record, RecordStore, from_json, to_json};
use crate::domain::{Execution, ExecutionId, SnsSubscription, WorkflowId};
use crate::ports::{
    ExecutionQuery, ExecutionStore, Outbox, Recorded, StoreError, SubscriptionStore,
};

/// A key conflict (the row exists), as opposed to any other constraint failure (a trigger, a
/// check), which is the store refusing the write and must not read as "already exists".
pub(super) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Where a keyed record lives: keys and workflows are each one record under a unique key in
/// their own table, so one set of statements serves both.
struct RecordTable {
    table: &'static str,
    key: &'static str,
}

static TABLES: ByKind<RecordTable> = ByKind {
    api_key: RecordTable {
        table: "api_keys",
        key: "name",
    },
    workflow: RecordTable {
        table: "workflows",
        key: "id",
    },
    workflow_secrets: RecordTable {
        table: "workflow_secrets",
        key: "workflow_id",
    },
    key_usage: RecordTable {
        table: "api_key_usage",
        key: "name",
    },
    admin_key: RecordTable {
        table: "admin_keys",
        key: "name",
    },
};

#[async_trait]
impl RecordStore for SqliteStore {
    async fn insert_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        let t = TABLES.of(R::KIND);
        let key = value.key().to_string();
        let record = to_json(value)?;
        // Every write goes through the writer: a write on the read connection would wait for
        // SQLite's write lock while holding that connection, and hold up every read behind
        // it for as long as the writer stays busy (seconds under a flood of webhooks).
        self.write(move |c| {
            let sql = format!(
                "INSERT INTO {} ({}, record) VALUES (?1, ?2)",
                t.table, t.key
            );
            c.prepare_cached(&sql)
                .and_then(|mut s| s.execute(params![key, record]))
                .map(|_| ())
                .map_err(|e| {
                    if is_constraint(&e) {
                        R::KIND.already_exists(&key)
                    } else {
                        unavailable(e)
                    }
                })
        })
        .await
    }

    async fn get_record<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError> {
        let t = TABLES.of(R::KIND);
        let key = key.to_string();
        self.with_conn(move |c| {
            select_one(
                c,
                &format!("SELECT record FROM {} WHERE {} = ?1", t.table, t.key),
                [key],
            )
        })
        .await
    }

    async fn list_records<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        let t = TABLES.of(R::KIND);
        self.with_conn(move |c| {
            select_records(
                c,
                &format!("SELECT record FROM {} ORDER BY {}", t.table, t.key),
                [],
            )
        })
        .await
    }

    async fn update_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        let t = TABLES.of(R::KIND);
        let key = value.key().to_string();
        let record = to_json(value)?;
        self.write(move |c| {
            let sql = format!("UPDATE {} SET record = ?2 WHERE {} = ?1", t.table, t.key);
            let updated = c
                .prepare_cached(&sql)
                .and_then(|mut s| s.execute(params![key, record]))
                .map_err(unavailable)?;
            match updated {
                0 => Err(R::KIND.not_found(&key)),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn insert_execution(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        self.insert(execution, dedup_key, false).await
    }

    async fn get_execution(
        &self,
        workflow_id: &WorkflowId,
        id: &ExecutionId,
    ) -> Result<Option<Execution>, StoreError> {
        let (workflow_id, id) = (workflow_id.to_string(), id.to_string());
        self.with_conn(move |c| {
            select_one(
                c,
                "SELECT record FROM executions WHERE workflow_id = ?1 AND id = ?2",
                params![workflow_id, id],
            )
        })
        .await
    }

    async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        query: &ExecutionQuery,
    ) -> Result<Vec<Execution>, StoreError> {
        let workflow_id = workflow_id.to_string();
        let status = query.status.map(|s| s.as_str().to_owned());
        // "~" sorts after every ULID character, so it stands for "no upper bound".
        let before = query
            .before
            .map(|id| id.to_string())
            .unwrap_or_else(|| "~".into());
        let limit = query.limit as i64;
        self.with_conn(move |c| {
            select_records(
                c,
                "SELECT record FROM executions
                 WHERE workflow_id = ?1 AND id < ?2 AND (?3 IS NULL OR status = ?3)
                 ORDER BY id DESC LIMIT ?4",
                params![workflow_id, before, status, limit],
            )
        })
        .await
    }

    async fn replace_execution(
        &self,
        current: &Execution,
        next: &Execution,
    ) -> Result<bool, StoreError> {
        let record = to_json(next)?;
        let (workflow_id, id) = (current.workflow_id.to_string(), current.id.to_string());
        let (old_status, old_attempts) = (current.status.as_str(), current.attempts);
        let (new_status, new_attempts) = (next.status.as_str(), next.attempts);
        self.write_background(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE executions SET status = ?5, attempts = ?6, record = ?7
                     WHERE workflow_id = ?1 AND id = ?2 AND status = ?3 AND attempts = ?4",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        workflow_id,
                        id,
                        old_status,
                        old_attempts,
                        new_status,
                        new_attempts,
                        record
                    ])
                })
                .map_err(unavailable)?;
            Ok(n == 1)
        })
        .await
    }

    fn outbox(&self) -> Option<&dyn Outbox> {
        Some(self)
    }
}

/// The queue is a table in the same file, so the execution, its dedup record and its queue
/// row commit together: a crash (even `kill -9`) leaves all three or none.
#[async_trait]
impl Outbox for SqliteStore {
    async fn insert_and_enqueue(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        // The writer wakes the worker once per committed batch that queued something.
        self.insert(execution, dedup_key, true).await
    }
}

impl SqliteStore {
    /// Writes the execution and its dedup record (and its queue row when `enqueue` is set)
    /// as one unit, committed with whatever other writes are waiting (`group_commit`), and
    /// answers once that commit is on disk.
    async fn insert(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
        enqueue: bool,
    ) -> Result<Recorded, StoreError> {
        let item = Item {
            record: to_json(execution)?,
            execution: execution.clone(),
            dedup_key: dedup_key.map(str::to_owned),
            enqueue,
        };
        let recorded = self.write(move |c| write_one(c, &item)).await?;
        if enqueue && recorded == Recorded::Created {
            self.ready.notify_one();
        }
        Ok(recorded)
    }
}

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn put_subscription(&self, subscription: &SnsSubscription) -> Result<(), StoreError> {
        let record = to_json(subscription)?;
        let (workflow_id, topic) = (
            subscription.workflow_id.to_string(),
            subscription.topic_arn.clone(),
        );
        self.write(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO sns_subscriptions (workflow_id, topic_arn, record) VALUES (?1, ?2, ?3)",
                params![workflow_id, topic, record],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn list_subscriptions(
        &self,
        workflow_id: &WorkflowId,
    ) -> Result<Vec<SnsSubscription>, StoreError> {
        let workflow_id = workflow_id.to_string();
        self.with_conn(move |c| {
            select_records(
                c,
                "SELECT record FROM sns_subscriptions WHERE workflow_id = ?1 ORDER BY topic_arn",
                [workflow_id],
            )
        })
        .await
    }
}

impl SqliteStore {
    /// Deletes executions, dedup records, `for_each` item records, hourly rejection
    /// counts and refusal samples past their retention; what DynamoDB's TTL does on AWS. Returns how many
    /// executions went.
    /// How many executions wait (the `workflow_executions_waiting` gauge), from the partial
    /// index of waiting rows.
    pub async fn waiting_count(&self) -> Result<u64, StoreError> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM executions WHERE status = 'waiting'",
                [],
                |r| r.get(0),
            )
            .map_err(unavailable)
        })
        .await
    }

    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        // One job of the writer, so the deletes are one unit (a job that fails is undone
        // whole, `group_commit::commit_batch`).
        self.write_background(|c| {
            let at = chrono::Utc::now();
            let now = at.timestamp();
            let n = c
                .execute("DELETE FROM executions WHERE expires_at <= ?1", [now])
                .map_err(unavailable)?;
            c.execute("DELETE FROM dedup WHERE expires_at <= ?1", [now])
                .map_err(unavailable)?;
            c.execute("DELETE FROM items WHERE expires_at <= ?1", [now])
                .map_err(unavailable)?;
            c.execute("DELETE FROM callbacks WHERE retain_until <= ?1", [now])
                .map_err(unavailable)?;
            Self::purge_rejections(c, at)?;
            Self::purge_refusal_samples(c, at)?;
            Ok(n)
        })
        .await
    }
}

pub(super) fn select_one<T: DeserializeOwned, P: rusqlite::Params>(
    c: &rusqlite::Connection,
    sql: &str,
    params: P,
) -> Result<Option<T>, StoreError> {
    let raw: Option<String> = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row(params, |r| r.get(0)).optional())
        .map_err(unavailable)?;
    raw.as_deref().map(from_json).transpose()
}

pub(super) fn select_records<T: DeserializeOwned, P: rusqlite::Params>(
    c: &rusqlite::Connection,
    sql: &str,
    params: P,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(unavailable)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(unavailable)?;
    let mut out = Vec::new();
    for raw in rows {
        out.push(from_json(&raw.map_err(unavailable)?)?);
    }
    Ok(out)
}
