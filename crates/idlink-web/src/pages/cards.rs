//! The bank-card pages (SPEC BK1–BK6, the user's half): my cards, masked;
//! binding a card (BIN lookup → the bank's SMS code to the reserved phone);
//! each card's four authorisation tiers (BK3) with a revoke each and its
//! bank's disclosure policy in words (BK4); the bank's e-agreement shown in
//! full with its version and SHA-256 before it is signed; the balance query
//! behind a payment-password step-up, its answer and freshness in words; the
//! low-balance alert and the history of every balance query (BK6); the bank's
//! exceptions (maintenance, suspension, lost card) as sentences (BK5).
//!
//! Every action calls the use case the JSON API calls for it
//! (`idlink_api::routes::{cards, balance, banks, security}`) and turns its
//! problem into a sentence: `cards-problem-<code>` where these pages say it
//! their own way, else the shared `problem-<code>`.

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::i18n::{Tr, has_key};
use crate::pages::render::{Chrome, FormErrors, html, message_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_core::balance::AgreementStatus;
use idlink_core::ports::bindings::{BindingRow, BindingStatus};
use idlink_domain::capabilities::Standing;
use idlink_domain::card::{BinTable, CardError, CardNumber, CardType};
use idlink_domain::disclosure::{Disclosed, Freshness, Precision};
use idlink_domain::{BindingId, Fen, PhoneNumber};
use jiff::Timestamp;
use serde::Deserialize;

/// The routes of these pages, merged into the `/h5/` router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/cards", get(list))
        .route("/h5/cards/history", get(history))
        .route("/h5/cards/bind", get(bind_page).post(bind_check))
        .route("/h5/cards/bind/send", get(to_bind).post(bind_send))
        .route("/h5/cards/bind/confirm", get(to_bind).post(bind_confirm))
        .route("/h5/cards/switch", get(to_list).post(set_switch))
        .route("/h5/cards/{id}", get(card))
        .route("/h5/cards/{id}/unbind", get(unbind_page).post(unbind))
        .route("/h5/cards/{id}/agreement", get(agreement).post(sign))
        .route("/h5/cards/{id}/agreement/revoke", get(to_card).post(revoke_agreement))
        .route("/h5/cards/{id}/balance", get(balance_pad).post(balance_query))
        .route("/h5/cards/{id}/alert", get(to_card).post(set_alert))
}

// A page answered to a post keeps the post's path: the language and elder
// switches (and a reload) come back to it with a GET, which leads to the
// page the form belongs to.

async fn to_bind() -> Redirect {
    Redirect::to("/h5/cards/bind")
}

async fn to_list() -> Redirect {
    Redirect::to("/h5/cards")
}

async fn to_card(Path(raw): Path<String>) -> Redirect {
    match parse_id(&raw) {
        Some(id) => Redirect::to(&format!("/h5/cards/{}", id.as_str())),
        None => Redirect::to("/h5/cards"),
    }
}

// ---------------------------------------------------------------- words

/// The sentence for a problem on these pages: this area's own wording where
/// it has one, the shared `problem-<code>` otherwise; a bank maintenance
/// names its expected end.
fn sentence(tr: &Tr, now: Timestamp, p: &Problem) -> String {
    let code = p.code.as_str();
    if code == "bank_unavailable"
        && let Some(end) = p.expected_end.as_deref().and_then(|e| e.parse::<Timestamp>().ok())
    {
        return tr.t1("cards-bank-maintenance-until", "until", &when(tr, now, end));
    }
    // The bank's four-element check says which element it did not confirm.
    if code == "bank_card_check_failed"
        && let Some(reason) = p.errors.first().map(|e| format!("cards-reason-{}", e.code))
        && has_key(tr.locale, &reason)
    {
        return tr.t(&reason);
    }
    crate::pages::render::problem_message_in(tr, "cards", p)
}

/// The HTTP status a problem's page is answered with.
fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A page that says what went wrong and links back, with the problem's status.
fn problem_page(v: &Visitor, now: Timestamp, p: &Problem, back: &str) -> Response {
    (status_of(p), message_page(v, &sentence(&v.tr, now, p), back)).into_response()
}

/// An instant in words relative to `now` (Asia/Shanghai): "today 18:00",
/// "tomorrow 18:00", "yesterday 18:00", else the full date.
fn when(tr: &Tr, now: Timestamp, at: Timestamp) -> String {
    let zone = idlink_domain::calendar::shanghai();
    let (day, today) = (at.to_zoned(zone.clone()), now.to_zoned(zone));
    let time = day.strftime("%H:%M").to_string();
    let (d, t) = (day.date(), today.date());
    let key = if d == t {
        "cards-day-today"
    } else if t.tomorrow().is_ok_and(|n| n == d) {
        "cards-day-tomorrow"
    } else if t.yesterday().is_ok_and(|y| y == d) {
        "cards-day-yesterday"
    } else {
        return tr.datetime(at);
    };
    tr.t1(key, "time", &time)
}

/// The bank's name, as the API names it.
fn bank_name(code: &str) -> String {
    BinTable::bundled().bank_name(code).unwrap_or(code).to_owned()
}

fn card_type(tr: &Tr, t: CardType) -> String {
    tr.t(match t {
        CardType::Debit => "cards-type-debit",
        CardType::Credit => "cards-type-credit",
        CardType::SemiCredit => "cards-type-semi-credit",
        CardType::Prepaid => "cards-type-prepaid",
    })
}

