//! `idlink bench revocation-crash`: the revocation saga (SPEC RV2, issue 17)
//! survives a crash at any point, on any node, exactly once.
//!
//! A sandbox runs as its own process (`idlink sandbox`), so the host
//! stores keep their state across the server's crashes. idlink runs as a
//! child process on an embedded database (or `--database-url`). Each run:
//!
//! 1. starts a node, signs a new user in, verifies them, sets a payment
//!    password, logs in at every sandbox app (`--apps`, registered once
//!    through the API) through the consent page, and asks for a step-up,
//!    all over HTTP;
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
//!    - the identity is out of `identities`, retained once;
//!    - every app was told the account disabled and the identity revoked
//!      (webhook and SET) exactly once by event id, and got its logout
//!      tokens; a delivery retried after a crash carries the same id.
//!
//!    A run killed before the saga was stored must have left nothing: no
//!    saga, the identity in place, no app told.
//!
//! The command prints where the crashes fell and every failure, and exits
//! non-zero on any failure.

use crate::bench_harness::{Apps, Harness, Proc, STORES, is_final, settled};
use anyhow::{Result, anyhow, bail};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The forward moves a boundary run stops after, in turn.
pub const BOUNDARIES: [&str; 5] = ["start", "pending_recycle", "grants_suspended", "stores_applied", "commit_begun"];

/// The moves of a committed saga, each audited once.
const MOVES: [&str; 6] = ["start", "pending_recycle", "grants_suspended", "stores_applied", "commit_begun", "committed"];

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
    /// Sandbox apps each run's user authorises, each checked to be told once.
    pub apps: usize,
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

/// A repeatable delay in `0..max_ms` for run `n` (splitmix64).
fn delay(seed: u64, n: usize, max_ms: u64) -> Duration {
    let mut z = seed.wrapping_add((n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Duration::from_millis((z ^ (z >> 31)) % max_ms.max(1))
}

pub async fn run(opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let h = Harness::start(&opts.exe, &opts.database_url, &format!("crash-{}", opts.seed)).await?;
    let config = h.config()?;
    let store = crate::serve::open_store(&config).await?;
    let setup = h.node(None, usize::MAX).await?;
    let apps = Apps::register(&h, &setup, "crash", opts.apps).await?;
    setup.stop().await;
    let mut report = Report::default();
    for n in 0..opts.runs {
        let boundary = (n % 2 == 0).then(|| BOUNDARIES[(n / 2) % BOUNDARIES.len()]);
        match one_run(&h, &apps, &store, n, boundary, opts.seed).await {
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
async fn one_run(h: &Harness, apps: &Apps, store: &idlink_store::SqlStore, n: usize, boundary: Option<&str>, seed: u64) -> Result<String> {
    let since = jiff::Timestamp::now();
    let mut node = h.node(boundary, 2 * n).await?;
    let (session, user) = h.user(&node, n).await?;
    let subs = apps.consent(h, &node, &session).await?;
    let step_up = h.step_up(&node, &session, &user).await?;
    h.script(if boundary.is_some() { "ok" } else { "slow" }, 60).await?;
    let start = h.start_revocation(&node, &session, &step_up);
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
    let who = RunUser { id: user.clone(), subs, since };
    let checked = check(h, apps, store, &who, outcome, &found).await;
    node.stop().await;
    checked.map(|()| found)
}

/// The saga followed until final (or none was stored): its JSON, or `None`.
async fn follow(h: &Harness, node: &Proc, session: &str) -> Result<Option<Value>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let Some(v) = h.latest(node, session).await? else { return Ok(None) };
        if is_final(&v) {
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

/// A run's user: their id, their `sub` at each app, and when the run began.
struct RunUser {
    id: String,
    subs: Vec<String>,
    since: jiff::Timestamp,
}

async fn check(
    h: &Harness,
    apps: &Apps,
    store: &idlink_store::SqlStore,
    who: &RunUser,
    outcome: Result<Option<Value>>,
    found: &str,
) -> Result<()> {
    let (user, subs, since) = (who.id.as_str(), who.subs.as_slice(), who.since);
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
            settled(store, user).await?;
            for (name, told) in apps.names.iter().zip(apps.told(h, subs, since).await?) {
                if !told.webhooks.is_empty() || !told.sets.is_empty() || told.logouts > 0 {
                    bail!("no saga, yet {name} was told {told:?}");
                }
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
            // 30 s: a delivery a killed node had claimed waits out its claim first. Whatever is
            // missing then is named by the count below.
            apps.heard_revocation(h, subs, since, Duration::from_secs(30)).await?;
            // Anything still on its way arrives before the count.
            settled(store, user).await?;
            for (name, t) in apps.names.iter().zip(apps.told(h, subs, since).await?) {
                let problems = t.revocation_problems();
                if !problems.is_empty() {
                    bail!("{name}: {}", problems.join("; "));
                }
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
        println!(
            "  every run committed once, every move audited once, every store committed, the identity retained once, every app told once by event id"
        );
    } else {
        println!("  {} failures:", report.failures.len());
        for f in &report.failures {
            println!("    {f}");
        }
    }
}
