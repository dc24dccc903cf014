//! The Asia/Shanghai working-day calendar (SPEC CP: an account cancellation
//! is completed within 15 working days; ID4's review targets count the same
//! way). A day works by the ordinary week (Monday to Friday) unless the
//! State Council's yearly notice makes it a holiday, or makes a weekend day a
//! working day in exchange (调休). The notices are data
//! (`data/cn-holidays/days.csv`, with its source and licence); a year the
//! data does not cover counts by the ordinary week alone, and every answer
//! that depended on such a year (or on the last days of the last year
//! covered, which the next notice may move) says it is provisional.
//! Pure rules: the caller passes the time.

use crate::calendar::{shanghai, shanghai_today};
use jiff::civil::{Date, Weekday};
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const DAYS_CSV: &str = include_str!("../data/cn-holidays/days.csv");

/// What the notices make of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// A day off in a holiday period.
    Holiday,
    /// A weekend day that works.
    Workday,
}

/// The calendar: the notices' exceptions and the years they cover.
#[derive(Debug, Clone)]
pub struct WorkingDays {
    exceptions: BTreeMap<Date, Exception>,
    first_year: i16,
    last_year: i16,
}

/// A date counted to, and whether a year without data was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub date: Date,
    /// A day a later notice may still change was counted (a year the notices
    /// do not cover, by the ordinary week; or the last days of the last year covered).
    pub provisional: bool,
}

impl WorkingDays {
    /// The bundled notices (2004 to the last year published in the data).
    pub fn bundled() -> &'static WorkingDays {
        static CAL: OnceLock<WorkingDays> = OnceLock::new();
        CAL.get_or_init(|| Self::parse(DAYS_CSV).unwrap_or_else(|_| Self::ordinary_week()))
    }

    /// No notice at all: every year provisional.
    pub fn ordinary_week() -> WorkingDays {
        Self { exceptions: BTreeMap::new(), first_year: 1, last_year: 0 }
    }

    /// Reads `date,kind,festival` rows (with a header). The years covered
    /// run from the first row's to the last row's.
    pub fn parse(csv: &str) -> Result<WorkingDays, String> {
        let mut exceptions = BTreeMap::new();
        for (i, line) in csv.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
            let mut fields = line.split(',');
            let (Some(date), Some(kind)) = (fields.next(), fields.next()) else {
                return Err(format!("line {}: expected date,kind,festival", i + 1));
            };
            let date: Date = date.parse().map_err(|e| format!("line {}: {e}", i + 1))?;
            let kind = match kind {
                "holiday" => Exception::Holiday,
                "workday" if is_weekend(date) => Exception::Workday,
                "workday" => return Err(format!("line {}: {date} is a weekday, so it needs no exchange", i + 1)),
                other => return Err(format!("line {}: unknown kind {other:?}", i + 1)),
            };
            if exceptions.insert(date, kind).is_some() {
                return Err(format!("line {}: {date} appears twice", i + 1));
            }
        }
        let first_year = exceptions.keys().next().map_or(1, |d| d.year());
        let last_year = exceptions.keys().next_back().map_or(0, |d| d.year());
        Ok(Self { exceptions, first_year, last_year })
    }

    /// Whether the notices cover `year`.
    pub fn covers(&self, year: i16) -> bool {
        (self.first_year..=self.last_year).contains(&year)
    }

    /// The last year the notices cover, if any.
    pub fn last_year(&self) -> Option<i16> {
        (self.first_year <= self.last_year).then_some(self.last_year)
    }

    /// Whether a later notice may still change `date`: a year not covered, or
    /// the last days of the last covered year (the notice for the next year
    /// has moved them before: it made 29 December 2018 a working day).
    fn unsettled(&self, date: Date) -> bool {
        !self.covers(date.year()) || (date.year() == self.last_year && date.month() == 12 && date.day() >= 20)
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.exceptions.get(&date) {
            Some(Exception::Holiday) => false,
            Some(Exception::Workday) => true,
            None => !is_weekend(date),
        }
    }

    /// The `n`th working day after `date` (`date` itself does not count:
    /// a request made on a Monday has Tuesday as its first working day).
    pub fn add(&self, date: Date, n: u32) -> Counted {
        let mut day = date;
        let mut left = n;
        let mut provisional = false;
        while left > 0 {
            let Ok(next) = day.checked_add(1.day()) else { break };
            day = next;
            provisional |= self.unsettled(day);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        Counted { date: day, provisional }
    }

    /// When something asked for at `at` is due if it must be done within
    /// `n` working days: the end (24:00, Asia/Shanghai) of the `n`th
    /// working day after the day of `at`.
    pub fn due(&self, at: Timestamp, n: u32) -> (Timestamp, bool) {
        let counted = self.add(shanghai_today(at), n);
        let end = counted.date.checked_add(1.day()).unwrap_or(counted.date);
        let due = end.to_zoned(shanghai()).map(|z| z.timestamp()).unwrap_or(at);
        (due, counted.provisional)
    }
}

