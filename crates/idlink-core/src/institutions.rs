//! Institution health and the maintenance calendar (SPEC OP2, BK2, BK5;
//! issue 13 point 6; ADR 0018).
//!
//! The health report is what the connectors measured on this node, with the
//! calendar beside it. The calendar is kept by admins: a scheduled window
//! makes the connectors refuse calls to that institution (or one of its
//! channels) with "temporarily unavailable, expected end …" without calling
//! it, and a bank's traffic moves to its other channel. Every change is
//! audited, then handed to the connectors at once ([`Institutions::reload`],
//! which the server also runs periodically so other nodes follow).

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::institutions::{ChannelHealth, InstitutionHealth, MaintenanceStore, MaintenanceWindow};
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use idlink_domain::MaintenanceId;
use jiff::{SignedDuration, Timestamp};

/// The longest window an admin may schedule (a longer outage is not maintenance).
pub const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How many upcoming windows the calendar holds and the connectors enforce.
const CALENDAR_LIMIT: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    /// Not an institution (or not a channel of it) the connectors know.
    #[error("no institution `{0}` with that channel")]
    UnknownInstitution(String),
    /// Ends before it starts, ends in the past, or lasts longer than [`MAX_WINDOW`].
    #[error("the window must end after it starts and after now, and last at most 7 days")]
    BadPeriod,
    #[error("no such scheduled window (or it was cancelled already)")]
    NotFound,
    /// Another window on the same target (or on the whole institution, or
    /// one of its channels) overlaps the new one: callers would be told two ends.
    #[error("window {0} on the same target overlaps this one")]
    Overlaps(MaintenanceId),
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A window an admin asks for.
#[derive(Debug, Clone)]
pub struct NewWindow {
    pub institution: String,
    pub channel: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub note: String,
}

/// The health page's content.
#[derive(Debug, Clone)]
pub struct HealthReport {
    pub at: Timestamp,
    /// The rolling window: seconds, and its cap in calls.
    pub window_secs: u64,
    pub window_calls: u32,
    pub channels: Vec<ChannelHealth>,
    /// Scheduled windows not over yet, soonest first.
    pub calendar: Vec<MaintenanceWindow>,
}

impl HealthReport {
    /// The scheduled window covering `institution`/`channel` now, if any (the one ending last).
    pub fn scheduled_now(&self, institution: &str, channel: &str) -> Option<&MaintenanceWindow> {
        self.calendar.iter().filter(|w| w.covers(institution, channel, self.at)).max_by_key(|w| w.ends_at)
    }

    /// When calls to `institution`/`channel` are served again: the end the
    /// connectors answer with ([`expected_end`]), so page and 503 agree.
    pub fn scheduled_until(&self, institution: &str, channel: &str) -> Option<Timestamp> {
        expected_end(&self.calendar, institution, channel, self.at)
    }

    /// The next scheduled window of `institution`/`channel` that has not started.
    pub fn scheduled_next(&self, institution: &str, channel: &str) -> Option<&MaintenanceWindow> {
        self.calendar
            .iter()
            .filter(|w| w.institution == institution && w.channel.as_deref().is_none_or(|c| c == channel) && w.starts_at > self.at)
            .min_by_key(|w| w.starts_at)
    }
}

/// Whether `w` applies to `institution`/`channel` at some time (not cancelled).
fn applies(w: &MaintenanceWindow, institution: &str, channel: &str) -> bool {
    w.cancelled_at.is_none() && w.institution == institution && w.channel.as_deref().is_none_or(|c| c == channel)
}

/// When calls to `institution`/`channel` are served again, if a scheduled
/// window refuses them at `now`: the end of the covering windows, carried
/// over every window that starts by then (contiguous or overlapping), so a
/// caller told "back at 11:00" is not refused again at 11:00. The one rule
/// the connectors' 503 and the health page both use.
pub fn expected_end(windows: &[MaintenanceWindow], institution: &str, channel: &str, now: Timestamp) -> Option<Timestamp> {
    let mut end = windows.iter().filter(|w| w.covers(institution, channel, now)).map(|w| w.ends_at).max()?;
    loop {
        let later =
            windows.iter().filter(|w| applies(w, institution, channel) && w.starts_at <= end && w.ends_at > end).map(|w| w.ends_at).max();
        match later {
            Some(e) => end = e,
            None => return Some(end),
        }
    }
}

