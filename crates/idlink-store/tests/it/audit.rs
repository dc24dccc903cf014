use crate::{at, databases};
use idlink_core::audit::{ChainBreak, ChainVerifier};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_domain::UserId;
use idlink_store::{Backend, testing};

pub(crate) async fn verify(s: &idlink_store::SqlStore) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new([]);
    let mut after = 0;
    loop {
        let batch = s.audit_records(after, 1000).await.unwrap_or_else(|e| panic!("{e}"));
        let Some(last) = batch.last() else { break };
        after = last.seq;
        batch.iter().try_for_each(|r| v.push(r))?;
    }
    Ok(v.records)
}

#[tokio::test]
async fn sixty_four_concurrent_writers_make_one_linear_chain() {
    for db in databases().await {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let s = db.store.clone();
                tokio::spawn(async move {
                    for j in 0..5 {
                        let e = AuditEntry::new(format!("writer-{i}"), "test.append", "conformance", at(j));
                        s.append_audit(&e).await?;
                    }
                    Ok::<_, idlink_core::ports::StoreError>(())
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await, Ok(Ok(()))), "{}: a writer failed", db.kind);
        }
        assert_eq!(verify(&db.store).await, Ok(320), "{}", db.kind);
        assert_eq!(db.store.audit_head().await.ok().map(|h| h.0), Some(320));
    }
}

/// An attacker with write access to the database changes one byte of one
/// column of one record; verification names that record.
#[tokio::test]
async fn changing_one_byte_of_any_stored_field_is_detected() {
    let columns = ["at", "actor", "subject", "action", "purpose", "outcome", "request_id", "prev_hash", "hash"];
    let user = UserId::parse("usr_0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
    for column in columns {
        for db in databases().await {
            let s = &db.store;
            for i in 0..5 {
                let e = AuditEntry::new("apikey:key_x", "user.read", "support", at(i))
                    .subject(&user)
                    .request(idlink_domain::RequestId::parse(&format!("req_{i:04}")).ok().as_ref());
                s.append_audit(&e).await.unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(verify(s).await, Ok(5));
            let guard = match s.backend() {
                Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
                Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
            };
            testing::execute(s, guard).await.unwrap_or_else(|e| panic!("{e}"));
            let tamper = if column == "at" {
                "UPDATE audit_log SET at = at + 1 WHERE seq = 3".to_owned()
            } else {
                // Replace the first character with a different one.
                format!(
                    "UPDATE audit_log SET {column} = CASE WHEN substr({column}, 1, 1) = 'z' THEN 'y' ELSE 'z' END || substr({column}, 2) WHERE seq = 3"
                )
            };
            testing::execute(s, &tamper).await.unwrap_or_else(|e| panic!("{column}: {e}"));
            let found = verify(s).await.err().and_then(|b| b.seq());
            assert_eq!(found, Some(3), "{}: tampering with {column} of record 3 went unnoticed", db.kind);
        }
    }
}

#[tokio::test]
async fn stored_records_cannot_be_updated_or_deleted_through_sql() {
    for db in databases().await {
        let s = &db.store;
        s.append_audit(&AuditEntry::new("a", "b", "c", at(0))).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(testing::execute(s, "UPDATE audit_log SET actor = 'x'").await.is_err(), "{}", db.kind);
        assert!(testing::execute(s, "DELETE FROM audit_log").await.is_err(), "{}", db.kind);
        assert_eq!(verify(s).await, Ok(1));
    }
}

// ---- Head, checkpoints' continuity and the witness (issue 10) ----

use idlink_core::audit::{CheckpointOutcome, CheckpointPolicy, LateSigning, SigningReason, VerifyReport};
use idlink_core::ports::audit::{AuditRecord, Checkpoint, GENESIS_HASH, record_hash};
use idlink_crypto::signing::Ed25519Signer;
use idlink_store::SqlStore;
use idlink_store::witness::FileWitness;

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[7; 32])
}

/// One minute between checkpoints and one minute of grace: records may wait 120 s.
fn policy() -> CheckpointPolicy {
    CheckpointPolicy { interval: jiff::SignedDuration::from_secs(60), grace: jiff::SignedDuration::from_secs(60) }
}

/// A database with a witness in a directory of its own.
struct Chain {
    db: idlink_store::testing::TestDb,
    witness: FileWitness,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.witness.path().parent().unwrap_or(self.witness.path()));
    }
}

