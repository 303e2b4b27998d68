//! Group commit on the embedded store: concurrent accepts share one SQLite transaction (one
//! fsync), each is answered only after that commit, duplicates inside a batch are one
//! execution, and a commit that fails refuses every request of its batch and writes nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::task::JoinSet;
use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::domain::Step;

use crate::support::{self, Response, TestApp, assert_error};

fn count(path: &std::path::Path, table: &str) -> i64 {
    let c = rusqlite::Connection::open(path).expect("open");
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Sends every `(idempotency key, body)` at once, each on its own task.
async fn post_all(
    app: &Arc<TestApp>,
    workflow_id: &str,
    key: &str,
    requests: Vec<(Option<String>, String)>,
) -> Vec<(Option<String>, Response)> {
    let mut set = JoinSet::new();
    for (idem, body) in requests {
        let (app, wf, key) = (app.clone(), workflow_id.to_owned(), key.to_owned());
        set.spawn(async move {
            let headers: Vec<(&str, &str)> = idem
                .as_deref()
                .map(|k| vec![("idempotency-key", k)])
                .unwrap_or_default();
            let response = app.post_webhook_with(&wf, &key, "", &headers, &body).await;
            (idem, response)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.expect("task"));
    }
    out
}

/// Holds SQLite's write lock from a second connection (as another process would), so that
/// requests pile up in front of the writer; released on `release`.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(path: &std::path::Path) -> Self {
        let c = rusqlite::Connection::open(path).expect("open");
        c.execute_batch("BEGIN IMMEDIATE").expect("lock");
        Self(c)
    }
    fn release(self) {
        self.0.execute_batch("ROLLBACK").expect("unlock");
    }
}

/// Lookups cached, as `serve` has them: while the test holds the write lock, requests must
/// get as far as the writer without reading the store. Duplicates are counted for the
/// console and those counts written at most once an hour here, so that the only writes
/// counted are the requests' own (see `warm_up`).
fn cached() -> webhook_trigger::config::Config {
    webhook_trigger::config::Config {
        cache_ttl: Duration::from_secs(600),
        rejection_flush: Duration::from_secs(3600),
        ..support::test_config()
    }
}

/// One request and its duplicate first, so that the key's `lastUsedAt` write, the workflow
/// and key lookups (which need the store) and the first write of the duplicate counts (made
/// at once, then at most once per `rejection_flush`) are done before the write lock is held.
async fn warm_up(app: &TestApp, workflow_id: &str, key: &str) {
    let headers = [("idempotency-key", "warm-up")];
    let r = app
        .post_webhook_with(workflow_id, key, "", &headers, "{}")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let again = app
        .post_webhook_with(workflow_id, key, "", &headers, "{}")
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    // Waits for the count's write, which the duplicate started in the background.
    app.app.flush_rejections().await;
}

