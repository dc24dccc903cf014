//! Bank channels and exceptions over HTTP (SPEC BK2, BK5, BK6), on both
//! databases: each kind of bank through its configured channel and, when
//! that channel is down, through the other; the direct channel's mutual TLS
//! and signatures; lost cards, locked passwords and maintenance reported by
//! the bank; low-balance alerts and agreement renewal.

use crate::cards::{balance, bound_card, call, get_json, sign_agreement, step_up, switch};
use crate::{Server, expect_problem, servers};
use reqwest::Method;
use serde_json::{Value, json};

async fn sandbox(s: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", s.sandbox));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "sandbox {path}: {}", res.status());
    res.json().await.unwrap_or_default()
}

async fn history(s: &Server, token: &str) -> Value {
    get_json(s, "/v1/me/balance-queries", token).await
}

/// Queries with a fresh step-up token; returns the answer and the channel the history recorded.
async fn query(s: &Server, token: &str, binding: &str) -> (Value, String) {
    let t = step_up(s, token, binding).await;
    let res = balance(s, token, binding, Some(&t)).await;
    assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
    let b: Value = res.json().await.unwrap_or_default();
    let h = history(s, token).await;
    (b, h["queries"][0]["channel"].as_str().unwrap_or("").to_owned())
}

pub(crate) async fn card_number(s: &Server, bank: &str) -> String {
    let banks = sandbox(s, Method::GET, "/sandbox/v1/banks", None).await;
    let b = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == bank)).cloned().unwrap_or_default();
    b["cards"][0]["number"].as_str().unwrap_or_else(|| panic!("no sandbox card at {bank}")).to_owned()
}

#[tokio::test]
async fn every_kind_of_bank_answers_through_its_channel_and_fails_over_to_the_other() {
    for s in servers().await {
        // State-owned: direct channel, to the yuan.
        let (t_icbc, icbc, fen) = bound_card(&s, "ICBC").await;
        switch(&s, &t_icbc, true).await;
        let (b, via) = query(&s, &t_icbc, &icbc).await;
        assert_eq!((b["precision"].as_str(), b["amount_fen"].as_i64(), via.as_str()), (Some("yuan"), Some(fen / 100 * 100), "direct"));

        // City commercial: card switch, a 500-yuan range, weekly.
        let (t_city, city, fen) = bound_card(&s, "BJBANK").await;
        switch(&s, &t_city, true).await;
        let (b, via) = query(&s, &t_city, &city).await;
        let (low, high) = (b["range_low_fen"].as_i64().unwrap_or(-1), b["range_high_fen"].as_i64().unwrap_or(-1));
        assert_eq!((b["precision"].as_str(), high - low, via.as_str()), (Some("range"), 50_000, "card_switch"));
        assert!(low <= fen && fen < high && b["amount_fen"].is_null(), "{b}");

        // The direct channel is down: ICBC answers through the switch; when it is back, through direct again.
        sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "direct", "minutes": 30}))).await;
        assert_eq!(query(&s, &t_icbc, &icbc).await.1, "card_switch");
        // Joint-stock, direct, to the jiao with an agreement: binding and queries go through the switch too.
        let (t_cmb, cmb, fen) = bound_card(&s, "CMB").await;
        switch(&s, &t_cmb, true).await;
        assert_eq!(sign_agreement(&s, &t_cmb, &cmb, "CMB").await.status().as_u16(), 201);
        let (b, via) = query(&s, &t_cmb, &cmb).await;
        assert_eq!((b["precision"].as_str(), b["amount_fen"].as_i64(), via.as_str()), (Some("jiao"), Some(fen / 10 * 10), "card_switch"));
        sandbox(&s, Method::DELETE, "/sandbox/v1/maintenance/direct", None).await;
        assert_eq!(query(&s, &t_icbc, &icbc).await.1, "direct");
        assert_eq!(query(&s, &t_cmb, &cmb).await.1, "direct");

        // The switch is down: the city bank answers through its direct channel.
        sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "switch", "minutes": 30}))).await;
        assert_eq!(query(&s, &t_city, &city).await.1, "direct");
        sandbox(&s, Method::DELETE, "/sandbox/v1/maintenance/switch", None).await;
        assert_eq!(query(&s, &t_city, &city).await.1, "card_switch");
    }
}

