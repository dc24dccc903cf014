//! The user 360° (SPEC P5, P6, issue 13 point 4): find a user by phone or ID
//! number through the blind index, with a purpose that is asked and audited.
//!
//! Three steps, each a POST where a personal value or a decision travels
//! (never a query string): the search form (`/console/people`, answered by
//! `POST /console/people/search` with the users found, masked), the purpose
//! form (`/console/people/{id}`, which shows nothing about the user), and
//! the record (`POST /console/people/{id}/view`), which the core opens only
//! with a purpose and records in the audit log the user reads. The record
//! has no address of its own: a reload or a language switch comes back to
//! the purpose form, so every look is asked for and recorded.
//!
//! Reviewers, auditors and admins may look ([`SignedOperator`]); the core
//! checks the role again.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::{Tr, has_key};
use crate::pages::render::{FormErrors, html, problem_message_in};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::people::{Purpose, SearchBy, UserRecord};
use idlink_domain::calendar::shanghai_today;
use idlink_domain::{IdNumber, PhoneNumber, UserId};
use serde::Deserialize;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/people", get(show))
        .route("/console/people/search", get(|| async { Redirect::to("/console/people") }).post(search))
        .route("/console/people/{id}", get(purpose_page))
        .route("/console/people/{id}/view", get(back_to_purpose).post(view))
}

/// The search form as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    by: String,
    #[serde(default)]
    value: String,
}

/// A user the search found.
pub struct FoundRow {
    pub id: String,
    pub masked_id: String,
    pub phone: String,
}

#[derive(Template)]
#[template(path = "console/people.html")]
struct SearchPage {
    c: ConsoleChrome,
    by_phone: bool,
    /// What was typed, shown again only when it was refused (to correct it).
    value: String,
    errors: FormErrors,
    /// `None` before a search.
    found: Option<Vec<FoundRow>>,
    error: Option<String>,
}

/// A user id shown masked, as the queue shows subjects.
fn masked_user(id: &str) -> String {
    let tail: String = id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("usr_****{tail}")
}

