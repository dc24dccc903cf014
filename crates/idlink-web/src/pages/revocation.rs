//! `/h5/revocation`: before a real-name revocation or an account
//! cancellation, every blocker at once (SPEC RV1, issue 17), each worded
//! with what it concerns and what clears it (the host app's deep link where
//! the deployment configures one), and which of the host's stores were
//! asked. The rules and the asking are the core's (`Revocations::preflight`),
//! the same call as `GET /v1/me/revocation/preflight`; this page words it.
//! When nothing stands in the way, the payment password confirms the
//! operation (`POST /h5/revocation`, the same saga as `POST
//! /v1/me/revocations`), and `/h5/revocation/status` shows where it stands.
//! A minor or a foreign document holder asks for the operator's review from
//! here (`POST /h5/revocation/review`, as `POST /v1/me/revocation/review`).

use crate::WebState;
use crate::ctx::Signed;
use crate::i18n::Tr;
use crate::pages::render::{Chrome, FormErrors, html, message_page, problem_message_in};
use crate::pages::security::{Pad, six_digits, step_up_with_password};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::ports::revocations::RevocationRow;
use idlink_core::revocation::{Actor, RevocationError, RevocationPolicy, step_up_operation};
use idlink_domain::revocation::{Blocker, BlockerKind, Operation};
use idlink_domain::revocation_saga::{Phase, Step};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/revocation", get(preflight).post(confirm))
        .route("/h5/revocation/status", get(status))
        .route("/h5/revocation/review", axum::routing::post(ask_review).get(|| async { Redirect::to("/h5/revocation") }))
}

#[derive(Debug, Deserialize)]
struct Asked {
    operation: Option<String>,
}

/// One blocker as the page lists it.
pub struct BlockerRow {
    pub id: String,
    pub code: &'static str,
    pub title: String,
    /// The item as its store named it (already masked there).
    pub item: Option<String>,
    pub amount: Option<String>,
    /// "Lifts on …" or "Ask again after …".
    pub when: Option<String>,
    pub action: String,
    pub link: Option<String>,
    /// The action is idlink's own: asking for the review, a form on this page.
    pub ask_review: bool,
}

/// The switch between the two operations.
pub struct Choice {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "revocation.html")]
struct PreflightPage {
    c: Chrome,
    operation: &'static str,
    errors: FormErrors,
    refusal: Option<String>,
    /// What a request just did (the review asked for).
    notice: Option<String>,
    pads: Vec<Pad>,
    confirm: String,
    /// The latest revocation or cancellation, when one is running or was made.
    latest: Option<String>,
    choices: Vec<Choice>,
    intro: String,
    asked: String,
    blockers: Vec<BlockerRow>,
    /// "3 things stand in the way".
    count: String,
    again: &'static str,
}

fn href(o: Operation) -> &'static str {
    match o {
        Operation::RevokeRealName => "/h5/revocation",
        Operation::CancelAccount => "/h5/revocation?operation=cancel_account",
    }
}

fn key(code: &str) -> String {
    code.replace('_', "-")
}

