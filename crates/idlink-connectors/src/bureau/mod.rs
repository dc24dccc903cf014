//! The credit bureau: a person's own credit report (issue 15).
//!
//! Wire protocol (`docs/credit-report.md`):
//! `POST /bureau/v1/queries {"query_ref", "name", "id_number", "reason":
//! "self_query"}`, `GET /bureau/v1/queries/{query_id}` and
//! `POST /bureau/v1/queries/{query_id}/review {"decision": "approve" |
//! "reject", "reviewer"}`, each answering `{"query_id", "status": "ready" |
//! "processing" | "review_required" | "rejected", "expected_ready_at"?,
//! "reason"?, "report"?}`. A query is idempotent by `query_ref`, so every
//! call may be retried. `POST /bureau/v1/monitoring {"watch_ref", "name",
//! "id_number"}` answers the same shape with the current file, and adds no
//! query record (the alerts' periodic read, SPEC CR6).

use crate::executor::{CallError, Executor, Target};
use idlink_core::ports::bureau::BureauAnswer;
use idlink_domain::credit_report::CreditReport;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

mod port;
pub use port::BureauPort;

/// The query as sent (no `Debug`: it holds the name and ID number in clear; the executor logs it masked).
#[derive(Serialize)]
pub struct QueryRequest<'a> {
    pub query_ref: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub reason: &'a str,
}

/// A monitoring read as sent (no `Debug`: it holds the name and ID number in clear).
#[derive(Serialize)]
pub struct MonitorRequest<'a> {
    pub watch_ref: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ReviewRequest<'a> {
    pub decision: &'a str,
    pub reviewer: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct QueryResponse {
    pub query_id: String,
    pub status: String,
    #[serde(default)]
    pub expected_ready_at: Option<Timestamp>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub report: Option<Box<CreditReport>>,
}

/// The answer in the core's terms. Anything undocumented (including
/// "ready" without a report) is pending: nothing is decided.
impl From<QueryResponse> for BureauAnswer {
    fn from(r: QueryResponse) -> Self {
        let reason = r.reason.unwrap_or_default();
        match (r.status.as_str(), r.report) {
            ("ready", Some(report)) => BureauAnswer::Ready(report),
            ("processing", _) => BureauAnswer::Processing { expected_ready_at: r.expected_ready_at },
            ("review_required", _) => BureauAnswer::ReviewRequired { reason },
            ("rejected", _) => BureauAnswer::Rejected { reason },
            (other, _) => BureauAnswer::Pending { status: other.to_owned() },
        }
    }
}

/// A query id goes into a path: only the characters a bureau's ids use.
fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone)]
pub struct CreditBureauApi {
    target: Target,
}

impl CreditBureauApi {
    pub fn new(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("bureau", "main", base_url)? })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Idempotent by `query_ref`: safe to retry.
    pub async fn query(&self, exec: &Executor, query_ref: &str, name: &str, id_number: &str) -> Result<(String, BureauAnswer), CallError> {
        let req = QueryRequest { query_ref, name, id_number, reason: "self_query" };
        let res: QueryResponse = exec.call(&self.target, reqwest::Method::POST, "/bureau/v1/queries", Some(&req), true).await?;
        Ok((res.query_id.clone(), BureauAnswer::from(res)))
    }

    pub async fn status(&self, exec: &Executor, query_id: &str) -> Result<BureauAnswer, CallError> {
        if !path_safe(query_id) {
            return Ok(BureauAnswer::Pending { status: "unknown_query".into() });
        }
        let path = format!("/bureau/v1/queries/{query_id}");
        let res: QueryResponse = exec.call(&self.target, reqwest::Method::GET, &path, None::<&()>, true).await?;
        Ok(BureauAnswer::from(res))
    }

    /// The current file for the alerts; reads only, so safe to retry.
    pub async fn monitor(&self, exec: &Executor, watch_ref: &str, name: &str, id_number: &str) -> Result<BureauAnswer, CallError> {
        let req = MonitorRequest { watch_ref, name, id_number };
        let res: QueryResponse = exec.call(&self.target, reqwest::Method::POST, "/bureau/v1/monitoring", Some(&req), true).await?;
        Ok(BureauAnswer::from(res))
    }

    /// A decision repeated answers the state it made: safe to retry.
    pub async fn review(&self, exec: &Executor, query_id: &str, approve: bool, reviewer: &str) -> Result<BureauAnswer, CallError> {
        if !path_safe(query_id) {
            return Ok(BureauAnswer::Pending { status: "unknown_query".into() });
        }
        let req = ReviewRequest { decision: if approve { "approve" } else { "reject" }, reviewer };
        let path = format!("/bureau/v1/queries/{query_id}/review");
        let res: QueryResponse = exec.call(&self.target, reqwest::Method::POST, &path, Some(&req), true).await?;
        Ok(BureauAnswer::from(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(json: &str) -> BureauAnswer {
        BureauAnswer::from(serde_json::from_str::<QueryResponse>(json).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn answers_map_and_unknown_is_pending() {
        assert!(matches!(
            verdict(r#"{"query_id":"q","status":"processing","expected_ready_at":"2026-11-30T10:00:00Z"}"#),
            BureauAnswer::Processing { expected_ready_at: Some(_) }
        ));
        assert_eq!(
            verdict(r#"{"query_id":"q","status":"review_required","reason":"x"}"#),
            BureauAnswer::ReviewRequired { reason: "x".into() }
        );
        assert_eq!(
            verdict(r#"{"query_id":"q","status":"rejected","reason":"identity_mismatch"}"#),
            BureauAnswer::Rejected { reason: "identity_mismatch".into() }
        );
        // "ready" without a report decides nothing.
        assert!(matches!(verdict(r#"{"query_id":"q","status":"ready"}"#), BureauAnswer::Pending { .. }));
        assert!(matches!(verdict(r#"{"query_id":"q","status":"archived"}"#), BureauAnswer::Pending { .. }));
        assert!(!path_safe("../x") && !path_safe("") && path_safe("crq-00000001"));
    }
}
