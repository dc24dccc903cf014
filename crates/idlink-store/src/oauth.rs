//! The OpenID provider's tables on SQLite and PostgreSQL (SPEC TP1, TP2;
//! ADR 0020): signing keys, authorization requests, codes, grants and
//! consents, subjects, sessions, refresh families and tokens, access tokens.
//! Every statement is written once for both databases; single use (codes,
//! refresh tokens) is a conditional `UPDATE … RETURNING`, never a lock.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::oauth::{OAuthStore, SigningKeyRow};
use idlink_crypto::jose::JwsAlg;
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, micros};

const KEY_COLUMNS: &str = "kid, alg, generation, public_jwk, private_key, created_at, activates_at, retires_at, removed_at";

fn signing_key(r: &AnyRow) -> Result<SigningKeyRow, StoreError> {
    let jwk: String = r.col("public_jwk")?;
    Ok(SigningKeyRow {
        kid: r.col("kid")?,
        alg: r.parsed("alg", "signing algorithm", JwsAlg::parse)?,
        generation: r.col("generation")?,
        public_jwk: serde_json::from_str(&jwk).map_err(|e| StoreError::Corrupt(format!("oidc_signing_keys.public_jwk: {e}")))?,
        private_sealed: r.col("private_key")?,
        created_at: r.instant("created_at")?,
        activates_at: r.instant("activates_at")?,
        retires_at: r.instant_opt("retires_at")?,
        removed_at: r.instant_opt("removed_at")?,
    })
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM oidc_signing_keys WHERE removed_at IS NULL ORDER BY alg, generation");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, signing_key).await
    }

    async fn insert_signing_key(&self, k: &SigningKeyRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO oidc_signing_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING"
        );
        let insert = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(k.kid.clone())
            .bind(k.alg.as_str())
            .bind(k.generation)
            .bind(k.public_jwk.to_string())
            .bind(k.private_sealed.clone())
            .bind(micros(k.created_at))
            .bind(micros(k.activates_at))
            .bind(k.retires_at.map(micros))
            .bind(k.removed_at.map(micros));
        let retire = sqlx::query("UPDATE oidc_signing_keys SET retires_at = $1 WHERE alg = $2 AND generation = $3 AND retires_at IS NULL")
            .bind(micros(k.activates_at))
            .bind(k.alg.as_str())
            .bind(k.generation - 1);
        self.audited_if(audit, async |tx| {
            if execute(insert, &mut *tx).await? == 0 {
                return Ok(false);
            }
            execute(retire, &mut *tx).await?;
            Ok(true)
        })
        .await
    }

    async fn remove_signing_keys(&self, retired_before: Timestamp, now: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "UPDATE oidc_signing_keys SET removed_at = $1 WHERE removed_at IS NULL AND retires_at IS NOT NULL AND retires_at < $2",
        )
        .bind(micros(now))
        .bind(micros(retired_before));
        let n = self.audited_if(audit, async |tx| Ok(Some(execute(q, &mut *tx).await?).filter(|n| *n > 0))).await?;
        Ok(n.unwrap_or(0))
    }
}
