//! The fan-out of a lifecycle event (plan §5.2): one child outbox event per
//! app that held a grant at the event's time and per channel it listens on,
//! each with a receipt, written in one transaction. Child ids are derived
//! from the parent, so a repeated fan-out (the worker died before settling
//! the parent) writes nothing new; the destinations of a past instant do not
//! change, so reading them before writing is safe.

use super::map;
use crate::ports::events::{AppDestination, Channel, ChildEvent, EventStore, Lifecycle, LifecycleType};
use crate::ports::outbox::{DeliveryError, NewEvent, OutboxItem};
use crate::steps::notices::{open_payload, open_sealed, seal_payload};
use crate::vault::Vault;
use idlink_domain::{ClientId, EndpointId, EventId, StreamId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A child event's sealed payload: what its delivery needs, and no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildPayload {
    pub parent: EventId,
    /// The lifecycle type (none for an SSF stream verification).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<LifecycleType>,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    pub client: ClientId,
    /// The app's pairwise subject.
    pub sub: String,
    /// A per-app reference to the parent event (webhook `event_id`, SET
    /// `txn`): the same change told to two apps must not let them link the user (plan §6.12).
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamId>,
    /// Logout: the app's `sid` when one session ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An SSF verification event's `state` (SSF 1.0 §8.1.4): the SET names the stream, not a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// A stream-updated event's new status (SSF 1.0 §8.1.5): the SET names the stream, not a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_status: Option<String>,
}

/// The child's id: `evt_` and the first 128 bits of SHA-256(parent‖channel‖target), hex.
pub fn child_id(parent: &EventId, channel: Channel, target: &str) -> EventId {
    let digest = Sha256::new()
        .chain_update(parent.as_str())
        .chain_update([0])
        .chain_update(channel.as_str())
        .chain_update([0])
        .chain_update(target)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    EventId::from_random(bytes)
}

/// The per-app reference to a parent event: unlinkable across apps without
/// the parent's id, recomputable from it for an audit.
pub fn reference(parent: &EventId, client: &ClientId) -> String {
    let digest = Sha256::new()
        .chain_update(b"idlink-event-ref\0")
        .chain_update(parent.as_str())
        .chain_update([0])
        .chain_update(client.as_str())
        .finalize();
    format!("ref_{}", hex::encode(&digest[..16]))
}

/// The children of `lifecycle` (parent `parent`) for `destinations`.
pub fn children(
    vault: &Vault,
    parent: &EventId,
    lifecycle: &Lifecycle,
    destinations: &[AppDestination],
) -> Result<Vec<ChildEvent>, DeliveryError> {
    let webhook_type = map::webhook_type(lifecycle.kind);
    let set_type = map::set_type(lifecycle.kind);
    let mut out = Vec::new();
    for d in destinations {
        // The provider writes the pairwise subject at consent; without one the app cannot know the user.
        let Some(sub) = &d.sub else { continue };
        let base = ChildPayload {
            parent: parent.clone(),
            kind: Some(lifecycle.kind),
            at: lifecycle.at,
            user: Some(lifecycle.user.clone()),
            client: d.client.clone(),
            sub: sub.clone(),
            reference: reference(parent, &d.client),
            endpoint: None,
            stream: None,
            sid: None,
            reason: lifecycle.reason.clone(),
            verification: None,
            stream_status: None,
        };
        let mut push =
            |channel: Channel, target: &str, payload: ChildPayload, poll_stream: Option<StreamId>| -> Result<(), DeliveryError> {
                let id = child_id(parent, channel, target);
                let clear = serde_json::to_vec(&payload).map_err(|e| DeliveryError::Permanent(format!("a child event: {e}")))?;
                let sealed = seal_payload(vault, id.as_str(), channel.kind(), &clear)
                    .map_err(|e| DeliveryError::Permanent(format!("sealing a child event failed: {e}")))?;
                out.push(ChildEvent {
                    event: NewEvent {
                        id,
                        kind: channel.kind().to_owned(),
                        subject: Some(lifecycle.user.clone()),
                        payload: sealed,
                        at: lifecycle.at,
                    },
                    parent: parent.clone(),
                    client: d.client.clone(),
                    channel,
                    event_type: webhook_type.to_owned(),
                    poll_stream,
                });
                Ok(())
            };
        for (endpoint, types) in &d.endpoints {
            if types.is_empty() || types.iter().any(|t| t == webhook_type) {
                push(Channel::Webhook, endpoint.as_str(), ChildPayload { endpoint: Some(endpoint.clone()), ..base.clone() }, None)?;
            }
        }
        if let Some(stream) = &d.stream
            && stream.events_delivered.contains(&set_type)
        {
            let payload = ChildPayload { stream: Some(stream.id.clone()), ..base.clone() };
            if stream.push {
                push(Channel::SetPush, stream.id.as_str(), payload, None)?;
            } else {
                push(Channel::SetPoll, stream.id.as_str(), payload, Some(stream.id.clone()))?;
            }
        }
        if map::ends_sessions(lifecycle.kind) && d.backchannel_logout_uri.is_some() {
            // OIDC BCL 1.0 §2.4: a user-wide end is one token by `sub` (all of the
            // user's sessions at the app), unless the app requires a `sid`; ended
            // sessions are one token each, with its `sid`, to the apps that saw them.
            if lifecycle.sessions.is_empty() && !d.backchannel_logout_session_required {
                push(Channel::Logout, d.client.as_str(), ChildPayload { sid: None, ..base.clone() }, None)?;
            } else {
                for sid in &d.sids {
                    let target = format!("{}\u{0}{sid}", d.client);
                    push(Channel::Logout, &target, ChildPayload { sid: Some(sid.clone()), ..base.clone() }, None)?;
                }
            }
        }
    }
    Ok(out)
}

/// Fans out one lifecycle outbox event: reads its destinations as of its
/// time and writes the children. A store outage is worth a retry.
pub async fn fan_out(store: &dyn EventStore, vault: &Vault, item: &OutboxItem) -> Result<usize, DeliveryError> {
    let clear = open_payload(vault, item).map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
    let lifecycle: Lifecycle =
        serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a lifecycle event: {e}")))?;
    let destinations = store
        .event_destinations(&lifecycle.user, lifecycle.at, lifecycle.client.as_ref(), &lifecycle.sessions)
        .await
        .map_err(|e| DeliveryError::Retry(format!("reading the event's destinations failed: {e}")))?;
    let children = children(vault, &item.id, &lifecycle, &destinations)?;
    store.write_fan_out(&children).await.map_err(|e| DeliveryError::Retry(format!("writing the event's children failed: {e}")))?;
    Ok(children.len())
}

/// Opens a child's payload (`kind` is the outbox kind it was sealed under).
pub fn open_child(vault: &Vault, id: &EventId, kind: &str, payload: &[u8]) -> Result<ChildPayload, DeliveryError> {
    let clear = open_sealed(vault, id.as_str(), kind, payload)
        .map_err(|e| DeliveryError::Permanent(format!("the payload cannot be opened: {e}")))?;
    serde_json::from_slice(&clear).map_err(|e| DeliveryError::Permanent(format!("the payload is not a child event: {e}")))
}
