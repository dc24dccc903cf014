//! The calendar idlink's rules count in: Asia/Shanghai (China Standard
//! Time, UTC+8 all year). Ages, birthdays, calendar years of the change
//! limits, balance snapshot times and the dates in messages all use it.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Asia/Shanghai from the time-zone database, or a fixed UTC+8 where the
/// database is missing (the zone has had no daylight saving since 1991).
pub fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::fixed(jiff::tz::offset(8)))
}

/// The date in Asia/Shanghai at `now`.
pub fn shanghai_today(now: Timestamp) -> Date {
    now.to_zoned(shanghai()).date()
}

/// `now` as people in China read it, for messages: `2027-04-03 00:00 +08:00`.
pub fn shanghai_display(t: Timestamp) -> String {
    t.to_zoned(shanghai()).strftime("%Y-%m-%d %H:%M %:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_is_utc_plus_8() {
        let t: Timestamp = "2026-12-31T16:30:00Z".parse().unwrap_or_default();
        assert_eq!(shanghai_today(t).to_string(), "2027-01-01");
        assert_eq!(shanghai_display(t), "2027-01-01 00:30 +08:00");
    }
}