/// `guardian_first`: a minor's guardian is not approved yet, so the review cannot be asked for.
fn row(tr: &Tr, policy: &RevocationPolicy, n: usize, b: &Blocker, guardian_first: bool) -> BlockerRow {
    let code = b.kind.code();
    let action = b.kind.clears_by();
    let source = tr.t(&format!("revoke-source-{}", b.source.as_str()));
    let days = |d: jiff::SignedDuration| (d.as_hours() / 24).to_string();
    let title = match b.kind {
        BlockerKind::SourceUnavailable => tr.t1("revoke-blocker-source-unavailable", "source", &source),
        BlockerKind::AbnormalLogin => tr.t1("revoke-blocker-abnormal-login", "days", &days(policy.own.abnormal_login_within)),
        BlockerKind::RecentRealNameChange => {
            tr.t1("revoke-blocker-recent-real-name-change", "days", &days(policy.own.real_name_change_within))
        }
        _ => tr.t(&format!("revoke-blocker-{}", key(code))),
    };
    let when_key = match b.kind {
        BlockerKind::SourceUnavailable => "revoke-retry-after",
        BlockerKind::ReviewPending => "revoke-review-decide-by",
        _ => "revoke-lifts-on",
    };
    let review = matches!(b.kind, BlockerKind::ReviewRequired | BlockerKind::ReviewPending | BlockerKind::ReviewRefused);
    // idlink's own actions go to idlink's own pages; the host's to its deep links.
    let link = match b.kind {
        BlockerKind::GuardianRequired => Some("/h5/guardians".to_owned()),
        _ if review => None,
        _ => policy.links.get(action).cloned(),
    };
    BlockerRow {
        id: format!("blocker-{}", n + 1),
        code,
        title,
        // Why a review is needed, in words (the item is its code).
        item: if review { b.item.as_deref().map(|need| tr.t(&format!("revoke-review-need-{}", key(need)))) } else { b.item.clone() },
        amount: b.amount.map(|f| tr.t1("revoke-amount", "amount", &tr.money(f))),
        when: b.until.map(|t| tr.t1(when_key, "time", &tr.datetime(t))),
        action: tr.t(&format!("revoke-action-{}", key(action))),
        link,
        ask_review: action == "ask_for_review" && !guardian_first,
    }
}

/// `GET /h5/revocation[?operation=cancel_account]`.
async fn preflight(State(state): State<WebState>, s: Signed, Query(q): Query<Asked>) -> Response {
    let operation = q.operation.as_deref().and_then(Operation::parse).unwrap_or(Operation::RevokeRealName);
    preflight_page(&state, &s, operation, FormErrors::default(), Said::Nothing, StatusCode::OK).await
}

/// What the page says of the request that led to it.
enum Said {
    Nothing,
    Refused(String),
    Done(String),
}

async fn preflight_page(state: &WebState, s: &Signed, operation: Operation, errors: FormErrors, said: Said, code: StatusCode) -> Response {
    let (refusal, notice) = match said {
        Said::Nothing => (None, None),
        Said::Refused(r) => (Some(r), None),
        Said::Done(n) => (None, Some(n)),
    };
    let tr = &s.visitor.tr;
    let report = match state.app.revocations().preflight(&s.session, operation).await {
        Ok(r) => r,
        Err(e) => {
            if matches!(e, idlink_core::revocation::RevocationError::NotVerified) {
                // Nothing to revoke: closing the account is what is left to check.
                return axum::response::Redirect::to(href(Operation::CancelAccount)).into_response();
            }
            let p = Problem::from(e);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, message_page(&s.visitor, &problem_message_in(tr, "revoke", &p), "/h5/")).into_response();
        }
    };
    let latest = match state.app.revocations().latest(&s.session).await {
        Ok(l) => l.map(|r| phase_words(tr, &r)),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                message_page(&s.visitor, &problem_message_in(tr, "revoke", &Problem::from(e)), "/h5/"),
            )
                .into_response();
        }
    };
    let policy = &state.app.revocation_policy;
    let asked: Vec<String> = report.asked.iter().map(|src| tr.t(&format!("revoke-source-{}", src.as_str()))).collect();
    let asked = if asked.is_empty() {
        tr.t("revoke-asked-none")
    } else {
        tr.t1("revoke-asked", "sources", &asked.join(tr.t("revoke-list-separator").as_str()))
    };
    let (title, intro) = match operation {
        Operation::RevokeRealName => ("revoke-title", "revoke-intro"),
        Operation::CancelAccount => ("revoke-cancel-title", "revoke-cancel-intro"),
    };
    let mut c = Chrome::new(&s.visitor, title, true);
    // The language and elder switches come back to this operation, not the default one.
    c.back = href(operation).to_owned();
    let confirm = match operation {
        Operation::RevokeRealName => "revoke-confirm",
        Operation::CancelAccount => "revoke-cancel-confirm",
    };
    let page = PreflightPage {
        c,
        operation: operation.as_str(),
        pads: vec![Pad::new("password", tr.t("pad-label"), tr.t("revoke-pad-hint"), &errors, false)],
        errors,
        refusal,
        notice,
        confirm: tr.t(confirm),
        latest,
        choices: Operation::ALL
            .into_iter()
            .map(|o| Choice { href: href(o), label: tr.t(&format!("revoke-choice-{}", key(o.as_str()))), current: o == operation })
            .collect(),
        intro: tr.t(intro),
        asked,
        count: tr.tn("revoke-blockers-count", "count", i64::try_from(report.blockers.len()).unwrap_or(i64::MAX)),
        blockers: {
            let guardian_first = report.blockers.iter().any(|b| b.kind == BlockerKind::GuardianRequired);
            report.blockers.iter().enumerate().map(|(n, b)| row(tr, policy, n, b, guardian_first)).collect()
        },
        again: href(operation),
    };
    (s.visitor.cookies(), html(code, &page)).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    password: String,
}

