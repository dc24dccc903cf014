//! The sandbox credit bureau (issue 15): answers credit-report queries with
//! second-generation reports made up for any identity ([`files`]), through
//! the same protocol as the connector's production bureau
//! (`idlink_connectors::bureau`).
//!
//! - `POST /bureau/v1/queries {"query_ref", "name", "id_number", "reason"}`
//!   answers a query (the same `query_ref` answers the same query again);
//! - `GET /bureau/v1/queries/{query_id}` its state now;
//! - `POST /bureau/v1/queries/{query_id}/review {"decision", "reviewer"}`
//!   the querying institution's manual review of a query the bureau held
//!   (`approve` releases the report, `reject` ends the query).
//!
//! Each answer: `{"query_id", "status": "ready" | "processing" |
//! "review_required" | "rejected", "expected_ready_at"?, "reason"?,
//! "report"?}`.
//!
//! Test values, by the ID number's sequence code (digits 15–17): `000` →
//! rejected (the name does not match the number), `700` → manual review,
//! `701` → unavailable (503 with `Retry-After`), `702` → slow (processing for
//! 90 s of sandbox time), `703` → no record (a thin file: no credit at all),
//! `704` → a large file (200 accounts), `705` → adverse records (overdue
//! months, a bad debt, a judgment, a fraud alert, a dispute); anything else
//! a typical file, at once. `POST /sandbox/v1/bureau/records {"id_number",
//! "record": "query" | "overdue" | "public_record"}` adds to a person's file
//! what later reports show (for the record-change alerts).

pub mod files;

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use files::{Additions, FileSize};
use idlink_domain::Fen;
use idlink_domain::credit_report::{CreditReport, PublicRecord, PublicRecordKind, QueryReason, QueryRecord};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a slow (`702`) query stays processing, in sandbox time.
pub const SLOW_FOR: SignedDuration = SignedDuration::from_secs(90);

/// The bureau's state: its queries and what was added to people's files.
pub struct Bureau {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    queries: HashMap<String, Query>,
    by_ref: HashMap<String, String>,
    additions: HashMap<String, Additions>,
    serial: u64,
}

struct Query {
    name: String,
    id_number: String,
    size: FileSize,
    asked_at: Timestamp,
    serial: u64,
    state: QueryState,
}

#[derive(Clone)]
enum QueryState {
    Processing { until: Timestamp },
    ReviewRequired,
    Ready(Box<CreditReport>),
    Rejected(&'static str),
}

/// What the bureau answers about a query.
#[derive(Debug, Serialize)]
pub struct Answer {
    query_id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_ready_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<Box<CreditReport>>,
}

impl Bureau {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, inner: Mutex::new(Inner::default()) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Releases the report: made as of the query's time, and the query
    /// itself joins the person's query records for later reports.
    fn release(&mut self, query_id: &str) {
        let Some(q) = self.queries.get(query_id) else { return };
        let added = self.additions.entry(q.id_number.clone()).or_default();
        added.anchor.get_or_insert(files::snapshot_of(q.asked_at));
        let report = files::report(&q.name, &q.id_number, q.asked_at, q.serial, q.size, added);
        added.queries.push(QueryRecord {
            date: idlink_domain::calendar::shanghai_today(q.asked_at),
            institution: "本人".into(),
            reason: QueryReason::SelfQuery,
        });
        if let Some(q) = self.queries.get_mut(query_id) {
            q.state = QueryState::Ready(Box::new(report));
        }
    }

