//! `/console/audit`: the audit explorer (SPEC P7, issue 13 point 5) for
//! auditors and admins: records filtered by subject, actor, action, outcome
//! and time, newest first, each with its hash and the previous record's;
//! and "verify the chain", the same check as `idlink audit verify`, naming
//! the first bad record. The queries and the check are the core's
//! (`Compliance::search_audit`, `Compliance::verify_chain`).

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_api::Problem;
use idlink_core::ports::operators::{Role, require};
use idlink_core::ports::reports::AuditFilter;
use serde::Deserialize;

/// The filter form, as typed (empty fields filter nothing).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    /// `1`: run the chain check too.
    #[serde(default)]
    verify: String,
}

pub struct Row {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub subject: String,
    pub action: String,
    pub purpose: String,
    pub outcome: String,
    pub hash: String,
    pub prev_hash: String,
}

/// The chain check's result in words.
pub struct Verdict {
    pub intact: bool,
    pub summary: String,
    /// The core's own description of the first problem (English).
    pub detail: Option<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    c: ConsoleChrome,
    f: Filters,
    outcomes: Vec<(&'static str, String, bool)>,
    rows: Vec<Row>,
    verdict: Option<Verdict>,
    error: Option<String>,
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// `GET /console/audit`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(f): Query<Filters>) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-audit-title"), Some(&s.op));
    let outcomes = ["success", "denied", "failed"].map(|o| (o, tr.t(&format!("console-outcome-{o}")), f.outcome == o)).to_vec();
    if let Err(e) = require(&s.op, Role::Auditor) {
        let message = problem_message_in(&tr, "console", &Problem::from(e));
        let page = AuditPage { c, f, outcomes, rows: Vec::new(), verdict: None, error: Some(message) };
        return (StatusCode::FORBIDDEN, cookies(&s.visitor), html(StatusCode::FORBIDDEN, &page)).into_response();
    }
    let compliance = state.app.compliance();
    let filter = AuditFilter {
        subject: some(&f.subject),
        actor: some(&f.actor),
        action: some(&f.action),
        outcome: some(&f.outcome),
        from: None,
        until: None,
        before: None,
        limit: 100,
    };
    let (rows, mut error) = match compliance.search_audit(&filter).await {
        Ok(records) => (
            records
                .into_iter()
                .map(|r| Row {
                    seq: r.seq,
                    at: tr.datetime(r.entry.at),
                    actor: r.entry.actor,
                    subject: r.entry.subject.unwrap_or_default(),
                    action: r.entry.action,
                    purpose: r.entry.purpose,
                    outcome: tr.t(&format!("console-outcome-{}", r.entry.outcome)),
                    hash: r.hash,
                    prev_hash: r.prev_hash,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(problem_message_in(&tr, "console", &Problem::from(e)))),
    };
    let verdict = if f.verify == "1" {
        match compliance.verify_chain().await {
            Ok(report) => Some(match &report.first_break {
                None => Verdict { intact: true, summary: tr.tn("console-audit-intact", "n", report.records as i64), detail: None },
                Some(b) => Verdict {
                    intact: false,
                    summary: tr.t1("console-audit-broken", "seq", &b.seq().map(|s| s.to_string()).unwrap_or_else(|| "?".into())),
                    detail: Some(b.to_string()),
                },
            }),
            Err(e) => {
                error = Some(problem_message_in(&tr, "console", &Problem::from(e)));
                None
            }
        }
    } else {
        None
    };
    let page = AuditPage { c, f, outcomes, rows, verdict, error };
    (cookies(&s.visitor), html(StatusCode::OK, &page)).into_response()
}
