//! Limits on real-name changes (SPEC ID5), per ID number:
//! at most [`ChangePolicy::per_year`] changes per calendar year
//! (Asia/Shanghai), at least [`ChangePolicy::min_gap`] between two changes,
//! and an attempt beyond the yearly quota starts a
//! [`ChangePolicy::cooling_off`] during which every attempt is refused.
//! Pure rules: the caller passes the history and the time.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// The numbers of ID5 (configurable; these are the defaults).
#[derive(Debug, Clone)]
pub struct ChangePolicy {
    pub per_year: usize,
    pub min_gap: SignedDuration,
    pub cooling_off: SignedDuration,
}

impl Default for ChangePolicy {
    fn default() -> Self {
        Self { per_year: 3, min_gap: SignedDuration::from_hours(90 * 24), cooling_off: SignedDuration::from_hours(180 * 24) }
    }
}

/// What happened to an ID number before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    Changed { at: Timestamp },
    CoolingOffStarted { at: Timestamp, until: Timestamp },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRule {
    /// A cooling-off period is running.
    CoolingOff,
    /// The previous change was too recent.
    MinimumGap,
    /// The yearly quota is used up; this attempt starts a cooling-off.
    YearlyQuota,
}

impl ChangeRule {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            ChangeRule::CoolingOff => "cooling_off",
            ChangeRule::MinimumGap => "minimum_gap",
            ChangeRule::YearlyQuota => "yearly_quota",
        }
    }

    /// Why a change is refused, with the numbers of the policy in force.
    pub fn explain(self, policy: &ChangePolicy) -> String {
        let days = |d: SignedDuration| d.as_secs() / 86_400;
        match self {
            ChangeRule::CoolingOff => format!("a {}-day cooling-off is running", days(policy.cooling_off)),
            ChangeRule::MinimumGap => format!("the previous change was less than {} days ago", days(policy.min_gap)),
            ChangeRule::YearlyQuota => format!(
                "{} changes were made this calendar year; a {}-day cooling-off starts now",
                policy.per_year,
                days(policy.cooling_off)
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeDecision {
    Allowed,
    Refused {
        rule: ChangeRule,
        /// The earliest instant a change can be allowed again.
        allowed_from: Timestamp,
        /// Set when this attempt starts a cooling-off (record it).
        starts_cooling_off: Option<Timestamp>,
    },
}

use crate::calendar::shanghai;

fn year_of(t: Timestamp, tz: &TimeZone) -> i16 {
    t.to_zoned(tz.clone()).year()
}

/// Midnight of 1 January of the year after `t`, Asia/Shanghai.
fn next_year_start(t: Timestamp, tz: &TimeZone) -> Timestamp {
    let y = year_of(t, tz).saturating_add(1);
    jiff::civil::date(y, 1, 1).to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(t)
}

/// Decides an attempt at `now` given the ID number's history.
pub fn decide(policy: &ChangePolicy, history: &[ChangeEvent], now: Timestamp) -> ChangeDecision {
    let tz = shanghai();
    let cooling_until = history
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::CoolingOffStarted { until, .. } => Some(*until),
            ChangeEvent::Changed { .. } => None,
        })
        .max();
    let changes: Vec<Timestamp> = history
        .iter()
        .filter_map(|e| match e {
            ChangeEvent::Changed { at } => Some(*at),
            ChangeEvent::CoolingOffStarted { .. } => None,
        })
        .collect();
    let gap_end = changes.iter().max().and_then(|last| last.checked_add(policy.min_gap).ok());
    let year_full = |t: Timestamp| {
        let y = year_of(t, &tz);
        changes.iter().filter(|c| year_of(**c, &tz) == y).count() >= policy.per_year
    };
    // The first instant from `t` on at which no rule refuses (if nobody attempts meanwhile).
    let earliest = |t: Timestamp| if year_full(t) { next_year_start(t, &tz) } else { t };
    if let Some(until) = cooling_until.filter(|u| *u > now) {
        let allowed_from = earliest(gap_end.map_or(until, |g| g.max(until)));
        return ChangeDecision::Refused { rule: ChangeRule::CoolingOff, allowed_from, starts_cooling_off: None };
    }
    if let Some(g) = gap_end.filter(|g| *g > now) {
        return ChangeDecision::Refused { rule: ChangeRule::MinimumGap, allowed_from: earliest(g), starts_cooling_off: None };
    }
    if year_full(now) {
        let until = now.checked_add(policy.cooling_off).unwrap_or(now);
        return ChangeDecision::Refused { rule: ChangeRule::YearlyQuota, allowed_from: earliest(until), starts_cooling_off: Some(until) };
    }
    ChangeDecision::Allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shanghai_time(y: i16, m: i8, d: i8, h: i8) -> Timestamp {
        jiff::civil::date(y, m, d).at(h, 0, 0, 0).to_zoned(shanghai()).map(|z| z.timestamp()).unwrap_or_default()
    }

    fn days(n: i64) -> SignedDuration {
        SignedDuration::from_hours(24 * n)
    }

    #[test]
    fn the_calendar_year_is_the_shanghai_one() {
        let p = ChangePolicy { min_gap: SignedDuration::ZERO, ..ChangePolicy::default() };
        // Three changes in 2026 (Shanghai); 2026-12-31 23:30 UTC is already 2027 in Shanghai.
        let h: Vec<ChangeEvent> = [shanghai_time(2026, 3, 1, 9), shanghai_time(2026, 6, 1, 9), shanghai_time(2026, 9, 1, 9)]
            .into_iter()
            .map(|at| ChangeEvent::Changed { at })
            .collect();
        let utc_new_year_eve: Timestamp = "2026-12-31T23:30:00Z".parse().unwrap_or_default();
        assert_eq!(decide(&p, &h, utc_new_year_eve), ChangeDecision::Allowed);
        let shanghai_eve = shanghai_time(2026, 12, 31, 23);
        assert!(matches!(decide(&p, &h, shanghai_eve), ChangeDecision::Refused { rule: ChangeRule::YearlyQuota, .. }));
    }

    #[test]
    fn a_fourth_attempt_starts_a_cooling_off_and_refusals_say_when() {
        let p = ChangePolicy::default();
        let t0 = shanghai_time(2026, 1, 2, 10);
        let mut h = vec![ChangeEvent::Changed { at: t0 }];
        assert_eq!(
            decide(&p, &h, t0 + days(30)),
            ChangeDecision::Refused { rule: ChangeRule::MinimumGap, allowed_from: t0 + days(90), starts_cooling_off: None }
        );
        h.push(ChangeEvent::Changed { at: t0 + days(90) });
        h.push(ChangeEvent::Changed { at: t0 + days(180) });
        let fourth = t0 + days(270);
        let d = decide(&p, &h, fourth);
        assert_eq!(
            d,
            ChangeDecision::Refused {
                rule: ChangeRule::YearlyQuota,
                allowed_from: fourth + days(180),
                starts_cooling_off: Some(fourth + days(180))
            }
        );
        h.push(ChangeEvent::CoolingOffStarted { at: fourth, until: fourth + days(180) });
        // In the next calendar year, still cooling off.
        let next_year = shanghai_time(2027, 1, 15, 10);
        assert!(matches!(decide(&p, &h, next_year), ChangeDecision::Refused { rule: ChangeRule::CoolingOff, .. }));
        assert_eq!(decide(&p, &h, fourth + days(180)), ChangeDecision::Allowed);
    }

    /// An independent statement of ID5 as invariants over any accepted history.
    fn check_invariants(p: &ChangePolicy, accepted: &[Timestamp], coolings: &[(Timestamp, Timestamp)]) -> Result<(), String> {
        let tz = shanghai();
        let mut per_year = std::collections::BTreeMap::<i16, usize>::new();
        for a in accepted {
            *per_year.entry(a.to_zoned(tz.clone()).year()).or_default() += 1;
        }
        if let Some((y, n)) = per_year.iter().find(|(_, n)| **n > p.per_year) {
            return Err(format!("{n} changes in {y}"));
        }
        for w in accepted.windows(2) {
            if w[1].duration_since(w[0]) < p.min_gap {
                return Err(format!("changes {} and {} closer than the minimum gap", w[0], w[1]));
            }
        }
        for (start, until) in coolings {
            if let Some(a) = accepted.iter().find(|a| *a >= start && *a < until) {
                return Err(format!("change at {a} inside the cooling-off {start}..{until}"));
            }
        }
        Ok(())
    }

    /// A second, deliberately plain statement of ID5: day by day, counting
    /// changes per Shanghai calendar year. It decides only allowed/refused.
    struct Model {
        changes: Vec<Timestamp>,
        cooling_until: Option<Timestamp>,
    }

    impl Model {
        fn attempt(&mut self, now: Timestamp) -> bool {
            if self.cooling_until.is_some_and(|u| now < u) {
                return false;
            }
            if self.changes.last().is_some_and(|last| now < *last + days(90)) {
                return false;
            }
            let year = now.to_zoned(shanghai()).year();
            if self.changes.iter().filter(|c| c.to_zoned(shanghai()).year() == year).count() >= 3 {
                self.cooling_until = Some(now + days(180));
                return false;
            }
            self.changes.push(now);
            true
        }
    }

    proptest! {
        /// The rules and the model agree on every attempt of random sequences.
        #[test]
        fn rules_agree_with_an_independent_model(gaps in proptest::collection::vec(0i64..150, 1..60), hours in proptest::collection::vec(0i64..24, 60)) {
            let p = ChangePolicy::default();
            let mut now = shanghai_time(2025, 12, 1, 0);
            let mut history = Vec::new();
            let mut model = Model { changes: Vec::new(), cooling_until: None };
            for (i, g) in gaps.iter().enumerate() {
                now += days(*g) + SignedDuration::from_hours(hours[i % hours.len()]);
                let decided = decide(&p, &history, now);
                match decided {
                    ChangeDecision::Allowed => history.push(ChangeEvent::Changed { at: now }),
                    ChangeDecision::Refused { starts_cooling_off: Some(until), .. } => history.push(ChangeEvent::CoolingOffStarted { at: now, until }),
                    ChangeDecision::Refused { .. } => {}
                }
                prop_assert_eq!(decided == ChangeDecision::Allowed, model.attempt(now), "attempt {} at {}", i, now);
            }
        }

        /// Random attempt sequences: whatever the rules allow satisfies the
        /// invariants, every refusal names a future instant, and a change is
        /// indeed allowed at that instant when nothing else happens.
        #[test]
        fn random_sequences_respect_the_rules(gaps in proptest::collection::vec(1i64..200, 1..40)) {
            let p = ChangePolicy::default();
            let mut now = shanghai_time(2025, 1, 1, 0);
            let mut history = Vec::new();
            let (mut accepted, mut coolings) = (Vec::new(), Vec::new());
            for g in gaps {
                now += days(g);
                match decide(&p, &history, now) {
                    ChangeDecision::Allowed => {
                        history.push(ChangeEvent::Changed { at: now });
                        accepted.push(now);
                    }
                    ChangeDecision::Refused { allowed_from, starts_cooling_off, .. } => {
                        prop_assert!(allowed_from > now);
                        if let Some(until) = starts_cooling_off {
                            history.push(ChangeEvent::CoolingOffStarted { at: now, until });
                            coolings.push((now, until));
                        }
                        prop_assert_eq!(decide(&p, &history, allowed_from), ChangeDecision::Allowed, "allowed_from must be honest");
                    }
                }
            }
            let invariants = check_invariants(&p, &accepted, &coolings);
            prop_assert!(invariants.is_ok(), "{:?}", invariants);
        }
    }
}