/// How a bank discloses balances, in words (SPEC BK4), from the roster as the API reads it.
#[derive(Debug, Clone)]
pub struct PolicyWords {
    pub precision: String,
    pub freshness: String,
    /// Both, as one phrase in the language's punctuation.
    pub line: String,
    pub closed: bool,
}

fn policy(state: &WebState, tr: &Tr, bank: &str) -> PolicyWords {
    let b = state.app.roster.bank(bank);
    // A bank missing from the roster is closed, as the query treats it.
    let precision = b.map_or(Precision::Closed, |b| b.precision);
    let freshness = b.map_or(Freshness::RealTime, |b| b.freshness);
    let closed = precision == Precision::Closed;
    let (precision, freshness) = (precision_words(tr, precision), freshness_words(tr, freshness));
    let comma = if tr.locale == crate::i18n::Locale::En { ", " } else { "，" };
    PolicyWords { line: format!("{precision}{comma}{freshness}"), precision, freshness, closed }
}

fn precision_words(tr: &Tr, p: Precision) -> String {
    match p {
        Precision::Yuan => tr.t("cards-precision-yuan"),
        Precision::Jiao => tr.t("cards-precision-jiao"),
        Precision::Range { width } => tr.t1("cards-precision-range", "width", &tr.money(Fen(width))),
        Precision::Closed => tr.t("cards-precision-closed"),
    }
}

fn freshness_words(tr: &Tr, f: Freshness) -> String {
    match f {
        Freshness::RealTime => tr.t("cards-freshness-real-time"),
        Freshness::Daily { hour, minute } => tr.t1("cards-freshness-daily", "time", &format!("{hour:02}:{minute:02}")),
        Freshness::Weekly { weekday, hour } => {
            // The `Tr` helpers take one argument: the weekday's message takes the time.
            let day = tr.t1(&format!("cards-weekday-{}", weekday.clamp(1, 7)), "time", &format!("{hour:02}:00"));
            tr.t1("cards-freshness-weekly", "when", &day)
        }
    }
}

/// A card as the list and its page show it: masked ("•••• 0123" seen,
/// "ending 0123" heard).
#[derive(Debug, Clone)]
pub struct CardView {
    pub id: String,
    pub bank: String,
    pub bank_name: String,
    pub last4: String,
    /// What a screen reader says for the masked number.
    pub ending: String,
    pub status: String,
    pub active: bool,
    pub pending: bool,
    /// The bank suspends balance queries (and why, in words).
    pub suspended: Option<String>,
    pub luhn_warning: bool,
    pub policy: PolicyWords,
}

fn card_view(state: &WebState, tr: &Tr, b: &BindingRow) -> CardView {
    let status = match (b.status, b.end_reason.as_deref()) {
        (BindingStatus::PendingSms, _) => tr.t("cards-status-pending"),
        (BindingStatus::Active, _) => tr.t("cards-status-active"),
        (BindingStatus::Ended, Some("card_reported_lost")) => tr.t("cards-status-lost"),
        (BindingStatus::Ended, _) => tr.t("cards-status-ended"),
    };
    let suspended = b.suspended_reason.as_deref().filter(|_| b.status == BindingStatus::Active).map(|r| {
        let key = format!("cards-suspended-{r}");
        if has_key(tr.locale, &key) { tr.t(&key) } else { tr.t("cards-suspended-other") }
    });
    CardView {
        id: b.id.as_str().to_owned(),
        bank_name: bank_name(&b.bank),
        bank: b.bank.clone(),
        ending: tr.t1("cards-ending", "last4", &b.last4),
        last4: b.last4.clone(),
        status,
        active: b.status == BindingStatus::Active,
        pending: b.status == BindingStatus::PendingSms,
        suspended,
        luhn_warning: b.luhn_warning,
        policy: policy(state, tr, &b.bank),
    }
}

/// The user's binding `id`, if it is theirs.
async fn binding_of(state: &WebState, s: &Signed, id: &BindingId) -> Result<Option<BindingRow>, Problem> {
    let all = state.app.bindings().list(&s.session.user_id).await.map_err(Problem::from)?;
    Ok(all.into_iter().find(|b| &b.id == id))
}

fn parse_id(raw: &str) -> Option<BindingId> {
    BindingId::parse(raw).ok()
}

/// What a finished action says on the page it leads to (`?done=`): only these words, never the query's text.
const NOTICES: [&str; 10] =
    ["bound", "bound-review", "unbound", "signed", "revoked", "switch-on", "switch-off", "alert-set", "alert-cleared", "pending"];

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

fn notice(tr: &Tr, d: &Done) -> Option<String> {
    NOTICES.contains(&d.done.as_str()).then(|| tr.t(&format!("cards-done-{}", d.done)))
}

// ---------------------------------------------------------------- list

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsPage {
    c: Chrome,
    cards: Vec<CardView>,
    notice: Option<String>,
}

