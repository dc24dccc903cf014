//! Console journeys in the browser: sign-in with TOTP (a wrong code first),
//! the queue with a breached SLA, claim / release / reject with a reason;
//! dual control across two reviewers; an auditor who can only read; the
//! lockout and its end. axe on every page state.

use super::{Staff, frozen_user_case, staff};
use crate::h5::Browser;
use crate::{Server, start_full};
use fantoccini::Locator;
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use serde_json::json;
use std::sync::Arc;

pub(super) async fn server(db: idlink_store::testing::TestDb) -> (Server, Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let s = start_full(db, &[], rt.clone()).await;
    (s, rt, clock)
}

pub(super) async fn sqlite() -> idlink_store::testing::TestDb {
    idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Fills the sign-in form and submits it (the browser is on the sign-in page).
pub(super) async fn submit_sign_in(b: &Browser, who: &Staff, code: &str) {
    b.fill("#username", &who.username).await;
    b.fill("#password", &who.password).await;
    b.fill("#totp", code).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
}

pub(crate) async fn sign_in(b: &Browser, s: &Server, rt: &Runtime, who: &Staff) {
    b.goto(&s.url("/console/sign-in")).await;
    submit_sign_in(b, who, &who.code(rt)).await;
    assert_eq!(b.path().await, "/console/cases", "{} signed in", who.username);
}

async fn select(b: &Browser, css: &str, value: &str) {
    b.client
        .execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(css), json!(value)])
        .await
        .unwrap_or_else(|e| panic!("select {css}: {e}"));
}

