//! The consent page of the OpenID provider (SPEC TP1; PIPL art. 29):
//! `/h5/authorize/{azr}` lists exactly the claims the app asked for, the
//! sensitive ones (the verified identity) under a separate consent, and
//! sends the user back to the app with a code (or a refusal).
//!
//! The app's redirect here is cross-site, so the `SameSite=Strict` session
//! cookie is not sent with it (plan §6 pitfall 2). Without a session such a
//! request gets a page that reloads itself (`<meta http-equiv="refresh">`,
//! plus a Continue link): the reload is same-site, the cookie comes along.
//! A visitor really signed out is sent to the login page, which comes back
//! here afterwards (the `idlink_return` cookie). The answer to the consent
//! goes back to the app the same way (a page that moves on by itself): a
//! 303 to another origin after a form post is blocked by the pages' CSP
//! (`form-action 'self'`).

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::i18n::{Locale, Tr};
use crate::pages::render::{Chrome, html, message_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use idlink_core::oidc::provider::{ConsentSession, ConsentView, Decision};
use idlink_domain::AuthzRequestId;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The cookie naming the page to come back to after the login.
pub const RETURN: &str = "idlink_return";

pub fn routes() -> Router<WebState> {
    Router::new().route("/h5/authorize/{azr}", get(show).post(decide))
}

/// Where the login goes next: back to a consent page when one sent the visitor there.
pub fn after_login(headers: &HeaderMap, secure: bool) -> String {
    crate::ctx::read_cookie(headers, RETURN, secure)
        .filter(|p| p.starts_with("/h5/authorize/azr_") && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)))
        .unwrap_or_else(|| "/h5/".to_owned())
}

#[derive(Template)]
#[template(path = "authorize.html")]
struct ConsentPage {
    c: Chrome,
    request: String,
    /// The page's language, sent back with the answer.
    lang: &'static str,
    intro: String,
    logo: Option<String>,
    ordinary: Vec<String>,
    sensitive: Vec<String>,
    verified: bool,
    purpose: Option<String>,
}

#[derive(Template)]
#[template(path = "authorize_continue.html")]
struct ContinuePage {
    lang: &'static str,
    title: String,
    link: String,
    path: String,
}

fn label(v: &Visitor, tag: &str) -> String {
    v.tr.t(&format!("authorize-claim-{}", tag.replace([':', '_'], "-")))
}

/// The words the user is shown, in order: what their consent is to (hashed into the consent record).
fn wording(v: &Visitor, view: &ConsentView) -> (String, Vec<String>, Vec<String>) {
    let intro = v.tr.t1("authorize-intro", "app", &view.client_name);
    let mut ordinary = vec![v.tr.t("authorize-openid")];
    ordinary.extend(view.ordinary.iter().map(|t| label(v, t)));
    let mut sensitive: Vec<String> = view.sensitive.iter().map(|t| label(v, t)).collect();
    if !sensitive.is_empty() {
        sensitive.push(v.tr.t("authorize-evidence"));
    }
    (intro, ordinary, sensitive)
}

