//! Every page a signed-in user can open, checked the same way: in elder
//! mode (text, line height, key actions and tap targets measured in the
//! browser, no sideways scrolling at 200 % text), with axe-core, and under
//! the weight budget (HTML + CSS + htmx under 60 KB compressed).
//! The user is verified and has a bound card, so the card pages have one.

use super::{Browser, FormClient};
use crate::Server;
use reqwest::Method;
use serde_json::{Value, json};

/// The pages, `{card}` standing for the user's binding id.
const PAGES: [&str; 17] = [
    "/h5/",
    "/h5/identity",
    "/h5/identity/verify/face",
    "/h5/identity/verify/card",
    "/h5/identity/verify/document",
    "/h5/guardians",
    "/h5/capabilities",
    "/h5/security",
    "/h5/security/password",
    "/h5/security/verify",
    "/h5/devices",
    "/h5/cards",
    "/h5/cards/bind",
    "/h5/cards/{card}",
    "/h5/cards/{card}/balance",
    "/h5/cards/history",
    "/h5/access-log",
];

/// A verified user with a bound ICBC card, through the API; the browser's
/// own session is the one set up.
async fn verified_with_card(s: &Server, token: &str, phone: &str) -> String {
    crate::reviews::verify_resident(s, token, phone, "钱芳", "110105199001010029").await;
    let card = crate::identity::icbc_card("4321");
    let res = s
        .authed(Method::POST, "/v1/me/cards")
        .header("idlink-session", token)
        .json(&json!({"card_number": card, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pending: Value = res.json().await.unwrap_or_default();
    let binding = pending["id"].as_str().unwrap_or_else(|| panic!("a pending binding: {pending}")).to_owned();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::POST, &format!("/v1/me/cards/{binding}/confirm"))
        .header("idlink-session", token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "the card is bound: {}", res.status());
    binding
}

/// Elder-mode measures of the page shown now.
async fn elder_measures(b: &Browser, page: &str) {
    let m = b
        .client
        .execute(
            "const px = v => parseFloat(v);\
             const body = getComputedStyle(document.body);\
             const texts = [...document.querySelectorAll('main p, main li, main dd, main label')].filter(e => e.offsetParent !== null)\
               .map(e => [e.tagName, px(getComputedStyle(e).fontSize)]);\
             const keys = [...document.querySelectorAll('main button[type=submit], main .button')].filter(e => e.offsetParent !== null)\
               .map(e => [e.outerHTML.slice(0, 60), px(getComputedStyle(e).fontSize)]);\
             const targets = [...document.querySelectorAll('button, a, input:not([type=hidden]), select')]\
               .filter(e => e.offsetParent !== null && !e.classList.contains('skip'))\
               .map(e => { const b = e.getBoundingClientRect(); return [e.outerHTML.slice(0, 80), b.width, b.height]; });\
             return { body: px(body.fontSize), line: px(body.lineHeight) / px(body.fontSize), texts, keys, targets };",
            vec![],
        )
        .await
        .unwrap_or_default();
    assert!(m["body"].as_f64().unwrap_or(0.0) >= 18.0, "{page}: body text ≥ 18 px: {m}");
    assert!(m["line"].as_f64().unwrap_or(0.0) >= 1.3, "{page}: line height ≥ 1.3: {m}");
    for t in m["texts"].as_array().cloned().unwrap_or_default() {
        assert!(t[1].as_f64().unwrap_or(0.0) >= 18.0, "{page}: text ≥ 18 px: {t}");
    }
    for k in m["keys"].as_array().cloned().unwrap_or_default() {
        assert!(k[1].as_f64().unwrap_or(0.0) >= 30.0, "{page}: key action text ≥ 30 px: {k}");
    }
    for t in m["targets"].as_array().cloned().unwrap_or_default() {
        let (w, h) = (t[1].as_f64().unwrap_or(0.0), t[2].as_f64().unwrap_or(0.0));
        // Radio buttons and checkboxes count with their label, which is the target a finger hits.
        let labelled_choice = t[0].as_str().is_some_and(|h| h.contains("type=\"radio\"") || h.contains("type=\"checkbox\""));
        assert!(labelled_choice || (w >= 60.0 && h >= 60.0), "{page}: tap target ≥ 60 × 60 px: {t}");
    }
    let overflow = b
        .client
        .execute(
            "document.documentElement.style.fontSize = '200%';\
             const o = document.documentElement.scrollWidth - document.documentElement.clientWidth;\
             document.documentElement.style.fontSize = '';\
             return o;",
            vec![],
        )
        .await
        .unwrap_or_default();
    assert!(overflow.as_f64().unwrap_or(1.0) <= 0.0, "{page}: no sideways scrolling at 200 % text: {overflow} px");
}

#[tokio::test]
async fn every_page_is_large_enough_in_elder_mode_accessible_and_light() {
    let s = crate::sqlite_server().await;
    let phone = "13700002468";
    let b = Browser::open(true).await;
    super::log_in(&b, &s, phone).await;
    let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    let card = verified_with_card(&s, &token, phone).await;
    b.goto(&s.url("/h5/")).await;
    b.click("button[name=elder][value='1']").await;
    for page in PAGES {
        let path = page.replace("{card}", &card);
        b.goto(&s.url(&path)).await;
        assert_eq!(b.path().await, path, "{page} opens for a verified user with a card");
        assert!(b.has("body.elder").await, "{page}: elder mode is remembered");
        b.assert_accessible(&format!("{page} in elder mode")).await;
        elder_measures(&b, page).await;
    }
    b.close().await;

    // The weight budget, for each page as served to this user.
    let mut c = FormClient::new(&s);
    c.cookies.insert("idlink_session".to_owned(), token);
    let mut assets = 0;
    for asset in ["/h5/assets/h5.css", "/h5/assets/htmx.min.js"] {
        assets += super::gzip_len(&c.get(asset).await.bytes().await.unwrap_or_default());
    }
    for page in PAGES {
        let res = c.get(&page.replace("{card}", &card)).await;
        assert_eq!(res.status().as_u16(), 200, "{page}");
        let total = super::gzip_len(&res.bytes().await.unwrap_or_default()) + assets;
        assert!(total < 60 * 1024, "{page}: {total} bytes compressed with its CSS and htmx");
    }
}
