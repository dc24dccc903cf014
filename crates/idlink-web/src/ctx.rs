//! What every page knows about its visitor, read from the request's
//! cookies and headers: the language, elder mode, the CSRF token, the
//! browser's device id and the idlink session; and the cookies a page sets.
//!
//! Cookies (all `HttpOnly`, `SameSite=Strict`, path `/h5`; `Secure` with the
//! `__Host-` prefix when [`crate::WebSettings::secure_cookies`]):
//! - `idlink_session`: the user's session token (the same token the API
//!   takes in `Idlink-Session`), for the session's lifetime;
//! - `idlink_device`: a random id for this browser, the login's device id;
//! - `idlink_csrf`: the token every form echoes in its `csrf` field;
//! - `idlink_lang`, `idlink_elder`: the visitor's choices, remembered.

use crate::WebState;
use crate::i18n::{Locale, Tr};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponseParts, ResponseParts};
use cookie::{Cookie, SameSite};
use idlink_core::ports::auth::SessionRow;
use std::convert::Infallible;

pub const SESSION: &str = "idlink_session";
pub const DEVICE: &str = "idlink_device";
pub const CSRF: &str = "idlink_csrf";
pub const LANG: &str = "idlink_lang";
pub const ELDER: &str = "idlink_elder";

/// The cookie's name as sent: `__Host-` prefixed behind TLS (the browser
/// then refuses it from a sibling domain or over plain HTTP).
pub fn cookie_name(name: &str, secure: bool) -> String {
    if secure { format!("__Host-{name}") } else { name.to_owned() }
}

/// The value of cookie `name` in the request.
pub fn read_cookie(headers: &HeaderMap, name: &str, secure: bool) -> Option<String> {
    let wanted = cookie_name(name, secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == wanted)
        .map(|c| c.value().to_owned())
}

/// Cookies to set (or clear) on the response.
#[derive(Debug, Default)]
pub struct SetCookies(Vec<String>);

impl SetCookies {
    /// Sets `name` for `max_age_secs` (none: until the browser closes).
    pub fn set(&mut self, name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) {
        self.set_in("/h5", name, value, max_age_secs, secure);
    }

    /// [`set`](Self::set) for the pages under `scope` (`/h5`, `/console`).
    pub fn set_in(&mut self, scope: &str, name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) {
        // `__Host-` cookies must have path `/`; a host prefix already binds them.
        let path = if secure { "/" } else { scope };
        let mut c = Cookie::build((cookie_name(name, secure), value.to_owned()))
            .path(path)
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .build();
        if let Some(secs) = max_age_secs {
            c.set_max_age(cookie::time::Duration::seconds(secs));
        }
        self.0.push(c.to_string());
    }

    pub fn clear(&mut self, name: &str, secure: bool) {
        self.set(name, "", Some(0), secure);
    }

    pub fn merge(&mut self, other: SetCookies) {
        self.0.extend(other.0);
    }
}

impl IntoResponseParts for SetCookies {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        for c in self.0 {
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        Ok(res)
    }
}

fn random_token(state: &WebState) -> String {
    hex::encode(state.app.rng.bytes16())
}

/// The visitor as a page sees them.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub tr: Tr,
    pub elder: bool,
    /// The token this page's forms carry.
    pub csrf: String,
    /// This browser's device id (the login's `device_id`).
    pub device: String,
    /// The session token from the cookie, if any (checked by [`Signed`]).
    pub session_token: Option<String>,
    /// The path of this page, for forms that come back to it.
    pub path: String,
    pub secure: bool,
    /// The peer's address (for rate limits and the audit record), as the API reads it.
    pub client_ip: String,
    /// This request's id (logged, and on the audit records it causes).
    pub request_id: Option<idlink_domain::RequestId>,
    /// Cookies this visit must set: a new browser's CSRF token and device id.
    pub new_cookies: Vec<(&'static str, String, Option<i64>)>,
}

