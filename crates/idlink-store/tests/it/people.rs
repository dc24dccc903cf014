//! The user 360°'s store: a record opens with its audit record and purpose
//! row in one transaction; a missing user, or a purpose row refused, leaves neither.

use crate::operators::new_operator;
use crate::{at, databases};
use idlink_core::ports::audit::{AuditEntry, AuditStore};
use idlink_core::ports::people::{PeopleStore, RecordView};
use idlink_core::ports::users::{UserRow, UserStore};
use idlink_crypto::{Algorithm, DataKey, MasterKey, MasterKeyring, Random, SeededRandom};
use idlink_domain::{OperatorId, UserId};

#[tokio::test]
async fn opening_a_record_writes_the_audit_record_and_the_purpose_together_or_nothing() {
    let rng = SeededRandom::new(17);
    let ring = MasterKeyring::new(vec![MasterKey::generate("mk-1", &rng)], "mk-1", Algorithm::Aes256Gcm).unwrap_or_else(|e| panic!("{e}"));
    for db in databases().await {
        let (s, kind) = (&db.store, db.kind);
        let op = new_operator(s, "rita").await;
        let id = UserId::from_random(rng.bytes16());
        let dek = DataKey::generate(format!("dek-{id}"), &rng);
        let row = UserRow { id: id.clone(), phone_cipher: vec![9], phone_index: format!("idx-{id}"), created_at: at(5) };
        let wrapped = ring.wrap(&dek, &rng).unwrap_or_else(|e| panic!("{e}"));
        s.insert_user(&row, &wrapped, &AuditEntry::new("test", "user.create", "test", at(5)).subject(&id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let view = |user: &UserId, at_s: i64| RecordView {
            operator_id: op.id.clone(),
            user_id: user.clone(),
            purpose: "complaint".into(),
            reference: "TICKET-1".into(),
            at: at(at_s),
        };
        let audit = |user: &UserId, at_s: i64| {
            AuditEntry::new(format!("operator:{}", op.id), "operator.view_user", "handling your complaint", at(at_s)).subject(user)
        };

        let ghost = UserId::from_random(rng.bytes16());
        let none = s.open_user_record(&view(&ghost, 10), &audit(&ghost, 10)).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(none.is_none(), "{kind}");
        assert!(s.audit_records_of_user(&ghost, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty(), "{kind}: no record for nobody");
        assert!(s.record_views(&ghost, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty(), "{kind}");

        let opened = s.open_user_record(&view(&id, 20), &audit(&id, 20)).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let opened = opened.unwrap_or_else(|| panic!("{kind}: the user's record"));
        assert_eq!((opened.user, opened.key.as_ref()), (row.clone(), Some(&wrapped)), "{kind}");
        assert!(opened.identity.is_none(), "{kind}: not verified");
        let records = s.audit_records_of_user(&id, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records.first().map(|r| r.entry.action.as_str()), Some("operator.view_user"), "{kind}");
        s.open_user_record(&view(&id, 30), &audit(&id, 30)).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let kept = s.record_views(&id, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept, vec![view(&id, 30), view(&id, 20)], "{kind}: newest first");
        assert!(s.cases_of_user(&id, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty(), "{kind}");

        // A purpose row that cannot be written (no such operator) takes the audit record with it.
        let audited = s.audit_records_of_user(&id, 10).await.unwrap_or_else(|e| panic!("{e}")).len();
        let stranger = RecordView { operator_id: OperatorId::from_random(rng.bytes16()), ..view(&id, 40) };
        let refused = s.open_user_record(&stranger, &audit(&id, 40)).await;
        assert!(refused.is_err(), "{kind}: an unknown operator's view is refused");
        assert_eq!(
            s.audit_records_of_user(&id, 10).await.unwrap_or_else(|e| panic!("{e}")).len(),
            audited,
            "{kind}: no audit record alone"
        );
        let kept = s.record_views(&id, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.len(), 2, "{kind}: no purpose row either");
    }
}
