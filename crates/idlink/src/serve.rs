//! Wiring: opens the store and the vault, starts the sandbox (when
//! enabled), the HTTP server, the outbox worker and the periodic jobs
//! ([`crate::background`]), and stops them all gracefully, finishing
//! in-flight requests.

use crate::config::{CipherChoice, Config, WitnessKind};
use crate::keyfile;
use anyhow::{Context, Result};
use idlink_api::{AppParts, AppState, HttpLimits};
use idlink_connectors::bank::DirectChannel;
use idlink_connectors::{Executor, Institutions, Signing, TlsIdentity};
use idlink_core::jobs::{PeriodicJob, Runner, Seen};
use idlink_core::ports::clock::Clock;
use idlink_core::ports::witness::AuditWitness;
use idlink_core::vault::Vault;
use idlink_crypto::{Algorithm, MasterKey, MasterKeyring, Random};
use idlink_store::witness::FileWitness;
use idlink_store::{SqlStore, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Injectable time and randomness (tests pass controlled ones).
#[derive(Clone)]
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Random>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self { clock: Arc::new(idlink_core::ports::clock::SystemClock), rng: Arc::new(idlink_crypto::OsRandom) }
    }
}

pub fn algorithm(c: &Config) -> Algorithm {
    match c.crypto.algorithm {
        CipherChoice::Aes256Gcm => Algorithm::Aes256Gcm,
        CipherChoice::Sm4Gcm => Algorithm::Sm4Gcm,
    }
}

/// The Argon2id cost and lockout of `[payment_password]` (also used for operator passwords).
/// Operator idle timeout and sign-in lockout (SPEC P5), from `review.*`.
pub fn operator_sign_in(config: &Config) -> idlink_core::operators::SignInPolicy {
    idlink_core::operators::SignInPolicy {
        max_failures: config.review.operator_max_failures,
        lock_for: jiff::SignedDuration::from_mins(config.review.operator_lock_minutes),
        idle_timeout: jiff::SignedDuration::from_mins(config.review.operator_idle_minutes),
    }
}

/// The retention purge job (also run once by `idlink retention purge`).
pub fn retention_job(config: &Config, store: SqlStore, vault: Arc<Vault>, clock: Arc<dyn Clock>) -> crate::background::RetentionJob {
    crate::background::RetentionJob {
        store,
        vault,
        clock,
        rules: crate::config::Retention::rules(config),
        every: jiff::SignedDuration::from_hours(i64::try_from(config.retention.purge_interval_hours.min(8760)).unwrap_or(24)),
    }
}

pub fn password_policy(config: &Config) -> idlink_core::payment::PaymentPasswordPolicy {
    idlink_core::payment::PaymentPasswordPolicy {
        memory_kib: config.payment_password.memory_kib,
        iterations: config.payment_password.iterations,
        parallelism: config.payment_password.parallelism,
        max_failures: config.payment_password.max_failures,
    }
}

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<SqlStore> {
    open_store_with(config, StoreOptions::default()).await
}

/// [`open_store`] from `options` (a bulk load's), the configuration's pool size and cache applied on top.
pub async fn open_store_with(config: &Config, mut options: StoreOptions) -> Result<SqlStore> {
    let url = config.database_url()?;
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.server.data_dir)
            .with_context(|| format!("cannot create data directory {}", config.server.data_dir.display()))?;
    }
    match config.database.max_connections {
        Some(n) => options.max_connections = n,
        // SQLite reads run on a thread per connection: more threads than twice the cores
        // only add context switches (measured with `idlink bench balance`).
        None if url.starts_with("sqlite:") => {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
            options.max_connections = u32::try_from(cores * 2).unwrap_or(16).clamp(2, 16);
        }
        None => {}
    }
    options.sqlite_cache_mib = config.database.sqlite_cache_mib.or(options.sqlite_cache_mib);
    options.sqlite_mmap_mib = config.database.sqlite_mmap_mib.or(options.sqlite_mmap_mib);
    let store = SqlStore::connect(&url, &options).await.with_context(|| format!("cannot open the {} database", backend_name(&url)))?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// After a bulk load into PostgreSQL (a seed, a move, a restore), `VACUUM (ANALYZE)` of its tables; the
