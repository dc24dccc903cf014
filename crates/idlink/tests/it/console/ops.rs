//! Key status, duty, requests for more information, escalation seen arriving.
//!
//! A reviewer asks the user for more information (API on both databases;
//! the browser journey from the console to the user's H5 page and back to
//! the queue), and an SLA breach seen arriving on the breach board with the
//! page in the on-duty admin's SMS inbox. axe on every page state.

use super::{audit_actions, frozen_user_case, staff};
use crate::h5::Browser;
use crate::reviews::{Op, as_op, decide, open_cases, operator, session};
use crate::{Server, expect_problem, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

async fn server(db: idlink_store::testing::TestDb, extra: &[(&str, &str)]) -> (Server, Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let s = start_full(db, extra, rt.clone()).await;
    (s, rt, clock)
}

/// A user (session token) whose passport verification waits for review; answers (token, verification id).
async fn passport_under_review(s: &Server, phone: &str) -> (String, String) {
    under_review(
        s,
        phone,
        json!({"name": "Smith John", "document_type": "passport", "document_number": "E12345678", "birth_date": "1990-05-17"}),
        "sandbox:pass",
    )
    .await
}

/// A user (session token) whose verification (`claim`, the start's body) waits for review; answers (token, verification id).
async fn under_review(s: &Server, phone: &str, claim: Value, liveness: &str) -> (String, String) {
    let token = session(s, phone, "d1").await["session_token"].as_str().unwrap_or("").to_owned();
    crate::consents::give_all(s, &token).await;
    let start = s
        .authed(Method::POST, "/v1/me/verifications")
        .header("idlink-session", &token)
        .json(&claim)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started: Value = start.json().await.unwrap_or_default();
    let vid = started["id"].as_str().unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    let submitted: Value = s
        .authed(Method::POST, &format!("/v1/me/verifications/{vid}/submit"))
        .header("idlink-session", &token)
        .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": liveness}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(submitted["status"], "review", "{submitted}");
    (token, vid)
}

async fn ask(s: &Server, op: &Op, case: &str, body: Value) -> reqwest::Response {
    as_op(s, op, Method::POST, &format!("/v1/operator/reviews/{case}/request-info"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn case_of(s: &Server, op: &Op, case: &str, status: &str) -> Value {
    open_cases(s, op, &format!("?status={status}")).await.into_iter().find(|c| c["id"] == case).unwrap_or_default()
}

/// One case as a reviewer's API view shows it, with the user's answers opened.
async fn case_view(s: &Server, op: &Op, case: &str) -> Value {
    let res = as_op(s, op, Method::GET, &format!("/v1/operator/reviews/{case}")).send().await.unwrap_or_else(|e| panic!("{e}"));
    res.json().await.unwrap_or_default()
}

#[tokio::test]
async fn a_reviewer_asks_the_user_for_more_and_the_answer_puts_the_case_back_in_the_queue() {
    for db in crate::databases().await {
        asks_and_answers_on(db).await;
    }
}

async fn asks_and_answers_on(db: idlink_store::testing::TestDb) {
    let (s, rt, clock) = server(db, &[]).await;
    let kind = s.kind;
    let alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Reviewer]).await;
    let carol = operator(&s, &rt, "carol", &[Role::Auditor]).await;
    let phone = "13833335555";
    let (token, vid) = passport_under_review(&s, phone).await;
    let cases = open_cases(&s, &alice, "?kind=verification").await;
    let case = cases[0]["id"].as_str().unwrap_or("").to_owned();
    let first_due = cases[0]["sla_due_at"].as_str().unwrap_or("").to_owned();
    assert_eq!(first_due, "2026-12-03T02:00:00Z", "{kind}: the 72-hour first-response SLA");

    // Only a reviewer who holds the case asks, with a reason from the list.
    let why = json!({"reason": "photo_page_missing", "note": "The photo page is cut off."});
    expect_problem(ask(&s, &carol, &case, why.clone()).await, 403, "operator_role_required").await;
    expect_problem(ask(&s, &alice, &case, why.clone()).await, 409, "case_not_held").await;
    let _ = as_op(&s, &alice, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await;
    expect_problem(ask(&s, &bob, &case, why.clone()).await, 409, "case_not_held").await;
    let bad = ask(&s, &alice, &case, json!({"reason": "not_a_reason"})).await;
    let problem = expect_problem(bad, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/reason", "{kind}: {problem}");

    clock.advance(jiff::SignedDuration::from_mins(10));
    let asked: Value = ask(&s, &alice, &case, why.clone()).await.json().await.unwrap_or_default();
    assert_eq!(asked["status"], "waiting_user", "{kind}: {asked}");
    assert_eq!(asked["claimed_by"], Value::Null, "{kind}: the case is nobody's while the user answers");
    assert_eq!(asked["first_response_at"], "2026-11-30T02:00:00Z", "{kind}: the claim answered the first SLA; the request keeps it");
    assert_eq!(
        (asked["info_requests"][0]["reason"].as_str(), asked["info_requests"][0]["operator_id"].as_str()),
        (Some("photo_page_missing"), Some(alice.id.as_str())),
        "{kind}: {asked}"
    );
    assert!(open_cases(&s, &alice, "").await.iter().all(|c| c["id"] != case.as_str()), "{kind}: out of the open queue");
    assert_eq!(case_of(&s, &alice, &case, "waiting_user").await["id"], case.as_str(), "{kind}: listed as waiting for the user");
    expect_problem(decide(&s, &bob, &case, "approve").await, 409, "case_awaiting_user").await;
    let claim = as_op(&s, &bob, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await;
    expect_problem(claim.unwrap_or_else(|e| panic!("{e}")), 409, "case_awaiting_user").await;

    // The user is told by SMS, and reads the request in the API.
    let inbox = s.sms_delivered(phone, "review_more_info").await;
    assert_eq!(inbox["messages"][0]["params"]["reason"], "photo_page_missing", "{kind}: {inbox}");
    let read = |t: &str, path: String| s.authed(Method::GET, &path).header("idlink-session", t.to_owned()).send();
    let path = format!("/v1/me/verifications/{vid}/info-request");
    let request: Value = read(&token, path.clone()).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!((request["reason"].as_str(), request["note"].as_str()), (Some("photo_page_missing"), Some("The photo page is cut off.")));
    let stranger = session(&s, "13833336666", "d2").await["session_token"].as_str().unwrap_or("").to_owned();
    expect_problem(read(&stranger, path.clone()).await.unwrap_or_else(|e| panic!("{e}")), 404, "info_request_not_found").await;

    // Paused: far past the first SLA, nothing is breached while the user has not answered.
    clock.advance(jiff::SignedDuration::from_hours(100));
    // Sessions have ended meanwhile: two reviewers of the next shift.
    let (dora, erin) = (operator(&s, &rt, "dora", &[Role::Reviewer]).await, operator(&s, &rt, "erin", &[Role::Reviewer]).await);
    let board: Value = as_op(&s, &dora, Method::GET, "/v1/operator/breaches")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(board["breaches"].as_array().map(Vec::len), Some(0), "{kind}: {board}");

    let answer = |body: Value| s.authed(Method::POST, &path).header("idlink-session", &token).json(&body).send();
    let refused = answer(json!({"answer": "  ", "document_number": "E1"})).await.unwrap_or_else(|e| panic!("{e}"));
    let problem = expect_problem(refused, 422, "validation_failed").await;
    let pointers: Vec<&str> =
        problem["errors"].as_array().map(|a| a.iter().filter_map(|e| e["pointer"].as_str()).collect()).unwrap_or_default();
    assert_eq!(pointers, ["/answer", "/document_number"], "{kind}: {problem}");
    let answered: Value = answer(json!({"answer": "Photo page sent again.", "document_number": "e87654321", "birth_date": "1990-05-17"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(
        (answered["answer"].as_str(), answered["answered_at"].as_str()),
        (Some("Photo page sent again."), Some("2026-12-04T06:10:00Z"))
    );
    let again = answer(json!({"answer": "twice"})).await.unwrap_or_else(|e| panic!("{e}"));
    expect_problem(again, 404, "info_request_not_found").await;

    // Back in the queue for anyone, with a new 72-hour SLA from the answer, and its history.
    let back = case_of(&s, &dora, &case, "open").await;
    assert_eq!(back["sla_due_at"], "2026-12-07T06:10:00Z", "{kind}: {back}");
    assert_eq!(
        (back["first_response_at"].clone(), back["claimed_by"].clone(), back["sla_breached"].clone()),
        (Value::Null, Value::Null, json!(false))
    );
    // The list keeps the words sealed; the case's view opens them for a reviewer, an audited read.
    assert_eq!(
        (back["info_requests"][0]["answer"].clone(), back["info_requests"][0]["answered_at"].clone()),
        (Value::Null, json!("2026-12-04T06:10:00Z"))
    );
    let view = |op: &Op| as_op(&s, op, Method::GET, &format!("/v1/operator/reviews/{case}")).send();
    let fay = operator(&s, &rt, "fay", &[Role::Auditor]).await;
    expect_problem(view(&fay).await.unwrap_or_else(|e| panic!("{e}")), 403, "operator_role_required").await;
    let seen: Value = view(&dora).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(seen["info_requests"][0]["answer"], "Photo page sent again.", "{kind}: {seen}");
    assert_eq!(seen["info_requests"][0]["answer_unavailable"], false, "{kind}: {seen}");
    assert_eq!(seen["info_requests"][0]["note"], "The photo page is cut off.", "{kind}: the note opened for a reviewer: {seen}");
    assert_eq!(back["info_requests"][0]["note"], Value::Null, "{kind}: the list keeps the note sealed: {back}");
    assert!(
        audit_actions(&s).await.iter().any(|(a, act, _)| *a == format!("operator:{}", dora.id) && act == "review.read_answer"),
        "{kind}: the read of the answer is audited as dora's"
    );
    // At rest the words are sealed under the user's key.
    let dump = idlink_store::testing::dump_table(&s.db.store, "review_requests").await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    assert!(dump.contains(&case), "{kind}: the dump shows the request: {dump}");
    assert!(!dump.contains("Photo page sent again") && !dump.contains("sent again"), "{kind}: the answer is stored in clear: {dump}");
    assert!(!dump.contains("photo page is cut off") && !dump.contains("cut off"), "{kind}: the note is stored in clear: {dump}");

    // The reviewers decide on the document sent again: the identity holds the new number.
    assert_eq!(decide(&s, &dora, &case, "approve").await.status().as_u16(), 200);
    let done: Value = decide(&s, &erin, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(done["status"], "approved", "{kind}: {done}");
    let me: Value = read(&token, "/v1/me/identity".into()).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let number = me["id_number"].as_str().unwrap_or("");
    assert_eq!(number, "*****4321", "{kind}: the number sent again, masked as a passport number: {me}");

    let actions = audit_actions(&s).await;
    let did = |actor: &str, action: &str| actions.iter().any(|(a, act, _)| a == actor && act == action);
    assert!(did(&format!("operator:{}", alice.id), "review.request_info"), "{kind}");
    assert!(actions.iter().any(|(a, act, _)| a.starts_with("user:") && act == "review.answer_info"), "{kind}");

    // Once the user's data is deleted (their key shredded) the answer cannot be read.
    let user = seen["subject_user_id"].as_str().unwrap_or("").to_owned();
    let del = s.authed(Method::DELETE, &format!("/v1/users/{user}/personal-data")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(del.status().as_u16(), 204, "{kind}");
    let gone: Value = view(&dora).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(
        (gone["info_requests"][0]["answer"].clone(), gone["info_requests"][0]["answer_unavailable"].clone()),
        (Value::Null, json!(true)),
        "{kind}: {gone}"
    );
    assert_eq!(gone["info_requests"][0]["note"], Value::Null, "{kind}: the note went with the user's key: {gone}");

    // A risk freeze asks nothing of the user.
    let freeze = frozen_user_case(&s, &rt, "13833337777", 2).await;
    let _ = as_op(&s, &dora, Method::POST, &format!("/v1/operator/reviews/{freeze}/claim")).send().await;
    expect_problem(ask(&s, &dora, &freeze, json!({"reason": "document_unreadable"})).await, 409, "case_asks_nothing").await;
}

/// The purposes of the audit records with `action`.
async fn purposes(s: &Server, action: &str) -> Vec<String> {
    use idlink_core::ports::audit::AuditStore;
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let records = store.audit_records(0, 10_000).await.unwrap_or_default();
    records.into_iter().filter(|r| r.entry.action == action).map(|r| r.entry.purpose).collect()
}

/// The open verification case reviewing `vid`.
async fn case_reviewing(s: &Server, op: &Op, vid: &str) -> String {
    let cases = open_cases(s, op, "?kind=verification").await;
    cases.iter().find(|c| c["reference"] == vid).and_then(|c| c["id"].as_str()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn an_answer_with_a_new_document_is_checked_and_voids_the_steps_taken_before_it() {
    for db in crate::databases().await {
        new_document_on(db).await;
    }
}

async fn new_document_on(db: idlink_store::testing::TestDb) {
    let (s, rt, _clock) = server(db, &[]).await;
    let kind = s.kind;
    let dora = operator(&s, &rt, "dora", &[Role::Reviewer]).await;
    let erin = operator(&s, &rt, "erin", &[Role::Reviewer]).await;

    // Someone else holds passport E99990000.
    let (_, other) = under_review(
        &s,
        "13855550001",
        json!({"name": "Other Olga", "document_type": "passport", "document_number": "E99990000", "birth_date": "1985-01-02"}),
        "sandbox:pass",
    )
    .await;
    let other_case = case_reviewing(&s, &dora, &other).await;
    assert_eq!(decide(&s, &dora, &other_case, "approve").await.status().as_u16(), 200, "{kind}");
    let done: Value = decide(&s, &erin, &other_case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(done["status"], "approved", "{kind}: {done}");

    // Step 1 is taken on E12345678, then the holder of the case asks for more.
    let (token, vid) = passport_under_review(&s, "13855550002").await;
    let case = case_reviewing(&s, &dora, &vid).await;
    let step1: Value = decide(&s, &dora, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!((step1["status"].as_str(), step1["decisions"].as_array().map(Vec::len)), (Some("open"), Some(1)), "{kind}: {step1}");
    let _ = as_op(&s, &erin, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await;
    let asked: Value = ask(&s, &erin, &case, json!({"reason": "document_unreadable"})).await.json().await.unwrap_or_default();
    assert_eq!(asked["status"], "waiting_user", "{kind}: {asked}");

    // Another identity's number is refused, like at verification; the request stays open.
    let path = format!("/v1/me/verifications/{vid}/info-request");
    let answer = |body: Value| s.authed(Method::POST, &path).header("idlink-session", &token).json(&body).send();
    let taken = answer(json!({"answer": "The number is E99990000.", "document_number": "E99990000"})).await;
    expect_problem(taken.unwrap_or_else(|e| panic!("{e}")), 409, "document_number_taken").await;
    assert_eq!(case_of(&s, &dora, &case, "waiting_user").await["id"], case.as_str(), "{kind}: still waiting for the user");

    // A new number voids step 1: the record and the case's history say the number changed.
    let sent = answer(json!({"answer": "The right number.", "document_number": "E55556666"})).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent.status().as_u16(), 200, "{kind}");
    let view = case_view(&s, &dora, &case).await;
    assert_eq!(view["info_requests"][0]["resent"], "document", "{kind}: {view}");
    assert_eq!(view["decisions"].as_array().map(Vec::len), Some(0), "{kind}: {view}");
    assert_eq!(view["voided_decisions"][0]["operator_id"], dora.id.as_str(), "{kind}: {view}");
    assert!(
        purposes(&s, "review.answer_info").await.iter().any(|p| p == "review verification: document number resent"),
        "{kind}: the audit record names the new number"
    );

    // All steps again, after the answer: the same reviewer may take step 1 again.
    let again: Value = decide(&s, &dora, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(again["status"], "open", "{kind}: one approval after the new number is not enough: {again}");
    let done: Value = decide(&s, &erin, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(done["status"], "approved", "{kind}: {done}");
    let me: Value = s
        .authed(Method::GET, "/v1/me/identity")
        .header("idlink-session", &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let number = me["id_number"].as_str().unwrap_or("");
    assert_eq!(number, "*****6666", "{kind}: the number sent again, masked as a passport number: {me}");

    // A resident ID number cannot change in an answer: that takes a new verification.
    let (token, vid) = under_review(&s, "13855550003", json!({"name": "张三", "id_number": "11010519491231002X"}), "sandbox:pending").await;
    let case = case_reviewing(&s, &dora, &vid).await;
    let _ = as_op(&s, &dora, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await;
    let asked: Value = ask(&s, &dora, &case, json!({"reason": "document_unreadable"})).await.json().await.unwrap_or_default();
    assert_eq!(asked["status"], "waiting_user", "{kind}: {asked}");
    let path = format!("/v1/me/verifications/{vid}/info-request");
    let answer = |body: Value| s.authed(Method::POST, &path).header("idlink-session", &token).json(&body).send();
    let swapped = answer(json!({"answer": "Another number.", "document_number": "110105194912310021"})).await;
    expect_problem(swapped.unwrap_or_else(|e| panic!("{e}")), 409, "resident_id_not_resendable").await;
    let words = answer(json!({"answer": "The number is right."})).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(words.status().as_u16(), 200, "{kind}: words alone are fine");
}

async fn console_sign_in(b: &Browser, s: &Server, rt: &Runtime, who: &super::Staff) {
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &who.username).await;
    b.fill("#password", &who.password).await;
    b.fill("#totp", &who.code(rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    assert_eq!(b.path().await, "/console/cases", "{} signed in", who.username);
}

/// The code of the newest SMS to `phone` once it holds more than `before` messages
/// (its inbox holds older codes, and the outbox delivers after the request).
async fn new_code(s: &Server, phone: &str, before: usize) -> String {
    for _ in 0..150 {
        let inbox = s.inbox(phone).await;
        if inbox["messages"].as_array().map_or(0, Vec::len) > before
            && let Some(code) = inbox["messages"][0]["params"]["code"].as_str()
        {
            return code.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no new code for {phone}")
}

async fn select(b: &Browser, css: &str, value: &str) {
    b.client
        .execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(css), json!(value)])
        .await
        .unwrap_or_else(|e| panic!("select {css}: {e}"));
}

/// A reviewer claims a passport case and asks for the photo page (first
/// without a reason: refused); the case leaves the queue and is listed as
/// waiting for the user. The user opens their verification's page, reads
/// the reason in Chinese, answers (first empty: refused); the case is back
/// in the queue with both steps in its history. All in zh-CN.
#[tokio::test]
async fn the_user_sees_the_request_on_the_h5_page_and_the_answer_reaches_the_queue() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let (s, rt, clock) = server(db, &[]).await;
    let alice = staff(&s, &rt, "alice", &[Role::Reviewer]).await;
    let phone = "13844445555";
    let (_, vid) = passport_under_review(&s, phone).await;
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let open = idlink_core::ports::reviews::ReviewStore::cases(&store, idlink_core::ports::reviews::CaseStatus::Open, None, 10).await;
    let case = open.unwrap_or_default().first().map(|c| c.id.to_string()).unwrap_or_default();
    let b = Browser::open(true).await;

    console_sign_in(&b, &s, &rt, &alice).await;
    b.goto(&s.url(&format!("/console/cases/{case}"))).await;
    assert!(!b.has("#request-info").await, "asking needs the case held");
    b.click("#claim").await;
    assert!(b.has("#request-info").await);
    b.assert_accessible("case held, with the request form").await;
    b.click("#request-info").await;
    assert!(b.text("#refusal").await.contains("请先选择缺少的内容"), "{}", b.text("main").await);
    b.assert_accessible("request refused without a reason").await;

    clock.advance(jiff::SignedDuration::from_mins(10));
    select(&b, "#info-reason", "photo_page_missing").await;
    b.fill("#ask-note", "照片页下方被截掉了").await;
    b.click("#request-info").await;
    assert!(b.has("#notice").await, "{}: {}", b.path().await, b.text("main").await);
    assert!(b.text("#notice").await.contains("已请用户补充材料"), "{}", b.text("main").await);
    assert_eq!(b.text("#status").await, "等待用户补充");
    assert!(b.text("#waiting").await.contains("缺少证件照片页"));
    assert!(b.text("#sla").await.contains("暂停计时"), "{}", b.text("#sla").await);
    assert!(b.text("#history").await.contains("请用户补充材料：缺少证件照片页 — 照片页下方被截掉了"), "{}", b.text("#history").await);
    assert!(!b.has("#approve").await && !b.has("#claim").await, "nothing to act on while the user answers");
    b.assert_accessible("case waiting for the user").await;

    b.goto(&s.url("/console/cases")).await;
    assert!(!b.has(&format!("#row-{case}")).await, "out of the open queue");
    select(&b, "#f-status", "waiting_user").await;
    b.click("#apply-filters").await;
    assert!(b.text(&format!("#row-{case}")).await.contains("等待用户补充"), "{}", b.text("main").await);
    b.assert_accessible("queue of cases waiting for the user").await;

    // The user, on their phone: a browser the account never used (a second code confirms it).
    let before = s.inbox(phone).await["messages"].as_array().map_or(0, Vec::len);
    b.goto(&s.url("/h5/login")).await;
    b.fill("#phone", phone).await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    b.fill("#code", &new_code(&s, phone, before).await).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    assert_eq!(b.text("h1").await, "确认新设备");
    b.fill("#code", &new_code(&s, phone, before + 1).await).await;
    b.click("form[action='/h5/login/device'] button[type=submit]").await;
    assert_eq!(b.path().await, "/h5/");
    // The real-name page says what is asked and leads to the verification's page.
    b.goto(&s.url("/h5/identity")).await;
    assert!(b.text("#identity-asked").await.contains("缺少证件照片页"), "{}", b.text("main").await);
    b.assert_accessible("H5: the real-name page with a request waiting").await;
    b.click("#identity-asked a.info-answer-link").await;
    assert_eq!(b.path().await, format!("/h5/identity/verifications/{vid}"));
    assert_eq!(b.text("h1").await, "需要您补充材料");
    assert!(b.text("#info-reason-photo_page_missing").await.contains("缺少证件照片页"));
    assert!(b.text("#info-note").await.contains("照片页下方被截掉了"));
    b.assert_accessible("H5: a request for more information").await;
    b.click("#send-answer").await;
    assert!(b.text("#answer-error").await.contains("请填写给审核员的回复"), "{}", b.text("main").await);
    assert_eq!(b.attr("#answer", "aria-invalid").await.as_deref(), Some("true"));
    b.assert_accessible("H5: an empty answer refused").await;
    clock.advance(jiff::SignedDuration::from_mins(10));
    b.fill("#answer", "已重新拍摄完整的照片页").await;
    b.fill("#document_number", "E87654321").await;
    b.click("#send-answer").await;
    assert_eq!(b.path().await, format!("/h5/identity/verifications/{vid}"));
    assert!(b.text("#answer-sent").await.contains("您的回复已提交"));
    assert!(b.has("#review-note").await && !b.has("#send-answer").await, "under review again, nothing more to answer");
    b.assert_accessible("H5: the answer sent").await;
    b.goto(&s.url("/h5/identity")).await;
    assert!(!b.has("#identity-asked").await, "nothing waits for the user any more");

    // Back in the queue with its history.
    b.goto(&s.url("/console/cases")).await;
    let row = b.text(&format!("#row-{case}")).await;
    assert!(row.contains("待处理") && row.contains("剩余 3 天"), "a new SLA from the answer: {row}");
    b.goto(&s.url(&format!("/console/cases/{case}"))).await;
    let history = b.text("#history").await;
    let (asked, answered) = (
        history.find("请用户补充材料"),
        history.find("已回复补充请求，并提交了新的证件号码（此前的审核步骤作废） — 已重新拍摄完整的照片页"),
    );
    assert!(asked.is_some() && answered.is_some() && asked < answered, "both steps, in order: {history}");
    assert!(b.has("#claim").await && !b.has("#waiting").await);
    b.assert_accessible("case back in the queue with its history").await;
    // The reviewer's reading of the answer is in the user's access log, in words.
    b.goto(&s.url("/h5/access-log")).await;
    let log = b.text(".records").await;
    assert!(log.contains("审核员查看了您对补充请求的回复") && log.contains("您回复了审核员的补充请求"), "{log}");
    b.assert_accessible("H5: the access log with the reviewer's read").await;
    b.close().await;

    let inbox = s.inbox(phone).await;
    let told: Vec<&Value> =
        inbox["messages"].as_array().map(|m| m.iter().filter(|m| m["template"] == "review_more_info").collect()).unwrap_or_default();
    assert_eq!(told.len(), 1, "one SMS tells the user: {inbox}");
    assert_eq!(told[0]["params"]["reason"], "photo_page_missing");
}

/// At phone width (the harness's 390 px) a stacked table hides its heading
/// row; each cell then shows its column's heading before its value, and
/// nothing scrolls sideways.
async fn assert_cells_say_their_column(b: &Browser, table: &str) {
    let seen = b
        .client
        .execute(
            "const t = document.querySelector(arguments[0]);\
             const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent.trim());\
             const cells = [...t.querySelector('tbody tr').querySelectorAll('td')]\
               .map(td => getComputedStyle(td, '::before').content.replace(/^\"|\"$/g, ''));\
             return { width: window.innerWidth, heads, cells,\
               headRow: getComputedStyle(t.querySelector('thead')).display,\
               overflow: document.documentElement.scrollWidth > window.innerWidth };",
            vec![json!(table)],
        )
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"));
    assert!(seen["width"].as_i64().is_some_and(|w| w < 640), "a phone-width window: {seen}");
    assert_eq!(seen["headRow"], "none", "{table}: the heading row is hidden: {seen}");
    assert!(seen["heads"].as_array().is_some_and(|h| !h.is_empty()), "{seen}");
    assert_eq!(seen["cells"], seen["heads"], "{table}: each cell says its column: {seen}");
    assert_eq!(seen["overflow"], false, "{table}: nothing scrolls sideways: {seen}");
}

/// A risk freeze opens with a 5-minute SLA; an admin is on duty with a
/// paging phone; the clock passes the SLA, the SLA job escalates, and the
/// breach board shows the case escalated with the paging time while the
/// admin's phone holds the page. In English.
#[tokio::test]
async fn an_escalation_is_seen_arriving_on_the_breach_board_and_the_on_duty_phone() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let (s, rt, clock) = server(db, &[("IDLINK__REVIEW__SLA_CHECK_SECS", "1")]).await;
    let alice = staff(&s, &rt, "alice", &[Role::Reviewer]).await;
    let boss = operator(&s, &rt, "boss", &[Role::Admin]).await;
    let pager = "13912345678";
    let duty = as_op(&s, &boss, Method::PUT, &format!("/v1/operator/operators/{}/duty", boss.id))
        .json(&json!({"on_duty": true, "phone": pager}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(duty.status().as_u16(), 200);
    let case = frozen_user_case(&s, &rt, "13955550001", 2).await;
    let b = Browser::open(true).await;

    console_sign_in(&b, &s, &rt, &alice).await;
    b.click("button[name=lang][value=en]").await;
    b.goto(&s.url("/console/breaches")).await;
    assert!(b.has("#no-breaches").await, "nothing breached yet");
    b.assert_accessible("breach board, empty").await;

    clock.advance(jiff::SignedDuration::from_mins(7));
    let mut board = String::new();
    for _ in 0..100 {
        b.goto(&s.url("/console/breaches")).await;
        if b.has(&format!("#breach-{case}")).await {
            board = b.text(&format!("#breach-{case}")).await;
            if board.contains("Escalated at") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(board.contains("Escalated at 30 Nov 2026, 10:07"), "escalated, with the paging time (Asia/Shanghai): {board}");
    assert!(board.contains("2 min overdue") && board.contains("Risk freeze"), "{board}");
    b.assert_accessible("breach board with an escalated case").await;
    assert_cells_say_their_column(&b, "#breaches").await;
    b.goto(&s.url("/console/cases")).await;
    assert_cells_say_their_column(&b, "#queue table").await;
    b.close().await;

    let inbox = s.sms_delivered(pager, "review_sla_breached").await;
    let pages = inbox["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(pages.len(), 1, "one page for one case: {inbox}");
    assert_eq!((pages[0]["params"]["case"].as_str(), pages[0]["params"]["kind"].as_str()), (Some(case.as_str()), Some("risk_freeze")));
}

#[tokio::test]
async fn a_guardian_case_asks_the_minor_for_proof_and_gets_new_evidence() {
    for db in crate::databases().await {
        guardian_proof_on(db).await;
    }
}

async fn guardian_proof_on(db: idlink_store::testing::TestDb) {
    let (s, rt, _) = server(db, &[]).await;
    let kind = s.kind;
    let rita = operator(&s, &rt, "rita", &[Role::Reviewer]).await;
    let (child_phone, parent_phone) = ("13866661001", "13866661002");
    // The minor uses the H5 pages (their session also opens the API, as the host app's would).
    let mut pages = crate::h5::FormClient::new(&s);
    assert_eq!(pages.get("/h5/login").await.status().as_u16(), 200);
    let login = pages.post("/h5/login", &[("phone", child_phone)]).await.text().await.unwrap_or_default();
    let challenge = login.split("name=\"challenge_id\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
    let code = s.last_code(child_phone).await;
    let res = pages.post("/h5/login/code", &[("phone", child_phone), ("challenge_id", &challenge), ("code", &code)]).await;
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/"), "{kind}: logged in");
    let cookies = pages.cookie_header();
    let child = cookies.split("; ").find_map(|c| c.strip_prefix("idlink_session=")).unwrap_or("").to_owned();
    let parent = session(&s, parent_phone, "p").await["session_token"].as_str().unwrap_or("").to_owned();
    let minor_id = {
        let body = "44052420150601123";
        let mut f = [0u8; 17];
        f.copy_from_slice(body.as_bytes());
        format!("{body}{}", idlink_domain::idnumber::check_character(&f))
    };
    crate::reviews::verify_resident(&s, &child, child_phone, "李小明", &minor_id).await;
    crate::reviews::verify_resident(&s, &parent, parent_phone, "李大明", "11010519491231002X").await;
    let link: Value = s
        .authed(Method::POST, "/v1/me/guardianships")
        .header("idlink-session", &child)
        .json(&json!({"guardian_phone": parent_phone, "relationship": "parent", "evidence_ref": "hukou-scan-blurry"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let id = link["id"].as_str().unwrap_or("").to_owned();
    let res = s.authed(Method::POST, &format!("/v1/me/guardianships/{id}/accept")).header("idlink-session", &parent).send().await;
    assert_eq!(res.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 200);
    let case = open_cases(&s, &rita, "?kind=guardian").await[0]["id"].as_str().unwrap_or("").to_owned();
    let _ = as_op(&s, &rita, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await;
    let asked: Value = ask(&s, &rita, &case, json!({"reason": "guardian_proof_missing"})).await.json().await.unwrap_or_default();
    assert_eq!(asked["status"], "waiting_user", "{kind}: {asked}");

    // The minor is asked; the guardian, who is not the case's subject, is not.
    let path = format!("/v1/me/guardianships/{id}/info-request");
    let read = |t: &str| s.authed(Method::GET, &path).header("idlink-session", t.to_owned()).send();
    let request: Value = read(&child).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!((request["reason"].as_str(), request["note"].as_str()), (Some("guardian_proof_missing"), Some("")), "{kind}: {request}");
    expect_problem(read(&parent).await.unwrap_or_else(|e| panic!("{e}")), 404, "info_request_not_found").await;

    // The minor's guardians page shows the request and answers it (first without words: refused).
    let page = pages.get("/h5/guardians").await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"info-reason-guardian_proof_missing\"") && page.contains("缺少监护关系证明"), "{kind}: {page}");
    let answer_path = format!("/h5/guardians/{id}/answer");
    let refused = pages.post(&answer_path, &[("answer", " "), ("evidence_ref", "hukou-scan-clear")]).await;
    assert_eq!(refused.status().as_u16(), 422, "{kind}");
    let page = refused.text().await.unwrap_or_default();
    assert!(page.contains("id=\"answer-error\"") && page.contains("请填写给审核员的回复"), "{kind}: {page}");
    assert!(page.contains("value=\"hukou-scan-clear\""), "{kind}: the typed evidence is kept");
    let sent = pages.post(&answer_path, &[("answer", "Clear scan of the household register."), ("evidence_ref", "hukou-scan-clear")]).await;
    assert_eq!(sent.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/guardians?answered=1"), "{kind}");
    let page = pages.get("/h5/guardians?answered=1").await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"answer-sent\"") && !page.contains("id=\"send-answer\""), "{kind}: sent, nothing more to answer");
    let back = case_view(&s, &rita, &case).await;
    assert_eq!(
        (back["status"].as_str(), back["info_requests"][0]["answer"].as_str()),
        (Some("open"), Some("Clear scan of the household register.")),
        "{kind}: {back}"
    );
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let evidence = idlink_store::testing::query_text(&store, &format!("SELECT evidence_ref FROM guardianships WHERE id = '{id}'")).await;
    assert_eq!(evidence.as_deref(), Ok("hukou-scan-clear"), "{kind}: the reviewer sees the new evidence");
    let done: Value = decide(&s, &rita, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(done["status"], "approved", "{kind}: {done}");
}
