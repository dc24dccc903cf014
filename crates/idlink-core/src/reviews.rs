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
use crate::ports::ids::Ids;
use crate::ports::operators::{OperatorRow, OperatorStore, Role, RoleRequired, require};
use crate::steps::paging::breach_event;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::CaseId;
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such case")]
    NotFound,
    #[error("the case is closed")]
    Closed,
    #[error("an operator who already decided a step of this case cannot take another: a different operator must")]
    SameOperator,
    /// Approving a risk-freeze case lifts the freeze: a dual-control action (`crate::dual`).
    #[error("lifting a freeze takes a dual-control proposal approved by a second operator (action `freeze.lift`)")]
    DualControl,
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
        if approve && case.kind == CaseKind::RiskFreeze {
            return Err(ReviewError::DualControl);
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

    /// The breach board: open cases past their first-response SLA, most
    /// overdue first, with how long overdue and whether escalated.
    pub async fn breach_board(&self, op: &OperatorRow, limit: u32) -> Result<Vec<Breach>, ReviewError> {
        if require(op, Role::Auditor).is_err() {
            require(op, Role::Reviewer)?;
        }
        let now = self.clock.now();
        let cases = self.store.breached_cases(now, limit).await?;
        Ok(cases.into_iter().map(|case| Breach { overdue: now.duration_since(case.sla_due_at), case }).collect())
    }
}

/// A case on the breach board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub case: CaseRow,
    /// How long past its SLA.
    pub overdue: SignedDuration,
}

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

/// Escalates SLA breaches (issue 13): each breached case pages the operators
/// on duty who may act on it, through one outbox event, exactly once per
/// case (the case is marked escalated in the event's transaction).
pub struct Escalations<'a> {
    pub reviews: &'a dyn ReviewStore,
    pub operators: &'a dyn OperatorStore,
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
}

impl Escalations<'_> {
    /// Escalates every breached case not escalated yet; answers how many this call escalated.
    pub async fn run(&self) -> Result<u64, EscalationError> {
        let now = self.clock.now();
        let pending: Vec<CaseRow> = self.reviews.breached_cases(now, 500).await?.into_iter().filter(|c| c.escalated_at.is_none()).collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let on_duty: Vec<OperatorRow> = self.operators.operators().await?.into_iter().filter(|o| o.on_duty).collect();
        let mut escalated = 0;
        for case in &pending {
            let paged: Vec<_> = on_duty.iter().filter(|o| require(o, role_for(case.kind)).is_ok()).map(|o| o.id.clone()).collect();
            let who = paged.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let event = breach_event::<EscalationError>(self.vault, self.ids, now, case, paged)?;
            let purpose = format!(
                "review {} past its SLA ({}); paged: {}",
                case.kind.as_str(),
                case.id,
                if who.is_empty() { "nobody on duty" } else { &who }
            );
            let audit = AuditEntry::new("system:sla", "review.escalate", purpose, now).subject(&case.subject);
            if self.reviews.escalate_case(&case.id, now, &event, &audit).await? {
                escalated += 1;
                metrics::counter!("idlink_review_sla_escalations_total", "kind" => case.kind.as_str()).increment(1);
            }
        }
        Ok(escalated)
    }
}
