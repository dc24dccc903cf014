//! Idempotent requests (SPEC P4, ADR 0004): who owns a key, the claim a
//! running request holds, and how stored answers are sealed.
//!
//! A key belongs to the API key **and** the end user (or operator) the
//! request authenticated as, so nobody replays another person's answer.
//! The running request's claim travels with the task ([`within`]): every
//! write transaction the store commits during it also marks the claim
//! "effect committed" and is refused if the claim was taken over, so a crash
//! between the effect and the stored answer can never let a retry run the
//! effect again ([`IdempotencyClaim::Interrupted`](crate::ports::idempotency::IdempotencyClaim)).

use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{ApiKeyId, UserId};

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

fn context(claim_owner: &str, key: &str) -> String {
    format!("idempotency_keys.body:{claim_owner}:{key}")
}

/// Encrypts a stored answer under the vault's answers key, bound to its owner and key.
pub fn seal(vault: &Vault, owner: &str, key: &str, answer: &[u8]) -> Result<Vec<u8>, CryptoError> {
    vault.seal(vault.answers_key(), &context(owner, key), answer)
}

/// Decrypts a stored answer; fails for a body sealed for another owner or key.
pub fn open(vault: &Vault, owner: &str, key: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    vault.answers_key().open(&context(owner, key), sealed)
}
