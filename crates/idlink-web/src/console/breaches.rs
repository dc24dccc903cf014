//! `GET /console/breaches`: the breach board (SPEC OP1, issue 13): open
//! cases past their first-response SLA, most overdue first, how long overdue,
//! and whether the operators on duty were paged (the SLA job escalates each
//! breach once, through the outbox). The rule and the order are the core's
//! (`Reviews::breach_board`). Below them, account cancellations not closed
//! by their due day (SPEC CP: 15 working days), most overdue first
//! (`Revocations::overdue_cancellations`); and revocation sagas still open
//! past their window, waiting for a host store (`Revocations::stuck`).

use super::cases::span;
use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::Tr;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_api::Problem;
use idlink_core::ports::revocations::RevocationRow;
use idlink_domain::revocation_saga::Phase;
use jiff::Timestamp;

/// One breached case as the board shows it.
pub struct Row {
    pub id: String,
    pub kind: String,
    pub overdue: String,
    /// When the operators on duty were paged, if they were.
    pub paged: Option<String>,
}

/// One account cancellation past its due day.
pub struct CancellationRow {
    pub id: String,
    pub user: String,
    pub requested: String,
    pub due: String,
    pub overdue: String,
    /// Where the saga stands, or "committed, not closed".
    pub stage: String,
}

/// One list of sagas under the case breaches, as the board shows it.
pub struct SagaList {
    /// The table's id (`overdue-cancellations`, `stuck`); rows are `{row}-{saga id}`.
    pub id: &'static str,
    pub row: &'static str,
    pub title: String,
    pub intro: String,
    pub empty: String,
    /// The heading of the time the saga missed (due day, window's end).
    pub when: String,
    pub rows: Vec<CancellationRow>,
}

#[derive(Template)]
#[template(path = "console/breaches.html")]
struct BreachesPage {
    c: ConsoleChrome,
    rows: Vec<Row>,
    /// Overdue cancellations, then revocations stuck past their window.
    lists: Vec<SagaList>,
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
    // Shown to whoever may see the case breaches (the same roles).
    let (cancellations, stuck) = match error {
        Some(_) => (Vec::new(), Vec::new()),
        None => {
            let revocations = state.app.revocations();
            let now = state.app.clock.now();
            let cancellations = match revocations.overdue_cancellations(200).await {
                Ok(list) => list
                    .into_iter()
                    .map(|r| {
                        let due = r.due.map_or(r.created_at, |d| d.at);
                        saga_row(&tr, r, due, tr.date(idlink_domain::working_days::last_day(due)), now)
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "overdue cancellations could not be read");
                    Vec::new()
                }
            };
            let stuck = match revocations.stuck(500).await {
                Ok(list) => list
                    .into_iter()
                    .map(|r| {
                        let window = r.deadline;
                        saga_row(&tr, r, window, tr.datetime(window), now)
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "stuck revocations could not be read");
                    Vec::new()
                }
            };
            (cancellations, stuck)
        }
    };
    let status = if error.is_some() { StatusCode::FORBIDDEN } else { StatusCode::OK };
    let days = state.app.revocation_policy.cancellation_working_days.to_string();
    let lists = vec![
        SagaList {
            id: "overdue-cancellations",
            row: "cancellation",
            title: tr.t("console-cancellations-title"),
            intro: tr.t1("console-cancellations-intro", "days", &days),
            empty: tr.t("console-cancellations-empty"),
            when: tr.t("console-cancellations-due"),
            rows: cancellations,
        },
        SagaList {
            id: "stuck",
            row: "stuck",
            title: tr.t("console-stuck-title"),
            intro: tr.t("console-stuck-intro"),
            empty: tr.t("console-stuck-empty"),
            when: tr.t("console-stuck-window"),
            rows: stuck,
        },
    ];
    let page = BreachesPage { c: ConsoleChrome::new(&s.visitor, tr.t("console-breaches-title"), Some(&s.op)), rows, lists, error };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

/// A saga as the board lists it: late since `missed` (shown as `missed_text`) at `now`.
fn saga_row(tr: &Tr, r: RevocationRow, missed: Timestamp, missed_text: String, now: Timestamp) -> CancellationRow {
    let stage = match r.saga.phase {
        Phase::Committed => tr.t("console-cancellation-not-closed"),
        phase => tr.t(&format!("console-cancellation-{}", phase.as_str().replace('_', "-"))),
    };
    CancellationRow {
        requested: tr.datetime(r.created_at),
        due: missed_text,
        overdue: tr.t1("console-breaches-overdue", "span", &span(tr, now.as_second().saturating_sub(missed.as_second()).max(0))),
        stage,
        user: r.user_id.to_string(),
        id: r.id,
    }
}
