//! The audit log's records and its hash chain (SPEC P7).
//!
//! Record `n` stores `hash_n = SHA-256(canonical(n, hash_{n-1}, fields))`;
//! the first record chains from [`GENESIS_HASH`]. Changing any stored byte of
//! a record changes its hash, which breaks the link to the next record.
//! Checkpoints sign `(seq, hash)` with Ed25519 so that rewriting the whole
//! tail of the chain is detected too, and each is also written to a witness
//! outside the database ([`crate::ports::witness`]) so that cutting the chain and
//! the checkpoints above the cut is detected as well.
//!
//! [`verify_store`] is the one verifier, used by `idlink audit verify` and the
//! API; [`checkpoint`] is the one signer, used by the server's periodic task,
//! its start and shutdown, and `idlink audit checkpoint`. What each check
//! catches, and what it cannot, is in `docs/audit.md`.

use crate::ports::audit::{AuditEntry, AuditPurge, AuditRecord, AuditStore, Checkpoint, GENESIS_HASH, record_hash};

use crate::ports::StoreError;
use crate::ports::witness::{AuditWitness, WitnessError};
use idlink_crypto::signing::Ed25519Signer;
use jiff::SignedDuration;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// The action of the record a signer appends before signing records that
/// waited longer than the allowance: the late signing and its reason become
/// part of the signed chain, and [`verify_store`] reports them.
pub const LATE_SIGNING_ACTION: &str = "audit.late_signing";

/// The action of the record a retention purge of the chain appends, in the
/// purge's own transaction: the kept chain names the newest purge (see
/// [`purge_purpose`]), so a cut with a forged purge row is a break.
pub const PURGE_ACTION: &str = "audit.purge";

/// What the record of a purge says (its `purpose`); the verifier looks for
/// exactly this text for the newest purge.
pub fn purge_purpose(p: &AuditPurge) -> String {
    format!(
        "retention: audit records {} to {} ({}) purged; the chain is verified from the signed checkpoint at record {} with hash {}",
        p.first_seq, p.through_seq, p.period, p.through_seq, p.through_hash
    )
}

/// How often the chain is signed, and how late a signature may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// `audit.checkpoint_interval_secs`.
    pub interval: SignedDuration,
    /// `audit.checkpoint_grace_secs`: a late tick, a record stamped at the start of
    /// a slow request and committed at its end, clocks of several nodes.
    pub grace: SignedDuration,
}

impl CheckpointPolicy {
    /// The longest a record may wait for the checkpoint that covers it.
    pub fn allowance(&self) -> SignedDuration {
        self.interval.checked_add(self.grace).unwrap_or(SignedDuration::MAX)
    }
}

/// Why verification failed: the first problem found.
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
    /// A checkpoint names a record past the chain's end (`seq` is the first missing record).
    CheckpointBeyondChain { seq: i64, checkpoint: i64 },
    /// `audit_head` names a record past the chain's end (`seq` is the first missing record).
    HeadBeyondChain { seq: i64, head: i64 },
    /// `audit_head`'s hash is not the hash of the record it names.
    HeadMismatch { seq: i64 },
    /// The witness holds a checkpoint past the chain's end (`seq` is the first missing record).
    WitnessAhead { seq: i64, witnessed: i64 },
    /// The chain's hash at a witnessed checkpoint is not the witnessed one.
    WitnessChainMismatch { seq: i64 },
    /// A witnessed checkpoint is not in the database.
    WitnessedCheckpointMissing { seq: i64 },
    /// The database's checkpoint differs from the witnessed one.
    WitnessCheckpointMismatch { seq: i64 },
    /// The database kept another checkpoint at the seq this signer just
    /// signed, with another hash or key (or none at all): the chain forked
    /// between signers, or the checkpoint table was tampered with.
    CheckpointFork { seq: i64 },
    /// A retention purge ends at record `seq`, but no checkpoint signed at
    /// `seq` names the hash the purge recorded: the records were not cut at a signed point.
    PurgeWithoutCheckpoint { seq: i64 },
    /// The newest purge (through record `seq`) is not recorded in the kept
    /// chain: records were removed and a purge row written by other hands.
    PurgeNotRecorded { seq: i64 },
    /// A purge ends at a checkpoint the witness saw signed less than the
    /// legal five years before it was purged: records were cut too early.
    PurgeTooEarly { seq: i64 },
    /// A witness entry is not signed by the trusted key.
    BadWitnessSignature { seq: i64 },
    /// A witness entry cannot be read as a checkpoint.
    WitnessCorrupt { entry: u64, detail: String },
    /// A checkpoint older than the allowance is not in the witness.
    UnwitnessedCheckpoint { seq: i64, age_secs: i64, allowed_secs: i64 },
    /// Records `seq..=checkpoint` waited longer than the allowance for their
    /// checkpoint, with no late signing recorded: checkpoints between were removed.
    LateCheckpoint { seq: i64, checkpoint: i64, waited_secs: i64, allowed_secs: i64 },
    /// Records `seq..=last` after the last checkpoint are older than the allowance.
    UnsignedTail { seq: i64, last: i64, age_secs: i64, allowed_secs: i64 },
    /// The chain has records older than the allowance and no checkpoint at all.
    NoCheckpoint { seq: i64, last: i64, age_secs: i64, allowed_secs: i64 },
}

