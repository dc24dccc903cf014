//! Screenshots of the console in zh-CN: the queue (with a breached case), a
//! case, the breach board, audit explorer, reports, a user 360° record, key
//! status, who is on duty, retention, the API keys just after a rotation, and institution health, written to `docs/screenshots/console-*.png`. Not part of the suite
//! (it writes into the repository); regenerate with
//! `cargo test -p idlink --test it console::screenshots -- --ignored`.

use super::{frozen_user_case, staff};
use crate::h5::Browser;
use crate::start_full;
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use std::sync::Arc;

async fn shot(b: &Browser, name: &str) {
    let png = b.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn console_screenshots() {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[], rt.clone()).await;
    let alice = staff(&s, &rt, "alice", &[Role::Admin]).await;
    let _bob = staff(&s, &rt, "bob", &[Role::Reviewer]).await;
    let breached = frozen_user_case(&s, &rt, "13900005555", 2).await;
    clock.advance(jiff::SignedDuration::from_mins(9));
    let _fresh = frozen_user_case(&s, &rt, "13900006666", 2).await;
    let b = Browser::open(true).await;
    b.goto(&s.url("/console/sign-in")).await;
    shot(&b, "console-sign-in").await;
    b.fill("#username", "alice").await;
    b.fill("#password", &alice.password).await;
    b.fill("#totp", &alice.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    shot(&b, "console-queue").await;
    b.goto(&s.url(&format!("/console/cases/{breached}"))).await;
    b.click("#claim").await;
    shot(&b, "console-case").await;
    b.goto(&s.url("/console/breaches")).await;
    shot(&b, "console-breaches").await;
    b.goto(&s.url("/console/audit?action=operator.sign_in")).await;
    shot(&b, "console-audit").await;
    b.goto(&s.url("/console/reports")).await;
    shot(&b, "console-reports").await;
    b.goto(&s.url("/console/people")).await;
    b.fill("#value", "13900005555").await;
    b.click("#search").await;
    b.click("#results a.open").await;
    b.client.execute("document.querySelector('#purpose').value = 'complaint';", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.fill("#reference", "ticket 2026-1130-0042").await;
    b.click("#open-record").await;
    shot(&b, "console-people").await;
    b.goto(&s.url("/console/keys")).await;
    shot(&b, "console-keys").await;
    b.goto(&s.url("/console/duty")).await;
    shot(&b, "console-duty").await;
    b.goto(&s.url("/console/retention")).await;
    shot(&b, "console-retention").await;
    b.goto(&s.url("/console/api-keys")).await;
    let key = s.token.split('.').next().unwrap_or_default().to_owned();
    b.click(&format!("#rotate-{key}")).await;
    shot(&b, "console-api-keys").await;
    b.close().await;
}

/// The institution health page (`docs/screenshots/console-health.png`),
/// phone-sized as the others (each cell labelled by its column), in zh-CN: ICBC after a maintenance streak (both breakers
/// open, the announced end, the failover) beside healthy banks, with a
/// scheduled window on the next bank's switch channel.
#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn console_health_screenshot() {
    use crate::cards::{balance, bound_card, step_up, switch};
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[], rt.clone()).await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    for bank in ["ABC", "ICBC", "BJBANK"] {
        let (token, binding, _) = bound_card(&s, bank).await;
        switch(&s, &token, true).await;
        if bank == "ICBC" {
            let body = serde_json::json!({"institution": "bank:ICBC", "minutes": 30});
            let res = reqwest::Client::new().post(format!("{}/sandbox/v1/maintenance", s.sandbox)).json(&body).send().await;
            assert!(res.is_ok_and(|r| r.status().is_success()));
        }
        let t = step_up(&s, &token, &binding).await;
        for _ in 0..6 {
            let _ = balance(&s, &token, &binding, Some(&t)).await;
        }
    }
    let b = Browser::open(true).await;
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", "ada").await;
    b.fill("#password", &ada.password).await;
    b.fill("#totp", &ada.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    b.goto(&s.url("/console/health")).await;
    let set = |css: &'static str, v: &'static str| {
        let client = b.client.clone();
        async move {
            let js = "document.querySelector(arguments[0]).value = arguments[1];";
            client.execute(js, vec![serde_json::json!(css), serde_json::json!(v)]).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        }
    };
    set("#m-target", "bank:ICBC|card_switch").await;
    set("#m-starts", "2026-12-02T01:00").await;
    set("#m-ends", "2026-12-02T03:00").await;
    b.fill("#m-note", "核心系统升级").await;
    b.click("#schedule").await;
    b.client
        .execute("document.querySelector('#ch-bank-ICBC-card_switch td.breaker').scrollIntoView({block: 'start'});", vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    shot(&b, "console-health").await;
    b.close().await;
}
