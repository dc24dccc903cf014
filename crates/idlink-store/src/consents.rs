//! Storage of separate consents to process sensitive personal information
//! (issue 18 point 1): a row per consent given, stamped when withdrawn.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::consents::{ConsentRow, ConsentStore};
use idlink_domain::UserId;
use idlink_domain::consent::ConsentKind;
use jiff::Timestamp;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, micros};

#[async_trait]
impl ConsentStore for SqlStore {
    async fn give_consent(&self, row: &ConsentRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        // The partial unique index (one in force per user, kind and version) settles a race.
        let q = sqlx::query(
            "INSERT INTO sensitive_consents (id, user_id, kind, version, locale, text_sha256, given_at, withdrawn_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
             ON CONFLICT (user_id, kind, version) WHERE withdrawn_at IS NULL DO NOTHING",
        )
        .bind(row.id.clone())
        .bind(row.user_id.as_str())
        .bind(row.kind.as_str())
        .bind(i64::from(row.version))
        .bind(row.locale.clone())
        .bind(row.text_sha256.clone())
        .bind(micros(row.given_at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }

    async fn withdraw_consent(&self, user: &UserId, kind: ConsentKind, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE sensitive_consents SET withdrawn_at = $1 WHERE user_id = $2 AND kind = $3 AND withdrawn_at IS NULL")
            .bind(micros(at))
            .bind(user.as_str())
            .bind(kind.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }

    async fn consents_of(&self, user: &UserId) -> Result<Vec<ConsentRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, user_id, kind, version, locale, text_sha256, given_at, withdrawn_at FROM sensitive_consents
             WHERE user_id = $1 ORDER BY given_at, id",
        )
        .bind(user.as_str());
        fetch_all(q, &self.reader, |r| {
            Ok(ConsentRow {
                id: r.col("id")?,
                user_id: r.user("user_id")?,
                kind: r.parsed("kind", "consent kind", ConsentKind::parse)?,
                version: r.count_u32("version")?,
                locale: r.col("locale")?,
                text_sha256: r.col("text_sha256")?,
                given_at: r.instant("given_at")?,
                withdrawn_at: r.instant_opt("withdrawn_at")?,
            })
        })
        .await
    }
}
