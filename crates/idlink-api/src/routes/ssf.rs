//! The Shared Signals transmitter (OpenID SSF 1.0; SPEC TP3; ADR 0022):
//! its configuration, stream management, subjects, verification and RFC 8936
//! polling. Like the OAuth endpoints, outside `openapi.json`: answers carry
//! [`Verbatim`] so their bodies stay as the specifications define them.
//! Receivers authenticate with a `client_credentials` access token of scope
//! `ssf` (Bearer) or their client credentials (HTTP Basic; see
//! `idlink_core::events::ssf`); each client has at most one stream.

use crate::problem::Verbatim;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use idlink_core::events::ssf::{self, Caller, POLL, PUSH};
use idlink_core::events::{IssuerSigner, WEBHOOK_KEY_ID};
use idlink_core::oidc::keys::IssuerKeys;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::events::StreamRow;
use idlink_domain::ClientId;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/ssf-configuration", get(configuration))
        .route("/ssf/streams", get(read_stream).post(create_stream).patch(update_stream).put(replace_stream).delete(delete_stream))
        .route("/ssf/streams/status", get(read_status).post(set_status))
        .route("/ssf/subjects/add", post(add_subject))
        .route("/ssf/subjects/remove", post(remove_subject))
        .route("/ssf/verify", post(verify))
        .route("/ssf/poll/{stream_id}", post(poll))
}

fn answer(status: StatusCode, body: Option<Value>) -> Response {
    let mut res = match body {
        Some(v) => (status, Json(v)).into_response(),
        None => status.into_response(),
    };
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(Verbatim);
    res
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    answer(status, Some(json!({"error": code, "error_description": description})))
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "an SSF request failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "Try again later.")
}

