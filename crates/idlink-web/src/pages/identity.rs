//! Real-name verification, documents under review, minors and guardians
//! (SPEC ID2–ID5, the user's side):
//! - `GET /h5/identity`: my real-name status (masked as the API's identity
//!   view gives it), a verification of mine still under review, the ways to verify;
//! - `GET /h5/identity/verify/{face|card|document}`: the start form of each
//!   way (three elements + face; four elements with a bank card; another
//!   document, which goes to the operators' review);
//! - `POST /h5/identity/verifications`: starts it (SMS code to the
//!   account's phone) and answers the code step (with the liveness capture
//!   for face and document);
//! - `POST /h5/identity/verifications/{id}/submit`: completes it, then 303
//!   to `GET /h5/identity/verifications/{id}`, the status page a user can
//!   come back to (outcome, guidance for every reason, "try again");
//! - `GET /h5/guardians`, `POST /h5/guardians`, `POST /h5/guardians/{id}/accept`:
//!   a minor asks a guardian; a guardian accepts; both see the status;
//! - `POST /h5/identity/verifications/{id}/answer`, `POST /h5/guardians/{id}/answer`:
//!   the answer to a reviewer's request for more information, shown on the
//!   verification's status page and the guardians page with its reason
//!   (words, and the document's fields or the evidence again), through the
//!   API's `routes::info::answer`; the case goes back to the review queue.
//!
//! The form fields are read by the API's own body types
//! (`StartVerification`, `NameGuardian`) and the use cases are the API's;
//! nothing here decides who may verify or what passes.

use crate::WebState;
use crate::ctx::{SetCookies, Signed, Visitor, read_cookie};
use crate::i18n::{Tr, has_key};
use crate::pages::render::{Chrome, FormErrors, html, message_page};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_api::extract::read;
use idlink_api::middleware::UserSession;
use idlink_api::routes::guardians::NameGuardian;
use idlink_api::routes::identity::StartVerification;
use idlink_core::identity::{IdentityError, Submission, VerificationView};
use idlink_core::ports::guardians::{Guardianship, GuardianshipStatus};
use idlink_core::ports::identity::DocumentType;
use idlink_domain::capabilities::Standing;
use idlink_domain::consent::ConsentKind;
use idlink_domain::verification::VerificationStatus;
use idlink_domain::{GuardianshipId, VerificationId};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The routes of these pages, merged into the `/h5/` router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/identity", get(status))
        .route("/h5/identity/verify/{kind}", get(start_form))
        // The form steps exist as posts; a reload (or a pushed address) of one lands on its page.
        .route("/h5/identity/verifications", post(start).get(|| async { Redirect::to("/h5/identity") }))
        .route("/h5/identity/verifications/{id}", get(outcome))
        .route("/h5/identity/verifications/{id}/submit", post(submit).get(to_outcome))
        .route("/h5/guardians", get(guardians).post(ask_guardian))
        .route("/h5/guardians/{id}/accept", post(accept_guardian).get(|| async { Redirect::to("/h5/guardians") }))
        .route("/h5/identity/verifications/{id}/answer", post(answer_verification).get(to_outcome))
        .route("/h5/guardians/{id}/answer", post(answer_guardianship).get(|| async { Redirect::to("/h5/guardians") }))
}

// ---------------------------------------------------------------- requests for more information

/// A reviewer's request for more information, as the user reads it.
pub struct AskedShown {
    pub code: String,
    pub title: String,
    pub guidance: String,
    /// The reviewer's own words, if any.
    pub note: String,
    pub at: String,
}

fn request_shown(tr: &Tr, shown: &idlink_core::reviews::UserRequest) -> AskedShown {
    let r = &shown.request;
    let key = r.reason.as_str().replace('_', "-");
    AskedShown {
        code: r.reason.as_str().to_owned(),
        title: tr.t(&format!("identity-info-reason-{key}")),
        guidance: tr.t(&format!("identity-info-guidance-{key}")),
        note: shown.note.clone(),
        at: tr.datetime(r.requested_at),
    }
}

/// The answer form's fields, as typed.
#[derive(Default, Deserialize)]
struct AnswerFields {
    #[serde(default)]
    answer: String,
    #[serde(default)]
    document_number: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    evidence_ref: String,
}

impl AnswerFields {
    /// The form as the API's body (`routes::info::AnswerInfo`): empty fields are absent.
    fn body(&self, fields: &[&str]) -> Map<String, Value> {
        let mut body = Map::new();
        for (k, val) in [
            ("answer", self.answer.trim()),
            ("document_number", self.document_number.trim()),
            ("birth_date", self.birth_date.trim()),
            ("evidence_ref", self.evidence_ref.trim()),
        ] {
            if fields.contains(&k) && !val.is_empty() {
                let val: String =
                    if k == "document_number" { val.chars().filter(|c| !c.is_whitespace()).collect() } else { val.to_owned() };
                body.insert(k.to_owned(), Value::String(val));
            }
        }
        body
    }
}

