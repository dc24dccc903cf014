//! The host app's payment connector (SPEC CR2, issue 15): idlink asks the
//! host app's cashier to collect a fee from its user, learns the outcome
//! from the cashier's signed callback (or by asking, when a callback is
//! late), and asks for a refund when no report comes of a paid request.
//!
//! A payment is keyed by the caller's `merchant_ref` and a refund by its
//! `refund_ref`, so asking again after a lost answer never charges or
//! refunds twice.

use async_trait::async_trait;
use idlink_domain::Fen;
use jiff::Timestamp;

/// What to collect.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    /// idlink's reference (the credit request's id): one payment per reference.
    pub merchant_ref: &'a str,
    pub amount: Fen,
    /// Shown to the payer by the cashier.
    pub description: &'a str,
    /// The payer as the host app knows them (idlink's user id).
    pub payer_ref: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Created; the payer has not paid yet.
    Pending,
    Succeeded,
    /// The payer gave up or the cashier refused it: nothing was charged.
    Failed,
    /// Paid, then refunded in full.
    Refunded,
}

impl PaymentStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "refunded" => Some(Self::Refunded),
            // Cancelled before it was paid: nothing was charged.
            "cancelled" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The cashier's id of the payment.
    pub id: String,
    pub merchant_ref: String,
    pub status: PaymentStatus,
    pub amount: Fen,
    /// Where the host app sends its user to pay, if the cashier has a page.
    pub checkout_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The cashier's id of the refund.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payment service is unavailable; retry after {retry_after_secs} s")]
pub struct PaymentUnavailable {
    pub retry_after_secs: u64,
    pub expected_end: Option<Timestamp>,
}

#[async_trait]
pub trait Cashier: Send + Sync {
    /// Whether a cashier is configured at all (none: no paid reports are offered).
    fn offered(&self) -> bool {
        true
    }
    /// Creates the payment (idempotent by `merchant_ref`).
    async fn create(&self, order: &Order<'_>) -> Result<Payment, PaymentUnavailable>;
    /// Where the payment stands now.
    async fn payment(&self, payment_id: &str) -> Result<Payment, PaymentUnavailable>;
    /// Cancels a payment not paid yet, so it can no longer be paid; answers
    /// where it stands after (a payment made meanwhile stays `Succeeded`).
    async fn cancel(&self, payment_id: &str) -> Result<Payment, PaymentUnavailable>;
    /// Refunds `amount` of a succeeded payment (idempotent by `refund_ref`).
    async fn refund(&self, payment_id: &str, refund_ref: &str, amount: Fen, reason: &str) -> Result<Refund, PaymentUnavailable>;
}
