//! The transactional outbox (SPEC P3, TP3; ADR 0009; `docs/outbox.md`).
//!
//! An event that must reach someone (today an SMS telling a user about their
//! card; tomorrow webhooks and security events) is never sent from the
//! request that causes it: the store writes it ([`NewEvent`]) in the
//! transaction of the change, so the change and the event commit or vanish
//! together. Workers on every node claim the due events
//! ([`OutboxStore::claim_outbox`]: `FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! the single writer on SQLite) and deliver each at least once
//! ([`Deliverer`]); receivers deduplicate by the event id. The claim counts
//! the attempt, so a worker that dies during delivery still uses one up. A
//! failed attempt is retried with exponential backoff and jitter
//! ([`backoff`]); after the last one (or a claim that finds the attempts
//! spent) the event is parked as dead, for an operator to list and retry
//! ([`retry`]). Payloads are sealed under the vault's outbox key; a user's
//! phone is read (and the read audited) only when the SMS is sent.

use crate::audit::AuditEntry;
use crate::clock::Clock;
use crate::error::CoreError;
use crate::ports::{StoreError, UserStore};
use crate::users::Caller;
use crate::vault::Vault;
use async_trait::async_trait;
use idlink_crypto::Random;
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// An SMS to a user's phone; the payload is a [`UserMessage`].
pub const USER_SMS: &str = "user.sms";

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
    pub id: String,
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
    pub id: String,
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
    async fn settle_outbox(&self, id: &str, token: &str, at: Timestamp, settlement: &Settlement) -> Result<bool, StoreError>;
    async fn outbox_item(&self, id: &str) -> Result<Option<OutboxItem>, StoreError>;
    /// Events in `listing`, oldest first, at most `limit`.
    async fn outbox_items(&self, listing: Listing, limit: u32) -> Result<Vec<OutboxItem>, StoreError>;
    /// Makes a dead event (or a pending one no worker holds) due at `now`
    /// with a fresh count of attempts, appending `audit` in the same
    /// transaction. False if there is no such event.
    async fn retry_outbox_item(&self, id: &str, now: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// Deletes delivered events finished before `before`; returns how many (at most `limit`).
    async fn purge_delivered_outbox(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
}

/// The payload of a [`USER_SMS`] event: the message, and who caused it, for
/// the audited read of the phone at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMessage {
    pub template: String,
    pub params: Vec<(String, String)>,
    /// Who caused the message (`bank:ICBC`, `user:usr_…`).
    pub actor: String,
    pub purpose: String,
    pub request_id: Option<RequestId>,
}

fn context(id: &str, kind: &str) -> String {
    format!("outbox.payload:{kind}:{id}")
}

/// A new event id (`evt_` and 32 hex digits).
pub fn new_event_id(rng: &dyn Random) -> String {
    format!("evt_{}", hex::encode(rng.bytes16()))
}

/// Seals a payload under the vault's outbox key, bound to the event's id and kind.
pub fn seal_payload(vault: &Vault, id: &str, kind: &str, clear: &[u8]) -> Result<Vec<u8>, CoreError> {
    vault.seal(vault.outbox_key(), &context(id, kind), clear)
}

pub fn open_payload(vault: &Vault, item: &OutboxItem) -> Result<Vec<u8>, CoreError> {
    Ok(vault.outbox_key().open(&context(&item.id, &item.kind), &item.payload)?)
}

/// An SMS to `user`, to write with the change that causes it.
pub fn user_sms(vault: &Vault, at: Timestamp, user: &UserId, message: &UserMessage) -> Result<NewEvent, CoreError> {
    let id = new_event_id(vault.rng());
    let clear = serde_json::to_vec(message).map_err(|e| StoreError::Corrupt(format!("an outbox payload: {e}")))?;
    let payload = seal_payload(vault, &id, USER_SMS, &clear)?;
    Ok(NewEvent { id, kind: USER_SMS.to_owned(), subject: Some(user.clone()), payload, at })
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

/// `[outbox]`: attempts, backoff and claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Attempts before an event is parked as dead.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles with each one.
    pub backoff_base: SignedDuration,
    pub backoff_max: SignedDuration,
    /// How long a worker holds the events it claimed; past it (the worker died) another takes them.
    pub claim_for: SignedDuration,
    /// Events claimed at once.
    pub batch: u32,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            backoff_base: SignedDuration::from_secs(2),
            backoff_max: SignedDuration::from_mins(15),
            claim_for: SignedDuration::from_secs(60),
            batch: 16,
        }
    }
}

