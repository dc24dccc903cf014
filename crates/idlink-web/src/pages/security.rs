//! The security pages (SPEC ID6, ID7, ID1's devices): the payment password
//! (status, set, check, reset when forgotten or locked) and my devices (the
//! list, the primary device, logging out everywhere).
//!
//! Every change goes through the use cases the JSON API calls: setting or
//! resetting through `routes::security::change_payment_password`, checking
//! through `Security::step_up_with_password` (the API's
//! `verify_payment_password`), the primary device through
//! `Security::make_primary` with a step-up token minted from the password,
//! and "log out everywhere" through `Auth::revoke_all` (`DELETE
//! /v1/me/sessions`). The password travels only in the posted form: it is
//! never put back into a page, a URL or a log line.
//!
//! [`password_pad.html`](../../templates/password_pad.html) is the 6-digit
//! entry other pages include (with a [`Pad`]); [`step_up_with_password`]
//! turns a posted password into a step-up token for them.

use crate::WebState;
use crate::ctx::{SESSION, SetCookies, Signed, Visitor};
use crate::i18n::Tr;
use crate::pages::render::{Chrome, FormErrors, html, message_page};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_api::middleware::UserSession;
use idlink_api::routes::security::{PaymentPasswordChange, change_payment_password, phone_of};
use idlink_core::security::PasswordStatus;
use idlink_core::security::{Actor, SecurityError};
use idlink_core::steps::codes::Purpose;
use idlink_core::stepup::MAKE_PRIMARY;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::consent::ConsentKind;
use jiff::Timestamp;
use serde::Deserialize;

/// The routes of these pages, merged into the `/h5/` router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/security", get(overview))
        .route("/h5/security/password", get(set_start).post(password_submit))
        .route("/h5/security/reset", get(reset_start))
        .route("/h5/security/password/code", post(password_code))
        .route("/h5/security/verify", get(verify_show).post(verify_submit))
        .route("/h5/devices", get(devices))
        .route("/h5/devices/{id}/primary", get(primary_show).post(primary_submit))
        .route("/h5/devices/logout-all", post(logout_everywhere))
}

// ---------------------------------------------------------------------------
// The password pad, shared with other pages.

/// One 6-digit payment-password entry of `password_pad.html`. The including
/// template must also have `c` (its [`Chrome`]) and `errors` ([`FormErrors`])
/// in scope: an error under `errors.get(id)` is shown on the pad.
#[derive(Debug, Clone)]
pub struct Pad {
    /// The input's id and form name (the handler reads the password from it).
    pub id: &'static str,
    pub label: String,
    pub hint: String,
    /// Whether the pad takes the focus (the first error, or the page's first field).
    pub autofocus: bool,
}

impl Pad {
    /// A pad named `id`; it takes the focus when it is the first field in
    /// error, or when `first` and the form has no error.
    pub fn new(id: &'static str, label: String, hint: String, errors: &FormErrors, first: bool) -> Pad {
        Pad { id, label, hint, autofocus: errors.first_is(id) || (first && errors.is_empty()) }
    }

    /// The usual pad: "Payment password", six digits.
    pub fn payment_password(tr: &Tr, errors: &FormErrors) -> Pad {
        Pad::new("password", tr.t("pad-label"), tr.t("pad-hint"), errors, true)
    }
}

