//! Refusals a user can act on (issue 10, points 9 and 10): refused balance
//! queries in the history with their reason, a wrong SMS code audited as a
//! failure, step-up refusals that say why, on both databases.

use crate::cards::{balance, bound_card, call, get_json, step_up, switch};
use crate::{Server, databases, expect_problem, servers, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

fn reason(p: &Value) -> &str {
    p["errors"][0]["code"].as_str().unwrap_or("")
}

/// The access log of the session's user.
async fn access_log(s: &Server, token: &str) -> Vec<Value> {
    let me = get_json(s, "/v1/me", token).await;
    s.access_log(me["user_id"].as_str().unwrap_or("")).await
}

#[tokio::test]
async fn refused_balance_queries_are_in_the_history_with_their_reason() {
    for s in servers().await {
        let (token, card, _) = bound_card(&s, "ICBC").await;
        let p = expect_problem(balance(&s, &token, &card, None).await, 403, "balance_query_disabled").await;
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(detail.contains("until the user turns them on") && detail.contains("PUT /v1/me/features/balance-query"), "{p}");
        switch(&s, &token, true).await;
        let p = expect_problem(balance(&s, &token, &card, None).await, 403, "step_up_required").await;
        assert_eq!(reason(&p), "step_up_missing", "{p}");
        let t = step_up(&s, &token, &card).await;
        assert_eq!(balance(&s, &token, &card, Some(&t)).await.status().as_u16(), 200);

        let h = get_json(&s, "/v1/me/balance-queries", &token).await;
        let rows: Vec<(String, String)> = h["queries"]
            .as_array()
            .map(|q| {
                q.iter().map(|e| (e["outcome"].as_str().unwrap_or("").to_owned(), e["reason"].as_str().unwrap_or("-").to_owned())).collect()
            })
            .unwrap_or_default();
        let want = [("disclosed", "-"), ("refused", "step_up_missing"), ("refused", "balance_query_disabled")];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        assert_eq!(rows, want, "{}: {h}", s.kind);
        // Each refusal is in the access log as a denied query.
        let denied = access_log(&s, &token).await.iter().filter(|r| r["action"] == "balance.query" && r["outcome"] == "denied").count();
        assert_eq!(denied, 2, "{}", s.kind);
    }
}

#[tokio::test]
async fn a_wrong_sms_code_is_logged_as_a_failure_not_as_a_phone_read() {
    for s in servers().await {
        let phone = "13855550001";
        let token = crate::cards::session(&s, phone).await;
        let res = call(&s, Method::POST, "/v1/me/sms-challenges", &token).json(&json!({"purpose": "payment_password"})).send().await;
        let c: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let code = s.last_code(phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let reads_before = access_log(&s, &token).await.iter().filter(|r| r["action"] == "user.read_phone").count();
        let res = call(&s, Method::PUT, "/v1/me/payment-password", &token)
            .json(&json!({"password": "135790", "challenge_id": c["challenge_id"], "code": wrong}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "code_wrong").await;
        let log = access_log(&s, &token).await;
        assert_eq!(
            (log[0]["action"].as_str(), log[0]["outcome"].as_str(), log[0]["purpose"].as_str()),
            (Some("sms_code.verify"), Some("failed"), Some("payment_password")),
            "{}: the newest record is the failed code: {:?}",
            s.kind,
            log.first()
        );
        let reads_after = log.iter().filter(|r| r["action"] == "user.read_phone").count();
        assert_eq!(reads_after, reads_before, "{}: checking a code decrypts no phone", s.kind);
        // The right code still works and is not a failure.
        let res = call(&s, Method::PUT, "/v1/me/payment-password", &token)
            .json(&json!({"password": "135790", "challenge_id": c["challenge_id"], "code": code}))
            .send()
            .await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204);
        assert_eq!(access_log(&s, &token).await[0]["action"], "payment_password.set");
    }
}

#[tokio::test]
async fn step_ups_are_minted_only_for_known_operations_and_refusals_say_why() {
    for db in databases().await {
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        let s = start_full(db, &[], Runtime { clock: clock.clone(), rng: Arc::new(idlink_crypto::OsRandom) }).await;
        let (token, card, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let mint = |op: &str, resource: &str| {
            call(&s, Method::POST, "/v1/me/payment-password/verify", &token)
                .json(&json!({"password": "135790", "operation": op, "resource": resource}))
                .send()
        };
        let p = expect_problem(mint("balance.qurey", &card).await.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "invalid_operation", "{p}");
        assert!(p["errors"][0]["detail"].as_str().unwrap_or("").contains("balance.query"), "names the valid ones: {p}");

        let token_of = async |res: reqwest::Response| -> String {
            let v: Value = res.json().await.unwrap_or_default();
            v["step_up_token"].as_str().unwrap_or("").to_owned()
        };
        let refused = async |t: &str| -> String {
            let p = expect_problem(balance(&s, &token, &card, Some(t)).await, 403, "step_up_required").await;
            reason(&p).to_owned()
        };
        // Minted for another resource (or operation).
        let other = token_of(mint("balance.query", "bnd_other").await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(refused(&other).await, "step_up_other_use", "{}", s.kind);
        let other_op = token_of(mint("device.make_primary", &card).await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(refused(&other_op).await, "step_up_other_use");
        // Spent.
        let t = step_up(&s, &token, &card).await;
        assert_eq!(balance(&s, &token, &card, Some(&t)).await.status().as_u16(), 200);
        assert_eq!(refused(&t).await, "step_up_spent", "{}", s.kind);
        // A wrong secret says only "invalid", whatever the token's state.
        let (id, _) = t.split_once('.').unwrap_or_default();
        assert_eq!(refused(&format!("{id}.{}", "0".repeat(64))).await, "step_up_invalid");
        assert_eq!(refused("garbage").await, "step_up_invalid");
        // Expired.
        let t = step_up(&s, &token, &card).await;
        clock.advance(jiff::SignedDuration::from_secs(121));
        assert_eq!(refused(&t).await, "step_up_expired", "{}", s.kind);
        // The history names each reason.
        let h = get_json(&s, "/v1/me/balance-queries", &token).await;
        let reasons: Vec<&str> =
            h["queries"].as_array().map(|q| q.iter().filter_map(|e| e["reason"].as_str()).collect()).unwrap_or_default();
        for r in ["step_up_other_use", "step_up_spent", "step_up_invalid", "step_up_expired"] {
            assert!(reasons.contains(&r), "{}: {r} in {h}", s.kind);
        }
    }
}

/// A refused payment password states the configured lock limit (not a fixed 3).
#[tokio::test]
async fn the_password_refusal_states_the_configured_limit() {
    for db in databases().await {
        let s = crate::start_with(db, &[("IDLINK__PAYMENT_PASSWORD__MAX_FAILURES", "5")]).await;
        let phone = "13855550009";
        let token = crate::cards::session(&s, phone).await;
        crate::cards::ensure_payment_password(&s, &token, phone).await;
        let res = call(&s, Method::POST, "/v1/me/payment-password/verify", &token)
            .json(&json!({"password": "000000", "operation": "device.make_primary", "resource": "dev_x"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(res, 403, "payment_password_refused").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("After 5 wrong passwords"), "{}: {p}", s.kind);
    }
}
