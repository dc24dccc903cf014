//! Money is an integer number of fen (0.01 yuan). Never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in fen. Arithmetic is checked: an overflow is an error, never a wrap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// Whole yuan, rounded toward zero.
    pub fn yuan(self) -> i64 {
        self.0 / 100
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({})", self.0)
    }
}

impl fmt::Display for Fen {
    /// `12.34`, `-0.05`: yuan with two decimals, computed on integers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_yuan_with_two_decimals() {
        assert_eq!(Fen(1234).to_string(), "12.34");
        assert_eq!(Fen(-5).to_string(), "-0.05");
        assert_eq!(Fen(i64::MIN).to_string(), "-92233720368547758.08");
    }

    proptest! {
        #[test]
        fn checked_add_never_wraps(a in any::<i64>(), b in any::<i64>()) {
            match Fen(a).checked_add(Fen(b)) {
                Some(sum) => prop_assert_eq!(i128::from(sum.0), i128::from(a) + i128::from(b)),
                None => prop_assert!(i128::from(a) + i128::from(b) > i128::from(i64::MAX)
                    || i128::from(a) + i128::from(b) < i128::from(i64::MIN)),
            }
        }
    }
}
