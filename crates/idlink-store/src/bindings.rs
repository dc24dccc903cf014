//! Storage of bank card bindings.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::bindings::{Affected, BankEventKind, BindingRow, BindingStatus, BindingStore, Notice};
use idlink_core::ports::StoreError;
use idlink_domain::{BindingId, UserId};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::audit::append_in;
use crate::rows::{AnyQuery, column_id, micros, store_err, timestamp};
use crate::write::Commit;

pub(crate) const COLUMNS: &str = "id, user_id, bank, card_cipher, card_index, last4, status, bank_reference, luhn_warning, created_at, bound_at, \
                       end_reason, suspended_reason, low_balance_alert_fen";

pub(crate) fn binding(r: &AnyRow) -> Result<BindingRow, StoreError> {
    let user: String = r.try_get("user_id").map_err(store_err)?;
    let status: String = r.try_get("status").map_err(store_err)?;
    let warning: i64 = r.try_get("luhn_warning").map_err(store_err)?;
    let bound: Option<i64> = r.try_get("bound_at").map_err(store_err)?;
    Ok(BindingRow {
        id: column_id(r, "id")?,
        user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        bank: r.try_get("bank").map_err(store_err)?,
        card_cipher: r.try_get("card_cipher").map_err(store_err)?,
        card_index: r.try_get("card_index").map_err(store_err)?,
        last4: r.try_get("last4").map_err(store_err)?,
        status: BindingStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("binding status {status}")))?,
        bank_reference: r.try_get("bank_reference").map_err(store_err)?,
        luhn_warning: warning != 0,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
        bound_at: bound.map(timestamp).transpose()?,
        end_reason: r.try_get("end_reason").map_err(store_err)?,
        suspended_reason: r.try_get("suspended_reason").map_err(store_err)?,
        low_balance_alert: r.try_get::<Option<i64>, _>("low_balance_alert_fen").map_err(store_err)?.map(idlink_domain::Fen),
    })
}

#[async_trait]
impl BindingStore for SqlStore {
    async fn insert_binding(&self, b: &BindingRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO card_bindings ({COLUMNS}, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, NULL, NULL)"
            )))
            .bind(b.id.as_str())
            .bind(b.user_id.as_str())
            .bind(&b.bank)
            .bind(&b.card_cipher)
            .bind(&b.card_index)
            .bind(&b.last4)
            .bind(b.status.as_str())
            .bind(b.bank_reference.as_deref())
            .bind(i64::from(b.luhn_warning))
            .bind(micros(b.created_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn binding(&self, id: &BindingId, user: &UserId) -> Result<Option<BindingRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM card_bindings WHERE id = $1 AND user_id = $2")))
            .bind(id.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| binding(&r))
            .transpose()
    }

    async fn bindings(&self, user: &UserId) -> Result<Vec<BindingRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM card_bindings WHERE user_id = $1 AND (status <> 'ended' OR end_reason = 'card_reported_lost')
             ORDER BY created_at, id"
        )))
        .bind(user.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?
        .iter()
        .map(binding)
        .collect()
    }

    async fn activate_binding(&self, id: &BindingId, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = "UPDATE card_bindings SET status = 'active', bound_at = $1 WHERE id = $2 AND user_id = $3 AND status = 'pending_sms'";
        self.update_one(sqlx::query(sql).bind(micros(at)).bind(id.as_str()).bind(user.as_str()), audit).await
    }

    async fn end_binding(&self, id: &BindingId, user: &UserId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = "UPDATE card_bindings SET status = 'ended', ended_at = $1, end_reason = 'unbound' \
                   WHERE id = $2 AND user_id = $3 AND status <> 'ended'";
        self.update_one(sqlx::query(sql).bind(micros(at)).bind(id.as_str()).bind(user.as_str()), audit).await
    }

    async fn other_accounts_with_card(&self, card_index: &str, user: &UserId) -> Result<u32, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_id) FROM card_bindings WHERE card_index = $1 AND user_id <> $2 AND status = 'active'",
        )
        .bind(card_index)
        .bind(user.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(store_err)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn apply_bank_event(
        &self,
        bank: &str,
        event_id: &str,
        kind: BankEventKind,
        card_index: &str,
        at: Timestamp,
        audit: &AuditEntry,
        notice: &Notice<'_>,
    ) -> Result<Option<Vec<Affected>>, StoreError> {
        // One record per affected binding, about its owner: the body appends them itself.
        self.write_if(Commit::Effect, async |tx| {
            let seen: Option<i64> = sqlx::query_scalar("SELECT bindings FROM bank_events WHERE bank = $1 AND event_id = $2")
                .bind(bank)
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_err)?;
            if seen.is_some() {
                return Ok(None);
            }
            let rows = sqlx::query(
                "SELECT id, user_id, last4 FROM card_bindings WHERE card_index = $1 AND bank = $2 AND status <> 'ended' ORDER BY id",
            )
            .bind(card_index)
            .bind(bank)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
            let mut affected = Vec::with_capacity(rows.len());
            for r in &rows {
                let user: String = r.try_get("user_id").map_err(store_err)?;
                affected.push(Affected {
                    binding_id: column_id(r, "id")?,
                    user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    last4: r.try_get("last4").map_err(store_err)?,
                });
            }
            for a in &affected {
                let q = match kind {
                    BankEventKind::CardLost => sqlx::query(
                        "UPDATE card_bindings SET status = 'ended', ended_at = $1, end_reason = 'card_reported_lost' WHERE id = $2",
                    )
                    .bind(micros(at)),
                    BankEventKind::PasswordLocked => {
                        sqlx::query("UPDATE card_bindings SET suspended_reason = 'password_locked' WHERE id = $1")
                    }
                    BankEventKind::PasswordReset => sqlx::query("UPDATE card_bindings SET suspended_reason = NULL WHERE id = $1"),
                };
                q.bind(a.binding_id.as_str()).execute(&mut *tx).await.map_err(store_err)?;
                append_in(tx, &audit.clone().subject(&a.user_id)).await?;
            }
            sqlx::query(
                "INSERT INTO bank_events (bank, event_id, kind, card_index, received_at, bindings) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(bank)
            .bind(event_id)
            .bind(kind.as_str())
            .bind(card_index)
            .bind(micros(at))
            .bind(i64::try_from(affected.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            // Each owner is told, surely and only if the event applies (outbox, ADR 0009).
            let notices = affected.iter().map(notice).collect::<Result<Vec<_>, _>>()?;
            crate::outbox::enqueue_in(tx, &notices).await?;
            Ok(Some(affected))
        })
        .await
    }

    async fn set_low_balance_alert(
        &self,
        id: &BindingId,
        user: &UserId,
        threshold: Option<idlink_domain::Fen>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE card_bindings SET low_balance_alert_fen = $1 WHERE id = $2 AND user_id = $3 AND status = 'active'";
        self.update_one(sqlx::query(sql).bind(threshold.map(|t| t.0)).bind(id.as_str()).bind(user.as_str()), audit).await
    }
}

impl SqlStore {
    /// Runs an update of one binding and, if it changed exactly one row, appends `audit` in the same transaction.
    async fn update_one(&self, q: AnyQuery<'_>, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| Ok(q.execute(&mut *tx).await.map_err(store_err)?.rows_affected() == 1)).await
    }
}
