//! `idlink bench balance`: the balance query (SPEC BK3–BK4) through the
//! full HTTP path against a zero-latency sandbox bank, on SQLite and on
//! PostgreSQL, with two baselines measured in the same run on the same
//! machine: a bare axum JSON endpoint, and PostgreSQL's commit rate of
//! one-row inserts at the same client count; and a floor: the query's bank
//! call alone. Each phase also reports how busy the machine's CPU was and
//! the CPU time per operation that implies.
//!
//! Setup goes through the API like any host app: each simulated user logs in
//! by SMS, verifies their identity (three elements + face), binds an ICBC
//! card (direct channel: mutual TLS and signed messages) and switches
//! balance queries on. Step-up tokens are minted beforehand with the same
//! code the payment-password and biometric endpoints use, because a
//! per-query Argon2id hash would measure the password hash (`idlink bench
//! password`) rather than the query. Each timed request then runs the whole
//! query path: API key, session, the four tiers, the token check, the card's
//! decryption, the bank call, disclosure, and the durable commit that spends
//! the token and writes the audit record and the history entry.
//!
//! Two phases per database: closed-loop at full speed (peak throughput), then
//! open-loop at half that rate, where p99 is measured from each request's
//! scheduled start so a stall counts against it.

use crate::serve::{self, Runtime};
use anyhow::{Context, Result, bail};
use idlink_core::ports::stepup::{Binding, StepUpStore};
use idlink_core::stepup::{StepUpMethod, StepUpPolicy};
use idlink_store::testing::{self, TestDb};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    pub clients: usize,
    /// Queries each client sends per phase.
    pub queries: usize,
    pub sqlite: bool,
    pub postgres: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Share of the whole machine's CPU time that was busy during the phase
    /// (every process: idlink, the load generator, the sandbox bank, PostgreSQL).
    cpu_busy: Option<f64>,
}

impl Stats {
    pub(crate) fn of(mut latencies: Vec<Duration>, elapsed: Duration, cpu_busy: Option<f64>) -> Self {
        latencies.sort();
        let at = |q: usize| latencies.get((latencies.len() * q / 100).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
        Stats {
            per_sec: latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: at(50).as_secs_f64() * 1e3,
            p99_ms: at(99).as_secs_f64() * 1e3,
            cpu_busy,
        }
    }

    /// Machine CPU time per operation, in microseconds.
    fn cpu_us_per_op(&self, cores: usize) -> Option<f64> {
        self.cpu_busy.map(|b| b * cores as f64 * 1e6 / self.per_sec.max(1e-9))
    }

    pub(crate) fn line(&self, name: &str) -> String {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let cpu = match (self.cpu_busy, self.cpu_us_per_op(cores)) {
            (Some(b), Some(us)) => format!("   cpu {:>3.0} % busy, {us:>6.0} us/op", b * 100.0),
            _ => String::new(),
        };
        format!("{name:<34} {:>9.0} /s   p50 {:>7.2} ms   p99 {:>7.2} ms{cpu}", self.per_sec, self.p50_ms, self.p99_ms)
    }
}

/// Busy and total CPU time of the whole machine so far (Linux `/proc/stat`), in ticks.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

fn busy_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((b0, t0), (b1, t1)) = (before?, after?);
    (t1 > t0).then(|| (b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64)
}

pub async fn run(opts: &Options) -> Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "idlink bench balance: {} clients x {} queries per phase, {cores} cores, {} build",
        opts.clients,
        opts.queries,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let axum = bare_axum(opts.clients, opts.queries * 4).await?;
    println!("{}", axum.line("baseline: bare axum JSON endpoint"));
    let pg = if opts.postgres { testing::postgres().await.map_err(|e| anyhow::anyhow!(e))? } else { None };
    let commits = match &pg {
        Some(db) => {
            let s = pg_commits(&db.url, opts.clients, opts.queries * 2).await?;
            println!("{}", s.line("baseline: postgres one-row commits"));
            Some(s)
        }
        None => {
            println!("baseline: postgres one-row commits   (no PostgreSQL found; set IDLINK_TEST_DATABASE_URL)");
            None
        }
    };
    let mut pg_ratio = None;
    let mut runs = Vec::new();
    if opts.sqlite {
        runs.push(testing::sqlite().await.map_err(|e| anyhow::anyhow!(e))?);
    }
    if let Some(db) = pg {
        runs.push(db);
    }
    for db in runs {
        let kind = db.kind;
        let Run { floor, peak, half } = balance_run(db, opts).await.with_context(|| format!("the {kind} run"))?;
        println!("{}", floor.line("floor: the bank call alone"));
        println!("{}", peak.line(&format!("balance query, {kind}, peak")));
        println!("{}", half.line(&format!("balance query, {kind}, at half peak")));
        let vs_axum = peak.per_sec / axum.per_sec;
        let vs_pg = commits.map(|c| peak.per_sec / c.per_sec);
        println!(
            "  ratios: {vs_axum:.3} of bare axum{}, {:.3} of the bank call alone; p99 at half peak {:.2} ms (target <= 10)",
            vs_pg.map(|r| format!(", {r:.3} of postgres commits (target >= 1.0)")).unwrap_or_default(),
            peak.per_sec / floor.per_sec,
            half.p99_ms
        );
        if let Some(c) = commits {
            println!(
                "  the bank call alone reaches {:.3} of postgres commits: the most the query could reach here",
                floor.per_sec / c.per_sec
            );
        }
        if kind == "postgres" {
            pg_ratio = vs_pg;
        }
    }
    match pg_ratio {
        Some(r) => println!("balance_vs_pg_commit_ratio={r:.3}"),
        None => println!("balance_vs_pg_commit_ratio=n/a"),
    }
    Ok(())
}

