//! Social-security card bindings as stored (SPEC SS2, SS4): one row per
//! binding, written whole under optimistic concurrency (`version`), so two
//! devices working on the same binding cannot both take a step.

use super::StoreError;
use super::apikeys::ApiKeyRow;
use super::audit::AuditEntry;
use super::outbox::NewEvent;
use super::reviews::CaseRow;
use async_trait::async_trait;
use idlink_domain::ss_binding::{Progress, Status, Step};
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use idlink_domain::{ApiKeyId, UserId};
use jiff::Timestamp;

/// A binding as stored. Personal data (the card, its financial account) is
/// sealed under the holder's data key; the card's blind index finds the
/// same card bound on another account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsBindingRow {
    /// `ssb_` and 32 hex digits: also the pseudonym in medical-payment codes.
    pub id: String,
    /// Whose card (and whose identity was checked).
    pub user_id: UserId,
    /// The province (six-digit GB/T 2260 code).
    pub region: String,
    pub step: Step,
    pub status: Status,
    /// When the current step must be done by; its sent codes are void after.
    pub step_deadline: Timestamp,
    /// When the whole binding expires unless bound.
    pub expires_at: Timestamp,
    /// `face` or `sms`, once the identity step is done.
    pub identity_method: Option<String>,
    pub face_failures: u32,
    /// The bureau's reference of the dynamic code sent for the card step.
    pub card_code_ref: Option<String>,
    /// The card as the bureau disclosed it (JSON), sealed under the user's key.
    pub card_cipher: Option<Vec<u8>>,
    pub card_index: Option<String>,
    /// The bank's reference of the code sent to the financial account's reserved phone.
    pub bank_code_ref: Option<String>,
    pub agreement_version: Option<String>,
    pub agreement_sha256: Option<String>,
    /// Chosen features, comma-separated.
    pub features: Option<String>,
    /// Why it was frozen (`card_bound_elsewhere`, `region_jump:{region}`, `bureau:{reason}`, `face_mismatch`).
    pub risk_reason: Option<String>,
    /// The risk an operator reviewed and cleared: that check does not freeze the binding again.
    pub risk_cleared: Option<String>,
    /// A relative binding on the holder's behalf (SS5), their role, and when the holder ended it.
    pub agent_user_id: Option<UserId>,
    pub agent_role: Option<String>,
    pub agent_ended_at: Option<Timestamp>,
    /// The channel of the bureau that last answered.
    pub channel: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub bound_at: Option<Timestamp>,
}

impl SsBindingRow {
    pub fn progress(&self) -> Progress {
        Progress { step: self.step, status: self.status }
    }
}

#[async_trait]
pub trait SsBindingStore: Send + Sync {
    /// Writes a new binding with its audit records (its entry, and its
    /// freeze when it is born frozen), the review case then, and a notice
    /// to the holder if any; false when the holder has a binding under way,
    /// frozen or bound already.
    async fn insert_ss_binding(
        &self,
        row: &SsBindingRow,
        case: Option<&CaseRow>,
        notice: Option<&NewEvent>,
        audits: &[AuditEntry],
    ) -> Result<bool, StoreError>;
    async fn ss_binding(&self, id: &str) -> Result<Option<SsBindingRow>, StoreError>;
    /// The user's bindings, newest first.
    async fn ss_bindings_of(&self, user: &UserId) -> Result<Vec<SsBindingRow>, StoreError>;
    /// Bindings the user acts on as a relative (the holder has not ended it), newest first.
    async fn ss_bindings_as_agent(&self, agent: &UserId) -> Result<Vec<SsBindingRow>, StoreError>;
    /// Writes `row` if the stored one is still at `row.version - 1`, with
    /// its audit record, on a freeze the review case it opens, and a notice
    /// to the holder if any. False
    /// when another request moved it first; `Unique` when the card is bound
    /// on another binding already.
    async fn save_ss_binding(
        &self,
        row: &SsBindingRow,
        case: Option<&CaseRow>,
        notice: Option<&NewEvent>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Other people's bindings (under way, frozen or bound) holding the card with this blind index.
    async fn ss_bindings_with_card(&self, card_index: &str, user: &UserId) -> Result<u32, StoreError>;
}

/// A medical-payment code presented at a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUse {
    pub jti: String,
    pub binding_id: String,
    pub user_id: UserId,
    pub terminal_id: String,
    /// Who presented it (`apikey:…`).
    pub actor: String,
    pub amount_fen: i64,
    /// `settling` until the bureau answered, then `settled` or `refused`;
    /// past the terminal's window reconciliation makes it `settled` or
    /// `voided` (voided at the bureau too, for good).
    pub status: String,
    pub settlement_id: Option<String>,
    pub medical_account_fen: Option<i64>,
    pub pooled_fund_fen: Option<i64>,
    pub used_at: Timestamp,
    pub settled_at: Option<Timestamp>,
}

