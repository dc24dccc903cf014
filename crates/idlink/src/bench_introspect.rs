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
//! Target (issue 14): at least 0.25 of bare axum on two cores. Ory Hydra
//! documents 5,109 introspections/s on 2 CPUs with an in-memory store.

use crate::bench_balance::{Stats, bench_server, drive};
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
        // The baseline just before and just after the database's run, as long
        // as its peak phase: a machine whose speed drifts (a shared host)
        // moves both sides of the ratio alike.
        let before = crate::bench_balance::bare_axum(opts.clients, opts.requests).await?;
        let (peak, half) = introspect_run(db, opts).await.with_context(|| format!("the {kind} run"))?;
        let after = crate::bench_balance::bare_axum(opts.clients, opts.requests).await?;
        let baseline = (before.per_sec + after.per_sec) / 2.0;
        println!("{}", before.line(&format!("baseline: bare axum JSON endpoint, before {kind}")));
        println!("{}", peak.line(&format!("introspection, {kind}, peak")));
        println!("{}", half.line(&format!("introspection, {kind}, at half peak")));
        println!("{}", after.line(&format!("baseline: bare axum JSON endpoint, after {kind}")));
        println!(
            "  ratio: {:.3} of bare axum ({baseline:.0}/s, the mean of before and after; target >= 0.25); \
             Ory Hydra documents 5109/s on 2 CPUs in memory: {:.2} of that",
            peak.per_sec / baseline,
            peak.per_sec / 5109.0
        );
    }
    Ok(())
}

/// The seeded tokens: (token, should be active).
async fn seed(running: &crate::serve::Running, user: &str, tokens: usize) -> Result<(String, String, Vec<(String, bool)>)> {
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
    let grant = ids.grant();
    let us = now.as_microsecond();
    let exp = us + 3_600 * 1_000_000;
    let store = &running.store;
    let sql = format!(
        "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at) \
         VALUES ('{grant}', '{user}', '{client_id}', '[\"openid\"]', '[]', 'active', {us}, {us})"
    );
    testing::execute(store, &sql).await.map_err(|e| anyhow::anyhow!(e))?;
    let sql = format!("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES ('{client_id}', 'bench-sub', '{user}')");
    testing::execute(store, &sql).await.map_err(|e| anyhow::anyhow!(e))?;
    let mut out = Vec::with_capacity(tokens);
    for chunk in (0..tokens).collect::<Vec<_>>().chunks(500) {
        let mut values = Vec::with_capacity(chunk.len());
        for i in chunk {
            let token = SecretKind::AccessToken.mint(&ids);
            let active = i % 10 != 9;
            let revoked = if active { "NULL".to_owned() } else { us.to_string() };
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

async fn introspect_run(db: TestDb, opts: &Options) -> Result<(Stats, Stats)> {
    let (running, api, data_dir) = bench_server(&db, opts.clients).await?;
    let setup = Instant::now();
    let (_, _, user) = api.user(0).await.context("setting up the bench user")?;
    let (client_id, secret, tokens) = seed(&running, &user, opts.tokens.max(10)).await?;
    let tokens = Arc::new(tokens);
    eprintln!("  {} setup: {:.1} s", db.kind, setup.elapsed().as_secs_f64());
    let url = format!("{}/oauth2/introspect", api.base);
    let basic = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{client_id}:{secret}")));
    let send = {
        let (http, url, basic, tokens) = (api.http.clone(), url.clone(), basic.clone(), tokens.clone());
        move |c: usize, i: usize| {
            let (http, url, basic, tokens) = (http.clone(), url.clone(), basic.clone(), tokens.clone());
            async move {
                let (token, active) = &tokens[(c * 7919 + i) % tokens.len()];
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
            }
        }
    };
    // Warm the pools and the statement caches.
    drive(opts.clients, 20, None, send.clone()).await?;
    let peak = drive(opts.clients, opts.requests, None, send.clone()).await?;
    let half = drive(opts.clients, opts.requests / 2, Some(peak.per_sec / 2.0), send).await?;
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    db.dispose().await.map_err(|e| anyhow::anyhow!(e))?;
    Ok((peak, half))
}
