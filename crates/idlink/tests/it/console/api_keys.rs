//! The console's API keys page (SPEC P5, issue 18 point 3): an admin sees
//! each key's state and last use, rotates the host app's key with an overlap
//! (the new token shown once), both keys work until the overlap ends, then
//! the old one is listed and refused as expired; the admin revokes the new
//! one; an auditor reads the list without the actions. axe on every state,
//! in three languages.

use super::{audit_actions, journeys::sign_in, staff};
use crate::h5::Browser;
use crate::start_full;
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use idlink_store::testing;
use serde_json::json;
use std::sync::Arc;

async fn status(s: &crate::Server, token: &str) -> u16 {
    let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(token).send().await.unwrap_or_else(|e| panic!("{e}"));
    res.status().as_u16()
}

#[tokio::test]
async fn an_admin_rotates_the_host_apps_key_in_the_console_and_the_old_one_stops_after_the_overlap() {
    let clock = Arc::new(ManualClock::new("2026-12-01T02:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[], rt.clone()).await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    let aud = staff(&s, &rt, "aud", &[Role::Auditor]).await;
    let old_id = s.token.split('.').next().unwrap_or_default().to_owned();
    assert_eq!(status(&s, &s.token).await, 200);
    let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
    let used = format!("SELECT COUNT(*) FROM api_keys WHERE id = '{old_id}' AND last_used_at IS NOT NULL");
    for _ in 0..100 {
        if testing::query_text(store, &used).await.unwrap_or_default() == "1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &ada).await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/api-keys']").await;
    assert_eq!(b.text("h1").await, "API keys");
    let row = b.text(&format!("#key-{old_id}")).await;
    assert!(row.contains("e2e") && row.contains("audit:read") && row.contains("Works"), "{row}");
    assert!(!b.text(&format!("#key-{old_id} .key-used")).await.contains("Never"), "the use just made is shown");
    assert!(!b.text("main").await.contains(s.token.split('.').nth(1).unwrap_or("-")), "the secret is never shown");
    b.assert_accessible("console API keys, en").await;

    // Rotate with a one-hour overlap; the new key lives 90 days.
    for (css, value) in [(format!("#overlap-{old_id}"), "1"), (format!("#life-{old_id}"), "90")] {
        b.client
            .execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(css), json!(value)])
            .await
            .unwrap_or_else(|e| panic!("select {css}: {e}"));
    }
    b.click(&format!("#rotate-{old_id}")).await;
    let token = b.text("#token").await;
    let new_id = token.split('.').next().unwrap_or_default().to_owned();
    assert!(new_id.starts_with("key_") && new_id != old_id, "{token}");
    let notice = b.text("#new-token").await;
    assert!(notice.contains(&format!("New key {new_id} replaces {old_id}")) && notice.contains("shown only this once"), "{notice}");
    assert!(b.text(&format!("#key-{old_id} .key-state")).await.starts_with("Works until"));
    assert!(b.text(&format!("#key-{new_id}")).await.contains(&old_id), "the new key names the key it replaces");
    b.assert_accessible("console API key rotated, en").await;
    assert_eq!((status(&s, &s.token).await, status(&s, &token).await), (200, 200), "both keys work in the overlap");

    b.goto(&s.url("/console/api-keys")).await;
    assert!(!b.has("#token").await && !b.text("main").await.contains(&token), "the token is shown once");
    // A second rotation of the same key is refused, naming the new key.
    b.click(&format!("#rotate-{old_id}")).await;
    assert!(b.text("#api-keys-refusal").await.contains(&new_id));

    // The language switch on an answer page comes back to the list (the action's URL answers GET too).
    b.click("button[name=lang][value=zh-CN]").await;
    assert_eq!(b.path().await, "/console/api-keys");
    assert_eq!(b.text("h1").await, "API 密钥");
    assert!(b.text(&format!("#key-{old_id} .key-state")).await.starts_with("有效至"), "works until, in words");
    // The overlap ends: the old key is refused and listed as expired, without
    // actions (the console session ended meanwhile: sign in again).
    clock.advance(jiff::SignedDuration::from_hours(1));
    assert_eq!((status(&s, &s.token).await, status(&s, &token).await), (401, 200));
    sign_in(&b, &s, &rt, &ada).await;
    b.goto(&s.url("/console/api-keys")).await;
    assert!(b.text(&format!("#key-{old_id} .key-state")).await.starts_with("已于"), "expired, in words");
    assert!(!b.has(&format!("#rotate-{old_id}")).await && !b.has(&format!("#revoke-{old_id}")).await);
    b.assert_accessible("console API keys after the overlap, zh-CN").await;

    b.click("button[name=lang][value=zh-HK]").await;
    b.click(&format!("#revoke-{new_id}")).await;
    assert_eq!(b.path().await, "/console/api-keys");
    assert!(b.text(&format!("#key-{new_id} .key-state")).await.contains("撤銷"));
    assert_eq!(status(&s, &token).await, 401, "revoked at once");
    b.assert_accessible("console API key revoked, zh-HK").await;

    let actions = audit_actions(&s).await;
    let ada_did: Vec<&str> = actions.iter().filter(|(who, _, _)| who.starts_with("operator:")).map(|(_, a, _)| a.as_str()).collect();
    assert!(ada_did.contains(&"apikey.rotate") && ada_did.contains(&"apikey.revoke"), "{actions:?}");

    // An auditor reads the keys without the actions.
    b.click("form[action='/console/sign-out'] button").await;
    sign_in(&b, &s, &rt, &aud).await;
    b.goto(&s.url("/console/api-keys")).await;
    assert!(b.has("#api-keys").await && !b.has("form.rotate").await && !b.text("main").await.contains(&token));
    b.assert_accessible("console API keys for an auditor").await;
    b.close().await;
}
