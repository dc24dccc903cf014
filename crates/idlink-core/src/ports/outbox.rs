//! Outbox ports (SPEC P3, TP3; ADR 0009): events as stored, claims and
//! settlements, and the notifier that delivers them.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::{EventId, PhoneNumber, UserId};
use jiff::Timestamp;
use serde::Serialize;

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its next attempt, or being attempted.
    Pending,
    Delivered,
    /// Every attempt failed (or one failed for good): waits for an operator's `idlink outbox retry`.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead].into_iter().find(|v| v.as_str() == s)
    }
}

/// An event to write with the change that causes it; due at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `evt_…`: receivers deduplicate by it (the SMS gateway's `client_ref`).
    pub id: EventId,
    pub kind: String,
    /// The user the event concerns.
    pub subject: Option<UserId>,
    /// Sealed under the vault's outbox key ([`seal_payload`]).
    pub payload: Vec<u8>,
    pub at: Timestamp,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxItem {
    pub id: EventId,
    pub kind: String,
    pub subject: Option<UserId>,
    pub state: OutboxState,
    pub created_at: Timestamp,
    /// The next attempt; while a worker holds the event, when its claim lapses.
    pub due_at: Timestamp,
    /// Attempts started so far: each claim counts one (a release gives it back).
    pub attempts: u32,
    /// Why the last failed attempt failed (never personal data).
    pub last_error: Option<String>,
    /// The node that claimed it last.
    pub claimed_by: Option<String>,
    /// Claimed and not settled yet (a claim past `due_at` has lapsed: its worker died).
    pub in_flight: bool,
    /// When it was delivered or parked as dead.
    pub finished_at: Option<Timestamp>,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// One worker's claim on a batch of due events.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The node, for `claimed_by`.
    pub holder: &'a str,
    /// Random per claim: settling needs it, so a worker whose claim lapsed
    /// and was taken again cannot overwrite the new attempt's outcome.
    pub token: &'a str,
    pub now: Timestamp,
    /// The claim lapses then: another worker may take the events again.
    pub until: Timestamp,
    pub limit: u32,
    /// An event that has had this many attempts is not taken again: the
    /// claim parks it as dead (its last attempt never settled).
    pub max_attempts: u32,
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Delivered,
    /// Failed; attempt again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Failed for good, or on the last attempt: parked for an operator.
    Dead {
        error: String,
    },
    /// Not attempted (the claim was about to lapse): due again now, no attempt counted.
    Release,
}

/// Which events [`OutboxStore::outbox_items`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Pending and dead.
    Undelivered,
    Dead,
}

/// How many events wait, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub dead: u64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Writes events in a transaction of their own, for events no other change causes.
    /// (Events caused by a change are written by that change's store call.)
    async fn enqueue_outbox(&self, events: &[NewEvent]) -> Result<(), StoreError>;
    /// Takes up to `limit` pending events due at `now`, oldest due first,
    /// skipping those another worker is taking at this moment, and counts an
    /// attempt on each; they stay this claim's until `until`. Due events
    /// that already had `max_attempts` attempts (the last one's worker died)
    /// are parked as dead instead, and returned too, in state `dead`.
    async fn claim_outbox(&self, claim: &Claim<'_>) -> Result<Vec<OutboxItem>, StoreError>;
    /// Whether any pending event is due at `now` (a read, for idle polling).
    async fn outbox_due(&self, now: Timestamp) -> Result<bool, StoreError>;
    /// Records an attempt's outcome if `token` still holds the claim (the
    /// claim counted the attempt; a release uncounts it); false (nothing
    /// recorded) if the claim lapsed and another worker took the event.
    async fn settle_outbox(&self, id: &EventId, token: &str, at: Timestamp, settlement: &Settlement) -> Result<bool, StoreError>;
    async fn outbox_item(&self, id: &EventId) -> Result<Option<OutboxItem>, StoreError>;
    /// Events in `listing`, oldest first, at most `limit`.
    async fn outbox_items(&self, listing: Listing, limit: u32) -> Result<Vec<OutboxItem>, StoreError>;
    /// Makes a dead event (or a pending one no worker holds) due at `now`
    /// with a fresh count of attempts, appending `audit` in the same
    /// transaction. False if there is no such event.
    async fn retry_outbox_item(&self, id: &EventId, now: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// Deletes delivered events finished before `before`; returns how many (at most `limit`).
    async fn purge_delivered_outbox(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another attempt later (an outage, a timeout, an open circuit).
    #[error("{0}")]
    Retry(String),
    /// No later attempt can succeed (the gateway refused the message, the user is gone).
    #[error("{0}")]
    Permanent(String),
}

/// Sends a message to a phone (the SMS gateway). The gateway deduplicates by
/// `event_id`, so an event delivered twice (a worker died after sending) is
/// received once.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, to: &PhoneNumber, template: &str, params: &[(&str, &str)], event_id: &str) -> Result<(), DeliveryError>;
}
