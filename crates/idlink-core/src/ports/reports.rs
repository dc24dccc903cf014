//! Compliance ports (SPEC OP2, OP3): the bank-card query log of a period,
//! the quarterly reports as filed, the audit explorer's search, and the
//! oldest record of each kind idlink must keep.

use super::StoreError;
use super::audit::{AuditEntry, AuditRecord};
use async_trait::async_trait;
use idlink_domain::QueryId;
use jiff::Timestamp;
use serde::Serialize;

/// One balance query as the query log holds it, with the internal user id
/// (the report replaces it by a pseudonym).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryLogRow {
    pub id: QueryId,
    pub user_id: String,
    pub bank: String,
    pub channel: String,
    pub precision: String,
    pub at: Timestamp,
    /// `disclosed`, `replayed` or `refused`.
    pub outcome: String,
    pub reason: Option<String>,
}

/// One file of a filed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    pub name: String,
    pub content: Vec<u8>,
}

/// What the audit explorer asks for; every filter is optional. Newest first:
/// `before` is the keyset cursor (records with a lower `seq`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Records at or after this instant.
    pub from: Option<Timestamp>,
    /// Records before this instant.
    pub until: Option<Timestamp>,
    pub before: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait ComplianceStore: Send + Sync {
    /// Balance queries with `from <= at < until`, in (`at`, `id`) order, after
    /// the keyset cursor `after`, at most `limit`.
    async fn query_log(
        &self,
        from: Timestamp,
        until: Timestamp,
        after: Option<(Timestamp, QueryId)>,
        limit: u32,
    ) -> Result<Vec<QueryLogRow>, StoreError>;
    /// The files of the report filed for `period`, empty when none was.
    async fn filed_report(&self, period: &str) -> Result<Vec<ReportFile>, StoreError>;
    /// Files a report with its audit record, unless one is filed for
    /// `period` already (then nothing is written: the first one stays).
    async fn file_report(&self, period: &str, files: &[ReportFile], at: Timestamp, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Audit records matching `filter`, newest first.
    async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
}
