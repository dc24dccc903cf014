//! The credit report (SPEC CR1–CR5, issue 15; `docs/credit-report.md`):
//! quote, request after a step-up (a paid one waits for the host app's
//! cashier), verification by face or by a bound bank card and its bank's
//! code, status, and the PDF behind a signed link that works only in the
//! session that made it.
//! Every endpoint acts for the logged-in user (`Idlink-Session`); an OAuth
//! access token of a third-party app is not a session and opens none.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::UserSession;
use crate::problem::Problem;
use crate::routes::operator::OperatorAuth;
use crate::routes::security::STEP_UP_HEADER;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::credit::{Actor, DownloadLink, QuoteView, RequestView};
use idlink_domain::{CreditRequestId, Fen, PhoneNumber, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn actor<'a>(s: &'a UserSession, request_id: Option<&'a RequestId>) -> Actor<'a> {
    Actor { session: &s.0, request_id }
}

/// What the next report costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditQuote {
    /// The calendar year (Asia/Shanghai) the quota counts in.
    year: i16,
    free_per_year: u32,
    free_left: u32,
    /// What the next request costs, in fen: 0 while free reports are left.
    fee_fen: i64,
}

impl From<QuoteView> for CreditQuote {
    fn from(q: QuoteView) -> Self {
        Self { year: q.year, free_per_year: q.free_per_year, free_left: q.free_left, fee_fen: q.fee_fen }
    }
}

/// A credit-report request as the user follows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditRequest {
    id: String,
    /// `requested`, `verifying`, `fetching`, `in_review`, `ready`, `rejected` or `failed`.
    state: String,
    /// Why it ended rejected or failed, or why it waits (a stable code).
    reason: Option<String>,
    /// When the current state is expected to end (RFC 3339).
    expected_at: Option<String>,
    free: bool,
    fee_fen: i64,
    /// How the user proved who they are.
    method: Option<String>,
    pages: Option<u32>,
    downloads: u32,
    created_at: String,
    ready_at: Option<String>,
    /// A paid request's payment at the host app's cashier (pay it there; verification waits for it).
    payment_id: Option<String>,
    /// When the cashier confirmed the payment.
    paid_at: Option<String>,
    /// When the fee was refunded (a paid request that ended without a report).
    refunded_at: Option<String>,
    /// Where the host app sends its user to pay; only in the answer that created the payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_url: Option<String>,
}

impl From<RequestView> for CreditRequest {
    fn from(v: RequestView) -> Self {
        Self {
            id: v.id.to_string(),
            state: v.state.as_str().to_owned(),
            reason: v.reason,
            expected_at: v.expected_at.map(|t| t.to_string()),
            free: v.free,
            fee_fen: v.fee_fen,
            method: v.method,
            pages: v.pages,
            downloads: v.downloads,
            created_at: v.created_at.to_string(),
            ready_at: v.ready_at.map(|t| t.to_string()),
            payment_id: v.payment_id,
            paid_at: v.paid_at.map(|t| t.to_string()),
            refunded_at: v.refunded_at.map(|t| t.to_string()),
            checkout_url: v.checkout_url,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditRequests {
    /// Newest first.
    requests: Vec<CreditRequest>,
}

/// The report's quote for this user.
#[utoipa::path(get, path = "/v1/credit-reports/quote", tag = "credit report",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditQuote), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn quote(State(state): State<AppState>, session: UserSession) -> Result<Json<CreditQuote>, Problem> {
    Ok(Json(state.credit().quote(&session.0.user_id).await?.into()))
}

/// Body of `POST /v1/credit-reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCreditRequest {
    /// The `fee_fen` of the quote the user accepted: the request opens only at that price.
    accepted_fee_fen: i64,
}

impl Validate for NewCreditRequest {
    type Valid = Fen;
    fn validate(self, c: &mut Causes) -> Option<Fen> {
        if self.accepted_fee_fen < 0 {
            c.invalid("accepted_fee_fen", "invalid_fee", "a fee is 0 or more fen: send the quote's `fee_fen`.");
            return None;
        }
        Some(Fen(self.accepted_fee_fen))
    }
}

/// Asks for the user's credit report, after a step-up for `credit_report.request` on the user's own id.
#[utoipa::path(post, path = "/v1/credit-reports", tag = "credit report",
    request_body = NewCreditRequest,
    params(("Idlink-Session" = String, Header, description = "The user's session token."),
        ("Idlink-Step-Up" = String, Header, description = "A step-up token for `credit_report.request` whose resource is the user's id.")),
    responses((status = 201, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn request(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    headers: HeaderMap,
    Body(accepted): Body<NewCreditRequest>,
) -> Result<Response, Problem> {
    let token = headers.get(STEP_UP_HEADER).and_then(|v| v.to_str().ok());
    let view = state.credit().request(&actor(&session, request_id.as_deref()), token, accepted).await?;
    Ok((StatusCode::CREATED, Json(CreditRequest::from(view))).into_response())
}

/// The user's credit-report requests.
#[utoipa::path(get, path = "/v1/credit-reports", tag = "credit report",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequests), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, session: UserSession) -> Result<Json<CreditRequests>, Problem> {
    let requests = state.credit().list(&session.0.user_id).await?.into_iter().map(CreditRequest::from).collect();
    Ok(Json(CreditRequests { requests }))
}

/// One request: its state, what it waits for and until when.
#[utoipa::path(get, path = "/v1/credit-reports/{id}", tag = "credit report",
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().view(&session.0.user_id, id.as_str()).await?.into()))
}

