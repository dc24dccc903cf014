//! The credit bureau (SPEC CR1, CR3, CR4; issue 15): a person's own report,
//! asked for once per request and followed until it is ready.
//!
//! A query is keyed by the caller's `query_ref`, so asking again after a
//! lost answer never makes a second query (nor a second query record in the
//! person's file). The bureau may answer at once, later (processing), only
//! after the querying institution's manual review, or not at all.
//!
//! Monitoring (SPEC CR6) reads the person's current file for the alerts
//! without being a query: it leaves no query record in the file.

use async_trait::async_trait;
use idlink_domain::credit_report::CreditReport;
use idlink_domain::{IdNumber, PersonName};
use jiff::Timestamp;

/// Where a query stands at the bureau.
#[derive(Debug, Clone, PartialEq)]
pub enum BureauAnswer {
    Ready(Box<CreditReport>),
    /// Still being prepared; ask again after the time given.
    Processing {
        expected_ready_at: Option<Timestamp>,
    },
    /// Held until the querying institution has reviewed it.
    ReviewRequired {
        reason: String,
    },
    /// Refused (the identity does not match, or rejected on review).
    Rejected {
        reason: String,
    },
    /// An answer the protocol does not document: nothing is decided.
    Pending {
        status: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BureauQuery {
    /// The bureau's id of the query, to follow it.
    pub query_id: String,
    pub answer: BureauAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the credit bureau is unavailable; retry after {retry_after_secs} s")]
pub struct BureauUnavailable {
    pub retry_after_secs: u64,
    /// When the bureau announced the end of its maintenance, if it did.
    pub expected_end: Option<Timestamp>,
}

#[async_trait]
pub trait CreditBureau: Send + Sync {
    /// Asks for the person's own report (idempotent by `query_ref`).
    async fn query(&self, query_ref: &str, name: &PersonName, id: &IdNumber) -> Result<BureauQuery, BureauUnavailable>;
    /// Where the query stands now.
    async fn status(&self, query_id: &str) -> Result<BureauQuery, BureauUnavailable>;
    /// The querying institution's review decision on a held query.
    async fn review(&self, query_id: &str, approve: bool, reviewer: &str) -> Result<BureauQuery, BureauUnavailable>;
    /// The person's current file for the alerts the person opted into
    /// (`watch_ref`: idlink's reference of the watch); not a query.
    async fn monitor(&self, watch_ref: &str, name: &PersonName, id: &IdNumber) -> Result<BureauAnswer, BureauUnavailable>;
}
