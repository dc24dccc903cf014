//! The sandbox cashier: the host app's payment service as idlink's payment
//! connector speaks to it (SPEC CR2; protocol in `docs/credit-report.md`).
//!
//! idlink creates a payment (`POST /pay/v1/payments`, idempotent by
//! `merchant_ref`); the payer pays it in the host app, which the control
//! endpoint `POST /sandbox/v1/payments/{payment_id}/pay` plays; the cashier
//! then tells idlink with a Standard Webhooks delivery to
//! `{idlink}/v1/callbacks/payments`, signed `v1` with the shared secret.
//! `{"callback": false}` pays without telling (a lost callback, which idlink
//! must find out by asking). Refunds are idempotent by `refund_ref`.
//! `POST /sandbox/v1/maintenance {"institution": "payment"}` makes it unavailable.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use idlink_crypto::webhooks::{secret_bytes, sign_v1};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub refund_id: String,
    pub refund_ref: String,
    pub amount_fen: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRecord {
    pub payment_id: String,
    pub merchant_ref: String,
    pub amount_fen: i64,
    pub description: String,
    pub payer_ref: String,
    pub status: &'static str,
    pub refunds: Vec<RefundRecord>,
    pub created_at: String,
}

impl PaymentRecord {
    fn answer(&self) -> serde_json::Value {
        json!({
            "payment_id": self.payment_id,
            "merchant_ref": self.merchant_ref,
            "status": self.status,
            "amount_fen": self.amount_fen,
            "checkout_url": format!("/sandbox/v1/payments/{}/pay", self.payment_id),
        })
    }
}

#[derive(Default)]
struct Book {
    /// By payment id, in creation order (ids are sequential).
    payments: BTreeMap<String, PaymentRecord>,
}

pub struct Cashier {
    shared: Arc<Shared>,
    book: Mutex<Book>,
    /// idlink's API base URL and the webhook secret the callbacks are signed with.
    callback: Mutex<Option<(String, String)>>,
    http: reqwest::Client,
}

