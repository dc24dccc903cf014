//! Grants (SPEC TP2): the user's own (`/v1/me/grants`) and, for the host
//! backend, a user's (`/v1/users/{id}/grants`, revocation by subject).

use crate::extract::{FromPath, PathId};
use crate::middleware::{ApiCaller, UserSession};
use crate::problem::{Problem, ProblemCode};
use crate::state::{AppParts, AppState};
use axum::Json;
use axum::extract::{Path, State};
use idlink_core::grants::{GrantError, GrantView, Grants, Revoker};
use idlink_core::ports::grants::DeliveryRow;
use idlink_domain::{GrantId, RequestId, UserId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_grants, revoke_my_grants))
        .routes(routes!(my_grant, revoke_my_grant))
        .routes(routes!(user_grants, revoke_user_grants))
        .routes(routes!(revoke_user_grant))
}

/// The grant use cases over the state's parts.
pub fn grants(state: &AppParts) -> Grants<'_> {
    Grants { store: state.store.as_ref(), vault: &state.vault, clock: state.clock.as_ref(), ids: state.ids.as_ref() }
}

impl FromPath for GrantId {
    fn parse(raw: &str) -> Result<Self, idlink_domain::ids::IdError> {
        GrantId::parse(raw)
    }
    fn refused(_: idlink_domain::ids::IdError) -> Problem {
        Problem::new(ProblemCode::GrantNotFound)
    }
}

impl From<GrantError> for Problem {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::NotFound => Problem::new(ProblemCode::GrantNotFound),
            GrantError::Store(e) => e.into(),
            GrantError::Crypto(e) => e.into(),
        }
    }
}

/// A security event sent to the app about the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// The event type, e.g. `grant.revoked`.
    pub event_type: String,
    /// `webhook`, `set_push`, `set_poll`, `logout`.
    pub channel: String,
    /// `pending`, `delivered`, `dead` (given up), `gone` (the app's receiver is gone).
    pub state: String,
    pub attempts: u32,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        Delivery {
            event_type: d.event_type,
            channel: d.channel,
            state: d.state,
            attempts: d.attempts,
            created_at: d.created_at.to_string(),
            delivered_at: d.delivered_at.map(|t| t.to_string()),
        }
    }
}

/// An app the user authorised.
#[derive(Debug, Serialize, ToSchema)]
pub struct Grant {
    #[schema(example = "grt_0123456789abcdef0123456789abcdef")]
    pub grant_id: String,
    pub client_id: String,
    pub client_name: String,
    pub client_logo: Option<String>,
    pub scopes: Vec<String>,
    /// The claims the app may read (docs/oidc.md).
    pub claims: Vec<String>,
    /// `active`; `suspended` while the account is frozen; `held` while a revocation of the real name or of the account is under way.
    pub state: String,
    /// When the user first authorised the app.
    pub since: String,
    pub last_consent_at: Option<String>,
    /// The version of the consent text the user last agreed to.
    pub consent_version: Option<String>,
    /// Newest first, at most 50.
    pub deliveries: Vec<Delivery>,
}

