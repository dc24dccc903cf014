//! The revocation preflight page in a phone browser (SPEC RV1, issue 17):
//! every blocker of an account at once, each with what it concerns and the
//! host app's deep link where one is configured; cleared and checked
//! again; the account-closing variant in English and zh-HK; elder mode;
//! axe on every state.

use super::cards::session_token;
use super::{Browser, log_in};
use crate::cards::get_json;
use crate::reviews::verify_resident;
use crate::revocation::{everything, holdings};
use serde_json::json;

#[tokio::test]
async fn a_user_sees_every_blocker_with_its_action_and_checks_again() {
    let s = crate::start_with(
        idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}")),
        &[
            ("IDLINK__REVOCATION__APP_SCHEME", "hostapp"),
            ("IDLINK__REVOCATION__LINKS__WITHDRAW_BALANCE", "hostapp://wallet/withdraw"),
            ("IDLINK__REVOCATION__LINKS__REPAY_LOANS", "https://loans.host.example/repay"),
        ],
    )
    .await;
    let phone = "13700000291";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "291")).await;
    let user = get_json(&s, "/v1/me", &token).await["user_id"].as_str().unwrap_or("").to_owned();
    holdings(&s, &user, everything()).await;

    b.goto(&s.url("/h5/")).await;
    b.click("a[href='/h5/revocation']").await;
    assert_eq!(b.text("h1").await, "撤销实名认证");
    assert_eq!(b.text("#asked").await, "已检查：钱包、借贷、订阅、企业和公众号，以及 idlink 自身的规则。");
    assert_eq!(b.text("#blockers-title").await, "有 6 项需要先处理");
    let first = b.text("#blocker-1").await;
    assert!(first.contains("钱包还有余额（0.01 元也算）") && first.contains("0.01"), "{first}");
    assert_eq!(b.attr("#blocker-1 a.button", "href").await.as_deref(), Some("hostapp://wallet/withdraw"));
    assert_eq!(b.text("#blocker-1 a.button").await, "提现或用完余额");
    let packet = b.text("#blocker-3").await;
    assert!(packet.contains("张**") && !b.text("main").await.contains("张三丰"), "{packet}");
    assert_eq!(b.attr("#blocker-4 a.button", "href").await.as_deref(), Some("https://loans.host.example/repay"));
    assert_eq!(b.text("#blocker-5 .action").await, "关闭自动续费", "no link configured: the action is described");
    b.assert_accessible("revocation preflight, six blockers").await;

    // The user withdraws, repays, cancels…: checked again, nothing stands in the way.
    holdings(&s, &user, json!({})).await;
    b.click("#check-again").await;
    assert_eq!(b.text("#clear").await, "没有需要先处理的事项。");
    assert!(!b.has("#blockers").await);

    // Closing the whole account, in English, then in zh-HK and elder mode.
    holdings(&s, &user, json!({"contracts": ["Video Plus"]})).await;
    b.click("button[name=lang][value=en]").await;
    b.click("a[href='/h5/revocation?operation=cancel_account']").await;
    assert_eq!(b.text("h1").await, "Close my account");
    assert_eq!(b.attr("a[aria-current=page]", "href").await.as_deref(), Some("/h5/revocation?operation=cancel_account"));
    assert_eq!(b.text("#blockers-title").await, "One thing stands in the way");
    assert!(b.text("#blocker-1").await.contains("An automatic renewal or payment is still on"), "{}", b.text("main").await);
    b.assert_accessible("account closing, one blocker, en").await;
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("button[name=elder][value='1']").await;
    assert_eq!(b.text("h1").await, "註銷帳戶");
    assert!(b.text("#blocker-1").await.contains("仍有開啟中的自動續費或自動扣款"));
    b.assert_accessible("account closing, zh-HK, elder").await;
    b.close().await;
}