/// A reviewer signs in (wrong code first: the error is focused and says what
/// to do), sees the case in the queue counting down, then past its SLA in
/// red with words; filters, claims, releases, claims again, and rejects with
/// a reason (first without one: refused). The idle timeout then ends the session.
#[tokio::test]
async fn a_reviewer_signs_in_with_totp_and_rejects_a_breached_case_with_a_reason() {
    let (s, rt, clock) = server(sqlite().await).await;
    let alice = staff(&s, &rt, "alice", &[Role::Reviewer]).await;
    let case = frozen_user_case(&s, &rt, "13900001111", 2).await;
    let b = Browser::open(true).await;

    b.goto(&s.url("/console/cases")).await;
    assert_eq!(b.path().await, "/console/sign-in", "the queue needs a signed-in operator");
    assert_eq!(b.text("h1").await, "运营人员登录");
    b.assert_accessible("console sign-in").await;

    submit_sign_in(&b, &alice, &alice.wrong_code(&rt)).await;
    assert_eq!(b.path().await, "/console/sign-in");
    assert!(b.text("#password-error").await.contains("用户名、密码或动态码有误"), "{}", b.text("main").await);
    assert_eq!(b.focus_on("password").await, "password", "the first field in error has the focus");
    assert_eq!(b.attr("#password", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(b.attr("#username", "value").await.as_deref(), Some("alice"), "the username is kept");
    b.assert_accessible("console sign-in refused").await;

    submit_sign_in(&b, &alice, &alice.code(&rt)).await;
    assert_eq!(b.path().await, "/console/cases");
    assert_eq!(b.text("h1").await, "审核队列");
    assert!(b.text("#who").await.contains("alice") && b.text("#who").await.contains("审核员"));
    let row = format!("#row-{case}");
    assert!(b.text(&row).await.contains("剩余 5 分钟"), "{}", b.text(&row).await);
    assert!(b.text(&row).await.contains("风险冻结"));
    assert!(b.text(&row).await.contains("usr_****"), "the subject is masked");
    assert_eq!(b.attr("#queue", "hx-trigger").await.as_deref(), Some("every 30s"), "the list refreshes itself");
    b.assert_accessible("console queue").await;

    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Review queue");
    clock.advance(jiff::SignedDuration::from_mins(7));
    b.click("#refresh").await;
    let text = b.text(&row).await;
    assert!(text.contains("Breached") && text.contains("SLA breached 2 min ago"), "the breach is said in words: {text}");
    assert_eq!(b.attr(&row, "class").await.as_deref(), Some("breached"));
    b.assert_accessible("console queue with a breach").await;

    // The breach board lists it, how late, and whether the on-duty operators were paged.
    assert!(b.text("nav").await.contains("Breach board"));
    // An account cancellation asked on 6 November, due at the end of 27 November, still waiting for a host store (CP).
    let user = crate::events::scalar(&s, &format!("SELECT subject FROM review_cases WHERE id = '{case}'")).await;
    let (asked, due) = ("2026-11-06T02:00:00Z", "2026-11-27T16:00:00Z");
    let micros = |t: &str| t.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()).unwrap_or_default();
    let late = format!(
        "INSERT INTO revocations (id, user_id, operation, phase, done, committing, reason, deadline, due_at, due_provisional, closed_at, version, created_at, updated_at) \
         VALUES ('rvk_late', '{user}', 'cancel_account', 'forward', 3, 1, NULL, {a}, {d}, 0, NULL, 7, {a}, {a})",
        a = micros(asked),
        d = micros(due)
    );
    crate::events::sql(&s, &late).await;
    b.click("nav a[href='/console/breaches']").await;
    assert_eq!(b.text("h1").await, "SLA breaches");
    let board = b.text(&format!("#breach-{case}")).await;
    assert!(board.contains("2 min overdue"), "the board says how late: {board}");
    assert!(board.contains("Escalated at") || board.contains("Not paged"), "and the escalation: {board}");
    let cancellation = b.text("#cancellation-rvk_late").await;
    assert!(cancellation.contains("27 November 2026"), "its due day: {cancellation}");
    assert!(cancellation.contains("2 days") && cancellation.contains("Running: waiting for a host store"), "{cancellation}");
    // Its saga is also past its window (asked 24 days ago): listed with the revocations waiting for a store.
    let stuck = b.text("#stuck-rvk_late").await;
    assert!(stuck.contains("24 days") && stuck.contains("Running: waiting for a host store"), "{stuck}");
    b.assert_accessible("breach board").await;
    b.click("nav a[href='/console/cases']").await;

    // Filters: only breached, only mine (none yet).
    b.client.execute("document.querySelector('#f-breached').checked = true;", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.click("#apply-filters").await;
    assert!(b.has(&row).await, "the breached case is listed");
    select(&b, "#f-assignee", "me").await;
    b.click("#apply-filters").await;
    assert!(b.has("#no-cases").await && !b.has(&row).await, "not claimed by me yet");
    b.assert_accessible("console queue filtered to nothing").await;

    b.goto(&s.url(&format!("/console/cases/{case}"))).await;
    assert_eq!(b.text("#assignee").await, "Not claimed");
    assert!(b.text("#sla").await.contains("Breached"));
    assert!(b.text("#subject").await.contains("user id ending"), "masked id in words for screen readers");
    let what = b.text("#what").await;
    assert!(
        what.contains("usr_****") && what.split("usr_").skip(1).all(|rest| rest.starts_with('*')),
        "the freeze's reference is masked too: {what}"
    );
    b.assert_accessible("console case").await;
    b.click("#claim").await;
    assert_eq!(b.text("#notice").await, "You claimed this case.");
    assert_eq!(b.text("#assignee").await, "alice");
    b.assert_accessible("console case claimed").await;
    b.click("#release").await;
    assert_eq!(b.text("#assignee").await, "Not claimed");
    b.click("#claim").await;

    b.click("#reject").await;
    assert!(b.text("#refusal").await.contains("Choose a reason"), "a rejection needs a reason");
    b.assert_accessible("console reject refused").await;
    select(&b, "#reason", "suspected_fraud").await;
    b.fill("#reject-note", "logins from three provinces").await;
    b.click("#reject").await;
    assert_eq!(b.text("#notice").await, "Rejected: the case is closed.");
    assert_eq!(b.text("#status").await, "Rejected");
    let history = b.text("#history").await;
    assert!(history.contains("claimed the case") && history.contains("released the case"), "{history}");
    assert!(history.contains("alice") && history.contains("Suspected fraud: logins from three provinces"), "{history}");
    assert!(!b.has("#approve").await, "a decided case offers no actions");
    b.assert_accessible("console case rejected").await;

    // 31 minutes without a request: the idle timeout ends the session.
    clock.advance(jiff::SignedDuration::from_mins(31));
    b.goto(&s.url("/console/cases")).await;
    assert_eq!(b.path().await, "/console/sign-in", "an idle session is refused");
    b.close().await;
}

/// Dual control in zh-HK: the first reviewer's approval is step 1 and the
/// console then refuses them the next step, saying why; a second reviewer
/// approves. An auditor sees the queue and the case but no action.
#[tokio::test]
async fn a_two_step_case_needs_a_second_reviewer_and_an_auditor_only_reads() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let alice = staff(&s, &rt, "alice", &[Role::Reviewer]).await;
    let bob = staff(&s, &rt, "bob", &[Role::Reviewer]).await;
    let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
    let case = frozen_user_case(&s, &rt, "13900002222", 2).await;
    let b = Browser::open(true).await;

    sign_in(&b, &s, &rt, &alice).await;
    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "審核隊列");
    b.goto(&s.url(&format!("/console/cases/{case}"))).await;
    b.click("#approve").await;
    assert_eq!(b.text("#notice").await, "已記錄您的通過意見。下一步須由另一位審核員處理。");
    assert_eq!(b.text("#status").await, "待處理");
    assert!(b.text("#second-needed").await.contains("雙人覆核"), "the console says why alice cannot go on");
    assert!(!b.has("#approve").await && !b.has("#reject").await, "no second step is offered to the same reviewer");
    b.assert_accessible("console case after step 1").await;
    b.click("form[action='/console/sign-out'] button").await;
    assert_eq!(b.path().await, "/console/sign-in");

    sign_in(&b, &s, &rt, &bob).await;
    b.goto(&s.url(&format!("/console/cases/{case}"))).await;
    assert!(!b.has("#second-needed").await);
    b.click("#approve").await;
    assert_eq!(b.text("#status").await, "已通過");
    let history = b.text("#history").await;
    assert!(
        history.contains("alice") && history.contains("通過第 1 步") && history.contains("bob") && history.contains("通過第 2 步"),
        "{history}"
    );
    b.assert_accessible("console case approved by two").await;
    b.click("form[action='/console/sign-out'] button").await;

    let other = frozen_user_case(&s, &rt, "13900003333", 2).await;
    sign_in(&b, &s, &rt, &carol).await;
    assert!(b.text("#who").await.contains("審計員"));
    assert!(b.has(&format!("#row-{other}")).await, "an auditor sees the queue");
    b.goto(&s.url(&format!("/console/cases/{other}"))).await;
    assert!(b.has("#read-only").await);
    assert!(!b.has("#claim").await && !b.has("#approve").await && !b.has("#reject").await, "an auditor cannot act");
    b.assert_accessible("console case for an auditor").await;
    b.close().await;
}

