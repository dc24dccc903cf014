//! The sandbox as a new user meets it, on both databases: every bank of the
//! roster has test cards listed with its disclosure policy (and they bind at
//! idlink), and with `sandbox.drive_clock` the sandbox clock moves idlink's
//! own clock, so expiries show without waiting.

use crate::cards::{agreement_document, balance, bound_card, call, get_json, sign, step_up, switch};
use crate::{Server, expect_problem, servers, start_with};
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

#[tokio::test]
async fn every_bank_of_the_roster_has_test_cards_listed_with_its_policy() {
    let roster = idlink_domain::roster::Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
    for s in servers().await {
        let listed = sandbox(&s, Method::GET, "/sandbox/v1/banks", None).await;
        let banks = listed["banks"].as_array().cloned().unwrap_or_default();
        assert_eq!(banks.len(), roster.banks.len(), "every bank of the roster");
        for (b, r) in banks.iter().zip(&roster.banks) {
            assert_eq!(b["code"], r.code.as_str());
            assert_eq!(b["cards"].as_array().map(Vec::len), Some(2), "{}", r.code);
            assert_eq!(b["policy"]["precision"], serde_json::to_value(r.precision).unwrap_or_default(), "{}", r.code);
            assert_eq!(b["policy"]["freshness"], serde_json::to_value(r.freshness).unwrap_or_default(), "{}", r.code);
            assert_eq!(b["policy"]["e_agreement"], r.e_agreement, "{}", r.code);
            assert_eq!(b["policy"]["closed"], r.precision == idlink_domain::disclosure::Precision::Closed, "{}", r.code);
        }
        // Banks that had none: no 16/19-digit debit BIN (17 and 18 digits, credit only,
        // a non-UnionPay prefix) or a BIN shadowed by another bank's longer one. They bind at idlink.
        for (bank, kind) in [("BOL", "debit"), ("HZCB", "debit"), ("DSBHK", "credit"), ("JRCB", "debit")] {
            let b = banks.iter().find(|b| b["code"] == bank).cloned().unwrap_or_default();
            assert_eq!(b["cards"][0]["card_type"], kind, "{b}");
            let (token, id, fen) = bound_card(&s, bank).await;
            let list = get_json(&s, "/v1/me/cards", &token).await;
            let card = list["cards"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id.as_str())).cloned().unwrap_or_default();
            assert_eq!((card["bank"].as_str(), card["status"].as_str()), (Some(bank), Some("active")), "{card}");
            if b["policy"]["closed"] == false {
                switch(&s, &token, true).await;
                let t = step_up(&s, &token, &id).await;
                let res = balance(&s, &token, &id, Some(&t)).await;
                assert_eq!(res.status().as_u16(), 200, "{bank} on {}", s.kind);
                let answer: Value = res.json().await.unwrap_or_default();
                let (low, high) = (answer["range_low_fen"].as_i64().unwrap_or(i64::MAX), answer["range_high_fen"].as_i64().unwrap_or(0));
                assert!(low <= fen && fen < high, "{bank}: {answer} holds {fen}");
            }
        }
    }
}

#[tokio::test]
async fn the_sandbox_clock_drives_idlinks_clock_so_expiries_show_at_once() {
    for db in crate::databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true")]).await;
        let clock = sandbox(&s, Method::GET, "/sandbox/v1/clock", None).await;
        assert_eq!(clock["drives_idlink"], true, "{clock}");

        // A step-up token lives 120 s: past that on the sandbox clock, idlink refuses it.
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let t = step_up(&s, &token, &icbc).await;
        let moved = sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 121}))).await;
        assert_eq!(moved["offset_secs"], 121, "{moved}");
        expect_problem(balance(&s, &token, &icbc, Some(&t)).await, 403, "step_up_required").await;
        let t = step_up(&s, &token, &icbc).await;
        let res = balance(&s, &token, &icbc, Some(&t)).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let answer: Value = res.json().await.unwrap_or_default();
        let as_of: jiff::Timestamp = answer["as_of"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert!(as_of.duration_since(jiff::Timestamp::now()).as_secs() >= 115, "idlink's time runs ahead with the sandbox: {answer}");

        // An agreement (365 days) and the session (30 days) expire when the sandbox clock passes them.
        let (token, cmb, _) = bound_card(&s, "CMB").await;
        let doc = agreement_document(&s, "CMB").await;
        let res = sign(&s, &token, &cmb, doc["version"].as_str().unwrap_or(""), doc["sha256"].as_str().unwrap_or("")).await;
        assert_eq!(res.status().as_u16(), 201);
        let tiers = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!(tiers["agreement_status"], "in_force", "{tiers}");
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 366 * 24 * 3600}))).await;
        let res = call(&s, Method::GET, "/v1/me", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 401, "session_invalid").await;
        let phone = crate::banks::reserved_phone(&s, "CMB").await;
        let token = crate::cards::session(&s, &phone).await;
        let tiers = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!((tiers["agreement_status"].as_str(), tiers["agreement"].is_null()), (Some("not_signed"), true), "{tiers}");
    }
}