/// Body of `POST /v1/credit-reports/{id}/face`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaceCheck {
    /// The liveness capture from the host app's face SDK. Sandbox test values: `sandbox:pass`, `sandbox:spoof`, `sandbox:poor_lighting`, `sandbox:mismatch`, `sandbox:pending`.
    #[schema(example = "sandbox:pass", min_length = 1)]
    liveness_video: String,
}

impl Validate for FaceCheck {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.liveness_video.trim().is_empty() {
            c.invalid("liveness_video", "missing_liveness", "send the liveness capture of the face SDK.");
            return None;
        }
        Some(self.liveness_video)
    }
}

/// Verifies the requester by face; a pass asks the bureau at once.
#[utoipa::path(post, path = "/v1/credit-reports/{id}/face", tag = "credit report",
    request_body = FaceCheck,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn face(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Body(video): Body<FaceCheck>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().verify_face(&actor(&session, request_id.as_deref()), id.as_str(), &video).await?.into()))
}

/// Body of `POST /v1/credit-reports/{id}/card`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardCheck {
    /// One of the user's bound cards (`id` in GET /v1/me/cards).
    #[schema(pattern = r"^bnd_[A-Za-z0-9_-]{1,64}$", example = "bnd_0123456789abcdef0123456789abcdef")]
    binding_id: String,
    /// The phone the bank has on record for the card; the bank sends its code there.
    #[schema(pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$", example = "13812341234")]
    reserved_phone: String,
}

impl Validate for CardCheck {
    type Valid = (String, PhoneNumber);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        if self.binding_id.trim().is_empty() {
            c.invalid("binding_id", "missing_binding", "send the id of one of your bound cards (GET /v1/me/cards).");
        }
        let phone = c.parse("reserved_phone", "invalid_phone", &self.reserved_phone, PhoneNumber::parse);
        if self.binding_id.trim().is_empty() {
            return None;
        }
        Some((self.binding_id, phone?))
    }
}

/// Verification by bank card: the card's bank sends its code to the reserved phone.
#[utoipa::path(post, path = "/v1/credit-reports/{id}/card", tag = "credit report",
    request_body = CardCheck,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn card(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Body((binding, phone)): Body<CardCheck>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().start_card(&actor(&session, request_id.as_deref()), id.as_str(), &binding, &phone).await?.into()))
}

/// Body of `POST /v1/credit-reports/{id}/card/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardCode {
    /// The code the bank sent to the reserved phone.
    #[schema(example = "123456", min_length = 1)]
    code: String,
}

impl Validate for CardCode {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.code.trim().is_empty() {
            c.invalid("code", "missing_code", "send the code from the bank's SMS.");
            return None;
        }
        Some(self.code)
    }
}

/// Verification by bank card, with the bank's code; a pass asks the bureau at once.
#[utoipa::path(post, path = "/v1/credit-reports/{id}/card/confirm", tag = "credit report",
    request_body = CardCode,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn card_confirm(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Body(code): Body<CardCode>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().confirm_card(&actor(&session, request_id.as_deref()), id.as_str(), &code).await?.into()))
}

