//! `/v1/auth`: phone + SMS code login, new-device checks (SPEC ID1).

use crate::extract::{Body, Causes, Validate};
use crate::middleware::{ApiCaller, SESSION_HEADER};
use crate::problem::{Problem, ProblemCode};
use crate::state::{AppState, ClientIp};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::auth::LoginRequest;
use idlink_core::ports::auth::SessionStatus;
use idlink_core::steps::codes::{Origin, Purpose};
use idlink_domain::{PhoneNumber, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn origin(api: &ApiCaller, ip: &ClientIp, request_id: Option<&RequestId>) -> Origin {
    Origin { actor: api.actor(), client_ip: ip.0.clone(), request_id: request_id.cloned() }
}

fn check_device_id(c: &mut Causes, id: &str) -> bool {
    c.check(
        "device_id",
        id.is_empty() || id.len() > 128,
        "invalid_device_id",
        "`device_id` must be 1 to 128 characters, stable for the device.",
    )
}

/// Body of `POST /v1/auth/sms-challenges`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestCode {
    /// Mainland mobile number.
    #[schema(example = "13812341234", pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$")]
    phone: String,
    /// The app's stable identifier of this device.
    #[schema(min_length = 1, max_length = 128, example = "device-1")]
    device_id: String,
}

impl Validate for RequestCode {
    type Valid = (PhoneNumber, String);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let phone = c.parse("phone", "invalid_phone", &self.phone, PhoneNumber::parse);
        let device_ok = check_device_id(c, &self.device_id);
        Some((phone?, self.device_id)).filter(|_| device_ok)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    /// Give it back with the code.
    pub challenge_id: String,
    /// RFC 3339; the code is refused after this instant.
    pub expires_at: String,
}

/// Sends a 6-digit login code by SMS.
#[utoipa::path(post, path = "/v1/auth/sms-challenges", tag = "login",
    request_body = RequestCode,
    responses(
        (status = 201, body = Challenge),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many codes; see Retry-After."),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn request_code(
    State(state): State<AppState>,
    api: ApiCaller,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    Body((phone, device)): Body<RequestCode>,
) -> Result<Response, Problem> {
    let issued = state.auth().request_code(&origin(&api, &ip, request_id.as_deref()), &phone, &device, Purpose::Login).await?;
    Ok((StatusCode::CREATED, Json(Challenge { challenge_id: issued.challenge_id, expires_at: issued.expires_at.to_string() }))
        .into_response())
}

/// Body of `POST /v1/auth/login` and `POST /v1/auth/device-check`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(example = "13812341234", pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$")]
    phone: String,
    #[schema(min_length = 1, max_length = 128, example = "device-1")]
    device_id: String,
    /// Shown to the user in their device list, e.g. "iPhone 15".
    #[schema(min_length = 1, max_length = 64, pattern = r"\S", example = "iPhone 15")]
    device_name: String,
    /// Ed25519 public key (64 hex characters) for signed biometric assertions, optional.
    #[schema(pattern = r"^[0-9a-fA-F]{64}$", example = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")]
    public_key: Option<String>,
    #[schema(example = "chl_0123456789abcdef")]
    challenge_id: String,
    /// The 6-digit code from the SMS.
    #[schema(pattern = r"^[0-9]{6}$", example = "123456")]
    code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub primary: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// `active`, or `device_check_required` until the new device's SMS check passes.
    pub status: String,
    /// Send it as `Idlink-Session` on the user's requests. Shown once.
    pub session_token: String,
    pub user_id: String,
    pub new_user: bool,
    pub device: Device,
    pub expires_at: String,
    /// When `status` is `device_check_required`: the second code was sent for this challenge.
    pub device_check: Option<Challenge>,
    /// The risk rules' decision on this login: `allow`, `step_up` or `freeze` (sensitive operations refused until reviewed).
    pub risk: String,
}

/// A login body whose values passed their checks.
pub struct LoginFields {
    phone: PhoneNumber,
    device_id: String,
    device_name: String,
    public_key: Option<String>,
    challenge_id: String,
    code: String,
}

