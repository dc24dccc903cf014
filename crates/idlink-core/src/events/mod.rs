//! Security events to third-party apps (SPEC TP3; ADR 0022;
//! `docs/events.md`): every lifecycle change written to the outbox with the
//! change, fanned out per app, and delivered as Standard Webhooks, Security
//! Event Tokens (push and poll, OpenID SSF 1.0) and OIDC back-channel logout
//! tokens, each attempt recorded as a receipt.

use jiff::SignedDuration;
use std::time::Duration;

/// How events are delivered (`[events]` in the configuration).
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Waits after each failed attempt, in order; after the last, the delivery is parked as dead.
    pub schedule: Vec<SignedDuration>,
    /// Deliveries attempted at once by one node.
    pub concurrency: usize,
    /// One attempt's limit.
    pub timeout: Duration,
    /// Receivers on loopback, private and link-local addresses are allowed (sandbox, tests).
    pub allow_private_targets: bool,
    /// `http://` receivers are allowed (development).
    pub allow_plain_http: bool,
    pub logout_token_ttl: SignedDuration,
    pub keep_receipts: SignedDuration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            schedule: [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400].into_iter().map(SignedDuration::from_secs).collect(),
            concurrency: 8,
            timeout: Duration::from_secs(10),
            allow_private_targets: false,
            allow_plain_http: false,
            logout_token_ttl: SignedDuration::from_secs(120),
            keep_receipts: SignedDuration::from_hours(24 * 180),
        }
    }
}

/// The vault system key webhook secrets are sealed under (context
/// `webhook_secrets:{id}`): idlink signs with them, so it must read them back.
pub const WEBHOOK_KEY_ID: &str = "sys-webhooks";

/// A lifecycle event as an outbox event, to write in the transaction of the
/// change it reports (its payload sealed like every outbox payload).
pub fn lifecycle_event<E>(
    vault: &crate::vault::Vault,
    ids: &dyn crate::ports::ids::Ids,
    event: &crate::ports::events::Lifecycle,
) -> Result<crate::ports::outbox::NewEvent, E>
where
    E: From<crate::ports::StoreError> + From<idlink_crypto::CryptoError>,
{
    use crate::ports::events::LIFECYCLE;
    let id = ids.event();
    let clear = serde_json::to_vec(event).map_err(|e| crate::ports::StoreError::Corrupt(format!("a lifecycle event: {e}")))?;
    let payload = crate::steps::notices::seal_payload(vault, id.as_str(), LIFECYCLE, &clear)?;
    Ok(crate::ports::outbox::NewEvent { id, kind: LIFECYCLE.to_owned(), subject: Some(event.user.clone()), payload, at: event.at })
}
