//! `idlink bench medical-code`: the medical-insurance payment code (SPEC
//! SS3, issue 16) through the full HTTP path on SQLite and on PostgreSQL,
//! with a bare axum endpoint measured in the same run as the baseline.
//!
//! Two phases per round:
//! - issue: the user's app asks for a fresh code (`POST
//!   /v1/social-security/bindings/{id}/medical-code`): the session checked,
//!   the binding read, an Ed25519 signature and the QR image drawn;
//! - verify: a terminal checks a code online (`POST
//!   /v1/social-security/medical-codes/verify`, key with `medical:settle`):
//!   the key checked, the signature against the JWK Set, the binding, the
//!   user's devices and the code's one-time id read from the store.
//!
//! Setup: one user logged in and verified through the API, its card bound
//! through the six steps against the sandbox bureau and bank. Codes live
//! 60 s, so the verify phase uses codes issued just before it.
//!
//! Each database's phases run `--rounds` times, each between two runs of
//! the bare endpoint; a round's ratio is its phase over the mean of the two
//! baselines around it, and the result is the median round (ADR 0023).
//! Target (issue 16): verification at least 0.3 of bare axum.

use crate::bench_balance::{Stats, bare_axum, bench_server, drive};
use anyhow::{Context, Result, bail};
use idlink_store::testing::{self, TestDb};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub clients: usize,
    /// Requests each client sends per issue phase.
    pub requests: usize,
    /// Requests each client sends per verify phase and per baseline.
    pub verify_requests: usize,
    pub sqlite: bool,
    pub postgres: bool,
    pub rounds: usize,
}

pub async fn run(opts: &Options) -> Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "idlink bench medical-code: {} clients x {} requests per phase, {cores} cores, {} build",
        opts.clients,
        opts.requests,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let mut dbs: Vec<TestDb> = Vec::new();
    if opts.sqlite {
        dbs.push(testing::sqlite().await.map_err(|e| anyhow::anyhow!(e))?);
    }
    if opts.postgres {
        match testing::postgres().await.map_err(|e| anyhow::anyhow!(e))? {
            Some(db) => dbs.push(db),
            None => println!("postgres: skipped (no PostgreSQL found; set IDLINK_TEST_DATABASE_URL)"),
        }
    }
    for db in dbs {
        let kind = db.kind;
        let run = medical_run(db, opts).await.with_context(|| format!("the {kind} run"))?;
        for (name, phases) in [("issue", &run.issues), ("verify", &run.verifies)] {
            let mut ratios = Vec::with_capacity(phases.len());
            for (i, phase) in phases.iter().enumerate() {
                let baseline = (run.baselines[i].per_sec + run.baselines[i + 1].per_sec) / 2.0;
                ratios.push(phase.per_sec / baseline);
                println!("{}", phase.line(&format!("{name}, {kind}, round {}", i + 1)));
                println!("  round {}: {:.3} of bare axum ({baseline:.0}/s)", i + 1, phase.per_sec / baseline);
            }
            ratios.sort_by(f64::total_cmp);
            let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
            let target = if name == "verify" { " (target >= 0.3)" } else { "" };
            println!("  {name} ratio: {median:.3} of bare axum, median of {} rounds{target}", ratios.len());
        }
        for (i, b) in run.baselines.iter().enumerate() {
            println!("{}", b.line(&format!("baseline: bare axum JSON endpoint, {kind} #{}", i + 1)));
        }
    }
    Ok(())
}

struct Run {
    issues: Vec<Stats>,
    verifies: Vec<Stats>,
    baselines: Vec<Stats>,
}

async fn call(http: &reqwest::Client, base: &str, path: &str, key: &str, session: &str, body: Value) -> Result<Value> {
    let res = http.post(format!("{base}{path}")).bearer_auth(key).header("idlink-session", session).json(&body).send().await?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{path} answered {status}: {v}");
    }
    Ok(v)
}

