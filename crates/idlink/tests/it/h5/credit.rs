//! The credit-report pages in a phone browser (SPEC CR1–CR5, issue 15):
//! the quote, a request behind the payment password (a wrong one refused at
//! its field), verification by a bound card and its bank's code (a wrong
//! code refused at its field), the report ready with its download; the
//! request's page in English and in elder mode; axe on every state. A form
//! client checks the request, the face check and the PDF download on both
//! databases, and that the PDF opens only in the session that made its link.

use super::cards::{form_log_in, session_token};
use super::{Browser, FormClient, log_in};
use crate::cards::{bind, confirm, ensure_payment_password};
use crate::credit::id_number;
use crate::reviews::verify_resident;
use crate::{databases, sqlite_server, start_with};

#[tokio::test]
async fn a_user_asks_for_the_report_and_verifies_with_a_bound_card_in_the_pages() {
    let s = sqlite_server().await;
    let phone = "13700000141";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    verify_resident(&s, &token, phone, "张三丰", &id_number(phone, "141")).await;
    ensure_payment_password(&s, &token, phone).await;
    let card = crate::identity::icbc_card("5141");
    let pending: serde_json::Value = bind(&s, &token, &card, phone).await.json().await.unwrap_or_default();
    let code = s.last_code(phone).await;
    confirm(&s, &token, pending["id"].as_str().unwrap_or(""), &code).await;

    b.goto(&s.url("/h5/")).await;
    b.click("a[href='/h5/credit']").await;
    assert_eq!(b.text("h1").await, "我的信用报告");
    assert_eq!(b.text("#quote").await, "今年还可免费查询 2 次。");
    assert!(b.has("#no-requests").await);
    b.assert_accessible("credit, no request yet").await;

    // A wrong payment password is refused at its field, with the tries left.
    b.fill("#password", "000000").await;
    b.click("#ask").await;
    assert!(b.text("#password-error").await.contains("支付密码"), "{}", b.text("#password-error").await);
    assert_eq!(b.focus_on("password").await, "password");
    b.assert_accessible("credit, password refused").await;
    b.fill("#password", "135790").await;
    b.click("#ask").await;
    let path = b.path().await;
    assert!(path.starts_with("/h5/credit/crq_"), "the request's page: {path}");
    assert_eq!(b.text("#state").await, "等待您验证身份");
    assert!(b.text("#fee").await.contains("免费"));
    b.assert_accessible("credit request, verification").await;

    // By bank card: the bank's code to the card's phone; a wrong code is refused at its field.
    b.fill("#reserved_phone", phone).await;
    b.click("#send-code").await;
    assert_eq!(b.text("#notice").await, "银行已将验证码发送到该卡的预留手机。");
    let code = s.last_code(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    b.fill("#code", wrong).await;
    b.click("#confirm-code").await;
    assert!(b.text("#code-error").await.contains("验证码不正确"), "{}", b.text("main").await);
    assert_eq!(b.focus_on("code").await, "code");
    b.assert_accessible("credit request, wrong bank code").await;
    b.fill("#code", &code).await;
    b.click("#confirm-code").await;
    assert_eq!(b.text("#state").await, "报告已生成");
    assert!(b.text("#pages").await.starts_with("共 "), "{}", b.text("#pages").await);
    assert!(b.has("#download").await && b.text("#downloads").await == "尚未下载");
    b.assert_accessible("credit request, ready").await;

    // In English and elder mode.
    b.click("button[name=lang][value=en]").await;
    b.click("button[name=elder][value='1']").await;
    assert_eq!(b.attr("body", "class").await.as_deref(), Some("elder"));
    assert_eq!(b.text("#state").await, "Your report is ready");
    assert!(b.text("#link-note").await.contains("24 hours"));
    b.assert_accessible("credit request, ready, English elder").await;
    b.click("#back-credit").await;
    assert!(b.text("#quote").await.contains("1 free report left"), "{}", b.text("#quote").await);
    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "我的信用報告");
    b.assert_accessible("credit, one ready, zh-HK elder").await;

    // Alerts when the record changes: on, then off.
    assert_eq!(b.text("#alerts-state").await, "提醒未開啟。");
    b.click("#alerts-toggle").await;
    assert_eq!(b.text("#notice").await, "提醒已開啟。以您記錄的當前狀態為起點。");
    assert!(b.text("#alerts-state").await.starts_with("提醒已開啟"), "{}", b.text("#alerts-state").await);
    b.assert_accessible("credit, alerts on, zh-HK elder").await;
    b.click("#alerts-toggle").await;
    assert_eq!(b.text("#alerts-state").await, "提醒未開啟。");
    b.close().await;
}

