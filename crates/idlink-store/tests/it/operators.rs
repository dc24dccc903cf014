//! Operators' sign-in lockout, idle sessions and case claim/release, on
//! both databases and across two connection pools (two server nodes).

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::audit::{AuditEntry, AuditStore};
use idlink_core::ports::freezes::FreezeStore;
use idlink_core::ports::ids::{Ids, RandomIds};
use idlink_core::ports::operators::{OperatorRow, OperatorSessionRow, OperatorStore, Role};
use idlink_core::ports::reviews::{CaseKind, CaseRow, ReviewStore};
use idlink_crypto::{OsRandom, Random};
use idlink_domain::{OperatorId, OperatorSessionId};
use idlink_store::{SqlStore, testing};
use std::sync::Arc;

pub(crate) async fn new_operator(s: &SqlStore, username: &str) -> OperatorRow {
    let row = OperatorRow {
        id: OperatorId::from_random(OsRandom.bytes16()),
        username: username.to_owned(),
        password_hash: "hash".into(),
        totp_cipher: vec![1, 2, 3],
        roles: vec![Role::Reviewer, Role::Auditor],
        created_at: at(0),
        on_duty: false,
        phone_cipher: None,
        failed_sign_ins: 0,
        locked_until: None,
    };
    s.insert_operator(&row, &AuditEntry::new("test", "operator.create", "test", at(0))).await.unwrap_or_else(|e| panic!("{e}"));
    row
}

fn failure(n: i64) -> AuditEntry {
    AuditEntry::new("operator:x", "operator.sign_in", "administration", at(n))
}

/// Failures are counted one by one; the 5th locks (once) and resets the
/// count; a success and an unlock clear the lock.
#[tokio::test]
async fn the_fifth_failure_locks_until_a_time_and_a_success_or_unlock_clears_it() {
    for db in databases().await {
        let op = new_operator(&db.store, "lock.test").await;
        let before = db.store.audit_head().await.map(|h| h.0).unwrap_or(0);
        for n in 1..=4 {
            let locked = db.store.record_sign_in_failure(&op.id, 5, at(900), &failure(n)).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(!locked, "{}: failure {n} does not lock", db.kind);
        }
        let row = db.store.operator(&op.id).await.ok().flatten().unwrap_or_else(|| panic!("operator"));
        assert_eq!((row.failed_sign_ins, row.locked_until), (4, None), "{}", db.kind);
        assert!(db.store.record_sign_in_failure(&op.id, 5, at(900), &failure(5)).await.unwrap_or(false), "{}: the 5th locks", db.kind);
        let row = db.store.operator_by_username("lock.test").await.ok().flatten().unwrap_or_else(|| panic!("operator"));
        assert_eq!((row.failed_sign_ins, row.locked_until), (0, Some(at(900))), "{}: locked, count reset", db.kind);
        assert!(row.locked(at(899)) && !row.locked(at(900)), "{}: the lock ends by itself", db.kind);
        let records = db.store.audit_records(before, 100).await.unwrap_or_default();
        assert_eq!(records.len(), 5, "{}: every failure is in the audit chain", db.kind);

        // An admin's unlock clears it now.
        assert!(
            db.store.unlock_operator(&op.id, &AuditEntry::new("cli", "operator.unlock", "administration", at(10))).await.unwrap_or(false)
        );
        let row = db.store.operator(&op.id).await.ok().flatten().unwrap_or_else(|| panic!("operator"));
        assert_eq!((row.failed_sign_ins, row.locked_until), (0, None), "{}", db.kind);
        let ghost = OperatorId::from_random(OsRandom.bytes16());
        assert!(
            !db.store.unlock_operator(&ghost, &AuditEntry::new("cli", "operator.unlock", "administration", at(10))).await.unwrap_or(true)
        );

        // Failures then a success: the success resets the count.
        for n in 11..=13 {
            let _ = db.store.record_sign_in_failure(&op.id, 5, at(900), &failure(n)).await;
        }
        let s = OperatorSessionRow {
            id: OperatorSessionId::from_random(OsRandom.bytes16()),
            operator_id: op.id.clone(),
            secret_hash: "h".into(),
            created_at: at(20),
            expires_at: at(20 + 8 * 3600),
            last_seen_at: at(20),
        };
        db.store
            .insert_operator_session(&s, &AuditEntry::new("operator:x", "operator.sign_in", "administration", at(20)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let row = db.store.operator(&op.id).await.ok().flatten().unwrap_or_else(|| panic!("operator"));
        assert_eq!(row.failed_sign_ins, 0, "{}: a success resets the count", db.kind);

        // Last seen moves forward only.
        db.store.touch_operator_session(&s.id, at(100)).await.unwrap_or_else(|e| panic!("{e}"));
        db.store.touch_operator_session(&s.id, at(50)).await.unwrap_or_else(|e| panic!("{e}"));
        let read = db.store.operator_session(&s.id).await.ok().flatten().unwrap_or_else(|| panic!("session"));
        assert_eq!(read.last_seen_at, at(100), "{}: last seen never goes back", db.kind);

        // Sign-out ends the session once.
        let out = AuditEntry::new("operator:x", "operator.sign_out", "administration", at(200));
        assert!(db.store.end_operator_session(&s.id, at(200), &out).await.unwrap_or(false), "{}", db.kind);
        assert!(!db.store.end_operator_session(&s.id, at(201), &out).await.unwrap_or(true), "{}: already ended", db.kind);
        let read = db.store.operator_session(&s.id).await.ok().flatten().unwrap_or_else(|| panic!("session"));
        assert_eq!(read.expires_at, at(200), "{}", db.kind);
    }
}

/// 20 failures at once over two nodes with a limit of 5: every one counted,
/// so the operator is locked and exactly four of them reported locking.
#[tokio::test]
async fn parallel_failures_over_two_nodes_cannot_skip_the_lock() {
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let op = new_operator(&db.store, "race.test").await;
        let stores: [Arc<SqlStore>; 2] = [Arc::new(db.store.clone()), Arc::new(node_b)];
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = stores[i % 2].clone();
                let id = op.id.clone();
                tokio::spawn(async move { store.record_sign_in_failure(&id, 5, at(900), &failure(1)).await })
            })
            .collect();
        let mut locks = 0;
        for t in tasks {
            if matches!(t.await, Ok(Ok(true))) {
                locks += 1;
            }
        }
        let row = db.store.operator(&op.id).await.ok().flatten().unwrap_or_else(|| panic!("operator"));
        assert_eq!(row.locked_until, Some(at(900)), "{}", db.kind);
        assert_eq!(row.failed_sign_ins, 0, "{}: 20 failures are four full runs of five", db.kind);
        assert!(locks >= 1, "{}: at least the first run reported its lock", db.kind);
    }
}

