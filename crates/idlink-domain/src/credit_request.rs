//! A credit-report request's life (SPEC CR2–CR3, issue 15): the states it
//! moves through, what moves it, what the user is told to expect, and the
//! quota rule (two free reports per calendar year in Asia/Shanghai, a fee
//! after that, refunded when no report comes of it).
//!
//! ```text
//! requested → verifying → fetching → ready
//!                  │           ├───→ in_review → ready | rejected
//!                  │           ├───→ rejected
//!                  └→ failed   └───→ failed
//! ```
//!
//! `ready`, `rejected` and `failed` are final. Only a request that ends
//! `ready` uses its free report or keeps its fee.

use crate::Fen;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Accepted, quoted (and paid, if a fee is due); verification not started.
    Requested,
    /// The user is proving who they are (face, bank card or certificate).
    Verifying,
    /// Verified; the bureau is preparing the report.
    Fetching,
    /// The bureau holds it until an operator has reviewed it.
    InReview,
    Ready,
    Rejected,
    Failed,
}

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestEvent {
    /// A verification method was chosen and started.
    VerificationStarted,
    /// The verification passed: the bureau is asked.
    Verified,
    /// The verification failed for good (attempts used up, or expired).
    VerificationFailed,
    /// The bureau answered with the report.
    ReportReceived,
    /// The bureau asked for a manual review.
    ReviewRequired,
    /// The operator approved the review.
    ReviewApproved,
    /// The operator, or the bureau, refused the request.
    Refused,
    /// The bureau could not answer in time, or the payment did not go through.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {from:?} cannot take {event:?}")]
pub struct TransitionError {
    pub from: RequestState,
    pub event: RequestEvent,
}

impl RequestState {
    pub const ALL: [RequestState; 7] = [
        RequestState::Requested,
        RequestState::Verifying,
        RequestState::Fetching,
        RequestState::InReview,
        RequestState::Ready,
        RequestState::Rejected,
        RequestState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Verifying => "verifying",
            RequestState::Fetching => "fetching",
            RequestState::InReview => "in_review",
            RequestState::Ready => "ready",
            RequestState::Rejected => "rejected",
            RequestState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, RequestState::Ready | RequestState::Rejected | RequestState::Failed)
    }

    /// The state `event` moves this one to, if it may.
    pub fn next(self, event: RequestEvent) -> Result<RequestState, TransitionError> {
        use RequestEvent as E;
        use RequestState as S;
        let to = match (self, event) {
            (S::Requested, E::VerificationStarted) | (S::Verifying, E::VerificationStarted) => S::Verifying,
            (S::Requested | S::Verifying, E::Verified) => S::Fetching,
            (S::Requested | S::Verifying, E::VerificationFailed) => S::Failed,
            (S::Fetching | S::InReview, E::ReportReceived) => S::Ready,
            (S::Fetching, E::ReviewRequired) => S::InReview,
            // Approval releases the report at the bureau; the report's arrival makes it ready.
            (S::InReview, E::ReviewApproved) => S::Fetching,
            (S::Fetching | S::InReview, E::Refused) => S::Rejected,
            (S::Requested | S::Verifying | S::Fetching | S::InReview, E::Failed) => S::Failed,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(to)
    }

    /// How long this state usually lasts, for "expected by …" (the review's
    /// is the configured SLA; final states expect nothing).
    pub fn expected_wait(self, review_sla: SignedDuration) -> Option<SignedDuration> {
        match self {
            RequestState::Requested | RequestState::Verifying => Some(SignedDuration::from_mins(5)),
            RequestState::Fetching => Some(SignedDuration::from_mins(2)),
            RequestState::InReview => Some(review_sla),
            RequestState::Ready | RequestState::Rejected | RequestState::Failed => None,
        }
    }
}

/// What a new request will cost, told before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Free reports left this calendar year, before this one.
    pub free_left: u32,
    /// What this request costs: zero while free ones are left.
    pub fee: Fen,
}

/// The quote for a user who has `used` reports this year (requests not
/// ended `rejected` or `failed`, including those still under way).
pub fn quote(used: u32, free_per_year: u32, fee: Fen) -> Quote {
    let free_left = free_per_year.saturating_sub(used);
    Quote { free_left, fee: if free_left > 0 { Fen::ZERO } else { fee } }
}

/// How a user proves who they are for a request (SPEC CR1).
pub mod method {
    pub const FACE: &str = "face";
    pub const BANK_CARD: &str = "bank_card";
    pub const CERTIFICATE: &str = "certificate";
}

impl RequestState {
    /// Whether a request in this state got past its verification (the
    /// bureau was asked). A failed request is not counted: it may have
    /// failed its verification.
    pub fn passed_verification(self) -> bool {
        matches!(self, RequestState::Fetching | RequestState::InReview | RequestState::Ready | RequestState::Rejected)
    }
}

/// Whether a user may verify by certificate (SPEC CR1: "first use requires
/// a bound own card or a passed face check"): only once an earlier request
/// passed its verification by face or by a bound card. A certificate never
/// vouches for itself.
pub fn certificate_allowed<'a>(earlier: impl IntoIterator<Item = (Option<&'a str>, RequestState)>) -> bool {
    earlier.into_iter().any(|(m, state)| matches!(m, Some(method::FACE) | Some(method::BANK_CARD)) && state.passed_verification())
}

