//! The one path for every outbound institution call.

use crate::breaker::Admission;
use crate::health::HealthBook;
use crate::masking::mask_json;
use idlink_core::ports::clock::Clock;
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client certificate and key (PEM) for mutual TLS, and the CA that signs the server.
#[derive(Clone)]
pub struct TlsIdentity {
    pub client_cert_and_key_pem: Vec<u8>,
    pub server_ca_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

/// Message signing for a channel that requires it (the direct bank channel):
/// requests are signed with our key, answers must carry the peer's
/// signature of our request signature and their body.
pub struct Signing {
    pub signer: idlink_crypto::signing::Ed25519Signer,
    pub peer_public_hex: String,
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signing(peer {})", self.peer_public_hex)
    }
}

/// One institution reached over one channel.
#[derive(Debug, Clone)]
pub struct Target {
    pub institution: String,
    pub channel: String,
    pub base_url: String,
    client: reqwest::Client,
    signing: Option<Arc<Signing>>,
}

impl Target {
    /// A target over plain HTTP or server-authenticated TLS.
    pub fn new(institution: &str, channel: &str, base_url: &str) -> Result<Self, CallError> {
        Self::build(institution, channel, base_url, None)
    }

    /// A target over mutual TLS: the client presents `identity` and trusts only its CA.
    pub fn with_mutual_tls(institution: &str, channel: &str, base_url: &str, identity: &TlsIdentity) -> Result<Self, CallError> {
        Self::build(institution, channel, base_url, Some(identity))
    }

    fn build(institution: &str, channel: &str, base_url: &str, tls: Option<&TlsIdentity>) -> Result<Self, CallError> {
        let mut b = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(60)).connect_timeout(Duration::from_secs(5));
        if let Some(tls) = tls {
            let id = reqwest::Identity::from_pem(&tls.client_cert_and_key_pem).map_err(|e| CallError::Config(e.to_string()))?;
            let ca = reqwest::Certificate::from_pem(&tls.server_ca_pem).map_err(|e| CallError::Config(e.to_string()))?;
            b = b.identity(id).tls_certs_only([ca]);
        }
        let client = b.build().map_err(|e| CallError::Config(e.to_string()))?;
        Ok(Self {
            institution: institution.to_owned(),
            channel: channel.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
            signing: None,
        })
    }

    /// Signs every request and accepts only answers signed by the peer.
    pub fn signed(mut self, signing: Signing) -> Self {
        self.signing = Some(Arc::new(signing));
        self
    }

    /// The same connection pool and keys, for another institution behind it
    /// (one bank among those the direct listener serves): its own breaker.
    pub fn for_institution(&self, institution: &str) -> Self {
        Self { institution: institution.to_owned(), ..self.clone() }
    }
}

/// How calls are made.
#[derive(Debug, Clone)]
pub struct ExecutorPolicy {
    /// Deadline for the whole call, retries included.
    pub deadline: Duration,
    /// Extra attempts for idempotent calls after a transport error or 5xx.
    pub retries: u32,
    pub breaker_failures: u32,
    pub breaker_open_for: SignedDuration,
}

