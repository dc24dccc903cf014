//! Login by phone and SMS code, with the new-device check (SPEC ID1), as
//! three steps of one page: the number, the code, and (from a browser the
//! account never used) a second code that confirms the device.
//!
//! The code steps answer the posted form directly (the phone and challenge
//! travel in hidden fields, never in a URL); a completed login sets the
//! session cookie and redirects home.

use crate::WebState;
use crate::ctx::{SESSION, SetCookies, Signed, Visitor};
use crate::pages::render::{Chrome, FormErrors, html, problem_message};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use idlink_api::Problem;
use idlink_core::auth::LoginRequest;
use idlink_core::ports::auth::SessionStatus;
use idlink_core::steps::codes::{Origin, Purpose};
use idlink_domain::PhoneNumber;
use serde::Deserialize;

/// Which step of the login the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Phone,
    Code,
    Device,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    step: Step,
    /// The number as typed (re-shown after an error).
    phone: String,
    phone_masked: String,
    challenge_id: String,
    errors: FormErrors,
}

impl LoginPage {
    fn new(v: &Visitor, step: Step) -> Self {
        let title = match step {
            Step::Phone => "login-title",
            Step::Code => "login-code-title",
            Step::Device => "device-check-title",
        };
        LoginPage {
            c: Chrome::new(v, title, step == Step::Device),
            step,
            phone: String::new(),
            phone_masked: String::new(),
            challenge_id: String::new(),
            errors: FormErrors::default(),
        }
    }

    fn with_phone(mut self, typed: &str, phone: Option<&PhoneNumber>) -> Self {
        self.phone = typed.to_owned();
        self.phone_masked = phone.map(PhoneNumber::masked).unwrap_or_default();
        self
    }

    fn respond(self, v: &Visitor, cookies: SetCookies) -> Response {
        let status = if self.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
        (v.cookies(), cookies, html(status, &self)).into_response()
    }
}

fn origin(v: &Visitor) -> Origin {
    Origin { actor: "h5".to_owned(), client_ip: v.client_ip.clone(), request_id: v.request_id.clone() }
}

/// The device's name in the user's device list, from the browser's own description.
fn device_name(headers: &HeaderMap) -> String {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("HarmonyOS", "HarmonyOS"),
        ("Windows", "Windows"),
        ("Mac OS", "Mac"),
    ]
    .into_iter()
    .find(|(k, _)| ua.contains(k))
    .map_or("", |(_, name)| name);
    let browser = if ua.contains("MicroMessenger") {
        "WeChat"
    } else if ua.contains("Chrome") {
        "Chrome"
    } else if ua.contains("Safari") {
        "Safari"
    } else if ua.contains("Firefox") {
        "Firefox"
    } else {
        "Browser"
    };
    if os.is_empty() { format!("H5 · {browser}") } else { format!("H5 · {browser} on {os}") }
}

/// `GET /h5/login`. A login left waiting for its device check (the person
/// went back to start again) is ended here, not left to expire.
pub async fn show(State(state): State<WebState>, v: Visitor, signed: Option<Signed>) -> Response {
    if signed.is_some() {
        return Redirect::to("/h5/").into_response();
    }
    let mut cookies = SetCookies::default();
    if let Some(token) = &v.session_token {
        match state.app.auth().log_out(&origin(&v), token).await {
            Ok(_) | Err(idlink_core::auth::AuthError::SessionInvalid) => {}
            Err(e) => tracing::warn!(error = %e, "a login waiting for its device check was not ended"),
        }
        cookies.clear(SESSION, v.secure);
    }
    LoginPage::new(&v, Step::Phone).respond(&v, cookies)
}

/// The session cookie for `session`, living as long as the session does.
fn session_cookie(state: &WebState, v: &Visitor, token: &str, session: &idlink_core::ports::auth::SessionRow) -> SetCookies {
    let mut cookies = SetCookies::default();
    let ttl = session.expires_at.duration_since(state.app.clock.now()).as_secs().max(0);
    cookies.set(SESSION, token, Some(ttl), v.secure);
    cookies
}

#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    phone: String,
}