/// Binds the bench user's card through the six steps; returns the binding id.
async fn bind(http: &reqwest::Client, base: &str, sandbox: &str, key: &str, session: &str, id_number: &str, phone: &str) -> Result<String> {
    let post = |path: String, body: Value| {
        let (http, key) = (http.clone(), key.to_owned());
        async move {
            let res = http.post(format!("{base}{path}")).bearer_auth(&key).header("idlink-session", session).json(&body).send().await?;
            let status = res.status();
            let v: Value = res.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{path} answered {status}: {v}");
            }
            anyhow::Ok(v)
        }
    };
    let last_code = |phone: String| {
        let http = http.clone();
        async move {
            let inbox: Value = http.get(format!("{sandbox}/sandbox/v1/sms/inbox?phone={phone}")).send().await?.json().await?;
            inbox["messages"][0]["params"]["code"].as_str().map(str::to_owned).context("no SMS code")
        }
    };
    let card: Value = http.get(format!("{sandbox}/sandbox/v1/social-security/cards/{id_number}")).send().await?.json().await?;
    let b = post("/v1/social-security/bindings".into(), json!({"area_code": &id_number[..6]})).await?;
    let id = b["id"].as_str().context("no binding id")?.to_owned();
    let step = |s: &str| format!("/v1/social-security/bindings/{id}{s}");
    post(step("/identity/face"), json!({"liveness_video": "sandbox:pass"})).await?;
    post(step("/card"), json!({"card_number": card["card_number"]})).await?;
    post(step("/card/confirm"), json!({"code": last_code(phone.to_owned()).await?})).await?;
    let reserved = "13600009999";
    post(step("/bank"), json!({"reserved_phone": reserved})).await?;
    post(step("/bank/confirm"), json!({"code": last_code(reserved.to_owned()).await?})).await?;
    let a: Value = http.get(format!("{base}/v1/social-security/agreement")).bearer_auth(key).send().await?.json().await?;
    post(step("/agreement"), json!({"version": a["version"], "sha256": a["sha256"]})).await?;
    let done = post(step("/features"), json!({"features": ["medical_payment"]})).await?;
    if done["status"] != "bound" {
        bail!("the bench binding did not bind: {done}");
    }
    Ok(id)
}

async fn medical_run(db: TestDb, opts: &Options) -> Result<Run> {
    let (running, api, data_dir) = bench_server(&db, opts.clients).await?;
    let setup = Instant::now();
    let (session, _, _) = api.user(0).await.context("setting up the bench user")?;
    let sandbox = running.sandbox_addr.map(|a| format!("http://{a}")).context("the bench runs with the sandbox")?;
    let rt = crate::serve::Runtime::default();
    let (_, key) = idlink_core::apikeys::create(
        &running.store,
        &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rt.clock.as_ref(),
        "bench terminal",
        &["medical:settle".to_owned()],
        "bench",
    )
    .await?;
    let phone = crate::bench_balance::phone(0);
    let binding = bind(&api.http, &api.base, &sandbox, &key, &session, &crate::bench_balance::id_number(0), &phone).await?;
    eprintln!("  {} setup: {:.1} s", db.kind, setup.elapsed().as_secs_f64());

    let issue_path = format!("/v1/social-security/bindings/{binding}/medical-code");
    let issue = {
        let (http, base, session, path, key) = (api.http.clone(), api.base.clone(), session.clone(), issue_path.clone(), key.clone());
        move |_: usize, _: usize| {
            let (http, base, session, path, key) = (http.clone(), base.clone(), session.clone(), path.clone(), key.clone());
            async move {
                let res = http.post(format!("{base}{path}")).bearer_auth(&key).header("idlink-session", &session).send().await?;
                if !res.status().is_success() {
                    bail!("issuing answered {}", res.status());
                }
                let v: Value = res.json().await?;
                if v["code"].as_str().is_none() {
                    bail!("no code: {v}");
                }
                Ok(())
            }
        }
    };
    let verify_with = |codes: Arc<Vec<String>>| {
        let (http, url, key) = (api.http.clone(), format!("{}/v1/social-security/medical-codes/verify", api.base), key.clone());
        move |c: usize, i: usize| {
            let (http, url, key, codes) = (http.clone(), url.clone(), key.clone(), codes.clone());
            async move {
                let code = &codes[(c * 7919 + i) % codes.len()];
                let res = http.post(&url).bearer_auth(&key).json(&json!({"code": code})).send().await?;
                let status = res.status();
                // A terminal reads the answer before it charges.
                let body = res.bytes().await?;
                if !status.is_success() {
                    bail!("verification answered {status}: {}", String::from_utf8_lossy(&body));
                }
                Ok(())
            }
        }
    };
    let fresh_codes = |n: usize| {
        let (http, base, session, path, key) = (api.http.clone(), api.base.clone(), session.clone(), issue_path.clone(), key.clone());
        async move {
            let mut codes = Vec::with_capacity(n);
            for _ in 0..n {
                let v = call(&http, &base, &path, &key, &session, json!({})).await?;
                codes.push(v["code"].as_str().context("no code")?.to_owned());
            }
            anyhow::Ok(Arc::new(codes))
        }
    };
    // Warm the pools, the key cache and the statement caches.
    drive(opts.clients, 20, None, issue.clone()).await?;
    drive(opts.clients, 20, None, verify_with(fresh_codes(50).await?)).await?;
    let mut baselines = vec![bare_axum(opts.clients, opts.verify_requests).await?];
    let (mut issues, mut verifies) = (Vec::new(), Vec::new());
    for _ in 0..opts.rounds {
        issues.push(drive(opts.clients, opts.requests, None, issue.clone()).await?);
        let codes = fresh_codes(200).await?;
        verifies.push(drive(opts.clients, opts.verify_requests, None, verify_with(codes)).await?);
        baselines.push(bare_axum(opts.clients, opts.verify_requests).await?);
    }
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    db.dispose().await.map_err(|e| anyhow::anyhow!(e))?;
    Ok(Run { issues, verifies, baselines })
}