/// Reads and sends an answer; `Err` holds the form's errors (by API field name).
async fn send_answer(
    state: &WebState,
    s: &Signed,
    asked: &idlink_core::reviews::Asked,
    f: &AnswerFields,
    fields: &[&str],
) -> Result<(), FormErrors> {
    let v = &s.visitor;
    let today = idlink_domain::calendar::shanghai_today(state.app.clock.now());
    let req = read::<idlink_api::routes::info::AnswerInfo>(f.body(fields), today).map_err(|p| form_errors(&v.tr, &p, fields, "answer"))?;
    idlink_api::routes::info::answer(&state.app, &s.session, v.request_id.as_ref(), asked, &req)
        .await
        .map(|_| ())
        .map_err(|p| form_errors(&v.tr, &p, fields, "answer"))
}

/// `POST /h5/identity/verifications/{id}/answer`: words and the document's fields again.
async fn answer_verification(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<AnswerFields>) -> Response {
    let v = &s.visitor;
    let Ok(id) = VerificationId::parse(&id) else {
        return problem_page(v, &Problem::new(idlink_api::ProblemCode::VerificationNotFound), "/h5/identity");
    };
    let asked = idlink_core::reviews::Asked::Verification(id.clone());
    match send_answer(&state, &s, &asked, &f, &["answer", "document_number", "birth_date"]).await {
        Ok(()) => (v.cookies(), Redirect::to(&format!("/h5/identity/verifications/{id}?answered=1"))).into_response(),
        Err(errors) => outcome_page(&state, &s, &id, &OutcomeQuery::default(), &f, errors).await,
    }
}

/// `POST /h5/guardians/{id}/answer`: words and, if asked, a new evidence reference.
async fn answer_guardianship(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<AnswerFields>) -> Response {
    let v = &s.visitor;
    let Ok(id) = GuardianshipId::parse(&id) else {
        return problem_page(v, &Problem::new(idlink_api::ProblemCode::GuardianshipNotFound), "/h5/guardians");
    };
    let asked = idlink_core::reviews::Asked::Guardianship(id);
    match send_answer(&state, &s, &asked, &f, &["answer", "evidence_ref"]).await {
        Ok(()) => (v.cookies(), Redirect::to("/h5/guardians?answered=1")).into_response(),
        Err(errors) => {
            // The answer form's evidence field is `answer_evidence_ref` (the ask form has `evidence_ref`).
            let errors = FormErrors(
                errors.0.into_iter().map(|(k, m)| (if k == "evidence_ref" { "answer_evidence_ref".to_owned() } else { k }, m)).collect(),
            );
            guardians_page(&state, &s, &GuardianFields::default(), FormErrors::default(), Answering { fields: f, errors, done: false })
                .await
        }
    }
}

/// `GET …/submit`: the verification's status page.
async fn to_outcome(Path(id): Path<String>) -> Redirect {
    match VerificationId::parse(&id) {
        Ok(id) => Redirect::to(&format!("/h5/identity/verifications/{}", id.as_str())),
        Err(_) => Redirect::to("/h5/identity"),
    }
}

/// The browser remembers the user's latest verification (its id only), so
/// the status page can show one still under review: the API lists no
/// verifications, it answers one by id. Cleared at logout, so the next user
/// of a shared browser does not inherit it (the id is read only with the
/// session's user, so it would show them nothing anyway).
pub const LATEST: &str = "idlink_verification";
const LATEST_SECS: i64 = 30 * 24 * 3600;

/// The sandbox face provider's test values, offered as a capture stand-in.
const SANDBOX_CAPTURES: [&str; 5] = ["sandbox:pass", "sandbox:spoof", "sandbox:poor_lighting", "sandbox:mismatch", "sandbox:pending"];

/// The way a verification is made, as the pages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Name + resident ID number + the account's phone, plus face liveness.
    Face,
    /// Name + resident ID number + bank card + the card's reserved phone.
    Card,
    /// A passport or a Hong Kong/Macau or Taiwan permit: operators review it.
    Document,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "face" => Some(Kind::Face),
            "card" => Some(Kind::Card),
            "document" => Some(Kind::Document),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Face => "face",
            Kind::Card => "card",
            Kind::Document => "document",
        }
    }

    fn title_key(self) -> &'static str {
        match self {
            Kind::Face => "identity-face-title",
            Kind::Card => "identity-card-title",
            Kind::Document => "identity-document-title",
        }
    }

    /// Whether the code step also takes the liveness capture.
    pub fn takes_capture(self) -> bool {
        self != Kind::Card
    }

    /// The separate consents this way of verifying needs first (issue 18).
    fn consents(self) -> &'static [ConsentKind] {
        if self.takes_capture() { &[ConsentKind::IdNumber, ConsentKind::Face] } else { &[ConsentKind::IdNumber, ConsentKind::BankCard] }
    }
}

/// What to tell the user about a problem of these pages: this area's
/// sentence for codes other pages meet too (`identity-problem-<code>`, so
/// two areas never define one key twice), else the shared `problem-<code>`.
fn say(tr: &Tr, p: &Problem) -> String {
    crate::pages::render::problem_message_in(tr, "identity", p)
}

