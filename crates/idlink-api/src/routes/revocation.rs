//! `/v1/me/revocation/preflight`: every blocker standing in the way of a
//! real-name revocation or an account cancellation, at once (SPEC RV1,
//! issue 17), each with a stable code, the item and amount concerned, and
//! the action that clears it with the host app's deep link
//! (`docs/revocation.md`). `/v1/me/revocations`: the operation itself, a
//! saga after a step-up (SPEC RV2), and where it stands.
//! `/v1/me/revocation/review`: a minor or a foreign document holder asks an
//! operator to review the request first (SPEC RV3).

use crate::extract::Body;
use crate::middleware::UserSession;
use crate::problem::{FieldError, Problem, ProblemCode};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::revocation::{PreflightReport, RevocationError};
use idlink_domain::RequestId;
use idlink_domain::revocation::{Blocker, Operation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/me/revocation/preflight` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreflightQuery {
    #[param(schema_with = crate::schema::revocation_operation, example = "revoke_real_name")]
    operation: Option<String>,
}

/// What clears a blocker.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClearingAction {
    /// A stable code: `withdraw_balance`, `wait_for_transactions`, `claim_or_return_red_packets`,
    /// `repay_loans`, `cancel_contracts`, `transfer_admin_role`, `wait_after_abnormal_login`,
    /// `use_primary_device`, `wait_after_real_name_change`, `name_guardian`, `ask_for_review`
    /// (POST /v1/me/revocation/review), `wait_for_review`, `retry_later`.
    #[schema(example = "withdraw_balance")]
    pub code: String,
    /// The host app's deep link for it, when the deployment configures one.
    pub link: Option<String>,
}

/// One thing standing in the way.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreflightBlocker {
    /// A stable code: `wallet_balance`, `pending_transactions`, `unclaimed_red_packets`, `active_loans`,
    /// `auto_renew_contracts`, `directory_admin`, `abnormal_login`, `non_primary_device`,
    /// `recent_real_name_change`, `guardian_required`, `review_required`, `review_pending`, `review_refused`,
    /// `source_unavailable`.
    #[schema(example = "wallet_balance")]
    pub code: String,
    /// Who named it: `wallet`, `lending`, `subscriptions`, `directories` (the host's stores) or `idlink`.
    #[schema(example = "wallet")]
    pub source: String,
    /// The item concerned as its store names it (masked where it names a person); for idlink's
    /// review blockers, why the review is needed: `minor` or `foreign_document`.
    pub item: Option<String>,
    /// The amount concerned, in fen (even 1 fen blocks).
    pub amount_fen: Option<i64>,
    /// When it lifts by itself (a waiting period), when to ask an unavailable store again, or
    /// when an operator aims to answer a pending review by.
    pub until: Option<String>,
    pub action: ClearingAction,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preflight {
    #[schema(example = "revoke_real_name")]
    pub operation: String,
    /// Nothing stands in the way.
    pub clear: bool,
    pub checked_at: String,
    /// The host's stores this deployment registered and asked (idlink's own rules always apply).
    pub sources_asked: Vec<String>,
    /// Every blocker at once, by source then kind.
    pub blockers: Vec<PreflightBlocker>,
}

impl Preflight {
    fn of(r: PreflightReport, links: &std::collections::BTreeMap<String, String>) -> Self {
        let blocker = |b: Blocker| {
            let action = b.kind.clears_by();
            PreflightBlocker {
                code: b.kind.code().to_owned(),
                source: b.source.as_str().to_owned(),
                item: b.item,
                amount_fen: b.amount.map(|f| f.0),
                until: b.until.map(|t| t.to_string()),
                action: ClearingAction { code: action.to_owned(), link: links.get(action).cloned() },
            }
        };
        Self {
            operation: r.operation.as_str().to_owned(),
            clear: r.is_clear(),
            checked_at: r.checked_at.to_string(),
            sources_asked: r.asked.iter().map(|s| s.as_str().to_owned()).collect(),
            blockers: r.blockers.into_iter().map(blocker).collect(),
        }
    }
}

impl From<RevocationError> for Problem {
    fn from(e: RevocationError) -> Self {
        match e {
            RevocationError::NotVerified => Problem::new(ProblemCode::IdentityNotVerified)
                .detail("The account has no verified real-name identity to revoke; to close the account, ask for `cancel_account`."),
            RevocationError::StepUpRequired(why) => why.into(),
            RevocationError::Blocked(report) => {
                let errors = report
                    .blockers
                    .iter()
                    .map(|b| FieldError::new(format!("/blockers/{}", b.source.as_str()), b.kind.code(), b.kind.clears_by()))
                    .collect();
                Problem::new(ProblemCode::RevocationBlocked).errors(errors)
            }
            RevocationError::AlreadyRunning(id) => Problem::new(ProblemCode::RevocationRunning)
                .detail(format!("Revocation {id} is running: follow it with GET /v1/me/revocations/latest.")),
            RevocationError::NotFound => Problem::new(ProblemCode::RevocationNotFound),
            RevocationError::NoReviewNeeded => Problem::new(ProblemCode::RevocationReviewNotNeeded),
            RevocationError::GuardianFirst => Problem::new(ProblemCode::RevocationGuardianRequired),
            RevocationError::Unreadable(e) => e.into(),
            RevocationError::Store(e) => e.into(),
            RevocationError::Crypto(e) => e.into(),
        }
    }
}

/// `POST /v1/me/revocations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRevocation {
    #[schema(schema_with = crate::schema::revocation_operation, example = "revoke_real_name")]
    operation: String,
}

impl crate::extract::Validate for StartRevocation {
    type Valid = Operation;
    fn validate(self, c: &mut crate::extract::Causes) -> Option<Operation> {
        let operation = Operation::parse(&self.operation);
        c.check("operation", operation.is_none(), "invalid_operation", "`revoke_real_name` or `cancel_account`.");
        operation
    }
}

/// A revocation or cancellation and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revocation {
    #[schema(example = "rvk_0123456789abcdef0123456789abcdef")]
    pub id: String,
    #[schema(example = "revoke_real_name")]
    pub operation: String,
    /// `forward` (steps being taken), `compensating` (rolling back), `committed` or `rolled_back`.
    #[schema(example = "committed")]
    pub phase: String,
    /// The steps done (and not undone), in order: `mark_pending`, `suspend_grants`, `apply_stores`, `commit`.
    pub steps_done: Vec<String>,
    /// Why it rolled back: `timed_out`, `funds_operation` or `step_refused`.
    pub rollback_reason: Option<String>,
    /// When it rolls back if not committed by then.
    pub deadline: String,
    /// An account cancellation: when the account will have been closed at the latest
    /// (the end of the 15th working day after the request, Asia/Shanghai, public holidays counted).
    pub due_at: Option<String>,
    /// `true` when that count crossed a year whose public holidays idlink does not hold yet
    /// (counted by the ordinary week there).
    pub due_provisional: Option<bool>,
    /// An account cancellation: when the account was closed (its data key destroyed).
    pub closed_at: Option<String>,
    pub started_at: String,
    pub updated_at: String,
}

