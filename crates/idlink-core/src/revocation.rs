//! Real-name revocation and account cancellation (SPEC RV1–RV3, CP;
//! issue 17). This module holds the preflight: every blocker at once, from
//! every registered host store (asked together, each within the deadline)
//! and from idlink's own rules. The rules themselves are
//! `idlink_domain::revocation`.

use crate::ports::StoreError;
use crate::ports::auth::{AuthStore, SessionRow};
use crate::ports::clock::Clock;
use crate::ports::freezes::FreezeStore;
use crate::ports::host_stores::{HostStores, HostSubject};
use crate::ports::identity::IdentityStore;
use idlink_domain::change_limits::ChangeEvent;
use idlink_domain::revocation::{self, Blocker, Operation, OwnFacts, OwnRules, Source, SourceAnswer};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// The configured rules of revocation.
#[derive(Debug, Clone)]
pub struct RevocationPolicy {
    pub own: OwnRules,
    /// How long the preflight waits for each host store.
    pub source_deadline: SignedDuration,
    /// When to ask again a store that did not answer in time (it gave no Retry-After).
    pub retry_after: SignedDuration,
    /// The host app's deep link for each action that clears a blocker
    /// (`BlockerKind::clears_by`); an action without one is described only.
    pub links: BTreeMap<String, String>,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        Self {
            own: OwnRules::default(),
            source_deadline: SignedDuration::from_secs(3),
            retry_after: SignedDuration::from_secs(10),
            links: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// A real-name revocation needs a real-name identity to revoke.
    #[error("the account has no verified real-name identity to revoke")]
    NotVerified,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every blocker at once, and what was asked.
#[derive(Debug, Clone)]
pub struct PreflightReport {
    pub operation: Operation,
    pub checked_at: Timestamp,
    /// The host stores registered and asked, in [`Source::HOST`] order (idlink's own rules always apply).
    pub asked: Vec<Source>,
    pub blockers: Vec<Blocker>,
}

impl PreflightReport {
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

pub struct Revocations<'a> {
    pub auth: &'a dyn AuthStore,
    pub identities: &'a dyn IdentityStore,
    pub logins: &'a dyn FreezeStore,
    pub hosts: &'a dyn HostStores,
    pub clock: &'a dyn Clock,
    pub policy: &'a RevocationPolicy,
}

impl Revocations<'_> {
    /// Every blocker standing in the way of `operation` for the session's
    /// user, on the session's device: the host stores are asked together,
    /// each within the deadline; one that does not answer is a blocker.
    pub async fn preflight(&self, session: &SessionRow, operation: Operation) -> Result<PreflightReport, RevocationError> {
        let user = &session.user_id;
        let identity = self.identities.identity(user).await?;
        if operation == Operation::RevokeRealName && identity.is_none() {
            return Err(RevocationError::NotVerified);
        }
        let now = self.clock.now();
        let asked = self.hosts.registered();
        let subject = HostSubject { user_id: user.as_str(), operation };
        // Every store at once: the slowest one, capped by the deadline, is the preflight's wait.
        let answers = futures::future::join_all(asked.iter().map(|source| self.ask(*source, subject, now)));
        let own = self.own_facts(session, identity.as_ref().map(|i| i.id_index.as_str()), now);
        let (answers, own) = futures::future::join(answers, own).await;
        let own = revocation::own_blockers(&own?, &self.policy.own, now);
        let preflight = revocation::preflight(&asked, &answers, own);
        metrics::counter!("idlink_revocation_preflights_total", "clear" => if preflight.is_clear() { "yes" } else { "no" }).increment(1);
        Ok(PreflightReport { operation, checked_at: now, asked, blockers: preflight.blockers })
    }

    /// `source`'s answer; `asked_at` is when the preflight began (a retry time counts from it).
    async fn ask(&self, source: Source, subject: HostSubject<'_>, asked_at: Timestamp) -> (Source, SourceAnswer) {
        let deadline = self.policy.source_deadline.unsigned_abs();
        let answer = match tokio::time::timeout(deadline, self.hosts.blockers(source, subject)).await {
            Ok(Ok(found)) => SourceAnswer::Answered(found),
            Ok(Err(unavailable)) => {
                let wait = SignedDuration::from_secs(i64::try_from(unavailable.retry_after_secs).unwrap_or(i64::MAX));
                // A store's own Retry-After, within reason: never "come back next year".
                SourceAnswer::Unanswered {
                    retry_at: later(asked_at, wait.clamp(SignedDuration::from_secs(1), SignedDuration::from_hours(1))),
                }
            }
            Err(_) => {
                metrics::counter!("idlink_revocation_source_timeouts_total", "source" => source.as_str()).increment(1);
                SourceAnswer::Unanswered { retry_at: later(asked_at, self.policy.retry_after) }
            }
        };
        (source, answer)
    }

    /// What idlink knows for its own rules: the latest abnormal login and
    /// real-name change inside their windows, and whether the session's device is the primary one.
    async fn own_facts(&self, session: &SessionRow, id_index: Option<&str>, now: Timestamp) -> Result<OwnFacts, StoreError> {
        let user = &session.user_id;
        let since = now.checked_sub(self.policy.own.abnormal_login_within).unwrap_or(now);
        let last_abnormal_login = self.logins.last_abnormal_login(user, since).await?;
        let primary_device = self.auth.devices(user).await?.iter().any(|d| d.id == session.device_id && d.primary);
        let last_real_name_change = match id_index {
            Some(index) => self
                .identities
                .change_history(index)
                .await?
                .into_iter()
                .filter_map(|e| match e {
                    ChangeEvent::Changed { at } => Some(at),
                    ChangeEvent::CoolingOffStarted { .. } => None,
                })
                .max(),
            None => None,
        };
        Ok(OwnFacts { last_abnormal_login, primary_device, last_real_name_change })
    }
}

fn later(from: Timestamp, wait: SignedDuration) -> Timestamp {
    from.checked_add(wait).unwrap_or(from)
}
