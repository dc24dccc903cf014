//! Group commit of balance queries, on both databases and across two
//! connection pools (two server nodes): every query that returns true spent
//! its own token exactly once, its history row and audit records are
//! durable, and the audit chain stays one unbroken line.

use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::balance::{BalanceStore, QueryCommitment, QueryRecord};
use idlink_core::ports::outbox::{Listing, NewEvent, OutboxStore};
use idlink_core::ports::stepup::{Binding, StepUpStore};
use idlink_core::stepup::{self, StepUpMethod, StepUpPolicy};
use idlink_crypto::OsRandom;
use idlink_store::testing;

#[tokio::test]
async fn concurrent_queries_commit_in_groups_spend_each_token_once_and_keep_one_chain() {
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let user = crate::security::new_user(&db.store).await;
        let b = Binding { user: &user, operation: "balance.query", resource: "bnd_1" };
        let clock = idlink_core::ports::clock::ManualClock::new(at(100));
        let policy = StepUpPolicy { ttl: jiff::SignedDuration::from_mins(5) };
        let mut tokens = Vec::new();
        for _ in 0..60 {
            let (row, token) = stepup::mint(&OsRandom, &OsRandom, &clock, &policy, &b, StepUpMethod::Biometric);
            db.store
                .insert_step_up(&row, &AuditEntry::new("test", "step_up.mint", "test", at(100)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            tokens.push(token);
        }
        let before = db.store.audit_head().await.map(|h| h.0).unwrap_or(0);

        // 60 tokens, each presented by three concurrent queries on alternating nodes.
        let tasks: Vec<_> = (0..180)
            .map(|i| {
                let store = if i % 2 == 0 { db.store.clone() } else { node_b.clone() };
                let (token, user) = (tokens[i % 60].clone(), user.clone());
                tokio::spawn(async move {
                    let (id, secret) = token.split_once('.').unwrap_or_default();
                    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()));
                    let b = Binding { user: &user, operation: "balance.query", resource: "bnd_1" };
                    let record = QueryRecord {
                        id: idlink_domain::QueryId::parse(&format!("bq_{i:04}")).unwrap_or_else(|e| panic!("{e}")),
                        binding_id: idlink_domain::BindingId::parse("bnd_1").unwrap_or_else(|e| panic!("{e}")),
                        bank: "ICBC".into(),
                        channel: "direct".into(),
                        precision: "yuan".into(),
                        actor: format!("user:{user}"),
                        at: at(101),
                        outcome: "disclosed".into(),
                        reason: None,
                    };
                    let read = AuditEntry::new(format!("user:{user}"), "card.read", "balance query", at(101)).subject(&user);
                    let audit = AuditEntry::new(format!("user:{user}"), "balance.query", "balance query", at(101)).subject(&user);
                    store
                        .commit_query(QueryCommitment {
                            token_id: id,
                            secret_hash: &hash,
                            binding: &b,
                            record: &record,
                            card_read: &read,
                            audit: &audit,
                            kept: None,
                            notice: None,
                        })
                        .await
                })
            })
            .collect();
        let mut spent = 0;
        for t in tasks {
            if t.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{}: {e}", db.kind)) {
                spent += 1;
            }
        }
        assert_eq!(spent, 60, "{}: each token is spent by exactly one query", db.kind);
        let history = db.store.query_history(&user, 500).await.unwrap_or_default();
        assert_eq!(history.len(), 60, "{}", db.kind);

        let records = db.store.audit_records(before, 1000).await.unwrap_or_default();
        let count = |a: &str| records.iter().filter(|r| r.entry.action == a).count();
        assert_eq!((count("card.read"), count("balance.query")), (180, 60), "{}: every card read is recorded", db.kind);
        let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, ((before + 1)..=(before + 240)).collect::<Vec<_>>(), "{}: no gaps", db.kind);
        assert!(crate::audit::verify(&db.store).await.is_ok(), "{}: the chain verifies", db.kind);
    }
}

