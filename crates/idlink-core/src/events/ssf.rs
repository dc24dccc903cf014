//! The Shared Signals transmitter's use cases (OpenID SSF 1.0; RFC 8935,
//! 8936, 9493): the receiver's authentication, its one stream per client,
//! subjects, verification through the outbox, and polling.
//!
//! Authentication ([`authenticate`]): a bearer access token the app got
//! from `client_credentials` with scope [`SCOPE`] (RFC 6749 §4.4, RFC 6750),
//! or its client credentials over HTTP Basic (RFC 6749 §2.3.1:
//! form-urlencoded, then base64), checked against its live secrets' SHA-256
//! in constant time.

use super::deliver::{Outcome, set_token};
use super::fanout::{ChildPayload, open_child, reference};
use super::map;
use crate::oidc::secret_hash;
use crate::ports::audit::AuditEntry;
use crate::ports::clients::ClientState;
use crate::ports::clock::Clock;
use crate::ports::events::{Channel, ChildEvent, EventSigner, EventStore, SET_POLL, StatusChange, StreamRow};
use crate::ports::ids::Ids;
use crate::ports::outbox::NewEvent;
use crate::ports::{Store, StoreError};
use crate::steps::notices::seal_payload;
use crate::vault::Vault;
use base64::Engine;
use idlink_domain::{ClientId, StreamId};

pub const PUSH: &str = "urn:ietf:rfc:8935";
pub const POLL: &str = "urn:ietf:rfc:8936";

/// The scope of a stream management access token (`client_credentials`).
pub const SCOPE: &str = "ssf";

/// `(client_id, secret)` of an `Authorization: Basic …` header.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// application/x-www-form-urlencoded decoding (`+` is a space, `%XX` a byte).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Who called a stream management endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An active client, by its credentials or its `ssf` access token.
    Receiver(ClientId),
    /// No credentials, or wrong ones: 401.
    Unauthenticated {
        /// The request used `Authorization: Bearer` (RFC 6750 §3: the
        /// answer carries a Bearer challenge with `invalid_token`).
        bearer: bool,
    },
    /// An active token without the `ssf` scope: 403 `insufficient_scope`.
    InsufficientScope,
}

/// The `Authorization` header's scheme and value, the scheme lower-cased (RFC 7235 §2.1).
fn scheme(header: &str) -> Option<(String, &str)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), value.trim()))
}

/// Authenticates a stream management request (SSF 1.0 §7.1.1,
/// `authorization_schemes` urn:ietf:rfc:6749): a bearer access token from
/// `client_credentials` with scope `ssf`, or the client's id and secret
/// over HTTP Basic. The client must be active either way.
pub async fn authenticate(store: &dyn Store, clock: &dyn Clock, header: Option<&str>) -> Result<Caller, StoreError> {
    match header.and_then(scheme) {
        Some((s, token)) if s == "bearer" => bearer(store, clock, token).await,
        Some((s, _)) if s == "basic" => {
            let id = basic(store, clock, header.unwrap_or_default()).await?;
            Ok(id.map_or(Caller::Unauthenticated { bearer: false }, Caller::Receiver))
        }
        _ => Ok(Caller::Unauthenticated { bearer: false }),
    }
}

async fn bearer(store: &dyn Store, clock: &dyn Clock, token: &str) -> Result<Caller, StoreError> {
    let refused = Caller::Unauthenticated { bearer: true };
    if token.is_empty() {
        return Ok(refused);
    }
    let Some(view) = store.access_token(&secret_hash(token)).await? else { return Ok(refused) };
    if !view.is_active(clock.now()) {
        return Ok(refused);
    }
    // Valid, but a user's token (from a grant) or one without the scope does
    // not manage the app's stream (RFC 6750 §3.1): the app's own token does.
    if view.grant_id.is_some() || !view.scope.split(' ').any(|s| s == SCOPE) {
        return Ok(Caller::InsufficientScope);
    }
    Ok(Caller::Receiver(view.client_id))
}