/// The wait after the `attempts`-th failed attempt: `base · 2^(attempts−1)`,
/// capped at `max`, of which half is fixed and half drawn at random ("equal
/// jitter"), so the events a shared outage failed do not all return at once.
pub fn backoff(policy: &OutboxPolicy, attempts: u32, rng: &dyn Random) -> SignedDuration {
    let base = policy.backoff_base.as_micros().max(1);
    let max = policy.backoff_max.as_micros().max(base);
    let exp = attempts.saturating_sub(1).min(40);
    let full = base.saturating_mul(1i128 << exp).min(max);
    let half = full / 2;
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    let jitter = i128::from(u64::from_le_bytes(b)) % (full - half + 1);
    SignedDuration::from_micros(i64::try_from(half + jitter).unwrap_or(i64::MAX))
}

/// What one [`Deliverer::round`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    /// Claimed but not attempted, because the claim was about to lapse.
    pub released: usize,
    /// Attempted, but the claim had lapsed and another worker had taken the event.
    pub lost: usize,
}

/// Delivers the outbox's events (one worker per node; see `docs/outbox.md`).
pub struct Deliverer<'a> {
    pub store: &'a dyn OutboxStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub notifier: &'a dyn Notifier,
    pub policy: &'a OutboxPolicy,
    /// This node's name, recorded in the claims.
    pub holder: &'a str,
}

impl Deliverer<'_> {
    /// Claims one batch of due events and attempts each. Errors only when
    /// the claim itself fails; an attempt's failure is recorded on its event.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let now = self.clock.now();
        let token = hex::encode(self.vault.rng().bytes16());
        let until = now.checked_add(self.policy.claim_for).unwrap_or(now);
        let max_attempts = self.policy.max_attempts.max(1);
        let claim = Claim { holder: self.holder, token: &token, now, until, limit: self.policy.batch.max(1), max_attempts };
        let items = self.store.claim_outbox(&claim).await?;
        // An attempt started this close to the lapse could still be running
        // when another worker takes the event again: leave it to the next round.
        let margin = self.policy.claim_for.checked_div(4).unwrap_or(SignedDuration::ZERO);
        let last_start = until.checked_sub(margin).unwrap_or(until);
        let mut round = Round { claimed: items.iter().filter(|i| i.state == OutboxState::Pending).count(), ..Round::default() };
        for item in &items {
            if item.state == OutboxState::Dead {
                round.dead += 1;
                metrics::counter!("idlink_outbox_dead_letters_total", "kind" => item.kind.clone()).increment(1);
                tracing::warn!(event = %item.id, kind = %item.kind, error = item.last_error.as_deref().unwrap_or(""), "outbox event parked as dead; `idlink outbox retry` sends it again");
                continue;
            }
            let settlement = if self.clock.now() >= last_start { Settlement::Release } else { self.attempt(item).await };
            match &settlement {
                Settlement::Delivered => round.delivered += 1,
                Settlement::Retry { .. } => round.retried += 1,
                Settlement::Dead { .. } => round.dead += 1,
                Settlement::Release => round.released += 1,
            }
            match self.store.settle_outbox(&item.id, &token, self.clock.now(), &settlement).await {
                Ok(true) => {}
                Ok(false) => {
                    round.lost += 1;
                    tracing::warn!(event = %item.id, "an outbox claim lapsed during its attempt; another worker holds the event now");
                }
                // The claim lapses and the event is attempted again (at least once).
                Err(e) => {
                    tracing::warn!(event = %item.id, error = %e, "recording an outbox attempt failed; the event will be attempted again")
                }
            }
        }
        Ok(round)
    }

    /// One attempt, and what to record of it.
    async fn attempt(&self, item: &OutboxItem) -> Settlement {
        let kind = item.kind.clone();
        // Counted by the claim.
        let attempt = item.attempts.max(1);
        let outcome = match item.kind.as_str() {
            USER_SMS => self.user_sms(item).await,
            other => Err(DeliveryError::Permanent(format!("no deliverer for events of kind `{other}`"))),
        };
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                metrics::counter!("idlink_outbox_deliveries_total", "kind" => kind).increment(1);
                Settlement::Delivered
            }
            Err(e) => {
                metrics::counter!("idlink_outbox_failures_total", "kind" => kind.clone()).increment(1);
                let last = matches!(e, DeliveryError::Permanent(_)) || attempt >= self.policy.max_attempts;
                if last {
                    metrics::counter!("idlink_outbox_dead_letters_total", "kind" => kind).increment(1);
                    let error = format!("attempt {attempt} of {}: {e}", self.policy.max_attempts);
                    tracing::warn!(event = %item.id, kind = %item.kind, %error, "outbox event parked as dead; `idlink outbox retry` sends it again");
                    Settlement::Dead { error }
                } else {
                    let wait = backoff(self.policy, attempt, self.vault.rng());
                    tracing::info!(event = %item.id, kind = %item.kind, attempt, retry_in_ms = wait.as_millis(), error = %e, "outbox delivery failed; will retry");
                    Settlement::Retry { at: now.checked_add(wait).unwrap_or(now), error: format!("attempt {attempt}: {e}") }
                }
            }
        }
    }

    async fn user_sms(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let clear = open_payload(self.vault, item).map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
        let message: UserMessage =
            serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a user message: {e}")))?;
        let user = item.subject.as_ref().ok_or_else(|| DeliveryError::Permanent("the event names no user".into()))?;
        let caller = Caller { actor: message.actor.clone(), request_id: message.request_id.clone(), purpose: message.purpose.clone() };
        let phone = crate::users::user_phone(self.users, self.vault, self.clock, &caller, user).await.map_err(|e| match e {
            CoreError::Store(StoreError::Unavailable(d)) => DeliveryError::Retry(format!("the user's phone cannot be read now: {d}")),
            CoreError::NotFound => DeliveryError::Permanent("the user no longer exists".into()),
            CoreError::Shredded => DeliveryError::Permanent("the user's data was deleted (data key shredded)".into()),
            other => DeliveryError::Permanent(format!("the user's phone cannot be read: {other}")),
        })?;
        let params: Vec<(&str, &str)> = message.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.notifier.notify(&phone, &message.template, &params, &item.id).await
    }
}

