//! What users authorised third-party apps to hold (SPEC TP1, TP2): every
//! grant with its claims, when, and the deliveries sent to the app; revoking
//! one, all of a user's (by the user, or by the host backend: by subject),
//! which ends the grant's tokens at once and tells the app (ADR 0022).

use crate::events::lifecycle_event;
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::events::{Lifecycle, LifecycleType};
use crate::ports::grants::{DeliveryRow, GrantRevocation, GrantRow, GrantStore};
use crate::ports::ids::Ids;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{GrantId, RequestId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// No such grant for this user, or it is revoked already.
    #[error("no such grant")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Who ends a grant, as the grant and the event record it.
#[derive(Debug, Clone)]
pub struct Revoker {
    /// `user` or `host` (the grant's `revoked_by`, the event's actor).
    pub by: &'static str,
    /// For the audit record: `user:usr_…`, `apikey:key_…`.
    pub actor: String,
    pub request_id: Option<RequestId>,
}

impl Revoker {
    pub fn user(user: &UserId, request_id: Option<RequestId>) -> Self {
        Revoker { by: "user", actor: format!("user:{user}"), request_id }
    }

    pub fn host(actor: String, request_id: Option<RequestId>) -> Self {
        Revoker { by: "host", actor, request_id }
    }
}

/// A grant with the receipts of what was sent to its app about the user.
#[derive(Debug, Clone)]
pub struct GrantView {
    pub grant: GrantRow,
    pub deliveries: Vec<DeliveryRow>,
}

/// The grant use cases.
pub struct Grants<'a> {
    pub store: &'a dyn GrantStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
}

/// Receipts shown per app.
const DELIVERIES_SHOWN: u32 = 50;

impl Grants<'_> {
    /// The user's grants not revoked, newest first, each with its receipts.
    pub async fn list(&self, user: &UserId) -> Result<Vec<GrantView>, GrantError> {
        let mut out = Vec::new();
        for grant in self.store.grants_of_user(user, false).await? {
            let deliveries = self.store.deliveries_of_user(user, Some(&grant.client_id), DELIVERIES_SHOWN).await?;
            out.push(GrantView { grant, deliveries });
        }
        Ok(out)
    }

    /// One grant not revoked.
    pub async fn get(&self, user: &UserId, id: &GrantId) -> Result<GrantView, GrantError> {
        let grant = self.store.grant(user, id).await?.filter(|g| g.state != "revoked").ok_or(GrantError::NotFound)?;
        let deliveries = self.store.deliveries_of_user(user, Some(&grant.client_id), DELIVERIES_SHOWN).await?;
        Ok(GrantView { grant, deliveries })
    }

    /// Ends one grant; `NotFound` if there is none to end.
    pub async fn revoke(&self, who: &Revoker, user: &UserId, id: &GrantId) -> Result<(), GrantError> {
        let grant = self.store.grant(user, id).await?.filter(|g| g.state != "revoked").ok_or(GrantError::NotFound)?;
        let ended = self.end(who, vec![grant]).await?;
        if ended == 0 { Err(GrantError::NotFound) } else { Ok(()) }
    }

    /// Ends every grant of the user (revocation by subject); answers how many ended.
    pub async fn revoke_all(&self, who: &Revoker, user: &UserId) -> Result<usize, GrantError> {
        let grants = self.store.grants_of_user(user, false).await?;
        self.end(who, grants).await
    }

    async fn end(&self, who: &Revoker, grants: Vec<GrantRow>) -> Result<usize, GrantError> {
        if grants.is_empty() {
            return Ok(0);
        }
        let at = self.clock.now();
        let reason = format!("revoked_by_{}", who.by);
        let mut revocations = Vec::new();
        for g in grants {
            let sessions = self.store.app_sessions(&g.user_id, &g.client_id).await?;
            let event = Lifecycle {
                kind: LifecycleType::GrantRevoked,
                user: g.user_id.clone(),
                at,
                actor: who.by.to_owned(),
                client: Some(g.client_id.clone()),
                sessions,
                reason: Some(reason.clone()),
            };
            let event = lifecycle_event::<GrantError>(self.vault, self.ids, &event)?;
            let audit = AuditEntry::new(who.actor.clone(), "oauth_grant.revoke", "withdrawal of consent to a third-party app", at)
                .subject(&g.user_id)
                .request(who.request_id.as_ref());
            revocations.push(GrantRevocation {
                grant: g.id,
                user: g.user_id,
                client: g.client_id,
                at,
                by: who.by.to_owned(),
                reason: reason.clone(),
                event,
                audit,
            });
        }
        let ended = self.store.revoke_grants(&revocations).await?;
        tracing::info!(ended = ended.len(), by = who.by, "grants revoked");
        Ok(ended.len())
    }
}
