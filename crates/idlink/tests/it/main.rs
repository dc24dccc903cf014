//! End-to-end tests: a real `idlink` server (the same `serve::start` the
//! binary runs) on 127.0.0.1:0 with the in-process sandbox, driven over
//! HTTP, on SQLite and, when reachable (always in CI), PostgreSQL.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod agreements;
mod apikeys;
mod audit;
mod backup;
mod banks;
mod cards;
mod cli;
mod compliance;
mod consents;
mod console;
mod credit;
mod disclosure;
mod docs;
mod dual;
mod errors;
mod events;
mod grants;
mod h5;
mod idempotency;
mod identity;
mod login;
mod oidc;
mod openapi_conformance;
mod operations;
mod outbox;
mod refusals;
mod replays;
mod retention;
mod reviews;
mod revocation;
mod sandbox;
mod security;
mod social_security;
mod users;

use idlink::config::Config;
use idlink::serve::{self, Running, Runtime};
use idlink_store::testing::{self, TestDb};
use std::path::PathBuf;

pub struct Server {
    pub running: Option<Running>,
    pub base: String,
    pub sandbox: String,
    pub token: String,
    pub kind: &'static str,
    pub config: Config,
    pub db: TestDb,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client().request(method, self.url(path)).bearer_auth(&self.token)
    }

    /// Environment that points the `idlink` binary at this server's database and keys.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            ("IDLINK__DATABASE__URL".into(), self.db.url.clone()),
            ("IDLINK__SERVER__DATA_DIR".into(), self.data_dir.display().to_string()),
            ("IDLINK__CRYPTO__GENERATE_DEV_KEY".into(), "false".into()),
        ]
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Stops the server and starts it again on the same database and data
    /// directory with a changed configuration, as an operator deploys one
    /// (new listening ports, a fresh in-process sandbox).
    pub async fn restart(&mut self, change: impl FnOnce(&mut Config)) {
        self.stop().await;
        change(&mut self.config);
        let running = serve::start(&self.config, Runtime::default()).await.unwrap_or_else(|e| panic!("restart: {e:#}"));
        self.base = format!("http://{}", running.api_addr);
        self.sandbox = running.sandbox_addr.map(|a| format!("http://{a}")).unwrap_or_default();
        self.running = Some(running);
    }
}

pub async fn start_on_db(db: TestDb) -> Server {
    start_on(db).await
}

async fn start_on(db: TestDb) -> Server {
    start_with(db, &[]).await
}

/// A server with extra configuration (`IDLINK__…` variables).
pub async fn start_with(db: TestDb, extra: &[(&str, &str)]) -> Server {
    start_full(db, extra, Runtime::default()).await
}

