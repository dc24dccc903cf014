//! The sandbox host app's own stores (SPEC RV1, issue 17): its wallet,
//! lending, subscriptions and directories, each answering what it holds
//! against a real-name revocation or an account cancellation.
//!
//! `POST /host/{source}/v1/blockers {"user_id", "operation"}` →
//! `{"blockers": [{"code", "item"?, "amount_fen"?}]}` (`docs/revocation.md`).
//! A user holds nothing until a test or a demo says so:
//! `PUT /sandbox/v1/host-stores/users/{user_id}` with what the user holds
//! (`wallet_balance_fen`, `pending_transactions`, `red_packets`, `loans`,
//! `contracts`, `admin_of`; each optional), `GET` the same to read it back.
//! `POST /sandbox/v1/host-stores/script {"source", "mode": "ok" | "busy" |
//! "down" | "slow", "slow_ms"?}` scripts a source's faults; maintenance
//! names are `host:wallet`, `host:lending`, `host:subscriptions`, `host:directories`.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

const SOURCES: [&str; 4] = ["wallet", "lending", "subscriptions", "directories"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Ok,
    /// 503 with `Retry-After: 30`.
    Busy,
    /// 500.
    Down,
    /// The right answer, `slow_ms` late.
    Slow,
}

/// A red packet sent to the user and not yet claimed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedPacket {
    /// The sender's name (answered masked).
    pub from: String,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loan {
    pub product: String,
    /// What is still owed.
    pub amount_fen: i64,
}

/// What a user holds at the host app.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Holdings {
    pub wallet_balance_fen: i64,
    pub pending_transactions: u32,
    pub red_packets: Vec<RedPacket>,
    pub loans: Vec<Loan>,
    /// Auto-renew and auto-debit contracts, by the merchant's name.
    pub contracts: Vec<String>,
    /// Enterprise or official accounts the user administers.
    pub admin_of: Vec<String>,
}

/// `张三` → `张*`: the sandbox masks the names it answers, as a host must.
fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

