//! The grants store on SQLite and PostgreSQL (SPEC TP2): a user's grants
//! with their app and latest consent, the delivery receipts written by the
//! events fan-out (read here with narrow queries of their own), and
//! revocation: one transaction per set of grants that ends each grant with
//! its tokens, refresh families, codes, consents and app sessions, and writes
//! its lifecycle event and audit record.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::grants::{AttemptRow, ClientFigures, DeliveryRow, GrantRevocation, GrantRow, GrantStore};
use idlink_domain::{ClientId, GrantId, SessionId, UserId};
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::audit::append_in;
use crate::clients::parse_list;
use crate::outbox::enqueue_in;
use crate::rows::{Columns, count_u32, execute, fetch_all, fetch_optional, micros};
use crate::write::Commit;

const GRANT: &str = "SELECT g.id, g.user_id, g.client_id, c.name AS client_name, c.logo_url AS client_logo, g.scopes, g.claims, g.state, \
     g.created_at, g.updated_at, g.revoked_at, g.revoked_by, \
     (SELECT MAX(n.consented_at) FROM oauth_consents n WHERE n.grant_id = g.id) AS consented_at, \
     (SELECT n.consent_version FROM oauth_consents n WHERE n.grant_id = g.id ORDER BY n.consented_at DESC, n.id LIMIT 1) AS consent_version \
     FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id";

fn grant(r: &AnyRow) -> Result<GrantRow, StoreError> {
    Ok(GrantRow {
        id: r.id("id")?,
        user_id: r.id("user_id")?,
        client_id: r.id("client_id")?,
        client_name: r.col("client_name")?,
        client_logo: r.col("client_logo")?,
        scopes: parse_list("oauth_grants.scopes", &r.col::<String>("scopes")?)?,
        claims: parse_list("oauth_grants.claims", &r.col::<String>("claims")?)?,
        state: r.col("state")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
        consented_at: r.instant_opt("consented_at")?,
        consent_version: r.col("consent_version")?,
        revoked_at: r.instant_opt("revoked_at")?,
        revoked_by: r.col("revoked_by")?,
    })
}

const DELIVERY: &str =
    "SELECT id, client_id, user_id, channel, event_type, state, attempts, created_at, delivered_at, last_status FROM event_deliveries";

fn delivery(r: &AnyRow) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: r.col("id")?,
        client_id: r.id("client_id")?,
        user_id: r.id_opt("user_id")?,
        channel: r.col("channel")?,
        event_type: r.col("event_type")?,
        state: r.col("state")?,
        attempts: r.count_u32("attempts")?,
        created_at: r.instant("created_at")?,
        delivered_at: r.instant_opt("delivered_at")?,
        last_status: r.col("last_status")?,
    })
}

