//! The user notices written to the outbox with the change that causes them
//! (SPEC P3, BK5, BK6): an SMS to a user, its sealed payload, and opening it
//! at delivery (`crate::outbox::Deliverer`).

use crate::ports::StoreError;
use crate::ports::ids::Ids;
use crate::ports::outbox::{NewEvent, OutboxItem};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{RequestId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// An SMS to a user's phone; the payload is a [`UserMessage`].
pub const USER_SMS: &str = "user.sms";

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

/// Seals a payload under the vault's outbox key, bound to the event's id and kind.
pub fn seal_payload(vault: &Vault, id: &str, kind: &str, clear: &[u8]) -> Result<Vec<u8>, CryptoError> {
    vault.seal(vault.outbox_key(), &context(id, kind), clear)
}

pub fn open_payload(vault: &Vault, item: &OutboxItem) -> Result<Vec<u8>, CryptoError> {
    open_sealed(vault, item.id.as_str(), &item.kind, &item.payload)
}

/// Opens a payload sealed by [`seal_payload`] for `id` and `kind`.
pub fn open_sealed(vault: &Vault, id: &str, kind: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    vault.outbox_key().open(&context(id, kind), sealed)
}

/// An SMS to `user`, to write with the change that causes it.
pub fn user_sms<E>(vault: &Vault, ids: &dyn Ids, at: Timestamp, user: &UserId, message: &UserMessage) -> Result<NewEvent, E>
where
    E: From<StoreError> + From<CryptoError>,
{
    let id = ids.event();
    let clear = serde_json::to_vec(message).map_err(|e| StoreError::Corrupt(format!("an outbox payload: {e}")))?;
    let payload = seal_payload(vault, id.as_str(), USER_SMS, &clear)?;
    Ok(NewEvent { id, kind: USER_SMS.to_owned(), subject: Some(user.clone()), payload, at })
}
