//! Liveness, readiness, metrics and the OpenAPI document.

use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the check passed.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub database: &'static str,
    pub key_store: &'static str,
}

/// Readiness: the database answers and the key store unwraps the system keys.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "readiness: database");
        return Problem::new(ProblemCode::ServiceUnavailable)
            .detail("The database does not answer. Retry shortly.")
            .retry_after(5)
            .into_response();
    }
    let key_ok = match state.store.wrapped_key("sys-blind-index").await {
        Ok(Some(k)) => state.vault.unwrap(&k).is_ok(),
        _ => false,
    };
    if !key_ok {
        return Problem::new(ProblemCode::ServiceUnavailable)
            .detail("The key store cannot unwrap the system keys with the configured master key. Check the key configuration.")
            .retry_after(5)
            .into_response();
    }
    Json(Readiness { status: "ok", database: "ok", key_store: "ok" }).into_response()
}
