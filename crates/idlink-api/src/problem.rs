//! RFC 9457 problem documents: every error idlink answers.
//!
//! A [`Problem`] carries a stable `code` from [`CODES`] (the registry that
//! `docs/errors.md` mirrors, checked by a test), a message saying what to do
//! next, and the list of individual causes when there are several. Handlers
//! return a `Problem` as an empty response carrying it in an extension;
//! [`render_problems`] writes the body there, adding the request id. The
//! same middleware turns any other error response (unknown route, wrong
//! method, body too large, timeout, panic) into a problem document, so no
//! client ever sees a plain-text or empty error.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_domain::RequestId;
use serde::Serialize;
use utoipa::ToSchema;

/// Every problem code idlink can answer: (code, HTTP status, when and what to do).
pub const CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "The body is not valid JSON. Send a JSON object with `Content-Type: application/json`."),
    ("invalid_idempotency_key", 400, "The `Idempotency-Key` header must be 1 to 255 visible ASCII characters."),
    (
        "session_required",
        401,
        "This endpoint acts for a user: send the user's session token in the `Idlink-Session` header (from POST /v1/auth/login).",
    ),
    ("session_invalid", 401, "The session token is unknown, expired or revoked. Log the user in again."),
    ("operator_sign_in_failed", 401, "Username, password or one-time code is wrong. Check the authenticator app's clock and try again."),
    (
        "operator_session_invalid",
        401,
        "Send a valid operator session in the `Idlink-Operator` header (from POST /v1/operator/sessions); it may have expired.",
    ),
    ("unauthorized", 401, "No valid API key. Send `Authorization: Bearer <key id>.<secret>` with a key made by `idlink apikey create`."),
    ("api_key_revoked", 401, "The API key was revoked. Create a new one with `idlink apikey create`."),
    (
        "device_check_required",
        403,
        "This login is from a new device: finish the SMS check (POST /v1/auth/device-check) before using the session.",
    ),
    (
        "payment_password_refused",
        403,
        "The payment password was not accepted. After 3 wrong passwords in a row it is locked; the user can reset it with an SMS code and a face check.",
    ),
    (
        "biometric_refused",
        403,
        "The signed assertion was not accepted: unknown or used challenge, another device, or a bad signature. Ask for a new challenge.",
    ),
    (
        "balance_query_disabled",
        403,
        "Balance queries are off for this user: they stay off until the user turns them on with PUT /v1/me/features/balance-query and {\"enabled\": true} (the same call with false turns them off again).",
    ),
    (
        "agreement_required",
        403,
        "This bank requires a signed electronic agreement with risk notice for the card, for its current version (a new version needs a new signature; the card's authorisations say `agreement_status`). Fetch it with GET /v1/banks/{code}/agreement, show it, and sign its `version` and `sha256` with POST /v1/me/cards/{id}/agreements.",
    ),
    ("balance_not_disclosed", 403, "This bank does not disclose balances to third parties. Check the balance in the bank's own app."),
    (
        "balance_query_suspended",
        423,
        "The bank suspended balance queries on this card after three wrong card passwords. Reset the password through the bank's own channels; queries resume when the bank reports it.",
    ),
    ("card_reported_lost", 410, "The bank reports this card lost, so its binding has ended. Bind the replacement card."),
    ("bank_signature_invalid", 401, "The callback's Bank-Signature does not verify under the bank's key (or a header is missing)."),
    ("bank_unknown", 404, "No bank with this code is in the roster."),
    (
        "agreement_not_required",
        404,
        "This bank requires no electronic agreement for balance queries (`agreement_required` is false in the card's policy): there is nothing to read or sign.",
    ),
    (
        "step_up_required",
        403,
        "This operation needs a fresh step-up token for it in the `Idlink-Step-Up` header: verify the payment password or a biometric assertion first. `errors[0].code` says what was wrong with the one sent: step_up_missing, step_up_invalid, step_up_other_use, step_up_spent or step_up_expired.",
    ),
    (
        "account_frozen",
        403,
        "The account is frozen for a risk review; operators respond within minutes. Sensitive operations are refused until two operators lift the freeze.",
    ),
    ("not_a_verified_minor", 403, "Only a user verified as under 18 names a guardian. Verify the real-name identity first."),
    ("operator_role_required", 403, "The operator lacks the role this action needs; the message names it."),
    ("insufficient_scope", 403, "The API key lacks the scope this endpoint needs; the message names it. Use a key with that scope."),
    ("not_found", 404, "No such endpoint. Check the path against /openapi.json."),
    ("device_not_found", 404, "The user has no device with this id. List the devices with GET /v1/me."),
    ("verification_not_found", 404, "No verification with this id for this user. Start one with POST /v1/me/verifications."),
    ("identity_not_verified", 404, "The user has no verified real-name identity yet. Verify it with POST /v1/me/verifications."),
    ("guardianship_not_found", 404, "No guardian link with this id involving this user. List them with GET /v1/me/guardianships."),
    ("card_binding_not_found", 404, "No card binding with this id for this user. List them with GET /v1/me/cards."),
    ("case_not_found", 404, "No review case with this id. List open cases with GET /v1/operator/reviews."),
    ("user_not_found", 404, "No user with this id. Check the id returned when the user was created."),
    ("method_not_allowed", 405, "The endpoint exists but not with this HTTP method. The `Allow` header lists the methods it takes."),
    ("request_timeout", 408, "The request took too long and was abandoned. Retry; if it keeps happening, contact the operator."),
    ("idempotency_in_progress", 409, "A request with this `Idempotency-Key` is still running. Wait for it, then retry to get its answer."),
    (
        "idempotency_answer_withheld",
        409,
        "The first request with this `Idempotency-Key` succeeded, but its answer held a one-time secret (a session or step-up token, a challenge) that is never kept, so it is not replayed. The message says where its result is; for a new one, send a new request with a new key.",
    ),
    (
        "idempotency_answer_lost",
        409,
        "The first request with this `Idempotency-Key` took effect, but the server stopped before it recorded the answer. It will not run again: read the current state instead, or send a new request with a new key.",
    ),
    (
        "verification_closed",
        409,
        "This verification is no longer waiting for input (it is processing or finished). Read its status, or start a new one.",
    ),
    (
        "real_name_change_limited",
        409,
        "Real-name changes are limited (3 per ID number per calendar year, 90 days apart, 180-day cooling-off after a 4th attempt); the message says which rule and from when it is possible.",
    ),
    ("guardianship_not_pending", 409, "This guardian link is not waiting for the guardian's acceptance any more."),
    ("card_already_bound", 409, "This card is bound to the account already."),
    (
        "agreement_version_not_current",
        409,
        "The `document_version` signed is not the bank's current agreement (a new version may have been published). Fetch GET /v1/banks/{code}/agreement again, show it to the user, and sign its `version` and `sha256`.",
    ),
    ("card_binding_not_pending", 409, "This binding is not waiting for the bank's code; start a new one."),
    ("case_closed", 409, "The review case is already decided."),
    ("second_operator_required", 409, "You already took a step of this case; a different operator must take the next one (dual control)."),
    ("phone_taken", 409, "A user with this phone number exists already. Look it up instead of creating it."),
    ("challenge_gone", 410, "The code expired, was already used, or ran out of tries. Request a new code."),
    ("user_data_shredded", 410, "The user's personal data was deleted (crypto-shredded) and cannot be read any more."),
    ("payload_too_large", 413, "The body is larger than the server accepts. Send a smaller body."),
    ("unsupported_media_type", 415, "Send the body as JSON with `Content-Type: application/json`."),
    ("idempotency_key_reused", 422, "This `Idempotency-Key` was used with a different request. Use a new key for a new request."),
    ("code_wrong", 422, "The SMS code is wrong; the message says how many tries are left. Check the code and try again."),
    (
        "weak_payment_password",
        422,
        "The payment password must be 6 digits, not one digit repeated and not a run like 123456. Choose another.",
    ),
    (
        "face_check_required",
        422,
        "A payment password exists already: resetting it needs a face check or a bank-card check. Send `liveness_video` or `card_number` too.",
    ),
    (
        "bank_card_check_failed",
        422,
        "The bank did not confirm that the card, the verified identity and the account's phone belong together; `errors` says why.",
    ),
    ("face_check_failed", 422, "The face check did not pass; `errors` gives the reason and what to do (for example retry in daylight)."),
    (
        "agreement_hash_mismatch",
        422,
        "`document_hash` is not the SHA-256 of the bank's current agreement: the text shown is not the one published. Show the `text` of GET /v1/banks/{code}/agreement unchanged and sign its `sha256`.",
    ),
    ("bank_code_wrong", 422, "The bank did not accept the code. Check the SMS from the bank and try again."),
    ("reserved_phone_mismatch", 422, "The bank has another phone on record for this card. Use that phone, or update it at the bank."),
    ("sms_undeliverable", 422, "The operator could not deliver an SMS to this number. Check the number or use another phone."),
    (
        "guardian_not_eligible",
        422,
        "The guardian must be another user whose real-name identity is verified as an adult. Ask them to register and verify first.",
    ),
    ("validation_failed", 422, "Some fields are missing or invalid; `errors` lists each one with what to fix."),
    ("rate_limited", 429, "Too many requests. Wait the number of seconds in `Retry-After`, then retry."),
    ("internal_error", 500, "Something failed inside idlink. Retry later; the request id identifies the failure in the logs."),
    (
        "institution_unavailable",
        503,
        "An institution idlink depends on (SMS gateway, bank, bureau) is down or in maintenance. Retry after `Retry-After` seconds.",
    ),
    (
        "bank_unavailable",
        503,
        "The bank is temporarily unavailable (maintenance or outage) on every channel. Retry after `Retry-After` seconds; `expected_end` says when the bank expects to be back.",
    ),
    ("service_unavailable", 503, "A dependency (database, key store or institution) is unavailable. Retry after `Retry-After` seconds."),
];

