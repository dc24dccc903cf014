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
//! "down" | "slow" | "changes_down", "slow_ms"?}` scripts a source's faults. The saga's half:
//! `PUT|GET /host/{source}/v1/changes/{id}`, `POST …/{id}/commit|undo`; a
//! store holding something for the user refuses to apply.
//! `POST /sandbox/v1/host-stores/users/{user_id}/funds-operations` is a
//! funds operation at the wallet, counted against its held changes.
//! `PUT /host/wallet/v1/payment-limits/{user_id}` is where idlink tells the
//! wallet an account's payment limits after a revocation (RV3); `GET
//! /sandbox/v1/host-stores/users/{user_id}/payment-limits` shows the latest
//! and the event ids received (a repeated event is kept once). Maintenance
//! names are `host:wallet`, `host:lending`, `host:subscriptions`, `host:directories`.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    /// Blockers answered, but every change call fails (500): a store that breaks during a saga.
    ChangesDown,
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

/// Where a change stands at one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeStatus {
    Applied,
    Committed,
    Undone,
}

impl ChangeStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Applied => "applied",
            ChangeStatus::Committed => "committed",
            ChangeStatus::Undone => "undone",
        }
    }
}

#[derive(Debug, Clone)]
struct Change {
    user_id: String,
    status: ChangeStatus,
    funds_operations: u32,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Holdings>,
    modes: HashMap<String, (Mode, u64)>,
    /// By (store, change id).
    changes: HashMap<(String, String), Change>,
    /// The wallet's payment limits by user: the latest, and every event id received.
    limits: HashMap<String, (Value, Vec<String>)>,
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

    /// A funds operation of the user at the wallet: counted against every change the wallet holds for them.
    pub fn funds_operation(&self, user_id: &str) -> usize {
        let mut inner = self.inner();
        let held = inner
            .changes
            .iter_mut()
            .filter(|((store, _), c)| store == "wallet" && c.user_id == user_id && c.status == ChangeStatus::Applied);
        held.map(|(_, c)| c.funds_operations += 1).count()
    }

    /// Maintenance, then the scripted fault of `source`, if any; `change`: a saga's call.
    async fn gate(&self, source: &str, change: bool) -> Option<Response> {
        if !SOURCES.contains(&source) {
            return Some(error(
                StatusCode::NOT_FOUND,
                "unknown_store",
                "no such store; one of wallet, lending, subscriptions, directories",
            ));
        }
        if let Some(res) = maintenance_answer(&self.shared, &format!("host:{source}")) {
            return Some(res);
        }
        let (mode, slow_ms) = self.inner().modes.get(source).copied().unwrap_or_default();
        match mode {
            Mode::Ok => None,
            Mode::ChangesDown if change => Some(crate::control::failed("the store")),
            Mode::ChangesDown => None,
            Mode::Busy => Some(crate::control::busy("the store")),
            Mode::Down => Some(crate::control::failed("the store")),
            Mode::Slow => {
                tokio::time::sleep(std::time::Duration::from_millis(slow_ms)).await;
                None
            }
        }
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
                "changes": "PUT|GET /host/{source}/v1/changes/{id}, POST /host/{source}/v1/changes/{id}/commit|undo",
                "funds_operation": "POST /sandbox/v1/host-stores/users/{user_id}/funds-operations (counted against the wallet's held changes)",
                "payment_limits": "PUT /host/wallet/v1/payment-limits/{user_id} (idlink's); GET /sandbox/v1/host-stores/users/{user_id}/payment-limits",
                "script": "POST /sandbox/v1/host-stores/script {source, mode: ok|busy|down|slow|changes_down, slow_ms?}",
                "test_values": {"a user nobody set": "holds nothing: no blockers"}
            }),
        )),
        router: Router::new()
            .route("/host/{source}/v1/blockers", post(blockers))
            .route("/host/{source}/v1/changes/{id}", get(read_change).put(apply))
            .route("/host/{source}/v1/changes/{id}/{verb}", post(finish))
            .route("/host/{source}/v1/payment-limits/{user_id}", axum::routing::put(put_limits))
            .route("/sandbox/v1/host-stores/users/{user_id}/payment-limits", get(read_limits))
            .route("/sandbox/v1/host-stores/users/{user_id}/funds-operations", post(funds_operation))
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

impl BlockersRequest {
    /// The refusal of a request without a user or with an unknown operation.
    fn refusal(&self) -> Option<Response> {
        let valid = !self.user_id.trim().is_empty() && ["revoke_real_name", "cancel_account"].contains(&self.operation.as_str());
        (!valid).then(|| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "`user_id` and an `operation` (revoke_real_name, cancel_account) are required",
            )
        })
    }
}

async fn blockers(State(h): State<Arc<HostStores>>, Path(source): Path<String>, Json(req): Json<BlockersRequest>) -> Response {
    if let Some(res) = h.gate(&source, false).await.or_else(|| req.refusal()) {
        return res;
    }
    Json(json!({ "blockers": h.holdings(&req.user_id).blockers(&source) })).into_response()
}