#[tokio::test]
async fn a_user_revokes_the_real_name_with_the_payment_password_and_follows_it() {
    // The page's own look drives the saga here: the background drive (every 5 s by default) is put off, or it
    // could close the account between two looks and the refresh would land on the login page.
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_with(db, &[("IDLINK__REVOCATION__DRIVE_SECS", "3600")]).await;
    let phone = "13700000292";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "292")).await;
    crate::cards::ensure_payment_password(&s, &token, phone).await;

    b.goto(&s.url("/h5/revocation")).await;
    assert_eq!(b.text("#clear").await, "没有需要先处理的事项。");
    assert_eq!(b.text("#confirm-title").await, "立即撤销实名认证");
    b.assert_accessible("revocation, clear, confirm form").await;
    let small = super::every_page::small_targets(&b, 44.0).await;
    assert!(small.is_empty(), "the confirm form's tap targets ≥ 44 × 44 px: {small:?}");
    // A wrong password is refused at its field, with the tries left; nothing starts.
    b.fill("#password", "000000").await;
    b.click("#confirm").await;
    assert!(b.text("#password-error").await.contains("2"), "{}", b.text("main").await);
    assert_eq!(b.focus_on("password").await, "password");
    assert!(!b.has("#latest").await, "nothing started");
    b.assert_accessible("revocation, password refused").await;

    b.fill("#password", "135790").await;
    b.click("#confirm").await;
    assert_eq!(b.path().await, "/h5/revocation/status");
    assert_eq!(b.text("#headline").await, "撤销实名认证：已完成");
    assert_eq!(b.client.find_all(fantoccini::Locator::Css("#steps li.done")).await.map(|l| l.len()).unwrap_or(0), 4);
    assert!(b.text("#when").await.starts_with("结束于"), "{}", b.text("#when").await);
    assert!(!b.has("#refresh").await, "a final saga has nothing to refresh");
    let after = b.text("#after").await;
    assert!(after.contains("每日最多可收款 ¥2,000.00") && after.contains("提现暂停至") && after.contains("自动扣款已全部终止"), "{after}");
    b.assert_accessible("revocation status, committed").await;
    // The status page meets what every page meets (h5::every_page): 44 px targets, and in elder mode
    // 60 px targets and large text without sideways scrolling.
    let small = super::every_page::small_targets(&b, 44.0).await;
    assert!(small.is_empty(), "tap targets ≥ 44 × 44 px: {small:?}");
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("#headline").await, "Revoke my real name: done");
    b.click("button[name=elder][value='1']").await;
    b.assert_accessible("revocation status, en, elder").await;
    let mut faults = Vec::new();
    super::every_page::elder_measures(&b, "/h5/revocation/status", &mut faults).await;
    assert!(faults.is_empty(), "elder mode falls short:\n{}", faults.join("\n"));
    // The real name is gone: the preflight page now opens the account-closing check.
    b.click("#back-preflight").await;
    assert_eq!(b.text("h1").await, "Close my account");
    assert!(b.text("#latest").await.starts_with("Revoke my real name: done"), "{}", b.text("#latest").await);

    // Then the account itself (CP), while the directories store is silent: the status page says by which day it
    // is closed, 15 working days on with public holidays counted.
    crate::revocation::script(&s, "directories", "changes_down", 0).await;
    b.fill("#password", "135790").await;
    b.click("#confirm").await;
    assert_eq!(b.path().await, "/h5/revocation/status");
    assert_eq!(b.text("#headline").await, "Close my account: under way");
    let now = s.running.as_ref().map(|r| r.clock.now()).unwrap_or_default();
    let (due, provisional) = idlink_domain::working_days::WorkingDays::bundled().due(now, 15);
    let last_day = idlink_domain::working_days::last_day(due);
    let text = b.text("#due").await;
    assert!(
        text.starts_with(&format!("We close your account by the end of {} at the latest: 15 working days", last_day.strftime("%-d %B %Y"))),
        "{text}"
    );
    assert_eq!(b.has("#due-provisional").await, provisional, "{text}");
    b.assert_accessible("account closing status, due day, en, elder").await;
    // The store answers again: the next look commits and closes it; the session ended with the account.
    crate::revocation::script(&s, "directories", "ok", 0).await;
    b.click("#refresh").await;
    assert_eq!(b.text("#headline").await, "Close my account: closed, and its data can no longer be read");
    assert!(!b.has("#due").await, "a closed account has no due day any more");
    b.goto(&s.url("/h5/")).await;
    assert_eq!(b.path().await, "/h5/login", "the session ended with the account");
    b.close().await;
}

