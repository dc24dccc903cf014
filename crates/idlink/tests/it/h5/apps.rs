//! Browser journeys of the apps page (SPEC TP2): the apps a user authorised
//! with what each holds in words and what it was told; revoking one (after
//! a confirmation) removes it from the list and ends its tokens; revoking
//! all; in three languages and elder mode, accessible at every step.

use super::{Browser, log_in};
use crate::grants::{apps_key, grant_with_tokens, register};
use crate::sqlite_server;
use idlink_store::testing;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn a_user_sees_what_each_app_holds_and_revokes_one_then_all() {
    let s = sqlite_server().await;
    let phone = "13700005581";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    let me: Value = s
        .authed(Method::GET, "/v1/me")
        .header("idlink-session", &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let user = me["user_id"].as_str().unwrap_or_default().to_owned();
    let key = apps_key(&s).await;
    let pay = register(&s, &key, "Example Pay").await["client"]["client_id"].as_str().unwrap_or_default().to_owned();
    let shop = register(&s, &key, "Corner Shop").await["client"]["client_id"].as_str().unwrap_or_default().to_owned();
    let pay_grant = grant_with_tokens(&s, &user, &pay, "pay").await;
    grant_with_tokens(&s, &user, &shop, "shop").await;

    // From the home page, in English.
    b.goto(&s.url("/h5/")).await;
    b.click("button[name=lang][value=en]").await;
    b.click("a[href='/h5/apps']").await;
    assert_eq!(b.text("h1").await, "Apps I authorised");
    let list = b.text("#apps").await;
    assert!(list.contains("Example Pay") && list.contains("Corner Shop"), "{list}");
    assert!(list.contains("your verified real name, your verified date of birth"), "claims in words: {list}");
    b.assert_accessible("apps, en").await;

    // One app's page: what it was told, and how that went.
    b.click(&format!("a.app-link[href='/h5/apps/{pay_grant}']")).await;
    assert_eq!(b.text("#app-name").await, "Example Pay");
    let sent = b.text("#deliveries").await;
    assert!(
        sent.contains("Your identity was verified") && sent.contains("notice to the app's server") && sent.contains("delivered"),
        "{sent}"
    );
    b.assert_accessible("app detail, en").await;

    // Revoke it, after saying what it means; cancelling first changes nothing.
    b.click("#revoke-link").await;
    assert!(b.text("#revoke-question").await.contains("Example Pay"));
    b.assert_accessible("revoke one, en").await;
    b.click("#revoke-cancel").await;
    assert_eq!(b.path().await, format!("/h5/apps/{pay_grant}"));
    b.click("#revoke-link").await;
    b.click("#revoke-confirm").await;
    assert_eq!(b.path().await, "/h5/apps");
    assert!(b.text("#done").await.contains("was revoked"));
    let list = b.text("#apps").await;
    assert!(!list.contains("Example Pay") && list.contains("Corner Shop"), "the revoked app is gone: {list}");
    let revoked = testing::query_text(
        &s.running.as_ref().unwrap_or_else(|| panic!("running")).store,
        "SELECT COUNT(*) FROM oauth_access_tokens WHERE token_hash LIKE 'at-pay-%' AND revoked_at IS NOT NULL",
    )
    .await;
    assert_eq!(revoked.ok().as_deref(), Some("2"), "its tokens ended");
    b.assert_accessible("after revoking, en").await;

    // In Traditional Chinese and elder mode: revoke every app.
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("button[name=elder][value='1']").await;
    b.goto(&s.url("/h5/apps")).await;
    assert_eq!(b.text("h1").await, "我授權的應用程式");
    assert!(b.text("#apps").await.contains("您的實名姓名"));
    b.assert_accessible("apps, elder, zh-HK").await;
    b.click("#revoke-all-link").await;
    assert_eq!(b.text("#revoke-question").await, "要讓所有應用程式都不再讀取您的資料嗎？");
    b.assert_accessible("revoke all, elder, zh-HK").await;
    b.click("#revoke-confirm").await;
    assert_eq!(b.text("#done").await, "已撤銷 1 個應用程式的授權。");
    assert!(b.has("#no-apps").await);

    // Simplified Chinese.
    b.click("button[name=lang][value=zh-CN]").await;
    b.goto(&s.url("/h5/apps")).await;
    assert_eq!(b.text("h1").await, "我授权的应用");
    assert_eq!(b.text("#no-apps").await, "您还没有授权任何应用。");
    b.assert_accessible("no apps, zh-CN").await;
    b.close().await;
}
