//! Cross-cutting HTTP layers: request ids and access logs, metrics, API-key
//! authentication, and idempotency of mutating requests.

use crate::problem::Problem;
use crate::state::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_core::apikeys::{self, AuthFailure};
use idlink_core::ports::{ApiKeyRow, IdempotencyClaim};
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
        .unwrap_or_else(|| RequestId::from_random(state.vault.rng().bytes16()));
    req.extensions_mut().insert(id.clone());
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned());
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
    let method = req.method().to_string();
    let route = route_of(&req);
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("idlink_http_requests_total", &labels).increment(1);
    metrics::histogram!("idlink_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    res
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
            Err(Problem::new("insufficient_scope")
                .detail(format!("This endpoint needs the `{scope}` scope; this key has: {}.", self.0.scopes.join(", "))))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts.extensions.get::<ApiCaller>().cloned().ok_or_else(|| Problem::new("unauthorized"))
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
        return unauthorized(Problem::new("unauthorized"));
    };
    // A request acting for a user carries its session too: read both in one round trip.
    let session_id = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).and_then(|t| t.split_once('.')).map(|(id, _)| id);
    let found = match session_id {
        Some(sid) => apikeys::authenticate_with_session(state.store.as_ref(), token, sid).await.map(|(k, s)| (k, Some(s))),
        None => apikeys::authenticate(state.store.as_ref(), token).await.map(|k| (k, None)),
    };
    match found {
        Ok((Ok(key), session)) => {
            req.extensions_mut().insert(ApiCaller(key));
            if let Some(row) = session {
                req.extensions_mut().insert(SessionRead(row));
            }
            next.run(req).await
        }
        Ok((Err(AuthFailure::Revoked), _)) => unauthorized(Problem::new("api_key_revoked")),
        Ok((Err(AuthFailure::Invalid), _)) => unauthorized(
            Problem::new("unauthorized")
                .detail("The API key is not valid. Check it was copied whole, or create a new one with `idlink apikey create`."),
        ),
        Err(e) => {
            tracing::error!(error = %e, "API key lookup failed");
            Problem::new("service_unavailable").retry_after(5).into_response()
        }
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

/// `Idempotency-Key` on mutating POSTs: the first request with a key runs and
/// its answer is stored; the same key with the same request replays that
/// answer; with another request it is a 422; while the first still runs, 409.
/// Answers of 5xx are not stored, so the client may retry under the same key.
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return next.run(req).await;
    };
    let Some(key) = key.to_str().ok().filter(|k| valid_idempotency_key(k)).map(str::to_owned) else {
        return Problem::new("invalid_idempotency_key").into_response();
    };
    // Keys are scoped to the authenticated caller, which the layers before this one established.
    let owner = match (req.extensions().get::<ApiCaller>(), req.extensions().get::<crate::routes::operator::OperatorAuth>()) {
        (Some(api), _) => api.0.id.to_string(),
        (None, Some(op)) => format!("operator:{}", op.0.id),
        (None, None) => return Problem::new("unauthorized").into_response(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.limits.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return Problem::new("payload_too_large").into_response(),
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update([0]);
    h.update(parts.uri.path().as_bytes());
    h.update([0]);
    h.update(parts.uri.query().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(&bytes);
    let request_hash = hex::encode(h.finalize());

    let now = state.clock.now();
    let stale = jiff::SignedDuration::try_from(state.limits.idempotency_stale_after).unwrap_or(jiff::SignedDuration::from_secs(300));
    let stale_before = now.checked_sub(stale).unwrap_or(now);
    let claim = state.store.claim_idempotency_key(&owner, &key, &request_hash, now, stale_before).await;
    match claim {
        Err(e) => {
            tracing::error!(error = %e, "idempotency claim failed");
            Problem::new("service_unavailable").retry_after(5).into_response()
        }
        Ok(IdempotencyClaim::Completed { request_hash: stored, .. } | IdempotencyClaim::InProgress { request_hash: stored })
            if stored != request_hash =>
        {
            Problem::new("idempotency_key_reused").into_response()
        }
        Ok(IdempotencyClaim::InProgress { .. }) => Problem::new("idempotency_in_progress").retry_after(1).into_response(),
        Ok(IdempotencyClaim::Completed { status, body, .. }) => replay(status, body),
        Ok(IdempotencyClaim::Claimed) => {
            let request_id = parts.extensions.get::<RequestId>().map(|r| r.to_string());
            let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
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
                    let _ = state.store.release_idempotency_key(&owner, &key).await;
                    return Problem::new("internal_error").into_response();
                }
            };
            let status = res_parts.status;
            let stored = if status.is_server_error() {
                state.store.release_idempotency_key(&owner, &key).await
            } else {
                state.store.complete_idempotency_key(&owner, &key, status.as_u16(), &body).await
            };
            if let Err(e) = stored {
                // The effect happened; the answer is still the right one to give.
                tracing::error!(error = %e, "storing the idempotent answer failed");
            }
            res_parts.extensions.remove::<Problem>();
            Response::from_parts(res_parts, Body::from(body))
        }
    }
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    let ct = if status >= 400 { "application/problem+json" } else { "application/json" };
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    res.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    res
}

pub const SESSION_HEADER: &str = "idlink-session";

/// The stored session row for the request's `Idlink-Session` id, read with the API key (not yet checked).
#[derive(Debug, Clone)]
struct SessionRead(Option<idlink_core::auth::SessionRow>);

/// The end user's active session (`Idlink-Session` header), for endpoints that act for a user.
#[derive(Debug, Clone)]
pub struct UserSession(pub idlink_core::auth::SessionRow);

impl FromRequestParts<AppState> for UserSession {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| Problem::new("session_required"))?;
        let auth = state.auth();
        let checked = match parts.extensions.get::<SessionRead>() {
            Some(read) => auth.session_with(token, read.0.clone()),
            None => auth.session(token).await,
        };
        checked.map(UserSession).map_err(crate::routes::auth_problem)
    }
}
