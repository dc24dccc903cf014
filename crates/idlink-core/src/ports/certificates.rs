//! Users' client certificates as stored (SPEC CR1; ADR 0027): sealed under
//! the user's data key, found by their SHA-256 fingerprint.

use super::StoreError;
use super::audit::AuditEntry;
use async_trait::async_trait;
use idlink_domain::UserId;
use jiff::Timestamp;

/// No `Debug` of the ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub fingerprint: String,
    pub user_id: UserId,
    /// The certificate's DER, sealed under the user's data key.
    pub cert_cipher: Vec<u8>,
    /// `active` or `revoked`.
    pub active: bool,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for CertificateRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRow").field("fingerprint", &self.fingerprint).field("active", &self.active).finish_non_exhaustive()
    }
}

#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Registers a certificate; `false` if its fingerprint is registered already.
    async fn insert_certificate(&self, row: &CertificateRow, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn certificate(&self, fingerprint: &str) -> Result<Option<CertificateRow>, StoreError>;
    /// The user's certificates, newest first.
    async fn certificates_of(&self, user: &UserId) -> Result<Vec<CertificateRow>, StoreError>;
    /// Revokes one of the user's certificates; `false` if there was no active one.
    async fn revoke_certificate(&self, user: &UserId, fingerprint: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Notes a successful use.
    async fn certificate_used(&self, fingerprint: &str, at: Timestamp) -> Result<(), StoreError>;
}