/// Whether two windows could refuse the same calls at the same time.
fn overlaps(a: &MaintenanceWindow, b: &MaintenanceWindow) -> bool {
    let same_target = a.institution == b.institution
        && match (a.channel.as_deref(), b.channel.as_deref()) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
    same_target && a.cancelled_at.is_none() && b.cancelled_at.is_none() && a.starts_at < b.ends_at && b.starts_at < a.ends_at
}

pub struct Institutions<'a> {
    pub store: &'a dyn MaintenanceStore,
    pub health: &'a dyn InstitutionHealth,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
}

fn may_view(op: &OperatorRow) -> Result<(), RoleRequired> {
    require(op, Role::Reviewer).or_else(|_| require(op, Role::Auditor))
}

impl Institutions<'_> {
    /// Health of every institution and channel on this node, and the calendar.
    pub async fn report(&self, op: &OperatorRow) -> Result<HealthReport, MaintenanceError> {
        may_view(op)?;
        let at = self.clock.now();
        let (window_secs, window_calls) = self.health.window();
        let calendar = self.store.maintenance_ending_after(at, CALENDAR_LIMIT).await?;
        Ok(HealthReport { at, window_secs, window_calls, channels: self.health.channels(), calendar })
    }

    /// The calendar: windows not over yet.
    pub async fn calendar(&self, op: &OperatorRow) -> Result<Vec<MaintenanceWindow>, MaintenanceError> {
        may_view(op)?;
        Ok(self.store.maintenance_ending_after(self.clock.now(), CALENDAR_LIMIT).await?)
    }

    /// Schedules a window (admins only); the connectors enforce it from now on.
    pub async fn schedule(&self, op: &OperatorRow, w: NewWindow) -> Result<MaintenanceWindow, MaintenanceError> {
        require(op, Role::Admin)?;
        let now = self.clock.now();
        let known = self.health.channels();
        let channel_known = |c: &str| known.iter().any(|k| k.institution == w.institution && k.channel == c);
        let ok = match w.channel.as_deref() {
            Some(c) => channel_known(c),
            None => known.iter().any(|k| k.institution == w.institution),
        };
        if !ok {
            return Err(MaintenanceError::UnknownInstitution(w.institution));
        }
        if w.ends_at <= w.starts_at || w.ends_at <= now || w.ends_at.duration_since(w.starts_at) > MAX_WINDOW {
            return Err(MaintenanceError::BadPeriod);
        }
        // Kept to the microsecond, as stored: the answer says what every node will enforce.
        let micros = |t: Timestamp| Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t);
        let row = MaintenanceWindow {
            id: self.ids.maintenance(),
            institution: w.institution,
            channel: w.channel,
            starts_at: micros(w.starts_at),
            ends_at: micros(w.ends_at),
            note: w.note,
            created_by: op.id.clone(),
            created_at: now,
            cancelled_at: None,
        };
        let pending = self.store.maintenance_ending_after(now, CALENDAR_LIMIT).await?;
        if let Some(other) = pending.iter().find(|w| overlaps(w, &row)) {
            return Err(MaintenanceError::Overlaps(other.id.clone()));
        }
        let what = format!(
            "{} {} {} to {}: {}",
            row.id,
            target_name(&row.institution, row.channel.as_deref()),
            row.starts_at,
            row.ends_at,
            row.note
        );
        let audit = AuditEntry::new(format!("operator:{}", op.id), "maintenance.schedule", what, now);
        self.store.insert_maintenance(&row, &audit).await?;
        self.reload().await?;
        Ok(row)
    }

    /// Cancels a window (admins only): calls go to the institution again at once.
    pub async fn cancel(&self, op: &OperatorRow, id: &MaintenanceId) -> Result<MaintenanceWindow, MaintenanceError> {
        require(op, Role::Admin)?;
        let now = self.clock.now();
        let w = self.store.maintenance(id).await?.filter(|w| w.cancelled_at.is_none()).ok_or(MaintenanceError::NotFound)?;
        let what = format!("{} {}", w.id, target_name(&w.institution, w.channel.as_deref()));
        let audit = AuditEntry::new(format!("operator:{}", op.id), "maintenance.cancel", what, now);
        if !self.store.cancel_maintenance(id, now, &audit).await? {
            return Err(MaintenanceError::NotFound);
        }
        self.reload().await?;
        Ok(MaintenanceWindow { cancelled_at: Some(now), ..w })
    }

    /// Hands the connectors the windows not over yet; returns how many.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let windows = self.store.maintenance_ending_after(self.clock.now(), CALENDAR_LIMIT).await?;
        let n = windows.len();
        self.health.set_schedule(windows);
        Ok(n)
    }
}

