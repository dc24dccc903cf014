//! Registered third-party apps on SQLite and PostgreSQL (SPEC TP1): the
//! client row, its redirect URIs, its hashed secrets, and its webhook
//! endpoint and sealed webhook secrets (registration and rotation; the
//! events fan-out reads them with its own queries).

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::clients::{
    AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore, ClientTokenRow, NewClient, WebhookEndpointRow,
    WebhookSecretKind, WebhookSecretRow,
};
use idlink_core::ports::events::{ChildEvent, StatusChange};
use idlink_crypto::jose::JwsAlg;
use idlink_domain::ClientId;
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};
use crate::write::Tx;

const COLUMNS: &str = "id, name, logo_url, kind, auth_method, jwks, allowed_scopes, allowed_claims, id_token_alg, \
     backchannel_logout_uri, backchannel_logout_session_required, introspect_any, state, created_at, updated_at";

pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

pub(crate) fn parse_list(column: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// A client without its redirect URIs (read separately).
fn client(r: &AnyRow) -> Result<ClientRow, StoreError> {
    let jwks = r
        .col::<Option<String>>("jwks")?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("oauth_clients.jwks: {e}"))))
        .transpose()?;
    Ok(ClientRow {
        id: r.id("id")?,
        name: r.col("name")?,
        logo_url: r.col("logo_url")?,
        kind: r.parsed("kind", "client kind", ClientKind::parse)?,
        auth_method: r.parsed("auth_method", "client auth method", AuthMethod::parse)?,
        jwks,
        redirect_uris: Vec::new(),
        allowed_scopes: parse_list("allowed_scopes", &r.col::<String>("allowed_scopes")?)?,
        allowed_claims: parse_list("allowed_claims", &r.col::<String>("allowed_claims")?)?,
        id_token_alg: r.parsed("id_token_alg", "signing algorithm", JwsAlg::parse)?,
        backchannel_logout_uri: r.col("backchannel_logout_uri")?,
        backchannel_logout_session_required: r.flag("backchannel_logout_session_required")?,
        introspect_any: r.flag("introspect_any")?,
        state: r.parsed("state", "client state", ClientState::parse)?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
    })
}

fn secret(r: &AnyRow) -> Result<ClientSecretRow, StoreError> {
    Ok(ClientSecretRow {
        id: r.col("id")?,
        client_id: r.id("client_id")?,
        secret_hash: r.col("secret_hash")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant_opt("expires_at")?,
    })
}