    fn answer(&mut self, query_id: &str, now: Timestamp) -> Option<Answer> {
        if let Some(QueryState::Processing { until }) = self.queries.get(query_id).map(|q| &q.state)
            && *until <= now
        {
            self.release(query_id);
        }
        let q = self.queries.get(query_id)?;
        let mut a = Answer { query_id: query_id.to_owned(), status: "", expected_ready_at: None, reason: None, report: None };
        match &q.state {
            QueryState::Processing { until } => {
                a.status = "processing";
                a.expected_ready_at = Some(*until);
            }
            QueryState::ReviewRequired => {
                a.status = "review_required";
                a.reason = Some("identity_documents_to_confirm");
            }
            QueryState::Ready(report) => {
                a.status = "ready";
                a.report = Some(report.clone());
            }
            QueryState::Rejected(reason) => {
                a.status = "rejected";
                a.reason = Some(reason);
            }
        }
        Some(a)
    }
}

/// `/bureau/v1/queries…`, maintenance as `bureau`, and the records control API.
pub fn institution(b: Arc<Bureau>) -> Institution {
    Institution {
        maintenance: &["bureau"],
        maintenance_also: Vec::new(),
        index: Some((
            "bureau",
            serde_json::json!({
                "query": "POST /bureau/v1/queries {query_ref, name, id_number, reason}",
                "status": "GET /bureau/v1/queries/{query_id}",
                "review": "POST /bureau/v1/queries/{query_id}/review {decision: approve|reject, reviewer}",
                "monitoring": "POST /bureau/v1/monitoring {watch_ref, name, id_number}: the current file for alerts, no query record",
                "add_to_a_file": "POST /sandbox/v1/bureau/records {id_number, record: query|overdue|public_record}",
                "test_values": {
                    "id_number sequence (digits 15-17) 000": "rejected: identity_mismatch",
                    "id_number sequence 700": "review_required",
                    "id_number sequence 701": "unavailable (503, Retry-After)",
                    "id_number sequence 702": "processing for 90 s of sandbox time, then ready",
                    "id_number sequence 703": "no record: a thin file",
                    "id_number sequence 704": "a large file: 200 accounts",
                    "id_number sequence 705": "adverse records",
                    "anything else": "a typical file, ready at once"
                }
            }),
        )),
        router: Router::new()
            .route("/bureau/v1/queries", post(query))
            .route("/bureau/v1/queries/{query_id}", get(status))
            .route("/bureau/v1/queries/{query_id}/review", post(review))
            .route("/bureau/v1/monitoring", post(monitor))
            .route("/sandbox/v1/bureau/records", post(add_record))
            .with_state(b),
    }
}

/// A query's state as the bureau answers it, or 404 for a query it never had.
fn answered(answer: Option<Answer>) -> Response {
    match answer {
        Some(a) => Json(a).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such query"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    query_ref: String,
    name: String,
    id_number: String,
    reason: String,
}

fn sequence(id_number: &str) -> &str {
    id_number.get(14..17).unwrap_or("")
}

pub async fn query(State(b): State<Arc<Bureau>>, Json(req): Json<QueryRequest>) -> Response {
    if let Some(res) = maintenance_answer(&b.shared, "bureau") {
        return res;
    }
    if req.query_ref.is_empty() || req.name.trim().is_empty() || req.id_number.len() != 18 || !req.id_number.is_ascii() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`query_ref`, `name` and an 18-character `id_number` are required",
        );
    }
    if req.reason != "self_query" {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason", "a person's own report is queried with reason `self_query`");
    }
    let seq = sequence(&req.id_number);
    if seq == "701" {
        let mut res = error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the credit bureau is busy; retry later");
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return res;
    }
    let now = b.shared.clock.now();
    let mut inner = b.inner();
    let id = match inner.by_ref.get(&req.query_ref) {
        Some(id) => id.clone(),
        None => {
            inner.serial += 1;
            let serial = inner.serial;
            let id = format!("crq-{serial:08}");
            let (size, state) = match seq {
                "000" => (FileSize::Typical, QueryState::Rejected("identity_mismatch")),
                "700" => (FileSize::Typical, QueryState::ReviewRequired),
                "702" => (FileSize::Typical, QueryState::Processing { until: now.checked_add(SLOW_FOR).unwrap_or(now) }),
                "703" => (FileSize::Thin, QueryState::Processing { until: now }),
                "704" => (FileSize::Large, QueryState::Processing { until: now }),
                "705" => (FileSize::Adverse, QueryState::Processing { until: now }),
                _ => (FileSize::Typical, QueryState::Processing { until: now }),
            };
            let q = Query { name: req.name.trim().to_owned(), id_number: req.id_number.clone(), size, asked_at: now, serial, state };
            inner.queries.insert(id.clone(), q);
            inner.by_ref.insert(req.query_ref.clone(), id.clone());
            id
        }
    };
    answered(inner.answer(&id, now))
}