/// The authenticated receiver, or the 401/403 to answer. A request that
/// used Bearer is answered with a Bearer challenge (RFC 6750 §3); one
/// without credentials gets both schemes it may use.
async fn receiver(state: &AppState, headers: &HeaderMap) -> Result<ClientId, Response> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let challenge = |mut res: Response, values: &[&'static str]| {
        for v in values {
            res.headers_mut().append(header::WWW_AUTHENTICATE, header::HeaderValue::from_static(v));
        }
        res
    };
    match ssf::authenticate(state.store.as_ref(), state.clock.as_ref(), auth).await {
        Ok(Caller::Receiver(id)) => Ok(id),
        Ok(Caller::Unauthenticated { bearer: true }) => Err(challenge(
            error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is not active."),
            &["Bearer realm=\"ssf\", error=\"invalid_token\""],
        )),
        Ok(Caller::Unauthenticated { bearer: false }) => Err(challenge(
            error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed."),
            &["Bearer realm=\"ssf\"", "Basic realm=\"ssf\""],
        )),
        Ok(Caller::InsufficientScope) => Err(challenge(
            error(StatusCode::FORBIDDEN, "insufficient_scope", "The access token needs the ssf scope."),
            &["Bearer realm=\"ssf\", error=\"insufficient_scope\", scope=\"ssf\""],
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// The receiver's stream, if `id` (when given) names it; else the 404 to answer.
async fn stream_of(state: &AppState, client: &ClientId, id: Option<&str>) -> Result<StreamRow, Response> {
    match state.store.stream_of(client).await {
        Ok(Some(s)) if ssf::owns(&s, id) => Ok(s),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, "not_found", "No such stream.")),
        Err(e) => Err(unavailable(e)),
    }
}

fn audit(client: &ClientId, action: &str, what: &str, state: &AppState) -> AuditEntry {
    AuditEntry::new(format!("app:{client}"), action, what, state.clock.now())
}

async fn configuration(State(state): State<AppState>) -> Response {
    let iss = &state.oidc.issuer;
    answer(
        StatusCode::OK,
        Some(json!({
            "spec_version": "1_0",
            "issuer": iss,
            "jwks_uri": format!("{iss}/oauth2/jwks"),
            "delivery_methods_supported": [PUSH, POLL],
            "configuration_endpoint": format!("{iss}/ssf/streams"),
            "status_endpoint": format!("{iss}/ssf/streams/status"),
            "add_subject_endpoint": format!("{iss}/ssf/subjects/add"),
            "remove_subject_endpoint": format!("{iss}/ssf/subjects/remove"),
            "verification_endpoint": format!("{iss}/ssf/verify"),
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
            "default_subjects": "ALL",
        })),
    )
}

#[derive(Debug, Deserialize)]
struct StreamId {
    stream_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Delivery {
    method: Option<String>,
    endpoint_url: Option<String>,
    authorization_header: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamConfig {
    stream_id: Option<String>,
    delivery: Option<Delivery>,
    events_requested: Option<Vec<String>>,
    description: Option<String>,
}

/// `scheme://authority` of an absolute URL, lower-cased.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Applies a configuration to `row`: all fields for a replacement (PUT,
/// create), only the fields sent for an update (PATCH) — within `delivery`
/// too, so a PATCH without `authorization_header` keeps the stored one.
async fn configure(state: &AppState, row: &mut StreamRow, c: StreamConfig, replace: bool) -> Result<(), Response> {
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", d);
    if replace || c.delivery.is_some() {
        let d = c.delivery.unwrap_or_default();
        let method = match d.method {
            Some(m) => m,
            None if replace => PUSH.to_owned(),
            None => row.method.clone(),
        };
        let same_method = method == row.method;
        let old_origin = row.endpoint_url.as_deref().and_then(origin);
        match method.as_str() {
            PUSH => {
                let url = match d.endpoint_url {
                    Some(url) => url,
                    None if !replace && same_method => row.endpoint_url.clone().unwrap_or_default(),
                    None => return Err(bad("A push stream needs delivery.endpoint_url.")),
                };
                let https = url.starts_with("https://") || (state.events.allow_plain_http && url.starts_with("http://"));
                if !https {
                    return Err(bad("delivery.endpoint_url must be an https URL."));
                }
                row.endpoint_url = Some(url);
            }
            POLL => row.endpoint_url = None,
            _ => return Err(bad("Unsupported delivery method.")),
        }
        row.method = method;
        row.authorization_header = match d.authorization_header {
            Some(h) => {
                let key =
                    state.vault.system_data_key::<ssf::VerifyError>(state.store.as_ref(), WEBHOOK_KEY_ID).await.map_err(unavailable)?;
                Some(state.vault.seal(&key, &format!("ssf_streams:{}", row.id), h.as_bytes()).map_err(unavailable)?)
            }
            // An update keeps the header while the push goes to the same origin: not
            // into a poll (nothing to send it with), never to another receiver (the
            // header is the old receiver's credential).
            None if !replace
                && row.method == PUSH
                && old_origin.is_some()
                && row.endpoint_url.as_deref().and_then(origin) == old_origin =>
            {
                row.authorization_header.take()
            }
            None => None,
        };
    }
    if replace || c.events_requested.is_some() {
        let requested = c.events_requested.unwrap_or_default();
        row.events_delivered = ssf::delivered(&requested);
        row.events_requested = requested;
    }
    if replace || c.description.is_some() {
        row.description = c.description;
    }
    row.updated_at = state.clock.now();
    Ok(())
}

async fn create_stream(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<StreamConfig>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let mut row = ssf::new_stream(state.ids.as_ref(), state.clock.as_ref(), &client, PUSH, None, Vec::new());
    if let Err(res) = configure(&state, &mut row, c, true).await {
        return res;
    }
    match state.store.insert_stream(&row, &audit(&client, "ssf.stream_create", "created its SSF stream", &state)).await {
        Ok(()) => answer(StatusCode::CREATED, Some(ssf::stream_json(&state.oidc.issuer, &row))),
        Err(StoreError::Unique(_)) => error(StatusCode::CONFLICT, "conflict", "The client has a stream already."),
        Err(e) => unavailable(e),
    }
}

async fn read_stream(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<StreamId>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match (state.store.stream_of(&client).await, q.stream_id) {
        (Ok(Some(s)), Some(id)) if ssf::owns(&s, Some(&id)) => answer(StatusCode::OK, Some(ssf::stream_json(&state.oidc.issuer, &s))),
        (Ok(_), Some(_)) => error(StatusCode::NOT_FOUND, "not_found", "No such stream."),
        (Ok(found), None) => {
            answer(StatusCode::OK, Some(Value::Array(found.iter().map(|s| ssf::stream_json(&state.oidc.issuer, s)).collect())))
        }
        (Err(e), _) => unavailable(e),
    }
}

async fn change_stream(state: AppState, headers: HeaderMap, c: StreamConfig, replace: bool) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let Some(id) = c.stream_id.clone() else { return error(StatusCode::BAD_REQUEST, "invalid_request", "stream_id is required.") };
    let mut row = match stream_of(&state, &client, Some(&id)).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Err(res) = configure(&state, &mut row, c, replace).await {
        return res;
    }
    match state.store.update_stream(&row, &audit(&client, "ssf.stream_update", "changed its SSF stream", &state)).await {
        Ok(true) => answer(StatusCode::OK, Some(ssf::stream_json(&state.oidc.issuer, &row))),
        Ok(false) => error(StatusCode::NOT_FOUND, "not_found", "No such stream."),
        Err(e) => unavailable(e),
    }
}

async fn update_stream(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<StreamConfig>) -> Response {
    change_stream(state, headers, c, false).await
}

async fn replace_stream(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<StreamConfig>) -> Response {
    change_stream(state, headers, c, true).await
}

async fn delete_stream(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<StreamId>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let row = match stream_of(&state, &client, q.stream_id.as_deref()).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    match state.store.delete_stream(&row.id, &audit(&client, "ssf.stream_delete", "deleted its SSF stream", &state)).await {
        Ok(_) => answer(StatusCode::NO_CONTENT, None),
        Err(e) => unavailable(e),
    }
}

fn status_json(s: &StreamRow) -> Value {
    let mut v = json!({"stream_id": s.id.as_str(), "status": s.status});
    if let (Some(r), Some(obj)) = (&s.status_reason, v.as_object_mut()) {
        obj.insert("reason".into(), json!(r));
    }
    v
}

async fn read_status(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<StreamId>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match stream_of(&state, &client, q.stream_id.as_deref()).await {
        Ok(s) => answer(StatusCode::OK, Some(status_json(&s))),
        Err(res) => res,
    }
}

#[derive(Debug, Deserialize)]
struct StatusChange {
    stream_id: String,
    status: String,
    reason: Option<String>,
}

async fn set_status(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<StatusChange>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let row = match stream_of(&state, &client, Some(&c.stream_id)).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if !ssf::STATUSES.contains(&c.status.as_str()) {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "status must be enabled, paused or disabled.");
    }
    let audit = audit(&client, "ssf.stream_status", "changed its SSF stream's status", &state);
    match ssf::receiver_status(state.store.as_ref(), state.clock.as_ref(), row, &c.status, c.reason, &audit).await {
        Ok(ssf::StatusUpdate::Changed(row) | ssf::StatusUpdate::Unchanged(row)) => answer(StatusCode::OK, Some(status_json(&row))),
        Ok(ssf::StatusUpdate::Gone) => error(StatusCode::NOT_FOUND, "not_found", "No such stream."),
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Deserialize)]
struct SubjectChange {
    stream_id: String,
    subject: Value,
}

async fn change_subject(state: AppState, headers: HeaderMap, c: SubjectChange, removed: bool) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let row = match stream_of(&state, &client, Some(&c.stream_id)).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    // RFC 9493: the app knows users only by its pairwise `sub` (as `iss_sub` or `opaque`).
    let sub = match c.subject["format"].as_str() {
        Some("iss_sub") if c.subject["iss"].as_str() == Some(state.oidc.issuer.as_str()) => c.subject["sub"].as_str(),
        Some("opaque") => c.subject["id"].as_str(),
        _ => return error(StatusCode::BAD_REQUEST, "invalid_request", "The subject must be iss_sub (this issuer) or opaque."),
    };
    let Some(sub) = sub else { return error(StatusCode::BAD_REQUEST, "invalid_request", "The subject names no one.") };
    match state.store.user_of_sub(&client, sub).await {
        Ok(Some(user)) => {
            if let Err(e) = state.store.set_stream_subject(&row.id, &user, removed, state.clock.now()).await {
                return unavailable(e);
            }
        }
        // Whether a subject exists is not the receiver's to learn from this answer.
        Ok(None) => {}
        Err(e) => return unavailable(e),
    }
    answer(StatusCode::OK, None)
}