/// Inserts a secret inside a transaction (registration and rotation).
pub(crate) async fn insert_secret_in(tx: &mut Tx, s: &ClientSecretRow) -> Result<(), StoreError> {
    let q =
        sqlx::query("INSERT INTO oauth_client_secrets (id, client_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(s.id.clone())
            .bind(s.client_id.as_str())
            .bind(s.secret_hash.clone())
            .bind(micros(s.created_at))
            .bind(s.expires_at.map(micros));
    execute(q, &mut *tx).await?;
    Ok(())
}

fn endpoint(r: &AnyRow) -> Result<WebhookEndpointRow, StoreError> {
    Ok(WebhookEndpointRow {
        id: r.id("id")?,
        client_id: r.id("client_id")?,
        url: r.col("url")?,
        event_types: parse_list("webhook_endpoints.event_types", &r.col::<String>("event_types")?)?,
        state: r.col("state")?,
        disabled_at: r.instant_opt("disabled_at")?,
        disabled_reason: r.col("disabled_reason")?,
        created_at: r.instant("created_at")?,
    })
}

fn webhook_secret(r: &AnyRow) -> Result<WebhookSecretRow, StoreError> {
    Ok(WebhookSecretRow {
        id: r.col("id")?,
        client_id: r.id("client_id")?,
        kind: r.parsed("kind", "webhook secret kind", WebhookSecretKind::parse)?,
        sealed: r.col("secret")?,
        public_key: r.col("public_key")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant_opt("expires_at")?,
    })
}

async fn insert_webhook_secret_in(tx: &mut Tx, s: &WebhookSecretRow) -> Result<(), StoreError> {
    let q = sqlx::query(
        "INSERT INTO webhook_secrets (id, client_id, kind, secret, public_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.id.clone())
    .bind(s.client_id.as_str())
    .bind(s.kind.as_str())
    .bind(s.sealed.clone())
    .bind(s.public_key.clone())
    .bind(micros(s.created_at))
    .bind(s.expires_at.map(micros));
    execute(q, &mut *tx).await?;
    Ok(())
}

/// Inserts or replaces the client's one webhook endpoint.
async fn put_endpoint_in(tx: &mut Tx, e: &WebhookEndpointRow) -> Result<(), StoreError> {
    execute(
        sqlx::query("DELETE FROM webhook_endpoints WHERE client_id = $1 AND id <> $2").bind(e.client_id.as_str()).bind(e.id.as_str()),
        &mut *tx,
    )
    .await?;
    let q = sqlx::query(
        "INSERT INTO webhook_endpoints (id, client_id, url, event_types, state, disabled_at, disabled_reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, event_types = excluded.event_types, state = excluded.state, \
         disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason",
    )
    .bind(e.id.as_str())
    .bind(e.client_id.as_str())
    .bind(e.url.clone())
    .bind(json_list(&e.event_types))
    .bind(e.state.clone())
    .bind(e.disabled_at.map(micros))
    .bind(e.disabled_reason.clone())
    .bind(micros(e.created_at));
    execute(q, &mut *tx).await?;
    Ok(())
}

/// Replaces a client's redirect URIs inside a transaction.
pub(crate) async fn set_redirect_uris_in(tx: &mut Tx, id: &ClientId, uris: &[String]) -> Result<(), StoreError> {
    execute(sqlx::query("DELETE FROM oauth_client_redirect_uris WHERE client_id = $1").bind(id.as_str()), &mut *tx).await?;
    for uri in uris {
        let q = sqlx::query("INSERT INTO oauth_client_redirect_uris (client_id, uri) VALUES ($1, $2)").bind(id.as_str()).bind(uri.clone());
        execute(q, &mut *tx).await?;
    }
    Ok(())
}

async fn client_exists_in(tx: &mut Tx, id: &ClientId) -> Result<bool, StoreError> {
    let q = sqlx::query("SELECT id FROM oauth_clients WHERE id = $1").bind(id.as_str());
    Ok(fetch_optional(q, &mut *tx, |r| r.col::<String>("id")).await?.is_some())
}

impl SqlStore {
    async fn with_redirect_uris(&self, mut clients: Vec<ClientRow>) -> Result<Vec<ClientRow>, StoreError> {
        for c in &mut clients {
            let q = sqlx::query("SELECT uri FROM oauth_client_redirect_uris WHERE client_id = $1 ORDER BY uri").bind(c.id.as_str());
            c.redirect_uris = fetch_all(q, &self.reader, |r| r.col::<String>("uri")).await?;
        }
        Ok(clients)
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn register_client(&self, new: &NewClient<'_>, audit: &AuditEntry) -> Result<(), StoreError> {
        let c = new.client;
        let sql =
            format!("INSERT INTO oauth_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(c.id.as_str())
            .bind(c.name.clone())
            .bind(c.logo_url.clone())
            .bind(c.kind.as_str())
            .bind(c.auth_method.as_str())
            .bind(c.jwks.as_ref().map(|j| j.to_string()))
            .bind(json_list(&c.allowed_scopes))
            .bind(json_list(&c.allowed_claims))
            .bind(c.id_token_alg.as_str())
            .bind(c.backchannel_logout_uri.clone())
            .bind(i64::from(c.backchannel_logout_session_required))
            .bind(i64::from(c.introspect_any))
            .bind(c.state.as_str())
            .bind(micros(c.created_at))
            .bind(micros(c.updated_at));
        self.audited(audit, async |tx| {
            execute(q, &mut *tx).await?;
            set_redirect_uris_in(tx, &c.id, &c.redirect_uris).await?;
            if let Some(s) = new.secret {
                insert_secret_in(tx, s).await?;
            }
            if let Some(e) = new.webhook {
                put_endpoint_in(tx, e).await?;
            }
            for s in new.webhook_secrets {
                insert_webhook_secret_in(tx, s).await?;
            }
            Ok(())
        })
        .await
    }

    async fn update_client(
        &self,
        c: &ClientRow,
        webhook: Option<&WebhookEndpointRow>,
        stream: Option<(&StatusChange, &ChildEvent, &AuditEntry)>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut records = vec![audit.clone()];
        records.extend(stream.map(|(_, _, a)| a.clone()));
        let q = sqlx::query(
            "UPDATE oauth_clients SET name = $2, logo_url = $3, backchannel_logout_uri = $4, backchannel_logout_session_required = $5, \
             state = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(c.id.as_str())
        .bind(c.name.clone())
        .bind(c.logo_url.clone())
        .bind(c.backchannel_logout_uri.clone())
        .bind(i64::from(c.backchannel_logout_session_required))
        .bind(c.state.as_str())
        .bind(micros(c.updated_at));
        self.audited_if(records.as_slice(), async |tx| {
            if execute(q, &mut *tx).await? == 0 {
                return Ok(false);
            }
            set_redirect_uris_in(tx, &c.id, &c.redirect_uris).await?;
            if let Some(e) = webhook {
                put_endpoint_in(tx, e).await?;
            }
            if let Some((change, announce, _)) = stream {
                crate::events::stream_status_in(tx, change, Some(announce)).await?;
            }
            Ok(true)
        })
        .await
    }

    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        secret: &ClientSecretRow,
        old_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            if !client_exists_in(tx, id).await? {
                return Ok(false);
            }
            // Secrets already ending sooner keep their end: a rotation never lengthens one.
            let q = sqlx::query(
                "UPDATE oauth_client_secrets SET expires_at = $2 WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(id.as_str())
            .bind(micros(old_until));
            execute(q, &mut *tx).await?;
            insert_secret_in(tx, secret).await?;
            Ok(true)
        })
        .await
    }

    async fn rotate_webhook_secrets(
        &self,
        id: &ClientId,
        secrets: &[WebhookSecretRow],
        old_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            if !client_exists_in(tx, id).await? {
                return Ok(false);
            }
            let q =
                sqlx::query("UPDATE webhook_secrets SET expires_at = $2 WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)")
                    .bind(id.as_str())
                    .bind(micros(old_until));
            execute(q, &mut *tx).await?;
            for s in secrets {
                insert_webhook_secret_in(tx, s).await?;
            }
            Ok(true)
        })
        .await
    }

    async fn webhook_endpoint(&self, id: &ClientId) -> Result<Option<WebhookEndpointRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, client_id, url, event_types, state, disabled_at, disabled_reason, created_at FROM webhook_endpoints \
             WHERE client_id = $1 ORDER BY created_at DESC, id LIMIT 1",
        )
        .bind(id.as_str());
        fetch_optional(q, &self.reader, endpoint).await
    }

    async fn live_webhook_secrets(&self, id: &ClientId, now: Timestamp) -> Result<Vec<WebhookSecretRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, client_id, kind, secret, public_key, created_at, expires_at FROM webhook_secrets \
             WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id",
        )
        .bind(id.as_str())
        .bind(micros(now));
        fetch_all(q, &self.reader, webhook_secret).await
    }

    async fn client(&self, id: &ClientId) -> Result<Option<ClientRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_clients WHERE id = $1");
        let Some(row) = fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, client).await? else {
            return Ok(None);
        };
        Ok(self.with_redirect_uris(vec![row]).await?.pop())
    }

    async fn live_client_secrets(&self, id: &ClientId, now: Timestamp) -> Result<Vec<ClientSecretRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, client_id, secret_hash, created_at, expires_at FROM oauth_client_secrets \
             WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id",
        )
        .bind(id.as_str())
        .bind(micros(now));
        fetch_all(q, &self.reader, secret).await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_clients ORDER BY created_at, id");
        let rows = fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, client).await?;
        self.with_redirect_uris(rows).await
    }

    async fn insert_client_token(&self, t: &ClientTokenRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, family_id, scope, claims, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, NULL, NULL, NULL, $3, NULL, $4, $5, NULL)",
        )
        .bind(t.token_hash.clone())
        .bind(t.client_id.as_str())
        .bind(t.scope.clone())
        .bind(micros(t.created_at))
        .bind(micros(t.expires_at));
        self.audited(audit, async |tx| {
            execute(q, &mut *tx).await?;
            Ok(())
        })
        .await
    }
}
