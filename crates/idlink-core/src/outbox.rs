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

use crate::events::deliver::{EventDelivery, Outcome};
use crate::events::event_backoff;
use crate::events::fanout::fan_out;
use crate::ports::events::{AttemptRecord, Channel, LIFECYCLE};
use crate::ports::outbox::{Claim, DeliveryError, Notifier, OutboxItem, OutboxState, OutboxStore, Settlement};
use crate::steps::notices::{USER_SMS, UserMessage};
use crate::steps::paging::{BreachPage, PAGE_TEMPLATE, REVIEW_SLA_BREACHED, open_phone};

use crate::ports::keys::KeyStore;
use crate::ports::operators::OperatorStore;

use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::users::UserStore;
use crate::ports::{Rng, StoreError};
use crate::steps::notices::open_payload;
use crate::steps::personal::{Unreadable, read_phone};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::EventId;
use jiff::SignedDuration;

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
pub fn backoff(policy: &OutboxPolicy, attempts: u32, rng: &dyn Rng) -> SignedDuration {
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
    /// The operators paged about SLA breaches, and the key store their phones' key is in.
    pub operators: &'a dyn OperatorStore,
    pub keys: &'a dyn KeyStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub notifier: &'a dyn Notifier,
    pub policy: &'a OutboxPolicy,
    /// This node's name, recorded in the claims.
    pub holder: &'a str,
    /// Security events: the lifecycle fan-out and the deliveries to apps.
    pub events: &'a EventDelivery<'a>,
    /// The host's stores: the wallet is told an account's payment limits.
    pub hosts: &'a dyn crate::ports::host_stores::HostStores,
}

