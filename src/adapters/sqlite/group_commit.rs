//! Group commit: every write of the embedded store that is on a hot path (accepted
//! webhooks, and the worker's claims, step records, finishes and queue deletes) is handed to
//! one writer thread as a job. The writer takes every job that is waiting (up to
//! `MAX_BATCH`), runs each inside one SQLite transaction, commits it with one fsync
//! (`synchronous=FULL`), and only then answers each job. A 2xx therefore still means
//! "fsync'd", and a worker's state change is on disk before it goes on; what changes is that
//! concurrent writers share the fsync.
//!
//! There is no lingering: while one commit is on disk, the next jobs queue up, so the batch
//! grows with the load by itself and a lone write pays one commit, as before.
//!
//! A job that fails on its own (an execution id or a name already taken, a record to update
//! that is gone) fails alone: the batch is first run without savepoints and, when a job
//! fails, rolled back and run again with each job under its own savepoint. A failed COMMIT fails every job of the batch and
//! leaves nothing. Jobs run in arrival order, so the same idempotency key twice in one batch
//! is one execution: the second sees the first's dedup record and is answered as its
//! duplicate.
//!
//! The writer owns its connection; reads go through the store's other connection and, WAL
//! being what it is, never wait for a commit in flight.
//!
//! Jobs come in two lanes. A sender waits on an `Urgent` one (an accepted webhook's 2xx);
//! the worker's state changes and queue moves are `Background`. A batch takes the urgent
//! jobs waiting and at most [`MAX_BACKGROUND_BESIDE_URGENT`] background ones beside them
//! (always with room for those, so the worker never stops), so a worker running flat out
//! cannot stretch the commits that webhook answers wait for; with no urgent job waiting,
//! background jobs fill the batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::queue::insert_message;
use super::unavailable;
use crate::adapters::record::from_json;
use crate::domain::Execution;
use crate::ports::{Recorded, StoreError, WorkItem};

/// Upper bound of jobs per transaction: keeps one commit's latency bounded under a flood.
pub(super) const MAX_BATCH: usize = 512;

/// Background jobs a batch takes when urgent ones are waiting too: enough that the worker
/// still moves (thousands of writes a second at the commit rate of a flood), few enough that
/// they add little to the commit the urgent jobs wait for.
pub(super) const MAX_BACKGROUND_BESIDE_URGENT: usize = 16;

/// Whether a caller is waiting to answer someone (`Urgent`) or not (`Background`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Urgent,
    Background,
}

/// One accepted webhook to record: everything the writer needs, serialised by the request's
/// task.
pub(super) struct Item {
    pub execution: Execution,
    /// The execution as stored (JSON).
    pub record: String,
    pub dedup_key: Option<String>,
    /// Whether the queue row is written too (the outbox) or only the execution.
    pub enqueue: bool,
}

/// A write the writer runs inside its current transaction, answered after the commit.
pub(super) trait Job: Send {
    /// Runs the write on the transaction's connection. `false` means it failed on its own:
    /// the batch's first attempt is rolled back and the batch runs again, where this job's
    /// savepoint is rolled back and the rest goes on ([`commit_batch`]). So a job may run
    /// twice; the last run's result is its answer.
    fn run(&mut self, c: &Connection) -> bool;
    /// Answers the job's caller with its own result, once `commit` says how the batch ended.
    fn answer(self: Box<Self>, commit: Result<(), &StoreError>);
}

struct Write<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, c: &Connection) -> bool {
        let result = (self.work)(c);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, commit: Result<(), &StoreError>) {
        let result = match (commit, self.result) {
            (Err(e), _) => Err(StoreError::Unavailable(e.to_string())),
            (Ok(()), Some(own)) => own,
            (Ok(()), None) => Err(StoreError::Unavailable("a write was not run".into())),
        };
        // The caller may have gone (a client hung up): its rows stay, as they would after any
        // crash between commit and answer.
        let _ = self.reply.send(result);
    }
}

/// Wraps `work` as a job; its result arrives on the receiver after the commit.
pub(super) fn job<T, F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let write = Write {
        work,
        result: None,
        reply,
    };
    (Box::new(write), answer)
}

/// Counters of the writer, for tests and benchmarks (`SqliteStore::commit_stats`).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub submitted: AtomicU64,
    pub commits: AtomicU64,
    pub committed_items: AtomicU64,
    pub failed_commits: AtomicU64,
}

