//! End users: the minimal account record the platform needs (a phone
//! number, encrypted under the user's own data key and findable through a
//! blind index), and crypto-shredding. Login and verification build on it.

use crate::audit::AuditEntry;
use crate::clock::Clock;
use crate::error::CoreError;
use crate::ports::{StoreError, UserRow, UserStore};
use crate::vault::Vault;
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use serde::Serialize;

const PHONE_CONTEXT: &str = "users.phone";
const PHONE_INDEX: &str = "phone";

/// A user as shown to the host app: personal data masked.
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
    clock: &dyn Clock,
    caller: &Caller,
    phone: &PhoneNumber,
) -> Result<UserView, CoreError> {
    let now = clock.now();
    let id = UserId::from_random(vault.rng().bytes16());
    let (dek, wrapped) = vault.new_user_key(&id)?;
    let row = UserRow {
        id: id.clone(),
        phone_cipher: vault.seal(&dek, PHONE_CONTEXT, phone.reveal().as_bytes())?,
        phone_index: vault.blind_index(PHONE_INDEX, phone.reveal()),
        created_at: now,
    };
    match store.insert_user(&row, &wrapped, &caller.audit("user.create", now).subject(&id)).await {
        Ok(()) => Ok(UserView { id, phone: phone.masked(), created_at: now }),
        Err(StoreError::Unique(_)) => Err(CoreError::Conflict("a user with this phone number already exists".into())),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_user(
    store: &dyn UserStore,
    vault: &Vault,
    clock: &dyn Clock,
    caller: &Caller,
    id: &UserId,
) -> Result<UserView, CoreError> {
    let (row, phone) = read_phone(store, vault, &caller.audit("user.read", clock.now()).subject(id), id).await?;
    Ok(UserView { id: row.id, phone: phone.masked(), created_at: row.created_at })
}

/// The user's data key; `audit` records the read of the user's record.
pub async fn data_key(
    store: &dyn UserStore,
    vault: &Vault,
    user: &UserId,
    audit: &AuditEntry,
) -> Result<idlink_crypto::DataKey, CoreError> {
    let (_, wrapped) = store.read_user(user, audit).await?.ok_or(CoreError::NotFound)?;
    vault.unwrap(&wrapped.ok_or(CoreError::Shredded)?)
}

/// Opens a UTF-8 field sealed under a data key with `context`.
pub fn open_text(key: &idlink_crypto::DataKey, context: &str, cipher: &[u8]) -> Result<String, CoreError> {
    String::from_utf8(key.open(context, cipher)?).map_err(|_| CoreError::Store(StoreError::Corrupt(format!("{context} is not UTF-8"))))
}

/// Reads a user and decrypts their phone; `audit` records the read.
async fn read_phone(store: &dyn UserStore, vault: &Vault, audit: &AuditEntry, id: &UserId) -> Result<(UserRow, PhoneNumber), CoreError> {
    let (row, key) = store.read_user(id, audit).await?.ok_or(CoreError::NotFound)?;
    let dek = vault.unwrap(&key.ok_or(CoreError::Shredded)?)?;
    let text = open_text(&dek, PHONE_CONTEXT, &row.phone_cipher)?;
    let phone = PhoneNumber::parse(&text).map_err(|e| CoreError::Store(StoreError::Corrupt(format!("stored phone: {e}"))))?;
    Ok((row, phone))
}

pub async fn find_user_by_phone(store: &dyn UserStore, vault: &Vault, phone: &PhoneNumber) -> Result<Option<UserId>, CoreError> {
    Ok(store.find_user_by_phone_index(&vault.blind_index(PHONE_INDEX, phone.reveal())).await?)
}

/// Deletes the user's data key: every field encrypted under it is unreadable from now on.
pub async fn shred_user(store: &dyn UserStore, clock: &dyn Clock, caller: &Caller, id: &UserId) -> Result<(), CoreError> {
    let audit = caller.audit("user.shred", clock.now()).subject(id);
    if store.shred_user_key(id, &audit).await? { Ok(()) } else { Err(CoreError::NotFound) }
}

/// The user's phone number in the clear, to send them an SMS. The read is audited.
pub async fn user_phone(
    store: &dyn UserStore,
    vault: &Vault,
    clock: &dyn Clock,
    caller: &Caller,
    id: &UserId,
) -> Result<PhoneNumber, CoreError> {
    let audit = caller.audit("user.read_phone", clock.now()).subject(id);
    Ok(read_phone(store, vault, &audit, id).await?.1)
}