/// What an operator's retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Due now, with a fresh count of attempts.
    Retried(Box<OutboxItem>),
    NotFound,
    AlreadyDelivered,
    /// A worker is attempting it now.
    InFlight,
}

/// Sends a dead (or waiting) event again now, audited as `actor`.
pub async fn retry(store: &dyn OutboxStore, clock: &dyn Clock, actor: &str, id: &str) -> Result<RetryOutcome, StoreError> {
    let Some(item) = store.outbox_item(id).await? else { return Ok(RetryOutcome::NotFound) };
    let now = clock.now();
    match item.state {
        OutboxState::Delivered => return Ok(RetryOutcome::AlreadyDelivered),
        OutboxState::Pending if item.in_flight && item.due_at > now => return Ok(RetryOutcome::InFlight),
        OutboxState::Pending | OutboxState::Dead => {}
    }
    let mut audit = AuditEntry::new(actor, "outbox.retry", format!("an operator sent {} event {id} again", item.kind), now);
    audit.subject = item.subject.as_ref().map(ToString::to_string);
    if !store.retry_outbox_item(id, now, &audit).await? {
        return Ok(RetryOutcome::InFlight);
    }
    Ok(match store.outbox_item(id).await? {
        Some(item) => RetryOutcome::Retried(Box::new(item)),
        None => RetryOutcome::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::random::SeededRandom;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_half_of_it_random() {
        let policy = OutboxPolicy {
            backoff_base: SignedDuration::from_secs(2),
            backoff_max: SignedDuration::from_secs(60),
            ..OutboxPolicy::default()
        };
        let rng = SeededRandom::new(7);
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (30, 60), (u32::MAX, 60)] {
            let full = SignedDuration::from_secs(full);
            let waits: Vec<SignedDuration> = (0..200).map(|_| backoff(&policy, attempt, &rng)).collect();
            assert!(waits.iter().all(|w| *w >= full / 2 && *w <= full), "attempt {attempt}: {waits:?}");
            // Jittered: the waits after one outage differ.
            let distinct: std::collections::BTreeSet<i128> = waits.iter().map(|w| w.as_micros()).collect();
            assert!(distinct.len() > 100, "attempt {attempt}: {} distinct waits", distinct.len());
        }
    }

    #[test]
    fn backoff_follows_the_injected_randomness() {
        let policy = OutboxPolicy::default();
        let a: Vec<_> = (1..8).map(|n| backoff(&policy, n, &SeededRandom::new(1))).collect();
        let b: Vec<_> = (1..8).map(|n| backoff(&policy, n, &SeededRandom::new(1))).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn states_round_trip() {
        for s in [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead] {
            assert_eq!(OutboxState::parse(s.as_str()), Some(s));
        }
        assert_eq!(OutboxState::parse("lost"), None);
    }
}