/// The sentence for a field's cause (codes of the API's body checks).
fn field_message(tr: &Tr, field: &str, code: &str) -> String {
    if code == "required" {
        let key = format!("identity-required-{field}");
        if has_key(tr.locale, &key) {
            return tr.t(&key);
        }
    }
    for key in [format!("identity-field-{code}"), format!("field-{code}")] {
        if has_key(tr.locale, &key) {
            return tr.t(&key);
        }
    }
    tr.t("identity-field-invalid")
}

/// A problem as form errors: each field cause on its field (an unknown or
/// whole-body one on `fallback`), otherwise the problem's sentence on `fallback`.
fn form_errors(tr: &Tr, p: &Problem, fields: &[&str], fallback: &str) -> FormErrors {
    let mut errors = FormErrors::default();
    if p.code == idlink_api::ProblemCode::ValidationFailed && !p.errors.is_empty() {
        for e in &p.errors {
            let field = e.pointer.trim_start_matches('/');
            let on = if fields.contains(&field) { field } else { fallback };
            if errors.get(on).is_none() {
                errors.add(on, field_message(tr, field, &e.code));
            }
        }
    } else {
        errors.add(fallback, say(tr, p));
    }
    errors
}

/// A page answering a problem that has no form to go back to.
fn problem_page(v: &Visitor, p: &Problem, back: &str) -> Response {
    (StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), message_page(v, &say(&v.tr, p), back)).into_response()
}

fn respond(v: &Visitor, errors: &FormErrors, cookies: SetCookies, page: &impl Template) -> Response {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (v.cookies(), cookies, html(status, page)).into_response()
}

/// The words for a document type.
fn document_words(tr: &Tr, t: DocumentType) -> String {
    tr.t(&format!("identity-doc-{}", t.as_str().replace('_', "-")))
}

// ---------------------------------------------------------------- status

/// The verified identity as the page shows it (already masked by the use case).
pub struct Shown {
    pub name: String,
    pub document: String,
    pub number: String,
    /// The masked number in words, for screen readers.
    pub number_words: String,
    pub verified_at: String,
    pub age: String,
    pub minor: bool,
}

/// A verification of mine that is not finished or was not passed.
pub struct Latest {
    pub id: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "identity.html")]
struct StatusPage {
    c: Chrome,
    identity: Option<Shown>,
    latest: Option<Latest>,
    /// Reviewers' requests waiting for my answer: where to answer, and what is asked.
    waiting: Vec<(String, AskedShown)>,
}

/// How a masked number reads aloud: "starts with 1 1 0, ends with 0 0 2 X"
/// (digits one by one, the hidden middle not read as a row of stars).
fn number_words(tr: &Tr, masked: &str) -> String {
    let start: String = masked.chars().take_while(|c| *c != '*').collect();
    let end: String = masked.chars().rev().take_while(|c| *c != '*').collect::<Vec<_>>().into_iter().rev().collect();
    let spaced = |s: &str| s.chars().map(String::from).collect::<Vec<_>>().join(" ");
    format!("{} {}", tr.t1("identity-number-start", "digits", &spaced(&start)), tr.t1("identity-number-end", "digits", &spaced(&end)))
}