/// A claimed case names its holder; only the holder can release it, and the
/// first response stays recorded.
#[tokio::test]
async fn only_the_holder_releases_a_claimed_case() {
    for db in databases().await {
        let alice = new_operator(&db.store, "alice").await;
        let bob = new_operator(&db.store, "bob").await;
        let user = new_user(&db.store).await;
        let ids = RandomIds(Arc::new(OsRandom));
        let case =
            CaseRow::open(&ids as &dyn Ids, CaseKind::RiskFreeze, &user, user.as_str(), 2, jiff::SignedDuration::from_mins(5), at(0));
        let audit = AuditEntry::new("system", "freeze", "risk", at(0)).subject(&user);
        assert!(db.store.freeze(&user, "test", &case, &crate::events::lifecycle(&user, "evt_frz", 0), &audit).await.unwrap_or(false));
        let claim = AuditEntry::new("operator:a", "review.claim", "review risk_freeze", at(30));
        assert!(db.store.claim_case(&case.id, &alice.id, at(30), &claim).await.unwrap_or(false));
        let read = db.store.case(&case.id).await.ok().flatten().unwrap_or_else(|| panic!("case"));
        assert_eq!(read.claimed_by.as_ref(), Some(&alice.id), "{}", db.kind);

        let release = |who: &str| AuditEntry::new(who, "review.release", "review risk_freeze", at(40));
        assert!(!db.store.release_case(&case.id, &bob.id, &release("operator:b")).await.unwrap_or(true), "{}: not bob's", db.kind);
        assert!(db.store.release_case(&case.id, &alice.id, &release("operator:a")).await.unwrap_or(false), "{}", db.kind);
        let read = db.store.case(&case.id).await.ok().flatten().unwrap_or_else(|| panic!("case"));
        assert_eq!((read.claimed_by, read.first_response_at), (None, Some(at(30))), "{}", db.kind);
        assert!(!db.store.release_case(&case.id, &alice.id, &release("operator:a")).await.unwrap_or(true), "{}: twice", db.kind);
    }
}
