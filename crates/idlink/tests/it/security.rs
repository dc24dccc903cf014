//! Payment password, step-up tokens and the primary device, over HTTP (SPEC ID6, ID7).

use crate::login::{challenge, login, login_body, me};
use crate::{Server, databases, expect_problem, start_on_db};
use idlink_crypto::signing::Ed25519Signer as Ed25519;
use reqwest::Method;
use serde_json::{Value, json};

const PHONE: &str = "13512345678";

fn with_session(s: &Server, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.authed(method, path).header("idlink-session", token)
}

/// Logs in on `device` registering `key`'s public half; returns (session token, device id).
async fn login_with_key(s: &Server, device: &str, key: &Ed25519) -> (String, String) {
    let c = challenge(s, PHONE, device).await;
    let code = s.last_code(PHONE).await;
    let mut body = login_body(PHONE, device, &c, &code);
    body["public_key"] = json!(key.public_hex());
    let res = s.authed(Method::POST, "/v1/auth/login").json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
    let v: Value = res.json().await.unwrap_or_default();
    let token = v["session_token"].as_str().unwrap_or("").to_owned();
    if v["status"] == "device_check_required" {
        let check = v["device_check"]["challenge_id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(PHONE).await;
        let mut body = login_body(PHONE, device, &check, &code);
        body["public_key"] = json!(key.public_hex());
        let res = with_session(s, Method::POST, "/v1/auth/device-check", &token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200);
    }
    (token, v["device"]["id"].as_str().unwrap_or("").to_owned())
}

async fn sms_for_password(s: &Server, token: &str) -> (String, String) {
    let res = with_session(s, Method::POST, "/v1/me/sms-challenges", token).json(&json!({"purpose": "payment_password"})).send().await;
    let res = res.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201, "code request refused");
    let v: Value = res.json().await.unwrap_or_default();
    (v["challenge_id"].as_str().unwrap_or("").to_owned(), s.last_code(PHONE).await)
}

