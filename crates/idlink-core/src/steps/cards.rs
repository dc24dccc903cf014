//! Bank cards as a proof: asking the card's bank whether a card, the user's
//! verified name and ID number and a phone belong together (the step behind
//! binding a card and a payment-password reset by card), and opening a bound
//! card's number.

use super::personal::{Unreadable, corrupt, open_identity, open_text};
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::bindings::BankUnavailable;
use crate::ports::bindings::BindingRow;
use crate::ports::clock::Clock;
use crate::ports::identity::{CardCheck, CardResult, DocumentType, IdentityStore};
use crate::ports::users::UserStore;
use crate::vault::Vault;
use idlink_crypto::{CryptoError, DataKey};
use idlink_domain::calendar::shanghai_today;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::verification::VerificationReason;
use idlink_domain::{PhoneNumber, RequestId, UserId};

/// The context a binding's card number is sealed in.
pub const BINDING_CARD_CONTEXT: &str = "card_bindings.card";

/// Proof that the bank confirmed a card of the user's verified identity with
/// the account's phone. Only [`CardProver::prove`] makes one.
#[derive(Debug)]
pub struct CardProof {
    user: UserId,
}

impl CardProof {
    pub fn user(&self) -> &UserId {
        &self.user
    }
}

/// Why a card did not prove the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardNotProven {
    #[error("the user has no verified resident-ID identity")]
    NotVerified,
    #[error("the bank did not confirm the card: {0:?}")]
    Refused(VerificationReason),
}

/// What proving a card needs.
#[derive(Clone, Copy)]
pub struct CardProver<'a> {
    pub identities: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub cards: &'a dyn CardCheck,
}

impl CardProver<'_> {
    /// Asks the card's bank whether the card, the user's verified name and
    /// ID number and `phone` belong together. `actor` reads the identity.
    pub async fn prove<E>(
        &self,
        user: &UserId,
        actor: &str,
        rid: Option<&RequestId>,
        card: &CardNumber,
        phone: &PhoneNumber,
    ) -> Result<CardProof, E>
    where
        E: From<StoreError> + From<CryptoError> + From<Unreadable> + From<CardNotProven> + From<BankUnavailable>,
    {
        let row = self
            .identities
            .identity(user)
            .await?
            .filter(|i| i.document_type == DocumentType::ResidentId)
            .ok_or(CardNotProven::NotVerified)?;
        let now = self.clock.now();
        let audit = AuditEntry::new(actor, "identity.read", "real-name verification", now).subject(user).request(rid);
        let opened = open_identity::<E>(self.users, self.vault, user, &audit, &row.name_cipher, &row.id_cipher).await?;
        let id = opened.resident_id(shanghai_today(now))?;
        let refused = |r| Err(CardNotProven::Refused(r).into());
        match self.cards.four_elements(card, &opened.name, &id, phone).await? {
            CardResult::Match => Ok(CardProof { user: user.clone() }),
            CardResult::HolderMismatch => refused(VerificationReason::CardHolderMismatch),
            CardResult::PhoneMismatch => refused(VerificationReason::ReservedPhoneMismatch),
            CardResult::Lost | CardResult::Pending => refused(VerificationReason::CardReportedLost),
        }
    }
}

/// Decrypts a binding's card number with its owner's data key. The caller audits the read.
pub fn open_card<E: From<StoreError> + From<CryptoError>>(key: &DataKey, b: &BindingRow) -> Result<CardNumber, E> {
    let text = open_text::<E>(key, BINDING_CARD_CONTEXT, &b.card_cipher)?;
    Ok(CardNumber::parse(&text, BinTable::bundled()).map_err(corrupt)?)
}