impl Default for ExecutorPolicy {
    fn default() -> Self {
        Self { deadline: Duration::from_secs(5), retries: 2, breaker_failures: 5, breaker_open_for: SignedDuration::from_secs(30) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// `retry_after_secs`: from the refusal to `until`, at least 1.
    #[error("{institution}/{channel} is unavailable (circuit open) until {until}")]
    CircuitOpen { institution: String, channel: String, until: Timestamp, retry_after_secs: u64 },
    #[error("{institution} is in maintenance; retry after {retry_after_secs} s")]
    Maintenance { institution: String, retry_after_secs: u64, expected_end: Option<Timestamp> },
    #[error("{institution} did not answer within the deadline")]
    Timeout { institution: String },
    #[error("{institution} could not be reached: {detail}")]
    Transport { institution: String, detail: String },
    #[error("{institution} answered HTTP {status}")]
    Status { institution: String, status: u16, body: serde_json::Value },
    #[error("{institution} answered something that is not its protocol: {detail}")]
    Protocol { institution: String, detail: String },
    #[error("connector configuration: {0}")]
    Config(String),
}

impl CallError {
    /// Whether the channel could not serve the call (another channel might):
    /// an outage, or a circuit already open.
    pub fn channel_down(&self) -> bool {
        self.is_outage() || matches!(self, CallError::CircuitOpen { .. })
    }

    /// Whether this failure says the institution is unhealthy (counts for the breaker).
    fn is_outage(&self) -> bool {
        match self {
            CallError::Timeout { .. } | CallError::Transport { .. } | CallError::Maintenance { .. } => true,
            CallError::Status { status, .. } => *status >= 500,
            CallError::Protocol { .. } | CallError::CircuitOpen { .. } | CallError::Config(_) => false,
        }
    }
}

/// Executes calls with deadline, retries, breaker, the scheduled
/// maintenance calendar, measurements (`health`) and masked logging.
pub struct Executor {
    policy: ExecutorPolicy,
    clock: Arc<dyn Clock>,
    book: HealthBook,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("policy", &self.policy).finish()
    }
}

impl Executor {
    pub fn new(policy: ExecutorPolicy, clock: Arc<dyn Clock>) -> Self {
        let book = HealthBook::new(policy.breaker_failures, policy.breaker_open_for);
        Self { policy, clock, book }
    }

    /// Makes a channel known to the health page before its first call.
    pub fn register(&self, target: &Target) {
        self.book.channel(&target.institution, &target.channel);
    }

    /// The breakers, measurements and calendar of every channel.
    pub fn health(&self) -> &HealthBook {
        &self.book
    }

    /// The executor's clock (breaker instants are on it).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The breaker state of a channel, for health pages and tests.
    pub fn breaker_state(&self, target: &Target) -> crate::breaker::State {
        self.book.with(&target.institution, &target.channel, |c| c.breaker.state())
    }