fn text_hash(intro: &str, ordinary: &[String], sensitive: &[String]) -> String {
    let mut h = Sha256::new();
    for line in std::iter::once(intro).chain(ordinary.iter().map(String::as_str)).chain(sensitive.iter().map(String::as_str)) {
        h.update(line.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn gone(v: &Visitor) -> Response {
    (StatusCode::NOT_FOUND, message_page(v, &v.tr.t("authorize-gone"), "/h5/")).into_response()
}

fn failed(v: &Visitor) -> Response {
    let message = v.tr.t1("problem-generic", "code", "service_unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, message_page(v, &message, "/h5/")).into_response()
}

/// `prompt=login` or `max_age`: the login comes back here with a new session.
/// The old session is not ended here: this is a GET any site can start, and
/// ending it would sign the user out (and tell every app) without their say.
fn fresh_login(v: &Visitor) -> Response {
    let mut cookies = v.cookies();
    cookies.clear(crate::ctx::SESSION, v.secure);
    cookies.set(RETURN, &v.path, Some(900), v.secure);
    (cookies, Redirect::to("/h5/login")).into_response()
}

/// No session: the self-reloading page after a cross-site arrival, else the login.
fn signed_out(v: &Visitor, headers: &HeaderMap) -> Response {
    let cross_site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) == Some("cross-site");
    if cross_site {
        let page = ContinuePage {
            lang: v.locale().tag(),
            title: v.tr.t("authorize-continue-title"),
            link: v.tr.t("authorize-continue"),
            path: v.path.clone(),
        };
        return (v.cookies(), html(StatusCode::OK, &page)).into_response();
    }
    let mut cookies = v.cookies();
    cookies.set(RETURN, &v.path, Some(900), v.secure);
    (cookies, Redirect::to("/h5/login")).into_response()
}

/// Why the consent page was not shown: the answer to send instead.
type NotShown = Response;

/// What both the page and the answer to it need: the request checked for
/// this user, in the language the page is shown in.
struct Loaded {
    v: Visitor,
    s: Signed,
    id: AuthzRequestId,
    view: ConsentView,
}

/// The language of the consent page: the app's `ui_locales` (the first of
/// ours; OIDC Core §3.1.2.1), else the visitor's own (cookie, then
/// `Accept-Language`). After the visitor used the page's switches
/// (`?chosen=1`, where they send the visitor back) their choice wins.
fn consent_locale(v: &Visitor, view: &ConsentView, chosen: bool) -> Locale {
    if chosen {
        return v.locale();
    }
    view.params.ui_locales.as_deref().and_then(Locale::from_ui_locales).unwrap_or_else(|| v.locale())
}

/// The one prelude of `show` and `decide`: the session (else the
/// self-reloading page or the login), the request (else "gone"), a fresh
/// login when `prompt=login` or `max_age` asks for one, and the page's language.
async fn load(
    state: &WebState,
    mut v: Visitor,
    signed: Option<Signed>,
    headers: &HeaderMap,
    azr: String,
    chosen: bool,
) -> Result<Loaded, NotShown> {
    let Some(s) = signed else { return Err(signed_out(&v, headers)) };
    let Ok(id) = AuthzRequestId::try_from(azr) else { return Err(gone(&v)) };
    let p = idlink_api::routes::oauth::provider(&state.app);
    let view = match p.consent_view(&id, &s.session.user_id).await {
        Ok(Some(view)) => view,
        Ok(None) => return Err(gone(&v)),
        Err(_) => return Err(failed(&v)),
    };
    if view.needs_fresh_login(s.session.created_at, state.app.clock.now()) {
        return Err(fresh_login(&v));
    }
    v.tr = Tr::new(consent_locale(&v, &view, chosen));
    Ok(Loaded { v, s, id, view })
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    chosen: Option<String>,
}

pub async fn show(
    State(state): State<WebState>,
    v: Visitor,
    signed: Option<Signed>,
    headers: HeaderMap,
    Path(azr): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Loaded { v, id, view, .. } = match load(&state, v, signed, &headers, azr, q.chosen.as_deref() == Some("1")).await {
        Ok(l) => l,
        Err(page) => return page,
    };
    let (intro, ordinary, sensitive) = wording(&v, &view);
    let mut c = Chrome::new(&v, "authorize-title", true);
    // The switches come back here with the visitor's choice winning over `ui_locales`.
    c.back = format!("{}?chosen=1", v.path);
    let page = ConsentPage {
        c,
        request: id.to_string(),
        lang: v.locale().tag(),
        intro,
        logo: view.logo_url.clone(),
        ordinary,
        sensitive,
        verified: view.verified,
        purpose: view.purpose.clone(),
    };
    let mut cookies = v.cookies();
    cookies.clear(RETURN, v.secure);
    let mut res = (cookies, html(StatusCode::OK, &page)).into_response();
    // The app's https logo: this page's policy allows images from its origin only (docs/apps.md).
    if let Some(csp) = view.logo_url.as_deref().and_then(crate::guard::csp_with_images_from) {
        res.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

#[derive(Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    sensitive: Option<String>,
    /// The language the page was shown in: the consent is to those words.
    #[serde(default)]
    lang: Option<String>,
}

pub async fn decide(
    State(state): State<WebState>,
    v: Visitor,
    signed: Option<Signed>,
    headers: HeaderMap,
    Path(azr): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let Loaded { mut v, s, id, view } = match load(&state, v, signed, &headers, azr, false).await {
        Ok(l) => l,
        Err(page) => return page,
    };
    if let Some(shown) = f.lang.as_deref().and_then(Locale::from_tag) {
        v.tr = Tr::new(shown);
    }
    let (intro, ordinary, sensitive) = wording(&v, &view);
    let decision = match f.decision.as_str() {
        "allow" => Decision::Allow { sensitive: f.sensitive.as_deref() == Some("1") && !view.sensitive.is_empty() },
        _ => Decision::Deny,
    };
    let who = ConsentSession {
        user: s.session.user_id.clone(),
        session_id: s.session.id.to_string(),
        auth_time: s.session.created_at,
        client_ip: v.client_ip.clone(),
        request_id: v.request_id.clone(),
    };
    let p = idlink_api::routes::oauth::provider(&state.app);
    match p.decide(&id, &who, decision, &text_hash(&intro, &ordinary, &sensitive)).await {
        // Not a 303: the pages' CSP says `form-action 'self'`, which browsers
        // also apply to a redirect answering a form, and the app is another
        // origin. A page that moves on by itself is not a form action.
        Ok(Some(to)) => {
            let page = ContinuePage {
                lang: v.locale().tag(),
                title: v.tr.t("authorize-return-title"),
                link: v.tr.t("authorize-return"),
                path: to,
            };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Ok(None) => gone(&v),
        Err(_) => failed(&v),
    }
}
