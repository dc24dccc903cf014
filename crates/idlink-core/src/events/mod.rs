//! Security events to third-party apps (SPEC TP3; ADR 0022;
//! `docs/events.md`): every lifecycle change written to the outbox with the
//! change, fanned out per app, and delivered as Standard Webhooks, Security
//! Event Tokens (push and poll, OpenID SSF 1.0) and OIDC back-channel logout
//! tokens, each attempt recorded as a receipt.

pub mod deliver;
pub mod fanout;
pub mod map;
pub mod ssf;

use crate::ports::Rng;
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

/// [`lifecycle_event`] for callers whose errors are store errors (a sealing
/// failure reads as a corrupt key).
pub fn lifecycle_store_event(
    vault: &crate::vault::Vault,
    ids: &dyn crate::ports::ids::Ids,
    event: &crate::ports::events::Lifecycle,
) -> Result<crate::ports::outbox::NewEvent, crate::ports::StoreError> {
    lifecycle_event::<SealError>(vault, ids, event).map_err(|e| match e {
        SealError::Store(e) => e,
        SealError::Crypto(e) => crate::ports::StoreError::Corrupt(format!("sealing a lifecycle event failed: {e}")),
    })
}

/// SETs and logout tokens are signed with the provider's own key
/// ([`crate::oidc::keys::IssuerKeys::signing_key`]), the one its JWKS publishes.
pub struct IssuerSigner<'a>(pub crate::oidc::keys::IssuerKeys<'a>);

#[async_trait::async_trait]
impl crate::ports::events::EventSigner for IssuerSigner<'_> {
    async fn signing_key(&self) -> Result<std::sync::Arc<idlink_crypto::jose::SigningKey>, crate::ports::StoreError> {
        self.0.signing_key().await.map_err(|e| match e {
            crate::oidc::keys::KeyError::Store(e) => e,
            other => crate::ports::StoreError::Unavailable(other.to_string()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum SealError {
    #[error("{0}")]
    Store(#[from] crate::ports::StoreError),
    #[error("{0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
}

/// The wait after the `attempts`-th failed attempt of an event delivery:
/// the schedule's entry, half of it fixed and half drawn ("equal jitter"),
/// and never before the receiver's `Retry-After` (bounded by the schedule's
/// longest wait). `None` once the schedule is spent: the delivery is dead.
pub fn event_backoff(settings: &EventSettings, attempts: u32, retry_after: Option<u64>, rng: &dyn Rng) -> Option<SignedDuration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let full = settings.schedule.get(index)?.as_micros().max(1);
    let half = full / 2;
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    let jitter = i128::from(u64::from_le_bytes(b)) % (full - half + 1);
    let wait = SignedDuration::from_micros(i64::try_from(half + jitter).unwrap_or(i64::MAX));
    let longest = settings.schedule.iter().max().copied().unwrap_or(wait);
    let asked = retry_after.map(|s| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX)).min(longest));
    Some(asked.map_or(wait, |a| a.max(wait)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::random::SeededRandom;

    #[test]
    fn the_schedule_is_followed_then_spent() {
        let settings = EventSettings::default();
        let rng = SeededRandom::new(3);
        for (n, full) in [(1, 5), (2, 300), (3, 1_800), (9, 86_400)] {
            let w = event_backoff(&settings, n, None, &rng).unwrap_or_default();
            assert!(w >= SignedDuration::from_secs(full) / 2 && w <= SignedDuration::from_secs(full), "{n}: {w:?}");
        }
        assert_eq!(event_backoff(&settings, 10, None, &rng), None);
        assert_eq!(event_backoff(&settings, 0, None, &rng), None);
        let w = event_backoff(&settings, 1, Some(120), &rng);
        assert_eq!(w, Some(SignedDuration::from_secs(120)));
        let w = event_backoff(&settings, 1, Some(10_000_000), &rng);
        assert_eq!(w, Some(SignedDuration::from_secs(86_400)));
    }
}