/// One cause of a failure: which input, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the offending field, e.g. `/phone`; `` for the whole body.
    pub pointer: String,
    /// Machine code of this cause, e.g. `required`, `invalid_type`, `invalid_phone`.
    pub code: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), code: code.into(), detail: detail.into() }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://idlink.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do next.
    pub detail: String,
    /// Stable machine-readable code, listed in docs/errors.md.
    pub code: String,
    /// The request id, also in the `x-request-id` header; quote it to the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every individual cause, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For an announced maintenance: when the institution expects to be back (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_end: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

fn title_of(status: u16) -> String {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error").to_owned()
}

impl Problem {
    /// A problem with a registered code; its status and default message come from [`CODES`].
    pub fn new(code: &'static str) -> Self {
        let (status, hint) =
            CODES.iter().find(|(c, _, _)| *c == code).map(|(_, s, h)| (*s, *h)).unwrap_or((500, "Something failed inside idlink."));
        Self {
            type_uri: format!("https://idlink.dev/problems/{code}"),
            title: title_of(status),
            status,
            detail: hint.to_owned(),
            code: code.to_owned(),
            request_id: None,
            errors: Vec::new(),
            expected_end: None,
            retry_after: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn expected_end(mut self, at: Option<jiff::Timestamp>) -> Self {
        self.expected_end = at.map(|t| t.to_string());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        let detail = if n == 1 {
            format!("{} Fix it and send the request again.", errors.first().map(|e| e.detail.as_str()).unwrap_or(""))
        } else {
            format!("{n} fields are missing or invalid; `errors` lists each. Fix them and send the request again.")
        };
        Problem::new("validation_failed").detail(detail).errors(errors)
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The finished response, body included.
    pub fn into_body_response(self) -> Response {
        let status = self.status();
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{\"code\":\"internal_error\"}".to_vec());
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = status;
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = retry {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status();
        res.extensions_mut().insert(self);
        res
    }
}

/// Renders problems with their request id, and turns bare error responses into problems.
pub async fn render_problems(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let mut res = next.run(req).await;
    if let Some(mut problem) = res.extensions_mut().remove::<Problem>() {
        problem.request_id = request_id;
        return with_headers_of(problem.into_body_response(), &res);
    }
    let status = res.status();
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "request_timeout",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            503 => "service_unavailable",
            400 => "malformed_json",
            401 => "unauthorized",
            _ => "internal_error",
        };
        let mut problem = Problem::new(code);
        problem.request_id = request_id;
        return with_headers_of(problem.into_body_response(), &res);
    }
    res
}

/// Keeps headers the original response set (`Allow`, `Retry-After`, `WWW-Authenticate`, `Idempotent-Replayed`).
fn with_headers_of(mut new: Response, old: &Response) -> Response {
    let replayed = header::HeaderName::from_static(crate::middleware::REPLAYED_HEADER);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE, replayed] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    new
}
