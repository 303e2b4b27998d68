//! Samples of refused webhook requests, so an operator can see why a sender got a 4xx. The
//! same rule as the counts (`rejections`): a refusal never costs a store write on its own
//! request. Each process takes at most one sample per workflow, reason and minute (a small
//! in-memory set of what it already took, so a flood makes no work past its first request of
//! each minute), keeps it in memory, and the rejection flush writes it with the counts; the
//! store keeps only the first sample of a minute whichever process took it. Duplicates are
//! counted but never sampled: they were answered, not refused.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use super::{App, AppError};
use crate::domain::{
    REFUSAL_SAMPLE_RETENTION_HOURS, RefusalSample, RefusedRequest, RejectionReason, WorkflowId,
    minute_of,
};

/// The most samples one answer lists (newest first).
pub const REFUSAL_SAMPLE_LIMIT: usize = 100;

type Slot = (WorkflowId, RejectionReason, DateTime<Utc>);

/// What this process sampled: the slots taken this minute and the samples not written yet.
#[derive(Default)]
pub(crate) struct RefusalSampler {
    state: Mutex<SamplerState>,
}

#[derive(Default)]
struct SamplerState {
    /// Only the current minute's (and any later, should the clock step back): the set stays
    /// as small as the workflows refusing right now.
    taken: HashSet<Slot>,
    pending: Vec<RefusalSample>,
}

impl RefusalSampler {
    fn state(&self) -> std::sync::MutexGuard<'_, SamplerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True the first time (`workflow`, `reason`) is refused in the minute of `at`; the slot
    /// is then taken.
    pub(crate) fn take_slot(
        &self,
        workflow: &WorkflowId,
        reason: RejectionReason,
        at: DateTime<Utc>,
    ) -> bool {
        let minute = minute_of(at);
        let mut state = self.state();
        state.taken.retain(|(_, _, m)| *m >= minute);
        state.taken.insert((workflow.clone(), reason, minute))
    }

    fn keep(&self, sample: RefusalSample) {
        self.state().pending.push(sample);
    }

    pub(crate) fn take(&self) -> Vec<RefusalSample> {
        std::mem::take(&mut self.state().pending)
    }

    fn pending_for(&self, workflow: &WorkflowId) -> Vec<RefusalSample> {
        self.state()
            .pending
            .iter()
            .filter(|s| &s.workflow_id == workflow)
            .cloned()
            .collect()
    }
}

impl App {
    /// Whether a refusal of `workflow` for `reason` now is the one to sample (the first of its
    /// minute in this process). Cheap: the HTTP layer asks before gathering anything.
    pub fn wants_refusal_sample(
        &self,
        workflow: &WorkflowId,
        reason: RejectionReason,
        at: DateTime<Utc>,
    ) -> bool {
        reason != RejectionReason::Duplicate && self.inner.samples.take_slot(workflow, reason, at)
    }

    /// Keeps the sample of a refused request for the next rejection flush, with its header
    /// values redacted (including the headers the workflow's `verify` options name). Call it
    /// before [`note_rejection`](Self::note_rejection), whose flush then carries it.
    pub async fn keep_refusal_sample<'a, H>(&self, request: RefusedRequest<'a, H>)
    where
        H: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        // Cached: the request that was refused has just read it.
        let workflow = self
            .webhook_workflow(request.workflow_id.as_str())
            .await
            .ok();
        let verify = workflow.as_ref().and_then(|w| w.verify.as_ref());
        self.inner
            .samples
            .keep(RefusalSample::capture(request, verify));
    }

    /// Writes `samples`, one conditional write each; a failed one is dropped (a sample is a
    /// hint, not a record: the counts stay exact). Returns how many were written.
    pub(crate) async fn write_refusal_samples(&self, samples: Vec<RefusalSample>) -> usize {
        let mut written = 0;
        for sample in samples {
            match self.store().put_refusal_sample(&sample).await {
                Ok(stored) => written += usize::from(stored),
                Err(err) => {
                    tracing::warn!(workflow_id = %sample.workflow_id, error = %err, "could not write a refusal sample; dropped");
                }
            }
        }
        written
    }

    /// The workflow's refused-request samples of the last 48 h, newest first, at most
    /// [`REFUSAL_SAMPLE_LIMIT`], with this process's not yet written.
    pub async fn refusal_samples(&self, raw_id: &str) -> Result<Vec<RefusalSample>, AppError> {
        let workflow = self.workflow(raw_id).await?;
        let since = Utc::now() - Duration::hours(REFUSAL_SAMPLE_RETENTION_HOURS);
        let stored = self
            .store()
            .refusal_samples_since(&workflow.id, since, REFUSAL_SAMPLE_LIMIT)
            .await?;
        let unwritten = self.inner.samples.pending_for(&workflow.id);
        Ok(newest_first(stored, unwritten, since))
    }
}

/// `stored` and `unwritten` in one list, one sample per minute and reason (the stored one
/// wins: it is what every process sees), none before `since`, newest first.
fn newest_first(
    stored: Vec<RefusalSample>,
    unwritten: Vec<RefusalSample>,
    since: DateTime<Utc>,
) -> Vec<RefusalSample> {
    let mut by_slot: HashMap<(DateTime<Utc>, RejectionReason), RefusalSample> = HashMap::new();
    for sample in unwritten.into_iter().chain(stored) {
        by_slot.insert((sample.minute(), sample.reason), sample);
    }
    let mut all: Vec<RefusalSample> = by_slot.into_values().filter(|s| s.at >= since).collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.at));
    all.truncate(REFUSAL_SAMPLE_LIMIT);
    all
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

    fn sample(reason: RejectionReason, when: &str, code: &str) -> RefusalSample {
        RefusalSample {
            workflow_id: wf(1),
            at: at(when),
            status: 401,
            code: code.into(),
            reason,
            source_ip: None,
            headers: Default::default(),
            headers_dropped: 0,
            body: String::new(),
            body_truncated: false,
        }
    }

    #[test]
    fn one_slot_per_workflow_reason_and_minute() {
        let sampler = RefusalSampler::default();
        let auth = RejectionReason::Auth;
        assert!(sampler.take_slot(&wf(1), auth, at("2026-11-25T10:05:01Z")));
        assert!(!sampler.take_slot(&wf(1), auth, at("2026-11-25T10:05:59Z")));
        assert!(sampler.take_slot(&wf(1), RejectionReason::Size, at("2026-11-25T10:05:30Z")));
        assert!(sampler.take_slot(&wf(2), auth, at("2026-11-25T10:05:30Z")));
        assert!(sampler.take_slot(&wf(1), auth, at("2026-11-25T10:06:00Z")));
        assert_eq!(
            sampler.state().taken.len(),
            1,
            "a new minute forgets the old ones"
        );
    }

    #[test]
    fn stored_samples_win_and_the_list_is_newest_first_within_the_window() {
        let since = at("2026-11-24T10:00:00Z");
        let stored = vec![
            sample(RejectionReason::Auth, "2026-11-25T10:05:10Z", "stored"),
            sample(RejectionReason::Auth, "2026-11-23T10:05:10Z", "too old"),
        ];
        let unwritten = vec![
            sample(
                RejectionReason::Auth,
                "2026-11-25T10:05:40Z",
                "unwritten, same slot",
            ),
            sample(RejectionReason::Size, "2026-11-25T10:07:00Z", "unwritten"),
        ];
        let codes: Vec<String> = newest_first(stored, unwritten, since)
            .into_iter()
            .map(|s| s.code)
            .collect();
        assert_eq!(codes, ["unwritten", "stored"]);
    }
}
