//! `/v1/me/guardianships`: guardians of minors (SPEC ID4).

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::ports::guardians::Guardianship as Row;
use idlink_core::users;
use idlink_domain::{PhoneNumber, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Guardianship {
    pub id: String,
    pub minor_user_id: String,
    pub guardian_user_id: String,
    pub relationship: String,
    /// `pending_guardian`, `review`, `approved` or `rejected`.
    pub status: String,
}

impl From<Row> for Guardianship {
    fn from(g: Row) -> Self {
        Self {
            id: g.id.into(),
            minor_user_id: g.minor.to_string(),
            guardian_user_id: g.guardian.to_string(),
            relationship: g.relationship,
            status: g.status.as_str().to_owned(),
        }
    }
}

/// Body of `POST /v1/me/guardianships`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameGuardian {
    /// The guardian's phone; they must be a verified adult user.
    #[schema(pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$", example = "13812341234")]
    guardian_phone: String,
    #[schema(schema_with = crate::schema::relationship)]
    relationship: String,
    /// Reference to the evidence held by the host app (household register, court order).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", example = "hukou-2024-0001")]
    evidence_ref: String,
}

/// A guardian request whose fields passed their checks.
#[derive(Debug)]
pub struct GuardianRequest {
    phone: PhoneNumber,
    relationship: String,
    evidence: String,
}

impl Validate for NameGuardian {
    type Valid = GuardianRequest;
    fn validate(self, c: &mut Causes) -> Option<GuardianRequest> {
        let phone = c.parse("guardian_phone", "invalid_phone", &self.guardian_phone, PhoneNumber::parse);
        let mut ok = c.check(
            "relationship",
            !matches!(self.relationship.as_str(), "parent" | "legal_guardian"),
            "invalid_relationship",
            "`relationship` is parent or legal_guardian.",
        );
        ok &= c.check(
            "evidence_ref",
            self.evidence_ref.trim().is_empty() || self.evidence_ref.len() > 200,
            "invalid_evidence_ref",
            "`evidence_ref` identifies the evidence document, 1 to 200 characters.",
        );
        let request = GuardianRequest { phone: phone?, relationship: self.relationship, evidence: self.evidence_ref.trim().to_owned() };
        Some(request).filter(|_| ok)
    }
}

/// A verified minor names a guardian; the guardian must accept, then an operator checks the evidence.
#[utoipa::path(post, path = "/v1/me/guardianships", tag = "identity",
    request_body = NameGuardian,
    params(("Idlink-Session" = String, Header, description = "The minor's session token.")),
    responses((status = 201, body = Guardianship), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn request(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(req): Body<NameGuardian>,
) -> Result<Response, Problem> {
    let g = name_guardian(&state, &session.0, request_id.as_deref(), &req).await?;
    Ok((StatusCode::CREATED, Json(Guardianship::from(g))).into_response())
}

/// The minor's request for a guardian found by phone (the API and the H5 pages both make it here).
pub async fn name_guardian(
    state: &crate::state::AppParts,
    session: &idlink_core::ports::auth::SessionRow,
    request_id: Option<&RequestId>,
    req: &GuardianRequest,
) -> Result<Row, Problem> {
    let guardian = users::find_user_by_phone(state.store.as_ref(), &state.vault, &req.phone).await?;
    let guardian = guardian.ok_or_else(|| Problem::new(ProblemCode::GuardianNotEligible))?;
    Ok(state.guardians().request(session, request_id, &guardian, &req.relationship, &req.evidence).await?)
}

/// The guardian accepts the link; the evidence goes to operator review.
#[utoipa::path(post, path = "/v1/me/guardianships/{guardianship_id}/accept", tag = "identity",
    params(
        ("guardianship_id" = String, Path, pattern = r"^grd_[A-Za-z0-9_-]{1,64}$", example = "grd_0123456789abcdef0123456789abcdef", description = "The link to accept."),
        ("Idlink-Session" = String, Header, description = "The guardian's session token."),
    ),
    responses((status = 200, body = Guardianship), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn accept(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::GuardianshipId>,
) -> Result<Json<Guardianship>, Problem> {
    let g = state.guardians().accept(&session.0, request_id.as_deref(), &id).await?;
    Ok(Json(g.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Guardianships {
    pub guardianships: Vec<Guardianship>,
}

/// Links where the user is the minor or the guardian.
#[utoipa::path(get, path = "/v1/me/guardianships", tag = "identity",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Guardianships), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, session: UserSession) -> Result<Json<Guardianships>, Problem> {
    let all = state.guardians().list(&session.0.user_id).await?;
    Ok(Json(Guardianships { guardianships: all.into_iter().map(Guardianship::from).collect() }))
}