impl Cashier {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, book: Mutex::default(), callback: Mutex::default(), http: reqwest::Client::default() }
    }

    /// Where callbacks go (idlink's API base URL) and the secret that signs them.
    pub fn set_callback(&self, base_url: String, secret: String) {
        *self.callback.lock().unwrap_or_else(|p| p.into_inner()) = Some((base_url, secret));
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every payment made so far (the control API's list).
    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.book().payments.values().cloned().collect()
    }

    /// Sends the signed event; answers idlink's HTTP status, or why it could not be sent.
    async fn tell(&self, kind: &str, p: &PaymentRecord) -> Result<u16, String> {
        let Some((base, secret)) = self.callback.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Err("no idlink callback address is set".into());
        };
        let now = self.shared.clock.now();
        let id = format!("msg_{}_{}", p.payment_id, kind.replace('.', "_"));
        let body = json!({
            "type": kind,
            "timestamp": now.to_string(),
            "data": { "payment_id": p.payment_id, "merchant_ref": p.merchant_ref, "amount_fen": p.amount_fen, "status": p.status },
        });
        let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let sig = sign_v1(&secret_bytes(secret.as_bytes()), &id, now.as_second(), &bytes).ok_or("the secret is not usable")?;
        let res = self
            .http
            .post(format!("{base}/v1/callbacks/payments"))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", now.as_second().to_string())
            .header("webhook-signature", format!("v1,{sig}"))
            .body(bytes)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        Ok(res.status().as_u16())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePayment {
    merchant_ref: String,
    amount_fen: i64,
    currency: String,
    description: String,
    payer_ref: String,
}

async fn create(State(c): State<Arc<Cashier>>, Json(req): Json<CreatePayment>) -> Response {
    if let Some(res) = maintenance_answer(&c.shared, "payment") {
        return res;
    }
    if req.amount_fen <= 0 || req.currency != "CNY" || req.merchant_ref.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payment", "a payment is a positive amount of CNY fen with a merchant_ref");
    }
    let mut book = c.book();
    if let Some(p) = book.payments.values().find(|p| p.merchant_ref == req.merchant_ref) {
        if p.amount_fen != req.amount_fen {
            return error(StatusCode::CONFLICT, "merchant_ref_reused", "this merchant_ref has a payment of another amount");
        }
        return Json(p.answer()).into_response();
    }
    let id = format!("pay_{:08}", book.payments.len() + 1);
    let p = PaymentRecord {
        payment_id: id.clone(),
        merchant_ref: req.merchant_ref,
        amount_fen: req.amount_fen,
        description: req.description,
        payer_ref: req.payer_ref,
        status: "pending",
        refunds: Vec::new(),
        created_at: c.shared.clock.now().to_string(),
    };
    let answer = p.answer();
    book.payments.insert(id, p);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn status(State(c): State<Arc<Cashier>>, Path(id): Path<String>) -> Response {
    if let Some(res) = maintenance_answer(&c.shared, "payment") {
        return res;
    }
    match c.book().payments.get(&id) {
        Some(p) => Json(p.answer()).into_response(),
        None => error(StatusCode::NOT_FOUND, "unknown_payment", "no such payment"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRefund {
    refund_ref: String,
    amount_fen: i64,
    reason: String,
}

async fn refund(State(c): State<Arc<Cashier>>, Path(id): Path<String>, Json(req): Json<CreateRefund>) -> Response {
    if let Some(res) = maintenance_answer(&c.shared, "payment") {
        return res;
    }
    let mut book = c.book();
    let Some(p) = book.payments.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "unknown_payment", "no such payment") };
    if let Some(r) = p.refunds.iter().find(|r| r.refund_ref == req.refund_ref) {
        return Json(json!({ "refund_id": r.refund_id, "status": "succeeded" })).into_response();
    }
    let refunded: i64 = p.refunds.iter().map(|r| r.amount_fen).sum();
    let after = refunded.checked_add(req.amount_fen);
    if p.status != "succeeded" || req.amount_fen <= 0 || after.is_none_or(|a| a > p.amount_fen) {
        return error(StatusCode::CONFLICT, "not_refundable", "only a succeeded payment is refunded, up to its amount");
    }
    let refund_id = format!("rfd_{}_{}", p.payment_id, p.refunds.len() + 1);
    p.refunds.push(RefundRecord {
        refund_id: refund_id.clone(),
        refund_ref: req.refund_ref,
        amount_fen: req.amount_fen,
        reason: req.reason,
    });
    if after == Some(p.amount_fen) {
        p.status = "refunded";
    }
    Json(json!({ "refund_id": refund_id, "status": "succeeded" })).into_response()
}

/// A payment not paid yet can no longer be paid; answers the payment either way.
async fn cancel(State(c): State<Arc<Cashier>>, Path(id): Path<String>) -> Response {
    if let Some(res) = maintenance_answer(&c.shared, "payment") {
        return res;
    }
    let mut book = c.book();
    let Some(p) = book.payments.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "unknown_payment", "no such payment") };
    if p.status == "pending" {
        p.status = "cancelled";
    }
    Json(p.answer()).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Pay {
    /// `succeeded` (the default) or `failed`.
    outcome: Option<String>,
    /// Whether the cashier tells idlink (default true).
    callback: Option<bool>,
}

/// The payer pays (or abandons) a payment in the host app.
async fn pay(State(c): State<Arc<Cashier>>, Path(id): Path<String>, body: Option<Json<Pay>>) -> Response {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let outcome = match req.outcome.as_deref() {
        None | Some("succeeded") => "succeeded",
        Some("failed") => "failed",
        Some(_) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_outcome", "`outcome` is succeeded or failed"),
    };
    let record = {
        let mut book = c.book();
        let Some(p) = book.payments.get_mut(&id) else { return error(StatusCode::NOT_FOUND, "unknown_payment", "no such payment") };
        if p.status != "pending" {
            return error(StatusCode::CONFLICT, "not_pending", "this payment was settled already");
        }
        p.status = outcome;
        p.clone()
    };
    let callback = if req.callback.unwrap_or(true) {
        match c.tell(&format!("payment.{outcome}"), &record).await {
            Ok(status) => json!({ "delivered": (200..300).contains(&status), "idlink_status": status }),
            Err(why) => json!({ "delivered": false, "error": why }),
        }
    } else {
        json!({ "delivered": false, "error": "not sent (callback: false)" })
    };
    Json(json!({ "payment": record, "callback": callback })).into_response()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    merchant_ref: Option<String>,
    payer_ref: Option<String>,
}

async fn list(State(c): State<Arc<Cashier>>, Query(q): Query<ListQuery>) -> Response {
    let payments: Vec<PaymentRecord> = c
        .payments()
        .into_iter()
        .filter(|p| q.merchant_ref.as_ref().is_none_or(|r| *r == p.merchant_ref))
        .filter(|p| q.payer_ref.as_ref().is_none_or(|r| *r == p.payer_ref))
        .collect();
    Json(json!({ "payments": payments })).into_response()
}

pub fn institution(c: Arc<Cashier>) -> Institution {
    Institution {
        maintenance: &["payment"],
        maintenance_also: Vec::new(),
        index: Some((
            "payment",
            json!({
                "create": "POST /pay/v1/payments {merchant_ref, amount_fen, currency: CNY, description, payer_ref}",
                "status": "GET /pay/v1/payments/{payment_id}",
                "refund": "POST /pay/v1/payments/{payment_id}/refunds {refund_ref, amount_fen, reason}",
                "cancel": "POST /pay/v1/payments/{payment_id}/cancel: a payment not paid yet can no longer be paid",
                "pay": "POST /sandbox/v1/payments/{payment_id}/pay {outcome?: succeeded|failed, callback?: bool}: the payer pays; the cashier tells idlink with a signed Standard Webhooks callback",
                "list": "GET /sandbox/v1/payments?merchant_ref=&payer_ref=",
            }),
        )),
        router: Router::new()
            .route("/pay/v1/payments", post(create))
            .route("/pay/v1/payments/{payment_id}", get(status))
            .route("/pay/v1/payments/{payment_id}/refunds", post(refund))
            .route("/pay/v1/payments/{payment_id}/cancel", post(cancel))
            .route("/sandbox/v1/payments", get(list))
            .route("/sandbox/v1/payments/{payment_id}/pay", post(pay))
            .with_state(c),
    }
}