/// What the group-commit writer has done since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Writes handed to the writer (answered or not yet).
    pub submitted: u64,
    /// Transactions committed (each one fsync of the WAL).
    pub commits: u64,
    /// Writes in those transactions.
    pub committed_items: u64,
    /// Transactions that failed to commit (each of their writes was refused).
    pub failed_commits: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CommitStats {
        CommitStats {
            submitted: self.submitted.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            committed_items: self.committed_items.load(Ordering::Relaxed),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
        }
    }
}

/// The sending side; the writer thread ends when the last one is dropped.
pub(super) type Submit = mpsc::Sender<(Lane, Box<dyn Job>)>;

/// Starts the writer thread, which owns `conn`, and returns where to submit.
pub(super) fn start(
    conn: Connection,
    counters: std::sync::Arc<Counters>,
) -> std::io::Result<Submit> {
    let (tx, rx) = mpsc::channel::<(Lane, Box<dyn Job>)>();
    std::thread::Builder::new()
        .name("sqlite-group-commit".into())
        .spawn(move || writer(conn, &counters, rx))?;
    Ok(tx)
}

/// Jobs received and not yet in a batch, by lane, each in arrival order.
#[derive(Default)]
struct Waiting {
    urgent: VecDeque<Box<dyn Job>>,
    background: VecDeque<Box<dyn Job>>,
}

impl Waiting {
    fn push(&mut self, (lane, job): (Lane, Box<dyn Job>)) {
        match lane {
            Lane::Urgent => self.urgent.push_back(job),
            Lane::Background => self.background.push_back(job),
        }
    }

    fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.background.is_empty()
    }

    /// Moves the next batch into `batch`: the urgent jobs, then background jobs, at most
    /// `MAX_BACKGROUND_BESIDE_URGENT` of them when urgent ones came along. Those few always
    /// have room, so even a flood of urgent jobs cannot stop the worker.
    fn next_batch(&mut self, batch: &mut Vec<Box<dyn Job>>) {
        let beside = self.background.len().min(MAX_BACKGROUND_BESIDE_URGENT);
        let urgent = self.urgent.len().min(MAX_BATCH - beside);
        batch.extend(self.urgent.drain(..urgent));
        let room = if batch.is_empty() { MAX_BATCH } else { beside };
        let background = self.background.len().min(room);
        batch.extend(self.background.drain(..background));
    }
}

fn writer(mut conn: Connection, counters: &Counters, rx: mpsc::Receiver<(Lane, Box<dyn Job>)>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Waiting::default();
    loop {
        if waiting.is_empty() {
            match rx.recv() {
                Ok(job) => waiting.push(job),
                Err(_) => return,
            }
        }
        while let Ok(job) = rx.try_recv() {
            waiting.push(job);
        }
        waiting.next_batch(&mut batch);
        let outcome = commit_batch(&mut conn, &mut batch);
        match &outcome {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .committed_items
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                counters.failed_commits.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, writes = batch.len(), "group commit failed; every write of the batch is refused");
            }
        }
        for job in batch.drain(..) {
            job.answer(outcome.as_ref().map(|_| ()));
        }
    }
}