impl ChainBreak {
    /// The first record the problem concerns, if it concerns one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            ChainBreak::Gap { seq, .. }
            | ChainBreak::BrokenLink { seq }
            | ChainBreak::AlteredRecord { seq }
            | ChainBreak::BadCheckpointSignature { seq }
            | ChainBreak::CheckpointMismatch { seq }
            | ChainBreak::CheckpointBeyondChain { seq, .. }
            | ChainBreak::HeadBeyondChain { seq, .. }
            | ChainBreak::HeadMismatch { seq }
            | ChainBreak::WitnessAhead { seq, .. }
            | ChainBreak::WitnessChainMismatch { seq }
            | ChainBreak::WitnessedCheckpointMissing { seq }
            | ChainBreak::WitnessCheckpointMismatch { seq }
            | ChainBreak::CheckpointFork { seq }
            | ChainBreak::BadWitnessSignature { seq }
            | ChainBreak::UnwitnessedCheckpoint { seq, .. }
            | ChainBreak::LateCheckpoint { seq, .. }
            | ChainBreak::UnsignedTail { seq, .. }
            | ChainBreak::NoCheckpoint { seq, .. }
            | ChainBreak::PurgeWithoutCheckpoint { seq }
            | ChainBreak::PurgeNotRecorded { seq }
            | ChainBreak::PurgeTooEarly { seq } => Some(*seq),
            ChainBreak::WitnessCorrupt { .. } => None,
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
            ChainBreak::CheckpointBeyondChain { seq, checkpoint } => {
                write!(f, "checkpoint at record {checkpoint}: the chain ends before record {seq}, so records it signed were removed")
            }
            ChainBreak::HeadBeyondChain { seq, head } => {
                write!(f, "the chain head (audit_head) is at record {head} but the chain ends before record {seq}: records were removed")
            }
            ChainBreak::HeadMismatch { seq } => {
                write!(f, "the chain head (audit_head) names record {seq} with a hash the record does not have")
            }
            ChainBreak::WitnessAhead { seq, witnessed } => write!(
                f,
                "the witness holds a checkpoint at record {witnessed} but the chain ends before record {seq}: records and checkpoints were removed from the database"
            ),
            ChainBreak::WitnessChainMismatch { seq } => write!(
                f,
                "record {seq}: the chain's hash differs from the witnessed checkpoint at this record: records up to it were rewritten"
            ),
            ChainBreak::WitnessedCheckpointMissing { seq } => write!(
                f,
                "checkpoint at record {seq} is in the witness but not in the database: checkpoints were removed from the database"
            ),
            ChainBreak::WitnessCheckpointMismatch { seq } => {
                write!(f, "checkpoint at record {seq}: the database's checkpoint differs from the witnessed one")
            }
            ChainBreak::CheckpointFork { seq } => write!(
                f,
                "checkpoint at record {seq}: the database kept a checkpoint with another hash or key than the one signed for the same chain: the chain forked or the checkpoints were tampered with"
            ),
            ChainBreak::BadWitnessSignature { seq } => {
                write!(f, "the witness's checkpoint at record {seq}: signature invalid or key unknown")
            }
            ChainBreak::PurgeWithoutCheckpoint { seq } => write!(
                f,
                "the records up to {seq} were purged, but no signed checkpoint at record {seq} names the hash the purge recorded: the chain was cut at an unsigned point"
            ),
            ChainBreak::PurgeNotRecorded { seq } => write!(
                f,
                "the records up to {seq} are gone and a purge row says so, but the kept chain has no record of that purge: records were removed by other hands"
            ),
            ChainBreak::PurgeTooEarly { seq } => write!(
                f,
                "the records up to {seq} were purged less than five years after the witness saw them signed: records were cut before their legal time"
            ),
            ChainBreak::WitnessCorrupt { entry, detail } => write!(f, "witness entry {entry} is not a checkpoint ({detail})"),
            ChainBreak::UnwitnessedCheckpoint { seq, age_secs, allowed_secs } => write!(
                f,
                "checkpoint at record {seq}, signed {age_secs} s ago, is not in the witness (allowed {allowed_secs} s): the witness lost entries or cannot be written"
            ),
            ChainBreak::LateCheckpoint { seq, checkpoint, waited_secs, allowed_secs } => write!(
                f,
                "records {seq} to {checkpoint} waited {waited_secs} s for a checkpoint (allowed {allowed_secs} s) and no late signing is recorded: checkpoints between them were removed"
            ),
            ChainBreak::UnsignedTail { seq, last, age_secs, allowed_secs } => write!(
                f,
                "records {seq} to {last} are not covered by a signed checkpoint and the oldest was written {age_secs} s ago (allowed {allowed_secs} s): checkpoints were removed, the server's checkpoints fail, or the server stopped without signing (after a crash: start it, or run `idlink audit checkpoint`, which records the late signing)"
            ),
            ChainBreak::NoCheckpoint { seq, last, age_secs, allowed_secs } => write!(
                f,
                "records {seq} to {last} have no signed checkpoint at all and the oldest was written {age_secs} s ago (allowed {allowed_secs} s): checkpoints were removed, or no server has signed since (start it, or run `idlink audit checkpoint`)"
            ),
        }
    }
}

