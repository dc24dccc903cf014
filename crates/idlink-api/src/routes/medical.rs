//! The medical-insurance payment code (SPEC SS3, issue 16;
//! `docs/medical-code.md`): `POST /v1/social-security/bindings/{id}/medical-code`
//! gives the user's app a fresh code for its device, as text and as a QR
//! image (SVG); `POST /v1/social-security/medical-payments` is the
//! terminal's side: a hospital or pharmacy terminal (an API key with
//! `medical:settle`) checks a code online (`…/medical-codes/verify`, spending
//! nothing) and settles a payment with it, once.

use crate::extract::{Body, Causes, Validate};
use crate::middleware::{ApiCaller, KeyPresented, UserSession};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_domain::{Fen, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The code as a QR image: SVG, black on white, level M, a 4-module quiet
/// zone, 4 px a module (CSS scales it). Each run of dark modules in a row is
/// one rectangle (`M{x} {y}h{w}v{h}H{x}V{y}`), which keeps a 480-character
/// code's image near 20 KB where one rectangle per module is five times that.
pub fn qr_svg(code: &str) -> Option<String> {
    use std::fmt::Write;
    const SCALE: usize = 4;
    const QUIET: usize = 4;
    let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M).ok()?;
    let width = qr.width();
    let colors = qr.to_colors();
    let dark = |x: usize, y: usize| colors.get(y * width + x) == Some(&qrcode::Color::Dark);
    let mut d = String::with_capacity(width * width * 2);
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if !dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && dark(x, y) {
                x += 1;
            }
            let (left, top) = ((QUIET + start) * SCALE, (QUIET + y) * SCALE);
            let _ = write!(d, "M{left} {top}h{}v{SCALE}H{left}V{top}", (x - start) * SCALE);
        }
    }
    let size = (width + 2 * QUIET) * SCALE;
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size}" height="{size}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect x="0" y="0" width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{d}"/></svg>"##
    ))
}

/// A code to show at the counter.
#[derive(Debug, Serialize, ToSchema)]
pub struct MedicalCodeView {
    /// The compact JWS a terminal scans (`docs/medical-code.md`).
    code: String,
    /// The same, as a QR image (SVG).
    qr_svg: String,
    /// The code is refused after this (RFC 3339).
    expires_at: String,
    /// Fetch the next code at this time, so the one shown never expires on screen.
    refresh_at: String,
}

/// A fresh medical-insurance code for this device (it lives 60 s; fetch the next at `refresh_at`).
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/medical-code", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = MedicalCodeView), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn issue(State(state): State<AppState>, session: UserSession, Path(id): Path<String>) -> Result<Json<MedicalCodeView>, Problem> {
    let c = state.medical_payments().issue(&session.0, &id).await?;
    let qr_svg =
        qr_svg(&c.code).ok_or_else(|| crate::errors::internal(&"too long for a QR code", "the medical code could not be drawn"))?;
    Ok(Json(MedicalCodeView { code: c.code, qr_svg, expires_at: c.expires_at.to_string(), refresh_at: c.refresh_at.to_string() }))
}

/// Body of `POST /v1/social-security/medical-payments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settle {
    /// The code as scanned from the patient's screen.
    #[schema(example = "eyJ0eXAiOiJpZGxpbmstbWVkY29kZStqd3QiLCJhbGciOiJFZERTQSJ9.e30.c2ln", min_length = 1, max_length = 2048)]
    code: String,
    /// The amount to settle, in fen.
    #[schema(minimum = 1, example = 12800)]
    amount_fen: i64,
    /// The terminal's own id (hospital or pharmacy, and counter).
    #[schema(example = "pharmacy-0042-till-1", min_length = 1, max_length = 64)]
    terminal_id: String,
}

