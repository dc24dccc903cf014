//! `/v1/me/…` strong authentication: payment password (SPEC ID6), step-up
//! tokens by payment password or biometric assertion (ID7), primary device.

use crate::extract::{Body, Causes, Validate};
use crate::middleware::UserSession;
use crate::problem::Problem;
use crate::routes::auth::Challenge;
use crate::state::{AppState, ClientIp};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::security::{Actor, NewPassword, ResetProof, StepUp};
use idlink_core::steps::codes::{Origin, Purpose};
use idlink_core::users::{self, Caller};
use idlink_domain::RequestId;
use idlink_domain::card::{BinTable, CardNumber};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const STEP_UP_HEADER: &str = "idlink-step-up";

fn actor<'a>(s: &'a UserSession, request_id: Option<&'a RequestId>) -> Actor<'a> {
    Actor { session: &s.0, request_id }
}

/// The session user's phone in the clear (an audited read), to send them a code.
pub async fn phone_of(
    state: &AppState,
    s: &UserSession,
    request_id: Option<&RequestId>,
    purpose: &str,
) -> Result<idlink_domain::PhoneNumber, Problem> {
    let caller = Caller { actor: format!("user:{}", s.0.user_id), request_id: request_id.cloned(), purpose: purpose.to_owned() };
    users::user_phone(state.store.as_ref(), &state.vault, state.clock.as_ref(), &caller, &s.0.user_id).await.map_err(Problem::from)
}

/// Body of `POST /v1/me/sms-challenges`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestMyCode {
    #[schema(schema_with = crate::schema::purpose)]
    purpose: String,
}

impl Validate for RequestMyCode {
    type Valid = Purpose;
    fn validate(self, c: &mut Causes) -> Option<Purpose> {
        match self.purpose.as_str() {
            "payment_password" => Some(Purpose::PaymentPassword),
            other => {
                c.invalid("purpose", "invalid_purpose", format!("`{other}` is not a purpose of this endpoint; use `payment_password`."));
                None
            }
        }
    }
}

/// Sends a code to the logged-in user's own phone, bound to this session's device.
#[utoipa::path(post, path = "/v1/me/sms-challenges", tag = "payment security",
    request_body = RequestMyCode,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = Challenge), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn request_my_code(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(purpose): Body<RequestMyCode>,
) -> Result<Response, Problem> {
    let rid = request_id.as_deref();
    let phone = phone_of(&state, &session, rid, "send verification code").await?;
    let origin = Origin { actor: format!("user:{}", session.0.user_id), client_ip: ip.0, request_id: rid.cloned() };
    let issued = state.auth().request_code_for_session(&origin, &session.0, &phone, purpose).await?;
    Ok((StatusCode::CREATED, Json(Challenge { challenge_id: issued.challenge_id, expires_at: issued.expires_at.to_string() }))
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPasswordStatus {
    pub set: bool,
    /// Locked after too many wrong passwords; reset with SMS + face.
    pub locked: bool,
}

/// Whether the user has a payment password and whether it is locked (shown to the user only).
#[utoipa::path(get, path = "/v1/me/payment-password", tag = "payment security",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = PaymentPasswordStatus), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn payment_password_status(State(state): State<AppState>, session: UserSession) -> Result<Json<PaymentPasswordStatus>, Problem> {
    let st = state.security().password_status(&session.0.user_id).await?;
    Ok(Json(PaymentPasswordStatus { set: st.set, locked: st.locked }))
}

/// Body of `PUT /v1/me/payment-password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPaymentPassword {
    /// 6 digits.
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    password: String,
    /// From `POST /v1/me/sms-challenges` with purpose `payment_password`.
    #[schema(example = "chl_0123456789abcdef")]
    challenge_id: String,
    #[schema(pattern = r"^[0-9]{6}$", example = "123456")]
    code: String,
    /// To reset an existing password: a face check. Sandbox test values: `sandbox:pass`, `sandbox:spoof`, `sandbox:poor_lighting`, `sandbox:mismatch`.
    #[schema(example = "sandbox:pass")]
    liveness_video: Option<String>,
    /// To reset an existing password instead of the face check: a bank card of the user's verified identity
    /// whose reserved phone is the account's phone.
    #[schema(pattern = r"^[0-9]{12,19}$", example = "6222021234567890128")]
    card_number: Option<String>,
}

