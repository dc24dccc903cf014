//! `/v1/users`: the minimal end-user record, its access log, crypto-shredding.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::ApiCaller;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::ports::audit::AuditRecord;
use idlink_core::users::{self, Caller, UserView};
use idlink_domain::{PhoneNumber, RequestId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    #[schema(example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")]
    pub id: String,
    /// Masked mobile number.
    #[schema(example = "138****1234")]
    pub phone: String,
    /// RFC 3339 UTC instant.
    pub created_at: String,
}

impl From<UserView> for User {
    fn from(v: UserView) -> Self {
        Self { id: v.id.to_string(), phone: v.phone, created_at: v.created_at.to_string() }
    }
}

/// Body of `POST /v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Mainland mobile number, 11 digits, optionally with +86.
    #[schema(example = "13812341234", pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$")]
    phone: String,
}

impl Validate for CreateUser {
    type Valid = PhoneNumber;
    fn validate(self, c: &mut Causes) -> Option<PhoneNumber> {
        c.parse("phone", "invalid_phone", &self.phone, PhoneNumber::parse)
    }
}

fn caller(api: &ApiCaller, request_id: Option<&RequestId>, purpose: &str) -> Caller {
    Caller { actor: api.actor(), request_id: request_id.cloned(), purpose: purpose.to_owned() }
}

/// Creates a user. The phone number is encrypted under the user's own data key.
#[utoipa::path(post, path = "/v1/users", tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = User),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["users:write"])))]
pub async fn create_user(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    Body(phone): Body<CreateUser>,
) -> Result<Response, Problem> {
    api.require("users:write")?;
    let who = caller(&api, request_id.as_deref(), "account management");
    let view = users::create_user(state.store.as_ref(), &state.vault, state.ids.as_ref(), state.clock.as_ref(), &who, &phone).await?;
    Ok((StatusCode::CREATED, Json(User::from(view))).into_response())
}

/// Reads a user (masked). The read is recorded in the audit log.
#[utoipa::path(get, path = "/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (`usr_…`).", pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")),
    responses(
        (status = 200, body = User),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["users:read"])))]
pub async fn get_user(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(id): PathId<UserId>,
) -> Result<Json<User>, Problem> {
    api.require("users:read")?;
    let who = caller(&api, request_id.as_deref(), "account management");
    let view = users::get_user(state.store.as_ref(), &state.vault, state.clock.as_ref(), &who, &id).await?;
    Ok(Json(view.into()))
}

/// Deletes the user's data key: all their encrypted personal data becomes unreadable, except
/// the records the law requires to keep (a revoked identity, for its period), which are sealed
/// again under a key of their own first.
#[utoipa::path(delete, path = "/v1/users/{user_id}/personal-data", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (`usr_…`).", pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")),
    responses(
        (status = 204, description = "The data key is deleted."),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["users:write"])))]
pub async fn shred_user(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(id): PathId<UserId>,
) -> Result<StatusCode, Problem> {
    api.require("users:write")?;
    let who = caller(&api, request_id.as_deref(), "personal data deletion");
    // What the law keeps (a revoked identity, for its period) outlives the user's key.
    state.revocations().keep_retained_apart(&id).await?;
    users::shred_user(state.store.as_ref(), &state.vault, state.ids.as_ref(), state.clock.as_ref(), &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One access to a user's personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRecord {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub purpose: String,
    pub outcome: String,
    pub request_id: Option<String>,
}

impl From<AuditRecord> for AccessRecord {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: r.entry.at.to_string(),
            actor: r.entry.actor,
            action: r.entry.action,
            purpose: r.entry.purpose,
            outcome: r.entry.outcome,
            request_id: r.entry.request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLog {
    pub user_id: String,
    /// Newest first, at most 200.
    pub records: Vec<AccessRecord>,
}

/// Who read or changed this user's personal data, newest first (SPEC P7).
#[utoipa::path(get, path = "/v1/users/{user_id}/access-log", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (`usr_…`).", pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8")),
    responses(
        (status = 200, body = AccessLog),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["users:read"])))]
pub async fn access_log(State(state): State<AppState>, api: ApiCaller, PathId(id): PathId<UserId>) -> Result<Json<AccessLog>, Problem> {
    api.require("users:read")?;
    let records = state.store.audit_records_of_user(&id, 200).await?;
    if records.is_empty() {
        return Err(Problem::new(ProblemCode::UserNotFound));
    }
    Ok(Json(AccessLog { user_id: id.to_string(), records: records.into_iter().map(AccessRecord::from).collect() }))
}
