//! Theft-binding risks in the console (SPEC SS4, issue 16), in headless
//! Chromium with axe: a binding frozen on a region jump appears in the
//! review queue as a social-security card risk with its 5-minute SLA; the
//! case says where the binding stopped and why, in words; a reviewer
//! approves it and the binding goes on, in the card's province.

use super::journeys::sign_in;
use super::staff;
use crate::credit::{adult, id_number};
use crate::h5::Browser;
use crate::sqlite_server;
use idlink::serve::Runtime;
use idlink_core::ports::operators::Role;
use idlink_core::ports::ss_bindings::SsBindingStore;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_reviewer_clears_a_region_jump_in_the_console() {
    let s = sqlite_server().await;
    let rt = Runtime::default();
    let rita = staff(&s, &rt, "rita", &[Role::Reviewer]).await;
    let phone = "13700000291";
    let (token, _) = adult(&s, phone, "291").await;
    let card: Value = reqwest::get(format!("{}/sandbox/v1/social-security/cards/{}", s.sandbox, id_number(phone, "291")))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let post = |path: String, body: Value| {
        let (s, token) = (&s, token.clone());
        async move {
            let res = crate::cards::call(s, Method::POST, &path, &token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
            res.json::<Value>().await.unwrap_or_default()
        }
    };
    // Entered for Guangdong; the card is Beijing's: frozen at the card step.
    let b = post("/v1/social-security/bindings".into(), json!({"area_code": "440305"})).await;
    let id = b["id"].as_str().unwrap_or("").to_owned();
    post(format!("/v1/social-security/bindings/{id}/identity/face"), json!({"liveness_video": "sandbox:pass"})).await;
    let p = post(format!("/v1/social-security/bindings/{id}/card"), json!({"card_number": card["card_number"]})).await;
    assert_eq!(p["code"], "social_security_binding_frozen", "{p}");

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &rita).await;
    let case = b.attr("tr[id^='row-case_'] a[href^='/console/cases/case_']", "href").await.unwrap_or_default();
    let row = b.text(&format!("#row-{}", case.trim_start_matches("/console/cases/"))).await;
    assert!(row.contains("社保卡绑定风险"), "the queue names the kind: {row}");
    b.assert_accessible("console queue with a card risk").await;
    b.goto(&s.url(&case)).await;
    assert_eq!(b.text("#kind").await, "社保卡绑定风险");
    let risk = b.text("#card-risk").await;
    assert!(risk.contains("440000") && risk.contains("社保卡") && risk.contains("110000") && risk.contains("改为该卡所在省份"), "{risk}");
    assert!(b.text("#sla").await.contains("5 分钟") || b.text("#sla").await.contains("分钟"), "{}", b.text("#sla").await);
    b.assert_accessible("console card-risk case").await;
    b.click("button[name=lang][value=en]").await;
    assert!(b.text("#card-risk").await.contains("Approving moves the binding to the card's province"), "{}", b.text("#card-risk").await);
    b.assert_accessible("console card-risk case, English").await;
    b.click("#approve").await;
    assert_eq!(b.text("#status").await, "Approved");
    b.close().await;

    let row = s.db.store.ss_binding(&id).await.ok().flatten().unwrap_or_else(|| panic!("the binding"));
    assert_eq!((row.status.as_str(), row.risk_cleared.as_deref()), ("open", Some("region_jump:110000")));
}
