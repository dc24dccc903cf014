//! A remote audit witness (SPEC P7, docs/audit.md): a log service on another
//! host, or run by another party, that keeps a copy of every signed audit
//! checkpoint. With it, an attacker who can write both idlink's database and
//! its disk still cannot shorten the chain unseen: the log is out of reach.
//!
//! Wire protocol (the sandbox's `witness` institution speaks it):
//! - `POST /witness/v1/logs/{log}/checkpoints` `{"seq", "hash", "at",
//!   "public_key", "signature"}` → 201, or 200 when the log holds the same
//!   statement already (so retries are safe); 409 `fork` when it holds
//!   another hash for that seq; 403 `key_mismatch` when the log is bound to
//!   another signing key (the first one it saw); 422 when the signature
//!   does not verify.
//! - `GET /witness/v1/logs/{log}/checkpoints` → `{"checkpoints": [...]}` in
//!   the order received.
//! - `GET /witness/v1/logs/{log}/latest` → `{"checkpoint": {...} | null}`:
//!   the highest seq received.

use crate::executor::{CallError, Executor, Target};
use async_trait::async_trait;
use idlink_core::ports::audit::Checkpoint;
use idlink_core::ports::witness::{AuditWitness, WitnessError};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
struct Appended {}

#[derive(Debug, Deserialize)]
struct Entries {
    checkpoints: Vec<Checkpoint>,
}

#[derive(Debug, Deserialize)]
struct Latest {
    checkpoint: Option<Checkpoint>,
}

/// A witness log reached over HTTP through the connectors' executor
/// (deadline, retries of these idempotent calls, circuit breaker).
#[derive(Clone)]
pub struct RemoteWitness {
    executor: Arc<Executor>,
    target: Target,
    log: String,
}

impl RemoteWitness {
    /// The log `log` at `base_url`. A log name is letters, digits, `-` and `_`.
    pub fn new(executor: Arc<Executor>, base_url: &str, log: &str) -> Result<Self, CallError> {
        if log.is_empty() || log.len() > 64 || !log.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(CallError::Config(format!("witness log name `{log}`: 1 to 64 letters, digits, `-` or `_`")));
        }
        Ok(Self { executor, target: Target::new("witness", "log", base_url)?, log: log.to_owned() })
    }

    fn path(&self, rest: &str) -> String {
        format!("/witness/v1/logs/{}/{rest}", self.log)
    }

    fn unavailable(&self, e: CallError) -> WitnessError {
        let detail = match &e {
            CallError::Status { status: 409, .. } => {
                "the log holds another hash for this checkpoint's seq: the chain it witnessed was rewritten".to_owned()
            }
            CallError::Status { status: 403, .. } => "the log is bound to another signing key".to_owned(),
            _ => e.to_string(),
        };
        WitnessError::Unavailable { witness: self.describe(), detail }
    }
}

#[async_trait]
impl AuditWitness for RemoteWitness {
    fn describe(&self) -> String {
        format!("remote log `{}` at {}", self.log, self.target.base_url)
    }

    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), WitnessError> {
        let path = self.path("checkpoints");
        let _: Appended = self
            .executor
            .call(&self.target, reqwest::Method::POST, &path, Some(checkpoint), true)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<Checkpoint>, WitnessError> {
        let path = self.path("checkpoints");
        let entries: Entries =
            self.executor.call::<(), _>(&self.target, reqwest::Method::GET, &path, None, true).await.map_err(|e| self.unavailable(e))?;
        Ok(entries.checkpoints)
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, WitnessError> {
        let path = self.path("latest");
        let latest: Latest =
            self.executor.call::<(), _>(&self.target, reqwest::Method::GET, &path, None, true).await.map_err(|e| self.unavailable(e))?;
        Ok(latest.checkpoint)
    }
}