    /// Sends `body` as JSON and decodes the JSON answer.
    /// `idempotent` calls are retried on transport errors and 5xx answers.
    pub async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        target: &Target,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotent: bool,
    ) -> Result<R, CallError> {
        let now = self.clock.now();
        if let Some(end) = self.book.scheduled(&target.institution, &target.channel, now) {
            // A scheduled window (ADR 0018): the institution is not called, nor its breaker touched.
            let retry_after_secs = u64::try_from(end.duration_since(now).as_secs()).unwrap_or(1).max(1);
            return Err(CallError::Maintenance { institution: target.institution.clone(), retry_after_secs, expected_end: Some(end) });
        }
        let channel = self.book.channel(&target.institution, &target.channel);
        let admission = channel.lock().unwrap_or_else(|p| p.into_inner()).admit(now);
        if let Admission::Refused { until } = admission {
            let retry_after_secs = u64::try_from(until.duration_since(now).as_secs()).unwrap_or(1).max(1);
            return Err(CallError::CircuitOpen {
                institution: target.institution.clone(),
                channel: target.channel.clone(),
                until,
                retry_after_secs,
            });
        }
        let body = body.map(serde_json::to_value).transpose().map_err(|e| CallError::Config(e.to_string()))?;
        let started = Instant::now();
        let result = tokio::time::timeout(self.policy.deadline, self.attempts(target, &method, path, body.as_ref(), idempotent))
            .await
            .unwrap_or_else(|_| Err(CallError::Timeout { institution: target.institution.clone() }))
            .and_then(|value| {
                serde_json::from_value::<R>(value)
                    .map_err(|e| CallError::Protocol { institution: target.institution.clone(), detail: e.to_string() })
            });
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            institution = %target.institution, channel = %target.channel, %method, path,
            elapsed_ms = elapsed.as_millis() as u64, outcome = %outcome,
            request = %body.as_ref().map(mask_json).unwrap_or_default(),
            "connector call"
        );
        let now = self.clock.now();
        let outage = result.as_ref().err().is_some_and(CallError::is_outage);
        // An answer nobody can use is an error on the health page, but not an
        // outage: the institution is up, so the breaker does not count it.
        let errored = outage || matches!(result, Err(CallError::Protocol { .. }));
        let announced = match &result {
            Err(CallError::Maintenance { expected_end, retry_after_secs, .. }) => expected_end
                .or_else(|| now.checked_add(SignedDuration::from_secs(i64::try_from(*retry_after_secs).unwrap_or(i64::MAX))).ok()),
            _ => None,
        };
        {
            let mut c = channel.lock().unwrap_or_else(|p| p.into_inner());
            // A business refusal means the institution answered: it is healthy.
            if outage {
                c.breaker.failure(now)
            } else {
                c.breaker.success()
            }
            c.record(now, elapsed, !errored, announced);
        }
        metrics::counter!("idlink_connector_calls_total",
            "institution" => target.institution.clone(), "channel" => target.channel.clone(),
            "outcome" => if result.is_ok() { "ok" } else { "error" })
        .increment(1);
        result
    }

    async fn attempts(
        &self,
        target: &Target,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        idempotent: bool,
    ) -> Result<serde_json::Value, CallError> {
        let tries = if idempotent { self.policy.retries + 1 } else { 1 };
        let mut last = None;
        for attempt in 0..tries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
            }
            match self.once(target, method, path, body).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_outage() && !matches!(e, CallError::Maintenance { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| CallError::Timeout { institution: target.institution.clone() }))
    }

    async fn once(
        &self,
        target: &Target,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, CallError> {
        let url = format!("{}{}", target.base_url, path);
        let mut req = target.client.request(method.clone(), &url);
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| CallError::Config(e.to_string()))?,
            None => Vec::new(),
        };
        let mut request_signature = None;
        if let Some(signing) = &target.signing {
            let ts = self.clock.now().as_second().to_string();
            let nonce = hex::encode(idlink_crypto::Random::bytes16(&idlink_crypto::OsRandom));
            let sig = signing.signer.sign(&idlink_crypto::signing::bank_message(method.as_str(), path, &ts, &nonce, &bytes));
            req = req.header("idlink-timestamp", ts).header("idlink-nonce", nonce).header("idlink-signature", &sig);
            request_signature = Some(sig);
        }
        if body.is_some() {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(bytes);
        }
        let res =
            req.send().await.map_err(|e| CallError::Transport { institution: target.institution.clone(), detail: transport_detail(e) })?;
        let status = res.status();
        let retry_after = res.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let answer_signature = res.headers().get("bank-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes =
            res.bytes().await.map_err(|e| CallError::Transport { institution: target.institution.clone(), detail: transport_detail(e) })?;
        if let (Some(signing), Some(sig)) = (&target.signing, &request_signature) {
            let mut message = Vec::with_capacity(sig.len() + 1 + bytes.len());
            message.extend_from_slice(sig.as_bytes());
            message.push(b'\n');
            message.extend_from_slice(&bytes);
            let valid = answer_signature.is_some_and(|a| idlink_crypto::signing::verify(&signing.peer_public_hex, &message, &a));
            if !valid {
                return Err(CallError::Protocol {
                    institution: target.institution.clone(),
                    detail: "the answer is not signed by the institution's key".into(),
                });
            }
        }
        let value: serde_json::Value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| CallError::Protocol { institution: target.institution.clone(), detail: e.to_string() })?
        };
        if let (StatusCode::SERVICE_UNAVAILABLE, Some(secs)) = (status, retry_after) {
            let expected_end = value.get("expected_end").and_then(|v| v.as_str()).and_then(|v| v.parse::<Timestamp>().ok());
            return Err(CallError::Maintenance { institution: target.institution.clone(), retry_after_secs: secs, expected_end });
        }
        if !status.is_success() {
            return Err(CallError::Status { institution: target.institution.clone(), status: status.as_u16(), body: mask_json(&value) });
        }
        Ok(value)
    }
}

/// A transport error without the URL (which may carry identifiers).
fn transport_detail(e: reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or unreachable".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        e.without_url().to_string()
    }
}
