//! The credit report over HTTP against the sandbox bureau, on both
//! databases (issue 15): the quote, a request after a step-up, the face
//! check, the report fetched and rendered, the signed link (this session
//! only, expiring, tamper-evident) and the PDF read back with poppler; the
//! bureau's review, rejection and outage paths; the report sealed at rest.

use crate::cards::{call, ensure_payment_password, get_json, session};
use crate::reviews::{as_op, operator, verify_resident};
use crate::{Server, databases, expect_problem, servers, start_with};
use idlink::serve::Runtime;
use idlink_core::ports::credit::CreditStore;
use idlink_core::ports::operators::Role;
use idlink_domain::idnumber::check_character;
use reqwest::Method;
use serde_json::{Value, json};

/// An adult's ID number, one per phone (the day of birth from its last digits), whose
/// sequence code (digits 15–17) picks the sandbox bureau's behaviour.
fn id_number(phone: &str, seq: &str) -> String {
    let day = phone.get(phone.len().saturating_sub(2)..).and_then(|d| d.parse::<u8>().ok()).unwrap_or(0) % 28 + 1;
    let body = format!("110105198001{day:02}{seq}");
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(body.as_bytes());
    format!("{body}{}", check_character(&first17))
}

/// A verified adult with a payment password; returns (session, user id).
async fn adult(s: &Server, phone: &str, seq: &str) -> (String, String) {
    let token = session(s, phone).await;
    verify_resident(s, &token, phone, "张三丰", &id_number(phone, seq)).await;
    ensure_payment_password(s, &token, phone).await;
    let me = get_json(s, "/v1/me", &token).await;
    (token, me["user_id"].as_str().unwrap_or("").to_owned())
}

