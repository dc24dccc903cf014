//! Storage of verification sessions, verified identities and change history.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::identity::{DocumentType, Finish, IdentityRow, IdentityStore, VerificationRow};
use idlink_core::ports::StoreError;
use idlink_domain::change_limits::ChangeEvent;
use idlink_domain::verification::{VerificationReason, VerificationStatus};
use idlink_domain::{UserId, VerificationId};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::reviews::open_case_in;
use crate::rows::{column_id, micros, store_err, timestamp};
use crate::write::Commit;

fn reasons_text(r: &[VerificationReason]) -> String {
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

fn verification(r: &AnyRow) -> Result<VerificationRow, StoreError> {
    let status: String = r.try_get("status").map_err(store_err)?;
    let reasons: String = r.try_get("reasons").map_err(store_err)?;
    let user: String = r.try_get("user_id").map_err(store_err)?;
    Ok(VerificationRow {
        id: column_id(r, "id")?,
        user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        method: r.try_get("method").map_err(store_err)?,
        document_type: document_type(r)?,
        birth_cipher: r.try_get("birth_cipher").map_err(store_err)?,
        card_cipher: r.try_get("card_cipher").map_err(store_err)?,
        status: VerificationStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        name_cipher: r.try_get("name_cipher").map_err(store_err)?,
        id_cipher: r.try_get("id_cipher").map_err(store_err)?,
        id_index: r.try_get("id_index").map_err(store_err)?,
        reasons: reasons
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| VerificationReason::parse(s).ok_or_else(|| StoreError::Corrupt(format!("reason {s}"))))
            .collect::<Result<_, _>>()?,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        updated_at: timestamp(r.try_get("updated_at").map_err(store_err)?)?,
    })
}

fn document_type(r: &AnyRow) -> Result<DocumentType, StoreError> {
    let d: String = r.try_get("document_type").map_err(store_err)?;
    DocumentType::parse(&d).ok_or_else(|| StoreError::Corrupt(format!("document type {d}")))
}

fn identity(r: &AnyRow) -> Result<IdentityRow, StoreError> {
    let user: String = r.try_get("user_id").map_err(store_err)?;
    Ok(IdentityRow {
        user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name_cipher: r.try_get("name_cipher").map_err(store_err)?,
        id_cipher: r.try_get("id_cipher").map_err(store_err)?,
        id_index: r.try_get("id_index").map_err(store_err)?,
        method: r.try_get("method").map_err(store_err)?,
        document_type: document_type(r)?,
        birth_cipher: r.try_get("birth_cipher").map_err(store_err)?,
        verified_at: timestamp(r.try_get("verified_at").map_err(store_err)?)?,
    })
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn insert_verification(&self, v: &VerificationRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(
                "INSERT INTO verifications (id, user_id, method, status, name_cipher, id_cipher, id_index, reasons, created_at, updated_at, document_type, birth_cipher, card_cipher)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
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
            .bind(v.card_cipher.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn verification(&self, id: &VerificationId, user: &UserId) -> Result<Option<VerificationRow>, StoreError> {
        sqlx::query(
            "SELECT id, user_id, method, status, name_cipher, id_cipher, id_index, reasons, created_at, updated_at, document_type, birth_cipher, card_cipher
             FROM verifications WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?
        .map(|r| verification(&r))
        .transpose()
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
        self.write(Commit::Effect, async |tx| {
            let n = sqlx::query("UPDATE verifications SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(to.as_str())
                .bind(micros(at))
                .bind(id.as_str())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn finish_verification(&self, f: &Finish<'_>) -> Result<(), StoreError> {
        self.audited(f.audit, async |tx| {
            let n =
                sqlx::query("UPDATE verifications SET status = $1, reasons = $2, updated_at = $3 WHERE id = $4 AND status = 'processing'")
                    .bind(f.status.as_str())
                    .bind(reasons_text(f.reasons))
                    .bind(micros(f.at))
                    .bind(f.verification_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_err)?
                    .rows_affected();
            if n != 1 {
                return Err(StoreError::Corrupt(format!("verification {} was not processing", f.verification_id)));
            }
            if let Some(i) = f.identity {
                sqlx::query(
                    "INSERT INTO identities (user_id, name_cipher, id_cipher, id_index, method, verified_at, document_type, birth_cipher)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (user_id) DO UPDATE SET name_cipher = excluded.name_cipher, id_cipher = excluded.id_cipher,
                         id_index = excluded.id_index, method = excluded.method, verified_at = excluded.verified_at,
                         document_type = excluded.document_type, birth_cipher = excluded.birth_cipher",
                )
                .bind(i.user_id.as_str())
                .bind(&i.name_cipher)
                .bind(&i.id_cipher)
                .bind(&i.id_index)
                .bind(&i.method)
                .bind(micros(i.verified_at))
                .bind(i.document_type.as_str())
                .bind(i.birth_cipher.as_deref())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
                if let Some(ChangeEvent::Changed { at }) = f.change {
                    sqlx::query("INSERT INTO identity_changes (id_index, kind, at, until) VALUES ($1, 'changed', $2, NULL)")
                        .bind(&i.id_index)
                        .bind(micros(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(store_err)?;
                }
            }
            if let Some(c) = f.case {
                open_case_in(tx, c).await?;
            }
            Ok(())
        })
        .await
    }

    async fn identity(&self, user: &UserId) -> Result<Option<IdentityRow>, StoreError> {
        sqlx::query(
            "SELECT user_id, name_cipher, id_cipher, id_index, method, verified_at, document_type, birth_cipher FROM identities WHERE user_id = $1",
        )
            .bind(user.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| identity(&r))
            .transpose()
    }

    async fn identity_owner(&self, id_index: &str) -> Result<Option<UserId>, StoreError> {
        let owner: Option<String> = sqlx::query_scalar("SELECT user_id FROM identities WHERE id_index = $1")
            .bind(id_index)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        owner.map(|o| UserId::parse(&o).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn change_history(&self, id_index: &str) -> Result<Vec<ChangeEvent>, StoreError> {
        let rows = sqlx::query("SELECT kind, at, until FROM identity_changes WHERE id_index = $1 ORDER BY at")
            .bind(id_index)
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(store_err)?;
                let at = timestamp(r.try_get("at").map_err(store_err)?)?;
                let until: Option<i64> = r.try_get("until").map_err(store_err)?;
                match (kind.as_str(), until) {
                    ("changed", _) => Ok(ChangeEvent::Changed { at }),
                    ("cooling_off", Some(u)) => Ok(ChangeEvent::CoolingOffStarted { at, until: timestamp(u)? }),
                    _ => Err(StoreError::Corrupt(format!("identity change {kind}"))),
                }
            })
            .collect()
    }

    async fn record_cooling_off(&self, id_index: &str, at: Timestamp, until: Timestamp, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query("INSERT INTO identity_changes (id_index, kind, at, until) VALUES ($1, 'cooling_off', $2, $3)")
                .bind(id_index)
                .bind(micros(at))
                .bind(micros(until))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(())
        })
        .await
    }
}
