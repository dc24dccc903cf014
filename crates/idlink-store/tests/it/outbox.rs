//! The outbox and the job leases, on both databases and across two
//! connection pools (two server nodes): each due event is claimed by one
//! worker at a time, a lapsed claim is taken again and fences the old
//! worker out, dead events can be listed and retried; a periodic job's lease
//! lets one node run it per period.

use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::leases::{LeaseStore, TakeLease};
use idlink_core::ports::outbox::{Claim, Listing, NewEvent, OutboxState, OutboxStore, Settlement};
use idlink_domain::EventId;
use idlink_store::testing;
use jiff::SignedDuration;
use std::collections::BTreeSet;

fn event(i: usize, t: i64) -> NewEvent {
    NewEvent { id: eid(&format!("evt_{i:04}")), kind: "user.sms".into(), subject: None, payload: vec![1, 2, 3], at: at(t) }
}

/// A claim of 60 s, of events with at most 5 attempts.
fn eid(id: &str) -> EventId {
    EventId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

fn claim<'a>(holder: &'a str, token: &'a str, now: i64, limit: u32) -> Claim<'a> {
    Claim { holder, token, now: at(now), until: at(now + 60), limit, max_attempts: 5 }
}

#[tokio::test]
async fn an_event_is_claimed_once_retried_parked_and_sent_again() {
    for db in databases().await {
        let s = &db.store;
        s.enqueue_outbox(&[event(1, 100), event(2, 100)]).await.unwrap_or_else(|e| panic!("{e}"));
        s.enqueue_outbox(&[event(3, 200)]).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.outbox_due(at(99)).await.unwrap_or(true), "{}: nothing is due before it was written", db.kind);
        assert!(s.outbox_due(at(100)).await.unwrap_or(false));

        let a = s.claim_outbox(&claim("node-a", "ta", 150, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt_0001", "evt_0002"], "{}: only what is due", db.kind);
        assert!(a.iter().all(|e| e.in_flight && e.claimed_by.as_deref() == Some("node-a") && e.payload == [1, 2, 3]));
        let b = s.claim_outbox(&claim("node-b", "tb", 160, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(b.is_empty(), "{}: claimed events are not claimed again while the claim holds: {b:?}", db.kind);

        // 1 is delivered; 2's worker dies: its claim lapses and node b takes it, fencing node a out.
        assert_eq!(s.settle_outbox(&eid("evt_0001"), "ta", at(151), &Settlement::Delivered).await.ok(), Some(true));
        let b = s.claim_outbox(&claim("node-b", "tb", 211, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt_0002", "evt_0003"], "{}", db.kind);
        assert_eq!(
            s.settle_outbox(&eid("evt_0002"), "ta", at(212), &Settlement::Delivered).await.ok(),
            Some(false),
            "{}: a lapsed claim records nothing",
            db.kind
        );
        let retry = Settlement::Retry { at: at(300), error: "attempt 1: sms is in maintenance".into() };
        assert_eq!(s.settle_outbox(&eid("evt_0002"), "tb", at(212), &retry).await.ok(), Some(true));
        assert_eq!(s.settle_outbox(&eid("evt_0003"), "tb", at(212), &Settlement::Release).await.ok(), Some(true));

        // Each claim counted an attempt, node a's that lapsed included; the settlements count none.
        let two = s.outbox_item(&eid("evt_0002")).await.ok().flatten().unwrap_or_else(|| panic!("evt_0002"));
        assert_eq!((two.state, two.attempts, two.due_at, two.in_flight), (OutboxState::Pending, 2, at(300), false), "{}", db.kind);
        assert_eq!(two.last_error.as_deref(), Some("attempt 1: sms is in maintenance"));
        let three = s.outbox_item(&eid("evt_0003")).await.ok().flatten().unwrap_or_else(|| panic!("evt_0003"));
        assert_eq!((three.attempts, three.due_at), (0, at(212)), "{}: a release counts no attempt", db.kind);
        let one = s.outbox_item(&eid("evt_0001")).await.ok().flatten().unwrap_or_else(|| panic!("evt_0001"));
        assert_eq!((one.state, one.attempts, one.finished_at), (OutboxState::Delivered, 1, Some(at(151))));

        // The last attempt fails: parked as dead, listed, and sent again by an operator.
        let c = s.claim_outbox(&claim("node-a", "tc", 300, 10)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt_0002", "evt_0003"]);
        let dead = Settlement::Dead { error: "attempt 2 of 2: sms is in maintenance".into() };
        assert_eq!(s.settle_outbox(&eid("evt_0002"), "tc", at(301), &dead).await.ok(), Some(true));
        assert_eq!(s.settle_outbox(&eid("evt_0003"), "tc", at(301), &Settlement::Delivered).await.ok(), Some(true));
        let listed = s.outbox_items(Listing::Dead, 10).await.unwrap_or_default();
        assert_eq!(listed.iter().map(|e| (e.id.as_str(), e.attempts)).collect::<Vec<_>>(), [("evt_0002", 3)], "{}", db.kind);
        assert_eq!(s.outbox_items(Listing::Undelivered, 10).await.map(|l| l.len()).ok(), Some(1));
        let counts = s.outbox_counts().await.unwrap_or_default();
        assert_eq!((counts.pending, counts.dead), (0, 1), "{}", db.kind);
        assert!(!s.outbox_due(at(10_000)).await.unwrap_or(true), "{}: a dead event is not attempted", db.kind);

        let (head, _) = s.audit_head().await.unwrap_or_default();
        let audit = AuditEntry::new("cli", "outbox.retry", "an operator sent it again", at(400));
        assert_eq!(s.retry_outbox_item(&eid("evt_0002"), at(400), &audit).await.ok(), Some(true));
        assert_eq!(
            s.retry_outbox_item(&eid("evt_0001"), at(400), &audit).await.ok(),
            Some(false),
            "{}: delivered stays delivered",
            db.kind
        );
        let two = s.outbox_item(&eid("evt_0002")).await.ok().flatten().unwrap_or_else(|| panic!("evt_0002"));
        assert_eq!((two.state, two.attempts, two.due_at, two.finished_at), (OutboxState::Pending, 0, at(400), None), "{}", db.kind);
        assert_eq!(s.audit_head().await.map(|h| h.0).ok(), Some(head + 1), "{}: the retry is audited", db.kind);
        let again = s.claim_outbox(&claim("node-b", "td", 400, 10)).await.unwrap_or_default();
        assert_eq!(again.len(), 1);
        assert_eq!(
            s.retry_outbox_item(&eid("evt_0002"), at(401), &audit).await.ok(),
            Some(false),
            "{}: not while a worker holds it",
            db.kind
        );

        // Delivered events are purged once older than the retention.
        assert_eq!(s.purge_delivered_outbox(at(200), 100).await.ok(), Some(1), "{}", db.kind);
        assert_eq!(s.outbox_item(&eid("evt_0001")).await.ok().flatten(), None);
        assert!(s.outbox_item(&eid("evt_0003")).await.ok().flatten().is_some());
    }
}

/// A worker that dies during every delivery (the process crashes in the
/// middle of the attempt, nothing is settled) still uses up the event's
/// attempts: each claim counts one, and the claim after the last parks the
/// event as dead instead of taking it, where an operator lists and retries it.
#[tokio::test]
async fn an_event_whose_worker_dies_during_every_attempt_is_parked_after_the_last_one() {
    for db in databases().await {
        let s = &db.store;
        s.enqueue_outbox(&[event(1, 100)]).await.unwrap_or_else(|e| panic!("{e}"));
        let max = 3;
        let tokens = ["t1", "t2", "t3", "t4", "t5"];
        let take = async |n: usize, now: i64| {
            let c = Claim { max_attempts: max, ..claim("node-a", tokens[n], now, 10) };
            s.claim_outbox(&c).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind))
        };
        let seen = |items: &[idlink_core::ports::outbox::OutboxItem]| {
            items.iter().map(|e| (e.id.to_string(), e.state, e.attempts)).collect::<Vec<_>>()
        };
        let one = |state, attempts| vec![("evt_0001".to_owned(), state, attempts)];

        // The first attempt fails and is settled; the next two are never settled: each claim lapses after 60 s.
        assert_eq!(seen(&take(0, 100).await), one(OutboxState::Pending, 1), "{}", db.kind);
        let retry = Settlement::Retry { at: at(110), error: "attempt 1: sms is in maintenance".into() };
        assert_eq!(s.settle_outbox(&eid("evt_0001"), "t1", at(101), &retry).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(seen(&take(1, 110).await), one(OutboxState::Pending, 2), "{}", db.kind);
        assert!(take(2, 169).await.is_empty(), "{}: not before the claim lapses", db.kind);
        assert_eq!(seen(&take(2, 170).await), one(OutboxState::Pending, 3), "{}: the lapsed claim counted", db.kind);

        // The claim after the last attempt parks it instead of taking it.
        let parked = take(3, 230).await;
        assert_eq!(seen(&parked), one(OutboxState::Dead, max), "{}", db.kind);
        let dead = s.outbox_item(&eid("evt_0001")).await.ok().flatten().unwrap_or_else(|| panic!("evt_0001"));
        assert_eq!(
            (dead.state, dead.attempts, dead.in_flight, dead.finished_at),
            (OutboxState::Dead, 3, false, Some(at(230))),
            "{}",
            db.kind
        );
        assert_eq!(
            dead.last_error.as_deref(),
            Some(
                "attempt 3 of 3 was never settled: the worker stopped or lost its claim during delivery; \
                 the last error recorded: attempt 1: sms is in maintenance"
            ),
            "{}",
            db.kind
        );
        assert_eq!(seen(&s.outbox_items(Listing::Dead, 10).await.unwrap_or_default()), one(OutboxState::Dead, 3), "{}", db.kind);
        assert_eq!(s.outbox_counts().await.map(|c| (c.pending, c.dead)).ok(), Some((0, 1)), "{}", db.kind);
        assert!(!s.outbox_due(at(10_000)).await.unwrap_or(true), "{}: a dead event is not due", db.kind);
        assert!(take(4, 10_000).await.is_empty(), "{}: nor claimed", db.kind);
        assert_eq!(s.settle_outbox(&eid("evt_0001"), "t3", at(231), &Settlement::Delivered).await.ok(), Some(false), "{}", db.kind);

        // An operator's retry makes it due again, with a fresh count.
        let audit = AuditEntry::new("cli", "outbox.retry", "an operator sent it again", at(300));
        assert_eq!(s.retry_outbox_item(&eid("evt_0001"), at(300), &audit).await.ok(), Some(true), "{}", db.kind);
        assert!(s.outbox_due(at(300)).await.unwrap_or(false), "{}", db.kind);
        assert_eq!(seen(&take(4, 300).await), one(OutboxState::Pending, 1), "{}", db.kind);
    }
}

/// Two nodes' workers claiming at the same time: every event once.
#[tokio::test]
async fn concurrent_claims_on_two_nodes_take_each_event_once() {
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let events: Vec<NewEvent> = (0..120).map(|i| event(i, 100)).collect();
        db.store.enqueue_outbox(&events).await.unwrap_or_else(|e| panic!("{e}"));
        let tasks: Vec<_> = (0..24)
            .map(|w| {
                let store = if w % 2 == 0 { db.store.clone() } else { node_b.clone() };
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let token = format!("t{w}");
                    loop {
                        let c = store.claim_outbox(&claim("node", &token, 100, 3)).await.unwrap_or_else(|e| panic!("{e}"));
                        if c.is_empty() {
                            break got;
                        }
                        got.extend(c.into_iter().map(|e| e.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_else(|e| panic!("{e}")));
        }
        let distinct: BTreeSet<&EventId> = all.iter().collect();
        assert_eq!((all.len(), distinct.len()), (120, 120), "{}: each event claimed once", db.kind);
        node_b.close().await;
    }
}

#[tokio::test]
async fn a_job_lease_lets_one_node_run_per_period() {
    for db in databases().await {
        let (a, b) = (db.store.clone(), testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}")));
        let period = SignedDuration::from_secs(60);
        let take = |holder: &'static str, now: i64, force: bool| TakeLease {
            job: "job",
            holder,
            now: at(now),
            period,
            until: at(now + 70),
            force,
        };
        assert_eq!(a.take_lease(&take("a", 0, false)).await.ok(), Some(true), "{}: the first run", db.kind);
        assert_eq!(b.take_lease(&take("b", 1, false)).await.ok(), Some(false), "{}", db.kind);
        assert_eq!(a.take_lease(&take("a", 59, false)).await.ok(), Some(false), "{}: not due yet", db.kind);
        assert_eq!(b.take_lease(&take("b", 65, false)).await.ok(), Some(false), "{}: due, but a holds it", db.kind);
        assert_eq!(b.take_lease(&take("b", 65, true)).await.ok(), Some(false), "{}: a forced run respects the lease too", db.kind);
        assert_eq!(a.take_lease(&take("a", 65, false)).await.ok(), Some(true), "{}: the holder runs it again", db.kind);
        assert_eq!(a.finish_lease("job", "a", at(66), false, None).await.ok(), Some(Some(1)), "{}: one run finished", db.kind);
        // The holder stops: another node takes over once the lease lapses.
        assert_eq!(b.take_lease(&take("b", 134, false)).await.ok(), Some(false), "{}", db.kind);
        assert_eq!(b.take_lease(&take("b", 135, false)).await.ok(), Some(true), "{}: taken over", db.kind);
        assert_eq!(a.finish_lease("job", "a", at(136), false, Some("late")).await.ok(), Some(None), "{}: not a's any more", db.kind);
        assert_eq!(b.finish_lease("job", "b", at(136), true, Some("it failed")).await.ok(), Some(Some(2)), "{}", db.kind);
        // Released at shutdown: a forced run (a's start) may take it at once.
        assert_eq!(a.take_lease(&take("a", 137, true)).await.ok(), Some(true), "{}", db.kind);
        let lease = a.lease("job").await.ok().flatten().unwrap_or_else(|| panic!("lease"));
        assert_eq!((lease.holder.as_str(), lease.runs, lease.done, lease.last_run_at), ("a", 4, 2, at(137)), "{}", db.kind);
        assert_eq!(lease.last_error.as_deref(), Some("it failed"));
        // A clock that went back does not stop the job for good.
        assert_eq!(a.take_lease(&take("a", 100, false)).await.ok(), Some(true), "{}", db.kind);

        // Many nodes at the same instant: one run.
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    let holder = format!("n{i}");
                    let t = TakeLease { job: "race", holder: &holder, now: at(500), period, until: at(570), force: false };
                    store.take_lease(&t).await.unwrap_or_else(|e| panic!("{e}"))
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.unwrap_or(false));
        }
        assert_eq!(won, 1, "{}", db.kind);
        assert_eq!(a.leases().await.map(|l| l.len()).ok(), Some(2));
        b.close().await;
    }
}