/// `POST /h5/revocation`: the payment password mints the step-up for the
/// operation on my id, spent at once on starting it; then its progress.
async fn confirm(State(state): State<WebState>, s: Signed, Form(f): Form<ConfirmForm>) -> Response {
    let tr = s.visitor.tr;
    let operation = Operation::parse(&f.operation).unwrap_or(Operation::RevokeRealName);
    let typed = f.password.trim();
    if !six_digits(typed) {
        let mut errors = FormErrors::default();
        errors.add("password", tr.t("revoke-field-password"));
        return preflight_page(&state, &s, operation, errors, Said::Nothing, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let user = s.session.user_id.to_string();
    let token = match step_up_with_password(&state, &s, step_up_operation(operation), &user, typed).await {
        Ok(t) => t,
        Err(p) => {
            let mut errors = FormErrors::default();
            errors.add("password", crate::pages::security::refusal_message(&state, &s, &p).await);
            return preflight_page(&state, &s, operation, errors, Said::Nothing, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let actor = Actor { session: &s.session, request_id: s.visitor.request_id.as_ref() };
    match state.app.revocations().start(actor, operation, Some(&token)).await {
        // Closed at once: the session ended with the account, so the page says so here.
        Ok(row) if row.closed_at.is_some() => {
            let mut cookies = s.visitor.cookies();
            cookies.clear(crate::ctx::SESSION, s.visitor.secure);
            let closed = tr.t1("revoke-closed", "time", &tr.datetime(row.closed_at.unwrap_or(row.updated_at)));
            (cookies, message_page(&s.visitor, &closed, "/h5/login")).into_response()
        }
        Ok(_) | Err(RevocationError::AlreadyRunning(_)) => Redirect::to("/h5/revocation/status").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            let code = StatusCode::from_u16(p.status).unwrap_or(StatusCode::CONFLICT);
            preflight_page(&state, &s, operation, FormErrors::default(), Said::Refused(problem_message_in(&tr, "revoke", &p)), code).await
        }
    }
}

/// `POST /h5/revocation/review`: asks for the operator's review of this
/// operation, then shows the checks again with the review pending.
async fn ask_review(State(state): State<WebState>, s: Signed, Form(f): Form<ConfirmForm>) -> Response {
    let tr = s.visitor.tr;
    let operation = Operation::parse(&f.operation).unwrap_or(Operation::RevokeRealName);
    let actor = Actor { session: &s.session, request_id: s.visitor.request_id.as_ref() };
    let (said, code) = match state.app.revocations().ask_review(actor, operation).await {
        Ok(_) => {
            let days = (state.app.revocation_policy.review_valid_for.as_hours() / 24).to_string();
            (Said::Done(tr.t1("revoke-review-asked", "days", &days)), StatusCode::OK)
        }
        Err(e) => {
            let p = Problem::from(e);
            (Said::Refused(problem_message_in(&tr, "revoke", &p)), StatusCode::from_u16(p.status).unwrap_or(StatusCode::CONFLICT))
        }
    };
    preflight_page(&state, &s, operation, FormErrors::default(), said, code).await
}

/// One line of the status page: where a saga stands, in words.
fn phase_words(tr: &Tr, r: &RevocationRow) -> String {
    let what = tr.t(&format!("revoke-choice-{}", key(r.operation.as_str())));
    // A committed cancellation has ended every app's access; the closing itself follows (CP).
    let phase = match (r.operation, r.saga.phase) {
        (Operation::CancelAccount, Phase::Committed) if r.closed_at.is_some() => tr.t("revoke-phase-committed-cancel-closed"),
        (Operation::CancelAccount, Phase::Committed) => tr.t("revoke-phase-committed-cancel"),
        (_, phase) => tr.t(&format!("revoke-phase-{}", key(phase.as_str()))),
    };
    tr.ta("revoke-phase-line", &[("what", &what), ("phase", &phase)])
}

/// A step as the status page lists it.
pub struct StepRow {
    pub name: String,
    pub done: bool,
}

#[derive(Template)]
#[template(path = "revocation_status.html")]
struct StatusPage {
    c: Chrome,
    headline: String,
    final_: bool,
    steps: Vec<StepRow>,
    reason: Option<String>,
    when: String,
    /// An account cancellation not closed yet: the day it is closed by, and whether that count met days not settled yet.
    due: Option<String>,
    due_provisional: bool,
    /// What a revoked real name leaves the account's payments, once committed.
    after: Vec<String>,
}

/// `GET /h5/revocation/status`: the latest revocation or cancellation, driven on as it is read.
async fn status(State(state): State<WebState>, s: Signed) -> Response {
    let tr = &s.visitor.tr;
    let row = match state.app.revocations().latest(&s.session).await {
        Ok(Some(r)) => r,
        Ok(None) => return Redirect::to("/h5/revocation").into_response(),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                message_page(&s.visitor, &problem_message_in(tr, "revoke", &Problem::from(e)), "/h5/"),
            )
                .into_response();
        }
    };
    let when = match row.saga.phase {
        Phase::Forward | Phase::Compensating => tr.t1("revoke-status-deadline", "time", &tr.datetime(row.deadline)),
        Phase::Committed | Phase::RolledBack => tr.t1("revoke-status-ended", "time", &tr.datetime(row.updated_at)),
    };
    let pending_closure = row.saga.phase != Phase::RolledBack && row.closed_at.is_none();
    let due = row.due.filter(|_| pending_closure);
    let days = state.app.revocation_policy.cancellation_working_days.to_string();
    let mut after = Vec::new();
    let committed_revocation = row.operation == Operation::RevokeRealName && row.saga.phase == Phase::Committed;
    if committed_revocation && let Ok(p) = state.app.revocations().payment_limits(&s.session.user_id).await {
        after.push(tr.t1("revoke-after-limit", "amount", &tr.money(p.daily_receiving_limit)));
        if let Some(until) = p.withdrawals_paused_until {
            after.push(tr.t1("revoke-after-withdrawals", "time", &tr.datetime(until)));
        }
        if !p.auto_debit_allowed {
            after.push(tr.t("revoke-after-auto-debit"));
        }
    }
    let page = StatusPage {
        after,
        c: Chrome::new(&s.visitor, "revoke-status-title", true),
        headline: phase_words(tr, &row),
        final_: row.saga.phase.is_final(),
        steps: Step::ALL
            .iter()
            .enumerate()
            .map(|(i, step)| StepRow { name: tr.t(&format!("revoke-step-{}", key(step.as_str()))), done: i < row.saga.done })
            .collect(),
        reason: row.saga.reason.map(|why| tr.t(&format!("revoke-rollback-{}", key(why.as_str())))),
        when,
        due: due.map(|d| tr.ta("revoke-status-due", &[("time", &tr.date(idlink_domain::working_days::last_day(d.at))), ("days", &days)])),
        due_provisional: due.is_some_and(|d| d.provisional),
    };
    (s.visitor.cookies(), html(StatusCode::OK, &page)).into_response()
}
