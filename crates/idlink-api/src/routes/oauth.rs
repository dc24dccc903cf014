//! The OpenID provider's protocol endpoints (SPEC TP1; ADR 0021):
//! discovery, JWKS, authorize, token, userinfo, revocation, introspection.
//! They answer the formats their RFCs define (`{"error":…}`, form bodies),
//! marked [`crate::problem::Verbatim`], and are not in `openapi.json`
//! (`docs/oidc.md` documents them).

use crate::problem::Verbatim;
use crate::state::{AppParts, AppState, ClientIp};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use idlink_core::oidc::provider::{AuthorizeOutcome, ClientCredentials, OAuthError, Provider, SCOPES};
use idlink_crypto::jose::JwsAlg;
use serde_json::{Value, json};

type Params = Vec<(String, String)>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
}

/// The provider's use cases over the application's ports (also used by the consent page).
pub fn provider(s: &AppParts) -> Provider<'_> {
    Provider {
        store: s.store.as_ref(),
        vault: &s.vault,
        clock: s.clock.as_ref(),
        ids: s.ids.as_ref(),
        rng: s.rng.as_ref(),
        settings: &s.oidc,
        consent_texts: &s.consent_texts,
    }
}

fn verbatim(mut res: Response) -> Response {
    res.extensions_mut().insert(Verbatim);
    res
}

/// JSON that no cache keeps (tokens, userinfo, introspection).
fn no_store(status: StatusCode, body: Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    verbatim(res)
}

/// RFC 6749 §5.2 (and RFC 6750 §3 for bearer tokens).
fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = no_store(status, json!({"error": e.error, "error_description": e.description}));
    let challenge = if e.error == "invalid_token" {
        Some(format!("Bearer error=\"invalid_token\", error_description=\"{}\"", e.description.replace('"', "'")))
    } else if e.status == 401 && e.basic {
        Some("Basic realm=\"idlink\"".to_owned())
    } else {
        None
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

fn malformed() -> OAuthError {
    OAuthError::new("invalid_request", "the body is not a form (application/x-www-form-urlencoded)")
}

/// OpenID Connect Discovery 1.0 §3 and RFC 8414, with OpenID Identity Assurance's metadata.
async fn discovery(State(s): State<AppState>) -> Response {
    let iss = &s.oidc.issuer;
    let auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    // Introspection and revocation need a client that can prove who it is (RFC 7662 §2.1).
    let confidential_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
    let algs: Vec<&str> = JwsAlg::ALL.iter().map(|a| a.as_str()).collect();
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/oauth2/jwks"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        // `ssf` is granted by client_credentials only, never at /oauth2/authorize.
        "scopes_supported": SCOPES.iter().copied().chain([idlink_core::events::ssf::SCOPE]).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "claim_types_supported": ["normal"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "acr", "amr", "at_hash",
                             "phone_number", "phone_number_verified", "verified_claims"],
        "ui_locales_supported": ["zh-CN", "zh-HK", "en"],
        "claims_locales_supported": ["zh-CN"],
        "acr_values_supported": ["urn:idlink:acr:sms"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        // OpenID Identity Assurance 1.0.
        "verified_claims_supported": true,
        "trust_frameworks_supported": [s.oidc.trust_framework],
        "evidence_supported": ["electronic_record", "document"],
        "documents_supported": ["passport", "https://idlink.dev/doc/hk-macau-permit", "https://idlink.dev/doc/taiwan-permit"],
        "documents_check_methods_supported": ["vri", "pvr"],
        "electronic_records_supported": ["population_register", "bank_account"],
        "claims_in_verified_claims_supported": idlink_core::oidc::claims::VERIFIED,
    });
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    verbatim(res)
}

async fn jwks(State(s): State<AppState>) -> Response {
    match provider(&s).keys().jwks().await {
        Ok(set) => {
            let mut res = ([(header::CONTENT_TYPE, "application/json")], set.to_string()).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("max-age={}", s.oidc.jwks_max_age.as_secs().max(0))) {
                res.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            verbatim(res)
        }
        Err(e) => {
            tracing::error!(error = %e, "JWKS: the signing keys could not be read");
            oauth_error(&OAuthError::new("server_error", "the keys could not be read").with_status(503))
        }
    }
}

/// The page shown when the app cannot be trusted with a redirect (RFC 6749 §4.1.2.1).
fn error_page(e: &OAuthError) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Sign-in request refused</title></head><body><main><h1>The app's sign-in request was refused</h1>\
         <p id=\"oauth-error\">{}: {}</p><p>Go back to the app and try again.</p></main></body></html>",
        esc(e.error),
        esc(&e.description)
    );
    let mut res = (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    verbatim(res)
}

/// Too many requests from one address: 429 with `Retry-After`, in the
/// endpoint's own format (an HTML page for authorize, RFC 6749 JSON for the
/// token endpoint), never a redirect to the app (the caller is not known to be it).
fn too_many(retry_after: u64, page: bool) -> Response {
    let e = OAuthError::new("temporarily_unavailable", format!("too many requests from this address; retry after {retry_after} seconds"))
        .with_status(429);
    let mut res = if page { error_page(&e) } else { oauth_error(&e) };
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}

