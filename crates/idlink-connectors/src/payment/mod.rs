//! The host app's payment connector (SPEC CR2, issue 15): its cashier
//! collects the fee of a paid credit report and refunds it when no report
//! comes of the request.
//!
//! Wire protocol (`docs/credit-report.md`):
//! - `POST /pay/v1/payments {"merchant_ref", "amount_fen", "currency": "CNY",
//!   "description", "payer_ref"}`: idempotent by `merchant_ref`;
//! - `GET /pay/v1/payments/{payment_id}`;
//! - both answer `{"payment_id", "merchant_ref", "status": "pending" |
//!   "succeeded" | "failed" | "refunded", "amount_fen", "checkout_url"?}`;
//! - `POST /pay/v1/payments/{payment_id}/cancel`: a payment not paid yet can
//!   no longer be paid (`cancelled`); answers the payment;
//! - `POST /pay/v1/payments/{payment_id}/refunds {"refund_ref", "amount_fen",
//!   "reason"}`: idempotent by `refund_ref`, answers `{"refund_id", "status"}`;
//!   a refund still `pending` is asked for again later (the same `refund_ref`).
//!
//! The cashier tells idlink of a payment's outcome with a Standard Webhooks
//! delivery to `POST /v1/callbacks/payments` ([`callbacks`]).

use crate::executor::{CallError, Executor, Target};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::cashier::{Cashier, Order, Payment, PaymentStatus, PaymentUnavailable, Refund};
use idlink_domain::Fen;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod callbacks;

/// `[connectors.payment]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL of the host app's cashier; empty means the in-process sandbox.
    pub url: String,
    /// The Standard Webhooks secret (`whsec_…`) the cashier signs its
    /// callbacks with. Empty with the sandbox: one is made at start and
    /// shared with the sandbox cashier; empty without it: every payment
    /// callback is refused (payments are then learnt by asking).
    pub webhook_secret: String,
}

impl Settings {
    /// A webhook secret is `whsec_` and base64 of 24 to 64 bytes, or 24 to
    /// 64 raw bytes: a short or empty key would let anyone sign callbacks.
    pub fn validate(&self) -> Result<(), crate::SettingsError> {
        let s = self.webhook_secret.as_str();
        if s.is_empty() {
            return Ok(());
        }
        let len = idlink_crypto::webhooks::configured_key(s).map_or(0, |k| k.len());
        if (24..=64).contains(&len) {
            Ok(())
        } else {
            Err(crate::SettingsError {
                key: "connectors.payment.webhook_secret",
                detail: "whsec_ and the base64 of 24 to 64 random bytes (as the cashier shows it), or 24 to 64 bytes".into(),
            })
        }
    }
}

#[derive(Debug, Serialize)]
struct CreatePayment<'a> {
    merchant_ref: &'a str,
    amount_fen: i64,
    currency: &'a str,
    description: &'a str,
    payer_ref: &'a str,
}

#[derive(Debug, Deserialize)]
struct PaymentResponse {
    payment_id: String,
    merchant_ref: String,
    status: String,
    amount_fen: i64,
    #[serde(default)]
    checkout_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct CreateRefund<'a> {
    refund_ref: &'a str,
    amount_fen: i64,
    reason: &'a str,
}

#[derive(Debug, Deserialize)]
struct RefundResponse {
    refund_id: String,
    status: String,
}

/// A payment id goes into a path: only the characters a cashier's ids use.
fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A cashier's answer the protocol does not document is not a payment
/// anyone may rely on: it reads as the cashier being unavailable.
fn undocumented(what: &str) -> CallError {
    CallError::Protocol { institution: "payment".into(), detail: format!("the cashier answered an undocumented {what}") }
}

impl TryFrom<PaymentResponse> for Payment {
    type Error = CallError;
    fn try_from(r: PaymentResponse) -> Result<Self, CallError> {
        let status = PaymentStatus::parse(&r.status).ok_or_else(|| undocumented("payment status"))?;
        Ok(Payment { id: r.payment_id, merchant_ref: r.merchant_ref, status, amount: Fen(r.amount_fen), checkout_url: r.checkout_url })
    }
}

#[derive(Debug, Clone)]
pub struct CashierApi {
    target: Target,
}