/// A query whose idempotency claim was taken over (its request presumed
/// crashed) neither spends its token nor discloses; one that still holds
/// its claim completes it with the sealed answer in the same transaction.
#[tokio::test]
async fn a_query_whose_claim_was_taken_over_spends_nothing() {
    use idlink_core::ports::idempotency::ClaimRef;
    use idlink_core::ports::idempotency::{IdempotencyClaim, IdempotencyStore, NewClaim};
    for db in databases().await {
        let user = crate::security::new_user(&db.store).await;
        let b = Binding { user: &user, operation: "balance.query", resource: "bnd_1" };
        let clock = idlink_core::ports::clock::ManualClock::new(at(100));
        let policy = StepUpPolicy { ttl: jiff::SignedDuration::from_mins(5) };
        let claim = |token: &str, t: i64| ClaimRef { owner: "key_a/user:x".into(), key: "k".into(), token: token.into(), at: at(t) };
        let take = |c: ClaimRef| {
            let store = db.store.clone();
            async move {
                let new = NewClaim {
                    claim: &c,
                    request_hash: "h",
                    stale_before: at(c.at.as_second() - at(0).as_second() - 600),
                    expires_at: at(90_000),
                };
                store.claim_idempotency_key(&new).await.unwrap_or_else(|e| panic!("{e}"))
            }
        };
        let (old, new) = (claim("old", 0), claim("new", 601));
        assert_eq!(take(old.clone()).await, IdempotencyClaim::Claimed);
        assert_eq!(take(new.clone()).await, IdempotencyClaim::Claimed, "{}: taken over", db.kind);
        let mut outcomes = Vec::new();
        for (i, c) in [old, new].iter().enumerate() {
            let (row, token) = stepup::mint(&OsRandom, &OsRandom, &clock, &policy, &b, StepUpMethod::Biometric);
            db.store
                .insert_step_up(&row, &AuditEntry::new("test", "step_up.mint", "test", at(100)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let (id, secret) = token.split_once('.').unwrap_or_default();
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()));
            let record = QueryRecord {
                id: idlink_domain::QueryId::parse(&format!("bq_{i}")).unwrap_or_else(|e| panic!("{e}")),
                binding_id: idlink_domain::BindingId::parse("bnd_1").unwrap_or_else(|e| panic!("{e}")),
                bank: "ICBC".into(),
                channel: "direct".into(),
                precision: "yuan".into(),
                actor: format!("user:{user}"),
                at: at(101),
                outcome: "disclosed".into(),
                reason: None,
            };
            let read = AuditEntry::new(format!("user:{user}"), "card.read", "balance query", at(101)).subject(&user);
            let audit = AuditEntry::new(format!("user:{user}"), "balance.query", "balance query", at(101)).subject(&user);
            // Each carries a low-balance alert: only a query that goes through may send it.
            let notice = NewEvent {
                id: idlink_domain::EventId::parse(&format!("evt_{i}")).unwrap_or_else(|e| panic!("{e}")),
                kind: "user.sms".into(),
                subject: Some(user.clone()),
                payload: b"sealed".to_vec(),
                at: at(101),
            };
            let commitment = QueryCommitment {
                token_id: id,
                secret_hash: &hash,
                binding: &b,
                record: &record,
                card_read: &read,
                audit: &audit,
                kept: Some((c, b"sealed answer")),
                notice: Some(&notice),
            };
            outcomes.push(db.store.commit_query(commitment).await.map_err(|e| e.to_string()));
        }
        assert!(outcomes[0].is_err(), "{}: the fenced query fails: {:?}", db.kind, outcomes[0]);
        assert_eq!(outcomes[1], Ok(true), "{}", db.kind);
        let history = db.store.query_history(&user, 10).await.unwrap_or_default();
        assert_eq!(history.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["bq_1"], "{}: only the holder disclosed", db.kind);
        let events = db.store.outbox_items(Listing::Undelivered, 10).await.unwrap_or_default();
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt_1"], "{}: only the holder's alert is sent", db.kind);
        assert_eq!(
            take(claim("later", 700)).await,
            IdempotencyClaim::Completed { request_hash: "h".into(), status: 200, body: Some(b"sealed answer".to_vec()) },
            "{}: completed in the query's transaction",
            db.kind
        );
    }
}