impl From<idlink_core::ports::revocations::RevocationRow> for Revocation {
    fn from(r: idlink_core::ports::revocations::RevocationRow) -> Self {
        use idlink_domain::revocation_saga::Step;
        Self {
            id: r.id,
            operation: r.operation.as_str().to_owned(),
            phase: r.saga.phase.as_str().to_owned(),
            steps_done: Step::ALL.iter().take(r.saga.done).map(|s| s.as_str().to_owned()).collect(),
            rollback_reason: r.saga.reason.map(|x| x.as_str().to_owned()),
            deadline: r.deadline.to_string(),
            due_at: r.due.map(|d| d.at.to_string()),
            due_provisional: r.due.map(|d| d.provisional),
            closed_at: r.closed_at.map(|t| t.to_string()),
            started_at: r.created_at.to_string(),
            updated_at: r.updated_at.to_string(),
        }
    }
}

/// Starts revoking the real name or closing the account, after a step-up
/// for it (`identity.revoke` or `account.cancel`, resource: the user's id).
/// The preflight runs again and must be clear; the saga then runs as far as
/// it can at once (202 while it waits for a store, 201 once final).
#[utoipa::path(post, path = "/v1/me/revocations", tag = "revocation",
    request_body = StartRevocation,
    params(("Idlink-Session" = String, Header, description = "The user's session token."),
           ("Idlink-Step-Up" = String, Header, description = "A step-up token for `identity.revoke` or `account.cancel` on the user's id.")),
    responses(
        (status = 201, body = Revocation, description = "Final: committed or rolled back."),
        (status = 202, body = Revocation, description = "Still running: follow it with GET /v1/me/revocations/latest."),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn start(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    headers: HeaderMap,
    Body(operation): Body<StartRevocation>,
) -> Result<Response, Problem> {
    let step_up = headers.get("idlink-step-up").and_then(|v| v.to_str().ok());
    let actor = idlink_core::revocation::Actor { session: &session.0, request_id: request_id.as_deref() };
    let row = state.revocations().start(actor, operation, step_up).await?;
    let status = if row.saga.phase.is_final() { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    Ok((status, Json(Revocation::from(row))).into_response())
}

/// The account's latest revocation or cancellation, and where it stands.
#[utoipa::path(get, path = "/v1/me/revocations/latest", tag = "revocation",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses(
        (status = 200, body = Revocation),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn latest(State(state): State<AppState>, session: UserSession) -> Result<Json<Revocation>, Problem> {
    let row = state.revocations().latest(&session.0).await?.ok_or_else(|| Problem::new(ProblemCode::RevocationNotFound))?;
    Ok(Json(row.into()))
}

/// Every blocker at once: the host's stores (each asked within a deadline;
/// one that does not answer is itself a blocker) and idlink's own rules.
/// Asks nothing of the user and changes nothing.
#[utoipa::path(get, path = "/v1/me/revocation/preflight", tag = "revocation",
    params(("Idlink-Session" = String, Header, description = "The user's session token."), PreflightQuery),
    responses(
        (status = 200, body = Preflight),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn preflight(
    State(state): State<AppState>,
    session: UserSession,
    Query(q): Query<PreflightQuery>,
) -> Result<Json<Preflight>, Problem> {
    let operation = match q.operation.as_deref() {
        None => Operation::RevokeRealName,
        Some(o) => Operation::parse(o).ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "/query/operation",
                "invalid_operation",
                "`operation` is `revoke_real_name` or `cancel_account`.",
            )])
        })?,
    };
    let report = state.revocations().preflight(&session.0, operation).await?;
    Ok(Json(Preflight::of(report, &state.revocation_policy.links)))
}

