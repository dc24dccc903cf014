//! Operators of the host company (SPEC P5): reviewers, auditors and
//! administrators. They sign in with username + password + TOTP, never with
//! host-app API keys, and act under roles.

use crate::audit::{AuditEntry, Outcome};
use crate::clock::Clock;
use crate::error::CoreError;
use crate::payment::{self, PaymentPasswordPolicy};
use crate::ports::{AuditStore, KeyStore, StoreError};
use crate::vault::Vault;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

const TOTP_KEY_ID: &str = "sys-operator-secrets";
const TOTP_CONTEXT: &str = "operators.totp";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reviewer,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Reviewer, Role::Auditor, Role::Admin].into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub totp_cipher: Vec<u8>,
    pub roles: Vec<Role>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSessionRow {
    pub id: String,
    pub operator_id: String,
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait OperatorStore: Send + Sync {
    async fn insert_operator(&self, op: &OperatorRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn operator_by_username(&self, username: &str) -> Result<Option<OperatorRow>, StoreError>;
    async fn operator(&self, id: &str) -> Result<Option<OperatorRow>, StoreError>;
    async fn insert_operator_session(&self, s: &OperatorSessionRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn operator_session(&self, id: &str) -> Result<Option<OperatorSessionRow>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("username, password or one-time code is wrong")]
    BadCredentials,
    #[error("the operator session is unknown or expired; sign in again")]
    SessionInvalid,
    #[error("this action needs the `{0}` role")]
    RoleRequired(&'static str),
    #[error("the username must be 3 to 32 lower-case letters, digits, `.`, `-` or `_`")]
    BadUsername,
    #[error("an operator with this username exists")]
    UsernameTaken,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for OperatorError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(_) => OperatorError::UsernameTaken,
            other => OperatorError::Core(CoreError::Store(other)),
        }
    }
}

/// A new operator's credentials, shown once.
#[derive(Debug)]
pub struct NewOperator {
    pub row: OperatorRow,
    pub password: String,
    pub totp_secret: Vec<u8>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub struct Operators<'a> {
    pub store: &'a dyn OperatorStore,
    pub keys: &'a dyn KeyStore,
    pub audits: &'a dyn AuditStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub password_policy: &'a PaymentPasswordPolicy,
    pub session_ttl: SignedDuration,
}

impl Operators<'_> {
    /// Creates an operator with a random password and TOTP secret.
    pub async fn create(&self, username: &str, roles: &[Role], actor: &str) -> Result<NewOperator, OperatorError> {
        let valid = (3..=32).contains(&username.len())
            && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(OperatorError::BadUsername);
        }
        let rng = self.vault.rng();
        let password = idlink_crypto::totp::to_base32(&rng.bytes16()).to_lowercase();
        let totp_secret = rng.bytes32()[..20].to_vec();
        let key = self.vault.system_data_key(self.keys, TOTP_KEY_ID).await?;
        let now = self.clock.now();
        let row = OperatorRow {
            id: format!("op_{}", hex::encode(rng.bytes16())),
            username: username.to_owned(),
            password_hash: payment::hash(self.password_policy, rng, &password).await?,
            totp_cipher: self.vault.seal(&key, TOTP_CONTEXT, &totp_secret)?,
            roles: roles.to_vec(),
            created_at: now,
        };
        let audit = AuditEntry::new(actor, "operator.create", "administration", now);
        self.store.insert_operator(&row, &audit).await?;
        Ok(NewOperator { row, password, totp_secret })
    }

    /// Signs in with password and one-time code; returns the session and its token.
    pub async fn sign_in(&self, username: &str, password: &str, totp: &str) -> Result<(OperatorRow, String), OperatorError> {
        let now = self.clock.now();
        let op = self.store.operator_by_username(username).await?;
        let ok = match &op {
            Some(op) => {
                let key = self.vault.system_data_key(self.keys, TOTP_KEY_ID).await?;
                let secret = key.open(TOTP_CONTEXT, &op.totp_cipher).map_err(CoreError::from)?;
                let password_ok = payment::matches(op.password_hash.clone(), password).await;
                password_ok && idlink_crypto::totp::verify(&secret, totp, now.as_second())
            }
            None => {
                let _ = payment::hash(self.password_policy, self.vault.rng(), password).await;
                false
            }
        };
        let actor = format!("operator:{username}");
        let Some(op) = op.filter(|_| ok) else {
            let denied = AuditEntry::new(actor, "operator.sign_in", "administration", now).outcome(Outcome::Denied);
            self.audits.append_audit(&denied).await?;
            return Err(OperatorError::BadCredentials);
        };
        let secret = hex::encode(self.vault.rng().bytes32());
        let s = OperatorSessionRow {
            id: format!("ops_{}", hex::encode(self.vault.rng().bytes16())),
            operator_id: op.id.clone(),
            secret_hash: hash(&secret),
            created_at: now,
            expires_at: now.checked_add(self.session_ttl).unwrap_or(now),
        };
        let audit = AuditEntry::new(format!("operator:{}", op.id), "operator.sign_in", "administration", now);
        self.store.insert_operator_session(&s, &audit).await?;
        Ok((op, format!("{}.{secret}", s.id)))
    }

    /// The operator behind a session token.
    pub async fn authenticate(&self, token: &str) -> Result<OperatorRow, OperatorError> {
        let (id, secret) = token.split_once('.').ok_or(OperatorError::SessionInvalid)?;
        let s = self.store.operator_session(id).await?.ok_or(OperatorError::SessionInvalid)?;
        if s.secret_hash != hash(secret) || s.expires_at <= self.clock.now() {
            return Err(OperatorError::SessionInvalid);
        }
        self.store.operator(&s.operator_id).await?.ok_or(OperatorError::SessionInvalid)
    }
}

/// Refuses unless the operator holds `role` (admins hold every role).
pub fn require(op: &OperatorRow, role: Role) -> Result<(), OperatorError> {
    if op.roles.contains(&role) || op.roles.contains(&Role::Admin) { Ok(()) } else { Err(OperatorError::RoleRequired(role.as_str())) }
}
