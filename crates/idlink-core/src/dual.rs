//! Dual control (maker/checker) of the most sensitive operator actions
//! (issue 13, SPEC P5; ADR 0015): lifting a risk freeze and rotating the
//! master key.
//!
//! One operator **proposes** (a stored proposal: action, parameters,
//! proposer, expiry after the configured window); a second operator with
//! the action's role **approves** within the window, or anyone with the
//! role rejects (the proposer withdrawing included). The proposer can never
//! approve their own proposal, an expired one cannot be approved, and the
//! action runs only on approval and exactly once: the approval is one
//! conditional update (`status = 'pending' AND expires_at > now AND
//! proposed_by <> approver`), so of concurrent approvers exactly one wins.
//! A freeze is lifted in that same transaction (the case gets both
//! operators' decisions and closes); a key rotation runs after it commits,
//! and its result is recorded on the proposal. The audit records name both
//! operators.

use crate::ports::proposals::{ApprovalEffect, ProposalAction, ProposalDecision, ProposalRow, ProposalStatus, ProposalStore};

use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::keys::{KeyStore, MasterKeyFile};
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use crate::ports::reviews::{CaseKind, CaseRow, CaseStatus, Decision, ReviewStore};
use crate::vault::Vault;
use idlink_domain::{CaseId, ProposalId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum DualControlError {
    #[error("no such proposal")]
    NotFound,
    #[error("the proposal was decided already")]
    Decided,
    #[error("the proposal expired at {0}: propose the action again")]
    Expired(Timestamp),
    #[error("the operator who proposed an action cannot approve it: a second operator must")]
    OwnProposal,
    #[error("no such open risk-freeze case")]
    CaseNotFound,
    #[error("the case is closed")]
    CaseClosed,
    /// This server has no keyring file it may rewrite (no `crypto.master_key_file`).
    #[error("master-key rotation is not available on this server")]
    RotationUnavailable,
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An action as proposed, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposed {
    LiftFreeze { case_id: CaseId },
    RotateMasterKey,
}

impl Proposed {
    pub fn action(&self) -> ProposalAction {
        match self {
            Proposed::LiftFreeze { .. } => ProposalAction::LiftFreeze,
            Proposed::RotateMasterKey => ProposalAction::RotateMasterKey,
        }
    }
}

/// The stored parameters of a freeze lift.
#[derive(Debug, Serialize, Deserialize)]
struct FreezeParams {
    case_id: CaseId,
}

/// The role an action needs, of its proposer and of its approver.
pub fn role_for(action: ProposalAction) -> Role {
    match action {
        ProposalAction::LiftFreeze => Role::Reviewer,
        ProposalAction::RotateMasterKey => Role::Admin,
    }
}

pub struct DualControl<'a> {
    pub proposals: &'a dyn ProposalStore,
    pub reviews: &'a dyn ReviewStore,
    pub keys: &'a dyn KeyStore,
    pub vault: &'a Vault,
    /// The keyring file a rotation adds its key to; `None` where rotation is not offered.
    pub keyring: Option<&'a dyn MasterKeyFile>,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    /// How long a proposal waits for its second operator (`review.dual_control_window_minutes`).
    pub window: SignedDuration,
}

fn actor(op: &OperatorRow) -> String {
    format!("operator:{}", op.id)
}

impl DualControl<'_> {
    async fn open_freeze_case(&self, id: &CaseId) -> Result<CaseRow, DualControlError> {
        let case = self.reviews.case(id).await?.filter(|c| c.kind == CaseKind::RiskFreeze).ok_or(DualControlError::CaseNotFound)?;
        if case.status != CaseStatus::Open {
            return Err(DualControlError::CaseClosed);
        }
        Ok(case)
    }

    /// Proposes `action`; it runs once a second operator approves it within the window.
    pub async fn propose(&self, op: &OperatorRow, action: Proposed, note: &str) -> Result<ProposalRow, DualControlError> {
        require(op, role_for(action.action()))?;
        let now = self.clock.now();
        let (params, subject) = match &action {
            Proposed::LiftFreeze { case_id } => {
                let case = self.open_freeze_case(case_id).await?;
                let params = serde_json::to_string(&FreezeParams { case_id: case.id.clone() })
                    .map_err(|e| StoreError::Corrupt(format!("proposal parameters: {e}")))?;
                (params, Some(case.subject))
            }
            Proposed::RotateMasterKey => {
                if self.keyring.is_none() {
                    return Err(DualControlError::RotationUnavailable);
                }
                ("{}".to_owned(), None)
            }
        };
        let p = ProposalRow {
            id: self.ids.proposal(),
            action: action.action(),
            params,
            proposed_by: op.id.clone(),
            created_at: now,
            expires_at: now.checked_add(self.window).unwrap_or(now),
            status: ProposalStatus::Pending,
            decided_by: None,
            decided_at: None,
            note: note.to_owned(),
            result: None,
        };
        let mut audit = AuditEntry::new(actor(op), "dual.propose", format!("{} ({})", p.action.as_str(), p.id), now);
        if let Some(user) = &subject {
            audit = audit.subject(user);
        }
        self.proposals.insert_proposal(&p, &audit).await?;
        Ok(p)
    }

    pub async fn proposal(&self, op: &OperatorRow, id: &ProposalId) -> Result<ProposalRow, DualControlError> {
        let p = self.proposals.proposal(id).await?.ok_or(DualControlError::NotFound)?;
        require(op, role_for(p.action))?;
        Ok(p)
    }

    /// Proposals in `status` whose action `op` may decide (pending ones include the expired:
    /// see [`ProposalRow::expired`]), newest first.
    pub async fn list(&self, op: &OperatorRow, status: ProposalStatus, limit: u32) -> Result<Vec<ProposalRow>, DualControlError> {
        let all = self.proposals.proposals(status, limit).await?;
        Ok(all.into_iter().filter(|p| require(op, role_for(p.action)).is_ok()).collect())
    }

    /// The open (pending, unexpired) proposal to lift the freeze of case `case_id`, if any.
    pub async fn pending_freeze_lift(&self, op: &OperatorRow, case_id: &CaseId) -> Result<Option<ProposalRow>, DualControlError> {
        let now = self.clock.now();
        Ok(self.list(op, ProposalStatus::Pending, 200).await?.into_iter().find(|p| {
            p.action == ProposalAction::LiftFreeze
                && !p.expired(now)
                && serde_json::from_str::<FreezeParams>(&p.params).is_ok_and(|f| f.case_id == *case_id)
        }))
    }

    /// Why a decision on `p` by `op` cannot be taken (checked again by the store's conditional update).
    fn refusal(&self, p: &ProposalRow, op: &OperatorRow, approving: bool, now: Timestamp) -> Option<DualControlError> {
        if p.status != ProposalStatus::Pending {
            Some(DualControlError::Decided)
        } else if approving && p.proposed_by == op.id {
            Some(DualControlError::OwnProposal)
        } else if approving && p.expired(now) {
            Some(DualControlError::Expired(p.expires_at))
        } else {
            None
        }
    }

    /// Approves a proposal as its second operator and runs its action, once.
    pub async fn approve(&self, op: &OperatorRow, id: &ProposalId, note: &str) -> Result<ProposalRow, DualControlError> {
        let p = self.proposal(op, id).await?;
        let now = self.clock.now();
        if let Some(refusal) = self.refusal(&p, op, true, now) {
            return Err(refusal);
        }
        let what = format!("{} ({}) proposed by operator:{}, approved by operator:{}", p.action.as_str(), p.id, p.proposed_by, op.id);
        let mut audit = AuditEntry::new(actor(op), "dual.approve", what.clone(), now);
        let won = match p.action {
            ProposalAction::LiftFreeze => {
                let params: FreezeParams =
                    serde_json::from_str(&p.params).map_err(|e| StoreError::Corrupt(format!("proposal {} parameters: {e}", p.id)))?;
                let case = self.open_freeze_case(&params.case_id).await?;
                audit = audit.subject(&case.subject);
                let step = u32::try_from(case.decisions.len()).unwrap_or(u32::MAX);
                let decisions = [
                    Decision {
                        step: step.saturating_add(1),
                        operator_id: p.proposed_by.clone(),
                        approve: true,
                        note: p.note.clone(),
                        at: p.created_at,
                    },
                    Decision { step: step.saturating_add(2), operator_id: op.id.clone(), approve: true, note: note.to_owned(), at: now },
                ];
                let lifecycle = crate::ports::events::Lifecycle {
                    kind: crate::ports::events::LifecycleType::AccountEnabled,
                    user: case.subject.clone(),
                    at: now,
                    actor: format!("operator:{}", op.id),
                    client: None,
                    sessions: Vec::new(),
                    reason: Some("review".into()),
                };
                let lifted = crate::events::lifecycle_store_event(self.vault, self.ids, &lifecycle)?;
                let effect = ApprovalEffect::ApproveCase { case: &case, decisions: &decisions, lifted: Some(&lifted) };
                match self
                    .proposals
                    .decide_proposal(
                        &p.id,
                        &ProposalDecision { decider: &op.id, status: ProposalStatus::Approved, note, at: now },
                        effect,
                        &audit,
                    )
                    .await
                {
                    // The case was decided meanwhile (or one of the two already took a step of it).
                    Err(StoreError::Unique(_)) => return Err(DualControlError::CaseClosed),
                    other => other?,
                }
            }
            ProposalAction::RotateMasterKey => {
                self.proposals
                    .decide_proposal(
                        &p.id,
                        &ProposalDecision { decider: &op.id, status: ProposalStatus::Approved, note, at: now },
                        ApprovalEffect::None,
                        &audit,
                    )
                    .await?
            }
        };
        if !won {
            // Another approver or a rejection came first, or the window closed meanwhile.
            let fresh = self.proposals.proposal(id).await?.ok_or(DualControlError::NotFound)?;
            return Err(self.refusal(&fresh, op, true, self.clock.now()).unwrap_or(DualControlError::Decided));
        }
        if p.action == ProposalAction::RotateMasterKey {
            self.run_rotation(&p, op, &what).await?;
        }
        self.proposals.proposal(id).await?.ok_or(DualControlError::NotFound)
    }

    /// Runs an approved rotation (this call won the approval) and records its result.
    async fn run_rotation(&self, p: &ProposalRow, op: &OperatorRow, what: &str) -> Result<(), DualControlError> {
        let outcome = match self.keyring {
            Some(file) => self.vault.rotate_master(file, self.keys).await.map_err(|e| e.to_string()),
            None => Err(DualControlError::RotationUnavailable.to_string()),
        };
        let now = self.clock.now();
        let (status, result, audit) = match outcome {
            Ok(rotation) => {
                tracing::info!(proposal = %p.id, key = %rotation.key_id, rewrapped = rotation.report.rewrapped, "master key rotated under dual control");
                let result = serde_json::to_string(&rotation).map_err(|e| StoreError::Corrupt(format!("rotation result: {e}")))?;
                let audit =
                    AuditEntry::new(actor(op), crate::keystatus::ROTATE_ACTION, format!("{what}: new master key {}", rotation.key_id), now);
                (ProposalStatus::Approved, result, audit)
            }
            Err(e) => {
                tracing::error!(proposal = %p.id, error = %e, "a master-key rotation approved under dual control failed");
                let audit = AuditEntry::new(actor(op), crate::keystatus::ROTATE_ACTION, what.to_owned(), now).outcome(Outcome::Failed);
                (ProposalStatus::Failed, e, audit)
            }
        };
        self.proposals.finish_proposal(&p.id, status, &result, &audit).await?;
        Ok(())
    }

    /// Rejects a pending proposal (its proposer may withdraw it); nothing runs.
    pub async fn reject(&self, op: &OperatorRow, id: &ProposalId, note: &str) -> Result<ProposalRow, DualControlError> {
        let p = self.proposal(op, id).await?;
        let now = self.clock.now();
        if let Some(refusal) = self.refusal(&p, op, false, now) {
            return Err(refusal);
        }
        let what = format!("{} ({}) proposed by operator:{}, rejected by operator:{}", p.action.as_str(), p.id, p.proposed_by, op.id);
        let audit = AuditEntry::new(actor(op), "dual.reject", what, now).outcome(Outcome::Denied);
        if !self
            .proposals
            .decide_proposal(
                &p.id,
                &ProposalDecision { decider: &op.id, status: ProposalStatus::Rejected, note, at: now },
                ApprovalEffect::None,
                &audit,
            )
            .await?
        {
            return Err(DualControlError::Decided);
        }
        self.proposals.proposal(id).await?.ok_or(DualControlError::NotFound)
    }
}