/// `GET /h5/cards`: my cards, masked, each with its status.
async fn list(State(state): State<WebState>, s: Signed, Query(d): Query<Done>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let rows = match state.app.bindings().list(&s.session.user_id).await {
        Ok(rows) => rows,
        Err(e) => return problem_page(v, now, &Problem::from(e), "/h5/"),
    };
    let page = CardsPage {
        c: Chrome::new(v, "cards-title", true),
        cards: rows.iter().map(|b| card_view(&state, &v.tr, b)).collect(),
        notice: notice(&v.tr, &d),
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

// ---------------------------------------------------------------- bind

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindStep {
    /// The user's identity is not verified: say so and link there.
    Unverified,
    Number,
    Phone,
    Code,
}

#[derive(Template)]
#[template(path = "card_bind.html")]
struct BindPage {
    c: Chrome,
    step: BindStep,
    card_number: String,
    /// The BIN lookup: bank and card type, in words.
    bank_name: String,
    card_type: String,
    luhn_warning: bool,
    masked_card: String,
    reserved_phone: String,
    phone_masked: String,
    binding_id: String,
    errors: FormErrors,
}

impl BindPage {
    fn new(v: &Visitor, step: BindStep) -> Self {
        let title = match step {
            BindStep::Unverified | BindStep::Number => "cards-bind-title",
            BindStep::Phone => "cards-bind-phone-title",
            BindStep::Code => "cards-bind-code-title",
        };
        BindPage {
            c: Chrome::new(v, title, true),
            step,
            card_number: String::new(),
            bank_name: String::new(),
            card_type: String::new(),
            luhn_warning: false,
            masked_card: String::new(),
            reserved_phone: String::new(),
            phone_masked: String::new(),
            binding_id: String::new(),
            errors: FormErrors::default(),
        }
    }

    /// The BIN lookup's answer shown above the reserved-phone field.
    fn with_card(mut self, v: &Visitor, card: &CardNumber) -> Self {
        self.card_number = card.reveal().to_owned();
        self.bank_name = bank_name(card.bank());
        self.card_type = card_type(&v.tr, card.card_type());
        self.luhn_warning = card.luhn_warning();
        self.masked_card = v.tr.t1("cards-ending", "last4", card.last4());
        self
    }

    fn respond(self, v: &Visitor, status: Option<StatusCode>) -> Response {
        let status = status.unwrap_or(if self.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY });
        (v.cookies(), html(status, &self)).into_response()
    }
}

/// The field error for a card number the BIN table refuses.
fn card_error(tr: &Tr, e: &CardError) -> String {
    match e {
        CardError::NotDigits => tr.t("cards-field-not-digits"),
        CardError::UnknownBin => tr.t("cards-field-unknown-bin"),
        CardError::WrongLength { expected, .. } => tr.t1("cards-field-wrong-length", "digits", &expected.to_string()),
        CardError::LuhnFailed => tr.t("cards-field-luhn"),
    }
}

/// Whether the user may bind cards (a verified identity), as the capabilities page reads it.
async fn verified(state: &WebState, s: &Signed) -> Result<bool, Problem> {
    let standing = idlink_api::routes::identity::standing(&state.app, &s.session, s.visitor.request_id.as_ref()).await?;
    Ok(!matches!(standing, Standing::Unverified))
}

/// `GET /h5/cards/bind`: the card number (or, unverified, where to verify first).
async fn bind_page(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    match verified(&state, &s).await {
        Ok(true) => {
            // The bank-card and ID-number consents first (issue 18), then the card's number.
            let consents = &idlink_core::balance::BALANCE_CONSENTS;
            match crate::pages::consents::ask_first(&state, &s.session.user_id, consents, "/h5/cards/bind").await {
                Some(to) => to,
                None => BindPage::new(v, BindStep::Number).respond(v, None),
            }
        }
        Ok(false) => BindPage::new(v, BindStep::Unverified).respond(v, None),
        Err(p) => problem_page(v, state.app.clock.now(), &p, "/h5/cards"),
    }
}

#[derive(Deserialize)]
pub struct BindForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    reserved_phone: String,
}

/// `POST /h5/cards/bind`: looks the number up in the BIN table; shows the bank and card type.
async fn bind_check(s: Signed, Form(f): Form<BindForm>) -> Response {
    let v = &s.visitor;
    match CardNumber::parse(f.card_number.trim(), BinTable::bundled()) {
        Ok(card) => BindPage::new(v, BindStep::Phone).with_card(v, &card).respond(v, None),
        Err(e) => {
            let mut page = BindPage::new(v, BindStep::Number);
            page.card_number = f.card_number.trim().to_owned();
            page.errors.add("card_number", card_error(&v.tr, &e));
            page.respond(v, None)
        }
    }
}