impl Deliverer<'_> {
    /// Claims one batch of due events and attempts them, up to
    /// `events.concurrency` at once (a slow receiver must not hold up the
    /// others). Errors only when the claim itself fails; an attempt's failure
    /// is recorded on its event.
    pub async fn round(&self) -> Result<Round, StoreError> {
        use futures::StreamExt;
        let now = self.clock.now();
        let token = self.ids.claim_token();
        let until = now.checked_add(self.policy.claim_for).unwrap_or(now);
        // Events follow their own, longer schedule (plan §5.5).
        let event_attempts = u32::try_from(self.events.settings.schedule.len()).unwrap_or(u32::MAX).saturating_add(1);
        let max_attempts = self.policy.max_attempts.max(event_attempts).max(1);
        let claim = Claim { holder: self.holder, token: &token, now, until, limit: self.policy.batch.max(1), max_attempts };
        let items = self.store.claim_outbox(&claim).await?;
        // An attempt started this close to the lapse could still be running
        // when another worker takes the event again: leave it to the next round.
        let margin = self.policy.claim_for.checked_div(4).unwrap_or(SignedDuration::ZERO);
        let last_start = until.checked_sub(margin).unwrap_or(until);
        let mut round = Round { claimed: items.iter().filter(|i| i.state == OutboxState::Pending).count(), ..Round::default() };
        let mut pending = Vec::new();
        for item in &items {
            if item.state == OutboxState::Dead {
                round.dead += 1;
                metrics::counter!("idlink_outbox_dead_letters_total", "kind" => item.kind.clone()).increment(1);
                tracing::warn!(event = %item.id, kind = %item.kind, error = item.last_error.as_deref().unwrap_or(""), "outbox event parked as dead; `idlink outbox retry` sends it again");
                continue;
            }
            pending.push(item);
        }
        // Bounded concurrency: a finished attempt makes room for the next.
        let token = token.as_str();
        let mut queue = pending.into_iter();
        let mut running = futures::stream::FuturesUnordered::new();
        for item in queue.by_ref().take(self.events.settings.concurrency.max(1)) {
            running.push(self.attempt_and_settle(item, token, last_start));
        }
        let mut outcomes = Vec::new();
        while let Some(outcome) = running.next().await {
            outcomes.push(outcome);
            if let Some(item) = queue.next() {
                running.push(self.attempt_and_settle(item, token, last_start));
            }
        }
        for (settlement, held) in outcomes {
            match settlement {
                Settlement::Delivered => round.delivered += 1,
                Settlement::Retry { .. } => round.retried += 1,
                Settlement::Dead { .. } => round.dead += 1,
                Settlement::Release => round.released += 1,
            }
            if !held {
                round.lost += 1;
            }
        }
        Ok(round)
    }

    /// One attempt and its settlement; whether the claim still held.
    async fn attempt_and_settle(&self, item: &OutboxItem, token: &str, last_start: jiff::Timestamp) -> (Settlement, bool) {
        let (settlement, record) = if self.clock.now() >= last_start { (Settlement::Release, None) } else { self.attempt(item).await };
        let settled = match &record {
            Some(record) => self.events.store.settle_delivery(&item.id, token, self.clock.now(), &settlement, Some(record)).await,
            None => self.store.settle_outbox(&item.id, token, self.clock.now(), &settlement).await,
        };
        let held = match settled {
            Ok(held) => held,
            // The claim lapses and the event is attempted again (at least once).
            Err(e) => {
                tracing::warn!(event = %item.id, error = %e, "recording an outbox attempt failed; the event will be attempted again");
                true
            }
        };
        if !held {
            tracing::warn!(event = %item.id, "an outbox claim lapsed during its attempt; another worker holds the event now");
        }
        (settlement, held)
    }

    /// One attempt, what to record of it, and for an event delivered to an
    /// app the attempt record for its receipt.
    async fn attempt(&self, item: &OutboxItem) -> (Settlement, Option<AttemptRecord>) {
        if Channel::of_kind(&item.kind).is_some() {
            return self.deliver_event(item).await;
        }
        let kind = item.kind.clone();
        // Counted by the claim.
        let attempt = item.attempts.max(1);
        let outcome = match item.kind.as_str() {
            USER_SMS => self.user_sms(item).await,
            REVIEW_SLA_BREACHED => self.page_operators(item).await,
            crate::revocation::HOST_PAYMENT_LIMITS => self.publish_limits(item).await,
            LIFECYCLE => fan_out(self.events.store, self.vault, item).await.map(|n| {
                tracing::debug!(event = %item.id, children = n, "lifecycle event fanned out");
            }),
            other => Err(DeliveryError::Permanent(format!("no deliverer for events of kind `{other}`"))),
        };
        let now = self.clock.now();
        let settlement = match outcome {
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
                    let wait = backoff(self.policy, attempt, self.rng);
                    tracing::info!(event = %item.id, kind = %item.kind, attempt, retry_in_ms = wait.as_millis(), error = %e, "outbox delivery failed; will retry");
                    Settlement::Retry { at: now.checked_add(wait).unwrap_or(now), error: format!("attempt {attempt}: {e}") }
                }
            }
        };
        (settlement, None)
    }

    /// One attempt at a child event, settled on the events' schedule.
    async fn deliver_event(&self, item: &OutboxItem) -> (Settlement, Option<AttemptRecord>) {
        let attempt = item.attempts.max(1);
        let started_at = self.clock.now();
        let timer = std::time::Instant::now();
        let outcome = self.events.attempt(self.vault, self.clock, self.ids, item).await;
        let latency_ms = u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now = self.clock.now();
        let kind = item.kind.clone();
        let status = outcome.status();
        let (settlement, label, error) = match outcome {
            Outcome::Delivered { .. } => {
                metrics::counter!("idlink_outbox_deliveries_total", "kind" => kind).increment(1);
                (Settlement::Delivered, "delivered", None)
            }
            Outcome::Gone => {
                let error = "the endpoint answered 410 Gone: it is disabled".to_owned();
                (Settlement::Dead { error: error.clone() }, "gone", Some(error))
            }
            Outcome::Dead { error, .. } => (Settlement::Dead { error: format!("attempt {attempt}: {error}") }, "dead", Some(error)),
            Outcome::Retry { error, retry_after, .. } => match event_backoff(self.events.settings, attempt, retry_after, self.rng) {
                Some(wait) => {
                    tracing::info!(event = %item.id, kind = %item.kind, attempt, retry_in_ms = wait.as_millis(), error = %error, "event delivery failed; will retry");
                    (
                        Settlement::Retry { at: now.checked_add(wait).unwrap_or(now), error: format!("attempt {attempt}: {error}") },
                        "retry",
                        Some(error),
                    )
                }
                None => (Settlement::Dead { error: format!("attempt {attempt}, the last of the schedule: {error}") }, "dead", Some(error)),
            },
        };
        if matches!(settlement, Settlement::Dead { .. }) {
            metrics::counter!("idlink_outbox_dead_letters_total", "kind" => item.kind.clone()).increment(1);
            tracing::warn!(event = %item.id, kind = %item.kind, "event delivery parked as dead; `idlink outbox retry` sends it again");
        }
        let record = AttemptRecord { attempt, started_at, latency_ms, http_status: status, outcome: label, error };
        (settlement, Some(record))
    }

    /// Tells the host's wallet an account's payment limits (a silent wallet is asked again).
    async fn publish_limits(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let clear = open_payload(self.vault, item).map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
        let notice: crate::revocation::LimitsNotice =
            serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a limits notice: {e}")))?;
        self.hosts
            .publish_limits(item.id.as_str(), notice.user_id.as_str(), &notice.limits)
            .await
            .map_err(|e| DeliveryError::Retry(e.to_string()))
    }

    async fn user_sms(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let clear = open_payload(self.vault, item).map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
        let message: UserMessage =
            serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a user message: {e}")))?;
        let user = item.subject.as_ref().ok_or_else(|| DeliveryError::Permanent("the event names no user".into()))?;
        let audit = AuditEntry::new(&message.actor, "user.read_phone", &message.purpose, self.clock.now())
            .request(message.request_id.as_ref())
            .subject(user);
        let (_, phone) = read_phone::<PhoneUnread>(self.users, self.vault, &audit, user).await.map_err(|e| match e {
            PhoneUnread::Store(StoreError::Unavailable(d)) => DeliveryError::Retry(format!("the user's phone cannot be read now: {d}")),
            PhoneUnread::Unreadable(Unreadable::UserNotFound) => DeliveryError::Permanent("the user no longer exists".into()),
            PhoneUnread::Unreadable(Unreadable::Shredded) => {
                DeliveryError::Permanent("the user's data was deleted (data key shredded)".into())
            }
            other => DeliveryError::Permanent(format!("the user's phone cannot be read: {other}")),
        })?;
        let params: Vec<(&str, &str)> = message.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.notifier.notify(&phone, &message.template, &params, item.id.as_str()).await
    }
}