/// A server with extra configuration and a given clock and RNG.
pub async fn start_full(db: TestDb, extra: &[(&str, &str)], rt: Runtime) -> Server {
    let data_dir = std::env::temp_dir().join(format!(
        "idlink-e2e-{}-{}",
        std::process::id(),
        idlink_crypto::Random::bytes16(&idlink_crypto::OsRandom).iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let env = vec![
        ("IDLINK__SERVER__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("IDLINK__SERVER__DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("IDLINK__SANDBOX__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("IDLINK__SANDBOX__DIRECT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        // The demo app registers a client (and a webhook key) at start; the tests that want it turn it on.
        ("IDLINK__SANDBOX__DEMO_APP".to_owned(), "false".to_owned()),
        ("IDLINK__DATABASE__URL".to_owned(), db.url.clone()),
        ("IDLINK__SERVER__BODY_LIMIT_BYTES".to_owned(), "4096".to_owned()),
        ("IDLINK__SERVER__SHUTDOWN_GRACE_SECS".to_owned(), "10".to_owned()),
        // Tests log in repeatedly within a minute; the resend interval has its own test.
        ("IDLINK__LOGIN__RESEND_INTERVAL_SECS".to_owned(), "0".to_owned()),
        ("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR".to_owned(), "50".to_owned()),
        // Cheaper Argon2 than production (19 MiB) to keep the suite fast; the cost is benchmarked separately.
        ("IDLINK__PAYMENT_PASSWORD__MEMORY_KIB".to_owned(), "2048".to_owned()),
    ];
    let env = env.into_iter().chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = idlink::config::load(None, env).unwrap_or_else(|e| panic!("config: {e:#}"));
    let running = serve::start(&config, rt.clone()).await.unwrap_or_else(|e| panic!("start: {e:#}"));
    let (_, token) = idlink_core::apikeys::create(
        &running.store,
        &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rt.clock.as_ref(),
        "e2e",
        &["users:read".into(), "users:write".into(), "audit:read".into()],
        "test",
    )
    .await
    .unwrap_or_else(|e| panic!("api key: {e}"));
    Server {
        base: format!("http://{}", running.api_addr),
        sandbox: running.sandbox_addr.map(|a| format!("http://{a}")).unwrap_or_default(),
        running: Some(running),
        token,
        kind: db.kind,
        config,
        db,
        data_dir,
    }
}

/// One server per database: SQLite always, PostgreSQL when reachable or required.
pub async fn servers() -> Vec<Server> {
    let dbs = testing::all().await.unwrap_or_else(|e| panic!("test databases: {e}"));
    let mut out = Vec::new();
    for db in dbs {
        out.push(start_on(db).await);
    }
    out
}

/// The databases to run end-to-end tests on: SQLite always, PostgreSQL when reachable or required.
pub async fn databases() -> Vec<TestDb> {
    testing::all().await.unwrap_or_else(|e| panic!("test databases: {e}"))
}

pub async fn sqlite_server() -> Server {
    start_on(testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"))).await
}

/// Asserts an answer is a problem document with `code`, and returns it.
/// (The server names codes by `ProblemCode` variants, checked by the
/// compiler; tests name them as clients do, so check they are registered.)
pub async fn expect_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let registered = idlink_api::ProblemCode::parse(code).map(|c| c.status().as_u16());
    assert_eq!(registered, Some(status), "`{code}` is a registered problem code with status {status}");
    let got = res.status().as_u16();
    if got != status {
        let body = res.text().await.unwrap_or_default();
        panic!("status for {code}: got {got}, want {status}: {body}");
    }
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(ct, "application/problem+json", "content type for {code}");
    let header_id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body: serde_json::Value = res.json().await.unwrap_or_else(|e| panic!("problem body for {code}: {e}"));
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.len() > 10), "a useful message: {body}");
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)), "{body}");
    assert_eq!(body["request_id"].as_str(), Some(header_id.as_str()), "request id in body and header: {body}");
    body
}

impl Server {
    /// The user's access log (`GET /v1/users/{id}/access-log`), newest first.
    pub async fn access_log(&self, user_id: &str) -> Vec<serde_json::Value> {
        let log: serde_json::Value = self
            .authed(reqwest::Method::GET, &format!("/v1/users/{user_id}/access-log"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        log["records"].as_array().cloned().unwrap_or_default()
    }

    /// The sandbox SMS gateway's inbox for `phone`, newest first.
    pub async fn inbox(&self, phone: &str) -> serde_json::Value {
        reqwest::get(format!("{}/sandbox/v1/sms/inbox?phone={phone}", self.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default()
    }

    /// The newest code the sandbox SMS gateway delivered to `phone` (a
    /// notification the outbox delivered since may be newer).
    pub async fn last_code(&self, phone: &str) -> String {
        let inbox = self.inbox(phone).await;
        let messages = inbox["messages"].as_array().cloned().unwrap_or_default();
        let code = messages.iter().find_map(|m| m["params"]["code"].as_str());
        code.unwrap_or_else(|| panic!("no SMS for {phone}: {inbox}")).to_owned()
    }

    /// The inbox of `phone` once its newest message has `template`: the
    /// outbox delivers notifications after the request that caused them.
    pub async fn sms_delivered(&self, phone: &str, template: &str) -> serde_json::Value {
        let mut inbox = serde_json::Value::Null;
        for _ in 0..150 {
            inbox = self.inbox(phone).await;
            if inbox["messages"][0]["template"] == template {
                return inbox;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{}: no `{template}` SMS was delivered to {phone} within 15 s: {inbox}", self.kind)
    }
}