/// `GET /h5/identity`.
async fn status(State(state): State<WebState>, s: Signed, headers: HeaderMap) -> Response {
    let v = &s.visitor;
    let rid = v.request_id.as_ref();
    let identity = match state.app.identities().identity(&s.session, rid).await {
        Ok(i) => i,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let shown = identity.map(|i| Shown {
        number_words: number_words(&v.tr, &i.id_number),
        name: i.name,
        document: document_words(&v.tr, i.document_type),
        number: i.id_number,
        verified_at: v.tr.datetime(i.verified_at),
        age: v.tr.tn("identity-age", "age", i64::from(i.age)),
        minor: i.minor,
    });
    // The latest verification this browser started, unless it passed (the identity says that).
    let mut latest = None;
    if let Some(id) = read_cookie(&headers, LATEST, v.secure).and_then(|raw| VerificationId::parse(&raw).ok())
        && let Ok(view) = state.app.identities().view(&s.session.user_id, &id).await
        && view.status != VerificationStatus::Verified
    {
        latest = Some(Latest { id: id.as_str().to_owned(), status: v.tr.t(&status_key(view.status)) });
    }
    let waiting = match state.app.info_answers().waiting(&s.session.user_id).await {
        Ok(w) => w
            .into_iter()
            .map(|(asked, r)| {
                let href = match asked {
                    idlink_core::reviews::Asked::Verification(id) => format!("/h5/identity/verifications/{id}"),
                    idlink_core::reviews::Asked::Guardianship(_) => "/h5/guardians".to_owned(),
                };
                (href, request_shown(&v.tr, &r))
            })
            .collect(),
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let page = StatusPage { c: Chrome::new(v, "identity-title", true), identity: shown, latest, waiting };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

fn status_key(s: VerificationStatus) -> String {
    format!("identity-status-{}", s.as_str().replace('_', "-"))
}

// ---------------------------------------------------------------- start

/// What the start form shows again after an error: what the user typed.
#[derive(Default, Deserialize)]
struct StartFields {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    document_type: String,
    #[serde(default)]
    document_number: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    card_number: String,
}

/// A document type the document form offers.
pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "identity_start.html")]
struct StartPage {
    c: Chrome,
    kind: Kind,
    name: String,
    id_number: String,
    document_number: String,
    birth_date: String,
    card_number: String,
    documents: Vec<Choice>,
    /// The number masked, or the words "your account's phone" where it was not read.
    phone_masked: String,
    errors: FormErrors,
}

impl StartPage {
    fn new(v: &Visitor, kind: Kind, f: &StartFields, phone_masked: String) -> Self {
        let chosen = if f.document_type.is_empty() { "passport" } else { f.document_type.as_str() };
        StartPage {
            c: Chrome::new(v, kind.title_key(), true),
            kind,
            name: f.name.clone(),
            id_number: f.id_number.clone(),
            document_number: f.document_number.clone(),
            birth_date: f.birth_date.clone(),
            card_number: f.card_number.clone(),
            documents: [DocumentType::Passport, DocumentType::HkMacauPermit, DocumentType::TaiwanPermit]
                .into_iter()
                .map(|t| Choice { value: t.as_str(), label: document_words(&v.tr, t), checked: t.as_str() == chosen })
                .collect(),
            phone_masked,
            errors: FormErrors::default(),
        }
    }
}

/// The account's phone (the SMS code goes there), as the API reads it.
async fn account_phone(state: &WebState, s: &Signed) -> Result<idlink_domain::PhoneNumber, Problem> {
    let session = UserSession(s.session.clone());
    idlink_api::routes::security::phone_of(&state.app, &session, s.visitor.request_id.as_ref(), "real-name verification").await
}

/// `GET /h5/identity/verify/{kind}`.
async fn start_form(State(state): State<WebState>, s: Signed, Path(kind): Path<String>) -> Response {
    let v = &s.visitor;
    let Some(kind) = Kind::parse(&kind) else { return crate::pages::render::not_found(v.clone()).await };
    let here = format!("/h5/identity/verify/{}", kind.as_str());
    if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, kind.consents(), &here).await {
        return to;
    }
    // The number itself is not decrypted (an audited read) just to be shown on a form.
    let page = StartPage::new(v, kind, &StartFields::default(), v.tr.t("identity-account-phone"));
    respond(v, &page.errors, SetCookies::default(), &page)
}

/// The form as the API's body: empty fields are absent (so they read "required").
fn start_body(kind: Kind, f: &StartFields) -> Map<String, Value> {
    // Digits are often typed in groups: spaces are not part of a number.
    let compact = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut body = Map::new();
    let mut put = |k: &str, val: String| {
        if !val.is_empty() {
            body.insert(k.to_owned(), Value::String(val));
        }
    };
    put("name", f.name.trim().to_owned());
    match kind {
        Kind::Face => put("id_number", compact(&f.id_number)),
        Kind::Card => {
            put("id_number", compact(&f.id_number));
            put("method", "four_elements".to_owned());
            put("card_number", compact(&f.card_number));
        }
        Kind::Document => {
            put("document_type", f.document_type.clone());
            put("document_number", compact(&f.document_number));
            put("birth_date", f.birth_date.trim().to_owned());
        }
    }
    body
}

const START_FIELDS: [&str; 6] = ["name", "id_number", "document_type", "document_number", "birth_date", "card_number"];

/// `POST /h5/identity/verifications`: starts a verification and answers the code step.
async fn start(State(state): State<WebState>, s: Signed, Form(f): Form<StartFields>) -> Response {
    let v = &s.visitor;
    let Some(kind) = Kind::parse(&f.kind) else { return Redirect::to("/h5/identity").into_response() };
    // A consent withdrawn in another tab since the form was shown: ask it again.
    let here = format!("/h5/identity/verify/{}", kind.as_str());
    if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, kind.consents(), &here).await {
        return to;
    }
    let refused = |errors: FormErrors| {
        let mut page = StartPage::new(v, kind, &f, v.tr.t("identity-account-phone"));
        page.errors = errors;
        respond(v, &page.errors, SetCookies::default(), &page)
    };
    let today = idlink_domain::calendar::shanghai_today(state.app.clock.now());
    let claim = match read::<StartVerification>(start_body(kind, &f), today) {
        Ok(c) => c,
        Err(p) => return refused(form_errors(&v.tr, &p, &START_FIELDS, "name")),
    };
    // As the API: the phone is read (and the read audited) only for a form that passed its checks.
    let phone = match account_phone(&state, &s).await {
        Ok(p) => p,
        Err(p) => return problem_page(v, &p, "/h5/identity"),
    };
    let started = state.app.identities().start(&s.session, v.request_id.as_ref(), &s.origin(), &claim.claim(&phone)).await;
    let view = match started {
        Ok(view) => view,
        Err(IdentityError::ChangeLimited { allowed_from, rule, .. }) => {
            // The API's sentence is English; the date is what the user needs, in their language.
            let mut errors = FormErrors::default();
            let key = format!("identity-change-limited-{}", rule.code().replace('_', "-"));
            errors.add("name", v.tr.t1(&key, "date", &v.tr.datetime(allowed_from)));
            return refused(errors);
        }
        Err(e) => {
            let p = Problem::from(e);
            return refused(form_errors(&v.tr, &p, &START_FIELDS, "name"));
        }
    };
    let mut cookies = SetCookies::default();
    cookies.set(LATEST, view.id.as_str(), Some(LATEST_SECS), v.secure);
    let page = StepPage::new(&state, v, kind, &view, view.challenge_id.clone().unwrap_or_default(), phone.masked(), "");
    respond(v, &page.errors, cookies, &page)
}

