//! The credit-report review queue in the console (SPEC CR3, issue 15), in
//! headless Chromium with axe on each state: a reviewer sees the requests
//! the bureau holds with their SLA, sees one breach it after the SLA, and
//! approves one (the user's report is ready) and rejects the other (the
//! request ends rejected; its refund, refused while the cashier is down,
//! waits on the page), in English, zh-CN and zh-HK. Reports are paid here.

use super::{Staff, staff};
use crate::credit::{adult, face, pay, requested};
use crate::h5::Browser;
use crate::{Server, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::credit::CreditStore;
use idlink_core::ports::operators::Role;
use serde_json::Value;
use std::sync::Arc;

async fn sign_in(b: &Browser, s: &Server, rt: &Runtime, who: &Staff) {
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &who.username).await;
    b.fill("#password", &who.password).await;
    b.fill("#totp", &who.code(rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    assert_eq!(b.path().await, "/console/cases", "{} signed in", who.username);
}

/// A request the bureau holds for review (sequence 700); returns its id.
async fn held(s: &Server, phone: &str) -> String {
    let (token, user) = adult(s, phone, "700").await;
    let r = requested(s, &token, &user).await;
    let id = r["id"].as_str().unwrap_or("").to_owned();
    if let Some(payment) = r["payment_id"].as_str() {
        pay(s, payment, "succeeded", true).await;
    }
    let v: Value = face(s, &token, &id, "sandbox:pass").await.json().await.unwrap_or_default();
    assert_eq!(v["state"], "in_review", "{v}");
    id
}

/// The request's state and reason as stored (the user's session may have lapsed as the clock moved).
async fn state_of(s: &Server, id: &str) -> (String, Option<String>) {
    let id = idlink_domain::CreditRequestId::parse(id).unwrap_or_else(|e| panic!("{e}"));
    let row = s.db.store.credit_request(&id).await.ok().flatten().unwrap_or_else(|| panic!("the stored request"));
    (row.state.as_str().to_owned(), row.reason)
}

#[tokio::test]
async fn a_reviewer_decides_held_credit_reports_in_the_console() {
    // Now, not a fixed day: the cashier's signed callbacks must be within five minutes of idlink's time.
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[("IDLINK__CREDIT_REPORT__FREE_PER_YEAR", "0")], rt.clone()).await;
    let rex = staff(&s, &rt, "rex", &[Role::Reviewer]).await;
    let first = held(&s, "13700000131").await;
    let second = held(&s, "13700000132").await;

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &rex).await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/credit-reviews']").await;
    assert_eq!(b.text("h1").await, "Credit-report reviews");
    let row = b.text(&format!("#review-{first}")).await;
    assert!(row.contains("24 h") && row.contains("left") && row.contains("Paid"), "the SLA left: {row}");
    assert!(b.has(&format!("#review-{second}")).await);
    b.assert_accessible("credit reviews").await;

    // A day and an hour later the SLA is breached, and the page says by how much.
    clock.advance(jiff::SignedDuration::from_hours(25));
    sign_in(&b, &s, &rt, &rex).await;
    b.goto(&s.url("/console/credit-reviews")).await;
    let row = b.text(&format!("#review-{first}")).await;
    assert!(row.contains("SLA breached 1 h"), "{row}");
    assert_eq!(b.attr(&format!("#review-{first}"), "class").await.as_deref(), Some("breached"));
    b.assert_accessible("credit reviews breached").await;

    // Approved in zh-CN: the report is released to the user.
    b.click("button[name=lang][value=zh-CN]").await;
    assert_eq!(b.text("h1").await, "信用报告审核");
    b.click(&format!("#review-{first} button[type=submit]:not(.secondary)")).await;
    assert_eq!(b.text("#notice").await, "已通过：征信机构将报告发给用户。");
    assert!(!b.has(&format!("#review-{first}")).await, "decided: no longer in the queue");
    b.assert_accessible("credit reviews approved zh-CN").await;
    assert_eq!(state_of(&s, &first).await, ("ready".to_owned(), None));

    // Rejected in zh-HK while the cashier is down: the request ends rejected; its refund waits on the page.
    let m = serde_json::json!({"institution": "payment", "minutes": 30});
    let res = reqwest::Client::new().post(format!("{}/sandbox/v1/maintenance", s.sandbox)).json(&m).send().await;
    assert!(res.map(|r| r.status().is_success()).unwrap_or(false));
    b.click("button[name=lang][value=zh-HK]").await;
    b.click(&format!("#review-{second} button.secondary")).await;
    assert_eq!(b.text("#notice").await, "已拒絕：申請已結束，用戶會看到原因。");
    assert!(b.has("#no-credit-reviews").await);
    let refund = b.text(&format!("#refund-{second}")).await;
    assert!(refund.contains("審核未通過") && refund.contains("25"), "the refund waits, in words: {refund}");
    b.assert_accessible("credit reviews empty zh-HK").await;
    assert_eq!(state_of(&s, &second).await, ("rejected".to_owned(), Some("rejected_on_review".to_owned())));
    b.close().await;
}

/// The review queue in `docs/screenshots/console-credit-reviews.png` (not
/// part of the suite). Regenerate with
/// `cargo test -p idlink --test it console::credit::screenshot -- --ignored`.
#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshot() {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[], rt.clone()).await;
    let rex = staff(&s, &rt, "rex", &[Role::Reviewer]).await;
    held(&s, "13700000181").await;
    clock.advance(jiff::SignedDuration::from_hours(3));
    held(&s, "13700000182").await;
    clock.advance(jiff::SignedDuration::from_hours(22));
    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &rex).await;
    b.goto(&s.url("/console/credit-reviews")).await;
    crate::h5::screenshots::shot(&b, "console-credit-reviews").await;
    b.close().await;
}
