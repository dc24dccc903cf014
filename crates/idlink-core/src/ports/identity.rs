//! Real-name identity ports (SPEC ID2, ID4, ID5): verifications and
//! identities as stored, the change history, and the registry and card-switch
//! checks.

use super::StoreError;
use super::audit::AuditEntry;
use super::bindings::BankUnavailable;
use super::reviews::CaseRow;
use async_trait::async_trait;
use idlink_domain::card::CardNumber;
use idlink_domain::change_limits::ChangeEvent;
use idlink_domain::verification::{VerificationReason, VerificationStatus};
use idlink_domain::{IdNumber, PersonName, PhoneNumber, UserId, VerificationId};
use jiff::Timestamp;

/// The registry's answer about name, ID number and phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryResult {
    Match,
    NameMismatch,
    NotFound,
    PhoneMismatch,
    /// Undocumented or undecided: sent to review.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the identity registry is unavailable; retry after {retry_after_secs} s")]
pub struct RegistryUnavailable {
    pub retry_after_secs: u64,
    /// When the institution announced the end of its maintenance, if it did.
    pub expected_end: Option<Timestamp>,
}

/// The bank's answer about a card's four elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardResult {
    Match,
    HolderMismatch,
    PhoneMismatch,
    Lost,
    Pending,
}

/// Four-element card checks through the card switch.
#[async_trait]
pub trait CardCheck: Send + Sync {
    async fn four_elements(
        &self,
        card: &CardNumber,
        name: &PersonName,
        id: &IdNumber,
        phone: &PhoneNumber,
    ) -> Result<CardResult, BankUnavailable>;
}

#[async_trait]
pub trait RegistryCheck: Send + Sync {
    async fn check(&self, name: &PersonName, id: &IdNumber, phone: &PhoneNumber) -> Result<RegistryResult, RegistryUnavailable>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub id: VerificationId,
    pub user_id: UserId,
    pub method: String,
    pub document_type: DocumentType,
    /// For documents without a birth date in their number (passports, permits).
    pub birth_cipher: Option<Vec<u8>>,
    /// The bank card of a four-element verification.
    pub card_cipher: Option<Vec<u8>>,
    pub status: VerificationStatus,
    pub name_cipher: Vec<u8>,
    pub id_cipher: Vec<u8>,
    pub id_index: String,
    pub reasons: Vec<VerificationReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub user_id: UserId,
    pub document_type: DocumentType,
    pub birth_cipher: Option<Vec<u8>>,
    pub name_cipher: Vec<u8>,
    pub id_cipher: Vec<u8>,
    pub id_index: String,
    pub method: String,
    pub verified_at: Timestamp,
}

/// What finishing a verification writes, in one transaction.
#[derive(Debug)]
pub struct Finish<'a> {
    pub verification_id: &'a VerificationId,
    pub status: VerificationStatus,
    pub reasons: &'a [VerificationReason],
    pub at: Timestamp,
    pub identity: Option<&'a IdentityRow>,
    /// Recorded against the ID number when the verification changed real-name information.
    pub change: Option<ChangeEvent>,
    /// Opened when the verification goes to review.
    pub case: Option<&'a CaseRow>,
    /// The lifecycle event of a passed verification (`identity_verified` /
    /// `identity_changed`), written with it for the apps the user authorised.
    pub event: Option<&'a super::outbox::NewEvent>,
    pub audit: &'a AuditEntry,
}

/// The identity document a verification is based on (a domain type: its mask depends on it).
pub use idlink_domain::pii::DocumentType;

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn insert_verification(&self, v: &VerificationRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn verification(&self, id: &VerificationId, user: &UserId) -> Result<Option<VerificationRow>, StoreError>;
    /// Moves `from → to` if the session is still in `from`; false otherwise.
    async fn move_verification(
        &self,
        id: &VerificationId,
        from: VerificationStatus,
        to: VerificationStatus,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn finish_verification(&self, f: &Finish<'_>) -> Result<(), StoreError>;
    async fn identity(&self, user: &UserId) -> Result<Option<IdentityRow>, StoreError>;
    async fn identity_owner(&self, id_index: &str) -> Result<Option<UserId>, StoreError>;
    async fn change_history(&self, id_index: &str) -> Result<Vec<ChangeEvent>, StoreError>;
    /// Whether an identity with this ID number (blind index) was revoked and is still retained (SPEC RV3).
    async fn revoked_identity_exists(&self, id_index: &str) -> Result<bool, StoreError>;
    async fn record_cooling_off(&self, id_index: &str, at: Timestamp, until: Timestamp, audit: &AuditEntry) -> Result<(), StoreError>;
}
