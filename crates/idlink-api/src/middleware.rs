//! Cross-cutting HTTP layers: request ids and access logs, metrics, API-key
//! authentication, and idempotency of mutating requests.

use crate::errors;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_core::apikeys;
use idlink_core::idempotency::{self, Owner};
use idlink_core::ports::apikeys::ApiKeyRow;
use idlink_core::ports::idempotency::{ClaimRef, IdempotencyClaim, NewClaim};
use idlink_domain::RequestId;
use sha2::{Digest, Sha256};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Takes the caller's `x-request-id` when it is a valid id, else makes one;
/// logs one structured line per request (never bodies or credentials).
pub async fn request_id(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| RequestId::parse(s).ok())
        .unwrap_or_else(|| state.ids.request());
    req.extensions_mut().insert(id.clone());
    let ip = match req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
        Some(peer) => {
            let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
            state.limits.trusted_proxies.client(peer.0.ip(), &forwarded).to_string()
        }
        None => "unknown".to_owned(),
    };
    req.extensions_mut().insert(crate::state::ClientIp(ip));
    let method = req.method().clone();
    let route = route_of(&req);
    let span = tracing::info_span!("http", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = res.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request finished"));
    res
}

fn route_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned())
}

/// Counts requests and records latency by route, method and status.
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let res = next.run(req).await;
    let (count, time) = request_metrics(method, route, res.status());
    count.increment(1);
    time.record(started.elapsed().as_secs_f64());
    res
}

/// The request counter and latency histogram of one method, route and
/// status, registered on their first request and then found by one lookup
/// (labels built and hashed by the registry twice a request were a
/// measurable part of a point read's cost).
fn request_metrics(method: Method, route: Option<String>, status: axum::http::StatusCode) -> (metrics::Counter, metrics::Histogram) {
    use std::collections::HashMap;
    use std::sync::{OnceLock, PoisonError, RwLock};
    type Handles = HashMap<(Method, Option<String>, u16), (metrics::Counter, metrics::Histogram)>;
    static HANDLES: OnceLock<RwLock<Handles>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let key = (method, route, status.as_u16());
    if let Some((count, time)) = handles.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return (count.clone(), time.clone());
    }
    let labels =
        [("method", key.0.to_string()), ("route", key.1.clone().unwrap_or_else(|| "unmatched".to_owned())), ("status", key.2.to_string())];
    let made =
        (metrics::counter!("idlink_http_requests_total", &labels), metrics::histogram!("idlink_http_request_duration_seconds", &labels));
    // Routes, methods and statuses are bounded sets; the handles live as long as the registry does.
    handles.write().unwrap_or_else(PoisonError::into_inner).entry(key).or_insert(made).clone()
}

/// The last use of each API key this node wrote: a busy key is written once
/// a minute, not once for every request in flight when the minute turns.
#[derive(Debug, Default)]
pub struct KeyUses(std::sync::Mutex<std::collections::HashMap<idlink_domain::ApiKeyId, jiff::Timestamp>>);

impl KeyUses {
    /// Whether this node should record a use of `id` at `now` (and notes that it does).
    pub fn claim(&self, id: &idlink_domain::ApiKeyId, now: jiff::Timestamp) -> bool {
        let Ok(mut seen) = self.0.lock() else { return false };
        if seen.len() > 10_000 {
            seen.clear();
        }
        match seen.get(id) {
            Some(at) if now.duration_since(*at) < apikeys::LAST_USE_GRAIN => false,
            _ => {
                seen.insert(id.clone(), now);
                true
            }
        }
    }
}

/// The authenticated host-app key behind a request.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub ApiKeyRow);

impl ApiCaller {
    pub fn actor(&self) -> String {
        format!("apikey:{}", self.0.id)
    }

    /// Refuses unless the key holds `scope`.
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.0.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(Problem::new(ProblemCode::InsufficientScope)
                .detail(format!("This endpoint needs the `{scope}` scope; this key has: {}.", self.0.scopes.join(", "))))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts.extensions.get::<ApiCaller>().cloned().ok_or_else(|| Problem::new(ProblemCode::Unauthorized))
    }
}