fn attempt(r: &AnyRow) -> Result<AttemptRow, StoreError> {
    Ok(AttemptRow {
        delivery_id: r.col("delivery_id")?,
        attempt: count_u32("attempt", r.col("attempt")?)?,
        started_at: r.instant("started_at")?,
        latency_ms: r.col("latency_ms")?,
        http_status: r.col("http_status")?,
        outcome: r.col("outcome")?,
        error: r.col("error")?,
    })
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn grants_of_user(&self, user: &UserId, with_revoked: bool) -> Result<Vec<GrantRow>, StoreError> {
        let filter = if with_revoked { "" } else { " AND g.state <> 'revoked'" };
        let sql = format!("{GRANT} WHERE g.user_id = $1{filter} ORDER BY g.created_at DESC, g.id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, grant).await
    }

    async fn grant(&self, user: &UserId, id: &GrantId) -> Result<Option<GrantRow>, StoreError> {
        let sql = format!("{GRANT} WHERE g.user_id = $1 AND g.id = $2");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).bind(id.as_str()), &self.reader, grant).await
    }

    async fn app_sessions(&self, user: &UserId, client: &ClientId) -> Result<Vec<SessionId>, StoreError> {
        let q = sqlx::query(
            "SELECT DISTINCT session_id FROM oauth_sessions WHERE user_id = $1 AND client_id = $2 AND ended_at IS NULL ORDER BY session_id",
        )
        .bind(user.as_str())
        .bind(client.as_str());
        fetch_all(q, &self.reader, |r| r.id("session_id")).await
    }

    async fn deliveries_of_user(&self, user: &UserId, client: Option<&ClientId>, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        let q = match client {
            Some(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{DELIVERY} WHERE user_id = $1 AND client_id = $2 ORDER BY created_at DESC, id LIMIT $3"
            )))
            .bind(user.as_str())
            .bind(c.as_str())
            .bind(i64::from(limit)),
            None => sqlx::query(sqlx::AssertSqlSafe(format!("{DELIVERY} WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2")))
                .bind(user.as_str())
                .bind(i64::from(limit)),
        };
        fetch_all(q, &self.reader, delivery).await
    }

    async fn deliveries_of_client(&self, client: &ClientId, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        let sql = format!("{DELIVERY} WHERE client_id = $1 ORDER BY created_at DESC, id LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(client.as_str()).bind(i64::from(limit)), &self.reader, delivery).await
    }

    async fn delivery_attempts(&self, deliveries: &[String]) -> Result<Vec<AttemptRow>, StoreError> {
        let mut out = Vec::new();
        for id in deliveries {
            let q = sqlx::query(
                "SELECT delivery_id, attempt, started_at, latency_ms, http_status, outcome, error FROM delivery_attempts \
                 WHERE delivery_id = $1 ORDER BY attempt",
            )
            .bind(id.clone());
            out.extend(fetch_all(q, &self.reader, attempt).await?);
        }
        Ok(out)
    }

    async fn client_figures(&self) -> Result<Vec<(ClientId, ClientFigures)>, StoreError> {
        let grants = sqlx::query("SELECT client_id, COUNT(*) AS n FROM oauth_grants WHERE state = 'active' GROUP BY client_id");
        let grants = fetch_all(grants, &self.reader, |r| Ok((r.id::<ClientId>("client_id")?, r.count_u64("n")?))).await?;
        let sent =
            sqlx::query("SELECT client_id, state, COUNT(*) AS n FROM event_deliveries GROUP BY client_id, state ORDER BY client_id, state");
        let sent =
            fetch_all(sent, &self.reader, |r| Ok((r.id::<ClientId>("client_id")?, r.col::<String>("state")?, r.count_u64("n")?))).await?;
        let mut out: Vec<(ClientId, ClientFigures)> = Vec::new();
        fn entry<'a>(out: &'a mut Vec<(ClientId, ClientFigures)>, id: &ClientId) -> &'a mut ClientFigures {
            let at = match out.iter().position(|(c, _)| c == id) {
                Some(i) => i,
                None => {
                    out.push((id.clone(), ClientFigures::default()));
                    out.len() - 1
                }
            };
            &mut out[at].1
        }
        for (id, n) in grants {
            entry(&mut out, &id).active_grants = n;
        }
        for (id, state, n) in sent {
            entry(&mut out, &id).deliveries.push((state, n));
        }
        Ok(out)
    }

    async fn revoke_grants(&self, revocations: &[GrantRevocation]) -> Result<Vec<GrantId>, StoreError> {
        let ended = self
            .write_if(Commit::Effect, async |tx| {
                let mut ended = Vec::new();
                for r in revocations {
                    let (grant, at) = (r.grant.as_str(), micros(r.at));
                    let q = sqlx::query(
                        "UPDATE oauth_grants SET state = 'revoked', revoked_at = $2, revoked_by = $3, revoke_reason = $4, updated_at = $2 \
                         WHERE id = $1 AND user_id = $5 AND state <> 'revoked'",
                    )
                    .bind(grant)
                    .bind(at)
                    .bind(r.by.clone())
                    .bind(r.reason.clone())
                    .bind(r.user.as_str());
                    if execute(q, &mut *tx).await? == 0 {
                        continue;
                    }
                    let q = sqlx::query(
                        "UPDATE oauth_access_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND (grant_id = $1 \
                         OR family_id IN (SELECT id FROM oauth_refresh_families WHERE grant_id = $1))",
                    )
                    .bind(grant)
                    .bind(at);
                    execute(q, &mut *tx).await?;
                    let q = sqlx::query(
                        "UPDATE oauth_refresh_families SET revoked_at = $2, revoke_reason = 'grant' WHERE grant_id = $1 AND revoked_at IS NULL",
                    )
                    .bind(grant)
                    .bind(at);
                    execute(q, &mut *tx).await?;
                    // An unexchanged code would otherwise mint tokens for an ended grant.
                    let q = sqlx::query("UPDATE oauth_codes SET used_at = $2 WHERE grant_id = $1 AND used_at IS NULL").bind(grant).bind(at);
                    execute(q, &mut *tx).await?;
                    let q = sqlx::query("UPDATE oauth_consents SET withdrawn_at = $2 WHERE grant_id = $1 AND withdrawn_at IS NULL")
                        .bind(grant)
                        .bind(at);
                    execute(q, &mut *tx).await?;
                    let q = sqlx::query("UPDATE oauth_sessions SET ended_at = $3 WHERE user_id = $1 AND client_id = $2 AND ended_at IS NULL")
                        .bind(r.user.as_str())
                        .bind(r.client.as_str())
                        .bind(at);
                    execute(q, &mut *tx).await?;
                    enqueue_in(tx, [&r.event]).await?;
                    append_in(tx, &r.audit).await?;
                    ended.push(r.grant.clone());
                }
                Ok((!ended.is_empty()).then_some(ended))
            })
            .await?;
        Ok(ended.unwrap_or_default())
    }
}