/// data is whole without it, so a failure (a statement timeout, a cancel) is a warning with what to run,
/// not a failed load.
pub async fn refresh_statistics(store: &SqlStore) {
    if let Err(e) = store.refresh_statistics().await {
        eprintln!("warning: VACUUM (ANALYZE) of the new rows failed ({e}); run it by hand before serving traffic");
    }
}

/// Connects to the configured database as it is: nothing created, nothing
/// migrated (a backup or a move reads a deployment, it does not change it).
/// Refuses a database idlink never migrated, or one migrated by a newer idlink.
pub async fn open_existing_store(config: &Config) -> Result<SqlStore> {
    let url = config.database_url()?.replace("mode=rwc", "mode=rw");
    let store = SqlStore::connect(&url, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open the {} database (does it exist?)", backend_name(&url)))?;
    let at = store.schema_version_if_any().await.context("cannot read the database's schema version")?;
    if at == 0 {
        anyhow::bail!("the configured {} database holds no idlink deployment (database.url, --data-dir)", backend_name(&url));
    }
    if at > store.latest_schema() {
        anyhow::bail!(
            "the database is at schema {at}, newer than this idlink knows ({}): use the idlink that runs it",
            store.latest_schema()
        );
    }
    // An interrupted bulk load left indexes out: copying it would copy a deployment no server has run.
    if store.has_suspended_indexes().await? {
        anyhow::bail!(
            "an interrupted `idlink bench seed` left indexes suspended in this database: run `idlink migrate` (or start the server once) to rebuild them, then try again"
        );
    }
    Ok(store)
}

fn backend_name(url: &str) -> &'static str {
    idlink_store::Backend::from_url(url).map(|b| b.name()).unwrap_or("configured")
}

/// Loads the master keyring, generating a development one when allowed and missing.
pub fn load_keyring(config: &Config, rng: &dyn Random, today: jiff::civil::Date) -> Result<MasterKeyring> {
    let path = config.master_key_file();
    if !path.exists() && config.crypto.generate_dev_key {
        let id = keyfile::new_key_id(rng, today);
        keyfile::write(&path, &[MasterKey::generate(id.clone(), rng)], &id, false)?;
        eprintln!(
            "\n********************************************************************************\n\
             *  WARNING: generated a DEVELOPMENT master key at {}\n\
             *  Anyone who can read that file can decrypt all personal data in this database.\n\
             *  For production: set crypto.generate_dev_key = false and provide the keyring\n\
             *  with `idlink keys generate` / `idlink keys combine` (Shamir shares).\n\
             ********************************************************************************\n",
            path.display()
        );
    }
    keyfile::read(&path, algorithm(config))
}

