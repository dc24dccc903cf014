//! The revocation sagas (SPEC RV2, issue 17): moved by version, a step's
//! grants change and event written with the move; and what follows a
//! committed account cancellation (SPEC CP): its closure, which destroys
//! the user's data key, and the retained identities' end.

use crate::SqlStore;
use crate::events::{GrantChange, lifecycle_in};
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};
use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::revocations::{Closure, Due, GrantEffect, Move, RetainedCiphers, RetainedEnd, RevocationRow, RevocationStore};
use idlink_domain::UserId;
use idlink_domain::revocation::Operation;
use idlink_domain::revocation_saga::{Phase, RollbackReason, Saga};
use jiff::Timestamp;
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, operation, phase, done, committing, reason, deadline, due_at, due_provisional, closed_at, version, created_at, updated_at";

fn revocation(r: &AnyRow) -> Result<RevocationRow, StoreError> {
    let done = usize::try_from(r.col::<i64>("done")?).map_err(|_| StoreError::Corrupt("revocations.done".into()))?;
    Ok(RevocationRow {
        id: r.col("id")?,
        user_id: r.user("user_id")?,
        operation: r.parsed("operation", "revocation operation", Operation::parse)?,
        saga: Saga {
            phase: r.parsed("phase", "revocation phase", Phase::parse)?,
            done,
            committing: r.col::<i64>("committing")? != 0,
            reason: r
                .col::<Option<String>>("reason")?
                .map(|x| crate::rows::parsed("rollback reason", &x, RollbackReason::parse))
                .transpose()?,
        },
        deadline: r.instant("deadline")?,
        due: r.instant_opt("due_at")?.map(|at| Due { at, provisional: r.col::<i64>("due_provisional").unwrap_or(0) != 0 }),
        closed_at: r.instant_opt("closed_at")?,
        version: r.col("version")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
    })
}

/// What else a closure does, with the key's deletion: `$1` is the user, `$2` (where the flag
/// says so) the closure's time. The session and credentials end; the blind indexes no longer
/// tie the phone, an ID or a card number to the closed account, so the same person's new
/// account may sign up and bind them again; the bindings end.
const CLOSING: [(&str, bool); 8] = [
    ("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", true),
    ("DELETE FROM payment_passwords WHERE user_id = $1", false),
    ("DELETE FROM devices WHERE user_id = $1", false),
    ("UPDATE credit_watches SET enabled = 0, baseline_cipher = NULL WHERE user_id = $1", false),
    ("UPDATE users SET phone_index = 'closed:' || id WHERE id = $1", false),
    ("UPDATE verifications SET id_index = 'closed:' || id WHERE user_id = $1", false),
    (
        "UPDATE card_bindings SET status = 'ended', ended_at = $2, end_reason = 'account_closed', card_index = 'closed:' || id WHERE user_id = $1",
        true,
    ),
    ("UPDATE ss_bindings SET status = 'unbound', card_index = 'closed:' || id WHERE user_id = $1", false),
];

/// Stores the retention key and the retained identities sealed under it, each row exactly once.
async fn reseal_in(
    tx: &mut crate::write::Tx,
    user: &UserId,
    resealed: &[RetainedCiphers],
    key: Option<&idlink_crypto::WrappedDataKey>,
) -> Result<(), StoreError> {
    if let Some(key) = key {
        crate::store::insert_key(tx, key, "").await?;
    }
    for r in resealed {
        let q = sqlx::query(
            "UPDATE retained_identities SET name_cipher = $3, id_cipher = $4, birth_cipher = $5, key_id = $6 \
             WHERE revocation_id = $1 AND user_id = $2 AND key_id IS NULL",
        )
        .bind(r.revocation_id.clone())
        .bind(user.as_str())
        .bind(r.name_cipher.clone())
        .bind(r.id_cipher.clone())
        .bind(r.birth_cipher.clone())
        .bind(r.key_id.clone());
        if execute(q, &mut *tx).await? != 1 {
            return Err(StoreError::Corrupt(format!("retained identity {} of {user} could not be resealed", r.revocation_id)));
        }
    }
    Ok(())
}

#[async_trait]
impl RevocationStore for SqlStore {
    async fn insert_revocation(&self, row: &RevocationRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO revocations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.id.clone())
            .bind(row.user_id.as_str())
            .bind(row.operation.as_str())
            .bind(row.saga.phase.as_str())
            .bind(i64::try_from(row.saga.done).unwrap_or(0))
            .bind(i64::from(row.saga.committing))
            .bind(row.saga.reason.map(RollbackReason::as_str))
            .bind(micros(row.deadline))
            .bind(row.due.map(|d| micros(d.at)))
            .bind(row.due.map_or(0, |d| i64::from(d.provisional)))
            .bind(row.closed_at.map(micros))
            .bind(row.version)
            .bind(micros(row.created_at))
            .bind(micros(row.updated_at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await.map(|_| ())).await
    }

