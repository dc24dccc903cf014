//! Storage of bank card bindings.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::bindings::{Affected, BankEventKind, BindingRow, BindingStatus, BindingStore, Notice};
use idlink_domain::{BindingId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::audit::append_in;
use crate::rows::{AnyQuery, Columns, count_u32, execute, fetch_all, fetch_one, fetch_optional, first, micros};
use crate::write::Commit;

pub(crate) const COLUMNS: &str = "id, user_id, bank, card_cipher, card_index, last4, status, bank_reference, luhn_warning, created_at, bound_at, \
                       end_reason, suspended_reason, low_balance_alert_fen";

/// The columns a new binding fills, in the order [`bind_new_binding`] binds them.
pub(crate) const NEW_BINDING_COLUMNS: &str =
    "id, user_id, bank, card_cipher, card_index, last4, status, bank_reference, luhn_warning, created_at";

/// Binds a new binding in the order of [`NEW_BINDING_COLUMNS`] (here and in the seeder).
pub(crate) fn bind_new_binding<'q>(q: AnyQuery<'q>, b: &'q BindingRow) -> AnyQuery<'q> {
    q.bind(b.id.as_str())
        .bind(b.user_id.as_str())
        .bind(&b.bank)
        .bind(&b.card_cipher)
        .bind(&b.card_index)
        .bind(&b.last4)
        .bind(b.status.as_str())
        .bind(b.bank_reference.as_deref())
        .bind(i64::from(b.luhn_warning))
        .bind(micros(b.created_at))
}

pub(crate) fn binding(r: &AnyRow) -> Result<BindingRow, StoreError> {
    Ok(BindingRow {
        id: r.id("id")?,
        user_id: r.user("user_id")?,
        bank: r.col("bank")?,
        card_cipher: r.col("card_cipher")?,
        card_index: r.col("card_index")?,
        last4: r.col("last4")?,
        status: r.parsed("status", "binding status", BindingStatus::parse)?,
        bank_reference: r.col("bank_reference")?,
        luhn_warning: r.flag("luhn_warning")?,
        created_at: r.instant("created_at")?,
        bound_at: r.instant_opt("bound_at")?,
        end_reason: r.col("end_reason")?,
        suspended_reason: r.col("suspended_reason")?,
        low_balance_alert: r.col::<Option<i64>>("low_balance_alert_fen")?.map(idlink_domain::Fen),
    })
}

fn affected(r: &AnyRow) -> Result<Affected, StoreError> {
    Ok(Affected { binding_id: r.id("id")?, user_id: r.user("user_id")?, last4: r.col("last4")? })
}

#[async_trait]
impl BindingStore for SqlStore {
    async fn insert_binding(&self, b: &BindingRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO card_bindings ({COLUMNS}, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, NULL, NULL)"
        );
        let q = bind_new_binding(sqlx::query(sqlx::AssertSqlSafe(sql)), b);
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn binding(&self, id: &BindingId, user: &UserId) -> Result<Option<BindingRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM card_bindings WHERE id = $1 AND user_id = $2");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).bind(user.as_str()), &self.reader, binding).await
    }

    async fn bindings(&self, user: &UserId) -> Result<Vec<BindingRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM card_bindings WHERE user_id = $1 AND (status <> 'ended' OR end_reason = 'card_reported_lost')
             ORDER BY created_at, id"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, binding).await
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
        let q =
            sqlx::query("SELECT COUNT(DISTINCT user_id) FROM card_bindings WHERE card_index = $1 AND user_id <> $2 AND status = 'active'")
                .bind(card_index)
                .bind(user.as_str());
        count_u32("COUNT(DISTINCT user_id)", fetch_one(q, &self.reader, first).await?)
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
            let seen = sqlx::query("SELECT bindings FROM bank_events WHERE bank = $1 AND event_id = $2").bind(bank).bind(event_id);
            if fetch_optional(seen, &mut *tx, |_| Ok(())).await?.is_some() {
                return Ok(None);
            }
            let q = sqlx::query(
                "SELECT id, user_id, last4 FROM card_bindings WHERE card_index = $1 AND bank = $2 AND status <> 'ended' ORDER BY id",
            )
            .bind(card_index)
            .bind(bank);
            let affected = fetch_all(q, &mut *tx, affected).await?;
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
                execute(q.bind(a.binding_id.as_str()), &mut *tx).await?;
                append_in(tx, &audit.clone().subject(&a.user_id)).await?;
            }
            let q = sqlx::query(
                "INSERT INTO bank_events (bank, event_id, kind, card_index, received_at, bindings) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(bank)
            .bind(event_id)
            .bind(kind.as_str())
            .bind(card_index)
            .bind(micros(at))
            .bind(i64::try_from(affected.len()).unwrap_or(i64::MAX));
            execute(q, &mut *tx).await?;
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
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }
}
