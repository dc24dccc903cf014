//! Revocation sagas on both databases (SPEC RV2, issue 17): one open saga
//! per user, moves by version so that of two nodes only one moves it, the
//! open list holds exactly the sagas still moving, and a final saga is
//! found as the user's latest; account cancellations past due are listed
//! until closed, a closure destroys the user's data key and keeps the
//! retained identity under its own key, and a retained identity's end
//! shreds it with that key.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::revocations::{Closure, Due, Move, RetainedCiphers, RetainedEnd, RevocationRow, RevocationStore};
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
        due: None,
        closed_at: None,
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
                &Move {
                    next: &next,
                    at: at(2),
                    change: None,
                    retire_identity: None,
                    mark_identity: None,
                    login_check: None,
                    host_event: None,
                },
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
                    host_event: None,
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
                &Move {
                    next: &rolled,
                    at: at(4),
                    change: None,
                    retire_identity: None,
                    mark_identity: None,
                    login_check: None,
                    host_event: None
                },
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

fn cancellation(id: &str, user: &UserId, saga: Saga, due_second: i64) -> RevocationRow {
    RevocationRow { operation: Operation::CancelAccount, saga, due: Some(Due { at: at(due_second), provisional: false }), ..row(id, user) }
}

fn committed() -> Saga {
    let saga =
        [Step::MarkPending, Step::SuspendGrants, Step::ApplyStores].into_iter().fold(Saga::new(), |s, step| s.apply(Event::Done(step)));
    let saga = saga.apply(Event::Begin(Step::Commit)).apply(Event::Done(Step::Commit));
    assert_eq!(saga.phase, Phase::Committed);
    saga
}

