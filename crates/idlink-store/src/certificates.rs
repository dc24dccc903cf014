//! Users' client certificates on SQLite and PostgreSQL (ADR 0027; the rules
//! are in `idlink_core::certificates`): one row per fingerprint.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::certificates::{CertificateRow, CertificateStore};
use idlink_domain::UserId;
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};
use crate::write::Commit;

const COLUMNS: &str = "fingerprint, user_id, cert_cipher, status, created_at, last_used_at";

fn certificate(r: &AnyRow) -> Result<CertificateRow, StoreError> {
    Ok(CertificateRow {
        fingerprint: r.col("fingerprint")?,
        user_id: r.user("user_id")?,
        cert_cipher: r.col("cert_cipher")?,
        active: r.col::<String>("status")? == "active",
        created_at: r.instant("created_at")?,
        last_used_at: r.instant_opt("last_used_at")?,
    })
}

#[async_trait]
impl CertificateStore for SqlStore {
    async fn insert_certificate(&self, row: &CertificateRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = format!("INSERT INTO user_certificates ({COLUMNS}) VALUES ($1, $2, $3, 'active', $4, NULL)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.fingerprint.clone())
            .bind(row.user_id.as_str())
            .bind(row.cert_cipher.clone())
            .bind(micros(row.created_at));
        match self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await {
            Err(StoreError::Unique(_)) => Ok(false),
            other => other,
        }
    }

    async fn certificate(&self, fingerprint: &str) -> Result<Option<CertificateRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM user_certificates WHERE fingerprint = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fingerprint.to_owned()), &self.reader, certificate).await
    }

    async fn certificates_of(&self, user: &UserId) -> Result<Vec<CertificateRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM user_certificates WHERE user_id = $1 ORDER BY created_at DESC, fingerprint");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, certificate).await
    }

    async fn revoke_certificate(&self, user: &UserId, fingerprint: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE user_certificates SET status = 'revoked', revoked_at = $3 WHERE fingerprint = $1 AND user_id = $2 AND status = 'active'",
        )
        .bind(fingerprint.to_owned())
        .bind(user.as_str())
        .bind(micros(at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn certificate_used(&self, fingerprint: &str, at: Timestamp) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE user_certificates SET last_used_at = $2 WHERE fingerprint = $1")
            .bind(fingerprint.to_owned())
            .bind(micros(at));
        self.write_if(Commit::Bookkeeping, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await.map(|_| ())
    }
}