impl Validate for Settle {
    type Valid = (String, Fen, String);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let code_ok = c.check("code", self.code.trim().is_empty() || self.code.len() > 2048, "invalid_code", "the code as scanned.");
        let amount_ok = c.check("amount_fen", self.amount_fen <= 0, "invalid_amount", "a positive amount in fen.");
        let terminal_ok = c.check(
            "terminal_id",
            self.terminal_id.trim().is_empty() || self.terminal_id.len() > 64,
            "invalid_terminal",
            "the terminal's id, 1 to 64 characters.",
        );
        (code_ok && amount_ok && terminal_ok).then(|| (self.code.trim().to_owned(), Fen(self.amount_fen), self.terminal_id))
    }
}

/// A payment settled with a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct MedicalPayment {
    settlement_id: String,
    amount_fen: i64,
    /// Paid from the patient's medical account.
    medical_account_fen: i64,
    /// Paid by the pooled fund.
    pooled_fund_fen: i64,
    /// The insured region (GB/T 2260).
    region: String,
    settled_at: String,
}

/// A terminal settles a payment with a patient's code: checked (signature, type, issuer, life), then spent once.
#[utoipa::path(post, path = "/v1/social-security/medical-payments", tag = "social security",
    request_body = Settle,
    responses((status = 201, body = MedicalPayment), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = ["medical:settle"])))]
pub async fn settle(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    api: ApiCaller,
    Body((code, amount, terminal)): Body<Settle>,
) -> Result<Response, Problem> {
    api.require("medical:settle")?;
    let p = state.medical_payments().settle(&api.actor(), request_id.as_deref(), &code, amount, &terminal).await?;
    let body = MedicalPayment {
        settlement_id: p.settlement_id,
        amount_fen: p.amount.0,
        medical_account_fen: p.medical_account.0,
        pooled_fund_fen: p.pooled_fund.0,
        region: p.region,
        settled_at: p.settled_at.to_string(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Body of `POST /v1/social-security/medical-codes/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckCode {
    /// The code as scanned.
    #[schema(example = "eyJ0eXAiOiJpZGxpbmstbWVkY29kZStqd3QiLCJhbGciOiJFZERTQSJ9.e30.c2ln", min_length = 1, max_length = 2048)]
    code: String,
}

impl Validate for CheckCode {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        c.check("code", self.code.trim().is_empty() || self.code.len() > 2048, "invalid_code", "the code as scanned.")
            .then(|| self.code.trim().to_owned())
    }
}

/// What the online check found: the code can pay now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeValid {
    valid: bool,
    /// The insured region (GB/T 2260).
    region: String,
    /// The code is refused after this (RFC 3339).
    expires_at: String,
}

/// A terminal's online check before it charges (nothing is spent): the code is idlink's, live, unused, and its card can pay.
#[utoipa::path(post, path = "/v1/social-security/medical-codes/verify", tag = "social security",
    request_body = CheckCode,
    responses((status = 200, body = CodeValid), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = ["medical:settle"])))]
pub async fn check(State(state): State<AppState>, key: KeyPresented, body: Result<Body<CheckCode>, Problem>) -> Result<Response, Problem> {
    // The key and the code are read in one statement (ADR 0034); the key still answers first.
    let (key, checked) = match body {
        Ok(Body(code)) => {
            let (key, checked) = state.medical_payments().check_with_key(&key.0, &code).await?;
            (key, Ok(checked))
        }
        // Not a check at all: the key, read alone, answers before the body's faults.
        Err(bad) => {
            let key = key.0.authenticate(state.store.as_ref(), state.clock.now()).await;
            (key.map_err(|e| crate::errors::gate_failure(&e, "API key lookup failed"))?, Err(bad))
        }
    };
    let api = match ApiCaller::admit(&state, key) {
        Ok(api) => api,
        Err(refused) => return Ok(refused),
    };
    // In the order of every API call: the key, the body, the scope, then what the handler finds.
    let checked = checked?;
    api.require("medical:settle")?;
    let c = checked?;
    Ok(Json(CodeValid { valid: true, region: c.region, expires_at: c.expires_at.to_string() }).into_response())
}
