//! `idlink bench revocation-crash`: the revocation saga (SPEC RV2, issue 17)
//! survives a crash at any point, on any node, exactly once.
//!
//! A sandbox runs as its own process (`idlink sandbox`), so the host
//! stores keep their state across the server's crashes. idlink runs as a
//! child process on an embedded database (or `--database-url`). Each run:
//!
//! 1. starts a node, signs a new user in, verifies them, sets a payment
//!    password and asks for a step-up, all over HTTP;
//! 2. starts a real-name revocation and stops the node hard:
//!    - a *boundary* run starts the node with `revocation.crash_after`, so it
//!      aborts (as a `kill -9` would) right after that move commits; the
//!      runs take the moves in turn;
//!    - a *random* run makes the stores slow and sends `SIGKILL` after a
//!      random delay;
//! 3. starts a fresh node (no crash point), reads where the saga stood, and
//!    follows it until it is final;
//! 4. checks the result:
//!    - the saga committed (nothing in these runs asks for a rollback);
//!    - each move is audited exactly once;
//!    - each of the four stores holds the change committed;
//!    - the identity is out of `identities`, retained once.
//!
//!    A run killed before the saga was stored must have left nothing: no
//!    saga, the identity in place.
//!
//! The command prints where the crashes fell and every failure, and exits
//! non-zero on any failure.

use crate::bench_balance::Api;
use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The forward moves a boundary run stops after, in turn.
pub const BOUNDARIES: [&str; 5] = ["start", "pending_recycle", "grants_suspended", "stores_applied", "commit_begun"];

/// The moves of a committed saga, each audited once.
const MOVES: [&str; 6] = ["start", "pending_recycle", "grants_suspended", "stores_applied", "commit_begun", "committed"];

const STORES: [&str; 4] = ["wallet", "lending", "subscriptions", "directories"];

#[derive(Debug, Clone)]
pub struct Options {
    /// Runs in all: boundary and random runs alternate.
    pub runs: usize,
    /// The `idlink` executable to run as the node and the sandbox.
    pub exe: PathBuf,
    /// A database for the nodes (empty: an embedded one in a fresh directory).
    pub database_url: String,
    /// Seeds the random kill delays (the run is repeatable).
    pub seed: u64,
}

/// What the runs found.
#[derive(Debug, Default)]
pub struct Report {
    pub runs: usize,
    /// Where each crash left the saga, as found after the restart (`none`: not stored yet).
    pub found: std::collections::BTreeMap<String, usize>,
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

/// A child `idlink` process and the URL it listens on.
struct Proc {
    child: Child,
    base: String,
}

async fn spawn(exe: &Path, args: &[&str], env: &[(String, String)], log: &Path) -> Result<Proc> {
    let log = std::fs::File::create(log)?;
    let mut child = Command::new(exe)
        .args(args)
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut base = None;
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.trim().to_owned());
                break;
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    match (found, base) {
        (Ok(()), Some(base)) => Ok(Proc { child, base }),
        _ => bail!("{} {} did not start (see {})", exe.display(), args.join(" "), "its log"),
    }
}

/// The harness's state: the sandbox, the nodes' configuration and API key.
struct Harness {
    exe: PathBuf,
    dir: PathBuf,
    sandbox: Proc,
    env: Vec<(String, String)>,
    key: String,
    http: reqwest::Client,
}