pub async fn open_vault(config: &Config, store: &SqlStore, rt: &Runtime) -> Result<Vault> {
    let today = rt.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let ring = load_keyring(config, rt.rng.as_ref(), today)?;
    let path = config.master_key_file();
    let alg = algorithm(config);
    let source: idlink_core::vault::KeyringSource = Arc::new(move || keyfile::read(&path, alg).map_err(|e| format!("{e:#}")));
    Ok(Vault::open(ring, store, rt.rng.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the key store with the master keyring: {e}"))?
        .with_source(source))
}

/// The audit witness `audit.witness` names. A writer's (`write`) file
/// witness is created and checked now, so a wrong `audit.witness_dir` stops
/// the start; a reader's only reads (a missing one reads as empty). A remote
/// witness with no `audit.witness_url` is the sandbox's log: `sandbox` is
/// the running sandbox's address, else `sandbox.listen` is assumed.
pub fn open_witness(
    config: &Config,
    write: bool,
    clock: Arc<dyn Clock>,
    sandbox: Option<std::net::SocketAddr>,
) -> Result<Arc<dyn AuditWitness>> {
    match config.audit.witness {
        WitnessKind::Http => {
            let url = if !config.audit.witness_url.is_empty() {
                config.audit.witness_url.clone()
            } else if let Some(addr) = sandbox.or(config.sandbox.enabled.then_some(config.sandbox.listen)) {
                format!("http://{addr}")
            } else {
                anyhow::bail!("configuration key `audit.witness_url` is empty and the sandbox is disabled; set the witness log's URL");
            };
            let executor = Executor::new(config.connectors.executor_policy(), clock);
            let w = idlink_connectors::witness::RemoteWitness::new(Arc::new(executor), &url, &config.audit.witness_log)
                .map_err(|e| anyhow::anyhow!("configuration keys `audit.witness_url` / `audit.witness_log`: {e}"))?;
            Ok(Arc::new(w))
        }
        WitnessKind::File => {
            let dir = config.audit_witness_dir();
            if !write {
                return Ok(Arc::new(FileWitness::open(&dir)));
            }
            let w = FileWitness::create(&dir).with_context(|| format!("configuration key `audit.witness_dir` ({})", dir.display()))?;
            Ok(Arc::new(w))
        }
    }
}

/// Where the sandbox's direct bank channel listens, when it runs.
#[derive(Debug, Clone, Copy)]
pub struct SandboxAddrs {
    pub http: SocketAddr,
    pub direct: SocketAddr,
}

/// The direct channel: its URL, and idlink's certificates and keys in
/// `connectors.bank.direct_pki_dir`. None when there is no URL (and no
/// sandbox) or no certificates: then every bank goes through the switch.
fn direct_channel(config: &Config, sandbox: Option<SandboxAddrs>) -> Result<Option<DirectChannel>> {
    use idlink_sandbox::bank::pki;
    let url = match (&config.connectors.bank.direct_url, sandbox) {
        (u, _) if !u.is_empty() => u.clone(),
        (_, Some(s)) => format!("https://localhost:{}", s.direct.port()),
        (_, None) => return Ok(None),
    };
    let dir = config.direct_pki_dir();
    if !dir.join(pki::IDLINK_CLIENT).exists() {
        tracing::warn!(dir = %dir.display(), "no direct-channel certificates: every bank goes through the card switch");
        return Ok(None);
    }
    let ctx = |what: &str| format!("connectors.bank.direct_pki_dir ({}): {what}", dir.display());
    let identity = TlsIdentity {
        client_cert_and_key_pem: pki::read(&dir, pki::IDLINK_CLIENT).with_context(|| ctx("client certificate"))?.into_bytes(),
        server_ca_pem: pki::read(&dir, pki::CA).with_context(|| ctx("CA"))?.into_bytes(),
    };
    let signing = Signing {
        signer: pki::read_signer(&dir, pki::IDLINK_SEED).with_context(|| ctx("signing key"))?,
        peer_public_hex: pki::bank_public_hex(&dir).with_context(|| ctx("bank public key"))?,
    };
    Ok(Some(DirectChannel { url, identity, signing }))
}

/// Builds the clients from `[connectors]`; an empty URL means the sandbox.
/// `payment_secret`: the webhook secret made for the sandbox cashier, when
/// `connectors.payment.webhook_secret` is not set.
pub fn institutions(
    config: &Config,
    sandbox: Option<SandboxAddrs>,
    payment_secret: Option<&str>,
    clock: Arc<dyn Clock>,
) -> Result<Institutions> {
    let sandbox_url = sandbox.map(|a| format!("http://{}", a.http));
    let direct = direct_channel(config, sandbox)?;
    let bank_callback_key = match idlink_sandbox::bank::pki::bank_public_hex(&config.direct_pki_dir()) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(error = %e, "no bank public key: bank callbacks will be refused");
            None
        }
    };
    Ok(Institutions::connect(
        &config.connectors,
        sandbox_url.as_deref(),
        direct,
        bank_callback_key,
        payment_secret,
        Arc::new(config.roster()?),
        clock,
    )?)
}