static WITNESS_DIRS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn witness_dir() -> std::path::PathBuf {
    let n = WITNESS_DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("idlink-it-witness-{}-{n}", std::process::id()))
}

async fn chains() -> Vec<Chain> {
    databases()
        .await
        .into_iter()
        .map(|db| Chain { db, witness: FileWitness::create(&witness_dir()).unwrap_or_else(|e| panic!("{e}")) })
        .collect()
}

impl Chain {
    fn s(&self) -> &SqlStore {
        &self.db.store
    }

    /// Appends records written at the given seconds.
    async fn append_at(&self, seconds: impl IntoIterator<Item = i64>) {
        for t in seconds {
            let e = AuditEntry::new("apikey:key_x", "user.read", "support", at(t));
            self.s().append_audit(&e).await.unwrap_or_else(|e| panic!("{e}"));
        }
    }

    async fn sign(&self, t: i64) -> CheckpointOutcome {
        idlink_core::audit::checkpoint(self.s(), &self.witness, &signer(), &policy(), at(t), SigningReason::Periodic)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.db.kind))
    }

    async fn verify_at(&self, t: i64) -> VerifyReport {
        idlink_core::audit::verify_store(self.s(), &self.witness, &signer().public_hex(), &policy(), at(t))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.db.kind))
    }

    async fn broken_at(&self, t: i64) -> Option<ChainBreak> {
        self.verify_at(t).await.first_break
    }

    async fn sql(&self, sql: &str) {
        testing::execute(self.s(), sql).await.unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.db.kind));
    }

    /// What an attacker with write access to the database does first.
    async fn drop_guards(&self) {
        let drops: &[&str] = match self.s().backend() {
            Backend::Sqlite => &[
                "DROP TRIGGER audit_log_no_update",
                "DROP TRIGGER audit_log_no_delete",
                "DROP TRIGGER audit_checkpoints_no_update",
                "DROP TRIGGER audit_checkpoints_no_delete",
            ],
            Backend::Postgres => &[
                "DROP TRIGGER audit_log_no_change ON audit_log",
                "DROP TRIGGER audit_log_no_delete ON audit_log",
                "DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints",
            ],
        };
        for d in drops {
            self.sql(d).await;
        }
    }

    async fn records(&self) -> Vec<AuditRecord> {
        self.s().audit_records(0, 100_000).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Cuts the chain after `keep` and its checkpoints with it, and moves the
    /// head back, as an attacker covering their tracks would.
    async fn cut_after(&self, keep: i64) {
        let hash = self.records().await.iter().find(|r| r.seq == keep).map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone());
        self.sql(&format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
        self.sql(&format!("DELETE FROM audit_checkpoints WHERE seq > {keep}")).await;
        self.sql(&format!("UPDATE audit_head SET seq = {keep}, hash = '{hash}' WHERE id = 1")).await;
    }

    /// Keeps only the witness entries `keep` accepts (an attacker who can write the witness too).
    fn rewrite_witness(&self, keep: impl Fn(i64) -> bool) {
        let text = std::fs::read_to_string(self.witness.path()).unwrap_or_default();
        let kept: String = text
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["seq"].as_i64()).is_some_and(&keep))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(self.witness.path(), kept).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn checkpoint_rows_cannot_be_updated_or_deleted_through_sql() {
    for c in chains().await {
        c.append_at([0]).await;
        assert!(matches!(c.sign(10).await, CheckpointOutcome::Signed { .. }));
        let s = c.s();
        assert!(testing::execute(s, "UPDATE audit_checkpoints SET hash = 'x'").await.is_err(), "{}", c.db.kind);
        assert!(testing::execute(s, "DELETE FROM audit_checkpoints").await.is_err(), "{}", c.db.kind);
        if s.backend() == Backend::Postgres {
            assert!(testing::execute(s, "TRUNCATE audit_checkpoints").await.is_err(), "TRUNCATE skips row triggers");
            assert!(testing::execute(s, "TRUNCATE audit_log").await.is_err(), "TRUNCATE skips row triggers");
        }
        assert_eq!(c.s().checkpoints().await.map(|v| v.len()).ok(), Some(1));
        assert_eq!(c.broken_at(20).await, None, "{}", c.db.kind);
    }
}