fn search_page(s: &SignedOperator, page: SearchPage) -> Response {
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

fn blank(s: &SignedOperator, by_phone: bool) -> SearchPage {
    let c = ConsoleChrome::new(&s.visitor, s.visitor.tr.t("console-people-title"), Some(&s.op));
    SearchPage { c, by_phone, value: String::new(), errors: FormErrors::default(), found: None, error: None }
}

/// `GET /console/people`: the search form.
pub async fn show(s: SignedOperator) -> Response {
    let page = blank(&s, true);
    search_page(&s, page)
}

/// `POST /console/people/search`: the users with this phone or ID number (none or one), masked.
pub async fn search(State(state): State<WebState>, s: SignedOperator, Form(f): Form<SearchForm>) -> Response {
    let tr = s.visitor.tr;
    let by_phone = f.by != "id_number";
    let mut page = blank(&s, by_phone);
    let value = f.value.trim();
    let parsed = if value.is_empty() {
        None
    } else if by_phone {
        PhoneNumber::parse(value).ok().map(SearchBy::Phone)
    } else {
        IdNumber::parse(value, shanghai_today(state.app.clock.now())).ok().map(SearchBy::IdNumber)
    };
    let Some(by) = parsed else {
        let key = match (value.is_empty(), by_phone) {
            (true, _) => "console-people-field-value-required",
            (false, true) => "console-people-field-phone-invalid",
            (false, false) => "console-people-field-id-invalid",
        };
        page.errors.add("value", tr.t(key));
        page.value = value.to_owned();
        return search_page(&s, page);
    };
    match state.app.people().search(&s.op, &by, s.visitor.request_id.as_ref()).await {
        Ok(found) => {
            page.found = Some(
                found
                    .into_iter()
                    .map(|f| FoundRow {
                        masked_id: masked_user(f.user_id.as_str()),
                        id: f.user_id.to_string(),
                        phone: f.phone.unwrap_or_else(|| tr.t("console-people-shredded")),
                    })
                    .collect(),
            );
        }
        Err(e) => page.error = Some(problem_message_in(&tr, "console", &Problem::from(e))),
    }
    search_page(&s, page)
}

/// One purpose in the form's list.
pub struct PurposeOption {
    pub code: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/people_purpose.html")]
struct PurposePage {
    c: ConsoleChrome,
    id: String,
    masked_id: String,
    purposes: Vec<PurposeOption>,
    reference: String,
    errors: FormErrors,
    error: Option<String>,
}

fn purpose_form(s: &SignedOperator, id: &UserId, chosen: &str, reference: &str, errors: FormErrors, error: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let page = PurposePage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-people-purpose-title"), Some(&s.op)),
        id: id.to_string(),
        masked_id: masked_user(id.as_str()),
        purposes: Purpose::ALL
            .into_iter()
            .map(|p| PurposeOption {
                code: p.as_str(),
                label: tr.t(&format!("console-people-purpose-{}", p.as_str())),
                selected: p.as_str() == chosen,
            })
            .collect(),
        reference: reference.to_owned(),
        errors,
        error,
    };
    let status = if !page.errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if page.error.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

fn not_found(s: &SignedOperator) -> Response {
    let message = problem_message_in(&s.visitor.tr, "console", &Problem::new(idlink_api::problem::ProblemCode::UserNotFound));
    super::message_page(&s.visitor, Some(&s.op), StatusCode::NOT_FOUND, &message)
}

/// `GET /console/people/{id}`: why the record is to be opened (shows nothing about the user).
pub async fn purpose_page(s: SignedOperator, Path(raw): Path<String>) -> Response {
    match UserId::parse(&raw) {
        Ok(id) => purpose_form(&s, &id, "", "", FormErrors::default(), None),
        Err(_) => not_found(&s),
    }
}

/// `GET /console/people/{id}/view`: a reload or a language switch of the record asks for the purpose again.
async fn back_to_purpose(Path(raw): Path<String>) -> Redirect {
    match UserId::parse(&raw) {
        Ok(id) => Redirect::to(&format!("/console/people/{id}")),
        Err(_) => Redirect::to("/console/people"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PurposeForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    reference: String,
}

/// A labelled value of the record's summary.
pub struct Fact {
    pub id: &'static str,
    pub label: String,
    pub value: String,
}

pub struct DeviceRow {
    pub name: String,
    pub primary: String,
    pub biometric: String,
    pub first_seen: String,
    pub last_seen: String,
}

pub struct CardRow {
    pub id: String,
    pub bank: String,
    pub card: String,
    pub binding: String,
    pub switch: String,
    pub agreement: String,
}

pub struct CaseRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub opened: String,
}

pub struct CapabilityRow {
    pub name: String,
    pub state: String,
    pub available: bool,
}

pub struct GuardianRow {
    pub role: String,
    pub status: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "console/people_record.html")]
struct RecordPage {
    c: ConsoleChrome,
    purpose: String,
    facts: Vec<Fact>,
    identity: Vec<Fact>,
    frozen: Option<String>,
    guardians: Vec<GuardianRow>,
    capabilities: Vec<CapabilityRow>,
    devices: Vec<DeviceRow>,
    cards: Vec<CardRow>,
    authorisations: Vec<Fact>,
    cases: Vec<CaseRow>,
    /// Earlier looks at this record, for auditors only (`None` for the other roles).
    looks: Option<Vec<LookRow>>,
}

/// One look at the record as the auditors' section shows it.
pub struct LookRow {
    pub at: String,
    pub operator: String,
    pub purpose: String,
    pub reference: String,
}

fn yes_no(tr: &Tr, b: bool) -> String {
    tr.t(if b { "console-people-yes" } else { "console-people-no" })
}

/// `key-<code>` in the catalogue, or the code itself (a value added later).
pub(super) fn word(tr: &Tr, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}{}", code.replace('_', "-"));
    if has_key(tr.locale, &key) { tr.t(&key) } else { code.to_owned() }
}

fn record_page(s: &SignedOperator, purpose: Purpose, r: UserRecord) -> RecordPage {
    let tr = s.visitor.tr;
    let fact = |id: &'static str, key: &str, value: String| Fact { id, label: tr.t(key), value };
    let mut facts = vec![
        fact("fact-user", "console-people-user", masked_user(r.user_id.as_str())),
        fact("fact-phone", "console-people-phone", r.phone.clone().unwrap_or_else(|| tr.t("console-people-shredded"))),
        fact("fact-created", "console-people-created", tr.datetime(r.created_at)),
        fact("fact-standing", "console-people-standing", word(&tr, "console-people-standing-", r.standing)),
    ];
    if r.shredded {
        facts.push(fact("fact-shredded", "console-people-data", tr.t("console-people-shredded")));
    }
    let identity = match &r.identity {
        None => Vec::new(),
        Some(i) => vec![
            fact("id-name", "console-people-name", i.name.clone()),
            fact("id-number", "console-people-id-number", i.id_number.clone()),
            fact("id-document", "console-people-document", word(&tr, "identity-doc-", i.document_type.as_str())),
            fact("id-method", "console-people-method", word(&tr, "console-people-method-", &i.method)),
            fact("id-verified", "console-people-verified-at", tr.datetime(i.verified_at)),
            fact("id-minor", "console-people-minor", yes_no(&tr, i.minor)),
        ],
    };
    let a = &r.authorisations;
    let authorisations = vec![
        fact("auth-password", "console-people-password-set", yes_no(&tr, a.payment_password_set)),
        fact("auth-locked", "console-people-password-locked", yes_no(&tr, a.payment_password_locked)),
        fact("auth-biometric", "console-people-biometric", yes_no(&tr, a.biometric_step_up)),
    ];
    RecordPage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-people-record-title"), Some(&s.op)),
        purpose: tr.t(&format!("console-people-purpose-{}", purpose.as_str())),
        facts,
        identity,
        frozen: r.frozen.as_ref().map(|f| tr.t1("console-people-frozen-since", "time", &tr.datetime(f.since))),
        guardians: r
            .guardians
            .iter()
            .map(|g| GuardianRow {
                role: word(&tr, "console-people-guardian-role-", g.role),
                status: word(&tr, "console-people-guardian-status-", g.status.as_str()),
                since: tr.datetime(g.since),
            })
            .collect(),
        capabilities: r
            .capabilities
            .iter()
            .map(|c| CapabilityRow {
                name: word(&tr, "capability-", c.capability.as_str()),
                state: match c.why_not {
                    None => tr.t("console-people-available"),
                    Some(why) => tr.t1("console-people-restricted", "why", &word(&tr, "console-people-standing-", why)),
                },
                available: c.available,
            })
            .collect(),
        devices: r
            .devices
            .iter()
            .map(|d| DeviceRow {
                name: d.name.clone(),
                primary: yes_no(&tr, d.primary),
                biometric: yes_no(&tr, d.biometric),
                first_seen: tr.datetime(d.first_seen),
                last_seen: tr.datetime(d.last_seen),
            })
            .collect(),
        cards: r
            .cards
            .iter()
            .map(|c| CardRow {
                id: c.binding_id.clone(),
                bank: c.bank_name.clone(),
                card: c.card.clone(),
                binding: word(&tr, "console-people-binding-", c.binding.as_str()),
                switch: tr.t(if c.balance_switch { "console-people-switch-on" } else { "console-people-switch-off" }),
                agreement: match (c.agreement, c.agreement_valid_until) {
                    (Some("in_force"), Some(until)) => tr.t1("console-people-agreement-until", "date", &tr.datetime(until)),
                    (Some(state), _) => word(&tr, "console-people-agreement-", state),
                    (None, _) => tr.t("console-people-agreement-none"),
                },
            })
            .collect(),
        authorisations,
        cases: r
            .cases
            .iter()
            .map(|c| CaseRow {
                id: c.id.clone(),
                kind: tr.t(&format!("console-kind-{}", c.kind.as_str())),
                status: tr.t(&format!("console-status-{}", c.status.as_str())),
                opened: tr.datetime(c.opened_at),
            })
            .collect(),
        looks: None,
    }
}