/// `POST /h5/login`: sends the login code.
pub async fn send_code(State(state): State<WebState>, v: Visitor, Form(f): Form<PhoneForm>) -> Response {
    let typed = f.phone.trim();
    let Ok(phone) = PhoneNumber::parse(typed) else {
        let mut page = LoginPage::new(&v, Step::Phone).with_phone(typed, None);
        page.errors.add("phone", v.tr.t("field-invalid_phone"));
        return page.respond(&v, SetCookies::default());
    };
    match state.app.auth().request_code(&origin(&v), &phone, &v.device, Purpose::Login).await {
        Ok(issued) => {
            let mut page = LoginPage::new(&v, Step::Code).with_phone(typed, Some(&phone));
            page.challenge_id = issued.challenge_id;
            page.respond(&v, SetCookies::default())
        }
        Err(e) => {
            let mut page = LoginPage::new(&v, Step::Phone).with_phone(typed, Some(&phone));
            page.errors.add("phone", problem_message(&v.tr, &Problem::from(e)));
            page.respond(&v, SetCookies::default())
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
}

impl CodeForm {
    fn request<'a>(&'a self, phone: &'a PhoneNumber, device: &'a str, device_name: &'a str) -> LoginRequest<'a> {
        LoginRequest {
            phone,
            client_device_id: device,
            device_name,
            public_key: None,
            challenge_id: &self.challenge_id,
            code: self.code.trim(),
        }
    }

    /// The page again with `problem` on the code field.
    fn refused(&self, v: &Visitor, step: Step, phone: &PhoneNumber, problem: &Problem) -> Response {
        let mut page = LoginPage::new(v, step).with_phone(&self.phone, Some(phone));
        page.challenge_id.clone_from(&self.challenge_id);
        page.errors.add("code", problem_message(&v.tr, problem));
        page.respond(v, SetCookies::default())
    }
}

/// `POST /h5/login/code`: redeems the login code; a new device gets the second step.
pub async fn redeem(State(state): State<WebState>, v: Visitor, headers: HeaderMap, Form(f): Form<CodeForm>) -> Response {
    let Ok(phone) = PhoneNumber::parse(f.phone.trim()) else { return Redirect::to("/h5/login").into_response() };
    let code = f.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        let mut page = LoginPage::new(&v, Step::Code).with_phone(&f.phone, Some(&phone));
        page.challenge_id.clone_from(&f.challenge_id);
        page.errors.add("code", v.tr.t("field-invalid_code"));
        return page.respond(&v, SetCookies::default());
    }
    let origin = origin(&v);
    let name = device_name(&headers);
    let auth = state.app.auth();
    let out = match auth.login(&origin, &f.request(&phone, &v.device, &name)).await {
        Ok(out) => out,
        Err(e) => return f.refused(&v, Step::Code, &phone, &Problem::from(e)),
    };
    // As the API does: a login whose risk could not be assessed does not
    // go through (a freeze the rules decide is enforced by the use cases).
    if let Err(p) = idlink_api::routes::auth::assess_login(&state.app, &out.session, v.request_id.as_ref()).await {
        if let Err(e) = auth.log_out(&origin, &out.token).await {
            tracing::warn!(error = %e, "the session of a login that could not be assessed was not revoked");
        }
        return f.refused(&v, Step::Code, &phone, &p);
    }
    // A login waiting for its device check gets a cookie as short-lived as its session.
    let cookies = session_cookie(&state, &v, &out.token, &out.session);
    if out.session.status == SessionStatus::DeviceCheckRequired {
        return match auth.request_device_check(&origin, &out.session, &phone, &v.device).await {
            Ok(issued) => {
                let mut page = LoginPage::new(&v, Step::Device).with_phone(&f.phone, Some(&phone));
                page.challenge_id = issued.challenge_id;
                page.respond(&v, cookies)
            }
            Err(e) => f.refused(&v, Step::Code, &phone, &Problem::from(e)),
        };
    }
    let mut cookies = cookies;
    cookies.clear(crate::pages::authorize::RETURN, v.secure);
    (v.cookies(), cookies, Redirect::to(&crate::pages::authorize::after_login(&headers, v.secure))).into_response()
}

/// `POST /h5/login/device`: the new device's second code activates the session.
pub async fn confirm_device(State(state): State<WebState>, v: Visitor, headers: HeaderMap, Form(f): Form<CodeForm>) -> Response {
    let (Ok(phone), Some(token)) = (PhoneNumber::parse(f.phone.trim()), v.session_token.clone()) else {
        return Redirect::to("/h5/login").into_response();
    };
    let name = device_name(&headers);
    match state.app.auth().confirm_device(&origin(&v), &token, &f.request(&phone, &v.device, &name)).await {
        // The confirmed session lives its full lifetime from now: so does its cookie.
        Ok(session) => {
            let mut cookies = session_cookie(&state, &v, &token, &session);
            cookies.clear(crate::pages::authorize::RETURN, v.secure);
            (v.cookies(), cookies, Redirect::to(&crate::pages::authorize::after_login(&headers, v.secure))).into_response()
        }
        Err(e) => f.refused(&v, Step::Device, &phone, &Problem::from(e)),
    }
}

/// `POST /h5/logout`: ends the session (on the server too) and forgets it here.
pub async fn logout(State(state): State<WebState>, v: Visitor) -> Response {
    if let Some(token) = &v.session_token {
        // An already dead session needs no revoking; a store failure must not keep the user in.
        match state.app.auth().log_out(&origin(&v), token).await {
            Ok(_) | Err(idlink_core::auth::AuthError::SessionInvalid) => {}
            Err(e) => tracing::warn!(error = %e, "logout: the session was not revoked on the server"),
        }
    }
    let mut cookies = SetCookies::default();
    cookies.clear(SESSION, v.secure);
    cookies.clear(crate::pages::identity::LATEST, v.secure);
    (v.cookies(), cookies, Redirect::to("/h5/login")).into_response()
}
