//! The sandbox third-party app (SPEC TP1–TP3, issue 14 item 7): a demo
//! relying party, written the way an app's engineers would write one against
//! idlink. It logs a user in with the authorization code flow and PKCE,
//! checks the ID token, shows the verified claims from userinfo, and receives
//! what idlink sends apps — Standard Webhooks, Security Event Tokens (RFC
//! 8935 push) and back-channel logout tokens — checking every signature and
//! showing each delivery with the result of the check.
//!
//! Its failures are scripted (`POST /sandbox/v1/app/script`): `down` (503),
//! `slow` (answers after `slow_ms`), `error` (500) and `gone` (410), so
//! idlink's retries and endpoint disabling can be watched. Its registration
//! with idlink (client id, secrets) is given by `POST /sandbox/v1/app/config`;
//! `idlink serve` with the sandbox registers it at start; the app then
//! gets a `client_credentials` token (scope `ssf`) and sets up its own push
//! SSF stream, as a Shared Signals receiver does.
//! State lives in memory and ends with the sandbox process.
//!
//! Besides the demo app at `/sandbox/app`, the sandbox holds a fleet of
//! further relying parties of the same code ([`Fleet`]), each under
//! `/sandbox/apps/{name}` with its control API at `/sandbox/v1/apps/{name}`:
//! what a test or benchmark uses to see many apps told at once.

use crate::Shared;
use crate::control::error;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use idlink_crypto::Random;
use idlink_crypto::jose::{JwsAlg, verify};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the app answers idlink's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// 2xx, after checking the signature.
    #[default]
    Ok,
    /// 503: the app is down.
    Down,
    /// The right answer, after `slow_ms`.
    Slow,
    /// 500.
    Error,
    /// 410 Gone: a webhook receiver that no longer exists.
    Gone,
}

/// The app's registration with idlink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// idlink's issuer URL.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The Standard Webhooks secret (`whsec_…`), for `v1` signatures.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// The Standard Webhooks public key (`whpk_…`), for `v1a` signatures.
    #[serde(default)]
    pub webhook_public_key: Option<String>,
    /// Where the app itself is reached (`http://127.0.0.1:8081`), for its redirect URI.
    pub base_url: String,
}

/// One delivery the app received, with what its check found.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// `webhook`, `set` or `logout`.
    pub channel: &'static str,
    /// The webhook id, the SET's `jti` or the logout token's `jti`.
    pub id: String,
    pub at: Timestamp,
    /// How the app answered (after the script).
    pub answered: u16,
    /// `None` when every check passed, else what failed.
    pub problem: Option<String>,
    /// What it said: the webhook body, or the token's claims.
    pub content: Value,
}

struct Pending {
    nonce: String,
    verifier: String,
}

/// The last login: the ID token's claims and userinfo's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub at: Timestamp,
    pub id_token: Value,
    pub userinfo: Value,
}

/// The demo app's state.
pub struct DemoApp {
    shared: Arc<Shared>,
    /// Where the app's pages and receivers live: `/sandbox/app` or `/sandbox/apps/{name}`.
    prefix: String,
    http: reqwest::Client,
    rng: idlink_crypto::OsRandom,
    config: Mutex<Option<AppConfig>>,
    pending: Mutex<HashMap<String, Pending>>,
    last_login: Mutex<Option<Login>>,
    last_error: Mutex<Option<String>>,
    received: Mutex<VecDeque<Received>>,
    mode: Mutex<(Mode, u64)>,
    /// The app's push SSF stream (its id and status) once subscribed, or why not.
    stream: Mutex<Option<Result<(String, String), String>>>,
}

const KEEP: usize = 200;
const BACKCHANNEL_LOGOUT: &str = "http://schemas.openid.net/event/backchannel-logout";

