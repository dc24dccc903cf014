//! The one reading of a failed call as "unavailable, retry after …": an
//! announced maintenance gives the institution's own `Retry-After` and
//! expected end, an open circuit its remaining wait, anything else
//! (timeout, transport, 5xx, protocol) 5 s. Each kind's port adapter turns
//! it into its core port's unavailable type with a `From<CallError>` that
//! goes through [`Unavailable::from`].

use crate::executor::CallError;
use jiff::Timestamp;

/// What the caller is told when no answer came.
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// A failed call as "unavailable".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable {
    pub retry_after_secs: u64,
    /// When the institution announced the end of its maintenance, if it did.
    pub expected_end: Option<Timestamp>,
}

impl From<CallError> for Unavailable {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Maintenance { retry_after_secs, expected_end, .. } => Self { retry_after_secs, expected_end },
            CallError::CircuitOpen { retry_after_secs, .. } => Self { retry_after_secs, expected_end: None },
            other => {
                tracing::warn!(error = %other, "institution call failed");
                Self { retry_after_secs: DEFAULT_RETRY_AFTER_SECS, expected_end: None }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_core::ports::auth::SendError;
    use idlink_core::ports::face::FaceUnavailable;
    use idlink_core::ports::identity::RegistryUnavailable;

    #[test]
    fn maintenance_and_an_open_circuit_say_how_long_anything_else_5_s() {
        let end = Timestamp::from_second(1_800_000_000).ok();
        let m = CallError::Maintenance { institution: "registry".into(), retry_after_secs: 1800, expected_end: end };
        assert_eq!(RegistryUnavailable::from(m), RegistryUnavailable { retry_after_secs: 1800, expected_end: end });
        let open = CallError::CircuitOpen {
            institution: "face".into(),
            channel: "provider".into(),
            until: Timestamp::UNIX_EPOCH,
            retry_after_secs: 12,
        };
        assert_eq!(FaceUnavailable::from(open), FaceUnavailable { retry_after_secs: 12 });
        let t = CallError::Timeout { institution: "sms".into() };
        assert_eq!(SendError::from(t), SendError::Unavailable { retry_after_secs: 5 });
    }
}