/// A payment-password body whose card number (if any) passed its checks.
#[derive(Debug)]
pub struct PasswordChange {
    password: String,
    challenge_id: String,
    code: String,
    liveness_video: Option<String>,
    card: Option<CardNumber>,
}

impl Validate for SetPaymentPassword {
    type Valid = PasswordChange;
    fn validate(self, c: &mut Causes) -> Option<PasswordChange> {
        let card = match &self.card_number {
            Some(n) => Some(c.parse("card_number", "invalid_card_number", n, |n| CardNumber::parse(n, BinTable::bundled()))?),
            None => None,
        };
        let Self { password, challenge_id, code, liveness_video, .. } = self;
        Some(PasswordChange { password, challenge_id, code, liveness_video, card })
    }
}

/// Sets the payment password (SMS code), or resets it, also when locked (SMS code + face check).
#[utoipa::path(put, path = "/v1/me/payment-password", tag = "payment security",
    request_body = SetPaymentPassword,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204, description = "Set."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn set_payment_password(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(body): Body<SetPaymentPassword>,
) -> Result<StatusCode, Problem> {
    let PasswordChange { password, challenge_id, code, liveness_video, card } = &body;
    let change = PaymentPasswordChange { password, challenge_id, code, liveness_video: liveness_video.as_deref(), card: card.as_ref() };
    change_payment_password(&state, &session, request_id.as_deref(), &change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A payment-password set or reset as the user sent it (the H5 pages build one from their form).
#[derive(Debug, Clone, Copy)]
pub struct PaymentPasswordChange<'a> {
    pub password: &'a str,
    pub challenge_id: &'a str,
    pub code: &'a str,
    /// The face check of a reset.
    pub liveness_video: Option<&'a str>,
    /// The bank-card check of a reset, instead of the face.
    pub card: Option<&'a CardNumber>,
}

/// Sets or resets the payment password: proves the card with the bank when
/// one is given, then the use case checks the SMS code and the proof.
pub async fn change_payment_password(
    state: &AppState,
    session: &UserSession,
    rid: Option<&RequestId>,
    change: &PaymentPasswordChange<'_>,
) -> Result<(), Problem> {
    // The phone is read (an audited read) only when the bank must check it with a card; the SMS code needs no decryption.
    let card_proof = match change.card {
        Some(card) => {
            // The consents before the phone is read: the card and the ID number go to the bank.
            state.consent_gate().require_all(&session.0.user_id, &idlink_core::balance::BALANCE_CONSENTS).await??;
            let phone = phone_of(state, session, rid, "payment password").await?;
            Some(state.identities().prove_card(&session.0, rid, card, &phone).await?)
        }
        None => None,
    };
    let proof = match (&card_proof, change.liveness_video) {
        (Some(p), _) => Some(ResetProof::BankCard(p)),
        (None, Some(v)) => Some(ResetProof::Face(v)),
        (None, None) => None,
    };
    let new = NewPassword { password: change.password, challenge_id: change.challenge_id, code: change.code, proof };
    state.security().set_payment_password(&actor(session, rid), &new).await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepUpToken {
    /// Send as `Idlink-Step-Up` on the one request it is for. Single use.
    pub step_up_token: String,
    pub expires_at: String,
    /// `payment_password` or `biometric`.
    pub method: String,
}

impl From<StepUp> for StepUpToken {
    fn from(s: StepUp) -> Self {
        Self { step_up_token: s.token, expires_at: s.expires_at.to_string(), method: s.method.as_str().to_owned() }
    }
}

fn check_resource(c: &mut Causes, resource: &str) -> bool {
    c.check(
        "resource",
        resource.is_empty() || resource.len() > 128,
        "invalid_resource",
        "`resource` is the id the operation acts on, 1 to 128 characters.",
    )
}

/// Body of `POST /v1/me/payment-password/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPaymentPassword {
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    password: String,
    #[schema(schema_with = crate::schema::operation)]
    operation: String,
    /// The id it acts on.
    #[schema(min_length = 1, max_length = 128, example = "bnd_0123456789abcdef")]
    resource: String,
}

impl Validate for VerifyPaymentPassword {
    type Valid = Self;
    fn validate(self, c: &mut Causes) -> Option<Self> {
        Some(self).filter(|s| check_resource(c, &s.resource))
    }
}

/// Checks the payment password and mints a step-up token for one operation on one resource.
/// A wrong, locked or missing password get the same answer.
#[utoipa::path(post, path = "/v1/me/payment-password/verify", tag = "payment security",
    request_body = VerifyPaymentPassword,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = StepUpToken), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn verify_payment_password(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(body): Body<VerifyPaymentPassword>,
) -> Result<Response, Problem> {
    let (password, operation, resource) = (&body.password, &body.operation, &body.resource);
    let step_up = state.security().step_up_with_password(&actor(&session, request_id.as_deref()), password, operation, resource).await?;
    Ok((StatusCode::CREATED, Json(StepUpToken::from(step_up))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BiometricChallenge {
    pub challenge_id: String,
    /// The device signs exactly these UTF-8 bytes with its registered Ed25519 key.
    pub message: String,
    pub expires_at: String,
}

/// Body of `POST /v1/me/step-up/challenges`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpFor {
    #[schema(schema_with = crate::schema::operation)]
    operation: String,
    /// The id it acts on.
    #[schema(min_length = 1, max_length = 128, example = "bnd_0123456789abcdef")]
    resource: String,
}

impl Validate for StepUpFor {
    type Valid = Self;
    fn validate(self, c: &mut Causes) -> Option<Self> {
        Some(self).filter(|s| check_resource(c, &s.resource))
    }
}

/// A nonce for a biometric step-up: after the local biometric check, the device signs it.
#[utoipa::path(post, path = "/v1/me/step-up/challenges", tag = "payment security",
    request_body = StepUpFor,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = BiometricChallenge), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn biometric_challenge(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(body): Body<StepUpFor>,
) -> Result<Response, Problem> {
    let c = state.security().biometric_challenge(&actor(&session, request_id.as_deref()), &body.operation, &body.resource).await?;
    let body = BiometricChallenge { message: c.message(), challenge_id: c.id.into(), expires_at: c.expires_at.to_string() };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Body of `POST /v1/me/step-up/biometric`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BiometricAssertion {
    #[schema(example = "bch_0123456789abcdef")]
    challenge_id: String,
    /// Ed25519 signature of the challenge message, 128 hex characters.
    #[schema(
        example = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    )]
    signature: String,
}

