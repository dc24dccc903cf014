//! A circuit breaker per (institution, channel).
//!
//! Closed: calls pass; `failure_threshold` consecutive failures open it.
//! Open: calls fail at once until `open_for` has passed; then one call is let
//! through as a half-open probe. The probe's success closes the circuit; its
//! failure opens it again for another `open_for`.

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Timestamp,
    },
    /// One probe is out since `since`; a probe its caller gave up on
    /// (a deadline of the caller's own cut it) is replaced after `open_for`.
    HalfOpen {
        since: Timestamp,
    },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    failure_threshold: u32,
    open_for: SignedDuration,
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// This call is the half-open probe.
    Probe,
    /// Refused until the given instant.
    Refused {
        until: Timestamp,
    },
}

impl Breaker {
    pub fn new(failure_threshold: u32, open_for: SignedDuration) -> Self {
        Self { state: State::Closed { failures: 0 }, failure_threshold: failure_threshold.max(1), open_for }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn admit(&mut self, now: Timestamp) -> Admission {
        match self.state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen { since: now };
                Admission::Probe
            }
            State::HalfOpen { since } if now >= since.checked_add(self.open_for).unwrap_or(since) => {
                self.state = State::HalfOpen { since: now };
                Admission::Probe
            }
            State::Open { until } => Admission::Refused { until },
            // One probe at a time: others wait as if still open.
            State::HalfOpen { .. } => Admission::Refused { until: now.checked_add(self.open_for).unwrap_or(now) },
        }
    }

    pub fn success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    pub fn failure(&mut self, now: Timestamp) {
        self.state = match self.state {
            State::Closed { failures } if failures + 1 < self.failure_threshold => State::Closed { failures: failures + 1 },
            _ => State::Open { until: now.checked_add(self.open_for).unwrap_or(now) },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn opens_after_threshold_probes_after_the_wait_and_closes_on_success() {
        let mut b = Breaker::new(3, SignedDuration::from_secs(30));
        b.failure(t(0));
        b.failure(t(1));
        assert_eq!(b.admit(t(1)), Admission::Allowed);
        b.failure(t(2));
        assert_eq!(b.admit(t(3)), Admission::Refused { until: t(32) });
        assert_eq!(b.admit(t(32)), Admission::Probe);
        assert!(matches!(b.admit(t(32)), Admission::Refused { .. }), "only one probe at a time");
        assert_eq!(b.admit(t(62)), Admission::Probe, "a probe never answered (its caller gave up) is replaced after the wait");
        b.failure(t(63));
        assert_eq!(b.admit(t(70)), Admission::Refused { until: t(93) });
        assert_eq!(b.admit(t(93)), Admission::Probe);
        b.success();
        assert_eq!(b.admit(t(94)), Admission::Allowed);
        assert_eq!(b.state(), State::Closed { failures: 0 });
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let mut b = Breaker::new(2, SignedDuration::from_secs(5));
        b.failure(t(0));
        b.success();
        b.failure(t(1));
        assert_eq!(b.admit(t(1)), Admission::Allowed);
    }
}