/// Whether a paid request that ended in `state` is refunded: no report, no fee.
pub fn refund_due(state: RequestState, paid: Fen) -> bool {
    paid > Fen::ZERO && matches!(state, RequestState::Rejected | RequestState::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_certificate_needs_an_earlier_face_or_card_verification() {
        use RequestState::*;
        assert!(!certificate_allowed([]));
        assert!(!certificate_allowed([(Some(method::CERTIFICATE), Ready)]), "a certificate never vouches for itself");
        assert!(!certificate_allowed([(Some(method::FACE), Verifying), (Some(method::BANK_CARD), Failed), (None, Requested)]));
        assert!(certificate_allowed([(Some(method::FACE), Ready)]));
        assert!(certificate_allowed([(Some(method::CERTIFICATE), Ready), (Some(method::BANK_CARD), InReview)]));
    }

    proptest! {
        /// Whatever the history, a certificate is allowed exactly when some
        /// earlier face or card verification got the bureau asked.
        #[test]
        fn the_certificate_rule_is_the_first_use_rule(history in proptest::collection::vec(
            (prop::sample::select(vec![None, Some(method::FACE), Some(method::BANK_CARD), Some(method::CERTIFICATE)]),
             prop::sample::select(vec![RequestState::Requested, RequestState::Verifying, RequestState::Fetching,
                 RequestState::InReview, RequestState::Ready, RequestState::Rejected, RequestState::Failed])),
            0..8,
        )) {
            let strong = history.iter().filter(|(m, _)| *m == Some(method::FACE) || *m == Some(method::BANK_CARD));
            let expected = strong.clone().any(|(_, s)| !matches!(s, RequestState::Requested | RequestState::Verifying | RequestState::Failed));
            prop_assert_eq!(certificate_allowed(history.iter().copied()), expected);
        }
    }

    const EVENTS: [RequestEvent; 8] = [
        RequestEvent::VerificationStarted,
        RequestEvent::Verified,
        RequestEvent::VerificationFailed,
        RequestEvent::ReportReceived,
        RequestEvent::ReviewRequired,
        RequestEvent::ReviewApproved,
        RequestEvent::Refused,
        RequestEvent::Failed,
    ];

    #[test]
    fn the_paths_of_the_issue() {
        use RequestEvent as E;
        let walk = |events: &[E]| events.iter().try_fold(RequestState::Requested, |s, e| s.next(*e));
        assert_eq!(walk(&[E::VerificationStarted, E::Verified, E::ReportReceived]), Ok(RequestState::Ready));
        assert_eq!(
            walk(&[E::VerificationStarted, E::Verified, E::ReviewRequired, E::ReviewApproved, E::ReportReceived]),
            Ok(RequestState::Ready)
        );
        assert_eq!(walk(&[E::VerificationStarted, E::Verified, E::ReviewRequired, E::Refused]), Ok(RequestState::Rejected));
        assert_eq!(walk(&[E::VerificationStarted, E::Verified, E::Failed]), Ok(RequestState::Failed));
        assert!(walk(&[E::Verified, E::ReviewApproved]).is_err(), "approval without a review");
        assert!(walk(&[E::ReportReceived]).is_err(), "a report before verification");
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn quota_and_refunds() {
        let fee = Fen(2_500);
        assert_eq!(quote(0, 2, fee), Quote { free_left: 2, fee: Fen::ZERO });
        assert_eq!(quote(1, 2, fee), Quote { free_left: 1, fee: Fen::ZERO });
        assert_eq!(quote(2, 2, fee), Quote { free_left: 0, fee });
        assert_eq!(quote(9, 2, fee), Quote { free_left: 0, fee });
        assert!(refund_due(RequestState::Failed, fee) && refund_due(RequestState::Rejected, fee));
        assert!(!refund_due(RequestState::Ready, fee) && !refund_due(RequestState::Failed, Fen::ZERO));
    }

    proptest! {
        /// Whatever happens, a final state never changes, no state skips
        /// verification to become ready, and every walk stays in the seven states.
        #[test]
        fn final_states_are_final_and_ready_needs_verification(events in proptest::collection::vec(0usize..EVENTS.len(), 0..20)) {
            let mut state = RequestState::Requested;
            let mut verified = false;
            for i in events {
                let event = EVENTS[i];
                match state.next(event) {
                    Ok(next) => {
                        prop_assert!(!state.is_final(), "{state:?} moved on {event:?}");
                        verified |= event == RequestEvent::Verified;
                        if next == RequestState::Ready {
                            prop_assert!(verified);
                        }
                        state = next;
                    }
                    Err(e) => prop_assert_eq!(e, TransitionError { from: state, event }),
                }
            }
            prop_assert_eq!(state.expected_wait(SignedDuration::from_hours(4)).is_none(), state.is_final());
        }

        /// A quote is free exactly while free reports are left, and never
        /// more than the configured fee.
        #[test]
        fn a_quote_is_free_until_the_quota_is_used(used in 0u32..10, free in 0u32..5, fee in 0i64..100_000) {
            let q = quote(used, free, Fen(fee));
            prop_assert_eq!(q.fee == Fen::ZERO, used < free || fee == 0);
            prop_assert!(q.free_left <= free);
        }
    }
}
