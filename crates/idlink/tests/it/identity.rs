//! Real-name verification, identity, capabilities and change limits over HTTP (SPEC ID2, ID4, ID5).

use crate::login::login_ok;
use crate::{Server, expect_problem, servers, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_domain::idnumber::check_character;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

/// A valid ID number for a division, birth date and sequence code.
fn id_number(division: &str, birth: &str, seq: &str) -> String {
    let body = format!("{division}{birth}{seq}");
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(body.as_bytes());
    format!("{body}{}", check_character(&first17))
}

/// A session whose user consented to every text (issue 18): these tests are about verifying.
async fn session(s: &Server, phone: &str) -> String {
    let token = login_ok(s, phone, "dev-1").await["session_token"].as_str().unwrap_or("").to_owned();
    crate::consents::give_all(s, &token).await;
    token
}

fn call(s: &Server, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.authed(method, path).header("idlink-session", token)
}

/// Starts and submits a verification; returns the final answer.
async fn verify(s: &Server, token: &str, phone: &str, name: &str, id: &str, video: &str) -> reqwest::Response {
    let res = call(s, Method::POST, "/v1/me/verifications", token)
        .json(&json!({"name": name, "id_number": id}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if res.status().as_u16() != 201 {
        return res;
    }
    let started: Value = res.json().await.unwrap_or_default();
    assert_eq!(started["status"], "requires_input", "{started}");
    let vid = started["id"].as_str().unwrap_or("");
    let challenge = started["phone_check"]["challenge_id"].as_str().unwrap_or("");
    let code = s.last_code(phone).await;
    call(s, Method::POST, &format!("/v1/me/verifications/{vid}/submit"), token)
        .json(&json!({"challenge_id": challenge, "code": code, "liveness_video": video}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn outcome(res: reqwest::Response) -> (String, Vec<String>, Value) {
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap_or_default();
    let reasons =
        v["reasons"].as_array().map(|a| a.iter().filter_map(|r| r["code"].as_str().map(str::to_owned)).collect()).unwrap_or_default();
    (v["status"].as_str().unwrap_or("").to_owned(), reasons, v)
}

#[tokio::test]
async fn verification_fails_with_guidance_then_passes_and_unlocks_capabilities() {
    for s in servers().await {
        let phone = "13811112222";
        let token = session(&s, phone).await;
        let caps: Value = call(&s, Method::GET, "/v1/me/capabilities", &token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(caps["verified"], false);
        assert!(caps["restricted"].as_array().is_some_and(|r| r.iter().any(|x| x == "balance_query")));
        expect_problem(
            call(&s, Method::GET, "/v1/me/identity", &token).send().await.unwrap_or_else(|e| panic!("{e}")),
            404,
            "identity_not_verified",
        )
        .await;

        // Every bad field at once.
        let res = call(&s, Method::POST, "/v1/me/verifications", &token)
            .json(&json!({"name": "张3", "id_number": "110105194912310021"}))
            .send()
            .await;
        let p = expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
        let codes: Vec<&str> = p["errors"].as_array().map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect()).unwrap_or_default();
        assert_eq!(codes, ["invalid_name", "invalid_id_number"], "{p}");

        // Bad lighting: rejected, with what to do.
        let (status, reasons, v) = outcome(verify(&s, &token, phone, "张三", "11010519491231002X", "sandbox:poor_lighting").await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["poor_lighting".to_owned()]), "{}", s.kind);
        assert!(v["reasons"][0]["guidance"].as_str().unwrap_or("").contains("daylight"));
        assert_eq!(v["reasons"][0]["retryable"], true);

        // Name and number do not belong together (registry test value: sequence 000).
        let mismatched = id_number("110105", "19800101", "000");
        let (status, reasons, _) = outcome(verify(&s, &token, phone, "张三", &mismatched, "sandbox:pass").await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["id_number_mismatch".to_owned()]));

        // A pending face decision goes to review.
        let (status, _, _) = outcome(verify(&s, &token, phone, "张三", "11010519491231002X", "sandbox:pending").await).await;
        assert_eq!(status, "review");

        let (status, reasons, _) = outcome(verify(&s, &token, phone, "张三", "11010519491231002X", "sandbox:pass").await).await;
        assert_eq!((status.as_str(), reasons.len()), ("verified", 0), "{}", s.kind);
        let me: Value = call(&s, Method::GET, "/v1/me/identity", &token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(
            (me["name"].as_str(), me["id_number"].as_str(), me["minor"].as_bool()),
            (Some("张*"), Some("110***********002X"), Some(false)),
            "{me}"
        );
        assert!(me["age"].as_i64().is_some_and(|a| a >= 76));
        let caps: Value = call(&s, Method::GET, "/v1/me/capabilities", &token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        // Verified, with every consent given before: nothing is restricted.
        assert_eq!((caps["restricted"].clone(), caps["consent_required"].clone()), (json!([]), json!([])), "{caps}");

        // The same ID number on another account is refused.
        let other = "13811113333";
        let token2 = session(&s, other).await;
        let (status, reasons, _) = outcome(verify(&s, &token2, other, "张三", "11010519491231002X", "sandbox:pass").await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["id_number_bound_elsewhere".to_owned()]), "{}", s.kind);

        // A minor is verified but restricted until a guardian is linked.
        let child = "13811114444";
        let token3 = session(&s, child).await;
        let minor_id = id_number("440524", "20150601", "123");
        let res = verify(&s, &token3, child, "李小明", &minor_id, "sandbox:pass").await;
        let (status, reasons, _) = outcome(res).await;
        // 13811114444 ends in 4444: the registry says that phone belongs to someone else.
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["phone_mismatch".to_owned()]));
        let child = "13811115555";
        let token3 = session(&s, child).await;
        let (status, _, _) = outcome(verify(&s, &token3, child, "李小明", &minor_id, "sandbox:pass").await).await;
        assert_eq!(status, "verified");
        crate::consents::give_all(&s, &token3).await;
        let caps: Value = call(&s, Method::GET, "/v1/me/capabilities", &token3)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(caps["minor"], true);
        assert_eq!(caps["restricted"], json!(["payment", "balance_query", "credit_report"]), "{caps}");
    }
}

#[tokio::test]
async fn real_name_changes_are_limited_per_id_number() {
    for db in crate::databases().await {
        real_name_changes_are_limited_per_id_number_on(db).await;
    }
}

async fn real_name_changes_are_limited_per_id_number_on(db: idlink_store::testing::TestDb) {
    let t0: jiff::Timestamp = "2027-01-02T02:00:00Z".parse().unwrap_or_default();
    let clock = Arc::new(ManualClock::new(t0));
    let s = start_full(db, &[("IDLINK__LOGIN__SESSION_TTL_HOURS", "20000")], Runtime { clock: clock.clone(), ..Runtime::default() }).await;
    let phone = "13822223333";
    let token = session(&s, phone).await;
    let id = "11010519491231002X";
    let day = |n: i64| jiff::SignedDuration::from_hours(24 * n);
    let names = ["王一", "王二", "王三", "王四", "王五", "王六"];

    let (status, _, _) = outcome(verify(&s, &token, phone, names[0], id, "sandbox:pass").await).await;
    assert_eq!(status, "verified", "the first verification is not a change");
    clock.advance(day(1));
    let (status, _, _) = outcome(verify(&s, &token, phone, names[1], id, "sandbox:pass").await).await;
    assert_eq!(status, "verified", "change 1");

    clock.advance(day(10));
    let p = expect_problem(verify(&s, &token, phone, names[2], id, "sandbox:pass").await, 409, "real_name_change_limited").await;
    assert_eq!(p["errors"][0]["code"], "minimum_gap");
    assert!(p["detail"].as_str().unwrap_or("").contains("2027-04-03"), "90 days after change 1, Shanghai time: {p}");

    clock.advance(day(80));
    assert_eq!(outcome(verify(&s, &token, phone, names[2], id, "sandbox:pass").await).await.0, "verified", "change 2");
    clock.advance(day(90));
    assert_eq!(outcome(verify(&s, &token, phone, names[3], id, "sandbox:pass").await).await.0, "verified", "change 3");
    clock.advance(day(90));
    let p = expect_problem(verify(&s, &token, phone, names[4], id, "sandbox:pass").await, 409, "real_name_change_limited").await;
    assert_eq!(p["errors"][0]["code"], "yearly_quota", "{p}");

    // Next calendar year, but inside the 180-day cooling-off.
    clock.advance(day(100));
    let p = expect_problem(verify(&s, &token, phone, names[4], id, "sandbox:pass").await, 409, "real_name_change_limited").await;
    assert_eq!(p["errors"][0]["code"], "cooling_off", "{p}");
    clock.advance(day(81));
    assert_eq!(outcome(verify(&s, &token, phone, names[5], id, "sandbox:pass").await).await.0, "verified", "after the cooling-off");
}

/// A valid 19-digit ICBC card number ending in `last4` (Luhn holds).
pub fn icbc_card(last4: &str) -> String {
    use idlink_domain::card::luhn_valid;
    (0..100_000u32).map(|n| format!("622202{n:09}{last4}")).find(|c| luhn_valid(c)).unwrap_or_else(|| panic!("no card ending {last4}"))
}

async fn four_elements(s: &Server, token: &str, phone: &str, card: &str) -> reqwest::Response {
    let res = call(s, Method::POST, "/v1/me/verifications", token)
        .json(&json!({"name": "赵四", "id_number": id_number("110105", "19850315", "321"), "method": "four_elements", "card_number": card}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if res.status().as_u16() != 201 {
        return res;
    }
    let started: Value = res.json().await.unwrap_or_default();
    let code = s.last_code(phone).await;
    call(s, Method::POST, &format!("/v1/me/verifications/{}/submit", started["id"].as_str().unwrap_or("")), token)
        .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn four_element_verification_checks_the_card_with_its_bank() {
    for s in servers().await {
        let phone = "13877778888";
        let token = session(&s, phone).await;

        let (status, reasons, v) = outcome(four_elements(&s, &token, phone, &icbc_card("0000")).await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["card_holder_mismatch".to_owned()]), "{}", s.kind);
        assert!(v["reasons"][0]["guidance"].as_str().unwrap_or("").contains("own name"));
        let (status, reasons, _) = outcome(four_elements(&s, &token, phone, &icbc_card("1111")).await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["reserved_phone_mismatch".to_owned()]));

        // Bad card numbers and method combinations are named at once.
        let res = call(&s, Method::POST, "/v1/me/verifications", &token)
            .json(&json!({"name": "Smith John", "document_type": "passport", "document_number": "E1234567", "birth_date": "1990-01-01", "method": "four_elements", "card_number": "6222021234"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(res, 422, "validation_failed").await;
        let codes: Vec<&str> = p["errors"].as_array().map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect()).unwrap_or_default();
        assert_eq!(codes, ["invalid_method", "invalid_card_number"], "{p}");

        // No face needed: the bank vouches for card, name, ID and reserved phone.
        let (status, reasons, _) = outcome(four_elements(&s, &token, phone, &icbc_card("4321")).await).await;
        assert_eq!((status.as_str(), reasons.len()), ("verified", 0), "{}", s.kind);

        // A three-element verification still needs the liveness capture.
        let other = "13877779999";
        let token2 = session(&s, other).await;
        let res = call(&s, Method::POST, "/v1/me/verifications", &token2)
            .json(&json!({"name": "钱五", "id_number": id_number("110105", "19700101", "555")}))
            .send()
            .await;
        let started: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let code = s.last_code(other).await;
        let res = call(&s, Method::POST, &format!("/v1/me/verifications/{}/submit", started["id"].as_str().unwrap_or("")), &token2)
            .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["pointer"], "/liveness_video");
    }
}

/// The sandbox banks know their test cards' holders and reserved phones.
#[tokio::test]
async fn four_elements_with_a_roster_test_card_needs_its_real_holder() {
    for s in servers().await {
        let banks: Value = reqwest::get(format!("{}/sandbox/v1/banks", s.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let icbc = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == "ICBC")).cloned().unwrap_or_default();
        let card = icbc["cards"][0].clone();
        let number = card["number"].as_str().unwrap_or("").to_owned();
        let (holder, holder_id, phone) = (
            card["holder_name"].as_str().unwrap_or(""),
            card["holder_id_number"].as_str().unwrap_or(""),
            card["reserved_phone"].as_str().unwrap_or(""),
        );
        assert!(!number.is_empty() && !phone.is_empty(), "{card}");

        let start = |token: String, name: &str, id: &str| {
            call(&s, Method::POST, "/v1/me/verifications", &token)
                .json(&json!({"name": name, "id_number": id, "method": "four_elements", "card_number": number}))
                .send()
        };
        let submit = async |token: &str, phone: &str, started: Value| {
            let code = s.last_code(phone).await;
            call(&s, Method::POST, &format!("/v1/me/verifications/{}/submit", started["id"].as_str().unwrap_or("")), token)
                .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        };

        // Someone else claiming the card is refused by the bank.
        let other_phone = "13811119999";
        let other = session(&s, other_phone).await;
        let started: Value = start(other.clone(), "周八", &id_number("110105", "19900101", "888"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let (status, reasons, _) = outcome(submit(&other, other_phone, started).await).await;
        assert_eq!((status.as_str(), reasons), ("rejected", vec!["card_holder_mismatch".to_owned()]), "{}", s.kind);

        // The holder, logged in with the card's reserved phone, is verified.
        let token = session(&s, phone).await;
        let started: Value =
            start(token.clone(), holder, holder_id).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let (status, reasons, _) = outcome(submit(&token, phone, started).await).await;
        assert_eq!((status.as_str(), reasons.len()), ("verified", 0), "{}", s.kind);
    }
}