// ---------------------------------------------------------------- code step

/// One of the sandbox's capture stand-ins.
pub struct Capture {
    pub value: &'static str,
    pub id: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "identity_step.html")]
struct StepPage {
    c: Chrome,
    kind: Kind,
    verification_id: String,
    challenge_id: String,
    /// The number masked, or the words "your account's phone" where it was not read.
    phone_masked: String,
    /// The sandbox's stand-ins (empty when the face provider is a real one).
    captures: Vec<Capture>,
    /// The code as typed, kept when only the capture was missing.
    code: String,
    errors: FormErrors,
}

impl StepPage {
    fn new(
        state: &WebState,
        v: &Visitor,
        kind: Kind,
        view: &VerificationView,
        challenge_id: String,
        phone_masked: String,
        chosen: &str,
    ) -> Self {
        let captures = if kind.takes_capture() && state.app.face_sandbox {
            SANDBOX_CAPTURES
                .into_iter()
                .enumerate()
                .map(|(i, value)| Capture {
                    value,
                    // The first carries the group's id: the error summary links there.
                    id: if i == 0 { "liveness".to_owned() } else { format!("liveness-{i}") },
                    label: v.tr.t(&format!("identity-capture-{}", value.trim_start_matches("sandbox:").replace('_', "-"))),
                    checked: value == chosen,
                })
                .collect()
        } else {
            Vec::new()
        };
        StepPage {
            c: Chrome::new(v, "identity-step-title", true),
            kind,
            verification_id: view.id.as_str().to_owned(),
            challenge_id,
            phone_masked,
            captures,
            code: String::new(),
            errors: FormErrors::default(),
        }
    }
}

#[derive(Default, Deserialize)]
struct SubmitFields {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    liveness: String,
}

/// `POST /h5/identity/verifications/{id}/submit`: the SMS code (and the capture) complete it.
async fn submit(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<SubmitFields>) -> Response {
    let v = &s.visitor;
    let Ok(id) = VerificationId::parse(&id) else {
        return problem_page(v, &Problem::new(idlink_api::ProblemCode::VerificationNotFound), "/h5/identity");
    };
    let kind = Kind::parse(&f.kind).unwrap_or(Kind::Face);
    let view = VerificationView { id: id.clone(), status: VerificationStatus::RequiresInput, reasons: Vec::new(), challenge_id: None };
    let again = |errors: FormErrors| {
        let mut page = StepPage::new(&state, v, kind, &view, f.challenge_id.clone(), v.tr.t("identity-account-phone"), &f.liveness);
        if errors.get("code").is_none() {
            page.code = f.code.trim().to_owned();
        }
        page.errors = errors;
        respond(v, &page.errors, SetCookies::default(), &page)
    };
    let code = f.code.trim();
    let mut errors = FormErrors::default();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        errors.add("code", v.tr.t("field-invalid_code"));
    }
    let capture = f.liveness.trim();
    if kind.takes_capture() && state.app.face_sandbox && !SANDBOX_CAPTURES.contains(&capture) {
        errors.add("liveness", v.tr.t("identity-field-choose-capture"));
    }
    if !errors.is_empty() {
        return again(errors);
    }
    // Read only once the form passed its own checks (the read is audited).
    let phone = match account_phone(&state, &s).await {
        Ok(p) => p,
        Err(p) => return problem_page(v, &p, "/h5/identity"),
    };
    let liveness = (kind.takes_capture() && !capture.is_empty()).then_some(capture);
    let input = Submission { phone: &phone, challenge_id: &f.challenge_id, code, liveness_video: liveness };
    match state.app.identities().complete(&s.session, v.request_id.as_ref(), &id, &input).await {
        Ok(done) => Redirect::to(&format!("/h5/identity/verifications/{}?via={}", done.id.as_str(), kind.as_str())).into_response(),
        Err(IdentityError::NotAwaitingInput(_)) => Redirect::to(&format!("/h5/identity/verifications/{}", id.as_str())).into_response(),
        Err(IdentityError::LivenessRequired) => {
            let mut errors = FormErrors::default();
            errors.add("code", v.tr.t("identity-capture-from-app"));
            again(errors)
        }
        Err(e) => {
            let p = Problem::from(e);
            again(form_errors(&v.tr, &p, &["code"], "code"))
        }
    }
}

