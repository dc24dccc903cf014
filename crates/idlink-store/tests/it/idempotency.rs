use crate::{at, databases};
use idlink_core::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::idempotency::{self, ClaimRef, IdempotencyClaim, IdempotencyStore, NewClaim};
use idlink_domain::ApiKeyId;

fn claim_ref(owner: &str, key: &str, token: &str, t: i64) -> ClaimRef {
    ClaimRef { owner: owner.into(), key: key.into(), token: token.into(), at: at(t) }
}

/// Claims with a 600 s stale limit and a 24 h lifetime.
async fn claim(s: &idlink_store::SqlStore, c: &ClaimRef, hash: &str) -> IdempotencyClaim {
    let t = c.at.as_second() - at(0).as_second();
    let new = NewClaim { claim: c, request_hash: hash, stale_before: at(t - 600), expires_at: at(t + 86_400) };
    s.claim_idempotency_key(&new).await.unwrap_or_else(|e| panic!("{e}"))
}

/// An effect committed by the request holding `c` (a write of the store that changes state).
async fn effect(s: &idlink_store::SqlStore, c: &ClaimRef) -> Result<(), String> {
    let rng = idlink_crypto::OsRandom;
    let key = ApiKeyRow {
        id: ApiKeyId::from_random(idlink_crypto::Random::bytes16(&rng)),
        name: "effect".into(),
        secret_hash: "ab".repeat(32),
        scopes: vec![],
        created_at: c.at,
        revoked_at: None,
        expires_at: None,
        last_used_at: None,
        replaces: None,
    };
    let entry = AuditEntry::new("apikey:test", "apikey.create", "test", c.at);
    idempotency::within(c.clone(), s.insert_api_key(&key, &entry)).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_key_is_claimed_once_then_replayed() {
    for db in databases().await {
        let s = &db.store;
        let first = claim_ref("key_a", "k1", "t1", 0);
        assert_eq!(claim(s, &first, "h1").await, IdempotencyClaim::Claimed, "{}", db.kind);
        assert_eq!(claim(s, &claim_ref("key_a", "k1", "t2", 1), "h1").await, IdempotencyClaim::InProgress { request_hash: "h1".into() });
        // Another owner's identical key is independent.
        assert_eq!(claim(s, &claim_ref("key_b", "k1", "t3", 1), "h1").await, IdempotencyClaim::Claimed);
        s.complete_idempotency_key(&first, 201, Some(b"sealed")).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            claim(s, &claim_ref("key_a", "k1", "t4", 2), "other").await,
            IdempotencyClaim::Completed { request_hash: "h1".into(), status: 201, body: Some(b"sealed".to_vec()) }
        );
        // An answer not kept (it minted a secret) is completed with no body.
        let minted = claim_ref("key_a", "k3", "t5", 0);
        assert_eq!(claim(s, &minted, "h3").await, IdempotencyClaim::Claimed);
        s.complete_idempotency_key(&minted, 201, None).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            claim(s, &claim_ref("key_a", "k3", "t6", 5), "h3").await,
            IdempotencyClaim::Completed { request_hash: "h3".into(), status: 201, body: None }
        );
        // A claim whose holder vanished before any effect is taken over once it is stale.
        assert_eq!(claim(s, &claim_ref("key_a", "k2", "t7", 0), "h2").await, IdempotencyClaim::Claimed);
        let taker = claim_ref("key_a", "k2", "t8", 601);
        assert_eq!(claim(s, &taker, "h2").await, IdempotencyClaim::Claimed, "{}", db.kind);
        // A claim released with no effect can be made again at once.
        assert!(s.release_idempotency_key(&taker).await.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(claim(s, &claim_ref("key_a", "k2", "t9", 602), "h2").await, IdempotencyClaim::Claimed);
    }
}

#[tokio::test]
async fn a_claim_whose_effect_committed_is_never_run_again() {
    for db in databases().await {
        let s = &db.store;
        // Bookkeeping (an audit-only record) does not pin a claim: a retry may run again.
        let noted = claim_ref("key_a", "noted", "t0", 0);
        assert_eq!(claim(s, &noted, "h").await, IdempotencyClaim::Claimed);
        let note = AuditEntry::new("apikey:test", "test.note", "test", at(0));
        idempotency::within(noted.clone(), s.append_audit(&note)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(s.release_idempotency_key(&noted).await.unwrap_or(false), "{}: only bookkeeping was written", db.kind);

        let crashed = claim_ref("key_a", "crash", "t1", 0);
        assert_eq!(claim(s, &crashed, "h").await, IdempotencyClaim::Claimed);
        effect(s, &crashed).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        // The server "crashes" here: the answer is never recorded, nor the claim released.
        assert!(!s.release_idempotency_key(&crashed).await.unwrap_or(true), "{}: an effect's claim is not released", db.kind);
        // Before the stale limit it still looks in progress; after it, interrupted, never claimed again.
        assert_eq!(claim(s, &claim_ref("key_a", "crash", "t2", 10), "h").await, IdempotencyClaim::InProgress { request_hash: "h".into() });
        assert_eq!(
            claim(s, &claim_ref("key_a", "crash", "t3", 601), "h").await,
            IdempotencyClaim::Interrupted { request_hash: "h".into(), received_at: at(0) },
            "{}",
            db.kind
        );
    }
}

#[tokio::test]
async fn a_claim_taken_over_fences_its_old_holder_out() {
    for db in databases().await {
        let s = &db.store;
        let slow = claim_ref("key_a", "slow", "old", 0);
        assert_eq!(claim(s, &slow, "h").await, IdempotencyClaim::Claimed);
        let retry = claim_ref("key_a", "slow", "new", 601);
        assert_eq!(claim(s, &retry, "h").await, IdempotencyClaim::Claimed);
        let before = s.audit_head().await.map(|h| h.0).unwrap_or(-1);
        // The presumed-crashed holder wakes up: its effect is refused and rolled back.
        assert!(effect(s, &slow).await.is_err(), "{}: the old holder's write must fail", db.kind);
        assert_eq!(s.audit_head().await.map(|h| h.0).unwrap_or(-1), before, "{}: nothing was committed", db.kind);
        effect(s, &retry).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
    }
}

#[tokio::test]
async fn records_expire_and_are_purged() {
    for db in databases().await {
        let s = &db.store;
        let c = claim_ref("key_a", "old", "t1", 0);
        assert_eq!(claim(s, &c, "h").await, IdempotencyClaim::Claimed);
        s.complete_idempotency_key(&c, 200, Some(b"x")).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claim(s, &claim_ref("key_a", "fresh", "t2", 0), "h").await, IdempotencyClaim::Claimed);
        // After its lifetime the same key starts afresh, even before the purge ran.
        assert_eq!(claim(s, &claim_ref("key_a", "old", "t3", 86_400), "h").await, IdempotencyClaim::Claimed, "{}", db.kind);
        assert_eq!(s.purge_idempotency_keys(at(86_399), 1000).await.ok(), Some(0), "{}", db.kind);
        assert_eq!(s.purge_idempotency_keys(at(86_400), 1000).await.ok(), Some(1), "{}: the other expired record", db.kind);
        let left = idlink_store::testing::query_text(s, "SELECT COUNT(*) FROM idempotency_keys").await.unwrap_or_default();
        assert_eq!(left.trim(), "1", "{}", db.kind);
    }
}

