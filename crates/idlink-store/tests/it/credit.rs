//! Credit-report requests on both databases and two nodes: the free quota
//! and the one-request-under-way rule hold under concurrency, the price
//! accepted is the price opened, and state changes are conditional.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::credit::{CreditStore, Move, NewCreditRequest, Opened};
use idlink_crypto::{OsRandom, Random};
use idlink_domain::credit_request::RequestState;
use idlink_domain::{CreditRequestId, Fen, UserId};
use idlink_store::testing;

const FEE: Fen = Fen(2_500);

fn new(user: &UserId, accepted: Fen, second: i64) -> NewCreditRequest {
    NewCreditRequest {
        id: CreditRequestId::from_random(OsRandom.bytes16()),
        user_id: user.clone(),
        year: 2026,
        free_per_year: 2,
        fee: FEE,
        accepted_fee: accepted,
        expected_at: None,
        at: at(second),
    }
}

fn audit(user: &UserId) -> AuditEntry {
    AuditEntry::new("test", "credit_report.request", "credit report", at(0)).subject(user)
}

async fn open(store: &dyn CreditStore, user: &UserId, accepted: Fen, second: i64) -> Opened {
    store.open_credit_request(&new(user, accepted, second), &audit(user)).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn finish(store: &dyn CreditStore, id: &CreditRequestId, to: RequestState) {
    let from = [RequestState::Requested, RequestState::Verifying, RequestState::Fetching, RequestState::InReview];
    let (m, a) = (Move::default(), AuditEntry::new("test", "credit_report.end", "credit report", at(9)));
    let moved = store.move_credit_request(id, &from, to, &m, at(9), &a).await;
    assert!(moved.unwrap_or_else(|e| panic!("{e}")), "{id} ends {to:?}");
}

fn opened(o: Opened) -> idlink_core::ports::credit::CreditRequestRow {
    match o {
        Opened::Opened(row) => *row,
        other => panic!("expected a request opened, got {other:?}"),
    }
}

#[tokio::test]
async fn two_free_reports_a_year_then_the_fee_and_a_failed_one_gives_its_report_back() {
    for db in databases().await {
        let user = new_user(&db.store).await;
        let first = opened(open(&db.store, &user, Fen::ZERO, 1).await);
        assert!(first.free && first.fee == Fen::ZERO && first.state == RequestState::Requested);
        // One under way at a time.
        assert_eq!(open(&db.store, &user, Fen::ZERO, 2).await, Opened::Busy, "{}", db.kind);
        finish(&db.store, &first.id, RequestState::Ready).await;
        let second = opened(open(&db.store, &user, Fen::ZERO, 3).await);
        finish(&db.store, &second.id, RequestState::Ready).await;
        assert_eq!(db.store.free_reports_used(&user, 2026).await.ok(), Some(2));
        // The third costs the fee: accepting "free" is refused with the new price.
        assert_eq!(open(&db.store, &user, Fen::ZERO, 4).await, Opened::QuoteChanged { fee: FEE }, "{}", db.kind);
        let third = opened(open(&db.store, &user, FEE, 5).await);
        assert!(!third.free && third.fee == FEE);
        finish(&db.store, &third.id, RequestState::Failed).await;
        // Another year has its own quota.
        let mut next_year = new(&user, Fen::ZERO, 6);
        next_year.year = 2027;
        assert!(matches!(db.store.open_credit_request(&next_year, &audit(&user)).await, Ok(Opened::Opened(_))), "{}", db.kind);
        let stored = db.store.credit_request(&third.id).await.ok().flatten().unwrap_or_else(|| panic!("stored"));
        assert_eq!((stored.state, stored.fee, stored.free), (RequestState::Failed, FEE, false));
        assert_eq!(db.store.credit_requests_of(&user, 10).await.map(|r| r.len()).ok(), Some(4));
    }
}

/// Twenty concurrent third requests over two nodes: one opens (and is the
/// one charged), every other is told a request is under way.
#[tokio::test]
async fn concurrent_requests_over_two_nodes_open_one() {
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let user = new_user(&db.store).await;
        for s in [1, 2] {
            let r = opened(open(&db.store, &user, Fen::ZERO, s).await);
            finish(&db.store, &r.id, RequestState::Ready).await;
        }
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = if i % 2 == 0 { db.store.clone() } else { node_b.clone() };
                let user = user.clone();
                tokio::spawn(async move { store.open_credit_request(&new(&user, FEE, 10), &audit(&user)).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{}: {e}", db.kind)));
        }
        let charged = outcomes.iter().filter(|o| matches!(o, Opened::Opened(r) if r.fee == FEE)).count();
        let busy = outcomes.iter().filter(|o| **o == Opened::Busy).count();
        assert_eq!((charged, busy), (1, 19), "{}: {outcomes:?}", db.kind);
        let rows = db.store.credit_requests_of(&user, 50).await.unwrap_or_default();
        assert_eq!(rows.len(), 3, "{}: no row from a refused request", db.kind);
    }
}

#[tokio::test]
async fn a_state_change_applies_once_and_keeps_what_it_does_not_name() {
    for db in databases().await {
        let user = new_user(&db.store).await;
        let r = opened(open(&db.store, &user, Fen::ZERO, 1).await);
        let a = AuditEntry::new("test", "credit_report.verified", "credit report", at(2)).subject(&user);
        let to_fetch = Move { method: Some("face"), bureau_query_id: Some("crq-00000001"), ..Move::default() };
        let from = [RequestState::Requested, RequestState::Verifying];
        assert_eq!(db.store.move_credit_request(&r.id, &from, RequestState::Fetching, &to_fetch, at(2), &a).await.ok(), Some(true));
        // A second, concurrent "verified" finds it no longer where it started.
        assert_eq!(db.store.move_credit_request(&r.id, &from, RequestState::Fetching, &to_fetch, at(3), &a).await.ok(), Some(false));
        let ready = Move { report_cipher: Some(b"sealed report"), pdf_cipher: Some(b"sealed pdf"), pages: Some(4), ..Move::default() };
        let fetching = [RequestState::Fetching];
        assert_eq!(db.store.move_credit_request(&r.id, &fetching, RequestState::Ready, &ready, at(4), &a).await.ok(), Some(true));
        let row = db.store.credit_request(&r.id).await.ok().flatten().unwrap_or_else(|| panic!("row"));
        assert_eq!(row.method.as_deref(), Some("face"), "{}: kept", db.kind);
        assert_eq!(row.bureau_query_id.as_deref(), Some("crq-00000001"));
        assert_eq!((row.pdf_cipher.as_deref(), row.pages, row.ready_at), (Some(&b"sealed pdf"[..]), Some(4), Some(at(4))));
        let d = AuditEntry::new("test", "credit_report.download", "credit report", at(5)).subject(&user);
        assert_eq!(db.store.count_credit_download(&r.id, &d).await.ok(), Some(true));
        assert_eq!(db.store.count_credit_download(&r.id, &d).await.ok(), Some(true));
        let row = db.store.credit_request(&r.id).await.ok().flatten().unwrap_or_else(|| panic!("row"));
        assert_eq!(row.downloads, 2);
        let waiting = db.store.credit_requests_in(&[RequestState::Fetching, RequestState::InReview], 10).await.unwrap_or_default();
        assert!(waiting.iter().all(|w| w.id != r.id), "{}: a ready request is not waiting", db.kind);
    }
}
