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
    /// A social-security card binding frozen on a theft-binding risk (SS4):
    /// approving it lets the binding go on, rejecting it ends the binding.
    CardRisk,
    /// A minor's or a foreign document holder's request to revoke their real
    /// name or cancel their account (RV3): approving it lets the user confirm
    /// the operation for a while; rejecting it leaves everything as it was.
    Revocation,
}

impl CaseKind {
    pub const ALL: [CaseKind; 5] =
        [CaseKind::Verification, CaseKind::RiskFreeze, CaseKind::Guardian, CaseKind::CardRisk, CaseKind::Revocation];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Verification => "verification",
            CaseKind::RiskFreeze => "risk_freeze",
            CaseKind::Guardian => "guardian",
            CaseKind::CardRisk => "card_risk",
            CaseKind::Revocation => "revocation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    /// An operator asked the user for more information; the user's answer reopens it.
    #[serde(rename = "waiting_user")]
    WaitingForUser,
    Approved,
    Rejected,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 4] = [CaseStatus::Open, CaseStatus::WaitingForUser, CaseStatus::Approved, CaseStatus::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::WaitingForUser => "waiting_user",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why an operator asks the user for more information: a fixed list, each
/// worded for the user (H5 `identity-info-reason-<code>`) and the operator
/// (`console-info-reason-<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoReason {
    DocumentUnreadable,
    DocumentExpired,
    PhotoPageMissing,
    GuardianProofMissing,
}

impl InfoReason {
    pub const ALL: [InfoReason; 4] =
        [InfoReason::DocumentUnreadable, InfoReason::DocumentExpired, InfoReason::PhotoPageMissing, InfoReason::GuardianProofMissing];

    pub fn as_str(self) -> &'static str {
        match self {
            InfoReason::DocumentUnreadable => "document_unreadable",
            InfoReason::DocumentExpired => "document_expired",
            InfoReason::PhotoPageMissing => "photo_page_missing",
            InfoReason::GuardianProofMissing => "guardian_proof_missing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A request for more information on a case, and the user's answer once given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfoRequest {
    /// 1, 2, … in the case.
    pub seq: u32,
    pub operator_id: OperatorId,
    pub reason: InfoReason,
    /// The operator's words to the user (may be empty), sealed under the
    /// user's data key in [`crate::reviews::note_context`] (they are about
    /// the user's documents): opened only in the user's own view and in
    /// [`crate::reviews::read_answers`], an audited read.
    #[serde(skip)]
    pub note_cipher: Vec<u8>,
    pub requested_at: Timestamp,
    /// The user's words, sealed under their data key in
    /// [`crate::reviews::answer_context`] (opened only by
    /// [`crate::reviews::read_answers`], an audited read).
    #[serde(skip)]
    pub answer_cipher: Option<Vec<u8>>,
    pub answered_at: Option<Timestamp>,
    /// What the answer sent again besides words: `document` (a new document
    /// number) or `evidence` (new guardian evidence); none for words only.
    pub resent: Option<String>,
}

/// What the user's answer changes in the reviewed state besides the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerChange {
    /// Words only.
    Nothing,
    /// The document of a verification sent again (sealed under the user's key).
    Document { id_cipher: Vec<u8>, id_index: String, birth_cipher: Option<Vec<u8>> },
    /// The guardian link's evidence sent again.
    Evidence { evidence_ref: String },
}

impl AnswerChange {
    /// What was sent again (`review_requests.resent`), if anything.
    pub fn resent(&self) -> Option<&'static str> {
        match self {
            AnswerChange::Nothing => None,
            AnswerChange::Document { .. } => Some("document"),
            AnswerChange::Evidence { .. } => Some("evidence"),
        }
    }
}

/// The user's answer to the open request `seq` of `case`.
#[derive(Debug, Clone)]
pub struct InfoAnswer<'a> {
    pub case: &'a CaseRow,
    pub seq: u32,
    /// The user's words, sealed under their data key.
    pub answer_cipher: Vec<u8>,
    pub at: Timestamp,
    /// The new first-response target (the SLA starts again with the answer).
    pub sla_due_at: Timestamp,
    pub change: AnswerChange,
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
    /// The steps taken on the case's current evidence (see `voided_decisions`).
    pub decisions: Vec<Decision>,
    /// Steps taken before a user's answer changed the evidence (a new document
    /// number, new guardian evidence): void, the case needs all its steps again.
    pub voided_decisions: Vec<Decision>,
    /// Requests for more information from the user, oldest first.
    pub requests: Vec<InfoRequest>,
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
            voided_decisions: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// The request the user has not answered yet, if the case waits for them.
    pub fn open_request(&self) -> Option<&InfoRequest> {
        self.requests.iter().rev().find(|r| r.answered_at.is_none()).filter(|_| self.status == CaseStatus::WaitingForUser)
    }

    /// When the current SLA period started: the case's opening, or the user's last answer.
    pub fn sla_started_at(&self) -> Timestamp {
        self.requests.iter().filter_map(|r| r.answered_at).max().unwrap_or(self.created_at)
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
    /// `event` (an approved verification's lifecycle event) is written in the same transaction.
    async fn decide_case(
        &self,
        case: &CaseRow,
        decision: &Decision,
        outcome: Option<CaseStatus>,
        event: Option<&NewEvent>,
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
    /// Adds `request` to the case and moves it to `waiting_user` (recording the
    /// first response if none yet, releasing the claim), with `notice` to the
    /// user, if the case is open and held by `request.operator_id`; false otherwise.
    async fn request_info(&self, id: &CaseId, request: &InfoRequest, notice: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Fills the open request with the answer, applies its change and puts the
    /// case back in the queue (open, a new SLA, not escalated, first response
    /// to come), if the case still waits for that request; false otherwise.
    /// A change (document, evidence) voids the decisions taken so far (moved
    /// to `voided_decisions`), in the same transaction.
    async fn answer_info(&self, answer: &InfoAnswer<'_>, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// The cases about `subject` waiting for their answer, oldest first.
    async fn waiting_for(&self, subject: &UserId) -> Result<Vec<CaseRow>, StoreError>;
    /// The open case of `kind` reviewing `reference` (a verification id, a guardianship id), or else the latest.
    async fn case_for(&self, kind: CaseKind, reference: &str) -> Result<Option<CaseRow>, StoreError>;
}
