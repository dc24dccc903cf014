//! Screenshots of the pages at phone size (390 × 844), in zh-CN, normal and
//! elder mode, written to `docs/screenshots/`. Not part of the suite (it
//! writes into the repository); regenerate with
//! `cargo test -p idlink --test it h5::screenshots -- --ignored`.

use super::Browser;
use crate::sqlite_server;

pub(crate) async fn shot(b: &Browser, name: &str) {
    let png = b.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshots() {
    let s = sqlite_server().await;
    for elder in [false, true] {
        let suffix = if elder { "-elder" } else { "" };
        let b = Browser::open(true).await;
        b.goto(&s.url("/h5/login")).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        shot(&b, &format!("login{suffix}")).await;
        let phone = if elder { "13700008888" } else { "13700009999" };
        b.fill("#phone", "123").await;
        b.click("form[action='/h5/login'] button[type=submit]").await;
        shot(&b, &format!("login-error{suffix}")).await;
        b.fill("#phone", phone).await;
        b.click("form[action='/h5/login'] button[type=submit]").await;
        shot(&b, &format!("login-code{suffix}")).await;
        let code = s.last_code(phone).await;
        b.fill("#code", &code).await;
        b.click("form[action='/h5/login/code'] button[type=submit]").await;
        shot(&b, &format!("home{suffix}")).await;
        b.goto(&s.url("/h5/capabilities")).await;
        shot(&b, &format!("capabilities{suffix}")).await;
        b.goto(&s.url("/h5/access-log")).await;
        shot(&b, &format!("access-log{suffix}")).await;
        b.goto(&s.url("/h5/nowhere")).await;
        shot(&b, &format!("not-found{suffix}")).await;
        b.close().await;
    }
    // A verified user with a card: the flows' main pages.
    for elder in [false, true] {
        let suffix = if elder { "-elder" } else { "" };
        let phone = if elder { "13700001357" } else { "13700002469" };
        let b = Browser::open(true).await;
        super::log_in(&b, &s, phone).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        // A verification that meets poor lighting, through the pages.
        b.goto(&s.url("/h5/identity/verify/face")).await;
        shot(&b, &format!("consent-id-number{suffix}")).await;
        b.agree_when_asked().await;
        shot(&b, &format!("identity-start{suffix}")).await;
        b.fill("#name", "张三").await;
        b.fill("#id_number", "11010519491231002X").await;
        b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
        shot(&b, &format!("identity-step{suffix}")).await;
        let code = s.last_code(phone).await;
        b.fill("#code", &code).await;
        b.client
            .find(fantoccini::Locator::Css("input[value='sandbox:poor_lighting']"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        b.click("form[action$='/submit'] button[type=submit]").await;
        shot(&b, &format!("identity-poor-lighting{suffix}")).await;
        let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
        let id_number = if elder { "110105199001010045" } else { "110105199001010037" };
        let card = super::every_page::verified_with_card(&s, &token, phone, id_number).await;
        for (name, path) in [
            ("identity", "/h5/identity".to_owned()),
            ("cards", "/h5/cards".to_owned()),
            ("card", format!("/h5/cards/{card}")),
            ("security", "/h5/security".to_owned()),
            ("devices", "/h5/devices".to_owned()),
            ("guardians", "/h5/guardians".to_owned()),
            ("consents", "/h5/consents".to_owned()),
            ("consent", "/h5/consents/credit_report".to_owned()),
        ] {
            b.goto(&s.url(&path)).await;
            shot(&b, &format!("{name}{suffix}")).await;
        }
        b.goto(&s.url(&format!("/h5/cards/{card}/balance"))).await;
        shot(&b, &format!("balance-pad{suffix}")).await;
        b.fill("#password", "246801").await;
        b.click("#pad-submit").await;
        shot(&b, &format!("balance{suffix}")).await;
        // The credit-report consent withdrawn: the feature waits for it, and says so.
        let res = crate::cards::call(&s, reqwest::Method::DELETE, "/v1/me/consents/credit_report", &token).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204);
        b.goto(&s.url("/h5/capabilities")).await;
        shot(&b, &format!("capabilities-consents{suffix}")).await;
        // The face consent withdrawn too: the reset says so before a code is sent.
        let res = crate::cards::call(&s, reqwest::Method::DELETE, "/v1/me/consents/face", &token).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204);
        b.goto(&s.url("/h5/security/reset")).await;
        shot(&b, &format!("security-reset-consent{suffix}")).await;
        b.close().await;
    }
    // A second browser for the same number: the device check.
    let b = Browser::open(true).await;
    b.goto(&s.url("/h5/login")).await;
    b.click("button[name=elder][value='1']").await;
    b.fill("#phone", "13700008888").await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    let code = s.last_code("13700008888").await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    shot(&b, "device-check-elder").await;
    b.close().await;
}