/// The CAs users' digital certificates must chain to: the configured
/// bundle, else the sandbox CA with the sandbox, else none (certificates
/// are then refused with `certificate_not_accepted`).
fn certificate_cas(config: &Config, sandbox: Option<&Arc<idlink_sandbox::Sandbox>>) -> Result<idlink_crypto::certificates::TrustedCas> {
    use idlink_crypto::certificates::TrustedCas;
    let file = &config.credit_report.certificate_ca_file;
    if !file.is_empty() {
        let pem = std::fs::read(file).with_context(|| format!("configuration key `credit_report.certificate_ca_file` ({file})"))?;
        return TrustedCas::from_pem(&pem)
            .with_context(|| format!("configuration key `credit_report.certificate_ca_file` ({file}): no certificate"));
    }
    Ok(sandbox.and_then(|sb| sb.ca.certificate_pem()).and_then(|pem| TrustedCas::from_pem(pem.as_bytes()).ok()).unwrap_or_default())
}

/// idlink's clock: the runtime's, shifted by the sandbox clock's advances
/// when `sandbox.drive_clock` is on, so the sandbox's time control moves
/// idlink's expiries too.
fn clock_of(config: &Config, rt: &Runtime, sandbox: Option<&Arc<idlink_sandbox::Sandbox>>) -> Arc<dyn Clock> {
    match sandbox {
        Some(sb) if config.sandbox.drive_clock => {
            sb.clock().set_drives_idlink(true);
            let sb = sb.clone();
            Arc::new(idlink_core::ports::clock::ShiftedClock::new(rt.clock.clone(), Arc::new(move || sb.clock().offset())))
        }
        _ => rt.clock.clone(),
    }
}

/// A running idlink: addresses, and the handle to stop it.
pub struct Running {
    /// The clock everything in this server reads (see [`clock_of`]).
    pub clock: Arc<dyn Clock>,
    pub api_addr: SocketAddr,
    pub sandbox_addr: Option<SocketAddr>,
    /// The sandbox banks' direct channel (HTTPS, mutual TLS).
    pub sandbox_direct_addr: Option<SocketAddr>,
    pub sandbox: Option<Arc<idlink_sandbox::Sandbox>>,
    pub store: SqlStore,
    /// The vault the server seals with (tests seal fixtures with it).
    pub vault: Arc<Vault>,
    pub institutions: Arc<Institutions>,
    /// Where signed audit checkpoints are also written.
    pub witness: Arc<dyn AuditWitness>,
    /// This process's name in job leases and outbox claims.
    pub node: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    grace: Duration,
    /// The audit checkpoint job, run once more at shutdown.
    runner: Arc<Runner>,
    checkpoints: Arc<crate::background::Checkpoints>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish (up to the
    /// grace period) and the background work stop, writes a last audit
    /// checkpoint (unless another live node holds the job) and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let all = futures_join(self.tasks);
        if tokio::time::timeout(self.grace, all).await.is_err() {
            tracing::warn!("shutdown grace period ended with work still running");
        }
        self.runner.shutdown(self.checkpoints.as_ref()).await;
        self.store.close().await;
    }
}

/// The sandbox's demo app's name as registered: found by it (and its
/// redirect URI) on the next start.
const SANDBOX_APP: &str = "Sandbox app";