/// Body of `POST /v1/credit-reports/{id}/certificate/challenge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The fingerprint of one of my certificates (GET /v1/me/certificates).
    #[schema(pattern = r"^[0-9a-f]{64}$", example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    fingerprint: String,
}

impl Validate for ChallengeRequest {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.fingerprint.len() != 64 || !self.fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.invalid(
                "fingerprint",
                "invalid_fingerprint",
                "a certificate's SHA-256 fingerprint: 64 hex digits (GET /v1/me/certificates).",
            );
            return None;
        }
        Some(self.fingerprint.to_ascii_lowercase())
    }
}

/// A challenge to sign with a certificate's key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateChallenge {
    /// The exact UTF-8 bytes to sign with ECDSA P-256/SHA-256.
    message: String,
    fingerprint: String,
    /// The signature must arrive before this (RFC 3339).
    expires_at: String,
}

/// Verification by certificate, first half: a one-time challenge (120 s) for one of my certificates. Not on first use.
#[utoipa::path(post, path = "/v1/credit-reports/{id}/certificate/challenge", tag = "credit report",
    request_body = ChallengeRequest,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CertificateChallenge), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn certificate_challenge(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Body(fingerprint): Body<ChallengeRequest>,
) -> Result<Json<CertificateChallenge>, Problem> {
    let c = state.credit().certificate_challenge(&actor(&session, request_id.as_deref()), id.as_str(), &fingerprint).await?;
    Ok(Json(CertificateChallenge { message: c.message, fingerprint: c.fingerprint, expires_at: c.expires_at.to_string() }))
}

/// Body of `POST /v1/credit-reports/{id}/certificate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSignature {
    /// The signature over the challenge's `message`, base64 (standard or URL-safe): 64-byte r||s (WebCrypto) or ASN.1 DER.
    #[schema(
        pattern = r"^[A-Za-z0-9+/_-]{16,172}={0,2}$",
        example = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
    )]
    signature: String,
}

impl Validate for CertificateSignature {
    type Valid = Vec<u8>;
    fn validate(self, c: &mut Causes) -> Option<Vec<u8>> {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let text = self.signature.trim();
        let bytes =
            STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')));
        match bytes {
            Ok(b) if !b.is_empty() && b.len() <= 128 => Some(b),
            _ => {
                c.invalid("signature", "invalid_signature", "the signature in base64: 64 bytes r||s or ASN.1 DER.");
                None
            }
        }
    }
}

/// Verification by certificate, second half: the signature; a pass asks the bureau at once.
#[utoipa::path(post, path = "/v1/credit-reports/{id}/certificate", tag = "credit report",
    request_body = CertificateSignature,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn certificate(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Body(signature): Body<CertificateSignature>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().verify_certificate(&actor(&session, request_id.as_deref()), id.as_str(), &signature).await?.into()))
}

/// My credit alerts (SPEC CR6).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditAlerts {
    enabled: bool,
    /// Apps told too, as a `credit.record_changed` security event.
    apps: Vec<String>,
    /// When the record was last compared (RFC 3339).
    checked_at: Option<String>,
    next_check_at: Option<String>,
    /// Changes announced so far.
    alerts: u32,
}

impl From<idlink_core::credit_alerts::AlertsView> for CreditAlerts {
    fn from(v: idlink_core::credit_alerts::AlertsView) -> Self {
        Self {
            enabled: v.enabled,
            apps: v.apps.iter().map(ToString::to_string).collect(),
            checked_at: v.checked_at.map(|t| t.to_string()),
            next_check_at: v.next_check_at.map(|t| t.to_string()),
            alerts: v.alerts,
        }
    }
}

/// Body of `PUT /v1/credit-reports/alerts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCreditAlerts {
    /// On: my record is compared daily and each new query by an institution, new overdue or new public record is sent to me by SMS.
    enabled: bool,
    /// Apps I authorised that are told too (their `client_id`); default none.
    #[serde(default)]
    apps: Vec<String>,
}

impl Validate for SetCreditAlerts {
    type Valid = (bool, Vec<idlink_domain::ClientId>);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let mut apps = Vec::new();
        for (i, a) in self.apps.iter().enumerate() {
            match idlink_domain::ClientId::parse(a) {
                Ok(id) if !apps.contains(&id) => apps.push(id),
                Ok(_) => {}
                Err(_) => c.invalid(&format!("apps/{i}"), "invalid_client_id", "an app is named by its `client_id` (cli_…)."),
            }
        }
        (apps.len() <= 20).then_some((self.enabled, apps)).or_else(|| {
            c.invalid("apps", "too_many_apps", "name at most 20 apps.");
            None
        })
    }
}

