//! `GET /h5/access-log`: who read or changed my personal data (SPEC P7),
//! newest first, in words: who (me, the app, an operator, a bank), what,
//! why, and whether it went through.

use crate::WebState;
use crate::ctx::Signed;
use crate::i18n::{Tr, has_key};
use crate::pages::render::{Chrome, html};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::ports::audit::AuditRecord;

/// One access, as the page shows it.
pub struct Row {
    pub at: String,
    pub who: String,
    pub what: String,
    pub why: String,
    /// Set when `why` is the record's own (English) words: no catalogue has them.
    pub why_lang: Option<&'static str>,
    pub outcome: String,
    pub refused: bool,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    c: Chrome,
    rows: Vec<Row>,
}

/// The catalogue's words for `key`, or `fallback` where it has none (an action added later).
fn words(tr: &Tr, key: &str, fallback: &str) -> String {
    if has_key(tr.locale, key) { tr.t(key) } else { fallback.to_owned() }
}

fn who(tr: &Tr, actor: &str) -> String {
    let kind = match actor.split_once(':').map_or(actor, |(k, _)| k) {
        "user" => "access-actor-you",
        // Login steps happen before anyone is signed in: whoever typed the number.
        "h5" => "access-actor-h5",
        "apikey" => "access-actor-app",
        "operator" => "access-actor-operator",
        "bank" => "access-actor-bank",
        "system" => "access-actor-system",
        _ => return actor.to_owned(),
    };
    tr.t(kind)
}

/// The purpose in the reader's language. Records carry it as fixed English
/// words (a review's names its kind: "review verification"); one the
/// catalogue does not know is shown as written, marked as English.
fn why(tr: &Tr, purpose: &str) -> (String, Option<&'static str>) {
    let slug = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect::<String>();
    let key = format!("purpose-{}", slug(purpose));
    if has_key(tr.locale, &key) {
        return (tr.t(&key), None);
    }
    if let Some(kind) = purpose.strip_prefix("review ") {
        let kind_key = format!("review-kind-{}", slug(kind));
        if has_key(tr.locale, &kind_key) {
            return (tr.t1("purpose-review", "kind", &tr.t(&kind_key)), None);
        }
    }
    (purpose.to_owned(), Some("en"))
}

fn row(tr: &Tr, r: &AuditRecord) -> Row {
    let e = &r.entry;
    let (why, why_lang) = why(tr, &e.purpose);
    Row {
        at: tr.datetime(e.at),
        who: who(tr, &e.actor),
        what: words(tr, &format!("action-{}", e.action.replace(['.', '_'], "-")), &e.action),
        why,
        why_lang,
        outcome: words(tr, &format!("outcome-{}", e.outcome), &e.outcome),
        refused: e.outcome != "success",
    }
}

pub async fn show(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    let records = match state.app.store.audit_records_of_user(&s.session.user_id, 200).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "access log: the audit records could not be read");
            let message = v.tr.t1("problem-generic", "code", "service_unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, crate::pages::render::message_page(v, &message, "/h5/")).into_response();
        }
    };
    let page = AccessPage { c: Chrome::new(v, "access-title", true), rows: records.iter().map(|r| row(&v.tr, r)).collect() };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}