impl CashierApi {
    pub fn new(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("payment", "main", base_url)? })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Idempotent by `merchant_ref`: safe to retry.
    pub async fn create(&self, exec: &Executor, order: &Order<'_>) -> Result<Payment, CallError> {
        let req = CreatePayment {
            merchant_ref: order.merchant_ref,
            amount_fen: order.amount.0,
            currency: "CNY",
            description: order.description,
            payer_ref: order.payer_ref,
        };
        let res: PaymentResponse = exec.call(&self.target, reqwest::Method::POST, "/pay/v1/payments", Some(&req), true).await?;
        res.try_into()
    }

    pub async fn payment(&self, exec: &Executor, payment_id: &str) -> Result<Payment, CallError> {
        if !path_safe(payment_id) {
            return Err(undocumented("payment id"));
        }
        let path = format!("/pay/v1/payments/{payment_id}");
        let res: PaymentResponse = exec.call(&self.target, reqwest::Method::GET, &path, None::<&()>, true).await?;
        res.try_into()
    }

    /// Idempotent: a second cancel answers the same.
    pub async fn cancel(&self, exec: &Executor, payment_id: &str) -> Result<Payment, CallError> {
        if !path_safe(payment_id) {
            return Err(undocumented("payment id"));
        }
        let path = format!("/pay/v1/payments/{payment_id}/cancel");
        let res: PaymentResponse = exec.call(&self.target, reqwest::Method::POST, &path, None::<&()>, true).await?;
        res.try_into()
    }

    /// Idempotent by `refund_ref`: safe to retry.
    pub async fn refund(
        &self,
        exec: &Executor,
        payment_id: &str,
        refund_ref: &str,
        amount: Fen,
        reason: &str,
    ) -> Result<Refund, CallError> {
        if !path_safe(payment_id) {
            return Err(undocumented("payment id"));
        }
        let path = format!("/pay/v1/payments/{payment_id}/refunds");
        let req = CreateRefund { refund_ref, amount_fen: amount.0, reason };
        let res: RefundResponse = exec.call(&self.target, reqwest::Method::POST, &path, Some(&req), true).await?;
        match res.status.as_str() {
            "succeeded" => Ok(Refund { id: res.refund_id }),
            // Not done yet: asked again later with the same reference, which answers this refund.
            "pending" => Err(CallError::Protocol { institution: "payment".into(), detail: "the refund is still pending".into() }),
            _ => Err(undocumented("refund status")),
        }
    }
}

/// The cashier as the core's [`Cashier`].
#[derive(Clone)]
pub struct CashierPort {
    api: CashierApi,
    executor: Arc<Executor>,
}

impl CashierPort {
    pub fn new(api: CashierApi, executor: Arc<Executor>) -> Self {
        Self { api, executor }
    }
}

impl From<CallError> for PaymentUnavailable {
    fn from(e: CallError) -> Self {
        let u = Unavailable::from(e);
        Self { retry_after_secs: u.retry_after_secs, expected_end: u.expected_end }
    }
}

/// No cashier configured: no paid report is offered (refused before
/// anything is opened); a call that still comes is unavailable.
pub struct NoCashier;

const NONE: PaymentUnavailable = PaymentUnavailable { retry_after_secs: 3600, expected_end: None };

#[async_trait]
impl Cashier for NoCashier {
    fn offered(&self) -> bool {
        false
    }

    async fn create(&self, _: &Order<'_>) -> Result<Payment, PaymentUnavailable> {
        Err(NONE)
    }

    async fn payment(&self, _: &str) -> Result<Payment, PaymentUnavailable> {
        Err(NONE)
    }

    async fn cancel(&self, _: &str) -> Result<Payment, PaymentUnavailable> {
        Err(NONE)
    }

    async fn refund(&self, _: &str, _: &str, _: Fen, _: &str) -> Result<Refund, PaymentUnavailable> {
        Err(NONE)
    }
}

#[async_trait]
impl Cashier for CashierPort {
    async fn create(&self, order: &Order<'_>) -> Result<Payment, PaymentUnavailable> {
        Ok(self.api.create(&self.executor, order).await?)
    }

    async fn payment(&self, payment_id: &str) -> Result<Payment, PaymentUnavailable> {
        Ok(self.api.payment(&self.executor, payment_id).await?)
    }

    async fn cancel(&self, payment_id: &str) -> Result<Payment, PaymentUnavailable> {
        Ok(self.api.cancel(&self.executor, payment_id).await?)
    }

    async fn refund(&self, payment_id: &str, refund_ref: &str, amount: Fen, reason: &str) -> Result<Refund, PaymentUnavailable> {
        Ok(self.api.refund(&self.executor, payment_id, refund_ref, amount, reason).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_secret_is_long_enough_to_be_one() {
        let with = |s: &str| Settings { url: String::new(), webhook_secret: s.to_owned() }.validate().is_ok();
        assert!(with("") && with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") && with(&"k".repeat(32)));
        assert!(!with("whsec_") && !with("whsec_!!!") && !with("short") && !with("whsec_YWJj"));
    }

    #[test]
    fn answers_map_and_undocumented_ones_are_refused() {
        let answer = |status: &str| PaymentResponse {
            payment_id: "pay_1".into(),
            merchant_ref: "crq_1".into(),
            status: status.into(),
            amount_fen: 2500,
            checkout_url: None,
        };
        let p = Payment::try_from(answer("succeeded")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.status, p.amount), (PaymentStatus::Succeeded, Fen(2500)));
        assert!(Payment::try_from(answer("captured")).is_err(), "an undocumented status is never taken for paid");
        assert!(!path_safe("../x") && !path_safe("") && path_safe("pay_00000001"));
    }
}
