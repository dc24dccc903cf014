//! Storage of the balance-query switch, agreements and query history.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::balance::{Agreement, BalanceStore, QueryCommitment, QueryContext, QueryRecord, SignedDocument};
use idlink_domain::{BindingId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::group_commit::QueryCommit;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_optional, micros, qualified, values};

/// The columns of a history row that every query record fills (a refusal adds `reason`).
pub(crate) const HISTORY_COLUMNS: &str = "id, user_id, binding_id, bank, channel, precision_kind, actor, at, outcome";
pub(crate) const HISTORY_COLS: usize = 9;

/// Binds a history row in the order of [`HISTORY_COLUMNS`] (here and in the group commit).
pub(crate) fn bind_history_row<'q>(q: AnyQuery<'q>, user: &'q str, r: &'q QueryRecord) -> AnyQuery<'q> {
    q.bind(r.id.as_str())
        .bind(user)
        .bind(r.binding_id.as_str())
        .bind(&r.bank)
        .bind(&r.channel)
        .bind(&r.precision)
        .bind(&r.actor)
        .bind(micros(r.at))
        .bind(&r.outcome)
}

/// Everything a balance query checks, in one read: the binding ($1) of the
/// user ($2), the feature ($3) at $4, the agreement, the step-up token
/// ($5, its secret's hash $6, operation $7) and the user's data key ($8).
pub(crate) fn query_context_sql() -> String {
    format!(
        "SELECT {},
           (SELECT enabled FROM user_features WHERE user_id = $2 AND feature = $3) AS feature_enabled,
           (SELECT document_version || ' ' || document_hash FROM agreements WHERE user_id = $2 AND binding_id = $1
              AND revoked_at IS NULL AND valid_until > $4 ORDER BY signed_at DESC, id DESC LIMIT 1) AS agreement,
           (SELECT CASE WHEN used_at IS NULL THEN 1 ELSE 2 END FROM step_up_tokens
              WHERE id = $5 AND secret_hash = $6 AND user_id = $2 AND operation = $7 AND resource = $1 AND expires_at > $4) AS token_state,
           k.id AS key_id, k.ciphertext AS key_cipher
         FROM card_bindings b LEFT JOIN data_keys k ON k.id = $8
         WHERE b.id = $1 AND b.user_id = $2",
        qualified(crate::bindings::COLUMNS, "b")
    )
}

#[async_trait]
impl BalanceStore for SqlStore {
    async fn feature_enabled(&self, user: &UserId, feature: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("SELECT enabled FROM user_features WHERE user_id = $1 AND feature = $2").bind(user.as_str()).bind(feature);
        Ok(fetch_optional(q, &self.reader, |r| r.flag("enabled")).await?.unwrap_or(false))
    }