#[tokio::test]
async fn one_hundred_concurrent_claims_yield_exactly_one_owner() {
    for db in databases().await {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let s = db.store.clone();
                tokio::spawn(async move { claim(&s, &claim_ref("key_c", "same", &format!("t{i}"), 0), "h").await })
            })
            .collect();
        let mut claimed = 0;
        for t in tasks {
            match t.await {
                Ok(IdempotencyClaim::Claimed) => claimed += 1,
                Ok(IdempotencyClaim::InProgress { .. }) => {}
                other => panic!("{}: unexpected {other:?}", db.kind),
            }
        }
        assert_eq!(claimed, 1, "{}", db.kind);
    }
}

/// Upgrading from a version that kept answers in clear: the sessions and
/// step-up tokens those answers showed are revoked, the answers dropped.
#[tokio::test]
async fn upgrading_revokes_the_tokens_that_answers_held_in_clear() {
    for db in idlink_store::testing::all_below(12).await.unwrap_or_else(|e| panic!("{e}")) {
        let s = &db.store;
        let blob = |bytes: &[u8]| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if db.kind == "sqlite" { format!("X'{hex}'") } else { format!("'\\x{hex}'::bytea") }
        };
        let sql = format!("INSERT INTO users (id, phone_cipher, phone_index, created_at) VALUES ('usr_1', {}, 'pi', 0)", blob(b"x"));
        idlink_store::testing::execute(s, &sql).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        for id in ["ses_leaked", "ses_other"] {
            let sql = format!(
                "INSERT INTO sessions (id, user_id, device_id, secret_hash, status, created_at, expires_at) \
                 VALUES ('{id}', 'usr_1', 'dev', 'h', 'active', 0, 9000000000000000)"
            );
            idlink_store::testing::execute(s, &sql).await.unwrap_or_else(|e| panic!("{e}"));
        }
        for id in ["stu_leaked", "stu_other"] {
            let sql = format!(
                "INSERT INTO step_up_tokens (id, secret_hash, user_id, operation, resource, method, created_at, expires_at) \
                 VALUES ('{id}', 'h', 'usr_1', 'balance.query', 'bnd_1', 'payment_password', 0, 9000000000000000)"
            );
            idlink_store::testing::execute(s, &sql).await.unwrap_or_else(|e| panic!("{e}"));
        }
        for (key, json) in [
            ("k1", r#"{"status":"active","session_token":"ses_leaked.s3cret","user_id":"usr_1"}"#),
            ("k2", r#"{"step_up_token":"stu_leaked.s3cret","method":"payment_password"}"#),
        ] {
            let sql = format!(
                "INSERT INTO idempotency_keys (owner, idem_key, request_hash, status, body, created_at) VALUES ('key_a', '{key}', 'h', 201, {}, 0)",
                blob(json.as_bytes())
            );
            idlink_store::testing::execute(s, &sql).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        }
        s.migrate().await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let revoked = |table: &str, column: &str, id: &str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = '{id}' AND {column} IS NOT NULL");
            async move { idlink_store::testing::query_text(s, &sql).await.unwrap_or_default().trim() == "1" }
        };
        assert!(revoked("sessions", "revoked_at", "ses_leaked").await, "{}: the leaked session is revoked", db.kind);
        assert!(!revoked("sessions", "revoked_at", "ses_other").await, "{}: other sessions stay", db.kind);
        assert!(revoked("step_up_tokens", "used_at", "stu_leaked").await, "{}", db.kind);
        assert!(!revoked("step_up_tokens", "used_at", "stu_other").await, "{}", db.kind);
        let left = idlink_store::testing::query_text(s, "SELECT COUNT(*) FROM idempotency_keys").await.unwrap_or_default();
        assert_eq!(left.trim(), "0", "{}: the clear answers are gone", db.kind);
    }
}
