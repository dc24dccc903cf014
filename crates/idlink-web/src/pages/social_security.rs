//! `/h5/social-security`: my social-security card (SPEC SS1–SS5, issue 16).
//! The overview lists my bindings (and those I take for a relative) and
//! starts one, for my card or a relative's; a binding's page shows the six
//! steps with the current one's form — the face check or the SMS code, the
//! card by its number or its QR code and the bureau's code, the bank's code
//! (and where to reset a forgotten payment password), the agreement, the
//! features — or why it is frozen; once bound, the medical-payment code
//! page shows the QR code and fetches the next one before it expires,
//! saying so politely to screen readers. Every rule is the core's
//! (`SocialSecurity`, `MedicalPayments`); these pages only word it.

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::i18n::Tr;
use crate::pages::credit::{Capture, captures};
use crate::pages::render::{Chrome, FormErrors, html, message_page, problem_message_in};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::ports::social_security::CardNamed;
use idlink_core::social_security::{Actor, BindingView, FEATURES, agreement};
use idlink_domain::PhoneNumber;
use idlink_domain::ss_binding::{Status, Step};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/social-security", get(overview).post(start))
        .route("/h5/social-security/{id}", get(binding_page))
        .route("/h5/social-security/{id}/face", post(face).get(to_binding))
        .route("/h5/social-security/{id}/sms", post(sms).get(to_binding))
        .route("/h5/social-security/{id}/sms/confirm", post(sms_confirm).get(to_binding))
        .route("/h5/social-security/{id}/card", post(card).get(to_binding))
        .route("/h5/social-security/{id}/card/confirm", post(card_confirm).get(to_binding))
        .route("/h5/social-security/{id}/bank", post(bank).get(to_binding))
        .route("/h5/social-security/{id}/bank/confirm", post(bank_confirm).get(to_binding))
        .route("/h5/social-security/{id}/agreement", post(sign).get(to_binding))
        .route("/h5/social-security/{id}/features", post(features).get(to_binding))
        .route("/h5/social-security/{id}/cancel", post(cancel).get(to_binding))
        .route("/h5/social-security/{id}/agent/end", post(end_agent).get(to_binding))
        .route("/h5/social-security/{id}/unbind", get(unbind_page))
        .route("/h5/social-security/{id}/code", get(code_page))
        .route("/h5/social-security/{id}/code/panel", get(code_panel))
}

pub(crate) fn actor(s: &Signed) -> Actor<'_> {
    Actor { session: &s.session, request_id: s.visitor.request_id.as_ref() }
}

fn sentence(tr: &Tr, p: &Problem) -> String {
    problem_message_in(tr, "ss", p)
}

fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(crate) fn problem_page(v: &Visitor, p: &Problem, back: &str) -> Response {
    (status_of(p), message_page(v, &sentence(&v.tr, p), back)).into_response()
}

/// The catalogue's words for a code, or the code itself (a value added later).
pub(crate) fn words(tr: &Tr, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}-{}", code.replace(['_', ':'], "-"));
    if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { code.to_owned() }
}

/// A binding as the overview lists it.
pub struct Row {
    pub id: String,
    pub region: String,
    pub status: String,
    pub step: String,
    pub bound: bool,
    /// "For a relative" when I act for the holder.
    pub for_relative: bool,
}

/// A province by its code (two digits, or a six-digit area) in the page's language.
pub(crate) fn region_name(state: &WebState, tr: &Tr, region: &str) -> String {
    let p = region.get(..2).unwrap_or_default();
    match state.app.ss_coverage.province(p) {
        Some(r) if tr.locale == crate::i18n::Locale::En => r.name_en.clone(),
        Some(r) => r.name.clone(),
        None => region.to_owned(),
    }
}