// ---------------------------------------------------------------- outcome

/// A failure reason with what to do about it.
pub struct ReasonShown {
    pub code: String,
    pub title: String,
    pub guidance: String,
}

#[derive(Template)]
#[template(path = "identity_outcome.html")]
struct OutcomePage {
    c: Chrome,
    id: String,
    status: VerificationStatus,
    status_words: String,
    reasons: Vec<ReasonShown>,
    retry: bool,
    /// Where "try again" starts: the same way's form when the page was
    /// reached from it, else the choice of ways.
    again: String,
    /// A reviewer's request for more information waiting for my answer.
    asked: Option<AskedShown>,
    /// The answer form asks the document's birth date (documents other than the resident ID).
    needs_birth: bool,
    answer: String,
    document_number: String,
    birth_date: String,
    errors: FormErrors,
    /// My answer was just sent.
    answered: bool,
}

#[derive(Default, Deserialize)]
struct OutcomeQuery {
    #[serde(default)]
    via: String,
    #[serde(default)]
    answered: String,
}

/// `GET /h5/identity/verifications/{id}`: where a verification stands now.
async fn outcome(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Query(q): Query<OutcomeQuery>) -> Response {
    let v = &s.visitor;
    let Ok(id) = VerificationId::parse(&id) else {
        return problem_page(v, &Problem::new(idlink_api::ProblemCode::VerificationNotFound), "/h5/identity");
    };
    outcome_page(&state, &s, &id, &q, &AnswerFields::default(), FormErrors::default()).await
}

async fn outcome_page(
    state: &WebState,
    s: &Signed,
    id: &VerificationId,
    q: &OutcomeQuery,
    fields: &AnswerFields,
    errors: FormErrors,
) -> Response {
    let v = &s.visitor;
    let view = match state.app.identities().view(&s.session.user_id, id).await {
        Ok(view) => view,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/identity"),
    };
    let asked =
        match state.app.info_answers().open_request(&s.session.user_id, &idlink_core::reviews::Asked::Verification(id.clone())).await {
            Ok(r) => r.map(|r| request_shown(&v.tr, &r)),
            Err(e) => return problem_page(v, &Problem::from(e), "/h5/identity"),
        };
    let needs_birth = asked.is_some()
        && state
            .app
            .store
            .verification(id, &s.session.user_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|r| r.document_type != DocumentType::ResidentId);
    let reasons = view
        .reasons
        .iter()
        .map(|r| {
            let key = r.as_str().replace('_', "-");
            ReasonShown {
                code: r.as_str().to_owned(),
                title: v.tr.t(&format!("identity-reason-{key}")),
                guidance: v.tr.t(&format!("identity-guidance-{key}")),
            }
        })
        .collect();
    let title = match view.status {
        VerificationStatus::Review if asked.is_some() => "identity-info-title",
        VerificationStatus::Verified => "identity-outcome-verified-title",
        VerificationStatus::Rejected => "identity-outcome-rejected-title",
        VerificationStatus::Review => "identity-outcome-review-title",
        VerificationStatus::RequiresInput | VerificationStatus::Processing => "identity-outcome-open-title",
    };
    let page = OutcomePage {
        c: Chrome::new(v, title, true),
        id: id.as_str().to_owned(),
        status: view.status,
        status_words: v.tr.t(&status_key(view.status)),
        reasons,
        // Trying again helps only when every reason can be fixed by the user
        // (a document the reviewers refused names none: it can be sent again).
        retry: view.status == VerificationStatus::Rejected && view.reasons.iter().all(|r| r.retryable()),
        again: Kind::parse(&q.via).map_or_else(|| "/h5/identity".to_owned(), |k| format!("/h5/identity/verify/{}", k.as_str())),
        asked,
        needs_birth,
        answer: fields.answer.clone(),
        document_number: fields.document_number.clone(),
        birth_date: fields.birth_date.clone(),
        errors,
        answered: q.answered == "1",
    };
    respond(v, &page.errors, SetCookies::default(), &page)
}

// ---------------------------------------------------------------- guardians

/// A guardian link as the page shows it.
pub struct LinkShown {
    pub id: String,
    pub relationship: String,
    pub evidence: String,
    pub status: String,
    pub requested_at: String,
    /// Addressed to me and waiting for me.
    pub can_accept: bool,
    /// For a request waiting for me: who asks (masked name, age).
    pub asker: Option<String>,
    /// A reviewer's request for more information waiting for my answer (on my own link).
    pub info: Option<AskedShown>,
}

/// The answer form of the guardians page, as typed, and how it went.
#[derive(Default)]
struct Answering {
    fields: AnswerFields,
    errors: FormErrors,
    done: bool,
}

#[derive(Default, Deserialize)]
struct GuardianFields {
    #[serde(default)]
    guardian_phone: String,
    #[serde(default)]
    relationship: String,
    #[serde(default)]
    evidence_ref: String,
}