async fn wait_submitted(store: &SqliteStore, n: u64) {
    for _ in 0..1000 {
        if store.commit_stats().submitted >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {:?} reached the writer", store.commit_stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_commit_and_each_key_is_one_execution() {
    let (app, store, path) = support::sqlite_app_parts(cached()).await;
    let app = Arc::new(app);
    let (workflow, key) = app.workflow_with_key(vec![Step::Echo]).await;
    let wf = workflow.id.to_string();

    // 8 keys, each sent 6 times, plus 8 requests without a key: 56 requests at once.
    let mut requests = Vec::new();
    for round in 0..6 {
        for k in 0..8 {
            requests.push((
                Some(format!("key-{k}")),
                format!(r#"{{"k":{k},"round":{round}}}"#),
            ));
        }
    }
    for n in 0..8 {
        requests.push((None, format!(r#"{{"plain":{n}}}"#)));
    }
    let total = requests.len() as u64;

    warm_up(&app, &wf, &key).await;
    let before = store.commit_stats();
    let lock = WriteLock::take(&path);
    let answers = tokio::spawn({
        let (app, wf, key) = (app.clone(), wf.clone(), key.clone());
        async move { post_all(&app, &wf, &key, requests).await }
    });
    wait_submitted(&store, before.submitted + total).await;
    lock.release();
    let answers = answers.await.expect("requests");

    let after = store.commit_stats();
    assert_eq!(after.committed_items - before.committed_items, total);
    assert!(
        after.commits - before.commits <= 2,
        "{total} requests waiting together share a commit: {before:?} -> {after:?}"
    );

    // Exactly one 202 per key; every other request with that key is its duplicate.
    let mut created = std::collections::HashMap::<String, String>::new();
    for (idem, r) in &answers {
        if r.status == StatusCode::ACCEPTED {
            assert_eq!(r.body["duplicate"], false);
            if let Some(k) = idem {
                assert!(
                    created.insert(k.clone(), r.execution_id()).is_none(),
                    "two executions for {k}"
                );
            }
        }
    }
    assert_eq!(created.len(), 8, "one execution per key");
    for (idem, r) in &answers {
        match idem {
            Some(k) if r.status == StatusCode::OK => {
                assert_eq!(r.body["duplicate"], true);
                assert_eq!(r.execution_id(), created[k], "a duplicate names the first");
            }
            _ => assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body),
        }
    }
    // 16, and the warm-up request (with its key: 9 dedup records).
    assert_eq!(count(&path, "executions"), 17);
    assert_eq!(count(&path, "queue"), 17, "one queue row per execution");
    assert_eq!(count(&path, "dedup"), 9);

    // Each accepted execution runs.
    assert_eq!(app.worker.drain().await, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_refuses_every_request_of_its_batch_and_writes_nothing() {
    let (app, store, path) = support::sqlite_app_parts(cached()).await;
    let app = Arc::new(app);
    let (workflow, key) = app.workflow_with_key(vec![Step::Echo]).await;
    let wf = workflow.id.to_string();
    // One poisoned request makes the COMMIT fail (a deferred foreign key is checked there,
    // after every statement of the batch succeeded).
    let c = rusqlite::Connection::open(&path).expect("open");
    c.execute_batch(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE poison (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TRIGGER poison_on_insert AFTER INSERT ON executions
           WHEN NEW.record LIKE '%poison%'
           BEGIN INSERT INTO poison (p) VALUES (42); END;",
    )
    .expect("poison");

    // The first request reaches the writer alone and waits there behind the lock; the
    // others, the poisoned one among them, queue up behind it and form the next batch.
    let first = vec![(Some("ok-first".to_owned()), r#"{"n":0}"#.to_owned())];
    let mut rest: Vec<(Option<String>, String)> = (1..12)
        .map(|n| (Some(format!("ok-{n}")), format!(r#"{{"n":{n}}}"#)))
        .collect();
    rest.push((None, r#"{"poison":true}"#.into()));
    let total = 1 + rest.len() as u64;

    warm_up(&app, &wf, &key).await;
    let before = store.commit_stats();
    let lock = WriteLock::take(&path);
    let spawn = |requests: Vec<(Option<String>, String)>| {
        let (app, wf, key) = (app.clone(), wf.clone(), key.clone());
        tokio::spawn(async move { post_all(&app, &wf, &key, requests).await })
    };
    let first = spawn(first);
    wait_submitted(&store, before.submitted + 1).await;
    let rest = spawn(rest);
    wait_submitted(&store, before.submitted + total).await;
    lock.release();
    let mut answers = first.await.expect("requests");
    answers.extend(rest.await.expect("requests"));
    let after = store.commit_stats();

    // The batch that held the poison was refused whole: all 12 behind the lock (and the first
    // too, had the writer not taken it alone).
    let refused = answers
        .iter()
        .filter(|(_, r)| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .count() as u64;
    for (_, r) in &answers {
        if r.status != StatusCode::ACCEPTED {
            assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
        }
    }
    // Normally all 12 behind the lock form one batch; on a loaded machine the writer may
    // take them in two. Either way the poisoned one took at least one innocent request down
    // with it, and the counts below hold.
    assert!(refused >= 2, "{refused} of {total} refused");
    assert_eq!(after.failed_commits - before.failed_commits, 1);
    let accepted = total - refused + 1; // and the warm-up request
    assert_eq!(count(&path, "executions") as u64, accepted);
    assert_eq!(count(&path, "queue") as u64, accepted);
    // Every accepted request had an Idempotency-Key (the warm-up's too; the poison was refused).
    assert_eq!(count(&path, "dedup") as u64, accepted);

    // The refused keys are free: the callers' retries are accepted (the poison gone).
    c.execute_batch("DROP TRIGGER poison_on_insert")
        .expect("cure");
    for (idem, r) in answers {
        if let (Some(k), StatusCode::SERVICE_UNAVAILABLE) = (idem, r.status) {
            let retry = app
                .post_webhook_with(&wf, &key, "", &[("idempotency-key", &k)], "{}")
                .await;
            assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.body);
        }
    }
}

#[tokio::test]
async fn the_store_commits_with_a_full_fsync_in_wal_mode() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(&dir.path().join("d.db")).expect("open");
    let (synchronous, journal) = store.durability().await.expect("pragmas");
    assert_eq!(synchronous, 2, "synchronous=FULL (2): a 2xx means fsync'd");
    assert_eq!(journal, "wal");
}

/// No write uses the read connection: a write waiting for SQLite's write lock (held here by
/// another connection, as a writer busy with a flood would hold it) leaves reads answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waiting_for_the_lock_does_not_hold_up_reads() {
    use webhook_trigger::domain::{ApiKeyName, KeyUsage};
    use webhook_trigger::ports::{KeyUsageStore, WorkflowStore};

    let (app, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (workflow, _key) = app.workflow_with_key(vec![Step::Echo]).await;
    let lock = rusqlite::Connection::open(&path).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE;").expect("lock");

    let usage = KeyUsage {
        name: ApiKeyName::parse("reader-test").expect("name"),
        last_used_at: chrono::Utc::now(),
    };
    let write = {
        let store = store.clone();
        tokio::spawn(async move { store.insert_key_usage(&usage).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !write.is_finished(),
        "the write should be waiting for the lock"
    );
    let read = tokio::time::timeout(Duration::from_secs(2), store.get_workflow(&workflow.id)).await;
    assert!(
        matches!(read, Ok(Ok(Some(_)))),
        "a read must not wait behind a write: {read:?}"
    );

    lock.execute_batch("COMMIT;").expect("unlock");
    write
        .await
        .expect("task")
        .expect("written once the lock is free");
}
