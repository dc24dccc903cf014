//! The events store on both databases (ADR 0022): lifecycle events written
//! with their change and the grant state it causes, destinations read as of
//! the event's time, fan-out children written once, attempts recorded with
//! their settlement, and endpoints disabled on 410.

use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::events::{AttemptRecord, Channel, ChildEvent, EventStore};
use idlink_core::ports::outbox::{Claim, NewEvent, OutboxStore, Settlement};
use idlink_domain::{ClientId, EndpointId, EventId, UserId};
use idlink_store::{SqlStore, testing};

/// A lifecycle event as a store call takes it (the payload is opaque to the store).
pub(crate) fn lifecycle(user: &UserId, id: &str, second: i64) -> NewEvent {
    NewEvent {
        id: EventId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        kind: "lifecycle".into(),
        subject: Some(user.clone()),
        payload: vec![1, 2, 3],
        at: at(second),
    }
}

async fn sql(s: &SqlStore, statement: &str) {
    testing::execute(s, statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

async fn scalar(s: &SqlStore, query: &str) -> String {
    testing::query_text(s, query).await.unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// An app with a grant of `user` created at `created` (seconds), its pairwise sub and a webhook endpoint.
async fn app(s: &SqlStore, client: &str, user: &UserId, created: i64) {
    let sub = format!("sub-{client}");
    let fixture = testing::AppFixture {
        client,
        name: "App",
        user: user.as_str(),
        sub: &sub,
        scopes: "[\"openid\"]",
        logout_uri: Some("https://rp.example/logout"),
        session_required: false,
        webhook_url: Some("https://rp.example/hook"),
        at_micros: at(created).as_microsecond(),
    };
    fixture.insert(s).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_freeze_suspends_grants_and_writes_its_event_in_the_same_transaction() {
    use idlink_core::ports::freezes::FreezeStore;
    use idlink_core::ports::reviews::{CaseKind, CaseRow};
    for db in databases().await {
        let s = &db.store;
        let user = crate::security::new_user(s).await;
        app(s, "cli_a", &user, 1).await;
        let ids = idlink_crypto::SeededRandom::new(9);
        let case = CaseRow::open(&ids, CaseKind::RiskFreeze, &user, user.as_str(), 2, jiff::SignedDuration::from_mins(5), at(10));
        let audit = AuditEntry::new("system", "account.freeze", "risk", at(10)).subject(&user);
        assert!(s.freeze(&user, "burst", &case, &lifecycle(&user, "evt_freeze1", 10), &audit).await.unwrap_or(false));
        assert_eq!(scalar(s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_a'").await, "suspended", "{}", db.kind);
        assert_eq!(scalar(s, "SELECT kind FROM outbox WHERE id = 'evt_freeze1'").await, "lifecycle", "{}", db.kind);
        // Already frozen: nothing changes, no second event.
        assert!(!s.freeze(&user, "burst", &case, &lifecycle(&user, "evt_freeze2", 11), &audit).await.unwrap_or(true));
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM outbox WHERE id = 'evt_freeze2'").await, "0", "{}", db.kind);
    }
}

#[tokio::test]
async fn destinations_are_the_grants_held_at_the_event_time_and_children_are_written_once() {
    for db in databases().await {
        let s = &db.store;
        let user = crate::security::new_user(s).await;
        app(s, "cli_old", &user, 1).await;
        app(s, "cli_new", &user, 100).await;
        let found = s.event_destinations(&user, at(50), None, &[]).await.unwrap_or_else(|e| panic!("{e}"));
        let clients: Vec<&str> = found.iter().map(|d| d.client.as_str()).collect();
        assert_eq!(clients, ["cli_old"], "{}: a grant created after the event does not get it", db.kind);
        assert_eq!(found[0].sub.as_deref(), Some("sub-cli_old"));
        assert_eq!(found[0].endpoints.len(), 1);

        let client = ClientId::parse("cli_old").unwrap_or_else(|e| panic!("{e}"));
        let child = ChildEvent {
            event: NewEvent {
                id: EventId::parse("evt_child1").unwrap_or_else(|e| panic!("{e}")),
                kind: "webhook".into(),
                subject: Some(user.clone()),
                payload: vec![9],
                at: at(50),
            },
            parent: EventId::parse("evt_parent").unwrap_or_else(|e| panic!("{e}")),
            client: client.clone(),
            channel: Channel::Webhook,
            event_type: "account.disabled".into(),
            poll_stream: None,
        };
        s.write_fan_out(std::slice::from_ref(&child)).await.unwrap_or_else(|e| panic!("{e}"));
        s.write_fan_out(std::slice::from_ref(&child)).await.unwrap_or_else(|e| panic!("{}: a repeated fan-out: {e}", db.kind));
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM outbox WHERE parent_id = 'evt_parent'").await, "1", "{}", db.kind);
        assert_eq!(scalar(s, "SELECT state FROM event_deliveries WHERE id = 'evt_child1'").await, "pending");

        // An attempt that failed, then one that got 410: recorded with the settlements.
        let claim = Claim { holder: "n1", token: "tok1", now: at(60), until: at(120), limit: 10, max_attempts: 10 };
        assert_eq!(s.claim_outbox(&claim).await.map(|v| v.len()).ok(), Some(1));
        let record = AttemptRecord {
            attempt: 1,
            started_at: at(60),
            latency_ms: 12,
            http_status: Some(503),
            outcome: "retry",
            error: Some("503".into()),
        };
        let retry = Settlement::Retry { at: at(65), error: "503".into() };
        assert_eq!(s.settle_delivery(&child.event.id, "tok1", at(61), &retry, Some(&record)).await.ok(), Some(true));
        let claim = Claim { token: "tok2", now: at(70), until: at(130), ..claim };
        assert_eq!(s.claim_outbox(&claim).await.map(|v| v.len()).ok(), Some(1));
        let record = AttemptRecord { attempt: 2, started_at: at(70), latency_ms: 3, http_status: Some(410), outcome: "gone", error: None };
        let dead = Settlement::Dead { error: "gone".into() };
        // A stale token records nothing.
        assert_eq!(s.settle_delivery(&child.event.id, "tok1", at(71), &dead, Some(&record)).await.ok(), Some(false));
        assert_eq!(s.settle_delivery(&child.event.id, "tok2", at(71), &dead, Some(&record)).await.ok(), Some(true));
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = 'evt_child1'").await, "2", "{}", db.kind);
        let receipts = s.receipts(&user, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(receipts.len(), 1);
        assert_eq!((receipts[0].state.as_str(), receipts[0].attempts, receipts[0].last_status), ("gone", 2, Some(410)), "{}", db.kind);

        // Receipts are purged by age with their attempts, never a pending one.
        assert_eq!(s.purge_receipts(at(50), 100).await.ok(), Some(0), "{}: created at 50, not before", db.kind);
        assert_eq!(s.purge_receipts(at(51), 100).await.ok(), Some(1), "{}", db.kind);
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = 'evt_child1'").await, "0", "{}", db.kind);
        assert!(s.receipts(&user, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty(), "{}", db.kind);

        let endpoint = EndpointId::parse("whe_cli_old").unwrap_or_else(|e| panic!("{e}"));
        let audit = AuditEntry::new("system:events", "webhook.endpoint_disabled", "410", at(71)).subject(&user);
        assert_eq!(s.disable_endpoint(&endpoint, "gone_410", at(71), &audit).await.ok(), Some(true));
        assert_eq!(s.disable_endpoint(&endpoint, "gone_410", at(72), &audit).await.ok(), Some(false));
        let found = s.event_destinations(&user, at(200), None, &[]).await.unwrap_or_else(|e| panic!("{e}"));
        let old = found.iter().find(|d| d.client == client).unwrap_or_else(|| panic!("cli_old"));
        assert!(old.endpoints.is_empty(), "{}: a disabled endpoint gets nothing more", db.kind);
    }
}

#[tokio::test]
async fn shredding_revokes_every_grant_with_its_tokens() {
    use idlink_core::ports::users::UserStore;
    for db in databases().await {
        let s = &db.store;
        let user = crate::security::new_user(s).await;
        app(s, "cli_s", &user, 1).await;
        let t = at(2).as_microsecond();
        sql(
            s,
            &format!(
                "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, scope, created_at, expires_at)
             VALUES ('h1', 'cli_s', '{user}', 'grt_cli_s', 'openid', {t}, {})",
                t + 600_000_000
            ),
        )
        .await;
        let audit = AuditEntry::new("test", "user.shred", "test", at(5)).subject(&user);
        assert_eq!(s.shred_user_key(&user, &lifecycle(&user, "evt_shred", 5), &audit).await.ok(), Some(true));
        assert_eq!(scalar(s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_s'").await, "revoked", "{}", db.kind);
        assert_ne!(scalar(s, "SELECT COALESCE(revoked_at, 0) FROM oauth_access_tokens WHERE token_hash = 'h1'").await, "0", "{}", db.kind);
        // The purge reaches the app that held the grant at that instant.
        let found = s.event_destinations(&user, at(5), None, &[]).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1, "{}", db.kind);
    }
}