/// Drives `clients` tasks, each sending `per_client` requests made by `send`:
/// as fast as answers come (`rate` None: closed loop), or on a fixed schedule of
/// `rate` requests/s in total, latency counted from each request's scheduled start.
pub(crate) async fn drive<F, Fut>(clients: usize, per_client: usize, rate: Option<f64>, send: F) -> Result<Stats>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let send = Arc::new(send);
    let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r.max(1.0)));
    let ticks = cpu_ticks();
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_client);
                let mut previous_done = start;
                for i in 0..per_client {
                    let from = match interval {
                        // The clients' schedules are spread across one interval.
                        Some(every) => {
                            let due = start + every.mul_f64(c as f64 / clients as f64) + every.mul_f64(i as f64);
                            tokio::time::sleep_until(due.into()).await;
                            // A request held up by the previous answer counts from when it was due
                            // (no coordinated omission); one that waited for nothing but the timer
                            // (tokio's wheel rounds up to the next millisecond) counts from when it left.
                            if previous_done > due { due } else { Instant::now() }
                        }
                        None => Instant::now(),
                    };
                    send(c, i).await?;
                    previous_done = Instant::now();
                    lat.push(previous_done - from);
                }
                Ok::<_, anyhow::Error>(lat)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(clients * per_client);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    Ok(Stats::of(all, elapsed, busy_share(ticks, cpu_ticks())))
}

pub(crate) fn client(clients: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().pool_max_idle_per_host(clients).build()?)
}

