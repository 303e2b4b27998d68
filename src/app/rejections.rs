//! Refused requests (and duplicates) per workflow, for the console's chart. A refusal must not
//! cost a store write: an unauthenticated flood would become a write flood, and the request
//! path's AWS calls are pinned (`tests/it/aws_calls.rs`). So each process counts in memory,
//! per workflow and hour, and writes what it has at most once per `REJECTION_FLUSH_SECONDS`,
//! one write per workflow-hour carrying all its increments. Writes happen off the request:
//! in a spawned task when a request finds the interval passed (on Lambda, the only moment the
//! function runs), on `serve`'s timer and at its shutdown. A process that dies loses what it
//! had not written yet: the counts are approximate by up to one interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::App;
use crate::domain::{
    REJECTION_RETENTION_HOURS, RejectionCounts, RejectionReason, WorkflowId, hour_of,
};

type Bucket = (WorkflowId, DateTime<Utc>);

/// Counts not written yet, and when they were last written.
pub(crate) struct RejectionTally {
    interval: Duration,
    state: Mutex<TallyState>,
    /// Held by a flush from the moment it takes the counts until they are written, so a
    /// flush that returns has seen every earlier flush's writes finish (tests and shutdown
    /// read right after).
    writing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct TallyState {
    pending: HashMap<Bucket, RejectionCounts>,
    /// `None` until the first flush. A count that finds the last flush an interval old (or
    /// none) is written at once, so a lone refusal shows up quickly; under a stream of them,
    /// one flush per interval.
    last_flush: Option<Instant>,
}

impl RejectionTally {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(TallyState::default()),
            writing: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TallyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request for `workflow` at `at`. The map only ever holds known workflows
    /// (callers count a refusal once the workflow was found), so it stays small.
    pub(crate) fn note(&self, workflow: &WorkflowId, reason: RejectionReason, at: DateTime<Utc>) {
        self.state()
            .pending
            .entry((workflow.clone(), hour_of(at)))
            .or_default()
            .add(reason, 1);
    }

    /// True when something is waiting and the interval has passed since the last flush; the
    /// flush is then counted as started, so concurrent requests do not all start one.
    pub(crate) fn due(&self, now: Instant) -> bool {
        let mut state = self.state();
        let waited = state
            .last_flush
            .is_none_or(|at| now.saturating_duration_since(at) >= self.interval);
        if state.pending.is_empty() || !waited {
            return false;
        }
        state.last_flush = Some(now);
        true
    }

    /// Everything waiting, oldest hour first; the tally starts again from zero.
    pub(crate) fn take(&self, now: Instant) -> Vec<(Bucket, RejectionCounts)> {
        let mut state = self.state();
        state.last_flush = Some(now);
        let mut taken: Vec<_> = state.pending.drain().collect();
        taken.sort_by(|a, b| (a.0.1, &a.0.0).cmp(&(b.0.1, &b.0.0)));
        taken
    }

    /// Gives back counts a flush could not write, for the next one. Hours past the retention
    /// are dropped: they would be deleted on arrival.
    pub(crate) fn restore(&self, unwritten: Vec<(Bucket, RejectionCounts)>, now: DateTime<Utc>) {
        let oldest = now - chrono::Duration::hours(REJECTION_RETENTION_HOURS);
        let mut state = self.state();
        for (bucket, counts) in unwritten {
            if bucket.1 >= oldest {
                state.pending.entry(bucket).or_default().merge(&counts);
            }
        }
    }

    /// What this process counted for `workflow` and has not written yet, by hour.
    pub(crate) fn pending_for(
        &self,
        workflow: &WorkflowId,
    ) -> Vec<(DateTime<Utc>, RejectionCounts)> {
        self.state()
            .pending
            .iter()
            .filter(|((id, _), _)| id == workflow)
            .map(|((_, hour), counts)| (*hour, *counts))
            .collect()
    }
}

impl App {
    /// Counts a refused request (or a duplicate) for a known workflow. Never writes on the
    /// request: the count is written later with others (see the module comment).
    pub fn note_rejection(&self, workflow: &WorkflowId, reason: RejectionReason) {
        self.inner.rejections.note(workflow, reason, Utc::now());
        self.flush_rejections_if_due();
    }

    /// Starts writing the counts in the background when they have waited the interval. Cheap
    /// when nothing waits; every request calls it.
    pub fn flush_rejections_if_due(&self) {
        // Only ever called on a request, inside the runtime; without one, the next flush
        // (the timer, shutdown) writes them.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let tally = &self.inner.rejections;
        if !tally.due(Instant::now()) {
            return;
        }
        // The counts are taken here, on the request, with the writing lock held until the
        // task has written them: the task writes exactly what was due, and a flush started
        // later waits for it. A flush already writing keeps these for the next one.
        let Ok(writing) = tally.writing.clone().try_lock_owned() else {
            return;
        };
        let batch = tally.take(Instant::now());
        let samples = self.inner.samples.take();
        let app = self.clone();
        runtime.spawn(async move {
            app.write_rejections(batch).await;
            app.write_refusal_samples(samples).await;
            drop(writing);
        });
    }

