//! `/v1/me/cards`: binding bank cards (SPEC BK1).

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::UserSession;
use crate::problem::Problem;
use crate::routes::banks::DisclosurePolicy;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::ports::bindings::BindingRow;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::roster::Roster;
use idlink_domain::{PhoneNumber, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub id: String,
    /// Bank code from the roster, e.g. `ICBC`.
    pub bank: String,
    pub bank_name: String,
    /// Masked: the last four digits only.
    pub last4: String,
    /// `pending_sms`, `active`, or `ended` for a card the bank reported lost (kept in the list so the user sees why).
    pub status: String,
    /// Why an ended binding ended: `card_reported_lost`.
    pub end_reason: Option<String>,
    /// Set while the bank suspends balance queries on the card: `password_locked`.
    pub suspended_reason: Option<String>,
    /// The number failed its check digit but is a UnionPay 62 card, accepted with a warning.
    pub luhn_warning: bool,
    /// The risk rules' decision when the binding became active: `allow`, `step_up` or `freeze`.
    pub risk: Option<String>,
    /// How the bank discloses balances and whether it needs an agreement; when
    /// `closed`, balance queries are refused: do not offer them (nor a step-up for them).
    pub policy: DisclosurePolicy,
}

fn view(b: BindingRow, risk: Option<String>, roster: &Roster) -> Card {
    Card {
        policy: DisclosurePolicy::of(&b.bank, roster.bank(&b.bank)),
        bank_name: BinTable::bundled().bank_name(&b.bank).unwrap_or(&b.bank).to_owned(),
        id: b.id.into(),
        bank: b.bank,
        last4: b.last4,
        status: b.status.as_str().to_owned(),
        end_reason: b.end_reason,
        suspended_reason: b.suspended_reason,
        luhn_warning: b.luhn_warning,
        risk,
    }
}

/// Body of `POST /v1/me/cards`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindCard {
    #[schema(pattern = r"^[0-9]{12,19}$", example = "6222021234567890128")]
    card_number: String,
    /// The phone the bank has on record for the card; the bank sends its code there.
    #[schema(pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$", example = "13812341234")]
    reserved_phone: String,
}

impl Validate for BindCard {
    type Valid = (CardNumber, PhoneNumber);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let card = c.parse("card_number", "invalid_card_number", &self.card_number, |n| CardNumber::parse(n, BinTable::bundled()));
        let phone = c.parse("reserved_phone", "invalid_phone", &self.reserved_phone, PhoneNumber::parse);
        Some((card?, phone?))
    }
}

/// Starts binding a card: the bank checks card, verified name and ID number and reserved phone, then sends a code.
#[utoipa::path(post, path = "/v1/me/cards", tag = "cards",
    request_body = BindCard,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = Card), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn bind(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body((card, phone)): Body<BindCard>,
) -> Result<Response, Problem> {
    let b = state.bindings().start(&session.0, request_id.as_deref(), &card, &phone).await?;
    Ok((StatusCode::CREATED, Json(view(b, None, &state.roster))).into_response())
}

/// Body of `POST /v1/me/cards/{binding_id}/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmCard {
    /// The code the bank sent to the reserved phone.
    #[schema(example = "123456")]
    code: String,
}

impl Validate for ConfirmCard {
    type Valid = String;
    fn validate(self, _: &mut Causes) -> Option<String> {
        Some(self.code)
    }
}

/// Confirms a binding with the bank's code.
#[utoipa::path(post, path = "/v1/me/cards/{binding_id}/confirm", tag = "cards",
    request_body = ConfirmCard,
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "From POST /v1/me/cards."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Card), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
    Body(code): Body<ConfirmCard>,
) -> Result<Json<Card>, Problem> {
    let bound = state.bindings().confirm(&session.0, request_id.as_deref(), &id, &code).await?;
    let risk = match bound.risk {
        idlink_domain::risk::RiskDecision::Allow => "allow",
        idlink_domain::risk::RiskDecision::StepUp => "step_up",
        idlink_domain::risk::RiskDecision::Freeze => "freeze",
    };
    Ok(Json(view(bound.binding, Some(risk.to_owned()), &state.roster)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cards {
    pub cards: Vec<Card>,
}

/// The user's bound and pending cards, masked, each with its bank's disclosure policy.
#[utoipa::path(get, path = "/v1/me/cards", tag = "cards",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Cards), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, session: UserSession) -> Result<Json<Cards>, Problem> {
    let all = state.bindings().list(&session.0.user_id).await?;
    Ok(Json(Cards { cards: all.into_iter().map(|b| view(b, None, &state.roster)).collect() }))
}

/// Ends a binding.
#[utoipa::path(delete, path = "/v1/me/cards/{binding_id}", tag = "cards",
    params(("binding_id" = String, Path, pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef", description = "The binding."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Unbound."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn unbind(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::BindingId>,
) -> Result<StatusCode, Problem> {
    state.bindings().end(&session.0, request_id.as_deref(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
