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
pub(crate) fn id_number(phone: &str, seq: &str) -> String {
    let day = phone.get(phone.len().saturating_sub(2)..).and_then(|d| d.parse::<u8>().ok()).unwrap_or(0) % 28 + 1;
    let body = format!("110105198001{day:02}{seq}");
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(body.as_bytes());
    format!("{body}{}", check_character(&first17))
}

/// A verified adult with a payment password; returns (session, user id).
pub(crate) async fn adult(s: &Server, phone: &str, seq: &str) -> (String, String) {
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
pub(crate) async fn requested(s: &Server, token: &str, user: &str) -> Value {
    let quote = get_json(s, "/v1/credit-reports/quote", token).await;
    let t = step_up(s, token, user).await;
    let res = request(s, token, Some(&t), quote["fee_fen"].as_i64().unwrap_or(-1)).await;
    assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
    res.json().await.unwrap_or_default()
}

pub(crate) async fn face(s: &Server, token: &str, id: &str, video: &str) -> reqwest::Response {
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

/// Reads until `ok` holds (the jobs run every second in these tests), at
/// most 20 s; answers the last reading, for the caller's assertion.
async fn eventually<T, F: std::future::Future<Output = T>>(read: impl Fn() -> F, ok: impl Fn(&T) -> bool) -> T {
    let mut v = read().await;
    for _ in 0..80 {
        if ok(&v) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        v = read().await;
    }
    v
}

/// Reads the request until `state`.
async fn until(s: &Server, token: &str, id: &str, state: &str) -> Value {
    let path = format!("/v1/credit-reports/{id}");
    let v = eventually(|| get_json(s, &path, token), |v| v["state"] == state).await;
    assert_eq!(v["state"], state, "{}: the request never became {state}: {v}", s.kind);
    v
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

async fn card_check(s: &Server, token: &str, id: &str, binding: &str, phone: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/credit-reports/{id}/card"), token)
        .json(&json!({"binding_id": binding, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn card_code(s: &Server, token: &str, id: &str, code: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/credit-reports/{id}/card/confirm"), token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The sandbox cashier's payments for a payer.
async fn payments_of(s: &Server, user: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/sandbox/v1/payments?payer_ref={user}", s.sandbox))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    v["payments"].as_array().cloned().unwrap_or_default()
}

/// The payer pays in the host app; the sandbox cashier tells idlink unless `callback` is false.
pub(crate) async fn pay(s: &Server, payment_id: &str, outcome: &str, callback: bool) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/payments/{payment_id}/pay", s.sandbox))
        .json(&json!({"outcome": outcome, "callback": callback}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "{}: the sandbox cashier takes the payment", s.kind);
    res.json().await.unwrap_or_default()
}

/// Requests at the quoted fee after a step-up, without checking the answer.
async fn request_quoted(s: &Server, token: &str, user: &str) -> reqwest::Response {
    let fee = get_json(s, "/v1/credit-reports/quote", token).await["fee_fen"].as_i64().unwrap_or(-1);
    let t = step_up(s, token, user).await;
    request(s, token, Some(&t), fee).await
}

#[tokio::test]
async fn a_bound_card_verifies_two_free_reports_go_and_the_third_is_charged_once() {
    for s in servers().await {
        let phone = "13700000121";
        let (token, user) = adult(&s, phone, "127").await;
        // The user's own card, bound with its bank's code.
        let card = crate::identity::icbc_card("5121");
        let pending: Value = crate::cards::bind(&s, &token, &card, phone).await.json().await.unwrap_or_default();
        let binding = pending["id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(phone).await;
        assert_eq!(crate::cards::confirm(&s, &token, &binding, &code).await.status().as_u16(), 200, "{}", s.kind);

        // First report by bank card: the bank sends a code to the reserved phone; a wrong one is counted.
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        expect_problem(card_code(&s, &token, &id, "123456").await, 409, "credit_card_code_not_sent").await;
        let p = expect_problem(card_check(&s, &token, &id, "bnd_notmine", phone).await, 422, "credit_card_not_bound").await;
        assert_eq!(p["errors"][0]["pointer"], "/binding_id", "{p}");
        let res = card_check(&s, &token, &id, &binding, phone).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!((v["state"].as_str(), v["method"].as_str()), (Some("verifying"), Some("bank_card")), "{v}");
        let code = s.last_code(phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        expect_problem(card_code(&s, &token, &id, wrong).await, 422, "bank_code_wrong").await;
        let res = card_code(&s, &token, &id, &code).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let ready: Value = res.json().await.unwrap_or_default();
        assert_eq!((ready["state"].as_str(), ready["method"].as_str()), (Some("ready"), Some("bank_card")), "{ready}");
        // The user is told by SMS that it is ready, through the outbox.
        let inbox = s.sms_delivered(phone, "credit_report_ready").await;
        assert_eq!(inbox["messages"][0]["params"]["request"], id.as_str(), "{inbox}");

        // The second report, by face, is the last free one.
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        assert_eq!(face(&s, &token, &id, "sandbox:pass").await.status().as_u16(), 200);
        let quote = get_json(&s, "/v1/credit-reports/quote", &token).await;
        assert_eq!((quote["free_left"].as_u64(), quote["fee_fen"].as_i64()), (Some(0), Some(2500)), "{quote}");
        // The free price is no longer accepted.
        let t = step_up(&s, &token, &user).await;
        expect_problem(request(&s, &token, Some(&t), 0).await, 409, "credit_quote_changed").await;

        // Two third requests at once: one opens and is charged, the other is refused; one payment in all.
        let (a, b) = tokio::join!(request_quoted(&s, &token, &user), request_quoted(&s, &token, &user));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{}", s.kind);
        let opened: Value = if a.status().as_u16() == 201 { a.json().await } else { b.json().await }.unwrap_or_default();
        assert_eq!(
            (opened["state"].as_str(), opened["reason"].as_str(), opened["free"].as_bool(), opened["fee_fen"].as_i64()),
            (Some("requested"), Some("awaiting_payment"), Some(false), Some(2500)),
            "{opened}"
        );
        assert!(opened["checkout_url"].is_string(), "the host app learns where to pay: {opened}");
        let id = opened["id"].as_str().unwrap_or("").to_owned();
        let payments = payments_of(&s, &user).await;
        assert_eq!(payments.len(), 1, "{}: charged once: {payments:?}", s.kind);
        assert_eq!((payments[0]["merchant_ref"].as_str(), payments[0]["amount_fen"].as_i64()), (Some(id.as_str()), Some(2500)));
        assert_eq!(opened["payment_id"], payments[0]["payment_id"]);

        // Nothing is verified before the payment; the cashier's signed callback opens it.
        expect_problem(face(&s, &token, &id, "sandbox:pass").await, 409, "credit_payment_pending").await;
        let paid = pay(&s, opened["payment_id"].as_str().unwrap_or(""), "succeeded", true).await;
        assert_eq!(paid["callback"]["delivered"], true, "{paid}");
        let v = get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await;
        assert!(v["paid_at"].is_string() && v["reason"].is_null(), "{v}");
        let ready: Value = face(&s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
        assert_eq!(ready["state"], "ready", "{ready}");
        assert_eq!(payments_of(&s, &user).await[0]["status"], "succeeded", "a report delivered is not refunded");
    }
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A payment callback as the cashier signs it (Standard Webhooks v1) at `ts`.
async fn callback(s: &Server, id: &str, ts: i64, signed: &[u8], sent: &[u8]) -> reqwest::Response {
    let key = idlink_crypto::webhooks::secret_bytes(SECRET.as_bytes());
    let sig = idlink_crypto::webhooks::sign_v1(&key, id, ts, signed).unwrap_or_default();
    s.client()
        .post(s.url("/v1/callbacks/payments"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", format!("v1,{sig}"))
        .body(sent.to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Only the cashier's fresh signature over the very body is taken: a forged,
/// stale or altered callback changes nothing; a signed one for no request
/// is acknowledged (a refusal would be retried forever) and does nothing.
#[tokio::test]
async fn a_payment_callback_needs_the_cashiers_fresh_signature_over_its_body() {
    for db in databases().await {
        let s =
            start_with(db, &[("IDLINK__CONNECTORS__PAYMENT__WEBHOOK_SECRET", SECRET), ("IDLINK__CREDIT_REPORT__FREE_PER_YEAR", "0")]).await;
        let (token, user) = adult(&s, "13700000128", "133").await;
        let r: Value = request_quoted(&s, &token, &user).await.json().await.unwrap_or_default();
        let (id, payment) = (r["id"].as_str().unwrap_or("").to_owned(), r["payment_id"].as_str().unwrap_or("").to_owned());
        let body = |amount: i64| {
            serde_json::to_vec(&json!({"type": "payment.succeeded", "timestamp": "2026-12-01T00:00:00Z",
                "data": {"payment_id": payment, "merchant_ref": id, "amount_fen": amount}}))
            .unwrap_or_default()
        };
        let now = jiff::Timestamp::now().as_second();
        let paid = || async { get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await["paid_at"].is_string() };
        let forged = s
            .client()
            .post(s.url("/v1/callbacks/payments"))
            .header("webhook-id", "msg_forged")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .json(&json!({}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        expect_problem(forged, 401, "payment_signature_invalid").await;
        expect_problem(callback(&s, "msg_stale", now - 600, &body(2500), &body(2500)).await, 401, "payment_signature_invalid").await;
        expect_problem(callback(&s, "msg_altered", now, &body(1), &body(2500)).await, 401, "payment_signature_invalid").await;
        assert!(!paid().await, "{}: nothing recorded", s.kind);
        // Signed, but at another amount: no request has that payment; acknowledged, nothing done.
        let res = callback(&s, "msg_amount", now, &body(1), &body(1)).await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.json::<Value>().await.unwrap_or_default()["request_id"], Value::Null);
        assert!(!paid().await);
        // The right one, twice: recorded once.
        for _ in 0..2 {
            let res = callback(&s, "msg_ok", now, &body(2500), &body(2500)).await;
            assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        }
        assert!(paid().await, "{}: the payment is recorded", s.kind);
        let audits = crate::events::scalar(
            &s,
            &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'credit_report.paid' AND subject = '{user}'"),
        )
        .await;
        assert_eq!(audits, "1", "{}: recorded once", s.kind);
    }
}

#[tokio::test]
async fn paid_requests_are_refunded_when_no_report_comes_and_a_lost_callback_is_found() {
    for db in databases().await {
        let s = start_with(
            db,
            &[
                ("IDLINK__CREDIT_REPORT__FREE_PER_YEAR", "0"),
                ("IDLINK__SANDBOX__DRIVE_CLOCK", "true"),
                ("IDLINK__CREDIT_REPORT__FOLLOW_UP_SECS", "1"),
            ],
        )
        .await;
        let paid = async |token: &str, user: &str| {
            let r: Value = request_quoted(&s, token, user).await.json().await.unwrap_or_default();
            assert_eq!(r["fee_fen"], 2500, "{r}");
            pay(&s, r["payment_id"].as_str().unwrap_or(""), "succeeded", true).await;
            r["id"].as_str().unwrap_or("").to_owned()
        };
        let refunded = async |token: &str, id: &str| {
            let path = format!("/v1/credit-reports/{id}");
            let v = eventually(|| get_json(&s, &path, token), |v| v["refunded_at"].is_string()).await;
            assert!(v["refunded_at"].is_string(), "{}: {id} was never refunded: {v}", s.kind);
            v
        };

        // Rejected on review: the fee goes back at once.
        let (token, user) = adult(&s, "13700000122", "700").await;
        let id = paid(&token, &user).await;
        assert_eq!(face(&s, &token, &id, "sandbox:pass").await.status().as_u16(), 200);
        let op = operator(&s, &Runtime::default(), "credit-refunds", &[Role::Reviewer]).await;
        let path = format!("/v1/operator/credit-reviews/{id}/decision");
        let decided = op_call(&s, &op.token, Method::POST, &path, Some(json!({"decision": "reject"}))).await;
        assert_eq!(decided["state"], "rejected", "{decided}");
        let v = refunded(&token, &id).await;
        assert_eq!(v["state"], "rejected", "{v}");
        let p = payments_of(&s, &user).await;
        assert_eq!((p[0]["status"].as_str(), p[0]["refunds"].as_array().map(Vec::len)), (Some("refunded"), Some(1)), "{p:?}");

        // The bureau down past its deadline: the request fails and the fee goes back.
        let (token, user) = adult(&s, "13700000123", "701").await;
        let id = paid(&token, &user).await;
        let v: Value = face(&s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
        assert_eq!(v["reason"], "bureau_unavailable", "{v}");
        advance(&s, 24 * 3600 + 60).await;
        let v = refunded(&token, &id).await;
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("failed"), Some("bureau_timeout")), "{v}");
        assert_eq!(payments_of(&s, &user).await[0]["refunds"][0]["amount_fen"], 2500);

        // A payment whose callback was lost is found by asking the cashier when the request's time comes.
        let (token, user) = adult(&s, "13700000124", "129").await;
        let r: Value = request_quoted(&s, &token, &user).await.json().await.unwrap_or_default();
        let id = r["id"].as_str().unwrap_or("").to_owned();
        pay(&s, r["payment_id"].as_str().unwrap_or(""), "succeeded", false).await;
        assert!(get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await["paid_at"].is_null());
        advance(&s, 16 * 60).await;
        let path = format!("/v1/credit-reports/{id}");
        let v = eventually(|| get_json(&s, &path, &token), |v| v["paid_at"].is_string()).await;
        assert_eq!((v["state"].as_str(), v["paid_at"].is_string()), (Some("requested"), true), "{}: {v}", s.kind);
        let ready: Value = face(&s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
        assert_eq!(ready["state"], "ready", "{ready}");

        // A request left unpaid past its window: its payment is cancelled at the cashier (it can no longer be paid), then it ends.
        let (token, user) = adult(&s, "13700000127", "132").await;
        let r: Value = request_quoted(&s, &token, &user).await.json().await.unwrap_or_default();
        let id = r["id"].as_str().unwrap_or("").to_owned();
        advance(&s, 16 * 60).await;
        let v = until(&s, &token, &id, "failed").await;
        assert_eq!((v["reason"].as_str(), v["paid_at"].is_null()), (Some("payment_expired"), true), "{v}");
        assert_eq!(payments_of(&s, &user).await[0]["status"], "cancelled", "{}", s.kind);
        let late = reqwest::Client::new()
            .post(format!("{}/sandbox/v1/payments/{}/pay", s.sandbox, r["payment_id"].as_str().unwrap_or("")))
            .json(&json!({}))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(late, 409, "a cancelled payment cannot be paid");

        // A payment the payer abandons ends the request; nothing to refund.
        let (token, user) = adult(&s, "13700000125", "130").await;
        let r: Value = request_quoted(&s, &token, &user).await.json().await.unwrap_or_default();
        let id = r["id"].as_str().unwrap_or("").to_owned();
        pay(&s, r["payment_id"].as_str().unwrap_or(""), "failed", true).await;
        let v = get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await;
        assert_eq!((v["state"].as_str(), v["reason"].as_str(), v["refunded_at"].is_null()), (Some("failed"), Some("payment_failed"), true));

        // Three failed face checks on a paid request: it ends and the fee goes back.
        let (token, user) = adult(&s, "13700000129", "134").await;
        let id = paid(&token, &user).await;
        for _ in 0..3 {
            expect_problem(face(&s, &token, &id, "sandbox:mismatch").await, 422, "face_check_failed").await;
        }
        let v = refunded(&token, &id).await;
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("failed"), Some("verification_failed")), "{v}");

        // The cashier down: nothing is charged, the request ends and says to retry.
        let (token, user) = adult(&s, "13700000126", "131").await;
        let m = json!({"institution": "payment", "minutes": 10});
        let res = reqwest::Client::new().post(format!("{}/sandbox/v1/maintenance", s.sandbox)).json(&m).send().await;
        assert!(res.map(|r| r.status().is_success()).unwrap_or(false));
        let res = request_quoted(&s, &token, &user).await;
        expect_problem(res, 503, "credit_payment_unavailable").await;
        assert!(payments_of(&s, &user).await.is_empty());
        let listed = get_json(&s, "/v1/credit-reports", &token).await;
        assert_eq!(
            (listed["requests"][0]["state"].as_str(), listed["requests"][0]["reason"].as_str()),
            (Some("failed"), Some("payment_unavailable"))
        );
    }
}

async fn set_alerts(s: &Server, token: &str, body: Value) -> reqwest::Response {
    call(s, Method::PUT, "/v1/credit-reports/alerts", token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Reads the alerts until `ok` holds.
async fn alerts_until(s: &Server, token: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let v = eventually(|| get_json(s, "/v1/credit-reports/alerts", token), &ok).await;
    assert!(ok(&v), "{}: the alerts never got there: {v}", s.kind);
    v
}

async fn add_to_file(s: &Server, id_number: &str, record: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/bureau/records", s.sandbox))
        .json(&json!({"id_number": id_number, "record": record}))
        .send()
        .await;
    assert!(res.map(|r| r.status().is_success()).unwrap_or(false), "the sandbox bureau adds a {record}");
}

/// CR6: an opted-in user is told of a new query by an institution, a new
/// overdue and a new public record by SMS, and the app they chose gets a
/// `credit.record_changed` webhook for each; the first comparison only
/// records the file; nothing is announced twice; opting out stops it.
#[tokio::test]
async fn opted_in_users_are_told_when_their_credit_record_changes() {
    for db in databases().await {
        let s = start_with(
            db,
            &[
                ("IDLINK__SANDBOX__DRIVE_CLOCK", "true"),
                ("IDLINK__CREDIT_REPORT__ALERT_CHECK_SECS", "1"),
                ("IDLINK__OUTBOX__POLL_MS", "50"),
            ],
        )
        .await;
        let phone = "13700000151";
        let (token, user) = adult(&s, phone, "151").await;
        let off = get_json(&s, "/v1/credit-reports/alerts", &token).await;
        assert_eq!((off["enabled"].as_bool(), off["alerts"].as_u64()), (Some(false), Some(0)), "{off}");

        // Only apps the user authorised can be told.
        let p = expect_problem(
            set_alerts(&s, &token, json!({"enabled": true, "apps": ["cli_notmine"]})).await,
            422,
            "credit_alert_app_not_authorised",
        )
        .await;
        assert_eq!(p["errors"][0]["pointer"], "/apps", "{p}");
        let r = crate::events::Receiver::start().await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = s.running.as_ref().map(|x| x.clock.now()).unwrap_or_else(jiff::Timestamp::now);
        crate::events::app(&s, &r, "cli_alerts", &uid, now.as_microsecond() - 1_000_000).await;
        let res = set_alerts(&s, &token, json!({"enabled": true, "apps": ["cli_alerts"]})).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);

        // The first comparison records the file; nothing is news yet.
        let v = alerts_until(&s, &token, |v| v["checked_at"].is_string()).await;
        assert_eq!((v["enabled"].as_bool(), v["alerts"].as_u64()), (Some(true), Some(0)), "{v}");

        // An institution queries the record, an account goes overdue, a court enforces: the bureau shows them from tomorrow (T+1).
        let number = id_number(phone, "151");
        for record in ["query", "overdue", "public_record"] {
            add_to_file(&s, &number, record).await;
        }
        advance(&s, 24 * 3600 + 60).await;
        let v = alerts_until(&s, &token, |v| v["alerts"].as_u64() == Some(3)).await;
        assert!(v["next_check_at"].is_string(), "{v}");
        // The three SMS, delivered by the outbox after the check commits.
        let changes_in = |inbox: &Value| -> Vec<String> {
            let messages = inbox["messages"].as_array().cloned().unwrap_or_default();
            messages
                .iter()
                .filter(|m| m["template"] == "credit_record_changed")
                .filter_map(|m| m["params"]["change"].as_str().map(str::to_owned))
                .collect()
        };
        let inbox = eventually(|| s.inbox(phone), |i| changes_in(i).len() >= 3).await;
        let mut changes = changes_in(&inbox);
        changes.sort();
        assert_eq!(changes, ["new_overdue", "new_public_record", "new_query"], "{}: {inbox}", s.kind);
        // The app hears of each change (it may also hear of earlier ones, such as the payment password set before).
        let credit_hooks = || async {
            let hooks = r.wait_delivered("/hook", 1, std::time::Duration::from_secs(20)).await;
            hooks
                .iter()
                .filter_map(|h| serde_json::from_slice::<Value>(&h.body).ok())
                .filter(|b| b["type"] == "credit.record_changed")
                .collect::<Vec<_>>()
        };
        let alerts = eventually(credit_hooks, |a| a.len() >= 3).await;
        assert_eq!(alerts.len(), 3, "{}: {alerts:?}", s.kind);
        let mut reasons: Vec<&str> = alerts.iter().filter_map(|b| b["data"]["reason"].as_str()).collect();
        reasons.sort_unstable();
        assert_eq!(reasons, ["new_overdue", "new_public_record", "new_query"], "{}", s.kind);
        for b in &alerts {
            let keys: Vec<&str> = b["data"].as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            assert_eq!(keys, ["event_id", "reason", "sub"], "only the app's subject, a reference and the kind: {b}");
            let text = b.to_string();
            assert!(!text.contains(&number) && !text.contains("法院") && !text.contains("某消费金融"), "no personal data leaves: {b}");
        }

        // A day later, nothing new: compared again, nothing announced again.
        let before = v["checked_at"].clone();
        advance(&s, 24 * 3600 + 60).await;
        let v = alerts_until(&s, &token, |v| v["checked_at"] != before).await;
        assert_eq!(v["alerts"], 3, "{v}");

        // The credit-report consent withdrawn (issue 18): the next check asks the bureau nothing and turns the watch off.
        let res = call(&s, Method::DELETE, "/v1/me/consents/credit_report", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        expect_problem(set_alerts(&s, &token, json!({"enabled": true, "apps": []})).await, 403, "consent_required").await;
        advance(&s, 24 * 3600 + 60).await;
        let v = alerts_until(&s, &token, |v| v["enabled"] == false).await;
        assert!(v["next_check_at"].is_null(), "{v}");
        crate::consents::give_all(&s, &token).await;

        // Off: no more comparisons; the stored file is dropped.
        let v: Value = set_alerts(&s, &token, json!({"enabled": false})).await.json().await.unwrap_or_default();
        assert_eq!((v["enabled"].as_bool(), v["next_check_at"].is_null()), (Some(false), true), "{v}");
        let rows =
            crate::events::scalar(&s, &format!("SELECT COUNT(*) FROM credit_watches WHERE user_id = '{user}' AND baseline_cipher IS NULL"))
                .await;
        assert_eq!(rows, "1", "{}: the file is dropped when alerts are turned off", s.kind);
    }
}

/// A test certificate from the sandbox CA for `user`: (certificate PEM, its key's PKCS#8 DER, fingerprint).
async fn sandbox_certificate(s: &Server, user: &str) -> (String, Vec<u8>, String) {
    use base64::Engine;
    let v: Value = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/ca/certificates", s.sandbox))
        .json(&json!({"user_id": user}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let key_pem = v["private_key_pem"].as_str().unwrap_or_else(|| panic!("a key: {v}"));
    let body: String = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pkcs8 = base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_else(|e| panic!("{e}"));
    (v["certificate_pem"].as_str().unwrap_or("").to_owned(), pkcs8, v["fingerprint"].as_str().unwrap_or("").to_owned())
}

/// `message` signed by the PKCS#8 P-256 key, base64: fixed r||s (as WebCrypto) or ASN.1 DER.
fn sign(pkcs8: &[u8], message: &str, fixed: bool) -> String {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use base64::Engine;
    let alg = if fixed { &ECDSA_P256_SHA256_FIXED_SIGNING } else { &ECDSA_P256_SHA256_ASN1_SIGNING };
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let sig = key.sign(&aws_lc_rs::rand::SystemRandom::new(), message.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
}

async fn post(s: &Server, token: &str, path: &str, body: Value) -> reqwest::Response {
    call(s, Method::POST, path, token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// CR1 by digital certificate: a certificate from a trusted CA naming the
/// user is registered; it cannot be the first verification; then a signed
/// challenge verifies a request (WebCrypto's r||s and DER both accepted), a
/// bad signature counts as a failed attempt, an expired challenge is
/// refused, another user's certificate is not registered, and a revoked one
/// verifies nothing. The certificate is sealed at rest.
#[tokio::test]
async fn a_registered_certificate_verifies_a_request_after_a_first_face_check() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true"), ("IDLINK__CREDIT_REPORT__FREE_PER_YEAR", "5")]).await;
        let (token, user) = adult(&s, "13700000161", "161").await;
        let (pem, key, fingerprint) = sandbox_certificate(&s, &user).await;

        // Another user's certificate, and no certificate at all, are refused.
        let (other_pem, _, _) = sandbox_certificate(&s, "usr_someoneelse").await;
        expect_problem(
            post(&s, &token, "/v1/me/certificates", json!({"certificate_pem": other_pem})).await,
            422,
            "certificate_other_holder",
        )
        .await;
        expect_problem(post(&s, &token, "/v1/me/certificates", json!({"certificate_pem": "hello"})).await, 422, "certificate_invalid")
            .await;
        let res = post(&s, &token, "/v1/me/certificates", json!({"certificate_pem": pem})).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let registered: Value = res.json().await.unwrap_or_default();
        assert_eq!(registered["fingerprint"], fingerprint.as_str());
        expect_problem(
            post(&s, &token, "/v1/me/certificates", json!({"certificate_pem": pem})).await,
            409,
            "certificate_already_registered",
        )
        .await;

        // Not on first use.
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let challenge_path = format!("/v1/credit-reports/{id}/certificate/challenge");
        expect_problem(
            post(&s, &token, &challenge_path, json!({"fingerprint": fingerprint})).await,
            409,
            "credit_certificate_not_first_use",
        )
        .await;
        assert_eq!(face(&s, &token, &id, "sandbox:pass").await.status().as_u16(), 200);

        // The second report by certificate: a wrong signature counts, an expired challenge is refused, the right one verifies.
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let sign_path = format!("/v1/credit-reports/{id}/certificate");
        expect_problem(
            post(&s, &token, &sign_path, json!({"signature": sign(&key, "x", true)})).await,
            409,
            "certificate_challenge_missing",
        )
        .await;
        let c: Value = post(&s, &token, &format!("/v1/credit-reports/{id}/certificate/challenge"), json!({"fingerprint": fingerprint}))
            .await
            .json()
            .await
            .unwrap_or_default();
        let message = c["message"].as_str().unwrap_or_else(|| panic!("a challenge: {c}")).to_owned();
        assert!(message.starts_with("idlink-cr-v1\n") && message.contains(&id) && message.contains(&fingerprint), "{message}");
        let p = expect_problem(
            post(&s, &token, &sign_path, json!({"signature": sign(&key, "another message", true)})).await,
            422,
            "certificate_signature_invalid",
        )
        .await;
        assert!(p["detail"].is_string());
        let v = get_json(&s, &format!("/v1/credit-reports/{id}"), &token).await;
        assert_eq!((v["state"].as_str(), v["reason"].as_str()), (Some("verifying"), Some("certificate_signature_invalid")), "{v}");
        advance(&s, 121).await;
        expect_problem(
            post(&s, &token, &sign_path, json!({"signature": sign(&key, &message, true)})).await,
            410,
            "certificate_challenge_expired",
        )
        .await;
        let c: Value = post(&s, &token, &format!("/v1/credit-reports/{id}/certificate/challenge"), json!({"fingerprint": fingerprint}))
            .await
            .json()
            .await
            .unwrap_or_default();
        let message = c["message"].as_str().unwrap_or("").to_owned();
        // ASN.1 DER, as Android and iOS key stores sign (the unit tests check WebCrypto's r||s too).
        let res = post(&s, &token, &sign_path, json!({"signature": sign(&key, &message, false)})).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let ready: Value = res.json().await.unwrap_or_default();
        assert_eq!((ready["state"].as_str(), ready["method"].as_str()), (Some("ready"), Some("certificate")), "{ready}");
        // The same signature again: the request no longer takes one.
        expect_problem(
            post(&s, &token, &sign_path, json!({"signature": sign(&key, &message, false)})).await,
            409,
            "credit_request_not_verifying",
        )
        .await;

        // A revoked certificate verifies nothing: no challenge for it.
        let id = requested(&s, &token, &user).await["id"].as_str().unwrap_or("").to_owned();
        let c: Value = post(&s, &token, &format!("/v1/credit-reports/{id}/certificate/challenge"), json!({"fingerprint": fingerprint}))
            .await
            .json()
            .await
            .unwrap_or_default();
        let message = c["message"].as_str().unwrap_or("").to_owned();
        let res =
            call(&s, Method::DELETE, &format!("/v1/me/certificates/{fingerprint}"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        expect_problem(
            post(&s, &token, &format!("/v1/credit-reports/{id}/certificate"), json!({"signature": sign(&key, &message, false)})).await,
            404,
            "certificate_not_found",
        )
        .await;
        let listed = get_json(&s, "/v1/me/certificates", &token).await;
        assert_eq!(listed["certificates"][0]["active"], false, "{listed}");

        // At rest the certificate is ciphertext.
        let stored =
            crate::events::scalar(&s, &format!("SELECT COUNT(*) FROM user_certificates WHERE fingerprint = '{fingerprint}'")).await;
        assert_eq!(stored, "1");
        let der = {
            use base64::Engine;
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default()
        };
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        use idlink_core::ports::certificates::CertificateStore;
        let row = store.certificate(&fingerprint).await.ok().flatten().unwrap_or_else(|| panic!("stored"));
        assert!(holds(&der, b"urn:idlink:user:"), "the search finds what is there");
        assert!(!holds(&row.cert_cipher, &der[..40.min(der.len())]) && !holds(&row.cert_cipher, b"urn:idlink:user:"), "{}: sealed", s.kind);
    }
}
