//! `/v1/auth`: phone + SMS code login, new-device checks (SPEC ID1).

use crate::extract::{Fields, JsonObject};
use crate::middleware::{ApiCaller, SESSION_HEADER};
use crate::problem::{Problem, ProblemCode};
use crate::state::{AppState, ClientIp};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::auth::{LoginRequest, Origin, Purpose, SessionStatus};
use idlink_domain::{PhoneNumber, RequestId};
use serde::Serialize;
use utoipa::ToSchema;

fn origin(api: &ApiCaller, ip: &ClientIp, request_id: Option<&RequestId>) -> Origin {
    Origin { actor: api.actor(), client_ip: ip.0.clone(), request_id: request_id.cloned() }
}

fn phone_field(f: &mut Fields<'_>) -> Option<PhoneNumber> {
    f.required_parsed("phone", "invalid_phone", PhoneNumber::parse)
}

fn device_id_field<'a>(f: &mut Fields<'a>) -> Option<&'a str> {
    let id = f.required_str("device_id")?;
    if id.is_empty() || id.len() > 128 {
        f.invalid("device_id", "invalid_device_id", "`device_id` must be 1 to 128 characters, stable for the device.");
        return None;
    }
    Some(id)
}

/// Body of `POST /v1/auth/sms-challenges`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body read by `Fields`
pub struct RequestCode {
    /// Mainland mobile number.
    #[schema(example = "13812341234")]
    phone: String,
    /// The app's stable identifier of this device.
    device_id: String,
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
    body: JsonObject,
) -> Result<Response, Problem> {
    let mut f = Fields::new(&body);
    let phone = phone_field(&mut f);
    let device = device_id_field(&mut f);
    f.finish()?;
    let (Some(phone), Some(device)) = (phone, device) else { return Err(Problem::new(ProblemCode::InternalError)) };
    let issued = state.auth().request_code(&origin(&api, &ip, request_id.as_deref()), &phone, device, Purpose::Login).await?;
    Ok((StatusCode::CREATED, Json(Challenge { challenge_id: issued.challenge_id, expires_at: issued.expires_at.to_string() }))
        .into_response())
}

/// Body of `POST /v1/auth/login` and `POST /v1/auth/device-check`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Login {
    phone: String,
    device_id: String,
    /// Shown to the user in their device list, e.g. "iPhone 15".
    device_name: String,
    /// Ed25519 public key (64 hex characters) for signed biometric assertions, optional.
    public_key: Option<String>,
    challenge_id: String,
    /// The 6-digit code from the SMS.
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

struct LoginFields<'a> {
    phone: PhoneNumber,
    device_id: &'a str,
    device_name: &'a str,
    public_key: Option<&'a str>,
    challenge_id: &'a str,
    code: &'a str,
}

fn login_fields(body: &JsonObject) -> Result<LoginFields<'_>, Problem> {
    let mut f = Fields::new(body);
    let phone = phone_field(&mut f);
    let device_id = device_id_field(&mut f);
    let device_name = f.required_str("device_name");
    if device_name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 64) {
        f.invalid("device_name", "invalid_device_name", "`device_name` must be 1 to 64 characters.");
    }
    let public_key = f.optional_str("public_key");
    if public_key.is_some_and(|k| k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit())) {
        f.invalid("public_key", "invalid_public_key", "`public_key` must be an Ed25519 public key as 64 hex characters.");
    }
    let challenge_id = f.required_str("challenge_id");
    let code = f.required_str("code");
    if code.is_some_and(|c| c.len() != 6 || !c.bytes().all(|b| b.is_ascii_digit())) {
        f.invalid("code", "invalid_code", "`code` is the 6 digits from the SMS.");
    }
    f.finish()?;
    match (phone, device_id, device_name, challenge_id, code) {
        (Some(phone), Some(device_id), Some(device_name), Some(challenge_id), Some(code)) => {
            Ok(LoginFields { phone, device_id, device_name: device_name.trim(), public_key, challenge_id, code })
        }
        _ => Err(Problem::new(ProblemCode::InternalError)),
    }
}

impl LoginFields<'_> {
    fn request(&self) -> LoginRequest<'_> {
        LoginRequest {
            phone: &self.phone,
            client_device_id: self.device_id,
            device_name: self.device_name,
            public_key: self.public_key,
            challenge_id: self.challenge_id,
            code: self.code,
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
    body: JsonObject,
) -> Result<Response, Problem> {
    let fields = login_fields(&body)?;
    let origin = origin(&api, &ip, request_id.as_deref());
    let auth = state.auth();
    let out = auth.login(&origin, &fields.request()).await?;
    let device_check = if out.session.status == SessionStatus::DeviceCheckRequired {
        let issued = auth.request_device_check(&origin, &out.session, &fields.phone, fields.device_id).await?;
        Some(Challenge { challenge_id: issued.challenge_id, expires_at: issued.expires_at.to_string() })
    } else {
        None
    };
    let failures = state.store.payment_password(&out.session.user_id).await?.map_or(0, |p| p.failures);
    let risk = state.risk();
    let signals = risk.login_signals(&out.session, out.session.status == SessionStatus::DeviceCheckRequired, failures).await?;
    let decision = risk.assess(&out.session.user_id, &signals, "login", request_id.as_deref()).await?;
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
        device: Device { id: out.device.id, name: out.device.name, primary: out.device.primary },
        expires_at: out.session.expires_at.to_string(),
        device_check,
    };
    Ok((StatusCode::CREATED, Json(session)).into_response())
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
    body: JsonObject,
) -> Result<Json<DeviceChecked>, Problem> {
    let token = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| Problem::new(ProblemCode::SessionRequired))?;
    let fields = login_fields(&body)?;
    let s = state.auth().confirm_device(&origin(&api, &ip, request_id.as_deref()), token, &fields.request()).await?;
    Ok(Json(DeviceChecked { status: s.status.as_str().to_owned() }))
}