impl Harness {
    async fn start(opts: &Options) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("idlink-crash-{}-{}", std::process::id(), opts.seed));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let d = dir.display().to_string();
        let sandbox_env = vec![
            ("IDLINK__SERVER__DATA_DIR".to_owned(), format!("{d}/sandbox")),
            ("IDLINK__SANDBOX__DIRECT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ];
        let sandbox = spawn(&opts.exe, &["sandbox", "--listen", "127.0.0.1:0"], &sandbox_env, &dir.join("sandbox.log")).await?;
        let sb = sandbox.base.clone();
        let mut env: Vec<(String, String)> = [
            ("IDLINK__SERVER__DATA_DIR", d.clone()),
            ("IDLINK__SERVER__LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__SANDBOX__ENABLED", "false".into()),
            ("IDLINK__CONNECTORS__SMS__URL", sb.clone()),
            ("IDLINK__CONNECTORS__FACE__URL", sb.clone()),
            ("IDLINK__CONNECTORS__REGISTRY__URL", sb.clone()),
            ("IDLINK__CONNECTORS__BUREAU__URL", sb.clone()),
            ("IDLINK__CONNECTORS__BANK__SWITCH_URL", sb.clone()),
            ("IDLINK__CONNECTORS__RETRIES", "0".into()),
            ("IDLINK__CONNECTORS__BREAKER_FAILURES", "1000".into()),
            ("IDLINK__LOGIN__RESEND_INTERVAL_SECS", "0".into()),
            ("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR", "1000".into()),
            ("IDLINK__LOGIN__CODES_PER_IP_PER_HOUR", "100000".into()),
            ("IDLINK__PAYMENT_PASSWORD__MEMORY_KIB", "2048".into()),
            ("IDLINK__REVOCATION__WINDOW_SECS", "3600".into()),
            ("IDLINK__REVOCATION__DRIVE_SECS", "1".into()),
            ("IDLINK__SERVER__SHUTDOWN_GRACE_SECS", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for s in STORES {
            env.push((format!("IDLINK__CONNECTORS__HOST_STORES__{}_URL", s.to_uppercase()), format!("{sb}/host/{s}")));
        }
        if !opts.database_url.is_empty() {
            env.push(("IDLINK__DATABASE__URL".into(), opts.database_url.clone()));
        }
        let out = Command::new(&opts.exe)
            .args(["apikey", "create", "--name", "crash", "--scopes", "users:read,users:write"])
            .envs(env.iter().cloned())
            .output()
            .await?;
        let key = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_owned();
        if !out.status.success() || key.is_empty() {
            bail!("apikey create failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Self { exe: opts.exe.clone(), dir, sandbox, env, key, http: reqwest::Client::new() })
    }

    async fn node(&self, crash_after: Option<&str>, n: usize) -> Result<Proc> {
        let mut env = self.env.clone();
        if let Some(m) = crash_after {
            env.push(("IDLINK__REVOCATION__CRASH_AFTER".into(), m.to_owned()));
        }
        spawn(&self.exe, &["serve"], &env, &self.dir.join(format!("node-{n}.log"))).await
    }

    fn config(&self) -> Result<Config> {
        crate::config::load(None, self.env.clone())
    }

    async fn script(&self, mode: &str, slow_ms: u64) -> Result<()> {
        for source in STORES {
            let res = self
                .http
                .post(format!("{}/sandbox/v1/host-stores/script", self.sandbox.base))
                .json(&json!({"source": source, "mode": mode, "slow_ms": slow_ms}))
                .send()
                .await?;
            if !res.status().is_success() {
                bail!("scripting the {source} store: {}", res.status());
            }
        }
        Ok(())
    }

    async fn change_status(&self, change: &str, source: &str) -> Result<String> {
        let v: Value = self.http.get(format!("{}/host/{source}/v1/changes/{change}", self.sandbox.base)).send().await?.json().await?;
        Ok(v["status"].as_str().unwrap_or("").to_owned())
    }

    /// The API of `node`, as the host app calls it.
    fn api(&self, node: &Proc) -> Api {
        Api::new(self.http.clone(), node.base.clone(), self.sandbox.base.clone(), self.key.clone())
    }

    /// Bench user `n` signed in and verified, with a payment password: (session, user id).
    async fn user(&self, node: &Proc, n: usize) -> Result<(String, String)> {
        let api = self.api(node);
        let (session, user, phone) = api.verified_user(n).await?;
        let c = api.call(Method::POST, "/v1/me/sms-challenges", Some(&session), Some(json!({"purpose": "payment_password"}))).await?;
        let code = api.last_code(&phone).await?;
        let set = json!({"password": "135790", "challenge_id": c["challenge_id"], "code": code});
        api.call(Method::PUT, "/v1/me/payment-password", Some(&session), Some(set)).await?;
        Ok((session, user))
    }

    async fn step_up(&self, node: &Proc, session: &str, user: &str) -> Result<String> {
        let body = json!({"password": "135790", "operation": "identity.revoke", "resource": user});
        let v = self.api(node).call(Method::POST, "/v1/me/payment-password/verify", Some(session), Some(body)).await?;
        v["step_up_token"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no step-up token: {v}"))
    }
}

/// A repeatable delay in `0..max_ms` for run `n` (splitmix64).
fn delay(seed: u64, n: usize, max_ms: u64) -> Duration {
    let mut z = seed.wrapping_add((n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Duration::from_millis((z ^ (z >> 31)) % max_ms.max(1))
}

pub async fn run(opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let h = Harness::start(opts).await?;
    let config = h.config()?;
    let store = crate::serve::open_store(&config).await?;
    let mut report = Report::default();
    for n in 0..opts.runs {
        let boundary = (n % 2 == 0).then(|| BOUNDARIES[(n / 2) % BOUNDARIES.len()]);
        match one_run(&h, &store, n, boundary, opts.seed).await {
            Ok(found) => *report.found.entry(found).or_default() += 1,
            Err(e) => report.failures.push(format!("run {n} ({}): {e:#}", boundary.unwrap_or("random"))),
        }
        report.runs += 1;
    }
    report.elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&h.dir);
    Ok(report)
}

/// One run; answers where the crash left the saga.
async fn one_run(h: &Harness, store: &idlink_store::SqlStore, n: usize, boundary: Option<&str>, seed: u64) -> Result<String> {
    let mut node = h.node(boundary, 2 * n).await?;
    let (session, user) = h.user(&node, n).await?;
    let step_up = h.step_up(&node, &session, &user).await?;
    h.script(if boundary.is_some() { "ok" } else { "slow" }, 60).await?;
    let start = {
        let r = h
            .http
            .post(format!("{}/v1/me/revocations", node.base))
            .bearer_auth(&h.key)
            .header("idlink-session", &session)
            .header("idlink-step-up", &step_up)
            .json(&json!({"operation": "revoke_real_name"}));
        tokio::spawn(async move { r.send().await.map(|res| res.status().as_u16()) })
    };
    match boundary {
        Some(b) => {
            let exit = tokio::time::timeout(Duration::from_secs(30), node.child.wait()).await;
            match exit {
                Ok(Ok(status)) if !status.success() => {}
                Ok(other) => bail!("the node did not abort after {b}: {other:?}"),
                Err(_) => bail!("the node did not reach {b} within 30 s"),
            }
        }
        None => {
            tokio::time::sleep(delay(seed, n, 1_000)).await;
            node.child.kill().await?;
        }
    }
    let _ = start.await;
    h.script("ok", 0).await?;

    // Where the crash left it, before anyone drives it on.
    let found = idlink_store::testing::query_text(
        store,
        &format!("SELECT COALESCE(MAX(phase || ':' || done || ':' || committing), 'none') FROM revocations WHERE user_id = '{user}'"),
    )
    .await
    .map_err(|e| anyhow!(e))?;
    let node = h.node(None, 2 * n + 1).await?;
    let outcome = follow(h, &node, &session).await;
    let checked = check(h, store, &user, outcome, &found).await;
    drop(node);
    checked.map(|()| found)
}

/// The saga followed until final (or none was stored): its JSON, or `None`.
async fn follow(h: &Harness, node: &Proc, session: &str) -> Result<Option<Value>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = h
            .http
            .get(format!("{}/v1/me/revocations/latest", node.base))
            .bearer_auth(&h.key)
            .header("idlink-session", session)
            .send()
            .await?;
        if res.status().as_u16() == 404 {
            return Ok(None);
        }
        let v: Value = res.json().await?;
        if matches!(v["phase"].as_str(), Some("committed" | "rolled_back")) {
            return Ok(Some(v));
        }
        if Instant::now() > deadline {
            bail!("not final after 30 s: {v}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(store: &idlink_store::SqlStore, sql: &str) -> Result<i64> {
    let text = idlink_store::testing::query_text(store, sql).await.map_err(|e| anyhow!(e))?;
    text.trim().parse().map_err(|_| anyhow!("{sql}: {text}"))
}

async fn check(h: &Harness, store: &idlink_store::SqlStore, user: &str, outcome: Result<Option<Value>>, found: &str) -> Result<()> {
    let moves = |action: &str| format!("SELECT COUNT(*) FROM audit_log WHERE action = 'revocation.{action}' AND subject = '{user}'");
    match outcome? {
        None => {
            if found != "none" {
                bail!("a saga was stored ({found}) but is not found");
            }
            let identities = count(store, &format!("SELECT COUNT(*) FROM identities WHERE user_id = '{user}'")).await?;
            if identities != 1 {
                bail!("no saga, yet the identity is gone");
            }
        }
        Some(v) => {
            if v["phase"] != "committed" {
                bail!("rolled back though nothing asked for it: {v}");
            }
            for m in MOVES {
                let n = count(store, &moves(m)).await?;
                if n != 1 {
                    bail!("move {m} audited {n} times (found {found})");
                }
            }
            let id = v["id"].as_str().unwrap_or("");
            for source in STORES {
                let status = h.change_status(&format!("{id}-{source}"), source).await?;
                if status != "committed" {
                    bail!("the {source} store holds the change {status}");
                }
            }
            let left = count(store, &format!("SELECT COUNT(*) FROM identities WHERE user_id = '{user}'")).await?;
            let kept = count(store, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await?;
            if (left, kept) != (0, 1) {
                bail!("identity left {left}, retained {kept}");
            }
        }
    }
    Ok(())
}

/// Prints the report as the benchmark command does.
pub fn print(report: &Report) {
    println!("idlink bench revocation-crash: {} runs in {:.1} s", report.runs, report.elapsed.as_secs_f64());
    for (found, n) in &report.found {
        println!("  crash left the saga at {found:<28} {n} runs");
    }
    if report.failures.is_empty() {
        println!("  every run committed once, every move audited once, every store committed, the identity retained once");
    } else {
        println!("  {} failures:", report.failures.len());
        for f in &report.failures {
            println!("    {f}");
        }
    }
}
