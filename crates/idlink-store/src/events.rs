//! The events store on SQLite and PostgreSQL (ADR 0022): where a lifecycle
//! event goes (the grants held at its time, their webhook endpoints, SSF
//! streams and sessions), the fan-out's children with their receipts, each
//! attempt recorded with its settlement, webhook endpoints disabled on 410,
//! and the Shared Signals streams with their poll queues. It reads the
//! provider's and the apps' tables (`oauth_grants`, `oauth_subjects`,
//! `oauth_clients`, `oauth_sessions`, `webhook_*`) with narrow queries and
//! writes only the event tables, the outbox and the endpoints' state.

use crate::SqlStore;
use crate::outbox::settle_in;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_optional, first, micros};
use crate::write::{Commit, Tx};
use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::events::{
    AppDestination, AttemptRecord, AttemptRow, ChildEvent, DeliveryRow, EndpointRow, EventStore, PolledSet, ReceiptRow, StatusChange,
    StreamDestination, StreamRow, WebhookSecretRow,
};
use idlink_core::ports::outbox::{NewEvent, Settlement};
use idlink_domain::{ClientId, EndpointId, EventId, SessionId, StreamId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

/// RFC 8935 push; anything else stored is RFC 8936 poll.
pub const PUSH: &str = "urn:ietf:rfc:8935";

fn list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("a JSON list: {e}")))
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

const STREAM_COLUMNS: &str = "id, client_id, aud, method, endpoint_url, authorization_header, events_requested, events_delivered, status, status_reason, description, created_at, updated_at";

fn stream(r: &AnyRow) -> Result<StreamRow, StoreError> {
    Ok(StreamRow {
        id: r.id("id")?,
        client: r.id("client_id")?,
        aud: r.col("aud")?,
        method: r.col("method")?,
        endpoint_url: r.col("endpoint_url")?,
        authorization_header: r.col("authorization_header")?,
        events_requested: list(&r.col::<String>("events_requested")?)?,
        events_delivered: list(&r.col::<String>("events_delivered")?)?,
        status: r.col("status")?,
        status_reason: r.col("status_reason")?,
        description: r.col("description")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
    })
}

fn status(r: &AnyRow, name: &str) -> Result<Option<u16>, StoreError> {
    r.col::<Option<i64>>(name)?.map(|s| u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("an HTTP status {s}")))).transpose()
}

fn receipt(r: &AnyRow) -> Result<ReceiptRow, StoreError> {
    Ok(ReceiptRow {
        id: r.id("id")?,
        parent: r.id("parent_event_id")?,
        client: r.id("client_id")?,
        channel: r.col("channel")?,
        event_type: r.col("event_type")?,
        created_at: r.instant("created_at")?,
        state: r.col("state")?,
        attempts: r.count_u32("attempts")?,
        delivered_at: r.instant_opt("delivered_at")?,
        last_status: status(r, "last_status")?,
    })
}

/// A lifecycle event and the grant changes it reports, in the caller's
/// transaction (plan §5.1): what a freeze, a lift, a shred or a logout does
/// to the apps the user authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantChange<'a> {
    None,
    /// A freeze: active grants suspended (introspection answers inactive).
    Suspend,
    /// A freeze lifted: suspended grants active again.
    Resume,
    /// A revocation under way: active grants held (introspection answers inactive),
    /// apart from a freeze's suspension so that neither lifts the other.
    Hold,
    /// A revocation rolled back: held grants active again, or suspended if the account was frozen meanwhile.
    Release,
    /// The account's data destroyed: every grant revoked, with its refresh families and access tokens.
    Revoke {
        by: &'a str,
        reason: &'a str,
    },
    /// Sessions ended: the apps' views of them (`oauth_sessions`) end too.
    EndSessions {
        sessions: &'a [SessionId],
    },
    /// Every session of the user ended.
    EndAllSessions,
}