/// Whether a posted pad holds six digits (the only shape a payment password has).
pub fn six_digits(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Turns a posted payment password into a single-use step-up token for
/// `operation` on `resource` (e.g. `balance.query` on a binding id), as the
/// API's `POST /v1/me/payment-password/verify` does. A refusal is the
/// problem `payment_password_refused` (show it with [`refusal_message`]).
pub async fn step_up_with_password(
    state: &WebState,
    s: &Signed,
    operation: &str,
    resource: &str,
    password: &str,
) -> Result<String, Problem> {
    let actor = Actor { session: &s.session, request_id: s.visitor.request_id.as_ref() };
    let step_up = state.app.security().step_up_with_password(&actor, password, operation, resource).await.map_err(Problem::from)?;
    Ok(step_up.token)
}

/// What to tell the user about a problem of these pages: this area's
/// sentence for it when it has one, else the common `problem-<code>` one.
pub fn message(tr: &Tr, p: &Problem) -> String {
    crate::pages::render::problem_message_in(tr, "security", p)
}

/// The sentence for a refused payment password: the refusal, then (the user
/// is signed in and may see their own password's state, as on
/// `GET /v1/me/payment-password`) how many tries are left or since when it
/// is locked and what to do.
pub async fn refusal_message(state: &WebState, s: &Signed, p: &Problem) -> String {
    let tr = &s.visitor.tr;
    let said = message(tr, p);
    if p.code.as_str() != "payment_password_refused" {
        return said;
    }
    match password_state(state, s).await {
        Ok(st) if st.locked => format!("{said} {}", locked_sentence(tr, st.locked_at)),
        Ok(st) if st.set => format!("{said} {}", tr.tn("password-tries-left", "count", i64::from(st.tries_left))),
        Ok(_) => format!("{said} {}", tr.t("password-none-yet")),
        Err(_) => said,
    }
}

fn locked_sentence(tr: &Tr, at: Option<Timestamp>) -> String {
    match at {
        Some(at) => tr.t1("password-locked-since", "time", &tr.datetime(at)),
        None => tr.t("password-locked"),
    }
}

/// The user's payment password as the core reports it to its owner.
async fn password_state(state: &WebState, s: &Signed) -> Result<PasswordStatus, Problem> {
    state.app.security().password_status(&s.session.user_id).await.map_err(Problem::from)
}

/// A problem that ends the page: its sentence, and a way back.
fn dead_end(v: &Visitor, p: &Problem, back: &str) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, message_page(v, &message(&v.tr, p), back)).into_response()
}

fn respond(v: &Visitor, errors: &FormErrors, page: &impl Template) -> Response {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (v.cookies(), html(status, page)).into_response()
}

// ---------------------------------------------------------------------------
// GET /h5/security

