//! The user 360° port (issue 13 point 4): opening a user's record for an
//! operator, with the purpose they gave, in the transaction that appends
//! the audit record; the user's review cases; the purposes recorded.

use super::StoreError;
use super::audit::AuditEntry;
use super::identity::IdentityRow;
use super::reviews::CaseRow;
use super::users::UserRow;
use async_trait::async_trait;
use idlink_crypto::WrappedDataKey;
use idlink_domain::{OperatorId, UserId};
use jiff::Timestamp;

/// Why an operator opened a user's record, as stored beside the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub operator_id: OperatorId,
    pub user_id: UserId,
    /// A purpose code (`complaint`, `fraud_investigation`, …).
    pub purpose: String,
    /// The operator's own reference (a ticket number, a letter's reference):
    /// kept for the auditors, never shown to the user.
    pub reference: String,
    pub at: Timestamp,
}

/// The rows a record opens with: the user, their data key, their identity.
#[derive(Debug, Clone)]
pub struct OpenedRecord {
    pub user: UserRow,
    /// `None` once the key was shredded.
    pub key: Option<WrappedDataKey>,
    pub identity: Option<IdentityRow>,
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Reads the user, their data key and identity, stores `view` and
    /// appends `audit`, in one transaction; `None` (nothing written) when
    /// there is no such user.
    async fn open_user_record(&self, view: &RecordView, audit: &AuditEntry) -> Result<Option<OpenedRecord>, StoreError>;
    /// The user's review cases (open and past), newest first, at most `limit`.
    async fn cases_of_user(&self, user: &UserId, limit: u32) -> Result<Vec<CaseRow>, StoreError>;
    /// The record views of a user, newest first (for auditors).
    async fn record_views(&self, user: &UserId, limit: u32) -> Result<Vec<RecordView>, StoreError>;
}