pub(crate) async fn bare_axum(clients: usize, per_client: usize) -> Result<Stats> {
    let app = axum::Router::new().route("/ping", axum::routing::post(|| async { axum::Json(json!({"ok": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/ping", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = client(clients)?;
    let stats = drive(clients, per_client, None, move |_, _| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let res = http.post(&url).send().await?;
            if !res.status().is_success() {
                bail!("ping answered {}", res.status());
            }
            res.bytes().await?;
            Ok(())
        }
    })
    .await;
    server.abort();
    stats
}

async fn pg_commits(url: &str, clients: usize, per_client: usize) -> Result<Stats> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(u32::try_from(clients).unwrap_or(64)).connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_commits (client BIGINT NOT NULL, n BIGINT NOT NULL, payload TEXT NOT NULL)")
        .execute(&pool)
        .await?;
    let p = pool.clone();
    let stats = drive(clients, per_client, None, move |c, i| {
        let pool = p.clone();
        async move {
            // One statement outside a transaction block: one durable commit each.
            sqlx::query("INSERT INTO bench_commits (client, n, payload) VALUES ($1, $2, $3)")
                .bind(i64::try_from(c)?)
                .bind(i64::try_from(i)?)
                .bind("balance.query")
                .execute(&pool)
                .await?;
            Ok(())
        }
    })
    .await;
    pool.close().await;
    stats
}

/// One simulated user: session, binding, and the step-up tokens it will spend.
pub(crate) struct User {
    session: String,
    binding: String,
    tokens: Vec<String>,
}

/// The bench user `i`'s phone.
pub(crate) fn phone(i: usize) -> String {
    format!("1390{:07}", 1_000_001 + i * 7)
}

pub(crate) fn id_number(seq: usize) -> String {
    let body = format!("11010519900101{:03}", seq % 998 + 1);
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(body.as_bytes());
    format!("{body}{}", idlink_domain::idnumber::check_character(&first17))
}

fn name(i: usize) -> String {
    const FAMILY: [char; 8] = ['赵', '钱', '孙', '李', '周', '吴', '郑', '王'];
    const GIVEN: [char; 8] = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊'];
    format!("{}{}{}", FAMILY[i % 8], GIVEN[(i / 8) % 8], GIVEN[(i / 64) % 8])
}

/// A valid ICBC card that is not a sandbox test card (the bank confirms whoever claims it).
pub(crate) fn card(i: usize) -> String {
    (0..1000u32)
        .map(|k| format!("622202{:08}{k:04}", i + 5000))
        .map(|body| format!("{body}{}", idlink_domain::card::luhn_check_digit(&body)))
        .find(|c| !c.ends_with("0000") && !c.ends_with("1111") && !c.ends_with("9999"))
        .unwrap_or_default()
}

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    sandbox: String,
    pub(crate) key: String,
}

impl Api {
    /// A client of the API at `base` with the key `key`, reading SMS codes from the sandbox at `sandbox`.
    pub(crate) fn new(http: reqwest::Client, base: String, sandbox: String, key: String) -> Self {
        Self { http, base, sandbox, key }
    }

    /// `method path` as the host app calls it (with the user's session); the answer's JSON, or why it failed.
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, session: Option<&str>, body: Option<Value>) -> Result<Value> {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(s) = session {
            r = r.header("idlink-session", s);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{path} answered {status}: {v}");
        }
        Ok(v)
    }

    pub(crate) async fn last_code(&self, phone: &str) -> Result<String> {
        let inbox: Value = self.http.get(format!("{}/sandbox/v1/sms/inbox?phone={phone}", self.sandbox)).send().await?.json().await?;
        inbox["messages"][0]["params"]["code"].as_str().map(str::to_owned).context("no SMS code in the sandbox inbox")
    }

    /// Logs bench user `i` in and verifies their real name: (session, user id, phone).
    pub(crate) async fn verified_user(&self, i: usize) -> Result<(String, String, String)> {
        use reqwest::Method;
        let phone = phone(i);
        let device = format!("bench-{i}");
        let c = self.call(Method::POST, "/v1/auth/sms-challenges", None, Some(json!({"phone": phone, "device_id": device}))).await?;
        let code = self.last_code(&phone).await?;
        let login = self
            .call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"phone": phone, "device_id": device, "device_name": "bench", "challenge_id": c["challenge_id"], "code": code})),
            )
            .await?;
        let session = login["session_token"].as_str().context("no session token")?.to_owned();
        let user = login["user_id"].as_str().context("no user id")?.to_owned();
        let s = Some(session.as_str());
        // The bench user agrees to every text shown before it is verified (issue 18), as a user of the H5 pages would.
        let list = self.call(Method::GET, "/v1/me/consents?lang=en", s, None).await?;
        for c in list["consents"].as_array().cloned().unwrap_or_default() {
            let body = json!({"kind": c["kind"], "locale": c["locale"], "version": c["version"], "sha256": c["sha256"]});
            self.call(Method::POST, "/v1/me/consents", s, Some(body)).await?;
        }
        let v = self.call(Method::POST, "/v1/me/verifications", s, Some(json!({"name": name(i), "id_number": id_number(i)}))).await?;
        let code = self.last_code(&phone).await?;
        let vid = v["id"].as_str().context("no verification id")?;
        let done = self
            .call(
                Method::POST,
                &format!("/v1/me/verifications/{vid}/submit"),
                s,
                Some(json!({"challenge_id": v["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"})),
            )
            .await?;
        if done["status"] != "verified" {
            bail!("verification of bench user {i}: {done}");
        }
        Ok((session, user, phone))
    }

    /// Logs in, verifies, binds a card and switches balance queries on.
    pub(crate) async fn user(&self, i: usize) -> Result<(String, String, String)> {
        use reqwest::Method;
        let (session, user, phone) = self.verified_user(i).await?;
        let s = Some(session.as_str());
        let pending = self.call(Method::POST, "/v1/me/cards", s, Some(json!({"card_number": card(i), "reserved_phone": phone}))).await?;
        let binding = pending["id"].as_str().context("no binding id")?.to_owned();
        let code = self.last_code(&phone).await?;
        self.call(Method::POST, &format!("/v1/me/cards/{binding}/confirm"), s, Some(json!({"code": code}))).await?;
        let res = self
            .http
            .put(format!("{}/v1/me/features/balance-query", self.base))
            .bearer_auth(&self.key)
            .header("idlink-session", &session)
            .json(&json!({"enabled": true}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("switching balance queries on answered {}", res.status());
        }
        Ok((session, binding, user))
    }
}

