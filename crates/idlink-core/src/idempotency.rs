//! Idempotent requests (SPEC P4, ADR 0004): who owns a key, the claim a
//! running request holds, and how stored answers are sealed.
//!
//! A key belongs to the API key **and** the end user (or operator) the
//! request authenticated as, so nobody replays another person's answer.
//! The running request's claim travels with the task ([`within`]): every
//! write transaction the store commits during it also marks the claim
//! "effect committed" and is refused if the claim was taken over, so a crash
//! between the effect and the stored answer can never let a retry run the
//! effect again ([`IdempotencyClaim::Interrupted`](crate::ports::IdempotencyClaim)).

use crate::vault::Vault;
use idlink_domain::{ApiKeyId, UserId};
use std::future::Future;

/// Whose `Idempotency-Key` space a request uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A host-app call that acts for no end user (or whose session is not live).
    ApiKey(ApiKeyId),
    /// A host-app call carrying a live session of this user.
    User(ApiKeyId, UserId),
    Operator(String),
}

impl Owner {
    /// The stored owner column.
    pub fn key(&self) -> String {
        match self {
            Owner::ApiKey(k) => k.to_string(),
            Owner::User(k, u) => format!("{k}/user:{u}"),
            Owner::Operator(o) => format!("operator:{o}"),
        }
    }
}

/// The claim a request holds on its key while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRef {
    pub owner: String,
    pub key: String,
    /// Random per claim: a claim taken over after a crash gets a new one, which fences the old holder out.
    pub token: String,
    /// When the request was received (recorded as the effect's time).
    pub at: jiff::Timestamp,
}

tokio::task_local! {
    static CURRENT: ClaimRef;
}

/// Runs `f` (the request) holding `claim`.
pub async fn within<F: Future>(claim: ClaimRef, f: F) -> F::Output {
    CURRENT.scope(claim, f).await
}

/// The claim of the request running on this task, if it has one.
pub fn current() -> Option<ClaimRef> {
    CURRENT.try_with(Clone::clone).ok()
}

fn context(claim_owner: &str, key: &str) -> String {
    format!("idempotency_keys.body:{claim_owner}:{key}")
}

/// Encrypts a stored answer under the vault's answers key, bound to its owner and key.
pub fn seal(vault: &Vault, owner: &str, key: &str, answer: &[u8]) -> Result<Vec<u8>, crate::CoreError> {
    vault.seal(vault.answers_key(), &context(owner, key), answer)
}

/// Decrypts a stored answer; fails for a body sealed for another owner or key.
pub fn open(vault: &Vault, owner: &str, key: &str, sealed: &[u8]) -> Result<Vec<u8>, crate::CoreError> {
    Ok(vault.answers_key().open(&context(owner, key), sealed)?)
}
