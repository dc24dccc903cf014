//! `/v1/audit`: chain verification for auditors.

use crate::middleware::ApiCaller;
use crate::problem::Problem;
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
    /// Checkpoints found in the witness outside the database.
    pub witnessed_checkpoints: u64,
    /// The record the newest witnessed checkpoint signs.
    pub newest_witnessed_record: Option<i64>,
    /// Records after the last checkpoint, waiting for the next one.
    pub unsigned_records: u64,
    /// Records signed later than the checkpoint interval allows, with the reason recorded in the chain.
    pub late_signings: Vec<LateSigning>,
    /// The first bad record's sequence number, when broken and the problem concerns a record.
    pub first_bad_record: Option<i64>,
    pub problem: Option<String>,
}

/// Records `first_record` to `checkpoint` were signed `waited_secs` after the
/// first was written; record `reason_record` says why (a crash, a paused
/// process, a manual signing).
#[derive(Debug, Serialize, ToSchema)]
pub struct LateSigning {
    pub first_record: i64,
    pub checkpoint: i64,
    pub waited_secs: i64,
    pub reason_record: i64,
}

/// Verifies the whole audit chain, its head, its signed checkpoints, their
/// continuity and the witness kept outside the database.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, body = ChainReport),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["audit:read"])))]
pub async fn verify(State(state): State<AppState>, api: ApiCaller) -> Result<Json<ChainReport>, Problem> {
    api.require("audit:read")?;
    let key = state.vault.signer().public_hex();
    let report = verify_store(state.store.as_ref(), state.audit.witness.as_ref(), &key, &state.audit.policy, state.clock.now()).await?;
    Ok(Json(chain_report(report)))
}

/// The answer of a verification, here and in the operator's audit explorer.
pub fn chain_report(report: idlink_core::audit::VerifyReport) -> ChainReport {
    ChainReport {
        status: if report.first_break.is_none() { "intact" } else { "broken" },
        records: report.records,
        checkpoints: report.checkpoints,
        witnessed_checkpoints: report.witnessed,
        newest_witnessed_record: report.newest_witnessed,
        unsigned_records: report.unsigned_records,
        late_signings: report
            .late_signings
            .iter()
            .map(|l| LateSigning {
                first_record: l.first_seq,
                checkpoint: l.checkpoint_seq,
                waited_secs: l.waited_secs,
                reason_record: l.reason_seq,
            })
            .collect(),
        first_bad_record: report.first_break.as_ref().and_then(|b| b.seq()),
        problem: report.first_break.map(|b| b.to_string()),
    }
}