/// RV3: a passport holder's request goes to an operator first. The
/// preflight names the review with the button that asks for it; asked, it
/// says by when the answer comes; a reviewer sees the request in the
/// console, with the document it rests on, and approves it; checked again,
/// nothing stands in the way.
#[tokio::test]
async fn a_passport_holder_asks_for_the_review_and_a_reviewer_approves_it_in_the_console() {
    use idlink_core::ports::operators::Role;
    let rt = idlink::serve::Runtime::default();
    let s = crate::start_full(idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}")), &[], rt.clone()).await;
    let (alice, bob) = (
        crate::reviews::operator(&s, &rt, "alice", &[Role::Reviewer]).await,
        crate::reviews::operator(&s, &rt, "bob", &[Role::Reviewer]).await,
    );
    let rita = crate::console::staff(&s, &rt, "rita", &[Role::Reviewer]).await;
    let phone = "13700000293";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    crate::revocation::verify_passport(&s, [&alice, &bob], &token, phone, "E32345678").await;

    b.goto(&s.url("/h5/revocation")).await;
    assert_eq!(b.text("#blockers-title").await, "有 1 项需要先处理");
    assert_eq!(b.attr("#blocker-1", "data-code").await.as_deref(), Some("review_required"));
    let first = b.text("#blocker-1").await;
    assert!(first.contains("此申请须先经人工审核") && first.contains("您的实名基于护照或通行证"), "{first}");
    assert_eq!(b.text("#ask-review").await, "申请审核");
    b.assert_accessible("revocation preflight, review required").await;
    b.click("#ask-review").await;
    assert!(b.text("#notice").await.starts_with("您的申请已提交审核"), "{}", b.text("main").await);
    assert_eq!(b.attr("#blocker-1", "data-code").await.as_deref(), Some("review_pending"));
    assert!(b.text("#blocker-1 .when").await.starts_with("我们力争于"), "{}", b.text("#blocker-1").await);
    assert!(!b.has("#ask-review").await, "asked: nothing to press but wait");
    b.assert_accessible("revocation preflight, review pending").await;
    b.click("button[name=lang][value=en]").await;
    b.click("button[name=elder][value='1']").await;
    assert!(b.text("#blocker-1").await.contains("Our staff are reviewing this request"), "{}", b.text("#blocker-1").await);
    b.assert_accessible("revocation preflight, review pending, en, elder").await;
    let mut faults = Vec::new();
    super::every_page::elder_measures(&b, "/h5/revocation", &mut faults).await;
    assert!(faults.is_empty(), "elder mode falls short:\n{}", faults.join("\n"));

    // The reviewer's side: the queue names the kind; the case shows what is asked and the document, not the user's id.
    // (The same browser: the console's session cookie is its own.)
    let console = &b;
    crate::console::journeys::sign_in(console, &s, &rt, &rita).await;
    console.goto(&s.url("/console/cases?kind=revocation")).await;
    let case = console.attr("tr[id^='row-case_'] a[href^='/console/cases/case_']", "href").await.unwrap_or_default();
    assert!(console.text(&format!("#row-{}", case.trim_start_matches("/console/cases/"))).await.contains("撤销实名或注销账户"));
    console.goto(&s.url(&case)).await;
    let request = console.text("#revocation-request").await;
    assert!(request.contains("撤销实名") && request.contains("护照") && request.contains("未关联"), "{request}");
    let user = get_json(&s, "/v1/me", &token).await["user_id"].as_str().unwrap_or("").to_owned();
    assert!(!console.text("main").await.contains(&user), "the case page does not show the user's id");
    console.assert_accessible("console revocation review case").await;
    console.click("#approve").await;
    assert_eq!(console.text("#status").await, "已通过");

    b.goto(&s.url("/h5/revocation")).await;
    assert!(b.has("#clear").await, "approved: nothing stands in the way: {}", b.text("main").await);
    b.close().await;
}