fn row(state: &WebState, tr: &Tr, b: &BindingView) -> Row {
    Row {
        id: b.id.clone(),
        region: region_name(state, tr, &b.region),
        status: words(tr, "ss-status", b.status.as_str()),
        step: tr.ta("ss-step-of", &[("number", &b.step_number.to_string()), ("name", &tr.t(&format!("ss-step-{}", b.step.as_str())))]),
        bound: b.status == Status::Bound,
        for_relative: b.acting_as != "holder",
    }
}

#[derive(Template)]
#[template(path = "ss.html")]
struct OverviewPage {
    c: Chrome,
    rows: Vec<Row>,
    /// A binding of mine under way or bound: no new one.
    mine: Option<String>,
    errors: FormErrors,
    refusal: Option<String>,
}

async fn overview_page(state: &WebState, s: &Signed, errors: FormErrors, refusal: Option<String>, status: StatusCode) -> Response {
    let v = &s.visitor;
    let list = match state.app.social_security().list(&actor(s)).await {
        Ok(l) => l,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let mine = list
        .iter()
        .find(|b| b.acting_as == "holder" && matches!(b.status, Status::Open | Status::Frozen | Status::Bound))
        .map(|b| b.id.clone());
    let page = OverviewPage {
        c: Chrome::new(v, "ss-title", true),
        rows: list.iter().map(|b| row(state, &v.tr, b)).collect(),
        mine,
        errors,
        refusal,
    };
    (v.cookies(), html(status, &page)).into_response()
}

/// `GET /h5/social-security`.
async fn overview(State(state): State<WebState>, s: Signed) -> Response {
    overview_page(&state, &s, FormErrors::default(), None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    area_code: String,
    /// A relative's phone, to bind their card.
    #[serde(default)]
    relative_phone: String,
}

/// `POST /h5/social-security`: entry (the region check), for my card or a relative's.
async fn start(State(state): State<WebState>, s: Signed, Form(f): Form<StartForm>) -> Response {
    let tr = s.visitor.tr;
    let area = f.area_code.trim();
    let mut errors = FormErrors::default();
    if area.len() != 6 || !area.bytes().all(|b| b.is_ascii_digit()) {
        errors.add("area_code", tr.t("ss-field-area"));
    }
    let relative = f.relative_phone.trim();
    let holder = match (relative.is_empty(), PhoneNumber::parse(relative)) {
        (true, _) => None,
        (false, Ok(p)) => Some(p),
        (false, Err(_)) => {
            errors.add("relative_phone", tr.t("ss-field-phone"));
            None
        }
    };
    if !errors.is_empty() {
        return overview_page(&state, &s, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // One's own card needs one's own consent first (issue 18); the holder's is asked at their identity step.
    if holder.is_none() {
        let consents = &idlink_core::social_security::OWN_BINDING_CONSENTS;
        if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, consents, "/h5/social-security").await {
            return to;
        }
    }
    let ss = state.app.social_security();
    let started = match &holder {
        Some(phone) => ss.start_on_behalf(&actor(&s), area, phone).await,
        None => ss.start(&actor(&s), area).await,
    };
    match started {
        Ok(b) => Redirect::to(&format!("/h5/social-security/{}", b.id)).into_response(),
        Err(e) => {
            let p = Problem::from(e);
            let field = if p.code.as_str() == "social_security_holder_unknown" { "relative_phone" } else { "area_code" };
            let mut errors = FormErrors::default();
            errors.add(field, sentence(&tr, &p));
            overview_page(&state, &s, errors, None, status_of(&p)).await
        }
    }
}

/// One of the six steps in the progress list.
pub struct StepItem {
    pub name: String,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
}

/// A feature offered at the last step.
pub struct FeatureChoice {
    pub value: &'static str,
    pub label: String,
    /// Offered ticked: the payment code only (every other feature reads accounts: the user ticks it).
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "ss_binding.html")]
struct BindingPage {
    c: Chrome,
    id: String,
    region: String,
    status: String,
    /// `open`, `frozen`, `bound`, `expired`, `cancelled` or `unbound`: how the page marks it.
    tone: &'static str,
    steps: Vec<StepItem>,
    /// The step to do now, when the binding is open.
    current: Option<&'static str>,
    deadline: String,
    risk: Option<String>,
    for_relative: bool,
    /// The relative's part, on the holder's page: "A relative binds this card for you" and whether it ended.
    agent: Option<String>,
    agent_active: bool,
    sms_fallback: bool,
    /// The SMS code's challenge, once sent.
    challenge: Option<String>,
    card_code_sent: bool,
    bank_code_sent: bool,
    card: Option<String>,
    /// Where to reset a forgotten payment password, and the bank's name.
    reset: Option<(String, String)>,
    agreement_version: &'static str,
    agreement_sha256: String,
    agreement_text: &'static str,
    features: Vec<FeatureChoice>,
    /// "Features: …" in the page's language, once chosen.
    chosen: Option<String>,
    captures: Vec<Capture>,
    /// Where the face form posts (`face_capture.html`).
    face_action: String,
    can_pay: bool,
    /// Bound, and I am its holder: my accounts and service requests.
    holder_bound: bool,
    /// A pension or medical-account feature was chosen.
    has_accounts: bool,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    challenge: String,
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &WebState,
    s: &Signed,
    id: &str,
    q: &PageQuery,
    errors: FormErrors,
    refusal: Option<String>,
    status: StatusCode,
) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let ss = state.app.social_security();
    let b = match ss.view(&actor(s), id).await {
        Ok(b) => b,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/social-security"),
    };
    let current = (b.status == Status::Open).then(|| b.step.as_str());
    let steps = Step::ALL
        .iter()
        .map(|st| StepItem {
            name: tr.t(&format!("ss-step-{}", st.as_str())),
            state: if b.status == Status::Bound || *st < b.step {
                "done"
            } else if *st == b.step && b.status == Status::Open {
                "current"
            } else {
                "todo"
            },
        })
        .collect();
    let reset = if current == Some("bank") {
        match ss.bank_password_reset(&actor(s), id, &state.app.bank_password_reset).await {
            Ok(h) => h.url.map(|u| (u, state.app.roster.bank(&h.bank_code).map_or(h.bank_code.clone(), |bank| bank.name.clone()))),
            Err(_) => None,
        }
    } else {
        None
    };
    let a = agreement();
    // Only the catalogue's sentences: a made-up `done` shows nothing.
    let notice = Some(format!("ss-done-{}", q.done.replace('_', "-")))
        .filter(|key| !q.done.is_empty() && crate::i18n::has_key(tr.locale, key))
        .map(|key| tr.t(&key));
    let page = BindingPage {
        c: Chrome::new(v, "ss-binding-title", true),
        id: b.id.clone(),
        region: region_name(state, tr, &b.region),
        status: words(tr, "ss-status", b.status.as_str()),
        tone: b.status.as_str(),
        steps,
        current,
        deadline: tr.t1("ss-deadline", "time", &tr.datetime(b.step_deadline)),
        risk: b
            .risk_reason
            .as_deref()
            .filter(|_| b.status == Status::Frozen)
            .map(|r| words(tr, "ss-risk", r.split(':').next().unwrap_or(r))),
        for_relative: b.acting_as != "holder",
        agent: b.agent.as_ref().filter(|_| b.acting_as == "holder").map(|a| {
            let phone = a.phone.clone().unwrap_or_default();
            match a.ended_at {
                Some(t) => tr.ta("ss-agent-ended", &[("phone", &phone), ("time", &tr.datetime(t))]),
                None => tr.t1("ss-agent-active", "phone", &phone),
            }
        }),
        agent_active: b.agent.as_ref().is_some_and(|a| a.ended_at.is_none()),
        sms_fallback: b.sms_fallback || (b.acting_as != "holder" && b.step == Step::Identity),
        challenge: Some(q.challenge.clone()).filter(|c| c.starts_with("chl_")),
        card_code_sent: b.card_code_sent,
        bank_code_sent: b.bank_code_sent,
        card: b.card.as_ref().map(|c| tr.ta("ss-card-shown", &[("number", &c.card_number), ("account", &c.account)])),
        reset,
        agreement_version: a.version,
        agreement_sha256: a.sha256,
        agreement_text: a.text,
        features: FEATURES
            .iter()
            .map(|f| FeatureChoice {
                value: f,
                label: tr.t(&format!("ss-feature-{}", f.replace('_', "-"))),
                checked: *f == "medical_payment",
            })
            .collect(),
        chosen: Some(b.features.iter().map(|f| tr.t(&format!("ss-feature-{}", f.replace('_', "-")))).collect::<Vec<_>>())
            .filter(|names| !names.is_empty())
            .map(|names| tr.t1("ss-features-chosen", "list", &names.join(if tr.locale == crate::i18n::Locale::En { ", " } else { "、" }))),
        captures: captures(state, tr),
        face_action: format!("/h5/social-security/{}/face", b.id),
        can_pay: b.status == Status::Bound && b.acting_as == "holder" && b.features.iter().any(|f| f == "medical_payment"),
        holder_bound: b.status == Status::Bound && b.acting_as == "holder",
        has_accounts: b.features.iter().any(|f| f == "pension_query" || f == "medical_account"),
        errors,
        refusal,
        notice,
    };
    (v.cookies(), html(status, &page)).into_response()
}

/// `GET /h5/social-security/{id}`.
async fn binding_page(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Query(q): Query<PageQuery>) -> Response {
    render(&state, &s, &id, &q, FormErrors::default(), None, StatusCode::OK).await
}

async fn to_binding(Path(id): Path<String>) -> Redirect {
    Redirect::to(&binding_path(&id, ""))
}

/// The page `suffix` of binding `id`, when `id` could be one (else the overview): where a GET of a form's address goes.
pub(crate) fn binding_path(id: &str, suffix: &str) -> String {
    if id.starts_with("ssb_") && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        format!("/h5/social-security/{id}{suffix}")
    } else {
        "/h5/social-security".to_owned()
    }
}

