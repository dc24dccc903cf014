//! Binding bank cards over HTTP (SPEC BK1), on both databases.

use crate::reviews::verify_resident;
use crate::{Server, expect_problem, servers};
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) async fn session(s: &Server, phone: &str) -> String {
    crate::login::login_ok(s, phone, "d").await["session_token"].as_str().unwrap_or("").to_owned()
}

pub(crate) fn call(s: &Server, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.authed(method, path).header("idlink-session", token)
}

pub(crate) async fn bind(s: &Server, token: &str, card: &str, phone: &str) -> reqwest::Response {
    call(s, Method::POST, "/v1/me/cards", token)
        .json(&json!({"card_number": card, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) async fn confirm(s: &Server, token: &str, id: &str, code: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/me/cards/{id}/confirm"), token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_card_is_bound_after_the_bank_confirms_it_and_its_code() {
    for s in servers().await {
        let banks: Value = reqwest::get(format!("{}/sandbox/v1/banks", s.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let icbc = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == "ICBC")).cloned().unwrap_or_default();
        let card = icbc["cards"][0].clone();
        let (number, holder, holder_id, phone) = (
            card["number"].as_str().unwrap_or("").to_owned(),
            card["holder_name"].as_str().unwrap_or("").to_owned(),
            card["holder_id_number"].as_str().unwrap_or("").to_owned(),
            card["reserved_phone"].as_str().unwrap_or("").to_owned(),
        );
        let token = session(&s, &phone).await;

        // Only a user who consented to the processing of card data (issue 18), and is verified, binds cards.
        expect_problem(bind(&s, &token, &number, &phone).await, 403, "consent_required").await;
        crate::consents::give_all(&s, &token).await;
        expect_problem(bind(&s, &token, &number, &phone).await, 404, "identity_not_verified").await;
        verify_resident(&s, &token, &phone, &holder, &holder_id).await;

        // The bank checks the reserved phone.
        let p = expect_problem(bind(&s, &token, &number, "13912340000").await, 422, "bank_card_check_failed").await;
        assert_eq!(p["errors"][0]["code"], "reserved_phone_mismatch", "{p}");
        assert_eq!(p["errors"][0]["pointer"], "/reserved_phone", "the field to fix: {p}");

        let res = bind(&s, &token, &number, &phone).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let pending: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            (pending["status"].as_str(), pending["bank"].as_str(), pending["last4"].as_str()),
            (Some("pending_sms"), Some("ICBC"), Some(&number[number.len() - 4..]))
        );
        let id = pending["id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(&phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        expect_problem(confirm(&s, &token, &id, wrong).await, 422, "bank_code_wrong").await;
        let res = confirm(&s, &token, &id, &code).await;
        assert_eq!(res.status().as_u16(), 200);
        let bound: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            (bound["status"].as_str(), bound["risk"].as_str(), bound["bank_name"].as_str()),
            (Some("active"), Some("allow"), Some("中国工商银行")),
            "{bound}"
        );
        expect_problem(confirm(&s, &token, &id, &code).await, 409, "card_binding_not_pending").await;
        expect_problem(bind(&s, &token, &number, &phone).await, 409, "card_already_bound").await;

        let list: Value = get_json(&s, "/v1/me/cards", &token).await;
        assert_eq!(list["cards"].as_array().map(Vec::len), Some(1));
        assert!(!list.to_string().contains(&number), "the card number is never shown whole");

        let res = call(&s, Method::DELETE, &format!("/v1/me/cards/{id}"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        let list: Value = get_json(&s, "/v1/me/cards", &token).await;
        assert_eq!(list["cards"], json!([]));
    }
}

/// The same card bound on a second account raises the risk signal (step-up by default).
#[tokio::test]
async fn the_same_card_on_two_accounts_is_a_risk_signal() {
    for s in servers().await {
        let card = crate::identity::icbc_card("4321");
        let mut risks = Vec::new();
        for (phone, name, id) in [("13822220001", "郑一", "11010519800101111X"), ("13822220002", "郑二", "110105198001012222")] {
            let token = session(&s, phone).await;
            let id = {
                let body = &id[..17];
                let mut f = [0u8; 17];
                f.copy_from_slice(body.as_bytes());
                format!("{body}{}", idlink_domain::idnumber::check_character(&f))
            };
            verify_resident(&s, &token, phone, name, &id).await;
            let pending: Value = bind(&s, &token, &card, phone).await.json().await.unwrap_or_default();
            let code = s.last_code(phone).await;
            let bound: Value = confirm(&s, &token, pending["id"].as_str().unwrap_or(""), &code).await.json().await.unwrap_or_default();
            risks.push(bound["risk"].as_str().unwrap_or("").to_owned());
        }
        assert_eq!(risks, ["allow", "step_up"], "{}", s.kind);
    }
}

/// Binds the first sandbox test card of `bank` for its holder; returns (session, binding id, card's balance in fen).
pub(crate) async fn bound_card(s: &Server, bank: &str) -> (String, String, i64) {
    let banks: Value =
        reqwest::get(format!("{}/sandbox/v1/banks", s.sandbox)).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let b = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == bank)).cloned().unwrap_or_default();
    let card = b["cards"][0].clone();
    let s_ = |k: &str| card[k].as_str().unwrap_or("").to_owned();
    let (number, phone) = (s_("number"), s_("reserved_phone"));
    let token = session(s, &phone).await;
    verify_resident(s, &token, &phone, &s_("holder_name"), &s_("holder_id_number")).await;
    let pending: Value = bind(s, &token, &number, &phone).await.json().await.unwrap_or_default();
    let id = pending["id"].as_str().unwrap_or("").to_owned();
    let code = s.last_code(&phone).await;
    assert_eq!(confirm(s, &token, &id, &code).await.status().as_u16(), 200, "bind {bank}");
    ensure_payment_password(s, &token, &phone).await;
    (token, id, card["balance"].as_i64().unwrap_or(-1))
}

/// Sets the payment password 135790 unless the user has one (for step-up tokens).
pub(crate) async fn ensure_payment_password(s: &Server, token: &str, phone: &str) {
    let status: Value = get_json(s, "/v1/me/payment-password", token).await;
    if status["set"] != true {
        let c: Value = call(s, Method::POST, "/v1/me/sms-challenges", token)
            .json(&json!({"purpose": "payment_password"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let code = s.last_code(phone).await;
        let res = call(s, Method::PUT, "/v1/me/payment-password", token)
            .json(&json!({"password": "135790", "challenge_id": c["challenge_id"], "code": code}))
            .send()
            .await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204);
    }
}

/// GETs `path` for the session user and returns the JSON body.
pub(crate) async fn get_json(s: &Server, path: &str, token: &str) -> Value {
    call(s, Method::GET, path, token).send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default()
}

/// The bank's current agreement, as a host app fetches it to show the user.
pub(crate) async fn agreement_document(s: &Server, bank: &str) -> Value {
    let res = s.authed(Method::GET, &format!("/v1/banks/{bank}/agreement")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200, "agreement of {bank}");
    res.json().await.unwrap_or_default()
}

/// Signs `version` with `hash` for a binding.
pub(crate) async fn sign(s: &Server, token: &str, binding: &str, version: &str, hash: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/me/cards/{binding}/agreements"), token)
        .json(&json!({"document_version": version, "document_hash": hash}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Signs the bank's current agreement for a binding, as a host app does: fetch it, show it, sign its version and hash.
pub(crate) async fn sign_agreement(s: &Server, token: &str, binding: &str, bank: &str) -> reqwest::Response {
    let doc = agreement_document(s, bank).await;
    sign(s, token, binding, doc["version"].as_str().unwrap_or(""), doc["sha256"].as_str().unwrap_or("")).await
}

pub(crate) async fn step_up(s: &Server, token: &str, binding: &str) -> String {
    let res = call(s, Method::POST, "/v1/me/payment-password/verify", token)
        .json(&json!({"password": "135790", "operation": "balance.query", "resource": binding}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = res.json().await.unwrap_or_default();
    v["step_up_token"].as_str().unwrap_or("").to_owned()
}

pub(crate) async fn balance(s: &Server, token: &str, binding: &str, step_up: Option<&str>) -> reqwest::Response {
    let mut r = call(s, Method::POST, &format!("/v1/me/cards/{binding}/balance"), token);
    if let Some(t) = step_up {
        r = r.header("idlink-step-up", t);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) async fn switch(s: &Server, token: &str, enabled: bool) {
    let res = call(s, Method::PUT, "/v1/me/features/balance-query", token).json(&json!({"enabled": enabled})).send().await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204);
}

#[tokio::test]
async fn a_balance_query_passes_four_tiers_and_shows_what_the_bank_allows() {
    for s in servers().await {
        // A state-owned bank: to the yuan, real time, no agreement.
        let (token, icbc, fen) = bound_card(&s, "ICBC").await;
        expect_problem(balance(&s, &token, &icbc, None).await, 403, "balance_query_disabled").await;
        switch(&s, &token, true).await;
        expect_problem(balance(&s, &token, &icbc, None).await, 403, "step_up_required").await;
        let t = step_up(&s, &token, &icbc).await;
        let res = balance(&s, &token, &icbc, Some(&t)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let b: Value = res.json().await.unwrap_or_default();
        assert_eq!((b["precision"].as_str(), b["amount_fen"].as_i64()), (Some("yuan"), Some(fen.div_euclid(100) * 100)), "{b}");
        assert_eq!(b["as_of"], b["next_refresh_at"], "real time");
        expect_problem(balance(&s, &token, &icbc, Some(&t)).await, 403, "step_up_required").await;

        // Switching the feature off takes effect on the next request.
        switch(&s, &token, false).await;
        let t = step_up(&s, &token, &icbc).await;
        expect_problem(balance(&s, &token, &icbc, Some(&t)).await, 403, "balance_query_disabled").await;
        switch(&s, &token, true).await;

        // A joint-stock bank: to the jiao, daily at 18:00, only with a signed agreement.
        let (token2, cmb, fen2) = bound_card(&s, "CMB").await;
        switch(&s, &token2, true).await;
        let t = step_up(&s, &token2, &cmb).await;
        expect_problem(balance(&s, &token2, &cmb, Some(&t)).await, 403, "agreement_required").await;
        assert_eq!(sign_agreement(&s, &token2, &cmb, "CMB").await.status().as_u16(), 201);
        let b: Value = balance(&s, &token2, &cmb, Some(&t)).await.json().await.unwrap_or_default();
        assert_eq!((b["precision"].as_str(), b["amount_fen"].as_i64()), (Some("jiao"), Some(fen2.div_euclid(10) * 10)), "{b}");
        assert!(b["as_of"].as_str().unwrap_or("") < b["next_refresh_at"].as_str().unwrap_or(""), "a daily snapshot: {b}");

        // Every query is in the user's history.
        let h: Value = get_json(&s, "/v1/me/balance-queries", &token).await;
        let banks: Vec<&str> = h["queries"].as_array().map(|q| q.iter().filter_map(|e| e["bank"].as_str()).collect()).unwrap_or_default();
        assert!(banks.contains(&"ICBC"), "{h}");
        let disclosed = h["queries"].as_array().and_then(|q| q.iter().find(|e| e["outcome"] == "disclosed")).cloned().unwrap_or_default();
        assert_eq!(disclosed["channel"], "direct", "ICBC is reached directly: {h}");
    }
}

#[tokio::test]
async fn tiers_are_listed_and_revoked_and_closed_banks_refuse() {
    for s in servers().await {
        let (token, cmb, _) = bound_card(&s, "CMB").await;
        switch(&s, &token, true).await;
        let tiers = async |token: &str, id: &str| -> Value { get_json(&s, &format!("/v1/me/cards/{id}/authorisations"), token).await };
        let t = tiers(&token, &cmb).await;
        assert_eq!(
            (t["binding"].as_str(), t["balance_query_enabled"].as_bool(), t["agreement_required"].as_bool()),
            (Some("active"), Some(true), Some(true)),
            "{t}"
        );
        assert!(t["agreement"].is_null());
        assert_eq!(sign_agreement(&s, &token, &cmb, "CMB").await.status().as_u16(), 201);
        assert_eq!(tiers(&token, &cmb).await["agreement"]["document_version"], "CMB-2026-01");
        let step = step_up(&s, &token, &cmb).await;
        assert_eq!(balance(&s, &token, &cmb, Some(&step)).await.status().as_u16(), 200);

        // Revoking the agreement takes effect on the next query.
        let res =
            call(&s, Method::DELETE, &format!("/v1/me/cards/{cmb}/agreements"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        assert!(tiers(&token, &cmb).await["agreement"].is_null());
        let step = step_up(&s, &token, &cmb).await;
        expect_problem(balance(&s, &token, &cmb, Some(&step)).await, 403, "agreement_required").await;

        // A bank closed to third-party balance queries says so clearly.
        let (token2, closed, _) = bound_card(&s, "BJRCB").await;
        switch(&s, &token2, true).await;
        let step = step_up(&s, &token2, &closed).await;
        expect_problem(balance(&s, &token2, &closed, Some(&step)).await, 403, "balance_not_disclosed").await;
    }
}

/// Each card shows its bank's disclosure policy in the list and in its
/// authorisations, so a host app never asks for a step-up at a closed bank.
#[tokio::test]
async fn a_card_shows_its_banks_disclosure_policy() {
    let roster = idlink_domain::roster::Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
    for s in servers().await {
        let policy_of = async |token: &str, id: &str| -> (Value, Value) {
            let list = get_json(&s, "/v1/me/cards", token).await;
            let card = list["cards"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id)).cloned().unwrap_or_default();
            let tiers = get_json(&s, &format!("/v1/me/cards/{id}/authorisations"), token).await;
            assert_eq!(card["policy"], tiers["policy"], "the list and the authorisations agree");
            (card["policy"].clone(), tiers)
        };
        let (t, icbc, _) = bound_card(&s, "ICBC").await;
        let (p, _) = policy_of(&t, &icbc).await;
        assert_eq!(
            p,
            json!({"precision": "yuan", "range_width_fen": null, "freshness": "real_time", "snapshot_time": null,
                   "snapshot_weekday": null, "closed": false, "agreement_required": false, "agreement_url": null})
        );
        let (t, cmb, _) = bound_card(&s, "CMB").await;
        let (p, _) = policy_of(&t, &cmb).await;
        assert_eq!(
            (p["precision"].as_str(), p["freshness"].as_str(), p["snapshot_time"].as_str(), p["agreement_required"].as_bool()),
            (Some("jiao"), Some("daily"), Some("18:00"), Some(true)),
            "{p}"
        );
        assert_eq!(p["agreement_url"], "/v1/banks/CMB/agreement");
        let (t, city, _) = bound_card(&s, "BJBANK").await;
        let (p, _) = policy_of(&t, &city).await;
        let width = match roster.bank("BJBANK").map(|b| b.precision) {
            Some(idlink_domain::disclosure::Precision::Range { width }) => width,
            other => panic!("BJBANK is a range bank: {other:?}"),
        };
        assert_eq!(
            (p["precision"].as_str(), p["range_width_fen"].as_i64(), p["freshness"].as_str(), p["snapshot_weekday"].as_i64()),
            (Some("range"), Some(width), Some("weekly"), Some(3)),
            "{p}"
        );

        // A closed bank says so on the card before any step-up is spent, and refuses before asking for one.
        assert_eq!(roster.bank("BJRCB").map(|b| b.precision), Some(idlink_domain::disclosure::Precision::Closed));
        let (t, closed, _) = bound_card(&s, "BJRCB").await;
        let (p, tiers) = policy_of(&t, &closed).await;
        assert_eq!((p["closed"].as_bool(), p["precision"].as_str()), (Some(true), Some("closed")), "{p}");
        assert_eq!(tiers["bank"], "BJRCB", "{tiers}");
        switch(&s, &t, true).await;
        expect_problem(balance(&s, &t, &closed, None).await, 403, "balance_not_disclosed").await;
    }
}
