//! Risk rules (SPEC ID8): signals about an action decide allow, step-up or
//! freeze. Pure and monotone: more signals never give a milder decision.

use serde::Serialize;

/// What is known about the action and the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// The action comes from a device the user never used.
    pub new_device: bool,
    /// The client's network is far from the previous one.
    pub region_jump: bool,
    /// Consecutive wrong payment passwords.
    pub failed_attempts: u32,
    /// Logins (or codes) in the last hour.
    pub recent_logins: u32,
    /// Other accounts the same bank card is bound to.
    pub card_on_other_accounts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskDecision {
    Allow,
    StepUp,
    Freeze,
}

/// Weights and thresholds (configurable; these are the defaults).
#[derive(Debug, Clone)]
pub struct RiskPolicy {
    pub step_up_at: u32,
    pub freeze_at: u32,
    /// Logins per hour that count as a burst.
    pub burst: u32,
    /// Failed attempts that count as a signal.
    pub failures: u32,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        Self { step_up_at: 2, freeze_at: 5, burst: 10, failures: 3 }
    }
}

/// The score and the signals that made it, for the audit record and the reviewer.
pub fn score(policy: &RiskPolicy, s: &Signals) -> (u32, Vec<&'static str>) {
    let mut total = 0;
    let mut why = Vec::new();
    let mut add = |on: bool, points: u32, name: &'static str| {
        if on {
            total += points;
            why.push(name);
        }
    };
    add(s.new_device, 1, "new_device");
    add(s.region_jump, 2, "region_jump");
    add(s.failed_attempts >= policy.failures, 2, "failed_attempts");
    add(s.recent_logins >= policy.burst, 2, "burst");
    add(s.card_on_other_accounts > 0, 3, "card_on_other_accounts");
    (total, why)
}

pub fn decide(policy: &RiskPolicy, s: &Signals) -> RiskDecision {
    let (total, _) = score(policy, s);
    if total >= policy.freeze_at {
        RiskDecision::Freeze
    } else if total >= policy.step_up_at {
        RiskDecision::StepUp
    } else {
        RiskDecision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let p = RiskPolicy::default();
        assert_eq!(decide(&p, &Signals::default()), RiskDecision::Allow);
        assert_eq!(decide(&p, &Signals { new_device: true, ..Signals::default() }), RiskDecision::Allow);
        assert_eq!(decide(&p, &Signals { new_device: true, failed_attempts: 3, ..Signals::default() }), RiskDecision::StepUp);
        assert_eq!(
            decide(&p, &Signals { new_device: true, region_jump: true, failed_attempts: 3, ..Signals::default() }),
            RiskDecision::Freeze
        );
        assert_eq!(decide(&p, &Signals { card_on_other_accounts: 1, failed_attempts: 5, ..Signals::default() }), RiskDecision::Freeze);
    }

    fn signals() -> impl Strategy<Value = Signals> {
        (any::<bool>(), any::<bool>(), 0u32..10, 0u32..30, 0u32..3).prop_map(|(a, b, c, d, e)| Signals {
            new_device: a,
            region_jump: b,
            failed_attempts: c,
            recent_logins: d,
            card_on_other_accounts: e,
        })
    }

    proptest! {
        /// Adding any signal (or more of it) never makes the decision milder.
        #[test]
        fn decisions_are_monotone(a in signals(), b in signals()) {
            let p = RiskPolicy::default();
            let more = Signals {
                new_device: a.new_device || b.new_device,
                region_jump: a.region_jump || b.region_jump,
                failed_attempts: a.failed_attempts.max(b.failed_attempts),
                recent_logins: a.recent_logins.max(b.recent_logins),
                card_on_other_accounts: a.card_on_other_accounts.max(b.card_on_other_accounts),
            };
            prop_assert!(decide(&p, &more) >= decide(&p, &a));
            prop_assert!(decide(&p, &more) >= decide(&p, &b));
        }
    }
}
