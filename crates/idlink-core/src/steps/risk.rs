//! Risk freezes (SPEC ID8): the rules of `idlink_domain::risk` applied to
//! real signals; a freeze blocks sensitive operations and opens a review
//! case with a first-response SLA; lifting it takes two different operators.

use crate::ports::events::{Lifecycle, LifecycleType};
use crate::ports::freezes::FreezeStore;

use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::reviews::{CaseKind, CaseRow};
use idlink_domain::risk::{self, RiskDecision, RiskPolicy, Signals};
use idlink_domain::{CaseId, RequestId, UserId};
use jiff::SignedDuration;

/// The network a client is on: the first two octets of IPv4, the first three
/// groups (/48) of IPv6. `None` when unknown.
pub fn network_of(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}", o[0], o[1]))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}", s[0], s[1], s[2]))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the account is frozen pending review (case {case_id})")]
pub struct Frozen {
    pub case_id: CaseId,
}

/// Refuses sensitive operations on a frozen account.
pub async fn ensure_not_frozen<E: From<Frozen> + From<StoreError>>(store: &dyn FreezeStore, user: &UserId) -> Result<(), E> {
    match store.active_freeze(user).await? {
        Some(f) => Err(Frozen { case_id: f.case_id }.into()),
        None => Ok(()),
    }
}

pub struct Risk<'a> {
    pub store: &'a dyn FreezeStore,
    /// Seals the freeze's lifecycle event (security events to apps).
    pub vault: &'a crate::vault::Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub policy: &'a RiskPolicy,
    /// First-response target of freeze reviews (SPEC ID8: 5 minutes).
    pub sla: SignedDuration,
}

impl Risk<'_> {
    /// Refuses sensitive operations on a frozen account (see [`ensure_not_frozen`]).
    pub async fn ensure_not_frozen<E: From<Frozen> + From<StoreError>>(&self, user: &UserId) -> Result<(), E> {
        ensure_not_frozen(self.store, user).await
    }

    /// Scores `signals` for an action of `user`; freezes the account when the rules say so.
    pub async fn assess(
        &self,
        user: &UserId,
        signals: &Signals,
        action: &str,
        rid: Option<&RequestId>,
    ) -> Result<RiskDecision, StoreError> {
        let decision = risk::decide(self.policy, signals);
        if decision == RiskDecision::Freeze {
            let now = self.clock.now();
            let (_, why) = risk::score(self.policy, signals);
            let reason = format!("{action}: {}", why.join(", "));
            let case = CaseRow::open(self.ids, CaseKind::RiskFreeze, user, user.as_str(), 2, self.sla, now);
            let audit =
                AuditEntry::new("system:risk", "account.freeze", reason.clone(), now).subject(user).request(rid).outcome(Outcome::Denied);
            let lifecycle = Lifecycle {
                kind: LifecycleType::AccountDisabled,
                user: user.clone(),
                at: now,
                actor: "system".into(),
                client: None,
                sessions: Vec::new(),
                reason: Some("risk".into()),
            };
            let event = crate::events::lifecycle_store_event(self.vault, self.ids, &lifecycle)?;
            if self.store.freeze(user, &reason, &case, &event, &audit).await? {
                metrics::counter!("idlink_risk_freezes_total").increment(1);
            }
        }
        Ok(decision)
    }

    /// Scores a fresh login. One the rules did not simply allow (a step-up
    /// or a freeze) is recorded as an abnormal login: a real-name revocation
    /// or an account cancellation waits after it (SPEC RV1).
    pub async fn assess_login(&self, session: &SessionRow, signals: &Signals, rid: Option<&RequestId>) -> Result<RiskDecision, StoreError> {
        let decision = self.assess(&session.user_id, signals, "login", rid).await?;
        let recorded = match decision {
            RiskDecision::Allow => return Ok(decision),
            RiskDecision::StepUp => "step_up",
            RiskDecision::Freeze => "freeze",
        };
        let (_, why) = risk::score(self.policy, signals);
        let audit = AuditEntry::new("system:risk", "session.abnormal_login", format!("{recorded}: {}", why.join(", ")), self.clock.now())
            .subject(&session.user_id)
            .request(rid);
        self.store.record_abnormal_login(&session.user_id, &session.id, recorded, &audit).await?;
        Ok(decision)
    }

    /// Signals of a login: a new device, a network other than the previous
    /// login's (region jump), payment-password failures, and a burst of logins in the last hour.
    pub async fn login_signals(&self, session: &SessionRow, new_device: bool, failed_attempts: u32) -> Result<Signals, StoreError> {
        let user = &session.user_id;
        let hour_ago = self.clock.now().checked_sub(SignedDuration::from_hours(1)).unwrap_or_else(|_| self.clock.now());
        let recent_logins = self.store.sessions_since(user, hour_ago).await?;
        let previous = self.store.previous_login_ip(user, &session.id).await?;
        let now_net = session.client_ip.as_deref().and_then(network_of);
        let region_jump = matches!((previous.as_deref().and_then(network_of), now_net), (Some(a), Some(b)) if a != b);
        Ok(Signals { new_device, region_jump, failed_attempts, recent_logins, ..Signals::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_group_nearby_addresses() {
        assert_eq!(network_of("203.0.113.7"), network_of("203.0.9.200"));
        assert_ne!(network_of("203.0.113.7"), network_of("198.51.100.7"));
        assert_eq!(network_of("2001:db8:1:2::1"), Some("2001:db8:1".into()));
        assert_eq!(network_of("unknown"), None);
    }
}
