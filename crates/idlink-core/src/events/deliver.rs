//! One attempt at a child event (plan §5.3–5.4): a Standard Webhook, a
//! Security Event Token pushed per RFC 8935, or an OIDC back-channel logout
//! token, built at the attempt (fresh timestamp; the logout token a fresh
//! `jti`), sent through the SSRF-guarded [`EventSender`], and the answer
//! mapped to what to record.

use super::fanout::{ChildPayload, open_child};
use super::{WEBHOOK_KEY_ID, map};
use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, Outcome as AuditOutcome};
use crate::ports::clients::ClientStore;
use crate::ports::clock::Clock;
use crate::ports::events::{Answer, Channel, EventSender, EventSigner, EventStore, Outgoing, SendError};
use crate::ports::ids::Ids;
use crate::ports::keys::KeyStore;
use crate::ports::outbox::OutboxItem;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use serde_json::json;

/// What became of an attempt, before the retry schedule turns it into a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Worth another attempt; not before `retry_after` seconds if the receiver said so.
    Retry {
        status: Option<u16>,
        error: String,
        retry_after: Option<u64>,
    },
    /// No later attempt can succeed.
    Dead {
        status: Option<u16>,
        error: String,
    },
    /// The webhook endpoint answered 410 Gone and is now disabled.
    Gone,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Delivered { status } => Some(*status),
            Outcome::Retry { status, .. } | Outcome::Dead { status, .. } => *status,
            Outcome::Gone => Some(410),
        }
    }
}

/// The reason a stream disabled on a 410 carries (its status and its stream-updated SET).
pub const GONE_REASON: &str = "The push endpoint answered 410 Gone.";

/// What the deliverer needs for security events.
pub struct EventDelivery<'a> {
    pub store: &'a dyn EventStore,
    pub clients: &'a dyn ClientStore,
    pub keys: &'a dyn KeyStore,
    pub sender: &'a dyn EventSender,
    pub signer: &'a dyn EventSigner,
    pub settings: &'a super::EventSettings,
    /// `iss` of SETs and logout tokens.
    pub issuer: &'a str,
    /// The namespace of assurance-level changes.
    pub trust_framework: &'a str,
}