#[tokio::test]
async fn the_pages_verify_by_face_and_download_the_pdf_in_their_session_only() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        let phone = "13700000142";
        let mut c = FormClient::new(&s);
        let token = form_log_in(&mut c, &s, phone).await;
        verify_resident(&s, &token, phone, "张三丰", &id_number(phone, "142")).await;
        ensure_payment_password(&s, &token, phone).await;
        assert_eq!(c.get("/h5/credit").await.status().as_u16(), 200);
        let res = c.post("/h5/credit", &[("password", "135790"), ("accepted_fee_fen", "0")]).await;
        let at = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(at.starts_with("/h5/credit/crq_"), "{}: {at}", s.kind);
        let res = c.post(&format!("{at}/face"), &[("liveness", "sandbox:pass")]).await;
        assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(format!("{at}?done=verified").as_str()));
        let page = c.get(&at).await.text().await.unwrap_or_default();
        assert!(page.contains("报告已生成"), "{}", s.kind);

        // The link leads to the PDF in this session; counted.
        let res = c.post(&format!("{at}/link"), &[]).await;
        let pdf_at = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(pdf_at.starts_with(&format!("{at}/pdf?expires=")), "{}: {pdf_at}", s.kind);
        let res = c.get(&pdf_at).await;
        assert_eq!(res.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"), "{}", s.kind);
        assert!(res.bytes().await.unwrap_or_default().starts_with(b"%PDF"));
        assert!(c.get(&at).await.text().await.unwrap_or_default().contains("已下载 1 次"), "{}", s.kind);

        // A new session (logged out and in again on this phone) does not open it.
        c.post("/h5/logout", &[]).await;
        form_log_in(&mut c, &s, phone).await;
        let res = c.get(&pdf_at).await;
        assert_eq!(res.status().as_u16(), 403, "{}", s.kind);
        assert!(res.text().await.unwrap_or_default().contains("下载链接在本设备上无效"));
    }
}

/// The credit-report pages at phone size, normal and elder mode, in
/// `docs/screenshots/` (not part of the suite: it writes into the
/// repository). Regenerate with
/// `cargo test -p idlink --test it h5::credit::screenshots -- --ignored`.
#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshots() {
    use super::screenshots::shot;
    let s = sqlite_server().await;
    for (elder, phone) in [(false, "13700000171"), (true, "13700000172")] {
        let suffix = if elder { "-elder" } else { "" };
        let b = Browser::open(true).await;
        log_in(&b, &s, phone).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        let token = session_token(&b).await;
        verify_resident(&s, &token, phone, "张三丰", &id_number(phone, "171")).await;
        ensure_payment_password(&s, &token, phone).await;
        let card = crate::identity::icbc_card(&phone[phone.len() - 4..]);
        let pending: serde_json::Value = bind(&s, &token, &card, phone).await.json().await.unwrap_or_default();
        let code = s.last_code(phone).await;
        confirm(&s, &token, pending["id"].as_str().unwrap_or(""), &code).await;
        b.goto(&s.url("/h5/credit")).await;
        shot(&b, &format!("credit{suffix}")).await;
        b.fill("#password", "135790").await;
        b.click("#ask").await;
        shot(&b, &format!("credit-verify{suffix}")).await;
        b.fill("#reserved_phone", phone).await;
        b.click("#send-code").await;
        shot(&b, &format!("credit-code{suffix}")).await;
        let code = s.last_code(phone).await;
        b.fill("#code", &code).await;
        b.click("#confirm-code").await;
        shot(&b, &format!("credit-ready{suffix}")).await;
        b.close().await;
    }
}
