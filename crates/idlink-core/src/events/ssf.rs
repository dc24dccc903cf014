//! The Shared Signals transmitter's use cases (OpenID SSF 1.0; RFC 8935,
//! 8936, 9493): the receiver's authentication, its one stream per client,
//! subjects, verification through the outbox, and polling.
//!
//! Authentication: an app authenticates with its client credentials over
//! HTTP Basic (RFC 6749 §2.3.1: form-urlencoded, then base64), checked
//! against its live secrets' SHA-256 in constant time. (A bearer access
//! token with scope `ssf` from `client_credentials` is the provider's to
//! issue; accepting it is a small addition here once it exists.)

use super::deliver::{Outcome, set_token};
use super::fanout::{ChildPayload, open_child, reference};
use super::map;
use crate::oidc::secret_hash;
use crate::ports::StoreError;
use crate::ports::clients::{ClientState, ClientStore};
use crate::ports::clock::Clock;
use crate::ports::events::{Channel, ChildEvent, EventSigner, EventStore, SET_POLL, StreamRow};
use crate::ports::ids::Ids;
use crate::ports::outbox::NewEvent;
use crate::steps::notices::seal_payload;
use crate::vault::Vault;
use base64::Engine;
use idlink_domain::{ClientId, StreamId};

pub const PUSH: &str = "urn:ietf:rfc:8935";
pub const POLL: &str = "urn:ietf:rfc:8936";

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

/// The active client whose credentials these are, if they are right.
pub async fn authenticate(clients: &dyn ClientStore, clock: &dyn Clock, header: Option<&str>) -> Result<Option<ClientId>, StoreError> {
    let Some((id, secret)) = header.and_then(basic_credentials) else { return Ok(None) };
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

/// Queues a verification SET for the stream through the outbox (pushed) or its poll queue.
pub async fn queue_verification(
    store: &dyn EventStore,
    vault: &Vault,
    ids: &dyn Ids,
    clock: &dyn Clock,
    stream: &StreamRow,
    state: Option<String>,
) -> Result<(), VerifyError> {
    let id = ids.event();
    let now = clock.now();
    let child = ChildPayload {
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
        verification: Some(state.unwrap_or_default()),
    };
    let channel = if stream.method == POLL { Channel::SetPoll } else { Channel::SetPush };
    let clear = serde_json::to_vec(&child).map_err(|e| StoreError::Corrupt(format!("a verification event: {e}")))?;
    let payload = seal_payload(vault, id.as_str(), channel.kind(), &clear)?;
    let event = ChildEvent {
        event: NewEvent { id: id.clone(), kind: channel.kind().to_owned(), subject: None, payload, at: now },
        parent: id,
        client: stream.client.clone(),
        channel,
        event_type: "ssf.verification".into(),
        poll_stream: (channel == Channel::SetPoll).then(|| stream.id.clone()),
    };
    store.write_fan_out(std::slice::from_ref(&event)).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
}

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
    let waiting = store.poll_queue(&stream.id, max.saturating_add(1)).await?;
    let more = waiting.len() > usize::try_from(max).unwrap_or(usize::MAX);
    let mut sets = Vec::new();
    for w in waiting.into_iter().take(usize::try_from(max).unwrap_or(usize::MAX)) {
        let child = open_child(vault, &w.jti, SET_POLL, &w.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
