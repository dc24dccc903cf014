//! `/v1/banks`: what a host app shows about a bank before a user spends a
//! step: its disclosure policy (SPEC BK4, also on every card) and, for banks
//! that require one, the electronic agreement to read and sign (BK3 tier 4).

use crate::problem::Problem;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use idlink_domain::disclosure::{Freshness, Precision};
use idlink_domain::roster::Bank;
use serde::Serialize;
use utoipa::ToSchema;

/// How a bank discloses balances, from the roster (SPEC BK4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisclosurePolicy {
    /// `yuan` or `jiao` (an amount rounded down to that unit), `range` (a bucket), or `closed`.
    pub precision: String,
    /// For `range`: the width of a bucket in fen (50000 = 500 yuan).
    pub range_width_fen: Option<i64>,
    /// `real_time`, `daily` or `weekly` (snapshots, Asia/Shanghai).
    pub freshness: String,
    /// For `daily` and `weekly`: the snapshot time, `HH:MM` Asia/Shanghai.
    pub snapshot_time: Option<String>,
    /// For `weekly`: the snapshot's ISO weekday (1 = Monday … 7 = Sunday).
    pub snapshot_weekday: Option<i8>,
    /// The bank does not disclose balances to third parties: every balance
    /// query is refused (`balance_not_disclosed`), so do not ask the user for a step-up.
    pub closed: bool,
    /// A signed electronic agreement is needed before balance queries.
    pub agreement_required: bool,
    /// Where the bank's current agreement is served, when one is required.
    pub agreement_url: Option<String>,
}

impl DisclosurePolicy {
    /// The policy of `bank`; a bank missing from the roster is closed, as the query treats it.
    pub fn of(code: &str, bank: Option<&Bank>) -> Self {
        let precision = bank.map_or(Precision::Closed, |b| b.precision);
        let freshness = bank.map_or(Freshness::RealTime, |b| b.freshness);
        let agreement_required = bank.is_some_and(|b| b.e_agreement);
        let precision_name = precision.name();
        let range_width_fen = match precision {
            Precision::Range { width } => Some(width),
            Precision::Yuan | Precision::Jiao | Precision::Closed => None,
        };
        let (freshness_name, snapshot_time, snapshot_weekday) = match freshness {
            Freshness::RealTime => ("real_time", None, None),
            Freshness::Daily { hour, minute } => ("daily", Some(format!("{hour:02}:{minute:02}")), None),
            Freshness::Weekly { weekday, hour } => ("weekly", Some(format!("{hour:02}:00")), Some(weekday)),
        };
        Self {
            precision: precision_name.to_owned(),
            range_width_fen,
            freshness: freshness_name.to_owned(),
            snapshot_time,
            snapshot_weekday,
            closed: precision == Precision::Closed,
            agreement_required,
            agreement_url: agreement_required.then(|| agreement_url(code)),
        }
    }
}

pub fn agreement_url(code: &str) -> String {
    format!("/v1/banks/{code}/agreement")
}

/// A bank's current electronic agreement with risk notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementDocument {
    pub bank: String,
    pub bank_name: String,
    /// Send it as `document_version` when signing.
    pub version: String,
    pub title: String,
    /// The whole document (agreement, then risk notice), plain text, zh-CN. Show it as is.
    pub text: String,
    /// SHA-256 (hex) of `text` in UTF-8. Send it as `document_hash` when signing.
    pub sha256: String,
    /// How long a signature stays in force.
    pub validity_days: i64,
}

/// The bank's current electronic agreement with risk notice, to show the user before
/// signing it for a card (POST /v1/me/cards/{binding_id}/agreements with `version` and
/// `sha256`). A new version asks every user for a new signature: the card's
/// authorisations then show `agreement_status: outdated`.
#[utoipa::path(get, path = "/v1/banks/{code}/agreement", tag = "cards",
    params(("code" = String, Path, description = "The bank's roster code, as `bank` in the card list, e.g. `CMB`.")),
    responses((status = 200, body = AgreementDocument), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn agreement(State(state): State<AppState>, Path(code): Path<String>) -> Result<Json<AgreementDocument>, Problem> {
    let doc = state.documents.lookup(&code).map_err(|e| crate::errors::document_problem(e, &code))?;
    Ok(Json(AgreementDocument {
        bank: doc.bank.clone(),
        bank_name: doc.bank_name.clone(),
        version: doc.version.clone(),
        title: doc.title.clone(),
        text: doc.text.clone(),
        sha256: doc.sha256.clone(),
        validity_days: doc.validity_days,
    }))
}