/// Routes whose handler reads the caller's API key itself, in the same
/// statement as what it answers (ADR 0034): a terminal's code check, the
/// one API call whose every request is a single point read. Such a route
/// spends nothing, so it keeps no idempotency record: a retry checks again
/// (the document does not offer `Idempotency-Key` for it).
pub(crate) const KEY_READ_BY_HANDLER: [&str; 1] = ["/v1/social-security/medical-codes/verify"];

/// The bearer token of a route in [`KEY_READ_BY_HANDLER`], not read yet;
/// its handler admits it with [`ApiCaller::admit`] before anything else.
#[derive(Debug, Clone)]
pub struct KeyPresented(pub apikeys::PresentedKey);

impl<S: Send + Sync> FromRequestParts<S> for KeyPresented {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts.extensions.get::<KeyPresented>().cloned().ok_or_else(|| Problem::new(ProblemCode::Unauthorized))
    }
}

impl ApiCaller {
    /// The caller, once its key as read passed the checks, or the 401 that
    /// [`authenticate`] answers for a refused key.
    pub fn admit(state: &AppState, checked: Result<ApiKeyRow, apikeys::AuthFailure>) -> Result<Self, Response> {
        match checked {
            Ok(key) => {
                record_use(state, &key, state.clock.now());
                Ok(ApiCaller(key))
            }
            Err(refused) => Err(unauthorized(refused.into())),
        }
    }
}

/// Records a key's last use, at most once a minute per key and node, off the
/// request's path: the last use is for the key list, not for this answer.
fn record_use(state: &AppState, key: &ApiKeyRow, now: jiff::Timestamp) {
    if apikeys::use_worth_recording(key, now) && state.key_uses.claim(&key.id, now) {
        let (store, id) = (state.store.clone(), key.id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&id, now).await {
                tracing::warn!(error = %e, key = %id, "could not record an API key's last use");
            }
        });
    }
}

/// Resolves `Authorization: Bearer <token>` to an [`ApiCaller`], or answers 401.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token else {
        return unauthorized(Problem::new(ProblemCode::Unauthorized));
    };
    if req.extensions().get::<MatchedPath>().is_some_and(|p| KEY_READ_BY_HANDLER.contains(&p.as_str())) {
        let presented = KeyPresented(apikeys::PresentedKey::new(token));
        req.extensions_mut().insert(presented);
        return next.run(req).await;
    }
    // A request acting for a user carries its session too: read both in one round trip.
    let session_id = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).and_then(|t| t.split_once('.')).map(|(id, _)| id);
    let now = state.clock.now();
    let found = match session_id {
        Some(sid) => apikeys::authenticate_with_session(state.store.as_ref(), token, sid, now).await.map(|(k, s)| (k, Some(s))),
        None => apikeys::authenticate(state.store.as_ref(), token, now).await.map(|k| (k, None)),
    };
    match found {
        Ok((Ok(key), session)) => {
            record_use(&state, &key, now);
            req.extensions_mut().insert(ApiCaller(key));
            if let Some(row) = session {
                req.extensions_mut().insert(SessionRead(row));
            }
            next.run(req).await
        }
        Ok((Err(refused), _)) => unauthorized(refused.into()),
        Err(e) => errors::gate_failure(&e, "API key lookup failed").into_response(),
    }
}

fn unauthorized(p: Problem) -> Response {
    let mut res = p.into_response();
    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"idlink\""));
    res
}

fn valid_idempotency_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic())
}

/// How a route's answers may be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayPolicy {
    /// The answer is kept sealed and replayed to the same owner.
    Kept,
    /// A success minted a one-time secret: never kept; a replay is told where the result is.
    Withheld(&'static str),
    /// A success disclosed data: kept sealed, and replayed by the handler only
    /// while every authorisation tier is still in force, audited as a disclosure.
    Disclosure,
}

const NEW_STEP_UP: &str = "The step-up token was in the first answer and is shown only once; if it was lost, step up again with a new `Idempotency-Key` (the unused token expires by itself).";

