//! `/v1/me/revocation/preflight`: every blocker standing in the way of a
//! real-name revocation or an account cancellation, at once (SPEC RV1,
//! issue 17), each with a stable code, the item and amount concerned, and
//! the action that clears it with the host app's deep link
//! (`docs/revocation.md`).

use crate::middleware::UserSession;
use crate::problem::{FieldError, Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use idlink_core::revocation::{PreflightReport, RevocationError};
use idlink_domain::revocation::{Blocker, Operation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/me/revocation/preflight` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreflightQuery {
    #[param(schema_with = crate::schema::revocation_operation, example = "revoke_real_name")]
    operation: Option<String>,
}

/// What clears a blocker.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClearingAction {
    /// A stable code: `withdraw_balance`, `wait_for_transactions`, `claim_or_return_red_packets`,
    /// `repay_loans`, `cancel_contracts`, `transfer_admin_role`, `wait_after_abnormal_login`,
    /// `use_primary_device`, `wait_after_real_name_change`, `retry_later`.
    #[schema(example = "withdraw_balance")]
    pub code: String,
    /// The host app's deep link for it, when the deployment configures one.
    pub link: Option<String>,
}

/// One thing standing in the way.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreflightBlocker {
    /// A stable code: `wallet_balance`, `pending_transactions`, `unclaimed_red_packets`, `active_loans`,
    /// `auto_renew_contracts`, `directory_admin`, `abnormal_login`, `non_primary_device`,
    /// `recent_real_name_change`, `source_unavailable`.
    #[schema(example = "wallet_balance")]
    pub code: String,
    /// Who named it: `wallet`, `lending`, `subscriptions`, `directories` (the host's stores) or `idlink`.
    #[schema(example = "wallet")]
    pub source: String,
    /// The item concerned as its store names it (masked where it names a person).
    pub item: Option<String>,
    /// The amount concerned, in fen (even 1 fen blocks).
    pub amount_fen: Option<i64>,
    /// When it lifts by itself (a waiting period), or when to ask an unavailable store again.
    pub until: Option<String>,
    pub action: ClearingAction,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preflight {
    #[schema(example = "revoke_real_name")]
    pub operation: String,
    /// Nothing stands in the way.
    pub clear: bool,
    pub checked_at: String,
    /// The host's stores this deployment registered and asked (idlink's own rules always apply).
    pub sources_asked: Vec<String>,
    /// Every blocker at once, by source then kind.
    pub blockers: Vec<PreflightBlocker>,
}

impl Preflight {
    fn of(r: PreflightReport, links: &std::collections::BTreeMap<String, String>) -> Self {
        let blocker = |b: Blocker| {
            let action = b.kind.clears_by();
            PreflightBlocker {
                code: b.kind.code().to_owned(),
                source: b.source.as_str().to_owned(),
                item: b.item,
                amount_fen: b.amount.map(|f| f.0),
                until: b.until.map(|t| t.to_string()),
                action: ClearingAction { code: action.to_owned(), link: links.get(action).cloned() },
            }
        };
        Self {
            operation: r.operation.as_str().to_owned(),
            clear: r.is_clear(),
            checked_at: r.checked_at.to_string(),
            sources_asked: r.asked.iter().map(|s| s.as_str().to_owned()).collect(),
            blockers: r.blockers.into_iter().map(blocker).collect(),
        }
    }
}

impl From<RevocationError> for Problem {
    fn from(e: RevocationError) -> Self {
        match e {
            RevocationError::NotVerified => Problem::new(ProblemCode::IdentityNotVerified)
                .detail("The account has no verified real-name identity to revoke; to close the account, ask for `cancel_account`."),
            RevocationError::Store(e) => e.into(),
        }
    }
}

/// Every blocker at once: the host's stores (each asked within a deadline;
/// one that does not answer is itself a blocker) and idlink's own rules.
/// Asks nothing of the user and changes nothing.
#[utoipa::path(get, path = "/v1/me/revocation/preflight", tag = "revocation",
    params(("Idlink-Session" = String, Header, description = "The user's session token."), PreflightQuery),
    responses(
        (status = 200, body = Preflight),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn preflight(
    State(state): State<AppState>,
    session: UserSession,
    Query(q): Query<PreflightQuery>,
) -> Result<Json<Preflight>, Problem> {
    let operation = match q.operation.as_deref() {
        None => Operation::RevokeRealName,
        Some(o) => Operation::parse(o).ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "/query/operation",
                "invalid_operation",
                "`operation` is `revoke_real_name` or `cancel_account`.",
            )])
        })?,
    };
    let report = state.revocations().preflight(&session.0, operation).await?;
    Ok(Json(Preflight::of(report, &state.revocation_policy.links)))
}