async fn count(s: &idlink_store::SqlStore, sql: &str) -> String {
    idlink_store::testing::query_text(s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn cancellations_past_due_are_listed_until_closed_and_a_closure_destroys_the_users_key() {
    for db in databases().await {
        let s = &db.store;
        let (late, early, undone, silent) = (new_user(s).await, new_user(s).await, new_user(s).await, new_user(s).await);
        let id = |u: &UserId| format!("rvk_c{}", u.as_str());
        // Undone by the user's own funds operation: not pending. Undone because a store stayed silent: still owed.
        let withdrawn = Saga::new().apply(Event::Done(Step::MarkPending)).apply(Event::FundsOperation);
        let rolled = |saga: Saga| {
            (0..4).fold(saga, |s, _| match s.next() {
                idlink_domain::revocation_saga::Action::Compensate(step) => s.apply(Event::Compensated(step)),
                _ => s,
            })
        };
        let withdrawn = rolled(withdrawn);
        let timed_out = rolled(Saga::new().apply(Event::DeadlinePassed));
        assert_eq!((withdrawn.phase, timed_out.phase), (Phase::RolledBack, Phase::RolledBack));
        for (u, saga, due) in
            [(&late, committed(), 100), (&early, committed(), 10_000), (&undone, withdrawn, 100), (&silent, timed_out, 100)]
        {
            s.insert_revocation(&cancellation(&id(u), u, saga, due), &audit("revocation.start")).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let read = s.revocation(&id(&late)).await.ok().flatten().and_then(|r| r.due);
        assert_eq!(read, Some(Due { at: at(100), provisional: false }), "{}", db.kind);
        let ours = [id(&late), id(&early), id(&undone), id(&silent), "rvk_again".to_owned()];
        let overdue = |now| {
            let ours = ours.clone();
            async move {
                let all = s.overdue_cancellations(at(now), 1000).await.unwrap_or_else(|e| panic!("{e}"));
                all.into_iter().map(|r| r.id).filter(|id| ours.contains(id)).collect::<Vec<_>>()
            }
        };
        assert_eq!(overdue(50).await, Vec::<String>::new(), "{}: nothing is due yet", db.kind);
        let mut want = vec![id(&late), id(&silent)];
        want.sort();
        let mut got = overdue(200).await;
        got.sort();
        assert_eq!(got, want, "{}: a request the user withdrew is not pending; one a silent store undid is", db.kind);
        // Asked again: the failed request is answered by the new one.
        s.insert_revocation(
            &RevocationRow { created_at: at(150), ..cancellation("rvk_again", &silent, Saga::new(), 10_000) },
            &audit("revocation.start"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let unclosed: Vec<String> =
            s.unclosed_cancellations(1000).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind)).into_iter().map(|r| r.id).collect();
        assert!(unclosed.contains(&id(&late)) && unclosed.contains(&id(&early)) && !unclosed.contains(&id(&undone)), "{unclosed:?}");

        // The late user's retained identity, sealed under their own key until the closure.
        let retained = format!(
            "INSERT INTO retained_identities (revocation_id, user_id, name_cipher, id_cipher, id_index, document_type, method, verified_at, revoked_at, retain_until) \
             VALUES ('{}', '{}', X'01', X'02', 'idx', 'resident_id', 'face', 0, 0, {})",
            id(&late),
            late.as_str(),
            at(500).as_microsecond()
        );
        let retained =
            if db.kind == "postgres" { retained.replace("X'01'", "'\\x01'::bytea").replace("X'02'", "'\\x02'::bytea") } else { retained };
        idlink_store::testing::execute(s, &retained).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let found = s.retained_ciphers(&late).await.unwrap_or_default();
        assert_eq!(found.iter().map(|r| (r.name_cipher.clone(), r.key_id.clone())).collect::<Vec<_>>(), vec![(vec![1], None)]);

        let rng = idlink_crypto::OsRandom;
        let ring = idlink_crypto::MasterKeyring::new(
            vec![idlink_crypto::MasterKey::generate("mk", &rng)],
            "mk",
            idlink_crypto::Algorithm::Aes256Gcm,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let key_id = format!("ret-{}", id(&late));
        let retention = ring.wrap(&idlink_crypto::DataKey::generate(key_id.clone(), &rng), &rng).unwrap_or_else(|e| panic!("{e}"));
        let resealed = [RetainedCiphers {
            revocation_id: id(&late),
            name_cipher: vec![7],
            id_cipher: vec![8],
            birth_cipher: None,
            key_id: Some(key_id.clone()),
        }];
        let closure = Closure { at: at(300), resealed: &resealed, retention_key: Some(&retention), key_lost: false };
        assert_eq!(s.close_account(&id(&late), &late, &closure, &audit("account.closed")).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.close_account(&id(&late), &late, &closure, &audit("account.closed")).await.ok(), Some(false), "{}: once", db.kind);
        assert_eq!(
            count(s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = 'dek-{late}'")).await,
            "0",
            "{}: the user's key is gone",
            db.kind
        );
        assert_eq!(count(s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = '{key_id}'")).await, "1", "{}", db.kind);
        assert_eq!(
            count(s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = 'dek-{early}'")).await,
            "1",
            "{}: others keep theirs",
            db.kind
        );
        let after = s.retained_ciphers(&late).await.unwrap_or_default();
        assert_eq!(
            after.iter().map(|r| (r.name_cipher.clone(), r.key_id.clone())).collect::<Vec<_>>(),
            vec![(vec![7], Some(key_id.clone()))]
        );
        assert_eq!(overdue(200).await, Vec::<String>::new(), "{}: closed, or asked again, no longer overdue", db.kind);
        assert_eq!(s.revocation(&id(&late)).await.ok().flatten().and_then(|r| r.closed_at), Some(at(300)));

        // The retained identity's period ends at 500 s: it goes, and its key with it.
        // (The database may hold other tests' records: only this user's count.)
        let ended_at = |now| {
            let late = late.clone();
            async move {
                let all = s.retained_ended(at(now), 1000).await.unwrap_or_else(|e| panic!("{e}"));
                all.into_iter().filter(|e| e.user_id == late).collect::<Vec<_>>()
            }
        };
        assert!(ended_at(499).await.is_empty(), "{}", db.kind);
        let ended = ended_at(500).await;
        assert_eq!(
            ended,
            vec![RetainedEnd { revocation_id: id(&late), user_id: late.clone(), key_id: Some(key_id.clone()) }],
            "{}",
            db.kind
        );
        assert_eq!(s.shred_retained(&ended[0], &audit("identity.retention_ended")).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.shred_retained(&ended[0], &audit("identity.retention_ended")).await.ok(), Some(false), "{}", db.kind);
        assert_eq!(count(s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = '{key_id}'")).await, "0", "{}", db.kind);
        assert_eq!(count(s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{late}'")).await, "0", "{}", db.kind);
    }
}