/// After a step: the binding's page with what happened, or again with the refusal (on `field`, or at the top).
async fn after(state: &WebState, s: &Signed, id: &str, outcome: Result<String, Problem>, field: Option<&str>) -> Response {
    match outcome {
        Ok(query) => Redirect::to(&format!("/h5/social-security/{id}?{query}")).into_response(),
        Err(p) => {
            let said = sentence(&s.visitor.tr, &p);
            let status = status_of(&p);
            let q = PageQuery::default();
            match field {
                Some(f) if status.is_client_error() && p.status != 409 => {
                    let mut errors = FormErrors::default();
                    errors.add(f, said);
                    render(state, s, id, &q, errors, None, status).await
                }
                _ => render(state, s, id, &q, FormErrors::default(), Some(said), status).await,
            }
        }
    }
}

async fn refuse_field(state: &WebState, s: &Signed, id: &str, field: &str, key: &str) -> Response {
    let mut errors = FormErrors::default();
    errors.add(field, s.visitor.tr.t(key));
    render(state, s, id, &PageQuery::default(), errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
}

fn done(step: &str) -> String {
    format!("done={step}")
}

#[derive(Debug, Default, Deserialize)]
pub struct FaceForm {
    #[serde(default)]
    liveness: String,
}

async fn face(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<FaceForm>) -> Response {
    if f.liveness.trim().is_empty() {
        return refuse_field(&state, &s, &id, "liveness", "identity-field-choose-capture").await;
    }
    let outcome = state.app.social_security().identity_face(&actor(&s), &id, f.liveness.trim()).await.map(|_| done("identity"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("liveness")).await
}

async fn sms(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let origin = idlink_core::steps::codes::Origin {
        actor: format!("user:{}", s.session.user_id),
        client_ip: s.visitor.client_ip.clone(),
        request_id: s.visitor.request_id.clone(),
    };
    let outcome = state
        .app
        .social_security()
        .identity_sms(&actor(&s), &origin, &id)
        .await
        .map(|c| format!("done=sms_sent&challenge={}", c.challenge_id));
    after(&state, &s, &id, outcome.map_err(Problem::from), None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    challenge_id: String,
}

async fn sms_confirm(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CodeForm>) -> Response {
    if f.code.trim().len() != 6 {
        return refuse_field(&state, &s, &id, "code", "ss-field-code").await;
    }
    let ss = state.app.social_security();
    let outcome = ss.identity_sms_confirm(&actor(&s), &id, f.challenge_id.trim(), f.code.trim()).await.map(|_| done("identity"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("code")).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CardForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    qr_payload: String,
}

/// The card by its number, or by its QR code (the app's scanner fills `qr_payload`).
async fn card(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CardForm>) -> Response {
    let (number, qr) = (f.card_number.trim().to_ascii_uppercase(), f.qr_payload.trim().to_owned());
    let named = match (number.is_empty(), qr.is_empty()) {
        (false, true) if number.len() == 9 && number.bytes().all(|b| b.is_ascii_alphanumeric()) => CardNamed::Number(&number),
        (true, false) => CardNamed::Qr(&qr),
        _ => return refuse_field(&state, &s, &id, "card_number", "ss-field-card").await,
    };
    let outcome = state.app.social_security().card(&actor(&s), &id, named).await.map(|_| done("card_code_sent"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("card_number")).await
}

async fn card_confirm(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CodeForm>) -> Response {
    if f.code.trim().is_empty() {
        return refuse_field(&state, &s, &id, "code", "ss-field-code").await;
    }
    let outcome = state.app.social_security().card_confirm(&actor(&s), &id, f.code.trim()).await.map(|_| done("card"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("code")).await
}

#[derive(Debug, Default, Deserialize)]
pub struct BankForm {
    #[serde(default)]
    reserved_phone: String,
}

async fn bank(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<BankForm>) -> Response {
    let Ok(phone) = PhoneNumber::parse(f.reserved_phone.trim()) else {
        return refuse_field(&state, &s, &id, "reserved_phone", "ss-field-phone").await;
    };
    let outcome = state.app.social_security().bank(&actor(&s), &id, &phone).await.map(|_| done("bank_code_sent"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("reserved_phone")).await
}

async fn bank_confirm(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<CodeForm>) -> Response {
    if f.code.trim().is_empty() {
        return refuse_field(&state, &s, &id, "code", "ss-field-code").await;
    }
    let outcome = state.app.social_security().bank_confirm(&actor(&s), &id, f.code.trim()).await.map(|_| done("bank"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("code")).await
}

#[derive(Debug, Default, Deserialize)]
pub struct SignForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    sha256: String,
}

async fn sign(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<SignForm>) -> Response {
    let outcome = state.app.social_security().sign(&actor(&s), &id, f.version.trim(), f.sha256.trim()).await.map(|_| done("agreement"));
    after(&state, &s, &id, outcome.map_err(Problem::from), None).await
}

/// `POST …/features`: the checked features (`feature=…` repeated).
async fn features(State(state): State<WebState>, s: Signed, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    let chosen: Vec<String> = form_urlencoded_pairs(&body)
        .into_iter()
        .filter(|(k, _)| k == "feature")
        .map(|(_, v)| v)
        .filter(|v| FEATURES.contains(&v.as_str()))
        .collect();
    if chosen.is_empty() {
        return refuse_field(&state, &s, &id, "feature", "ss-field-features").await;
    }
    let outcome = state.app.social_security().features(&actor(&s), &id, &chosen).await.map(|_| done("bound"));
    after(&state, &s, &id, outcome.map_err(Problem::from), Some("feature")).await
}

/// The pairs of a form body (a repeated name stays repeated).
fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

async fn cancel(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let outcome = state.app.social_security().cancel(&actor(&s), &id).await.map(|b| done(b.status.as_str()));
    after(&state, &s, &id, outcome.map_err(Problem::from), None).await
}

async fn end_agent(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let outcome = state.app.social_security().end_agent(&actor(&s), &id).await.map(|_| done("agent_ended"));
    after(&state, &s, &id, outcome.map_err(Problem::from), None).await
}

#[derive(Template)]
#[template(path = "ss_unbind.html")]
struct UnbindPage {
    c: Chrome,
    id: String,
    region: String,
    card: String,
}

/// `GET /h5/social-security/{id}/unbind`: what unbinding stops, and the
/// choice, before anything is done (a bound card takes six steps to bind again).
async fn unbind_page(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let v = &s.visitor;
    let b = match state.app.social_security().view(&actor(&s), &id).await {
        Ok(b) if b.status == Status::Bound && b.acting_as == "holder" => b,
        Ok(b) => return Redirect::to(&format!("/h5/social-security/{}", b.id)).into_response(),
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/social-security"),
    };
    let page = UnbindPage {
        c: Chrome::new(v, "ss-unbind-title", true),
        region: region_name(&state, &v.tr, &b.region),
        card: b.card.as_ref().map(|c| c.card_number.clone()).unwrap_or_default(),
        id: b.id,
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[derive(Template)]
#[template(path = "ss_code.html")]
struct CodePage {
    c: Chrome,
    id: String,
    panel: CodePanel,
}

/// The code itself: swapped in place every refresh (htmx polling), with the
/// sentence for screen readers swapped into the page's polite live region.
#[derive(Template)]
#[template(path = "ss_code_panel.html")]
struct CodePanel {
    c: Chrome,
    svg: String,
    /// Seconds until the next code is fetched.
    refresh_secs: i64,
    valid_until: String,
    /// Announced when a new code replaced the old one (the panel fragment only).
    announce: Option<String>,
}

async fn panel(state: &WebState, s: &Signed, id: &str, fresh: bool) -> Result<CodePanel, Problem> {
    let v = &s.visitor;
    let c = state.app.medical_payments().issue(&s.session, id).await?;
    let svg = idlink_api::routes::medical::qr_svg(&c.code).ok_or_else(|| Problem::new(idlink_api::ProblemCode::InternalError))?;
    let now = state.app.clock.now();
    let valid_until = v.tr.t1("ss-code-valid-until", "time", &v.tr.time(c.expires_at));
    Ok(CodePanel {
        c: Chrome::new(v, "ss-code-title", true),
        svg,
        refresh_secs: c.refresh_at.duration_since(now).as_secs().max(1),
        announce: fresh.then(|| v.tr.t1("ss-code-refreshed", "time", &v.tr.time(c.expires_at))),
        valid_until,
    })
}

/// `GET /h5/social-security/{id}/code`.
async fn code_page(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    match panel(&state, &s, &id, false).await {
        Ok(p) => {
            let page = CodePage { c: Chrome::new(&s.visitor, "ss-code-title", true), id, panel: p };
            (s.visitor.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Err(p) => problem_page(&s.visitor, &p, &format!("/h5/social-security/{id}")),
    }
}

/// `GET /h5/social-security/{id}/code/panel`: the next code, for the page's
/// polling. When no code can be issued (the session ended, the card cannot
/// pay) the panel says why in an alert and answers 286, which stops htmx polling.
async fn code_panel(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    match panel(&state, &s, &id, true).await {
        Ok(p) => match p.render() {
            Ok(body) => Html(body).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(p) => {
            let said = sentence(&s.visitor.tr, &p);
            let stop = StatusCode::from_u16(286).unwrap_or(StatusCode::OK);
            let body = format!("<p class=\"refusal\" role=\"alert\" id=\"code-error\">{}</p>", escape_html(&said));
            (stop, Html(body)).into_response()
        }
    }
}

/// Text for HTML.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
