//! `idlink bench introspect`: token introspection (RFC 7662; SPEC TP1,
//! issue 14) through the full HTTP path on SQLite and on PostgreSQL, with a
//! bare axum endpoint measured in the same run as the baseline.
//!
//! Each timed request is what a resource server sends: `POST /oauth2/introspect`
//! with the client's credentials (HTTP Basic) and a token, and idlink answers
//! from the durable store: the client's secret checked, the token looked up
//! by its hash, its expiry, its revocation and its grant's state read at that
//! moment (no cache: a revocation shows on every node at once). One token in
//! ten is revoked, so both answers are exercised.
//!
//! Setup: one user through the API (login, verification), one confidential
//! client registered through the client store, the grant, subject and
//! tokens written as the token endpoint writes them (hashes only), since the
//! benchmark measures introspection, not the consent page.
//!
//! Each database's peak phase runs `--rounds` times, each between two runs of
//! the bare endpoint; a round's ratio is its peak over the mean of the two
//! baselines around it, and the result is the median round (ADR 0023: the
//! bare endpoint alone moved between 47k and 80k/s within an hour on a
//! shared host).
//!
//! Target (issue 14): at least 0.25 of bare axum on two cores. Ory Hydra
//! documents 5,109 introspections/s on 2 CPUs with an in-memory store.

use crate::bench_balance::{Request, Stats, bench_server, drive};
use anyhow::{Context, Result, bail};
use idlink_core::oidc::{SecretKind, secret_hash};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore};
use idlink_core::ports::ids::{Ids, RandomIds};
use idlink_store::testing::{self, TestDb};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub clients: usize,
    /// Introspections each client sends per phase.
    pub requests: usize,
    /// Distinct access tokens to introspect.
    pub tokens: usize,
    pub sqlite: bool,
    pub postgres: bool,
    /// Peak phases per database, each between two baseline phases.
    pub rounds: usize,
}

pub async fn run(opts: &Options) -> Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "idlink bench introspect: {} clients x {} introspections per phase, {} tokens (1 in 10 revoked), {cores} cores, {} build",
        opts.clients,
        opts.requests,
        opts.tokens,
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
        let run = introspect_run(db, opts).await.with_context(|| format!("the {kind} run"))?;
        let mut ratios = Vec::with_capacity(run.peaks.len());
        for (i, peak) in run.peaks.iter().enumerate() {
            let (before, after) = (&run.baselines[i], &run.baselines[i + 1]);
            let baseline = (before.per_sec + after.per_sec) / 2.0;
            ratios.push(peak.per_sec / baseline);
            println!("{}", before.line(&format!("baseline: bare axum JSON endpoint, {kind} round {}", i + 1)));
            println!("{}", peak.line(&format!("introspection, {kind}, peak, round {}", i + 1)));
            println!(
                "  round {}: {:.3} of bare axum ({baseline:.0}/s, the mean of the baselines before and after)",
                i + 1,
                peak.per_sec / baseline
            );
        }
        if let Some(last) = run.baselines.last() {
            println!("{}", last.line(&format!("baseline: bare axum JSON endpoint, {kind} after the last round")));
        }
        println!("{}", run.half.line(&format!("introspection, {kind}, at half peak")));
        let median = median(&mut ratios);
        let best = run.peaks.iter().map(|p| p.per_sec).fold(0.0, f64::max);
        println!(
            "  ratio: {median:.3} of bare axum (median of {} rounds; target >= 0.25); Ory Hydra documents 5109/s on 2 CPUs in memory: {:.2} of that (best round)",
            ratios.len(),
            best / 5109.0
        );
    }
    Ok(())
}

/// Client `c`'s `i`-th introspection: one of `tokens` (token, whether it should be active) in turn,
/// as the resource server `client_id` asks, its answer checked.
pub(crate) fn introspection(
    api: &crate::bench_balance::Api,
    client_id: &str,
    secret: &str,
    tokens: Vec<(String, bool)>,
) -> impl Fn(usize, usize) -> Request + Send + Sync + Clone + 'static {
    let tokens = Arc::new(tokens);
    let url = format!("{}/oauth2/introspect", api.base);
    let basic = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{client_id}:{secret}")));
    let http = api.http.clone();
    move |c: usize, i: usize| {
        let (http, url, basic, tokens) = (http.clone(), url.clone(), basic.clone(), tokens.clone());
        Box::pin(async move {
            let (token, active) = tokens.get((c * 7919 + i) % tokens.len().max(1)).context("no tokens to introspect")?;
            let res = http
                .post(&url)
                .header("authorization", basic.as_str())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await?;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or_default();
            if !status.is_success() || body["active"].as_bool() != Some(*active) {
                bail!("introspection answered {status} {body}, expected active = {active}");
            }
            Ok(())
        })
    }
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// One database's phases: `rounds` peaks, each between two baselines
/// (`baselines[i]` before `peaks[i]`, `baselines[i + 1]` after), and the half-peak phase.
struct Run {
    peaks: Vec<Stats>,
    baselines: Vec<Stats>,
    half: Stats,
}

