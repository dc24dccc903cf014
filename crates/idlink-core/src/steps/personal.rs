//! Reading a user's personal data: the user's data key (an audited read),
//! a field opened with it, and the verified identity as shown (masked).
//! Used by the users, identity, bindings, balance and guardian use cases.

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::users::{UserRow, UserStore};
use crate::vault::Vault;
use idlink_crypto::{CryptoError, DataKey};
use idlink_domain::calendar::shanghai_today;
use idlink_domain::{IdNumber, PersonName, PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

/// Contexts of the identity fields sealed under the user's key.
pub const NAME_CONTEXT: &str = "identity.name";
pub const ID_CONTEXT: &str = "identity.id_number";
pub const BIRTH_CONTEXT: &str = "identity.birth_date";
/// The blind-index domain of resident ID numbers (a verified identity is found by it).
pub const ID_INDEX: &str = "id_number";
/// The blind-index domain of other documents' numbers (keyed by type and number).
pub const DOCUMENT_INDEX: &str = "document";

/// The blind index of a document number, as stored in `id_index` of a
/// verification and an identity: the one function verification, answers
/// and searches use, so `identity_owner` always finds the same value.
pub fn document_index(vault: &Vault, kind: DocumentType, number: &str) -> String {
    match kind {
        DocumentType::ResidentId => vault.blind_index(ID_INDEX, number),
        other => vault.blind_index(DOCUMENT_INDEX, &format!("{}:{number}", other.as_str())),
    }
}

/// Why a user's personal data cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("no such user")]
    UserNotFound,
    #[error("the user's data has been deleted (their data key was shredded)")]
    Shredded,
}

/// A stored value that does not parse as what it should be.
pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The user's data key; `audit` records the read.
pub async fn data_key<E>(store: &dyn UserStore, vault: &Vault, user: &UserId, audit: &AuditEntry) -> Result<DataKey, E>
where
    E: From<StoreError> + From<CryptoError> + From<Unreadable>,
{
    let (_, wrapped) = store.read_user(user, audit).await?.ok_or(Unreadable::UserNotFound)?;
    Ok(vault.unwrap(&wrapped.ok_or(Unreadable::Shredded)?)?)
}

/// A text field sealed under `key` in `context`.
pub fn open_text<E>(key: &DataKey, context: &str, cipher: &[u8]) -> Result<String, E>
where
    E: From<StoreError> + From<CryptoError>,
{
    String::from_utf8(key.open(context, cipher)?).map_err(|_| corrupt(format!("{context} is not UTF-8")).into())
}

/// A name and ID number opened with the user's data key (kept for the
/// fields sealed alongside them, such as a card number).
pub struct OpenedIdentity {
    pub key: DataKey,
    pub name: PersonName,
    /// The ID number as stored (a resident ID, or another document's number).
    pub id_text: String,
}

impl OpenedIdentity {
    /// The ID number as a resident ID, checked against `today`.
    pub fn resident_id(&self, today: Date) -> Result<IdNumber, StoreError> {
        IdNumber::parse(&self.id_text, today).map_err(corrupt)
    }
}

/// Opens a name and ID number sealed under `user`'s data key (of a verified
/// identity or of a verification in progress); `audit` records the one read.
/// Written once for the identity reader, the card prover and the identity decision.
pub async fn open_identity<E>(
    users: &dyn UserStore,
    vault: &Vault,
    user: &UserId,
    audit: &AuditEntry,
    name_cipher: &[u8],
    id_cipher: &[u8],
) -> Result<OpenedIdentity, E>
where
    E: From<StoreError> + From<CryptoError> + From<Unreadable>,
{
    let key = data_key::<E>(users, vault, user, audit).await?;
    let name = PersonName::parse(&open_text::<E>(&key, NAME_CONTEXT, name_cipher)?).map_err(corrupt)?;
    let id_text = open_text::<E>(&key, ID_CONTEXT, id_cipher)?;
    Ok(OpenedIdentity { key, name, id_text })
}

/// The verified identity, masked.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityView {
    pub name: String,
    pub id_number: String,
    pub document_type: DocumentType,
    pub verified_at: Timestamp,
    pub age: i16,
    pub minor: bool,
}

/// What reading an identity needs.
#[derive(Clone, Copy)]
pub struct IdentityReader<'a> {
    pub store: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
}

impl IdentityReader<'_> {
    /// `user`'s verified identity, masked, with age in Asia/Shanghai; the read is audited as `actor`'s.
    pub async fn read<E>(&self, user: &UserId, actor: &str, rid: Option<&RequestId>) -> Result<Option<IdentityView>, E>
    where
        E: From<StoreError> + From<CryptoError> + From<Unreadable>,
    {
        let Some(row) = self.store.identity(user).await? else { return Ok(None) };
        let now = self.clock.now();
        let audit = AuditEntry::new(actor, "identity.read", "real-name verification", now).subject(user).request(rid);
        let opened = open_identity::<E>(self.users, self.vault, user, &audit, &row.name_cipher, &row.id_cipher).await?;
        let today = shanghai_today(now);
        let birth = match &row.birth_cipher {
            Some(c) => open_text::<E>(&opened.key, BIRTH_CONTEXT, c)?.parse::<Date>().ok().ok_or_else(|| corrupt("birth date"))?,
            None => opened.resident_id(today)?.birth_date(),
        };
        let (name, id_text) = (opened.name, opened.id_text);
        let age = idlink_domain::idnumber::age_on(birth, today);
        Ok(Some(IdentityView {
            name: name.masked(),
            id_number: idlink_domain::pii::mask_document_number(row.document_type, &id_text),
            document_type: row.document_type,
            verified_at: row.verified_at,
            age,
            minor: idlink_domain::idnumber::is_minor(age),
        }))
    }
}

/// The context of a user's phone sealed under their key, and its blind-index domain.
pub const PHONE_CONTEXT: &str = "users.phone";
pub const PHONE_INDEX: &str = "phone";

/// The user's row and clear phone; `audit` records the read.
pub async fn read_phone<E>(store: &dyn UserStore, vault: &Vault, audit: &AuditEntry, id: &UserId) -> Result<(UserRow, PhoneNumber), E>
where
    E: From<StoreError> + From<CryptoError> + From<Unreadable>,
{
    let (row, key) = store.read_user(id, audit).await?.ok_or(Unreadable::UserNotFound)?;
    let dek = vault.unwrap(&key.ok_or(Unreadable::Shredded)?)?;
    let text = open_text::<E>(&dek, PHONE_CONTEXT, &row.phone_cipher)?;
    let phone = PhoneNumber::parse(&text).map_err(|e| corrupt(format!("stored phone: {e}")))?;
    Ok((row, phone))
}