/// `POST /h5/cards/bind/send`: the bank checks the card against the verified
/// identity and the reserved phone, and sends its code there.
async fn bind_send(State(state): State<WebState>, s: Signed, Form(f): Form<BindForm>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let Ok(card) = CardNumber::parse(f.card_number.trim(), BinTable::bundled()) else {
        return Redirect::to("/h5/cards/bind").into_response();
    };
    let typed = f.reserved_phone.trim();
    let again = |field: &str, message: String| {
        let mut page = BindPage::new(v, BindStep::Phone).with_card(v, &card);
        page.reserved_phone = typed.to_owned();
        page.errors.add(field, message);
        page
    };
    let Ok(phone) = PhoneNumber::parse(typed) else {
        return again("reserved_phone", v.tr.t("field-invalid_phone")).respond(v, None);
    };
    match state.app.bindings().start(&s.session, v.request_id.as_ref(), &card, &phone).await {
        Ok(row) => {
            let mut page = BindPage::new(v, BindStep::Code).with_card(v, &card);
            page.card_number = String::new();
            page.phone_masked = phone.masked();
            page.binding_id = row.id.as_str().to_owned();
            page.respond(v, None)
        }
        Err(e) => {
            let p = Problem::from(e);
            if p.code.as_str() == "identity_not_verified" {
                return BindPage::new(v, BindStep::Unverified).respond(v, Some(status_of(&p)));
            }
            // The refusal is shown at the field the user must fix: the number
            // (back to its step) when the bank refuses the card itself.
            let at_phone = p.errors.iter().any(|e| e.pointer == "/reserved_phone");
            let about_card = !at_phone && matches!(p.code.as_str(), "bank_card_check_failed" | "card_already_bound");
            let mut page = again(if about_card { "card_number" } else { "reserved_phone" }, sentence(&v.tr, now, &p));
            if about_card {
                page.step = BindStep::Number;
            }
            page.respond(v, Some(if p.status >= 500 { status_of(&p) } else { StatusCode::UNPROCESSABLE_ENTITY }))
        }
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    binding_id: String,
    #[serde(default)]
    code: String,
}

/// `POST /h5/cards/bind/confirm`: the bank's code activates the binding.
async fn bind_confirm(State(state): State<WebState>, s: Signed, Form(f): Form<ConfirmForm>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let Some(id) = parse_id(&f.binding_id) else { return Redirect::to("/h5/cards").into_response() };
    let code = f.code.trim();
    let refused = |message: String, status: StatusCode| {
        let mut page = BindPage::new(v, BindStep::Code);
        page.binding_id = id.as_str().to_owned();
        page.errors.add("code", message);
        page.respond(v, Some(status))
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return refused(v.tr.t("field-invalid_code"), StatusCode::UNPROCESSABLE_ENTITY);
    }
    match state.app.bindings().confirm(&s.session, v.request_id.as_ref(), &id, code).await {
        Ok(bound) => {
            let done = if bound.risk == idlink_domain::risk::RiskDecision::Freeze { "bound-review" } else { "bound" };
            (v.cookies(), Redirect::to(&format!("/h5/cards/{}?done={done}", id.as_str()))).into_response()
        }
        Err(e) => {
            let p = Problem::from(e);
            let status = if p.status >= 500 { status_of(&p) } else { StatusCode::UNPROCESSABLE_ENTITY };
            refused(sentence(&v.tr, now, &p), status)
        }
    }
}

// ---------------------------------------------------------------- one card

/// Tier 4 as the card page shows it.
#[derive(Debug, Clone)]
pub struct AgreementTier {
    pub required: bool,
    /// `in_force`, `not_signed` or `outdated` (`not_required` when not required).
    pub state: &'static str,
    pub words: String,
    pub version: String,
    pub valid_until: String,
}

/// The four tiers (BK3) of an active card.
#[derive(Debug, Clone)]
pub struct TiersView {
    pub bound_since: String,
    pub switch_on: bool,
    pub password: PasswordState,
    pub agreement: AgreementTier,
    /// The alert threshold, in words, and as the field shows it (yuan).
    pub alert: Option<String>,
    pub alert_yuan: String,
}

/// Whether the user can pass the per-query step-up with a payment password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    Set,
    NotSet,
    Locked,
}

async fn password_state(state: &WebState, s: &Signed) -> Result<PasswordState, Problem> {
    let st = state.app.security().password_status(&s.session.user_id).await.map_err(Problem::from)?;
    Ok(match (st.set, st.locked) {
        (false, _) => PasswordState::NotSet,
        (true, true) => PasswordState::Locked,
        (true, false) => PasswordState::Set,
    })
}

/// Yuan as the field shows them: `100`, `99.5`, `0.05`.
fn yuan_text(f: Fen) -> String {
    let plain = f.to_string();
    plain.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    c: Chrome,
    card: CardView,
    tiers: Option<TiersView>,
    notice: Option<String>,
    errors: FormErrors,
    /// The alert threshold as typed (after an error).
    alert_typed: Option<String>,
}

async fn tiers_view(state: &WebState, s: &Signed, id: &BindingId) -> Result<TiersView, Problem> {
    let tr = &s.visitor.tr;
    let now = state.app.clock.now();
    let t = state.app.balances().tiers(&s.session, id).await.map_err(Problem::from)?;
    let (state_name, words, version, valid_until) = match t.agreement_status {
        AgreementStatus::NotRequired => ("not_required", tr.t("cards-agreement-not-required"), String::new(), String::new()),
        AgreementStatus::InForce => {
            let a = t.agreement.as_ref();
            let until = a.map(|a| tr.datetime(a.valid_until)).unwrap_or_default();
            let version = a.map(|a| a.document_version.clone()).unwrap_or_default();
            ("in_force", tr.t1("cards-agreement-in-force", "until", &until), version, until)
        }
        AgreementStatus::NotSigned => ("not_signed", tr.t("cards-agreement-not-signed"), String::new(), String::new()),
        AgreementStatus::Outdated => {
            let old = t.outdated_agreement.as_ref().map(|a| a.document_version.clone()).unwrap_or_default();
            ("outdated", tr.t1("cards-agreement-outdated", "old", &old), old, String::new())
        }
    };
    let bound_since = match binding_of(state, s, id).await?.and_then(|b| b.bound_at) {
        Some(at) => tr.t1("cards-tier-binding-since", "date", &when(tr, now, at)),
        None => tr.t("cards-status-active"),
    };
    Ok(TiersView {
        bound_since,
        switch_on: t.balance_query_enabled,
        password: password_state(state, s).await?,
        agreement: AgreementTier { required: t.agreement_required, state: state_name, words, version, valid_until },
        alert: t.low_balance_alert.map(|f| tr.t1("cards-alert-current", "amount", &tr.money(f))),
        alert_yuan: t.low_balance_alert.map(yuan_text).unwrap_or_default(),
    })
}