impl Holdings {
    /// What `source` answers for these holdings.
    fn blockers(&self, source: &str) -> Vec<Value> {
        let mut out = Vec::new();
        match source {
            "wallet" => {
                if self.wallet_balance_fen != 0 {
                    out.push(json!({"code": "wallet_balance", "amount_fen": self.wallet_balance_fen}));
                }
                if self.pending_transactions > 0 {
                    out.push(json!({"code": "pending_transactions", "item": format!("× {}", self.pending_transactions)}));
                }
                for p in &self.red_packets {
                    out.push(json!({"code": "unclaimed_red_packets", "item": mask_name(&p.from), "amount_fen": p.amount_fen}));
                }
            }
            "lending" => {
                for l in &self.loans {
                    out.push(json!({"code": "active_loans", "item": l.product, "amount_fen": l.amount_fen}));
                }
            }
            "subscriptions" => {
                for c in &self.contracts {
                    out.push(json!({"code": "auto_renew_contracts", "item": c}));
                }
            }
            _ => {
                for a in &self.admin_of {
                    out.push(json!({"code": "directory_admin", "item": a}));
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Holdings>,
    modes: HashMap<String, (Mode, u64)>,
}

/// The host's stores.
pub struct HostStores {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
}

impl HostStores {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, inner: Mutex::new(Inner::default()) }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the user holds now.
    pub fn holdings(&self, user_id: &str) -> Holdings {
        self.inner().users.get(user_id).cloned().unwrap_or_default()
    }

    pub fn set_holdings(&self, user_id: &str, h: Holdings) {
        self.inner().users.insert(user_id.to_owned(), h);
    }
}

pub fn institution(h: Arc<HostStores>) -> Institution {
    Institution {
        maintenance: &["host:wallet", "host:lending", "host:subscriptions", "host:directories"],
        maintenance_also: Vec::new(),
        index: Some((
            "host_stores",
            json!({
                "blockers": "POST /host/{source}/v1/blockers (source: wallet, lending, subscriptions, directories)",
                "holdings": "PUT|GET /sandbox/v1/host-stores/users/{user_id}",
                "script": "POST /sandbox/v1/host-stores/script {source, mode: ok|busy|down|slow, slow_ms?}",
                "test_values": {"a user nobody set": "holds nothing: no blockers"}
            }),
        )),
        router: Router::new()
            .route("/host/{source}/v1/blockers", post(blockers))
            .route("/sandbox/v1/host-stores/users/{user_id}", get(read_holdings).put(write_holdings))
            .route("/sandbox/v1/host-stores/script", post(script))
            .with_state(h),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockersRequest {
    user_id: String,
    operation: String,
}

async fn blockers(State(h): State<Arc<HostStores>>, Path(source): Path<String>, Json(req): Json<BlockersRequest>) -> Response {
    if !SOURCES.contains(&source.as_str()) {
        return error(StatusCode::NOT_FOUND, "unknown_store", "no such store; one of wallet, lending, subscriptions, directories");
    }
    if let Some(res) = maintenance_answer(&h.shared, &format!("host:{source}")) {
        return res;
    }
    if req.user_id.trim().is_empty() || !["revoke_real_name", "cancel_account"].contains(&req.operation.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "`user_id` and an `operation` (revoke_real_name, cancel_account) are required",
        );
    }
    let (mode, slow_ms) = h.inner().modes.get(&source).copied().unwrap_or_default();
    match mode {
        Mode::Ok => {}
        Mode::Busy => {
            let mut res = error(StatusCode::SERVICE_UNAVAILABLE, "busy", "the store is busy; retry later");
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            return res;
        }
        Mode::Down => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the store failed"),
        Mode::Slow => tokio::time::sleep(std::time::Duration::from_millis(slow_ms)).await,
    }
    Json(json!({ "blockers": h.holdings(&req.user_id).blockers(&source) })).into_response()
}

async fn read_holdings(State(h): State<Arc<HostStores>>, Path(user_id): Path<String>) -> Json<Holdings> {
    Json(h.holdings(&user_id))
}

async fn write_holdings(State(h): State<Arc<HostStores>>, Path(user_id): Path<String>, Json(holdings): Json<Holdings>) -> Response {
    let negative = holdings.wallet_balance_fen < 0
        || holdings.red_packets.iter().any(|p| p.amount_fen <= 0)
        || holdings.loans.iter().any(|l| l.amount_fen <= 0);
    if negative {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "amounts are fen: a balance of 0 or more, red packets and loans above 0",
        );
    }
    h.set_holdings(&user_id, holdings);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    source: String,
    mode: Mode,
    #[serde(default)]
    slow_ms: Option<u64>,
}

async fn script(State(h): State<Arc<HostStores>>, Json(s): Json<Script>) -> Response {
    if !SOURCES.contains(&s.source.as_str()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_store", "`source` is one of wallet, lending, subscriptions, directories");
    }
    h.inner().modes.insert(s.source, (s.mode, s.slow_ms.unwrap_or(3_000)));
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_holding_is_a_blocker_of_its_store_and_names_are_masked() {
        let h = Holdings {
            wallet_balance_fen: 1,
            pending_transactions: 2,
            red_packets: vec![RedPacket { from: "张三丰".into(), amount_fen: 888 }],
            loans: vec![Loan { product: "Micro-loan".into(), amount_fen: 50_000 }],
            contracts: vec!["Video Plus".into()],
            admin_of: vec!["Acme Ltd".into()],
        };
        let codes = |s: &str| h.blockers(s).iter().map(|b| b["code"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>();
        assert_eq!(codes("wallet"), ["wallet_balance", "pending_transactions", "unclaimed_red_packets"]);
        assert_eq!(codes("lending"), ["active_loans"]);
        assert_eq!(codes("subscriptions"), ["auto_renew_contracts"]);
        assert_eq!(codes("directories"), ["directory_admin"]);
        let wallet = serde_json::to_string(&h.blockers("wallet")).unwrap_or_default();
        assert!(wallet.contains("张**") && !wallet.contains("张三丰"), "{wallet}");
        assert!(Holdings::default().blockers("wallet").is_empty());
    }
}
