//! `/console/proposals`: dual control (ADR 0015) as operators see it: the
//! pending proposals their role may decide, each with who proposed it and
//! until when it can be approved; approve or reject; and, for admins, a
//! proposal to rotate the master key (the same `Vault::rotate_master` as
//! `idlink keys rotate`, run once a second admin approves). Freeze lifts are
//! proposed from their case page. Every rule is the core's (`DualControl`).

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use idlink_api::Problem;
use idlink_core::dual::Proposed;
use idlink_core::ports::operators::{Role, require};
use idlink_core::ports::proposals::{ProposalAction, ProposalStatus};
use idlink_domain::ProposalId;
use serde::Deserialize;

/// A pending proposal as the page shows it.
pub struct Row {
    pub id: String,
    pub action: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub expires: String,
    pub expired: bool,
    /// The signed-in operator proposed it: they cannot approve it.
    pub own: bool,
}

#[derive(Template)]
#[template(path = "console/proposals.html")]
struct ProposalsPage {
    c: ConsoleChrome,
    rows: Vec<Row>,
    may_rotate: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

async fn page(state: &WebState, s: &SignedOperator, notice: Option<String>, error: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let now = state.app.clock.now();
    let (rows, error) = match state.app.dual_control().list(&s.op, ProposalStatus::Pending, 200).await {
        Ok(list) => {
            let mut rows = Vec::with_capacity(list.len());
            for p in list {
                let by =
                    state.app.store.operator(&p.proposed_by).await.ok().flatten().map_or_else(|| p.proposed_by.to_string(), |o| o.username);
                let action = match p.action {
                    ProposalAction::LiftFreeze => "console-action-freeze-lift",
                    ProposalAction::RotateMasterKey => "console-action-keys-rotate",
                };
                rows.push(Row {
                    id: p.id.to_string(),
                    action: tr.t(action),
                    proposed_by: by,
                    proposed_at: tr.datetime(p.created_at),
                    expires: tr.datetime(p.expires_at),
                    expired: p.expired(now),
                    own: p.proposed_by == s.op.id,
                });
            }
            (rows, error)
        }
        Err(e) => (Vec::new(), Some(problem_message_in(&tr, "console", &Problem::from(e)))),
    };
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let page = ProposalsPage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-proposals-title"), Some(&s.op)),
        rows,
        may_rotate: require(&s.op, Role::Admin).is_ok(),
        notice,
        error,
    };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

/// `GET /console/proposals`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(q): Query<Done>) -> Response {
    let notice = match q.done.as_str() {
        "proposed" | "approved" | "rejected" => Some(s.visitor.tr.t(&format!("console-proposals-done-{}", q.done))),
        _ => None,
    };
    page(&state, &s, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

fn note_of(f: &NoteForm) -> String {
    f.note.trim().chars().take(400).collect()
}

async fn after(state: &WebState, s: &SignedOperator, outcome: Result<&'static str, Problem>) -> Response {
    match outcome {
        Ok(done) => Redirect::to(&format!("/console/proposals?done={done}")).into_response(),
        Err(p) => page(state, s, None, Some(problem_message_in(&s.visitor.tr, "console", &p))).await,
    }
}

/// `POST /console/proposals/rotate`: an admin proposes a master-key rotation.
pub async fn propose_rotation(State(state): State<WebState>, s: SignedOperator, Form(f): Form<NoteForm>) -> Response {
    let outcome = state.app.dual_control().propose(&s.op, Proposed::RotateMasterKey, &note_of(&f)).await.map(|_| "proposed");
    after(&state, &s, outcome.map_err(Problem::from)).await
}

/// `POST /console/proposals/{id}/approve`.
pub async fn approve(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>, Form(f): Form<NoteForm>) -> Response {
    let Ok(id) = ProposalId::parse(&id) else { return Redirect::to("/console/proposals").into_response() };
    let outcome = state.app.dual_control().approve(&s.op, &id, &note_of(&f)).await.map(|_| "approved");
    after(&state, &s, outcome.map_err(Problem::from)).await
}

/// `POST /console/proposals/{id}/reject`.
pub async fn reject(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>, Form(f): Form<NoteForm>) -> Response {
    let Ok(id) = ProposalId::parse(&id) else { return Redirect::to("/console/proposals").into_response() };
    let outcome = state.app.dual_control().reject(&s.op, &id, &note_of(&f)).await.map(|_| "rejected");
    after(&state, &s, outcome.map_err(Problem::from)).await
}
