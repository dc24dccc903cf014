//! `/h5/revocation`: before a real-name revocation or an account
//! cancellation, every blocker at once (SPEC RV1, issue 17), each worded
//! with what it concerns and what clears it (the host app's deep link where
//! the deployment configures one), and which of the host's stores were
//! asked. The rules and the asking are the core's (`Revocations::preflight`),
//! the same call as `GET /v1/me/revocation/preflight`; this page words it.

use crate::WebState;
use crate::ctx::Signed;
use crate::i18n::Tr;
use crate::pages::render::{Chrome, html, message_page, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_core::revocation::RevocationPolicy;
use idlink_domain::revocation::{Blocker, BlockerKind, Operation};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new().route("/h5/revocation", get(preflight))
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

fn row(tr: &Tr, policy: &RevocationPolicy, n: usize, b: &Blocker) -> BlockerRow {
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
    let when_key = if b.kind == BlockerKind::SourceUnavailable { "revoke-retry-after" } else { "revoke-lifts-on" };
    BlockerRow {
        id: format!("blocker-{}", n + 1),
        code,
        title,
        item: b.item.clone(),
        amount: b.amount.map(|f| tr.t1("revoke-amount", "amount", &tr.money(f))),
        when: b.until.map(|t| tr.t1(when_key, "time", &tr.datetime(t))),
        action: tr.t(&format!("revoke-action-{}", key(action))),
        link: policy.links.get(action).cloned(),
    }
}

/// `GET /h5/revocation[?operation=cancel_account]`.
async fn preflight(State(state): State<WebState>, s: Signed, Query(q): Query<Asked>) -> Response {
    let tr = &s.visitor.tr;
    let operation = q.operation.as_deref().and_then(Operation::parse).unwrap_or(Operation::RevokeRealName);
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
    let page = PreflightPage {
        c,
        choices: Operation::ALL
            .into_iter()
            .map(|o| Choice { href: href(o), label: tr.t(&format!("revoke-choice-{}", key(o.as_str()))), current: o == operation })
            .collect(),
        intro: tr.t(intro),
        asked,
        count: tr.tn("revoke-blockers-count", "count", i64::try_from(report.blockers.len()).unwrap_or(i64::MAX)),
        blockers: report.blockers.iter().enumerate().map(|(n, b)| row(tr, policy, n, b)).collect(),
        again: href(operation),
    };
    (s.visitor.cookies(), html(StatusCode::OK, &page)).into_response()
}
