//! Credit-report requests as stored (SPEC CR2–CR3, issue 15): one row per
//! request, its state, its quota and fee, the bureau's query, and the report
//! and its PDF sealed under the user's data key (C2).
//!
//! Two rules are the store's, so they hold across nodes: a user has at most
//! one request under way (a second gets [`Opened::Busy`]), and whether a
//! request is free is decided in the same transaction that inserts it, from
//! the requests of the same Asia/Shanghai year that did not end `rejected`
//! or `failed`. Two concurrent requests therefore never both take the last
//! free report, nor both pay.

use super::StoreError;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use async_trait::async_trait;
use idlink_domain::credit_request::RequestState;
use idlink_domain::{BindingId, CaseId, ClientId, CreditRequestId, Fen, UserId};
use jiff::Timestamp;

#[derive(Clone, PartialEq, Eq)]
pub struct CreditRequestRow {
    pub id: CreditRequestId,
    pub user_id: UserId,
    /// The calendar year (Asia/Shanghai) whose quota it counts in.
    pub year: i16,
    pub state: RequestState,
    /// Why it was rejected or failed (a stable code).
    pub reason: Option<String>,
    /// How the user proved who they are (`face`, `card`, `certificate`).
    pub method: Option<String>,
    /// Failed verification attempts.
    pub attempts: u32,
    pub free: bool,
    pub fee: Fen,
    pub bureau_query_id: Option<String>,
    /// The console review case, while or after it was in review.
    pub case_id: Option<CaseId>,
    /// The report as the bureau sent it (JSON), sealed under the user's key.
    pub report_cipher: Option<Vec<u8>>,
    /// The rendered PDF, sealed under the user's key.
    pub pdf_cipher: Option<Vec<u8>>,
    pub pages: Option<u32>,
    pub downloads: u32,
    /// When the current state is expected to end.
    pub expected_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ready_at: Option<Timestamp>,
    /// The bank card a verification under way uses, and the bank's reference of the code it sent.
    pub verify_binding: Option<BindingId>,
    pub verify_ref: Option<String>,
    /// The cashier's payment of a paid request, when it was paid, and its refund.
    pub payment_id: Option<String>,
    pub paid_at: Option<Timestamp>,
    pub refund_id: Option<String>,
    pub refunded_at: Option<Timestamp>,
}

impl CreditRequestRow {
    /// A paid request whose payment has not arrived: it waits for it before any verification.
    pub fn awaiting_payment(&self) -> bool {
        self.fee > Fen::ZERO && self.paid_at.is_none()
    }
}

impl std::fmt::Debug for CreditRequestRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditRequestRow")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("free", &self.free)
            .field("fee", &self.fee)
            .field("report", &self.report_cipher.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// A request to open.
#[derive(Debug, Clone)]
pub struct NewCreditRequest {
    pub id: CreditRequestId,
    pub user_id: UserId,
    pub year: i16,
    /// Free reports per calendar year.
    pub free_per_year: u32,
    /// The fee once they are used.
    pub fee: Fen,
    /// What the user was quoted and accepted: the request opens only at this price.
    pub accepted_fee: Fen,
    pub expected_at: Option<Timestamp>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Opened(Box<CreditRequestRow>),
    /// Another request of the user's is under way.
    Busy,
    /// The price is no longer the one accepted (a free report was used or
    /// freed meanwhile): quote again.
    QuoteChanged {
        fee: Fen,
    },
}

/// A user's credit alerts (SPEC CR6): on or off, the apps told too, and
/// the last file compared (no `Debug`: it holds a ciphertext).
#[derive(Clone, PartialEq, Eq)]
pub struct CreditWatchRow {
    pub user_id: UserId,
    pub enabled: bool,
    /// Apps (the user authorised) that get a security event with each alert.
    pub apps: Vec<ClientId>,
    /// The last file compared (the bureau's report JSON), sealed under the user's key.
    pub baseline_cipher: Option<Vec<u8>>,
    pub checked_at: Option<Timestamp>,
    pub next_check_at: Option<Timestamp>,
    /// Changes announced so far.
    pub alerts: u32,
    /// Why the last check did not complete (a stable code), if it did not.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for CreditWatchRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditWatchRow")
            .field("user_id", &self.user_id)
            .field("enabled", &self.enabled)
            .field("next_check_at", &self.next_check_at)
            .finish_non_exhaustive()
    }
}

/// The outcome of one check of a watch, written together.
pub struct WatchCheck<'a> {
    /// The file now compared (sealed); `None` keeps the stored one (the check failed).
    pub baseline_cipher: Option<&'a [u8]>,
    pub checked_at: Timestamp,
    pub next_check_at: Timestamp,
    /// Changes announced by this check.
    pub alerts: u32,
    pub last_error: Option<&'a str>,
    /// The user's notices and the apps' security events, written to the outbox with it.
    pub notices: &'a [NewEvent],
    /// The record of what was announced, when something was.
    pub audit: Option<&'a AuditEntry>,
}