    async fn set_feature(&self, user: &UserId, feature: &str, enabled: bool, at: Timestamp, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO user_features (user_id, feature, enabled, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, feature) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(user.as_str())
        .bind(feature)
        .bind(i64::from(enabled))
        .bind(micros(at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn insert_agreement(&self, a: &Agreement, audit: &AuditEntry) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO agreements (id, user_id, binding_id, document_version, document_hash, signed_at, valid_until, revoked_at, renews)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(a.id.as_str())
        .bind(a.user_id.as_str())
        .bind(a.binding_id.as_str())
        .bind(&a.document_version)
        .bind(&a.document_hash)
        .bind(micros(a.signed_at))
        .bind(micros(a.valid_until))
        .bind(a.renews.as_ref().map(|r| r.as_str()));
        let renewed = a.renews.as_ref().map(|old| {
            sqlx::query("UPDATE agreements SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(micros(a.signed_at))
                .bind(old.as_str())
        });
        self.audited(audit, async |tx| {
            execute(insert, &mut *tx).await?;
            if let Some(q) = renewed {
                execute(q, &mut *tx).await?;
            }
            Ok(())
        })
        .await
    }

    async fn valid_agreement(&self, user: &UserId, binding_id: &BindingId, now: Timestamp) -> Result<Option<Agreement>, StoreError> {
        let q = sqlx::query(
            "SELECT id, document_version, document_hash, signed_at, valid_until, renews FROM agreements
             WHERE user_id = $1 AND binding_id = $2 AND revoked_at IS NULL AND valid_until > $3 ORDER BY valid_until DESC LIMIT 1",
        )
        .bind(user.as_str())
        .bind(binding_id.as_str())
        .bind(micros(now));
        fetch_optional(q, &self.reader, |r| {
            Ok(Agreement {
                id: r.id("id")?,
                user_id: user.clone(),
                binding_id: binding_id.clone(),
                document_version: r.col("document_version")?,
                document_hash: r.col("document_hash")?,
                signed_at: r.instant("signed_at")?,
                valid_until: r.instant("valid_until")?,
                renews: r.id_opt("renews")?,
            })
        })
        .await
    }

    async fn revoke_agreements(
        &self,
        user: &UserId,
        binding_id: &BindingId,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "UPDATE agreements SET revoked_at = $1 WHERE user_id = $2 AND binding_id = $3 AND revoked_at IS NULL AND valid_until > $1",
        )
        .bind(micros(now))
        .bind(user.as_str())
        .bind(binding_id.as_str());
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await
    }

    async fn query_context(
        &self,
        user: &UserId,
        binding_id: &BindingId,
        token: (&str, &str),
        now: Timestamp,
    ) -> Result<QueryContext, StoreError> {
        let q = sqlx::query(sqlx::AssertSqlSafe(query_context_sql()))
            .bind(binding_id.as_str())
            .bind(user.as_str())
            .bind(idlink_core::balance::FEATURE)
            .bind(micros(now))
            .bind(token.0)
            .bind(token.1)
            .bind(idlink_core::stepup::BALANCE_QUERY)
            .bind(format!("dek-{user}"));
        let found = fetch_optional(q, &self.reader, query_context).await?;
        Ok(found.unwrap_or(QueryContext {
            binding: None,
            feature_enabled: false,
            agreement: None,
            token_usable: false,
            token_spent: false,
            user_key: None,
        }))
    }

    async fn commit_query(&self, c: QueryCommitment<'_>) -> Result<bool, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = QueryCommit {
            token_id: c.token_id.to_owned(),
            secret_hash: c.secret_hash.to_owned(),
            user: c.binding.user.as_str().to_owned(),
            operation: c.binding.operation.to_owned(),
            resource: c.binding.resource.to_owned(),
            record: c.record.clone(),
            card_read: c.card_read.clone(),
            audit: c.audit.clone(),
            kept: c.kept.map(|(claim, sealed)| (claim.clone(), sealed.to_vec())),
            notice: c.notice.cloned(),
            reply,
        };
        self.query_commits.send(job).map_err(|_| StoreError::Unavailable("the balance commit writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the balance commit writer has stopped".into()))?
    }

    async fn record_query(&self, user: &UserId, r: &QueryRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO balance_queries ({HISTORY_COLUMNS}, reason) VALUES {}", values(1, HISTORY_COLS + 1, 1));
        let q = bind_history_row(sqlx::query(sqlx::AssertSqlSafe(sql)), user.as_str(), r).bind(r.reason.as_deref());
        self.recorded(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn query_history(&self, user: &UserId, limit: u32) -> Result<Vec<QueryRecord>, StoreError> {
        let q = sqlx::query(
            "SELECT id, binding_id, bank, channel, precision_kind, actor, at, outcome, reason FROM balance_queries WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(user.as_str())
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, history_row).await
    }
}

/// What a balance query needs to know, read in one statement (`query_context`'s row).
fn query_context(r: &AnyRow) -> Result<QueryContext, StoreError> {
    // The hash is hex, so the last space splits the pair back whatever the version holds.
    let agreement: Option<String> = r.col("agreement")?;
    // None: no such unexpired token for this query; 1: unused; 2: spent.
    let token_state: Option<i64> = r.col("token_state")?;
    let key_id: Option<String> = r.col("key_id")?;
    let key_cipher: Option<Vec<u8>> = r.col("key_cipher")?;
    Ok(QueryContext {
        binding: Some(crate::bindings::binding(r)?),
        feature_enabled: r.col::<Option<i64>>("feature_enabled")?.is_some_and(|v| v != 0),
        agreement: agreement
            .as_deref()
            .and_then(|a| a.rsplit_once(' '))
            .map(|(version, hash)| SignedDocument { version: version.to_owned(), hash: hash.to_owned() }),
        token_usable: token_state == Some(1),
        token_spent: token_state == Some(2),
        user_key: key_id.zip(key_cipher).map(|(id, ciphertext)| idlink_crypto::WrappedDataKey { id, ciphertext }),
    })
}

fn history_row(r: &AnyRow) -> Result<QueryRecord, StoreError> {
    Ok(QueryRecord {
        id: r.id("id")?,
        binding_id: r.id("binding_id")?,
        bank: r.col("bank")?,
        channel: r.col("channel")?,
        precision: r.col("precision_kind")?,
        actor: r.col("actor")?,
        at: r.instant("at")?,
        outcome: r.col("outcome")?,
        reason: r.col("reason")?,
    })
}