fn change_answer(c: &Change) -> Response {
    Json(json!({ "status": c.status.as_str(), "funds_operations": c.funds_operations })).into_response()
}

/// `PUT /host/{source}/v1/changes/{id}`: applies the change, unless the user holds something there
/// (a blocker that appeared since the preflight): then `refused`. Idempotent by id.
async fn apply(State(h): State<Arc<HostStores>>, Path((source, id)): Path<(String, String)>, Json(req): Json<BlockersRequest>) -> Response {
    if let Some(res) = h.gate(&source, true).await.or_else(|| req.refusal()) {
        return res;
    }
    let held = h.holdings(&req.user_id).blockers(&source);
    let mut inner = h.inner();
    if let Some(c) = inner.changes.get(&(source.clone(), id.clone())) {
        return change_answer(c);
    }
    if !held.is_empty() {
        return Json(json!({ "status": "refused", "reason": format!("{} blocker(s) at the {source} store", held.len()) })).into_response();
    }
    let c = Change { user_id: req.user_id, status: ChangeStatus::Applied, funds_operations: 0 };
    let res = change_answer(&c);
    inner.changes.insert((source, id), c);
    res
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    event_id: String,
    daily_receiving_limit_fen: i64,
    #[serde(default)]
    withdrawals_paused_until: Option<String>,
    auto_debit_allowed: bool,
}

/// `PUT /host/wallet/v1/payment-limits/{user_id}`: the account's limits from now
/// (only the wallet enforces them); an event id received before changes nothing.
async fn put_limits(
    State(h): State<Arc<HostStores>>,
    Path((source, user_id)): Path<(String, String)>,
    Json(req): Json<LimitsRequest>,
) -> Response {
    if let Some(res) = h.gate(&source, true).await {
        return res;
    }
    if source != "wallet" || req.event_id.trim().is_empty() || req.daily_receiving_limit_fen < 0 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "payment limits go to the wallet, with an `event_id` and a limit ≥ 0",
        );
    }
    let mut inner = h.inner();
    let (latest, events) = inner.limits.entry(user_id).or_insert_with(|| (Value::Null, Vec::new()));
    if !events.contains(&req.event_id) {
        *latest = json!({
            "daily_receiving_limit_fen": req.daily_receiving_limit_fen,
            "withdrawals_paused_until": req.withdrawals_paused_until,
            "auto_debit_allowed": req.auto_debit_allowed,
        });
        events.push(req.event_id);
    }
    Json(json!({ "status": "accepted" })).into_response()
}

/// `GET /sandbox/v1/host-stores/users/{user_id}/payment-limits`: `{"limits": …|null, "events": [ids]}`.
async fn read_limits(State(h): State<Arc<HostStores>>, Path(user_id): Path<String>) -> Json<Value> {
    let inner = h.inner();
    let (latest, events) = inner.limits.get(&user_id).cloned().unwrap_or((Value::Null, Vec::new()));
    Json(json!({ "limits": latest, "events": events }))
}

/// `GET /host/{source}/v1/changes/{id}`.
async fn read_change(State(h): State<Arc<HostStores>>, Path((source, id)): Path<(String, String)>) -> Response {
    if let Some(res) = h.gate(&source, true).await {
        return res;
    }
    match h.inner().changes.get(&(source, id)) {
        Some(c) => change_answer(c),
        None => Json(json!({ "status": "unknown", "funds_operations": 0 })).into_response(),
    }
}

/// `POST /host/{source}/v1/changes/{id}/{commit|undo}`: idempotent; a committed change is not undone,
/// an undone one not committed; an undo of a change never applied is recorded as undone.
async fn finish(State(h): State<Arc<HostStores>>, Path((source, id, verb)): Path<(String, String, String)>) -> Response {
    if let Some(res) = h.gate(&source, true).await {
        return res;
    }
    let to = match verb.as_str() {
        "commit" => ChangeStatus::Committed,
        "undo" => ChangeStatus::Undone,
        _ => return error(StatusCode::NOT_FOUND, "not_found", "`commit` or `undo`"),
    };
    let mut inner = h.inner();
    let entry = inner.changes.entry((source, id));
    let c = match (entry, to) {
        (std::collections::hash_map::Entry::Vacant(v), ChangeStatus::Undone) => {
            v.insert(Change { user_id: String::new(), status: ChangeStatus::Undone, funds_operations: 0 })
        }
        (std::collections::hash_map::Entry::Vacant(_), _) => {
            return error(StatusCode::CONFLICT, "unknown_change", "no such change to commit; apply it first");
        }
        (std::collections::hash_map::Entry::Occupied(o), _) => o.into_mut(),
    };
    match (c.status, to) {
        (ChangeStatus::Applied, _) => c.status = to,
        (now, wanted) if now == wanted => {}
        _ => return error(StatusCode::CONFLICT, "change_final", "the change is already final the other way"),
    }
    change_answer(c)
}

async fn funds_operation(State(h): State<Arc<HostStores>>, Path(user_id): Path<String>) -> Response {
    Json(json!({ "changes_told": h.funds_operation(&user_id) })).into_response()
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
