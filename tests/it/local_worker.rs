//! The local worker (`serve`'s, on the embedded store): executions run side by side, their
//! store writes share the writer's group commits, and one slow execution does not hold up
//! the ones queued behind it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use webhook_trigger::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
use webhook_trigger::domain::{ExecutionId, ExecutionStatus, Step, WorkflowId};
use webhook_trigger::ports::ExecutionStore;

use crate::support::target::{Answer, Target};
use crate::support::{self, TestApp};

async fn status(
    store: &webhook_trigger::adapters::sqlite::SqliteStore,
    workflow: &WorkflowId,
    id: &str,
) -> ExecutionStatus {
    let id = ExecutionId::parse(id).expect("execution id");
    store
        .get_execution(workflow, &id)
        .await
        .expect("read")
        .expect("stored")
        .status
}

async fn accept(app: &TestApp, workflow: &str, key: &str) -> String {
    let r = app.post_webhook(workflow, Some(key), "{}").await;
    assert_eq!(r.status, 202, "{}", r.body);
    r.execution_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_executions_shares_commits() {
    let (app, store, _path) = support::sqlite_app_parts(support::test_config()).await;
    let (workflow, key) = app
        .workflow_with_key(vec![Step::Echo, Step::Echo, Step::Echo])
        .await;
    let wf = workflow.id.to_string();
    let n = 32;
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(accept(&app, &wf, &key).await);
    }
    let before = store.commit_stats();
    let config = LocalWorkerConfig {
        batch: n,
        ..Default::default()
    };
    let worker = support::test_worker(Arc::new(store.clone()), chrono::Duration::seconds(300));
    assert_eq!(
        worker_loop::drain_once(&worker, &store.queue(), &config).await,
        n
    );
    let after = store.commit_stats();
    for id in &ids {
        assert_eq!(
            status(&store, &workflow.id, id).await,
            ExecutionStatus::Succeeded
        );
    }
    assert_eq!(store.queue().depth().await.expect("depth"), 0);
    // Each execution writes its claim, its end (carrying the records of its three steps, which
    // reach nothing outside) and its queue delete; the receive is one more. All of them went
    // through the writer...
    let writes = after.committed_items - before.committed_items;
    assert_eq!(writes, 3 * n as u64 + 1, "{before:?} -> {after:?}");
    // ...and side by side they shared its commits: far fewer fsyncs than executions.
    let commits = after.commits - before.commits;
    assert!(
        commits < n as u64 * 2,
        "{writes} writes in {commits} commits for {n} executions"
    );
}

/// With room for two executions at a time, one that waits on a target that never answers
/// keeps only its own slot: everything queued behind it runs meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_execution_does_not_hold_up_the_ones_queued_behind_it() {
    let (app, store, _path) = support::sqlite_app_parts(support::test_config()).await;
    let target = Target::start(vec![Answer::Hang]).await;
    let (slow, slow_key) = app
        .workflow_from_steps(json!([{
            "id": "call", "type": "http_request", "method": "POST",
            "url": target.url("/hang"), "timeout_ms": 30000,
            "retry": {"max_attempts": 1}
        }]))
        .await;
    let (fast, fast_key) = app.workflow_with_key(vec![Step::Echo]).await;
    // Queued first, so it is taken first.
    let stuck = accept(&app, &slow.id.to_string(), &slow_key).await;
    let mut quick = Vec::new();
    for _ in 0..6 {
        quick.push(accept(&app, &fast.id.to_string(), &fast_key).await);
    }

    let worker = support::test_worker(Arc::new(store.clone()), chrono::Duration::seconds(300));
    let config = LocalWorkerConfig {
        batch: 2,
        poll: Duration::from_millis(20),
        ..Default::default()
    };
    let (_stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker_loop::run(
        worker,
        store.clone(),
        store.queue(),
        config,
        stopped,
    ));

    target.wait_for(1).await;
    let mut done = 0;
    for _ in 0..1000 {
        done = 0;
        for id in &quick {
            if status(&store, &fast.id, id).await == ExecutionStatus::Succeeded {
                done += 1;
            }
        }
        if done == quick.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(done, quick.len(), "the executions behind the slow one ran");
    assert_eq!(
        status(&store, &slow.id, &stuck).await,
        ExecutionStatus::Running,
        "while the slow one still waits on its target"
    );
    running.abort();
}
