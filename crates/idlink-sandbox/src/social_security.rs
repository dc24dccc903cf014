//! The sandbox provincial social-security bureaus (issue 16, SPEC SS2–SS4):
//! one per province, each reached over a primary and an alternate channel
//! (`/ssb/{province}/primary` and `/ssb/{province}/alternate`), speaking
//! the protocol of `idlink_connectors::social_security`
//! (`docs/social-security.md`).
//!
//! Every person has a card, made up from their ID number and held by the
//! bureau of the province their number was issued in: a nine-character card
//! number, the QR payload printed on the card, a financial account at a bank
//! of the roster (a number valid for the bank's BIN), pension and medical
//! accounts with twelve months of statements. A lookup sends the bureau's
//! dynamic code to the phone idlink names (the sandbox SMS inbox); its
//! confirmation discloses the card. Medical payments settle against the
//! card, once per `settlement_ref`.
//!
//! Test values, by the ID number's sequence code (digits 15–17): `444` →
//! the card is reported stolen (a theft-binding risk), `555` → not insured
//! (no card). A lookup at another province's bureau answers `other_region`
//! with the card's region. Channel faults are scripted with
//! `POST /sandbox/v1/social-security/channels {"province": "44", "channel":
//! "primary" | "alternate", "mode": "ok" | "busy" | "down" | "slow" |
//! "lost_answer", "slow_ms"?}`: `busy` answers 503 with `Retry-After`,
//! `down` 500, `slow` after `slow_ms` (8000 by default, past the
//! connectors' deadline), `lost_answer` makes a settlement and answers 502
//! (the charge made, its answer lost). A maintenance window on
//! `ssb:44:primary` reads as busy too.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared, sms};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use idlink_domain::PhoneNumber;
use idlink_domain::card::{BinTable, luhn_check_digit};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The mainland's provincial-level codes (two digits) the sandbox serves.
const PROVINCES: [&str; 31] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50",
    "51", "52", "53", "54", "61", "62", "63", "64", "65",
];
const CHANNELS: [&str; 2] = ["primary", "alternate"];

/// How a channel answers, as scripted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Ok,
    /// 503 with `Retry-After`: the bureau is busy.
    Busy,
    /// 500.
    Down,
    /// The right answer, late.
    Slow,
    /// A settlement is made but its answer is lost (a 502): the bureau
    /// charged, the caller does not know it (reconciliation finds it).
    LostAnswer,
}

/// A person's social-security card as the bureau holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub card_ref: String,
    pub card_number: String,
    /// The issuing area (GB/T 2260, six digits).
    pub region: String,
    pub qr_payload: String,
    pub financial_account: FinancialAccount,
    #[serde(skip)]
    pub id_number: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FinancialAccount {
    pub bank_code: String,
    pub card_number: String,
}

/// The sandbox bureaus' state.
pub struct Bureaus {
    shared: Arc<Shared>,
    sms: Arc<sms::Gateway>,
    /// (bank code, a debit card number of the bank): templates for financial accounts.
    banks: Vec<(String, String)>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    modes: HashMap<(String, String), (Mode, u64)>,
    /// Dynamic codes by reference: the card they were sent for, and the code.
    codes: HashMap<String, (Card, String)>,
    /// Cards disclosed, by card ref.
    cards: HashMap<String, Card>,
    settlements: HashMap<String, Settlement>,
    /// Settlement refs voided before any settlement: a settle with one is refused for good.
    voided: std::collections::HashSet<String>,
    /// Service requests by id, and their ids by the caller's ref.
    services: HashMap<String, Service>,
    service_refs: HashMap<String, String>,
    /// Unemployment-benefit payments by card ref.
    benefits: HashMap<String, Vec<Benefit>>,
    serial: u64,
}

