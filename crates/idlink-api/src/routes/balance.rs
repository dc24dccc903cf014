//! Balance queries (SPEC BK3, BK4, BK6): the feature switch, agreements,
//! the query itself and its history.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::{HeldClaim, KeptReplay, UserSession};
use crate::problem::{FieldError, Problem, ProblemCode};
use crate::routes::security::STEP_UP_HEADER;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::balance::AgreementStatus;
use idlink_domain::RequestId;
use idlink_domain::disclosure::Disclosed;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `PUT /v1/me/features/balance-query`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    enabled: bool,
}

impl Validate for Switch {
    type Valid = bool;
    fn validate(self, _: &mut Causes) -> Option<bool> {
        Some(self.enabled)
    }
}

/// Turns the "balance query" feature on or off (authorisation tier 2). Off takes effect on the next request.
#[utoipa::path(put, path = "/v1/me/features/balance-query", tag = "cards",
    request_body = Switch,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Set."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn set_switch(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(enabled): Body<Switch>,
) -> Result<StatusCode, Problem> {
    state.balances().set_switch(&session.0, request_id.as_deref(), enabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementView {
    pub id: String,
    pub document_version: String,
    /// SHA-256 of the document signed.
    pub document_hash: String,
    pub signed_at: String,
    pub valid_until: String,
    /// The agreement this one renewed (signing while one is in force renews it).
    pub renews: Option<String>,
}

impl From<idlink_core::ports::balance::Agreement> for AgreementView {
    fn from(a: idlink_core::ports::balance::Agreement) -> Self {
        Self {
            id: a.id.into(),
            document_version: a.document_version,
            document_hash: a.document_hash,
            signed_at: a.signed_at.to_string(),
            valid_until: a.valid_until.to_string(),
            renews: a.renews.map(String::from),
        }
    }
}

/// Body of `POST /v1/me/cards/{binding_id}/agreements`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAgreement {
    /// The `version` of the bank's current agreement (GET /v1/banks/{code}/agreement) the user read.
    #[schema(example = "2026-01")]
    document_version: String,
    /// Its `sha256`: the SHA-256 (hex) of the text shown.
    #[schema(pattern = r"^[0-9a-fA-F]{64}$", example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    document_hash: String,
}

impl Validate for SignAgreement {
    type Valid = Self;
    fn validate(self, c: &mut Causes) -> Option<Self> {
        let ok = c.check(
            "document_hash",
            self.document_hash.len() != 64 || !self.document_hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "invalid_document_hash",
            "`document_hash` is the SHA-256 of the document, 64 hex characters.",
        );
        Some(self).filter(|_| ok)
    }
}

/// Signs the bank's electronic agreement with risk notice for a card (authorisation tier 4).
/// The version and hash must be those of the bank's current document, served by
/// GET /v1/banks/{code}/agreement. Signing while an agreement is in force (of this or an
/// older version) renews it: a new validity period, the old one replaced.
#[utoipa::path(post, path = "/v1/me/cards/{binding_id}/agreements", tag = "cards",
    request_body = SignAgreement,
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The bound card."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = AgreementView), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn sign_agreement(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
    Body(body): Body<SignAgreement>,
) -> Result<Response, Problem> {
    let a = state.balances().sign_agreement(&session.0, request_id.as_deref(), &id, &body.document_version, &body.document_hash).await?;
    Ok((StatusCode::CREATED, Json(AgreementView::from(a))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    /// `yuan`, `jiao` or `range`.
    pub precision: String,
    /// For `yuan` and `jiao`: the balance rounded down to that unit, in fen.
    pub amount_fen: Option<i64>,
    /// For `range`: the balance lies in [low, high), in fen.
    pub range_low_fen: Option<i64>,
    pub range_high_fen: Option<i64>,
    /// The instant the figure describes (snapshot time for daily and weekly banks).
    pub as_of: String,
    pub next_refresh_at: String,
    /// The disclosed figure is below the card's low-balance alert threshold (an SMS was sent too).
    pub low_balance_alert: bool,
}

/// Queries a bound card's balance. Needs all four tiers: the binding, the switch on,
/// a step-up token for `balance.query` on this binding in `Idlink-Step-Up`, and the
/// bank's agreement where required. Shown only as precisely and freshly as the bank allows.
/// With an `Idempotency-Key`, a retry gets the same answer (header `Idempotent-Replayed`)
/// only with a live session of the same user, the same step-up token (still unexpired)
/// and every other tier still in force; each replay is audited and listed in the history.
#[utoipa::path(post, path = "/v1/me/cards/{binding_id}/balance", tag = "cards",
    params(
        ("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The bound card."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
        ("Idlink-Step-Up" = String, Header, description = "A step-up token for `balance.query` on this binding."),
    ),
    responses((status = 200, body = Balance), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn query(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    headers: HeaderMap,
    PathId(id): PathId<idlink_domain::BindingId>,
    claim: Option<Extension<HeldClaim>>,
    kept: Option<Extension<KeptReplay>>,
) -> Result<Json<Balance>, Problem> {
    let token = headers.get(STEP_UP_HEADER).and_then(|v| v.to_str().ok());
    let balances = state.balances();
    let rid = request_id.as_deref();
    let a = match kept {
        // A replay of a kept answer: served only while every tier still holds, and recorded as a disclosure.
        Some(kept) => balances.replay(&session.0, rid, &id, token, &kept.0.0).await,
        None => balances.query(&session.0, rid, &id, token, claim.as_ref().map(|c| &c.0.0)).await,
    }?;
    let precision = a.precision.name();
    let (amount, low, high) = match a.disclosed {
        Disclosed::Amount { fen } => (Some(fen.0), None, None),
        Disclosed::Range { low, high } => (None, Some(low.0), Some(high.0)),
        Disclosed::Closed => return Err(Problem::new(ProblemCode::BalanceNotDisclosed)),
    };
    Ok(Json(Balance {
        precision: precision.to_owned(),
        amount_fen: amount,
        range_low_fen: low,
        range_high_fen: high,
        as_of: a.as_of.to_string(),
        next_refresh_at: a.next_refresh_at.to_string(),
        low_balance_alert: a.low_balance_alert,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryEntry {
    pub binding_id: String,
    pub bank: String,
    pub channel: String,
    pub precision: String,
    /// Who asked.
    pub actor: String,
    pub at: String,
    /// `disclosed`, `replayed` (an idempotent replay of a disclosed answer) or `refused`.
    pub outcome: String,
    /// For `refused`: why, as the problem code the query got (`balance_query_disabled`, `step_up_expired`, …).
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryHistory {
    /// Newest first.
    pub queries: Vec<QueryEntry>,
}

/// Every balance query on the user's cards, refused ones too: when, by whom, through which channel, and why refused (BK6).
#[utoipa::path(get, path = "/v1/me/balance-queries", tag = "cards",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = QueryHistory), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn history(State(state): State<AppState>, session: UserSession) -> Result<Json<QueryHistory>, Problem> {
    let h = state.balances().history(&session.0.user_id).await?;
    Ok(Json(QueryHistory {
        queries: h
            .into_iter()
            .map(|q| QueryEntry {
                binding_id: q.binding_id.into(),
                bank: q.bank,
                channel: q.channel,
                precision: q.precision,
                actor: q.actor,
                at: q.at.to_string(),
                outcome: q.outcome,
                reason: q.reason,
            })
            .collect(),
    }))
}

/// The document a card's agreement is signed for.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementDocumentRef {
    pub version: String,
    pub sha256: String,
    /// Where its text is served.
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tiers {
    /// The card's bank (roster code).
    pub bank: String,
    /// How the bank discloses balances; when `closed`, no query can succeed whatever the tiers.
    pub policy: crate::routes::banks::DisclosurePolicy,
    /// Tier 1: the binding (revoke: DELETE /v1/me/cards/{id}).
    pub binding: String,
    /// Tier 2: the user's switch (revoke: PUT /v1/me/features/balance-query false).
    pub balance_query_enabled: bool,
    /// Tier 3: a step-up token per query.
    pub step_up_per_query: bool,
    /// Tier 4: whether the bank requires an agreement, and the one in force for the
    /// bank's current document (revoke: DELETE …/agreements).
    pub agreement_required: bool,
    /// `not_required`, `in_force`, `not_signed`, or `outdated`: the agreement in force was
    /// signed for an older version of the document and no longer counts; sign the current one.
    pub agreement_status: String,
    pub agreement: Option<AgreementView>,
    /// With `outdated`: the agreement signed for the older version.
    pub outdated_agreement: Option<AgreementView>,
    /// The bank's current document, to show and sign (when an agreement is required).
    pub agreement_document: Option<AgreementDocumentRef>,
    /// `password_locked` while the bank suspends queries on the card (lifted when the bank reports a reset).
    pub suspended_reason: Option<String>,
    /// The card's low-balance alert threshold, in fen.
    pub low_balance_alert_fen: Option<i64>,
}

/// Every authorisation tier of a card (BK3).
#[utoipa::path(get, path = "/v1/me/cards/{binding_id}/authorisations", tag = "cards",
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The bound card."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Tiers), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn tiers(
    State(state): State<AppState>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
) -> Result<Json<Tiers>, Problem> {
    let t = state.balances().tiers(&session.0, &id).await?;
    let status = match t.agreement_status {
        AgreementStatus::NotRequired => "not_required",
        AgreementStatus::InForce => "in_force",
        AgreementStatus::NotSigned => "not_signed",
        AgreementStatus::Outdated => "outdated",
    };
    Ok(Json(Tiers {
        policy: crate::routes::banks::DisclosurePolicy::of(&t.bank, state.roster.bank(&t.bank)),
        agreement_document: t.document.map(|d| AgreementDocumentRef {
            version: d.version.clone(),
            sha256: d.sha256.clone(),
            url: crate::routes::banks::agreement_url(&d.bank),
        }),
        bank: t.bank,
        binding: t.binding,
        balance_query_enabled: t.balance_query_enabled,
        step_up_per_query: t.step_up_per_query,
        agreement_required: t.agreement_required,
        agreement_status: status.to_owned(),
        agreement: t.agreement.map(AgreementView::from),
        outdated_agreement: t.outdated_agreement.map(AgreementView::from),
        suspended_reason: t.suspended_reason,
        low_balance_alert_fen: t.low_balance_alert.map(|f| f.0),
    }))
}

/// Revokes the card's agreement; the next query needs a new one.
#[utoipa::path(delete, path = "/v1/me/cards/{binding_id}/agreements", tag = "cards",
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The bound card."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Revoked."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn revoke_agreement(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
) -> Result<StatusCode, Problem> {
    state.balances().revoke_agreement(&session.0, request_id.as_deref(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /v1/me/cards/{binding_id}/low-balance-alert`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowBalanceAlert {
    /// Alert when a queried balance (as disclosed) is below this many fen; `null` turns the alert off.
    #[schema(required = true, minimum = 1, maximum = 100_000_000_000_i64, example = 10000)]
    threshold_fen: Option<i64>,
}

const THRESHOLD: &str = "`threshold_fen` is a whole number of fen from 1 to 100000000000, or null to turn the alert off.";

impl Validate for LowBalanceAlert {
    type Valid = Option<idlink_domain::Fen>;
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        match self.threshold_fen {
            None => Some(None),
            Some(n) if (1..=100_000_000_000).contains(&n) => Some(Some(idlink_domain::Fen(n))),
            Some(_) => {
                c.invalid("threshold_fen", "invalid_threshold", THRESHOLD);
                None
            }
        }
    }

    /// This body's causes keep the words they had before typed bodies.
    fn reword(cause: FieldError) -> FieldError {
        match cause.code.as_str() {
            "required" => FieldError::new(cause.pointer, "required", "`threshold_fen` is required (null turns the alert off)."),
            "invalid_type" => FieldError::new(cause.pointer, "invalid_threshold", THRESHOLD),
            "unknown_field" => FieldError::new(cause.pointer, "unknown_field", "Only `threshold_fen` is accepted here."),
            _ => cause,
        }
    }
}

/// Sets the card's low-balance alert (BK6): a query whose disclosed balance is
/// below the threshold says so and sends the user an SMS. For range banks the
/// whole range must be below, so the alert never reveals more than the range.
#[utoipa::path(put, path = "/v1/me/cards/{binding_id}/low-balance-alert", tag = "cards",
    request_body = LowBalanceAlert,
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The bound card."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Set."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn low_balance_alert(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
    Body(threshold): Body<LowBalanceAlert>,
) -> Result<StatusCode, Problem> {
    state.bindings().set_low_balance_alert(&session.0, request_id.as_deref(), &id, threshold).await?;
    Ok(StatusCode::NO_CONTENT)
}
