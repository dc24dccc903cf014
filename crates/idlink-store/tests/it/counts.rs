//! Counts fail closed: a negative count stored by a bad migration, a manual
//! edit or tampering reads as corrupt data naming its column, never as 0
//! (a `steps_required` of 0 would let one approval close a two-step case).

use crate::databases;
use crate::security::new_user;
use idlink_core::ports::StoreError;
use idlink_core::ports::payment::PaymentPasswordStore;
use idlink_core::ports::reviews::ReviewStore;
use idlink_domain::CaseId;
use idlink_store::testing;

#[tokio::test]
async fn a_negative_stored_count_is_corrupt_not_zero() {
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;

        let case = CaseId::parse("case_negative_steps").unwrap_or_else(|e| panic!("{e}"));
        let insert = format!(
            "INSERT INTO review_cases (id, kind, subject, reference, status, steps_required, created_at, sla_due_at) \
             VALUES ('{case}', 'risk_freeze', '{user}', 'ref', 'open', -1, 0, 0)"
        );
        testing::execute(s, &insert).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        match s.case(&case).await {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("steps_required"), "{}: {m}", db.kind),
            other => panic!("{}: a negative steps_required must be corrupt, got {other:?}", db.kind),
        }

        let insert = format!("INSERT INTO payment_passwords (user_id, hash, failures, updated_at) VALUES ('{user}', 'h', -3, 0)");
        testing::execute(s, &insert).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        match s.payment_password(&user).await {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("failures"), "{}: {m}", db.kind),
            other => panic!("{}: negative failures must be corrupt, got {other:?}", db.kind),
        }
    }
}