async fn step_up(s: &Server, token: &str, user: &str) -> String {
    let res = call(s, Method::POST, "/v1/me/payment-password/verify", token)
        .json(&json!({"password": "135790", "operation": "credit_report.request", "resource": user}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = res.json().await.unwrap_or_default();
    v["step_up_token"].as_str().unwrap_or_else(|| panic!("no step-up token: {v}")).to_owned()
}

async fn request(s: &Server, token: &str, step_up: Option<&str>, fee: i64) -> reqwest::Response {
    let mut r = call(s, Method::POST, "/v1/credit-reports", token).json(&json!({"accepted_fee_fen": fee}));
    if let Some(t) = step_up {
        r = r.header("idlink-step-up", t);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Quotes, steps up and requests; returns the request.
async fn requested(s: &Server, token: &str, user: &str) -> Value {
    let quote = get_json(s, "/v1/credit-reports/quote", token).await;
    let t = step_up(s, token, user).await;
    let res = request(s, token, Some(&t), quote["fee_fen"].as_i64().unwrap_or(-1)).await;
    assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
    res.json().await.unwrap_or_default()
}

async fn face(s: &Server, token: &str, id: &str, video: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/credit-reports/{id}/face"), token)
        .json(&json!({"liveness_video": video}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn link(s: &Server, token: &str, id: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/credit-reports/{id}/link"), token).send().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn fetch(s: &Server, token: &str, path: &str) -> reqwest::Response {
    call(s, Method::GET, path, token).send().await.unwrap_or_else(|e| panic!("{e}"))
}

fn pdftotext(pdf: &[u8], name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("idlink-credit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap_or_else(|e| panic!("{e}"));
    let check = std::process::Command::new("qpdf").arg("--check").arg(&path).output().unwrap_or_else(|e| panic!("qpdf: {e}"));
    assert!(check.status.success(), "qpdf --check: {}", String::from_utf8_lossy(&check.stdout));
    let out = std::process::Command::new("pdftotext").arg("-raw").arg(&path).arg("-").output().unwrap_or_else(|e| panic!("pdftotext: {e}"));
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect()
}

#[tokio::test]
async fn a_report_by_face_check_is_ready_at_once_and_opens_only_in_its_session() {
    for db in databases().await {
        // The sandbox clock drives idlink's, to let the link expire.
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true")]).await;
        let (token, user) = adult(&s, "13700000101", "123").await;
        let quote = get_json(&s, "/v1/credit-reports/quote", &token).await;
        assert_eq!((quote["free_left"].as_u64(), quote["fee_fen"].as_i64()), (Some(2), Some(0)), "{quote}");

        // Without a step-up, or with one for another resource, nothing opens.
        expect_problem(request(&s, &token, None, 0).await, 403, "step_up_required").await;
        let r = requested(&s, &token, &user).await;
        assert_eq!((r["state"].as_str(), r["free"].as_bool()), (Some("requested"), Some(true)), "{r}");
        let id = r["id"].as_str().unwrap_or("").to_owned();
        // A second request while this one is under way.
        let t = step_up(&s, &token, &user).await;
        expect_problem(request(&s, &token, Some(&t), 0).await, 409, "credit_request_under_way").await;
        // No link before it is ready.
        expect_problem(link(&s, &token, &id).await, 409, "credit_report_not_ready").await;

        // A failed face check leaves it waiting for verification, with the reason.
        let p = expect_problem(face(&s, &token, &id, "sandbox:spoof").await, 422, "face_check_failed").await;
        assert_eq!(p["errors"][0]["code"], "liveness_failed");
        assert_eq!(get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await["state"], "verifying");
        let res = face(&s, &token, &id, "sandbox:pass").await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let ready: Value = res.json().await.unwrap_or_default();
        assert_eq!((ready["state"].as_str(), ready["method"].as_str()), (Some("ready"), Some("face")), "{ready}");
        assert!(ready["pages"].as_u64().unwrap_or(0) >= 3);
        expect_problem(face(&s, &token, &id, "sandbox:pass").await, 409, "credit_request_not_verifying").await;

        let l: Value = link(&s, &token, &id).await.json().await.unwrap_or_default();
        let path = l["path"].as_str().unwrap_or("").to_owned();
        let res = fetch(&s, &token, &path).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        assert_eq!(res.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
        let pdf = res.bytes().await.unwrap_or_default();
        let text = pdftotext(&pdf, &format!("{}.pdf", s.kind));
        for wanted in ["个人信用报告", "个人基本信息", "信贷交易信息明细", "公共信息明细", "查询记录", "张**·本人查询", "110***********"]
        {
            assert!(text.contains(wanted), "{}: {wanted} is not in the PDF", s.kind);
        }

        // The same user in another session, a tampered link: refused.
        let other = session(&s, "13700000101").await;
        expect_problem(fetch(&s, &other, &path).await, 403, "download_link_invalid").await;
        let tampered = path.replace("expires=", "expires=1");
        expect_problem(fetch(&s, &token, &tampered).await, 403, "download_link_invalid").await;
        // Without the user's session (a third-party app has only its access token), no PDF.
        let res = s.authed(Method::GET, &path).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 401, "session_required").await;
        let listed = get_json(&s, "/v1/credit-reports", &token).await;
        assert_eq!(listed["requests"][0]["downloads"], 1, "{listed}");

        // At rest the report and the PDF are ciphertext: neither holds the name, the ID number or the report's JSON.
        let rid = idlink_domain::CreditRequestId::parse(&id).unwrap_or_else(|e| panic!("{e}"));
        let row = s.db.store.credit_request(&rid).await.ok().flatten().unwrap_or_else(|| panic!("{}: the stored request", s.kind));
        let (report, pdf) = (row.report_cipher.unwrap_or_default(), row.pdf_cipher.unwrap_or_default());
        assert!(report.len() > 1000 && pdf.len() > 1000, "{}: both are stored", s.kind);
        let number = id_number("13700000101", "123");
        let clear: [&[u8]; 4] = ["张三丰".as_bytes(), number.as_bytes(), b"\"id_number\"", b"%PDF"];
        assert!(holds(br#"{"name":"x","id_number":"x"}"#, b"\"id_number\""), "the search finds what is there");
        for c in clear {
            assert!(!holds(&report, c) && !holds(&pdf, c), "{}: {} in clear at rest", s.kind, String::from_utf8_lossy(c));
        }

        // A day later the link has expired.
        let clock = json!({"seconds": 24 * 3600 + 1});
        reqwest::Client::new().post(format!("{}/sandbox/v1/clock/advance", s.sandbox)).json(&clock).send().await.ok();
        expect_problem(fetch(&s, &token, &path).await, 410, "download_link_expired").await;
    }
}

#[tokio::test]
async fn the_bureau_holds_for_review_an_operator_decides_and_an_outage_keeps_it_fetching() {
    for s in servers().await {
        // 700: the bureau holds it for review; the request waits in review with its expected time.
        let (token, user) = adult(&s, "13700000102", "700").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let v: Value = face(&s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("in_review"), Some("manual_review")), "{v}");
        assert!(v["expected_at"].is_string());
        // The operator's queue holds it; approval releases the report.
        let op = operator(&s, &Runtime::default(), "credit-reviewer", &[Role::Reviewer]).await;
        let queue = op_call(&s, &op.token, Method::GET, "/v1/operator/credit-reviews", None).await;
        assert!(queue["requests"].as_array().is_some_and(|q| q.iter().any(|r| r["id"] == id.as_str())), "{queue}");
        let path = format!("/v1/operator/credit-reviews/{id}/decision");
        let decided = op_call(&s, &op.token, Method::POST, &path, Some(json!({"decision": "approve"}))).await;
        assert_eq!((decided["state"].as_str(), decided["reason"].as_str()), (Some("ready"), None), "{decided}");
        let again = as_op(&s, &op, Method::POST, &path).json(&json!({"decision": "reject"})).send().await;
        expect_problem(again.unwrap_or_else(|e| panic!("{e}")), 409, "credit_request_not_in_review").await;
        // Rejected on review: the request ends rejected and its free report is given back.
        let (token, user) = adult(&s, "13700000103", "700").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        face(&s, &token, &id, "sandbox:pass").await;
        let path = format!("/v1/operator/credit-reviews/{id}/decision");
        let decided = op_call(&s, &op.token, Method::POST, &path, Some(json!({"decision": "reject"}))).await;
        assert_eq!((decided["state"].as_str(), decided["reason"].as_str()), (Some("rejected"), Some("rejected_on_review")), "{decided}");
        assert_eq!(get_json(&s, "/v1/credit-reports/quote", &token).await["free_left"], 2);

        // 701: the bureau is down: the request keeps fetching and says when it is asked again.
        let (token, user) = adult(&s, "13700000104", "701").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let res = face(&s, &token, &id, "sandbox:pass").await;
        assert_eq!(res.status().as_u16(), 200, "{}: the face check passed; the outage is the request's state", s.kind);
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("fetching"), Some("bureau_unavailable")), "{v}");
        assert!(v["expected_at"].is_string(), "when it is asked again: {v}");
        // Three failed face checks end a request; its free report comes back and the user may ask again.
        let (token, user) = adult(&s, "13700000108", "126").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        for _ in 0..3 {
            expect_problem(face(&s, &token, &id, "sandbox:mismatch").await, 422, "face_check_failed").await;
        }
        let v = get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await;
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("failed"), Some("verification_failed")), "{v}");
        expect_problem(face(&s, &token, &id, "sandbox:pass").await, 409, "credit_request_not_verifying").await;
        assert_eq!(get_json(&s, "/v1/credit-reports/quote", &token).await["free_left"], 2);
        // Someone else's request is not found.
        let (stranger, _) = adult(&s, "13700000105", "124").await;
        expect_problem(fetch(&s, &stranger, &format!("/v1/credit-reports/{id}")).await, 404, "credit_request_not_found").await;
    }
}

async fn advance(s: &Server, seconds: i64) {
    let res =
        reqwest::Client::new().post(format!("{}/sandbox/v1/clock/advance", s.sandbox)).json(&json!({"seconds": seconds})).send().await;
    assert!(res.map(|r| r.status().is_success()).unwrap_or(false), "the sandbox clock moves");
}

/// Reads the request until `state` (the follow-up job runs every second here), at most 20 s.
async fn until(s: &Server, token: &str, id: &str, state: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..80 {
        v = get_json(s, &format!("/v1/credit-reports/{id}"), token).await;
        if v["state"] == state {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("{}: the request never became {state}: {v}", s.kind)
}

#[tokio::test]
async fn a_slow_bureau_is_followed_up_and_an_abandoned_request_expires() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true"), ("IDLINK__CREDIT_REPORT__FOLLOW_UP_SECS", "1")]).await;
        // 702: the bureau prepares the report for 90 s; the job asks again when that time has come.
        let (token, user) = adult(&s, "13700000106", "702").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let v: Value = face(&s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
        assert_eq!(v["state"], "fetching", "{v}");
        assert!(v["expected_at"].is_string(), "the user is told when: {v}");
        advance(&s, 91).await;
        let ready = until(&s, &token, &id, "ready").await;
        assert!(ready["pages"].as_u64().unwrap_or(0) >= 3, "{ready}");

        // A request left unverified fails after its expected time, gives its free report back and frees the user to ask again.
        let (token, user) = adult(&s, "13700000107", "125").await;
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        advance(&s, 6 * 60).await;
        let failed = until(&s, &token, &id, "failed").await;
        assert_eq!(failed["reason"], "verification_expired", "{failed}");
        assert_eq!(get_json(&s, "/v1/credit-reports/quote", &token).await["free_left"], 2);
        let again = requested(&s, &token, &user).await;
        assert_eq!(again["state"], "requested", "{again}");
    }
}

fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn op_call(s: &Server, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = s.client().request(method, s.url(path)).header("idlink-operator", token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "{}: {path}: {}", s.kind, res.status());
    res.json().await.unwrap_or_default()
}
