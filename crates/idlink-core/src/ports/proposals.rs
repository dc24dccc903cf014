//! Dual-control ports (issue 13, ADR 0015): proposals of sensitive operator
//! actions as stored, and what an approval changes with them.

use super::StoreError;
use super::audit::AuditEntry;
use super::reviews::{CaseRow, Decision};
use async_trait::async_trait;
use idlink_domain::{OperatorId, ProposalId};
use jiff::Timestamp;
use serde::Serialize;

/// A sensitive action that runs only when a second operator approves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProposalAction {
    /// Lift a risk freeze (SPEC ID8): approves its review case, unfreezing the account.
    #[serde(rename = "freeze.lift")]
    LiftFreeze,
    /// Add a new master key, make it active and re-wrap every data key under it (`idlink keys rotate`).
    #[serde(rename = "keys.rotate")]
    RotateMasterKey,
}

impl ProposalAction {
    pub const ALL: [ProposalAction; 2] = [ProposalAction::LiftFreeze, ProposalAction::RotateMasterKey];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalAction::LiftFreeze => "freeze.lift",
            ProposalAction::RotateMasterKey => "keys.rotate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Where a proposal stands. An expired proposal is one still `pending` past
/// its `expires_at`: nothing needs to run for it to expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    /// Approved by a second operator; the action ran (or, for a key rotation, runs now).
    Approved,
    Rejected,
    /// Approved, but the action failed when it ran (`result` says why).
    Failed,
}

impl ProposalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ProposalStatus::Pending, ProposalStatus::Approved, ProposalStatus::Rejected, ProposalStatus::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalRow {
    pub id: ProposalId,
    pub action: ProposalAction,
    /// The action's parameters as JSON text (`{"case_id": "case_…"}` for a freeze).
    pub params: String,
    pub proposed_by: OperatorId,
    pub created_at: Timestamp,
    /// After this instant the proposal cannot be approved.
    pub expires_at: Timestamp,
    pub status: ProposalStatus,
    pub decided_by: Option<OperatorId>,
    pub decided_at: Option<Timestamp>,
    /// The proposer's note, then the decider's (` / `-separated).
    pub note: String,
    /// What the action did (JSON text), or why it failed.
    pub result: Option<String>,
}

impl ProposalRow {
    pub fn expired(&self, now: Timestamp) -> bool {
        self.status == ProposalStatus::Pending && now >= self.expires_at
    }
}

/// What an approval changes in the same transaction as the proposal's decision.
#[derive(Debug, Clone, Copy)]
pub enum ApprovalEffect<'a> {
    /// Nothing in the database: the action runs after the decision commits (a key rotation).
    None,
    /// Adds `decisions` to the open `case` and closes it as approved, with its effect
    /// (a lifted freeze); fails with `Unique` if the case was closed meanwhile.
    /// `lifted`: a lifted freeze's lifecycle event (`account_enabled`); the
    /// user's suspended grants are active again in the same transaction.
    ApproveCase { case: &'a CaseRow, decisions: &'a [Decision], lifted: Option<&'a super::outbox::NewEvent> },
}

/// A decision on a proposal: who, approve (`Approved`) or reject (`Rejected`), why, when.
#[derive(Debug, Clone, Copy)]
pub struct ProposalDecision<'a> {
    pub decider: &'a OperatorId,
    pub status: ProposalStatus,
    pub note: &'a str,
    pub at: Timestamp,
}

#[async_trait]
pub trait ProposalStore: Send + Sync {
    async fn insert_proposal(&self, p: &ProposalRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn proposal(&self, id: &ProposalId) -> Result<Option<ProposalRow>, StoreError>;
    /// Proposals in `status`, newest first, at most `limit`.
    async fn proposals(&self, status: ProposalStatus, limit: u32) -> Result<Vec<ProposalRow>, StoreError>;
    /// Decides the proposal if it is still pending and, for an approval,
    /// unexpired at `at` and not proposed by `decider` (one conditional
    /// update: of concurrent deciders exactly one wins), applying `effect`
    /// and appending `audit` in the same transaction. False, with nothing
    /// written, otherwise.
    async fn decide_proposal(
        &self,
        id: &ProposalId,
        decision: &ProposalDecision<'_>,
        effect: ApprovalEffect<'_>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Records what an approved action did (`Approved`) or why it failed (`Failed`).
    async fn finish_proposal(&self, id: &ProposalId, status: ProposalStatus, result: &str, audit: &AuditEntry) -> Result<(), StoreError>;
}