/// Renders a card's page (with `errors` on the alert field, if any).
async fn card_page(state: &WebState, s: &Signed, id: &BindingId, d: &Done, errors: FormErrors, typed: Option<String>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let row = match binding_of(state, s, id).await {
        Ok(Some(row)) => row,
        Ok(None) => return problem_page(v, now, &Problem::from(idlink_core::bindings::BindingError::NotFound), "/h5/cards"),
        Err(p) => return problem_page(v, now, &p, "/h5/cards"),
    };
    let card = card_view(state, &v.tr, &row);
    let tiers = if card.active {
        match tiers_view(state, s, id).await {
            Ok(t) => Some(t),
            Err(p) => return problem_page(v, now, &p, "/h5/cards"),
        }
    } else {
        None
    };
    let mut c = Chrome::new(v, "cards-card-title", true);
    c.title = format!("{} {}", card.bank_name, card.ending);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = CardPage { c, card, tiers, notice: notice(&v.tr, d), errors, alert_typed: typed };
    (v.cookies(), html(status, &page)).into_response()
}

/// `GET /h5/cards/{id}`: one card, its tiers, its policy, its alert.
async fn card(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, Query(d): Query<Done>) -> Response {
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    card_page(&state, &s, &id, &d, FormErrors::default(), None).await
}

#[derive(Template)]
#[template(path = "card_unbind.html")]
struct UnbindPage {
    c: Chrome,
    card: CardView,
}

/// `GET /h5/cards/{id}/unbind`: asks before unbinding (tier 1).
async fn unbind_page(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    match binding_of(&state, &s, &id).await {
        Ok(Some(row)) => {
            let page = UnbindPage { c: Chrome::new(v, "cards-unbind-title", true), card: card_view(&state, &v.tr, &row) };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Ok(None) => problem_page(v, now, &Problem::from(idlink_core::bindings::BindingError::NotFound), "/h5/cards"),
        Err(p) => problem_page(v, now, &p, "/h5/cards"),
    }
}

/// `POST /h5/cards/{id}/unbind`: ends the binding, at once.
async fn unbind(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    match state.app.bindings().end(&s.session, v.request_id.as_ref(), &id).await {
        Ok(()) => (v.cookies(), Redirect::to("/h5/cards?done=unbound")).into_response(),
        Err(e) => problem_page(v, state.app.clock.now(), &Problem::from(e), "/h5/cards"),
    }
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    enabled: String,
    /// The card page to come back to.
    #[serde(default)]
    back: String,
}

/// `POST /h5/cards/switch`: the "balance query" feature on or off (tier 2, for every card).
async fn set_switch(State(state): State<WebState>, s: Signed, Form(f): Form<SwitchForm>) -> Response {
    let v = &s.visitor;
    let on = f.enabled == "1";
    let back = parse_id(&f.back).map_or_else(|| "/h5/cards".to_owned(), |id| format!("/h5/cards/{}", id.as_str()));
    match state.app.balances().set_switch(&s.session, v.request_id.as_ref(), on).await {
        Ok(()) => {
            let done = if on { "switch-on" } else { "switch-off" };
            (v.cookies(), Redirect::to(&format!("{back}?done={done}"))).into_response()
        }
        Err(e) => problem_page(v, state.app.clock.now(), &Problem::from(e), &back),
    }
}

#[derive(Deserialize)]
pub struct AlertForm {
    #[serde(default)]
    threshold: String,
    /// `clear` turns the alert off.
    #[serde(default)]
    action: String,
}

/// The largest threshold the API accepts, in fen.
const MAX_THRESHOLD_FEN: i64 = 100_000_000_000;

/// Yuan as typed ("100", "99.5", "1,000.05", "¥20") to whole fen, on integers only.
pub fn parse_yuan(typed: &str) -> Option<Fen> {
    let cleaned: String = typed.trim().trim_start_matches(['¥', '￥']).chars().filter(|c| !matches!(c, ',' | ' ' | '，')).collect();
    let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 || whole.len() > 12 {
        return None;
    }
    let yuan: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let total = yuan.checked_mul(100)?.checked_add(fen)?;
    (1..=MAX_THRESHOLD_FEN).contains(&total).then_some(Fen(total))
}

/// `POST /h5/cards/{id}/alert`: sets or clears the low-balance alert (BK6).
async fn set_alert(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, Form(f): Form<AlertForm>) -> Response {
    let v = &s.visitor;
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    let threshold = if f.action == "clear" {
        None
    } else {
        match parse_yuan(&f.threshold) {
            Some(fen) => Some(fen),
            None => {
                let mut errors = FormErrors::default();
                errors.add("threshold", v.tr.t("cards-field-threshold"));
                return card_page(&state, &s, &id, &Done { done: String::new() }, errors, Some(f.threshold.trim().to_owned())).await;
            }
        }
    };
    match state.app.bindings().set_low_balance_alert(&s.session, v.request_id.as_ref(), &id, threshold).await {
        Ok(()) => {
            let done = if threshold.is_some() { "alert-set" } else { "alert-cleared" };
            (v.cookies(), Redirect::to(&format!("/h5/cards/{}?done={done}", id.as_str()))).into_response()
        }
        Err(e) => problem_page(v, state.app.clock.now(), &Problem::from(e), &format!("/h5/cards/{}", id.as_str())),
    }
}

// ---------------------------------------------------------------- agreement

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    c: Chrome,
    card: CardView,
    doc_title: String,
    version: String,
    sha256: String,
    /// The document's paragraphs, shown unchanged (it is published in zh-CN).
    paragraphs: Vec<String>,
    validity: String,
    /// Where tier 4 stands now, in words.
    status: String,
    signed: bool,
}

