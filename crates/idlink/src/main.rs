//! `idlink`: the one binary. Run with no arguments for the embedded
//! development server (SQLite under ./var, generated development key,
//! in-process sandbox institutions).

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use idlink::config::{self, Config, LogFormat};
use idlink::keyfile;
use idlink::serve::{self, Runtime};
use idlink_core::apikeys;
use idlink_crypto::{MasterKey, shamir};
use idlink_domain::ApiKeyId;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// glibc's allocator spent ~10 % of the balance query's CPU in
// consolidation and chunk unlinking under many threads (perf, `bench balance`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "idlink", version, about = "Verified real-name identity and consented access to institutions")]
struct Cli {
    /// TOML configuration file (environment variables IDLINK__SECTION__KEY override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the SQLite database, the master keyring and the sandbox certificates
    /// (configuration key `server.data_dir`); every command takes it.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default command).
    Serve(ServeArgs),
    /// Serve only the sandbox institutions (and the banks' direct channel on `sandbox.direct_listen`).
    Sandbox {
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Audit-log operations.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Master-key operations.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Host-app API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Third-party apps (OpenID Connect clients).
    #[command(subcommand)]
    Client(idlink::clients_cli::ClientCommand),
    /// Operator accounts (reviewers, auditors, admins).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The outbox: events waiting for delivery, and dead letters (docs/outbox.md).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Periodic jobs: which node ran each last, and how often (docs/outbox.md).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Benchmarks that print ratios against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Regulator reports (docs/regulator-report.md).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Retention: each kind of record's rule, and a purge now (docs/retention.md).
    #[command(subcommand)]
    Retention(idlink::retention_cli::RetentionCommand),
    /// Legal holds: keep a user's records past their rules (docs/retention.md).
    #[command(subcommand)]
    Hold(idlink::retention_cli::HoldCommand),
    /// A consistent snapshot of the database in one signed file, without the
    /// keyring (`--out FILE`); `backup verify FILE` checks one without a database.
    Backup(BackupArgs),
    /// Copy this stopped embedded (SQLite) deployment into PostgreSQL; run it
    /// again to resume after an interruption (docs/operations.md).
    Move {
        /// The PostgreSQL database to copy into (postgres://…).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Rows copied per transaction.
        #[arg(long, default_value_t = 2000)]
        batch_rows: u32,
    },
    /// Restore a backup into the configured database (either kind), which must be empty.
    Restore {
        file: PathBuf,
        /// The audit public key (hex) the backup must be signed with.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// Where to write the backup.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Check a backup without a database: its rows against its signed manifest; exit 0 if sound, 1 naming each problem.
    Verify {
        file: PathBuf,
        /// The audit public key (hex) it must be signed with.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Write the signed report of the bank-card query log of a quarter that has
    /// ended (filed on first generation; the same files ever after).
    Quarterly {
        /// A calendar quarter in Asia/Shanghai, e.g. 2026Q4.
        #[arg(long, value_name = "YYYYQn")]
        quarter: String,
        /// Directory to write the files into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check a report's signature, file hashes and row counts; exit 0 if sound,
    /// 1 naming each problem.
    Verify {
        dir: PathBuf,
        /// The trusted Ed25519 public key (hex); by default this installation's audit signing key.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Add N realistic users to the configured database (verified, consented,
    /// a bound card, balance queries, their audit records), for the scale benchmark.
    Seed {
        #[arg(long)]
        users: u64,
        /// Users written per transaction (at most 5,000; see docs/benchmarks.md).
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// The login, balance query and introspection against two seeded deployments side by
    /// side, a small one as the baseline of a large one (issue 19): large / small throughput and p99,
    /// and the query plans of the hot statements. Seed each with `idlink --data-dir DIR bench seed`.
    Scale {
        /// The small deployment's data directory (its keyring; its embedded database unless --small-database).
        #[arg(long, value_name = "DIR")]
        small: PathBuf,
        /// The small deployment's database URL, when not its data directory's SQLite file.
        #[arg(long, value_name = "URL")]
        small_database: Option<String>,
        /// The large deployment's data directory.
        #[arg(long, value_name = "DIR")]
        large: PathBuf,
        /// The large deployment's database URL, when not its data directory's SQLite file.
        #[arg(long, value_name = "URL")]
        large_database: Option<String>,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Balance queries per client and phase (a phase of a few seconds: its p99 is not the few slowest).
        #[arg(long, default_value_t = 300)]
        queries: usize,
        /// Logins per client and phase, each by another seeded user.
        #[arg(long, default_value_t = 30)]
        logins: usize,
        /// Introspections per client and phase (at 20,000 a second, 3,000 a client is a phase of some seconds).
        #[arg(long, default_value_t = 3000)]
        requests: usize,
        /// Rounds (each phase on both deployments, which goes first alternating: an even number
        /// lets each go first as often); the median ratio is the result.
        #[arg(long, default_value_t = 8)]
        rounds: usize,
    },
    /// Each H5 page through the whole HTTP path of a server on SQLite (one user
    /// with a verified identity and a bound card), against a bare axum page.
    Pages {
        /// Requests per page.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Balance queries through the full HTTP path on SQLite and PostgreSQL, against
    /// a bare axum endpoint and PostgreSQL's one-row commit rate (scratch databases).
    Balance {
        /// Concurrent clients (one user and card each).
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Queries per client in each of the two phases.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Only this database: sqlite or postgres.
        #[arg(long)]
        only: Option<String>,
    },
    /// Token introspection (RFC 7662) through the full HTTP path on SQLite and PostgreSQL,
    /// against a bare axum endpoint (scratch databases).
    Introspect {
        /// Concurrent clients (resource servers).
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Introspections per client in the peak phase.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Distinct access tokens (one in ten revoked).
        #[arg(long, default_value_t = 10000)]
        tokens: usize,
        /// Only this database: sqlite or postgres.
        #[arg(long)]
        only: Option<String>,
        /// Peak phases per database, each between two baseline phases; the median ratio is the result.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The medical-insurance payment code: issuing one and a terminal's online check,
    /// through the full HTTP path on SQLite and PostgreSQL, against a bare axum endpoint.
    MedicalCode {
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Requests per client in each issue phase.
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Requests per client in each verify phase and each baseline (a check is
        /// 50 times cheaper than issuing: a phase of some seconds, not a fraction of one).
        #[arg(long, default_value_t = 5000)]
        verify_requests: usize,
        /// Only this database: sqlite or postgres.
        #[arg(long)]
        only: Option<String>,
        /// Rounds per database; the median ratio is the result.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The revocation saga killed at every step boundary in turn and at random
    /// points, restarted and followed to its end; checks it committed exactly once.
    RevocationCrash {
        /// Runs in all (boundary and random runs alternate).
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Seeds the random kill delays.
        #[arg(long, default_value_t = 17)]
        seed: u64,
        /// The nodes' database (empty: an embedded one in a fresh directory).
        #[arg(long, default_value = "")]
        database_url: String,
        /// Sandbox apps each run's user authorises; each must be told exactly once.
        #[arg(long, default_value_t = 3)]
        apps: usize,
    },
    /// A real-name revocation end to end with `--apps` authorised sandbox apps, from
    /// the start request until it committed and until every app was told (target: 2 s).
    Revocation {
        /// Timed runs (and as many baseline runs without apps).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Apps each timed run's user authorised.
        #[arg(long, default_value_t = 20)]
        apps: usize,
        /// The node's database (empty: an embedded one in a fresh directory).
        #[arg(long, default_value = "")]
        database_url: String,
    },
    /// Rendering the credit report as a PDF (the sandbox bureau's typical and
    /// large files) on one thread, against a one-page document.
    Report {
        /// Renders of the typical report and of the baseline.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Renders of the large report (200 accounts).
        #[arg(long, default_value_t = 20)]
        large_runs: usize,
        /// Also write both reports as PDF files into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Cost of one payment-password hash (Argon2id with the configured parameters).
    Password {
        /// Hashes to time.
        #[arg(long, default_value_t = 40)]
        hashes: u32,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create an operator; prints the password and the TOTP secret once.
    Create {
        #[arg(long)]
        username: String,
        /// Comma-separated: reviewer, auditor, admin.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Put an operator on or off duty: operators on duty are paged by SMS when a review case breaches its SLA.
    Duty {
        username: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The mainland mobile number to page (kept sealed); omit to keep the one set before.
        #[arg(long)]
        phone: Option<String>,
    },
    /// List the operators: roles, on duty, paging phone set.
    List,
    /// End an operator's sign-in lock now (it also ends by itself after `review.operator_lock_minutes`).
    Unlock { username: String },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Events not delivered yet (waiting or being attempted, and dead), oldest first.
    ///
    /// `attempts N` counts attempts started: a worker's claim counts one
    /// before it tries to deliver, so an event being attempted (or whose
    /// worker died mid-attempt) includes that attempt; an attempt released
    /// unstarted is given back. It is not a count of failures.
    List {
        /// Only the dead letters: events that failed for good, failed their
        /// last attempt, or whose last attempt was never settled.
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Send an event again now, with a fresh count of attempts (audited).
    Retry { id: String },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Each periodic job's lease: its holder, runs and last run.
    List,
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Address to listen on (configuration key `server.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain, its head, the signed checkpoints, their continuity and the
    /// witness; exit 0 if intact, 1 naming the first problem.
    Verify,
    /// Sign the current chain head now (after checking it extends the witnessed
    /// checkpoint) and write it to the witness.
    Checkpoint,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Write a new master keyring file with one fresh key.
    Generate {
        /// Where to write it (default: `crypto.master_key_file`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print k-of-n Shamir shares of the active master key, one line per custodian.
    Split {
        #[arg(long, short = 'k')]
        threshold: u8,
        #[arg(long, short = 'n')]
        shares: u8,
    },
    /// Rebuild a master keyring file from shares (arguments, or one per line on stdin).
    Combine {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        shares: Vec<String>,
    },
    /// Add a new master key, make it active, and re-wrap every data key under it.
    Rotate,
    /// Show the master keys and how many data keys each wraps.
    Status,
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Create a key; the token is shown once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: users:read, users:write, audit:read, clients:read, clients:write, grants:read, grants:write.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Each key: id, name, scopes, state, last use, the key it replaced.
    List,
    Revoke {
        id: String,
    },
    /// A second key with the same name and scopes; both work for the
    /// overlap, then the old one is refused. The new token is shown once.
    Rotate {
        id: String,
        /// How long the old key keeps working, in hours (1 minute to 30 days).
        #[arg(long, default_value_t = 24.0)]
        overlap_hours: f64,
        /// The new key's own life, in days from now (longer than the overlap); without it, until revoked or rotated.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(config: &Config, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = if quiet { "warn".to_owned() } else { config.log.level.clone() };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = config::load(cli.config.as_deref(), std::env::vars())?;
    // The flag wins over the file and the environment, for every command alike.
    if let Some(d) = cli.data_dir {
        config.server.data_dir = d;
    }
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    init_logging(&config, !matches!(command, Command::Serve(_) | Command::Sandbox { .. }));
    let rt = Runtime::default();
    match command {
        Command::Serve(args) => {
            if let Some(l) = args.listen {
                config.server.listen = l;
            }
            serve_until_signal(&config, cli.config.as_deref(), rt).await
        }
        Command::Sandbox { listen } => {
            let addr = listen.unwrap_or(config.sandbox.listen);
            let dir = config.direct_pki_dir();
            idlink_sandbox::bank::pki::ensure(&dir, rt.rng.as_ref()).context("the sandbox's direct-channel certificates")?;
            let keys = idlink_sandbox::bank::pki::bank_side(&dir).context("the sandbox's direct-channel certificates")?;
            let sandbox = idlink_sandbox::Sandbox::with_bank_side(&config.roster()?, keys);
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            let addr = listener.local_addr()?;
            let direct = std::net::TcpListener::bind(config.sandbox.direct_listen)
                .with_context(|| format!("cannot listen on {} (sandbox.direct_listen)", config.sandbox.direct_listen))?;
            println!("sandbox institutions: http://{addr}/sandbox/v1");
            println!(
                "banks' direct channel: https://localhost:{} (mutual TLS; certificates in {})",
                direct.local_addr()?.port(),
                dir.display()
            );
            println!("listening on http://{addr}");
            let d = tokio::spawn(idlink_sandbox::bank::direct::serve(direct, sandbox.clone(), shutdown_signal()));
            idlink_sandbox::serve(listener, sandbox, shutdown_signal()).await?;
            d.abort();
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let store = serve::open_store(&config).await?;
            println!("migrations applied; database is at the latest schema ({})", store.backend().name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(cmd) => audit(&config, &rt, cmd).await,
        Command::Keys(cmd) => keys(&config, &rt, cmd).await,
        Command::Apikey(cmd) => apikey(&config, &rt, cmd).await,
        Command::Client(cmd) => idlink::clients_cli::run(&config, &rt, cmd).await,
        Command::Operator(cmd) => operator(&config, &rt, cmd).await,
        Command::Outbox(cmd) => outbox(&config, &rt, cmd).await,
        Command::Jobs(JobsCommand::List) => jobs(&config).await,
        Command::Report(cmd) => report(&config, &rt, cmd).await,
        Command::Retention(cmd) => idlink::retention_cli::retention(&config, &rt, cmd).await,
        Command::Hold(cmd) => idlink::retention_cli::hold(&config, &rt, cmd).await,
        Command::Backup(BackupArgs { command: Some(BackupCommand::Verify { file, public_key }), .. }) => {
            let checked = match idlink::backup::verify(&file, public_key.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    println!("backup NOT sound: {e:#}");
                    return Ok(ExitCode::from(1));
                }
            };
            let rows: u64 = checked.manifest.tables.iter().map(|t| t.rows).sum();
            println!(
                "{}: {} {} at schema {}, made {}; {} tables, {rows} rows; signed by {}",
                file.display(),
                checked.header.format,
                checked.header.backend,
                checked.header.schema_version,
                checked.header.created_at,
                checked.manifest.tables.len(),
                checked.public_key
            );
            if public_key.is_none() {
                println!(
                    "the signer was not checked against a deployment's key: give --public-key HEX (the audit key of `idlink audit verify`)"
                );
            }
            if checked.problems.is_empty() {
                println!("backup sound: every table matches the signed manifest");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &checked.problems {
                    println!("backup NOT sound: {p}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Backup(BackupArgs { out: Some(out), .. }) => {
            let manifest = idlink::backup::backup(&config, &rt, &out).await?;
            let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
            println!("backup written to {}: {} tables, {rows} rows", out.display(), manifest.tables.len());
            println!("WARNING: {}", idlink::backup::NO_KEYRING);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(BackupArgs { .. }) => anyhow::bail!("say where to write the backup: idlink backup --out FILE"),
        Command::Move { to, batch_rows } => idlink::moving::run(&config, &rt, &idlink::moving::MoveOptions { to: &to, batch_rows }).await,
        Command::Restore { file, public_key } => idlink::backup::restore(&config, &rt, &file, public_key.as_deref()).await,
        Command::Bench(BenchCommand::Seed { users, batch }) => {
            idlink::bench_seed::run(&config, &rt, &idlink::bench_seed::SeedOptions { users, batch }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Scale {
            small,
            small_database,
            large,
            large_database,
            clients,
            queries,
            logins,
            requests,
            rounds,
        }) => {
            use idlink::bench_scale::{Deployment, Options};
            let opts = Options {
                small: Deployment { data_dir: small, database_url: small_database },
                large: Deployment { data_dir: large, database_url: large_database },
                clients: clients.max(1),
                queries: queries.max(1),
                logins: logins.max(1),
                requests: requests.max(1),
                rounds: rounds.max(1),
            };
            idlink::bench_scale::run(&opts).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Pages { requests }) => {
            idlink::bench_pages::run(&idlink::bench_pages::Options { requests: requests.max(1) }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Introspect { clients, requests, tokens, only, rounds }) => {
            let opts = idlink::bench_introspect::Options {
                clients: clients.max(1),
                requests: requests.max(2),
                tokens: tokens.max(10),
                rounds: rounds.max(1),
                sqlite: only.as_deref() != Some("postgres"),
                postgres: only.as_deref() != Some("sqlite"),
            };
            idlink::bench_introspect::run(&opts).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::RevocationCrash { runs, seed, database_url, apps }) => {
            let exe = std::env::current_exe().context("the idlink executable")?;
            let opts = idlink::bench_crash::Options { runs: runs.max(1), exe, database_url, seed, apps };
            let report = idlink::bench_crash::run(&opts).await?;
            idlink::bench_crash::print(&report);
            Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench(BenchCommand::Revocation { runs, apps, database_url }) => {
            let exe = std::env::current_exe().context("the idlink executable")?;
            let opts = idlink::bench_revocation::Options { runs: runs.max(1), apps, exe, database_url };
            let report = idlink::bench_revocation::run(&opts).await?;
            idlink::bench_revocation::print(&report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::MedicalCode { clients, requests, verify_requests, only, rounds }) => {
            let opts = idlink::bench_medical::Options {
                clients: clients.max(1),
                requests: requests.max(2),
                verify_requests: verify_requests.max(2),
                rounds: rounds.max(1),
                sqlite: only.as_deref() != Some("postgres"),
                postgres: only.as_deref() != Some("sqlite"),
            };
            idlink::bench_medical::run(&opts).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Report { runs, large_runs, out }) => {
            let opts = idlink::bench_report::Options { runs, large_runs, out };
            tokio::task::spawn_blocking(move || idlink::bench_report::run(&opts)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Password { hashes }) => bench_password(&config, &rt, hashes).await,
        Command::Bench(BenchCommand::Balance { clients, queries, only }) => {
            let opts = idlink::bench_balance::Options {
                clients: clients.max(1),
                queries: queries.max(1),
                sqlite: only.as_deref() != Some("postgres"),
                postgres: only.as_deref() != Some("sqlite"),
            };
            idlink::bench_balance::run(&opts).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve_until_signal(config: &Config, config_file: Option<&Path>, rt: Runtime) -> Result<ExitCode> {
    let running = serve::start(config, rt).await?;
    let api = running.api_addr;
    println!("idlink {}", env!("CARGO_PKG_VERSION"));
    println!(
        "  H5 pages:  http://{api}/   (open it in a phone-sized browser window; log in with any mobile number, the code is in the SMS inbox below)"
    );
    println!(
        "  console:   http://{api}/console/   (operators; create one with `idlink operator create --username U --roles reviewer,auditor,admin`)"
    );
    println!("  API:       http://{api}/v1   (OpenAPI document: http://{api}/openapi.json)");
    println!("  health:    http://{api}/healthz, http://{api}/readyz   metrics: http://{api}/metrics");
    if let Some(s) = running.sandbox_addr {
        println!("  sandbox:   http://{s}/sandbox/v1   (SMS inbox: http://{s}/sandbox/v1/sms/inbox?phone=13800138000)");
        let people = idlink_sandbox::bank::roster::test_identities();
        let listed: Vec<String> = people.iter().map(|p| format!("{} {} {}", p.name, p.id_number, p.phone)).collect();
        println!("  test identities: {}", listed.join("; "));
        println!("             their bank cards: http://{s}/sandbox/v1/banks");
        if config.sandbox.drive_clock {
            println!("             idlink's clock follows the sandbox clock: POST http://{s}/sandbox/v1/clock/advance {{\"seconds\": N}}");
        }
        if let Some(d) = running.sandbox_direct_addr {
            println!(
                "             banks' direct channel: https://localhost:{} (mutual TLS, signed messages; certificates in {})",
                d.port(),
                absolute(&config.direct_pki_dir()).display()
            );
        }
    }
    println!("  database:  {}", running.store.backend().name());
    let cli = command_prefix(config, config_file);
    println!("  API key:   {cli} apikey create --name demo --scopes users:read,users:write,audit:read");
    let env = environment_hint();
    if !env.is_empty() {
        println!("             (with the same environment variables: {env})");
    }
    println!("listening on http://{api}");
    shutdown_signal().await;
    eprintln!("shutting down: finishing in-flight requests");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// How to run another `idlink` command on this server's data from any
/// directory: this binary by a path that works anywhere (just `idlink` when
/// that is what PATH finds), the configuration file and the data directory
/// made absolute.
fn command_prefix(config: &Config, config_file: Option<&Path>) -> String {
    let exe = std::env::current_exe().ok();
    let on_path = exe.as_deref().is_some_and(|exe| {
        let found =
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join("idlink")).find(|c| c.is_file())).unwrap_or_default();
        found.and_then(|f| f.canonicalize().ok()) == exe.canonicalize().ok()
    });
    let mut words = vec![match exe {
        Some(exe) if !on_path => shell_word(&exe),
        _ => "idlink".to_owned(),
    }];
    if let Some(f) = config_file {
        words.push(format!("--config {}", shell_word(&absolute(f))));
    }
    words.push(format!("--data-dir {}", shell_word(&absolute(&config.server.data_dir))));
    words.join(" ")
}

fn absolute(p: &Path) -> PathBuf {
    p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf())
}

/// A path as one shell word (single-quoted when it holds anything but plain characters).
fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `IDLINK__…` variables this server was started with that the other
/// commands read too (database, keys, password cost, review settings); names
/// only, as values may be secrets.
fn environment_hint() -> String {
    const READ_BY_COMMANDS: &[&str] = &["IDLINK__DATABASE__", "IDLINK__CRYPTO__", "IDLINK__PAYMENT_PASSWORD__", "IDLINK__REVIEW__"];
    let mut names: Vec<String> = std::env::vars().map(|(k, _)| k).filter(|k| READ_BY_COMMANDS.iter().any(|p| k.starts_with(p))).collect();
    names.sort();
    names.join(", ")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn audit(config: &Config, rt: &Runtime, cmd: AuditCommand) -> Result<ExitCode> {
    use idlink_core::audit::{AuditError, CheckpointOutcome, SigningReason};
    let store = serve::open_store(config).await?;
    let vault = serve::open_vault(config, &store, rt).await?;
    let policy = config.checkpoint_policy();
    match cmd {
        AuditCommand::Verify => {
            let witness = serve::open_witness(config, false, rt.clock.clone(), None)?;
            let key = vault.signer().public_hex();
            let report = idlink_core::audit::verify_store(&store, witness.as_ref(), &key, &policy, rt.clock.now()).await?;
            let newest = report.newest_witnessed.map(|s| format!(", the newest at record {s}")).unwrap_or_default();
            let witnessed = format!("witness: {}: {} checkpoints{newest}", report.witness, report.witnessed);
            for l in report.late_signings.iter().rev().take(20) {
                println!(
                    "WARNING: records {} to {} were signed {} s after the first was written; record {} says why",
                    l.first_seq, l.checkpoint_seq, l.waited_secs, l.reason_seq
                );
            }
            for p in &report.purged {
                println!(
                    "purged by retention: {} (records {} to {}, {} records) at {}; the chain is verified from the checkpoint at record {}",
                    p.period, p.first_seq, p.through_seq, p.records, p.purged_at, p.through_seq
                );
            }
            match report.first_break {
                None => {
                    println!("audit chain intact: {} records, {} signed checkpoints", report.records, report.checkpoints);
                    println!("{witnessed}");
                    if report.unsigned_records > 0 {
                        println!(
                            "{} newest records wait for the next checkpoint (due every {} s)",
                            report.unsigned_records,
                            policy.interval.as_secs()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    match b.seq() {
                        Some(seq) => println!("audit chain BROKEN at record {seq}: {b}"),
                        None => println!("audit chain BROKEN: {b}"),
                    }
                    println!("({} records read, {} signed checkpoints; {witnessed})", report.records, report.checkpoints);
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Checkpoint => {
            let witness = serve::open_witness(config, true, rt.clock.clone(), None)?;
            let signed =
                idlink_core::audit::checkpoint(&store, witness.as_ref(), vault.signer(), &policy, rt.clock.now(), SigningReason::Manual)
                    .await;
            match signed {
                Ok(CheckpointOutcome::Signed { checkpoint: c, late_reason }) => {
                    println!("checkpoint signed at record {} ({}); witnessed in {}", c.seq, c.hash, witness.describe());
                    if let Some(r) = late_reason {
                        println!(
                            "the records waited longer than {} s for it: the late signing is recorded as record {r}",
                            policy.allowance().as_secs()
                        );
                    }
                }
                Ok(CheckpointOutcome::Witnessed(c)) => {
                    println!("nothing new to sign; added the checkpoint at record {} to {}", c.seq, witness.describe())
                }
                Ok(CheckpointOutcome::NothingNew) => println!("nothing new to sign"),
                Ok(CheckpointOutcome::Discarded { seq }) => {
                    println!("another signer signed record {seq} first; this signature was discarded (nothing new to sign)")
                }
                Err(AuditError::Refused(b)) => {
                    println!("NOT signed: the chain does not extend the last witnessed checkpoint: {b}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn report(config: &Config, rt: &Runtime, cmd: ReportCommand) -> Result<ExitCode> {
    use idlink_core::reports::{self, Compliance, Quarter, ReportError};
    match cmd {
        ReportCommand::Quarterly { quarter, out } => {
            let Some(q) = Quarter::parse(&quarter) else {
                eprintln!("--quarter {quarter}: expected a year and a quarter, e.g. 2026Q4");
                return Ok(ExitCode::from(2));
            };
            let store = serve::open_store(config).await?;
            let vault = serve::open_vault(config, &store, rt).await?;
            let witness = serve::open_witness(config, false, rt.clock.clone(), None)?;
            let policy = config.checkpoint_policy();
            let compliance = Compliance {
                store: &store,
                audits: &store,
                witness: witness.as_ref(),
                vault: &vault,
                clock: rt.clock.as_ref(),
                policy: &policy,
            };
            let files = match compliance.quarterly(q, "cli").await {
                Ok(f) => f,
                Err(e @ ReportError::PeriodOpen { .. }) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            };
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            for f in &files {
                let path = out.join(&f.name);
                std::fs::write(&path, &f.content).with_context(|| format!("cannot write {}", path.display()))?;
            }
            let rows = files
                .iter()
                .find(|f| f.name == reports::MANIFEST)
                .and_then(|m| serde_json::from_slice::<reports::Manifest>(&m.content).ok())
                .map_or(0, |m| m.row_count);
            println!("report {q}: {rows} queries; wrote {} files to {}", files.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        ReportCommand::Verify { dir, public_key } => {
            let key = match public_key {
                Some(k) => k.trim().to_owned(),
                None => {
                    let store = serve::open_store(config).await?;
                    serve::open_vault(config, &store, rt).await?.signer().public_hex()
                }
            };
            match reports::verify_report(|name| std::fs::read(dir.join(name)).ok(), Some(&key)) {
                Ok(v) => {
                    let m = v.manifest;
                    println!(
                        "report {} verified: {} queries, {} files match the manifest, signed by {}",
                        m.period.quarter,
                        m.row_count,
                        m.files.len(),
                        m.signing_key.public_key_hex
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    println!("report in {} NOT verified:", dir.display());
                    for p in problems {
                        println!("  {p}");
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

async fn keys(config: &Config, rt: &Runtime, cmd: KeysCommand) -> Result<ExitCode> {
    let today = rt.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    match cmd {
        KeysCommand::Generate { out } => {
            let path = out.unwrap_or_else(|| config.master_key_file());
            let id = keyfile::new_key_id(rt.rng.as_ref(), today);
            let key = MasterKey::generate(id.clone(), rt.rng.as_ref());
            keyfile::write(&path, std::slice::from_ref(&key), &id, false)?;
            println!("wrote master keyring {} with key {id} (fingerprint {})", path.display(), key.fingerprint());
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Split { threshold, shares } => {
            let ring = keyfile::read(&config.master_key_file(), serve::algorithm(config))?;
            let lines = shamir::split(ring.active(), threshold, shares)?;
            eprintln!("{shares} shares of {} ({threshold} needed); give one line to each custodian:", ring.active().id);
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Combine { out, shares } => {
            let lines = if shares.is_empty() {
                std::io::stdin().lock().lines().map_while(Result::ok).filter(|l| !l.trim().is_empty()).collect()
            } else {
                shares
            };
            let key = shamir::combine(&lines)?;
            keyfile::write(&out, std::slice::from_ref(&key), &key.id, false)?;
            println!("recovered {} (fingerprint {}) into {}", key.id, key.fingerprint(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate => {
            let path = config.master_key_file();
            let store = serve::open_store(config).await?;
            let vault = serve::open_vault(config, &store, rt).await?;
            let file = keyfile::KeyringFile {
                path: path.clone(),
                algorithm: serve::algorithm(config),
                rng: rt.rng.clone(),
                clock: rt.clock.clone(),
            };
            // The same rotation an approved dual-control proposal runs (ADR 0015).
            let rotation = vault.rotate_master(&file, &store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let audit = idlink_core::ports::audit::AuditEntry::new(
                "cli",
                idlink_core::keystatus::ROTATE_ACTION,
                format!("master key rotation: new master key {}", rotation.key_id),
                rt.clock.now(),
            );
            // The rotation has committed: a failed audit append must not read as a failed
            // rotation (a retry would rotate again), so it is said loudly and the command succeeds.
            if let Err(e) = idlink_core::ports::audit::AuditStore::append_audit(&store, &audit).await {
                eprintln!("WARNING: the rotation to {} is done, but its audit record could not be written: {e}", rotation.key_id);
            }
            let report = rotation.report;
            println!("new active master key {}; re-wrapped {} data keys", rotation.key_id, report.rewrapped);
            if report.skipped_concurrently_changed > 0 {
                println!("{} keys changed meanwhile; run `idlink keys rotate` again to finish", report.skipped_concurrently_changed);
            }
            println!(
                "older keys stay in {} so running servers and backups can still unwrap; remove them once `idlink keys status` shows no data keys under them",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Status => {
            let store = serve::open_store(config).await?;
            let vault = serve::open_vault(config, &store, rt).await?;
            let status = idlink_core::keystatus::key_status_on_host(&vault, &store, &store, &store).await?;
            println!("algorithm {}", status.algorithm);
            for k in &status.masters {
                let active = if k.active { " (active)" } else { "" };
                println!("{}{active}: fingerprint {}, wraps {} keys", k.id, k.fingerprint, k.wraps);
            }
            for (id, n) in &status.missing_masters {
                println!("{id}: NOT IN THE KEYRING, wraps {n} keys (they cannot be unwrapped)");
            }
            for k in &status.system_keys {
                println!("{}: wrapped by {} ({})", k.id, k.wrapped_by.as_deref().unwrap_or("not stored yet"), k.purpose);
            }
            println!("audit signing public key {}", status.signing_public_key);
            match &status.latest_checkpoint {
                Some(c) => println!(
                    "latest checkpoint: record {} at {}, signature {}",
                    c.seq,
                    c.at,
                    if c.signature_valid { "valid" } else { "INVALID" }
                ),
                None => println!("latest checkpoint: none yet"),
            }
            match &status.latest_rotation {
                Some(r) => {
                    println!("latest master-key rotation: {} by {} ({}, {})", r.entry.at, r.entry.actor, r.entry.outcome, r.entry.purpose)
                }
                None => println!("latest master-key rotation: none recorded"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn apikey(config: &Config, rt: &Runtime, cmd: ApikeyCommand) -> Result<ExitCode> {
    let store = serve::open_store(config).await?;
    match cmd {
        ApikeyCommand::Create { name, scopes } => {
            let (row, token) =
                apikeys::create(&store, &idlink_core::ports::ids::RandomIds(rt.rng.clone()), rt.clock.as_ref(), &name, &scopes, "cli")
                    .await?;
            println!("{token}");
            eprintln!(
                "created {} ({}) with scopes {}; the token above is shown once: store it now",
                row.id,
                row.name,
                row.scopes.join(",")
            );
            Ok(ExitCode::SUCCESS)
        }
        ApikeyCommand::List => {
            let now = rt.clock.now();
            for k in idlink_core::ports::apikeys::ApiKeyStore::list_api_keys(&store).await? {
                let state = match apikeys::KeyState::of(&k, now) {
                    apikeys::KeyState::Active => "active".to_owned(),
                    apikeys::KeyState::Expiring(at) => format!("works until {at}"),
                    apikeys::KeyState::Expired(at) => format!("expired {at}"),
                    apikeys::KeyState::Revoked(at) => format!("revoked {at}"),
                };
                let used = k.last_used_at.map_or_else(|| "never used".to_owned(), |t| format!("last used {t}"));
                let replaces = k.replaces.map(|r| format!("\treplaces {r}")).unwrap_or_default();
                println!("{}\t{}\t{}\tcreated {}\t{state}\t{used}{replaces}", k.id, k.name, k.scopes.join(","), k.created_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        ApikeyCommand::Rotate { id, overlap_hours, expires_in_days } => {
            let id = ApiKeyId::parse(&id)?;
            if !overlap_hours.is_finite() || overlap_hours <= 0.0 {
                bail!("--overlap-hours must be a positive number of hours");
            }
            let rotation = apikeys::Rotation {
                overlap: jiff::SignedDuration::try_from_secs_f64(overlap_hours * 3600.0)?,
                expires_in: expires_in_days.map(|d| jiff::SignedDuration::from_hours(i64::from(d) * 24)),
            };
            let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
            match apikeys::rotate(&store, &ids, rt.clock.as_ref(), &id, rotation, "cli").await {
                Ok(done) => {
                    println!("{}", done.token);
                    eprintln!(
                        "created {} ({}) replacing {id}; both work until {}, then {id} is refused. The token above is shown once: store it now",
                        done.key.id, done.key.name, done.old_expires_at
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(apikeys::RotateError::Store(e)) => Err(e.into()),
                Err(refused) => {
                    eprintln!("error: {refused}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        ApikeyCommand::Revoke { id } => {
            let id = ApiKeyId::parse(&id)?;
            if apikeys::revoke(&store, rt.clock.as_ref(), &id, "cli").await? {
                println!("revoked {id}; requests with it are refused from now on");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{id} does not exist or is revoked already");
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn outbox_line(e: &idlink_core::ports::outbox::OutboxItem) -> String {
    use idlink_core::ports::outbox::OutboxState;
    let when = match (e.state, e.finished_at) {
        (OutboxState::Pending, _) if e.in_flight => {
            format!("being attempted by {} (claim until {})", e.claimed_by.as_deref().unwrap_or("?"), e.due_at)
        }
        (OutboxState::Pending, _) => format!("next attempt {}", e.due_at),
        (_, Some(t)) => format!("{} {t}", e.state.as_str()),
        (_, None) => e.state.as_str().to_owned(),
    };
    let subject = e.subject.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
    let error = e.last_error.as_deref().unwrap_or("-");
    format!(
        "{}\t{}\t{}\tuser {subject}\tattempts {}\tcreated {}\t{when}\tlast error: {error}",
        e.id,
        e.kind,
        e.state.as_str(),
        e.attempts,
        e.created_at
    )
}

async fn outbox(config: &Config, rt: &Runtime, cmd: OutboxCommand) -> Result<ExitCode> {
    use idlink_core::outbox::RetryOutcome;
    use idlink_core::ports::outbox::{Listing, OutboxStore};
    let store = serve::open_store(config).await?;
    match cmd {
        OutboxCommand::List { dead, limit } => {
            let listing = if dead { Listing::Dead } else { Listing::Undelivered };
            let items = store.outbox_items(listing, limit.max(1)).await?;
            for e in &items {
                println!("{}", outbox_line(e));
            }
            let counts = store.outbox_counts().await?;
            eprintln!("{} waiting, {} dead (`idlink outbox retry ID` sends a dead one again)", counts.pending, counts.dead);
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id } => match retry_outbox(&store, rt, &id).await? {
            RetryOutcome::Retried(e) => {
                println!("{}", outbox_line(&e));
                println!("{id} is due now; a running server delivers it within `outbox.poll_ms`");
                Ok(ExitCode::SUCCESS)
            }
            RetryOutcome::NotFound => {
                println!("no outbox event {id} (delivered events are purged after `outbox.keep_delivered_hours`)");
                Ok(ExitCode::from(1))
            }
            RetryOutcome::AlreadyDelivered => {
                println!("{id} was delivered already; nothing to retry");
                Ok(ExitCode::from(1))
            }
            RetryOutcome::InFlight => {
                println!("{id} is being attempted by a server now; list it again in a moment");
                Ok(ExitCode::from(1))
            }
        },
    }
}

async fn jobs(config: &Config) -> Result<ExitCode> {
    use idlink_core::ports::leases::LeaseStore;
    let store = serve::open_store(config).await?;
    for l in store.leases().await? {
        let error = l.last_error.as_deref().map(|e| format!("\tlast error: {e}")).unwrap_or_default();
        let done = l.last_done_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{}\tholder {}\tlease until {}\truns {}\tfinished {}\tlast run {}\tlast finished {done}{error}",
            l.job, l.holder, l.lease_until, l.runs, l.done, l.last_run_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn operator(config: &Config, rt: &Runtime, cmd: OperatorCommand) -> Result<ExitCode> {
    let store = serve::open_store(config).await?;
    let vault = serve::open_vault(config, &store, rt).await?;
    let policy = serve::password_policy(config);
    let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
    let ops = idlink_core::operators::Operators {
        store: &store,
        keys: &store,
        audits: &store,
        vault: &vault,
        clock: rt.clock.as_ref(),
        ids: &ids,
        rng: rt.rng.as_ref(),
        password_policy: &policy,
        session_ttl: jiff::SignedDuration::from_hours(config.review.operator_session_hours),
        policy: serve::operator_sign_in(config),
    };
    match cmd {
        OperatorCommand::Duty { username, state, phone } => {
            let phone = phone.map(|p| idlink_domain::PhoneNumber::parse(&p).map_err(|e| anyhow::anyhow!("--phone: {e}"))).transpose()?;
            let op = idlink_core::ports::operators::OperatorStore::operator_by_username(&store, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no operator named {username}"))?;
            let row = match ops.set_on_duty_as("cli", &op.id, state == "on", phone.as_ref()).await {
                Ok(row) => row,
                Err(idlink_core::operators::OperatorError::PagingPhoneRequired) => {
                    eprintln!("{username} has no paging phone: add --phone NUMBER (an operator on duty is paged by SMS)");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(anyhow::anyhow!("{e}")),
            };
            println!(
                "{} is {}; paging phone {}",
                row.username,
                if row.on_duty { "on duty" } else { "off duty" },
                if row.phone_cipher.is_some() { "set" } else { "not set" }
            );
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::List => {
            for o in idlink_core::ports::operators::OperatorStore::operators(&store).await? {
                let roles: Vec<&str> = o.roles.iter().map(|r| r.as_str()).collect();
                let duty = if o.on_duty { "on duty" } else { "off duty" };
                let phone = if o.phone_cipher.is_some() { "paging phone set" } else { "no paging phone" };
                println!("{}\t{}\t{}\t{duty}\t{phone}", o.id, o.username, roles.join(","));
            }
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::Unlock { username } => {
            let op = ops.unlock(&username, "cli").await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("unlocked: {} ({})", op.username, op.id);
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::Create { username, roles } => {
            let roles = roles
                .iter()
                .map(|r| {
                    idlink_core::ports::operators::Role::parse(r.trim())
                        .ok_or_else(|| anyhow::anyhow!("unknown role `{r}`; roles: reviewer, auditor, admin"))
                })
                .collect::<Result<Vec<_>>>()?;
            if roles.is_empty() {
                bail!("give at least one role with --roles (reviewer, auditor, admin)");
            }
            let new = ops.create(&username, &roles, "cli").await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("operator:  {} ({})", new.row.username, new.row.id);
            println!("password:  {}", new.password);
            println!("totp:      {}", idlink_crypto::totp::to_base32(&new.totp_secret));
            println!("enrol:     {}", idlink_crypto::totp::provisioning_uri("idlink", &new.row.username, &new.totp_secret));
            eprintln!("the password and TOTP secret are shown once: hand them to the operator over a secure channel");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Times Argon2id hashing with the configured parameters, one at a time and on
/// every core, against a SHA-256 baseline of the same input in the same run.
async fn bench_password(config: &Config, rt: &Runtime, hashes: u32) -> Result<ExitCode> {
    use std::time::Instant;
    let policy = serve::password_policy(config);
    let hashes = hashes.max(5);
    println!(
        "argon2id m={} KiB t={} p={}, {hashes} hashes, build {}",
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let _ = idlink_core::payment::hash(&policy, rt.rng.as_ref(), "135790").await; // warm-up
    let mut times = Vec::with_capacity(hashes as usize);
    for _ in 0..hashes {
        let t = Instant::now();
        idlink_core::payment::hash(&policy, rt.rng.as_ref(), "135790").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p50 = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];

    let baseline_n = 100_000u32;
    let t = Instant::now();
    let mut acc = 0u8;
    for i in 0..baseline_n {
        use sha2::Digest;
        acc ^= sha2::Sha256::digest(format!("135790{i}").as_bytes())[0];
    }
    let sha_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(baseline_n);
    std::hint::black_box(acc);

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let t = Instant::now();
    let tasks: Vec<_> = (0..hashes)
        .map(|_| {
            let (policy, rng) = (policy.clone(), rt.rng.clone());
            tokio::spawn(async move { idlink_core::payment::hash(&policy, rng.as_ref(), "135790").await })
        })
        .collect();
    for task in tasks {
        task.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let per_sec = f64::from(hashes) / t.elapsed().as_secs_f64();
    println!("one at a time: mean {mean:.1} ms, p50 {p50:.1} ms, p99 {p99:.1} ms per hash");
    println!("baseline sha256 of the same input: {sha_us:.2} µs; argon2id/sha256 ratio {:.0}", mean * 1000.0 / sha_us);
    println!("all {cores} cores: {per_sec:.1} hashes/s");
    println!("argon2id_ms_per_hash={mean:.1}");
    Ok(ExitCode::SUCCESS)
}

/// `idlink outbox retry ID`: a string that is not an event id names no event.
async fn retry_outbox(store: &idlink_store::SqlStore, rt: &Runtime, id: &str) -> Result<idlink_core::outbox::RetryOutcome> {
    Ok(match idlink_domain::EventId::parse(id) {
        Err(_) => idlink_core::outbox::RetryOutcome::NotFound,
        Ok(event) => idlink_core::outbox::retry(store, rt.clock.as_ref(), "cli", &event).await?,
    })
}
