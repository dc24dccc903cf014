//! Storage of the user 360°: opening a user's record (user, data key and
//! identity read, the purpose stored and the audit record appended in one
//! transaction), the user's review cases, and the record views kept.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::people::{OpenedRecord, PeopleStore, RecordView};
use idlink_core::ports::reviews::CaseRow;
use idlink_domain::UserId;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::identity::{IDENTITY_COLUMNS, identity};
use crate::reviews::{CASE_COLUMNS, case};
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};
use crate::store::{WRAPPED_BY_ID, user_key_id, user_row, wrapped_row};

fn record_view(r: &AnyRow) -> Result<RecordView, StoreError> {
    Ok(RecordView {
        operator_id: r.id("operator_id")?,
        user_id: r.user("user_id")?,
        purpose: r.col("purpose")?,
        reference: r.col("reference")?,
        at: r.instant("at")?,
    })
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn open_user_record(&self, view: &RecordView, audit: &AuditEntry) -> Result<Option<OpenedRecord>, StoreError> {
        let id = &view.user_id;
        self.audited_if(audit, async |tx| {
            let q = sqlx::query("SELECT id, phone_cipher, phone_index, created_at FROM users WHERE id = $1").bind(id.as_str());
            let Some(user) = fetch_optional(q, &mut *tx, user_row).await? else {
                return Ok(None);
            };
            let key = fetch_optional(sqlx::query(WRAPPED_BY_ID).bind(user_key_id(id)), &mut *tx, wrapped_row).await?;
            let sql = format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = $1");
            let identity = fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &mut *tx, identity).await?;
            let q = sqlx::query("INSERT INTO record_views (operator_id, user_id, purpose, reference, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(view.operator_id.as_str())
                .bind(id.as_str())
                .bind(&view.purpose)
                .bind(&view.reference)
                .bind(micros(view.at));
            execute(q, &mut *tx).await?;
            Ok(Some(OpenedRecord { user, key, identity }))
        })
        .await
    }

    async fn cases_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE subject = $1 ORDER BY created_at DESC, id LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).bind(i64::from(limit)), &self.reader, case).await
    }

    async fn record_views(&self, user: &UserId, limit: u32) -> Result<Vec<RecordView>, StoreError> {
        let q = sqlx::query(
            "SELECT operator_id, user_id, purpose, reference, at FROM record_views WHERE user_id = $1 ORDER BY at DESC LIMIT $2",
        )
        .bind(user.as_str())
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, record_view).await
    }
}