async fn set_password(s: &Server, token: &str, password: &str, video: Option<&str>) -> reqwest::Response {
    let (c, code) = sms_for_password(s, token).await;
    let mut body = json!({"password": password, "challenge_id": c, "code": code});
    if let Some(v) = video {
        body["liveness_video"] = json!(v);
    }
    with_session(s, Method::PUT, "/v1/me/payment-password", token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn verify(s: &Server, token: &str, password: &str, resource: &str) -> reqwest::Response {
    with_session(s, Method::POST, "/v1/me/payment-password/verify", token)
        .json(&json!({"password": password, "operation": "device.make_primary", "resource": resource}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn status(s: &Server, token: &str) -> Value {
    with_session(s, Method::GET, "/v1/me/payment-password", token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn the_payment_password_locks_after_three_failures_and_resets_with_sms_and_face() {
    for db in databases().await {
        let s = start_on_db(db).await;
        payment_password_flow(&s).await;
    }
}

async fn payment_password_flow(s: &Server) {
    let (token, device) = login_with_key(s, "dev-a", &Ed25519::from_seed(&[1; 32])).await;

    expect_problem(set_password(s, &token, "123456", None).await, 422, "weak_payment_password").await;
    assert_eq!(set_password(s, &token, "135790", None).await.status().as_u16(), 204);
    assert_eq!(status(s, &token).await, json!({"set": true, "locked": false}));

    // Two failures, then the right password: the count starts again.
    for _ in 0..2 {
        expect_problem(verify(s, &token, "000000", &device).await, 403, "payment_password_refused").await;
    }
    assert_eq!(verify(s, &token, "135790", &device).await.status().as_u16(), 201);

    // Three consecutive failures lock it; the right password is refused with the very same answer.
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(expect_problem(verify(s, &token, "000000", &device).await, 403, "payment_password_refused").await);
    }
    assert_eq!(status(s, &token).await, json!({"set": true, "locked": true}));
    answers.push(expect_problem(verify(s, &token, "135790", &device).await, 403, "payment_password_refused").await);
    // A user without any payment password gets it too.
    let other = sqlite_user_without_password(s).await;
    answers.push(expect_problem(verify(s, &other, "135790", "x").await, 403, "payment_password_refused").await);
    let details: std::collections::BTreeSet<&str> = answers.iter().filter_map(|a| a["detail"].as_str()).collect();
    assert_eq!(details.len(), 1, "wrong, locked and unknown look the same: {answers:?}");

    // Reset needs SMS + face; the face check explains failures.
    expect_problem(set_password(s, &token, "246801", None).await, 422, "face_check_required").await;
    // No face goes out for comparison without the user's face consent (issue 18), and the code is not spent.
    let (c, code) = sms_for_password(s, &token).await;
    let reset = json!({"password": "975310", "challenge_id": c, "code": code, "liveness_video": "sandbox:pass"});
    let put = async || {
        with_session(s, Method::PUT, "/v1/me/payment-password", &token).json(&reset).send().await.unwrap_or_else(|e| panic!("{e}"))
    };
    let p = expect_problem(put().await, 403, "consent_required").await;
    assert_eq!(p["errors"][0]["detail"], "face", "{p}");
    crate::consents::give_all(s, &token).await;
    assert_eq!(put().await.status().as_u16(), 204, "the same code, once consented");
    assert_eq!(verify(s, &token, "975310", &device).await.status().as_u16(), 201);
    for _ in 0..3 {
        expect_problem(verify(s, &token, "000000", &device).await, 403, "payment_password_refused").await;
    }
    let p = expect_problem(set_password(s, &token, "246801", Some("sandbox:poor_lighting")).await, 422, "face_check_failed").await;
    assert_eq!(p["errors"][0]["code"], "poor_lighting");
    assert!(p["errors"][0]["detail"].as_str().unwrap_or("").contains("daylight"), "{p}");
    let p = expect_problem(set_password(s, &token, "246801", Some("sandbox:spoof")).await, 422, "face_check_failed").await;
    assert_eq!(p["errors"][0]["code"], "liveness_failed");
    assert_eq!(set_password(s, &token, "246801", Some("sandbox:pass")).await.status().as_u16(), 204);
    assert_eq!(status(s, &token).await, json!({"set": true, "locked": false}));
    assert_eq!(verify(s, &token, "246801", &device).await.status().as_u16(), 201);
}

/// A hashing failure is the server's: a 500 `internal_error` that tells the
/// client nothing internal (it was a 409 `phone_taken` quoting Argon2).
#[tokio::test]
async fn an_argon2_failure_is_an_internal_error_that_tells_nothing_internal() {
    for db in databases().await {
        let mut s = start_on_db(db).await;
        // No lane: a cost Argon2 refuses (set past the loader, which may come to refuse it first).
        s.restart(|c| c.payment_password.parallelism = 0).await;
        let (token, _) = login_with_key(&s, "dev-a", &Ed25519::from_seed(&[4; 32])).await;
        let p = expect_problem(set_password(&s, &token, "135790", None).await, 500, "internal_error").await;
        assert_eq!(p["detail"], idlink_api::ProblemCode::InternalError.message(), "{}: {p}", s.kind);
        assert!(p.get("errors").is_none(), "{p}");
        assert_eq!(status(&s, &token).await, json!({"set": false, "locked": false}), "{}", s.kind);
    }
}

async fn sqlite_user_without_password(s: &Server) -> String {
    let phone = "13599990001";
    let c = challenge(s, phone, "dev-z").await;
    let code = s.last_code(phone).await;
    let v: Value = login(s, phone, "dev-z", &c, &code).await.json().await.unwrap_or_default();
    v["session_token"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn changing_the_primary_device_needs_a_single_use_step_up_token() {
    for db in databases().await {
        let s = start_on_db(db).await;
        primary_device_flow(&s).await;
    }
}

async fn primary_device_flow(s: &Server) {
    let key_a = Ed25519::from_seed(&[7; 32]);
    let key_b = Ed25519::from_seed(&[8; 32]);
    let (token_a, dev_a) = login_with_key(s, "dev-a", &key_a).await;
    let (token_b, dev_b) = login_with_key(s, "dev-b", &key_b).await;
    assert_eq!(set_password(s, &token_b, "135790", None).await.status().as_u16(), 204);

    let primary = |path: String, token: String, step_up: Option<String>| {
        let mut r = with_session(s, Method::POST, &path, &token);
        if let Some(t) = step_up {
            r = r.header("idlink-step-up", t);
        }
        r.send()
    };
    let path_b = format!("/v1/me/devices/{dev_b}/primary");
    expect_problem(primary(path_b.clone(), token_b.clone(), None).await.unwrap_or_else(|e| panic!("{e}")), 403, "step_up_required").await;

    // A token for another resource does not work.
    let wrong: Value = verify(s, &token_b, "135790", &dev_a).await.json().await.unwrap_or_default();
    let wrong = wrong["step_up_token"].as_str().map(str::to_owned);
    expect_problem(primary(path_b.clone(), token_b.clone(), wrong).await.unwrap_or_else(|e| panic!("{e}")), 403, "step_up_required").await;

    let minted: Value = verify(s, &token_b, "135790", &dev_b).await.json().await.unwrap_or_default();
    assert_eq!(minted["method"], "payment_password");
    let t = minted["step_up_token"].as_str().map(str::to_owned);
    assert_eq!(primary(path_b.clone(), token_b.clone(), t.clone()).await.map(|r| r.status().as_u16()).unwrap_or(0), 204);
    expect_problem(primary(path_b, token_b.clone(), t).await.unwrap_or_else(|e| panic!("{e}")), 403, "step_up_required").await;
    let mine: Value = me(s, &token_b).await.json().await.unwrap_or_default();
    let primary_ids: Vec<&str> = mine["devices"]
        .as_array()
        .map(|d| d.iter().filter(|d| d["primary"] == true).filter_map(|d| d["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(primary_ids, [dev_b.as_str()]);

    // Back to device A with a biometric assertion signed by A's registered key.
    let res = with_session(s, Method::POST, "/v1/me/step-up/challenges", &token_a)
        .json(&json!({"operation": "device.make_primary", "resource": dev_a}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
    let c: Value = res.json().await.unwrap_or_default();
    let message = c["message"].as_str().unwrap_or("").to_owned();
    let challenge_id = c["challenge_id"].as_str().unwrap_or("").to_owned();
    // Signed by another device's key: refused, and the challenge is used up.
    let forged = key_b.sign(message.as_bytes());
    let res = with_session(s, Method::POST, "/v1/me/step-up/biometric", &token_a)
        .json(&json!({"challenge_id": challenge_id, "signature": forged}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 403, "biometric_refused").await;

    let res = with_session(s, Method::POST, "/v1/me/step-up/challenges", &token_a)
        .json(&json!({"operation": "device.make_primary", "resource": dev_a}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c: Value = res.json().await.unwrap_or_default();
    let signature = key_a.sign(c["message"].as_str().unwrap_or("").as_bytes());
    let res = with_session(s, Method::POST, "/v1/me/step-up/biometric", &token_a)
        .json(&json!({"challenge_id": c["challenge_id"], "signature": signature}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
    let minted: Value = res.json().await.unwrap_or_default();
    assert_eq!(minted["method"], "biometric");
    let t = minted["step_up_token"].as_str().map(str::to_owned);
    assert_eq!(primary(format!("/v1/me/devices/{dev_a}/primary"), token_a.clone(), t).await.map(|r| r.status().as_u16()).unwrap_or(0), 204);
}

#[tokio::test]
async fn a_locked_payment_password_resets_with_a_bank_card_instead_of_a_face() {
    for db in crate::databases().await {
        let s = start_on_db(db).await;
        let (token, device) = login_with_key(&s, "dev-a", &Ed25519::from_seed(&[3; 32])).await;
        assert_eq!(set_password(&s, &token, "135790", None).await.status().as_u16(), 204);
        for _ in 0..3 {
            expect_problem(verify(&s, &token, "000000", &device).await, 403, "payment_password_refused").await;
        }
        let reset_with_card = async |card: &str| {
            let (c, code) = sms_for_password(&s, &token).await;
            let body = json!({"password": "246801", "challenge_id": c, "code": code, "card_number": card});
            with_session(&s, Method::PUT, "/v1/me/payment-password", &token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
        };
        // The card and the ID number go to the bank only with the user's consents (issue 18).
        let p = expect_problem(reset_with_card(&crate::identity::icbc_card("4321")).await, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["detail"], "bank_card", "{p}");
        crate::consents::give_all(&s, &token).await;
        // The card check needs a verified identity to compare with.
        expect_problem(reset_with_card(&crate::identity::icbc_card("4321")).await, 404, "identity_not_verified").await;
        crate::reviews::verify_resident(&s, &token, PHONE, "孙七", "11010519491231002X").await;
        let p = expect_problem(reset_with_card(&crate::identity::icbc_card("0000")).await, 422, "bank_card_check_failed").await;
        assert_eq!(p["errors"][0]["code"], "card_holder_mismatch", "{p}");
        assert_eq!(reset_with_card(&crate::identity::icbc_card("4321")).await.status().as_u16(), 204, "{}", s.kind);
        assert_eq!(status(&s, &token).await, json!({"set": true, "locked": false}));
        assert_eq!(verify(&s, &token, "246801", &device).await.status().as_u16(), 201);
    }
}
