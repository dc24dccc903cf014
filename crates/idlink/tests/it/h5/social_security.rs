//! The social-security pages in a phone browser (SPEC SS2, SS3, SS5, issue
//! 16), in elder mode from the start: the six steps of a binding — the face
//! check, the card number and the bureau's code, the bank's code with the
//! hand-off for a forgotten password, the agreement, the features — then
//! the medical-payment code page, whose QR image decodes to a code idlink
//! signed, refreshed in place with the refresh said to screen readers; axe
//! on every state, and the overview in English and zh-HK.

use super::cards::session_token;
use super::{Browser, log_in};
use crate::credit::id_number;
use crate::reviews::verify_resident;
use crate::sqlite_server;

use serde_json::{Value, json};

#[tokio::test]
async fn an_elder_binds_a_card_in_six_steps_and_shows_the_medical_code() {
    let s = sqlite_server().await;
    let phone = "13700000281";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    let person = id_number(phone, "281");
    verify_resident(&s, &token, phone, "张三丰", &person).await;
    let printed: Value = reqwest::get(format!("{}/sandbox/v1/social-security/cards/{person}", s.sandbox))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();

    b.goto(&s.url("/h5/")).await;
    b.click("button[name=elder][value='1']").await;
    assert_eq!(b.attr("body", "class").await.as_deref(), Some("elder"));
    b.click("a[href='/h5/social-security']").await;
    assert_eq!(b.text("h1").await, "我的社保卡");
    assert!(b.has("#no-bindings").await);
    b.assert_accessible("social security, nothing bound, elder").await;

    // Entry: a wrong area is refused at its field; the card's area opens the binding at step 2.
    b.fill("#area_code", "12").await;
    b.click("#start").await;
    assert!(b.text("#area_code-error").await.contains("六位"), "{}", b.text("main").await);
    assert_eq!(b.focus_on("area_code").await, "area_code");
    b.assert_accessible("social security, area refused").await;
    b.fill("#area_code", "110105").await;
    b.click("#start").await;
    assert!(b.path().await.starts_with("/h5/social-security/ssb_"), "{}", b.path().await);
    assert_eq!(b.text("#state").await, "北京市 · 办理中");
    assert_eq!(b.text(".steps li[aria-current=step]").await, "身份核验");
    assert!(b.text("#deadline").await.starts_with("请在"), "{}", b.text("#deadline").await);
    b.assert_accessible("binding, identity step, elder").await;

    // Identity by face.
    b.tick("#liveness").await;
    b.click("#verify-face").await;
    assert_eq!(b.text("#notice").await, "已核验。下一步：社保卡。");
    assert_eq!(b.text(".steps li[aria-current=step]").await, "社保卡");
    b.assert_accessible("binding, card step").await;

    // The card by its number; the bureau's code (a wrong one refused at its field).
    b.fill("#card_number", printed["card_number"].as_str().unwrap_or("")).await;
    b.click("#send-card-code").await;
    assert_eq!(b.text("#notice").await, "社保局已发送短信验证码。");
    let code = s.last_code(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    b.fill("#code", wrong).await;
    b.click("#confirm-card").await;
    assert!(b.text("#code-error").await.contains("验证码错误"), "{}", b.text("main").await);
    b.assert_accessible("binding, card code refused").await;
    b.fill("#code", &code).await;
    b.click("#confirm-card").await;
    assert_eq!(b.text(".steps li[aria-current=step]").await, "金融账户");
    let shown = b.text("#card").await;
    let number = printed["card_number"].as_str().unwrap_or("");
    assert!(shown.contains('*') && !shown.contains(&number[1..6]), "masked: {shown}");
    // A forgotten payment password: the bank's own page.
    assert!(b.text("#forgot").await.contains("我们不会向您索要密码"), "{}", b.text("#forgot").await);
    let reset = b.attr("#reset-link", "href").await.unwrap_or_default();
    assert!(reset.contains("/sandbox/banks/") && reset.ends_with("/password-reset"), "{reset}");
    b.assert_accessible("binding, bank step").await;

    // The bank's code.
    let reserved = "13600000281";
    b.fill("#reserved_phone", reserved).await;
    b.click("#send-bank-code").await;
    let code = s.last_code(reserved).await;
    b.fill("#code", &code).await;
    b.click("#confirm-bank").await;
    assert_eq!(b.text(".steps li[aria-current=step]").await, "服务协议");
    assert!(b.text("#agreement").await.contains("社会保障卡移动支付服务协议"));
    b.assert_accessible("binding, agreement").await;
    b.click("#sign").await;
    assert_eq!(b.text(".steps li[aria-current=step]").await, "选择功能");
    b.assert_accessible("binding, features").await;
    b.click("#bind").await;
    assert_eq!(b.text("#state").await, "北京市 · 已绑定");
    assert_eq!(b.text("#notice").await, "您的社保卡已绑定。");
    assert!(!b.has(".steps li[aria-current=step]").await, "every step done");
    b.assert_accessible("binding, bound").await;

    // The medical-payment code: a QR image of a code idlink signed, refreshed in place and said politely.
    b.click("#show-code").await;
    assert_eq!(b.text("h1").await, "医保码");
    assert_eq!(b.attr("#qr", "aria-label").await.as_deref(), Some("您的医保支付二维码"));
    assert_eq!(b.attr("#code-status", "role").await.as_deref(), Some("status"));
    assert!(b.attr("#code-box", "hx-trigger").await.is_some_and(|t| t.starts_with("every ") && t.ends_with('s')));
    b.assert_accessible("medical code, elder").await;
    let svg = b.client.execute("return document.querySelector('#qr svg').outerHTML;", vec![]).await.unwrap_or(Value::Null);
    let first = crate::social_security::decode_qr(svg.as_str().unwrap_or(""));
    let jwks: Value = reqwest::get(s.url("/oauth2/jwks")).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let issuer: Value =
        reqwest::get(s.url("/.well-known/openid-configuration")).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let claims = idlink_core::medical_code::verify_offline(
        &first,
        &jwks,
        issuer["issuer"].as_str().unwrap_or(""),
        jiff::Timestamp::now().as_second(),
    )
    .unwrap_or_else(|e| panic!("the page's QR code is a live code: {e}"));
    assert!(claims.sub.starts_with("ssb_"));
    // The refresh the page polls for, run now: a new code in place, announced in the live region.
    let path = b.attr("#code-box", "hx-get").await.unwrap_or_default();
    b.client
        .execute("htmx.ajax('GET', arguments[0], {target: '#code-box', swap: 'innerHTML'});", vec![json!(path)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut announced = String::new();
    for _ in 0..100 {
        announced = b.text("#code-status").await;
        if !announced.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(announced.starts_with("已显示新的医保码"), "{announced}");
    let svg = b.client.execute("return document.querySelector('#qr svg').outerHTML;", vec![]).await.unwrap_or(Value::Null);
    let second = crate::social_security::decode_qr(svg.as_str().unwrap_or(""));
    assert_ne!(first, second, "a new code");
    b.assert_accessible("medical code, refreshed").await;

    // The overview in English and in zh-HK.
    b.click("#back-binding").await;
    b.click("#back-ss").await;
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "My social-security card");
    assert!(b.text("#bindings").await.contains("Bound"), "{}", b.text("#bindings").await);
    b.assert_accessible("social security, English elder").await;
    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "我的社保卡");
    assert!(b.text("#bindings").await.contains("已綁定"), "{}", b.text("#bindings").await);
    b.assert_accessible("social security, zh-HK elder").await;
    b.close().await;
}

/// Once bound (SPEC SS3): the accounts page shows each chosen account's
/// balance and statement with the bureau and time they come from; the
/// services page files a filing, refuses a closed region and a transfer to
/// the card's own province with their reasons, certifies retirement by face,
/// and shows each request's status moving on; then the holder unbinds the
/// card; in zh-CN and English, axe on each state.
#[tokio::test]
async fn a_holder_reads_the_accounts_and_follows_service_requests() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true")]).await;
    let phone = "13700000283";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    let person = id_number(phone, "283");
    verify_resident(&s, &token, phone, "张三丰", &person).await;
    let (id, _) =
        crate::social_security::bind(&s, &token, phone, &person, json!(["medical_payment", "pension_query", "medical_account"])).await;
    let api = crate::cards::get_json(&s, &format!("/v1/social-security/bindings/{id}/accounts"), &token).await;

    b.goto(&s.url(&format!("/h5/social-security/{id}"))).await;
    b.click("#show-accounts").await;
    assert_eq!(b.text("h1").await, "我的养老和医保账户");
    let source = b.text("#source").await;
    assert!(source.starts_with("数据来自北京市社保局，截至"), "{source}");
    let pension = api["pension"]["balance_fen"].as_i64().unwrap_or(0);
    let shown = b.text("#pension-balance").await;
    assert_eq!(shown.replace([',', '¥', '.'], ""), format!("{pension:03}"), "the bureau's balance in yuan: {shown}");
    assert!(b.has("#medical-balance").await, "the medical account was chosen");
    assert!(b.text("#pension").await.contains("缴费"), "{}", b.text("#pension").await);
    b.assert_accessible("accounts").await;

    b.click("#back-binding").await;
    b.click("#show-services").await;
    assert_eq!(b.text("h1").await, "我的社保业务");
    assert!(b.has("#no-requests").await);
    b.assert_accessible("services, none").await;
    // A region whose service is closed is refused at the top, the form kept.
    b.tick("#kind-relation_transfer").await;
    b.fill("#to_region", "540102").await;
    b.click("#file").await;
    assert!(b.has("#refusal").await, "{}", b.text("main").await);
    assert_eq!(b.attr("#to_region", "value").await.as_deref(), Some("540102"));
    b.assert_accessible("services, region closed").await;
    // A transfer to the card's own province: filed, then rejected with its reason.
    b.fill("#to_region", "110101").await;
    b.click("#file").await;
    assert!(b.text("#notice").await.starts_with("业务已提交社保局"), "{}", b.text("main").await);
    assert!(b.text("#requests").await.contains("对方地区就是社保卡所在省份"), "{}", b.text("#requests").await);
    // An off-site filing to Guangdong, then a retirement certification by face.
    b.tick("#kind-offsite_medical_filing").await;
    b.fill("#to_region", "440305").await;
    b.click("#file").await;
    assert!(b.text("#requests").await.contains("异地就医备案 · 至广东省"), "{}", b.text("#requests").await);
    b.click("#verify-face").await;
    assert!(b.has("#liveness-error").await, "no capture chosen: {}", b.text("main").await);
    b.tick("#liveness").await;
    b.click("#verify-face").await;
    assert!(b.text("#requests").await.contains("退休人员资格认证"), "{}", b.text("#requests").await);
    assert!(b.text("#requests").await.contains("已提交"), "{}", b.text("#requests").await);
    b.assert_accessible("services, three filed").await;
    // A day of bureau time later the filings are done.
    let advanced = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/clock/advance", s.sandbox))
        .json(&json!({"seconds": 25 * 3600}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(advanced.status().is_success());
    b.goto(&s.url(&format!("/h5/social-security/{id}/services"))).await;
    let list = b.text("#requests").await;
    assert_eq!(list.matches("已办结").count(), 2, "{list}");
    assert_eq!(list.matches("未通过").count(), 1, "{list}");
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "My service requests");
    assert!(b.text("#requests").await.contains("Off-site medical filing · to Guangdong"), "{}", b.text("#requests").await);
    b.assert_accessible("services, English").await;

    // The holder unbinds the card from its page: the code and the accounts go.
    b.click("#back-binding").await;
    b.click("#unbind").await;
    // Asked first: what stops, unbind or keep it.
    assert_eq!(b.text("h1").await, "Unbind your social-security card?");
    assert!(b.text("#unbind-hint").await.contains("stop at once"), "{}", b.text("#unbind-hint").await);
    b.assert_accessible("unbind, asked").await;
    b.click("#keep").await;
    assert!(b.text("#state").await.ends_with("Bound"), "kept: {}", b.text("#state").await);
    b.click("#unbind").await;
    b.click("#confirm-unbind").await;
    assert_eq!(b.text("#notice").await, "Your card is unbound: its medical-payment code no longer works here.");
    assert!(b.text("#state").await.ends_with("Unbound"), "{}", b.text("#state").await);
    assert!(!b.has("#show-code").await && !b.has("#show-accounts").await && !b.has("#unbind").await);
    b.assert_accessible("unbound, English").await;
    // Requests filed before are still followed; no new one is offered.
    b.goto(&s.url(&format!("/h5/social-security/{id}/services"))).await;
    assert!(b.has("#requests").await && b.has("#not-bound").await && !b.has("#file").await, "{}", b.text("main").await);
    b.close().await;
}

/// The social-security pages at phone size, normal and elder mode, in
/// `docs/screenshots/` (not part of the suite: it writes into the
/// repository). Regenerate with
/// `cargo test -p idlink --test it h5::social_security::screenshots -- --ignored`.
#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshots() {
    use super::screenshots::shot;
    let s = sqlite_server().await;
    for (elder, phone, seq) in [(false, "13700000295", "295"), (true, "13700000296", "296")] {
        let suffix = if elder { "-elder" } else { "" };
        let b = Browser::open(true).await;
        log_in(&b, &s, phone).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        let token = session_token(&b).await;
        let person = id_number(phone, seq);
        verify_resident(&s, &token, phone, "张三丰", &person).await;
        let printed: Value = reqwest::get(format!("{}/sandbox/v1/social-security/cards/{person}", s.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        b.goto(&s.url("/h5/social-security")).await;
        shot(&b, &format!("ss{suffix}")).await;
        b.fill("#area_code", "110105").await;
        b.click("#start").await;
        shot(&b, &format!("ss-identity{suffix}")).await;
        b.tick("#liveness").await;
        b.click("#verify-face").await;
        b.fill("#card_number", printed["card_number"].as_str().unwrap_or("")).await;
        b.click("#send-card-code").await;
        shot(&b, &format!("ss-card-code{suffix}")).await;
        let code = s.last_code(phone).await;
        b.fill("#code", &code).await;
        b.click("#confirm-card").await;
        shot(&b, &format!("ss-bank{suffix}")).await;
        b.fill("#reserved_phone", "13600000295").await;
        b.click("#send-bank-code").await;
        let code = s.last_code("13600000295").await;
        b.fill("#code", &code).await;
        b.click("#confirm-bank").await;
        shot(&b, &format!("ss-agreement{suffix}")).await;
        b.click("#sign").await;
        b.tick("#feature-pension_query").await;
        b.tick("#feature-medical_account").await;
        b.click("#bind").await;
        shot(&b, &format!("ss-bound{suffix}")).await;
        b.click("#show-accounts").await;
        shot(&b, &format!("ss-accounts{suffix}")).await;
        b.click("#back-binding").await;
        b.click("#show-services").await;
        b.fill("#to_region", "440305").await;
        b.click("#file").await;
        shot(&b, &format!("ss-services{suffix}")).await;
        b.click("#back-binding").await;
        b.click("#unbind").await;
        shot(&b, &format!("ss-unbind{suffix}")).await;
        b.click("#keep").await;
        b.click("#show-code").await;
        shot(&b, &format!("ss-code{suffix}")).await;
        b.close().await;
    }
}
