//! Screenshots of the console's queue (with a breached case) and a case in
//! zh-CN, written to `docs/screenshots/console-*.png`. Not part of the suite
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
    let alice = staff(&s, &rt, "alice", &[Role::Reviewer, Role::Auditor]).await;
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
    b.close().await;
}