impl From<GrantView> for Grant {
    fn from(v: GrantView) -> Self {
        let g = v.grant;
        Grant {
            grant_id: g.id.to_string(),
            client_id: g.client_id.to_string(),
            client_name: g.client_name,
            client_logo: g.client_logo,
            scopes: g.scopes,
            claims: g.claims,
            state: g.state,
            since: g.created_at.to_string(),
            last_consent_at: g.consented_at.map(|t| t.to_string()),
            consent_version: g.consent_version,
            deliveries: v.deliveries.into_iter().map(Delivery::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    /// Newest first; revoked grants are not listed.
    pub grants: Vec<Grant>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// How many grants this request ended (0 when none was left).
    pub revoked: usize,
}

fn request(id: Option<axum::Extension<RequestId>>) -> Option<RequestId> {
    id.map(|e| e.0)
}

/// The apps the user authorised, with what each holds and what was sent to it.
#[utoipa::path(get, path = "/v1/me/grants", tag = "apps",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = GrantList), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn my_grants(State(state): State<AppState>, UserSession(s): UserSession) -> Result<Json<GrantList>, Problem> {
    let list = grants(&state).list(&s.user_id).await?;
    Ok(Json(GrantList { grants: list.into_iter().map(Grant::from).collect() }))
}

/// One app the user authorised.
#[utoipa::path(get, path = "/v1/me/grants/{grant_id}", tag = "apps",
    params(
        ("grant_id" = String, Path, pattern = r"^grt_[A-Za-z0-9_-]{1,64}$", example = "grt_0123456789abcdef0123456789abcdef"),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = Grant), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn my_grant(
    State(state): State<AppState>,
    UserSession(s): UserSession,
    PathId(id): PathId<GrantId>,
) -> Result<Json<Grant>, Problem> {
    Ok(Json(grants(&state).get(&s.user_id, &id).await?.into()))
}

/// Withdraws the user's consent to one app: its tokens stop working at once and the app is told.
#[utoipa::path(delete, path = "/v1/me/grants/{grant_id}", tag = "apps",
    params(
        ("grant_id" = String, Path, pattern = r"^grt_[A-Za-z0-9_-]{1,64}$", example = "grt_0123456789abcdef0123456789abcdef"),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = Revoked), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn revoke_my_grant(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    UserSession(s): UserSession,
    PathId(id): PathId<GrantId>,
) -> Result<Json<Revoked>, Problem> {
    grants(&state).revoke(&Revoker::user(&s.user_id, request(request_id)), &s.user_id, &id).await?;
    Ok(Json(Revoked { revoked: 1 }))
}

/// Withdraws the user's consent to every app.
#[utoipa::path(delete, path = "/v1/me/grants", tag = "apps",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Revoked), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn revoke_my_grants(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    UserSession(s): UserSession,
) -> Result<Json<Revoked>, Problem> {
    let n = grants(&state).revoke_all(&Revoker::user(&s.user_id, request(request_id)), &s.user_id).await?;
    Ok(Json(Revoked { revoked: n }))
}

fn user_path(raw: &str) -> Result<UserId, Problem> {
    UserId::parse(raw)
        .map_err(|e| Problem::validation(vec![crate::problem::FieldError::new("/path/user_id", "invalid_id", format!("{e}."))]))
}

/// The apps a user authorised (for the host backend).
#[utoipa::path(get, path = "/v1/users/{user_id}/grants", tag = "apps",
    params(("user_id" = String, Path, pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")),
    responses((status = 200, body = GrantList), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = ["grants:read"])))]
pub async fn user_grants(State(state): State<AppState>, api: ApiCaller, PathId(user): PathId<UserId>) -> Result<Json<GrantList>, Problem> {
    api.require("grants:read")?;
    let list = grants(&state).list(&user).await?;
    Ok(Json(GrantList { grants: list.into_iter().map(Grant::from).collect() }))
}

/// Revocation by subject: ends every grant of the user (the host backend's account closure, a complaint).
#[utoipa::path(delete, path = "/v1/users/{user_id}/grants", tag = "apps",
    params(("user_id" = String, Path, pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")),
    responses((status = 200, body = Revoked), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = ["grants:write"])))]
pub async fn revoke_user_grants(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(user): PathId<UserId>,
) -> Result<Json<Revoked>, Problem> {
    api.require("grants:write")?;
    let n = grants(&state).revoke_all(&Revoker::host(api.actor(), request(request_id)), &user).await?;
    Ok(Json(Revoked { revoked: n }))
}

/// Ends one of a user's grants.
#[utoipa::path(delete, path = "/v1/users/{user_id}/grants/{grant_id}", tag = "apps",
    params(
        ("user_id" = String, Path, pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8"),
        ("grant_id" = String, Path, pattern = r"^grt_[A-Za-z0-9_-]{1,64}$", example = "grt_0123456789abcdef0123456789abcdef"),
    ),
    responses((status = 200, body = Revoked), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = ["grants:write"])))]
pub async fn revoke_user_grant(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    Path((user, grant)): Path<(String, String)>,
) -> Result<Json<Revoked>, Problem> {
    api.require("grants:write")?;
    let user = user_path(&user)?;
    let grant = GrantId::parse(&grant).map_err(|_| Problem::new(ProblemCode::GrantNotFound))?;
    grants(&state).revoke(&Revoker::host(api.actor(), request(request_id)), &user, &grant).await?;
    Ok(Json(Revoked { revoked: 1 }))
}
