//! Retention's purges on both databases (issue 18 point 2): each purge
//! removes only what is older than its bound, in batches, and never the
//! records of a held user: one with a legal hold in force or an open review
//! case. A hold is placed only on a user who exists, and released once.

use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::balance::BalanceStore;
use idlink_core::ports::retention::{LegalHold, RetentionStore};
use idlink_domain::UserId;
use idlink_store::testing;

fn hold(id: &str, user: &UserId) -> LegalHold {
    LegalHold {
        id: id.into(),
        user_id: user.clone(),
        reason: "dispute".into(),
        reference: "DSP-1".into(),
        placed_by: "test".into(),
        placed_at: at(5),
        released_by: None,
        released_at: None,
    }
}

#[tokio::test]
async fn purges_spare_held_users_and_stop_at_their_bound() {
    for db in databases().await {
        let (s, kind) = (&db.store, db.kind);
        let free = crate::security::new_user(s).await;
        let disputed = crate::security::new_user(s).await;
        let in_review = crate::security::new_user(s).await;
        let audit = AuditEntry::new("test", "balance.query", "test", at(1));
        for (i, (user, second)) in [(&free, 10), (&free, 20), (&free, 40), (&disputed, 10), (&in_review, 10)].into_iter().enumerate() {
            s.record_query(user, &crate::reports::record(&format!("bq_{i}"), second, "disclosed"), &audit)
                .await
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        let case = format!(
            "INSERT INTO review_cases (id, kind, subject, reference, status, steps_required, created_at, sla_due_at) \
             VALUES ('case_r1', 'risk_freeze', '{in_review}', 'ref', 'open', 1, 0, 0)"
        );
        testing::execute(s, &case).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let placed = s.place_hold(&hold("hold_1", &disputed), &AuditEntry::new("test", "retention.hold", "test", at(5))).await;
        assert_eq!(placed.ok(), Some(true), "{kind}");
        let nobody = UserId::parse("usr_0123456789abcdef0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
        let placed = s.place_hold(&hold("hold_2", &nobody), &AuditEntry::new("test", "retention.hold", "test", at(5))).await;
        assert_eq!(placed.ok(), Some(false), "{kind}: no hold on nobody");

        let held: Vec<String> = s.case_holds().await.unwrap_or_default().into_iter().map(|c| c.case_id).collect();
        assert_eq!(held, ["case_r1"], "{kind}");
        assert_eq!(s.legal_holds(false).await.unwrap_or_default().len(), 1, "{kind}");

        // Credit-report files: the free user's ready report loses its files, the disputed user's keeps them.
        for (id, user) in [("crq_free", &free), ("crq_held", &disputed)] {
            let insert = format!(
                "INSERT INTO credit_requests (id, user_id, year, state, attempts, free, fee_fen, report_cipher, pdf_cipher, created_at, updated_at, ready_at) \
                 VALUES ('{id}', '{user}', 2026, 'ready', 1, 1, 0, {blob}, {blob}, 10, 10, 10)",
                blob = if matches!(s.backend(), idlink_store::Backend::Postgres) { "'\\x01'::bytea" } else { "x'01'" }
            );
            testing::execute(s, &insert).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        assert_eq!(s.purge_credit_files(at(30), 100).await.ok(), Some(1), "{kind}");
        let files = "SELECT id FROM credit_requests WHERE pdf_cipher IS NOT NULL AND report_cipher IS NOT NULL";
        assert_eq!(testing::query_text(s, files).await.ok().as_deref(), Some("crq_held"), "{kind}");

        // Before 30: one batch of 1 and then the other; the held users' queries stay.
        assert_eq!(s.purge_query_log(at(30), 1).await.ok(), Some(1), "{kind}");
        assert_eq!(s.purge_query_log(at(30), 1).await.ok(), Some(1), "{kind}");
        assert_eq!(s.purge_query_log(at(30), 1).await.ok(), Some(0), "{kind}");
        let left = |user: &UserId| format!("SELECT COUNT(*) FROM balance_queries WHERE user_id = '{user}'");
        let count = |q: String| async move { testing::query_text(s, &q).await.unwrap_or_default() };
        assert_eq!(count(left(&free)).await, "1", "{kind}: the query at 40 is not due");
        assert_eq!(count(left(&disputed)).await, "1", "{kind}: held by the dispute");
        assert_eq!(count(left(&in_review)).await, "1", "{kind}: held by the open case");

        // The case is decided and the dispute ends: their queries go too.
        testing::execute(s, "UPDATE review_cases SET status = 'approved' WHERE id = 'case_r1'").await.unwrap_or_else(|e| panic!("{e}"));
        let release = AuditEntry::new("test", "retention.release", "test", at(6));
        assert_eq!(s.release_hold("hold_1", "test", at(6), &release).await.ok(), Some(true), "{kind}");
        assert_eq!(s.release_hold("hold_1", "test", at(7), &release).await.ok(), Some(false), "{kind}: once");
        assert_eq!(s.purge_query_log(at(30), 100).await.ok(), Some(2), "{kind}");
        let all = s.legal_holds(true).await.unwrap_or_default();
        assert_eq!(all.first().and_then(|h| h.released_at), Some(at(6)), "{kind}");
        db.dispose().await.ok();
    }
}