/// `POST /v1/me/revocation/review`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskReview {
    #[schema(schema_with = crate::schema::revocation_operation, example = "revoke_real_name")]
    operation: String,
}

impl crate::extract::Validate for AskReview {
    type Valid = Operation;
    fn validate(self, c: &mut crate::extract::Causes) -> Option<Operation> {
        StartRevocation { operation: self.operation }.validate(c)
    }
}

/// A review of the request by an operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationReview {
    #[schema(example = "case_0123456789abcdef0123456789abcdef")]
    pub case_id: String,
    #[schema(example = "revoke_real_name")]
    pub operation: String,
    /// Why it is reviewed: `minor` (with the guardian's evidence) or `foreign_document`.
    #[schema(example = "minor")]
    pub reason: String,
    /// `open`, `waiting_user`, `approved` or `rejected`.
    #[schema(example = "open")]
    pub status: String,
    /// When an operator aims to answer by (the case's first-response target).
    pub decide_by: String,
    pub asked_at: String,
}

/// Asks an operator to review a minor's (with their approved guardian) or
/// a foreign document holder's request to revoke the real name or cancel
/// the account. The preflight names `review_required` until it is asked,
/// `review_pending` until it is decided; once approved the operation may
/// be confirmed for a while (the user is texted the outcome). Asking again
/// while a review is open answers that one (200).
#[utoipa::path(post, path = "/v1/me/revocation/review", tag = "revocation",
    request_body = AskReview,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses(
        (status = 201, body = RevocationReview, description = "The review was asked for."),
        (status = 200, body = RevocationReview, description = "A review of this request is already open."),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn ask_review(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(operation): Body<AskReview>,
) -> Result<Response, Problem> {
    let actor = idlink_core::revocation::Actor { session: &session.0, request_id: request_id.as_deref() };
    let asked = state.revocations().ask_review(actor, operation).await?;
    let body = RevocationReview {
        case_id: asked.case.id.to_string(),
        operation: operation.as_str().to_owned(),
        reason: asked.need.as_str().to_owned(),
        status: asked.case.status.as_str().to_owned(),
        decide_by: asked.case.sla_due_at.to_string(),
        asked_at: asked.case.created_at.to_string(),
    };
    Ok((if asked.opened { StatusCode::CREATED } else { StatusCode::OK }, Json(body)).into_response())
}