#[derive(Template)]
#[template(path = "guardians.html")]
struct GuardiansPage {
    c: Chrome,
    verified: bool,
    minor: bool,
    /// A minor whose guardian link is approved.
    guarded: bool,
    /// Links where I am the minor.
    mine: Vec<LinkShown>,
    /// Links where I am asked to be the guardian.
    asked: Vec<LinkShown>,
    guardian_phone: String,
    relationship: String,
    evidence_ref: String,
    errors: FormErrors,
    /// The answer to a request for more information (at most one link is under review at a time).
    answer: String,
    answer_evidence_ref: String,
    answer_errors: FormErrors,
    answered: bool,
}

fn link_shown(tr: &Tr, g: Guardianship, me: &idlink_domain::UserId) -> LinkShown {
    let status = match g.status {
        GuardianshipStatus::PendingGuardian => "guardian-status-pending",
        GuardianshipStatus::Review => "guardian-status-review",
        GuardianshipStatus::Approved => "guardian-status-approved",
        GuardianshipStatus::Rejected => "guardian-status-rejected",
    };
    let relationship = if g.relationship == "parent" { "guardian-relationship-parent" } else { "guardian-relationship-legal" };
    LinkShown {
        id: g.id.as_str().to_owned(),
        relationship: tr.t(relationship),
        can_accept: g.guardian == *me && g.status == GuardianshipStatus::PendingGuardian,
        asker: None,
        info: None,
        evidence: g.evidence_ref,
        status: tr.t(status),
        requested_at: tr.datetime(g.created_at),
    }
}

async fn guardians_page(state: &WebState, s: &Signed, fields: &GuardianFields, errors: FormErrors, answering: Answering) -> Response {
    let v = &s.visitor;
    let standing = match idlink_api::routes::identity::standing(&state.app, &s.session, v.request_id.as_ref()).await {
        Ok(st) => st,
        Err(p) => return problem_page(v, &p, "/h5/"),
    };
    let links = match state.app.guardians().list(&s.session.user_id).await {
        Ok(l) => l,
        Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
    };
    let me = &s.session.user_id;
    let (mine, asked): (Vec<_>, Vec<_>) = links.into_iter().partition(|g| g.minor == *me);
    let mut asked_shown = Vec::with_capacity(asked.len());
    for g in asked {
        // Only a request still waiting for my answer needs to say who asks.
        let asker = if g.status == GuardianshipStatus::PendingGuardian {
            match state.app.guardians().asking_minor(&s.session, v.request_id.as_ref(), &g).await {
                Ok(who) => who.map(|i| v.tr.t1("guardians-asker", "name", &i.name)),
                Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
            }
        } else {
            None
        };
        asked_shown.push(LinkShown { asker, ..link_shown(&v.tr, g, me) });
    }
    let mut mine_shown = Vec::with_capacity(mine.len());
    let mut one_form = false;
    for g in mine {
        let asked = idlink_core::reviews::Asked::Guardianship(g.id.clone());
        let info = if g.status == GuardianshipStatus::Review && !one_form {
            match state.app.info_answers().open_request(me, &asked).await {
                Ok(r) => r.map(|r| request_shown(&v.tr, &r)),
                Err(e) => return problem_page(v, &Problem::from(e), "/h5/"),
            }
        } else {
            None
        };
        one_form |= info.is_some();
        mine_shown.push(LinkShown { info, ..link_shown(&v.tr, g, me) });
    }
    let page = GuardiansPage {
        c: Chrome::new(v, "guardians-title", true),
        verified: standing != Standing::Unverified,
        minor: matches!(standing, Standing::Minor { .. }),
        guarded: standing == Standing::Minor { guardian_approved: true },
        mine: mine_shown,
        asked: asked_shown,
        guardian_phone: fields.guardian_phone.clone(),
        relationship: if fields.relationship.is_empty() { "parent".to_owned() } else { fields.relationship.clone() },
        evidence_ref: fields.evidence_ref.clone(),
        errors,
        answer: answering.fields.answer,
        answer_evidence_ref: answering.fields.evidence_ref,
        answer_errors: answering.errors,
        answered: answering.done,
    };
    let status = if page.errors.is_empty() && page.answer_errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (v.cookies(), html(status, &page)).into_response()
}

#[derive(Default, Deserialize)]
struct GuardiansQuery {
    #[serde(default)]
    answered: String,
}

/// `GET /h5/guardians`.
async fn guardians(State(state): State<WebState>, s: Signed, Query(q): Query<GuardiansQuery>) -> Response {
    let answering = Answering { done: q.answered == "1", ..Answering::default() };
    guardians_page(&state, &s, &GuardianFields::default(), FormErrors::default(), answering).await
}

