//! The console's retention page (issue 18 point 4, SPEC P7, CP): an admin
//! reads each kind's rule and oldest record, sees the user held by an open
//! case, places a legal hold (a wrong user id first: refused in words, what
//! was typed kept), then releases it; an auditor reads without the actions.
//! axe on every state, in three languages.

use super::{audit_actions, frozen_user_case, journeys::sign_in, staff};
use crate::h5::Browser;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn an_admin_places_a_legal_hold_and_releases_it_on_the_retention_page() {
    let (s, rt, _clock) = super::journeys::server(idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"))).await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
    let case = frozen_user_case(&s, &rt, "13900001111", 2).await;
    let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": "13900002222" })).send().await;
    let user =
        res.unwrap_or_else(|e| panic!("{e}")).json::<Value>().await.unwrap_or_default()["id"].as_str().unwrap_or_default().to_owned();

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &ada).await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/retention']").await;
    assert_eq!(b.text("h1").await, "Retention and legal holds");
    let rules = b.text("#retention").await;
    for want in
        ["Audit log", "Bank-card query log", "5 years", "Sign-ins (network operation log)", "6 months", "180 days", "audit.retention_years"]
    {
        assert!(rules.contains(want), "{want} in {rules}");
    }
    assert!(b.has("#no-holds").await);
    assert!(b.text("#case-holds").await.contains(&case), "the user of the open case is held");
    b.assert_accessible("console retention, en").await;

    // A wrong user id is refused in words, and what was typed stays.
    b.fill("#hold-user", "13900002222").await;
    b.fill("#hold-reference", "DSP-2026-0042").await;
    b.click("#place").await;
    assert!(b.text("#retention-refusal").await.contains("starts with usr_"));
    assert_eq!(b.attr("#hold-user", "value").await.as_deref(), Some("13900002222"));
    b.fill("#hold-user", "usr_0123456789abcdef0123456789abcdef").await;
    b.click("#place").await;
    assert!(b.text("#retention-refusal").await.contains("No user has this id"), "an id of nobody");
    assert_eq!(b.attr("#hold-reference", "value").await.as_deref(), Some("DSP-2026-0042"));
    b.assert_accessible("console retention, a hold refused").await;

    b.fill("#hold-user", &user).await;
    b.client.execute("document.querySelector('#hold-reason').value = 'authority';", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.click("#place").await;
    assert_eq!(b.path().await, "/console/retention");
    let holds = b.text("#holds").await;
    assert!(holds.contains(&user) && holds.contains("An authority's request") && holds.contains("DSP-2026-0042"), "{holds}");

    b.click("button[name=lang][value=zh-CN]").await;
    assert_eq!(b.text("h1").await, "数据留存与法律保全");
    assert!(b.text("#holds").await.contains("有权机关调取"));
    b.assert_accessible("console retention with a hold, zh-CN").await;

    // An auditor reads the holds without the actions.
    b.click("form[action='/console/sign-out'] button").await;
    sign_in(&b, &s, &rt, &carol).await;
    b.goto(&s.url("/console/retention")).await;
    assert!(b.text("#holds").await.contains(&user));
    assert!(!b.has("#place-hold").await && !b.has("#holds button").await, "no actions for an auditor");
    b.assert_accessible("console retention for an auditor").await;

    b.click("form[action='/console/sign-out'] button").await;
    sign_in(&b, &s, &rt, &ada).await;
    b.goto(&s.url("/console/retention")).await;
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("#holds button").await;
    assert_eq!(b.path().await, "/console/retention");
    assert!(b.has("#no-holds").await, "released");
    b.assert_accessible("console retention released, zh-HK").await;

    let actions = audit_actions(&s).await;
    let ada_did: Vec<&str> = actions.iter().filter(|(who, _, _)| who.starts_with("operator:")).map(|(_, a, _)| a.as_str()).collect();
    assert!(ada_did.contains(&"retention.hold") && ada_did.contains(&"retention.release"), "{actions:?}");
    b.close().await;
}