impl Visitor {
    /// The cookies to send with the page (a first visit's CSRF token and device id).
    pub fn cookies(&self) -> SetCookies {
        let mut out = SetCookies::default();
        for (name, value, age) in &self.new_cookies {
            out.set(name, value, *age, self.secure);
        }
        out
    }

    pub fn locale(&self) -> Locale {
        self.tr.locale
    }
}

/// A device id cookie lives this long (the longest browsers keep one: 400 days).
const DEVICE_COOKIE_SECS: i64 = 400 * 24 * 3600;

impl FromRequestParts<WebState> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Infallible> {
        // Read once per request: a page that takes both `Visitor` and
        // `Signed` must not mint two CSRF tokens for a first visit.
        if let Some(v) = parts.extensions.get::<Visitor>() {
            return Ok(v.clone());
        }
        let secure = state.settings.secure_cookies;
        let headers = &parts.headers;
        let locale = read_cookie(headers, LANG, secure)
            .and_then(|l| Locale::from_tag(&l))
            .unwrap_or_else(|| Locale::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())));
        let elder = read_cookie(headers, ELDER, secure).is_some_and(|v| v == "1");
        let mut new_cookies = Vec::new();
        let csrf = match read_cookie(headers, CSRF, secure).filter(|t| t.len() == 32) {
            Some(t) => t,
            None => {
                let t = random_token(state);
                new_cookies.push((CSRF, t.clone(), None));
                t
            }
        };
        let device = match read_cookie(headers, DEVICE, secure).filter(|d| d.len() == 32) {
            Some(d) => d,
            None => {
                let d = random_token(state);
                new_cookies.push((DEVICE, d.clone(), Some(DEVICE_COOKIE_SECS)));
                d
            }
        };
        let visitor = Visitor {
            tr: Tr::new(locale),
            elder,
            csrf,
            device,
            session_token: read_cookie(headers, SESSION, secure).filter(|t| !t.is_empty()),
            path: parts.uri.path().to_owned(),
            secure,
            client_ip: parts.extensions.get::<idlink_api::state::ClientIp>().map_or_else(|| "unknown".to_owned(), |ip| ip.0.clone()),
            request_id: parts.extensions.get::<idlink_domain::RequestId>().cloned(),
            new_cookies,
        };
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

/// A visitor with a live, active session: the pages that need one take it.
/// Without one the page answers a redirect to the login page.
#[derive(Debug, Clone)]
pub struct Signed {
    pub visitor: Visitor,
    pub session: SessionRow,
    pub token: String,
}

impl Signed {
    /// Who acts, from where, for the use cases' audit records: the signed-in user.
    pub fn origin(&self) -> idlink_core::steps::codes::Origin {
        idlink_core::steps::codes::Origin {
            actor: format!("user:{}", self.session.user_id),
            client_ip: self.visitor.client_ip.clone(),
            request_id: self.visitor.request_id.clone(),
        }
    }
}

/// The answer to a page that needs a session when there is none.
pub struct LoginFirst(pub SetCookies);

impl axum::response::IntoResponse for LoginFirst {
    fn into_response(self) -> axum::response::Response {
        (self.0, axum::response::Redirect::to("/h5/login")).into_response()
    }
}

impl FromRequestParts<WebState> for Signed {
    type Rejection = LoginFirst;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, LoginFirst> {
        let Ok(visitor) = Visitor::from_request_parts(parts, state).await;
        let Some(token) = visitor.session_token.clone() else { return Err(LoginFirst(visitor.cookies())) };
        match state.app.auth().session(&token).await {
            Ok(session) => Ok(Signed { visitor, session, token }),
            Err(_) => {
                let mut cookies = visitor.cookies();
                cookies.clear(SESSION, visitor.secure);
                Err(LoginFirst(cookies))
            }
        }
    }
}

impl OptionalFromRequestParts<WebState> for Signed {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Option<Self>, Infallible> {
        Ok(<Signed as FromRequestParts<WebState>>::from_request_parts(parts, state).await.ok())
    }
}
