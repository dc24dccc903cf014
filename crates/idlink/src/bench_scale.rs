//! `idlink bench scale` (issue 19, SPEC P1–P3): the same requests against
//! two seeded deployments, a small one (say 10,000 users) and a large one
//! (a million users, ten million audit records), in one run, so that the
//! small deployment is the baseline the large one is measured against.
//!
//! Both deployments are made with `idlink bench seed` into a data directory
//! each (its keyring opens the seeded users' data and finds their phones'
//! blind indexes) and a database each. Both servers run side by side in
//! this process; the phases alternate between them round after round, so a
//! machine whose speed drifts moves both sides of each ratio alike:
//!
//! - **login**: a seeded user's SMS code asked and the login sent from the
//!   device they were seeded with (the phone found by its blind index among
//!   all the users, the risk checks reading their sessions);
//! - **balance**: the full balance query of `bench balance` by seeded users
//!   who bound an ICBC card, at full speed, then at one fixed rate for both
//!   (half the slower peak), where p99 counts from each request's scheduled
//!   start;
//! - **introspection**: RFC 7662 by a resource server holding a token of
//!   one seeded user in ten (each with the user's grant and pairwise
//!   subject): 1,000 tokens at ten thousand users, 100,000 at a million, so
//!   that the tokens' index grows with the users as the others do.
//!
//! The result is the median over the rounds of large ÷ small: throughput
//! (target ≥ 0.90; not for the fixed rate, the same on both sides) and p99
//! (target ≤ 1.10). The query plans of the hot
//! statements are printed for each deployment, bound to its own rows.

