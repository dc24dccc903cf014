//! The events store on both databases (ADR 0022): lifecycle events written
//! with their change and the grant state it causes, destinations read as of
//! the event's time, fan-out children written once, attempts recorded with
//! their settlement, and endpoints disabled on 410.

use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::events::{AttemptRecord, Channel, ChildEvent, EventStore, StatusChange};
use idlink_core::ports::outbox::{Claim, NewEvent, OutboxStore, Settlement};
use idlink_domain::{ClientId, EndpointId, EventId, StreamId, UserId};
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

/// A child of `parent` for `client` on `channel` (poll children go to `stream`'s queue).
fn child(id: &str, client: &ClientId, channel: Channel, stream: Option<&StreamId>, second: i64) -> ChildEvent {
    ChildEvent {
        event: NewEvent {
            id: EventId::parse(id).unwrap_or_else(|e| panic!("{e}")),
            kind: channel.kind().into(),
            subject: None,
            payload: vec![7],
            at: at(second),
        },
        parent: EventId::parse("evt_parent").unwrap_or_else(|e| panic!("{e}")),
        client: client.clone(),
        channel,
        event_type: "account.disabled".into(),
        poll_stream: stream.cloned(),
    }
}

/// SSF 1.0 §8.1.2 in the store: one shape writes a stream (insert, then an
/// update that keeps its identity); `disabled` drops what is held (pending
/// pushes not in flight, unacknowledged polls; receipts dead) and writes the
/// announcement after; `enabled` makes held pushes due at once. The
/// deliveries list pages newest first with each attempt.
#[tokio::test]
async fn stream_status_drops_or_releases_what_is_held_and_deliveries_page() {
    use idlink_core::ports::events::StreamRow;
    for db in databases().await {
        let s = &db.store;
        let user = crate::security::new_user(s).await;
        app(s, "cli_st", &user, 1).await;
        let client = ClientId::parse("cli_st").unwrap_or_else(|e| panic!("{e}"));
        let id = StreamId::parse("sst_st").unwrap_or_else(|e| panic!("{e}"));
        let mut row = StreamRow {
            id: id.clone(),
            client: client.clone(),
            aud: "cli_st".into(),
            method: "urn:ietf:rfc:8935".into(),
            endpoint_url: Some("https://rp.example/set".into()),
            authorization_header: Some(vec![1, 2]),
            events_requested: vec!["a".into()],
            events_delivered: vec![],
            status: "enabled".into(),
            status_reason: None,
            description: Some("d".into()),
            created_at: at(2),
            updated_at: at(2),
        };
        let audit = AuditEntry::new("app:cli_st", "ssf.stream_create", "test", at(2));
        s.insert_stream(&row, &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        row.description = Some("changed".into());
        row.updated_at = at(3);
        assert_eq!(s.update_stream(&row, &audit).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.stream_of(&client).await.ok().flatten(), Some(row.clone()), "{}: what was written is read", db.kind);

        // Two pushes held (one claimed, in flight) and one polled SET waiting.
        let held = child("evt_held", &client, Channel::SetPush, None, 4);
        let flying = child("evt_flying", &client, Channel::SetPush, None, 4);
        let polled = child("evt_polled", &client, Channel::SetPoll, Some(&id), 4);
        s.write_fan_out(std::slice::from_ref(&flying)).await.unwrap_or_else(|e| panic!("{e}"));
        let claim = Claim { holder: "n1", token: "tokf", now: at(5), until: at(60), limit: 10, max_attempts: 10 };
        assert_eq!(s.claim_outbox(&claim).await.map(|v| v.len()).ok(), Some(1), "{}", db.kind);
        s.write_fan_out(&[held.clone(), polled.clone()]).await.unwrap_or_else(|e| panic!("{e}"));
        // Paused (again: no change, nothing written), later enabled: the held push is due at once.
        let change = |status: &str, n: i64, endpoint: Option<&str>| StatusChange {
            stream: id.clone(),
            client: client.clone(),
            status: status.into(),
            reason: Some(format!("{status} at {n}")),
            at: at(n),
            endpoint: endpoint.map(str::to_owned),
        };
        assert_eq!(s.set_stream_status(&change("paused", 5, None), None, &audit).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.set_stream_status(&change("paused", 5, None), None, &audit).await.ok(), Some(false), "{}: no change", db.kind);
        sql(s, &format!("UPDATE outbox SET due_at = {} WHERE id = 'evt_held'", at(100_000).as_microsecond())).await;
        assert_eq!(s.set_stream_status(&change("enabled", 6, None), None, &audit).await.ok(), Some(true), "{}", db.kind);
        let stored = s.stream_of(&client).await.ok().flatten();
        assert_eq!(stored, Some(change("enabled", 6, None).applied(row.clone())), "{}: the status columns only", db.kind);
        assert_eq!(scalar(s, "SELECT due_at FROM outbox WHERE id = 'evt_held'").await, at(6).as_microsecond().to_string(), "{}", db.kind);

        // Disabled, with the transmitter's announcement: held dropped, in-flight untouched, announcement pending.
        // A 410 from an endpoint the stream no longer pushes to changes nothing.
        let announce = child("evt_announce", &client, Channel::SetPush, None, 7);
        let moved = change("disabled", 7, Some("https://rp.example/old"));
        assert_eq!(s.set_stream_status(&moved, Some(&announce), &audit).await.ok(), Some(false), "{}", db.kind);
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM outbox WHERE id = 'evt_announce'").await, "0", "{}", db.kind);
        let gone = change("disabled", 7, Some("https://rp.example/set"));
        assert_eq!(s.set_stream_status(&gone, Some(&announce), &audit).await.ok(), Some(true), "{}", db.kind);
        let state = |id: &str| format!("SELECT state FROM outbox WHERE id = '{id}'");
        assert_eq!(scalar(s, &state("evt_held")).await, "dead", "{}", db.kind);
        assert_eq!(scalar(s, &state("evt_flying")).await, "pending", "{}: a claimed push settles itself", db.kind);
        assert_eq!(scalar(s, &state("evt_announce")).await, "pending", "{}", db.kind);
        let receipt = |id: &str| format!("SELECT state FROM event_deliveries WHERE id = '{id}'");
        assert_eq!(scalar(s, &receipt("evt_held")).await, "dead", "{}", db.kind);
        assert_eq!(scalar(s, &receipt("evt_polled")).await, "dead", "{}", db.kind);
        assert_eq!(scalar(s, &receipt("evt_announce")).await, "pending", "{}", db.kind);
        assert_eq!(scalar(s, "SELECT COUNT(*) FROM ssf_poll_queue WHERE stream_id = 'sst_st'").await, "0", "{}", db.kind);
        assert_eq!(
            scalar(s, "SELECT COUNT(*) FROM audit_log WHERE actor = 'app:cli_st'").await,
            "5",
            "{}: what changed nothing is not audited",
            db.kind
        );
        // A configuration written from a row read before the transmitter's change keeps the status.
        let mut stale = row.clone();
        stale.description = Some("after".into());
        assert_eq!(s.update_stream(&stale, &audit).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(scalar(s, "SELECT status FROM ssf_streams WHERE id = 'sst_st'").await, "disabled", "{}", db.kind);
        assert_eq!(scalar(s, "SELECT description FROM ssf_streams WHERE id = 'sst_st'").await, "after", "{}", db.kind);

        // The deliveries: four receipts, newest first, two a page.
        let record = AttemptRecord {
            attempt: 1,
            started_at: at(8),
            latency_ms: 9,
            http_status: Some(503),
            outcome: "retry",
            error: Some("503".into()),
        };
        let retry = Settlement::Retry { at: at(20), error: "503".into() };
        assert_eq!(s.settle_delivery(&flying.event.id, "tokf", at(8), &retry, Some(&record)).await.ok(), Some(true), "{}", db.kind);
        let first = s.client_deliveries(&client, None, 2).await.unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = first.iter().map(|d| d.receipt.id.as_str()).collect();
        assert_eq!(ids, ["evt_announce", "evt_polled"], "{}: newest first, ties by id", db.kind);
        let next = s.client_deliveries(&client, Some(&first[1].receipt.id), 2).await.unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = next.iter().map(|d| d.receipt.id.as_str()).collect();
        assert_eq!(ids, ["evt_held", "evt_flying"], "{}", db.kind);
        assert_eq!(next[1].attempts.len(), 1, "{}", db.kind);
        assert_eq!((next[1].attempts[0].http_status, next[1].attempts[0].latency_ms), (Some(503), 9), "{}", db.kind);
        let other = ClientId::parse("cli_other").unwrap_or_else(|e| panic!("{e}"));
        assert!(s.client_deliveries(&other, None, 2).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    }
}