#[derive(Template)]
#[template(path = "security.html")]
struct OverviewPage {
    c: Chrome,
    set: bool,
    locked: bool,
    status: String,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /h5/security`: whether a payment password is set or locked, and what I can do.
async fn overview(State(state): State<WebState>, s: Signed, Query(q): Query<Done>) -> Response {
    let v = &s.visitor;
    let st = match password_state(&state, &s).await {
        Ok(st) => st,
        Err(p) => return dead_end(v, &p, "/h5/"),
    };
    let status = if st.locked {
        locked_sentence(&v.tr, st.locked_at)
    } else if st.set {
        v.tr.t("password-status-set")
    } else {
        v.tr.t("password-status-none")
    };
    let done = match q.done.as_str() {
        "set" => Some(v.tr.t("password-done-set")),
        "reset" => Some(v.tr.t("password-done-reset")),
        _ => None,
    };
    let page = OverviewPage { c: Chrome::new(v, "security-title", true), set: st.set, locked: st.locked, status, done };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

// ---------------------------------------------------------------------------
// Set and reset: a code to the account's phone, then the new password twice
// (and, for a reset, a face check or a bank card).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Set,
    Reset,
}

impl Mode {
    fn from_form(s: &str) -> Mode {
        if s == "reset" { Mode::Reset } else { Mode::Set }
    }
}

/// The sandbox's liveness values, offered as the capture stand-in of the face check.
const LIVENESS: [(&str, &str); 4] = [
    ("sandbox:pass", "liveness-pass"),
    ("sandbox:poor_lighting", "liveness-poor-lighting"),
    ("sandbox:spoof", "liveness-spoof"),
    ("sandbox:mismatch", "liveness-mismatch"),
];

/// A choice in a `<select>`.
struct Choice {
    value: &'static str,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "security_password.html")]
struct PasswordPage {
    c: Chrome,
    reset: bool,
    /// The code was sent: the page shows the form (else the intro and "send code").
    sent: bool,
    challenge_id: String,
    code: String,
    /// `face` or `card` (a reset's second check).
    proof: String,
    liveness: Vec<Choice>,
    card_number: String,
    pads: Vec<Pad>,
    errors: FormErrors,
    /// A reset's intro: the consent each way of proving waits for (issue 18),
    /// said before the code is sent so that no code is spent on a refusal.
    face_consent: Option<&'static str>,
    card_consent: Option<&'static str>,
}

impl PasswordPage {
    fn new(v: &Visitor, mode: Mode) -> Self {
        let title = if mode == Mode::Reset { "reset-title" } else { "set-title" };
        PasswordPage {
            c: Chrome::new(v, title, true),
            reset: mode == Mode::Reset,
            sent: false,
            challenge_id: String::new(),
            code: String::new(),
            proof: "face".to_owned(),
            liveness: Vec::new(),
            card_number: String::new(),
            pads: Vec::new(),
            errors: FormErrors::default(),
            face_consent: None,
            card_consent: None,
        }
    }

    /// The form step, after the code was sent.
    /// `sandbox`: the face provider is the sandbox, whose liveness values
    /// stand in for a capture; otherwise the capture comes from the host app.
    fn form(mut self, v: &Visitor, challenge_id: &str, liveness: &str, sandbox: bool) -> Self {
        self.sent = true;
        self.challenge_id = challenge_id.to_owned();
        let tr = &v.tr;
        // The code field comes first, so the pads take the focus only on their errors.
        self.pads = vec![
            Pad::new("password", tr.t("set-new-label"), tr.t("pad-hint-new"), &self.errors, false),
            Pad::new("password2", tr.t("set-again-label"), tr.t("pad-hint-again"), &self.errors, false),
        ];
        if sandbox {
            self.liveness = LIVENESS.iter().map(|(value, key)| Choice { value, label: tr.t(key), selected: *value == liveness }).collect();
        }
        self
    }
}

/// `GET /h5/security/password`: set a first payment password (a reset has its own page).
async fn set_start(State(state): State<WebState>, s: Signed) -> Response {
    start(&state, &s, Mode::Set).await
}

/// `GET /h5/security/reset`: reset a forgotten or locked payment password.
async fn reset_start(State(state): State<WebState>, s: Signed) -> Response {
    start(&state, &s, Mode::Reset).await
}

async fn start(state: &WebState, s: &Signed, mode: Mode) -> Response {
    let v = &s.visitor;
    match password_state(state, s).await {
        Ok(st) if st.set && mode == Mode::Set => Redirect::to("/h5/security/reset").into_response(),
        Ok(st) if !st.set && mode == Mode::Reset => Redirect::to("/h5/security/password").into_response(),
        Ok(_) => {
            let mut page = PasswordPage::new(v, mode);
            if mode == Mode::Reset {
                // A store failure shows no hint: the submit asks again.
                let missing = state.app.consents().missing(&s.session.user_id).await.unwrap_or_default();
                let first = |kinds: &[ConsentKind]| missing.iter().find(|m| kinds.contains(&m.kind)).map(|m| m.kind.as_str());
                page.face_consent = first(&[ConsentKind::Face]);
                page.card_consent = first(&idlink_core::balance::BALANCE_CONSENTS);
            }
            respond(v, &page.errors, &page)
        }
        Err(p) => dead_end(v, &p, "/h5/security"),
    }
}

#[derive(Deserialize)]
pub struct CodeRequest {
    #[serde(default)]
    mode: String,
}

/// `POST /h5/security/password/code`: sends a code to the account's phone
/// (as `POST /v1/me/sms-challenges` with purpose `payment_password`).
async fn password_code(State(state): State<WebState>, s: Signed, Form(f): Form<CodeRequest>) -> Response {
    let v = &s.visitor;
    let mode = Mode::from_form(&f.mode);
    let user = UserSession(s.session.clone());
    let sent = async {
        let phone = phone_of(&state.app, &user, v.request_id.as_ref(), "send verification code").await?;
        let issued = state.app.auth().request_code_for_session(&s.origin(), &s.session, &phone, Purpose::PaymentPassword).await?;
        Ok::<_, Problem>(issued.challenge_id)
    };
    match sent.await {
        Ok(challenge_id) => {
            let page = PasswordPage::new(v, mode).form(v, &challenge_id, "sandbox:pass", state.app.face_sandbox);
            respond(v, &page.errors, &page)
        }
        Err(p) => {
            let mut page = PasswordPage::new(v, mode);
            page.errors.add("send-code", message(&v.tr, &p));
            respond(v, &page.errors, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    proof: String,
    #[serde(default)]
    liveness_video: String,
    #[serde(default)]
    card_number: String,
}

/// The field a problem of a set or reset is about.
fn field_of(code: &str) -> &'static str {
    match code {
        "weak_payment_password" => "password",
        "face_check_failed" | "face_check_required" => "liveness_video",
        "bank_card_check_failed" | "identity_not_verified" => "card_number",
        _ => "code",
    }
}

/// `POST /h5/security/password`: sets (or resets) the payment password.
async fn password_submit(State(state): State<WebState>, s: Signed, Form(f): Form<PasswordForm>) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let mode = Mode::from_form(&f.mode);
    let code = f.code.trim();
    let by_card = mode == Mode::Reset && f.proof == "card";
    let mut errors = FormErrors::default();
    if !six_digits(code) {
        errors.add("code", tr.t("field-invalid_code"));
    }
    // The new password's rules are the domain's; checked here too so a weak
    // or mistyped one does not spend the SMS code's tries.
    if let Err(w) = idlink_domain::payment_password::check_new(&f.password) {
        errors.add("password", message(tr, &Problem::from(SecurityError::Weak(w))));
    } else if f.password != f.password2 {
        errors.add("password", tr.t("field-password-mismatch"));
    }
    let card = if by_card {
        match CardNumber::parse(f.card_number.trim(), BinTable::bundled()) {
            Ok(c) => Some(c),
            Err(_) => {
                errors.add("card_number", tr.t("field-card-number"));
                None
            }
        }
    } else {
        None
    };
    if errors.is_empty() && mode == Mode::Reset {
        // The face, or the card and the ID number, go out only with the user's consents (issue 18);
        // asked before the SMS code is spent.
        let kinds: &[ConsentKind] = if by_card { &idlink_core::balance::BALANCE_CONSENTS } else { &[ConsentKind::Face] };
        if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, kinds, "/h5/security/reset").await {
            return to;
        }
    }
    if errors.is_empty() {
        let change = PaymentPasswordChange {
            password: &f.password,
            challenge_id: &f.challenge_id,
            code,
            // No capture at all (no sandbox stand-in offered) is "a face check is needed",
            // answered before the SMS code is spent.
            liveness_video: (mode == Mode::Reset && !by_card).then_some(f.liveness_video.as_str()).filter(|c| !c.trim().is_empty()),
            card: card.as_ref(),
        };
        let user = UserSession(s.session.clone());
        match change_payment_password(&state.app, &user, v.request_id.as_ref(), &change).await {
            Ok(()) => {
                let done = if mode == Mode::Reset { "/h5/security?done=reset" } else { "/h5/security?done=set" };
                return (v.cookies(), Redirect::to(done)).into_response();
            }
            Err(p) => {
                let code = p.code.as_str();
                let text = match (code, p.errors.first()) {
                    // The face check says why it failed and what to do.
                    ("face_check_failed", Some(e)) => {
                        let key = format!("face-reason-{}", e.code);
                        if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { message(tr, &p) }
                    }
                    ("bank_card_check_failed", Some(e)) => {
                        let key = format!("card-reason-{}", e.code);
                        if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { message(tr, &p) }
                    }
                    _ => message(tr, &p),
                };
                // A set page has no proof fields (a password set meanwhile needs the reset page).
                let field = match field_of(code) {
                    "liveness_video" | "card_number" if mode == Mode::Set => "code",
                    f => f,
                };
                errors.add(field, text);
                // The use case spent the SMS code before the face check: the next try needs a new one.
                if code == "face_check_failed" {
                    errors.add("code", tr.t("set-code-used"));
                }
            }
        }
    }
    let mut page = PasswordPage::new(v, mode);
    if errors.get("code").is_none() {
        page.code = code.to_owned();
    }
    page.errors = errors;
    page.proof = if by_card { "card".to_owned() } else { "face".to_owned() };
    page.card_number = f.card_number.trim().to_owned();
    let page = page.form(v, &f.challenge_id, &f.liveness_video, state.app.face_sandbox);
    respond(v, &page.errors, &page)
}

// ---------------------------------------------------------------------------
// GET/POST /h5/security/verify: "check my password".

#[derive(Template)]
#[template(path = "security_verify.html")]
struct VerifyPage {
    c: Chrome,
    /// Locked: no pad, the lock and the way out.
    locked: Option<String>,
    /// The right password was entered.
    right: bool,
    pads: Vec<Pad>,
    errors: FormErrors,
}

impl VerifyPage {
    fn new(v: &Visitor, errors: FormErrors) -> Self {
        let pads = vec![Pad::payment_password(&v.tr, &errors)];
        VerifyPage { c: Chrome::new(v, "verify-title", true), locked: None, right: false, pads, errors }
    }
}

async fn verify_show(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    match password_state(&state, &s).await {
        Ok(st) if !st.set => Redirect::to("/h5/security/password").into_response(),
        Ok(st) => {
            let mut page = VerifyPage::new(v, FormErrors::default());
            if st.locked {
                page.locked = Some(locked_sentence(&v.tr, st.locked_at));
            }
            respond(v, &page.errors, &page)
        }
        Err(p) => dead_end(v, &p, "/h5/security"),
    }
}

#[derive(Deserialize)]
pub struct PadForm {
    #[serde(default)]
    password: String,
}

/// `POST /h5/security/verify`: checks the password the way every step-up
/// does (a right one clears the failure count, a wrong one counts). The
/// token it mints, for making this very device primary, is not used: it
/// expires within minutes.
async fn verify_submit(State(state): State<WebState>, s: Signed, Form(f): Form<PadForm>) -> Response {
    let v = &s.visitor;
    let mut errors = FormErrors::default();
    if !six_digits(&f.password) {
        errors.add("password", v.tr.t("field-pad-six-digits"));
        return respond(v, &errors, &VerifyPage::new(v, errors.clone()));
    }
    let actor = Actor { session: &s.session, request_id: v.request_id.as_ref() };
    match state.app.security().check_payment_password(&actor, &f.password).await.map_err(Problem::from) {
        Ok(()) => {
            let mut page = VerifyPage::new(v, FormErrors::default());
            page.right = true;
            respond(v, &page.errors, &page)
        }
        Err(p) => {
            let locked = password_state(&state, &s).await.ok().filter(|st| st.locked);
            // Locked now: the pad is gone, so the error points at the lock notice.
            let field = if locked.is_some() { "password-locked" } else { "password" };
            errors.add(field, refusal_message(&state, &s, &p).await);
            let mut page = VerifyPage::new(v, errors);
            page.locked = locked.map(|st| locked_sentence(&v.tr, st.locked_at));
            respond(v, &page.errors, &page)
        }
    }
}

// ---------------------------------------------------------------------------
// Devices.

/// A device as the list shows it.
struct DeviceItem {
    id: String,
    name: String,
    added: String,
    last_used: String,
    primary: bool,
    this_one: bool,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    c: Chrome,
    devices: Vec<DeviceItem>,
    done: Option<String>,
}

/// The name a device was stored with, in the reader's language where it is
/// one the login page wrote ("H5 · Chrome on iPhone"); other names as stored.
pub fn device_label(tr: &Tr, stored: &str) -> String {
    let Some(rest) = stored.strip_prefix("H5 · ") else { return stored.to_owned() };
    let (browser, os) = match rest.split_once(" on ") {
        Some((b, o)) => (b, Some(o)),
        None => (rest, None),
    };
    let browser = if browser == "Browser" { tr.t("device-generic-browser") } else { browser.to_owned() };
    let key = match os {
        None => "device-web",
        Some("iPhone") => "device-web-iphone",
        Some("iPad") => "device-web-ipad",
        Some("Android") => "device-web-android",
        Some("HarmonyOS") => "device-web-harmonyos",
        Some("Windows") => "device-web-windows",
        Some("Mac") => "device-web-mac",
        Some(_) => return stored.to_owned(),
    };
    tr.t1(key, "browser", &browser)
}

async fn device_list(state: &WebState, s: &Signed) -> Result<Vec<DeviceItem>, Problem> {
    let tr = &s.visitor.tr;
    let rows = state.app.store.devices(&s.session.user_id).await.map_err(Problem::from)?;
    Ok(rows
        .into_iter()
        .map(|d| DeviceItem {
            this_one: d.id == s.session.device_id,
            id: d.id.to_string(),
            name: device_label(tr, &d.name),
            added: tr.datetime(d.created_at),
            last_used: tr.datetime(d.last_seen_at),
            primary: d.primary,
        })
        .collect())
}

/// `GET /h5/devices`: my devices, which is primary, which is this one.
async fn devices(State(state): State<WebState>, s: Signed, Query(q): Query<Done>) -> Response {
    let v = &s.visitor;
    let devices = match device_list(&state, &s).await {
        Ok(d) => d,
        Err(p) => return dead_end(v, &p, "/h5/"),
    };
    let done = (q.done == "primary").then(|| {
        let name = devices.iter().find(|d| d.primary).map(|d| d.name.clone()).unwrap_or_default();
        v.tr.t1("primary-done", "device", &name)
    });
    let page = DevicesPage { c: Chrome::new(v, "devices-title", true), devices, done };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[derive(Template)]
#[template(path = "devices_primary.html")]
struct PrimaryPage {
    c: Chrome,
    device_id: String,
    device_name: String,
    /// Why the password cannot be used now (none set, locked), with the way out.
    blocked: Option<(String, &'static str, String)>,
    pads: Vec<Pad>,
    errors: FormErrors,
}

async fn primary_page(state: &WebState, s: &Signed, id: &str, errors: FormErrors) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let (device, st) = match (device_list(state, s).await, password_state(state, s).await) {
        (Ok(list), Ok(st)) => (list.into_iter().find(|d| d.id == id), st),
        (Err(p), _) | (_, Err(p)) => return dead_end(v, &p, "/h5/devices"),
    };
    let Some(device) = device else {
        let p = Problem::from(SecurityError::UnknownDevice);
        return dead_end(v, &p, "/h5/devices");
    };
    if device.primary {
        return Redirect::to("/h5/devices").into_response();
    }
    let blocked = if !st.set {
        Some((tr.t("primary-needs-password"), "/h5/security/password", tr.t("security-set")))
    } else if st.locked {
        Some((locked_sentence(tr, st.locked_at), "/h5/security/reset", tr.t("security-reset")))
    } else {
        None
    };
    // Without a pad (no password, or locked now) an error points at the notice that says why.
    let errors =
        if blocked.is_some() { FormErrors(errors.0.into_iter().map(|(_, m)| ("primary-blocked".to_owned(), m)).collect()) } else { errors };
    let pads = vec![Pad::payment_password(tr, &errors)];
    let page =
        PrimaryPage { c: Chrome::new(v, "primary-title", true), device_id: device.id, device_name: device.name, blocked, pads, errors };
    respond(v, &page.errors, &page)
}

/// `GET /h5/devices/{id}/primary`: confirm with the payment password.
async fn primary_show(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    primary_page(&state, &s, &id, FormErrors::default()).await
}

/// `POST /h5/devices/{id}/primary`: a step-up token from the password, spent at once on the change.
async fn primary_submit(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<PadForm>) -> Response {
    let v = &s.visitor;
    let mut errors = FormErrors::default();
    if !six_digits(&f.password) {
        errors.add("password", v.tr.t("field-pad-six-digits"));
        return primary_page(&state, &s, &id, errors).await;
    }
    let token = match step_up_with_password(&state, &s, MAKE_PRIMARY, &id, &f.password).await {
        Ok(t) => t,
        Err(p) => {
            errors.add("password", refusal_message(&state, &s, &p).await);
            return primary_page(&state, &s, &id, errors).await;
        }
    };
    let actor = Actor { session: &s.session, request_id: v.request_id.as_ref() };
    match state.app.security().make_primary(&actor, &id, Some(&token)).await {
        Ok(()) => (v.cookies(), Redirect::to("/h5/devices?done=primary")).into_response(),
        Err(e) => dead_end(v, &Problem::from(e), "/h5/devices"),
    }
}

/// `POST /h5/devices/logout-all`: ends every session of the account, this
/// one too (as `DELETE /v1/me/sessions`), and returns to the login page.
async fn logout_everywhere(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    if let Err(e) = state.app.auth().revoke_all(&s.origin(), &s.session.user_id).await {
        return dead_end(v, &Problem::from(e), "/h5/devices");
    }
    let mut cookies = SetCookies::default();
    cookies.clear(SESSION, v.secure);
    cookies.clear(crate::pages::identity::LATEST, v.secure);
    (v.cookies(), cookies, Redirect::to("/h5/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    #[test]
    fn device_names_the_login_page_wrote_read_in_each_language() {
        let en = Tr::new(Locale::En);
        assert_eq!(device_label(&en, "H5 · Chrome on iPhone"), "Chrome on iPhone (web)");
        assert_eq!(device_label(&Tr::new(Locale::ZhCn), "H5 · Chrome on iPhone"), "iPhone 上的 Chrome 网页版");
        assert_eq!(device_label(&Tr::new(Locale::ZhHk), "H5 · Browser on Android"), "Android 上的 瀏覽器 網頁版");
        assert_eq!(device_label(&en, "H5 · Safari"), "Safari (web)");
        assert_eq!(device_label(&en, "Xiaomi 14"), "Xiaomi 14", "other names as stored");
        assert_eq!(device_label(&en, "H5 · Chrome on Plan9"), "H5 · Chrome on Plan9");
    }

    #[test]
    fn a_pad_holds_six_digits() {
        assert!(six_digits("135790"));
        assert!(!six_digits("13579") && !six_digits("13579a") && !six_digits("1357900") && !six_digits("１３５７９０"));
    }
}
