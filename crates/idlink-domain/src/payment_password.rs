//! Rules of the payment password (SPEC ID6): what a new one may be, and when
//! consecutive failures lock it. Pure rules: the caller passes the counts.
//!
//! The store counts failures atomically (`failures = failures + 1`); these
//! rules say what a count means, so the use case, the store's lock event and
//! the status the user sees agree on one threshold.

/// Why a new payment password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the payment password is exactly 6 digits")]
    NotSixDigits,
    #[error("the payment password cannot be one digit repeated")]
    Repeated,
    #[error("the payment password cannot be a run of consecutive digits")]
    Sequence,
}

/// Checks a new payment password: 6 digits, not `111111`, not `123456`/`654321`-like runs.
pub fn check_new(password: &str) -> Result<(), WeakPassword> {
    let b = password.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return Err(WeakPassword::NotSixDigits);
    }
    if b.iter().all(|&d| d == b[0]) {
        return Err(WeakPassword::Repeated);
    }
    let steps: Vec<i16> = b.windows(2).map(|w| i16::from(w[1]) - i16::from(w[0])).collect();
    if steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == -1) {
        return Err(WeakPassword::Sequence);
    }
    Ok(())
}

/// A password with `failures` consecutive failures is locked once they
/// reach `max_failures` (`payment_password.max_failures`, at least 1): it
/// accepts nothing, not even the right password, until it is reset.
pub fn is_locked(failures: u32, max_failures: u32) -> bool {
    failures >= max_failures
}

/// Whether the failure that brought the count to `failures` is the one that
/// locked the password (so the lock is recorded exactly once).
pub fn locks_now(failures: u32, max_failures: u32) -> bool {
    failures == max_failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(check_new("12345"), Err(WeakPassword::NotSixDigits));
        assert_eq!(check_new("12345a"), Err(WeakPassword::NotSixDigits));
        assert_eq!(check_new("888888"), Err(WeakPassword::Repeated));
        assert_eq!(check_new("234567"), Err(WeakPassword::Sequence));
        assert_eq!(check_new("987654"), Err(WeakPassword::Sequence));
        assert_eq!(check_new("135790"), Ok(()));
    }

    #[test]
    fn the_default_limit_locks_on_the_third_failure() {
        assert!(!is_locked(2, 3));
        assert!(is_locked(3, 3) && locks_now(3, 3));
        assert!(is_locked(4, 3) && !locks_now(4, 3));
    }

    proptest! {
        /// Counting failures one by one from zero, the password locks exactly
        /// once, at the configured limit, and stays locked after it.
        #[test]
        fn a_sequence_of_failures_locks_once_at_the_limit(max in 1u32..20, attempts in 0u32..40) {
            let mut locks = 0;
            let mut locked_at = None;
            for n in 1..=attempts {
                if locks_now(n, max) {
                    locks += 1;
                    locked_at = Some(n);
                }
                prop_assert_eq!(is_locked(n, max), n >= max);
                prop_assert!(!is_locked(n - 1, max) || is_locked(n, max), "a lock never lifts by counting");
            }
            prop_assert_eq!(locks, u32::from(attempts >= max));
            prop_assert_eq!(locked_at, (attempts >= max).then_some(max));
        }
    }
}
