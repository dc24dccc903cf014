//! What the executor knows of each (institution, channel): its circuit
//! breaker, and the measurements the health page shows (SPEC OP2; ADR 0018).
//!
//! Measurements are a rolling window per channel: the calls of the last
//! [`WINDOW`] (5 minutes), at most [`WINDOW_CALLS`] (256) of them, each an
//! instant, a latency and whether the institution served it. Memory is
//! bounded (a ring of 256 small samples per channel); the hot path takes one
//! read lock on the map (no allocation: the map is keyed institution, then
//! channel) and the channel's own mutex twice (admission, then outcome).
//! Error rate and percentiles are computed only when someone reads them.
//! Besides: the maintenance the institution itself announced (a 503 with
//! `Retry-After`, until its expected end) and the last failover away from
//! the channel. All of it is per node: each node has its own executor.
//!
//! The scheduled maintenance calendar (kept in the database, handed over by
//! the core) is also held here, so that the executor can refuse a call in a
//! scheduled window without calling the institution.

use crate::breaker::{Admission, Breaker, State};
use idlink_core::institutions::expected_end;
use idlink_core::ports::institutions::{BreakerView, ChannelHealth, Failover, MaintenanceWindow};
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How far back the figures look.
pub const WINDOW: SignedDuration = SignedDuration::from_mins(5);
/// At most this many calls per channel are kept (the most recent).
pub const WINDOW_CALLS: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Timestamp,
    latency_us: u64,
    /// Whether the institution served it: a business refusal is served; an
    /// outage or an answer that cannot be used (protocol error) is not.
    served: bool,
}

/// One channel's breaker and measurements, behind its own mutex.
#[derive(Debug)]
pub(crate) struct ChannelState {
    pub(crate) breaker: Breaker,
    samples: VecDeque<Sample>,
    announced_until: Option<Timestamp>,
    last_failover: Option<Failover>,
}

impl ChannelState {
    fn new(breaker: Breaker) -> Self {
        Self { breaker, samples: VecDeque::with_capacity(WINDOW_CALLS), announced_until: None, last_failover: None }
    }

    pub(crate) fn admit(&mut self, now: Timestamp) -> Admission {
        self.breaker.admit(now)
    }

    /// Records a call's outcome: `announced` is the end of a maintenance the institution announced.
    pub(crate) fn record(&mut self, at: Timestamp, latency: Duration, served: bool, announced: Option<Timestamp>) {
        if self.samples.len() == WINDOW_CALLS {
            self.samples.pop_front();
        }
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.samples.push_back(Sample { at, latency_us, served });
        match announced {
            Some(until) => self.announced_until = Some(until),
            None if served => self.announced_until = None,
            None => {}
        }
    }

    fn view(&self, institution: &str, channel: &str, now: Timestamp) -> ChannelHealth {
        let since = now.checked_sub(WINDOW).unwrap_or(now);
        let recent: Vec<&Sample> = self.samples.iter().filter(|s| s.at > since && s.at <= now).collect();
        let mut latencies: Vec<u64> = recent.iter().map(|s| s.latency_us).collect();
        latencies.sort_unstable();
        let calls = u32::try_from(recent.len()).unwrap_or(u32::MAX);
        let errors = u32::try_from(recent.iter().filter(|s| !s.served).count()).unwrap_or(u32::MAX);
        ChannelHealth {
            institution: institution.to_owned(),
            channel: channel.to_owned(),
            calls,
            errors,
            p50_ms: percentile_ms(&latencies, 50),
            p99_ms: percentile_ms(&latencies, 99),
            breaker: match self.breaker.state() {
                State::Closed { failures } => BreakerView::Closed { failures },
                State::Open { until } => BreakerView::Open { until },
                State::HalfOpen { .. } => BreakerView::HalfOpen,
            },
            announced_until: self.announced_until.filter(|u| *u > now),
            last_failover: self.last_failover.clone(),
            last_call_at: self.samples.back().map(|s| s.at),
        }
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds (rounded up, so a call is never shown as 0 ms).
fn percentile_ms(sorted_us: &[u64], p: usize) -> Option<u64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = (p * sorted_us.len()).div_ceil(100).max(1);
    sorted_us.get(rank - 1).map(|us| us.div_ceil(1000))
}

type Channels = HashMap<String, HashMap<String, Arc<Mutex<ChannelState>>>>;

/// Every channel's state, and the scheduled maintenance calendar.
#[derive(Debug)]
pub struct HealthBook {
    channels: RwLock<Channels>,
    failure_threshold: u32,
    open_for: SignedDuration,
    schedule: RwLock<Arc<Vec<MaintenanceWindow>>>,
    /// Whether any window is scheduled: with none, the hot path does not look.
    any_scheduled: AtomicBool,
}

impl HealthBook {
    pub fn new(failure_threshold: u32, open_for: SignedDuration) -> Self {
        Self {
            channels: RwLock::new(HashMap::new()),
            failure_threshold,
            open_for,
            schedule: RwLock::new(Arc::new(Vec::new())),
            any_scheduled: AtomicBool::new(false),
        }
    }

    /// The channel's state, created on first use.
    pub(crate) fn channel(&self, institution: &str, channel: &str) -> Arc<Mutex<ChannelState>> {
        {
            let map = self.channels.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = map.get(institution).and_then(|m| m.get(channel)) {
                return c.clone();
            }
        }
        let mut map = self.channels.write().unwrap_or_else(|p| p.into_inner());
        map.entry(institution.to_owned())
            .or_default()
            .entry(channel.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(ChannelState::new(Breaker::new(self.failure_threshold, self.open_for)))))
            .clone()
    }

