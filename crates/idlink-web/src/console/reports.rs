//! `/console/reports`: the regulator's quarterly bank-card query report
//! (SPEC OP3, issue 13 point 7) for auditors and admins. A finished
//! quarter's files (the same bytes as `idlink report quarterly` and the
//! operator API: CSV, JSON, the signed manifest) download from here;
//! `idlink report verify` checks them. What is kept how long is on
//! `/console/retention` ([`super::retention`]).

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idlink_api::Problem;
use idlink_core::ports::operators::{Role, require};
use idlink_core::reports::{FILES, Quarter};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    c: ConsoleChrome,
    quarter: String,
    /// The files of the asked quarter, once it was generated.
    files: Vec<&'static str>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    #[serde(default)]
    quarter: String,
}

/// `GET /console/reports[?quarter=2026Q3]`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(q): Query<Asked>) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-reports-title"), Some(&s.op));
    let actor = format!("operator:{}", s.op.id);
    let mut page = ReportsPage { c, quarter: q.quarter.trim().to_owned(), files: Vec::new(), error: None };
    if let Err(e) = require(&s.op, Role::Auditor) {
        page.error = Some(problem_message_in(&tr, "console", &Problem::from(e)));
        return (StatusCode::FORBIDDEN, cookies(&s.visitor), html(StatusCode::FORBIDDEN, &page)).into_response();
    }
    let compliance = state.app.compliance();
    if !page.quarter.is_empty() {
        match Quarter::parse(&page.quarter) {
            None => page.error = Some(tr.t("console-reports-bad-quarter")),
            Some(quarter) => match compliance.quarterly(quarter, &actor).await {
                Ok(_) => page.files = FILES.to_vec(),
                Err(e) => page.error = Some(problem_message_in(&tr, "console", &Problem::from(e))),
            },
        }
    }
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

/// `GET /console/reports/{quarter}/{file}`: one file of a generated report, as it was filed.
pub async fn file(State(state): State<WebState>, s: SignedOperator, Path((quarter, name)): Path<(String, String)>) -> Response {
    let tr = s.visitor.tr;
    if let Err(e) = require(&s.op, Role::Auditor) {
        return (StatusCode::FORBIDDEN, problem_message_in(&tr, "console", &Problem::from(e))).into_response();
    }
    let Some(quarter) = Quarter::parse(&quarter) else {
        return (StatusCode::NOT_FOUND, tr.t("console-reports-bad-quarter")).into_response();
    };
    match state.app.compliance().quarterly_file(quarter, &name, &format!("operator:{}", s.op.id)).await {
        Ok(f) => {
            let kind = match f.name.rsplit('.').next() {
                Some("csv") => "text/csv; charset=utf-8",
                Some("json") => "application/json",
                Some("pem") => "application/x-pem-file",
                Some("sig") => "application/octet-stream",
                _ => "text/plain; charset=utf-8",
            };
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{quarter}-{}\"", f.name))
                .unwrap_or(HeaderValue::from_static("attachment"));
            ([(header::CONTENT_TYPE, HeaderValue::from_static(kind)), (header::CONTENT_DISPOSITION, disposition)], f.content)
                .into_response()
        }
        Err(e) => {
            let p = Problem::from(e);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, problem_message_in(&tr, "console", &p)).into_response()
        }
    }
}