/// Incremental verifier: feed records in order, then checkpoints.
#[derive(Debug)]
pub struct ChainVerifier {
    /// The record verification started after (0, or the last record purged).
    floor: i64,
    expected_seq: i64,
    prev_hash: String,
    /// What the [`PURGE_ACTION`] records seen say.
    purges_recorded: Vec<String>,
    /// (seq → hash) of the records seen at the positions asked for.
    wanted: BTreeMap<i64, Option<String>>,
    pub records: u64,
}

impl ChainVerifier {
    /// From the genesis. `wanted_seqs`: positions whose hashes must be remembered
    /// (checkpoints, witnessed checkpoints, the head).
    pub fn new(wanted_seqs: impl IntoIterator<Item = i64>) -> Self {
        Self::resume(0, GENESIS_HASH, wanted_seqs)
    }

    /// After a record already trusted (a witnessed checkpoint): the next record
    /// must be `seq + 1` and link to `hash`.
    pub fn resume(seq: i64, hash: &str, wanted_seqs: impl IntoIterator<Item = i64>) -> Self {
        let mut wanted: BTreeMap<i64, Option<String>> = wanted_seqs.into_iter().filter(|s| *s > seq).map(|s| (s, None)).collect();
        wanted.insert(seq, Some(hash.to_owned()));
        Self { floor: seq, expected_seq: seq + 1, prev_hash: hash.to_owned(), purges_recorded: Vec::new(), wanted, records: 0 }
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
        if r.entry.action == PURGE_ACTION {
            self.purges_recorded.push(r.entry.purpose.clone());
        }
        self.expected_seq += 1;
        self.prev_hash = r.hash.clone();
        self.records += 1;
        Ok(())
    }

    /// The record verification started after.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// The first record verified, if any.
    pub fn first_seq_seen(&self) -> Option<i64> {
        (self.records > 0).then_some(self.floor + 1)
    }

    /// The last record verified (or the resume point).
    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }

    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }

    /// The hash seen at a wanted position, or the resume point's.
    pub fn hash_at(&self, seq: i64) -> Option<&str> {
        self.wanted.get(&seq).and_then(|h| h.as_deref())
    }

    /// Checks checkpoints against the records seen and the trusted public key.
    pub fn finish(&self, checkpoints: &[Checkpoint], trusted_public_key: &str) -> Result<(), ChainBreak> {
        for c in checkpoints {
            if !c.signed_by(trusted_public_key) {
                return Err(ChainBreak::BadCheckpointSignature { seq: c.seq });
            }
            // Below the start the records were purged: the signature is all there is to check.
            if c.seq < self.floor {
                continue;
            }
            if c.seq > self.last_seq() {
                return Err(ChainBreak::CheckpointBeyondChain { seq: self.last_seq() + 1, checkpoint: c.seq });
            }
            if self.hash_at(c.seq) != Some(c.hash.as_str()) {
                return Err(ChainBreak::CheckpointMismatch { seq: c.seq });
            }
        }
        Ok(())
    }

    /// The head must name a record of the chain, with its hash. Records
    /// appended after the head was read may follow it.
    pub fn check_head(&self, head: &(i64, String)) -> Result<(), ChainBreak> {
        let (seq, hash) = head;
        if *seq > self.last_seq() {
            return Err(ChainBreak::HeadBeyondChain { seq: self.last_seq() + 1, head: *seq });
        }
        match self.hash_at(*seq) {
            Some(h) if h == hash => Ok(()),
            _ => Err(ChainBreak::HeadMismatch { seq: *seq }),
        }
    }
}

/// Records signed later than the allowance, with a recorded reason
/// ([`LATE_SIGNING_ACTION`]): after a crash, a paused process, or a manual
/// signing. Not a break, but reported: a truncation followed by a restart
/// looks the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateSigning {
    pub first_seq: i64,
    pub checkpoint_seq: i64,
    pub waited_secs: i64,
    /// The record that says why.
    pub reason_seq: i64,
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub checkpoints: u64,
    /// What the witness is, and how many checkpoints it holds.
    pub witness: String,
    pub witnessed: u64,
    pub newest_witnessed: Option<i64>,
    /// Records after the last checkpoint, waiting for the next one.
    pub unsigned_records: u64,
    pub late_signings: Vec<LateSigning>,
    /// The periods purged by retention, oldest first: the chain is verified
    /// from the signed checkpoint at the newest purge's last record.
    pub purged: Vec<AuditPurge>,
    /// The first problem, if any.
    pub first_break: Option<ChainBreak>,
}

