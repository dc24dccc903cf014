//! How much of a balance a bank lets idlink show, and how fresh it is
//! (SPEC BK4). Pure: the caller passes the balance, the policy and the time.
//!
//! Precision: to the yuan, to the jiao, a range bucket of a given width, or
//! closed. Freshness: real time, a daily snapshot at a given time, or a
//! weekly snapshot on a given weekday; calendars are Asia/Shanghai.

use crate::money::Fen;
use jiff::civil::{Time, Weekday};
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Precision {
    Yuan,
    Jiao,
    /// Buckets `[k·width, (k+1)·width)`, width in fen (e.g. 100000 = 1000 yuan).
    Range {
        width: i64,
    },
    /// The bank does not disclose balances to third parties.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Freshness {
    RealTime,
    /// A snapshot every day at `hour:minute` Asia/Shanghai.
    Daily {
        hour: i8,
        minute: i8,
    },
    /// A snapshot every week on `weekday` (ISO: 1 = Monday … 7 = Sunday) at `hour:00` Asia/Shanghai.
    Weekly {
        weekday: i8,
        hour: i8,
    },
}

impl Precision {
    /// The policy's name in answers and history: `yuan`, `jiao`, `range` or `closed`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Yuan => "yuan",
            Precision::Jiao => "jiao",
            Precision::Range { .. } => "range",
            Precision::Closed => "closed",
        }
    }
}

/// What may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Disclosed {
    /// An amount rounded down to the policy's unit.
    Amount {
        fen: Fen,
    },
    /// The balance lies in `[low, high)`.
    Range {
        low: Fen,
        high: Fen,
    },
    Closed,
}

/// Reduces `balance` to what `precision` allows. Rounding is toward minus
/// infinity, so the shown amount never exceeds the real one.
pub fn disclose(balance: Fen, precision: Precision) -> Disclosed {
    let floor_to = |unit: i64| Fen(balance.0.div_euclid(unit).saturating_mul(unit));
    match precision {
        Precision::Yuan => Disclosed::Amount { fen: floor_to(100) },
        Precision::Jiao => Disclosed::Amount { fen: floor_to(10) },
        Precision::Range { width } if width > 0 => {
            let low = floor_to(width);
            Disclosed::Range { low, high: Fen(low.0.saturating_add(width)) }
        }
        Precision::Range { .. } | Precision::Closed => Disclosed::Closed,
    }
}

/// The coarser of two policies: what may be shown under both. Used when a
/// kept answer is shown again after the bank's policy may have changed.
pub fn coarser(a: Precision, b: Precision) -> Precision {
    let rank = |p: Precision| match p {
        Precision::Jiao => (0, 0),
        Precision::Yuan => (1, 0),
        Precision::Range { width } => (2, width),
        Precision::Closed => (3, 0),
    };
    if rank(a) >= rank(b) { a } else { b }
}

use crate::calendar::shanghai;

