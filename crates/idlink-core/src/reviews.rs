//! The operator review queue (SPEC ID3, ID4, ID8, OP1): cases with an SLA,
//! decided in a fixed number of steps by different operators (dual control).
//!
//! A case is opened in the same transaction as the state it reviews (a
//! verification waiting for review, a frozen account). Each decision is one
//! row keyed by (case, step) and unique per (case, operator), so two
//! operators cannot both take the same step and one operator cannot take
//! two. A rejection ends the case; the last approval applies its effect in
//! the same transaction.

use crate::ports::reviews::{CaseKind, CaseRow, CaseStatus, Decision, ReviewStore};

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use idlink_domain::CaseId;
use jiff::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such case")]
    NotFound,
    #[error("the case is closed")]
    Closed,
    #[error("an operator who already decided a step of this case cannot take another: a different operator must")]
    SameOperator,
    #[error("the case is not held by this operator: only the operator who claimed it can release it")]
    NotClaimed,
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn role_for(kind: CaseKind) -> Role {
    match kind {
        CaseKind::Verification | CaseKind::RiskFreeze | CaseKind::Guardian => Role::Reviewer,
    }
}

pub struct Reviews<'a> {
    pub store: &'a dyn ReviewStore,
    pub clock: &'a dyn Clock,
}

impl Reviews<'_> {
    fn audit(op: &OperatorRow, case: &CaseRow, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("operator:{}", op.id), action, format!("review {}", case.kind.as_str()), at).subject(&case.subject)
    }

    pub async fn claim(&self, op: &OperatorRow, case_id: &CaseId) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        if case.status != CaseStatus::Open {
            return Err(ReviewError::Closed);
        }
        let now = self.clock.now();
        self.store.claim_case(case_id, &op.id, now, &Self::audit(op, &case, "review.claim", now)).await?;
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Gives a case this operator claimed back to the queue (the first
    /// response stays recorded: the SLA is about answering, not holding).
    pub async fn release(&self, op: &OperatorRow, case_id: &CaseId) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        if case.status != CaseStatus::Open {
            return Err(ReviewError::Closed);
        }
        let now = self.clock.now();
        if !self.store.release_case(case_id, &op.id, &Self::audit(op, &case, "review.release", now)).await? {
            return Err(ReviewError::NotClaimed);
        }
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Takes the next step of a case. Approval needs `steps_required` different operators.
    pub async fn decide(&self, op: &OperatorRow, case_id: &CaseId, approve: bool, note: &str) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        if case.status != CaseStatus::Open {
            return Err(ReviewError::Closed);
        }
        if case.decisions.iter().any(|d| d.operator_id == op.id) {
            return Err(ReviewError::SameOperator);
        }
        let now = self.clock.now();
        let step = u32::try_from(case.decisions.len()).unwrap_or(u32::MAX).saturating_add(1);
        let decision = Decision { step, operator_id: op.id.clone(), approve, note: note.to_owned(), at: now };
        let outcome = if !approve {
            Some(CaseStatus::Rejected)
        } else if step >= case.steps_required {
            Some(CaseStatus::Approved)
        } else {
            None
        };
        let action = match outcome {
            Some(CaseStatus::Approved) => "review.approve",
            Some(CaseStatus::Rejected) => "review.reject",
            _ => "review.approve_step",
        };
        match self.store.decide_case(&case, &decision, outcome, &Self::audit(op, &case, action, now)).await {
            Err(StoreError::Unique(_)) => Err(ReviewError::SameOperator),
            other => other.map_err(ReviewError::from),
        }?;
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }
}