/// The day a due time from [`WorkingDays::due`] (24:00, Asia/Shanghai) ends: the day to name
/// to people ("by the end of 22 December").
pub fn last_day(due: Timestamp) -> Date {
    shanghai_today(due.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap_or(due))
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn cal() -> &'static WorkingDays {
        WorkingDays::bundled()
    }

    #[test]
    fn the_bundled_notices_parse_and_cover_2004_to_2026() {
        assert_eq!(WorkingDays::parse(DAYS_CSV).map(|c| (c.first_year, c.last_year)), Ok((2004, 2026)));
        assert!(cal().exceptions.len() > 700);
    }

    #[test]
    fn the_2026_national_day_notice_is_followed() {
        // Off 1–7 October 2026; Sunday 20 September and Saturday 10 October work.
        for d in 1..=7 {
            assert!(!cal().is_working_day(date(2026, 10, d)), "2026-10-{d}");
        }
        assert!(cal().is_working_day(date(2026, 9, 20)));
        assert!(cal().is_working_day(date(2026, 10, 10)));
        assert!(!cal().is_working_day(date(2026, 10, 11)), "an ordinary Sunday rests");
        assert!(cal().is_working_day(date(2026, 10, 9)), "an ordinary Friday works");
    }

    #[test]
    fn fifteen_working_days_skip_the_holiday_and_count_the_exchanged_saturday() {
        // Asked on Wednesday 30 September 2026: 1–7 October off, the 8th (Thursday) is the first working day,
        // Saturday the 10th works; so 8, 9, 10, 12–16, 19–23, 26, 27 → the 15th is Tuesday 27 October.
        assert_eq!(cal().add(date(2026, 9, 30), 15), Counted { date: date(2026, 10, 27), provisional: false });
        // An ordinary stretch: Tuesday 1 November 2026 + 15 working days = Friday 20 November.
        assert_eq!(cal().add(date(2026, 11, 1), 15), Counted { date: date(2026, 11, 20), provisional: false });
        // Into the last days of the last year covered, which next year's notice may still move.
        assert_eq!(cal().add(date(2026, 12, 1), 15), Counted { date: date(2026, 12, 22), provisional: true });
    }

    #[test]
    fn a_year_without_a_notice_counts_by_the_week_and_says_it_is_provisional() {
        // From 18 December 2026, 15 working days reach into 2027, which the data does not hold.
        let c = cal().add(date(2026, 12, 18), 15);
        assert_eq!(c, Counted { date: date(2027, 1, 8), provisional: true });
        assert!(!cal().add(date(2026, 11, 2), 15).provisional);
    }

    #[test]
    fn the_deadline_is_the_end_of_the_last_working_day_in_shanghai() {
        // 2026-12-01 10:00 in Shanghai (02:00 UTC) → due at 2026-12-23 00:00 +08:00.
        let at: Timestamp = "2026-12-01T02:00:00Z".parse().unwrap();
        let (due, provisional) = cal().due(at, 15);
        assert_eq!(due, "2026-12-22T16:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(last_day(due), date(2026, 12, 22));
        assert!(provisional, "22 December 2026: the 2027 notice may still move it");
        // 23:30 in Shanghai on 1 December is still 1 December there (15:30 UTC).
        let late: Timestamp = "2026-12-01T15:30:00Z".parse().unwrap();
        assert_eq!(cal().due(late, 15).0, due);
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        assert!(WorkingDays::parse("date,kind,festival\n2026-10-09,workday,x\n").unwrap_err().contains("line 2"));
        assert!(WorkingDays::parse("date,kind,festival\n2026-10-01,holiday,x\n2026-10-01,holiday,x\n").unwrap_err().contains("twice"));
        assert!(WorkingDays::parse("date,kind,festival\n2026-10-01,off,x\n").is_err());
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (2003i16..2028, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| date(y, m, d))
    }

    proptest! {
        /// The count lands on a working day, exactly `n` working days after the start, and more days never land earlier.
        #[test]
        fn adding_working_days_counts_exactly_the_working_days(start in any_date(), n in 1u32..40) {
            let c = cal().add(start, n);
            prop_assert!(cal().is_working_day(c.date));
            prop_assert!(c.date > start);
            let mut counted = 0;
            let mut d = start;
            while d < c.date {
                d = d.checked_add(1.day()).unwrap();
                if cal().is_working_day(d) { counted += 1; }
            }
            prop_assert_eq!(counted, n);
            prop_assert!(cal().add(start, n + 1).date > c.date);
            // Provisional exactly when a counted day (after the start) lies in a year without a notice, or from 20 December of the last year covered.
            let first_counted = start.checked_add(1.day()).unwrap();
            let late_december = date(2026, 12, 20);
            let expected = (first_counted.year()..=c.date.year()).any(|y| !cal().covers(y)) || c.date >= late_december && first_counted <= date(2026, 12, 31);
            prop_assert_eq!(c.provisional, expected);
        }

        /// Without notices, the ordinary week: 5 working days are always a calendar week on.
        #[test]
        fn the_ordinary_week_makes_five_working_days_a_week(start in any_date()) {
            let week = WorkingDays::ordinary_week();
            let from_weekday = !is_weekend(start);
            let c = week.add(start, 5);
            prop_assert!(c.provisional);
            if from_weekday {
                prop_assert_eq!(c.date, start.checked_add(7.days()).unwrap());
            }
        }
    }
}