#[tokio::test]
async fn the_direct_channel_refuses_clients_without_the_certificate_or_the_signature() {
    let s = crate::sqlite_server().await;
    let running = s.running.as_ref().unwrap_or_else(|| panic!("running"));
    let direct = format!("https://localhost:{}", running.sandbox_direct_addr.map(|a| a.port()).unwrap_or(0));
    let dir = s.config.direct_pki_dir();
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let ca = reqwest::Certificate::from_pem(&read("ca.pem")).unwrap_or_else(|e| panic!("{e}"));
    let body = json!({"card_number": card_number(&s, "ICBC").await});

    // No client certificate: refused during the TLS handshake.
    let anonymous = reqwest::Client::builder().tls_certs_only([ca.clone()]).build().unwrap_or_else(|e| panic!("{e}"));
    let r = anonymous.post(format!("{direct}/banks/ICBC/v1/balances")).json(&body).send().await;
    assert!(r.is_err(), "no certificate must be refused: {r:?}");

    // The right certificate but no signature: refused by the bank, and the refusal is signed.
    let identity = reqwest::Identity::from_pem(&read("idlink-client.pem")).unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder().tls_certs_only([ca]).identity(identity).build().unwrap_or_else(|e| panic!("{e}"));
    let r = client.post(format!("{direct}/banks/ICBC/v1/balances")).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("bank-signature"));

    // Signed with another key: refused.
    let other = idlink_crypto::signing::Ed25519Signer::from_seed(&[7; 32]);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let path = "/banks/ICBC/v1/balances";
    let sig = other.sign(&idlink_crypto::signing::bank_message("POST", path, "1", "n-1", &bytes));
    let r = client
        .post(format!("{direct}{path}"))
        .header("content-type", "application/json")
        .header("idlink-timestamp", "1")
        .header("idlink-nonce", "n-1")
        .header("idlink-signature", sig)
        .body(bytes.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);

    // idlink's own key: served; the same nonce again is a replay.
    let ours = idlink_crypto::signing::Ed25519Signer::from_seed_hex(&String::from_utf8_lossy(&read("idlink-signing.seed")))
        .unwrap_or_else(|| panic!("seed"));
    let send = async |nonce: &str| {
        let sig = ours.sign(&idlink_crypto::signing::bank_message("POST", path, "1", nonce, &bytes));
        client
            .post(format!("{direct}{path}"))
            .header("content-type", "application/json")
            .header("idlink-timestamp", "1")
            .header("idlink-nonce", nonce)
            .header("idlink-signature", sig)
            .body(bytes.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .status()
            .as_u16()
    };
    assert_eq!(send("n-2").await, 200);
    assert_eq!(send("n-2").await, 401);
}

#[tokio::test]
async fn a_lost_card_ends_the_binding_and_the_user_is_told() {
    for s in servers().await {
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        let number = card_number(&s, "ICBC").await;
        let r = sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/report-lost"), None).await;
        assert_eq!(r["callback"]["delivered"], true, "{r}");
        let list: Value = get_json(&s, "/v1/me/cards", &token).await;
        let card = list["cards"].as_array().and_then(|c| c.iter().find(|c| c["id"] == icbc.as_str())).cloned().unwrap_or_default();
        assert_eq!((card["status"].as_str(), card["end_reason"].as_str()), (Some("ended"), Some("card_reported_lost")), "{list}");
        let owner = reserved_phone(&s, "ICBC").await;
        let inbox = s.sms_delivered(&owner, "card_binding_ended_lost").await;
        assert_eq!(inbox["messages"][0]["template"], "card_binding_ended_lost", "{inbox}");
        expect_problem(balance(&s, &token, &icbc, None).await, 404, "card_binding_not_found").await;
    }
}

