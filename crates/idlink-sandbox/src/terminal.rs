//! The sandbox hospital terminal (issue 16, SPEC SS3): it scans a patient's
//! medical-insurance code, checks it offline against idlink's published JWK
//! Set as `docs/medical-code.md` tells a terminal to
//! (`idlink_core::medical_code::verify_offline`), and only then settles the
//! payment online with idlink (`POST /v1/social-security/medical-payments`,
//! with its `medical:settle` key), which spends the code.
//!
//! - `POST /sandbox/v1/terminal/config {"api_url", "api_key", "issuer",
//!   "jwks_url"?}`: where idlink is, the terminal's key, idlink's issuer and
//!   JWK Set (by default `{api_url}/oauth2/jwks`);
//! - `POST /sandbox/v1/terminal/pay {"code", "amount_fen"}` → `{"result":
//!   "settled", "payment"}`, `{"result": "refused_offline", "reason"}` (the
//!   terminal's own check: idlink is not called) or `{"result": "refused",
//!   "status", "problem"}` (idlink's answer);
//! - `GET /sandbox/v1/terminal/payments`: what it settled, newest first.

use crate::control::error;
use crate::{Institution, Shared};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The terminal's id at idlink (a pharmacy's first till).
pub const TERMINAL_ID: &str = "sandbox-pharmacy-till-1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    pub api_url: String,
    pub api_key: String,
    pub issuer: String,
    #[serde(default)]
    pub jwks_url: Option<String>,
}

pub struct Terminal {
    shared: Arc<Shared>,
    http: reqwest::Client,
    config: Mutex<Option<TerminalConfig>>,
    payments: Mutex<Vec<Value>>,
}

impl Terminal {
    pub fn new(shared: Arc<Shared>) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_else(|_| reqwest::Client::new());
        Self { shared, http, config: Mutex::default(), payments: Mutex::default() }
    }

    /// Tells the terminal where idlink is and gives it its key.
    pub fn configure(&self, config: TerminalConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(config);
    }

    fn config(&self) -> Option<TerminalConfig> {
        self.config.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub fn institution(t: Arc<Terminal>) -> Institution {
    Institution {
        maintenance: &[],
        maintenance_also: Vec::new(),
        index: Some((
            "terminal",
            json!({
                "config": "POST /sandbox/v1/terminal/config {api_url, api_key (scope medical:settle), issuer, jwks_url?}",
                "pay": "POST /sandbox/v1/terminal/pay {code, amount_fen}: checked offline against idlink's JWK Set, then settled with idlink",
                "payments": "GET /sandbox/v1/terminal/payments"
            }),
        )),
        router: Router::new()
            .route("/sandbox/v1/terminal/config", post(config))
            .route("/sandbox/v1/terminal/pay", post(pay))
            .route("/sandbox/v1/terminal/payments", get(payments))
            .with_state(t),
    }
}

async fn config(State(t): State<Arc<Terminal>>, Json(c): Json<TerminalConfig>) -> Response {
    t.configure(c);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pay {
    code: String,
    amount_fen: i64,
}

async fn pay(State(t): State<Arc<Terminal>>, Json(req): Json<Pay>) -> Response {
    let Some(c) = t.config() else {
        return error(StatusCode::CONFLICT, "not_configured", "configure the terminal first: POST /sandbox/v1/terminal/config");
    };
    let jwks_url = c.jwks_url.clone().unwrap_or_else(|| format!("{}/oauth2/jwks", c.api_url));
    let jwks: Value = match t.http.get(&jwks_url).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => return error(StatusCode::BAD_GATEWAY, "jwks_unreachable", &format!("idlink's JWK Set could not be read: {e}")),
    };
    // The terminal's clock is the sandbox's, so moving the sandbox clock ages codes at the counter too.
    let now = t.shared.clock.now().as_second();
    if let Err(why) = idlink_core::medical_code::verify_offline(req.code.trim(), &jwks, &c.issuer, now) {
        return Json(json!({"result": "refused_offline", "reason": why.to_string()})).into_response();
    }
    let body = json!({"code": req.code.trim(), "amount_fen": req.amount_fen, "terminal_id": TERMINAL_ID});
    let url = format!("{}/v1/social-security/medical-payments", c.api_url);
    let res = match t.http.post(url).bearer_auth(&c.api_key).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_GATEWAY, "idlink_unreachable", &format!("idlink could not be reached: {e}")),
    };
    let status = res.status().as_u16();
    let answer: Value = res.json().await.unwrap_or_default();
    if status == 201 {
        t.payments.lock().unwrap_or_else(|p| p.into_inner()).insert(0, answer.clone());
        return Json(json!({"result": "settled", "payment": answer})).into_response();
    }
    Json(json!({"result": "refused", "status": status, "problem": answer})).into_response()
}

async fn payments(State(t): State<Arc<Terminal>>) -> Json<Value> {
    Json(json!({"payments": *t.payments.lock().unwrap_or_else(|p| p.into_inner())}))
}
