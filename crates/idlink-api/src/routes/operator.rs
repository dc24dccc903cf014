//! `/v1/operator`: operator sign-in and the review queue (SPEC P5, OP1,
//! ID3, ID8). Operators authenticate with their own session
//! (`Idlink-Operator` header), never with host-app API keys.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_core::ports::operators::{OperatorRow, Role, require};
use idlink_core::ports::reviews::{CaseKind, CaseRow, CaseStatus};
use idlink_core::reviews::{AnswerText, OpenedRequest, ReviewError, read_answers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

pub const OPERATOR_HEADER: &str = "idlink-operator";

/// The signed-in operator.
#[derive(Debug, Clone)]
pub struct OperatorAuth(pub OperatorRow);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Problem> {
        parts.extensions.get::<OperatorAuth>().cloned().ok_or_else(|| Problem::new(ProblemCode::OperatorSessionInvalid))
    }
}

/// Resolves the `Idlink-Operator` header before the handler (and before
/// idempotency, which scopes keys by operator).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = req.headers().get(OPERATOR_HEADER).and_then(|v| v.to_str().ok()) else {
        return Problem::new(ProblemCode::OperatorSessionInvalid).into_response();
    };
    match state.operators().authenticate(token).await {
        Ok(op) => {
            req.extensions_mut().insert(OperatorAuth(op));
            next.run(req).await
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Operator {
    pub id: String,
    pub username: String,
    pub roles: Vec<String>,
    /// Paged by SMS when a review case breaches its SLA.
    pub on_duty: bool,
    /// A paging phone is set (the number itself is never shown).
    pub has_paging_phone: bool,
}

impl From<&OperatorRow> for Operator {
    fn from(o: &OperatorRow) -> Self {
        Self {
            id: o.id.to_string(),
            username: o.username.clone(),
            roles: o.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            on_duty: o.on_duty,
            has_paging_phone: o.phone_cipher.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorSession {
    /// Send as `Idlink-Operator` on operator requests.
    pub token: String,
    pub operator: Operator,
}

/// Body of `POST /v1/operator/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[schema(example = "alice")]
    username: String,
    #[schema(example = "correct horse battery staple")]
    password: String,
    /// The 6-digit code from the authenticator app.
    #[schema(pattern = r"^[0-9]{6}$", example = "123456")]
    totp: String,
}

impl Validate for SignIn {
    type Valid = Self;
    fn validate(self, _: &mut Causes) -> Option<Self> {
        Some(self)
    }
}

/// Operator sign-in: password + TOTP.
#[utoipa::path(post, path = "/v1/operator/sessions", tag = "operators",
    request_body = SignIn,
    responses((status = 201, body = OperatorSession), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn sign_in(State(state): State<AppState>, Body(body): Body<SignIn>) -> Result<Response, Problem> {
    let (username, password, totp) = (&body.username, &body.password, &body.totp);
    let now = state.clock.now();
    let window = jiff::Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(900)).unwrap_or(now);
    let tries = state.store.hit_rate_limit(&format!("operator-sign-in:{username}"), window).await?;
    if tries > 10 {
        return Err(Problem::new(ProblemCode::RateLimited)
            .detail("Too many sign-in attempts for this operator; wait 15 minutes.")
            .retry_after(900));
    }
    let (op, token) = state.operators().sign_in(username, password, totp).await?;
    Ok((StatusCode::CREATED, Json(OperatorSession { token, operator: Operator::from(&op) })).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDecision {
    pub step: u32,
    pub operator_id: String,
    pub approve: bool,
    pub note: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Case {
    pub id: String,
    /// `verification` or `risk_freeze`.
    pub kind: String,
    pub subject_user_id: String,
    /// The verification id, or the frozen user's id.
    pub reference: String,
    /// `open`, `waiting_user` (asked the user for more information), `approved` or `rejected`.
    pub status: String,
    pub steps_required: u32,
    pub created_at: String,
    pub sla_due_at: String,
    pub first_response_at: Option<String>,
    /// The operator holding the case (claimed, not released).
    pub claimed_by: Option<String>,
    /// Open and past its first-response SLA.
    pub sla_breached: bool,
    /// When the breach was escalated to the operators on duty.
    pub escalated_at: Option<String>,
    /// The steps taken on the case's current evidence.
    pub decisions: Vec<CaseDecision>,
    /// Steps taken before a user's answer sent a new document number or new
    /// guardian evidence: void, the case needs all its steps again.
    pub voided_decisions: Vec<CaseDecision>,
    /// Requests for more information from the user, oldest first.
    pub info_requests: Vec<CaseInfoRequest>,
}

/// A request for more information on a case, and the user's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseInfoRequest {
    pub seq: u32,
    pub operator_id: String,
    #[schema(schema_with = crate::schema::info_reason)]
    pub reason: String,
    /// The reviewer's words to the user (sealed under the user's data key):
    /// only in the single case's view to a reviewer, like `answer`; absent
    /// elsewhere and once the user's data is deleted.
    pub note: Option<String>,
    pub requested_at: String,
    /// What the answer sent again besides words: `document` (a new document
    /// number: earlier steps are void) or `evidence` (new guardian evidence).
    pub resent: Option<String>,
    /// The user's words, once answered: only in the single case's view
    /// (`GET /v1/operator/reviews/{case_id}`) to a reviewer, a read of the
    /// user's personal data recorded in the audit log (`review.read_answer`).
    pub answer: Option<String>,
    /// Answered, but the words cannot be read any more: the user's data was deleted.
    pub answer_unavailable: bool,
    pub answered_at: Option<String>,
}

/// A case as listed or returned by an action: the user's answers stay sealed.
pub(crate) fn case_view(c: CaseRow, now: jiff::Timestamp) -> Case {
    case_view_with(c, now, &BTreeMap::new())
}

fn decision_view(d: idlink_core::ports::reviews::Decision) -> CaseDecision {
    CaseDecision { step: d.step, operator_id: d.operator_id.into(), approve: d.approve, note: d.note, at: d.at.to_string() }
}

/// A case with the user's answers opened (`answers`, by request).
fn case_view_with(c: CaseRow, now: jiff::Timestamp, opened: &BTreeMap<u32, OpenedRequest>) -> Case {
    let read = |t: Option<&AnswerText>| match t {
        Some(AnswerText::Read(text)) => Some(text.clone()),
        _ => None,
    };
    Case {
        sla_breached: c.breached(now),
        id: c.id.into(),
        kind: c.kind.as_str().to_owned(),
        subject_user_id: c.subject.to_string(),
        reference: c.reference,
        status: c.status.as_str().to_owned(),
        steps_required: c.steps_required,
        created_at: c.created_at.to_string(),
        sla_due_at: c.sla_due_at.to_string(),
        first_response_at: c.first_response_at.map(|t| t.to_string()),
        escalated_at: c.escalated_at.map(|t| t.to_string()),
        claimed_by: c.claimed_by.map(String::from),
        decisions: c.decisions.into_iter().map(decision_view).collect(),
        voided_decisions: c.voided_decisions.into_iter().map(decision_view).collect(),
        info_requests: c
            .requests
            .into_iter()
            .map(|r| CaseInfoRequest {
                seq: r.seq,
                operator_id: r.operator_id.into(),
                reason: r.reason.as_str().to_owned(),
                note: read(opened.get(&r.seq).map(|o| &o.note)),
                requested_at: r.requested_at.to_string(),
                resent: r.resent,
                answer: read(opened.get(&r.seq).and_then(|o| o.answer.as_ref())),
                answer_unavailable: opened.get(&r.seq).and_then(|o| o.answer.as_ref()) == Some(&AnswerText::Unavailable),
                answered_at: r.answered_at.map(|t| t.to_string()),
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CaseFilter {
    #[param(schema_with = crate::schema::case_status)]
    status: Option<String>,
    #[param(schema_with = crate::schema::case_kind)]
    kind: Option<String>,
    /// Only cases past their SLA.
    breached: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cases {
    pub cases: Vec<Case>,
}

/// The review queue, oldest first; `breached=true` lists SLA breaches.
#[utoipa::path(get, path = "/v1/operator/reviews", tag = "operators",
    params(CaseFilter, ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Cases), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Query(q): Query<CaseFilter>,
) -> Result<Json<Cases>, Problem> {
    if require(&op, Role::Reviewer).is_err() {
        require(&op, Role::Auditor)?;
    }
    let status = match q.status.as_deref() {
        None => CaseStatus::Open,
        Some(s) => CaseStatus::parse(s).ok_or_else(|| {
            Problem::validation(vec![crate::problem::FieldError::new(
                "/query/status",
                "invalid_status",
                "`status` is open, waiting_user, approved or rejected.",
            )])
        })?,
    };
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(CaseKind::parse(k).ok_or_else(|| {
            Problem::validation(vec![crate::problem::FieldError::new(
                "/query/kind",
                "invalid_kind",
                "`kind` is verification or risk_freeze.",
            )])
        })?),
    };
    let now = state.clock.now();
    let cases = state.store.cases(status, kind, 500).await?;
    let cases = cases.into_iter().filter(|c| !q.breached.unwrap_or(false) || c.breached(now)).map(|c| case_view(c, now)).collect();
    Ok(Json(Cases { cases }))
}

/// One case, with the user's answers to requests for more information:
/// opening them is a read of the user's personal data, recorded in the audit
/// log (`review.read_answer`), and only a reviewer may.
#[utoipa::path(get, path = "/v1/operator/reviews/{case_id}", tag = "operators",
    params(("case_id" = String, Path, pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef", description = "The case."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Case), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn case(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<axum::Extension<idlink_domain::RequestId>>,
    PathId(id): PathId<idlink_domain::CaseId>,
) -> Result<Json<Case>, Problem> {
    require(&op, Role::Reviewer)?;
    let c = state.store.case(&id).await?.ok_or(ReviewError::NotFound)?;
    let answers = read_answers(state.store.as_ref(), &state.vault, state.clock.as_ref(), &op, &c, request_id.as_deref()).await?;
    Ok(Json(case_view_with(c, state.clock.now(), &answers)))
}

/// Claims a case: records the first response (the SLA clock stops).
#[utoipa::path(post, path = "/v1/operator/reviews/{case_id}/claim", tag = "operators",
    params(("case_id" = String, Path, pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef", description = "The case."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Case), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn claim(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<axum::Extension<idlink_domain::RequestId>>,
    PathId(id): PathId<idlink_domain::CaseId>,
) -> Result<Json<Case>, Problem> {
    let c = state.reviews().for_request(request_id.as_deref()).claim(&op, &id).await?;
    Ok(Json(case_view(c, state.clock.now())))
}

/// Releases a case this operator claimed: it goes back to the queue for anyone.
#[utoipa::path(post, path = "/v1/operator/reviews/{case_id}/release", tag = "operators",
    params(("case_id" = String, Path, pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef", description = "The case."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Case), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn release(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<axum::Extension<idlink_domain::RequestId>>,
    PathId(id): PathId<idlink_domain::CaseId>,
) -> Result<Json<Case>, Problem> {
    let c = state.reviews().for_request(request_id.as_deref()).release(&op, &id).await?;
    Ok(Json(case_view(c, state.clock.now())))
}

/// Body of `POST /v1/operator/reviews/{case_id}/decisions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    #[schema(schema_with = crate::schema::decision)]
    decision: String,
    /// Why; kept with the case and in the audit log.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S", example = "Documents match the registry.")]
    note: String,
}

impl Validate for Decide {
    type Valid = (bool, String);
    fn validate(self, c: &mut Causes) -> Option<(bool, String)> {
        let approve = match self.decision.as_str() {
            "approve" => Some(true),
            "reject" => Some(false),
            _ => {
                c.invalid("decision", "invalid_decision", "`decision` is approve or reject.");
                None
            }
        };
        let ok = c.check(
            "note",
            self.note.trim().is_empty() || self.note.chars().count() > 500,
            "invalid_note",
            "`note` says why, 1 to 500 characters.",
        );
        Some((approve?, self.note.trim().to_owned())).filter(|_| ok)
    }
}

/// Takes the next step of a case. Approval needs as many different operators as the case has steps.
#[utoipa::path(post, path = "/v1/operator/reviews/{case_id}/decisions", tag = "operators",
    request_body = Decide,
    params(("case_id" = String, Path, pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef", description = "The case."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Case), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<axum::Extension<idlink_domain::RequestId>>,
    PathId(id): PathId<idlink_domain::CaseId>,
    Body((approve, note)): Body<Decide>,
) -> Result<Json<Case>, Problem> {
    let c = state.reviews().for_request(request_id.as_deref()).decide(&op, &id, approve, &note).await?;
    Ok(Json(case_view(c, state.clock.now())))
}
