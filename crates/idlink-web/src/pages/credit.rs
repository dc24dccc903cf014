//! `/h5/credit`: my credit report (SPEC CR1–CR5, issue 15). The quote (free
//! reports left this year, or the fee), my requests with their state, why
//! and until when in words; a request after the payment password (the
//! step-up `credit_report.request` on my own id, as the API's); then, on the
//! request's page, paying in the host app's cashier when a fee is due,
//! verifying by face or by one of my bound cards and its bank's code, and,
//! once ready, the PDF through a link that works in this session only; and
//! alerts when my record changes (SPEC CR6), on or off.
//! Every rule is the core's (`CreditReports`); these pages only word it.

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::i18n::Tr;
use crate::pages::render::{Chrome, FormErrors, html, message_page, problem_message_in};
use crate::pages::security::{Pad, six_digits, step_up_with_password};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::credit::{Actor, RequestView};
use idlink_core::ports::bindings::BindingStatus;
use idlink_domain::consent::ConsentKind;
use idlink_domain::credit_request::RequestState;
use idlink_domain::{Fen, PhoneNumber};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/credit", get(overview).post(ask))
        .route("/h5/credit/alerts", post(set_alerts).get(|| async { Redirect::to("/h5/credit") }))
        .route("/h5/credit/{id}", get(request_page))
        .route("/h5/credit/{id}/face", post(face).get(to_request))
        .route("/h5/credit/{id}/card", post(card).get(to_request))
        .route("/h5/credit/{id}/card/confirm", post(card_confirm).get(to_request))
        .route("/h5/credit/{id}/link", post(link).get(to_request))
        .route("/h5/credit/{id}/pdf", get(pdf))
}

/// The sandbox face provider's test values, offered as a capture stand-in
/// (the host app's face SDK gives the capture in production).
const SANDBOX_CAPTURES: [&str; 3] = ["sandbox:pass", "sandbox:spoof", "sandbox:mismatch"];

fn actor(s: &Signed) -> Actor<'_> {
    Actor { session: &s.session, request_id: s.visitor.request_id.as_ref() }
}

fn sentence(tr: &Tr, p: &Problem) -> String {
    problem_message_in(tr, "credit", p)
}

fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn problem_page(v: &Visitor, p: &Problem, back: &str) -> Response {
    (status_of(p), message_page(v, &sentence(&v.tr, p), back)).into_response()
}

/// The catalogue's words for a state or a reason code, or the code itself (a value added later).
fn words(tr: &Tr, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}-{}", code.replace('_', "-"));
    if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { code.to_owned() }
}

/// A request as the pages word it.
pub struct Row {
    pub id: String,
    pub state: String,
    /// `ready`, `waiting` or `ended`: how the page marks it.
    pub tone: &'static str,
    pub reason: Option<String>,
    pub expected: Option<String>,
    pub fee: String,
    pub requested_at: String,
}

fn row(tr: &Tr, r: &RequestView) -> Row {
    let tone = match r.state {
        RequestState::Ready => "ready",
        RequestState::Rejected | RequestState::Failed => "ended",
        _ => "waiting",
    };
    let fee = if r.free {
        tr.t("credit-fee-free")
    } else if r.refunded_at.is_some() {
        tr.t1("credit-fee-refunded", "amount", &tr.money(Fen(r.fee_fen)))
    } else if r.paid_at.is_some() {
        tr.t1("credit-fee-paid", "amount", &tr.money(Fen(r.fee_fen)))
    } else {
        tr.t1("credit-fee-due", "amount", &tr.money(Fen(r.fee_fen)))
    };
    Row {
        id: r.id.to_string(),
        state: words(tr, "credit-state", r.state.as_str()),
        tone,
        reason: r.reason.as_deref().map(|c| words(tr, "credit-reason", c)),
        expected: r.expected_at.filter(|_| !r.state.is_final()).map(|t| tr.t1("credit-expected", "time", &tr.datetime(t))),
        fee,
        requested_at: tr.datetime(r.created_at),
    }
}

#[derive(Template)]
#[template(path = "credit.html")]
struct OverviewPage {
    c: Chrome,
    quote: String,
    fee_fen: i64,
    /// The request under way, if any: no new one until it ends.
    open: Option<String>,
    rows: Vec<Row>,
    pads: Vec<Pad>,
    errors: FormErrors,
    refusal: Option<String>,
    /// Alerts on, and the sentence saying so (when last compared, how many announced).
    alerts_on: bool,
    alerts: String,
    notice: Option<String>,
}

