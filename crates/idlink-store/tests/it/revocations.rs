//! Revocation sagas on both databases (SPEC RV2, issue 17): one open saga
//! per user, moves by version so that of two nodes only one moves it, the
//! open list holds exactly the sagas still moving, and a final saga is
//! found as the user's latest.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::revocations::{Move, RevocationRow, RevocationStore};
use idlink_domain::UserId;
use idlink_domain::revocation::Operation;
use idlink_domain::revocation_saga::{Event, Phase, Saga, Step};

fn row(id: &str, user: &UserId) -> RevocationRow {
    RevocationRow {
        id: id.to_owned(),
        user_id: user.clone(),
        operation: Operation::RevokeRealName,
        saga: Saga::new(),
        deadline: at(60),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry::new("system:revocation", action, "test", at(1))
}

#[tokio::test]
async fn a_saga_moves_by_version_once_and_one_is_open_per_user() {
    for db in databases().await {
        let s = &db.store;
        let (alice, bob) = (new_user(s).await, new_user(s).await);
        let ids = (format!("rvk_a{}", alice.as_str()), format!("rvk_b{}", bob.as_str()));
        s.insert_revocation(&row(&ids.0, &alice), &audit("revocation.start")).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let again = s.insert_revocation(&row("rvk_second", &alice), &audit("revocation.start")).await;
        assert!(matches!(again, Err(StoreError::Unique(_))), "{}: one open saga per user: {again:?}", db.kind);
        s.insert_revocation(&row(&ids.1, &bob), &audit("revocation.start")).await.unwrap_or_else(|e| panic!("{e}"));

        let next = Saga::new().apply(Event::Done(Step::MarkPending));
        let moved = s
            .advance_revocation(
                &ids.0,
                1,
                &Move { next: &next, at: at(2), change: None, retire_identity: None, mark_identity: None, login_check: None },
                &audit("revocation.step"),
            )
            .await;
        assert_eq!(moved.ok(), Some(true), "{}", db.kind);
        let stale = s
            .advance_revocation(
                &ids.0,
                1,
                &Move {
                    next: &next.apply(Event::Done(Step::SuspendGrants)),
                    at: at(3),
                    change: None,
                    retire_identity: None,
                    mark_identity: None,
                    login_check: None,
                },
                &audit("revocation.step"),
            )
            .await;
        assert_eq!(stale.ok(), Some(false), "{}: a node that read version 1 lost the race", db.kind);
        let read = s.revocation(&ids.0).await.ok().flatten();
        assert_eq!(read.as_ref().map(|r| (r.saga, r.version, r.updated_at)), Some((next, 2, at(2))), "{}", db.kind);

        // Bob's saga rolls back to the end: no longer open, still his latest.
        let rolled = Saga::new().apply(Event::DeadlinePassed);
        assert_eq!(rolled.phase, Phase::RolledBack);
        assert_eq!(
            s.advance_revocation(
                &ids.1,
                1,
                &Move { next: &rolled, at: at(4), change: None, retire_identity: None, mark_identity: None, login_check: None },
                &audit("revocation.rolled_back")
            )
            .await
            .ok(),
            Some(true)
        );
        let open: Vec<String> = s.open_revocations(10).await.unwrap_or_default().into_iter().map(|r| r.id).collect();
        assert!(open.contains(&ids.0) && !open.contains(&ids.1), "{}: {open:?}", db.kind);
        let latest = s.latest_revocation_of(&bob).await.ok().flatten();
        assert_eq!(latest.map(|r| (r.saga.phase, r.saga.reason)), Some((Phase::RolledBack, rolled.reason)));
        // A final saga frees the user to start another.
        s.insert_revocation(&row(&format!("{}x", ids.1), &bob), &audit("revocation.start"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.kind));
    }
}
