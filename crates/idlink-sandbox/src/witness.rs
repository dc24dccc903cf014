//! The sandbox witness log: a remote audit witness (the protocol of
//! `idlink_connectors::witness`) that keeps, per log name, every signed
//! checkpoint it is sent, append-only.
//!
//! Like a real transparency log it checks what it accepts: the signature
//! must verify, a log is bound to the first signing key it sees, and a
//! second statement for a seq it holds with another hash is refused as a
//! fork (the same statement again is accepted, so retries are safe).
//! Entries live in memory: they end with the sandbox process.

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The witness logs: log name → its checkpoints.
pub struct Logs {
    shared: Arc<Shared>,
    logs: Mutex<HashMap<String, Log>>,
}

impl Logs {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, logs: Mutex::default() }
    }
}

/// The log's routes; maintenance as `witness`; not listed in the index of institutions.
pub fn institution(l: Arc<Logs>) -> Institution {
    Institution {
        maintenance: &["witness"],
        maintenance_also: Vec::new(),
        index: None,
        router: Router::new()
            .route("/witness/v1/logs/{log}/checkpoints", get(list).post(append))
            .route("/witness/v1/logs/{log}/latest", get(latest))
            .with_state(l),
    }
}

/// One checkpoint, as idlink signs it: `idlink-audit-checkpoint-v1:{seq}:{hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    seq: i64,
    hash: String,
    at: String,
    public_key: String,
    signature: String,
}

#[derive(Debug, Default)]
pub(crate) struct Log {
    key: String,
    entries: Vec<Entry>,
}

fn valid_log(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn append(State(s): State<Arc<Logs>>, Path(log): Path<String>, Json(entry): Json<Entry>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "witness") {
        return res;
    }
    if !valid_log(&log) {
        return error(StatusCode::NOT_FOUND, "no_such_log", "log names are 1 to 64 letters, digits, `-` or `_`");
    }
    let message = format!("idlink-audit-checkpoint-v1:{}:{}", entry.seq, entry.hash);
    if !idlink_crypto::signing::verify(&entry.public_key, message.as_bytes(), &entry.signature) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_signature", "the signature does not verify under `public_key`");
    }
    let mut logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
    let l = logs.entry(log).or_default();
    if l.entries.is_empty() {
        l.key = entry.public_key.clone();
    } else if l.key != entry.public_key {
        return error(StatusCode::FORBIDDEN, "key_mismatch", "this log is bound to another signing key");
    }
    match l.entries.iter().find(|e| e.seq == entry.seq) {
        Some(held) if held.hash == entry.hash => (StatusCode::OK, Json(serde_json::json!({ "entries": l.entries.len() }))).into_response(),
        Some(_) => error(StatusCode::CONFLICT, "fork", "the log holds another hash for this seq; it never changes what it holds"),
        None => {
            l.entries.push(entry);
            (StatusCode::CREATED, Json(serde_json::json!({ "entries": l.entries.len() }))).into_response()
        }
    }
}

pub async fn list(State(s): State<Arc<Logs>>, Path(log): Path<String>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "witness") {
        return res;
    }
    let logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
    let entries = logs.get(&log).map(|l| l.entries.clone()).unwrap_or_default();
    Json(serde_json::json!({ "checkpoints": entries })).into_response()
}

pub async fn latest(State(s): State<Arc<Logs>>, Path(log): Path<String>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "witness") {
        return res;
    }
    let logs = s.logs.lock().unwrap_or_else(|p| p.into_inner());
    let latest = logs.get(&log).and_then(|l| l.entries.iter().max_by_key(|e| e.seq).cloned());
    Json(serde_json::json!({ "checkpoint": latest })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::signing::Ed25519Signer;

    fn entry(signer: &Ed25519Signer, seq: i64, hash: &str) -> Entry {
        let message = format!("idlink-audit-checkpoint-v1:{seq}:{hash}");
        Entry {
            seq,
            hash: hash.into(),
            at: "2026-11-30T00:00:00Z".into(),
            public_key: signer.public_hex(),
            signature: signer.sign(message.as_bytes()),
        }
    }

    async fn post(s: &Arc<Logs>, e: Entry) -> u16 {
        append(State(s.clone()), Path("log".into()), Json(e)).await.status().as_u16()
    }

    #[tokio::test]
    async fn the_log_is_append_only_bound_to_one_key_and_refuses_forks() {
        let s = Arc::new(Logs::new(Arc::default()));
        let ours = Ed25519Signer::from_seed(&[7; 32]);
        let theirs = Ed25519Signer::from_seed(&[8; 32]);
        assert_eq!(post(&s, entry(&ours, 5, "aa")).await, 201);
        assert_eq!(post(&s, entry(&ours, 5, "aa")).await, 200, "the same statement again is accepted");
        assert_eq!(post(&s, entry(&ours, 5, "bb")).await, 409, "another hash for seq 5 is a fork");
        assert_eq!(post(&s, entry(&theirs, 6, "cc")).await, 403, "bound to the first key");
        let mut forged = entry(&ours, 6, "cc");
        forged.hash = "dd".into();
        assert_eq!(post(&s, forged).await, 422, "the signature covers seq and hash");
        assert_eq!(post(&s, entry(&ours, 6, "cc")).await, 201);
        let held = s.logs.lock().map(|l| l.get("log").map(|l| l.entries.len())).unwrap_or_default();
        assert_eq!(held, Some(2));
    }
}