#[derive(Debug, thiserror::Error)]
enum Problem {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

use idlink_crypto::webhooks::{secret_bytes, sign_v1, sign_v1a};

impl EventDelivery<'_> {
    /// Attempts the child `item` once at `now`.
    pub async fn attempt(&self, vault: &Vault, clock: &dyn Clock, ids: &dyn Ids, item: &OutboxItem) -> Outcome {
        let Some(channel) = Channel::of_kind(&item.kind) else {
            return Outcome::Dead { status: None, error: format!("no channel for events of kind `{}`", item.kind) };
        };
        let child = match open_child(vault, &item.id, &item.kind, &item.payload) {
            Ok(c) => c,
            Err(e) => return Outcome::Dead { status: None, error: e.to_string() },
        };
        let request = match channel {
            Channel::Webhook => self.webhook(vault, clock, item, &child).await,
            Channel::SetPush => self.set_push(vault, item, &child).await,
            Channel::Logout => self.logout(clock, ids, &child).await,
            Channel::SetPoll => Err(Outcome::Dead { status: None, error: "polled events are fetched by the app".into() }),
        };
        let request = match request {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let answer = self.sender.send(&request).await;
        let outcome = classify(channel, answer);
        if outcome == Outcome::Gone && channel == Channel::SetPush {
            // The receiver's push endpoint is gone: the transmitter disables the stream and says so.
            if child.stream_status.is_some() {
                return outcome;
            }
            let now = clock.now();
            let audit = AuditEntry::new("system:events", "ssf.stream_disabled", "the stream's push endpoint answered 410 Gone", now);
            let disabled = super::ssf::disable_gone_stream(self.store, vault, ids, clock, &child.client, &request.url, audit).await;
            if let Err(e) = disabled {
                return Outcome::Retry { status: Some(410), error: format!("disabling the gone stream failed: {e}"), retry_after: None };
            }
            return outcome;
        }
        if outcome == Outcome::Gone
            && let Some(endpoint) = &child.endpoint
        {
            let now = clock.now();
            let mut audit = AuditEntry::new("system:events", "webhook.endpoint_disabled", "the endpoint answered 410 Gone", now)
                .outcome(AuditOutcome::Success);
            if let Some(user) = &child.user {
                audit = audit.subject(user);
            }
            if let Err(e) = self.store.disable_endpoint(endpoint, "gone_410", now, &audit).await {
                return Outcome::Retry { status: Some(410), error: format!("disabling the gone endpoint failed: {e}"), retry_after: None };
            }
        }
        outcome
    }

    async fn webhook(&self, vault: &Vault, clock: &dyn Clock, item: &OutboxItem, child: &ChildPayload) -> Result<Outgoing, Outcome> {
        let retry = |e: Problem| Outcome::Retry { status: None, error: e.to_string(), retry_after: None };
        let endpoint_id = child.endpoint.as_ref().ok_or(Outcome::Dead { status: None, error: "the event names no endpoint".into() })?;
        let endpoint = self.store.webhook_endpoint(endpoint_id).await.map_err(|e| retry(e.into()))?;
        let Some(endpoint) = endpoint.filter(|e| e.enabled) else {
            return Err(Outcome::Dead { status: None, error: "endpoint disabled".into() });
        };
        let now = clock.now();
        let secrets = self.store.webhook_secrets(&child.client, now).await.map_err(|e| retry(e.into()))?;
        if secrets.is_empty() {
            return Err(Outcome::Dead { status: None, error: "the app has no webhook secret".into() });
        }
        let key = vault.system_data_key::<Problem>(self.keys, WEBHOOK_KEY_ID).await.map_err(retry)?;
        let body = serde_json::to_vec(&webhook_body(child)).map_err(|e| Outcome::Dead { status: None, error: e.to_string() })?;
        let timestamp = now.as_second();
        let id = item.id.as_str();
        let mut signatures = Vec::new();
        for s in &secrets {
            let opened = key
                .open(&format!("webhook_secrets:{}", s.id), &s.sealed)
                .map_err(|e| Outcome::Dead { status: None, error: format!("webhook secret {} cannot be opened: {e}", s.id) })?;
            let bytes = secret_bytes(&opened);
            match s.kind.as_str() {
                "hmac" => signatures.extend(sign_v1(&bytes, id, timestamp, &body).map(|sig| format!("v1,{sig}"))),
                "ed25519" => {
                    if let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) {
                        signatures.push(format!("v1a,{}", sign_v1a(&seed, id, timestamp, &body)));
                    }
                }
                _ => {}
            }
        }
        Ok(Outgoing {
            url: endpoint.url,
            content_type: "application/json",
            headers: vec![
                ("webhook-id", id.to_owned()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signatures.join(" ")),
            ],
            body,
        })
    }

    async fn set_push(&self, vault: &Vault, item: &OutboxItem, child: &ChildPayload) -> Result<Outgoing, Outcome> {
        let retry = |e: Problem| Outcome::Retry { status: None, error: e.to_string(), retry_after: None };
        let stream = self.store.stream_of(&child.client).await.map_err(|e| retry(e.into()))?;
        let Some(stream) = stream.filter(|s| Some(&s.id) == child.stream.as_ref()) else {
            return Err(Outcome::Dead { status: None, error: "the stream was deleted".into() });
        };
        match stream.status.as_str() {
            "enabled" => {}
            // The transmitter's own status change is told before the stream stops (SSF 1.0 §8.1.5).
            _ if child.stream_status.is_some() => {}
            // A paused stream keeps its events (SSF 1.0 §8.1.2.1): try again later.
            "paused" => return Err(Outcome::Retry { status: None, error: "the stream is paused".into(), retry_after: None }),
            _ => return Err(Outcome::Dead { status: None, error: "the stream is disabled".into() }),
        }
        let url = stream.endpoint_url.clone().ok_or(Outcome::Dead { status: None, error: "the push stream has no endpoint".into() })?;
        let token = set_token(self.signer, self.issuer, self.trust_framework, item.id.as_str(), child, &stream.aud).await?;
        let mut headers = vec![("accept", "application/json".to_owned())];
        if let Some(sealed) = &stream.authorization_header {
            let key = vault.system_data_key::<Problem>(self.keys, WEBHOOK_KEY_ID).await.map_err(retry)?;
            let header = key
                .open(&format!("ssf_streams:{}", stream.id), sealed)
                .map_err(|e| Outcome::Dead { status: None, error: format!("the stream's authorization header cannot be opened: {e}") })?;
            headers.push(("authorization", String::from_utf8_lossy(&header).into_owned()));
        }
        Ok(Outgoing { url, content_type: "application/secevent+jwt", headers, body: token.into_bytes() })
    }