/// With JavaScript off: five wrong sign-ins lock the operator; the sixth,
/// with the right code, gets the same refusal; 15 minutes later the lock
/// has ended by itself. The queue is a plain page with a refresh link.
#[tokio::test]
async fn five_failures_lock_sign_in_until_the_delay_passes_with_javascript_off() {
    let (s, rt, clock) = server(sqlite().await).await;
    let dave = staff(&s, &rt, "dave", &[Role::Admin]).await;
    let b = Browser::open(false).await;
    b.goto(&s.url("/console/sign-in")).await;
    b.click("button[name=lang][value=en]").await;
    for _ in 0..5 {
        submit_sign_in(&b, &dave, &dave.wrong_code(&rt)).await;
    }
    submit_sign_in(&b, &dave, &dave.code(&rt)).await;
    assert_eq!(b.path().await, "/console/sign-in", "locked: the right code is refused too");
    let error = b.text("#password-error").await;
    assert!(error.contains("locked for a while") && error.contains("wait 15 minutes"), "{error}");
    b.assert_accessible("console sign-in locked").await;
    let actions = super::audit_actions(&s).await;
    assert!(actions.iter().any(|(_, a, o)| a == "operator.lock" && o == "denied"), "the 5th failure is recorded as the lock");
    assert!(actions.iter().any(|(_, a, _)| a == "operator.sign_in_locked"), "the refused 6th says locked in the audit log");

    clock.advance(jiff::SignedDuration::from_mins(16));
    submit_sign_in(&b, &dave, &dave.code(&rt)).await;
    assert_eq!(b.path().await, "/console/cases", "the lock ended by itself");
    assert!(b.has("#no-cases").await);
    let refresh = b.attr("#refresh", "href").await.unwrap_or_default();
    assert!(refresh.ends_with("/console/cases"), "without JavaScript a link refreshes: {refresh}");
    assert!(b.client.find(Locator::Css("nav a[aria-current=page]")).await.is_ok(), "the queue is the current section");
    b.assert_accessible("console queue without JavaScript").await;
    b.close().await;
}

