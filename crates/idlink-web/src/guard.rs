//! What stands in front of every page: the security headers, and the CSRF
//! check every form post passes before its handler runs.
//!
//! CSRF defence is layered: cookies are `SameSite=Strict`; a post whose
//! `Sec-Fetch-Site` says `cross-site`, or whose `Origin` is another host, is
//! refused; and the form's `csrf` field must equal the `idlink_csrf` cookie
//! (a random token per browser, compared in constant time).

use crate::WebState;
use crate::ctx::{CSRF, Visitor, read_cookie};
use crate::pages::render::message_page;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idlink_core::steps::codes::constant_time_eq;

/// No inline script or style, nothing from another origin, no framing, and
/// forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The origin (`https://host[:port]`) of an `https:` URL, when its host is a
/// plain DNS name or address (letters, digits, `.`, `-`, `[`, `]`, `:`), so it
/// can stand in a CSP source list without changing the policy's meaning.
pub fn https_origin(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let ok =
        !authority.is_empty() && !authority.contains('@') && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    ok.then(|| format!("https://{}", authority.to_ascii_lowercase()))
}

/// The pages' policy, with images also allowed from `origin` (a page that
/// shows a third-party app's logo, and only that page: the consent page).
pub fn csp_with_images_from(origin: &str) -> Option<HeaderValue> {
    let origin = https_origin(origin)?;
    HeaderValue::from_str(&CONTENT_SECURITY_POLICY.replacen("img-src 'self' data:", &format!("img-src 'self' data: {origin}"), 1)).ok()
}

/// Adds the security headers to every page and asset. A page that set its
/// own `Content-Security-Policy` (built from [`CONTENT_SECURITY_POLICY`] by
/// [`csp_with_images_from`]) keeps it.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    let is_html = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if is_html || res.status().is_redirection() {
        // Pages show personal data: never kept by a shared or the browser's cache.
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The largest form a page accepts.
const FORM_LIMIT: usize = 16 * 1024;

fn from_elsewhere(req: &Request) -> bool {
    let h = req.headers();
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    match (h.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        // `null` is what browsers send under some referrer policies and
        // privacy settings; the token decides then.
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        _ => false,
    }
}

/// Refuses a form post that fails the CSRF checks, with a page that says
/// what happened and a fresh form to go back to.
pub async fn check_forms(State(state): State<WebState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let secure = state.settings.secure_cookies;
    let cookie_token = read_cookie(req.headers(), CSRF, secure);
    let elsewhere = from_elsewhere(&req);
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        let Ok(visitor) = Visitor::from_request_parts(&mut parts, &state).await;
        let message = visitor.tr.t("form-too-large");
        return (StatusCode::PAYLOAD_TOO_LARGE, message_page(&visitor, &message, "/h5/")).into_response();
    };
    let form_token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    let valid = !elsewhere
        && matches!((&cookie_token, &form_token), (Some(c), Some(f)) if c.len() == 32 && constant_time_eq(c.as_bytes(), f.as_bytes()));
    if valid {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    tracing::info!(path = %parts.uri.path(), cross_site = elsewhere, "form refused by the CSRF check");
    let Ok(visitor) = Visitor::from_request_parts(&mut parts, &state).await;
    if parts.uri.path().starts_with("/console/") {
        // The console's own frame, with a fresh console-scoped token to go on with.
        let message = visitor.tr.t("console-problem-csrf");
        return crate::console::message_page(&visitor, None, StatusCode::FORBIDDEN, &message);
    }
    let back = parts.headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(local_path).unwrap_or("/h5/").to_owned();
    let message = visitor.tr.t("problem-csrf");
    (StatusCode::FORBIDDEN, message_page(&visitor, &message, &back)).into_response()
}

/// The path of a same-site URL (`/h5/...`), for links back; anything else is refused.
pub fn local_path(url: &str) -> Option<&str> {
    let path = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map(|j| &url[i + 3 + j..])?,
        None => url,
    };
    (path.starts_with("/h5/") && !path.contains('\\') && !path.chars().any(char::is_control)).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logo_origin_widens_only_img_src() {
        assert_eq!(https_origin("https://CDN.example:8443/a/logo.png?x=1").as_deref(), Some("https://cdn.example:8443"));
        assert_eq!(https_origin("http://cdn.example/logo.png"), None, "https only");
        assert_eq!(https_origin("https://a;b.example/x"), None, "a `;` would add a directive");
        assert_eq!(https_origin("https://u@cdn.example/x"), None);
        assert_eq!(https_origin("https:///x"), None);
        let csp = csp_with_images_from("https://cdn.example/logo.png").map(|v| v.to_str().unwrap_or("").to_owned());
        let csp = csp.unwrap_or_default();
        assert!(csp.contains("img-src 'self' data: https://cdn.example;"), "{csp}");
        assert_eq!(csp.replace(" https://cdn.example", ""), CONTENT_SECURITY_POLICY);
    }

    #[test]
    fn only_our_own_paths_are_links_back() {
        assert_eq!(local_path("/h5/cards"), Some("/h5/cards"));
        assert_eq!(local_path("http://127.0.0.1:8080/h5/login?x=1"), Some("/h5/login?x=1"));
        assert_eq!(local_path("https://evil.example/"), None);
        assert_eq!(local_path("//evil.example/h5/"), None);
        assert_eq!(local_path("/v1/users"), None);
        assert_eq!(local_path("/h5/\\evil"), None);
        assert_eq!(local_path("/h5/\r\nSet-Cookie: x=1"), None);
    }
}