/// My credit alerts: whether they are on, the apps told too, when my record was last compared.
#[utoipa::path(get, path = "/v1/credit-reports/alerts", tag = "credit report",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditAlerts), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn alerts(State(state): State<AppState>, session: UserSession) -> Result<Json<CreditAlerts>, Problem> {
    Ok(Json(state.credit_alerts().view(&session.0.user_id).await?.into()))
}

/// Turns my credit alerts on or off (needs a verified resident ID to turn on); the first comparison is due at once and runs on the alert job's next pass.
#[utoipa::path(put, path = "/v1/credit-reports/alerts", tag = "credit report",
    request_body = SetCreditAlerts,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = CreditAlerts), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn set_alerts(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body((enabled, apps)): Body<SetCreditAlerts>,
) -> Result<Json<CreditAlerts>, Problem> {
    Ok(Json(state.credit_alerts().set(&session.0, request_id.as_deref(), enabled, &apps).await?.into()))
}

/// A download link for the ready report.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditLink {
    /// The path to GET, with its expiry and signature, in this session only.
    path: String,
    expires_at: String,
}

impl From<DownloadLink> for CreditLink {
    fn from(l: DownloadLink) -> Self {
        Self { path: l.path, expires_at: l.expires_at.to_string() }
    }
}

/// A signed link to the report's PDF, valid for this session and 24 hours (by default).
#[utoipa::path(post, path = "/v1/credit-reports/{id}/link", tag = "credit report",
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = CreditLink), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn link(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
) -> Result<Response, Problem> {
    let l = state.credit().link(&actor(&session, request_id.as_deref()), id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(CreditLink::from(l))).into_response())
}

/// The link's query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LinkQuery {
    /// Unix seconds.
    expires: i64,
    sig: String,
}

/// The report's PDF (counted and audited), through a link made in this session.
#[utoipa::path(get, path = "/v1/credit-reports/{id}/pdf", tag = "credit report",
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "From POST /v1/credit-reports."), LinkQuery, ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, description = "The PDF.", content_type = "application/pdf"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn pdf(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<CreditRequestId>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, Problem> {
    let bytes = state.credit().download(&actor(&session, request_id.as_deref()), id.as_str(), q.expires, &q.sig).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"credit-report.pdf\""));
    Ok(res)
}

/// The requests the bureau holds for an operator's review, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditReviews {
    /// Each with `expected_at`: when the review is due (the configured SLA).
    requests: Vec<CreditRequest>,
}

/// The credit-report review queue (role reviewer).
#[utoipa::path(get, path = "/v1/operator/credit-reviews", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = CreditReviews), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reviews(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<CreditReviews>, Problem> {
    let requests = state.credit().review_queue(&op).await?.into_iter().map(CreditRequest::from).collect();
    Ok(Json(CreditReviews { requests }))
}

/// Body of `POST /v1/operator/credit-reviews/{id}/decision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// `approve` (the bureau releases the report) or `reject`.
    #[schema(example = "approve", pattern = "^(approve|reject)$")]
    decision: String,
}

impl Validate for ReviewDecision {
    type Valid = bool;
    fn validate(self, c: &mut Causes) -> Option<bool> {
        match self.decision.as_str() {
            "approve" => Some(true),
            "reject" => Some(false),
            other => {
                c.invalid("decision", "invalid_decision", format!("`{other}` is not a decision; send `approve` or `reject`."));
                None
            }
        }
    }
}

/// Decides a held request (role reviewer): sent to the bureau, audited.
#[utoipa::path(post, path = "/v1/operator/credit-reviews/{id}/decision", tag = "operators",
    request_body = ReviewDecision,
    params(("id" = String, Path, pattern = r"^crq_[A-Za-z0-9_-]{1,64}$", example = "crq_0123456789abcdef0123456789abcdef", description = "The held request."),
        ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = CreditRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<CreditRequestId>,
    Body(approve): Body<ReviewDecision>,
) -> Result<Json<CreditRequest>, Problem> {
    Ok(Json(state.credit().decide(&op, &id, approve, request_id.as_deref()).await?.into()))
}