/// Two signers of one head (two nodes, or a node and `idlink audit
/// checkpoint`): the first checkpoint stored is kept, the second is refused
/// and says so, so that its signer neither witnesses nor reports it.
#[tokio::test]
async fn a_second_checkpoint_of_the_same_head_is_refused_and_the_first_kept() {
    for c in chains().await {
        c.append_at([1, 2, 3]).await;
        let (seq, hash) = c.s().audit_head().await.unwrap_or_else(|e| panic!("{e}"));
        let signed = |t: i64| Checkpoint {
            seq,
            hash: hash.clone(),
            at: at(t),
            public_key: signer().public_hex(),
            signature: signer().sign(&Checkpoint::message(seq, &hash)),
        };
        let (first, second) = (signed(10), signed(11));
        assert_eq!(c.s().insert_checkpoint(&first).await.ok(), Some(true), "{}", c.db.kind);
        assert_eq!(c.s().insert_checkpoint(&second).await.ok(), Some(false), "{}: the same seq again", c.db.kind);
        assert_eq!(c.s().checkpoints().await.ok(), Some(vec![first.clone()]), "{}: the first is kept", c.db.kind);
        assert_eq!(c.s().last_checkpoint().await.ok().flatten(), Some(first), "{}", c.db.kind);
    }
}

#[tokio::test]
async fn an_empty_chain_and_a_chain_signed_every_interval_verify_with_their_witness() {
    for c in chains().await {
        let r = c.verify_at(0).await;
        assert_eq!((r.records, r.checkpoints, r.witnessed, r.first_break), (0, 0, 0, None), "{}: a fresh database", c.db.kind);
        assert_eq!(c.sign(0).await, CheckpointOutcome::NothingNew);

        // Ten minutes of traffic, signed every minute.
        for minute in 0..10 {
            c.append_at((0..6).map(|i| minute * 60 + i * 10)).await;
            assert!(matches!(c.sign(minute * 60 + 60).await, CheckpointOutcome::Signed { late_reason: None, .. }), "{}", c.db.kind);
        }
        c.append_at([605, 610]).await;
        let r = c.verify_at(630).await;
        assert_eq!(r.first_break, None, "{}: {r:?}", c.db.kind);
        assert_eq!((r.records, r.checkpoints, r.witnessed, r.newest_witnessed, r.unsigned_records), (62, 10, 10, Some(60), 2));
        assert_eq!(r.late_signings, vec![]);
        let signed = c.sign(640).await;
        assert!(matches!(&signed, CheckpointOutcome::Signed { checkpoint, .. } if checkpoint.seq == 62), "{signed:?}");
        assert_eq!(c.broken_at(650).await, None, "{}", c.db.kind);
    }
}

#[tokio::test]
async fn cutting_the_last_record_is_caught_whether_the_head_is_kept_or_moved() {
    for c in chains().await {
        c.append_at(0..10).await;
        c.sign(20).await;
        assert_eq!(c.broken_at(30).await, None);
        c.drop_guards().await;

        // Only the record: the head still names it.
        c.sql("DELETE FROM audit_log WHERE seq = 10").await;
        assert_eq!(c.broken_at(30).await, Some(ChainBreak::HeadBeyondChain { seq: 10, head: 10 }), "{}", c.db.kind);

        // The head moved back too: the checkpoint above the cut names a missing record.
        let h9 = c.records().await.last().map(|r| r.hash.clone()).unwrap_or_default();
        c.sql(&format!("UPDATE audit_head SET seq = 9, hash = '{h9}' WHERE id = 1")).await;
        assert_eq!(c.broken_at(30).await, Some(ChainBreak::CheckpointBeyondChain { seq: 10, checkpoint: 10 }), "{}", c.db.kind);

        // And the checkpoint removed: only the witness remembers.
        c.sql("DELETE FROM audit_checkpoints WHERE seq >= 10").await;
        let r = c.verify_at(30).await;
        assert_eq!(r.first_break, Some(ChainBreak::WitnessAhead { seq: 10, witnessed: 10 }), "{}", c.db.kind);
        assert!(r.first_break.map(|b| b.to_string()).unwrap_or_default().contains("witness holds a checkpoint at record 10"));

        // The server will not sign the shortened chain either.
        let refused = idlink_core::audit::checkpoint(c.s(), &c.witness, &signer(), &policy(), at(40), SigningReason::Periodic).await;
        assert!(matches!(refused, Err(idlink_core::audit::AuditError::Refused(ChainBreak::WitnessAhead { .. }))), "{refused:?}");
    }
}

