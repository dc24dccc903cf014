//! `Idempotency-Key` on mutating POSTs, on both databases.

use crate::{expect_problem, servers};
use reqwest::Method;

#[tokio::test]
async fn same_key_replays_and_another_body_is_refused() {
    for s in servers().await {
        let create = |key: &str, phone: &str| {
            s.authed(Method::POST, "/v1/users").header("idempotency-key", key).json(&serde_json::json!({ "phone": phone }))
        };
        let first = create("k-1", "13900001111").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.status().as_u16(), 201, "{}", s.kind);
        let first: serde_json::Value = first.json().await.unwrap_or_default();

        let again = create("k-1", "13900001111").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.status().as_u16(), 201);
        assert_eq!(again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
        let again: serde_json::Value = again.json().await.unwrap_or_default();
        assert_eq!(again, first, "{}: the replay is the first answer", s.kind);

        let other = create("k-1", "13900002222").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(other, 422, "idempotency_key_reused").await;

        // A failed request's answer is replayed too (it is the answer to that request).
        let bad = create("k-2", "123").send().await.unwrap_or_else(|e| panic!("{e}"));
        let bad_body = expect_problem(bad, 422, "validation_failed").await;
        let bad_again = create("k-2", "123").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad_again.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
        let replayed: serde_json::Value = bad_again.json().await.unwrap_or_default();
        assert_eq!(replayed, bad_body);

        let res =
            s.authed(Method::POST, "/v1/users").header("idempotency-key", "bad key with spaces").json(&serde_json::json!({})).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 400, "invalid_idempotency_key").await;
    }
}

/// 100 concurrent identical requests under one key: exactly one execution.
#[tokio::test]
async fn one_hundred_concurrent_duplicates_execute_once() {
    for s in servers().await {
        let requests: Vec<_> = (0..100)
            .map(|_| {
                s.authed(Method::POST, "/v1/users")
                    .header("idempotency-key", "burst-1")
                    .json(&serde_json::json!({ "phone": "13700137000" }))
                    .send()
            })
            .collect();
        let mut created_ids = std::collections::BTreeSet::new();
        let (mut fresh, mut replayed, mut in_progress) = (0, 0, 0);
        for res in futures::future::join_all(requests).await {
            let res = res.unwrap_or_else(|e| panic!("{e}"));
            match res.status().as_u16() {
                201 => {
                    if res.headers().contains_key("idempotent-replayed") {
                        replayed += 1;
                    } else {
                        fresh += 1;
                    }
                    let body: serde_json::Value = res.json().await.unwrap_or_default();
                    created_ids.insert(body["id"].as_str().unwrap_or("").to_owned());
                }
                409 => {
                    expect_problem(res, 409, "idempotency_in_progress").await;
                    in_progress += 1;
                }
                other => panic!("{}: unexpected status {other}", s.kind),
            }
        }
        assert_eq!(fresh, 1, "{}: exactly one execution ({replayed} replays, {in_progress} in progress)", s.kind);
        assert_eq!(created_ids.len(), 1, "{}: all 201 answers name the same user", s.kind);
        assert_eq!(fresh + replayed + in_progress, 100);
        // The store agrees: one user.create in the audit log.
        let id = created_ids.into_iter().next().unwrap_or_default();
        let log: serde_json::Value = s
            .authed(Method::GET, &format!("/v1/users/{id}/access-log"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let creates = log["records"].as_array().map(|r| r.iter().filter(|r| r["action"] == "user.create").count()).unwrap_or(0);
        assert_eq!(creates, 1, "{}", s.kind);
    }
}
