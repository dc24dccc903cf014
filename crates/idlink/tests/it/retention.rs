//! Retention by period (issue 18 point 2, SPEC P7, CP) on both databases:
//! with the clock moved five years and a day, the purge removes exactly
//! the expired records of each kind, keeps every checkpoint, and the audit
//! chain still verifies from the checkpoint the purge ended at (and breaks
//! on a tamper in what is kept); a legal hold keeps its user's records
//! until it is released.

use crate::cards::{balance, bound_card, step_up, switch};
use crate::login::me;
use crate::{Server, databases, start_full};
use idlink::serve::Runtime;
use idlink_core::audit::{ChainBreak, SigningReason, verify_store};
use idlink_core::ports::clock::{Clock, ManualClock};
use idlink_core::ports::ids::RandomIds;
use idlink_core::retention::Retention;
use idlink_domain::UserId;
use idlink_store::testing;
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::Arc;

/// A user who binds a card of `bank` and queries its balance once; their id.
async fn query_once(s: &Server, bank: &str) -> String {
    let (token, binding, _) = bound_card(s, bank).await;
    switch(s, &token, true).await;
    let t = step_up(s, &token, &binding).await;
    assert_eq!(balance(s, &token, &binding, Some(&t)).await.status().as_u16(), 200, "{}: {bank}", s.kind);
    me(s, &token).await.json::<Value>().await.unwrap_or_default()["user_id"].as_str().unwrap_or_default().to_owned()
}

async fn count(s: &Server, sql: &str) -> i64 {
    let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
    testing::query_text(store, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).parse().unwrap_or(-1)
}

/// Signs the chain head now (as the server's periodic job does).
async fn sign(s: &Server, clock: &ManualClock) {
    let r = s.running.as_ref().unwrap_or_else(|| panic!("running"));
    let policy = s.config.checkpoint_policy();
    idlink_core::audit::checkpoint(&r.store, r.witness.as_ref(), r.vault.signer(), &policy, clock.now(), SigningReason::Manual)
        .await
        .unwrap_or_else(|e| panic!("{}: checkpoint: {e}", s.kind));
}

async fn verify(s: &Server, clock: &ManualClock) -> idlink_core::audit::VerifyReport {
    let r = s.running.as_ref().unwrap_or_else(|| panic!("running"));
    let key = r.vault.signer().public_hex();
    verify_store(&r.store, r.witness.as_ref(), &key, &s.config.checkpoint_policy(), clock.now())
        .await
        .unwrap_or_else(|e| panic!("{}: verify: {e}", s.kind))
}

