//! `/v1/audit`: chain verification for auditors.

use crate::middleware::ApiCaller;
use crate::problem::Problem;
use crate::routes::store_problem;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use idlink_core::audit::verify_store;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChainReport {
    /// `intact` or `broken`.
    pub status: &'static str,
    pub records: u64,
    pub checkpoints: u64,
    /// The first bad record's sequence number, when broken.
    pub first_bad_record: Option<i64>,
    pub problem: Option<String>,
}

/// Verifies the whole audit chain and its signed checkpoints.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, body = ChainReport),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["audit:read"])))]
pub async fn verify(State(state): State<AppState>, api: ApiCaller) -> Result<Json<ChainReport>, Problem> {
    api.require("audit:read")?;
    let report = verify_store(state.store.as_ref(), &state.vault.signer().public_hex()).await.map_err(store_problem)?;
    Ok(Json(ChainReport {
        status: if report.first_break.is_none() { "intact" } else { "broken" },
        records: report.records,
        checkpoints: report.checkpoints,
        first_bad_record: report.first_break.as_ref().map(|b| b.seq()),
        problem: report.first_break.map(|b| b.to_string()),
    }))
}
