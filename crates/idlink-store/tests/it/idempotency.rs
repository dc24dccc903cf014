use crate::{at, databases};
use idlink_core::ports::{IdempotencyClaim, IdempotencyStore};

#[tokio::test]
async fn a_key_is_claimed_once_then_replayed() {
    for db in databases().await {
        let s = &db.store;
        let claim = |k: &'static str, h: &'static str, t: i64| s.claim_idempotency_key("key_a", k, h, at(t), at(t - 600));
        assert_eq!(claim("k1", "h1", 0).await.ok(), Some(IdempotencyClaim::Claimed), "{}", db.kind);
        assert_eq!(claim("k1", "h1", 1).await.ok(), Some(IdempotencyClaim::InProgress { request_hash: "h1".into() }));
        // Another owner's identical key is independent.
        assert_eq!(s.claim_idempotency_key("key_b", "k1", "h1", at(1), at(0)).await.ok(), Some(IdempotencyClaim::Claimed));
        s.complete_idempotency_key("key_a", "k1", 201, b"{\"ok\":true}").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            claim("k1", "other", 2).await.ok(),
            Some(IdempotencyClaim::Completed { request_hash: "h1".into(), status: 201, body: b"{\"ok\":true}".to_vec() })
        );
        // A claim whose holder vanished is taken over once it is stale.
        assert_eq!(claim("k2", "h2", 0).await.ok(), Some(IdempotencyClaim::Claimed));
        assert_eq!(claim("k2", "h2", 601).await.ok(), Some(IdempotencyClaim::Claimed), "{}", db.kind);
        // A released claim can be made again at once.
        s.release_idempotency_key("key_a", "k2").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claim("k2", "h2", 602).await.ok(), Some(IdempotencyClaim::Claimed));
    }
}

#[tokio::test]
async fn one_hundred_concurrent_claims_yield_exactly_one_owner() {
    for db in databases().await {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let s = db.store.clone();
                tokio::spawn(async move { s.claim_idempotency_key("key_c", "same", "h", at(0), at(-600)).await })
            })
            .collect();
        let mut claimed = 0;
        for t in tasks {
            match t.await {
                Ok(Ok(IdempotencyClaim::Claimed)) => claimed += 1,
                Ok(Ok(IdempotencyClaim::InProgress { .. })) => {}
                other => panic!("{}: unexpected {other:?}", db.kind),
            }
        }
        assert_eq!(claimed, 1, "{}", db.kind);
    }
}
