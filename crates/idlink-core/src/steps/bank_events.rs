//! A bank's event about a card (SPEC BK5): applied to every live binding of
//! the card, each affected user told by SMS through the outbox in the same
//! transaction. Taken for a bank's signed callback (`crate::bindings`) and
//! for the same news in a bank's balance answer (`crate::balance`).

use super::notices::{UserMessage, user_sms};
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::bindings::{Affected, BankEventKind, BindingStore};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::vault::Vault;
use idlink_crypto::CryptoError;

/// What applying a bank event needs.
#[derive(Clone, Copy)]
pub struct BankEvents<'a> {
    pub store: &'a dyn BindingStore,
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
}

impl BankEvents<'_> {
    /// Applies `kind` from `bank` to the card numbered `card`. `None` if the
    /// bank's `event_id` was received before.
    pub async fn apply(&self, bank: &str, event_id: &str, kind: BankEventKind, card: &str) -> Result<Option<Vec<Affected>>, StoreError> {
        let now = self.clock.now();
        let index = self.vault.blind_index("card", card);
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
            let message = UserMessage {
                template: template.to_owned(),
                params: vec![("bank".to_owned(), bank.to_owned()), ("last4".to_owned(), a.last4.clone())],
                actor: format!("bank:{bank}"),
                purpose: purpose.to_owned(),
                request_id: None,
            };
            user_sms::<Sealing>(self.vault, self.ids, now, &a.user_id, &message)
                .map_err(|e| StoreError::Corrupt(format!("sealing a notice: {e}")))
        };
        self.store.apply_bank_event(bank, event_id, kind, &index, now, &audit, &notice).await
    }
}

/// A notice that could not be sealed.
#[derive(Debug, thiserror::Error)]
enum Sealing {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}
