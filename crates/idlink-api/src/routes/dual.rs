//! `/v1/operator/proposals`, `/v1/operator/breaches`, `/v1/operator/operators`:
//! dual control of sensitive operator actions (propose, list, approve,
//! reject; ADR 0015), the board of review cases past their SLA, and who is
//! on duty to be paged about them (issue 13). One core use case per
//! handler; the operator console calls the same endpoints.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::problem::{FieldError, Problem};
use crate::routes::operator::{Operator, OperatorAuth};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::dual::Proposed;
use idlink_core::ports::proposals::{ProposalAction, ProposalRow, ProposalStatus};
use idlink_domain::{CaseId, OperatorId, PhoneNumber, ProposalId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A dual-control proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Proposal {
    #[schema(example = "prp_0123456789abcdef0123456789abcdef")]
    pub id: String,
    /// `freeze.lift` or `keys.rotate`.
    pub action: String,
    /// The case a `freeze.lift` lifts.
    pub case_id: Option<String>,
    /// The operator who proposed it.
    pub proposed_by: String,
    pub created_at: String,
    /// It cannot be approved from this instant on.
    pub expires_at: String,
    /// `pending`, `approved`, `rejected`, `failed` (approved, but the action failed), or `expired`
    /// (pending past `expires_at`: it can only be rejected).
    pub status: String,
    /// The second operator, who approved or rejected it (or the proposer, who withdrew it).
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// The proposer's note, then the decider's.
    pub note: String,
    /// What the action did (for `keys.rotate`: the new key id and the data keys re-wrapped), or why it failed.
    pub result: Option<serde_json::Value>,
}

fn proposal_view(p: ProposalRow, now: jiff::Timestamp) -> Proposal {
    let expired = p.expired(now);
    let case_id = serde_json::from_str::<serde_json::Value>(&p.params)
        .ok()
        .and_then(|v| v.get("case_id").and_then(|c| c.as_str()).map(str::to_owned));
    Proposal {
        id: p.id.into(),
        action: p.action.as_str().to_owned(),
        case_id,
        proposed_by: p.proposed_by.into(),
        created_at: p.created_at.to_string(),
        expires_at: p.expires_at.to_string(),
        status: if expired { "expired".to_owned() } else { p.status.as_str().to_owned() },
        decided_by: p.decided_by.map(Into::into),
        decided_at: p.decided_at.map(|t| t.to_string()),
        note: p.note,
        result: p.result.map(|r| serde_json::from_str(&r).unwrap_or(serde_json::Value::String(r))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Proposals {
    pub proposals: Vec<Proposal>,
}

/// Body of `POST /v1/operator/proposals`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    /// `freeze.lift` (needs `case_id`; role reviewer) or `keys.rotate` (role admin).
    #[schema(schema_with = crate::schema::proposal_action)]
    action: String,
    /// The open risk-freeze case to lift (for `freeze.lift`).
    #[schema(pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef")]
    case_id: Option<String>,
    /// Why; kept with the proposal and in the audit log.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S", example = "Customer confirmed the logins by video call.")]
    note: String,
}

impl Propose {
    /// The published schema: the fields, plus the rule [`Validate`] applies
    /// (`freeze.lift` needs `case_id`).
    pub fn published_schema() -> Option<utoipa::openapi::Schema> {
        use utoipa::PartialSchema;
        use utoipa::openapi::schema::{AnyOfBuilder, SchemaType};
        use utoipa::openapi::{AllOfBuilder, ObjectBuilder};
        let utoipa::openapi::RefOr::T(fields) = Self::schema() else { return None };
        let action = |a: &str| ObjectBuilder::new().schema_type(SchemaType::AnyValue).enum_values(Some([serde_json::json!(a)]));
        let rules = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("case_id").property("action", action("freeze.lift")).build())
            .item(ObjectBuilder::new().property("action", action("keys.rotate")).build());
        Some(AllOfBuilder::new().item(fields).item(rules).description(Some("Body of `POST /v1/operator/proposals`.")).build().into())
    }
}

fn note_ok(c: &mut Causes, note: &str) -> bool {
    c.check("note", note.trim().is_empty() || note.chars().count() > 500, "invalid_note", "`note` says why, 1 to 500 characters.")
}

impl Validate for Propose {
    type Valid = (Proposed, String);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let ok = note_ok(c, &self.note);
        let action = match ProposalAction::parse(&self.action) {
            Some(ProposalAction::LiftFreeze) => {
                let raw = c.require("case_id", self.case_id.as_deref());
                raw.and_then(|r| c.parse("case_id", "invalid_case_id", r, CaseId::parse)).map(|case_id| Proposed::LiftFreeze { case_id })
            }
            Some(ProposalAction::RotateMasterKey) => Some(Proposed::RotateMasterKey),
            None => {
                c.invalid("action", "invalid_action", "`action` is freeze.lift or keys.rotate.");
                None
            }
        };
        Some((action?, self.note.trim().to_owned())).filter(|_| ok)
    }
}

/// Proposes a sensitive action; it runs when a second operator approves it within the window
/// (`review.dual_control_window_minutes`).
#[utoipa::path(post, path = "/v1/operator/proposals", tag = "operators",
    request_body = Propose,
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 201, body = Proposal), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn propose(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body((action, note)): Body<Propose>,
) -> Result<Response, Problem> {
    let p = state.dual_control().propose(&op, action, &note).await?;
    Ok((StatusCode::CREATED, Json(proposal_view(p, state.clock.now()))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ProposalFilter {
    /// `pending` (default; includes the expired ones), `approved`, `rejected` or `failed`.
    #[param(schema_with = crate::schema::proposal_status)]
    status: Option<String>,
}

/// Proposals whose action the operator may decide, newest first: by default the pending ones.
#[utoipa::path(get, path = "/v1/operator/proposals", tag = "operators",
    params(ProposalFilter, ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Proposals), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Query(q): Query<ProposalFilter>,
) -> Result<Json<Proposals>, Problem> {
    let status = match q.status.as_deref() {
        None => ProposalStatus::Pending,
        Some(s) => ProposalStatus::parse(s).ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "/query/status",
                "invalid_status",
                "`status` is pending, approved, rejected or failed.",
            )])
        })?,
    };
    let now = state.clock.now();
    let all = state.dual_control().list(&op, status, 200).await?;
    Ok(Json(Proposals { proposals: all.into_iter().map(|p| proposal_view(p, now)).collect() }))
}