    pub(crate) fn with<R>(&self, institution: &str, channel: &str, f: impl FnOnce(&mut ChannelState) -> R) -> R {
        let c = self.channel(institution, channel);
        let mut state = c.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// Notes that traffic left `from` for `to`.
    pub fn failover(&self, institution: &str, from: &str, to: &str, why: (&'static str, Option<Timestamp>), at: Timestamp) {
        let (reason, maintenance_until) = why;
        let f = Failover { at, from: from.to_owned(), to: to.to_owned(), reason, maintenance_until };
        self.with(institution, from, |c| c.last_failover = Some(f));
    }

    /// Every channel, sorted by institution then channel.
    pub fn views(&self, now: Timestamp) -> Vec<ChannelHealth> {
        let map = self.channels.read().unwrap_or_else(|p| p.into_inner());
        let sorted: BTreeMap<(&String, &String), &Arc<Mutex<ChannelState>>> =
            map.iter().flat_map(|(i, m)| m.iter().map(move |(c, s)| ((i, c), s))).collect();
        sorted.into_iter().map(|((i, c), s)| s.lock().unwrap_or_else(|p| p.into_inner()).view(i, c, now)).collect()
    }

    pub fn set_schedule(&self, windows: Vec<MaintenanceWindow>) {
        self.any_scheduled.store(!windows.is_empty(), Ordering::Release);
        *self.schedule.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(windows);
    }

    /// When a call refused now by a scheduled window is served again, if one
    /// refuses it (the core's [`expected_end`], as the health page shows it).
    pub fn scheduled(&self, institution: &str, channel: &str, now: Timestamp) -> Option<Timestamp> {
        if !self.any_scheduled.load(Ordering::Acquire) {
            return None;
        }
        let windows = self.schedule.read().unwrap_or_else(|p| p.into_inner()).clone();
        expected_end(&windows, institution, channel, now)
    }
}

/// Why a channel could not serve (a code the health page words), and a maintenance's end.
pub fn failover_reason(e: &crate::executor::CallError) -> (&'static str, Option<jiff::Timestamp>) {
    match e {
        crate::executor::CallError::CircuitOpen { .. } => ("circuit_open", None),
        crate::executor::CallError::Maintenance { expected_end, .. } => ("maintenance", *expected_end),
        crate::executor::CallError::Timeout { .. } => ("timeout", None),
        crate::executor::CallError::Transport { .. } => ("unreachable", None),
        crate::executor::CallError::Status { .. } => ("http_error", None),
        crate::executor::CallError::Protocol { .. } => ("protocol_error", None),
        crate::executor::CallError::Config(_) => ("not_configured", None),
    }
}

/// The core's view of this node's figures, served by the one executor.
impl idlink_core::ports::institutions::InstitutionHealth for crate::executor::Executor {
    fn channels(&self) -> Vec<ChannelHealth> {
        self.health().views(self.now())
    }

    fn window(&self) -> (u64, u32) {
        (u64::try_from(WINDOW.as_secs()).unwrap_or(0), u32::try_from(WINDOW_CALLS).unwrap_or(u32::MAX))
    }

    fn set_schedule(&self, windows: Vec<MaintenanceWindow>) {
        self.health().set_schedule(windows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn percentiles_are_nearest_rank_and_old_calls_leave_the_window() {
        let book = HealthBook::new(5, SignedDuration::from_secs(30));
        for ms in 1..=100u64 {
            book.with("sms", "gateway", |c| c.record(t(1000), Duration::from_millis(ms), ms % 10 != 0, None));
        }
        let v = &book.views(t(1000))[0];
        assert_eq!((v.calls, v.errors, v.p50_ms, v.p99_ms), (100, 10, Some(50), Some(99)));
        assert!((v.error_rate() - 0.1).abs() < 1e-9);
        let later = &book.views(t(1000 + 301))[0];
        assert_eq!((later.calls, later.p50_ms), (0, None), "five minutes later nothing is in the window");
    }

    #[test]
    fn the_ring_keeps_the_most_recent_calls_only() {
        let book = HealthBook::new(5, SignedDuration::from_secs(30));
        for i in 0..(WINDOW_CALLS as i64 + 44) {
            book.with("face", "provider", |c| c.record(t(1000 + i / 100), Duration::from_millis(1), i >= 44, None));
        }
        let v = &book.views(t(1010))[0];
        assert_eq!((v.calls, v.errors), (WINDOW_CALLS as u32, 0), "the 44 first (failed) calls were dropped");
    }

    #[test]
    fn an_announced_maintenance_lasts_until_its_end_or_a_served_call() {
        let book = HealthBook::new(5, SignedDuration::from_secs(30));
        book.with("registry", "main", |c| c.record(t(0), Duration::from_millis(3), false, Some(t(600))));
        assert_eq!(book.views(t(10))[0].announced_until, Some(t(600)));
        assert_eq!(book.views(t(600))[0].announced_until, None, "over at its end");
        book.with("registry", "main", |c| c.record(t(20), Duration::from_millis(3), true, None));
        assert_eq!(book.views(t(30))[0].announced_until, None);
    }
}
