//! Binding a bank card (SPEC BK1): the card must be valid for its BIN, the
//! issuing bank must confirm that it belongs to the user's verified name and
//! ID number with the given reserved phone, and the bank's own SMS code to
//! that phone must come back. A card already bound on another account is a
//! risk signal (ID8). What a bank reports about a card (BK5) is applied
//! with the SMS that tells each affected user, through the outbox.

use crate::ports::bindings::{Affected, BankChannel, BankCode, BankEventKind, BankUnavailable, BindingRow, BindingStatus, BindingStore};

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::users::UserStore;
use crate::steps::bank_events::BankEvents;
use crate::steps::cards::{BINDING_CARD_CONTEXT, CardNotProven, CardProver, open_card};
use crate::steps::personal::{Unreadable, data_key};
use crate::steps::risk::{Frozen, Risk};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::card::CardNumber;
use idlink_domain::risk::{RiskDecision, Signals};
use idlink_domain::{BindingId, PhoneNumber, RequestId, UserId};
use jiff::Timestamp;

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
    /// The bank did not confirm the card belongs to the user's verified identity.
    #[error(transparent)]
    CardNotProven(#[from] CardNotProven),
    /// The card switch or the bank is unavailable.
    #[error(transparent)]
    Unavailable(#[from] BankUnavailable),
    #[error(transparent)]
    Frozen(#[from] Frozen),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The user has not consented to processing this kind of personal information.
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
}

pub struct Bindings<'a> {
    /// Binding a card needs the bank-card consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
    pub store: &'a dyn BindingStore,
    pub bank: &'a dyn BankChannel,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
    /// The bank's four-element check of the card against the verified identity.
    pub prover: CardProver<'a>,
    pub risk: Risk<'a>,
    pub events: BankEvents<'a>,
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
        self.vault.blind_index("card", card.reveal())
    }

    /// Checks the card with its bank and has the bank send its code to the reserved phone.
    pub async fn start(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        card: &CardNumber,
        reserved_phone: &PhoneNumber,
    ) -> Result<BindingRow, BindingError> {
        self.risk.ensure_not_frozen::<BindingError>(&session.user_id).await?;
        self.consent.check_all::<BindingError>(&session.user_id, &crate::balance::BALANCE_CONSENTS).await?;
        let index = self.card_index(card);
        let existing = self.store.bindings(&session.user_id).await?;
        if existing.iter().any(|b| b.card_index == index && b.status == BindingStatus::Active) {
            return Err(BindingError::AlreadyBound);
        }
        // The bank confirms card ↔ verified name and ID number ↔ reserved phone.
        let actor = format!("user:{}", session.user_id);
        self.prover.prove::<BindingError>(&session.user_id, &actor, rid, card, reserved_phone).await?;
        let vault = self.vault;
        let id = self.ids.binding();
        let reference = match self.bank.send_code(card, reserved_phone, id.as_str()).await? {
            BankCode::Sent { reference } => reference,
            BankCode::PhoneMismatch => return Err(BindingError::ReservedPhoneMismatch),
        };
        let now = self.clock.now();
        let key = data_key::<BindingError>(self.users, vault, &session.user_id, &Self::audit(session, rid, "user.read_key", now)).await?;
        let row = BindingRow {
            id,
            user_id: session.user_id.clone(),
            bank: card.bank().to_owned(),
            card_cipher: vault.seal(&key, BINDING_CARD_CONTEXT, card.reveal().as_bytes())?,
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
        binding_id: &BindingId,
        code: &str,
    ) -> Result<Bound, BindingError> {
        let b = self.store.binding(binding_id, &session.user_id).await?.ok_or(BindingError::NotFound)?;
        if b.status != BindingStatus::PendingSms {
            return Err(BindingError::NotPending);
        }
        // A consent withdrawn since the start: the card does not go to its bank again.
        self.consent.check_all::<BindingError>(&session.user_id, &crate::balance::BALANCE_CONSENTS).await?;
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
        let now = self.clock.now();
        let key = data_key::<BindingError>(self.users, self.vault, &session.user_id, &Self::audit(session, rid, "card.read", now)).await?;
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
        Ok(self.events.apply(bank, event_id, kind, card).await?)
    }

    /// Sets (or clears, with `None`) the card's low-balance alert threshold.
    pub async fn set_low_balance_alert(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
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

    pub async fn end(&self, session: &SessionRow, rid: Option<&RequestId>, binding_id: &BindingId) -> Result<(), BindingError> {
        let now = self.clock.now();
        if self.store.end_binding(binding_id, &session.user_id, now, &Self::audit(session, rid, "card.unbind", now)).await? {
            Ok(())
        } else {
            Err(BindingError::NotFound)
        }
    }
}
