//! Balance-query ports (SPEC BK3, BK4, BK6): the tiers read at once, the
//! query commit, the history, agreements as stored, and the banks' balance
//! channel with the grant it takes.

use super::StoreError;
use super::audit::{AuditEntry, AuditStore};
use super::bindings::{BankUnavailable, BindingRow};
use super::idempotency::ClaimRef;
use super::outbox::NewEvent;
use super::stepup::Binding;
use async_trait::async_trait;
use idlink_domain::card::CardNumber;
use idlink_domain::roster::Bank;
use idlink_domain::{AgreementId, BindingId, Fen, QueryId, UserId};
use jiff::Timestamp;
use serde::Serialize;

/// Proof that every tier passed for one query on one card. Only
/// `crate::balance::Balances::query` makes one ([`BalanceGrant::new`] is crate-private).
#[derive(Debug)]
pub struct BalanceGrant {
    card: CardNumber,
    bank: Bank,
}

impl BalanceGrant {
    pub(crate) fn new(card: CardNumber, bank: Bank) -> Self {
        Self { card, bank }
    }

    pub fn card(&self) -> &CardNumber {
        &self.card
    }

    pub fn bank(&self) -> &Bank {
        &self.bank
    }
}

/// What the bank answered to a balance query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankBalance {
    /// The balance and the channel it came through (`card_switch` or `direct`).
    Balance {
        fen: Fen,
        channel: &'static str,
    },
    CardLost,
    PasswordLocked,
}

#[async_trait]
pub trait BalanceBank: Send + Sync {
    async fn balance(&self, grant: &BalanceGrant) -> Result<BankBalance, BankUnavailable>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryRecord {
    pub id: QueryId,
    pub binding_id: BindingId,
    pub bank: String,
    pub channel: String,
    pub precision: String,
    pub actor: String,
    pub at: Timestamp,
    /// `disclosed`, `replayed` (an idempotent replay of a disclosed answer) or `refused`.
    pub outcome: String,
    /// Why a query was refused: the problem code the user got (`balance_query_disabled`, `step_up_required`, …).
    pub reason: Option<String>,
}

/// What a balance query needs to know before calling the bank, read at once.
#[derive(Debug, Clone)]
pub struct QueryContext {
    /// The user's binding with this id, whatever its status.
    pub binding: Option<BindingRow>,
    pub feature_enabled: bool,
    /// The document of the newest agreement in force (unrevoked, unexpired), whatever its version.
    pub agreement: Option<SignedDocument>,
    /// The step-up token exists, is unused and unexpired, and is bound to this query.
    pub token_usable: bool,
    /// The step-up token exists, is bound to this query, unexpired, and already spent
    /// (what an idempotent replay of the query it authorised needs).
    pub token_spent: bool,
    pub user_key: Option<idlink_crypto::WrappedDataKey>,
}

#[async_trait]
pub trait BalanceStore: AuditStore + Send + Sync {
    /// Tiers 1–4 and the user's key in one read (`token`: id and secret hash).
    async fn query_context(
        &self,
        user: &UserId,
        binding_id: &BindingId,
        token: (&str, &str),
        now: Timestamp,
    ) -> Result<QueryContext, StoreError>;
    async fn feature_enabled(&self, user: &UserId, feature: &str) -> Result<bool, StoreError>;
    async fn set_feature(&self, user: &UserId, feature: &str, enabled: bool, at: Timestamp, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn insert_agreement(&self, a: &Agreement, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn valid_agreement(&self, user: &UserId, binding_id: &BindingId, now: Timestamp) -> Result<Option<Agreement>, StoreError>;
    /// Revokes the card's agreements; returns how many were in force.
    async fn revoke_agreements(&self, user: &UserId, binding_id: &BindingId, now: Timestamp, audit: &AuditEntry)
    -> Result<u64, StoreError>;
    /// One durable commit: append `card_read` (the card was decrypted and sent
    /// to the bank, whatever follows), and if the token can still be spent,
    /// spend it, record the query, append `audit`, write the low-balance
    /// alert's outbox event (`notice`) and complete the request's
    /// idempotency claim with the kept answer. False if the token was gone.
    /// Implementations may commit several queries together (group commit)
    /// but return only once this one's transaction is durable.
    async fn commit_query(&self, c: QueryCommitment<'_>) -> Result<bool, StoreError>;
    /// Records a query that disclosed nothing new (an idempotent replay, or a
    /// refusal): its history row and audit record, in one transaction.
    async fn record_query(&self, user: &UserId, record: &QueryRecord, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn query_history(&self, user: &UserId, limit: u32) -> Result<Vec<QueryRecord>, StoreError>;
}

/// What [`BalanceStore::commit_query`] writes.
#[derive(Debug, Clone, Copy)]
pub struct QueryCommitment<'a> {
    pub token_id: &'a str,
    pub secret_hash: &'a str,
    pub binding: &'a Binding<'a>,
    pub record: &'a QueryRecord,
    pub card_read: &'a AuditEntry,
    pub audit: &'a AuditEntry,
    /// The request's idempotency claim and its sealed answer, completed in the same transaction.
    pub kept: Option<(&'a ClaimRef, &'a [u8])>,
    /// The low-balance alert to send, written to the outbox in the same transaction.
    pub notice: Option<&'a NewEvent>,
}

/// What an agreement was signed for: a document version and the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument {
    pub version: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agreement {
    pub id: AgreementId,
    pub user_id: UserId,
    pub binding_id: BindingId,
    pub document_version: String,
    pub document_hash: String,
    pub signed_at: Timestamp,
    pub valid_until: Timestamp,
    /// The agreement this one renews (revoked in the same transaction).
    pub renews: Option<AgreementId>,
}