impl DemoApp {
    /// The demo app, at `/sandbox/app`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self::at(shared, "/sandbox/app".into())
    }

    /// An app whose pages and receivers are under `prefix`.
    fn at(shared: Arc<Shared>, prefix: String) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            shared,
            prefix,
            http,
            rng: idlink_crypto::OsRandom,
            config: Mutex::default(),
            pending: Mutex::default(),
            last_login: Mutex::default(),
            last_error: Mutex::default(),
            received: Mutex::default(),
            mode: Mutex::new((Mode::Ok, 15_000)),
            stream: Mutex::default(),
        }
    }

    /// Registers the app (what `idlink serve` does at start with the
    /// sandbox), then, in the background, subscribes to its SSF stream.
    /// The redirect URI the app registers and sends.
    pub fn redirect_uri(&self, config: &AppConfig) -> String {
        format!("{}{}/callback", config.base_url, self.prefix)
    }

    pub fn configure(self: &Arc<Self>, config: AppConfig) {
        *lock(&self.config) = Some(config);
        *lock(&self.stream) = None;
        let app = self.clone();
        tokio::spawn(async move {
            // idlink may not listen yet when it registers the app at its start.
            let mut outcome = Err(String::from("not tried"));
            for wait_ms in [0u64, 200, 500, 1000, 2000, 4000] {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                outcome = app.subscribe().await;
                if outcome.is_ok() {
                    break;
                }
            }
            if let Err(e) = &outcome {
                tracing::warn!(error = %e, "the sandbox app could not set up its SSF stream");
            }
            *lock(&app.stream) = Some(outcome);
        });
    }

    /// An SSF receiver's start (OpenID SSF 1.0 §7.1.1): a
    /// `client_credentials` token of scope `ssf`, then its one push stream
    /// to `/sandbox/app/events` for every event type idlink supports —
    /// created, or replaced if it exists — and enabled. Answers its id and status.
    async fn subscribe(&self) -> Result<(String, String), String> {
        let config = self.config().ok_or("not registered")?;
        let discovery = self.discovery(&config.issuer).await?;
        let token_endpoint = discovery.get("token_endpoint").and_then(Value::as_str).ok_or("no token_endpoint")?;
        let res = self
            .http
            .post(token_endpoint)
            .header(header::AUTHORIZATION, basic_auth(&config)?)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=ssf")
            .send()
            .await
            .map_err(|e| format!("the token request: {e}"))?;
        let body: Value = res.json().await.map_err(|e| format!("the token answer: {e}"))?;
        let token = body.get("access_token").and_then(Value::as_str).ok_or_else(|| format!("no access token: {body}"))?.to_owned();
        let ssf = get_json(&self.http, &format!("{}/.well-known/ssf-configuration", config.issuer), None).await?;
        let streams_url = ssf.get("configuration_endpoint").and_then(Value::as_str).ok_or("no configuration_endpoint")?.to_owned();
        let status_url = ssf.get("status_endpoint").and_then(Value::as_str).ok_or("no status_endpoint")?.to_owned();
        let endpoint = format!("{}{}/events", config.base_url, self.prefix);
        let send = |method: reqwest::Method, url: &str, body: Value| self.http.request(method, url).bearer_auth(&token).json(&body).send();
        let existing = get_json(&self.http, &streams_url, Some(&token)).await?;
        let stream = match existing.as_array().and_then(|a| a.first()) {
            Some(s) => s.clone(),
            None => {
                let create = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint}, "events_requested": [],
                                    "description": "The sandbox demo app"});
                let res = send(reqwest::Method::POST, &streams_url, create).await.map_err(|e| format!("creating the stream: {e}"))?;
                res.json::<Value>().await.map_err(|e| format!("the created stream: {e}"))?
            }
        };
        let id = stream.get("stream_id").and_then(Value::as_str).ok_or_else(|| format!("no stream_id: {stream}"))?.to_owned();
        let supported = stream.get("events_supported").cloned().unwrap_or_else(|| json!([]));
        let replace = json!({"stream_id": id, "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint},
                             "events_requested": supported, "description": "The sandbox demo app"});
        let res = send(reqwest::Method::PUT, &streams_url, replace).await.map_err(|e| format!("configuring the stream: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("configuring the stream: {}", res.status()));
        }
        let res = send(reqwest::Method::POST, &status_url, json!({"stream_id": id, "status": "enabled"}))
            .await
            .map_err(|e| format!("enabling the stream: {e}"))?;
        let status: Value = res.json().await.map_err(|e| format!("the stream's status: {e}"))?;
        Ok((id, status.get("status").and_then(Value::as_str).unwrap_or("unknown").to_owned()))
    }

    pub fn config(&self) -> Option<AppConfig> {
        lock(&self.config).clone()
    }

    /// Every delivery received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).iter().cloned().collect()
    }

    fn record(&self, r: Received) {
        let mut list = lock(&self.received);
        if list.len() == KEEP {
            list.pop_front();
        }
        list.push_back(r);
    }

    fn random(&self) -> String {
        B64URL.encode(self.rng.bytes32())
    }

    async fn discovery(&self, issuer: &str) -> Result<Value, String> {
        get_json(&self.http, &format!("{issuer}/.well-known/openid-configuration"), None).await
    }

    async fn jwks(&self, issuer: &str) -> Result<Value, String> {
        let d = self.discovery(issuer).await?;
        let uri = d.get("jwks_uri").and_then(Value::as_str).ok_or("the discovery document has no jwks_uri")?;
        get_json(&self.http, uri, None).await
    }

    /// The answer the script asks for, after waiting if it says slow.
    async fn scripted(&self, ok: StatusCode) -> StatusCode {
        let (mode, slow_ms) = *lock(&self.mode);
        match mode {
            Mode::Ok => ok,
            Mode::Down => StatusCode::SERVICE_UNAVAILABLE,
            Mode::Error => StatusCode::INTERNAL_SERVER_ERROR,
            Mode::Gone => StatusCode::GONE,
            Mode::Slow => {
                tokio::time::sleep(Duration::from_millis(slow_ms)).await;
                ok
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn get_json(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> Result<Value, String> {
    let mut req = http.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| format!("GET {url}: the answer is not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status} {body}"));
    }
    Ok(body)
}

/// The app's pages, receivers and control API.
pub fn router(app: Arc<DemoApp>) -> Router {
    Router::new()
        .route("/sandbox/app", get(home))
        .route("/sandbox/app/login", get(login))
        .route("/sandbox/app/callback", get(callback))
        .route("/sandbox/app/webhooks", post(webhook))
        .route("/sandbox/app/events", post(set_push))
        .route("/sandbox/app/logout", post(logout))
        .route("/sandbox/v1/app", get(status))
        .route("/sandbox/v1/app/config", post(set_config))
        .route("/sandbox/v1/app/script", post(set_script))
        .with_state(app)
}

/// Further relying parties, each a [`DemoApp`] under `/sandbox/apps/{name}`,
/// made by its first `POST /sandbox/v1/apps/{name}/config`.
pub struct Fleet {
    shared: Arc<Shared>,
    apps: Mutex<HashMap<String, Arc<DemoApp>>>,
}

/// At most this many apps in a fleet: the sandbox keeps them in memory.
const FLEET_MAX: usize = 100;

impl Fleet {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, apps: Mutex::default() }
    }

    /// The app called `name`, if it was configured.
    pub fn app(&self, name: &str) -> Option<Arc<DemoApp>> {
        lock(&self.apps).get(name).cloned()
    }

    /// The app called `name`, made if new; `None` when the name is not
    /// 1–32 of `a-z0-9-` or the fleet is full.
    fn app_or_new(&self, name: &str) -> Option<Arc<DemoApp>> {
        let valid = (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return None;
        }
        let mut apps = lock(&self.apps);
        if let Some(app) = apps.get(name) {
            return Some(app.clone());
        }
        if apps.len() >= FLEET_MAX {
            return None;
        }
        let app = Arc::new(DemoApp::at(self.shared.clone(), format!("/sandbox/apps/{name}")));
        apps.insert(name.to_owned(), app.clone());
        Some(app)
    }
}