/// `POST /h5/guardians`: a verified minor asks a guardian.
async fn ask_guardian(State(state): State<WebState>, s: Signed, Form(f): Form<GuardianFields>) -> Response {
    let v = &s.visitor;
    let mut body = Map::new();
    for (k, val) in
        [("guardian_phone", f.guardian_phone.trim()), ("relationship", f.relationship.trim()), ("evidence_ref", f.evidence_ref.trim())]
    {
        if !val.is_empty() {
            body.insert(k.to_owned(), Value::String(val.chars().filter(|c| k != "guardian_phone" || !c.is_whitespace()).collect()));
        }
    }
    let fields = ["guardian_phone", "relationship", "evidence_ref"];
    let today = idlink_domain::calendar::shanghai_today(state.app.clock.now());
    let req = match read::<NameGuardian>(body, today) {
        Ok(r) => r,
        Err(p) => {
            return guardians_page(&state, &s, &f, form_errors(&v.tr, &p, &fields, "guardian_phone"), Answering::default()).await;
        }
    };
    match idlink_api::routes::guardians::name_guardian(&state.app, &s.session, v.request_id.as_ref(), &req).await {
        Ok(_) => (v.cookies(), Redirect::to("/h5/guardians")).into_response(),
        Err(p) => guardians_page(&state, &s, &f, form_errors(&v.tr, &p, &fields, "guardian_phone"), Answering::default()).await,
    }
}

/// `POST /h5/guardians/{id}/accept`: the guardian accepts; the evidence goes to review.
async fn accept_guardian(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let v = &s.visitor;
    let Ok(id) = GuardianshipId::parse(&id) else {
        return problem_page(v, &Problem::new(idlink_api::ProblemCode::GuardianshipNotFound), "/h5/guardians");
    };
    match state.app.guardians().accept(&s.session, v.request_id.as_ref(), &id).await {
        Ok(_) => (v.cookies(), Redirect::to("/h5/guardians")).into_response(),
        Err(e) => problem_page(v, &Problem::from(e), "/h5/guardians"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;
    use idlink_domain::verification::VerificationReason;

    /// The keys these pages build at run time exist in every language.
    #[test]
    fn every_built_key_is_in_every_catalogue() {
        let mut keys: Vec<String> = Vec::new();
        for code in [
            "id_number_mismatch",
            "id_number_not_found",
            "phone_mismatch",
            "face_mismatch",
            "liveness_failed",
            "poor_lighting",
            "id_number_bound_elsewhere",
            "card_holder_mismatch",
            "reserved_phone_mismatch",
            "card_reported_lost",
        ] {
            let r = VerificationReason::parse(code).map(|r| r.as_str().replace('_', "-")).unwrap_or_default();
            keys.push(format!("identity-reason-{r}"));
            keys.push(format!("identity-guidance-{r}"));
        }
        keys.extend(VerificationStatus::ALL.into_iter().map(status_key));
        for t in [DocumentType::ResidentId, DocumentType::Passport, DocumentType::HkMacauPermit, DocumentType::TaiwanPermit] {
            keys.push(format!("identity-doc-{}", t.as_str().replace('_', "-")));
        }
        for c in SANDBOX_CAPTURES {
            keys.push(format!("identity-capture-{}", c.trim_start_matches("sandbox:").replace('_', "-")));
        }
        for rule in ["cooling-off", "minimum-gap", "yearly-quota"] {
            keys.push(format!("identity-change-limited-{rule}"));
        }
        for field in START_FIELDS.iter().chain(["guardian_phone", "relationship", "evidence_ref"].iter()) {
            keys.push(format!("identity-required-{field}"));
        }
        for kind in [Kind::Face, Kind::Card, Kind::Document] {
            keys.push(kind.title_key().to_owned());
        }
        for r in idlink_core::ports::reviews::InfoReason::ALL {
            let r = r.as_str().replace('_', "-");
            keys.push(format!("identity-info-reason-{r}"));
            keys.push(format!("identity-info-guidance-{r}"));
        }
        keys.push("identity-required-answer".to_owned());
        for locale in Locale::ALL {
            for key in &keys {
                assert!(has_key(locale, key), "{}: `{key}` is missing", locale.tag());
            }
        }
    }

    #[test]
    fn a_masked_number_reads_as_its_visible_digits() {
        let tr = Tr::new(Locale::En);
        assert_eq!(number_words(&tr, "110***********002X"), "starting 1 1 0, ending 0 0 2 X");
    }

    #[test]
    fn the_form_becomes_the_api_body_without_empty_fields() {
        let f = StartFields { name: " 张三 ".into(), id_number: "1101 0519 4912 3100 2X".into(), ..StartFields::default() };
        let body = start_body(Kind::Face, &f);
        assert_eq!(body.get("name").and_then(Value::as_str), Some("张三"));
        assert_eq!(body.get("id_number").and_then(Value::as_str), Some("11010519491231002X"));
        assert!(!body.contains_key("card_number") && !body.contains_key("method"));
        let card = start_body(Kind::Card, &StartFields { card_number: "6222 0212".into(), ..StartFields::default() });
        assert_eq!(card.get("method").and_then(Value::as_str), Some("four_elements"));
        assert!(!card.contains_key("name"), "an empty name is absent, so it reads as required");
    }
}