pub(crate) async fn lifecycle_in(
    tx: &mut Tx,
    user: &UserId,
    at: Timestamp,
    change: GrantChange<'_>,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let (u, t) = (user.as_str(), micros(at));
    match change {
        GrantChange::None => {}
        GrantChange::Suspend => {
            let q = sqlx::query("UPDATE oauth_grants SET state = 'suspended', updated_at = $2 WHERE user_id = $1 AND state = 'active'");
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
        GrantChange::Resume => {
            let q = sqlx::query("UPDATE oauth_grants SET state = 'active', updated_at = $2 WHERE user_id = $1 AND state = 'suspended'");
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
        GrantChange::Hold => {
            let q = sqlx::query("UPDATE oauth_grants SET state = 'held', updated_at = $2 WHERE user_id = $1 AND state = 'active'");
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
        GrantChange::Release => {
            let q = sqlx::query(
                "UPDATE oauth_grants SET updated_at = $2, state = CASE WHEN EXISTS \
                 (SELECT 1 FROM freezes f WHERE f.user_id = $1 AND f.status = 'frozen') THEN 'suspended' ELSE 'active' END \
                 WHERE user_id = $1 AND state = 'held'",
            );
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
        GrantChange::Revoke { by, reason } => {
            let q = sqlx::query(
                "UPDATE oauth_grants SET state = 'revoked', updated_at = $2, revoked_at = $2, revoked_by = $3, revoke_reason = $4
                 WHERE user_id = $1 AND state <> 'revoked'",
            );
            execute(q.bind(u).bind(t).bind(by).bind(reason), &mut *tx).await?;
            let q = sqlx::query(
                "UPDATE oauth_refresh_families SET revoked_at = $2, revoke_reason = 'grant' WHERE user_id = $1 AND revoked_at IS NULL",
            );
            execute(q.bind(u).bind(t), &mut *tx).await?;
            let q = sqlx::query("UPDATE oauth_access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL");
            execute(q.bind(u).bind(t), &mut *tx).await?;
            let q = sqlx::query("UPDATE oauth_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL");
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
        GrantChange::EndSessions { sessions } => {
            for s in sessions {
                let q = sqlx::query("UPDATE oauth_sessions SET ended_at = $2 WHERE session_id = $1 AND ended_at IS NULL");
                execute(q.bind(s.as_str()).bind(t), &mut *tx).await?;
            }
        }
        GrantChange::EndAllSessions => {
            let q = sqlx::query("UPDATE oauth_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL");
            execute(q.bind(u).bind(t), &mut *tx).await?;
        }
    }
    crate::outbox::enqueue_in(tx, [event]).await
}

/// The stream's id, client and configuration, bound `$1`…`$8` in [`STREAM_COLUMNS`] order.
fn bind_stream<'q>(q: AnyQuery<'q>, s: &'q StreamRow) -> AnyQuery<'q> {
    q.bind(s.id.as_str())
        .bind(s.client.as_str())
        .bind(&s.aud)
        .bind(&s.method)
        .bind(s.endpoint_url.as_deref())
        .bind(s.authorization_header.as_deref())
        .bind(json_list(&s.events_requested))
        .bind(json_list(&s.events_delivered))
}

async fn insert_stream_in(tx: &mut Tx, s: &StreamRow) -> Result<(), StoreError> {
    let params: Vec<String> = (1..=13).map(|i| format!("${i}")).collect();
    let sql = format!("INSERT INTO ssf_streams ({STREAM_COLUMNS}) VALUES ({})", params.join(", "));
    let q = bind_stream(sqlx::query(sqlx::AssertSqlSafe(sql)), s)
        .bind(&s.status)
        .bind(s.status_reason.as_deref())
        .bind(s.description.as_deref())
        .bind(micros(s.created_at))
        .bind(micros(s.updated_at));
    execute(q, &mut *tx).await?;
    Ok(())
}

/// Updates the configuration of the stream with this id, client and creation
/// time; not its status, which is the status calls' (`stream_status_in`), so
/// a change the transmitter made since this row was read stays.
async fn update_stream_config_in(tx: &mut Tx, s: &StreamRow) -> Result<bool, StoreError> {
    let sql = "UPDATE ssf_streams SET aud = $3, method = $4, endpoint_url = $5, authorization_header = $6, \
               events_requested = $7, events_delivered = $8, description = $9, updated_at = $10 \
               WHERE id = $1 AND client_id = $2 AND created_at = $11";
    let q = bind_stream(sqlx::query(sql), s).bind(s.description.as_deref()).bind(micros(s.updated_at)).bind(micros(s.created_at));
    Ok(execute(q, &mut *tx).await? == 1)
}

/// Writes a stream's status change and what it does to the held SETs (see
/// [`EventStore::set_stream_status`]); false if nothing was written.
pub(crate) async fn stream_status_in(tx: &mut Tx, c: &StatusChange, announce: Option<&ChildEvent>) -> Result<bool, StoreError> {
    let at = micros(c.at);
    let client = c.client.as_str();
    // Only the status columns, only over another status: a configuration the
    // receiver changed meanwhile stays, and a change raced by another is made once.
    let mut sql = String::from(
        "UPDATE ssf_streams SET status = $3, status_reason = $4, updated_at = $5 WHERE id = $1 AND client_id = $2 AND status <> $3",
    );
    if c.endpoint.is_some() {
        sql.push_str(" AND endpoint_url = $6");
    }
    let mut q =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(c.stream.as_str()).bind(client).bind(&c.status).bind(c.reason.as_deref()).bind(at);
    if let Some(endpoint) = &c.endpoint {
        q = q.bind(endpoint.as_str());
    }
    if execute(q, &mut *tx).await? != 1 {
        return Ok(false);
    }
    match c.status.as_str() {
        // SSF 1.0 §8.1.2.1: a disabled stream holds nothing for later.
        "disabled" => {
            // Not the pushes in flight (claimed): they settle as they would have.
            let held = "SELECT id FROM outbox WHERE kind = 'set.push' AND destination = $1 AND state = 'pending' AND claim_token IS NULL";
            let q =
                sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE event_deliveries SET state = 'dead' WHERE id IN ({held})"))).bind(client);
            execute(q, &mut *tx).await?;
            let q = sqlx::query(
                "UPDATE outbox SET state = 'dead', finished_at = $2, last_error = 'the stream was disabled'
                 WHERE kind = 'set.push' AND destination = $1 AND state = 'pending' AND claim_token IS NULL",
            )
            .bind(client)
            .bind(at);
            execute(q, &mut *tx).await?;
            let polled = "SELECT jti FROM ssf_poll_queue WHERE stream_id = $1 AND acked_at IS NULL";
            let q = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE event_deliveries SET state = 'dead' WHERE id IN ({polled})")))
                .bind(c.stream.as_str());
            execute(q, &mut *tx).await?;
            let q = sqlx::query("DELETE FROM ssf_poll_queue WHERE stream_id = $1 AND acked_at IS NULL").bind(c.stream.as_str());
            execute(q, &mut *tx).await?;
        }
        // Held pushes go at once (a claimed one settles as it would have).
        "enabled" => {
            let q = sqlx::query(
                "UPDATE outbox SET due_at = $2 WHERE kind = 'set.push' AND destination = $1 AND state = 'pending' AND claim_token IS NULL AND due_at > $2",
            )
            .bind(client)
            .bind(at);
            execute(q, &mut *tx).await?;
        }
        _ => {}
    }
    if let Some(announce) = announce {
        write_child(tx, announce).await?;
    }
    Ok(true)
}

/// Inserts one child, its receipt and (poll streams) its queue row; a child already there is left alone.
async fn write_child(tx: &mut Tx, c: &ChildEvent) -> Result<(), StoreError> {
    let e = &c.event;
    let user = e.subject.as_ref().map(UserId::as_str);
    match &c.poll_stream {
        Some(stream) => {
            let q = sqlx::query(
                "INSERT INTO ssf_poll_queue (stream_id, jti, payload, created_at, acked_at) VALUES ($1, $2, $3, $4, NULL)
                 ON CONFLICT (stream_id, jti) DO NOTHING",
            )
            .bind(stream.as_str())
            .bind(e.id.as_str())
            .bind(e.payload.as_slice())
            .bind(micros(e.at));
            execute(q, &mut *tx).await?;
        }
        None => {
            let q = sqlx::query(
                "INSERT INTO outbox (id, kind, subject, payload, state, created_at, due_at, attempts, destination, parent_id)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5, 0, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(e.id.as_str())
            .bind(&e.kind)
            .bind(user)
            .bind(e.payload.as_slice())
            .bind(micros(e.at))
            .bind(c.client.as_str())
            .bind(c.parent.as_str());
            execute(q, &mut *tx).await?;
        }
    }
    let q = sqlx::query(
        "INSERT INTO event_deliveries (id, parent_event_id, user_id, client_id, channel, event_type, created_at, state, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.id.as_str())
    .bind(c.parent.as_str())
    .bind(user)
    .bind(c.client.as_str())
    .bind(c.channel.as_str())
    .bind(&c.event_type)
    .bind(micros(e.at));
    execute(q, &mut *tx).await?;
    Ok(())
}

#[async_trait]
impl EventStore for SqlStore {
    async fn event_destinations(
        &self,
        user: &UserId,
        at: Timestamp,
        only: Option<&ClientId>,
        sessions: &[SessionId],
    ) -> Result<Vec<AppDestination>, StoreError> {
        let sql = format!(
            "SELECT g.client_id, s.sub, c.backchannel_logout_uri, c.backchannel_logout_session_required FROM oauth_grants g
             JOIN oauth_clients c ON c.id = g.client_id AND c.state = 'active'
             LEFT JOIN oauth_subjects s ON s.client_id = g.client_id AND s.user_id = g.user_id
             WHERE g.user_id = $1 AND g.created_at <= $2 AND (g.revoked_at IS NULL OR g.revoked_at >= $2) {}
             ORDER BY g.client_id",
            if only.is_some() { "AND g.client_id = $3" } else { "" }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).bind(micros(at));
        if let Some(client) = only {
            q = q.bind(client.as_str());
        }
        let apps = fetch_all(q, &self.reader, |r| {
            Ok((
                r.id::<ClientId>("client_id")?,
                r.col::<Option<String>>("sub")?,
                r.col::<Option<String>>("backchannel_logout_uri")?,
                r.flag("backchannel_logout_session_required")?,
            ))
        })
        .await?;
        let mut out = Vec::with_capacity(apps.len());
        for (client, sub, logout, session_required) in apps {
            let q = sqlx::query("SELECT id, event_types FROM webhook_endpoints WHERE client_id = $1 AND state = 'enabled' ORDER BY id")
                .bind(client.as_str());
            let endpoints =
                fetch_all(q, &self.reader, |r| Ok((r.id::<EndpointId>("id")?, list(&r.col::<String>("event_types")?)?))).await?;
            let q = sqlx::query(
                "SELECT id, method, events_delivered FROM ssf_streams t WHERE client_id = $1 AND status IN ('enabled', 'paused')
                 AND NOT EXISTS (SELECT 1 FROM ssf_stream_subjects x WHERE x.stream_id = t.id AND x.user_id = $2 AND x.mode = 'removed')",
            )
            .bind(client.as_str())
            .bind(user.as_str());
            let stream = fetch_optional(q, &self.reader, |r| {
                Ok(StreamDestination {
                    id: r.id("id")?,
                    push: r.col::<String>("method")? == PUSH,
                    events_delivered: list(&r.col::<String>("events_delivered")?)?,
                })
            })
            .await?;
            let mut sids = Vec::new();
            for session in sessions {
                let q = sqlx::query("SELECT sid FROM oauth_sessions WHERE client_id = $1 AND session_id = $2 ORDER BY sid")
                    .bind(client.as_str())
                    .bind(session.as_str());
                sids.extend(fetch_all(q, &self.reader, first::<String>).await?);
            }
            if sessions.is_empty() {
                // A user-wide end: every session with the app live at the event's time.
                let q = sqlx::query(
                    "SELECT sid FROM oauth_sessions WHERE client_id = $1 AND user_id = $2 AND created_at <= $3
                     AND (ended_at IS NULL OR ended_at >= $3) ORDER BY sid",
                )
                .bind(client.as_str())
                .bind(user.as_str())
                .bind(micros(at));
                sids = fetch_all(q, &self.reader, first::<String>).await?;
            }
            out.push(AppDestination {
                client,
                sub,
                backchannel_logout_uri: logout,
                backchannel_logout_session_required: session_required,
                endpoints,
                stream,
                sids,
            });
        }
        Ok(out)
    }

    async fn write_fan_out(&self, children: &[ChildEvent]) -> Result<(), StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            for c in children {
                write_child(tx, c).await?;
            }
            Ok(())
        })
        .await
    }

    async fn webhook_endpoint(&self, id: &EndpointId) -> Result<Option<EndpointRow>, StoreError> {
        let q = sqlx::query("SELECT id, client_id, url, state FROM webhook_endpoints WHERE id = $1").bind(id.as_str());
        fetch_optional(q, &self.reader, |r| {
            Ok(EndpointRow {
                id: r.id("id")?,
                client: r.id("client_id")?,
                url: r.col("url")?,
                enabled: r.col::<String>("state")? == "enabled",
            })
        })
        .await
    }

    async fn webhook_secrets(&self, client: &ClientId, now: Timestamp) -> Result<Vec<WebhookSecretRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, kind, secret FROM webhook_secrets WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at, id",
        )
        .bind(client.as_str())
        .bind(micros(now));
        fetch_all(q, &self.reader, |r| Ok(WebhookSecretRow { id: r.col("id")?, kind: r.col("kind")?, sealed: r.col("secret")? })).await
    }

    async fn disable_endpoint(&self, id: &EndpointId, reason: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE webhook_endpoints SET state = 'disabled', disabled_at = $2, disabled_reason = $3 WHERE id = $1 AND state = 'enabled'",
        )
        .bind(id.as_str())
        .bind(micros(at))
        .bind(reason);
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn settle_delivery(
        &self,
        id: &EventId,
        token: &str,
        at: Timestamp,
        settlement: &Settlement,
        attempt: Option<&AttemptRecord>,
    ) -> Result<bool, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            if !settle_in(tx, id, token, at, settlement).await? {
                return Ok(false);
            }
            let Some(a) = attempt else { return Ok(true) };
            let q = sqlx::query(
                "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, http_status, outcome, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING",
            )
            .bind(id.as_str())
            .bind(i64::from(a.attempt))
            .bind(micros(a.started_at))
            .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
            .bind(a.http_status.map(i64::from))
            .bind(a.outcome)
            .bind(a.error.as_deref());
            execute(q, &mut *tx).await?;
            let state = match (settlement, a.outcome) {
                (Settlement::Delivered, _) => "delivered",
                (Settlement::Dead { .. }, "gone") => "gone",
                (Settlement::Dead { .. }, _) => "dead",
                (Settlement::Retry { .. } | Settlement::Release, _) => "pending",
            };
            let delivered_at = matches!(settlement, Settlement::Delivered).then_some(micros(at));
            let q = sqlx::query(
                "UPDATE event_deliveries SET state = $2, attempts = $3, last_status = $4, delivered_at = COALESCE($5, delivered_at) WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(state)
            .bind(i64::from(a.attempt))
            .bind(a.http_status.map(i64::from))
            .bind(delivered_at);
            execute(q, &mut *tx).await?;
            Ok(true)
        })
        .await
    }

    async fn receipts(&self, user: &UserId, limit: u32) -> Result<Vec<ReceiptRow>, StoreError> {
        let q = sqlx::query(
            "SELECT id, parent_event_id, client_id, channel, event_type, created_at, state, attempts, delivered_at, last_status
             FROM event_deliveries WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2",
        )
        .bind(user.as_str())
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, receipt).await
    }

    async fn stream_of(&self, client: &ClientId) -> Result<Option<StreamRow>, StoreError> {
        let sql = format!("SELECT {STREAM_COLUMNS} FROM ssf_streams WHERE client_id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(client.as_str()), &self.reader, stream).await
    }

    async fn insert_stream(&self, s: &StreamRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            insert_stream_in(tx, s).await?;
            Ok(())
        })
        .await
    }

    async fn update_stream(&self, s: &StreamRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| update_stream_config_in(tx, s).await).await
    }

    async fn delete_stream(&self, id: &StreamId, audit: &AuditEntry) -> Result<bool, StoreError> {
        let subjects = sqlx::query("DELETE FROM ssf_stream_subjects WHERE stream_id = $1").bind(id.as_str());
        let queue = sqlx::query("DELETE FROM ssf_poll_queue WHERE stream_id = $1").bind(id.as_str());
        let stream = sqlx::query("DELETE FROM ssf_streams WHERE id = $1").bind(id.as_str());
        self.audited_if(audit, async |tx| {
            execute(subjects, &mut *tx).await?;
            execute(queue, &mut *tx).await?;
            Ok(execute(stream, &mut *tx).await? == 1)
        })
        .await
    }

    async fn set_stream_subject(&self, id: &StreamId, user: &UserId, removed: bool, at: Timestamp) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO ssf_stream_subjects (stream_id, user_id, mode, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stream_id, user_id) DO UPDATE SET mode = excluded.mode, at = excluded.at",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(if removed { "removed" } else { "added" })
        .bind(micros(at));
        self.write(Commit::Bookkeeping, async |tx| {
            execute(q, &mut *tx).await?;
            Ok(())
        })
        .await
    }

    async fn user_of_sub(&self, client: &ClientId, sub: &str) -> Result<Option<UserId>, StoreError> {
        let q = sqlx::query("SELECT user_id FROM oauth_subjects WHERE client_id = $1 AND sub = $2").bind(client.as_str()).bind(sub);
        fetch_optional(q, &self.reader, |r| r.user("user_id")).await
    }

    async fn poll_queue(&self, stream: &StreamId, limit: u32) -> Result<Vec<PolledSet>, StoreError> {
        let q = sqlx::query(
            "SELECT jti, payload FROM ssf_poll_queue WHERE stream_id = $1 AND acked_at IS NULL ORDER BY created_at, jti LIMIT $2",
        )
        .bind(stream.as_str())
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, |r| Ok(PolledSet { jti: r.id("jti")?, payload: r.col("payload")? })).await
    }

    async fn purge_receipts(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let at = micros(before);
        self.write(Commit::Bookkeeping, async |tx| {
            let q =
                sqlx::query("SELECT id FROM event_deliveries WHERE created_at < $1 AND state <> 'pending' ORDER BY created_at LIMIT $2")
                    .bind(at)
                    .bind(i64::from(limit));
            let ids: Vec<String> = fetch_all(q, &mut *tx, |r| r.col::<String>("id")).await?;
            for id in &ids {
                execute(sqlx::query("DELETE FROM delivery_attempts WHERE delivery_id = $1").bind(id.as_str()), &mut *tx).await?;
                execute(sqlx::query("DELETE FROM ssf_poll_queue WHERE jti = $1 AND acked_at IS NOT NULL").bind(id.as_str()), &mut *tx)
                    .await?;
                execute(sqlx::query("DELETE FROM event_deliveries WHERE id = $1").bind(id.as_str()), &mut *tx).await?;
            }
            Ok(ids.len() as u64)
        })
        .await
    }

    async fn ack_polled(&self, stream: &StreamId, jtis: &[String], at: Timestamp) -> Result<u64, StoreError> {
        self.write(Commit::Bookkeeping, async |tx| {
            let mut n = 0;
            for jti in jtis {
                let q = sqlx::query("UPDATE ssf_poll_queue SET acked_at = $3 WHERE stream_id = $1 AND jti = $2 AND acked_at IS NULL")
                    .bind(stream.as_str())
                    .bind(jti.as_str())
                    .bind(micros(at));
                let acked = execute(q, &mut *tx).await?;
                if acked == 1 {
                    let q = sqlx::query(
                        "UPDATE event_deliveries SET state = 'delivered', delivered_at = $2, attempts = attempts + 1 WHERE id = $1",
                    )
                    .bind(jti.as_str())
                    .bind(micros(at));
                    execute(q, &mut *tx).await?;
                }
                n += acked;
            }
            Ok(n)
        })
        .await
    }

    async fn set_stream_status(
        &self,
        change: &StatusChange,
        announce: Option<&ChildEvent>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| stream_status_in(tx, change, announce).await).await
    }

    async fn client_deliveries(&self, client: &ClientId, cursor: Option<&EventId>, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
        const COLUMNS: &str = "d.id, d.parent_event_id, d.client_id, d.channel, d.event_type, d.created_at, d.state, d.attempts, d.delivered_at, d.last_status";
        let receipts = match cursor {
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM event_deliveries d WHERE d.client_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
                );
                let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(client.as_str()).bind(i64::from(limit));
                fetch_all(q, &self.reader, receipt).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM event_deliveries d JOIN event_deliveries c ON c.id = $2 AND c.client_id = d.client_id
                     WHERE d.client_id = $1 AND (d.created_at < c.created_at OR (d.created_at = c.created_at AND d.id < c.id))
                     ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
                );
                let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(client.as_str()).bind(after.as_str()).bind(i64::from(limit));
                fetch_all(q, &self.reader, receipt).await?
            }
        };
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        // Every attempt of the page in one read (a page is at most `limit` receipts).
        let params: Vec<String> = (1..=receipts.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT delivery_id, attempt, started_at, latency_ms, http_status, outcome, error FROM delivery_attempts \
             WHERE delivery_id IN ({}) ORDER BY delivery_id, attempt",
            params.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in &receipts {
            q = q.bind(r.id.as_str());
        }
        let attempts = fetch_all(q, &self.reader, |a| {
            Ok((
                a.col::<String>("delivery_id")?,
                AttemptRow {
                    attempt: a.count_u32("attempt")?,
                    started_at: a.instant("started_at")?,
                    latency_ms: u64::try_from(a.col::<i64>("latency_ms")?).unwrap_or(0),
                    http_status: status(a, "http_status")?,
                    outcome: a.col("outcome")?,
                    error: a.col("error")?,
                },
            ))
        })
        .await?;
        let mut by_receipt: std::collections::HashMap<String, Vec<AttemptRow>> = std::collections::HashMap::new();
        for (id, attempt) in attempts {
            by_receipt.entry(id).or_default().push(attempt);
        }
        let out = receipts
            .into_iter()
            .map(|r| {
                let attempts = by_receipt.remove(r.id.as_str()).unwrap_or_default();
                DeliveryRow { receipt: r, attempts }
            })
            .collect();
        Ok(out)
    }
}