fn replay_policy(route: &str) -> ReplayPolicy {
    match route {
        "/v1/auth/login" => ReplayPolicy::Withheld(
            "The session token was in the first answer and is shown only once. If it was lost, log in again with a new code and a new `Idempotency-Key`; DELETE /v1/me/sessions ends the sessions you cannot use.",
        ),
        "/v1/auth/sms-challenges" | "/v1/me/sms-challenges" => ReplayPolicy::Withheld(
            "The code went to the phone by SMS and the `challenge_id` was in the first answer. If it was lost, request a new code with a new `Idempotency-Key`.",
        ),
        "/v1/me/step-up/challenges" => ReplayPolicy::Withheld(
            "The challenge was in the first answer. If it was lost, ask for a new challenge with a new `Idempotency-Key`.",
        ),
        "/v1/me/payment-password/verify" | "/v1/me/step-up/biometric" => ReplayPolicy::Withheld(NEW_STEP_UP),
        "/v1/me/cards/{binding_id}/balance" => ReplayPolicy::Disclosure,
        "/v1/oauth/clients" | "/v1/oauth/clients/{client_id}/secret" | "/v1/oauth/clients/{client_id}/webhook-secret" => {
            ReplayPolicy::Withheld(
                "The secrets were in the first answer and are shown only once. If they were lost, rotate them (POST /v1/oauth/clients/{client_id}/secret, /webhook-secret) with a new `Idempotency-Key`; GET /v1/oauth/clients finds a registered client.",
            )
        }
        _ => ReplayPolicy::Kept,
    }
}

/// The idempotency claim the running request holds (for handlers that complete it in their own transaction).
#[derive(Debug, Clone)]
pub struct HeldClaim(pub ClaimRef);

/// A disclosure's kept answer (decrypted), handed to its handler to replay after its own checks.
#[derive(Debug, Clone)]
pub struct KeptReplay(pub Vec<u8>);

/// The active session of the request's `Idlink-Session` header (one still
/// waiting for its device check owns nothing: its requests use the API key's space).
fn live_session(state: &AppState, req: &Request) -> Option<idlink_core::ports::auth::SessionRow> {
    let token = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok())?;
    let read = req.extensions().get::<SessionRead>()?;
    state.auth().session_with(token, read.0.clone()).ok()
}

/// An answer as kept for replays: the headers a client acts on, and the body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct KeptResponse {
    headers: Vec<(String, String)>,
    body: String,
}

/// The headers kept with an answer.
const KEPT_HEADERS: [header::HeaderName; 4] = [header::CONTENT_TYPE, header::LOCATION, header::RETRY_AFTER, header::WWW_AUTHENTICATE];

/// Releases the claim of a request that ends without recording its answer
/// (a timeout or a panic drops it mid-way), unless its effect committed.
struct ClaimGuard {
    state: AppState,
    claim: Option<ClaimRef>,
}

impl ClaimGuard {
    fn disarm(&mut self) {
        self.claim = None;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let state = self.state.clone();
        runtime.spawn(async move {
            if let Err(e) = state.store.release_idempotency_key(&claim).await {
                tracing::warn!(error = %e, "releasing an abandoned idempotency claim failed; it is taken over once stale");
            }
        });
    }
}