/// A server for a benchmark on `db`: sandbox in process, limits opened for
/// the setup's many logins from one address, and an API key for the setup.
pub(crate) async fn bench_server(db: &TestDb, clients: usize) -> Result<(serve::Running, Arc<Api>, std::path::PathBuf)> {
    let data_dir = std::env::temp_dir().join(format!("idlink-bench-{}-{}", std::process::id(), db.kind));
    let (running, api) = bench_server_at(&db.url, &data_dir, clients).await?;
    Ok((running, api, data_dir))
}

/// A benchmark server on the database at `url` with its keyring in `data_dir`.
pub(crate) async fn bench_server_at(url: &str, data_dir: &std::path::Path, clients: usize) -> Result<(serve::Running, Arc<Api>)> {
    let env = [
        ("IDLINK__SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("IDLINK__SERVER__DATA_DIR", data_dir.display().to_string()),
        ("IDLINK__SANDBOX__LISTEN", "127.0.0.1:0".to_owned()),
        ("IDLINK__SANDBOX__DIRECT_LISTEN", "127.0.0.1:0".to_owned()),
        ("IDLINK__DATABASE__URL", url.to_owned()),
        ("IDLINK__LOG__LEVEL", "warn".to_owned()),
        // Setup logs many users in from one address within a minute.
        ("IDLINK__LOGIN__RESEND_INTERVAL_SECS", "0".to_owned()),
        ("IDLINK__LOGIN__CODES_PER_IP_PER_HOUR", "1000000".to_owned()),
        // `bench scale` logs the same seeded users in on every run.
        ("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR", "1000000".to_owned()),
        ("IDLINK__RISK__BURST_LOGINS_PER_HOUR", "1000000".to_owned()),
        ("IDLINK__STEP_UP__TTL_SECS", "600".to_owned()),
    ];
    // `IDLINK__…` variables of the caller apply on top (e.g. another roster or pool size), but not
    // where the deployment is: that is this server's own.
    let caller = std::env::vars().filter(|(k, _)| {
        k.starts_with("IDLINK__")
            && !k.starts_with("IDLINK__DATABASE__URL")
            && k != "IDLINK__SERVER__DATA_DIR"
            && !k.starts_with("IDLINK__AUDIT__WITNESS")
    });
    let config = crate::config::load(None, env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).chain(caller))?;
    let rt = Runtime::default();
    let running = serve::start(&config, rt.clone()).await?;
    let (_, key) = idlink_core::apikeys::create(
        &running.store,
        &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rt.clock.as_ref(),
        "bench",
        &["users:read".to_owned()],
        "bench",
    )
    .await?;
    let api = Arc::new(Api {
        http: client(clients)?,
        base: format!("http://{}", running.api_addr),
        sandbox: running.sandbox_addr.map(|a| format!("http://{a}")).unwrap_or_default(),
        key,
    });
    Ok((running, api))
}

async fn balance_run(db: TestDb, opts: &Options) -> Result<Run> {
    let (running, api, data_dir) = bench_server(&db, opts.clients).await?;
    let rt = Runtime::default();
    let setup = Instant::now();
    let mut users = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let (session, binding, user) = api.user(i).await.with_context(|| format!("setting up bench user {i}"))?;
        users.push((session, binding, user));
    }
    let users = mint_tokens(&running, &rt, users, opts.queries * 2, jiff::SignedDuration::from_mins(30)).await?;
    eprintln!(
        "  {}: {} users set up and {} step-up tokens minted in {:.1} s",
        db.kind,
        users.len(),
        users.len() * opts.queries * 2,
        setup.elapsed().as_secs_f64()
    );
    let users = Arc::new(users);
    let floor = bank_call_alone(&running, opts).await?;
    let peak = drive(opts.clients, opts.queries, None, balance_query(&api, &users, 0)).await?;
    let half = drive(opts.clients, opts.queries, Some(peak.per_sec / 2.0), balance_query(&api, &users, opts.queries)).await?;
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    if let Err(e) = db.dispose().await {
        eprintln!("  could not remove the scratch database: {e}");
    }
    Ok(Run { floor, peak, half })
}

