//! `/v1/me`: the logged-in user's own account, devices and sessions.

use crate::middleware::UserSession;
use crate::problem::Problem;
use crate::routes::auth::Device;
use crate::state::{AppState, ClientIp};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use idlink_core::steps::codes::Origin;
use idlink_domain::RequestId;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub devices: Vec<Device>,
}

/// The session's user and their registered devices.
#[utoipa::path(get, path = "/v1/me", tag = "login",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Me), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn me(State(state): State<AppState>, UserSession(s): UserSession) -> Result<Json<Me>, Problem> {
    let devices = state.store.devices(&s.user_id).await?;
    Ok(Json(Me {
        user_id: s.user_id.to_string(),
        devices: devices.into_iter().map(|d| Device { id: d.id.into(), name: d.name, primary: d.primary }).collect(),
    }))
}

/// Logs the user out on every device.
#[utoipa::path(delete, path = "/v1/me/sessions", tag = "login",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Every session is revoked."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    UserSession(s): UserSession,
) -> Result<StatusCode, Problem> {
    let origin = Origin { actor: format!("user:{}", s.user_id), client_ip: ip.0, request_id: request_id.as_deref().cloned() };
    state.auth().revoke_all(&origin, &s.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
