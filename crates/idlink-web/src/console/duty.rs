//! `/console/duty`: the operators and who is on duty (SPEC OP1; issue 13
//! point 2), for admins. A breached case pages the operators on duty by SMS
//! (the SLA job, through the outbox); here an admin puts an operator on duty
//! with the phone to page (sealed at once, never shown again: the page only
//! says whether one is set), takes them off duty, and unlocks an operator
//! whose sign-in is locked after repeated failures. The same use cases as
//! `idlink operator duty` and `idlink operator unlock`, each audited.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::operators::OperatorError;
use idlink_core::ports::operators::OperatorRow;
use idlink_domain::{OperatorId, PhoneNumber};
use serde::Deserialize;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/duty", get(show))
        .route("/console/duty/{id}", post(set_duty))
        .route("/console/duty/{id}/unlock", post(unlock))
}

/// One operator as the page shows them.
pub struct Row {
    pub id: String,
    pub username: String,
    pub roles: String,
    pub on_duty: bool,
    pub has_phone: bool,
    /// "Locked until …" or "2 failed sign-ins" or "Can sign in".
    pub sign_in: String,
    pub locked: bool,
}

#[derive(Template)]
#[template(path = "console/duty.html")]
struct DutyPage {
    c: ConsoleChrome,
    rows: Vec<Row>,
    notice: Option<String>,
    error: Option<String>,
    /// The operator whose phone field was refused, to point the error at it.
    phone_error_for: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    who: String,
}

async fn page(state: &WebState, s: &SignedOperator, notice: Option<String>, error: Option<(String, Option<String>)>) -> Response {
    let tr = s.visitor.tr;
    let now = state.app.clock.now();
    let (rows, listed) = match state.app.operators().list(&s.op).await {
        Ok(all) => (all.iter().map(|o| row(&tr, o, now)).collect(), Ok(())),
        Err(e) => (Vec::new(), Err(problem_message_in(&tr, "console", &Problem::from(e)))),
    };
    let (status, error, phone_error_for) = match (listed, error) {
        (Err(e), _) => (StatusCode::FORBIDDEN, Some(e), None),
        (Ok(()), Some((e, field))) => (StatusCode::UNPROCESSABLE_ENTITY, Some(e), field),
        (Ok(()), None) => (StatusCode::OK, None, None),
    };
    let page =
        DutyPage { c: ConsoleChrome::new(&s.visitor, tr.t("console-duty-title"), Some(&s.op)), rows, notice, error, phone_error_for };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

fn row(tr: &crate::i18n::Tr, o: &OperatorRow, now: jiff::Timestamp) -> Row {
    let locked = o.locked(now);
    let sign_in = match o.locked_until {
        Some(until) if locked => tr.t1("console-duty-locked", "time", &tr.datetime(until)),
        _ if o.failed_sign_ins > 0 => tr.tn("console-duty-failures", "n", i64::from(o.failed_sign_ins)),
        _ => tr.t("console-duty-can-sign-in"),
    };
    Row {
        id: o.id.to_string(),
        username: o.username.clone(),
        roles: o.roles.iter().map(|r| tr.t(&format!("console-role-{}", r.as_str()))).collect::<Vec<_>>().join(", "),
        on_duty: o.on_duty,
        has_phone: o.phone_cipher.is_some(),
        sign_in,
        locked,
    }
}

/// `GET /console/duty`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(q): Query<Done>) -> Response {
    let tr = s.visitor.tr;
    let who: String = q.who.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(32).collect();
    let notice = match q.done.as_str() {
        "on" | "off" | "unlocked" => Some(tr.t1(&format!("console-duty-done-{}", q.done), "name", &who)),
        _ => None,
    };
    page(&state, &s, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct DutyForm {
    /// `on` or `off`.
    #[serde(default)]
    duty: String,
    #[serde(default)]
    phone: String,
}

/// `POST /console/duty/{id}`: on duty (with a new paging phone, or the one set before) or off.
pub async fn set_duty(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>, Form(f): Form<DutyForm>) -> Response {
    let tr = s.visitor.tr;
    let Ok(id) = OperatorId::parse(&id) else { return Redirect::to("/console/duty").into_response() };
    let on = f.duty == "on";
    let phone = match f.phone.trim() {
        "" => None,
        raw => match PhoneNumber::parse(raw) {
            Ok(p) => Some(p),
            Err(_) => return page(&state, &s, None, Some((tr.t("console-duty-bad-phone"), Some(id.to_string())))).await,
        },
    };
    match state.app.operators().set_on_duty(&s.op, &id, on, phone.as_ref()).await {
        Ok(row) => Redirect::to(&format!("/console/duty?done={}&who={}", if on { "on" } else { "off" }, row.username)).into_response(),
        // The core's rule: an operator on duty must be reachable.
        Err(OperatorError::PagingPhoneRequired) => {
            page(&state, &s, None, Some((tr.t("console-duty-phone-needed"), Some(id.to_string())))).await
        }
        Err(e) => page(&state, &s, None, Some((problem_message_in(&tr, "console", &Problem::from(e)), None))).await,
    }
}

/// `POST /console/duty/{id}/unlock`: ends a sign-in lock now.
pub async fn unlock(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>) -> Response {
    let tr = s.visitor.tr;
    let Ok(id) = OperatorId::parse(&id) else { return Redirect::to("/console/duty").into_response() };
    let Some(target) = state.app.store.operator(&id).await.ok().flatten() else { return Redirect::to("/console/duty").into_response() };
    match state.app.operators().unlock_by(&s.op, &target.username).await {
        Ok(row) => Redirect::to(&format!("/console/duty?done=unlocked&who={}", row.username)).into_response(),
        Err(e) => page(&state, &s, None, Some((problem_message_in(&tr, "console", &Problem::from(e)), None))).await,
    }
}
