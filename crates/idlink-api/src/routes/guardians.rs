//! `/v1/me/guardianships`: guardians of minors (SPEC ID4).

use crate::extract::{Fields, JsonObject};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::guardians::Guardianship as Row;
use idlink_core::users;
use idlink_domain::{PhoneNumber, RequestId};
use serde::Serialize;
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
            id: g.id,
            minor_user_id: g.minor.to_string(),
            guardian_user_id: g.guardian.to_string(),
            relationship: g.relationship,
            status: g.status.as_str().to_owned(),
        }
    }
}

/// Body of `POST /v1/me/guardianships`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct NameGuardian {
    /// The guardian's phone; they must be a verified adult user.
    guardian_phone: String,
    /// `parent` or `legal_guardian`.
    relationship: String,
    /// Reference to the evidence held by the host app (household register, court order).
    evidence_ref: String,
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
    body: JsonObject,
) -> Result<Response, Problem> {
    let mut f = Fields::new(&body);
    let phone = f.required_parsed("guardian_phone", "invalid_phone", PhoneNumber::parse);
    let relationship = f.required_str("relationship");
    if relationship.is_some_and(|r| !matches!(r, "parent" | "legal_guardian")) {
        f.invalid("relationship", "invalid_relationship", "`relationship` is parent or legal_guardian.");
    }
    let evidence = f.required_str("evidence_ref");
    if evidence.is_some_and(|e| e.trim().is_empty() || e.len() > 200) {
        f.invalid("evidence_ref", "invalid_evidence_ref", "`evidence_ref` identifies the evidence document, 1 to 200 characters.");
    }
    f.finish()?;
    let (Some(phone), Some(relationship), Some(evidence)) = (phone, relationship, evidence) else {
        return Err(Problem::new(ProblemCode::InternalError));
    };
    let guardian = users::find_user_by_phone(state.store.as_ref(), &state.vault, &phone).await?;
    let guardian = guardian.ok_or_else(|| Problem::new(ProblemCode::GuardianNotEligible))?;
    let g = state.guardians().request(&session.0, request_id.as_deref(), &guardian, relationship, evidence.trim()).await?;
    Ok((StatusCode::CREATED, Json(Guardianship::from(g))).into_response())
}

/// The guardian accepts the link; the evidence goes to operator review.
#[utoipa::path(post, path = "/v1/me/guardianships/{guardianship_id}/accept", tag = "identity",
    params(
        ("guardianship_id" = String, Path, description = "The link to accept."),
        ("Idlink-Session" = String, Header, description = "The guardian's session token."),
    ),
    responses((status = 200, body = Guardianship), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn accept(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
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
