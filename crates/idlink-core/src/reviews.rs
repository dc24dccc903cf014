//! The operator review queue (SPEC ID3, ID4, ID8, OP1): cases with an SLA,
//! decided in a fixed number of steps by different operators (dual control).
//!
//! A case is opened in the same transaction as the state it reviews (a
//! verification waiting for review, a frozen account). Each decision is one
//! row keyed by (case, step) and unique per (case, operator), so two
//! operators cannot both take the same step and one operator cannot take
//! two. A rejection ends the case; the last approval applies its effect in
//! the same transaction.

use crate::audit::AuditEntry;
use crate::clock::Clock;
use crate::operators::{OperatorError, OperatorRow, Role, require};
use crate::ports::StoreError;
use async_trait::async_trait;
use idlink_domain::UserId;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A verification the machines could not decide: foreign documents (ID3), undecided checks.
    Verification,
    /// A risk freeze (ID8): approving it unfreezes the account.
    RiskFreeze,
    /// A minor's guardian link and its evidence (ID4).
    Guardian,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Verification => "verification",
            CaseKind::RiskFreeze => "risk_freeze",
            CaseKind::Guardian => "guardian",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CaseKind::Verification, CaseKind::RiskFreeze, CaseKind::Guardian].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Approved,
    Rejected,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CaseStatus::Open, CaseStatus::Approved, CaseStatus::Rejected].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub step: u32,
    pub operator_id: String,
    pub approve: bool,
    pub note: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub kind: CaseKind,
    pub subject: UserId,
    /// What is reviewed: a verification id, or the freeze's user id.
    pub reference: String,
    pub status: CaseStatus,
    pub steps_required: u32,
    pub created_at: Timestamp,
    pub sla_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub decisions: Vec<Decision>,
}

impl CaseRow {
    /// A new open case; `sla` is the first-response target.
    pub fn open(
        rng: &dyn idlink_crypto::Random,
        kind: CaseKind,
        subject: &UserId,
        reference: &str,
        steps: u32,
        sla: SignedDuration,
        now: Timestamp,
    ) -> Self {
        Self {
            id: format!("case_{}", hex::encode(rng.bytes16())),
            kind,
            subject: subject.clone(),
            reference: reference.to_owned(),
            status: CaseStatus::Open,
            steps_required: steps,
            created_at: now,
            sla_due_at: now.checked_add(sla).unwrap_or(now),
            first_response_at: None,
            decisions: Vec::new(),
        }
    }

    pub fn breached(&self, now: Timestamp) -> bool {
        self.status == CaseStatus::Open && self.first_response_at.is_none_or(|t| t > self.sla_due_at) && now > self.sla_due_at
    }
}

#[async_trait]
pub trait ReviewStore: Send + Sync {
    async fn case(&self, id: &str) -> Result<Option<CaseRow>, StoreError>;
    /// Cases by status (and kind), oldest first.
    async fn cases(&self, status: CaseStatus, kind: Option<CaseKind>, limit: u32) -> Result<Vec<CaseRow>, StoreError>;
    /// Records a first response (claim) if none yet.
    async fn claim_case(&self, id: &str, operator_id: &str, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Adds a decision as step `decision.step`; `outcome` set when it ends the case, with its effect.
    /// `Unique` when that step was taken concurrently or the operator already took a step.
    async fn decide_case(
        &self,
        case: &CaseRow,
        decision: &Decision,
        outcome: Option<CaseStatus>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Open cases past their first-response SLA, counted by kind.
    async fn sla_breaches(&self, now: Timestamp) -> Result<Vec<(CaseKind, u64)>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such case")]
    NotFound,
    #[error("the case is closed")]
    Closed,
    #[error("an operator who already decided a step of this case cannot take another: a different operator must")]
    SameOperator,
    #[error(transparent)]
    Operator(#[from] OperatorError),
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

    pub async fn claim(&self, op: &OperatorRow, case_id: &str) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        if case.status != CaseStatus::Open {
            return Err(ReviewError::Closed);
        }
        let now = self.clock.now();
        self.store.claim_case(case_id, &op.id, now, &Self::audit(op, &case, "review.claim", now)).await?;
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Takes the next step of a case. Approval needs `steps_required` different operators.
    pub async fn decide(&self, op: &OperatorRow, case_id: &str, approve: bool, note: &str) -> Result<CaseRow, ReviewError> {
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