impl Validate for BiometricAssertion {
    type Valid = Self;
    fn validate(self, _: &mut Causes) -> Option<Self> {
        Some(self)
    }
}

/// Mints a step-up token from a device-signed assertion.
#[utoipa::path(post, path = "/v1/me/step-up/biometric", tag = "payment security",
    request_body = BiometricAssertion,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = StepUpToken), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn biometric_step_up(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(body): Body<BiometricAssertion>,
) -> Result<Response, Problem> {
    let step_up =
        state.security().step_up_with_biometric(&actor(&session, request_id.as_deref()), &body.challenge_id, &body.signature).await?;
    Ok((StatusCode::CREATED, Json(StepUpToken::from(step_up))).into_response())
}

/// Makes another registered device the primary one. Needs a step-up token for
/// operation `device.make_primary` on that device id.
#[utoipa::path(post, path = "/v1/me/devices/{device_id}/primary", tag = "login",
    params(
        ("device_id" = String, Path, description = "The device to make primary."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
        ("Idlink-Step-Up" = String, Header, description = "A step-up token for `device.make_primary` on this device."),
    ),
    responses((status = 204, description = "It is the primary device now."), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn make_primary(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    headers: HeaderMap,
    Path(device_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let token = headers.get(STEP_UP_HEADER).and_then(|v| v.to_str().ok());
    state.security().make_primary(&actor(&session, request_id.as_deref()), &device_id, token).await?;
    Ok(StatusCode::NO_CONTENT)
}