/// The records between consecutive checkpoints: when the first was written,
/// and whether a late signing was recorded among them.
#[derive(Debug, Clone, Copy)]
struct Span {
    first_seq: i64,
    first_at: Timestamp,
    last_seq: i64,
    late_reason: Option<i64>,
}

/// Splits the records into spans by the checkpoints' seqs (sorted): span `i`
/// holds the records the checkpoint `i` covers and `i - 1` does not; the last
/// span, the records after every checkpoint.
struct Spans {
    bounds: Vec<i64>,
    at: usize,
    spans: Vec<Option<Span>>,
}

impl Spans {
    fn new(bounds: Vec<i64>) -> Self {
        let n = bounds.len();
        Self { bounds, at: 0, spans: vec![None; n + 1] }
    }

    fn push(&mut self, r: &AuditRecord) {
        while self.at < self.bounds.len() && r.seq > self.bounds[self.at] {
            self.at += 1;
        }
        let late = (r.entry.action == LATE_SIGNING_ACTION).then_some(r.seq);
        let Some(slot) = self.spans.get_mut(self.at) else { return };
        match slot {
            None => *slot = Some(Span { first_seq: r.seq, first_at: r.entry.at, last_seq: r.seq, late_reason: late }),
            Some(s) => {
                s.last_seq = r.seq;
                s.late_reason = late.or(s.late_reason);
            }
        }
    }
}

/// Why a verification or a signing could not finish.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// The signer will not sign a chain that does not extend the last witnessed checkpoint.
    #[error("refusing to sign the audit chain: {0}; run `idlink audit verify`")]
    Refused(ChainBreak),
}

/// Feeds the verifier every record after the last one it has seen.
async fn walk(store: &dyn AuditStore, v: &mut ChainVerifier, mut spans: Option<&mut Spans>) -> Result<Result<(), ChainBreak>, StoreError> {
    loop {
        let batch = store.audit_records(v.last_seq(), 2000).await?;
        if batch.is_empty() {
            return Ok(Ok(()));
        }
        for r in &batch {
            if let Err(b) = v.push(r) {
                return Ok(Err(b));
            }
            if let Some(s) = spans.as_deref_mut() {
                s.push(r);
            }
        }
    }
}