/// `Idempotency-Key` on mutating POSTs (SPEC P4; ADR 0004). A key belongs
/// to the API key and the end user whose live session the request carries
/// (or the operator), so a replay is served only to whoever could make the
/// first request again. The first request with a key runs; its answer is
/// kept sealed under the vault, except answers that minted a one-time
/// secret (not kept: a replay says where the result is) and disclosures
/// (replayed by their handler after it re-checks every tier and audits).
/// The same key with another request is a 422; while the first still runs,
/// 409. 401 and 5xx answers with no committed effect are forgotten so the
/// client may retry; records expire after `idempotency_ttl`.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return next.run(req).await;
    };
    // A route that spends nothing (its handler reads the key, see `KEY_READ_BY_HANDLER`): a retry checks again.
    if req.extensions().get::<KeyPresented>().is_some() {
        return next.run(req).await;
    }
    let Some(key) = key.to_str().ok().filter(|k| valid_idempotency_key(k)).map(str::to_owned) else {
        return Problem::new(ProblemCode::InvalidIdempotencyKey).into_response();
    };
    // Keys are scoped to the authenticated caller, which the layers before this one established.
    let owner = match (req.extensions().get::<ApiCaller>(), req.extensions().get::<crate::routes::operator::OperatorAuth>()) {
        (Some(api), _) => match live_session(&state, &req) {
            Some(session) => Owner::User(api.0.id.clone(), session.user_id),
            None => Owner::ApiKey(api.0.id.clone()),
        },
        (None, Some(op)) => Owner::Operator(op.0.id.to_string()),
        (None, None) => return Problem::new(ProblemCode::Unauthorized).into_response(),
    };
    let policy = replay_policy(&route_of(&req));
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.limits.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return Problem::new(ProblemCode::PayloadTooLarge).into_response(),
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update([0]);
    h.update(parts.uri.path().as_bytes());
    h.update([0]);
    h.update(parts.uri.query().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(&bytes);
    // Keyed: a body with a short secret (a 6-digit password) must not be recoverable from its stored hash.
    let request_hash = state.vault.blind_index("idempotency.request", &hex::encode(h.finalize()));

    let now = state.clock.now();
    let span = |d: std::time::Duration| jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::from_secs(300));
    let claim = ClaimRef { owner: owner.key(), key, token: state.ids.claim_token(), at: now };
    let new = NewClaim {
        claim: &claim,
        request_hash: &request_hash,
        stale_before: now.checked_sub(span(state.limits.idempotency_stale_after)).unwrap_or(now),
        expires_at: now.checked_add(span(state.limits.idempotency_ttl)).unwrap_or(now),
    };
    match state.store.claim_idempotency_key(&new).await {
        Err(e) => errors::gate_failure(&e, "idempotency claim failed").into_response(),
        Ok(
            IdempotencyClaim::Completed { request_hash: stored, .. }
            | IdempotencyClaim::InProgress { request_hash: stored }
            | IdempotencyClaim::Interrupted { request_hash: stored, .. },
        ) if stored != request_hash => Problem::new(ProblemCode::IdempotencyKeyReused).into_response(),
        Ok(IdempotencyClaim::InProgress { .. }) => Problem::new(ProblemCode::IdempotencyInProgress).retry_after(1).into_response(),
        Ok(IdempotencyClaim::Interrupted { received_at, .. }) => replayed(
            Problem::new(ProblemCode::IdempotencyAnswerLost)
                .detail(format!(
                    "The first request with this key (received at {received_at}) took effect, but the server stopped before it recorded \
                     the answer. It will not run again: read the current state instead, or send a new request with a new key."
                ))
                .into_response(),
        ),
        Ok(IdempotencyClaim::Completed { status, body, .. }) => {
            let clear = match body.map(|b| idempotency::open(&state.vault, &claim.owner, &claim.key, &b)).transpose() {
                Ok(clear) => clear,
                Err(e) => return errors::internal(&e, "a kept idempotent answer could not be opened").into_response(),
            };
            let success = (200..300).contains(&status);
            match (policy, clear) {
                (ReplayPolicy::Disclosure, Some(kept)) if success => {
                    let mut req = Request::from_parts(parts, Body::from(bytes));
                    req.extensions_mut().insert(KeptReplay(kept));
                    replayed(next.run(req).await)
                }
                (ReplayPolicy::Withheld(whence), _) if success => {
                    replayed(Problem::new(ProblemCode::IdempotencyAnswerWithheld).detail(whence).into_response())
                }
                (_, Some(body)) => replay(status, body),
                (_, None) => replayed(Problem::new(ProblemCode::IdempotencyAnswerWithheld).into_response()),
            }
        }
        Ok(IdempotencyClaim::Claimed) => {
            let request_id = parts.extensions.get::<RequestId>().map(|r| r.to_string());
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(HeldClaim(claim.clone()));
            let mut guard = ClaimGuard { state: state.clone(), claim: Some(claim.clone()) };
            let res = idlink_core::ports::idempotency::within(claim.clone(), next.run(req)).await;
            let (mut res_parts, res_body) = match res.extensions().get::<Problem>().cloned() {
                Some(mut p) => {
                    p.request_id = request_id;
                    p.into_body_response().into_parts()
                }
                None => res.into_parts(),
            };
            let body = match to_bytes(res_body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => {
                    let _ = state.store.release_idempotency_key(&claim).await;
                    return Problem::new(ProblemCode::InternalError).into_response();
                }
            };
            guard.disarm();
            if let Err(e) = keep_answer(&state, &claim, policy, &res_parts, &body).await {
                // The effect happened; the answer is still the right one to give.
                tracing::error!(error = %e, "storing the idempotent answer failed");
            }
            res_parts.extensions.remove::<Problem>();
            Response::from_parts(res_parts, Body::from(body))
        }
    }
}