pub(crate) async fn reserved_phone(s: &Server, bank: &str) -> String {
    let banks = sandbox(s, Method::GET, "/sandbox/v1/banks", None).await;
    let b = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == bank)).cloned().unwrap_or_default();
    b["cards"][0]["reserved_phone"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn callbacks_must_carry_the_banks_signature_and_replays_change_nothing() {
    let s = crate::sqlite_server().await;
    let number = card_number(&s, "ICBC").await;
    let body =
        serde_json::to_vec(&json!({"event_id": "e-1", "event": "card_lost", "card_number": number, "occurred_at": "2026-11-23T00:00:00Z"}))
            .unwrap_or_default();
    let path = "/v1/callbacks/banks/ICBC/events";
    let post = async |signer: &idlink_crypto::signing::Ed25519Signer, nonce: &str| {
        let sig = signer.sign(&idlink_crypto::signing::bank_message("POST", path, "1", nonce, &body));
        reqwest::Client::new()
            .post(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .header("bank-timestamp", "1")
            .header("bank-nonce", nonce)
            .header("bank-signature", sig)
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let forger = idlink_crypto::signing::Ed25519Signer::from_seed(&[9; 32]);
    expect_problem(post(&forger, "e-1").await, 401, "bank_signature_invalid").await;
    let unsigned =
        reqwest::Client::new().post(format!("{}{path}", s.base)).body(body.clone()).send().await.unwrap_or_else(|e| panic!("{e}"));
    expect_problem(unsigned, 401, "bank_signature_invalid").await;

    // The bank's key: the first delivery applies; a replay is acknowledged and changes nothing.
    let seed = std::fs::read_to_string(s.config.direct_pki_dir().join("bank-signing.seed")).unwrap_or_default();
    let bank = idlink_crypto::signing::Ed25519Signer::from_seed_hex(&seed).unwrap_or_else(|| panic!("bank seed"));
    expect_problem(post(&bank, "another-id").await, 401, "bank_signature_invalid").await;
    let first: Value = post(&bank, "e-1").await.json().await.unwrap_or_default();
    assert_eq!(first["applied"], true, "{first}");
    let replay: Value = post(&bank, "e-1").await.json().await.unwrap_or_default();
    assert_eq!(replay["applied"], false, "{replay}");
}

#[tokio::test]
async fn three_wrong_bank_passwords_suspend_queries_until_the_bank_resets_it() {
    for s in servers().await {
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let number = card_number(&s, "ICBC").await;
        for i in 1..=3 {
            let r = sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/wrong-password"), None).await;
            assert_eq!(r["attempts"], i);
        }
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{icbc}/authorisations"), &token).await;
        assert_eq!(tiers["suspended_reason"], "password_locked", "{tiers}");
        let list: Value = get_json(&s, "/v1/me/cards", &token).await;
        assert_eq!(list["cards"][0]["suspended_reason"], "password_locked", "the card list says so too: {list}");
        let t = step_up(&s, &token, &icbc).await;
        expect_problem(balance(&s, &token, &icbc, Some(&t)).await, 423, "balance_query_suspended").await;

        sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/password-reset"), None).await;
        let res = balance(&s, &token, &icbc, Some(&t)).await;
        assert_eq!(res.status().as_u16(), 200, "the unspent token works once the bank lifts the suspension");
    }
}

#[tokio::test]
async fn bank_maintenance_answers_503_with_its_end_and_service_returns_by_itself() {
    for s in servers().await {
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "bank:ICBC", "minutes": 30}))).await;
        let t = step_up(&s, &token, &icbc).await;
        let res = balance(&s, &token, &icbc, Some(&t)).await;
        let retry: u64 = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!((1_700..=1_800).contains(&retry), "Retry-After {retry}");
        let p = expect_problem(res, 503, "bank_unavailable").await;
        assert!(p["expected_end"].as_str().is_some_and(|e| e.ends_with('Z')), "{p}");

        // The sandbox's clock passes the window's end; no operator step, the next query is served.
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 31 * 60}))).await;
        let res = balance(&s, &token, &icbc, Some(&t)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        sandbox(&s, Method::POST, "/sandbox/v1/clock/reset", None).await;
    }
}

#[tokio::test]
async fn a_low_balance_alert_fires_on_the_disclosed_figure_and_agreements_renew() {
    for s in servers().await {
        let (token, cmb, fen) = bound_card(&s, "CMB").await;
        switch(&s, &token, true).await;
        let sign = async || -> Value { sign_agreement(&s, &token, &cmb, "CMB").await.json().await.unwrap_or_default() };
        let first = sign().await;
        let renewed = sign().await;
        assert_eq!(renewed["renews"], first["id"], "{renewed}");

        let alert = async |threshold: Value| {
            call(&s, Method::PUT, &format!("/v1/me/cards/{cmb}/low-balance-alert"), &token)
                .json(&json!({ "threshold_fen": threshold }))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        };
        expect_problem(alert(json!(-5)).await, 422, "validation_failed").await;
        assert_eq!(alert(json!(fen + 100)).await.status().as_u16(), 204);
        let (b, _) = query(&s, &token, &cmb).await;
        assert_eq!(b["low_balance_alert"], true, "{b}");
        let owner = reserved_phone(&s, "CMB").await;
        let inbox = s.sms_delivered(&owner, "low_balance_alert").await;
        assert_eq!(inbox["messages"][0]["template"], "low_balance_alert", "{inbox}");
        assert!(!inbox.to_string().contains(&fen.to_string()), "the SMS does not carry the balance");

        // A threshold equal to the disclosed figure (to the jiao): not below it, no alert.
        assert_eq!(alert(json!(fen / 10 * 10)).await.status().as_u16(), 204);
        assert_eq!(query(&s, &token, &cmb).await.0["low_balance_alert"], false);
        assert_eq!(alert(Value::Null).await.status().as_u16(), 204);
    }
}
