//! WAL checkpoints off the request path. By default SQLite checkpoints inside the commit that
//! grows the WAL past 1,000 pages: that commit (and every request of its group) then also
//! copies the WAL into the database file and fsyncs it, which is most of the accept path's tail
//! latency under load. Here the store's connection does not checkpoint; a thread with its own
//! connection runs a PASSIVE checkpoint (which never blocks writers or readers) twice a second.
//! Durability is unchanged: a commit is durable once its WAL frames are fsync'd
//! (`synchronous=FULL`), before and after a checkpoint alike.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

const INTERVAL: Duration = Duration::from_millis(500);

/// Dropping it ends the thread, after one last checkpoint.
pub(super) struct Stop(#[allow(dead_code)] mpsc::Sender<()>);

/// Hands checkpointing to a thread and turns automatic checkpoints off on `connections`; on
/// any failure to set it up, they keep SQLite's own and `None` is returned.
pub(super) fn start(path: &Path, connections: &[&Connection]) -> Option<Stop> {
    let own = Connection::open(path).ok()?;
    own.busy_timeout(Duration::from_secs(5)).ok()?;
    own.pragma_update(None, "synchronous", "FULL").ok()?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            loop {
                let last = !matches!(
                    stopped.recv_timeout(INTERVAL),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                if let Err(e) = own.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
                if last {
                    return;
                }
            }
        })
        .ok()?;
    for c in connections {
        c.pragma_update(None, "wal_autocheckpoint", 0).ok()?;
    }
    Some(Stop(stop))
}