/// Registers the sandbox's demo app with this idlink and hands it its
/// credentials. idlink keeps only hashes of a client's secrets, so a later
/// start finds the app registered and rotates its secrets instead (the old
/// ones end after the overlap), as an app's engineers would after losing them.
async fn register_sandbox_app(state: &AppState, sb: &idlink_sandbox::Sandbox, sandbox: SocketAddr) -> Result<()> {
    use idlink_core::clients::{Actor, Registration};
    let base = format!("http://{sandbox}");
    let redirect = format!("{base}/sandbox/app/callback");
    let clients = idlink_api::routes::clients::clients(state);
    let who = Actor { actor: "system:sandbox".into(), request_id: None };
    let existing = clients.list().await?.into_iter().find(|c| c.row.name == SANDBOX_APP && c.row.redirect_uris.contains(&redirect));
    let (client_id, secret, webhook) = match existing {
        Some(c) => {
            let (secret, _) = clients.rotate_secret(&who, &c.row.id).await?;
            let (webhook, _) = clients.rotate_webhook_secrets(&who, &c.row.id).await?;
            (c.row.id, secret, webhook)
        }
        None => {
            let registration = Registration {
                name: SANDBOX_APP.into(),
                redirect_uris: vec![redirect],
                scopes: ["openid", "identity", "phone"].map(String::from).to_vec(),
                claims: ["name", "birthdate", "age_over_18", "verified_claims"].map(String::from).to_vec(),
                backchannel_logout_uri: Some(format!("{base}/sandbox/app/logout")),
                webhook_url: Some(format!("{base}/sandbox/app/webhooks")),
                ..Registration::default()
            };
            let done = clients.register(&who, registration).await?;
            let secret = done.client_secret.context("a confidential client is registered with a secret")?;
            (done.client.row.id, secret, done.webhook)
        }
    };
    sb.app.configure(idlink_sandbox::app::AppConfig {
        issuer: state.oidc.issuer.clone(),
        client_id: client_id.to_string(),
        client_secret: secret,
        webhook_secret: Some(webhook.secret),
        webhook_public_key: Some(webhook.public_key),
        base_url: base,
    });
    tracing::info!(client = %client_id, "sandbox app registered: {}/sandbox/app", format!("http://{sandbox}"));
    Ok(())
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Starts everything `idlink serve` runs. Returns once the API accepts connections.
pub async fn start(config: &Config, rt: Runtime) -> Result<Running> {
    let store = open_store(config).await?;
    let vault = Arc::new(open_vault(config, &store, &rt).await?);
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let sandbox = if config.sandbox.enabled { Some(start_sandbox(config, &rt, &stop_rx, &mut tasks).await?) } else { None };
    let addrs = sandbox.as_ref().map(|(addrs, _)| *addrs);
    let witness = open_witness(config, true, rt.clock.clone(), addrs.map(|a| a.http))?;
    let policy = config.checkpoint_policy();
    let clock = clock_of(config, &rt, sandbox.as_ref().map(|(_, sb)| sb));
    // The sandbox cashier signs its callbacks with a secret made for this run, unless one is configured.
    let payment = &config.connectors.payment;
    let payment_secret = match (&sandbox, payment.webhook_secret.as_str()) {
        (Some(_), "") if payment.url.is_empty() => {
            use base64::Engine;
            Some(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(rt.rng.bytes32())))
        }
        (_, configured) => (!configured.is_empty()).then(|| configured.to_owned()),
    };
    let institutions = Arc::new(institutions(config, addrs, payment_secret.as_deref(), clock.clone())?);
    let certificate_cas = certificate_cas(config, sandbox.as_ref().map(|(_, sb)| sb))?;
    // Lease decisions follow the runtime's clock (not the sandbox-driven
    // one, which moves back on `clock/reset`); the jobs stamp with `clock`.
    let node = crate::background::node_name(rt.rng.as_ref());
    let runner = Arc::new(Runner { store: Arc::new(store.clone()), clock: rt.clock.clone(), holder: node.clone() });
    let checkpoints = Arc::new(crate::background::Checkpoints {
        store: store.clone(),
        witness: witness.clone(),
        vault: vault.clone(),
        clock: clock.clone(),
        policy,
    });
    // Signs what a server that did not stop cleanly left unsigned (unless
    // another live node holds the job), and catches the witness up, before
    // this server writes a record.
    let mut checkpoint_seen = Seen::default();
    runner.start(checkpoints.as_ref(), &mut checkpoint_seen).await;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (configuration key `server.listen`, flag --listen)", config.server.listen))?;
    let api_addr = listener.local_addr()?;
    let oidc_settings = config.oidc_settings(api_addr);
    let event_settings = config.event_settings();
    let agreement_validity = jiff::SignedDuration::from_hours(24 * i64::from(config.connectors.bank.agreement_validity_days));
    let review_sla = Arc::new(idlink_api::node_metrics::ReviewSlaGauge::default());
    let state = AppState::new(AppParts {
        store: Arc::new(store.clone()),
        vault: vault.clone(),
        clock: clock.clone(),
        rng: rt.rng.clone(),
        ids: Arc::new(idlink_core::ports::ids::RandomIds(rt.rng.clone())),
        limits: HttpLimits {
            body_limit_bytes: config.server.body_limit_bytes,
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            idempotency_stale_after: Duration::from_secs(config.server.idempotency_stale_after_secs),
            idempotency_ttl: Duration::from_secs(config.server.idempotency_ttl_secs),
            trusted_proxies: idlink_api::client_ip::TrustedProxies::parse(&config.server.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?,
        },
        institutions: institutions.ports(),
        bank_password_reset: institutions.bank_password_reset.clone(),
        roster: institutions.roster.clone(),
        consent_texts: Arc::new(config.consent_texts()?),
        key_uses: Default::default(),
        review_sla: review_sla.clone(),
        documents: Arc::new(idlink_core::agreements::AgreementDocuments::new(
            &institutions.roster,
            &config.agreements()?,
            agreement_validity,
        )),
        agreement_validity,
        change_policy: config.identity.policy(),
        risk_policy: idlink_domain::risk::RiskPolicy {
            step_up_at: config.risk.step_up_at,
            freeze_at: config.risk.freeze_at,
            burst: config.risk.burst_logins_per_hour,
            failures: config.risk.failed_attempts,
        },
        review: idlink_api::state::ReviewSettings {
            verification_sla: jiff::SignedDuration::from_hours(config.review.verification_sla_hours),
            freeze_sla: jiff::SignedDuration::from_secs(config.review.freeze_sla_secs),
            guardian_sla: jiff::SignedDuration::from_hours(24 * config.review.guardian_sla_days),
            operator_session_ttl: jiff::SignedDuration::from_hours(config.review.operator_session_hours),
            dual_control_window: jiff::SignedDuration::from_mins(config.review.dual_control_window_minutes),
            operator_sign_in: operator_sign_in(config),
        },
        auth_policy: config.login.policy(),
        password_policy: password_policy(config),
        step_up_policy: idlink_core::stepup::StepUpPolicy {
            ttl: jiff::SignedDuration::from_secs(i64::try_from(config.step_up.ttl_secs).unwrap_or(120)),
        },
        credit_policy: config.credit_report.policy(),
        alert_policy: config.credit_report.alert_policy(),
        ss_coverage: Arc::new(config.social_security_coverage()?),
        ss_policy: config.social_security.policy()?,
        revocation_policy: config.revocation_policy()?,
        certificate_cas,
        audit: idlink_api::state::AuditSettings { witness: witness.clone(), policy, retention: crate::config::Retention::rules(config) },
        face_sandbox: sandbox.is_some() && config.connectors.face.url.is_empty(),
        keyring: Some(Arc::new(keyfile::KeyringFile {
            path: config.master_key_file(),
            algorithm: algorithm(config),
            rng: rt.rng.clone(),
            clock: rt.clock.clone(),
        })),
        oidc: oidc_settings.clone(),
        events: event_settings.clone(),
    });
    if let Some((addrs, sb)) = &sandbox {
        // The sandbox banks send their callbacks here.
        sb.set_callback_url(format!("http://{api_addr}"));
        if let Some(secret) = &payment_secret {
            sb.cashier.set_callback(format!("http://{api_addr}"), secret.clone());
        }
        if config.sandbox.demo_app
            && let Err(e) = register_sandbox_app(&state, sb, addrs.http).await
        {
            tracing::warn!(error = %e, "the sandbox app could not be registered; its login page will say so");
        }
    }
    let web = idlink_web::WebSettings { secure_cookies: config.web.secure_cookies };
    let state_for_calendar = state.clone();
    let app = idlink_api::app(state.clone()).merge(idlink_web::router(state.clone(), web));
    let shutdown = stopped(stop_rx.clone());
    tasks.push(tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "API server failed");
        }
    }));

    tasks.push(tokio::spawn(reload_keyring(vault.clone(), stop_rx.clone())));
    // The maintenance calendar before the first call, then every few seconds (another node may change it).
    if let Err(e) = state_for_calendar.institution_health().reload().await {
        tracing::warn!(error = %e, "maintenance calendar not loaded; retrying in the background");
    }
    tasks.push(tokio::spawn(reload_calendar(state_for_calendar, stop_rx.clone())));
    let worker = crate::background::OutboxWorker {
        store: store.clone(),
        vault: vault.clone(),
        clock: clock.clone(),
        rng: rt.rng.clone(),
        notifier: Arc::new(institutions.sms_codes()),
        hosts: Arc::new(institutions.host_stores()),
        policy: config.outbox_policy(),
        holder: node.clone(),
        poll: Duration::from_millis(config.outbox.poll_ms),
        sender: Arc::new(
            idlink_connectors::events::EventClient::new(
                event_settings.timeout,
                event_settings.allow_private_targets,
                event_settings.allow_plain_http,
            )
            .map_err(anyhow::Error::msg)?,
        ),
        events: event_settings,
        oidc: oidc_settings.clone(),
    };
    tasks.push(tokio::spawn(worker.run(stop_rx.clone())));
    let purge_every = (config.server.idempotency_ttl_secs / 2).clamp(1, 600);
    let jobs: Vec<(Arc<dyn PeriodicJob>, Seen)> = vec![
        (checkpoints.clone(), checkpoint_seen),
        (
            Arc::new(crate::background::ReviewSla::new(
                store.clone(),
                vault.clone(),
                clock.clone(),
                Arc::new(idlink_core::ports::ids::RandomIds(rt.rng.clone())),
                config.review.sla_check_secs,
                review_sla,
            )),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::IdempotencyPurge {
                store: store.clone(),
                clock: clock.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(purge_every).unwrap_or(600)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::OutboxHousekeeping::new(store.clone(), clock.clone(), &config.outbox, &config.events)),
            Seen::default(),
        ),
        (Arc::new(retention_job(config, store.clone(), vault.clone(), clock.clone())), Seen::default()),
        (
            Arc::new(crate::background::CreditFollowUp {
                state: state.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.credit_report.follow_up_secs).unwrap_or(10)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::CreditAlertJob {
                state: state.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.credit_report.alert_check_secs).unwrap_or(300)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::BenefitAlertJob {
                state: state.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.social_security.benefit_check_secs).unwrap_or(300)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::MedicalReconcileJob {
                state: state.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.social_security.reconcile_secs).unwrap_or(60)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::background::RevocationSagaJob {
                state: state.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.revocation.drive_secs).unwrap_or(5)),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::oidc_jobs::OAuthPurgeJob {
                store: store.clone(),
                clock: clock.clone(),
                every: jiff::SignedDuration::from_secs(i64::try_from(config.oidc.purge_every_secs).unwrap_or(3_600)),
                settings: oidc_settings.clone(),
            }),
            Seen::default(),
        ),
        (
            Arc::new(crate::oidc_jobs::OidcKeys::new(
                store.clone(),
                vault.clone(),
                clock.clone(),
                rt.rng.clone(),
                config.oidc_settings(api_addr),
            )),
            Seen::default(),
        ),
    ];
    for (job, seen) in jobs {
        let (runner, stop) = (runner.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move { runner.run(job.as_ref(), seen, stop).await }));
    }
    tracing::info!(node = %node, "background work started: the outbox worker and the periodic jobs");

    Ok(Running {
        clock,
        api_addr,
        sandbox_addr: addrs.map(|a| a.http),
        sandbox_direct_addr: addrs.map(|a| a.direct),
        sandbox: sandbox.map(|(_, s)| s),
        store,
        vault,
        institutions,
        witness,
        node,
        stop,
        tasks,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
        runner,
        checkpoints,
    })
}

