//! Social-security service requests (SPEC SS3): what a bound card's holder
//! can ask the bureau for, and how a request's status may move. The bureau
//! reports a status whenever asked; a report that would move a request
//! backwards (a stale read from the other channel) changes nothing.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// 异地就医备案: filing for medical treatment in another region.
    OffsiteMedicalFiling,
    /// 社保关系转移: moving the insurance relation to another region.
    RelationTransfer,
    /// 退休资格认证: the pensioner's periodic qualification check (by face).
    RetirementCertification,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 3] =
        [ServiceKind::OffsiteMedicalFiling, ServiceKind::RelationTransfer, ServiceKind::RetirementCertification];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::OffsiteMedicalFiling => "offsite_medical_filing",
            ServiceKind::RelationTransfer => "relation_transfer",
            ServiceKind::RetirementCertification => "retirement_certification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the request names the region it is about (the other region).
    pub fn needs_region(self) -> bool {
        matches!(self, ServiceKind::OffsiteMedicalFiling | ServiceKind::RelationTransfer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Submitted,
    Accepted,
    InProgress,
    Completed,
    Rejected,
}

impl ServiceStatus {
    pub const ALL: [ServiceStatus; 5] =
        [ServiceStatus::Submitted, ServiceStatus::Accepted, ServiceStatus::InProgress, ServiceStatus::Completed, ServiceStatus::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Submitted => "submitted",
            ServiceStatus::Accepted => "accepted",
            ServiceStatus::InProgress => "in_progress",
            ServiceStatus::Completed => "completed",
            ServiceStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, ServiceStatus::Completed | ServiceStatus::Rejected)
    }

    /// The status after the bureau reported `reported`: forward only, and
    /// nothing after a final one. `None`: no change.
    pub fn follow(self, reported: ServiceStatus) -> Option<ServiceStatus> {
        (!self.is_final() && reported > self).then_some(reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the bureau reports, in whatever order, a request only
        /// moves forward and never leaves a final status.
        #[test]
        fn a_status_only_moves_forward(reports in proptest::collection::vec(0usize..5, 0..30)) {
            let mut s = ServiceStatus::Submitted;
            for r in reports {
                let before = s;
                if let Some(next) = s.follow(ServiceStatus::ALL[r]) {
                    prop_assert!(next > before && !before.is_final());
                    s = next;
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for k in ServiceKind::ALL {
            assert_eq!(ServiceKind::parse(k.as_str()), Some(k));
        }
        for s in ServiceStatus::ALL {
            assert_eq!(ServiceStatus::parse(s.as_str()), Some(s));
        }
        assert!(ServiceKind::RelationTransfer.needs_region() && !ServiceKind::RetirementCertification.needs_region());
    }
}
