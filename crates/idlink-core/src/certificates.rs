//! Users' digital certificates (SPEC CR1; ADR 0027): a user registers a
//! client certificate issued by a CA this server trusts and naming them
//! (`urn:idlink:user:{id}` in its SAN), then proves who they are for a
//! credit-report request by signing a one-time challenge with its key
//! (`crate::credit::CreditReports::verify_certificate`). The certificate is
//! sealed under the user's data key (it may name its holder); only its
//! SHA-256 fingerprint is stored in clear.

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::certificates::{CertificateRow, CertificateStore};
use crate::ports::clock::Clock;
use crate::ports::users::UserStore;
use crate::steps::personal::{Unreadable, data_key};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_crypto::certificates::{CertError, TrustedCas, certificate_der, check_client_cert, fingerprint};
use idlink_domain::{RequestId, UserId};
use jiff::Timestamp;
use serde::Serialize;

pub const CERT_CONTEXT: &str = "user_certificates.cert";
const PURPOSE: &str = "digital certificate";

/// The SAN URI a user's certificate must carry.
pub fn holder_uri(user: &UserId) -> String {
    format!("urn:idlink:user:{user}")
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// This server trusts no certificate authority.
    #[error("this server accepts no digital certificates")]
    NotAccepted,
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("this certificate is registered already")]
    AlreadyRegistered,
    #[error("no such certificate of yours")]
    NotFound,
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What a user sees of a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    pub fingerprint: String,
    pub active: bool,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl From<&CertificateRow> for CertificateView {
    fn from(r: &CertificateRow) -> Self {
        Self { fingerprint: r.fingerprint.clone(), active: r.active, created_at: r.created_at, last_used_at: r.last_used_at }
    }
}

pub struct Certificates<'a> {
    pub store: &'a dyn CertificateStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub cas: &'a TrustedCas,
}

impl Certificates<'_> {
    fn audit(session: &SessionRow, rid: Option<&RequestId>, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, PURPOSE, at).subject(&session.user_id).request(rid)
    }

    /// Registers a certificate (PEM or DER): it must chain to a trusted CA,
    /// be valid now, allow client authentication and name this user.
    pub async fn register(&self, session: &SessionRow, rid: Option<&RequestId>, text: &[u8]) -> Result<CertificateView, CertificateError> {
        if self.cas.is_empty() {
            return Err(CertificateError::NotAccepted);
        }
        let user = &session.user_id;
        let der = certificate_der(text)?;
        let now = self.clock.now();
        check_client_cert(self.cas, &der, now.as_second(), &holder_uri(user))?;
        let key = data_key::<CertificateError>(self.users, self.vault, user, &Self::audit(session, rid, "user.read_key", now)).await?;
        let row = CertificateRow {
            fingerprint: fingerprint(&der),
            user_id: user.clone(),
            cert_cipher: self.vault.seal(&key, CERT_CONTEXT, &der)?,
            active: true,
            created_at: now,
            last_used_at: None,
        };
        if !self.store.insert_certificate(&row, &Self::audit(session, rid, "certificate.register", now)).await? {
            return Err(CertificateError::AlreadyRegistered);
        }
        Ok(CertificateView::from(&row))
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<CertificateView>, CertificateError> {
        Ok(self.store.certificates_of(user).await?.iter().map(CertificateView::from).collect())
    }

    pub async fn revoke(&self, session: &SessionRow, rid: Option<&RequestId>, fingerprint: &str) -> Result<(), CertificateError> {
        let now = self.clock.now();
        if self.store.revoke_certificate(&session.user_id, fingerprint, now, &Self::audit(session, rid, "certificate.revoke", now)).await? {
            Ok(())
        } else {
            Err(CertificateError::NotFound)
        }
    }
}