#[tokio::test]
async fn cutting_the_last_200_records_and_their_checkpoints_is_caught() {
    for c in chains().await {
        for batch in 0..3 {
            c.append_at((0..100).map(|i| batch * 60 + i / 2)).await;
            c.sign(batch * 60 + 55).await;
        }
        assert_eq!(c.verify_at(200).await.checkpoints, 3);
        assert_eq!(c.broken_at(200).await, None);
        c.drop_guards().await;
        c.cut_after(100).await;
        assert_eq!(c.broken_at(200).await, Some(ChainBreak::WitnessAhead { seq: 101, witnessed: 300 }), "{}", c.db.kind);
    }
}

/// Re-hashes every record from `from` on, as an attacker who changed one would.
async fn rehash_from(c: &Chain, from: i64) {
    let mut prev = GENESIS_HASH.to_owned();
    for mut r in c.records().await {
        if r.seq >= from {
            r.prev_hash = prev.clone();
            r.hash = record_hash(r.seq, &r.prev_hash, &r.entry);
            let sql = format!(
                "UPDATE audit_log SET purpose = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                r.entry.purpose, r.prev_hash, r.hash, r.seq
            );
            c.sql(&sql).await;
            c.sql(&format!("UPDATE audit_head SET hash = '{}' WHERE id = 1 AND seq = {}", r.hash, r.seq)).await;
        }
        prev = r.hash;
    }
}

#[tokio::test]
async fn removing_every_checkpoint_and_rehashing_after_a_changed_record_is_caught() {
    for c in chains().await {
        c.append_at(0..20).await;
        c.sign(30).await;
        c.append_at(40..70).await;
        c.sign(80).await;
        c.drop_guards().await;
        c.sql("UPDATE audit_log SET purpose = 'covering tracks' WHERE seq = 30").await;
        rehash_from(&c, 30).await;
        c.sql("DELETE FROM audit_checkpoints").await;
        // The chain itself links again; only the witness shows what it was.
        let r = c.verify_at(90).await;
        assert_eq!((r.records, r.checkpoints), (50, 0));
        assert_eq!(r.first_break, Some(ChainBreak::WitnessedCheckpointMissing { seq: 20 }), "{}", c.db.kind);
        let signed = idlink_core::audit::checkpoint(c.s(), &c.witness, &signer(), &policy(), at(90), SigningReason::Periodic).await;
        assert!(
            matches!(signed, Err(idlink_core::audit::AuditError::Refused(ChainBreak::WitnessChainMismatch { seq: 50 }))),
            "the server must not sign the rewritten chain: {signed:?}"
        );

        // With the witness wiped too, the chain has no checkpoint: refused once
        // its records are older than one interval and the grace...
        std::fs::write(c.witness.path(), "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.broken_at(200).await,
            Some(ChainBreak::NoCheckpoint { seq: 1, last: 50, age_secs: 200, allowed_secs: 120 }),
            "{}",
            c.db.kind
        );
        // ...but not before: records this young cannot be vouched for by
        // anything yet (docs/audit.md, "what an attacker with both can hide").
        assert_eq!(c.broken_at(110).await, None);
    }
}

#[tokio::test]
async fn checkpoints_removed_from_both_database_and_witness_leave_a_gap() {
    for c in chains().await {
        for minute in 0..4 {
            c.append_at((0..6).map(|i| minute * 60 + i * 10)).await;
            c.sign(minute * 60 + 60).await;
        }
        assert_eq!(c.broken_at(250).await, None);
        c.drop_guards().await;
        // The second and third checkpoints (records 7 to 18) go.
        c.sql("DELETE FROM audit_checkpoints WHERE seq IN (12, 18)").await;
        c.rewrite_witness(|seq| seq != 12 && seq != 18);
        assert_eq!(
            c.broken_at(250).await,
            Some(ChainBreak::LateCheckpoint { seq: 7, checkpoint: 24, waited_secs: 180, allowed_secs: 120 }),
            "{}",
            c.db.kind
        );
    }
}