/// Why an answer could not be kept for replays (logged; the answer is still given).
#[derive(Debug, thiserror::Error)]
enum KeepFailed {
    #[error("store: {0}")]
    Store(#[from] idlink_core::ports::StoreError),
    #[error("sealing: {0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
}

/// Records the answer of a claimed request. Forgotten when nothing took
/// effect and the client should retry under the same key: a 401 (fresh
/// credentials), a 5xx, or a refused disclosure (the user fixes a tier and
/// asks again). Kept sealed otherwise, except a success that minted a one-time secret.
async fn keep_answer(
    state: &AppState,
    claim: &ClaimRef,
    policy: ReplayPolicy,
    res: &axum::http::response::Parts,
    body: &[u8],
) -> Result<(), KeepFailed> {
    let status = res.status;
    let retryable = status.is_server_error()
        || status == axum::http::StatusCode::UNAUTHORIZED
        || (policy == ReplayPolicy::Disclosure && !status.is_success());
    if retryable && state.store.release_idempotency_key(claim).await? {
        return Ok(());
    }
    let sealed = match policy {
        ReplayPolicy::Withheld(_) if status.is_success() => None,
        _ => {
            let kept = KeptResponse {
                headers: KEPT_HEADERS
                    .iter()
                    .filter_map(|h| res.headers.get(h).and_then(|v| v.to_str().ok()).map(|v| (h.as_str().to_owned(), v.to_owned())))
                    .collect(),
                body: String::from_utf8_lossy(body).into_owned(),
            };
            let clear = serde_json::to_vec(&kept).map_err(|e| idlink_core::ports::StoreError::Corrupt(e.to_string()))?;
            Some(idempotency::seal(&state.vault, &claim.owner, &claim.key, &clear)?)
        }
    };
    Ok(state.store.complete_idempotency_key(claim, status.as_u16(), sealed.as_deref()).await?)
}

fn replayed(mut res: Response) -> Response {
    res.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    res
}

fn replay(status: u16, kept: Vec<u8>) -> Response {
    let Ok(kept) = serde_json::from_slice::<KeptResponse>(&kept) else {
        tracing::error!("a kept idempotent answer is not readable");
        return Problem::new(ProblemCode::InternalError).into_response();
    };
    let mut res = Response::new(Body::from(kept.body));
    *res.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            res.headers_mut().insert(name, value);
        }
    }
    replayed(res)
}

pub const SESSION_HEADER: &str = "idlink-session";

/// The stored session row for the request's `Idlink-Session` id, read with the API key (not yet checked).
#[derive(Debug, Clone)]
struct SessionRead(Option<idlink_core::ports::auth::SessionRow>);

/// The end user's active session (`Idlink-Session` header), for endpoints that act for a user.
#[derive(Debug, Clone)]
pub struct UserSession(pub idlink_core::ports::auth::SessionRow);

impl FromRequestParts<AppState> for UserSession {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token =
            parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| Problem::new(ProblemCode::SessionRequired))?;
        let auth = state.auth();
        let checked = match parts.extensions.get::<SessionRead>() {
            Some(read) => auth.session_with(token, read.0.clone()),
            None => auth.session(token).await,
        };
        checked.map(UserSession).map_err(Problem::from)
    }
}