/// `docs/screenshots/revocation{,-confirm,-status,-closing,-review}{,-elder}.png` and `apps-held{,-elder}.png`:
/// the preflight with a blocker of every host store; once cleared, the confirm form and the
/// revocation's status; then the account's closing while a store is silent (its due day) and an
/// app's grant on hold meanwhile; and a passport holder's request waiting for its review.
#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshots() {
    use super::screenshots::shot;
    let s = crate::sqlite_server().await;
    for (elder, phone, seq) in [(false, "13700000297", "297"), (true, "13700000298", "298")] {
        let b = Browser::open(true).await;
        log_in(&b, &s, phone).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        let token = session_token(&b).await;
        verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, seq)).await;
        let user = get_json(&s, "/v1/me", &token).await["user_id"].as_str().unwrap_or("").to_owned();
        holdings(&s, &user, everything()).await;
        b.goto(&s.url("/h5/revocation")).await;
        shot(&b, if elder { "revocation-elder" } else { "revocation" }).await;
        // Cleared, confirmed with the payment password: the status page.
        holdings(&s, &user, serde_json::json!({})).await;
        crate::cards::ensure_payment_password(&s, &token, phone).await;
        b.goto(&s.url("/h5/revocation")).await;
        shot(&b, if elder { "revocation-confirm-elder" } else { "revocation-confirm" }).await;
        b.fill("#password", "135790").await;
        b.click("#confirm").await;
        shot(&b, if elder { "revocation-status-elder" } else { "revocation-status" }).await;
        // Then the account, while the directories store is silent: its due day, and an app's grant on hold.
        let r = crate::events::Receiver::start().await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = s.running.as_ref().map(|r| r.clock.now()).unwrap_or_default();
        crate::events::app(&s, &r, &format!("cli_shot{seq}"), &uid, now.as_microsecond() - 1_000_000).await;
        crate::revocation::script(&s, "directories", "changes_down", 0).await;
        b.goto(&s.url("/h5/revocation")).await;
        b.fill("#password", "135790").await;
        b.click("#confirm").await;
        shot(&b, if elder { "revocation-closing-elder" } else { "revocation-closing" }).await;
        b.goto(&s.url("/h5/apps")).await;
        shot(&b, if elder { "apps-held-elder" } else { "apps-held" }).await;
        crate::revocation::script(&s, "directories", "ok", 0).await;
        b.close().await;
    }
    // A passport holder's request, asked for review (RV3).
    let rt = idlink::serve::Runtime::default();
    let roles = [idlink_core::ports::operators::Role::Reviewer];
    let (alice, bob) = (crate::reviews::operator(&s, &rt, "alice", &roles).await, crate::reviews::operator(&s, &rt, "bob", &roles).await);
    for (elder, phone, number) in [(false, "13700000294", "E42345678"), (true, "13700000295", "E52345678")] {
        let b = Browser::open(true).await;
        log_in(&b, &s, phone).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        let token = session_token(&b).await;
        crate::revocation::verify_passport(&s, [&alice, &bob], &token, phone, number).await;
        b.goto(&s.url("/h5/revocation")).await;
        b.click("#ask-review").await;
        shot(&b, if elder { "revocation-review-elder" } else { "revocation-review" }).await;
        b.close().await;
    }
}