#[tokio::test]
async fn records_a_crash_left_unsigned_fail_verification_until_signed_late_and_reported() {
    for c in chains().await {
        // A server wrote records and died before its first checkpoint.
        c.append_at([0, 5, 10]).await;
        assert_eq!(c.broken_at(120).await, None, "{}: exactly the allowance", c.db.kind);
        assert_eq!(c.broken_at(121).await, Some(ChainBreak::NoCheckpoint { seq: 1, last: 3, age_secs: 121, allowed_secs: 120 }));

        // Started again much later: it signs them at start, saying why.
        let outcome = idlink_core::audit::checkpoint(c.s(), &c.witness, &signer(), &policy(), at(3600), SigningReason::Start)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let CheckpointOutcome::Signed { checkpoint, late_reason: Some(reason) } = outcome else { panic!("{outcome:?}") };
        assert_eq!((checkpoint.seq, reason), (4, 4));
        let marker = c.records().await.pop().unwrap_or_else(|| panic!("a record"));
        assert_eq!((marker.entry.actor.as_str(), marker.entry.action.as_str()), ("system", "audit.late_signing"));
        assert!(marker.entry.purpose.contains("records 1 to 3 waited 3600 s") && marker.entry.purpose.contains("server start"));
        let r = c.verify_at(3610).await;
        assert_eq!(r.first_break, None, "{}", c.db.kind);
        assert_eq!(r.late_signings, vec![LateSigning { first_seq: 1, checkpoint_seq: 4, waited_secs: 3600, reason_seq: 4 }]);

        // Later records left unsigned after the last checkpoint.
        c.append_at([3620, 3630]).await;
        assert_eq!(c.broken_at(3740).await, None);
        assert_eq!(
            c.broken_at(3741).await,
            Some(ChainBreak::UnsignedTail { seq: 5, last: 6, age_secs: 121, allowed_secs: 120 }),
            "{}",
            c.db.kind
        );
        // Signed in time, no late-signing record is needed.
        assert!(matches!(c.sign(3700).await, CheckpointOutcome::Signed { late_reason: None, .. }));
        assert_eq!(c.broken_at(4000).await, None);
    }
}

#[tokio::test]
async fn a_checkpoint_missing_from_the_witness_is_caught_and_added_at_the_next_signing() {
    for c in chains().await {
        c.append_at([0, 1]).await;
        // Signed with the witness somewhere else: as if the server crashed
        // between the checkpoint's commit and its witness entry.
        let elsewhere = FileWitness::create(&witness_dir()).unwrap_or_else(|e| panic!("{e}"));
        idlink_core::audit::checkpoint(c.s(), &elsewhere, &signer(), &policy(), at(10), SigningReason::Periodic)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(elsewhere.path().parent().unwrap_or(elsewhere.path()));
        assert_eq!(c.broken_at(20).await, None, "{}: the witness entry may still be on its way", c.db.kind);
        assert_eq!(
            c.broken_at(200).await,
            Some(ChainBreak::UnwitnessedCheckpoint { seq: 2, age_secs: 190, allowed_secs: 120 }),
            "{}",
            c.db.kind
        );
        let caught_up = c.sign(200).await;
        assert!(matches!(&caught_up, CheckpointOutcome::Witnessed(cp) if cp.seq == 2), "{caught_up:?}");
        let r = c.verify_at(210).await;
        assert_eq!((r.first_break, r.witnessed), (None, 1), "{}", c.db.kind);
    }
}

#[tokio::test]
async fn a_witness_entry_not_signed_by_the_key_or_not_a_checkpoint_is_named() {
    for c in chains().await {
        c.append_at([0, 1]).await;
        c.sign(10).await;
        let text = std::fs::read_to_string(c.witness.path()).unwrap_or_default();
        let mut v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
        v["signature"] = serde_json::Value::String(signer().sign(b"something else"));
        std::fs::write(c.witness.path(), format!("{v}\n")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.broken_at(20).await, Some(ChainBreak::BadWitnessSignature { seq: 2 }), "{}", c.db.kind);

        std::fs::write(c.witness.path(), format!("{}garbage\n", text)).unwrap_or_else(|e| panic!("{e}"));
        let b = c.broken_at(20).await;
        assert!(matches!(&b, Some(ChainBreak::WitnessCorrupt { entry: 2, .. })), "{}: {b:?}", c.db.kind);
    }
}

#[tokio::test]
async fn checkpoint_rows_removed_below_the_witness_are_named_and_not_mistaken_for_late_records() {
    for c in chains().await {
        c.append_at([0, 1]).await;
        c.sign(10).await;
        c.drop_guards().await;
        c.sql("DELETE FROM audit_checkpoints").await;
        c.append_at([500]).await;
        // The witnessed checkpoint still covers records 1 and 2: record 3 is on time.
        let signed = c.sign(510).await;
        assert!(matches!(&signed, CheckpointOutcome::Signed { checkpoint, late_reason: None } if checkpoint.seq == 3), "{signed:?}");
        assert_eq!(c.broken_at(520).await, Some(ChainBreak::WitnessedCheckpointMissing { seq: 2 }), "{}", c.db.kind);
    }
}