/// A resource server and `tokens` access tokens spread over `users` in turn (each user with a
/// grant and a pairwise subject): (client id, secret, [(token, should be active)]).
pub(crate) async fn seed(
    running: &crate::serve::Running,
    users: &[String],
    tokens: usize,
) -> Result<(String, String, Vec<(String, bool)>)> {
    let rt = crate::serve::Runtime::default();
    let ids = RandomIds(rt.rng.clone());
    let now = running.clock.now();
    let client_id = ids.client();
    let secret = SecretKind::ClientSecret.mint(&ids);
    let row = ClientRow {
        id: client_id.clone(),
        name: "bench resource server".into(),
        logo_url: None,
        kind: ClientKind::Confidential,
        auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        redirect_uris: vec!["https://rs.example/cb".into()],
        allowed_scopes: vec!["openid".into(), "identity".into()],
        allowed_claims: vec!["name".into()],
        id_token_alg: idlink_crypto::jose::JwsAlg::Es256,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: now,
        updated_at: now,
    };
    let secret_row = ClientSecretRow {
        id: hex::encode(ids.entropy()),
        client_id: client_id.clone(),
        secret_hash: secret_hash(&secret),
        created_at: now,
        expires_at: None,
    };
    let audit = AuditEntry::new("bench", "oauth.client_registered", "benchmark setup", now);
    running.store.insert_client(&row, Some(&secret_row), &audit).await?;
    let us = now.as_microsecond();
    // Longer than any run, so that no token expires during one (a long scale run lasts over an hour).
    let exp = us + 12 * 3_600 * 1_000_000;
    let store = &running.store;
    // A grant and a pairwise subject for each user, as the consent page writes them.
    let grants: Vec<String> = users.iter().map(|_| ids.grant().to_string()).collect();
    for (k, chunk) in users.iter().zip(&grants).collect::<Vec<_>>().chunks(500).enumerate() {
        let (mut g, mut sub) = (Vec::with_capacity(chunk.len()), Vec::with_capacity(chunk.len()));
        for (j, (user, grant)) in chunk.iter().enumerate() {
            g.push(format!("('{grant}', '{user}', '{client_id}', '[\"openid\"]', '[]', 'active', {us}, {us})"));
            sub.push(format!("('{client_id}', 'bench-sub-{}', '{user}')", k * 500 + j));
        }
        let sql = format!(
            "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at) VALUES {}",
            g.join(", ")
        );
        testing::execute(store, &sql).await.map_err(|e| anyhow::anyhow!(e))?;
        let sql = format!("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES {}", sub.join(", "));
        testing::execute(store, &sql).await.map_err(|e| anyhow::anyhow!(e))?;
    }
    let mut out = Vec::with_capacity(tokens);
    for chunk in (0..tokens).collect::<Vec<_>>().chunks(500) {
        let mut values = Vec::with_capacity(chunk.len());
        for i in chunk {
            let token = SecretKind::AccessToken.mint(&ids);
            let active = i % 10 != 9;
            let revoked = if active { "NULL".to_owned() } else { us.to_string() };
            let k = i % users.len().max(1);
            let (user, grant) = (users.get(k).context("no user for the tokens")?, grants.get(k).context("no grant")?);
            values.push(format!(
                "('{}', '{client_id}', '{user}', '{grant}', NULL, 'openid', NULL, {us}, {exp}, {revoked})",
                secret_hash(&token)
            ));
            out.push((token, active));
        }
        let sql = format!(
            "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, family_id, scope, claims, created_at, expires_at, revoked_at) VALUES {}",
            values.join(", ")
        );
        testing::execute(store, &sql).await.map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok((client_id.to_string(), secret, out))
}

async fn introspect_run(db: TestDb, opts: &Options) -> Result<Run> {
    let (running, api, data_dir) = bench_server(&db, opts.clients).await?;
    let setup = Instant::now();
    let (_, _, user) = api.user(0).await.context("setting up the bench user")?;
    let (client_id, secret, tokens) = seed(&running, std::slice::from_ref(&user), opts.tokens.max(10)).await?;
    eprintln!("  {} setup: {:.1} s", db.kind, setup.elapsed().as_secs_f64());
    let send = introspection(&api, &client_id, &secret, tokens);
    // Warm the pools and the statement caches.
    drive(opts.clients, 20, None, send.clone()).await?;
    // The bare endpoint just before and just after each peak, as long as it: a machine
    // whose speed drifts (a shared host) moves both sides of each round's ratio alike.
    let mut baselines = vec![crate::bench_balance::bare_axum(opts.clients, opts.requests).await?];
    let mut peaks = Vec::with_capacity(opts.rounds);
    for _ in 0..opts.rounds {
        peaks.push(drive(opts.clients, opts.requests, None, send.clone()).await?);
        baselines.push(crate::bench_balance::bare_axum(opts.clients, opts.requests).await?);
    }
    let best = peaks.iter().map(|p| p.per_sec).fold(0.0, f64::max);
    let half = drive(opts.clients, opts.requests / 2, Some(best / 2.0), send).await?;
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    db.dispose().await.map_err(|e| anyhow::anyhow!(e))?;
    Ok(Run { peaks, baselines, half })
}
