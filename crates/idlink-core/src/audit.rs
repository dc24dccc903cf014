//! The audit log's records and its hash chain (SPEC P7).
//!
//! Record `n` stores `hash_n = SHA-256(canonical(n, hash_{n-1}, fields))`;
//! the first record chains from [`GENESIS_HASH`]. Changing any stored byte of
//! a record changes its hash, which breaks the link to the next record.
//! Checkpoints sign `(seq, hash)` with Ed25519 so that rewriting the whole
//! tail of the chain is detected too. [`verify_chain`] is the one verifier,
//! used by `idlink audit verify` and the API.

use idlink_domain::{RequestId, UserId};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// A signed statement that the chain up to `seq` ended in `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
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

/// Why verification stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainBreak {
    /// The record's sequence number is not the previous one plus one.
    Gap { seq: i64, expected: i64 },
    /// The record does not link to its predecessor's hash.
    BrokenLink { seq: i64 },
    /// The record's stored hash is not the hash of its content.
    AlteredRecord { seq: i64 },
    /// A checkpoint's signature is invalid or made with an unknown key.
    BadCheckpointSignature { seq: i64 },
    /// A checkpoint names a hash the chain does not have at that position.
    CheckpointMismatch { seq: i64 },
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Gap { seq, .. }
            | ChainBreak::BrokenLink { seq }
            | ChainBreak::AlteredRecord { seq }
            | ChainBreak::BadCheckpointSignature { seq }
            | ChainBreak::CheckpointMismatch { seq } => *seq,
        }
    }
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Gap { seq, expected } => write!(f, "record {seq}: sequence gap, expected record {expected}"),
            ChainBreak::BrokenLink { seq } => write!(f, "record {seq}: does not link to the previous record's hash"),
            ChainBreak::AlteredRecord { seq } => write!(f, "record {seq}: content does not match its hash (altered)"),
            ChainBreak::BadCheckpointSignature { seq } => write!(f, "checkpoint at record {seq}: signature invalid or key unknown"),
            ChainBreak::CheckpointMismatch { seq } => write!(f, "checkpoint at record {seq}: chain hash differs from the signed one"),
        }
    }
}

/// Incremental verifier: feed records in order, then checkpoints.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    /// (seq → hash) of every record seen, kept only at checkpoint positions.
    wanted: std::collections::BTreeMap<i64, Option<String>>,
    pub records: u64,
}