/// Mints `n` balance-query step-up tokens living `ttl` for each of `users` (session, binding, user
/// id) as the step-up endpoints mint them, stored in parallel. A per-query Argon2id hash would measure the
/// password hash (`idlink bench password`) rather than the query.
pub(crate) async fn mint_tokens(
    running: &serve::Running,
    rt: &Runtime,
    users: Vec<(String, String, String)>,
    n: usize,
    ttl: jiff::SignedDuration,
) -> Result<Vec<User>> {
    let policy = StepUpPolicy { ttl };
    let store = Arc::new(running.store.clone());
    let mut minted = Vec::new();
    for (session, binding, user) in users {
        let uid = idlink_domain::UserId::parse(&user)?;
        let (store, rt, policy) = (store.clone(), rt.clone(), policy.clone());
        minted.push(tokio::spawn(async move {
            let b = Binding { user: &uid, operation: idlink_core::stepup::BALANCE_QUERY, resource: &binding };
            let mut tokens = Vec::with_capacity(n);
            let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
            for _ in 0..n {
                let (row, token) =
                    idlink_core::stepup::mint(&ids, rt.rng.as_ref(), rt.clock.as_ref(), &policy, &b, StepUpMethod::Biometric);
                let audit =
                    idlink_core::ports::audit::AuditEntry::new(format!("user:{uid}"), "step_up.mint", "balance query", row.created_at)
                        .subject(&uid);
                store.insert_step_up(&row, &audit).await?;
                tokens.push(token);
            }
            Ok::<_, anyhow::Error>(User { session, binding, tokens })
        }));
    }
    let mut users = Vec::new();
    for m in minted {
        users.push(m.await??);
    }
    Ok(users)
}

/// One timed request of a client, as [`drive`] sends it.
pub(crate) type Request = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>;

/// Client `c`'s `i`-th balance query, spending its token `first + i`.
pub(crate) fn balance_query(
    api: &Arc<Api>,
    users: &Arc<Vec<User>>,
    first: usize,
) -> impl Fn(usize, usize) -> Request + Send + Sync + Clone + 'static {
    let (api, users) = (api.clone(), users.clone());
    move |c: usize, i: usize| {
        let (api, users) = (api.clone(), users.clone());
        Box::pin(async move {
            let u = users.get(c).context("no such bench user")?;
            let token = u.tokens.get(first + i).context("the bench user ran out of step-up tokens")?;
            let res = api
                .http
                .post(format!("{}/v1/me/cards/{}/balance", api.base, u.binding))
                .bearer_auth(&api.key)
                .header("idlink-session", &u.session)
                .header("idlink-step-up", token)
                .send()
                .await?;
            let status = res.status();
            let body = res.bytes().await?;
            if !status.is_success() {
                bail!("balance query answered {status}: {}", String::from_utf8_lossy(&body));
            }
            Ok(())
        })
    }
}

/// The bank exchange of one query and nothing else: the same connector call
/// (mutual TLS, signed request, signed answer checked) to the same in-process
/// sandbox bank, no HTTP front, no database. No implementation of the query
/// that asks a real-time bank every time can be faster than this on the machine.
async fn bank_call_alone(running: &serve::Running, opts: &Options) -> Result<Stats> {
    let institutions = running.institutions.clone();
    drive(opts.clients, opts.queries, None, move |c, _| {
        let institutions = institutions.clone();
        async move {
            let exec = &institutions.executor;
            let number = card(c);
            let (answer, channel) = institutions
                .banks
                .call(exec, "ICBC", idlink_domain::roster::Channel::Direct, |api| api.balance(exec, &number))
                .await
                .map_err(|e| anyhow::anyhow!("bank call: {e}"))?;
            if channel != idlink_domain::roster::Channel::Direct {
                bail!("the bank call went through {}", idlink_connectors::bank::channel_name(channel));
            }
            if !matches!(answer, idlink_connectors::bank::BalanceAnswer::Balance(_)) {
                bail!("the bank gave no balance for bench card {c}");
            }
            Ok(())
        }
    })
    .await
}

/// One database's figures.
struct Run {
    floor: Stats,
    peak: Stats,
    half: Stats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rate_come_from_the_latencies() {
        let lat: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Stats::of(lat, Duration::from_secs(2), Some(0.5));
        assert_eq!(s.per_sec, 50.0);
        assert_eq!(s.p50_ms, 51.0);
        assert_eq!(s.p99_ms, 100.0);
        // Half of two cores for 50 operations a second: 20 ms of CPU each.
        assert_eq!(s.cpu_us_per_op(2), Some(20_000.0));
    }

    #[test]
    fn busy_share_is_the_busy_part_of_the_ticks_between_two_readings() {
        assert_eq!(busy_share(Some((100, 1000)), Some((400, 2000))), Some(0.3));
        assert_eq!(busy_share(Some((100, 1000)), Some((100, 1000))), None);
        assert_eq!(busy_share(None, Some((1, 2))), None);
    }
}
