//! Real-name verification sessions (SPEC ID2): the status machine and the
//! machine-readable reasons with the guidance an app can show.
//!
//! `requires_input → processing → verified | rejected | review`; a session
//! in `review` ends `verified` or `rejected` by an operator. Nothing leaves a
//! final status.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    RequiresInput,
    Processing,
    Verified,
    Rejected,
    Review,
}

impl VerificationStatus {
    pub const ALL: [VerificationStatus; 5] = [Self::RequiresInput, Self::Processing, Self::Verified, Self::Rejected, Self::Review];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresInput => "requires_input",
            Self::Processing => "processing",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Review => "review",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Verified | Self::Rejected)
    }

    /// Whether the machine allows `self → to`.
    pub fn can_become(self, to: Self) -> bool {
        use VerificationStatus::*;
        matches!(
            (self, to),
            (RequiresInput, Processing) | (Processing, Verified | Rejected | Review | RequiresInput) | (Review, Verified | Rejected)
        )
    }
}

/// Why a verification did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationReason {
    /// The registry says name and ID number do not belong together.
    IdNumberMismatch,
    /// The registry has no such ID number.
    IdNumberNotFound,
    /// The phone is not registered to this person.
    PhoneMismatch,
    FaceMismatch,
    LivenessFailed,
    PoorLighting,
    /// The ID number is verified on another account.
    IdNumberBoundElsewhere,
    /// The bank says the card belongs to someone else.
    CardHolderMismatch,
    /// The bank has another phone reserved for the card.
    ReservedPhoneMismatch,
    /// The card is reported lost.
    CardReportedLost,
}

impl VerificationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdNumberMismatch => "id_number_mismatch",
            Self::IdNumberNotFound => "id_number_not_found",
            Self::PhoneMismatch => "phone_mismatch",
            Self::FaceMismatch => "face_mismatch",
            Self::LivenessFailed => "liveness_failed",
            Self::PoorLighting => "poor_lighting",
            Self::IdNumberBoundElsewhere => "id_number_bound_elsewhere",
            Self::CardHolderMismatch => "card_holder_mismatch",
            Self::ReservedPhoneMismatch => "reserved_phone_mismatch",
            Self::CardReportedLost => "card_reported_lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use VerificationReason::*;
        [
            IdNumberMismatch,
            IdNumberNotFound,
            PhoneMismatch,
            FaceMismatch,
            LivenessFailed,
            PoorLighting,
            IdNumberBoundElsewhere,
            CardHolderMismatch,
            ReservedPhoneMismatch,
            CardReportedLost,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// What the app can tell the user to do.
    pub fn guidance(self) -> &'static str {
        match self {
            Self::IdNumberMismatch => "Check the name and the number on the ID card; they must match exactly.",
            Self::IdNumberNotFound => "Check the number on the ID card, digit by digit.",
            Self::PhoneMismatch => "Use a phone number registered under your own name.",
            Self::FaceMismatch => "The face does not match the ID card's holder; the holder must verify in person.",
            Self::LivenessFailed => "Hold the phone yourself and face the camera; photos and screens are refused.",
            Self::PoorLighting => "Retry in daylight or a well-lit room, without light behind you.",
            Self::IdNumberBoundElsewhere => "This ID number is verified on another account; revoke it there first.",
            Self::CardHolderMismatch => "Use a bank card in your own name.",
            Self::ReservedPhoneMismatch => "Use the card whose bank has this phone number on record, or update the number at the bank.",
            Self::CardReportedLost => "This card is reported lost; use another card.",
        }
    }

    /// Whether trying again (with better input) can succeed.
    pub fn retryable(self) -> bool {
        !matches!(self, Self::FaceMismatch | Self::IdNumberBoundElsewhere | Self::CardReportedLost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_happy_path_and_review_are_allowed() {
        use VerificationStatus::*;
        assert!(RequiresInput.can_become(Processing));
        assert!(Processing.can_become(Verified));
        assert!(Processing.can_become(Review));
        assert!(Review.can_become(Rejected));
        assert!(!RequiresInput.can_become(Verified), "no verification without processing");
    }

    proptest! {
        /// From any start, any random walk along allowed transitions never
        /// leaves a final status and reaches `verified` only through `processing` or `review`.
        #[test]
        fn walks_never_leave_final_statuses(steps in proptest::collection::vec(0usize..5, 0..30)) {
            let mut s = VerificationStatus::RequiresInput;
            for i in steps {
                let to = VerificationStatus::ALL[i];
                if s.can_become(to) {
                    prop_assert!(!s.is_final(), "left final status {:?}", s);
                    if to == VerificationStatus::Verified {
                        prop_assert!(matches!(s, VerificationStatus::Processing | VerificationStatus::Review));
                    }
                    s = to;
                }
            }
        }
    }
}
