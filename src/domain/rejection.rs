//! Requests for a known workflow that started no new execution, in the few groups the console
//! charts per hour: a wrong or missing key, a body over the limit, a bad signature, a repeat of
//! an earlier delivery, anything else. Groups rather than error codes: they answer the
//! operator's question ("is a sender misconfigured, or is someone probing?") with a handful of
//! counters per hour; the exact code is in the metrics and the log.

use chrono::{DateTime, Duration, DurationRound, Utc};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// No API key, a wrong, revoked or retired one, or two different ones.
    Auth,
    /// The body was over the limit.
    Size,
    /// A missing or invalid signature, a stale signed timestamp, an SNS message that failed
    /// verification.
    Signature,
    /// The same Idempotency-Key, SNS MessageId or webhook-id as an earlier delivery: answered
    /// with the earlier execution, not refused, but no new work either.
    Duplicate,
    /// A body that does not match the workflow's `payload_schema`.
    PayloadInvalid,
    /// Any other refusal: a body that is not JSON, a wrong trigger, a content type, ...
    Other,
}

impl RejectionReason {
    /// Every reason, in the order documents and charts list them.
    pub const ALL: [Self; 6] = [
        Self::Auth,
        Self::Size,
        Self::Signature,
        Self::Duplicate,
        Self::PayloadInvalid,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Size => "size",
            Self::Signature => "signature",
            Self::Duplicate => "duplicate",
            Self::PayloadInvalid => "payload_invalid",
            Self::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Auth => 0,
            Self::Size => 1,
            Self::Signature => 2,
            Self::Duplicate => 3,
            Self::PayloadInvalid => 4,
            Self::Other => 5,
        }
    }
}

impl std::fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a workflow's hourly counts are kept: the console shows 24 h; a day more leaves
/// room for clocks and late flushes.
pub const REJECTION_RETENTION_HOURS: i64 = 48;

/// The start of the hour `at` falls in: the bucket counts are kept under.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

/// A count per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionCounts([u64; RejectionReason::ALL.len()]);

impl RejectionCounts {
    pub fn get(&self, reason: RejectionReason) -> u64 {
        self.0[reason.index()]
    }

    pub fn add(&mut self, reason: RejectionReason, n: u64) {
        let slot = &mut self.0[reason.index()];
        *slot = slot.saturating_add(n);
    }

    pub fn merge(&mut self, other: &Self) {
        for (reason, n) in other.iter() {
            self.add(reason, n);
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Every reason with its count (zeros included), in [`RejectionReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (RejectionReason, u64)> + '_ {
        RejectionReason::ALL.into_iter().map(|r| (r, self.get(r)))
    }
}

impl FromIterator<(RejectionReason, u64)> for RejectionCounts {
    fn from_iter<I: IntoIterator<Item = (RejectionReason, u64)>>(iter: I) -> Self {
        let mut counts = Self::default();
        for (reason, n) in iter {
            counts.add(reason, n);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_merge_and_total_per_reason() {
        let mut a = RejectionCounts::default();
        assert!(a.is_empty());
        a.add(RejectionReason::Auth, 2);
        a.add(RejectionReason::Duplicate, 1);
        let b: RejectionCounts = [(RejectionReason::Auth, 3), (RejectionReason::Size, 1)]
            .into_iter()
            .collect();
        a.merge(&b);
        assert_eq!(a.get(RejectionReason::Auth), 5);
        assert_eq!(a.get(RejectionReason::Size), 1);
        assert_eq!(a.get(RejectionReason::Duplicate), 1);
        assert_eq!(a.get(RejectionReason::Signature), 0);
        assert_eq!(a.total(), 7);
        assert_eq!(
            a.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
            [
                "auth",
                "size",
                "signature",
                "duplicate",
                "payload_invalid",
                "other"
            ]
        );
    }

    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let mut a = RejectionCounts::default();
        a.add(RejectionReason::Other, u64::MAX);
        a.add(RejectionReason::Other, 1);
        a.add(RejectionReason::Auth, 1);
        assert_eq!(a.get(RejectionReason::Other), u64::MAX);
        assert_eq!(a.total(), u64::MAX);
    }

    #[test]
    fn an_instant_belongs_to_the_hour_it_falls_in() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T14:59:59.999Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hour_of(at).to_rfc3339(), "2026-11-25T14:00:00+00:00");
        assert_eq!(hour_of(hour_of(at)), hour_of(at));
    }
}