impl Validate for Login {
    type Valid = LoginFields;
    fn validate(self, c: &mut Causes) -> Option<LoginFields> {
        let phone = c.parse("phone", "invalid_phone", &self.phone, PhoneNumber::parse);
        let mut ok = check_device_id(c, &self.device_id);
        ok &= c.check(
            "device_name",
            self.device_name.trim().is_empty() || self.device_name.chars().count() > 64,
            "invalid_device_name",
            "`device_name` must be 1 to 64 characters.",
        );
        ok &= c.check(
            "public_key",
            self.public_key.as_ref().is_some_and(|k| k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit())),
            "invalid_public_key",
            "`public_key` must be an Ed25519 public key as 64 hex characters.",
        );
        ok &= c.check(
            "code",
            self.code.len() != 6 || !self.code.bytes().all(|b| b.is_ascii_digit()),
            "invalid_code",
            "`code` is the 6 digits from the SMS.",
        );
        let fields = LoginFields {
            phone: phone?,
            device_id: self.device_id,
            device_name: self.device_name.trim().to_owned(),
            public_key: self.public_key,
            challenge_id: self.challenge_id,
            code: self.code,
        };
        Some(fields).filter(|_| ok)
    }
}

impl LoginFields {
    fn request(&self) -> LoginRequest<'_> {
        LoginRequest {
            phone: &self.phone,
            client_device_id: &self.device_id,
            device_name: &self.device_name,
            public_key: self.public_key.as_deref(),
            challenge_id: &self.challenge_id,
            code: &self.code,
        }
    }
}

/// Redeems a login code: creates the user on first login and opens a session.
/// From a device the user never used, the session waits for a second SMS check.
#[utoipa::path(post, path = "/v1/auth/login", tag = "login",
    request_body = Login,
    responses(
        (status = 201, body = Session),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn login(
    State(state): State<AppState>,
    api: ApiCaller,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    Body(fields): Body<Login>,
) -> Result<Response, Problem> {
    let origin = origin(&api, &ip, request_id.as_deref());
    let auth = state.auth();
    let out = auth.login(&origin, &fields.request()).await?;
    let device_check = if out.session.status == SessionStatus::DeviceCheckRequired {
        let issued = auth.request_device_check(&origin, &out.session, &fields.phone, &fields.device_id).await?;
        Some(Challenge { challenge_id: issued.challenge_id, expires_at: issued.expires_at.to_string() })
    } else {
        None
    };
    let decision = assess_login(&state, &out.session, request_id.as_deref()).await?;
    let session = Session {
        risk: match decision {
            idlink_domain::risk::RiskDecision::Allow => "allow",
            idlink_domain::risk::RiskDecision::StepUp => "step_up",
            idlink_domain::risk::RiskDecision::Freeze => "freeze",
        }
        .to_owned(),
        status: out.session.status.as_str().to_owned(),
        session_token: out.token,
        user_id: out.session.user_id.to_string(),
        new_user: out.new_user,
        device: Device { id: out.device.id.into(), name: out.device.name, primary: out.device.primary },
        expires_at: out.session.expires_at.to_string(),
        device_check,
    };
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

/// The risk rules' decision on a fresh login (ID8), recorded as the API and
/// the H5 login both need it.
pub async fn assess_login(
    state: &crate::state::AppParts,
    session: &idlink_core::ports::auth::SessionRow,
    request_id: Option<&RequestId>,
) -> Result<idlink_domain::risk::RiskDecision, Problem> {
    let failures = state.store.payment_password(&session.user_id).await?.map_or(0, |p| p.failures);
    let risk = state.risk();
    let signals = risk.login_signals(session, session.status == SessionStatus::DeviceCheckRequired, failures).await?;
    Ok(risk.assess_login(session, &signals, request_id).await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceChecked {
    pub status: String,
}

/// Completes a new device's SMS check; the session becomes active.
#[utoipa::path(post, path = "/v1/auth/device-check", tag = "login",
    request_body = Login,
    params(("Idlink-Session" = String, Header, description = "The session token from the login that asked for the check.")),
    responses(
        (status = 200, body = DeviceChecked),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn device_check(
    State(state): State<AppState>,
    api: ApiCaller,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    Body(fields): Body<Login>,
) -> Result<Json<DeviceChecked>, Problem> {
    let token = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| Problem::new(ProblemCode::SessionRequired))?;
    let s = state.auth().confirm_device(&origin(&api, &ip, request_id.as_deref()), token, &fields.request()).await?;
    Ok(Json(DeviceChecked { status: s.status.as_str().to_owned() }))
}