    /// Writes every waiting count now, one write per workflow-hour, and the refused-request
    /// samples waiting (`refusal_samples`), and returns how many count writes succeeded. What
    /// fails is kept for the next flush. `serve` calls this on its timer and at shutdown.
    pub async fn flush_rejections(&self) -> usize {
        let tally = &self.inner.rejections;
        let _writing = tally.writing.lock().await;
        let batch = tally.take(Instant::now());
        let samples = self.inner.samples.take();
        let written = self.write_rejections(batch).await;
        self.write_refusal_samples(samples).await;
        written
    }

    /// One write per workflow-hour of `batch`; what fails goes back to the tally. The caller
    /// holds the writing lock.
    async fn write_rejections(&self, batch: Vec<(Bucket, RejectionCounts)>) -> usize {
        let tally = &self.inner.rejections;
        let mut written = 0;
        let mut unwritten = Vec::new();
        for ((workflow, hour), counts) in batch {
            match self.store().add_rejections(&workflow, hour, &counts).await {
                Ok(()) => written += 1,
                Err(err) => {
                    tracing::warn!(workflow_id = %workflow, error = %err, "could not write rejection counts; kept for the next flush");
                    unwritten.push(((workflow, hour), counts));
                }
            }
        }
        tally.restore(unwritten, Utc::now());
        written
    }

    /// Counts not yet written by this process, for the console (so `serve`'s own console is
    /// exact; on Lambda, other functions' last seconds show once they flush).
    pub(crate) fn unwritten_rejections(
        &self,
        workflow: &WorkflowId,
    ) -> Vec<(DateTime<Utc>, RejectionCounts)> {
        self.inner.rejections.pending_for(workflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(n: u32) -> WorkflowId {
        WorkflowId::parse(&format!("wf_{n}")).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn counts_are_summed_per_workflow_and_hour() {
        let tally = RejectionTally::new(Duration::from_secs(10));
        tally.note(&wf(1), RejectionReason::Auth, at("2026-11-25T10:05:00Z"));
        tally.note(&wf(1), RejectionReason::Auth, at("2026-11-25T10:59:59Z"));
        tally.note(&wf(1), RejectionReason::Size, at("2026-11-25T10:30:00Z"));
        tally.note(&wf(1), RejectionReason::Auth, at("2026-11-25T11:00:00Z"));
        tally.note(
            &wf(2),
            RejectionReason::Duplicate,
            at("2026-11-25T10:00:00Z"),
        );
        let taken = tally.take(Instant::now());
        let got: Vec<(String, String, u64, u64, u64)> = taken
            .iter()
            .map(|((id, hour), c)| {
                (
                    id.to_string(),
                    hour.format("%H:%M").to_string(),
                    c.get(RejectionReason::Auth),
                    c.get(RejectionReason::Size),
                    c.get(RejectionReason::Duplicate),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("wf_1".into(), "10:00".into(), 2, 1, 0),
                ("wf_2".into(), "10:00".into(), 0, 0, 1),
                ("wf_1".into(), "11:00".into(), 1, 0, 0),
            ],
            "one write per workflow-hour, oldest hour first"
        );
        assert!(tally.take(Instant::now()).is_empty(), "taking empties it");
    }

    #[test]
    fn a_flush_is_due_at_once_then_at_most_once_per_interval() {
        let tally = RejectionTally::new(Duration::from_secs(10));
        let start = Instant::now();
        assert!(!tally.due(start), "nothing waiting, nothing to write");
        tally.note(&wf(1), RejectionReason::Auth, Utc::now());
        assert!(tally.due(start), "the first refusal after a quiet spell");
        assert!(!tally.due(start), "already started");
        tally.take(start);
        for s in 1..10 {
            tally.note(&wf(1), RejectionReason::Auth, Utc::now());
            assert!(!tally.due(start + Duration::from_secs(s)), "{s} s after");
        }
        assert!(tally.due(start + Duration::from_secs(10)));
        assert!(!tally.due(start + Duration::from_secs(11)));
    }

    #[test]
    fn unwritten_counts_come_back_for_the_next_flush_unless_expired() {
        let tally = RejectionTally::new(Duration::from_secs(10));
        let now = at("2026-11-25T12:00:00Z");
        tally.note(&wf(1), RejectionReason::Signature, now);
        let failed = tally.take(Instant::now());
        tally.note(&wf(1), RejectionReason::Signature, now);
        let ancient = vec![(
            (wf(2), at("2026-11-20T12:00:00Z")),
            [(RejectionReason::Auth, 5)].into_iter().collect(),
        )];
        tally.restore(failed, now);
        tally.restore(ancient, now);
        let pending = tally.pending_for(&wf(1));
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1.get(RejectionReason::Signature), 2);
        assert!(
            tally.pending_for(&wf(2)).is_empty(),
            "past retention: dropped"
        );
    }
}
