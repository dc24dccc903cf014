//! Storage of verification sessions, verified identities and change history.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::identity::{DocumentType, Finish, IdentityRow, IdentityStore, VerificationRow};
use idlink_domain::change_limits::ChangeEvent;
use idlink_domain::verification::{VerificationReason, VerificationStatus};
use idlink_domain::{UserId, VerificationId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::reviews::open_case_in;
use crate::rows::{AnyQuery, Columns, corrupt, execute, fetch_all, fetch_optional, micros, parsed_list, timestamp};
use crate::write::Commit;

/// How an identity row is replaced when a newer verification of the same
/// user succeeds (here and when a review approves one).
pub(crate) const UPSERT_IDENTITY: &str =
    "ON CONFLICT (user_id) DO UPDATE SET name_cipher = excluded.name_cipher, id_cipher = excluded.id_cipher,
                     id_index = excluded.id_index, method = excluded.method, verified_at = excluded.verified_at,
                     document_type = excluded.document_type, birth_cipher = excluded.birth_cipher, recycle_saga = NULL";

const VERIFICATION_COLUMNS: &str = "id, user_id, method, status, name_cipher, id_cipher, id_index, reasons, created_at, updated_at, \
                                    document_type, birth_cipher, card_cipher";
pub(crate) const IDENTITY_COLUMNS: &str = "user_id, name_cipher, id_cipher, id_index, method, verified_at, document_type, birth_cipher";

/// Binds an identity in the order of [`IDENTITY_COLUMNS`] (here and in the seeder).
pub(crate) fn bind_identity<'q>(q: AnyQuery<'q>, i: &'q IdentityRow) -> AnyQuery<'q> {
    q.bind(i.user_id.as_str())
        .bind(&i.name_cipher)
        .bind(&i.id_cipher)
        .bind(&i.id_index)
        .bind(&i.method)
        .bind(micros(i.verified_at))
        .bind(i.document_type.as_str())
        .bind(i.birth_cipher.as_deref())
}

fn reasons_text(r: &[VerificationReason]) -> String {
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn verification(r: &AnyRow) -> Result<VerificationRow, StoreError> {
    Ok(VerificationRow {
        id: r.id("id")?,
        user_id: r.user("user_id")?,
        method: r.col("method")?,
        document_type: document_type(r)?,
        birth_cipher: r.col("birth_cipher")?,
        card_cipher: r.col("card_cipher")?,
        status: r.parsed("status", "status", VerificationStatus::parse)?,
        name_cipher: r.col("name_cipher")?,
        id_cipher: r.col("id_cipher")?,
        id_index: r.col("id_index")?,
        reasons: parsed_list("reason", &r.col::<String>("reasons")?, ',', VerificationReason::parse)?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
    })
}

fn document_type(r: &AnyRow) -> Result<DocumentType, StoreError> {
    r.parsed("document_type", "document type", DocumentType::parse)
}

pub(crate) fn identity(r: &AnyRow) -> Result<IdentityRow, StoreError> {
    Ok(IdentityRow {
        user_id: r.user("user_id")?,
        name_cipher: r.col("name_cipher")?,
        id_cipher: r.col("id_cipher")?,
        id_index: r.col("id_index")?,
        method: r.col("method")?,
        document_type: document_type(r)?,
        birth_cipher: r.col("birth_cipher")?,
        verified_at: r.instant("verified_at")?,
    })
}

fn change(r: &AnyRow) -> Result<ChangeEvent, StoreError> {
    let kind: String = r.col("kind")?;
    let at = r.instant("at")?;
    match (kind.as_str(), r.col::<Option<i64>>("until")?) {
        ("changed", _) => Ok(ChangeEvent::Changed { at }),
        ("cooling_off", Some(u)) => Ok(ChangeEvent::CoolingOffStarted { at, until: timestamp(u)? }),
        _ => Err(corrupt("identity change", kind)),
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn insert_verification(&self, v: &VerificationRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO verifications ({VERIFICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(v.id.as_str())
            .bind(v.user_id.as_str())
            .bind(&v.method)
            .bind(v.status.as_str())
            .bind(&v.name_cipher)
            .bind(&v.id_cipher)
            .bind(&v.id_index)
            .bind(reasons_text(&v.reasons))
            .bind(micros(v.created_at))
            .bind(micros(v.updated_at))
            .bind(v.document_type.as_str())
            .bind(v.birth_cipher.as_deref())
            .bind(v.card_cipher.as_deref());
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn verification(&self, id: &VerificationId, user: &UserId) -> Result<Option<VerificationRow>, StoreError> {
        let sql = format!("SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1 AND user_id = $2");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).bind(user.as_str()), &self.reader, verification).await
    }

    async fn move_verification(
        &self,
        id: &VerificationId,
        from: VerificationStatus,
        to: VerificationStatus,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        if !from.can_become(to) {
            return Ok(false);
        }
        let q = sqlx::query("UPDATE verifications SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(to.as_str())
            .bind(micros(at))
            .bind(id.as_str())
            .bind(from.as_str());
        self.write(Commit::Effect, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn finish_verification(&self, f: &Finish<'_>) -> Result<(), StoreError> {
        let finish =
            sqlx::query("UPDATE verifications SET status = $1, reasons = $2, updated_at = $3 WHERE id = $4 AND status = 'processing'")
                .bind(f.status.as_str())
                .bind(reasons_text(f.reasons))
                .bind(micros(f.at))
                .bind(f.verification_id.as_str());
        self.audited(f.audit, async |tx| {
            if execute(finish, &mut *tx).await? != 1 {
                return Err(StoreError::Corrupt(format!("verification {} was not processing", f.verification_id)));
            }
            if let Some(i) = f.identity {
                let sql = format!("INSERT INTO identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) {UPSERT_IDENTITY}");
                execute(bind_identity(sqlx::query(sqlx::AssertSqlSafe(sql)), i), &mut *tx).await?;
                if let Some(ChangeEvent::Changed { at }) = f.change {
                    let q = sqlx::query("INSERT INTO identity_changes (id_index, kind, at, until) VALUES ($1, 'changed', $2, NULL)");
                    execute(q.bind(&i.id_index).bind(micros(at)), &mut *tx).await?;
                }
            }
            if let Some(c) = f.case {
                open_case_in(tx, c).await?;
            }
            if let (Some(e), Some(i)) = (f.event, f.identity) {
                crate::events::lifecycle_in(tx, &i.user_id, f.at, crate::events::GrantChange::None, e).await?;
            }
            Ok(())
        })
        .await
    }

    async fn identity(&self, user: &UserId) -> Result<Option<IdentityRow>, StoreError> {
        let sql = format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, identity).await
    }

    async fn identity_owner(&self, id_index: &str) -> Result<Option<UserId>, StoreError> {
        let q = sqlx::query("SELECT user_id FROM identities WHERE id_index = $1").bind(id_index);
        fetch_optional(q, &self.reader, |r| r.user("user_id")).await
    }

    async fn revoked_identity_exists(&self, id_index: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("SELECT COUNT(*) FROM retained_identities WHERE id_index = $1").bind(id_index.to_owned());
        Ok(crate::rows::fetch_one(q, &self.reader, crate::rows::first::<i64>).await? > 0)
    }

    async fn change_history(&self, id_index: &str) -> Result<Vec<ChangeEvent>, StoreError> {
        let q = sqlx::query("SELECT kind, at, until FROM identity_changes WHERE id_index = $1 ORDER BY at").bind(id_index);
        fetch_all(q, &self.reader, change).await
    }

    async fn record_cooling_off(&self, id_index: &str, at: Timestamp, until: Timestamp, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query("INSERT INTO identity_changes (id_index, kind, at, until) VALUES ($1, 'cooling_off', $2, $3)")
            .bind(id_index)
            .bind(micros(at))
            .bind(micros(until));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }
}