/// The active client whose Basic credentials these are, if they are right.
async fn basic(clients: &dyn Store, clock: &dyn Clock, header: &str) -> Result<Option<ClientId>, StoreError> {
    let Some((id, secret)) = basic_credentials(header) else { return Ok(None) };
    let Ok(id) = ClientId::parse(&id) else { return Ok(None) };
    let Some(client) = clients.client(&id).await? else { return Ok(None) };
    if client.state != ClientState::Active {
        return Ok(None);
    }
    let hash = secret_hash(&secret);
    let live = clients.live_client_secrets(&id, clock.now()).await?;
    // Constant time over the hashes: a timing difference tells nothing of the secret.
    let ok = live.iter().fold(false, |ok, s| ok | constant_time_eq(s.secret_hash.as_bytes(), hash.as_bytes()));
    Ok(ok.then_some(id))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The event types a stream delivers: those requested that idlink transmits.
pub fn delivered(requested: &[String]) -> Vec<String> {
    let supported = map::set_types_supported();
    requested.iter().filter(|t| supported.contains(t)).cloned().collect()
}

/// The stream as SSF 1.0 §8.1.1 shows it.
pub fn stream_json(issuer: &str, s: &StreamRow) -> serde_json::Value {
    let endpoint = match s.method.as_str() {
        POLL => Some(format!("{issuer}/ssf/poll/{}", s.id)),
        _ => s.endpoint_url.clone(),
    };
    let mut v = serde_json::json!({
        "stream_id": s.id.as_str(),
        "iss": issuer,
        "aud": s.aud,
        "delivery": {"method": s.method, "endpoint_url": endpoint},
        "events_supported": map::set_types_supported(),
        "events_requested": s.events_requested,
        "events_delivered": s.events_delivered,
    });
    if let (Some(d), Some(obj)) = (&s.description, v.as_object_mut()) {
        obj.insert("description".into(), serde_json::json!(d));
    }
    v
}

/// A SET about the stream itself (a verification, a stream-updated), to
/// its push channel or its poll queue; its receipt shows `event_type`.
fn stream_child(
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    stream: &StreamRow,
    event_type: &str,
    fill: impl FnOnce(&mut ChildPayload),
) -> Result<ChildEvent, VerifyError> {
    let id = ids.event();
    let now = clock.now();
    let mut child = ChildPayload {
        parent: id.clone(),
        kind: None,
        at: now,
        user: None,
        client: stream.client.clone(),
        sub: String::new(),
        reference: reference(&id, &stream.client),
        endpoint: None,
        stream: Some(stream.id.clone()),
        sid: None,
        reason: None,
        verification: None,
        stream_status: None,
    };
    fill(&mut child);
    let channel = if stream.method == POLL { Channel::SetPoll } else { Channel::SetPush };
    let clear = serde_json::to_vec(&child).map_err(|e| StoreError::Corrupt(format!("a stream event: {e}")))?;
    let payload = seal_payload(vault, id.as_str(), channel.kind(), &clear)?;
    Ok(ChildEvent {
        event: NewEvent { id: id.clone(), kind: channel.kind().to_owned(), subject: None, payload, at: now },
        parent: id,
        client: stream.client.clone(),
        channel,
        event_type: event_type.to_owned(),
        poll_stream: (channel == Channel::SetPoll).then(|| stream.id.clone()),
    })
}

/// Queues a verification SET for the stream through the outbox (pushed) or its poll queue.
pub async fn queue_verification(
    store: &dyn EventStore,
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    stream: &StreamRow,
    state: Option<String>,
) -> Result<(), VerifyError> {
    let event = stream_child(vault, ids, clock, stream, "ssf.verification", |c| c.verification = Some(state.unwrap_or_default()))?;
    store.write_fan_out(std::slice::from_ref(&event)).await?;
    Ok(())
}

/// The statuses a stream can have (SSF 1.0 §8.1.2.1).
pub const STATUSES: [&str; 3] = ["enabled", "paused", "disabled"];

/// What a receiver's status update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusUpdate {
    /// Written (with its audit record).
    Changed(StreamRow),
    /// The stream already had that status: nothing was written, the stored
    /// status (and its reason) stands.
    Unchanged(StreamRow),
    /// The stream is gone.
    Gone,
}

/// The receiver sets its stream's status (SSF 1.0 §8.1.2.2). `paused`
/// holds events (pushes retried on their schedule, polls withheld),
/// `enabled` sends what was held at once, `disabled` drops it. A status
/// the stream has already changes nothing: the answer is the stored one.
/// The receiver's own change sends no stream-updated event (§8.1.5 is for
/// the transmitter's changes).
pub async fn receiver_status(
    store: &dyn EventStore,
    clock: &dyn Clock,
    row: StreamRow,
    status: &str,
    reason: Option<String>,
    audit: &AuditEntry,
) -> Result<StatusUpdate, StoreError> {
    if row.status == status {
        return Ok(StatusUpdate::Unchanged(row));
    }
    let change = StatusChange {
        stream: row.id.clone(),
        client: row.client.clone(),
        status: status.to_owned(),
        // The receiver's free text: kept short, never logged.
        reason: reason.map(|r| r.chars().take(200).collect()),
        at: clock.now(),
        endpoint: None,
    };
    if store.set_stream_status(&change, None, audit).await? {
        return Ok(StatusUpdate::Changed(change.applied(row)));
    }
    // Another change came first: the stored status is the answer.
    Ok(match store.stream_of(&row.client).await?.filter(|s| s.id == row.id) {
        Some(stored) => StatusUpdate::Unchanged(stored),
        None => StatusUpdate::Gone,
    })
}

