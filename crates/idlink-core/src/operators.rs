//! Operators of the host company (SPEC P5): reviewers, auditors and
//! administrators. They sign in with username + password + TOTP, never with
//! host-app API keys, and act under roles.

use crate::ports::operators::{OperatorRow, OperatorSessionRow, OperatorStore, Role, RoleRequired};

use crate::payment::{self, HashError, PaymentPasswordPolicy};
use crate::ports::audit::{AuditEntry, AuditStore, Outcome};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::keys::KeyStore;
use crate::ports::operators::require;
use crate::ports::{Rng, StoreError};
use crate::steps::paging::seal_phone;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{OperatorId, OperatorSessionId, PhoneNumber};
use jiff::SignedDuration;
use sha2::{Digest, Sha256};

const TOTP_KEY_ID: &str = crate::steps::paging::OPERATOR_KEY_ID;
const TOTP_CONTEXT: &str = "operators.totp";

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Wrong credentials or a locked operator: one answer for both, so the
    /// refusal does not tell a guesser which (the audit record does).
    #[error("username, password or one-time code is wrong, or sign-in is locked for a while after repeated failures")]
    BadCredentials,
    #[error("no operator with this username")]
    UnknownOperator,
    #[error("the operator session is unknown or expired; sign in again")]
    SessionInvalid,
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error("the username must be 3 to 32 lower-case letters, digits, `.`, `-` or `_`")]
    BadUsername,
    #[error("an operator with this username exists")]
    UsernameTaken,
    #[error("no such operator")]
    NotFound,
    /// On duty means paged by SMS: an operator without a paging phone could not be reached.
    #[error("an operator on duty needs a paging phone")]
    PagingPhoneRequired,
    /// Argon2 failed: a fault of the server, never of the caller.
    #[error("password hashing: {0}")]
    Hash(#[from] HashError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for OperatorError {
    /// The only uniqueness rule an operator write can meet is the username's.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(_) => OperatorError::UsernameTaken,
            other => OperatorError::Store(other),
        }
    }
}

#[derive(Debug)]
pub struct NewOperator {
    pub row: OperatorRow,
    pub password: String,
    pub totp_secret: Vec<u8>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How repeated failed sign-ins lock an operator: never for good, so a
/// guesser who knows a username cannot lock its owner out permanently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// Failures in a row that lock the operator.
    pub max_failures: u32,
    /// How long a lock lasts; it then ends by itself.
    pub lock_for: SignedDuration,
    /// A session unused this long is refused (the absolute limit is `session_ttl`).
    pub idle_timeout: SignedDuration,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self { max_failures: 5, lock_for: SignedDuration::from_mins(15), idle_timeout: SignedDuration::from_mins(30) }
    }
}

/// A session's last-seen time is written at most this often (not on every request).
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(30);

pub struct Operators<'a> {
    pub store: &'a dyn OperatorStore,
    pub keys: &'a dyn KeyStore,
    pub audits: &'a dyn AuditStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub password_policy: &'a PaymentPasswordPolicy,
    pub session_ttl: SignedDuration,
    pub policy: SignInPolicy,
}