async fn overview_page(
    state: &WebState,
    s: &Signed,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let credit = state.app.credit();
    let (quote, list) = match (credit.quote(&s.session.user_id).await, credit.list(&s.session.user_id).await) {
        (Ok(q), Ok(l)) => (q, l),
        (Err(e), _) | (_, Err(e)) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let alerts = match state.app.credit_alerts().view(&s.session.user_id).await {
        Ok(a) => a,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let alerts_text = match (alerts.enabled, alerts.checked_at) {
        (false, _) => tr.t("credit-alerts-off"),
        (true, None) => tr.t("credit-alerts-on-first"),
        (true, Some(at)) => format!(
            "{} {}",
            tr.t1("credit-alerts-on-checked", "time", &tr.datetime(at)),
            tr.tn("credit-alerts-count", "count", i64::from(alerts.alerts))
        ),
    };
    let quote_text = if quote.free_left > 0 {
        tr.tn("credit-quote-free", "count", i64::from(quote.free_left))
    } else {
        tr.t1("credit-quote-fee", "amount", &tr.money(Fen(quote.fee_fen)))
    };
    let page = OverviewPage {
        c: Chrome::new(v, "credit-title", true),
        quote: quote_text,
        fee_fen: quote.fee_fen,
        open: list.iter().find(|r| !r.state.is_final()).map(|r| r.id.to_string()),
        rows: list.iter().map(|r| row(tr, r)).collect(),
        pads: vec![Pad::new("password", tr.t("pad-label"), tr.t("credit-pad-hint"), &errors, false)],
        errors,
        refusal,
        alerts_on: alerts.enabled,
        alerts: alerts_text,
        notice,
    };
    (v.cookies(), html(status, &page)).into_response()
}

/// `GET /h5/credit`.
async fn overview(State(state): State<WebState>, s: Signed, Query(q): Query<Notice>) -> Response {
    let notice = match q.done.as_str() {
        "alerts_on" | "alerts_off" => Some(s.visitor.tr.t(&format!("credit-done-{}", q.done.replace('_', "-")))),
        _ => None,
    };
    overview_page(&state, &s, FormErrors::default(), None, notice, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
pub struct AlertsForm {
    #[serde(default)]
    enabled: String,
}

/// `POST /h5/credit/alerts`: alerts on (`enabled=1`) or off; the apps told too stay as they were.
async fn set_alerts(State(state): State<WebState>, s: Signed, Form(f): Form<AlertsForm>) -> Response {
    let enabled = f.enabled == "1";
    let alerts = state.app.credit_alerts();
    let apps = match alerts.view(&s.session.user_id).await {
        Ok(view) => view.apps,
        Err(e) => return problem_page(&s.visitor, &Problem::from(e), "/h5/credit"),
    };
    // The apps chosen before that the user still authorises (a revoked one drops out).
    let granted = state.app.store.grants_of_user(&s.session.user_id, false).await.unwrap_or_default();
    let apps: Vec<_> = apps.into_iter().filter(|a| granted.iter().any(|g| &g.client_id == a && g.state == "active")).collect();
    match alerts.set(&s.session, s.visitor.request_id.as_ref(), enabled, &apps).await {
        Ok(_) => Redirect::to(if enabled { "/h5/credit?done=alerts_on" } else { "/h5/credit?done=alerts_off" }).into_response(),
        Err(e) => {
            let p = Problem::from(e);
            let said = sentence(&s.visitor.tr, &p);
            overview_page(&state, &s, FormErrors::default(), Some(said), None, status_of(&p)).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    password: String,
    /// The fee shown on the page: the request opens only at that price.
    #[serde(default)]
    accepted_fee_fen: i64,
}

/// `POST /h5/credit`: the payment password mints the step-up for
/// `credit_report.request` on my id, spent at once on the request.
async fn ask(State(state): State<WebState>, s: Signed, Form(f): Form<AskForm>) -> Response {
    let tr = s.visitor.tr;
    // The consent first (issue 18), before the payment password is asked for.
    let consents = &idlink_core::credit::CREDIT_CONSENTS;
    if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, consents, "/h5/credit").await {
        return to;
    }
    let typed = f.password.trim();
    if !six_digits(typed) {
        let mut errors = FormErrors::default();
        errors.add("password", tr.t("credit-field-password"));
        return overview_page(&state, &s, errors, None, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let user = s.session.user_id.to_string();
    let token = match step_up_with_password(&state, &s, idlink_core::stepup::CREDIT_REPORT, &user, typed).await {
        Ok(t) => t,
        Err(p) => {
            let said = crate::pages::security::refusal_message(&state, &s, &p).await;
            let mut errors = FormErrors::default();
            errors.add("password", said);
            return overview_page(&state, &s, errors, None, None, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match state.app.credit().request(&actor(&s), Some(&token), Fen(f.accepted_fee_fen.max(0))).await {
        Ok(view) => Redirect::to(&format!("/h5/credit/{}", view.id)).into_response(),
        Err(e) => {
            let p = Problem::from(e);
            overview_page(&state, &s, FormErrors::default(), Some(sentence(&tr, &p)), None, status_of(&p)).await
        }
    }
}

/// A sandbox capture offered on the face form.
pub struct Capture {
    pub id: String,
    pub value: &'static str,
    pub label: String,
}

/// One of my bound cards, offered on the card form.
pub struct CardChoice {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "credit_request.html")]
struct RequestPage {
    c: Chrome,
    r: Row,
    /// The fee waits for the cashier.
    awaiting_payment: bool,
    /// Verification is open (face, or a bound card).
    verifying: bool,
    /// The bank sent its code: the code form is shown.
    code_sent: bool,
    ready: bool,
    /// "5 pages", "Downloaded 1 time".
    pages: Option<String>,
    downloads: String,
    captures: Vec<Capture>,
    /// Where the face form posts (`face_capture.html`).
    face_action: String,
    cards: Vec<CardChoice>,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

async fn render_request(
    state: &WebState,
    s: &Signed,
    id: &str,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let view = match state.app.credit().view(&s.session.user_id, id).await {
        Ok(view) => view,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/credit"),
    };
    let awaiting_payment = view.fee_fen > 0 && view.paid_at.is_none() && view.state == RequestState::Requested;
    let verifying = matches!(view.state, RequestState::Requested | RequestState::Verifying) && !awaiting_payment;
    let cards = match state.app.bindings().list(&s.session.user_id).await {
        Ok(list) => list
            .into_iter()
            .filter(|b| b.status == BindingStatus::Active)
            .map(|b| CardChoice {
                id: b.id.to_string(),
                label: format!("{} {}", bank_name(state, &b.bank), tr.t1("cards-ending", "last4", &b.last4)),
            })
            .collect(),
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/credit"),
    };
    let page = RequestPage {
        c: Chrome::new(v, "credit-request-title", true),
        awaiting_payment,
        verifying,
        code_sent: verifying && view.method.as_deref() == Some("bank_card") && view.state == RequestState::Verifying,
        ready: view.state == RequestState::Ready,
        pages: view.pages.map(|n| tr.tn("credit-pages", "count", i64::from(n))),
        downloads: tr.tn("credit-downloads", "count", i64::from(view.downloads)),
        r: row(tr, &view),
        captures: captures(state, tr),
        face_action: format!("/h5/credit/{}/face", view.id),
        cards,
        errors,
        refusal,
        notice,
    };
    (v.cookies(), html(status, &page)).into_response()
}

/// The sandbox captures a face form offers (none when a real provider is configured: the host app's SDK captures).
pub fn captures(state: &WebState, tr: &Tr) -> Vec<Capture> {
    if !state.app.face_sandbox {
        return Vec::new();
    }
    SANDBOX_CAPTURES
        .into_iter()
        .enumerate()
        .map(|(i, value)| Capture {
            id: if i == 0 { "liveness".to_owned() } else { format!("liveness-{i}") },
            value,
            label: tr.t(&format!("identity-capture-{}", value.trim_start_matches("sandbox:"))),
        })
        .collect()
}

fn bank_name(state: &WebState, code: &str) -> String {
    state.app.roster.bank(code).map_or_else(|| code.to_owned(), |b| b.name.clone())
}

/// `GET /h5/credit/{id}`.
async fn request_page(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Query(q): Query<Notice>) -> Response {
    let notice = match q.done.as_str() {
        "code_sent" | "verified" | "link" => Some(s.visitor.tr.t(&format!("credit-done-{}", q.done.replace('_', "-")))),
        _ => None,
    };
    render_request(&state, &s, &id, FormErrors::default(), None, notice, StatusCode::OK).await
}

async fn to_request(Path(id): Path<String>) -> Redirect {
    match idlink_domain::CreditRequestId::parse(&id) {
        Ok(id) => Redirect::to(&format!("/h5/credit/{id}")),
        Err(_) => Redirect::to("/h5/credit"),
    }
}

/// After a form: back to the request's page with what happened, or the page again with the refusal.
async fn after(state: &WebState, s: &Signed, id: &str, outcome: Result<&'static str, Problem>, field: Option<&str>) -> Response {
    match outcome {
        Ok(done) => Redirect::to(&format!("/h5/credit/{id}?done={done}")).into_response(),
        Err(p) => {
            let said = sentence(&s.visitor.tr, &p);
            let status = status_of(&p);
            match field {
                Some(f) if status.is_client_error() && p.status != 409 => {
                    let mut errors = FormErrors::default();
                    errors.add(f, said);
                    render_request(state, s, id, errors, None, None, status).await
                }
                _ => render_request(state, s, id, FormErrors::default(), Some(said), None, status).await,
            }
        }
    }
}

/// The request's page again, with one field refused (the catalogue's sentence `key`).
async fn refuse_field(state: &WebState, s: &Signed, id: &str, field: &str, key: &str) -> Response {
    let mut errors = FormErrors::default();
    errors.add(field, s.visitor.tr.t(key));
    render_request(state, s, id, errors, None, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Debug, Default, Deserialize)]
pub struct FaceForm {
    #[serde(default)]
    liveness: String,
}

/// `POST /h5/credit/{id}/face`.
async fn face(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<FaceForm>) -> Response {
    if f.liveness.trim().is_empty() {
        return refuse_field(&state, &s, &id, "liveness", "identity-field-choose-capture").await;
    }
    // The face consent first (issue 18); the capture is taken again on the way back.
    let back = format!("/h5/credit/{}", id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>());
    if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, &[ConsentKind::Face], &back).await {
        return to;
    }
    let outcome = state.app.credit().verify_face(&actor(&s), &id, f.liveness.trim()).await.map(|_| "verified");
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("liveness")).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CardForm {
    #[serde(default)]
    binding_id: String,
    #[serde(default)]
    reserved_phone: String,
}

/// `POST /h5/credit/{id}/card`: the bank sends its code to the reserved phone.
async fn card(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CardForm>) -> Response {
    let Ok(phone) = PhoneNumber::parse(f.reserved_phone.trim()) else {
        return refuse_field(&state, &s, &id, "reserved_phone", "credit-field-phone").await;
    };
    let outcome = state.app.credit().start_card(&actor(&s), &id, f.binding_id.trim(), &phone).await.map(|_| "code_sent");
    let field = if matches!(&outcome, Err(idlink_core::credit::CreditError::CardNotBound)) { "binding_id" } else { "reserved_phone" };
    after(&state, &s, &id, outcome.map_err(Problem::from), Some(field)).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /h5/credit/{id}/card/confirm`: the bank's code.
async fn card_confirm(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CodeForm>) -> Response {
    if f.code.trim().is_empty() {
        return refuse_field(&state, &s, &id, "code", "credit-field-code").await;
    }
    let outcome = state.app.credit().confirm_card(&actor(&s), &id, f.code.trim()).await.map(|_| "verified");
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("code")).await
}

/// `POST /h5/credit/{id}/link`: a link for this session, then straight to the PDF.
async fn link(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    match state.app.credit().link(&actor(&s), &id).await {
        // The API's link, under the pages' path: the same signature, bound to this session.
        Ok(l) => Redirect::to(&l.path.replacen("/v1/credit-reports/", "/h5/credit/", 1)).into_response(),
        Err(e) => after(&state, &s, &id, Err(Problem::from(e)), None).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    expires: i64,
    #[serde(default)]
    sig: String,
}

/// `GET /h5/credit/{id}/pdf?expires&sig`: the PDF, in the session the link was made for; counted and audited.
async fn pdf(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Query(q): Query<LinkQuery>) -> Response {
    match state.app.credit().download(&actor(&s), &id, q.expires, &q.sig).await {
        Ok(bytes) => {
            let disposition = format!("attachment; filename=\"credit-report-{id}.pdf\"");
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(d) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, d);
            }
            res
        }
        Err(e) => problem_page(&s.visitor, &Problem::from(e), &format!("/h5/credit/{id}")),
    }
}