/// `POST /console/people/{id}/view`: opens the record for the purpose given (audited), or asks again.
pub async fn view(State(state): State<WebState>, s: SignedOperator, Path(raw): Path<String>, Form(f): Form<PurposeForm>) -> Response {
    let Ok(id) = UserId::parse(&raw) else { return not_found(&s) };
    let tr = s.visitor.tr;
    let purpose = Purpose::parse(&f.purpose);
    let reference = f.reference.trim();
    let mut errors = FormErrors::default();
    if purpose.is_none() {
        errors.add("purpose", tr.t("console-people-field-purpose-required"));
    }
    if reference.is_empty() {
        errors.add("reference", tr.t("console-people-field-reference-required"));
    } else if reference.chars().count() > idlink_core::people::REFERENCE_MAX_CHARS {
        errors.add("reference", tr.t("console-people-field-reference-long"));
    }
    let Some(purpose) = purpose.filter(|_| errors.is_empty()) else {
        return purpose_form(&s, &id, &f.purpose, reference, errors, None);
    };
    let people = state.app.people();
    match people.open(&s.op, &id, purpose, reference, s.visitor.request_id.as_ref()).await {
        Ok(record) => {
            let mut page = record_page(&s, purpose, record);
            // Auditors see who looked before and why (reviewers are refused by the core).
            if let Ok(looks) = people.looks(&s.op, &id, 50).await {
                let mut rows = Vec::with_capacity(looks.len());
                for l in looks {
                    let operator = state
                        .app
                        .store
                        .operator(&l.operator_id)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| l.operator_id.to_string(), |o| o.username);
                    let purpose = Purpose::parse(&l.purpose)
                        .map_or_else(|| l.purpose.clone(), |p| tr.t(&format!("console-people-purpose-{}", p.as_str())));
                    rows.push(LookRow { at: tr.datetime(l.at), operator, purpose, reference: l.reference });
                }
                page.looks = Some(rows);
            }
            (cookies(&s.visitor), html(StatusCode::OK, &page)).into_response()
        }
        Err(idlink_core::people::PeopleError::UserNotFound) => not_found(&s),
        Err(e) => {
            let message = problem_message_in(&tr, "console", &Problem::from(e));
            purpose_form(&s, &id, purpose.as_str(), reference, FormErrors::default(), Some(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::i18n::{Locale, has_key};
    use idlink_core::people::Purpose;

    /// Keys this page and the user's access log build at run time exist in every language.
    #[test]
    fn every_built_key_exists() {
        let mut built: Vec<String> = vec!["action-operator-view-user".into(), "action-operator-search-user".into()];
        for p in Purpose::ALL {
            built.push(format!("console-people-purpose-{}", p.as_str()));
            // The access log's key for the audit record's purpose words.
            built.push(format!("purpose-{}", p.words().replace(' ', "-")));
        }
        for search in ["user-search-by-phone", "user-search-by-id-number"] {
            built.push(format!("purpose-{search}"));
        }
        let families: [(&str, &[&str]); 6] = [
            ("console-people-standing-", &["unverified", "minor", "minor-guarded", "adult", "shredded", "data-deleted"]),
            ("console-people-binding-", &["pending-sms", "active", "ended"]),
            ("console-people-agreement-", &["not-required", "not-signed", "outdated", "in-force"]),
            ("console-people-guardian-role-", &["minor", "guardian"]),
            ("console-people-guardian-status-", &["pending-guardian", "review", "approved", "rejected"]),
            ("console-people-method-", &["three-elements-face", "four-elements"]),
        ];
        for (prefix, codes) in families {
            built.extend(codes.iter().map(|c| format!("{prefix}{c}")));
        }
        for locale in Locale::ALL {
            for key in &built {
                assert!(has_key(locale, key), "{}: `{key}` missing", locale.tag());
            }
        }
    }
}