/// Some activity now (a user created through the API), signed.
async fn activity(s: &Server, clock: &ManualClock, phone: &str) {
    let res = s.authed(reqwest::Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 201, "{}", s.kind);
    sign(s, clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_five_years_and_a_day_on_removes_exactly_what_expired_and_the_chain_still_verifies() {
    for db in databases().await {
        // 31 March 2021, 02:00 in Shanghai: the last day of a month.
        let start: jiff::Timestamp = "2021-03-30T18:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::new(start));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let running = s.running.as_ref().unwrap_or_else(|| panic!("running"));
        let (store, vault) = (running.store.clone(), running.vault.clone());
        let retention = Retention {
            store: &store,
            audits: &store,
            clock: clock.as_ref(),
            public_key: vault.signer().public_hex(),
            rules: idlink::config::Retention::rules(&s.config),
        };
        let job = idlink::serve::retention_job(&s.config, store.clone(), vault.clone(), clock.clone());

        // Ann queries a balance; an hour later Bo does, and a dispute puts Bo on hold.
        let ann = query_once(&s, "ICBC").await;
        sign(&s, &clock).await;
        let ann_signed = count(&s, "SELECT MAX(seq) FROM audit_checkpoints").await;
        clock.advance(SignedDuration::from_hours(1));
        let bo = query_once(&s, "ABC").await;
        assert_ne!(ann, bo, "{kind}: two users");
        let bo_id = UserId::parse(&bo).unwrap_or_else(|e| panic!("{e}"));
        let hold = retention
            .place_hold(&RandomIds(rt.rng.clone()), &bo_id, "dispute", "DSP-2021-0042", "test")
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        sign(&s, &clock).await;
        let of = |table: &str, user: &str| format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{user}'");
        let (ann_sessions, bo_sessions) = (count(&s, &of("sessions", &ann)).await, count(&s, &of("sessions", &bo)).await);
        assert!(ann_sessions >= 1 && bo_sessions >= 1, "{kind}");

        // Nothing is due a day later.
        clock.advance(SignedDuration::from_hours(24));
        let early = job.purge().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!((early.query_log, early.sign_ins, early.audit.len()), (0, 0, 0), "{kind}: nothing is due yet");

        // Five years and a day later: 1 April 2026 in Shanghai, so the whole of March 2021 is past its rule.
        clock.set(start.to_zoned(jiff::tz::TimeZone::UTC).checked_add(jiff::Span::new().years(5).days(1)).map_or(start, |z| z.timestamp()));
        activity(&s, &clock, "13700000001").await;
        let checkpoints = count(&s, "SELECT COUNT(*) FROM audit_checkpoints").await;
        let records = count(&s, "SELECT COUNT(*) FROM audit_log").await;
        let purged = job.purge().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(purged.query_log, 1, "{kind}: Ann's query, not Bo's (held)");
        assert_eq!(purged.sign_ins, u64::try_from(ann_sessions).unwrap_or(0), "{kind}: Ann's sign-ins, not Bo's");
        assert_eq!(count(&s, &of("balance_queries", &bo)).await, 1, "{kind}: Bo's query is held");
        assert_eq!(count(&s, &of("balance_queries", &ann)).await, 0, "{kind}");
        assert_eq!(count(&s, &of("sessions", &bo)).await, bo_sessions, "{kind}");
        // The chain is purged up to the last checkpoint before Bo's first record: Ann's.
        assert_eq!(purged.audit.len(), 1, "{kind}: {:?}", purged.audit);
        let p = &purged.audit[0];
        assert_eq!((p.first_seq, p.through_seq, p.period.as_str()), (1, ann_signed, "2021-03"), "{kind}");
        assert_eq!(count(&s, "SELECT MIN(seq) FROM audit_log").await, ann_signed + 1, "{kind}");
        assert_eq!(
            count(&s, "SELECT COUNT(*) FROM audit_log").await,
            records - ann_signed + 1,
            "{kind}: exactly the purged records went (and the purge's own record came)"
        );
        assert_eq!(count(&s, "SELECT COUNT(*) FROM audit_checkpoints").await, checkpoints, "{kind}: every checkpoint stays");

        sign(&s, &clock).await;
        let report = verify(&s, &clock).await;
        assert_eq!(report.first_break, None, "{kind}");
        assert_eq!(report.purged.len(), 1, "{kind}: verify says which period was purged");
        assert_eq!(report.purged[0].period, "2021-03");
        // Purging again finds nothing more while Bo is held.
        let again = job.purge().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!((again.query_log, again.sign_ins, again.audit.len()), (0, 0, 0), "{kind}");

        // The dispute ends: Bo's records go at the next purge.
        assert!(retention.release_hold(&hold.id, "test").await.unwrap_or(false), "{kind}");
        clock.advance(SignedDuration::from_hours(24));
        activity(&s, &clock, "13700000002").await;
        let purged = job.purge().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!((purged.query_log, purged.sign_ins), (1, u64::try_from(bo_sessions).unwrap_or(0)), "{kind}");
        assert_eq!(purged.audit.len(), 1, "{kind}");
        assert_eq!(purged.audit[0].first_seq, ann_signed + 1, "{kind}");
        sign(&s, &clock).await;
        let report = verify(&s, &clock).await;
        assert_eq!(report.first_break, None, "{kind}");
        assert_eq!(report.purged.len(), 2, "{kind}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM audit_checkpoints").await, checkpoints + 3, "{kind}: none removed, three signed since");

        // A tamper in what is kept is still found.
        crate::audit::drop_guards(&s.db).await;
        let first_kept = count(&s, "SELECT MIN(seq) FROM audit_log").await;
        testing::execute(&store, &format!("UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = {}", first_kept + 1))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let report = verify(&s, &clock).await;
        assert_eq!(report.first_break, Some(ChainBreak::AlteredRecord { seq: first_kept + 1 }), "{kind}");
    }
}