#[async_trait]
pub trait MedicalCodeStore: Send + Sync {
    /// Records the code as used. `Ok(None)` when this is the first use;
    /// `Ok(Some(earlier))` when the code was presented before (nothing written).
    async fn spend_medical_code(&self, u: &CodeUse, audit: &AuditEntry) -> Result<Option<CodeUse>, StoreError>;
    /// Ends an unfinished use: `settled` with the bureau's figures,
    /// `refused` or `voided`. False when it was not `settling` any more.
    async fn settle_medical_code(&self, u: &CodeUse, audit: &AuditEntry) -> Result<bool, StoreError>;
    async fn medical_code_use(&self, jti: &str) -> Result<Option<CodeUse>, StoreError>;
    /// Uses still `settling` that were spent before `before`, oldest first
    /// after the `after` one (by `used_at`, then `jti`): reconciliation's pages.
    async fn unfinished_code_uses(
        &self,
        before: Timestamp,
        after: Option<&(Timestamp, String)>,
        limit: u32,
    ) -> Result<Vec<CodeUse>, StoreError>;
    /// What a terminal's check needs, in one read: the code's binding, whether the code was used,
    /// the digest it was issued with, and the terminal's API key `key` (one round trip, ADR 0034).
    async fn binding_for_code(
        &self,
        binding_id: &str,
        jti: &str,
        key: &ApiKeyId,
    ) -> Result<(Option<CodeBinding>, Option<ApiKeyRow>), StoreError>;
    /// Records a code as issued (its token's digest), for idlink's own check to recognise it.
    async fn record_issued_code(&self, code: &IssuedCodeRecord) -> Result<(), StoreError>;
    /// Forgets the codes that expired before `before`; how many.
    async fn purge_issued_codes(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// A medical-payment code as issued: what its online check compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCodeRecord {
    pub jti: String,
    pub binding_id: String,
    /// SHA-256 of the compact token, as signed.
    pub digest: Vec<u8>,
    pub expires_at: Timestamp,
}

/// What a terminal's check reads of a code's binding: only the columns it
/// decides on (the check is the hot path of a hospital counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBinding {
    pub region: String,
    pub status: Status,
    /// Comma-separated, as stored.
    pub features: Option<String>,
    /// The code's `jti` was spent already.
    pub used: bool,
    /// The SHA-256 of the token issued with this `jti` for this binding (none: not recorded, or purged).
    pub issued_digest: Option<Vec<u8>>,
}

/// A service request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
    /// `ssr_` and 32 hex digits.
    pub id: String,
    pub binding_id: String,
    pub user_id: UserId,
    pub kind: ServiceKind,
    /// The other region it is about (GB/T 2260), for a filing or a transfer.
    pub to_region: Option<String>,
    /// The bureau's id of the request; empty until the bureau's answer to its filing was recorded.
    pub bureau_id: String,
    pub status: ServiceStatus,
    /// Why the bureau rejected it.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait SsServiceStore: Send + Sync {
    async fn insert_service_request(&self, row: &ServiceRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn service_request(&self, id: &str) -> Result<Option<ServiceRow>, StoreError>;
    /// A binding's requests, newest first.
    async fn service_requests_of(&self, binding_id: &str) -> Result<Vec<ServiceRow>, StoreError>;
    /// Moves a request from `from` to `row.status` (with its reason and the bureau's id), with
    /// the notice to its user if any; false when it was not in `from` any more.
    async fn move_service_request(
        &self,
        row: &ServiceRow,
        from: ServiceStatus,
        notice: Option<&NewEvent>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Bound bindings with `feature`, by id after `after`.
    async fn bound_with_feature(&self, feature: &str, after: &str, limit: u32) -> Result<Vec<SsBindingRow>, StoreError>;
    /// Records a benefit payment as announced, with its SMS; false when it was already.
    async fn record_benefit_notice(
        &self,
        binding_id: &str,
        payment_id: &str,
        amount_fen: i64,
        at: Timestamp,
        notice: &NewEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
