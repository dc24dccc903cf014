//! Seeded users for the scale benchmark (`idlink bench seed`, issue 19):
//! a batch written in one transaction, with the same statements' columns as
//! the real flows and every audit record appended to the chain after them.

use crate::SqlStore;
use crate::balance::{HISTORY_COLUMNS, bind_history_row};
use crate::identity::IDENTITY_COLUMNS;
use crate::rows::{execute, micros};
use crate::store::insert_user_in;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::seed::SeededUser;

impl SqlStore {
    /// Writes `users` and their audit records in one transaction.
    pub async fn seed_users(&self, users: &[SeededUser]) -> Result<(), StoreError> {
        let audits: Vec<AuditEntry> = users.iter().flat_map(|u| u.audit.iter().cloned()).collect();
        let identity_sql = format!("INSERT INTO identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        let history_sql = format!("INSERT INTO balance_queries ({HISTORY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        self.recorded(&audits[..], async |tx| {
            for u in users {
                insert_user_in(tx, &u.user, &u.key).await?;
                crate::login::insert_device(tx, &u.device).await?;
                let i = &u.identity;
                let q = sqlx::query(sqlx::AssertSqlSafe(identity_sql.clone()))
                    .bind(i.user_id.as_str())
                    .bind(&i.name_cipher)
                    .bind(&i.id_cipher)
                    .bind(&i.id_index)
                    .bind(&i.method)
                    .bind(micros(i.verified_at))
                    .bind(i.document_type.as_str())
                    .bind(i.birth_cipher.as_deref());
                execute(q, &mut *tx).await?;
                for c in &u.consents {
                    let q = sqlx::query(
                        "INSERT INTO sensitive_consents (id, user_id, kind, version, locale, text_sha256, given_at, withdrawn_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
                    )
                    .bind(c.id.clone())
                    .bind(c.user_id.as_str())
                    .bind(c.kind.as_str())
                    .bind(i64::from(c.version))
                    .bind(c.locale.clone())
                    .bind(c.text_sha256.clone())
                    .bind(micros(c.given_at));
                    execute(q, &mut *tx).await?;
                }
                let b = &u.binding;
                let q = sqlx::query(
                    "INSERT INTO card_bindings (id, user_id, bank, card_cipher, card_index, last4, status, bank_reference, luhn_warning, created_at, bound_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
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
                .bind(b.bound_at.map(micros));
                execute(q, &mut *tx).await?;
                for r in &u.queries {
                    let q = bind_history_row(sqlx::query(sqlx::AssertSqlSafe(history_sql.clone())), u.user.id.as_str(), r);
                    execute(q, &mut *tx).await?;
                }
            }
            Ok(())
        })
        .await
    }
}
