//! Storage of the institutions' maintenance calendar (SPEC OP2, BK5; ADR
//! 0018): windows are inserted and cancelled, each with its audit record in
//! the same transaction, never deleted.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::institutions::{MaintenanceStore, MaintenanceWindow};
use idlink_domain::MaintenanceId;
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};

const COLUMNS: &str = "id, institution, channel, starts_at, ends_at, note, created_by, created_at, cancelled_at";

fn window(r: &AnyRow) -> Result<MaintenanceWindow, StoreError> {
    Ok(MaintenanceWindow {
        id: r.id("id")?,
        institution: r.col("institution")?,
        channel: r.col("channel")?,
        starts_at: r.instant("starts_at")?,
        ends_at: r.instant("ends_at")?,
        note: r.col("note")?,
        created_by: r.id("created_by")?,
        created_at: r.instant("created_at")?,
        cancelled_at: r.instant_opt("cancelled_at")?,
    })
}

#[async_trait]
impl MaintenanceStore for SqlStore {
    async fn insert_maintenance(&self, w: &MaintenanceWindow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO maintenance_windows ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(w.id.as_str())
            .bind(&w.institution)
            .bind(w.channel.clone())
            .bind(micros(w.starts_at))
            .bind(micros(w.ends_at))
            .bind(&w.note)
            .bind(w.created_by.as_str())
            .bind(micros(w.created_at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn cancel_maintenance(&self, id: &MaintenanceId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE maintenance_windows SET cancelled_at = $2 WHERE id = $1 AND cancelled_at IS NULL")
            .bind(id.as_str())
            .bind(micros(at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn maintenance(&self, id: &MaintenanceId) -> Result<Option<MaintenanceWindow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM maintenance_windows WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, window).await
    }

    async fn maintenance_ending_after(&self, after: Timestamp, limit: u32) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM maintenance_windows WHERE ends_at > $1 AND cancelled_at IS NULL ORDER BY starts_at, id LIMIT $2"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(after)).bind(i64::from(limit)), &self.reader, window).await
    }
}
