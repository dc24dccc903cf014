//! Login by phone + SMS code, devices and sessions (SPEC ID1), over HTTP.

use crate::{Server, expect_problem, servers, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

async fn request_code(s: &Server, phone: &str, device: &str) -> reqwest::Response {
    s.authed(Method::POST, "/v1/auth/sms-challenges")
        .json(&json!({"phone": phone, "device_id": device}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub async fn challenge(s: &Server, phone: &str, device: &str) -> String {
    let res = request_code(s, phone, device).await;
    assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
    let v: Value = res.json().await.unwrap_or_default();
    v["challenge_id"].as_str().unwrap_or("").to_owned()
}

pub fn login_body(phone: &str, device: &str, challenge: &str, code: &str) -> Value {
    json!({"phone": phone, "device_id": device, "device_name": format!("phone {device}"), "challenge_id": challenge, "code": code})
}

pub async fn login(s: &Server, phone: &str, device: &str, challenge: &str, code: &str) -> reqwest::Response {
    s.authed(Method::POST, "/v1/auth/login")
        .json(&login_body(phone, device, challenge, code))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A login that completes the device check when one is asked (a new
/// device, or the extra check after a revocation): the session token and
/// the login's answer.
pub(crate) async fn login_checked(s: &Server, phone: &str, device: &str) -> (String, Value) {
    let c = challenge(s, phone, device).await;
    let code = s.last_code(phone).await;
    let answer: Value = login(s, phone, device, &c, &code).await.json().await.unwrap_or_default();
    let token = answer["session_token"].as_str().unwrap_or("").to_owned();
    if answer["status"] == "device_check_required" {
        let check = answer["device_check"]["challenge_id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(phone).await;
        let res = s
            .authed(Method::POST, "/v1/auth/device-check")
            .header("idlink-session", &token)
            .json(&login_body(phone, device, &check, &code))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
    }
    (token, answer)
}

pub async fn login_ok(s: &Server, phone: &str, device: &str) -> Value {
    let c = challenge(s, phone, device).await;
    let code = s.last_code(phone).await;
    let res = login(s, phone, device, &c, &code).await;
    assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
    res.json().await.unwrap_or_default()
}

pub async fn me(s: &Server, token: &str) -> reqwest::Response {
    s.authed(Method::GET, "/v1/me").header("idlink-session", token).send().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn first_login_creates_the_user_and_a_new_device_needs_a_second_sms_check() {
    for s in servers().await {
        let phone = "13912345678";
        let first = login_ok(&s, phone, "device-a").await;
        assert_eq!(first["status"], "active", "{first}");
        assert_eq!(first["new_user"], true);
        assert_eq!(first["device"]["primary"], true, "the first device is primary");
        let token_a = first["session_token"].as_str().unwrap_or("").to_owned();
        let user = first["user_id"].as_str().unwrap_or("").to_owned();

        // Same device again: a plain login to the same user.
        let again = login_ok(&s, phone, "device-a").await;
        assert_eq!(
            (again["status"].as_str(), again["new_user"].as_bool(), again["user_id"].as_str()),
            (Some("active"), Some(false), Some(user.as_str()))
        );

        // A new device: the session waits for a second code, sent automatically.
        let c = challenge(&s, phone, "device-b").await;
        let code = s.last_code(phone).await;
        let res = login(&s, phone, "device-b", &c, &code).await;
        assert_eq!(res.status().as_u16(), 201);
        let pending: Value = res.json().await.unwrap_or_default();
        assert_eq!(pending["status"], "device_check_required", "{pending}");
        let token_b = pending["session_token"].as_str().unwrap_or("").to_owned();
        expect_problem(me(&s, &token_b).await, 403, "device_check_required").await;

        let check_id = pending["device_check"]["challenge_id"].as_str().unwrap_or("").to_owned();
        let check_code = s.last_code(phone).await;
        assert_ne!(check_code, code, "{}: a second, different code", s.kind);
        let res = s
            .authed(Method::POST, "/v1/auth/device-check")
            .header("idlink-session", &token_b)
            .json(&login_body(phone, "device-b", &check_id, &check_code))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);

        let mine: Value = me(&s, &token_b).await.json().await.unwrap_or_default();
        let devices = mine["devices"].as_array().cloned().unwrap_or_default();
        assert_eq!(devices.len(), 2, "{mine}");
        assert_eq!(devices.iter().filter(|d| d["primary"] == true).count(), 1, "one primary device: {mine}");
        assert_eq!(devices[0]["name"], "phone device-a");

        // Logging out everywhere ends both sessions.
        let out =
            s.authed(Method::DELETE, "/v1/me/sessions").header("idlink-session", &token_b).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status().as_u16(), 204);
        expect_problem(me(&s, &token_a).await, 401, "session_invalid").await;
        expect_problem(me(&s, &token_b).await, 401, "session_invalid").await;
    }
}

#[tokio::test]
async fn codes_are_single_use_bound_to_their_request_and_limited_in_tries() {
    for db in crate::databases().await {
        codes_are_single_use_bound_to_their_request_and_limited_in_tries_on(db).await;
    }
}

async fn codes_are_single_use_bound_to_their_request_and_limited_in_tries_on(db: idlink_store::testing::TestDb) {
    let s = crate::start_on_db(db).await;
    let phone = "13700001111";
    let c = challenge(&s, phone, "dev-1").await;
    let code = s.last_code(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    // Bound to the device that asked.
    let p = expect_problem(login(&s, phone, "dev-2", &c, &code).await, 422, "code_wrong").await;
    assert!(p["detail"].as_str().unwrap_or("").contains("4 tries left"), "{p}");
    // Bound to the phone it was sent to.
    expect_problem(login(&s, "13700002222", "dev-1", &c, &code).await, 422, "code_wrong").await;
    expect_problem(login(&s, phone, "dev-1", &c, wrong).await, 422, "code_wrong").await;
    let ok = login(&s, phone, "dev-1", &c, &code).await;
    assert_eq!(ok.status().as_u16(), 201);
    // Single use.
    expect_problem(login(&s, phone, "dev-1", &c, &code).await, 410, "challenge_gone").await;

    // Five tries, then the challenge is gone even for the right code.
    let phone2 = "13700003333";
    let c2 = challenge(&s, phone2, "dev-1").await;
    let code2 = s.last_code(phone2).await;
    let wrong2 = if code2 == "000000" { "111111" } else { "000000" };
    for left in (1..=4).rev() {
        let p = expect_problem(login(&s, phone2, "dev-1", &c2, wrong2).await, 422, "code_wrong").await;
        assert!(p["detail"].as_str().unwrap_or("").contains(&format!("{left} tries left")), "{p}");
    }
    expect_problem(login(&s, phone2, "dev-1", &c2, wrong2).await, 410, "challenge_gone").await;
    expect_problem(login(&s, phone2, "dev-1", &c2, &code2).await, 410, "challenge_gone").await;

    // Validation lists every bad field.
    let res = s
        .authed(Method::POST, "/v1/auth/login")
        .json(&json!({"phone": "1440123456789", "code": "12"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = expect_problem(res, 422, "validation_failed").await;
    let pointers: Vec<&str> = p["errors"].as_array().map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect()).unwrap_or_default();
    assert_eq!(pointers, ["/phone", "/device_id", "/device_name", "/challenge_id", "/code"], "{p}");
}

#[tokio::test]
async fn codes_expire_and_requests_are_rate_limited() {
    for db in crate::databases().await {
        codes_expire_and_requests_are_rate_limited_on(db).await;
    }
}

async fn codes_expire_and_requests_are_rate_limited_on(db: idlink_store::testing::TestDb) {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::from_second(1_795_000_000).unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let s = start_full(db, &[("IDLINK__LOGIN__CODES_PER_IP_PER_HOUR", "5"), ("IDLINK__LOGIN__RESEND_INTERVAL_SECS", "60")], rt).await;
    let phone = "13600001111";

    let c = challenge(&s, phone, "d").await;
    let code = s.last_code(phone).await;
    // A second code within the resend interval is refused with Retry-After.
    let res = request_code(&s, phone, "d").await;
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    expect_problem(res, 429, "rate_limited").await;

    // After five minutes the code is no longer accepted.
    clock.advance(jiff::SignedDuration::from_secs(301));
    expect_problem(login(&s, phone, "d", &c, &code).await, 410, "challenge_gone").await;

    // The per-IP limit (5 per hour here) covers all numbers and counts refused requests too:
    // so far 2 requests (one refused); 3 more pass, the 6th is refused.
    for n in 0..2 {
        assert_eq!(request_code(&s, &format!("1360000200{n}"), "d").await.status().as_u16(), 201);
    }
    assert_eq!(request_code(&s, phone, "d").await.status().as_u16(), 201, "the resend interval has passed");
    let p = expect_problem(request_code(&s, "13600003000", "d").await, 429, "rate_limited").await;
    assert!(p["detail"].as_str().unwrap_or("").contains("network"), "{p}");
}

/// At most `login.codes_per_phone_per_hour` codes reach one number in an hour; sessions expire.
#[tokio::test]
async fn codes_per_phone_are_limited_per_hour_and_sessions_expire() {
    for db in crate::databases().await {
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::from_second(1_795_000_000).unwrap_or_default()));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let extra = [("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR", "3"), ("IDLINK__LOGIN__SESSION_TTL_HOURS", "2")];
        let s = start_full(db, &extra, rt).await;
        let phone = "13600004444";
        let first = login_ok(&s, phone, "d").await;
        let token = first["session_token"].as_str().unwrap_or("").to_owned();
        for _ in 0..2 {
            assert_eq!(request_code(&s, phone, "d").await.status().as_u16(), 201);
        }
        let res = request_code(&s, phone, "d").await;
        let p = expect_problem(res, 429, "rate_limited").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("this number"), "{p}");
        assert_eq!(me(&s, &token).await.status().as_u16(), 200);

        clock.advance(jiff::SignedDuration::from_hours(2));
        expect_problem(me(&s, &token).await, 401, "session_invalid").await;
        assert_eq!(request_code(&s, phone, "d").await.status().as_u16(), 201, "{}: a new hour, a new quota", s.kind);
    }
}

/// The session records the client's address: the peer's, unless the peer
/// is a proxy the operator trusts (`server.trusted_proxies`), whose
/// `X-Forwarded-For` is then read from the right.
#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    use idlink_core::ports::auth::AuthStore;
    async fn session_ip(s: &Server, phone: &str, forwarded: &str) -> Option<String> {
        let c = challenge(s, phone, "dev-proxy").await;
        let code = s.last_code(phone).await;
        let res = s
            .authed(Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", forwarded)
            .json(&login_body(phone, "dev-proxy", &c, &code))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let v: Value = res.json().await.unwrap_or_default();
        let token = v["session_token"].as_str().unwrap_or_default();
        let id = idlink_domain::SessionId::parse(token.split('.').next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {v}"));
        let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
        store.session(&id).await.unwrap_or_else(|e| panic!("{e}")).and_then(|r| r.client_ip)
    }
    let db = crate::databases().await.into_iter().next().unwrap_or_else(|| panic!("a database"));
    let plain = crate::start_on_db(db).await;
    assert_eq!(session_ip(&plain, "13700005501", "203.0.113.7").await.as_deref(), Some("127.0.0.1"), "no proxy trusted: the peer");
    let db = crate::databases().await.into_iter().next().unwrap_or_else(|| panic!("a database"));
    let proxied = crate::start_with(db, &[("IDLINK__SERVER__TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    assert_eq!(
        session_ip(&proxied, "13700005502", "198.51.100.1, 203.0.113.7").await.as_deref(),
        Some("203.0.113.7"),
        "behind a trusted proxy: the rightmost address it did not add"
    );
}