type FleetState = State<Arc<Fleet>>;

fn no_such_app() -> Response {
    error(StatusCode::NOT_FOUND, "no_such_app", "configure the app first: POST /sandbox/v1/apps/{name}/config")
}

/// The fleet's pages, receivers and control API: the demo app's, one per name.
pub fn fleet_router(fleet: Arc<Fleet>) -> Router {
    Router::new()
        .route(
            "/sandbox/apps/{name}",
            get(|State(f): FleetState, Path(n): Path<String>| async move {
                match f.app(&n) {
                    Some(app) => home(State(app)).await.into_response(),
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/apps/{name}/login",
            get(|State(f): FleetState, Path(n): Path<String>| async move {
                match f.app(&n) {
                    Some(app) => login(State(app)).await,
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/apps/{name}/callback",
            get(|State(f): FleetState, Path(n): Path<String>, q: Query<CallbackQuery>| async move {
                match f.app(&n) {
                    Some(app) => callback(State(app), q).await,
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/apps/{name}/webhooks",
            post(|State(f): FleetState, Path(n): Path<String>, h: HeaderMap, body: Bytes| async move {
                match f.app(&n) {
                    Some(app) => webhook(State(app), h, body).await,
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/apps/{name}/events",
            post(|State(f): FleetState, Path(n): Path<String>, body: String| async move {
                match f.app(&n) {
                    Some(app) => set_push(State(app), body).await,
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/apps/{name}/logout",
            post(|State(f): FleetState, Path(n): Path<String>, form: axum::Form<LogoutForm>| async move {
                match f.app(&n) {
                    Some(app) => logout(State(app), form).await,
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/v1/apps/{name}",
            get(|State(f): FleetState, Path(n): Path<String>| async move {
                match f.app(&n) {
                    Some(app) => status(State(app)).await.into_response(),
                    None => no_such_app(),
                }
            }),
        )
        .route(
            "/sandbox/v1/apps/{name}/config",
            post(|State(f): FleetState, Path(n): Path<String>, config: Json<AppConfig>| async move {
                match f.app_or_new(&n) {
                    Some(app) => set_config(State(app), config).await,
                    None => error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_name",
                        "an app's name is 1-32 of a-z, 0-9 and '-', and a fleet holds at most 100",
                    ),
                }
            }),
        )
        .route(
            "/sandbox/v1/apps/{name}/script",
            post(|State(f): FleetState, Path(n): Path<String>, script: Json<Script>| async move {
                match f.app(&n) {
                    Some(app) => set_script(State(app), script).await.into_response(),
                    None => no_such_app(),
                }
            }),
        )
        .with_state(fleet)
}

async fn status(State(app): State<Arc<DemoApp>>) -> Json<Value> {
    let config = app.config();
    let (mode, slow_ms) = *lock(&app.mode);
    Json(json!({
        "configured": config.is_some(),
        "client_id": config.as_ref().map(|c| c.client_id.clone()),
        "issuer": config.as_ref().map(|c| c.issuer.clone()),
        "redirect_uri": config.as_ref().map(|c| app.redirect_uri(c)),
        "mode": mode,
        "slow_ms": slow_ms,
        "last_login": lock(&app.last_login).clone(),
        "last_error": lock(&app.last_error).clone(),
        "received": app.received(),
        "stream": stream_json(&app),
    }))
}

fn stream_json(app: &DemoApp) -> Value {
    match lock(&app.stream).clone() {
        None => Value::Null,
        Some(Ok((id, status))) => json!({"stream_id": id, "status": status}),
        Some(Err(e)) => json!({"error": e}),
    }
}

/// `Basic …` with the client id and secret, each form-urlencoded first (RFC 6749 §2.3.1).
fn basic_auth(config: &AppConfig) -> Result<String, String> {
    let user = serde_urlencoded::to_string([("", config.client_id.as_str())]).map_err(|e| e.to_string())?;
    let pass = serde_urlencoded::to_string([("", config.client_secret.as_str())]).map_err(|e| e.to_string())?;
    Ok(format!("Basic {}", B64.encode(format!("{}:{}", &user[1..], &pass[1..]))))
}

async fn set_config(State(app): State<Arc<DemoApp>>, Json(config): Json<AppConfig>) -> Response {
    if config.issuer.ends_with('/') || config.base_url.ends_with('/') {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_config", "issuer and base_url must not end with a slash");
    }
    app.configure(config);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    mode: Mode,
    #[serde(default)]
    slow_ms: Option<u64>,
}

async fn set_script(State(app): State<Arc<DemoApp>>, Json(s): Json<Script>) -> StatusCode {
    let mut m = lock(&app.mode);
    m.0 = s.mode;
    if let Some(ms) = s.slow_ms {
        m.1 = ms.min(120_000);
    }
    StatusCode::NO_CONTENT
}

/// Starts a login: state, nonce and a PKCE verifier, kept until the callback.
async fn login(State(app): State<Arc<DemoApp>>) -> Response {
    let Some(config) = app.config() else {
        return error(StatusCode::CONFLICT, "not_configured", "register the app first: POST /sandbox/v1/app/config");
    };
    let discovery = match app.discovery(&config.issuer).await {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_GATEWAY, "idlink_unreachable", &e),
    };
    let Some(endpoint) = discovery.get("authorization_endpoint").and_then(Value::as_str) else {
        return error(StatusCode::BAD_GATEWAY, "idlink_unreachable", "the discovery document has no authorization_endpoint");
    };
    let (state, nonce, verifier) = (app.random(), app.random(), app.random());
    let challenge = B64URL.encode(Sha256::digest(verifier.as_bytes()));
    // Asks for the verified name and birthdate through the claims parameter (OpenID Identity Assurance).
    let claims = json!({"userinfo": {"verified_claims": {
        "verification": {"trust_framework": null, "time": null, "evidence": null},
        "claims": {"name": null, "birthdate": null}
    }}});
    let params = [
        ("response_type", "code"),
        ("client_id", config.client_id.as_str()),
        ("redirect_uri", &app.redirect_uri(&config)),
        ("scope", "openid identity"),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("claims", &claims.to_string()),
    ];
    let Ok(url) = reqwest::Url::parse_with_params(endpoint, params) else {
        return error(StatusCode::BAD_GATEWAY, "idlink_unreachable", "the authorization endpoint is not a URL");
    };
    lock(&app.pending).insert(state, Pending { nonce, verifier });
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(app): State<Arc<DemoApp>>, Query(q): Query<CallbackQuery>) -> Response {
    let outcome = finish_login(&app, q).await;
    *lock(&app.last_error) = outcome.err();
    Redirect::to(&app.prefix).into_response()
}

async fn finish_login(app: &DemoApp, q: CallbackQuery) -> Result<(), String> {
    let config = app.config().ok_or("the app is not configured")?;
    let pending = q.state.as_deref().and_then(|s| lock(&app.pending).remove(s)).ok_or("unknown or reused state: start again")?;
    // RFC 9207: the answer must come from the issuer the request went to.
    if q.iss.as_deref() != Some(config.issuer.as_str()) {
        return Err(format!("the answer's iss {:?} is not the issuer {}", q.iss, config.issuer));
    }
    if let Some(e) = q.error {
        return Err(format!("idlink refused: {e} {}", q.error_description.unwrap_or_default()));
    }
    let code = q.code.ok_or("no code in the answer")?;
    let discovery = app.discovery(&config.issuer).await?;
    let token_endpoint = discovery.get("token_endpoint").and_then(Value::as_str).ok_or("no token_endpoint")?;
    let form = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &app.redirect_uri(&config)),
        ("code_verifier", &pending.verifier),
    ])
    .map_err(|e| e.to_string())?;
    let res = app
        .http
        .post(token_endpoint)
        .header(header::AUTHORIZATION, basic_auth(&config)?)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| format!("token endpoint: {e}"))?;
    let status = res.status();
    let tokens: Value = res.json().await.map_err(|e| format!("token endpoint: {e}"))?;
    if !status.is_success() {
        return Err(format!("token endpoint: {status} {tokens}"));
    }
    let id_token = tokens.get("id_token").and_then(Value::as_str).ok_or("no id_token")?;
    let jwks = app.jwks(&config.issuer).await?;
    let (_, claims) = verify(id_token, &jwks, &JwsAlg::ALL).map_err(|e| format!("the ID token's signature: {e}"))?;
    let now = app.shared.clock.now().as_second();
    check_token_claims(&claims, &config, now)?;
    if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
        return Err("the ID token's nonce is not the one sent".into());
    }
    let access = tokens.get("access_token").and_then(Value::as_str).ok_or("no access_token")?;
    let userinfo_endpoint = discovery.get("userinfo_endpoint").and_then(Value::as_str).ok_or("no userinfo_endpoint")?;
    let userinfo = get_json(&app.http, userinfo_endpoint, Some(access)).await?;
    if userinfo.get("sub") != claims.get("sub") {
        return Err("userinfo's sub is not the ID token's".into());
    }
    *lock(&app.last_login) = Some(Login { at: app.shared.clock.now(), id_token: claims, userinfo });
    Ok(())
}

/// `iss`, `aud` and the times of a token idlink signed for this app.
fn check_token_claims(claims: &Value, config: &AppConfig, now: i64) -> Result<(), String> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err("iss is not idlink's issuer".into());
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == &config.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(config.client_id.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err("aud is not this app".into());
    }
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
        && exp < now - 60
    {
        return Err("the token has expired".into());
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now + 60 => Ok(()),
        Some(_) => Err("the token was issued in the future".into()),
        None => Err("the token has no iat".into()),
    }
}

/// Checks a Standard Webhooks delivery: `v1` (HMAC-SHA256 with the
/// `whsec_` secret) or `v1a` (Ed25519 with the `whpk_` key) over
/// `{id}.{timestamp}.{body}`, and a timestamp within five minutes.
fn check_webhook(config: &AppConfig, headers: &HeaderMap, body: &[u8], now: i64) -> Result<String, String> {
    use hmac::{Hmac, KeyInit, Mac};
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| format!("no {name} header"));
    let (id, ts, sigs) = (h("webhook-id")?, h("webhook-timestamp")?, h("webhook-signature")?);
    let ts_n: i64 = ts.parse().map_err(|_| "webhook-timestamp is not a number".to_string())?;
    if (now - ts_n).abs() > 300 {
        return Err("webhook-timestamp is more than five minutes from now".into());
    }
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let mut checked = Vec::new();
    for entry in sigs.split(' ') {
        let Some((version, sig)) = entry.split_once(',') else { continue };
        let Ok(sig) = B64.decode(sig) else { continue };
        match version {
            "v1" => {
                let Some(secret) = config.webhook_secret.as_deref().and_then(|s| s.strip_prefix("whsec_")) else { continue };
                let key = B64.decode(secret).map_err(|_| "the configured webhook secret is not base64".to_string())?;
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|e| e.to_string())?;
                mac.update(&signed);
                if mac.verify_slice(&sig).is_ok() {
                    checked.push("v1");
                }
            }
            "v1a" => {
                let Some(public) = config.webhook_public_key.as_deref().and_then(|s| s.strip_prefix("whpk_")) else { continue };
                let key: [u8; 32] = B64
                    .decode(public)
                    .ok()
                    .and_then(|k| k.try_into().ok())
                    .ok_or_else(|| "the configured webhook public key is not 32 bytes of base64".to_string())?;
                let (Ok(key), Ok(sig)) = (ed25519_dalek::VerifyingKey::from_bytes(&key), ed25519_dalek::Signature::from_slice(&sig)) else {
                    continue;
                };
                if key.verify_strict(&signed, &sig).is_ok() {
                    checked.push("v1a");
                }
            }
            _ => {}
        }
    }
    if checked.is_empty() {
        return Err("no signature in webhook-signature verifies with the app's secrets".into());
    }
    Ok(id.to_owned())
}

async fn webhook(State(app): State<Arc<DemoApp>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(config) = app.config() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let answered = app.scripted(StatusCode::NO_CONTENT).await;
    let now = app.shared.clock.now().as_second();
    let checked = check_webhook(&config, &headers, &body, now);
    let id = checked
        .as_ref()
        .ok()
        .cloned()
        .unwrap_or_else(|| headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("(none)").to_owned());
    let content = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answered = if checked.is_err() && answered.is_success() { StatusCode::BAD_REQUEST } else { answered };
    app.record(Received {
        channel: "webhook",
        id,
        at: app.shared.clock.now(),
        answered: answered.as_u16(),
        problem: checked.err(),
        content,
    });
    answered.into_response()
}

/// A token idlink signed (SET or logout token): signature, `typ`, `iss`, `aud`.
fn check_signed(jwks: &Value, config: &AppConfig, token: &str, typ: &str) -> Result<Value, String> {
    let (header_typ, claims) = verify(token, jwks, &JwsAlg::ALL).map_err(|e| format!("signature: {e}"))?;
    if header_typ.as_deref() != Some(typ) {
        return Err(format!("typ is {header_typ:?}, not {typ}"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err("iss is not idlink's issuer".into());
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == &config.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(config.client_id.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err("aud is not this app".into());
    }
    Ok(claims)
}

/// idlink's signing keys, or the 503 that asks idlink to send again later
/// (a token that cannot be checked now is not a bad token), recorded.
async fn keys_or_retry(app: &DemoApp, config: &AppConfig, channel: &'static str) -> Result<Value, Response> {
    app.jwks(&config.issuer).await.map_err(|e| {
        let problem = Some(format!("idlink's keys could not be fetched, so the token was not checked: {e}"));
        app.record(Received {
            channel,
            id: "(unchecked)".into(),
            at: app.shared.clock.now(),
            answered: 503,
            problem,
            content: Value::Null,
        });
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    })
}

/// RFC 8935 push: the body is the SET; 202 when accepted, 400 with `err` when not.
async fn set_push(State(app): State<Arc<DemoApp>>, body: String) -> Response {
    let Some(config) = app.config() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let answered = app.scripted(StatusCode::ACCEPTED).await;
    let jwks = match keys_or_retry(&app, &config, "set").await {
        Ok(k) => k,
        Err(retry) => return retry,
    };
    let checked = check_signed(&jwks, &config, body.trim(), "secevent+jwt").and_then(|claims| {
        if claims.get("exp").is_some() || claims.get("sub").is_some() {
            return Err("a SET must carry neither exp nor a top-level sub".into());
        }
        if claims.get("events").and_then(Value::as_object).is_none_or(|e| e.is_empty()) {
            return Err("no events".into());
        }
        Ok(claims)
    });
    let (id, problem, content) = match checked {
        Ok(c) => (c.get("jti").and_then(Value::as_str).unwrap_or("(none)").to_owned(), None, c),
        Err(e) => ("(unverified)".to_owned(), Some(e), Value::Null),
    };
    if let Some(p) = &problem
        && answered.is_success()
    {
        app.record(Received { channel: "set", id, at: app.shared.clock.now(), answered: 400, problem: problem.clone(), content });
        return (StatusCode::BAD_REQUEST, Json(json!({"err": "invalid_request", "description": p}))).into_response();
    }
    app.record(Received { channel: "set", id, at: app.shared.clock.now(), answered: answered.as_u16(), problem, content });
    answered.into_response()
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// OIDC Back-Channel Logout 1.0 §2.5: 200 when the token is valid, 400 when not.
async fn logout(State(app): State<Arc<DemoApp>>, axum::Form(form): axum::Form<LogoutForm>) -> Response {
    let Some(config) = app.config() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let answered = app.scripted(StatusCode::OK).await;
    let now = app.shared.clock.now().as_second();
    let jwks = match keys_or_retry(&app, &config, "logout").await {
        Ok(k) => k,
        Err(retry) => return retry,
    };
    let checked = check_signed(&jwks, &config, &form.logout_token, "logout+jwt").and_then(|claims| {
        check_token_claims(&claims, &config, now)?;
        if claims.pointer(&format!("/events/{}", BACKCHANNEL_LOGOUT.replace('/', "~1"))).is_none() {
            return Err("no back-channel logout event".into());
        }
        if claims.get("nonce").is_some() {
            return Err("a logout token must not carry a nonce".into());
        }
        if claims.get("sub").is_none() && claims.get("sid").is_none() {
            return Err("neither sub nor sid".into());
        }
        Ok(claims)
    });
    let (id, problem, content) = match checked {
        Ok(c) => {
            // The user's session at this app ends: forget the login shown.
            let sub = c.get("sub").cloned();
            let mut last = lock(&app.last_login);
            if last.as_ref().is_some_and(|l| l.id_token.get("sub").cloned() == sub) {
                *last = None;
            }
            (c.get("jti").and_then(Value::as_str).unwrap_or("(none)").to_owned(), None, c)
        }
        Err(e) => ("(unverified)".to_owned(), Some(e), Value::Null),
    };
    let answered = if problem.is_some() && answered.is_success() { StatusCode::BAD_REQUEST } else { answered };
    app.record(Received { channel: "logout", id, at: app.shared.clock.now(), answered: answered.as_u16(), problem, content });
    answered.into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The app's one page: log in, the verified claims, the deliveries received.
async fn home(State(app): State<Arc<DemoApp>>) -> Html<String> {
    let config = app.config();
    let login = lock(&app.last_login).clone();
    let last_error = lock(&app.last_error).clone();
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sandbox app — idlink</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:1rem auto;padding:0 1rem}\
         pre{background:#f4f4f4;padding:.5rem;overflow:auto}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;\
         padding:.3rem;text-align:left;vertical-align:top}.bad{color:#a00}.ok{color:#060}</style></head><body><main>\
         <h1>Sandbox third-party app</h1>",
    );
    match &config {
        None => page.push_str("<p>Not registered with idlink yet: <code>POST /sandbox/v1/app/config</code>.</p>"),
        Some(c) => page.push_str(&format!(
            "<p>Registered as <code>{}</code> with <code>{}</code>.</p><p><a id=\"login\" href=\"{}/login\">Log in with idlink</a></p>",
            escape(&c.client_id),
            escape(&c.issuer),
            escape(&app.prefix)
        )),
    }
    match lock(&app.stream).clone() {
        Some(Ok((id, status))) => page.push_str(&format!(
            "<p id=\"stream\">Security events: SSF push stream <code>{}</code> ({}), set up with a client-credentials token.</p>",
            escape(&id),
            escape(&status)
        )),
        Some(Err(e)) => page.push_str(&format!("<p class=\"bad\" id=\"stream\">No SSF stream: {}</p>", escape(&e))),
        None => {}
    }
    if let Some(e) = last_error {
        page.push_str(&format!("<p class=\"bad\" role=\"alert\" id=\"error\">The last login failed: {}</p>", escape(&e)));
    }
    if let Some(l) = login {
        let pretty = |v: &Value| escape(&serde_json::to_string_pretty(v).unwrap_or_default());
        page.push_str(&format!(
            "<h2>Signed in</h2><p>Subject <code id=\"sub\">{}</code>, at {}</p><h3>Verified claims (userinfo)</h3><pre id=\"userinfo\">{}</pre>\
             <h3>ID token</h3><pre id=\"id-token\">{}</pre>",
            escape(l.id_token.get("sub").and_then(Value::as_str).unwrap_or("")),
            l.at,
            pretty(&l.userinfo),
            pretty(&l.id_token)
        ));
    }
    page.push_str("<h2>Deliveries received</h2><table id=\"received\"><thead><tr><th>When</th><th>Channel</th><th>Id</th><th>Answer</th><th>Check</th><th>Content</th></tr></thead><tbody>");
    for r in app.received().iter().rev() {
        let check = match &r.problem {
            None => "<span class=\"ok\">signature valid</span>".to_owned(),
            Some(p) => format!("<span class=\"bad\">{}</span>", escape(p)),
        };
        page.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{check}</td><td><pre>{}</pre></td></tr>",
            r.at,
            r.channel,
            escape(&r.id),
            r.answered,
            escape(&serde_json::to_string(&r.content).unwrap_or_default())
        ));
    }
    page.push_str("</tbody></table></main></body></html>");
    Html(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: &str, public: Option<String>) -> AppConfig {
        AppConfig {
            issuer: "http://idlink.test".into(),
            client_id: "cli_1".into(),
            client_secret: "s".into(),
            webhook_secret: Some(secret.into()),
            webhook_public_key: public,
            base_url: "http://app.test".into(),
        }
    }

    #[test]
    fn a_standard_webhooks_v1_signature_from_the_spec_verifies() {
        // The Standard Webhooks specification's example (signature of
        // `msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}`).
        let c = config("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None);
        let mut h = HeaderMap::new();
        h.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap());
        h.insert("webhook-timestamp", "1614265330".parse().unwrap());
        h.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse().unwrap());
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(check_webhook(&c, &h, body, 1_614_265_330).as_deref(), Ok("msg_p5jXN8AQM9LWM0D4loKWxJek"));
        assert!(check_webhook(&c, &h, br#"{"test": 1}"#, 1_614_265_330).is_err(), "a changed body must not verify");
        assert!(check_webhook(&c, &h, body, 1_614_265_330 + 301).is_err(), "an old timestamp must be refused");
    }

    #[test]
    fn a_v1a_signature_verifies_with_the_public_key() {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let public = format!("whpk_{}", B64.encode(key.verifying_key().as_bytes()));
        let c = config("whsec_AAAA", Some(public));
        let sig = key.sign(b"msg_1.100.{}");
        let mut h = HeaderMap::new();
        h.insert("webhook-id", "msg_1".parse().unwrap());
        h.insert("webhook-timestamp", "100".parse().unwrap());
        h.insert("webhook-signature", format!("v1,bm9wZQ== v1a,{}", B64.encode(sig.to_bytes())).parse().unwrap());
        assert_eq!(check_webhook(&c, &h, b"{}", 100).as_deref(), Ok("msg_1"));
    }
}