use crate::bench_balance::{Api, Request, Stats, User, balance_query, bench_server_at, drive, mint_tokens};
use crate::serve::{Running, Runtime};
use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One seeded deployment: the data directory it was seeded with (its
/// keyring) and its database (by default the directory's embedded one).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

impl Deployment {
    /// The `database.url` to configure: empty for the data directory's embedded database.
    fn url(&self) -> String {
        self.database_url.clone().unwrap_or_default()
    }

    fn describe(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("{}/idlink.db", self.data_dir.display()))
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub small: Deployment,
    pub large: Deployment,
    /// Concurrent clients (one seeded user each for the balance queries).
    pub clients: usize,
    /// Balance queries per client in each balance phase.
    pub queries: usize,
    /// Logins per client in each login phase (each by another seeded user).
    pub logins: usize,
    /// Introspections per client in each introspection phase.
    pub requests: usize,
    pub rounds: usize,
}

/// One deployment under load: its server, the users querying balances, the
/// introspection's resource server, and the next seeded user to log in.
struct Side {
    name: &'static str,
    running: Running,
    api: Arc<Api>,
    users: Arc<Vec<User>>,
    introspect: (String, String, Vec<(String, bool)>),
    next_login: Arc<AtomicUsize>,
    seeded: i64,
    audit_records: i64,
}

/// The figures of one phase on both sides.
#[derive(Debug, Clone, Copy)]
struct Pair {
    small: Stats,
    large: Stats,
}

impl Pair {
    fn throughput(&self) -> f64 {
        self.large.per_sec / self.small.per_sec.max(1e-9)
    }
    fn p99(&self) -> f64 {
        self.large.p99_ms / self.small.p99_ms.max(1e-9)
    }
}

/// The phases of a round, in the order it runs them.
const PHASES: [&str; 4] = ["login", "balance, peak", "balance, fixed rate", "introspection"];
/// The phase both sides run at one rate (half the slower peak).
const FIXED_RATE: usize = 2;
/// Balance queries per client before the first round.
const WARM_QUERIES: usize = 10;
/// Introspected tokens: one for every this many seeded users.
const USERS_PER_TOKEN: i64 = 10;

pub async fn run(opts: &Options) -> Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "idlink bench scale: {} clients; {} balance queries, {} logins, {} introspections per client and phase; {} rounds; {cores} cores, {} build",
        opts.clients,
        opts.queries,
        opts.logins,
        opts.requests,
        opts.rounds,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let axum = crate::bench_balance::bare_axum(opts.clients, opts.queries * 4).await?;
    println!("{}", axum.line("context: bare axum JSON endpoint"));
    let rt = Runtime::default();
    let small = side("small", &opts.small, opts, &rt).await.context("the small deployment")?;
    let large = side("large", &opts.large, opts, &rt).await.context("the large deployment")?;
    for s in [&small, &large] {
        println!(
            "{}: {} users, {} audit records, {} ({})",
            s.name,
            s.seeded,
            s.audit_records,
            s.running.store.backend().name(),
            s.api.base
        );
    }
    // Warm both: pools, statement caches, the page cache, the bank connections (the balance
    // query's warm-up spends the tokens after those of the rounds).
    for s in [&small, &large] {
        drive(opts.clients, 2, None, login(s)).await?;
        drive(opts.clients, WARM_QUERIES, None, balance_query(&s.api, &s.users, 2 * opts.rounds * opts.queries)).await?;
        drive(opts.clients, 10, None, introspect(s)).await?;
    }
    let mut results: Vec<[Pair; 4]> = Vec::with_capacity(opts.rounds);
    for round in 0..opts.rounds {
        let tokens = |slot: usize| (2 * round + slot) * opts.queries;
        // Each phase on both sides, the side that goes first changing every round (a database's
        // background work, e.g. a checkpoint, falls on either side alike).
        let flip = round % 2 == 1;
        let both = |a: Stats, b: Stats| if flip { Pair { small: b, large: a } } else { Pair { small: a, large: b } };
        let (first, second) = if flip { (&large, &small) } else { (&small, &large) };
        let sign_ins =
            both(drive(opts.clients, opts.logins, None, login(first)).await?, drive(opts.clients, opts.logins, None, login(second)).await?);
        let peak = both(
            drive(opts.clients, opts.queries, None, balance_query(&first.api, &first.users, tokens(0))).await?,
            drive(opts.clients, opts.queries, None, balance_query(&second.api, &second.users, tokens(0))).await?,
        );
        let rate = peak.small.per_sec.min(peak.large.per_sec) / 2.0;
        let fixed = both(
            drive(opts.clients, opts.queries, Some(rate), balance_query(&first.api, &first.users, tokens(1))).await?,
            drive(opts.clients, opts.queries, Some(rate), balance_query(&second.api, &second.users, tokens(1))).await?,
        );
        let introspection = both(
            drive(opts.clients, opts.requests, None, introspect(first)).await?,
            drive(opts.clients, opts.requests, None, introspect(second)).await?,
        );
        let pairs = [sign_ins, peak, fixed, introspection];
        for (what, p) in PHASES.iter().zip(&pairs) {
            println!("{}", p.small.line(&format!("round {}: {what}, small", round + 1)));
            println!("{}", p.large.line(&format!("round {}: {what}, large", round + 1)));
        }
        results.push(pairs);
    }
    println!("large / small, median of {} rounds (targets: throughput >= 0.90, p99 <= 1.10):", opts.rounds);
    for (i, what) in PHASES.iter().enumerate() {
        let mut t: Vec<f64> = results.iter().map(|r| r[i].throughput()).collect();
        let mut p: Vec<f64> = results.iter().map(|r| r[i].p99()).collect();
        // Both sides run the fixed-rate phase at one rate: its throughput ratio is 1 by construction.
        let throughput = if i == FIXED_RATE { "  -  ".to_owned() } else { format!("{:.3}", crate::bench_introspect::median(&mut t)) };
        println!("  {what:<22} throughput {throughput}   p99 {:.3}", crate::bench_introspect::median(&mut p));
    }
    for s in [&small, &large] {
        println!("query plans of the hot statements, {} ({}, {} users):", s.name, s.running.store.backend().name(), s.seeded);
        for plan in s.running.store.hot_plans().await? {
            println!("  {}:", plan.name);
            for line in plan.lines {
                println!("      {line}");
            }
        }
    }
    small.running.shutdown().await;
    large.running.shutdown().await;
    Ok(())
}

/// Starts a server on `d` and sets up its balance users and resource server.
async fn side(name: &'static str, d: &Deployment, opts: &Options, rt: &Runtime) -> Result<Side> {
    let (running, api) = bench_server_at(&d.url(), &d.data_dir, opts.clients).await?;
    let seeded = running.store.row_count("users").await?;
    let audit_records = running.store.row_count("audit_log").await?;
    // Users 0..clients query balances; each login after takes the next seeded user.
    let needed = (opts.clients * (1 + 2 + opts.rounds * opts.logins)) * 10_001 / 10_000 + 2;
    if seeded < i64::try_from(needed).unwrap_or(i64::MAX) {
        bail!(
            "{name}: {seeded} users in {}; this run needs {needed}: seed more with `idlink --data-dir {} bench seed --users N`",
            d.describe(),
            d.data_dir.display()
        );
    }
    let mut users = Vec::with_capacity(opts.clients);
    for n in (0..).filter(|n| deliverable(*n)).take(opts.clients) {
        let (session, user) = log_in(&api, n).await.with_context(|| format!("{name}: logging seeded user {n} in"))?;
        let binding = icbc_card(&api, &session, n).await.with_context(|| format!("{name}: seeded user {n}'s ICBC card"))?;
        users.push((session, binding, user));
    }
    // The seeded users were found, not made: a keyring other than theirs finds no phone and signs new users up.
    if running.store.row_count("users").await? != seeded {
        bail!("{name}: logging in made new users: {} is not the data directory these users were seeded with", d.data_dir.display());
    }
    // Step-up tokens outlive the run: a long run at a million users lasts over an hour.
    let ttl = jiff::SignedDuration::from_hours(12);
    let users = mint_tokens(&running, rt, users, 2 * opts.rounds * opts.queries + WARM_QUERIES, ttl).await?;
    let holders = (seeded / USERS_PER_TOKEN).max(1);
    let holders = idlink_store::testing::query_strings(&running.store, &format!("SELECT id FROM users ORDER BY id LIMIT {holders}"))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let introspect = crate::bench_introspect::seed(&running, &holders, holders.len()).await?;
    // The setup's rows (sessions, step-up and access tokens) analysed, as autovacuum would have by the
    // first round (it is off on the benchmark machine's PostgreSQL). Without it the statements planned
    // while `sessions` looked empty kept a sequential scan of it for every request: each round's
    // logins made every later balance query slower (1.2 ms of CPU a query in round 1, 2.6 ms in round 8).
    running.store.refresh_statistics().await?;
    Ok(Side {
        name,
        running,
        api,
        users: Arc::new(users),
        introspect,
        next_login: Arc::new(AtomicUsize::new(opts.clients + 1)),
        seeded,
        audit_records,
    })
}

