//! The provincial social-security bureaus (SPEC SS2–SS4, issue 16): a
//! card found by its number or its QR payload and confirmed by the bureau's
//! dynamic code, its accounts, and medical payments settled against it.
//!
//! Each province's bureau has a primary and an alternate channel; the
//! connector fails over between them (SS4), so the core sees one bureau per
//! province and learns which channel answered.

use async_trait::async_trait;
use idlink_domain::card::CardNumber;
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use idlink_domain::{Fen, PersonName, PhoneNumber};
use jiff::Timestamp;
use serde::Serialize;

/// How the user named their card.
#[derive(Debug, Clone, Copy)]
pub enum CardNamed<'a> {
    /// Typed: the card number printed on it.
    Number(&'a str),
    /// Scanned: the QR payload printed on it.
    Qr(&'a str),
}

/// A card lookup: the holder (in clear only while the request is built) and their card.
pub struct CardLookup<'a> {
    /// Idempotency: the same ref sends the same dynamic code.
    pub request_ref: &'a str,
    pub name: &'a PersonName,
    /// The holder's document number: a resident ID number, or a passport's or permit's (`document_type`).
    pub document_number: &'a str,
    pub document_type: &'a str,
    /// Where the bureau sends its dynamic code.
    pub phone: &'a PhoneNumber,
    pub card: CardNamed<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAnswer {
    /// The bureau's dynamic code is on its way; confirm with this reference.
    CodeSent { reference: String },
    /// No card of this person with this number.
    NoCard,
    /// The QR payload is not one the bureau printed.
    UnreadableQr,
    /// The card belongs to another province's bureau (its region).
    OtherRegion { region: String },
    /// The bureau flags the card (reported stolen…): a theft-binding risk.
    Risk { reason: String },
    /// An answer the protocol does not document: nothing is decided.
    Pending { status: String },
}

/// A card the bureau disclosed after its dynamic code.
#[derive(Clone)]
pub struct Card {
    /// The bureau's handle of the card, for later calls.
    pub card_ref: String,
    pub card_number: String,
    /// Issuing area (GB/T 2260).
    pub region: String,
    /// The card's financial account: its bank and number.
    pub bank_code: String,
    pub account: CardNumber,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card").field("card_ref", &self.card_ref).field("region", &self.region).field("bank_code", &self.bank_code).finish()
    }
}

#[derive(Debug, Clone)]
pub enum ConfirmAnswer {
    Confirmed(Box<Card>),
    WrongCode,
    /// The code's reference is unknown or spent: send a new one.
    Expired,
    Pending {
        status: String,
    },
}

/// One month's movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub month: String,
    pub kind: String,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub balance_fen: i64,
    pub statements: Vec<Statement>,
}

/// The card's accounts as the bureau gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accounts {
    pub as_of: Timestamp,
    pub pension: Account,
    pub medical: Account,
}

/// What the bureau made of a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleAnswer {
    Settled(Settled),
    /// Refused for good (an unknown card, …): nothing was paid.
    Refused {
        reason: String,
    },
}

/// A medical payment settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settled {
    pub settlement_id: String,
    pub amount: Fen,
    /// Paid from the card's medical account.
    pub medical_account: Fen,
    /// Paid by the pooled fund.
    pub pooled_fund: Fen,
}

/// A service request as the bureau has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAnswer {
    /// Its id at the bureau, its status, and why it was rejected.
    Known {
        request_id: String,
        status: ServiceStatus,
        reason: Option<String>,
    },
    /// The bureau does not know the card (or the request).
    UnknownCard,
    Pending {
        status: String,
    },
}

/// An unemployment-benefit payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefit {
    pub payment_id: String,
    pub month: String,
    pub amount: Fen,
    pub paid_at: Timestamp,
}

/// Which of the province's channels answered.
pub type Channel = &'static str;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the social-security bureau is unavailable on both channels; retry after {retry_after_secs} s")]
pub struct BureauUnavailable {
    pub retry_after_secs: u64,
    pub expected_end: Option<Timestamp>,
}

#[async_trait]
pub trait SocialSecurityBureau: Send + Sync {
    /// `province`: the two-digit code whose bureau is asked.
    async fn lookup(&self, province: &str, req: &CardLookup<'_>) -> Result<(LookupAnswer, Channel), BureauUnavailable>;
    async fn confirm(&self, province: &str, reference: &str, code: &str) -> Result<(ConfirmAnswer, Channel), BureauUnavailable>;
    async fn accounts(&self, province: &str, card_ref: &str) -> Result<(Accounts, Channel), BureauUnavailable>;
    /// Idempotent by `settlement_ref`.
    async fn settle(
        &self,
        province: &str,
        settlement_ref: &str,
        card_ref: &str,
        amount: Fen,
        terminal: &str,
    ) -> Result<(SettleAnswer, Channel), BureauUnavailable>;
    /// Voids `settlement_ref` at the bureau for good (a settle with it is
    /// refused from then on) and answers `None`, or answers the settlement
    /// already made under it. Idempotent (reconciliation).
    async fn void_settlement(&self, province: &str, settlement_ref: &str) -> Result<Option<Settled>, BureauUnavailable>;
    /// Idempotent by `request_ref`.
    async fn submit_service(
        &self,
        province: &str,
        request_ref: &str,
        card_ref: &str,
        kind: ServiceKind,
        to_region: Option<&str>,
    ) -> Result<ServiceAnswer, BureauUnavailable>;
    async fn service_status(&self, province: &str, request_id: &str) -> Result<ServiceAnswer, BureauUnavailable>;
    /// The card's unemployment-benefit payments.
    async fn benefits(&self, province: &str, card_ref: &str) -> Result<Vec<Benefit>, BureauUnavailable>;
}
