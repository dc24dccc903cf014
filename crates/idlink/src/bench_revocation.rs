//! `idlink bench revocation`: how long a real-name revocation takes end to
//! end when every party answers (issue 17: under 2 s with 20 authorised
//! apps; the seed's platform takes 8–12 hours).
//!
//! The sandbox runs as its own process with the host's four stores and
//! `--apps` relying parties; one idlink node runs as a child process. Each
//! timed run signs a new user in over HTTP, verifies them, logs them in at
//! every app through the consent page, and takes a step-up. The clock then
//! starts at `POST /v1/me/revocations` and stops twice:
//!
//! - *committed*: `GET /v1/me/revocations/latest` says `committed` (polled
//!   every 10 ms): every grant and token revoked, every store committed;
//! - *all told*: every app has received, and checked the signature of, the
//!   account-disabled and identity-revoked webhooks and SETs and its two
//!   back-channel logout tokens: the time the sandbox recorded for the last
//!   of them (the same machine's clock), so the poll does not count.
//!
//! The 10 ms poll of `GET /v1/me/revocations/latest` also drives the saga
//! on (as a user following it on the status page does); the node's own job
//! runs every second (`revocation.drive_secs = 1`).
//!
//! Baseline runs, interleaved, do the same for a user who authorised no
//! app: the saga alone. Every run is also checked: committed, each event
//! told to each app exactly once by event id.

use crate::bench_harness::{Apps, Harness, is_final, settled};
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    /// Timed runs with apps (and as many baseline runs).
    pub runs: usize,
    /// Apps each timed run's user authorised.
    pub apps: usize,
    /// The `idlink` executable to run as the node and the sandbox.
    pub exe: PathBuf,
    /// A database for the node (empty: an embedded one in a fresh directory).
    pub database_url: String,
}

/// One run's times from the start request.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub committed: Duration,
    pub all_told: Duration,
}

#[derive(Debug, Default)]
pub struct Report {
    pub apps: usize,
    pub with_apps: Vec<Times>,
    pub baseline: Vec<Times>,
}

pub async fn run(opts: &Options) -> Result<Report> {
    let h = Harness::start(&opts.exe, &opts.database_url, "revocation-bench").await?;
    let store = crate::serve::open_store(&h.config()?).await?;
    let node = h.node(None, 0).await?;
    let apps = Apps::register(&h, &node, "rp", opts.apps).await?;
    let none = Apps { names: Vec::new() };
    let mut report = Report { apps: opts.apps, ..Report::default() };
    for i in 0..opts.runs {
        report.baseline.push(one_run(&h, &store, &node, &none, 2 * i).await?);
        report.with_apps.push(one_run(&h, &store, &node, &apps, 2 * i + 1).await?);
    }
    node.stop().await;
    let _ = std::fs::remove_dir_all(&h.dir);
    Ok(report)
}

async fn one_run(h: &Harness, store: &idlink_store::SqlStore, node: &crate::bench_harness::Proc, apps: &Apps, n: usize) -> Result<Times> {
    let (session, user) = h.user(node, n).await?;
    let subs = apps.consent(h, node, &session).await?;
    let step_up = h.step_up(node, &session, &user).await?;
    let since = jiff::Timestamp::now();
    let started = Instant::now();
    let answer = h.start_revocation(node, &session, &step_up).await??;
    if answer != 202 && answer != 201 {
        bail!("POST /v1/me/revocations answered {answer}");
    }
    let deadline = started + Duration::from_secs(60);
    let committed = loop {
        match h.latest(node, &session).await? {
            Some(v) if is_final(&v) => {
                if v["phase"] != "committed" {
                    bail!("run {n}: the saga rolled back: {v}");
                }
                break started.elapsed();
            }
            _ if Instant::now() > deadline => bail!("run {n}: not committed after 60 s"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    if !apps.heard_revocation(h, &subs, since, deadline.saturating_duration_since(Instant::now())).await? {
        bail!("run {n}: not every app was told after 60 s");
    }
    // Counted once nothing is left to deliver; timed by when the apps received the last of it.
    settled(store, &user).await?;
    let told = apps.told(h, &subs, since).await?;
    let last = told.iter().filter_map(|t| t.last_at).max();
    let all_told = match last {
        Some(at) => Duration::try_from(at.duration_since(since)).unwrap_or_default(),
        None => committed,
    };
    for (name, t) in apps.names.iter().zip(told) {
        let problems = t.revocation_problems();
        if !problems.is_empty() {
            bail!("run {n}: {name}: {}", problems.join("; "));
        }
    }
    Ok(Times { committed, all_told })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints the report: medians and worst runs, against the 2-second target.
pub fn print(r: &Report) {
    let line = |name: &str, runs: &[Times]| {
        let committed: Vec<Duration> = runs.iter().map(|t| t.committed).collect();
        let told: Vec<Duration> = runs.iter().map(|t| t.all_told).collect();
        println!(
            "  {name:<22} committed median {:>7.1} ms, max {:>7.1} ms; all told median {:>7.1} ms, max {:>7.1} ms",
            ms(median(committed.clone())),
            ms(committed.iter().max().copied().unwrap_or_default()),
            ms(median(told.clone())),
            ms(told.iter().max().copied().unwrap_or_default()),
        );
    };
    println!("idlink bench revocation: {} runs with {} apps, {} baseline runs", r.with_apps.len(), r.apps, r.baseline.len());
    line("saga alone (no app)", &r.baseline);
    line(&format!("with {} apps", r.apps), &r.with_apps);
    let worst = r.with_apps.iter().map(|t| t.all_told).max().unwrap_or_default();
    let base = median(r.baseline.iter().map(|t| t.all_told).collect());
    let with = median(r.with_apps.iter().map(|t| t.all_told).collect());
    println!(
        "  ratio with apps / alone (median all told): {:.2}; worst run {:.0} ms against the 2000 ms target: {}",
        with.as_secs_f64() / base.as_secs_f64().max(1e-9),
        ms(worst),
        if worst < Duration::from_secs(2) { "met" } else { "NOT met" }
    );
}
