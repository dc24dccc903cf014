//! End users: the minimal account record the platform needs (a phone
//! number, encrypted under the user's own data key and findable through a
//! blind index), and crypto-shredding. Login and verification build on it.

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::users::{UserRow, UserStore};
use crate::steps::personal::{PHONE_CONTEXT, PHONE_INDEX, Unreadable, read_phone};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user with this phone number already exists")]
    PhoneTaken,
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: UserId,
    /// Masked, e.g. `138****1234`.
    pub phone: String,
    pub created_at: Timestamp,
}

/// Who is asking, for the audit record.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: String,
    pub request_id: Option<RequestId>,
    pub purpose: String,
}

impl Caller {
    fn audit(&self, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(&self.actor, action, &self.purpose, at).request(self.request_id.as_ref())
    }
}

pub async fn create_user(
    store: &dyn UserStore,
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    caller: &Caller,
    phone: &PhoneNumber,
) -> Result<UserView, UserError> {
    let now = clock.now();
    let id = ids.user();
    let (dek, wrapped) = vault.new_user_key(&id)?;
    let row = UserRow {
        id: id.clone(),
        phone_cipher: vault.seal(&dek, PHONE_CONTEXT, phone.reveal().as_bytes())?,
        phone_index: vault.blind_index(PHONE_INDEX, phone.reveal()),
        created_at: now,
    };
    match store.insert_user(&row, &wrapped, &caller.audit("user.create", now).subject(&id)).await {
        Ok(()) => Ok(UserView { id, phone: phone.masked(), created_at: now }),
        Err(StoreError::Unique(_)) => Err(UserError::PhoneTaken),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_user(
    store: &dyn UserStore,
    vault: &Vault,
    clock: &dyn Clock,
    caller: &Caller,
    id: &UserId,
) -> Result<UserView, UserError> {
    let (row, phone) = read_phone::<UserError>(store, vault, &caller.audit("user.read", clock.now()).subject(id), id).await?;
    Ok(UserView { id: row.id, phone: phone.masked(), created_at: row.created_at })
}

pub async fn find_user_by_phone(store: &dyn UserStore, vault: &Vault, phone: &PhoneNumber) -> Result<Option<UserId>, UserError> {
    Ok(store.find_user_by_phone_index(&vault.blind_index(PHONE_INDEX, phone.reveal())).await?)
}

/// Deletes the user's data key: every field encrypted under it is unreadable from now on.
/// Every app the user authorised loses its grant and is told (lifecycle `account_purged`).
pub async fn shred_user(
    store: &dyn UserStore,
    vault: &Vault,
    ids: &dyn crate::ports::ids::Ids,
    clock: &dyn Clock,
    caller: &Caller,
    id: &UserId,
) -> Result<(), UserError> {
    let now = clock.now();
    let audit = caller.audit("user.shred", now).subject(id);
    let lifecycle = crate::ports::events::Lifecycle {
        kind: crate::ports::events::LifecycleType::AccountPurged,
        user: id.clone(),
        at: now,
        actor: "host".into(),
        client: None,
        sessions: Vec::new(),
        reason: Some("shredded".into()),
    };
    let event = crate::events::lifecycle_event::<UserError>(vault, ids, &lifecycle)?;
    if store.shred_user_key(id, &event, &audit).await? { Ok(()) } else { Err(Unreadable::UserNotFound.into()) }
}

/// The user's phone number in the clear, to send them an SMS. The read is audited.
pub async fn user_phone(
    store: &dyn UserStore,
    vault: &Vault,
    clock: &dyn Clock,
    caller: &Caller,
    id: &UserId,
) -> Result<PhoneNumber, UserError> {
    let audit = caller.audit("user.read_phone", clock.now()).subject(id);
    Ok(read_phone::<UserError>(store, vault, &audit, id).await?.1)
}