    async fn logout(&self, clock: &dyn Clock, ids: &dyn Ids, child: &ChildPayload) -> Result<Outgoing, Outcome> {
        let client = self.clients.client(&child.client).await.map_err(|e| Outcome::Retry {
            status: None,
            error: format!("reading the app failed: {e}"),
            retry_after: None,
        })?;
        let Some(url) = client.and_then(|c| c.backchannel_logout_uri) else {
            return Err(Outcome::Dead { status: None, error: "the app has no back-channel logout URI".into() });
        };
        let now = clock.now();
        let exp = now.checked_add(self.settings.logout_token_ttl).unwrap_or(now);
        let mut claims = json!({
            "iss": self.issuer,
            "aud": child.client.as_str(),
            "iat": now.as_second(),
            "exp": exp.as_second(),
            // Fresh at every attempt: an RP may refuse a jti it has seen (OIDC BCL 1.0 §2.6).
            "jti": ids.event().as_str(),
            "sub": child.sub,
            "events": {map::BACKCHANNEL_LOGOUT: {}},
        });
        if let (Some(sid), Some(obj)) = (&child.sid, claims.as_object_mut()) {
            obj.insert("sid".into(), json!(sid));
        }
        let token = self.sign("logout+jwt", &claims).await?;
        Ok(Outgoing {
            url,
            content_type: "application/x-www-form-urlencoded",
            headers: Vec::new(),
            // A compact JWS is base64url and dots: nothing to escape in a form.
            body: format!("logout_token={token}").into_bytes(),
        })
    }

    async fn sign(&self, typ: &str, claims: &serde_json::Value) -> Result<String, Outcome> {
        sign(self.signer, typ, claims).await
    }
}

async fn sign(signer: &dyn EventSigner, typ: &str, claims: &serde_json::Value) -> Result<String, Outcome> {
    let key = signer.signing_key().await.map_err(|e| Outcome::Retry {
        status: None,
        error: format!("no signing key: {e}"),
        retry_after: None,
    })?;
    key.sign(Some(typ), claims).map_err(|e| Outcome::Dead { status: None, error: format!("signing failed: {e}") })
}

/// The SSF stream-updated event type (SSF 1.0 §8.1.5).
pub const STREAM_UPDATED: &str = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";

/// The SSF verification event type.
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// The SET of a child (RFC 8417; SSF 1.0), pushed or polled: `jti` the
/// child id, stable over retries and polls; no `exp`, no top-level `sub`
/// (plan §6.10); the subject as RFC 9493 `iss_sub` with the app's pairwise
/// `sub` (a verification names its stream, `opaque`).
pub async fn set_token(
    signer: &dyn EventSigner,
    issuer: &str,
    trust_framework: &str,
    jti: &str,
    child: &ChildPayload,
    aud: &str,
) -> Result<String, Outcome> {
    let (sub_id, events) = match (&child.verification, child.kind) {
        // SSF 1.0 §8.1.5: the stream's new status, the stream as an `opaque` subject.
        _ if child.stream_status.is_some() => {
            let stream = child.stream.as_ref().map(|s| s.as_str()).unwrap_or_default();
            let mut event = json!({"status": child.stream_status});
            if let (Some(reason), Some(obj)) = (&child.reason, event.as_object_mut()) {
                obj.insert("reason".into(), json!(reason));
            }
            (json!({"format": "opaque", "id": stream}), json!({STREAM_UPDATED: event}))
        }
        (Some(state), _) => {
            let stream = child.stream.as_ref().map(|s| s.as_str()).unwrap_or_default();
            let event = if state.is_empty() { json!({}) } else { json!({"state": state}) };
            (json!({"format": "opaque", "id": stream}), json!({VERIFICATION: event}))
        }
        (None, Some(kind)) => (
            json!({"format": "iss_sub", "iss": issuer, "sub": child.sub}),
            json!({map::set_type(kind): map::set_event(kind, child.at.as_second(), child.reason.as_deref(), trust_framework)}),
        ),
        (None, None) => return Err(Outcome::Dead { status: None, error: "the event has no type".into() }),
    };
    let claims = json!({
        "iss": issuer,
        "aud": aud,
        "iat": child.at.as_second(),
        "jti": jti,
        "txn": child.reference,
        "sub_id": sub_id,
        "events": events,
    });
    sign(signer, "secevent+jwt", &claims).await
}

