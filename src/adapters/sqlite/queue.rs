//! A durable queue in the same SQLite file, with SQS's semantics: a received message is
//! hidden for a visibility timeout and comes back unless deleted; after too many receives it
//! moves to a dead-letter table.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;

use super::{SqliteStore, now_millis, unavailable};
use crate::ports::{QueueError, StoreError, WorkItem, WorkQueue};

#[derive(Clone)]
pub struct SqliteQueue {
    db: SqliteStore,
}

/// A received message: its id deletes it, its body says what to run.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub id: i64,
    pub body: String,
    pub receive_count: u32,
}

impl SqliteQueue {
    pub(super) fn new(db: SqliteStore) -> Self {
        Self { db }
    }

    pub fn ready(&self) -> Arc<Notify> {
        self.db.ready.clone()
    }

    /// Takes up to `max` visible messages and hides them for `visibility`. Messages received
    /// more than `max_receives` times go to the dead-letter table instead.
    pub async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<Vec<ReceivedMessage>, StoreError> {
        let hide_ms = visibility.as_millis() as i64;
        // In the writer's group: the receive is one unit (a job that fails is undone whole,
        // `group_commit::commit_batch`), and it shares the group's fsync with the accepts and
        // the worker's other writes.
        self.db
            .write_background(move |tx| {
                let now = now_millis();
                // The oldest visible messages, straight from the visibility index: a backlog
                // of any length costs the same per receive (no scan, no sort of the queue).
                let candidates: Vec<ReceivedMessage> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, body, receive_count FROM queue WHERE visible_at <= ?1
                             ORDER BY visible_at, id LIMIT ?2",
                        )
                        .map_err(unavailable)?;
                    let rows = stmt
                        .query_map(params![now, max as i64], |r| {
                            Ok(ReceivedMessage { id: r.get(0)?, body: r.get(1)?, receive_count: r.get(2)? })
                        })
                        .map_err(unavailable)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)?
                };
                let mut deliveries = Vec::with_capacity(candidates.len());
                for mut m in candidates {
                    if m.receive_count >= max_receives {
                        tx.prepare_cached(
                            "INSERT INTO dead_letters (id, body, receive_count, dead_at) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .and_then(|mut s| s.execute(params![m.id, m.body, m.receive_count, now]))
                        .map_err(unavailable)?;
                        tx.prepare_cached("DELETE FROM queue WHERE id = ?1")
                            .and_then(|mut s| s.execute([m.id]))
                            .map_err(unavailable)?;
                        continue;
                    }
                    tx.prepare_cached(
                        "UPDATE queue SET visible_at = ?2 + ?3, receive_count = receive_count + 1 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![m.id, now, hide_ms]))
                    .map_err(unavailable)?;
                    m.receive_count += 1;
                    deliveries.push(m);
                }
                Ok(deliveries)
            })
            .await
    }

    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        self.db
            .write_background(move |c| {
                c.prepare_cached("DELETE FROM queue WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map(|_| ())
                    .map_err(unavailable)
            })
            .await
    }

    /// Hides a received message for `delay` from now (SQS's ChangeMessageVisibility).
    pub async fn postpone(&self, id: i64, delay: Duration) -> Result<(), StoreError> {
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.db
            .write_background(move |c| {
                c.prepare_cached("UPDATE queue SET visible_at = ?2 + ?3 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, now_millis(), delay_ms]))
                    .map(|_| ())
                    .map_err(unavailable)
            })
            .await
    }

    /// Keeps a received message for an execution that now waits: hidden until `delay` from
    /// now, with its receive count back at zero, since a wait is not a failed delivery and
    /// must never bring the message nearer the dead-letter table.
    pub async fn defer(&self, id: i64, delay: Duration) -> Result<(), StoreError> {
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.db
            .write_background(move |c| {
                c.prepare_cached(
                    "UPDATE queue SET visible_at = ?2 + ?3, receive_count = 0 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, now_millis(), delay_ms]))
                .map(|_| ())
                .map_err(unavailable)
            })
            .await
    }

    pub async fn dead_letter_count(&self) -> Result<u64, StoreError> {
        self.count("dead_letters").await
    }

    pub async fn depth(&self) -> Result<u64, StoreError> {
        self.count("queue").await
    }

    async fn count(&self, table: &'static str) -> Result<u64, StoreError> {
        self.db
            .with_conn(move |c| {
                c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .map_err(unavailable)
            })
            .await
    }

    /// Puts a raw body on the queue; for tests and tools that need a malformed message.
    pub async fn enqueue_raw(&self, body: String) -> Result<(), StoreError> {
        self.db.write(move |c| insert_message(c, &body)).await?;
        self.db.ready.notify_one();
        Ok(())
    }
}

#[async_trait]
impl WorkQueue for SqliteQueue {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError> {
        self.enqueue_raw(item.to_json())
            .await
            .map_err(|e| QueueError::Unavailable(e.to_string()))
    }
}

/// One queue row, visible now. Shared by the queue and the store's outbox, which calls it
/// inside the transaction that writes the execution.
pub(super) fn insert_message(c: &rusqlite::Connection, body: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO queue (body, visible_at) VALUES (?1, ?2)",
        params![body, now_millis()],
    )
    .map(|_| ())
    .map_err(unavailable)
}