/// The transmitter's own change of `stream`'s status, with its
/// stream-updated SET (SSF 1.0 §8.1.5); none if the stream has that status.
fn transmitter_change(
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    stream: &StreamRow,
    status: &str,
    reason: &str,
) -> Result<Option<(StatusChange, ChildEvent)>, VerifyError> {
    if stream.status == status {
        return Ok(None);
    }
    let change = StatusChange {
        stream: stream.id.clone(),
        client: stream.client.clone(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        at: clock.now(),
        endpoint: None,
    };
    let announce = stream_child(vault, ids, clock, stream, "ssf.stream_updated", |c| {
        c.stream_status = Some(status.to_owned());
        c.reason = Some(reason.to_owned());
    })?;
    Ok(Some((change, announce)))
}

/// The transmitter disables the client's stream because its push endpoint
/// answered 410 Gone, with the stream-updated SET (SSF 1.0 §8.1.5), unless
/// the stream has moved from `endpoint` meanwhile (the receiver's new
/// endpoint is not gone). False: nothing written.
pub async fn disable_gone_stream(
    store: &dyn EventStore,
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    client: &ClientId,
    endpoint: &str,
    audit: AuditEntry,
) -> Result<bool, VerifyError> {
    let Some(stream) = store.stream_of(client).await?.filter(|s| s.endpoint_url.as_deref() == Some(endpoint)) else { return Ok(false) };
    let Some((mut change, announce)) = transmitter_change(vault, ids, clock, &stream, "disabled", super::deliver::GONE_REASON)? else {
        return Ok(false);
    };
    change.endpoint = Some(endpoint.to_owned());
    Ok(store.set_stream_status(&change, Some(&announce), &audit).await?)
}

/// The reason of a stream disabled because its app was.
pub const APP_DISABLED: &str = "The app was disabled.";

/// What the app's state change does to its stream: disabling the app
/// disables its stream, and enabling it again re-enables a stream disabled
/// for that reason (not one the receiver or a 410 disabled), each with its
/// stream-updated SET. The client store writes it with the app's change.
pub fn follow_client_state(
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    stream: Option<&StreamRow>,
    active: bool,
) -> Result<Option<(StatusChange, ChildEvent)>, VerifyError> {
    let Some(stream) = stream else { return Ok(None) };
    if !active {
        return transmitter_change(vault, ids, clock, stream, "disabled", APP_DISABLED);
    }
    if stream.status != "disabled" || stream.status_reason.as_deref() != Some(APP_DISABLED) {
        return Ok(None);
    }
    transmitter_change(vault, ids, clock, stream, "enabled", "The app was enabled again.")
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
}

/// How far a poll of a paused stream looks for stream-updated SETs among the held ones.
const HELD_SCAN: u32 = 500;

/// What a poll answers: the SETs by `jti`, and whether more wait.
pub struct Polled {
    pub sets: Vec<(String, String)>,
    pub more: bool,
}

/// RFC 8936: acknowledges `acks` (and the SETs the receiver reported errors
/// for), then returns up to `max` waiting SETs, signed now.
#[allow(clippy::too_many_arguments)]
pub async fn poll(
    store: &dyn EventStore,
    signer: &dyn EventSigner,
    vault: &Vault,
    clock: &dyn Clock,
    issuer: &str,
    trust_framework: &str,
    stream: &StreamRow,
    acks: &[String],
    max: u32,
) -> Result<Polled, StoreError> {
    if !acks.is_empty() {
        store.ack_polled(&stream.id, acks, clock.now()).await?;
    }
    let enabled = stream.status == "enabled";
    // Paused: nothing is transmitted but the transmitter's own stream-updated SETs (SSF 1.0 §8.1.2.1, §8.1.5).
    let limit = if enabled { max.saturating_add(1) } else { HELD_SCAN };
    let waiting = store.poll_queue(&stream.id, limit).await?;
    let mut sets = Vec::new();
    let mut more = false;
    for w in waiting {
        let child = open_child(vault, &w.jti, SET_POLL, &w.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if !enabled && child.stream_status.is_none() {
            continue;
        }
        if sets.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
            more = true;
            break;
        }
        match set_token(signer, issuer, trust_framework, w.jti.as_str(), &child, &stream.aud).await {
            Ok(token) => sets.push((w.jti.as_str().to_owned(), token)),
            Err(Outcome::Retry { error, .. }) => return Err(StoreError::Unavailable(error)),
            Err(other) => return Err(StoreError::Corrupt(format!("{other:?}"))),
        }
    }
    Ok(Polled { sets, more })
}

/// A new stream's row.
pub fn new_stream(
    ids: &dyn Ids,
    clock: &dyn Clock,
    client: &ClientId,
    method: &str,
    endpoint: Option<String>,
    requested: Vec<String>,
) -> StreamRow {
    let now = clock.now();
    StreamRow {
        id: ids.stream(),
        client: client.clone(),
        aud: client.as_str().to_owned(),
        method: method.to_owned(),
        endpoint_url: endpoint,
        authorization_header: None,
        events_delivered: delivered(&requested),
        events_requested: requested,
        status: "enabled".into(),
        status_reason: None,
        description: None,
        created_at: now,
        updated_at: now,
    }
}

/// Whether `id` names the client's stream.
pub fn owns(stream: &StreamRow, id: Option<&str>) -> bool {
    id.is_none_or(|id| StreamId::parse(id).is_ok_and(|id| id == stream.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("cli_a%3Ab:s%2Bc+r%25t"));
        assert_eq!(basic_credentials(&header), Some(("cli_a:b".into(), "s+c r%t".into())));
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