/// The webhook body: the type, the event's time, and the app's own names
/// only (`sub`, a per-app event reference) — no personal data.
pub fn webhook_body(child: &ChildPayload) -> serde_json::Value {
    let kind = child.kind.map_or("ssf.verification", map::webhook_type);
    let mut data = json!({"sub": child.sub, "event_id": child.reference});
    if let (Some(reason), Some(obj)) = (&child.reason, data.as_object_mut()) {
        obj.insert("reason".into(), json!(reason));
    }
    json!({"type": kind, "timestamp": child.at.to_string(), "data": data})
}

/// Plan §5.4: 2xx delivered; 410 on a webhook gone; 429, 5xx, 3xx (never
/// followed) and no answer retried; other 4xx dead, with RFC 8935's `err` code if given.
pub fn classify(channel: Channel, answer: Result<Answer, SendError>) -> Outcome {
    let answer = match answer {
        Ok(a) => a,
        Err(SendError::Refused(e)) => return Outcome::Dead { status: None, error: format!("refused: {e}") },
        Err(SendError::Failed(e)) => return Outcome::Retry { status: None, error: e, retry_after: None },
    };
    let status = answer.status;
    match status {
        200..=299 => Outcome::Delivered { status },
        410 if matches!(channel, Channel::Webhook | Channel::SetPush) => Outcome::Gone,
        408 | 429 | 300..=399 | 500..=599 => {
            Outcome::Retry { status: Some(status), error: format!("the receiver answered {status}"), retry_after: answer.retry_after }
        }
        _ => {
            let code = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("err").or_else(|| v.get("error")).and_then(|e| e.as_str()).map(str::to_owned))
                .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            let error = match code {
                Some(code) => format!("the receiver refused the event: {status} {code}"),
                None => format!("the receiver refused the event: {status}"),
            };
            Outcome::Dead { status: Some(status), error }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Answer, SendError> {
        Ok(Answer { status, retry_after: Some(7), body: body.as_bytes().to_vec() })
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(classify(Channel::SetPush, answer(202, "")), Outcome::Delivered { status: 202 });
        assert_eq!(classify(Channel::Webhook, answer(410, "")), Outcome::Gone);
        assert!(matches!(classify(Channel::Logout, answer(410, "")), Outcome::Dead { status: Some(410), .. }));
        assert!(matches!(classify(Channel::Webhook, answer(429, "")), Outcome::Retry { retry_after: Some(7), .. }));
        assert!(matches!(classify(Channel::Webhook, answer(302, "")), Outcome::Retry { .. }));
        assert!(matches!(classify(Channel::Webhook, answer(503, "")), Outcome::Retry { .. }));
        let dead = classify(Channel::SetPush, answer(400, r#"{"err":"invalid_audience","description":"x"}"#));
        assert_eq!(dead, Outcome::Dead { status: Some(400), error: "the receiver refused the event: 400 invalid_audience".into() });
        assert!(matches!(classify(Channel::Webhook, Err(SendError::Failed("timeout".into()))), Outcome::Retry { status: None, .. }));
        assert!(matches!(classify(Channel::Webhook, Err(SendError::Refused("loopback".into()))), Outcome::Dead { .. }));
    }
}