    async fn open_review(&self, case: &idlink_core::ports::reviews::CaseRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| crate::reviews::open_case_in(tx, case).await).await
    }

    async fn revocation(&self, id: &str) -> Result<Option<RevocationRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM revocations WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()), &self.reader, revocation).await
    }

    async fn latest_revocation_of(&self, user: &UserId) -> Result<Option<RevocationRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM revocations WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, revocation).await
    }

    async fn identity_marked(&self, user: &UserId, id: &str) -> Result<bool, StoreError> {
        let q =
            sqlx::query("SELECT COUNT(*) FROM identities WHERE user_id = $1 AND recycle_saga = $2").bind(user.as_str()).bind(id.to_owned());
        Ok(crate::rows::fetch_one(q, &self.reader, crate::rows::first::<i64>).await? > 0)
    }

    async fn open_revocations(&self, limit: u32) -> Result<Vec<RevocationRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM revocations WHERE phase IN ('forward', 'compensating') ORDER BY updated_at, id LIMIT $1");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)), &self.reader, revocation).await
    }

    async fn advance_revocation(&self, id: &str, version: i64, m: &Move<'_>, audit: &AuditEntry) -> Result<bool, StoreError> {
        let Move { next, at, change, retire_identity, mark_identity, login_check, host_event } = *m;
        let q = sqlx::query(
            "UPDATE revocations SET phase = $3, done = $4, committing = $5, reason = $6, version = version + 1, updated_at = $7
             WHERE id = $1 AND version = $2 RETURNING user_id",
        )
        .bind(id.to_owned())
        .bind(version)
        .bind(next.phase.as_str())
        .bind(i64::try_from(next.done).unwrap_or(0))
        .bind(i64::from(next.committing))
        .bind(next.reason.map(RollbackReason::as_str))
        .bind(micros(at));
        self.audited_if(audit, async |tx| {
            // The move and the step's effect commit together, or neither does.
            let Some(user) = fetch_optional(q, &mut *tx, |r| r.user("user_id")).await? else { return Ok(false) };
            if let Some((effect, event)) = change {
                let grants = match effect {
                    GrantEffect::Hold => GrantChange::Hold,
                    GrantEffect::Release => GrantChange::Release,
                    GrantEffect::Revoke => GrantChange::Revoke { by: "system", reason: "revocation_committed" },
                };
                lifecycle_in(tx, &user, at, grants, event).await?;
            }
            match mark_identity {
                Some(true) => {
                    let q = sqlx::query("UPDATE identities SET recycle_saga = $1 WHERE user_id = $2").bind(id.to_owned()).bind(user.as_str());
                    execute(q, &mut *tx).await?;
                }
                Some(false) => {
                    let q = sqlx::query("UPDATE identities SET recycle_saga = NULL WHERE user_id = $2 AND recycle_saga = $1")
                        .bind(id.to_owned())
                        .bind(user.as_str());
                    execute(q, &mut *tx).await?;
                }
                None => {}
            }
            crate::outbox::enqueue_in(tx, host_event).await?;
            if let Some(reason) = login_check {
                let q = sqlx::query("INSERT INTO login_checks (user_id, reason, since) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING")
                    .bind(user.as_str())
                    .bind(reason.to_owned())
                    .bind(micros(at));
                execute(q, &mut *tx).await?;
            }
            if let Some(until) = retire_identity {
                let keep = sqlx::query(
                    "INSERT INTO retained_identities (revocation_id, user_id, name_cipher, id_cipher, birth_cipher, id_index, document_type, \
                     method, verified_at, revoked_at, retain_until) SELECT $1, user_id, name_cipher, id_cipher, birth_cipher, id_index, \
                     document_type, method, verified_at, $3, $4 FROM identities WHERE user_id = $2 AND recycle_saga = $1",
                )
                .bind(id.to_owned())
                .bind(user.as_str())
                .bind(micros(at))
                .bind(micros(until));
                execute(keep, &mut *tx).await?;
                let q = sqlx::query("DELETE FROM identities WHERE user_id = $1 AND recycle_saga = $2").bind(user.as_str()).bind(id.to_owned());
                execute(q, &mut *tx).await?;
            }
            Ok(true)
        })
        .await
    }

    async fn unclosed_cancellations(&self, limit: u32) -> Result<Vec<RevocationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revocations WHERE operation = 'cancel_account' AND closed_at IS NULL AND phase = 'committed' \
             ORDER BY updated_at, id LIMIT $1"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)), &self.reader, revocation).await
    }

    async fn overdue_cancellations(&self, now: Timestamp, limit: u32) -> Result<Vec<RevocationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revocations r WHERE operation = 'cancel_account' AND closed_at IS NULL AND due_at < $1 \
             AND (phase <> 'rolled_back' OR (reason = 'timed_out' AND NOT EXISTS (SELECT 1 FROM revocations later \
             WHERE later.user_id = r.user_id AND later.operation = 'cancel_account' AND later.created_at > r.created_at))) \
             ORDER BY due_at, id LIMIT $2"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(i64::from(limit)), &self.reader, revocation).await
    }

    async fn retained_ciphers(&self, user: &UserId) -> Result<Vec<RetainedCiphers>, StoreError> {
        let q = sqlx::query(
            "SELECT revocation_id, name_cipher, id_cipher, birth_cipher, key_id FROM retained_identities WHERE user_id = $1 ORDER BY revocation_id",
        )
        .bind(user.as_str());
        fetch_all(q, &self.reader, |r| {
            Ok(RetainedCiphers {
                revocation_id: r.col("revocation_id")?,
                name_cipher: r.col("name_cipher")?,
                id_cipher: r.col("id_cipher")?,
                birth_cipher: r.col("birth_cipher")?,
                key_id: r.col("key_id")?,
            })
        })
        .await
    }

    async fn close_account(&self, id: &str, user: &UserId, c: &Closure<'_>, audit: &AuditEntry) -> Result<bool, StoreError> {
        let closed = sqlx::query("UPDATE revocations SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL AND phase = 'committed'")
            .bind(id.to_owned())
            .bind(micros(c.at));
        self.audited_if(audit, async |tx| {
            if execute(closed, &mut *tx).await? == 0 {
                return Ok(false);
            }
            reseal_in(tx, user, c.resealed, c.retention_key).await?;
            // Nothing the law keeps may stay under the key about to go.
            let unsealed =
                sqlx::query("SELECT COUNT(*) FROM retained_identities WHERE user_id = $1 AND key_id IS NULL").bind(user.as_str());
            if crate::rows::fetch_one(unsealed, &mut *tx, crate::rows::first::<i64>).await? > 0 && !c.key_lost {
                return Err(StoreError::Corrupt(format!("a retained identity of {user} is not resealed before its key goes")));
            }
            // Crypto-shredding: every ciphertext still sealed under this key is noise from now on.
            execute(sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(crate::store::user_key_id(user)), &mut *tx).await?;
            for (statement, takes_time) in CLOSING {
                let q = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(user.as_str());
                let q = if takes_time { q.bind(micros(c.at)) } else { q };
                execute(q, &mut *tx).await?;
            }
            Ok(true)
        })
        .await
    }

    async fn reseal_retained(
        &self,
        user: &UserId,
        resealed: &[RetainedCiphers],
        key: &idlink_crypto::WrappedDataKey,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.audited(audit, async |tx| reseal_in(tx, user, resealed, Some(key)).await).await
    }

    async fn retained_ended(&self, now: Timestamp, limit: u32) -> Result<Vec<RetainedEnd>, StoreError> {
        let q = sqlx::query(
            "SELECT revocation_id, user_id, key_id FROM retained_identities WHERE retain_until <= $1 ORDER BY retain_until, revocation_id LIMIT $2",
        )
        .bind(micros(now))
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, |r| {
            Ok(RetainedEnd { revocation_id: r.col("revocation_id")?, user_id: r.user("user_id")?, key_id: r.col("key_id")? })
        })
        .await
    }

    async fn shred_retained(&self, end: &RetainedEnd, audit: &AuditEntry) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT id_index, revoked_at FROM retained_identities WHERE revocation_id = $1").bind(end.revocation_id.clone());
        let q = sqlx::query("DELETE FROM retained_identities WHERE revocation_id = $1").bind(end.revocation_id.clone());
        let key = end.key_id.clone();
        let user = end.user_id.clone();
        self.audited_if(audit, async |tx| {
            let Some((id_index, revoked_at)) =
                fetch_optional(row, &mut *tx, |r| Ok((r.col::<String>("id_index")?, r.col::<i64>("revoked_at")?))).await?
            else {
                return Ok(false);
            };
            execute(q, &mut *tx).await?;
            // The verifications that made the revoked identity go with it (a verification since is another's to keep).
            let q = sqlx::query(
                "UPDATE verifications SET name_cipher = $3, id_cipher = $3, birth_cipher = NULL, card_cipher = NULL, id_index = 'shredded:' || id \
                 WHERE user_id = $1 AND id_index = $2 AND created_at <= $4",
            )
            .bind(user.as_str())
            .bind(id_index)
            .bind(Vec::<u8>::new())
            .bind(revoked_at);
            execute(q, &mut *tx).await?;
            if let Some(key) = key {
                let left = sqlx::query("SELECT COUNT(*) FROM retained_identities WHERE key_id = $1").bind(key.clone());
                if crate::rows::fetch_one(left, &mut *tx, crate::rows::first::<i64>).await? == 0 {
                    execute(sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(key), &mut *tx).await?;
                }
            }
            Ok(true)
        })
        .await
    }
}