impl ChainVerifier {
    /// `checkpoint_seqs`: positions whose hashes must be remembered.
    pub fn new(checkpoint_seqs: impl IntoIterator<Item = i64>) -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            wanted: checkpoint_seqs.into_iter().map(|s| (s, None)).collect(),
            records: 0,
        }
    }

    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        if r.seq != self.expected_seq {
            return Err(ChainBreak::Gap { seq: r.seq, expected: self.expected_seq });
        }
        if record_hash(r.seq, &r.prev_hash, &r.entry) != r.hash {
            return Err(ChainBreak::AlteredRecord { seq: r.seq });
        }
        if r.prev_hash != self.prev_hash {
            return Err(ChainBreak::BrokenLink { seq: r.seq });
        }
        if let Some(slot) = self.wanted.get_mut(&r.seq) {
            *slot = Some(r.hash.clone());
        }
        self.expected_seq += 1;
        self.prev_hash = r.hash.clone();
        self.records += 1;
        Ok(())
    }

    /// Checks checkpoints against the records seen and the trusted public key.
    pub fn finish(&self, checkpoints: &[Checkpoint], trusted_public_key: &str) -> Result<(), ChainBreak> {
        for c in checkpoints {
            if c.public_key != trusted_public_key
                || !idlink_crypto::signing::verify(&c.public_key, &Checkpoint::message(c.seq, &c.hash), &c.signature)
            {
                return Err(ChainBreak::BadCheckpointSignature { seq: c.seq });
            }
            match self.wanted.get(&c.seq) {
                Some(Some(h)) if *h == c.hash => {}
                // A checkpoint beyond the last record means records were deleted.
                _ => return Err(ChainBreak::CheckpointMismatch { seq: c.seq }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry::new("system", "test.op", "testing", Timestamp::from_second(seq).unwrap_or_default());
                let hash = record_hash(seq, &prev, &entry);
                let r = AuditRecord { seq, entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> Result<(), ChainBreak> {
        let mut v = ChainVerifier::new([]);
        records.iter().try_for_each(|r| v.push(r))
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_damage_is_named() {
        let good = chain(5);
        assert_eq!(verify(&good), Ok(()));

        let mut altered = good.clone();
        altered[2].entry.purpose.push('!');
        assert_eq!(verify(&altered), Err(ChainBreak::AlteredRecord { seq: 3 }));

        let mut removed = good.clone();
        removed.remove(1);
        assert_eq!(verify(&removed), Err(ChainBreak::Gap { seq: 3, expected: 2 }));

        // Rewriting a record and re-hashing it still breaks the next link.
        let mut rehashed = good.clone();
        rehashed[1].entry.actor = "someone-else".into();
        rehashed[1].hash = record_hash(2, &rehashed[1].prev_hash, &rehashed[1].entry);
        assert_eq!(verify(&rehashed), Err(ChainBreak::BrokenLink { seq: 3 }));
    }

    #[test]
    fn checkpoints_catch_a_rewritten_tail() {
        let signer = idlink_crypto::signing::Ed25519Signer::from_seed(&[5; 32]);
        let good = chain(4);
        let cp = Checkpoint {
            seq: 4,
            hash: good[3].hash.clone(),
            at: Timestamp::UNIX_EPOCH,
            public_key: signer.public_hex(),
            signature: signer.sign(&Checkpoint::message(4, &good[3].hash)),
        };
        let mut v = ChainVerifier::new([4]);
        good.iter().try_for_each(|r| v.push(r)).ok();
        assert_eq!(v.finish(std::slice::from_ref(&cp), &signer.public_hex()), Ok(()));
        assert_eq!(v.finish(std::slice::from_ref(&cp), "00"), Err(ChainBreak::BadCheckpointSignature { seq: 4 }));

        // The whole chain recomputed with a changed record: every link is fine, the checkpoint is not.
        let mut forged = chain(4);
        forged[0].entry.purpose = "forged".into();
        let mut prev = GENESIS_HASH.to_owned();
        for r in forged.iter_mut() {
            r.prev_hash = prev.clone();
            r.hash = record_hash(r.seq, &r.prev_hash, &r.entry);
            prev = r.hash.clone();
        }
        let mut v = ChainVerifier::new([4]);
        assert_eq!(forged.iter().try_for_each(|r| v.push(r)), Ok(()));
        assert_eq!(v.finish(&[cp], &signer.public_hex()), Err(ChainBreak::CheckpointMismatch { seq: 4 }));
    }
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub checkpoints: u64,
    /// The first bad record, if any.
    pub first_break: Option<ChainBreak>,
}

/// Walks every record and checkpoint. `trusted_public_key` is the vault's
/// checkpoint key: a checkpoint signed by any other key is a break.
pub async fn verify_store(
    store: &dyn crate::ports::AuditStore,
    trusted_public_key: &str,
) -> Result<VerifyReport, crate::ports::StoreError> {
    let checkpoints = store.checkpoints().await?;
    let mut v = ChainVerifier::new(checkpoints.iter().map(|c| c.seq));
    let mut after = 0;
    loop {
        let batch = store.audit_records(after, 2000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        if let Err(b) = batch.iter().try_for_each(|r| v.push(r)) {
            return Ok(VerifyReport { records: v.records, checkpoints: checkpoints.len() as u64, first_break: Some(b) });
        }
    }
    let first_break = v.finish(&checkpoints, trusted_public_key).err();
    Ok(VerifyReport { records: v.records, checkpoints: checkpoints.len() as u64, first_break })
}

/// Signs the current chain head if it moved since the last checkpoint.
/// Returns the new checkpoint, if one was written.
pub async fn checkpoint(
    store: &dyn crate::ports::AuditStore,
    signer: &idlink_crypto::signing::Ed25519Signer,
    at: Timestamp,
) -> Result<Option<Checkpoint>, crate::ports::StoreError> {
    let (seq, hash) = store.audit_head().await?;
    if seq == 0 || store.last_checkpoint().await?.is_some_and(|c| c.seq >= seq) {
        return Ok(None);
    }
    let c = Checkpoint { seq, signature: signer.sign(&Checkpoint::message(seq, &hash)), hash, at, public_key: signer.public_hex() };
    store.insert_checkpoint(&c).await?;
    Ok(Some(c))
}
