//! Card-binding ports (SPEC BK1, BK2, BK5): bindings as stored, bank events
//! applied to them, and the banks' binding channel.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_domain::card::CardNumber;
use idlink_domain::{BindingId, PhoneNumber, UserId};
use jiff::Timestamp;
use serde::Serialize;

/// The card's bank (or the card switch that reaches it) is unavailable on
/// every channel: the banks' ports answer this, never the registry's
/// [`RegistryUnavailable`](super::identity::RegistryUnavailable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the card's bank is unavailable; retry after {retry_after_secs} s")]
pub struct BankUnavailable {
    pub retry_after_secs: u64,
    /// When the bank announced the end of its maintenance, if it did.
    pub expected_end: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingStatus {
    /// Waiting for the bank's SMS code.
    PendingSms,
    Active,
    Ended,
}

impl BindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingSms => "pending_sms",
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::PendingSms, Self::Active, Self::Ended].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRow {
    pub id: BindingId,
    pub user_id: UserId,
    pub bank: String,
    pub card_cipher: Vec<u8>,
    pub card_index: String,
    pub last4: String,
    pub status: BindingStatus,
    pub bank_reference: Option<String>,
    pub luhn_warning: bool,
    pub created_at: Timestamp,
    pub bound_at: Option<Timestamp>,
    /// Why the binding ended, when it did (`unbound` by the user, `card_reported_lost` by the bank).
    pub end_reason: Option<String>,
    /// Set while the bank has suspended balance queries (`password_locked`).
    pub suspended_reason: Option<String>,
    /// The user's low-balance alert threshold (BK6).
    pub low_balance_alert: Option<idlink_domain::Fen>,
}

/// An event a bank reports about a card (SPEC BK5), through a signed callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankEventKind {
    /// The card was reported lost: its bindings end.
    CardLost,
    /// The card password was entered wrong three times: balance queries are suspended.
    PasswordLocked,
    /// The bank reset the password: the suspension is lifted.
    PasswordReset,
}

impl BankEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardLost => "card_lost",
            Self::PasswordLocked => "password_locked",
            Self::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::CardLost, Self::PasswordLocked, Self::PasswordReset].into_iter().find(|k| k.as_str() == s)
    }
}

/// A binding a bank event changed, and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub binding_id: BindingId,
    pub user_id: UserId,
    pub last4: String,
}

#[async_trait]
pub trait BindingStore: Send + Sync {
    async fn insert_binding(&self, b: &BindingRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn binding(&self, id: &BindingId, user: &UserId) -> Result<Option<BindingRow>, StoreError>;
    /// The user's live bindings, and those a bank ended (a lost card), so the user sees why a card went.
    async fn bindings(&self, user: &UserId) -> Result<Vec<BindingRow>, StoreError>;
    /// pending_sms → active; false if it was not pending.
    async fn activate_binding(&self, id: &BindingId, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Ends an active or pending binding; false if there was none.
    async fn end_binding(&self, id: &BindingId, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Other users with an active binding of the same card.
    async fn other_accounts_with_card(&self, card_index: &str, user: &UserId) -> Result<u32, StoreError>;
    /// Applies a bank event to every live binding of the card, in one
    /// transaction with one audit record per binding (`audit` with the
    /// binding's owner as subject) and the outbox event `notice` makes for
    /// each (telling its owner). `None` if the bank's event id was seen before.
    #[allow(clippy::too_many_arguments)]
    async fn apply_bank_event(
        &self,
        bank: &str,
        event_id: &str,
        kind: BankEventKind,
        card_index: &str,
        at: Timestamp,
        audit: &AuditEntry,
        notice: &Notice<'_>,
    ) -> Result<Option<Vec<Affected>>, StoreError>;
    /// Sets or clears the low-balance alert of an active binding; false if there is none.
    async fn set_low_balance_alert(
        &self,
        id: &BindingId,
        user: &UserId,
        threshold: Option<idlink_domain::Fen>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}

/// What the bank answered to a request for a binding code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankCode {
    Sent { reference: String },
    PhoneMismatch,
}

/// The bank's side of binding, reached through the card switch.
#[async_trait]
pub trait BankChannel: Send + Sync {
    async fn send_code(&self, card: &CardNumber, phone: &PhoneNumber, client_ref: &str) -> Result<BankCode, BankUnavailable>;
    async fn verify_code(&self, reference: &str, card: &CardNumber, code: &str) -> Result<bool, BankUnavailable>;
}

/// The outbox event telling the owner of a binding a bank event changed;
/// the store writes it in the event's transaction.
pub type Notice<'a> = dyn Fn(&Affected) -> Result<NewEvent, StoreError> + Send + Sync + 'a;