pub async fn status(State(b): State<Arc<Bureau>>, Path(query_id): Path<String>) -> Response {
    if let Some(res) = maintenance_answer(&b.shared, "bureau") {
        return res;
    }
    let now = b.shared.clock.now();
    answered(b.inner().answer(&query_id, now))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    decision: String,
    reviewer: String,
}

pub async fn review(State(b): State<Arc<Bureau>>, Path(query_id): Path<String>, Json(req): Json<ReviewRequest>) -> Response {
    if let Some(res) = maintenance_answer(&b.shared, "bureau") {
        return res;
    }
    if req.reviewer.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "`reviewer` names who reviewed");
    }
    let now = b.shared.clock.now();
    let mut inner = b.inner();
    let held = match inner.queries.get(&query_id) {
        None => return error(StatusCode::NOT_FOUND, "not_found", "no such query"),
        Some(q) => matches!(q.state, QueryState::ReviewRequired),
    };
    // A decision repeated after it took effect answers the state again (retries are safe).
    if held {
        match req.decision.as_str() {
            "approve" => inner.release(&query_id),
            "reject" => {
                if let Some(q) = inner.queries.get_mut(&query_id) {
                    q.state = QueryState::Rejected("rejected_on_review");
                }
            }
            _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_decision", "`decision` is `approve` or `reject`"),
        }
    }
    answered(inner.answer(&query_id, now))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorRequest {
    watch_ref: String,
    name: String,
    id_number: String,
}

/// The person's current file as of now, for the alerts: no query record is
/// added (monitoring is not a query), no review; the outage and identity
/// test values behave as for a query.
pub async fn monitor(State(b): State<Arc<Bureau>>, Json(req): Json<MonitorRequest>) -> Response {
    if let Some(res) = maintenance_answer(&b.shared, "bureau") {
        return res;
    }
    if req.watch_ref.is_empty() || req.name.trim().is_empty() || req.id_number.len() != 18 || !req.id_number.is_ascii() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`watch_ref`, `name` and an 18-character `id_number` are required",
        );
    }
    let seq = sequence(&req.id_number);
    let mut a = Answer { query_id: req.watch_ref.clone(), status: "ready", expected_ready_at: None, reason: None, report: None };
    match seq {
        "701" => {
            let mut res = error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the credit bureau is busy; retry later");
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            return res;
        }
        "000" => {
            a.status = "rejected";
            a.reason = Some("identity_mismatch");
        }
        _ => {
            let size = match seq {
                "703" => FileSize::Thin,
                "704" => FileSize::Large,
                "705" => FileSize::Adverse,
                _ => FileSize::Typical,
            };
            let now = b.shared.clock.now();
            let mut inner = b.inner();
            let added = inner.additions.entry(req.id_number.clone()).or_default();
            added.anchor.get_or_insert(files::snapshot_of(now));
            let added = added.clone();
            // The serial names a report; a monitoring read is not one, so it stays 0.
            a.report = Some(Box::new(files::report(req.name.trim(), &req.id_number, now, 0, size, &added)));
        }
    }
    Json(a).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    id_number: String,
    record: String,
    #[serde(default)]
    institution: Option<String>,
}

/// Adds to a person's file: a query by an institution, an overdue month on
/// their first open account, or a public record (a court enforcement).
pub async fn add_record(State(b): State<Arc<Bureau>>, Json(req): Json<RecordRequest>) -> Response {
    let today = idlink_domain::calendar::shanghai_today(b.shared.clock.now());
    let mut inner = b.inner();
    let added = inner.additions.entry(req.id_number.clone()).or_default();
    let institution = req.institution.unwrap_or_else(|| "某消费金融有限公司".into());
    match req.record.as_str() {
        "query" => added.queries.push(QueryRecord { date: today, institution, reason: QueryReason::LoanApproval }),
        // A month in default on the first open account: this month (shown from the next snapshot in it).
        "overdue" => added.overdue.push(today.first_of_month()),
        "public_record" => added.public_records.push(PublicRecord {
            kind: PublicRecordKind::Enforcement,
            authority: "北京市第一中级人民法院".into(),
            matter: "借款合同纠纷".into(),
            date: today,
            amount: Fen(5_000_000),
        }),
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_record", "`record` is `query`, `overdue` or `public_record`"),
    }
    (StatusCode::NO_CONTENT, ()).into_response()
}