/// `GET /h5/cards/{id}/agreement`: the bank's current agreement in full, with
/// its version and SHA-256, before the user signs it (tier 4).
async fn agreement(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    let back = format!("/h5/cards/{}", id.as_str());
    let row = match binding_of(&state, &s, &id).await {
        Ok(Some(row)) if row.status == BindingStatus::Active => row,
        Ok(_) => return problem_page(v, now, &Problem::from(idlink_core::bindings::BindingError::NotFound), "/h5/cards"),
        Err(p) => return problem_page(v, now, &p, "/h5/cards"),
    };
    // The same document the API serves at GET /v1/banks/{code}/agreement.
    let doc = match state.app.documents.lookup(&row.bank) {
        Ok(doc) => doc.clone(),
        Err(e) => return problem_page(v, now, &idlink_api::errors::document_problem(e, &row.bank), &back),
    };
    let tiers = match tiers_view(&state, &s, &id).await {
        Ok(t) => t,
        Err(p) => return problem_page(v, now, &p, &back),
    };
    let page = AgreementPage {
        c: Chrome::new(v, "cards-agreement-title", true),
        card: card_view(&state, &v.tr, &row),
        doc_title: doc.title.clone(),
        version: doc.version.clone(),
        sha256: doc.sha256.clone(),
        paragraphs: doc.text.lines().map(str::to_owned).filter(|l| !l.trim().is_empty()).collect(),
        validity: v.tr.tn("cards-agreement-validity", "days", doc.validity_days),
        signed: tiers.agreement.state == "in_force",
        status: tiers.agreement.words,
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[derive(Deserialize)]
pub struct SignForm {
    #[serde(default)]
    document_version: String,
    #[serde(default)]
    document_hash: String,
}

/// `POST /h5/cards/{id}/agreement`: signs the version and hash the page showed.
async fn sign(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, Form(f): Form<SignForm>) -> Response {
    let v = &s.visitor;
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    let back = format!("/h5/cards/{}/agreement", id.as_str());
    match state.app.balances().sign_agreement(&s.session, v.request_id.as_ref(), &id, &f.document_version, &f.document_hash).await {
        Ok(_) => (v.cookies(), Redirect::to(&format!("/h5/cards/{}?done=signed", id.as_str()))).into_response(),
        Err(e) => problem_page(v, state.app.clock.now(), &Problem::from(e), &back),
    }
}

/// `POST /h5/cards/{id}/agreement/revoke`: revokes the agreement (tier 4), at once.
async fn revoke_agreement(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let Some(id) = parse_id(&raw) else { return crate::pages::render::not_found(s.visitor).await };
    let back = format!("/h5/cards/{}", id.as_str());
    match state.app.balances().revoke_agreement(&s.session, v.request_id.as_ref(), &id).await {
        Ok(_) => (v.cookies(), Redirect::to(&format!("{back}?done=revoked"))).into_response(),
        Err(e) => problem_page(v, state.app.clock.now(), &Problem::from(e), &back),
    }
}

// ---------------------------------------------------------------- balance

/// The answer to a balance query, in words.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The amount, or the range.
    pub figure: String,
    pub precision: String,
    pub freshness: String,
    pub low_balance: Option<String>,
}

#[derive(Template)]
#[template(path = "balance.html")]
struct BalancePage {
    c: Chrome,
    card: CardView,
    password: PasswordState,
    answer: Option<Answer>,
    /// A refusal that is not about the password (switch off, agreement, bank): said above the pad.
    refusal: Option<String>,
    errors: FormErrors,
    /// The security pages' shared payment-password pad.
    pad: crate::pages::security::Pad,
}

impl BalancePage {
    fn new(v: &Visitor, card: CardView, password: PasswordState) -> Self {
        let mut c = Chrome::new(v, "cards-balance-title", true);
        c.title = v.tr.t1("cards-balance-of", "card", &format!("{} {}", card.bank_name, card.ending));
        let pad = Self::pad(v, &FormErrors::default());
        BalancePage { c, card, password, answer: None, refusal: None, errors: FormErrors::default(), pad }
    }

    /// The pad, labelled for this query (it allows this one query on this card).
    fn pad(v: &Visitor, errors: &FormErrors) -> crate::pages::security::Pad {
        crate::pages::security::Pad::new("password", v.tr.t("cards-pad-label"), v.tr.t("cards-pad-hint"), errors, true)
    }

    /// The pad again with `message` on it.
    fn refuse_password(&mut self, v: &Visitor, message: String) {
        self.errors.add("password", message);
        self.pad = Self::pad(v, &self.errors);
    }
}

fn answer_words(tr: &Tr, now: Timestamp, a: &idlink_core::balance::BalanceAnswer) -> Option<Answer> {
    let figure = match a.disclosed {
        Disclosed::Amount { fen } => tr.money(fen),
        Disclosed::Range { low, high } => format!("{} – {}", tr.money(low), tr.money(high)),
        Disclosed::Closed => return None,
    };
    let precision = match a.precision {
        Precision::Yuan => tr.t("cards-answer-yuan"),
        Precision::Jiao => tr.t("cards-answer-jiao"),
        Precision::Range { .. } => tr.t("cards-answer-range"),
        Precision::Closed => tr.t("cards-precision-closed"),
    };
    // Two sentences, each with one argument (the `Tr` helpers take one).
    let freshness = if a.as_of == a.next_refresh_at {
        tr.t1("cards-answer-real-time", "at", &when(tr, now, a.as_of))
    } else {
        // English puts a space between sentences; Chinese does not.
        let gap = if tr.locale == crate::i18n::Locale::En { " " } else { "" };
        format!(
            "{}{gap}{}",
            tr.t1("cards-answer-as-of", "at", &when(tr, now, a.as_of)),
            tr.t1("cards-answer-next", "at", &when(tr, now, a.next_refresh_at))
        )
    };
    Some(Answer { figure, precision, freshness, low_balance: a.low_balance_alert.then(|| tr.t("cards-answer-low")) })
}

/// The card of a balance page: an active one that is the user's, else the page to show instead.
async fn active_card(state: &WebState, s: &Signed, raw: &str) -> Result<(BindingId, CardView, PasswordState), Response> {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let Some(id) = parse_id(raw) else { return Err(crate::pages::render::not_found(v.clone()).await) };
    let row = match binding_of(state, s, &id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(problem_page(v, now, &Problem::from(idlink_core::bindings::BindingError::NotFound), "/h5/cards")),
        Err(p) => return Err(problem_page(v, now, &p, "/h5/cards")),
    };
    let back = format!("/h5/cards/{}", id.as_str());
    if row.status == BindingStatus::Ended && row.end_reason.as_deref() == Some("card_reported_lost") {
        let p = Problem::from(idlink_core::balance::BalanceError::CardLost);
        return Err(problem_page(v, now, &p, &back));
    }
    if row.status != BindingStatus::Active {
        return Err(problem_page(v, now, &Problem::from(idlink_core::bindings::BindingError::NotFound), &back));
    }
    let password = match password_state(state, s).await {
        Ok(p) => p,
        Err(p) => return Err(problem_page(v, now, &p, &back)),
    };
    Ok((id, card_view(state, &v.tr, &row), password))
}

/// `GET /h5/cards/{id}/balance`: the payment-password pad (tier 3), or why it cannot be asked.
async fn balance_pad(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let consents = &idlink_core::balance::BALANCE_CONSENTS;
    let here = format!("/h5/cards/{}/balance", raw.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>());
    if let Some(to) = crate::pages::consents::ask_first(&state, &s.session.user_id, consents, &here).await {
        return to;
    }
    let (_, card, password) = match active_card(&state, &s, &raw).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let page = BalancePage::new(v, card, password);
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[derive(Deserialize)]
pub struct PadForm {
    #[serde(default)]
    password: String,
}

/// `POST /h5/cards/{id}/balance`: the password mints a single-use step-up
/// token for `balance.query` on this card (as `POST /v1/me/payment-password/verify`
/// does), spent at once on the query (as `POST /v1/me/cards/{id}/balance` does).
async fn balance_query(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, Form(f): Form<PadForm>) -> Response {
    let v = &s.visitor;
    let now = state.app.clock.now();
    let (id, card, password) = match active_card(&state, &s, &raw).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let mut page = BalancePage::new(v, card, password);
    let typed = f.password.trim();
    if !crate::pages::security::six_digits(typed) {
        page.refuse_password(v, v.tr.t("cards-field-password"));
        return (v.cookies(), html(StatusCode::UNPROCESSABLE_ENTITY, &page)).into_response();
    }
    // The security pages' step-up: what the API's `POST /v1/me/payment-password/verify` does.
    let token =
        match crate::pages::security::step_up_with_password(&state, &s, idlink_core::stepup::BALANCE_QUERY, id.as_str(), typed).await {
            Ok(t) => t,
            Err(p) => {
                // A refused password says how many tries are left (the security pages' sentence).
                let said = if p.code.as_str() == "payment_password_refused" {
                    crate::pages::security::refusal_message(&state, &s, &p).await
                } else {
                    sentence(&v.tr, now, &p)
                };
                page.refuse_password(v, said);
                let status = if p.status >= 500 { status_of(&p) } else { StatusCode::UNPROCESSABLE_ENTITY };
                return (v.cookies(), html(status, &page)).into_response();
            }
        };
    let rid = v.request_id.as_ref();
    // A closed bank's answer has no figure: it is the refusal the API gives it.
    let answer = state.app.balances().query(&s.session, rid, &id, Some(&token), None).await.map(|a| answer_words(&v.tr, now, &a));
    let refused = match answer {
        Ok(Some(answer)) => {
            page.answer = Some(answer);
            return (v.cookies(), html(StatusCode::OK, &page)).into_response();
        }
        Ok(None) => Problem::from(idlink_core::balance::BalanceError::Closed),
        Err(e) => Problem::from(e),
    };
    page.refusal = Some(sentence(&v.tr, now, &refused));
    (v.cookies(), html(status_of(&refused), &page)).into_response()
}

// ---------------------------------------------------------------- history

/// One balance query, in words.
#[derive(Debug, Clone)]
pub struct QueryRow {
    pub card: String,
    pub at: String,
    pub who: String,
    pub channel: String,
    pub precision: String,
    pub outcome: String,
    pub refused: bool,
}

#[derive(Template)]
#[template(path = "cards_history.html")]
struct HistoryPage {
    c: Chrome,
    rows: Vec<QueryRow>,
}

/// The catalogue's words for `key`, or `fallback` where it has none (a value added later).
fn words(tr: &Tr, key: &str, fallback: &str) -> String {
    if has_key(tr.locale, key) { tr.t(key) } else { fallback.to_owned() }
}

/// `GET /h5/cards/history`: every balance query on my cards, refused ones too (BK6).
async fn history(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    let tr = &v.tr;
    let now = state.app.clock.now();
    let (records, cards) =
        match (state.app.balances().history(&s.session.user_id).await, state.app.bindings().list(&s.session.user_id).await) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(e), _) => return problem_page(v, now, &Problem::from(e), "/h5/cards"),
            (_, Err(e)) => return problem_page(v, now, &Problem::from(e), "/h5/cards"),
        };
    let rows = records
        .iter()
        .map(|q| {
            let last4 = cards.iter().find(|b| b.id == q.binding_id).map(|b| b.last4.clone());
            let card = match last4 {
                Some(l) => format!("{} {}", bank_name(&q.bank), tr.t1("cards-ending", "last4", &l)),
                None => bank_name(&q.bank),
            };
            let who = if q.actor.starts_with("user:") { tr.t("cards-who-you") } else { tr.t("cards-who-service") };
            let outcome = match (q.outcome.as_str(), q.reason.as_deref()) {
                ("refused", Some(reason)) => {
                    tr.t1("cards-outcome-refused-because", "why", &words(tr, &format!("cards-why-{reason}"), reason))
                }
                (o, _) => words(tr, &format!("cards-outcome-{o}"), o),
            };
            QueryRow {
                card,
                at: tr.datetime(q.at),
                who,
                channel: words(tr, &format!("cards-channel-{}", q.channel), &q.channel),
                precision: words(tr, &format!("cards-history-precision-{}", q.precision), &q.precision),
                refused: q.outcome == "refused",
                outcome,
            }
        })
        .collect();
    let page = HistoryPage { c: Chrome::new(v, "cards-history-title", true), rows };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_are_read_to_whole_fen_without_floats() {
        assert_eq!(parse_yuan("100"), Some(Fen(10_000)));
        assert_eq!(parse_yuan(" 99.5 "), Some(Fen(9_950)));
        assert_eq!(parse_yuan("0.05"), Some(Fen(5)));
        assert_eq!(parse_yuan("1,000.10"), Some(Fen(100_010)));
        assert_eq!(parse_yuan("¥20"), Some(Fen(2_000)));
        assert_eq!(parse_yuan(".5"), Some(Fen(50)));
        assert_eq!(parse_yuan("1000000000"), Some(Fen(MAX_THRESHOLD_FEN)));
        for bad in ["", "0", "0.00", "-5", "1.234", "abc", "1e3", "1.2.3", "1000000000.01", "99999999999999999999"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
        assert_eq!(yuan_text(Fen(10_000)), "100");
        assert_eq!(yuan_text(Fen(9_950)), "99.5");
        assert_eq!(yuan_text(Fen(5)), "0.05");
    }

    #[test]
    fn times_are_said_relative_to_today_in_shanghai() {
        let tr = Tr::new(crate::i18n::Locale::En);
        let now: Timestamp = "2026-11-30T04:00:00Z".parse().unwrap_or_default(); // 12:00 in Shanghai
        let at = |s: &str| s.parse::<Timestamp>().unwrap_or_default();
        assert_eq!(when(&tr, now, at("2026-11-30T10:00:00Z")), "today 18:00");
        assert_eq!(when(&tr, now, at("2026-12-01T10:00:00Z")), "tomorrow 18:00");
        assert_eq!(when(&tr, now, at("2026-11-29T10:00:00Z")), "yesterday 18:00");
        assert_eq!(when(&tr, now, at("2026-11-25T16:00:00Z")), "26 Nov 2026, 00:00");
        let zh = Tr::new(crate::i18n::Locale::ZhCn);
        assert_eq!(when(&zh, now, at("2026-12-01T10:00:00Z")), "明天 18:00");
    }

    /// Keys these pages build from a value (the ones without a fallback) are in every catalogue.
    #[test]
    fn keys_built_from_values_exist() {
        for locale in crate::i18n::Locale::ALL {
            let mut keys: Vec<String> = NOTICES.iter().map(|n| format!("cards-done-{n}")).collect();
            keys.extend((1..=7).map(|d| format!("cards-weekday-{d}")));
            for code in
                ["balance_query_disabled", "balance_query_suspended", "card_reported_lost", "agreement_required", "bank_unavailable"]
            {
                keys.push(format!("problem-{code}"));
                keys.push(format!("cards-why-{code}"));
            }
            for k in keys {
                assert!(has_key(locale, &k), "{}: {k}", locale.tag());
            }
        }
    }

    #[test]
    fn policies_read_in_words() {
        let tr = Tr::new(crate::i18n::Locale::En);
        assert_eq!(freshness_words(&tr, Freshness::Weekly { weekday: 3, hour: 0 }), "weekly, on Wednesday at 00:00");
        assert_eq!(freshness_words(&tr, Freshness::Daily { hour: 18, minute: 0 }), "daily at 18:00");
        assert_eq!(precision_words(&tr, Precision::Range { width: 50_000 }), "as a range of CNY 500.00");
        let hk = Tr::new(crate::i18n::Locale::ZhHk);
        assert_eq!(freshness_words(&hk, Freshness::Weekly { weekday: 3, hour: 0 }), "每週星期三 00:00");
    }
}
