//! The sandbox's demo third-party app, driven in a browser as a person
//! would (SPEC TP1–TP3, issue 14 item 7): `idlink serve` registers it at
//! start; a verified user clicks "Log in with idlink" on the app's page,
//! consents (the verified identity ticked separately), and the app shows
//! the verified claims it read from userinfo. The user then revokes the app
//! on `/h5/apps`, and the app receives the webhook and the back-channel
//! logout token, and (over the SSF push stream the app set up at start with
//! a client-credentials token) a Security Event Token, each with a
//! signature its own check accepts; the logout ends the login the app showed.

use super::{Browser, log_in};
use serde_json::Value;
use std::time::Duration;

async fn app_status(s: &crate::Server) -> Value {
    let res = reqwest::get(format!("{}/sandbox/v1/app", s.sandbox)).await.unwrap_or_else(|e| panic!("{e}"));
    res.json().await.unwrap_or_default()
}

#[tokio::test]
async fn a_user_logs_in_to_the_demo_app_with_idlink_and_the_app_learns_when_they_revoke_it() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_with(db, &[("IDLINK__SANDBOX__DEMO_APP", "true")]).await;
    let mut status = app_status(&s).await;
    assert_eq!(status["configured"], true, "the server registered the demo app at start: {status}");
    for _ in 0..100 {
        if !status["stream"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = app_status(&s).await;
    }
    assert_eq!(status["stream"]["status"], "enabled", "the app set up its SSF push stream at start: {status}");

    let phone = "13700003579";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    crate::reviews::verify_resident(&s, &token, phone, "钱芳", "110105199001010029").await;

    b.goto(&format!("{}/sandbox/app", s.sandbox)).await;
    b.click("#login").await;
    for _ in 0..50 {
        if b.has("#sensitive-consent").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(b.path().await.starts_with("/h5/authorize/azr_"), "the app sent the user to idlink's consent page: {}", b.path().await);
    assert!(b.text("#authorize-intro").await.contains("Sandbox app"), "the page names the app");
    // Ticking the box changes no page (Browser::click waits for one).
    let tick = b.client.find(fantoccini::Locator::Css("#sensitive-consent")).await.unwrap_or_else(|e| panic!("{e}"));
    tick.click().await.unwrap_or_else(|e| panic!("{e}"));
    b.click("#allow").await;
    for _ in 0..50 {
        if b.has("#userinfo").await || b.has("#error").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!b.has("#error").await, "the app's login failed: {}", b.text("#error").await);
    let userinfo: Value = serde_json::from_str(&b.text("#userinfo").await).unwrap_or_default();
    let verified = &userinfo["verified_claims"];
    assert_eq!(verified["claims"]["name"], "钱芳", "the app shows the verified name: {userinfo}");
    assert_eq!(verified["claims"]["birthdate"], "1990-01-01", "{userinfo}");
    assert!(verified["verification"]["trust_framework"].as_str().is_some_and(|t| !t.is_empty()), "{userinfo}");
    let sub = b.text("#sub").await;
    assert!(!sub.is_empty() && userinfo["sub"] == sub.as_str(), "the ID token's subject is userinfo's");

    // The user ends the app's access from their own page.
    b.goto(&s.url("/h5/apps")).await;
    let listed = b.text("main").await;
    assert!(listed.contains("Sandbox app"), "the app is listed among the user's apps");
    assert!(listed.contains("您的实名姓名") && !listed.contains("vc:"), "the verified claims it holds, in words: {listed}");
    let before = app_status(&s).await["received"].as_array().map_or(0, Vec::len);
    let res = s.authed(reqwest::Method::DELETE, "/v1/me/grants").header("idlink-session", &token).send().await;
    assert!(res.unwrap_or_else(|e| panic!("{e}")).status().is_success(), "revoking every grant");

    let mut received = Vec::new();
    for _ in 0..150 {
        let status = app_status(&s).await;
        received = status["received"].as_array().map(|all| all.iter().skip(before).cloned().collect()).unwrap_or_default();
        let has = |channel: &str| received.iter().any(|r| r["channel"] == channel);
        if has("webhook") && has("logout") && has("set") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let webhook = received.iter().find(|r| r["channel"] == "webhook").unwrap_or_else(|| panic!("no webhook arrived: {received:?}"));
    assert!(webhook["problem"].is_null(), "the webhook's signature verifies with the app's secret: {webhook}");
    assert_eq!(webhook["content"]["type"], "grant.revoked", "{webhook}");
    assert_eq!(webhook["content"]["data"]["sub"], sub.as_str(), "the webhook names the app's subject: {webhook}");
    let logout = received.iter().find(|r| r["channel"] == "logout").unwrap_or_else(|| panic!("no logout token arrived: {received:?}"));
    assert!(logout["problem"].is_null(), "the logout token's signature verifies with idlink's JWKS: {logout}");
    assert_eq!(logout["content"]["sub"], sub.as_str(), "{logout}");
    assert!(app_status(&s).await["last_login"].is_null(), "the back-channel logout ended the app's session");
    // The SET came over the push stream the app set up itself with a client-credentials token.
    let set = received.iter().find(|r| r["channel"] == "set").unwrap_or_else(|| panic!("no SET arrived: {received:?}"));
    assert!(set["problem"].is_null(), "the SET's signature verifies with idlink's JWKS: {set}");
    assert!(
        set["content"]["events"]["https://schemas.openid.net/secevent/caep/event-type/session-revoked"].is_object(),
        "a revoked grant is a CAEP session-revoked: {set}"
    );
    assert_eq!(set["content"]["sub_id"]["sub"], sub.as_str(), "the SET names the app's subject: {set}");

    b.goto(&format!("{}/sandbox/app", s.sandbox)).await;
    let table = b.text("#received").await;
    assert!(table.contains("webhook") && table.contains("logout") && table.contains("set") && table.contains("signature valid"), "{table}");
    assert!(b.text("#stream").await.contains("sst_"), "the page shows the app's stream");
    b.close().await;
}