/// A state change, applied only if the request is still in one of `from`
/// (no `Debug`: it holds ciphertexts).
#[derive(Clone, Default)]
pub struct Move<'a> {
    pub reason: Option<&'a str>,
    pub method: Option<&'a str>,
    pub bureau_query_id: Option<&'a str>,
    pub case_id: Option<&'a CaseId>,
    pub report_cipher: Option<&'a [u8]>,
    pub pdf_cipher: Option<&'a [u8]>,
    pub pages: Option<u32>,
    pub expected_at: Option<Timestamp>,
    /// Counts one more failed verification attempt.
    pub failed_attempt: bool,
    /// A bank-card verification started: the binding and the bank's code reference.
    pub verify_binding: Option<&'a BindingId>,
    pub verify_ref: Option<&'a str>,
    /// The cashier's payment created for the request.
    pub payment_id: Option<&'a str>,
    /// The user's notice, written to the outbox with the move.
    pub notice: Option<&'a NewEvent>,
    /// Applies only while no payment is recorded (an unpaid request's end
    /// must not overtake the payment's callback).
    pub unpaid_only: bool,
}

#[async_trait]
pub trait CreditStore: Send + Sync {
    /// Reports of `year` that count against the free quota (free, and not ended rejected or failed).
    async fn free_reports_used(&self, user: &UserId, year: i16) -> Result<u32, StoreError>;
    /// Opens a request, deciding free or paid in the same transaction; `audit` is appended with it.
    async fn open_credit_request(&self, new: &NewCreditRequest, audit: &AuditEntry) -> Result<Opened, StoreError>;
    async fn credit_request(&self, id: &CreditRequestId) -> Result<Option<CreditRequestRow>, StoreError>;
    /// The user's requests, newest first.
    async fn credit_requests_of(&self, user: &UserId, limit: u32) -> Result<Vec<CreditRequestRow>, StoreError>;
    /// Requests in one of `states`, oldest first (the follow-up job, the review queue).
    async fn credit_requests_in(&self, states: &[RequestState], limit: u32) -> Result<Vec<CreditRequestRow>, StoreError>;
    /// Moves a request from one of `from` to `to` with the fields of `m`:
    /// `reason` and `expected_at` describe the new state (a `None` clears
    /// them), for the other fields a `None` keeps the stored value; `false`
    /// if it was no longer in `from`.
    async fn move_credit_request(
        &self,
        id: &CreditRequestId,
        from: &[RequestState],
        to: RequestState,
        m: &Move<'_>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Counts a download of a ready request's PDF, with its audit record.
    async fn count_credit_download(&self, id: &CreditRequestId, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Records the payment `payment_id` of the request as paid at `at`,
    /// whatever the request's state (one that ended meanwhile is refunded),
    /// also when the request never learnt its payment's id (the cashier's
    /// answer was lost): `false` if the request has another payment or it
    /// was recorded before.
    /// A request still waiting for it gets `expected_at` and loses its
    /// `awaiting_payment` reason.
    async fn record_credit_payment(
        &self,
        id: &CreditRequestId,
        payment_id: &str,
        expected_at: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Paid requests that ended `rejected` or `failed` and are not refunded
    /// yet, the longest untouched first.
    async fn credit_refunds_due(&self, limit: u32) -> Result<Vec<CreditRequestRow>, StoreError>;
    /// A refund the cashier did not take: the request goes to the back of the refund queue.
    async fn defer_credit_refund(&self, id: &CreditRequestId, at: Timestamp) -> Result<(), StoreError>;
    /// Records the refund of a paid request; `false` if it was recorded before.
    async fn record_credit_refund(
        &self,
        id: &CreditRequestId,
        refund_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    async fn credit_watch(&self, user: &UserId) -> Result<Option<CreditWatchRow>, StoreError>;
    /// Turns a user's alerts on (checked first at `next_check_at`) or off
    /// (the stored file is dropped: a later opt-in starts afresh), with the apps told too.
    async fn set_credit_watch(
        &self,
        user: &UserId,
        enabled: bool,
        apps: &[ClientId],
        next_check_at: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Enabled watches whose check is due at `now`, earliest first.
    async fn due_credit_watches(&self, now: Timestamp, limit: u32) -> Result<Vec<CreditWatchRow>, StoreError>;
    /// Records a check with its notices, if the watch is still enabled and
    /// was last checked at `checked_before` (so two nodes never announce one
    /// change twice); `false` otherwise, and nothing is written.
    async fn record_credit_watch_check(
        &self,
        user: &UserId,
        checked_before: Option<Timestamp>,
        check: &WatchCheck<'_>,
    ) -> Result<bool, StoreError>;
}
