//! Institution health ports (SPEC OP2, BK2, BK5; issue 13 point 6; ADR 0018):
//! what the connectors measure of each (institution, channel) on this node,
//! and the maintenance calendar an admin keeps in the database.
//!
//! The connectors serve [`InstitutionHealth`]: figures of this node only
//! (each node has its own executor), and the calendar it enforces, handed to
//! it by the core ([`InstitutionHealth::set_schedule`]) after every change and
//! on a periodic reload, so the hot path never reads the database.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::{MaintenanceId, OperatorId};
use jiff::Timestamp;
use serde::Serialize;

/// A scheduled maintenance window, as stored. `channel: None` covers every
/// channel of the institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintenanceWindow {
    pub id: MaintenanceId,
    /// As the connectors name it: `sms`, `face`, `registry`, `witness`, `bank:ICBC`.
    pub institution: String,
    /// `card_switch`, `direct`, … or every channel.
    pub channel: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// What the admin said of it (shown on the health page).
    pub note: String,
    pub created_by: OperatorId,
    pub created_at: Timestamp,
    /// Set when an admin cancelled it; a cancelled window refuses nothing.
    pub cancelled_at: Option<Timestamp>,
}

impl MaintenanceWindow {
    /// Whether it refuses calls to `institution` over `channel` at `now`.
    pub fn covers(&self, institution: &str, channel: &str, now: Timestamp) -> bool {
        self.cancelled_at.is_none()
            && self.institution == institution
            && self.channel.as_deref().is_none_or(|c| c == channel)
            && self.starts_at <= now
            && now < self.ends_at
    }
}

#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    async fn insert_maintenance(&self, w: &MaintenanceWindow, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Cancels the window if it is not cancelled yet; false if there was nothing to cancel.
    async fn cancel_maintenance(&self, id: &MaintenanceId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn maintenance(&self, id: &MaintenanceId) -> Result<Option<MaintenanceWindow>, StoreError>;
    /// Windows not cancelled that end after `after`, soonest first, at most `limit`.
    async fn maintenance_ending_after(&self, after: Timestamp, limit: u32) -> Result<Vec<MaintenanceWindow>, StoreError>;
}

/// A circuit breaker's state, in the terms the health page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerView {
    /// Calls pass; `failures` consecutive outages so far.
    Closed { failures: u32 },
    /// Calls are refused without touching the network until `until`.
    Open { until: Timestamp },
    /// One probe call is on its way; its outcome closes or reopens the circuit.
    HalfOpen,
}

/// A bank's traffic moved from one channel to the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failover {
    pub at: Timestamp,
    pub from: String,
    pub to: String,
    /// Why the first channel could not serve the call: `circuit_open`, `maintenance`, `timeout`,
    /// `unreachable`, `http_error`, `protocol_error` or `not_configured`.
    pub reason: &'static str,
    /// For `maintenance`: its expected end, if known.
    pub maintenance_until: Option<Timestamp>,
}

/// One (institution, channel) as this node sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelHealth {
    pub institution: String,
    pub channel: String,
    /// Calls measured in the rolling window (see `window_secs`, at most a fixed number of calls).
    pub calls: u32,
    /// Of which the institution could not serve (timeouts, transport errors, 5xx, maintenance).
    pub errors: u32,
    /// Median and 99th percentile latency in the window, milliseconds; none without calls.
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub breaker: BreakerView,
    /// The end of a maintenance the institution announced (503 with `Retry-After`), while it lasts.
    pub announced_until: Option<Timestamp>,
    /// The last failover away from this channel (banks only).
    pub last_failover: Option<Failover>,
    /// The last call's instant.
    pub last_call_at: Option<Timestamp>,
}

impl ChannelHealth {
    /// Errors over calls, 0 to 1 (0 without calls).
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { f64::from(self.errors) / f64::from(self.calls) }
    }
}

/// What the connectors measure, per node.
pub trait InstitutionHealth: Send + Sync {
    /// Every (institution, channel) this node knows, called or not, sorted.
    fn channels(&self) -> Vec<ChannelHealth>;
    /// The rolling window's length, seconds, and its cap in calls.
    fn window(&self) -> (u64, u32);
    /// The scheduled windows the connectors refuse calls during (replaces the previous set).
    fn set_schedule(&self, windows: Vec<MaintenanceWindow>);
}