/// The sandbox operator refuses numbers ending in 0000 (its scripted undeliverable case).
fn deliverable(n: usize) -> bool {
    !n.is_multiple_of(10_000)
}

/// Seeded user `n`'s phone and device (`idlink_core::seed`).
fn seeded(n: usize) -> (String, String) {
    (format!("139{:08}", n % 100_000_000), format!("seed-device-{n}"))
}

/// Logs seeded user `n` in from their seeded device: (session, user id).
async fn log_in(api: &Api, n: usize) -> Result<(String, String)> {
    let (phone, device) = seeded(n);
    let c = api.call(Method::POST, "/v1/auth/sms-challenges", None, Some(json!({"phone": phone, "device_id": device}))).await?;
    let code = api.last_code(&phone).await?;
    let body = json!({"phone": phone, "device_id": device, "device_name": "seeded phone", "challenge_id": c["challenge_id"], "code": code});
    let login = api.call(Method::POST, "/v1/auth/login", None, Some(body)).await?;
    if login["status"] != "active" {
        bail!("seeded user {n}'s login is {}, not active: not the device they were seeded with?", login["status"]);
    }
    let session = login["session_token"].as_str().context("no session token")?.to_owned();
    let user = login["user_id"].as_str().context("no user id")?.to_owned();
    Ok((session, user))
}

/// A bench ICBC card of seeded user `n` (direct channel, as `bench balance`): the one bound on an
/// earlier run, or bound now; balance queries switched on.
async fn icbc_card(api: &Api, session: &str, n: usize) -> Result<String> {
    let s = Some(session);
    let number = crate::bench_balance::card(n);
    let last4 = number.get(number.len().saturating_sub(4)..).unwrap_or_default().to_owned();
    let cards = api.call(Method::GET, "/v1/me/cards", s, None).await?;
    let bound = cards["cards"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["bank"] == "ICBC" && c["last4"] == last4.as_str() && c["status"] == "active");
    let binding = match bound.and_then(|c| c["id"].as_str()) {
        Some(id) => id.to_owned(),
        None => {
            let (phone, _) = seeded(n);
            let pending = api.call(Method::POST, "/v1/me/cards", s, Some(json!({"card_number": number, "reserved_phone": phone}))).await?;
            let binding = pending["id"].as_str().context("no binding id")?.to_owned();
            let code = api.last_code(&phone).await?;
            api.call(Method::POST, &format!("/v1/me/cards/{binding}/confirm"), s, Some(json!({"code": code}))).await?;
            binding
        }
    };
    api.call(Method::PUT, "/v1/me/features/balance-query", s, Some(json!({"enabled": true}))).await?;
    Ok(binding)
}

/// One login by the next seeded user not logged in yet.
fn login(s: &Side) -> impl Fn(usize, usize) -> Request + Send + Sync + 'static {
    let (api, next) = (s.api.clone(), s.next_login.clone());
    move |_, _| {
        let mut n = next.fetch_add(1, Ordering::Relaxed);
        while !deliverable(n) {
            n = next.fetch_add(1, Ordering::Relaxed);
        }
        let api = api.clone();
        Box::pin(async move { log_in(&api, n).await.map(|_| ()) })
    }
}

fn introspect(s: &Side) -> impl Fn(usize, usize) -> Request + Send + Sync + 'static {
    let (client, secret, tokens) = &s.introspect;
    crate::bench_introspect::introspection(&s.api, client, secret, tokens.clone())
}