/// `(as_of, next_refresh_at)`: the instant the shown balance describes, and
/// when a newer one can exist.
pub fn snapshot(now: Timestamp, freshness: Freshness) -> (Timestamp, Timestamp) {
    let tz = shanghai();
    let local = now.to_zoned(tz.clone());
    match freshness {
        Freshness::RealTime => (now, now),
        Freshness::Daily { hour, minute } => {
            let at = Time::new(hour, minute, 0, 0).unwrap_or(Time::midnight());
            let today = local.date().to_datetime(at).to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(now);
            let as_of = if today <= now { today } else { today.checked_sub(24.hours()).unwrap_or(today) };
            let next = local.date().tomorrow().ok().and_then(|d| d.to_datetime(at).to_zoned(tz.clone()).ok()).map(|z| z.timestamp());
            let next = if today > now { today } else { next.unwrap_or(now) };
            (as_of, next)
        }
        Freshness::Weekly { weekday, hour } => {
            let weekday = Weekday::from_monday_one_offset(weekday).unwrap_or(Weekday::Wednesday);
            let at = Time::new(hour, 0, 0, 0).unwrap_or(Time::midnight());
            let back = (local.weekday().to_monday_zero_offset() - weekday.to_monday_zero_offset()).rem_euclid(7);
            let day = local.date().checked_sub(i64::from(back).days()).unwrap_or(local.date());
            let candidate = day.to_datetime(at).to_zoned(tz.clone()).map(|z| z.timestamp()).unwrap_or(now);
            let as_of = if candidate <= now { candidate } else { candidate.checked_sub((7 * 24).hours()).unwrap_or(candidate) };
            (as_of, as_of.checked_add((7 * 24).hours()).unwrap_or(as_of))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sh(s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>().ok().and_then(|d| d.to_zoned(shanghai()).ok()).map(|z| z.timestamp()).unwrap_or_default()
    }

    #[test]
    fn precisions() {
        assert_eq!(disclose(Fen(123_456), Precision::Yuan), Disclosed::Amount { fen: Fen(123_400) });
        assert_eq!(disclose(Fen(123_456), Precision::Jiao), Disclosed::Amount { fen: Fen(123_450) });
        assert_eq!(disclose(Fen(75_000), Precision::Range { width: 50_000 }), Disclosed::Range { low: Fen(50_000), high: Fen(100_000) });
        assert_eq!(disclose(Fen(-1), Precision::Yuan), Disclosed::Amount { fen: Fen(-100) }, "never shows more than there is");
        assert_eq!(disclose(Fen(5), Precision::Closed), Disclosed::Closed);
    }

    #[test]
    fn daily_at_18_and_weekly_on_wednesday_in_shanghai() {
        let daily = Freshness::Daily { hour: 18, minute: 0 };
        assert_eq!(snapshot(sh("2026-11-23T17:59:00"), daily), (sh("2026-11-22T18:00:00"), sh("2026-11-23T18:00:00")));
        assert_eq!(snapshot(sh("2026-11-23T18:00:00"), daily), (sh("2026-11-23T18:00:00"), sh("2026-11-24T18:00:00")));
        let weekly = Freshness::Weekly { weekday: 3, hour: 0 };
        // 2026-11-22 is a Sunday; the last Wednesday was the 18th.
        assert_eq!(snapshot(sh("2026-11-22T10:00:00"), weekly), (sh("2026-11-18T00:00:00"), sh("2026-11-25T00:00:00")));
        assert_eq!(snapshot(sh("2026-11-25T00:00:00"), weekly), (sh("2026-11-25T00:00:00"), sh("2026-12-02T00:00:00")));
    }

    fn precision() -> impl Strategy<Value = Precision> {
        prop_oneof![
            Just(Precision::Yuan),
            Just(Precision::Jiao),
            (1i64..10_000_000).prop_map(|width| Precision::Range { width }),
            Just(Precision::Closed),
        ]
    }

    fn roster_precision() -> impl Strategy<Value = Precision> {
        prop_oneof![
            Just(Precision::Yuan),
            Just(Precision::Jiao),
            prop::sample::select(vec![10_000i64, 50_000, 100_000, 500_000, 1_000_000]).prop_map(|width| Precision::Range { width }),
            Just(Precision::Closed),
        ]
    }

    fn freshness() -> impl Strategy<Value = Freshness> {
        prop_oneof![
            Just(Freshness::RealTime),
            (0i8..24, 0i8..60).prop_map(|(hour, minute)| Freshness::Daily { hour, minute }),
            (1i8..=7, 0i8..24).prop_map(|(weekday, hour)| Freshness::Weekly { weekday, hour }),
        ]
    }

    proptest! {
        /// Never more than the policy allows: the shown value is a function of
        /// the policy's bucket alone (two balances in one bucket look the same),
        /// never above the balance, and within one unit of it.
        #[test]
        fn disclosure_never_reveals_more_than_the_policy(b in -1_000_000_000i64..1_000_000_000_000, other in 0i64..1_000_000, p in precision()) {
            let d = disclose(Fen(b), p);
            match (p, d) {
                (Precision::Yuan, Disclosed::Amount { fen }) => {
                    prop_assert!(fen.0 % 100 == 0 && fen.0 <= b && b - fen.0 < 100);
                    let same = Fen(fen.0 + other % 100);
                    prop_assert_eq!(disclose(same, p), d);
                }
                (Precision::Jiao, Disclosed::Amount { fen }) => {
                    prop_assert!(fen.0 % 10 == 0 && fen.0 <= b && b - fen.0 < 10);
                    prop_assert_eq!(disclose(Fen(fen.0 + other % 10), p), d);
                }
                (Precision::Range { width }, Disclosed::Range { low, high }) => {
                    prop_assert!(low.0 <= b && b < high.0 && high.0 - low.0 == width);
                    prop_assert_eq!(disclose(Fen(low.0 + other % width), p), d);
                }
                (Precision::Closed, Disclosed::Closed) => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        /// Under the coarser of two policies, nothing is shown that either
        /// policy hides: two balances that look the same under one of them
        /// look the same under the coarser one too (for the roster's
        /// policies, whose buckets nest: jiao, yuan, ranges of whole 100 yuan).
        #[test]
        fn the_coarser_policy_hides_what_either_hides(b in 0i64..1_000_000_000, other in 0i64..1_000_000, p in roster_precision(), q in roster_precision()) {
            let c = coarser(p, q);
            prop_assert_eq!(c, coarser(q, p));
            for policy in [p, q] {
                let twin = match disclose(Fen(b), policy) {
                    Disclosed::Amount { fen } => Fen(fen.0 + other % if policy == Precision::Yuan { 100 } else { 10 }),
                    Disclosed::Range { low, high } => Fen(low.0 + other % (high.0 - low.0)),
                    Disclosed::Closed => Fen(other),
                };
                prop_assert_eq!(disclose(twin, c), disclose(Fen(b), c), "{:?} under {:?}", policy, c);
            }
        }

        /// The snapshot never lies in the future and the next refresh is after now (or now, in real time).
        #[test]
        fn snapshots_are_past_and_refreshes_future(secs in 1_700_000_000i64..1_900_000_000, f in freshness()) {
            let now = Timestamp::from_second(secs).unwrap_or_default();
            let (as_of, next) = snapshot(now, f);
            prop_assert!(as_of <= now);
            prop_assert!(next >= now);
            if f != Freshness::RealTime {
                prop_assert!(next > now);
                prop_assert!(now.duration_since(as_of) <= jiff::SignedDuration::from_hours(7 * 24 + 1));
            }
        }
    }
}