impl Deliverer<'_> {
    /// Pages the operators on duty named in the event by SMS, each with the
    /// event id and the operator as `client_ref`, so a repeated delivery is
    /// received once per operator. An operator gone, off duty since, or
    /// without a paging phone is skipped; nobody paged at all fails for good
    /// (the dead letter shows that nobody could be told).
    async fn page_operators(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let clear = open_payload(self.vault, item).map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
        let page: BreachPage =
            serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a breach page: {e}")))?;
        let overdue_mins = self.clock.now().duration_since(page.sla_due_at).as_mins().max(0).to_string();
        let params = [("case", page.case_id.as_str()), ("kind", page.kind.as_str()), ("overdue_minutes", overdue_mins.as_str())];
        let mut paged = 0;
        for id in &page.operators {
            let op = self.operators.operator(id).await.map_err(|e| DeliveryError::Retry(format!("reading operator {id}: {e}")))?;
            let Some((op, cipher)) = op.and_then(|o| o.phone_cipher.clone().map(|c| (o, c))) else { continue };
            if !op.on_duty {
                continue;
            }
            let phone = open_phone::<PageError>(self.vault, self.keys, &op.id, &cipher).await.map_err(|e| match e {
                PageError::Store(e) => DeliveryError::Retry(format!("the paging phone of {id} cannot be read now: {e}")),
                PageError::Crypto(e) => DeliveryError::Permanent(format!("the paging phone of {id} cannot be opened: {e}")),
            })?;
            let Some(phone) = phone else { continue };
            self.notifier.notify(&phone, PAGE_TEMPLATE, &params, &format!("{}-{}", item.id, op.id)).await?;
            paged += 1;
        }
        if paged == 0 {
            return Err(DeliveryError::Permanent("no operator on duty with a paging phone to tell".into()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Why a phone could not be read at delivery.
#[derive(Debug, thiserror::Error)]
enum PhoneUnread {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Unreadable(#[from] Unreadable),
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
pub async fn retry(store: &dyn OutboxStore, clock: &dyn Clock, actor: &str, id: &EventId) -> Result<RetryOutcome, StoreError> {
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