#[derive(Debug, Clone)]
struct Service {
    kind: String,
    submitted_at: Timestamp,
    rejected: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
struct Benefit {
    payment_id: String,
    month: String,
    amount_fen: i64,
    paid_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
struct Settlement {
    settlement_id: String,
    card_ref: String,
    amount_fen: i64,
    medical_account_fen: i64,
    pooled_fund_fen: i64,
    settled_at: Timestamp,
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

fn number_from(d: &[u8], digits: usize) -> u64 {
    let n = d.iter().take(8).fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    n % 10u64.pow(digits.min(18) as u32)
}

/// The QR payload printed on a card: its number, its area and a check.
pub fn qr_payload(card_number: &str, region: &str) -> String {
    let check = hex::encode(&digest(&["ssc-qr", card_number, region])[..4]);
    format!("SSC1:{card_number}:{region}:{check}")
}

/// The card number a QR payload names, if its check holds.
fn card_of_qr(payload: &str) -> Option<String> {
    let mut parts = payload.split(':');
    let (Some("SSC1"), Some(number), Some(region), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (qr_payload(number, region) == payload).then(|| number.to_owned())
}

impl Bureaus {
    /// `banks`: the sandbox banks' debit cards, one per bank, from which financial accounts are made.
    pub fn new(shared: Arc<Shared>, sms: Arc<sms::Gateway>, banks: Vec<(String, String)>) -> Self {
        Self { shared, sms, banks, inner: Mutex::new(Inner::default()) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The card of the person with this document number, or none (`555`:
    /// not insured). A resident's card is held in the province their ID
    /// number was issued in; a passport or permit holder's in `province`.
    pub fn card_for(&self, id_number: &str, province: &str) -> Option<Card> {
        self.card_of(id_number, id_number.len() == 18, province)
    }

    /// [`Self::card_for`] with the document's kind as the caller named it.
    fn card_of(&self, id_number: &str, resident: bool, province: &str) -> Option<Card> {
        if !id_number.is_ascii() || id_number.len() < 5 || id_number.len() > 18 || id_number.get(14..17) == Some("555") {
            return None;
        }
        let d = digest(&["ssc-card", id_number]);
        let letter = char::from(b'A' + d[0] % 26);
        let card_number = format!("{letter}{:08}", number_from(&d[1..], 8));
        let region = if resident { id_number.get(..6)?.to_owned() } else { format!("{province}0000") };
        let financial_account = self.financial_account(&d);
        Some(Card {
            card_ref: format!("ssc-{}", hex::encode(&digest(&["ssc-ref", &card_number])[..8])),
            qr_payload: qr_payload(&card_number, &region),
            card_number,
            region,
            financial_account,
            id_number: id_number.to_owned(),
        })
    }

    /// A debit card at one of the banks, valid for its BIN (Luhn, the BIN table names the bank).
    fn financial_account(&self, d: &[u8; 32]) -> FinancialAccount {
        let Some((bank, template)) = self.banks.get(usize::from(d[9]) % self.banks.len().max(1)) else {
            return FinancialAccount { bank_code: String::new(), card_number: String::new() };
        };
        let table = BinTable::bundled();
        let fill = template.len().saturating_sub(7);
        for attempt in 0..50u8 {
            let serial = number_from(&digest(&["ssc-account", &hex::encode(d), &attempt.to_string()]), fill);
            let body = format!("{}{serial:0fill$}", &template[..6]);
            let number = format!("{body}{}", luhn_check_digit(&body));
            if table.lookup(&number).is_ok_and(|e| e.bank == *bank) {
                return FinancialAccount { bank_code: bank.clone(), card_number: number };
            }
        }
        FinancialAccount { bank_code: bank.clone(), card_number: template.clone() }
    }

    /// The channel's script, or the answer it forces now.
    async fn gate(&self, province: &str, channel: &str) -> Option<Response> {
        if !PROVINCES.contains(&province) || !CHANNELS.contains(&channel) {
            return Some(error(StatusCode::NOT_FOUND, "unknown_bureau", "no such province or channel"));
        }
        if let Some(res) = maintenance_answer(&self.shared, &format!("ssb:{province}:{channel}")) {
            return Some(res);
        }
        let (mode, slow_ms) = self.inner().modes.get(&(province.to_owned(), channel.to_owned())).copied().unwrap_or_default();
        match mode {
            Mode::Ok | Mode::LostAnswer => None,
            Mode::Busy => Some(crate::control::busy("the bureau")),
            Mode::Down => Some(crate::control::failed("the bureau")),
            Mode::Slow => {
                tokio::time::sleep(std::time::Duration::from_millis(slow_ms)).await;
                None
            }
        }
    }
}

pub fn institution(b: Arc<Bureaus>) -> Institution {
    let maintenance_also = PROVINCES.iter().flat_map(|p| CHANNELS.iter().map(move |c| format!("ssb:{p}:{c}"))).collect();
    Institution {
        maintenance: &[],
        maintenance_also,
        index: Some((
            "social_security",
            serde_json::json!({
                "base": "/ssb/{province}/{primary|alternate}/v1",
                "calls": ["POST cards/lookup", "POST cards/confirm", "GET cards/{card_ref}/accounts", "POST settlements", "POST settlements/{settlement_ref}/void",
                          "GET cards/{card_ref}/benefits", "POST service-requests", "GET service-requests/{request_id}"],
                "benefits": "POST /sandbox/v1/social-security/benefits {card_number, amount_fen}: an unemployment benefit arrives",
                "service_requests": "submitted, accepted after 1 min, in progress after 1 h, completed after 24 h of sandbox time; a transfer or filing to the card's own province is rejected (same_region)",
                "test_values": {"id_sequence_444": "card reported stolen (theft risk)", "id_sequence_555": "not insured (no card)"},
                "cards": "GET /sandbox/v1/social-security/cards/{id_number}",
                "script": "POST /sandbox/v1/social-security/channels {province, channel, mode: ok|busy|down|slow|lost_answer, slow_ms?}; maintenance names ssb:{province}:{channel}"
            }),
        )),
        router: Router::new()
            .route("/ssb/{province}/{channel}/v1/cards/lookup", post(lookup))
            .route("/ssb/{province}/{channel}/v1/cards/confirm", post(confirm))
            .route("/ssb/{province}/{channel}/v1/cards/{card_ref}/accounts", get(accounts))
            .route("/ssb/{province}/{channel}/v1/settlements", post(settle))
            .route("/ssb/{province}/{channel}/v1/settlements/{settlement_ref}/void", post(void_settlement))
            .route("/ssb/{province}/{channel}/v1/cards/{card_ref}/benefits", get(benefits))
            .route("/ssb/{province}/{channel}/v1/service-requests", post(submit_service))
            .route("/ssb/{province}/{channel}/v1/service-requests/{request_id}", get(service_status))
            .route("/sandbox/v1/social-security/benefits", post(pay_benefit))
            .route("/sandbox/v1/social-security/channels", post(script))
            .route("/sandbox/v1/social-security/cards/{id_number}", get(card))
            .with_state(b),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    province: String,
    channel: String,
    mode: Mode,
    #[serde(default)]
    slow_ms: Option<u64>,
}

async fn script(State(b): State<Arc<Bureaus>>, Json(req): Json<Script>) -> Response {
    if !PROVINCES.contains(&req.province.as_str()) || !CHANNELS.contains(&req.channel.as_str()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_script", "`province` is a two-digit code, `channel` primary or alternate");
    }
    b.inner().modes.insert((req.province, req.channel), (req.mode, req.slow_ms.unwrap_or(8_000)));
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
pub struct CardQuery {
    /// For a passport or permit holder: the province whose bureau holds the card (default 11).
    #[serde(default)]
    province: Option<String>,
}

/// A test person's card, as printed (for demos and tests: the QR payload to "scan").
async fn card(State(b): State<Arc<Bureaus>>, Path(id_number): Path<String>, Query(q): Query<CardQuery>) -> Response {
    match b.card_for(&id_number, q.province.as_deref().unwrap_or("11")) {
        Some(c) => Json(c).into_response(),
        None => error(StatusCode::NOT_FOUND, "no_card", "this person is not insured (or the ID number is not 18 characters)"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    request_ref: String,
    name: String,
    /// The holder's document number: a resident ID number unless `document_type` says otherwise.
    id_number: String,
    #[serde(default)]
    document_type: Option<String>,
    phone: String,
    #[serde(default)]
    card_number: Option<String>,
    #[serde(default)]
    qr_payload: Option<String>,
}

/// Finds the person's card by its number or its QR payload and sends the
/// bureau's dynamic code; the same `request_ref` sends the same code.
async fn lookup(State(b): State<Arc<Bureaus>>, Path((province, channel)): Path<(String, String)>, Json(req): Json<Lookup>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let Ok(phone) = PhoneNumber::parse(&req.phone) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "`phone` is not a mainland mobile number");
    };
    let named = match (&req.card_number, &req.qr_payload) {
        (Some(n), None) => n.trim().to_ascii_uppercase(),
        (None, Some(q)) => match card_of_qr(q.trim()) {
            Some(n) => n,
            None => return Json(serde_json::json!({"result": "unreadable_qr"})).into_response(),
        },
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "give `card_number` or `qr_payload`, one of them"),
    };
    if req.request_ref.is_empty() || req.name.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "`request_ref` and `name` are required");
    }
    let resident = req.document_type.as_deref().is_none_or(|t| t == "resident_id");
    let Some(card) = b.card_of(&req.id_number, resident, &province).filter(|c| c.card_number == named) else {
        return Json(serde_json::json!({"result": "no_card"})).into_response();
    };
    if card.region.get(..2) != Some(province.as_str()) {
        let region = format!("{}0000", card.region.get(..2).unwrap_or_default());
        return Json(serde_json::json!({"result": "other_region", "region": region})).into_response();
    }
    if req.id_number.get(14..17) == Some("444") {
        return Json(serde_json::json!({"result": "risk", "reason": "reported_stolen"})).into_response();
    }
    let reference = format!("ssbc-{}", hex::encode(&digest(&["ssc-code", &req.request_ref])[..8]));
    let mut inner = b.inner();
    let code = match inner.codes.get(&reference) {
        Some((_, code)) => code.clone(),
        None => {
            inner.serial += 1;
            let code = format!("{:06}", number_from(&digest(&["ssc-dyn", &reference, &inner.serial.to_string()]), 6));
            inner.codes.insert(reference.clone(), (card, code.clone()));
            code
        }
    };
    drop(inner);
    let params = BTreeMap::from([("code".to_owned(), code)]);
    sms::deliver(&b.sms, &phone, "ss_card_binding", &params, &reference);
    Json(serde_json::json!({"result": "code_sent", "reference": reference})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    reference: String,
    code: String,
}

/// Checks the dynamic code (once) and discloses the card.
async fn confirm(State(b): State<Arc<Bureaus>>, Path((province, channel)): Path<(String, String)>, Json(req): Json<Confirm>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let mut inner = b.inner();
    let Some((card, code)) = inner.codes.get(&req.reference).cloned() else {
        return Json(serde_json::json!({"result": "expired"})).into_response();
    };
    if code != req.code.trim() {
        return Json(serde_json::json!({"result": "wrong_code"})).into_response();
    }
    inner.codes.remove(&req.reference);
    inner.cards.insert(card.card_ref.clone(), card.clone());
    Json(serde_json::json!({"result": "confirmed", "card": card})).into_response()
}

/// One month's movement on an account.
#[derive(Debug, Clone, Serialize)]
struct Statement {
    /// `YYYY-MM`.
    month: String,
    /// `contribution` (pension, medical) or `payment` (medical).
    kind: &'static str,
    amount_fen: i64,
}

#[derive(Debug, Serialize)]
struct Account {
    balance_fen: i64,
    statements: Vec<Statement>,
}

/// The card's pension and medical accounts now, with the last twelve
/// months' statements; medical payments settled through the bureau count.
async fn accounts(State(b): State<Arc<Bureaus>>, Path((province, channel, card_ref)): Path<(String, String, String)>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let inner = b.inner();
    let Some(card) = inner.cards.get(&card_ref).cloned() else {
        return error(StatusCode::NOT_FOUND, "unknown_card", "no card with this ref was confirmed here");
    };
    let spent: Vec<&Settlement> = inner.settlements.values().filter(|s| s.card_ref == card_ref).collect();
    let now = b.shared.clock.now();
    let d = digest(&["ssc-accounts", &card.id_number]);
    let pension_monthly = 40_000 + i64::try_from(number_from(&d, 4)).unwrap_or(0) * 10;
    let medical_monthly = pension_monthly / 4;
    let today = idlink_domain::calendar::shanghai_today(now);
    let months: Vec<String> = (1..=12i8)
        .filter_map(|k| today.first_of_month().checked_sub(jiff::Span::new().months(k)).ok())
        .map(|m| m.strftime("%Y-%m").to_string())
        .collect();
    let statement = |kind, amount_fen| months.iter().map(move |m| Statement { month: m.clone(), kind, amount_fen });
    let mut medical: Vec<Statement> = statement("contribution", medical_monthly).collect();
    let paid: i64 = spent.iter().map(|s| s.medical_account_fen).sum();
    medical.extend(spent.iter().map(|s| Statement {
        month: idlink_domain::calendar::shanghai_today(s.settled_at).strftime("%Y-%m").to_string(),
        kind: "payment",
        amount_fen: -s.medical_account_fen,
    }));
    let base = i64::try_from(number_from(&d[8..], 3)).unwrap_or(0) * 1_000;
    Json(serde_json::json!({
        "card_ref": card_ref,
        "as_of": now,
        "pension": Account { balance_fen: base * 40 + pension_monthly * 12, statements: statement("contribution", pension_monthly).collect() },
        "medical": Account { balance_fen: base + medical_monthly * 12 - paid, statements: medical },
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settle {
    settlement_ref: String,
    card_ref: String,
    amount_fen: i64,
    terminal_id: String,
}

/// Settles a medical payment against the card: from the medical account
/// as far as it goes, the rest from the pooled fund. Idempotent by `settlement_ref`.
async fn settle(State(b): State<Arc<Bureaus>>, Path((province, channel)): Path<(String, String)>, Json(req): Json<Settle>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    if req.amount_fen <= 0 || req.settlement_ref.is_empty() || req.terminal_id.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "a positive `amount_fen`, `settlement_ref` and `terminal_id`");
    }
    let now = b.shared.clock.now();
    let mut inner = b.inner();
    let lost = inner.modes.get(&(province, channel)).is_some_and(|(m, _)| *m == Mode::LostAnswer);
    let answer = |s: &Settlement| {
        if lost {
            return error(StatusCode::BAD_GATEWAY, "answer_lost", "the settlement was made; its answer was lost");
        }
        Json(serde_json::json!({"result": "settled", "settlement": s})).into_response()
    };
    if let Some(s) = inner.settlements.get(&req.settlement_ref) {
        return answer(s);
    }
    if inner.voided.contains(&req.settlement_ref) {
        return Json(serde_json::json!({"result": "voided"})).into_response();
    }
    if !inner.cards.contains_key(&req.card_ref) {
        return Json(serde_json::json!({"result": "unknown_card"})).into_response();
    }
    inner.serial += 1;
    let medical_account_fen = req.amount_fen.min(20_000);
    let s = Settlement {
        settlement_id: format!("sst-{:08}", inner.serial),
        card_ref: req.card_ref,
        amount_fen: req.amount_fen,
        medical_account_fen,
        pooled_fund_fen: req.amount_fen - medical_account_fen,
        settled_at: now,
    };
    inner.settlements.insert(req.settlement_ref, s.clone());
    answer(&s)
}

/// Voids a `settlement_ref` for good: the settlement made under it, if
/// one was, or `voided`, after which a settle with it is refused.
/// Idempotent either way.
async fn void_settlement(
    State(b): State<Arc<Bureaus>>,
    Path((province, channel, settlement_ref)): Path<(String, String, String)>,
) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let mut inner = b.inner();
    if let Some(s) = inner.settlements.get(&settlement_ref) {
        return Json(serde_json::json!({"result": "settled", "settlement": s})).into_response();
    }
    inner.voided.insert(settlement_ref);
    Json(serde_json::json!({"result": "voided"})).into_response()
}

/// How a service request stands after this long (sandbox time).
fn service_stage(s: &Service, now: Timestamp) -> (&'static str, Option<&'static str>) {
    if let Some(reason) = s.rejected {
        return ("rejected", Some(reason));
    }
    let mins = now.duration_since(s.submitted_at).as_mins();
    let status = match mins {
        m if m < 1 => "submitted",
        m if m < 60 => "accepted",
        m if m < 24 * 60 => "in_progress",
        _ => "completed",
    };
    (status, None)
}

fn service_answer(id: &str, s: &Service, now: Timestamp) -> Response {
    let (status, reason) = service_stage(s, now);
    Json(serde_json::json!({"request_id": id, "kind": s.kind, "status": status, "reason": reason})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitService {
    request_ref: String,
    card_ref: String,
    kind: String,
    #[serde(default)]
    to_region: Option<String>,
}

/// A service request about a confirmed card; the same `request_ref` answers the same request.
async fn submit_service(
    State(b): State<Arc<Bureaus>>,
    Path((province, channel)): Path<(String, String)>,
    Json(req): Json<SubmitService>,
) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let now = b.shared.clock.now();
    let mut inner = b.inner();
    if let Some(id) = inner.service_refs.get(&req.request_ref).cloned()
        && let Some(s) = inner.services.get(&id)
    {
        return service_answer(&id, s, now);
    }
    let Some(card) = inner.cards.get(&req.card_ref).cloned() else {
        return Json(serde_json::json!({"status": "unknown_card"})).into_response();
    };
    if !["offsite_medical_filing", "relation_transfer", "retirement_certification"].contains(&req.kind.as_str()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_kind", "an unknown kind of service request");
    }
    let same = req.to_region.as_deref().and_then(|r| r.get(..2)) == card.region.get(..2);
    let rejected = (req.kind != "retirement_certification" && same).then_some("same_region");
    inner.serial += 1;
    let id = format!("ssr-{:08}", inner.serial);
    let service = Service { kind: req.kind, submitted_at: now, rejected };
    inner.service_refs.insert(req.request_ref, id.clone());
    inner.services.insert(id.clone(), service.clone());
    service_answer(&id, &service, now)
}

async fn service_status(State(b): State<Arc<Bureaus>>, Path((province, channel, request_id)): Path<(String, String, String)>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let now = b.shared.clock.now();
    let inner = b.inner();
    match inner.services.get(&request_id) {
        Some(s) => service_answer(&request_id, s, now),
        None => error(StatusCode::NOT_FOUND, "unknown_request", "no such service request"),
    }
}

/// The card's unemployment-benefit payments, oldest first.
async fn benefits(State(b): State<Arc<Bureaus>>, Path((province, channel, card_ref)): Path<(String, String, String)>) -> Response {
    if let Some(res) = b.gate(&province, &channel).await {
        return res;
    }
    let inner = b.inner();
    if !inner.cards.contains_key(&card_ref) {
        return error(StatusCode::NOT_FOUND, "unknown_card", "no card with this ref was confirmed here");
    }
    Json(serde_json::json!({"benefits": inner.benefits.get(&card_ref).cloned().unwrap_or_default()})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayBenefit {
    card_number: String,
    amount_fen: i64,
}

/// An unemployment benefit arrives on a confirmed card (sandbox control).
async fn pay_benefit(State(b): State<Arc<Bureaus>>, Json(req): Json<PayBenefit>) -> Response {
    let now = b.shared.clock.now();
    let mut inner = b.inner();
    let Some(card_ref) = inner.cards.values().find(|c| c.card_number == req.card_number).map(|c| c.card_ref.clone()) else {
        return error(StatusCode::NOT_FOUND, "unknown_card", "no confirmed card has this number");
    };
    inner.serial += 1;
    let benefit = Benefit {
        payment_id: format!("ben-{:08}", inner.serial),
        month: idlink_domain::calendar::shanghai_today(now).strftime("%Y-%m").to_string(),
        amount_fen: req.amount_fen,
        paid_at: now,
    };
    inner.benefits.entry(card_ref).or_default().push(benefit.clone());
    Json(benefit).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bureaus() -> Bureaus {
        let shared = Arc::new(Shared::default());
        let sms = Arc::new(sms::Gateway::new(shared.clone()));
        Bureaus::new(shared, sms, vec![("ICBC".into(), "6222021234567890123".into())])
    }

    #[test]
    fn cards_are_stable_and_their_qr_payload_names_them() {
        let b = bureaus();
        let id = "440305199203084563";
        let (a, c) = (b.card_for(id, "11"), b.card_for(id, "11"));
        let (Some(a), Some(c)) = (a, c) else { panic!("no card") };
        assert_eq!((a.card_number.clone(), a.card_ref.clone()), (c.card_number, c.card_ref));
        assert_eq!(a.card_number.len(), 9);
        assert_eq!(card_of_qr(&a.qr_payload), Some(a.card_number.clone()));
        // A payload altered in any part is unreadable.
        assert_eq!(card_of_qr(&a.qr_payload.replace(&a.region, "110105")), None);
        assert_eq!(a.financial_account.bank_code, "ICBC");
        assert!(BinTable::bundled().lookup(&a.financial_account.card_number).is_ok_and(|e| e.bank == "ICBC"));
        assert!(b.card_for("440305199203085553", "44").is_none(), "555 is not insured");
        let passport = b.card_for("E12345678", "44").unwrap_or_else(|| panic!("a passport holder's card"));
        assert_eq!(passport.region, "440000");
    }
}
