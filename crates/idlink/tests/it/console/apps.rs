//! The console's apps page (SPEC TP1, TP3, OP): the registered apps with
//! their grants and deliveries by state, one app's receipts with each
//! attempt; an admin rotates the secret (shown once) and disables the app;
//! a reviewer reads without the actions. axe on every state, in two languages.

use super::{audit_actions, staff};
use crate::grants::{apps_key, grant_with_tokens, register};
use crate::h5::Browser;
use crate::login::{login_ok, me};
use crate::start_full;
use idlink::serve::Runtime;
use idlink_core::ports::clients::ClientStore;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use idlink_domain::ClientId;
use idlink_store::testing;
use serde_json::Value;
use std::sync::Arc;

#[tokio::test]
async fn an_admin_reads_an_apps_receipts_rotates_its_secret_and_disables_it() {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_full(db, &[], rt.clone()).await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    let rex = staff(&s, &rt, "rex", &[Role::Reviewer]).await;
    let key = apps_key(&s).await;
    let created = register(&s, &key, "Example Pay").await;
    let id = created["client"]["client_id"].as_str().unwrap_or_default().to_owned();
    let first_secret = created["client_secret"].as_str().unwrap_or_default().to_owned();
    let session = login_ok(&s, "13800138201", "dev-console").await["session_token"].as_str().unwrap_or_default().to_owned();
    let user = me(&s, &session).await.json::<Value>().await.unwrap_or_default()["user_id"].as_str().unwrap_or_default().to_owned();
    grant_with_tokens(&s, &user, &id, "con").await;
    let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
    let t = jiff::Timestamp::now().as_microsecond();
    for q in [
        format!(
            "INSERT INTO event_deliveries (id, parent_event_id, user_id, client_id, channel, event_type, created_at, state, attempts, last_status) \
                 VALUES ('evt_dead', 'evt_p2', '{user}', '{id}', 'webhook', 'grant.revoked', {t}, 'dead', 2, 503)"
        ),
        format!(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, http_status, outcome, error) VALUES ('evt_dead', 1, {t}, 412, 503, 'retry', 'service unavailable')"
        ),
        format!(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, http_status, outcome, error) VALUES ('evt_dead', 2, {t}, 38, 400, 'dead', 'invalid_request')"
        ),
        // The app's Shared Signals stream (polled), which follows the app's state.
        format!(
            "INSERT INTO ssf_streams (id, client_id, aud, method, endpoint_url, authorization_header, events_requested, events_delivered, status, status_reason, description, created_at, updated_at) \
                 VALUES ('sst_con', '{id}', '{id}', 'urn:ietf:rfc:8936', NULL, NULL, '[]', '[]', 'enabled', NULL, NULL, {t}, {t})"
        ),
    ] {
        testing::execute(store, &q).await.unwrap_or_else(|e| panic!("{q}: {e}"));
    }

    let b = Browser::open(true).await;
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &ada.username).await;
    b.fill("#password", &ada.password).await;
    b.fill("#totp", &ada.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/apps']").await;
    assert_eq!(b.text("h1").await, "Third-party apps");
    let row = b.text("#apps tbody tr").await;
    assert!(row.contains("Example Pay") && row.contains("server (keeps a secret)") && row.contains("active"), "{row}");
    assert!(row.contains("https://rp.example.com/callback") && row.contains("1 delivered") && row.contains("1 dead"), "{row}");
    b.assert_accessible("console apps, en").await;

    b.click(&format!("a[href='/console/apps/{id}']")).await;
    assert_eq!(b.text("#app-name").await, "Example Pay");
    assert_eq!(b.text("#webhook-state").await, "receiving", "the receiver's state in words");
    let receipts = b.text("#receipts").await;
    assert!(receipts.contains("grant.revoked") && receipts.contains("503 (retry)") && receipts.contains("412 ms"), "{receipts}");
    assert!(receipts.contains("400 (dead)") && receipts.contains("invalid_request"), "{receipts}");
    b.assert_accessible("console app detail, en").await;

    b.click("#rotate-secret").await;
    let shown = b.text("#new-secret").await;
    let secret = shown.split_whitespace().find(|w| w.starts_with("ics_")).unwrap_or_default().to_owned();
    assert!(!secret.is_empty() && secret != first_secret, "{shown}");
    let cid = ClientId::parse(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.live_client_secrets(&cid, rt.clock.now()).await.unwrap_or_default().len(), 2, "both during the overlap");
    b.assert_accessible("console secret shown, en").await;
    b.goto(&s.url(&format!("/console/apps/{id}"))).await;
    assert!(!b.has("#new-secret").await && !b.text("main").await.contains(&secret), "shown once");

    b.click("button[name=lang][value=zh-HK]").await;
    b.click("#disable").await;
    assert_eq!(b.text("#app-state").await, "已停用");
    assert!(b.has("#enable").await);
    b.assert_accessible("console app disabled, zh-HK").await;
    let actions = audit_actions(&s).await;
    let ada_did: Vec<&str> = actions.iter().filter(|(who, _, _)| who.starts_with("operator:")).map(|(_, a, _)| a.as_str()).collect();
    assert!(ada_did.contains(&"oauth_client.rotate_secret") && ada_did.contains(&"oauth_client.disable"), "{actions:?}");
    assert!(ada_did.contains(&"ssf.stream_disabled"), "the stream's change is audited too: {actions:?}");
    // The console's disable took the stream with it and queued the stream-updated SET (SSF 1.0 §8.1.5).
    let text = |q: String| async move { testing::query_text(store, &q).await.unwrap_or_else(|e| panic!("{q}: {e}")) };
    assert_eq!(text("SELECT status FROM ssf_streams WHERE id = 'sst_con'".into()).await, "disabled");
    assert_eq!(text("SELECT status_reason FROM ssf_streams WHERE id = 'sst_con'".into()).await, "The app was disabled.");
    let announced = "SELECT COUNT(*) FROM ssf_poll_queue WHERE stream_id = 'sst_con'".to_owned();
    assert_eq!(text(announced).await, "1", "the stream-updated SET waits for the receiver's poll");

    // A reviewer reads the receipts without the actions.
    b.click("form[action='/console/sign-out'] button").await;
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &rex.username).await;
    b.fill("#password", &rex.password).await;
    b.fill("#totp", &rex.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    b.goto(&s.url(&format!("/console/apps/{id}"))).await;
    assert!(b.has("#receipts").await && !b.has("#disable").await && !b.has("#enable").await && !b.has("#rotate-secret").await);
    b.assert_accessible("console app for a reviewer").await;
    b.close().await;
}
