use crate::{at, databases};
use idlink_core::audit::{AuditEntry, ChainBreak, ChainVerifier};
use idlink_core::ports::AuditStore;
use idlink_domain::UserId;
use idlink_store::{Backend, testing};

pub(crate) async fn verify(s: &idlink_store::SqlStore) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new([]);
    let mut after = 0;
    loop {
        let batch = s.audit_records(after, 1000).await.unwrap_or_else(|e| panic!("{e}"));
        let Some(last) = batch.last() else { break };
        after = last.seq;
        batch.iter().try_for_each(|r| v.push(r))?;
    }
    Ok(v.records)
}

#[tokio::test]
async fn sixty_four_concurrent_writers_make_one_linear_chain() {
    for db in databases().await {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let s = db.store.clone();
                tokio::spawn(async move {
                    for j in 0..5 {
                        let e = AuditEntry::new(format!("writer-{i}"), "test.append", "conformance", at(j));
                        s.append_audit(&e).await?;
                    }
                    Ok::<_, idlink_core::ports::StoreError>(())
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await, Ok(Ok(()))), "{}: a writer failed", db.kind);
        }
        assert_eq!(verify(&db.store).await, Ok(320), "{}", db.kind);
        assert_eq!(db.store.audit_head().await.ok().map(|h| h.0), Some(320));
    }
}

/// An attacker with write access to the database changes one byte of one
/// column of one record; verification names that record.
#[tokio::test]
async fn changing_one_byte_of_any_stored_field_is_detected() {
    let columns = ["at", "actor", "subject", "action", "purpose", "outcome", "request_id", "prev_hash", "hash"];
    let user = UserId::parse("usr_0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
    for column in columns {
        for db in databases().await {
            let s = &db.store;
            for i in 0..5 {
                let e = AuditEntry::new("apikey:key_x", "user.read", "support", at(i))
                    .subject(&user)
                    .request(idlink_domain::RequestId::parse(&format!("req_{i:04}")).ok().as_ref());
                s.append_audit(&e).await.unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(verify(s).await, Ok(5));
            let guard = match s.backend() {
                Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
                Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
            };
            testing::execute(s, guard).await.unwrap_or_else(|e| panic!("{e}"));
            let tamper = if column == "at" {
                "UPDATE audit_log SET at = at + 1 WHERE seq = 3".to_owned()
            } else {
                // Replace the first character with a different one.
                format!(
                    "UPDATE audit_log SET {column} = CASE WHEN substr({column}, 1, 1) = 'z' THEN 'y' ELSE 'z' END || substr({column}, 2) WHERE seq = 3"
                )
            };
            testing::execute(s, &tamper).await.unwrap_or_else(|e| panic!("{column}: {e}"));
            let found = verify(s).await.err().and_then(|b| b.seq());
            assert_eq!(found, Some(3), "{}: tampering with {column} of record 3 went unnoticed", db.kind);
        }
    }
}

#[tokio::test]
async fn stored_records_cannot_be_updated_or_deleted_through_sql() {
    for db in databases().await {
        let s = &db.store;
        s.append_audit(&AuditEntry::new("a", "b", "c", at(0))).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(testing::execute(s, "UPDATE audit_log SET actor = 'x'").await.is_err(), "{}", db.kind);
        assert!(testing::execute(s, "DELETE FROM audit_log").await.is_err(), "{}", db.kind);
        assert_eq!(verify(s).await, Ok(1));
    }
}