/// The kind of an institution as the connectors name it: `bank` for
/// `bank:CODE`, else the name itself (`sms`, `face`, `registry`, `witness`).
pub fn kind_of(institution: &str) -> &str {
    match institution.split_once(':') {
        Some(("bank", _)) => "bank",
        Some(("ssb", _)) => "ssb",
        Some(("host", _)) => "host",
        _ => institution,
    }
}

/// `bank:ICBC/direct`, or `sms` for every channel.
pub fn target_name(institution: &str, channel: Option<&str>) -> String {
    match channel {
        Some(c) => format!("{institution}/{c}"),
        None => institution.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mins: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + mins * 60).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn window(n: u8, channel: Option<&str>, from: i64, until: i64) -> MaintenanceWindow {
        MaintenanceWindow {
            id: MaintenanceId::from_random([n; 16]),
            institution: "bank:ICBC".into(),
            channel: channel.map(str::to_owned),
            starts_at: t(from),
            ends_at: t(until),
            note: String::new(),
            created_by: idlink_domain::OperatorId::from_random([1; 16]),
            created_at: t(0),
            cancelled_at: None,
        }
    }

    #[test]
    fn the_expected_end_runs_over_contiguous_windows_of_the_target_only() {
        let ws = [window(1, None, 0, 60), window(2, Some("direct"), 60, 120), window(3, Some("card_switch"), 120, 180)];
        assert_eq!(expected_end(&ws, "bank:ICBC", "direct", t(10)), Some(t(120)), "10–11 then 11–12: back at 12");
        assert_eq!(expected_end(&ws, "bank:ICBC", "card_switch", t(10)), Some(t(60)), "the direct window is not the switch's");
        assert_eq!(expected_end(&ws, "bank:ICBC", "card_switch", t(70)), None, "nothing refuses the switch at 11:10");
        assert_eq!(expected_end(&ws, "bank:ABC", "direct", t(10)), None);
        let gap = [window(1, None, 0, 60), window(2, None, 61, 120)];
        assert_eq!(expected_end(&gap, "bank:ICBC", "direct", t(10)), Some(t(60)), "a gap: served in between");
        let mut cancelled = window(2, None, 60, 120);
        cancelled.cancelled_at = Some(t(5));
        assert_eq!(expected_end(&[window(1, None, 0, 60), cancelled], "bank:ICBC", "direct", t(10)), Some(t(60)));
    }

    #[test]
    fn windows_on_a_common_target_overlap_and_adjacent_ones_do_not() {
        assert!(overlaps(&window(1, Some("direct"), 0, 60), &window(2, None, 30, 90)), "the whole bank covers direct");
        assert!(overlaps(&window(1, Some("direct"), 0, 60), &window(2, Some("direct"), 59, 90)));
        assert!(!overlaps(&window(1, Some("direct"), 0, 60), &window(2, Some("card_switch"), 0, 60)), "another channel");
        assert!(!overlaps(&window(1, None, 0, 60), &window(2, None, 60, 90)), "adjacent");
    }
}
