//! `GET /console/breaches`: the breach board (SPEC OP1, issue 13): open
//! cases past their first-response SLA, most overdue first, how long overdue,
//! and whether the operators on duty were paged (the SLA job escalates each
//! breach once, through the outbox). The rule and the order are the core's
//! (`Reviews::breach_board`).

use super::cases::span;
use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_api::Problem;

/// One breached case as the board shows it.
pub struct Row {
    pub id: String,
    pub kind: String,
    pub overdue: String,
    /// When the operators on duty were paged, if they were.
    pub paged: Option<String>,
}

#[derive(Template)]
#[template(path = "console/breaches.html")]
struct BreachesPage {
    c: ConsoleChrome,
    rows: Vec<Row>,
    error: Option<String>,
}

pub async fn show(State(state): State<WebState>, s: SignedOperator) -> Response {
    let tr = s.visitor.tr;
    let (rows, error) = match state.app.reviews().breach_board(&s.op, 200).await {
        Ok(board) => (
            board
                .into_iter()
                .map(|b| Row {
                    id: b.case.id.to_string(),
                    kind: tr.t(&format!("console-kind-{}", b.case.kind.as_str())),
                    overdue: tr.t1("console-breaches-overdue", "span", &span(&tr, b.overdue.as_secs())),
                    paged: b.case.escalated_at.map(|at| tr.datetime(at)),
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(problem_message_in(&tr, "console", &Problem::from(e)))),
    };
    let status = if error.is_some() { StatusCode::FORBIDDEN } else { StatusCode::OK };
    let page = BreachesPage { c: ConsoleChrome::new(&s.visitor, tr.t("console-breaches-title"), Some(&s.op)), rows, error };
    (cookies(&s.visitor), html(status, &page)).into_response()
}