async fn add_subject(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<SubjectChange>) -> Response {
    change_subject(state, headers, c, false).await
}

async fn remove_subject(State(state): State<AppState>, headers: HeaderMap, Json(c): Json<SubjectChange>) -> Response {
    change_subject(state, headers, c, true).await
}

#[derive(Debug, Deserialize)]
struct Verify {
    stream_id: String,
    state: Option<String>,
}

async fn verify(State(state): State<AppState>, headers: HeaderMap, Json(v): Json<Verify>) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let row = match stream_of(&state, &client, Some(&v.stream_id)).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let opaque = v.state.map(|s| s.chars().take(256).collect());
    match ssf::queue_verification(state.store.as_ref(), &state.vault, state.ids.as_ref(), state.clock.as_ref(), &row, opaque).await {
        Ok(()) => answer(StatusCode::NO_CONTENT, None),
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollRequest {
    #[serde(default)]
    ack: Vec<String>,
    #[serde(default)]
    set_errs: serde_json::Map<String, Value>,
    max_events: Option<u32>,
}

async fn poll(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(stream_id): Path<String>,
    body: Option<Json<PollRequest>>,
) -> Response {
    let client = match receiver(&state, &headers).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let row = match stream_of(&state, &client, Some(&stream_id)).await {
        Ok(s) if s.method == POLL => s,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "invalid_request", "The stream is not a poll stream."),
        Err(res) => return res,
    };
    let Json(req) = body.unwrap_or_default();
    // SETs the receiver reported errors for are done with as well (RFC 8936 §2.4).
    let mut acks = req.ack;
    acks.extend(req.set_errs.keys().cloned());
    let signer = IssuerSigner(IssuerKeys {
        store: state.store.as_ref(),
        keys: state.store.as_ref(),
        vault: &state.vault,
        clock: state.clock.as_ref(),
        rng: state.rng.as_ref(),
        settings: &state.oidc,
    });
    let max = req.max_events.unwrap_or(25).min(100);
    match ssf::poll(
        state.store.as_ref(),
        &signer,
        &state.vault,
        state.clock.as_ref(),
        &state.oidc.issuer,
        &state.oidc.trust_framework,
        &row,
        &acks,
        max,
    )
    .await
    {
        Ok(p) => {
            let sets: serde_json::Map<String, Value> = p.sets.into_iter().map(|(jti, set)| (jti, Value::String(set))).collect();
            answer(StatusCode::OK, Some(json!({"sets": sets, "moreAvailable": p.more})))
        }
        Err(e) => unavailable(e),
    }
}