/// Starts the sandbox institutions: plain HTTP, and the banks' direct channel
/// over mutual TLS with certificates generated at first start.
async fn start_sandbox(
    config: &Config,
    rt: &Runtime,
    stop_rx: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(SandboxAddrs, Arc<idlink_sandbox::Sandbox>)> {
    let dir = config.direct_pki_dir();
    if idlink_sandbox::bank::pki::ensure(&dir, rt.rng.as_ref()).context("the sandbox's direct-channel certificates")? {
        tracing::info!(dir = %dir.display(), "generated the sandbox banks' CA, certificates and signing keys");
    }
    let keys = idlink_sandbox::bank::pki::bank_side(&dir).context("the sandbox's direct-channel certificates")?;
    let sandbox = idlink_sandbox::Sandbox::with_bank_side(&config.roster()?, keys);
    let listener = tokio::net::TcpListener::bind(config.sandbox.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the sandbox (configuration key `sandbox.listen`)", config.sandbox.listen))?;
    let http = listener.local_addr()?;
    let direct_listener = std::net::TcpListener::bind(config.sandbox.direct_listen).with_context(|| {
        format!(
            "cannot listen on {} for the sandbox banks' direct channel (configuration key `sandbox.direct_listen`)",
            config.sandbox.direct_listen
        )
    })?;
    let direct = direct_listener.local_addr()?;
    let (sb, shutdown) = (sandbox.clone(), stopped(stop_rx.clone()));
    tasks.push(tokio::spawn(async move {
        if let Err(e) = idlink_sandbox::serve(listener, sb, shutdown).await {
            tracing::error!(error = %e, "sandbox server failed");
        }
    }));
    let (sb, shutdown) = (sandbox.clone(), stopped(stop_rx.clone()));
    tasks.push(tokio::spawn(async move {
        if let Err(e) = idlink_sandbox::bank::direct::serve(direct_listener, sb, shutdown).await {
            tracing::error!(error = %e, "sandbox direct bank channel failed");
        }
    }));
    Ok((SandboxAddrs { http, direct }, sandbox))
}

/// Keeps this node's copy of the maintenance calendar (ADR 0018) in step
/// with the database: a window another node scheduled or cancelled applies
/// here within `CALENDAR_RELOAD`.
const CALENDAR_RELOAD: Duration = Duration::from_secs(15);

async fn reload_calendar(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(CALENDAR_RELOAD);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if let Err(e) = state.institution_health().reload().await {
            tracing::warn!(error = %e, "maintenance calendar reload failed; keeping the loaded one");
        }
    }
}

/// Re-reads the keyring file every 10 s, so a rotation done by
/// `idlink keys rotate` (or on another node) is picked up without a restart.
async fn reload_keyring(vault: Arc<Vault>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        match vault.reload() {
            Ok(true) => tracing::info!(active = %vault.ring().active().id, "master keyring reloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "master keyring reload failed; keeping the loaded one"),
        }
    }
}
