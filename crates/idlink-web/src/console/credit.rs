//! `/console/credit-reviews`: the credit-report requests the bureau holds
//! for the querying institution's manual review (SPEC CR3, issue 15),
//! oldest first, each with its SLA (`credit_report.review_sla_hours` from
//! when it was held) and how much of it is left or how late it is; approve
//! or reject (role reviewer). The decision goes to the bureau; approval
//! releases the report, rejection ends the request and refunds a paid one.
//! Below the queue, the refunds the cashier has not taken yet (paid
//! requests that ended without a report), which the follow-up job keeps
//! asking for. Every rule is the core's (`CreditReports::review_queue`,
//! `decide`, `refunds_waiting`).

use super::cases::span;
use super::{ConsoleChrome, Reviewer, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use idlink_api::Problem;
use idlink_domain::CreditRequestId;
use serde::Deserialize;

/// One held request as the queue shows it.
pub struct Row {
    pub id: String,
    pub requested_at: String,
    pub due: String,
    /// What is left of the SLA, or how late it is.
    pub sla: String,
    pub breached: bool,
    pub paid: bool,
}

/// A refund the cashier has not taken yet.
pub struct RefundRow {
    pub id: String,
    pub amount: String,
    pub reason: String,
    pub requested_at: String,
}

#[derive(Template)]
#[template(path = "console/credit_reviews.html")]
struct ReviewsPage {
    c: ConsoleChrome,
    rows: Vec<Row>,
    refunds: Vec<RefundRow>,
    notice: Option<String>,
    error: Option<String>,
}

/// A request's reason code in the catalogue's words (the H5 pages' own), or the code.
fn reason_words(tr: &crate::i18n::Tr, code: &str) -> String {
    let key = format!("credit-reason-{}", code.replace('_', "-"));
    if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { code.to_owned() }
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

async fn page(state: &WebState, s: &SignedOperator, notice: Option<String>, error: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let now = state.app.clock.now();
    let (rows, error) = match state.app.credit().review_queue(&s.op).await {
        Ok(list) => (
            list.into_iter()
                .map(|r| {
                    let left = r.expected_at.map_or(0, |due| due.as_second() - now.as_second());
                    let breached = left < 0;
                    Row {
                        id: r.id.to_string(),
                        requested_at: tr.datetime(r.created_at),
                        due: r.expected_at.map(|t| tr.datetime(t)).unwrap_or_default(),
                        sla: if breached {
                            tr.t1("console-sla-breached", "span", &span(&tr, -left))
                        } else {
                            tr.t1("console-sla-left", "span", &span(&tr, left))
                        },
                        breached,
                        paid: !r.free,
                    }
                })
                .collect(),
            error,
        ),
        Err(e) => (Vec::new(), Some(problem_message_in(&tr, "console", &Problem::from(e)))),
    };
    let refunds = state
        .app
        .credit()
        .refunds_waiting(&s.op)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| RefundRow {
            id: r.id.to_string(),
            amount: tr.money(idlink_domain::Fen(r.fee_fen)),
            reason: r.reason.map(|code| reason_words(&tr, &code)).unwrap_or_default(),
            requested_at: tr.datetime(r.created_at),
        })
        .collect();
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let page = ReviewsPage { c: ConsoleChrome::new(&s.visitor, tr.t("console-credit-title"), Some(&s.op)), rows, refunds, notice, error };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

/// `GET /console/credit-reviews`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(q): Query<Done>) -> Response {
    let notice = match q.done.as_str() {
        "approved" | "rejected" => Some(s.visitor.tr.t(&format!("console-credit-done-{}", q.done))),
        _ => None,
    };
    page(&state, &s, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
}

/// `POST /console/credit-reviews/{id}/decide` with `decision=approve|reject`.
pub async fn decide(State(state): State<WebState>, r: Reviewer, Path(id): Path<String>, Form(f): Form<DecisionForm>) -> Response {
    let s = r.signed();
    let Ok(id) = CreditRequestId::parse(&id) else { return Redirect::to("/console/credit-reviews").into_response() };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Redirect::to("/console/credit-reviews").into_response(),
    };
    match state.app.credit().decide(&s.op, &id, approve, None).await {
        Ok(_) => Redirect::to(&format!("/console/credit-reviews?done={}", if approve { "approved" } else { "rejected" })).into_response(),
        Err(e) => page(&state, s, None, Some(problem_message_in(&s.visitor.tr, "console", &Problem::from(e)))).await,
    }
}
