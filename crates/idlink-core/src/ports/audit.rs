//! The audit log's record types (an entry, a chained record, a signed
//! checkpoint), the chain's hash function, and the store of the log (SPEC P7).
//! The verifier and the signer are in `crate::audit`.

use super::StoreError;
use async_trait::async_trait;
use idlink_domain::{RequestId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record in its own transaction (for events with no other change).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;
    /// Records with `seq > after`, in order, at most `limit`.
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    async fn audit_records_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// The stored checkpoint at `seq`, if any.
    async fn checkpoint_at(&self, seq: i64) -> Result<Option<Checkpoint>, StoreError>;
    /// The chain head: (last seq, last hash).
    async fn audit_head(&self) -> Result<(i64, String), StoreError>;
    /// The retention purges of the chain's oldest records, oldest first.
    async fn audit_purges(&self) -> Result<Vec<AuditPurge>, StoreError>;
    /// Stores a signed checkpoint; false (nothing stored) when one with its
    /// `seq` exists already: another signer signed the same head first.
    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError>;
}

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// What happened, before it is placed in the chain.
///
/// Fields are plain text as stored, so a record read back from the database
/// always parses, even a tampered one, and the verifier can name it; the
/// builder methods take the typed values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Who acted: `apikey:key_…`, `user:usr_…`, `operator:…`, `system`, `cli`.
    pub actor: String,
    /// Whose personal data was read or changed (a user id), if anyone's.
    pub subject: Option<String>,
    /// A dotted verb, e.g. `user.create`, `user.read`, `apikey.revoke`.
    pub action: String,
    /// Why (the business purpose the caller declared).
    pub purpose: String,
    /// `success`, `denied` or `failed` (see [`Outcome`]).
    pub outcome: String,
    pub request_id: Option<String>,
    pub at: Timestamp,
}

impl AuditEntry {
    pub fn new(actor: impl Into<String>, action: impl Into<String>, purpose: impl Into<String>, at: Timestamp) -> Self {
        Self {
            actor: actor.into(),
            subject: None,
            action: action.into(),
            purpose: purpose.into(),
            outcome: Outcome::Success.as_str().to_owned(),
            request_id: None,
            at,
        }
    }

    pub fn subject(mut self, user: &UserId) -> Self {
        self.subject = Some(user.to_string());
        self
    }

    pub fn request(mut self, id: Option<&RequestId>) -> Self {
        self.request_id = id.map(|r| r.to_string());
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome.as_str().to_owned();
        self
    }
}

/// A record as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// A retention purge of the audit chain (issue 18 point 2): the records
/// `first_seq..=through_seq` were deleted; `through_hash` is the hash of the
/// last one, which a signed checkpoint at `through_seq` names, so the chain
/// is verified from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPurge {
    pub first_seq: i64,
    pub through_seq: i64,
    pub through_hash: String,
    /// The months purged, `2021-11` or `2021-10..2021-11` (Asia/Shanghai).
    pub period: String,
    pub records: u64,
    pub purged_at: Timestamp,
}

/// A signed statement that the chain up to `seq` ended in `hash`. Its JSON
/// form is one line of the file witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: Timestamp,
    pub public_key: String,
    pub signature: String,
}

impl Checkpoint {
    pub fn message(seq: i64, hash: &str) -> Vec<u8> {
        format!("idlink-audit-checkpoint-v1:{seq}:{hash}").into_bytes()
    }

    /// Signed by `trusted_public_key`, over its own seq and hash.
    pub fn signed_by(&self, trusted_public_key: &str) -> bool {
        self.public_key == trusted_public_key
            && idlink_crypto::signing::verify(&self.public_key, &Self::message(self.seq, &self.hash), &self.signature)
    }

    /// The same statement: seq, hash, key and signature (`at` may differ when two
    /// signers raced to sign the same head).
    pub fn same_as(&self, other: &Checkpoint) -> bool {
        self.seq == other.seq && self.hash == other.hash && self.public_key == other.public_key && self.signature == other.signature
    }
}

/// The hash of record `seq` given the previous hash. Fields are
/// length-prefixed so no two different records share a preimage.
pub fn record_hash(seq: i64, prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    put(&mut h, b"idlink-audit-v1");
    put(&mut h, &seq.to_be_bytes());
    put(&mut h, prev_hash.as_bytes());
    put(&mut h, e.actor.as_bytes());
    put(&mut h, e.subject.as_deref().unwrap_or("").as_bytes());
    put(&mut h, e.action.as_bytes());
    put(&mut h, e.purpose.as_bytes());
    put(&mut h, e.outcome.as_bytes());
    put(&mut h, e.request_id.as_deref().unwrap_or("").as_bytes());
    put(&mut h, &e.at.as_microsecond().to_be_bytes());
    hex::encode(h.finalize())
}

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}