/// The per-address limit of `endpoint`; `Some(answer)` when it is reached (or the count failed).
async fn limited(s: &AppParts, ip: &ClientIp, endpoint: &str, per_minute: u64, page: bool) -> Option<Response> {
    match provider(s).rate_limited(endpoint, &ip.0, per_minute).await {
        Ok(None) => None,
        Ok(Some(wait)) => Some(too_many(wait, page)),
        Err(e) if page => Some(error_page(&e)),
        Err(e) => Some(oauth_error(&e)),
    }
}

async fn authorize(s: &AppParts, ip: &ClientIp, params: &Params) -> Response {
    if let Some(res) = limited(s, ip, "authorize", s.oidc.authorize_per_minute, true).await {
        return res;
    }
    match provider(s).authorize(params).await {
        Ok(AuthorizeOutcome::Consent(id)) => see_other(&format!("/h5/authorize/{id}")),
        Ok(AuthorizeOutcome::Redirect(to)) => see_other(&to),
        Ok(AuthorizeOutcome::Page(e)) | Err(e) => error_page(&e),
    }
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => verbatim((StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response()),
        Err(_) => error_page(&OAuthError::new("invalid_request", "the redirect could not be built")),
    }
}

async fn authorize_get(
    State(s): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    q: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match q {
        Ok(Query(p)) => authorize(&s, &ip, &p).await,
        Err(_) => error_page(&OAuthError::new("invalid_request", "the query string is malformed")),
    }
}

async fn authorize_post(State(s): State<AppState>, Extension(ip): Extension<ClientIp>, f: Result<Form<Params>, FormRejection>) -> Response {
    match f {
        Ok(Form(p)) => authorize(&s, &ip, &p).await,
        Err(_) => error_page(&malformed()),
    }
}

fn credentials(headers: &HeaderMap, form: &Params) -> ClientCredentials {
    let field = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    ClientCredentials {
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
        client_id: field("client_id"),
        client_secret: field("client_secret"),
        assertion_type: field("client_assertion_type"),
        assertion: field("client_assertion"),
    }
}

async fn token(
    State(s): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    f: Result<Form<Params>, FormRejection>,
) -> Response {
    // Before client authentication: guessing secrets is limited too.
    if let Some(res) = limited(&s, &ip, "token", s.oidc.token_per_minute, false).await {
        return res;
    }
    let Ok(Form(form)) = f else { return oauth_error(&malformed()) };
    let p = provider(&s);
    let endpoint = format!("{}/oauth2/token", s.oidc.issuer);
    let client = match p.authenticate(&credentials(&headers, &form), &endpoint).await {
        Ok(c) => c,
        Err(e) => return oauth_error(&e),
    };
    match p.token(&client, &form).await {
        Ok(body) => no_store(StatusCode::OK, body),
        Err(e) => oauth_error(&e),
    }
}

/// The token of an `Authorization: Bearer …` header; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// RFC 6750 §3: a Bearer challenge naming the error.
fn bearer_challenge(mut res: Response, error: Option<&str>) -> Response {
    let value = match error {
        Some(e) => format!("Bearer realm=\"idlink\", error=\"{e}\""),
        None => "Bearer realm=\"idlink\"".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

async fn userinfo(State(s): State<AppState>, method: axum::http::Method, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let from_header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
    // RFC 6750 §2.2: only a POST with a form body may carry the token in its body.
    let form = method == axum::http::Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let from_form = if form {
        idlink_core::oidc::provider::parse_form(&body).into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v)
    } else {
        None
    };
    let token = match (from_header, from_form) {
        (Some(_), Some(_)) => {
            // RFC 6750 §2: one method per request.
            let e = OAuthError::new("invalid_request", "send the access token once: in the Authorization header or the form body");
            return bearer_challenge(oauth_error(&e), Some("invalid_request"));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return bearer_challenge(verbatim(StatusCode::UNAUTHORIZED.into_response()), None),
    };
    match provider(&s).userinfo(token.trim()).await {
        Ok(claims) => no_store(StatusCode::OK, claims),
        Err(e) if e.error == "insufficient_scope" => bearer_challenge(oauth_error(&e), Some("insufficient_scope")),
        Err(e) => oauth_error(&e),
    }
}

async fn revoke(State(s): State<AppState>, headers: HeaderMap, f: Result<Form<Params>, FormRejection>) -> Response {
    let Ok(Form(form)) = f else { return oauth_error(&malformed()) };
    let p = provider(&s);
    let endpoint = format!("{}/oauth2/revoke", s.oidc.issuer);
    let client = match p.authenticate(&credentials(&headers, &form), &endpoint).await {
        Ok(c) => c,
        Err(e) => return oauth_error(&e),
    };
    match p.revoke(&client, &form).await {
        Ok(()) => verbatim(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e),
    }
}

async fn introspect(State(s): State<AppState>, headers: HeaderMap, f: Result<Form<Params>, FormRejection>) -> Response {
    let Ok(Form(form)) = f else { return oauth_error(&malformed()) };
    let p = provider(&s);
    let endpoint = format!("{}/oauth2/introspect", s.oidc.issuer);
    match p.introspect(&credentials(&headers, &form), &endpoint, &form).await {
        Ok(body) => no_store(StatusCode::OK, body),
        Err(e) => oauth_error(&e),
    }
}
