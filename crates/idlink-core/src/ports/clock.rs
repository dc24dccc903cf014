//! The clock port. Production reads the system clock; tests and the sandbox
//! use [`ManualClock`], which only moves when told to.

use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision instants are stored with,
    /// so an instant answered before storage equals the one read back.
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
    }
}

/// A clock that stands still until advanced or set.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add(by).unwrap_or(*t);
    }

    pub fn set(&self, to: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where a [`ShiftedClock`] reads its shift from.
pub type ShiftSource = Arc<dyn Fn() -> SignedDuration + Send + Sync>;

/// A clock that runs ahead of another by a shift read at every call: in
/// sandbox mode, idlink's time follows the sandbox clock's advances, so an
/// expiry (a step-up token, a session, an agreement) shows without waiting.
pub struct ShiftedClock {
    base: Arc<dyn Clock>,
    shift: ShiftSource,
}

impl ShiftedClock {
    pub fn new(base: Arc<dyn Clock>, shift: ShiftSource) -> Self {
        Self { base, shift }
    }
}

impl std::fmt::Debug for ShiftedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShiftedClock").field("shift", &(self.shift)()).finish()
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        let base = self.base.now();
        base.checked_add((self.shift)()).unwrap_or(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_follows_its_base_and_its_shift() {
        let start = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let base = Arc::new(ManualClock::new(start));
        let shift = Arc::new(Mutex::new(SignedDuration::ZERO));
        let s = shift.clone();
        let clock = ShiftedClock::new(base.clone(), Arc::new(move || *s.lock().unwrap_or_else(|p| p.into_inner())));
        assert_eq!(clock.now(), start);
        *shift.lock().unwrap_or_else(|p| p.into_inner()) = SignedDuration::from_hours(1);
        assert_eq!(clock.now(), start.checked_add(SignedDuration::from_hours(1)).unwrap_or(start));
        base.advance(SignedDuration::from_secs(5));
        assert_eq!(clock.now(), start.checked_add(SignedDuration::from_secs(3605)).unwrap_or(start));
    }
}
