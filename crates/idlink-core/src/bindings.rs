//! Binding a bank card (SPEC BK1): the card must be valid for its BIN, the
//! issuing bank must confirm that it belongs to the user's verified name and
//! ID number with the given reserved phone, and the bank's own SMS code to
//! that phone must come back. A card already bound on another account is a
//! risk signal (ID8). What a bank reports about a card (BK5) is applied
//! with the SMS that tells each affected user, through the outbox.

use crate::audit::AuditEntry;
use crate::auth::SessionRow;
use crate::clock::Clock;
use crate::error::CoreError;
use crate::identity::{Identities, IdentityError, RegistryUnavailable};
use crate::ports::StoreError;
use crate::risk::Risk;
use async_trait::async_trait;
use idlink_domain::card::CardNumber;
use idlink_domain::risk::{RiskDecision, Signals};
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use serde::Serialize;

const CARD_CONTEXT: &str = "card_bindings.card";

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
    pub id: String,
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
    pub binding_id: String,
    pub user_id: UserId,
    pub last4: String,
}

#[async_trait]
pub trait BindingStore: Send + Sync {
    async fn insert_binding(&self, b: &BindingRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn binding(&self, id: &str, user: &UserId) -> Result<Option<BindingRow>, StoreError>;
    /// The user's live bindings, and those a bank ended (a lost card), so the user sees why a card went.
    async fn bindings(&self, user: &UserId) -> Result<Vec<BindingRow>, StoreError>;
    /// pending_sms → active; false if it was not pending.
    async fn activate_binding(&self, id: &str, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Ends an active or pending binding; false if there was none.
    async fn end_binding(&self, id: &str, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
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
        id: &str,
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
    async fn send_code(&self, card: &CardNumber, phone: &PhoneNumber, client_ref: &str) -> Result<BankCode, RegistryUnavailable>;
    async fn verify_code(&self, reference: &str, card: &CardNumber, code: &str) -> Result<bool, RegistryUnavailable>;
}

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("the bank has another phone on record for this card")]
    ReservedPhoneMismatch,
    #[error("no such binding for this user")]
    NotFound,
    #[error("this binding is not waiting for a code")]
    NotPending,
    #[error("the bank did not accept the code")]
    WrongCode,
    #[error("this card is bound to the account already")]
    AlreadyBound,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<StoreError> for BindingError {
    fn from(e: StoreError) -> Self {
        BindingError::Identity(e.into())
    }
}

impl From<RegistryUnavailable> for BindingError {
    fn from(e: RegistryUnavailable) -> Self {
        BindingError::Identity(e.into())
    }
}

impl From<CoreError> for BindingError {
    fn from(e: CoreError) -> Self {
        BindingError::Identity(e.into())
    }
}

/// The outbox event telling the owner of a binding a bank event changed;
/// the store writes it in the event's transaction.
pub type Notice<'a> = dyn Fn(&Affected) -> Result<crate::outbox::NewEvent, StoreError> + Send + Sync + 'a;

/// Decrypts a binding's card number with its owner's data key. The caller audits the read.
pub fn open_card(key: &idlink_crypto::DataKey, b: &BindingRow) -> Result<CardNumber, BindingError> {
    let text = crate::users::open_text(key, CARD_CONTEXT, &b.card_cipher)?;
    CardNumber::parse(&text, idlink_domain::card::BinTable::bundled())
        .map_err(|e| CoreError::Store(StoreError::Corrupt(e.to_string())).into())
}

pub struct Bindings<'a> {
    pub store: &'a dyn BindingStore,
    pub bank: &'a dyn BankChannel,
    pub identities: Identities<'a>,
    pub risk: Risk<'a>,
    pub clock: &'a dyn Clock,
}

/// The outcome of confirming a binding.
#[derive(Debug, Clone)]
pub struct Bound {
    pub binding: BindingRow,
    pub risk: RiskDecision,
}

impl Bindings<'_> {
    fn audit(session: &SessionRow, rid: Option<&RequestId>, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, "bank card binding", at).subject(&session.user_id).request(rid)
    }

    fn card_index(&self, card: &CardNumber) -> String {
        self.identities.vault.blind_index("card", card.reveal())
    }

    /// Checks the card with its bank and has the bank send its code to the reserved phone.
    pub async fn start(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        card: &CardNumber,
        reserved_phone: &PhoneNumber,
    ) -> Result<BindingRow, BindingError> {
        crate::risk::ensure_not_frozen(self.risk.store, &session.user_id).await.map_err(IdentityError::from)?;
        let index = self.card_index(card);
        let existing = self.store.bindings(&session.user_id).await?;
        if existing.iter().any(|b| b.card_index == index && b.status == BindingStatus::Active) {
            return Err(BindingError::AlreadyBound);
        }
        // The bank confirms card ↔ verified name and ID number ↔ reserved phone.
        self.identities.prove_card(session, rid, card, reserved_phone).await?;
        let vault = self.identities.vault;
        let id = format!("bnd_{}", hex::encode(vault.rng().bytes16()));
        let reference = match self.bank.send_code(card, reserved_phone, &id).await? {
            BankCode::Sent { reference } => reference,
            BankCode::PhoneMismatch => return Err(BindingError::ReservedPhoneMismatch),
        };
        let now = self.clock.now();
        let key = crate::users::data_key(self.identities.users, vault, &session.user_id, &Self::audit(session, rid, "user.read_key", now))
            .await?;
        let row = BindingRow {
            id,
            user_id: session.user_id.clone(),
            bank: card.bank().to_owned(),
            card_cipher: vault.seal(&key, CARD_CONTEXT, card.reveal().as_bytes())?,
            card_index: index,
            last4: card.last4().to_owned(),
            status: BindingStatus::PendingSms,
            bank_reference: Some(reference),
            luhn_warning: card.luhn_warning(),
            created_at: now,
            bound_at: None,
            end_reason: None,
            suspended_reason: None,
            low_balance_alert: None,
        };
        self.store.insert_binding(&row, &Self::audit(session, rid, "card.bind_start", now)).await?;
        Ok(row)
    }

    /// Confirms with the bank's code; the binding becomes active. Scores the
    /// card-on-several-accounts signal.
    pub async fn confirm(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &str,
        code: &str,
    ) -> Result<Bound, BindingError> {
        let b = self.store.binding(binding_id, &session.user_id).await?.ok_or(BindingError::NotFound)?;
        if b.status != BindingStatus::PendingSms {
            return Err(BindingError::NotPending);
        }
        let card = self.card_of_binding(session, rid, &b).await?;
        let reference = b.bank_reference.clone().unwrap_or_default();
        if !self.bank.verify_code(&reference, &card, code).await? {
            return Err(BindingError::WrongCode);
        }
        let now = self.clock.now();
        if !self.store.activate_binding(binding_id, &session.user_id, now, &Self::audit(session, rid, "card.bind", now)).await? {
            return Err(BindingError::NotPending);
        }
        let others = self.store.other_accounts_with_card(&b.card_index, &session.user_id).await?;
        let signals = Signals { card_on_other_accounts: others, ..Signals::default() };
        let risk = self.risk.assess(&session.user_id, &signals, "card binding", rid).await?;
        Ok(Bound { binding: BindingRow { status: BindingStatus::Active, bound_at: Some(now), ..b }, risk })
    }

    /// The clear card number of a binding (an audited read of the user's key).
    pub async fn card_of_binding(&self, session: &SessionRow, rid: Option<&RequestId>, b: &BindingRow) -> Result<CardNumber, BindingError> {
        let vault = self.identities.vault;
        let now = self.clock.now();
        let key =
            crate::users::data_key(self.identities.users, vault, &session.user_id, &Self::audit(session, rid, "card.read", now)).await?;
        open_card(&key, b)
    }

    /// Applies a bank's signed event (the signature was checked at the
    /// boundary); each affected user is told by SMS, through the outbox in
    /// the same transaction. `None` if the event was received before.
    pub async fn bank_event(
        &self,
        bank: &str,
        event_id: &str,
        kind: BankEventKind,
        card: &str,
    ) -> Result<Option<Vec<Affected>>, BindingError> {
        let now = self.clock.now();
        let vault = self.identities.vault;
        let index = vault.blind_index("card", card);
        let (action, purpose) = match kind {
            BankEventKind::CardLost => ("card.ended.card_lost", "bank reported the card lost"),
            BankEventKind::PasswordLocked => ("card.suspended.password_locked", "bank locked the card password"),
            BankEventKind::PasswordReset => ("card.resumed.password_reset", "bank reset the card password"),
        };
        let audit = AuditEntry::new(format!("bank:{bank}"), action, purpose, now);
        let template = match kind {
            BankEventKind::CardLost => "card_binding_ended_lost",
            BankEventKind::PasswordLocked => "card_balance_suspended",
            BankEventKind::PasswordReset => "card_balance_resumed",
        };
        let notice = |a: &Affected| {
            let message = crate::outbox::UserMessage {
                template: template.to_owned(),
                params: vec![("bank".to_owned(), bank.to_owned()), ("last4".to_owned(), a.last4.clone())],
                actor: format!("bank:{bank}"),
                purpose: purpose.to_owned(),
                request_id: None,
            };
            crate::outbox::user_sms(vault, now, &a.user_id, &message).map_err(|e| StoreError::Corrupt(format!("sealing a notice: {e}")))
        };
        Ok(self.store.apply_bank_event(bank, event_id, kind, &index, now, &audit, &notice).await?)
    }

    /// Sets (or clears, with `None`) the card's low-balance alert threshold.
    pub async fn set_low_balance_alert(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &str,
        threshold: Option<idlink_domain::Fen>,
    ) -> Result<(), BindingError> {
        let now = self.clock.now();
        let audit = Self::audit(session, rid, "card.low_balance_alert", now);
        if self.store.set_low_balance_alert(binding_id, &session.user_id, threshold, &audit).await? {
            Ok(())
        } else {
            Err(BindingError::NotFound)
        }
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<BindingRow>, BindingError> {
        Ok(self.store.bindings(user).await?)
    }

    pub async fn end(&self, session: &SessionRow, rid: Option<&RequestId>, binding_id: &str) -> Result<(), BindingError> {
        let now = self.clock.now();
        if self.store.end_binding(binding_id, &session.user_id, now, &Self::audit(session, rid, "card.unbind", now)).await? {
            Ok(())
        } else {
            Err(BindingError::NotFound)
        }
    }
}