/// One proposal.
#[utoipa::path(get, path = "/v1/operator/proposals/{proposal_id}", tag = "operators",
    params(("proposal_id" = String, Path, pattern = r"^prp_[A-Za-z0-9_-]{1,64}$", example = "prp_0123456789abcdef0123456789abcdef", description = "The proposal."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Proposal), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<ProposalId>,
) -> Result<Json<Proposal>, Problem> {
    let p = state.dual_control().proposal(&op, &id).await?;
    Ok(Json(proposal_view(p, state.clock.now())))
}

/// Body of `POST /v1/operator/proposals/{proposal_id}/approve` and `/reject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideProposal {
    /// Why; kept with the proposal and in the audit log.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S", example = "Checked with the customer.")]
    note: String,
}

impl Validate for DecideProposal {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        note_ok(c, &self.note).then(|| self.note.trim().to_owned())
    }
}

/// Approves a proposal as its second operator: the action runs now, exactly once. The proposer
/// cannot approve their own; an expired proposal cannot be approved.
#[utoipa::path(post, path = "/v1/operator/proposals/{proposal_id}/approve", tag = "operators",
    request_body = DecideProposal,
    params(("proposal_id" = String, Path, pattern = r"^prp_[A-Za-z0-9_-]{1,64}$", example = "prp_0123456789abcdef0123456789abcdef", description = "The proposal."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Proposal), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn approve(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<ProposalId>,
    Body(note): Body<DecideProposal>,
) -> Result<Json<Proposal>, Problem> {
    let p = state.dual_control().approve(&op, &id, &note).await?;
    Ok(Json(proposal_view(p, state.clock.now())))
}

/// Rejects a pending (or expired) proposal; its proposer may withdraw it this way. Nothing runs.
#[utoipa::path(post, path = "/v1/operator/proposals/{proposal_id}/reject", tag = "operators",
    request_body = DecideProposal,
    params(("proposal_id" = String, Path, pattern = r"^prp_[A-Za-z0-9_-]{1,64}$", example = "prp_0123456789abcdef0123456789abcdef", description = "The proposal."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Proposal), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reject(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<ProposalId>,
    Body(note): Body<DecideProposal>,
) -> Result<Json<Proposal>, Problem> {
    let p = state.dual_control().reject(&op, &id, &note).await?;
    Ok(Json(proposal_view(p, state.clock.now())))
}

/// A case on the breach board.
#[derive(Debug, Serialize, ToSchema)]
pub struct Breach {
    pub case_id: String,
    /// `verification`, `risk_freeze` or `guardian`.
    pub kind: String,
    pub created_at: String,
    pub sla_due_at: String,
    /// Seconds past the SLA.
    pub overdue_secs: i64,
    /// Claimed (late): a first response after the SLA.
    pub first_response_at: Option<String>,
    /// Whether the operators on duty were paged about it, and when.
    pub escalated: bool,
    pub escalated_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreachBoard {
    /// Most overdue first.
    pub breaches: Vec<Breach>,
}

/// Open review cases past their first-response SLA: how long overdue, and whether escalated.
#[utoipa::path(get, path = "/v1/operator/breaches", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = BreachBoard), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn breaches(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<BreachBoard>, Problem> {
    let board = state.reviews().breach_board(&op, 500).await?;
    let breaches = board
        .into_iter()
        .map(|b| Breach {
            case_id: b.case.id.into(),
            kind: b.case.kind.as_str().to_owned(),
            created_at: b.case.created_at.to_string(),
            sla_due_at: b.case.sla_due_at.to_string(),
            overdue_secs: b.overdue.as_secs(),
            first_response_at: b.case.first_response_at.map(|t| t.to_string()),
            escalated: b.case.escalated_at.is_some(),
            escalated_at: b.case.escalated_at.map(|t| t.to_string()),
        })
        .collect();
    Ok(Json(BreachBoard { breaches }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Operators {
    pub operators: Vec<Operator>,
}

/// Every operator, with who is on duty (admins only).
#[utoipa::path(get, path = "/v1/operator/operators", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Operators), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn operators(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<Operators>, Problem> {
    let all = state.operators().list(&op).await?;
    Ok(Json(Operators { operators: all.iter().map(Operator::from).collect() }))
}

/// Body of `PUT /v1/operator/operators/{operator_id}/duty`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Duty {
    /// On duty: paged by SMS when a review case breaches its SLA.
    on_duty: bool,
    /// The mainland mobile number to page (kept sealed); omit to keep the one set before.
    #[schema(example = "13800138000", pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$")]
    phone: Option<String>,
}

impl Validate for Duty {
    type Valid = (bool, Option<PhoneNumber>);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let phone = match self.phone.as_deref() {
            None => None,
            Some(raw) => Some(c.parse("phone", "invalid_phone", raw, PhoneNumber::parse)?),
        };
        Some((self.on_duty, phone))
    }
}

/// Puts an operator on or off duty, with the phone they are paged on (admins only).
#[utoipa::path(put, path = "/v1/operator/operators/{operator_id}/duty", tag = "operators",
    request_body = Duty,
    params(("operator_id" = String, Path, pattern = r"^op_[A-Za-z0-9_-]{1,64}$", example = "op_0123456789abcdef0123456789abcdef", description = "The operator."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Operator), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn duty(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<OperatorId>,
    Body((on_duty, phone)): Body<Duty>,
) -> Result<Json<Operator>, Problem> {
    let row = state.operators().set_on_duty(&op, &id, on_duty, phone.as_ref()).await?;
    Ok(Json(Operator::from(&row)))
}