/// Dual control of a master-key rotation in English: one admin proposes it
/// on the dual-control page and cannot approve it herself; a second admin
/// approves it there and it runs once (a new active master key), both names
/// in the audit trail.
#[tokio::test]
async fn a_master_key_rotation_runs_only_when_a_second_admin_approves_it() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let alice = staff(&s, &rt, "alice", &[Role::Admin]).await;
    let bob = staff(&s, &rt, "bob", &[Role::Admin]).await;
    use idlink_core::ports::keys::KeyStore;
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let masters = async || store.count_keys_by_master().await.unwrap_or_default().into_iter().map(|(m, _)| m).collect::<Vec<_>>();
    let keys_before = masters().await;
    assert!(!keys_before.is_empty(), "data keys exist under a master key");
    let b = Browser::open(true).await;

    sign_in(&b, &s, &rt, &alice).await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/proposals']").await;
    assert_eq!(b.text("h1").await, "Actions waiting for a second operator");
    assert!(b.has("#no-proposals").await);
    b.assert_accessible("dual control, nothing pending").await;
    b.fill("#rotate-note", "yearly rotation").await;
    b.click("#propose-rotation").await;
    assert_eq!(b.text("#notice").await, "Proposed. A second operator must approve it.");
    let item = b.text("#proposals").await;
    assert!(item.contains("Rotate the master key") && item.contains("Proposed by alice"), "{item}");
    assert!(item.contains("You proposed this"), "{item}");
    assert!(!b.has("form[action$='/approve']").await, "the proposer is offered no approval");
    b.assert_accessible("dual control, own proposal").await;
    assert_eq!(masters().await, keys_before, "nothing ran yet");
    b.click("form[action='/console/sign-out'] button").await;

    sign_in(&b, &s, &rt, &bob).await;
    b.goto(&s.url("/console/proposals")).await;
    b.click("form[action$='/approve'] button").await;
    assert_eq!(b.text("#notice").await, "Approved: the action ran.");
    assert!(b.has("#no-proposals").await, "nothing is pending any more");
    b.assert_accessible("dual control, approved").await;
    let keys_after = masters().await;
    assert!(keys_after.iter().all(|m| !keys_before.contains(m)), "every data key re-wrapped under a new master key: {keys_after:?}");
    let actions = super::audit_actions(&s).await;
    assert!(actions.iter().any(|(_, a, _)| a == "dual.propose") && actions.iter().any(|(_, a, _)| a == "dual.approve"), "{actions:?}");
    b.close().await;
}

/// The audit explorer in simplified Chinese for an auditor: a filter finds
/// the sign-in records with their hash links; "verify the chain" says it is
/// intact; after one changed byte in a record (this test's own database,
/// guards dropped) it names that record, as `idlink audit verify` does.
#[tokio::test]
async fn the_audit_explorer_finds_records_and_names_a_tampered_one() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &carol).await;
    b.click("nav a[href='/console/audit']").await;
    assert_eq!(b.text("h1").await, "审计查询");
    b.fill("#a-action", "operator.sign_in").await;
    b.click("#search").await;
    let records = b.text("#records").await;
    assert!(records.contains("operator.sign_in") && records.contains("完成"), "{records}");
    assert!(b.has("#records .hash code").await, "each record shows its hash and the previous one");
    b.assert_accessible("audit explorer, a search").await;
    b.click("#verify").await;
    assert!(b.text("#verdict").await.starts_with("哈希链完整"), "{}", b.text("#verdict").await);
    b.assert_accessible("audit explorer, chain intact").await;

    crate::audit::drop_guards(&s.db).await;
    idlink_store::testing::execute(&s.db.store, "UPDATE audit_log SET purpose = purpose || '.' WHERE seq = 2")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.click("#verify").await;
    let verdict = b.text("#verdict").await;
    assert!(verdict.contains("问题出在第 2 条记录") && verdict.contains("record 2"), "the first bad record is named: {verdict}");
    b.assert_accessible("audit explorer, chain broken").await;
    b.close().await;
}

/// Reports and retention in traditional Chinese for an auditor: the
/// retention table says what is kept at least how long; a malformed quarter
/// is refused in words, a finished one lists its signed files, and the CSV
/// downloads with its header; the current quarter is refused until it ends.
#[tokio::test]
async fn an_auditor_gets_the_quarterly_report_and_the_retention_status() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &carol).await;
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("nav a[href='/console/retention']").await;
    assert_eq!(b.text("h1").await, "資料保存與法律保全");
    let retention = b.text("#retention").await;
    assert!(retention.contains("銀行卡查詢日誌") && retention.contains("5 年") && retention.contains("6 個月"), "{retention}");
    b.assert_accessible("retention").await;
    b.click("nav a[href='/console/reports']").await;
    assert_eq!(b.text("h1").await, "監管報表");
    b.assert_accessible("reports").await;

    b.fill("#quarter", "2026-3").await;
    b.click("#generate").await;
    assert!(b.text("#reports-error").await.contains("2026Q3"), "a malformed quarter is refused in words");
    b.fill("#quarter", "2026Q4").await;
    b.click("#generate").await;
    assert!(b.has("#reports-error").await && !b.has("#report-files").await, "the current quarter has not ended");
    b.fill("#quarter", "2026Q3").await;
    b.click("#generate").await;
    let files = b.text("#report-files").await;
    assert!(files.contains("queries.csv") && files.contains("manifest.sig"), "{files}");
    b.assert_accessible("a generated report").await;

    let cookie = b.client.get_named_cookie("idlink_operator").await.map(|c| c.value().to_owned()).unwrap_or_default();
    let csv = reqwest::Client::new()
        .get(s.url("/console/reports/2026Q3/queries.csv"))
        .header("cookie", format!("idlink_operator={cookie}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(csv.status().as_u16(), 200);
    let text = csv.text().await.unwrap_or_default();
    assert!(text.starts_with("query_id,at,user,bank,channel,precision,outcome,reason"), "{text}");
    b.close().await;
}
