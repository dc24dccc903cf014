//! Console sign-in (SPEC P5): username, password and the authenticator's
//! one-time code, checked by the same use case as the API's operator
//! sign-in (`Operators::sign_in`, with its lockout). A success sets the
//! `idlink_operator` cookie (HttpOnly, SameSite=Strict, scoped to the
//! console; `__Host-` and Secure behind TLS) for the browser session; the
//! server ends it after the idle and absolute timeouts. Also sign-out and
//! the console's language switch.

use super::{ConsoleChrome, OPERATOR, SCOPE, SignedOperator, cookies};
use crate::WebState;
use crate::ctx::{LANG, SetCookies, Visitor};
use crate::i18n::Locale;
use crate::pages::render::{FormErrors, html, problem_message_in};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use idlink_api::Problem;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    c: ConsoleChrome,
    username: String,
    errors: FormErrors,
}

fn page(v: &Visitor, username: &str, errors: FormErrors) -> Response {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let p = SignInPage { c: ConsoleChrome::new(v, v.tr.t("console-sign-in-title"), None), username: username.to_owned(), errors };
    (cookies(v), html(status, &p)).into_response()
}

/// `GET /console/sign-in` (a signed-in operator goes to the queue).
pub async fn show(v: Visitor, signed: Option<SignedOperator>) -> Response {
    if signed.is_some() {
        return Redirect::to("/console/cases").into_response();
    }
    page(&v, "", FormErrors::default())
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
}

/// `POST /console/sign-in`.
pub async fn submit(State(state): State<WebState>, v: Visitor, Form(f): Form<SignInForm>) -> Response {
    let username = f.username.trim();
    let totp = f.totp.trim();
    let mut errors = FormErrors::default();
    if username.is_empty() {
        errors.add("username", v.tr.t("console-field-username-required"));
    }
    if f.password.is_empty() {
        errors.add("password", v.tr.t("console-field-password-required"));
    }
    if totp.len() != 6 || !totp.bytes().all(|b| b.is_ascii_digit()) {
        errors.add("totp", v.tr.t("console-field-totp-format"));
    }
    if !errors.is_empty() {
        return page(&v, username, errors);
    }
    match state.app.operators().sign_in(username, &f.password, totp).await {
        Ok((_, token)) => {
            let mut out = cookies(&v);
            // A browser-session cookie: the server's timeouts end the session itself.
            out.set_in(SCOPE, OPERATOR, &token, None, v.secure);
            (out, Redirect::to("/console/cases")).into_response()
        }
        Err(e) => {
            // One sentence for wrong credentials and a lock (the audit record tells them apart);
            // the secrets are typed again, so the password field gets the focus.
            let problem = Problem::from(e);
            let message = if problem.code == idlink_api::ProblemCode::OperatorSignInFailed {
                // Says how long a lock lasts here (`review.operator_lock_minutes`).
                let minutes = state.app.review.operator_sign_in.lock_for.as_mins();
                v.tr.tn("console-sign-in-refused", "minutes", minutes)
            } else {
                problem_message_in(&v.tr, "console", &problem)
            };
            errors.add("password", message);
            page(&v, username, errors)
        }
    }
}

/// `POST /console/sign-out`: ends the session on the server and forgets the cookie.
pub async fn sign_out(State(state): State<WebState>, v: Visitor, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = crate::ctx::read_cookie(&headers, OPERATOR, v.secure).filter(|t| !t.is_empty()) {
        // An already-ended or unknown session needs no ending; the cookie goes either way.
        if let Err(e) = state.app.operators().sign_out(&token).await {
            tracing::info!(error = %e, "console sign-out of a session that was not live");
        }
    }
    let mut out = cookies(&v);
    out.set_in(SCOPE, OPERATOR, "", Some(0), v.secure);
    (out, Redirect::to("/console/sign-in")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct Prefs {
    lang: Option<String>,
    back: Option<String>,
}

const YEAR_SECS: i64 = 365 * 24 * 3600;

/// `POST /console/prefs`: the language switch; back to the page it was on.
pub async fn prefs(v: Visitor, Form(p): Form<Prefs>) -> Response {
    let mut out = SetCookies::default();
    if let Some(locale) = p.lang.as_deref().and_then(Locale::from_tag) {
        out.set_in(SCOPE, LANG, locale.tag(), Some(YEAR_SECS), v.secure);
    }
    let back = p
        .back
        .filter(|b| b.starts_with("/console/") && !b.starts_with("/console//") && !b.contains('\\') && !b.chars().any(char::is_control))
        .unwrap_or_else(|| "/console/cases".to_owned());
    (cookies(&v), out, Redirect::to(&back)).into_response()
}