/// Runs `jobs` in one transaction and commits once. `Err` means the transaction did not
/// commit: nothing of any job is stored. On `Ok` each job holds its own outcome (a job that
/// failed alone was rolled back to its savepoint; the others are committed).
///
/// Most batches have no job that fails, so the first attempt runs without savepoints: a
/// savepoint copies every page its job touches into SQLite's sub-journal first, ~8% of the
/// `serve` process's CPU under a flood of webhooks. When a job does fail, that attempt is
/// rolled back whole and the batch runs again, each job under its own savepoint. (Between
/// the two, another process's writer may take the lock; if it holds it past the busy
/// timeout, the whole batch is refused, as any batch that cannot begin is.)
pub(super) fn commit_batch(
    conn: &mut Connection,
    jobs: &mut [Box<dyn Job>],
) -> Result<(), StoreError> {
    match run_batch(conn, jobs, Savepoints::None)? {
        Attempt::Committed => Ok(()),
        // With a savepoint per job a failing job is undone alone: this attempt commits.
        Attempt::JobFailed => run_batch(conn, jobs, Savepoints::PerJob).map(|_| ()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Savepoints {
    /// Every job must succeed, or the attempt is rolled back whole.
    None,
    /// Each job under its own savepoint: one that fails is undone alone.
    PerJob,
}

enum Attempt {
    Committed,
    /// Without savepoints a job failed: the transaction was rolled back, nothing is kept.
    /// (Never the outcome with a savepoint per job.)
    JobFailed,
}

fn run_batch(
    conn: &mut Connection,
    jobs: &mut [Box<dyn Job>],
    savepoints: Savepoints,
) -> Result<Attempt, StoreError> {
    // IMMEDIATE takes the write lock at BEGIN, so another process's writer (the CLI) is
    // waited for there (busy_timeout) instead of failing the batch midway.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    for job in jobs.iter_mut() {
        if savepoints == Savepoints::None {
            if !job.run(&tx) {
                tx.rollback().map_err(unavailable)?;
                return Ok(Attempt::JobFailed);
            }
            continue;
        }
        // Prepared once per connection: a job's savepoint is not worth parsing SQL for.
        let run = |sql: &str| {
            tx.prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
                .map_err(unavailable)
        };
        run("SAVEPOINT job")?;
        if !job.run(&tx) {
            // Undoes this job alone and keeps the others.
            run("ROLLBACK TO job")?;
        }
        run("RELEASE job")?;
    }
    // A COMMIT that fails leaves the transaction open; dropping `tx` rolls it back.
    tx.commit().map_err(unavailable)?;
    Ok(Attempt::Committed)
}

/// The execution, its dedup record and (for the outbox) its queue row, as one unit.
pub(super) fn write_one(c: &Connection, item: &Item) -> Result<Recorded, StoreError> {
    let execution = &item.execution;
    let workflow_id = execution.workflow_id.to_string();
    let id = execution.id.to_string();
    let expires_at = execution.expires_at.timestamp();
    if let Some(key) = &item.dedup_key {
        let existing: Option<(String, i64)> = c
            .prepare_cached(
                "SELECT execution_id, expires_at FROM dedup WHERE workflow_id = ?1 AND key = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![workflow_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(unavailable)?;
        if let Some((earlier_id, earlier_expiry)) = existing {
            let earlier: Option<String> = c
                .prepare_cached("SELECT record FROM executions WHERE workflow_id = ?1 AND id = ?2")
                .and_then(|mut s| {
                    s.query_row(params![workflow_id, earlier_id], |r| r.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            let live = earlier_expiry > chrono::Utc::now().timestamp();
            if let (Some(raw), true) = (earlier, live) {
                return Ok(Recorded::Duplicate(Box::new(from_json(&raw)?)));
            }
        }
        c.prepare_cached(
            "INSERT OR REPLACE INTO dedup (workflow_id, key, execution_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![workflow_id, key, id, expires_at]))
        .map_err(unavailable)?;
    }
    c.prepare_cached(
        "INSERT INTO executions (workflow_id, id, status, attempts, expires_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            workflow_id,
            id,
            execution.status.as_str(),
            execution.attempts,
            expires_at,
            item.record
        ])
    })
    .map_err(|e| {
        if super::store::is_constraint(&e) {
            StoreError::AlreadyExists(format!("execution {}", execution.id))
        } else {
            unavailable(e)
        }
    })?;
    if item.enqueue {
        let work = WorkItem {
            workflow_id: execution.workflow_id.clone(),
            execution_id: execution.id,
        };
        insert_message(c, &work.to_json())?;
    }
    Ok(Recorded::Created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::record::to_json;
    use crate::domain::{TriggerMeta, WorkflowId};

    fn item(workflow: &WorkflowId, key: Option<&str>, body: serde_json::Value) -> Item {
        let execution = Execution::new(
            workflow.clone(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: key.map(str::to_owned),
                body_bytes: 2,
            },
            body,
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        Item {
            record: to_json(&execution).expect("json"),
            execution,
            dedup_key: key.map(|k| format!("idem#{k}")),
            enqueue: true,
        }
    }

    fn open() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let conn = Connection::open(dir.path().join("g.db")).expect("open");
        super::super::schema::prepare(&conn).expect("schema");
        (dir, conn)
    }

    /// Runs the items as one batch, as the writer does, and collects each one's answer.
    fn commit(
        conn: &mut Connection,
        items: Vec<Item>,
    ) -> Result<Vec<Result<Recorded, StoreError>>, StoreError> {
        let (mut jobs, answers): (Vec<_>, Vec<_>) = items
            .into_iter()
            .map(|item| job(move |c| write_one(c, &item)))
            .unzip();
        let outcome = commit_batch(conn, &mut jobs);
        for j in jobs {
            j.answer(outcome.as_ref().map(|_| ()));
        }
        outcome.map(|()| {
            answers
                .into_iter()
                .map(|mut a| a.try_recv().expect("answered"))
                .collect()
        })
    }

    fn count(c: &Connection, table: &str) -> i64 {
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn the_same_key_twice_in_one_batch_is_one_execution() {
        let (_dir, mut conn) = open();
        let wf = WorkflowId::generate();
        let a = item(&wf, Some("k1"), serde_json::json!({"n": 1}));
        let b = item(&wf, Some("k1"), serde_json::json!({"n": 2}));
        let c = item(&wf, Some("k2"), serde_json::json!({"n": 3}));
        let d = item(&wf, None, serde_json::json!({"n": 4}));
        let first = a.execution.id;
        let results = commit(&mut conn, vec![a, b, c, d]).expect("commit");
        assert_eq!(results[0].as_ref().expect("a"), &Recorded::Created);
        match results[1].as_ref().expect("b") {
            Recorded::Duplicate(earlier) => assert_eq!(earlier.id, first),
            other => panic!("expected the first as duplicate, got {other:?}"),
        }
        assert_eq!(results[2].as_ref().expect("c"), &Recorded::Created);
        assert_eq!(results[3].as_ref().expect("d"), &Recorded::Created);
        assert_eq!(count(&conn, "executions"), 3);
        assert_eq!(count(&conn, "queue"), 3);
        assert_eq!(count(&conn, "dedup"), 2);
    }

    #[test]
    fn an_item_that_fails_alone_is_rolled_back_alone() {
        let (_dir, mut conn) = open();
        let wf = WorkflowId::generate();
        let a = item(&wf, Some("k1"), serde_json::json!({}));
        // Same execution id as `a` under another key: the execution insert conflicts after
        // the dedup record was written, which must be undone with it.
        let mut clash = item(&wf, Some("k2"), serde_json::json!({}));
        clash.execution.id = a.execution.id;
        let c = item(&wf, None, serde_json::json!({}));
        let results = commit(&mut conn, vec![a, clash, c]).expect("commit");
        assert!(results[0].is_ok());
        assert!(matches!(results[1], Err(StoreError::AlreadyExists(_))));
        assert!(results[2].is_ok());
        assert_eq!(count(&conn, "executions"), 2);
        assert_eq!(count(&conn, "queue"), 2);
        assert_eq!(
            count(&conn, "dedup"),
            1,
            "the clash's dedup record is rolled back"
        );
    }

    /// A job that writes one row and says whether it ran inside a savepoint of its own
    /// (`ROLLBACK TO job` undoes nothing of it, and fails where there is no such savepoint),
    /// counting its runs.
    fn probe(
        n: i64,
        runs: &std::sync::Arc<AtomicU64>,
    ) -> (Box<dyn Job>, oneshot::Receiver<Result<bool, StoreError>>) {
        let runs = runs.clone();
        job(move |c: &Connection| {
            runs.fetch_add(1, Ordering::Relaxed);
            let in_savepoint = c.execute_batch("ROLLBACK TO job").is_ok();
            c.execute(
                "INSERT INTO queue (body, visible_at, receive_count) VALUES (?1, 0, 0)",
                params![format!("probe {n}")],
            )
            .map_err(unavailable)?;
            Ok(in_savepoint)
        })
    }

    fn run_jobs(conn: &mut Connection, mut jobs: Vec<Box<dyn Job>>) -> Result<(), StoreError> {
        let outcome = commit_batch(conn, &mut jobs);
        for j in jobs {
            j.answer(outcome.as_ref().map(|_| ()));
        }
        outcome
    }

    #[test]
    fn a_batch_in_which_no_job_fails_runs_once_without_savepoints() {
        let (_dir, mut conn) = open();
        let runs = std::sync::Arc::new(AtomicU64::new(0));
        let (jobs, answers): (Vec<_>, Vec<_>) = (0..3).map(|n| probe(n, &runs)).unzip();
        run_jobs(&mut conn, jobs).expect("commit");
        for mut answer in answers {
            assert!(
                !answer.try_recv().expect("answered").expect("ok"),
                "no savepoint"
            );
        }
        assert_eq!(runs.load(Ordering::Relaxed), 3, "each job ran once");
        assert_eq!(count(&conn, "queue"), 3);
    }

    #[test]
    fn a_job_that_fails_sends_the_batch_round_again_with_savepoints() {
        let (_dir, mut conn) = open();
        let runs = std::sync::Arc::new(AtomicU64::new(0));
        let (first, first_answer) = probe(1, &runs);
        // Writes a row, then fails: the first attempt is rolled back whole.
        let failing_runs = std::sync::Arc::new(AtomicU64::new(0));
        let counted = failing_runs.clone();
        let (failing, failing_answer) = job(move |c: &Connection| -> Result<(), StoreError> {
            counted.fetch_add(1, Ordering::Relaxed);
            c.execute(
                "INSERT INTO queue (body, visible_at, receive_count) VALUES ('failing', 0, 0)",
                [],
            )
            .map_err(unavailable)?;
            Err(StoreError::Unavailable("fails on its own".into()))
        });
        let (last, last_answer) = probe(2, &runs);
        run_jobs(&mut conn, vec![first, failing, last]).expect("commit");
        for mut answer in [first_answer, last_answer] {
            assert!(
                answer.try_recv().expect("answered").expect("ok"),
                "its own savepoint"
            );
        }
        let mut failing_answer = failing_answer;
        assert!(failing_answer.try_recv().expect("answered").is_err());
        // The first probe ran in both attempts; the last one only in the second (the first
        // attempt stopped at the failing job).
        assert_eq!(runs.load(Ordering::Relaxed), 3);
        assert_eq!(
            failing_runs.load(Ordering::Relaxed),
            2,
            "it failed in both attempts"
        );
        let bodies: Vec<String> = conn
            .prepare("SELECT body FROM queue ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("bodies");
        assert_eq!(
            bodies,
            ["probe 1", "probe 2"],
            "nothing of the failed job, nor twice"
        );
    }

    #[test]
    fn a_batch_takes_every_urgent_job_and_only_a_few_background_ones_beside_them() {
        let noop = || job(|_c: &Connection| Ok(())).0;
        let mut waiting = Waiting::default();
        for _ in 0..40 {
            waiting.push((Lane::Background, noop()));
        }
        for _ in 0..3 {
            waiting.push((Lane::Urgent, noop()));
        }
        let mut batch = Vec::new();
        waiting.next_batch(&mut batch);
        assert_eq!(batch.len(), 3 + MAX_BACKGROUND_BESIDE_URGENT);
        assert_eq!(waiting.urgent.len(), 0);
        assert_eq!(waiting.background.len(), 40 - MAX_BACKGROUND_BESIDE_URGENT);

        // With no urgent job waiting, background jobs fill the batch.
        batch.clear();
        waiting.next_batch(&mut batch);
        assert_eq!(batch.len(), 40 - MAX_BACKGROUND_BESIDE_URGENT);
        assert!(waiting.is_empty());

        // More urgent jobs than a batch holds still leave room for the few background ones.
        for _ in 0..MAX_BATCH + 5 {
            waiting.push((Lane::Urgent, noop()));
        }
        for _ in 0..20 {
            waiting.push((Lane::Background, noop()));
        }
        batch.clear();
        waiting.next_batch(&mut batch);
        assert_eq!(batch.len(), MAX_BATCH);
        assert_eq!(
            (waiting.urgent.len(), waiting.background.len()),
            (
                5 + MAX_BACKGROUND_BESIDE_URGENT,
                20 - MAX_BACKGROUND_BESIDE_URGENT
            )
        );
    }

    #[test]
    fn a_failed_commit_writes_nothing_of_the_batch() {
        let (_dir, mut conn) = open();
        // A deferred foreign key is checked at COMMIT: a row pointing nowhere makes the
        // COMMIT itself fail, after every statement of the batch succeeded.
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE poison (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER poison_on_insert AFTER INSERT ON executions
               WHEN NEW.record LIKE '%poison%'
               BEGIN INSERT INTO poison (p) VALUES (42); END;",
        )
        .expect("poison");
        let wf = WorkflowId::generate();
        let a = || item(&wf, Some("k1"), serde_json::json!({"ok": 1}));
        let b = item(&wf, None, serde_json::json!({"poison": true}));
        let c = item(&wf, Some("k3"), serde_json::json!({"ok": 3}));
        assert!(matches!(
            commit(&mut conn, vec![a(), b, c]),
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(count(&conn, "executions"), 0);
        assert_eq!(count(&conn, "queue"), 0);
        assert_eq!(count(&conn, "dedup"), 0);
        assert!(conn.is_autocommit(), "the failed transaction is closed");
        // The connection is usable afterwards.
        commit(&mut conn, vec![a()]).expect("next batch");
        assert_eq!(count(&conn, "executions"), 1);
    }
}
