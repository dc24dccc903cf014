//! The payment password (SPEC ID6): six digits, stored only as an Argon2id
//! hash; [`PaymentPasswordPolicy::max_failures`] consecutive failures lock
//! it until a reset through a verified channel. What a new password may be
//! and when a count locks are rules of `idlink_domain::payment_password`;
//! this module hashes, verifies and counts.
//!
//! The failure counter is one row updated with `failures = failures + 1
//! … RETURNING failures`, so it is exact under any concurrency and across
//! nodes: N parallel wrong attempts count N, and the lock event is written
//! by the attempt that made the count reach the limit, exactly once. A wrong
//! password, a locked password and a user without one get the same answer,
//! after the same amount of hashing work.

use crate::ports::payment::PaymentPasswordStore;

use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::{Rng, StoreError};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use idlink_domain::UserId;
use idlink_domain::payment_password::is_locked;
use jiff::Timestamp;

/// Argon2id parameters and the lockout threshold (`[payment_password]`).
/// Defaults are OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone)]
pub struct PaymentPasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_failures: u32,
}

impl Default for PaymentPasswordPolicy {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1, max_failures: 3 }
    }
}

/// Argon2 could not hash: a cost the library refuses, or a hashing thread
/// that failed. A fault of the server, never of the caller; the causes name
/// no password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(argon2::Error),
    #[error("hashing task failed: {0}")]
    Task(tokio::task::JoinError),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

fn argon(policy: &PaymentPasswordPolicy) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(policy.memory_kib, policy.iterations, policy.parallelism, Some(32)).map_err(HashError::Params)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes on a blocking thread (tens of milliseconds of CPU by design).
pub async fn hash(policy: &PaymentPasswordPolicy, rng: &dyn Rng, password: &str) -> Result<String, HashError> {
    let a = argon(policy)?;
    let salt = rng.bytes16();
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || a.hash_password_with_salt(pw.as_bytes(), &salt).map(|h| h.to_string()))
        .await
        .map_err(HashError::Task)?
        .map_err(HashError::Hash)
}

/// Checks a password against a PHC-format Argon2 hash, on a blocking thread.
pub async fn matches(phc: String, password: &str) -> bool {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(pw.as_bytes(), phc.as_str()).is_ok()).await.unwrap_or(false)
}

/// Who is verifying, for the audit records.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub user: &'a UserId,
    pub actor: &'a str,
    pub request_id: Option<&'a idlink_domain::RequestId>,
    pub at: Timestamp,
}

impl Attempt<'_> {
    fn audit(&self, action: &str, outcome: Outcome) -> AuditEntry {
        AuditEntry::new(self.actor, action, "payment authorisation", self.at).subject(self.user).request(self.request_id).outcome(outcome)
    }
}

/// Checks a payment password. `Ok(true)` only for the right password of an
/// unlocked user; every other case is `Ok(false)` after the same hashing work.
pub async fn verify(
    store: &dyn PaymentPasswordStore,
    policy: &PaymentPasswordPolicy,
    rng: &dyn Rng,
    attempt: &Attempt<'_>,
    password: &str,
) -> Result<bool, StoreError> {
    let row = store.payment_password(attempt.user).await?;
    let usable = row.as_ref().filter(|r| !is_locked(r.failures, policy.max_failures));
    let right = match usable {
        Some(r) => matches(r.hash.clone(), password).await,
        None => {
            // Same cost as a real check, so timing does not tell the cases apart.
            let _ = hash(policy, rng, password).await;
            false
        }
    };
    if right {
        let ok = store
            .clear_payment_password_failures(
                attempt.user,
                policy.max_failures,
                &attempt.audit("payment_password.verified", Outcome::Success),
            )
            .await?;
        return Ok(ok);
    }
    if row.is_some() {
        store
            .count_payment_password_failure(
                attempt.user,
                policy.max_failures,
                attempt.at,
                &attempt.audit("payment_password.failed", Outcome::Denied),
                &attempt.audit("payment_password.locked", Outcome::Denied),
            )
            .await?;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::SeededRandom;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_configured_cost_and_verify() {
        let policy = PaymentPasswordPolicy { memory_kib: 1024, ..PaymentPasswordPolicy::default() };
        let h = hash(&policy, &SeededRandom::new(1), "135790").await.unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{h}");
        assert!(matches(h.clone(), "135790").await);
        assert!(!matches(h, "135791").await);
    }

    /// A cost Argon2 refuses is a hashing failure of the server, not a conflict of the caller's.
    #[tokio::test]
    async fn a_cost_argon2_refuses_is_a_hashing_error() {
        let policy = PaymentPasswordPolicy { memory_kib: 1024, parallelism: 0, ..PaymentPasswordPolicy::default() };
        let e = hash(&policy, &SeededRandom::new(1), "135790").await.err();
        assert!(matches!(e, Some(HashError::Params(argon2::Error::ThreadsTooFew))), "{e:?}");
    }
}
