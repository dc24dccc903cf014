//! Review-queue ports (SPEC ID3, ID4, ID8, OP1): cases and decisions as stored.

use super::StoreError;
use super::audit::AuditEntry;
use super::ids::Ids;
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_domain::{CaseId, OperatorId, UserId};
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
    pub operator_id: OperatorId,
    pub approve: bool,
    pub note: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRow {
    pub id: CaseId,
    pub kind: CaseKind,
    pub subject: UserId,
    /// What is reviewed: a verification id, or the freeze's user id.
    pub reference: String,
    pub status: CaseStatus,
    pub steps_required: u32,
    pub created_at: Timestamp,
    pub sla_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    /// When its SLA breach was escalated to the operators on duty (once per case).
    pub escalated_at: Option<Timestamp>,
    /// The operator who holds the case now (claimed and not released).
    pub claimed_by: Option<OperatorId>,
    pub decisions: Vec<Decision>,
}

impl CaseRow {
    /// A new open case; `sla` is the first-response target.
    pub fn open(ids: &dyn Ids, kind: CaseKind, subject: &UserId, reference: &str, steps: u32, sla: SignedDuration, now: Timestamp) -> Self {
        Self {
            id: ids.case(),
            kind,
            subject: subject.clone(),
            reference: reference.to_owned(),
            status: CaseStatus::Open,
            steps_required: steps,
            created_at: now,
            sla_due_at: now.checked_add(sla).unwrap_or(now),
            first_response_at: None,
            escalated_at: None,
            claimed_by: None,
            decisions: Vec::new(),
        }
    }

    pub fn breached(&self, now: Timestamp) -> bool {
        self.status == CaseStatus::Open && self.first_response_at.is_none_or(|t| t > self.sla_due_at) && now > self.sla_due_at
    }
}

#[async_trait]
pub trait ReviewStore: Send + Sync {
    async fn case(&self, id: &CaseId) -> Result<Option<CaseRow>, StoreError>;
    /// Cases by status (and kind), oldest first.
    async fn cases(&self, status: CaseStatus, kind: Option<CaseKind>, limit: u32) -> Result<Vec<CaseRow>, StoreError>;
    /// Records a first response (claim) if none yet.
    async fn claim_case(&self, id: &CaseId, operator_id: &OperatorId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Gives a claimed case back to the queue; false unless `operator_id` holds it and it is open.
    async fn release_case(&self, id: &CaseId, operator_id: &OperatorId, audit: &AuditEntry) -> Result<bool, StoreError>;
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
    /// The open cases past their first-response SLA (see [`CaseRow::breached`]), most overdue first,
    /// at most `limit`, without their decisions.
    async fn breached_cases(&self, now: Timestamp, limit: u32) -> Result<Vec<CaseRow>, StoreError>;
    /// Marks the case escalated and writes `event` (the page to the operators on duty) with
    /// `audit`, if the case is open and not escalated yet; false (nothing written) otherwise.
    async fn escalate_case(&self, id: &CaseId, at: Timestamp, event: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError>;
}