impl Operators<'_> {
    /// Creates an operator with a random password and TOTP secret.
    pub async fn create(&self, username: &str, roles: &[Role], actor: &str) -> Result<NewOperator, OperatorError> {
        let valid = (3..=32).contains(&username.len())
            && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(OperatorError::BadUsername);
        }
        let rng = self.rng;
        let password = idlink_crypto::totp::to_base32(&rng.bytes16()).to_lowercase();
        let totp_secret = rng.bytes32()[..20].to_vec();
        let key = self.vault.system_data_key::<OperatorError>(self.keys, TOTP_KEY_ID).await?;
        let now = self.clock.now();
        let row = OperatorRow {
            id: self.ids.operator(),
            username: username.to_owned(),
            password_hash: payment::hash(self.password_policy, rng, &password).await?,
            totp_cipher: self.vault.seal(&key, TOTP_CONTEXT, &totp_secret)?,
            roles: roles.to_vec(),
            created_at: now,
            on_duty: false,
            phone_cipher: None,
            failed_sign_ins: 0,
            locked_until: None,
        };
        let audit = AuditEntry::new(actor, "operator.create", "administration", now);
        self.store.insert_operator(&row, &audit).await?;
        Ok(NewOperator { row, password, totp_secret })
    }

    /// Signs in with password and one-time code; returns the session and its token.
    ///
    /// A locked operator is refused with the same error as wrong credentials
    /// (the audit record says `operator.sign_in_locked`); the
    /// `policy.max_failures`-th failure in a row locks for `policy.lock_for`.
    pub async fn sign_in(&self, username: &str, password: &str, totp: &str) -> Result<(OperatorRow, String), OperatorError> {
        let now = self.clock.now();
        let op = self.store.operator_by_username(username).await?;
        let actor = format!("operator:{username}");
        let denied = |action: &str| AuditEntry::new(actor.clone(), action, "administration", now).outcome(Outcome::Denied);
        let ok = match &op {
            Some(op) if !op.locked(now) => {
                let key = self.vault.system_data_key::<OperatorError>(self.keys, TOTP_KEY_ID).await?;
                let secret = key.open(TOTP_CONTEXT, &op.totp_cipher)?;
                let password_ok = payment::matches(op.password_hash.clone(), password).await;
                password_ok && idlink_crypto::totp::verify(&secret, totp, now.as_second())
            }
            Some(_) => {
                // Locked: the password is not even checked, but the answer takes as long.
                let _ = payment::hash(self.password_policy, self.rng, password).await;
                self.audits.append_audit(&denied("operator.sign_in_locked")).await?;
                return Err(OperatorError::BadCredentials);
            }
            None => {
                let _ = payment::hash(self.password_policy, self.rng, password).await;
                false
            }
        };
        let op = match op {
            Some(op) if ok => op,
            Some(op) => {
                let until = now.checked_add(self.policy.lock_for).unwrap_or(now);
                let locks = op.failed_sign_ins.saturating_add(1) >= self.policy.max_failures;
                let audit = denied(if locks { "operator.lock" } else { "operator.sign_in" });
                self.store.record_sign_in_failure(&op.id, self.policy.max_failures, until, &audit).await?;
                return Err(OperatorError::BadCredentials);
            }
            None => {
                self.audits.append_audit(&denied("operator.sign_in")).await?;
                return Err(OperatorError::BadCredentials);
            }
        };
        let secret = hex::encode(self.rng.bytes32());
        let s = OperatorSessionRow {
            id: self.ids.operator_session(),
            operator_id: op.id.clone(),
            secret_hash: hash(&secret),
            created_at: now,
            expires_at: now.checked_add(self.session_ttl).unwrap_or(now),
            last_seen_at: now,
        };
        let audit = AuditEntry::new(format!("operator:{}", op.id), "operator.sign_in", "administration", now);
        self.store.insert_operator_session(&s, &audit).await?;
        Ok((OperatorRow { failed_sign_ins: 0, locked_until: None, ..op }, format!("{}.{secret}", s.id)))
    }

    /// Ends an operator's lock before its time (an admin's act, `idlink operator unlock`).
    pub async fn unlock(&self, username: &str, actor: &str) -> Result<OperatorRow, OperatorError> {
        let op = self.store.operator_by_username(username).await?.ok_or(OperatorError::UnknownOperator)?;
        let audit = AuditEntry::new(actor, "operator.unlock", "administration", self.clock.now());
        if !self.store.unlock_operator(&op.id, &audit).await? {
            return Err(OperatorError::UnknownOperator);
        }
        Ok(OperatorRow { failed_sign_ins: 0, locked_until: None, ..op })
    }

    /// [`Operators::unlock`] by an admin (the console's unlock button).
    pub async fn unlock_by(&self, admin: &OperatorRow, username: &str) -> Result<OperatorRow, OperatorError> {
        require(admin, Role::Admin)?;
        self.unlock(username, &format!("operator:{}", admin.id)).await
    }

    /// Ends the session behind a token (sign-out): the token is refused from now on.
    pub async fn sign_out(&self, token: &str) -> Result<(), OperatorError> {
        let (id, secret) = token.split_once('.').ok_or(OperatorError::SessionInvalid)?;
        let id = OperatorSessionId::parse(id).map_err(|_| OperatorError::SessionInvalid)?;
        let s = self.store.operator_session(&id).await?.ok_or(OperatorError::SessionInvalid)?;
        if s.secret_hash != hash(secret) {
            return Err(OperatorError::SessionInvalid);
        }
        let now = self.clock.now();
        let audit = AuditEntry::new(format!("operator:{}", s.operator_id), "operator.sign_out", "administration", now);
        self.store.end_operator_session(&id, now, &audit).await?;
        Ok(())
    }

    /// Every operator (admins only).
    pub async fn list(&self, admin: &OperatorRow) -> Result<Vec<OperatorRow>, OperatorError> {
        require(admin, Role::Admin)?;
        Ok(self.store.operators().await?)
    }

    /// Puts an operator on or off duty (admins only), with the phone they are
    /// paged on when a review case breaches its SLA (kept when `phone` is `None`).
    pub async fn set_on_duty(
        &self,
        admin: &OperatorRow,
        target: &OperatorId,
        on_duty: bool,
        phone: Option<&PhoneNumber>,
    ) -> Result<OperatorRow, OperatorError> {
        require(admin, Role::Admin)?;
        self.set_on_duty_as(&format!("operator:{}", admin.id), target, on_duty, phone).await
    }

    /// [`Operators::set_on_duty`] by `actor` without an operator's role check:
    /// for the command line (`cli`), whose user has host access.
    pub async fn set_on_duty_as(
        &self,
        actor: &str,
        target: &OperatorId,
        on_duty: bool,
        phone: Option<&PhoneNumber>,
    ) -> Result<OperatorRow, OperatorError> {
        if on_duty && phone.is_none() {
            let current = self.store.operator(target).await?.ok_or(OperatorError::NotFound)?;
            if current.phone_cipher.is_none() {
                return Err(OperatorError::PagingPhoneRequired);
            }
        }
        let cipher = match phone {
            Some(p) => Some(seal_phone::<OperatorError>(self.vault, self.keys, target, p).await?),
            None => None,
        };
        let now = self.clock.now();
        let what =
            format!("{target} {}{}", if on_duty { "on duty" } else { "off duty" }, if phone.is_some() { ", paging phone set" } else { "" });
        let audit = AuditEntry::new(actor, "operator.duty", what, now);
        if !self.store.set_on_duty(target, on_duty, cipher.as_deref(), &audit).await? {
            return Err(OperatorError::NotFound);
        }
        self.store.operator(target).await?.ok_or(OperatorError::NotFound)
    }

    /// The operator behind a session token.
    pub async fn authenticate(&self, token: &str) -> Result<OperatorRow, OperatorError> {
        let (id, secret) = token.split_once('.').ok_or(OperatorError::SessionInvalid)?;
        let id = OperatorSessionId::parse(id).map_err(|_| OperatorError::SessionInvalid)?;
        let s = self.store.operator_session(&id).await?.ok_or(OperatorError::SessionInvalid)?;
        let now = self.clock.now();
        let idle_until = s.last_seen_at.checked_add(self.policy.idle_timeout).unwrap_or(s.last_seen_at);
        if s.secret_hash != hash(secret) || s.expires_at <= now || idle_until <= now {
            return Err(OperatorError::SessionInvalid);
        }
        let op = self.store.operator(&s.operator_id).await?.ok_or(OperatorError::SessionInvalid)?;
        if now.duration_since(s.last_seen_at) >= TOUCH_EVERY {
            self.store.touch_operator_session(&s.id, now).await?;
        }
        Ok(op)
    }
}