/// Every witnessed checkpoint must be signed by us, be in the database
/// unchanged, and name a record of the chain with its hash.
fn check_witness(v: &ChainVerifier, checkpoints: &[Checkpoint], witnessed: &[Checkpoint], key: &str) -> Result<(), ChainBreak> {
    let mut witnessed: Vec<&Checkpoint> = witnessed.iter().collect();
    witnessed.sort_by_key(|w| w.seq);
    if let Some(bad) = witnessed.iter().find(|w| !w.signed_by(key)) {
        return Err(ChainBreak::BadWitnessSignature { seq: bad.seq });
    }
    if let Some(newest) = witnessed.last().filter(|w| w.seq > v.last_seq()) {
        return Err(ChainBreak::WitnessAhead { seq: v.last_seq() + 1, witnessed: newest.seq });
    }
    let in_db: BTreeMap<i64, &Checkpoint> = checkpoints.iter().map(|c| (c.seq, c)).collect();
    for w in witnessed {
        if w.seq >= v.floor() && v.hash_at(w.seq) != Some(w.hash.as_str()) {
            return Err(ChainBreak::WitnessChainMismatch { seq: w.seq });
        }
        match in_db.get(&w.seq) {
            None => return Err(ChainBreak::WitnessedCheckpointMissing { seq: w.seq }),
            Some(c) if !c.same_as(w) => return Err(ChainBreak::WitnessCheckpointMismatch { seq: w.seq }),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checkpoints above the newest witnessed one must be recent: each is
/// witnessed right after it commits (or at the next tick, after a crash).
fn check_unwitnessed(
    checkpoints: &[Checkpoint],
    newest_witnessed: i64,
    policy: &CheckpointPolicy,
    now: Timestamp,
) -> Result<(), ChainBreak> {
    let allowed = policy.allowance();
    match checkpoints.iter().find(|c| c.seq > newest_witnessed && now.duration_since(c.at) > allowed) {
        Some(c) => Err(ChainBreak::UnwitnessedCheckpoint {
            seq: c.seq,
            age_secs: now.duration_since(c.at).as_secs(),
            allowed_secs: allowed.as_secs(),
        }),
        None => Ok(()),
    }
}

/// Each checkpoint must follow the first record it covers within the
/// allowance, unless a late signing is recorded among its records; the
/// records after the last checkpoint must be younger than the allowance.
fn check_continuity(
    spans: &Spans,
    checkpoints: &[Checkpoint],
    policy: &CheckpointPolicy,
    now: Timestamp,
    late: &mut Vec<LateSigning>,
) -> Result<(), ChainBreak> {
    let allowed = policy.allowance();
    let mut first_break = None;
    for (c, span) in checkpoints.iter().zip(&spans.spans) {
        let Some(s) = span else { continue };
        let waited = c.at.duration_since(s.first_at);
        if waited <= allowed {
            continue;
        }
        match s.late_reason {
            Some(reason_seq) => {
                late.push(LateSigning { first_seq: s.first_seq, checkpoint_seq: c.seq, waited_secs: waited.as_secs(), reason_seq })
            }
            None => {
                first_break.get_or_insert(ChainBreak::LateCheckpoint {
                    seq: s.first_seq,
                    checkpoint: c.seq,
                    waited_secs: waited.as_secs(),
                    allowed_secs: allowed.as_secs(),
                });
            }
        }
    }
    if let Some(b) = first_break {
        return Err(b);
    }
    match spans.spans.last().copied().flatten() {
        Some(s) if now.duration_since(s.first_at) > allowed => {
            let (seq, last, age_secs, allowed_secs) =
                (s.first_seq, s.last_seq, now.duration_since(s.first_at).as_secs(), allowed.as_secs());
            Err(if checkpoints.is_empty() {
                ChainBreak::NoCheckpoint { seq, last, age_secs, allowed_secs }
            } else {
                ChainBreak::UnsignedTail { seq, last, age_secs, allowed_secs }
            })
        }
        _ => Ok(()),
    }
}

/// Walks every record and checkpoint, and compares them with the chain head
/// and the witness. `trusted_public_key` is the vault's checkpoint key: a
/// checkpoint signed by any other key is a break. `now` judges the age of
/// unsigned records and unwitnessed checkpoints.
pub async fn verify_store(
    store: &dyn AuditStore,
    witness: &dyn AuditWitness,
    trusted_public_key: &str,
    policy: &CheckpointPolicy,
    now: Timestamp,
) -> Result<VerifyReport, AuditError> {
    // On a live server a witness entry is written after its checkpoint row
    // commits, and the row after its records: reading in this order never
    // finds an entry whose row or records are not visible yet.
    let witnessed = witness.all().await;
    let mut report = VerifyReport {
        records: 0,
        checkpoints: 0,
        witness: witness.describe(),
        witnessed: 0,
        newest_witnessed: None,
        unsigned_records: 0,
        late_signings: Vec::new(),
        purged: Vec::new(),
        first_break: None,
    };
    let witnessed = match witnessed {
        Ok(w) => w,
        Err(WitnessError::Corrupt { entry, detail, .. }) => {
            report.first_break = Some(ChainBreak::WitnessCorrupt { entry, detail });
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    report.witnessed = witnessed.len() as u64;
    report.newest_witnessed = witnessed.iter().map(|w| w.seq).max();
    let head = store.audit_head().await?;
    let checkpoints = store.checkpoints().await?;
    report.checkpoints = checkpoints.len() as u64;

    report.purged = store.audit_purges().await?;
    let wanted = checkpoints.iter().chain(&witnessed).map(|c| c.seq).chain([head.0]);
    // After a retention purge the chain starts past the newest purge's last
    // record, which a signed checkpoint must name with the hash the purge kept.
    let newest_purge = report.purged.iter().max_by_key(|p| p.through_seq);
    // A purge may only cut what the witness (out of the database's reach)
    // saw signed five years before: the legal minimum, whatever the rows say.
    if let Some(early) = report.purged.iter().find(|p| witnessed.iter().any(|w| w.seq == p.through_seq && !five_years_before(w.at, now))) {
        report.first_break = Some(ChainBreak::PurgeTooEarly { seq: early.through_seq });
        return Ok(report);
    }
    let mut v = match newest_purge {
        Some(p) => {
            if !checkpoints.iter().any(|c| c.seq == p.through_seq && c.hash == p.through_hash && c.signed_by(trusted_public_key)) {
                report.first_break = Some(ChainBreak::PurgeWithoutCheckpoint { seq: p.through_seq });
                return Ok(report);
            }
            ChainVerifier::resume(p.through_seq, &p.through_hash, wanted)
        }
        None => ChainVerifier::new(wanted),
    };
    let mut spans = Spans::new(checkpoints.iter().map(|c| c.seq).collect());
    let walked = walk(store, &mut v, Some(&mut spans)).await?;
    report.records = v.records;
    report.unsigned_records = spans.spans.last().copied().flatten().map_or(0, |s| (s.last_seq - s.first_seq + 1) as u64);
    let key = trusted_public_key;
    let mut late = Vec::new();
    let checked = walked
        .and_then(|()| v.check_head(&head))
        .and_then(|()| v.finish(&checkpoints, key))
        .and_then(|()| check_witness(&v, &checkpoints, &witnessed, key))
        .and_then(|()| check_unwitnessed(&checkpoints, report.newest_witnessed.unwrap_or(0), policy, now))
        .and_then(|()| check_continuity(&spans, &checkpoints, policy, now, &mut late))
        .and_then(|()| match newest_purge {
            Some(p) if !v.purges_recorded.contains(&purge_purpose(p)) => Err(ChainBreak::PurgeNotRecorded { seq: p.through_seq }),
            _ => Ok(()),
        });
    report.late_signings = late;
    report.first_break = checked.err();
    Ok(report)
}

/// Whether `at` is at least five calendar years (UTC) before `later`.
fn five_years_before(at: Timestamp, later: Timestamp) -> bool {
    at.to_zoned(jiff::tz::TimeZone::UTC).checked_add(jiff::Span::new().years(5)).is_ok_and(|z| z.timestamp() <= later)
}

/// Who asked for a signature, for the late-signing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningReason {
    /// The server's periodic task.
    Periodic,
    /// The server's start: signs what a server that did not stop cleanly left unsigned.
    Start,
    /// The server's shutdown.
    Shutdown,
    /// `idlink audit checkpoint`.
    Manual,
}

impl SigningReason {
    fn actor(self) -> &'static str {
        match self {
            SigningReason::Manual => "cli",
            SigningReason::Periodic | SigningReason::Start | SigningReason::Shutdown => "system",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            SigningReason::Periodic => "a periodic checkpoint (the process was paused or its checkpoints failed)",
            SigningReason::Start => "server start (the previous server did not stop cleanly)",
            SigningReason::Shutdown => "server shutdown (the process was paused or its checkpoints failed)",
            SigningReason::Manual => "`idlink audit checkpoint`",
        }
    }
}

/// What [`checkpoint`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// A new checkpoint, in the database and the witness. `late_reason` is the
    /// seq of the late-signing record appended first, if the records waited too long.
    Signed { checkpoint: Checkpoint, late_reason: Option<i64> },
    /// Nothing new to sign, but the newest checkpoint was missing from the
    /// witness (a crash between its commit and its witness entry) and was added.
    Witnessed(Checkpoint),
    /// Nothing new to sign.
    NothingNew,
    /// Another signer (a node, `idlink audit checkpoint`) stored a checkpoint
    /// of the same head first: this one was discarded and not witnessed.
    Discarded { seq: i64 },
}

/// Signs the chain head if it moved since the last checkpoint, after
/// checking that the chain extends the newest witnessed checkpoint (so a
/// rewritten or cut chain is never signed), then writes the checkpoint to the
/// database and, once that commits and only if the database kept it (another
/// signer may have stored the same head first), to the witness. When the oldest unsigned
/// record is older than the allowance, a [`LATE_SIGNING_ACTION`] record saying
/// why is appended and signed with them.
pub async fn checkpoint(
    store: &dyn AuditStore,
    witness: &dyn AuditWitness,
    signer: &Ed25519Signer,
    policy: &CheckpointPolicy,
    at: Timestamp,
    reason: SigningReason,
) -> Result<CheckpointOutcome, AuditError> {
    let key = signer.public_hex();
    let Extended { mut v, from_seq, last_db } = extended_witness(store, witness, &key).await?;
    // What a checkpoint already signs: the database's newest, or the witnessed
    // one if checkpoint rows above it were removed (verification names that).
    let covered = last_db.as_ref().map_or(0, |c| c.seq).max(from_seq);
    if v.last_seq() == 0 {
        return Ok(CheckpointOutcome::NothingNew);
    }
    if covered >= v.last_seq() {
        return match last_db {
            Some(c) if c.seq > from_seq => {
                witness.append(&c).await?;
                Ok(CheckpointOutcome::Witnessed(c))
            }
            _ => Ok(CheckpointOutcome::NothingNew),
        };
    }
    let mut late_reason = None;
    if let Some(first) = store.audit_records(covered, 1).await?.first() {
        let waited = at.duration_since(first.entry.at);
        if waited > policy.allowance() {
            let purpose = format!(
                "records {} to {} waited {} s for a checkpoint (allowed {} s); signed late at {}",
                first.seq,
                v.last_seq(),
                waited.as_secs(),
                policy.allowance().as_secs(),
                reason.describe()
            );
            let marker = store.append_audit(&AuditEntry::new(reason.actor(), LATE_SIGNING_ACTION, purpose, at)).await?;
            late_reason = Some(marker.seq);
            // Takes in the marker (and whatever was appended with it), still verified.
            walk(store, &mut v, None).await?.map_err(AuditError::Refused)?;
        }
    }
    let (seq, hash) = (v.last_seq(), v.last_hash().to_owned());
    let c = Checkpoint { seq, signature: signer.sign(&Checkpoint::message(seq, &hash)), hash, at, public_key: key };
    // Only the checkpoint the database kept is witnessed. A discarded one
    // must be the same as the kept one (same head, same key): another signer
    // of the same chain. Anything else is a fork or tampering.
    if !store.insert_checkpoint(&c).await? {
        return match store.checkpoint_at(seq).await? {
            Some(kept) if kept.hash == c.hash && kept.public_key == c.public_key => Ok(CheckpointOutcome::Discarded { seq }),
            _ => Err(AuditError::Refused(ChainBreak::CheckpointFork { seq })),
        };
    }
    witness.append(&c).await?;
    Ok(CheckpointOutcome::Signed { checkpoint: c, late_reason })
}

/// The chain walked from the newest witnessed checkpoint to the head, and
/// the database's newest checkpoint, both checked against it.
struct Extended {
    v: ChainVerifier,
    from_seq: i64,
    last_db: Option<Checkpoint>,
}

/// Checks that the chain extends the newest witnessed checkpoint (signed by
/// `key`), that the head and the database's newest checkpoint agree with it.
async fn extended_witness(store: &dyn AuditStore, witness: &dyn AuditWitness, key: &str) -> Result<Extended, AuditError> {
    let anchor = witness.latest().await?;
    if let Some(a) = anchor.as_ref().filter(|a| !a.signed_by(key)) {
        return Err(AuditError::Refused(ChainBreak::BadWitnessSignature { seq: a.seq }));
    }
    // Records purged by retention past this node's witness (a new node, a
    // witness reset): the chain is walked from the newest purge's signed
    // checkpoint, as the verifier does.
    let newest_purge = store.audit_purges().await?.into_iter().max_by_key(|p| p.through_seq);
    let past_witness = newest_purge.as_ref().filter(|p| anchor.as_ref().is_none_or(|a| a.seq <= p.through_seq));
    if let Some(p) = past_witness {
        let signed = store.checkpoint_at(p.through_seq).await?.filter(|c| c.hash == p.through_hash && c.signed_by(key));
        if signed.is_none() {
            return Err(AuditError::Refused(ChainBreak::PurgeWithoutCheckpoint { seq: p.through_seq }));
        }
        if anchor.as_ref().is_some_and(|a| a.seq == p.through_seq && a.hash != p.through_hash) {
            return Err(AuditError::Refused(ChainBreak::WitnessChainMismatch { seq: p.through_seq }));
        }
    }
    let (from_seq, from_hash) = match past_witness {
        Some(p) => (p.through_seq, p.through_hash.as_str()),
        None => anchor.as_ref().map_or((0, GENESIS_HASH), |a| (a.seq, a.hash.as_str())),
    };
    if from_seq > 0 && past_witness.is_none() {
        match store.audit_records(from_seq - 1, 1).await?.first() {
            Some(r) if r.seq == from_seq => {
                if r.hash != from_hash || record_hash(r.seq, &r.prev_hash, &r.entry) != r.hash {
                    return Err(AuditError::Refused(ChainBreak::WitnessChainMismatch { seq: from_seq }));
                }
            }
            _ => return Err(AuditError::Refused(ChainBreak::WitnessAhead { seq: from_seq, witnessed: from_seq })),
        }
    }
    let head = store.audit_head().await?;
    let last_db = store.last_checkpoint().await?;
    let mut v = ChainVerifier::resume(from_seq, from_hash, [head.0].into_iter().chain(last_db.as_ref().map(|c| c.seq)));
    walk(store, &mut v, None).await?.map_err(AuditError::Refused)?;
    if head.0 < from_seq {
        return Err(AuditError::Refused(ChainBreak::WitnessAhead { seq: head.0 + 1, witnessed: from_seq }));
    }
    v.check_head(&head).map_err(AuditError::Refused)?;
    if let Some(c) = last_db.as_ref().filter(|c| c.seq >= from_seq) {
        v.finish(std::slice::from_ref(c), key).map_err(AuditError::Refused)?;
    }
    Ok(Extended { v, from_seq, last_db })
}

/// Adds the database's newest checkpoint to this node's witness when
/// another node signed it (the same checks as [`checkpoint`], never a
/// signature): with several servers, one signs per period (under the job
/// lease) and every server keeps its own witness complete. Returns the
/// checkpoint added, if any.
pub async fn catch_up_witness(
    store: &dyn AuditStore,
    witness: &dyn AuditWitness,
    public_key: &str,
) -> Result<Option<Checkpoint>, AuditError> {
    let Extended { from_seq, last_db, .. } = extended_witness(store, witness, public_key).await?;
    match last_db {
        Some(c) if c.seq > from_seq => {
            witness.append(&c).await?;
            Ok(Some(c))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_domain::UserId;

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

    /// An audit log in memory whose checkpoint table may hold, by the time a
    /// checkpoint is inserted, a rival signer's checkpoint of the same head.
    struct RacedStore {
        records: Vec<AuditRecord>,
        checkpoints: std::sync::Mutex<Vec<Checkpoint>>,
        rival: Option<Checkpoint>,
    }

    #[async_trait::async_trait]
    impl AuditStore for RacedStore {
        async fn append_audit(&self, _: &AuditEntry) -> Result<AuditRecord, StoreError> {
            Err(StoreError::Unavailable("not in this test".into()))
        }
        async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
            Ok(self.records.iter().filter(|r| r.seq > after).take(limit as usize).cloned().collect())
        }
        async fn audit_records_of_user(&self, _: &UserId, _: u32) -> Result<Vec<AuditRecord>, StoreError> {
            Ok(Vec::new())
        }
        async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
            Ok(self.checkpoints.lock().unwrap().last().cloned())
        }
        async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
            Ok(self.checkpoints.lock().unwrap().clone())
        }
        async fn checkpoint_at(&self, seq: i64) -> Result<Option<Checkpoint>, StoreError> {
            Ok(self.checkpoints.lock().unwrap().iter().find(|c| c.seq == seq).cloned())
        }
        async fn audit_head(&self) -> Result<(i64, String), StoreError> {
            Ok(self.records.last().map_or((0, GENESIS_HASH.to_owned()), |r| (r.seq, r.hash.clone())))
        }
        async fn audit_purges(&self) -> Result<Vec<AuditPurge>, StoreError> {
            Ok(Vec::new())
        }
        async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<bool, StoreError> {
            let mut stored = self.checkpoints.lock().unwrap();
            let rival = self.rival.clone().filter(|r| !stored.iter().any(|s| s.seq == r.seq));
            stored.extend(rival);
            if stored.iter().any(|s| s.seq == c.seq) {
                return Ok(false);
            }
            stored.push(c.clone());
            Ok(true)
        }
    }

    #[derive(Default)]
    struct Notes(std::sync::Mutex<Vec<Checkpoint>>);

    #[async_trait::async_trait]
    impl AuditWitness for Notes {
        fn describe(&self) -> String {
            "notes".into()
        }
        async fn append(&self, c: &Checkpoint) -> Result<(), WitnessError> {
            self.0.lock().unwrap().push(c.clone());
            Ok(())
        }
        async fn all(&self) -> Result<Vec<Checkpoint>, WitnessError> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn latest(&self) -> Result<Option<Checkpoint>, WitnessError> {
            Ok(self.0.lock().unwrap().iter().max_by_key(|c| c.seq).cloned())
        }
    }

    /// Two signers of one head: the one whose checkpoint the database
    /// discarded reports it and does not hand it to its witness.
    #[tokio::test]
    async fn a_checkpoint_the_database_discarded_is_not_witnessed() {
        let signer = Ed25519Signer::from_seed(&[9; 32]);
        let policy = CheckpointPolicy { interval: SignedDuration::from_hours(1), grace: SignedDuration::from_mins(5) };
        let at = Timestamp::from_second(10).unwrap_or_default();
        let records = chain(3);
        let hash = records[2].hash.clone();
        let rival = Checkpoint {
            seq: 3,
            signature: signer.sign(&Checkpoint::message(3, &hash)),
            hash,
            at: Timestamp::from_second(9).unwrap_or_default(),
            public_key: signer.public_hex(),
        };
        for (rival, discarded) in [(None, false), (Some(rival), true)] {
            let store = RacedStore { records: records.clone(), checkpoints: Default::default(), rival: rival.clone() };
            let witness = Notes::default();
            let outcome = checkpoint(&store, &witness, &signer, &policy, at, SigningReason::Periodic).await.unwrap();
            let witnessed = witness.all().await.unwrap();
            if discarded {
                assert_eq!(outcome, CheckpointOutcome::Discarded { seq: 3 });
                assert!(witnessed.is_empty(), "{witnessed:?}");
                assert_eq!(store.checkpoints().await.unwrap(), Vec::from_iter(rival), "the first signer's checkpoint is kept");
            } else {
                let CheckpointOutcome::Signed { checkpoint, late_reason: None } = outcome else { panic!("{outcome:?}") };
                assert_eq!((checkpoint.seq, checkpoint.at), (3, at));
                assert_eq!(witnessed, [checkpoint]);
            }
        }
    }

    /// A rival checkpoint at the same seq with another hash or another key is
    /// not "another signer of the same head": the signer reports a fork and
    /// witnesses nothing.
    #[tokio::test]
    async fn a_discarded_checkpoint_that_differs_from_the_kept_one_is_a_fork() {
        let signer = Ed25519Signer::from_seed(&[9; 32]);
        let other = Ed25519Signer::from_seed(&[8; 32]);
        let policy = CheckpointPolicy { interval: SignedDuration::from_hours(1), grace: SignedDuration::from_mins(5) };
        let at = Timestamp::from_second(10).unwrap_or_default();
        let records = chain(3);
        let hash = records[2].hash.clone();
        let forged = "f".repeat(64);
        let other_hash = Checkpoint {
            seq: 3,
            signature: signer.sign(&Checkpoint::message(3, &forged)),
            hash: forged,
            at,
            public_key: signer.public_hex(),
        };
        let other_key =
            Checkpoint { seq: 3, signature: other.sign(&Checkpoint::message(3, &hash)), hash, at, public_key: other.public_hex() };
        for rival in [other_hash, other_key] {
            let store = RacedStore { records: records.clone(), checkpoints: Default::default(), rival: Some(rival.clone()) };
            let witness = Notes::default();
            let outcome = checkpoint(&store, &witness, &signer, &policy, at, SigningReason::Periodic).await;
            assert!(matches!(outcome, Err(AuditError::Refused(ChainBreak::CheckpointFork { seq: 3 }))), "{outcome:?}");
            assert!(witness.all().await.unwrap().is_empty());
            assert_eq!(store.checkpoints().await.unwrap(), [rival], "the kept checkpoint is left as it is");
        }
    }
}
