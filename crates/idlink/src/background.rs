//! Background work of `idlink serve` (ADR 0009, `docs/outbox.md`): the
//! outbox worker every node runs, and the periodic jobs that run once per
//! period across every node on the database, each under its lease (audit
//! checkpoints, review SLA checks, the idempotency records' purge, outbox
//! housekeeping, credit-report follow-up, the retention purge).

use idlink_core::audit::{AuditError, CheckpointOutcome, CheckpointPolicy, SigningReason};
use idlink_core::jobs::{Occasion, PeriodicJob};
use idlink_core::outbox::{Deliverer, OutboxPolicy};
use idlink_core::ports::clock::Clock;
use idlink_core::ports::events::EventStore;
use idlink_core::ports::outbox::{Notifier, OutboxStore};
use idlink_core::ports::witness::AuditWitness;
use idlink_core::vault::Vault;
use idlink_store::SqlStore;
use jiff::SignedDuration;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The lease names (the `job` column).
pub const AUDIT_CHECKPOINT: &str = "audit_checkpoint";
pub const REVIEW_SLA: &str = "review_sla";
pub const IDEMPOTENCY_PURGE: &str = "idempotency_purge";
pub const OUTBOX_HOUSEKEEPING: &str = "outbox_housekeeping";
pub const CREDIT_FOLLOW_UP: &str = "credit_follow_up";
pub const CREDIT_ALERTS: &str = "credit_alerts";
pub const BENEFIT_ALERTS: &str = "benefit_alerts";
pub const MEDICAL_RECONCILE: &str = "medical_reconcile";
pub const REVOCATION_SAGAS: &str = "revocation_sagas";
pub const RETENTION: &str = "retention";

fn secs(s: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX))
}

/// A name for this process in lease rows and claims: host, process id and a random part.
pub fn node_name(rng: &dyn idlink_crypto::Random) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let host = if host.is_empty() { "node".to_owned() } else { host };
    let mut b = [0u8; 4];
    rng.fill(&mut b);
    format!("{host}:{}:{}", std::process::id(), hex::encode(b))
}

/// Signs the audit chain head once per `audit.checkpoint_interval_secs`
/// across the nodes, and at start and shutdown; every node keeps its own
/// witness file complete (docs/audit.md).
pub struct Checkpoints {
    pub store: SqlStore,
    pub witness: Arc<dyn AuditWitness>,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    pub policy: CheckpointPolicy,
}

#[async_trait::async_trait]
impl PeriodicJob for Checkpoints {
    fn name(&self) -> &'static str {
        AUDIT_CHECKPOINT
    }

    fn period(&self) -> SignedDuration {
        self.policy.interval
    }

    async fn run(&self, occasion: Occasion) -> Result<(), String> {
        let reason = match occasion {
            Occasion::Start => SigningReason::Start,
            Occasion::Periodic => SigningReason::Periodic,
            Occasion::Shutdown => SigningReason::Shutdown,
        };
        let signed =
            idlink_core::audit::checkpoint(&self.store, self.witness.as_ref(), self.vault.signer(), &self.policy, self.clock.now(), reason)
                .await;
        match signed {
            Ok(CheckpointOutcome::Signed { checkpoint, late_reason: None }) => {
                tracing::info!(seq = checkpoint.seq, "audit checkpoint signed");
                Ok(())
            }
            Ok(CheckpointOutcome::Signed { checkpoint, late_reason: Some(r) }) => {
                tracing::warn!(
                    seq = checkpoint.seq,
                    reason_record = r,
                    "audit checkpoint signed late; the late signing is recorded in the chain"
                );
                Ok(())
            }
            Ok(CheckpointOutcome::Witnessed(c)) => {
                tracing::info!(seq = c.seq, "audit checkpoint added to the witness");
                Ok(())
            }
            Ok(CheckpointOutcome::NothingNew) => Ok(()),
            Ok(CheckpointOutcome::Discarded { seq }) => {
                // Its checkpoint reaches this node's witness through `standby` or the next run.
                tracing::debug!(seq, "another node signed this period's audit checkpoint first; this node's was discarded");
                Ok(())
            }
            Err(AuditError::Refused(b)) => {
                metrics::counter!("idlink_audit_checkpoint_refused_total").increment(1);
                tracing::error!(problem = %b, "audit chain NOT signed: it does not extend the last witnessed checkpoint; run `idlink audit verify`");
                Err(format!("refused: {b}"))
            }
            Err(e) => Err(format!("audit checkpoint failed: {e}")),
        }
    }

    /// Another node signed: add its checkpoint to this node's witness.
    async fn standby(&self) -> bool {
        let key = self.vault.signer().public_hex();
        match idlink_core::audit::catch_up_witness(&self.store, self.witness.as_ref(), &key).await {
            Ok(Some(c)) => {
                tracing::info!(seq = c.seq, "audit checkpoint signed by another node added to the witness");
                true
            }
            Ok(None) => true,
            Err(AuditError::Refused(b)) => {
                metrics::counter!("idlink_audit_checkpoint_refused_total").increment(1);
                tracing::error!(problem = %b, "another node's audit checkpoint NOT witnessed: the chain does not extend this node's witness; run `idlink audit verify`");
                // An alarm, not a transient failure: retrying every look would only repeat it.
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "adding another node's audit checkpoint to the witness failed; will retry");
                false
            }
        }
    }

    fn at_start_and_shutdown(&self) -> bool {
        true
    }
}

/// Publishes open review cases past their SLA as
/// `idlink_review_sla_breached{kind}` and logs them, and escalates each
/// breached case once to the operators on duty (an outbox page,
/// `review.sla_breached`), every `review.sla_check_secs`, from one node
/// (the others publish zeros). The gauge is this node's own
/// (`idlink_api::node_metrics`), rendered by its `/metrics`.
pub struct ReviewSla {
    pub store: SqlStore,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn idlink_core::ports::ids::Ids>,
    pub every: SignedDuration,
    gauge: Arc<idlink_api::node_metrics::ReviewSlaGauge>,
}

impl ReviewSla {
    pub fn new(
        store: SqlStore,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn idlink_core::ports::ids::Ids>,
        every_secs: u64,
        gauge: Arc<idlink_api::node_metrics::ReviewSlaGauge>,
    ) -> Self {
        Self { store, vault, clock, ids, every: secs(every_secs), gauge }
    }
}

const CASE_KINDS: [idlink_core::ports::reviews::CaseKind; 3] = [
    idlink_core::ports::reviews::CaseKind::Verification,
    idlink_core::ports::reviews::CaseKind::RiskFreeze,
    idlink_core::ports::reviews::CaseKind::Guardian,
];

#[async_trait::async_trait]
impl PeriodicJob for ReviewSla {
    fn name(&self) -> &'static str {
        REVIEW_SLA
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        use idlink_core::ports::reviews::ReviewStore;
        let counts = self.store.sla_breaches(self.clock.now()).await.map_err(|e| format!("review SLA check failed: {e}"))?;
        let mut published = Vec::with_capacity(CASE_KINDS.len());
        for kind in CASE_KINDS {
            let n = counts.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
            published.push((kind.as_str(), n));
            if n > 0 {
                tracing::warn!(kind = kind.as_str(), open_cases_past_sla = n, "review SLA breached");
            }
        }
        self.gauge.set(published);
        let escalations = idlink_core::reviews::Escalations {
            reviews: &self.store,
            operators: &self.store,
            vault: &self.vault,
            ids: self.ids.as_ref(),
            clock: self.clock.as_ref(),
        };
        let escalated = escalations.run().await.map_err(|e| format!("escalating review SLA breaches failed: {e}"))?;
        if escalated > 0 {
            tracing::warn!(escalated, "review SLA breaches escalated to the operators on duty");
        }
        Ok(())
    }

    /// Another node publishes the counts now: this node's would be counted twice.
    async fn standby(&self) -> bool {
        self.gauge.clear();
        true
    }
}

/// Deletes expired idempotency records (and the sealed answers they keep), in bounded batches.
pub struct IdempotencyPurge {
    pub store: SqlStore,
    pub clock: Arc<dyn Clock>,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for IdempotencyPurge {
    fn name(&self) -> &'static str {
        IDEMPOTENCY_PURGE
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        use idlink_core::ports::idempotency::IdempotencyStore;
        let mut purged = 0;
        loop {
            let n = self
                .store
                .purge_idempotency_keys(self.clock.now(), 1000)
                .await
                .map_err(|e| format!("purging expired idempotency records failed: {e}"))?;
            purged += n;
            if n < 1000 {
                break;
            }
        }
        if purged > 0 {
            tracing::debug!(purged, "expired idempotency records purged");
        }
        Ok(())
    }
}

/// Purges what is past its retention rule (`idlink_core::retention`), once
/// per `retention.purge_interval_hours` across the nodes.
pub struct RetentionJob {
    pub store: SqlStore,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    pub rules: idlink_core::retention::RetentionRules,
    pub every: SignedDuration,
}

impl RetentionJob {
    /// One purge now (the job's run, and `idlink retention purge`).
    pub async fn purge(&self) -> Result<idlink_core::retention::Purged, idlink_core::ports::StoreError> {
        let retention = idlink_core::retention::Retention {
            store: &self.store,
            audits: &self.store,
            clock: self.clock.as_ref(),
            public_key: self.vault.signer().public_hex(),
            rules: self.rules,
        };
        retention.purge().await
    }
}

#[async_trait::async_trait]
impl PeriodicJob for RetentionJob {
    fn name(&self) -> &'static str {
        RETENTION
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let purged = self.purge().await.map_err(|e| format!("the retention purge failed: {e}"))?;
        tracing::info!(
            query_log = purged.query_log,
            sign_ins = purged.sign_ins,
            credit_files = purged.credit_files,
            audit_periods = purged.audit.len(),
            "retention purge done"
        );
        Ok(())
    }
}

/// Purges delivered outbox events after `outbox.keep_delivered_hours` and
/// publishes `idlink_outbox_depth{state}` (pending, dead) from one node.
pub struct OutboxHousekeeping {
    pub store: SqlStore,
    pub clock: Arc<dyn Clock>,
    pub every: SignedDuration,
    pub keep: SignedDuration,
    /// How long security-event receipts are kept (`events.keep_receipts_days`).
    pub keep_receipts: SignedDuration,
    published: AtomicBool,
}

impl OutboxHousekeeping {
    pub fn new(store: SqlStore, clock: Arc<dyn Clock>, config: &crate::config::Outbox, events: &crate::config::Events) -> Self {
        Self {
            store,
            clock,
            every: secs(config.housekeeping_secs),
            keep: secs(config.keep_delivered_hours.saturating_mul(3600)),
            keep_receipts: secs(events.keep_receipts_days.saturating_mul(86_400)),
            published: AtomicBool::new(false),
        }
    }
}

#[async_trait::async_trait]
impl PeriodicJob for OutboxHousekeeping {
    fn name(&self) -> &'static str {
        OUTBOX_HOUSEKEEPING
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let before = self.clock.now().checked_sub(self.keep).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        loop {
            let n = self.store.purge_delivered_outbox(before, 1000).await.map_err(|e| format!("purging delivered events failed: {e}"))?;
            if n < 1000 {
                break;
            }
        }
        // Receipts of security events outlive their outbox rows: the user and the console read them for months.
        let before = self.clock.now().checked_sub(self.keep_receipts).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        loop {
            let n = self.store.purge_receipts(before, 1000).await.map_err(|e| format!("purging delivery receipts failed: {e}"))?;
            if n < 1000 {
                break;
            }
        }
        let counts = self.store.outbox_counts().await.map_err(|e| format!("counting outbox events failed: {e}"))?;
        metrics::gauge!("idlink_outbox_depth", "state" => "pending").set(counts.pending as f64);
        metrics::gauge!("idlink_outbox_depth", "state" => "dead").set(counts.dead as f64);
        self.published.store(true, Ordering::Relaxed);
        if counts.dead > 0 {
            tracing::warn!(
                dead = counts.dead,
                "outbox events are parked as dead: `idlink outbox list --dead`, then `idlink outbox retry ID`"
            );
        }
        Ok(())
    }

    async fn standby(&self) -> bool {
        if self.published.swap(false, Ordering::Relaxed) {
            for state in ["pending", "dead"] {
                metrics::gauge!("idlink_outbox_depth", "state" => state).set(0.0);
            }
        }
        true
    }
}

/// What the outbox worker needs.
pub struct OutboxWorker {
    pub store: SqlStore,
    pub vault: Arc<Vault>,
    pub clock: Arc<dyn Clock>,
    /// Claim tokens and backoff jitter.
    pub rng: Arc<dyn idlink_crypto::Random>,
    pub notifier: Arc<dyn Notifier>,
    /// The host's stores (the wallet is told payment limits).
    pub hosts: Arc<dyn idlink_core::ports::host_stores::HostStores>,
    pub policy: OutboxPolicy,
    pub holder: String,
    pub poll: Duration,
    /// Security events to apps: the SSRF-guarded sender and `[events]`.
    pub sender: Arc<dyn idlink_core::ports::events::EventSender>,
    pub events: idlink_core::events::EventSettings,
    /// `iss` of SETs and logout tokens, the namespace of assurance levels, the signing keys.
    pub oidc: idlink_core::oidc::OidcSettings,
}

impl OutboxWorker {
    /// Delivers due events until `stop`: a full batch is followed at once by
    /// the next, otherwise the worker looks again after `outbox.poll_ms`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let ids = idlink_core::ports::ids::RandomIds(self.rng.clone());
        let signer = idlink_core::events::IssuerSigner(idlink_core::oidc::keys::IssuerKeys {
            store: &self.store,
            keys: &self.store,
            vault: &self.vault,
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            settings: &self.oidc,
        });
        let events = idlink_core::events::deliver::EventDelivery {
            store: &self.store,
            clients: &self.store,
            keys: &self.store,
            sender: self.sender.as_ref(),
            signer: &signer,
            settings: &self.events,
            issuer: &self.oidc.issuer,
            trust_framework: &self.oidc.trust_framework,
        };
        let deliverer = Deliverer {
            store: &self.store,
            users: &self.store,
            operators: &self.store,
            keys: &self.store,
            vault: &self.vault,
            clock: self.clock.as_ref(),
            ids: &ids,
            rng: self.rng.as_ref(),
            notifier: self.notifier.as_ref(),
            policy: &self.policy,
            holder: &self.holder,
            events: &events,
            hosts: self.hosts.as_ref(),
        };
        let mut failing = false;
        loop {
            let full = match self.round(&deliverer).await {
                Ok(claimed) => {
                    failing = false;
                    claimed >= self.policy.batch as usize
                }
                Err(e) => {
                    // Logged once per outage, not at every poll.
                    if !failing {
                        tracing::warn!(error = %e, "the outbox cannot be read; delivery resumes when the database answers");
                    }
                    failing = true;
                    false
                }
            };
            if *stop.borrow() {
                break;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }

    async fn round(&self, deliverer: &Deliverer<'_>) -> Result<usize, idlink_core::ports::StoreError> {
        if !self.store.outbox_due(self.clock.now()).await? {
            return Ok(0);
        }
        Ok(deliverer.round().await?.claimed)
    }
}

/// Compares opted-in users' credit records and announces what changed (SPEC
/// CR6; `idlink_core::credit_alerts::CreditAlerts::check_due`).
pub struct CreditAlertJob {
    pub state: idlink_api::AppState,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for CreditAlertJob {
    fn name(&self) -> &'static str {
        CREDIT_ALERTS
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let pass = self.state.credit_alerts().check_due(200).await.map_err(|e| format!("checking credit alerts failed: {e}"))?;
        if pass != idlink_core::credit_alerts::AlertPass::default() {
            tracing::info!(checked = pass.checked, announced = pass.announced, failed = pass.failed, "credit records compared");
        }
        Ok(())
    }
}

/// Announces unemployment benefits that arrived on cards bound with
/// `unemployment_alerts` (SPEC SS3; `idlink_core::ss_services::SsServices::check_benefits`).
pub struct BenefitAlertJob {
    pub state: idlink_api::AppState,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for BenefitAlertJob {
    fn name(&self) -> &'static str {
        BENEFIT_ALERTS
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let pass = self.state.ss_services().check_benefits(1_000).await.map_err(|e| format!("checking benefits failed: {e}"))?;
        if pass.announced > 0 || pass.failed > 0 {
            tracing::info!(cards = pass.cards, announced = pass.announced, failed = pass.failed, "unemployment benefits checked");
        }
        Ok(())
    }
}

/// Decides the medical payments terminals began and did not finish
/// (SPEC SS3; `idlink_core::medical_payment::MedicalPayments::reconcile`).
pub struct MedicalReconcileJob {
    pub state: idlink_api::AppState,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for MedicalReconcileJob {
    fn name(&self) -> &'static str {
        MEDICAL_RECONCILE
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let done = self.state.medical_payments().reconcile().await.map_err(|e| format!("reconciling medical payments failed: {e}"))?;
        if done != idlink_core::medical_payment::Reconciled::default() {
            tracing::info!(settled = done.settled, voided = done.voided, failed = done.failed, "medical payments reconciled");
        }
        Ok(())
    }
}

/// Drives the revocation sagas still open (SPEC RV2): a step that waited
/// for a store, a deadline that passed, a saga a crashed node left
/// (`idlink_core::revocation::Revocations::drive_open`); then closes the
/// committed account cancellations (SPEC CP), shreds the retained
/// identities whose period ended, and counts the cancellations past due.
pub struct RevocationSagaJob {
    pub state: idlink_api::AppState,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for RevocationSagaJob {
    fn name(&self) -> &'static str {
        REVOCATION_SAGAS
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let revocations = self.state.revocations();
        let open = revocations.drive_open(100).await.map_err(|e| format!("driving revocation sagas failed: {e}"))?;
        if open > 0 {
            tracing::info!(open, "revocation sagas driven");
        }
        let closed = revocations.close_accounts(100).await.map_err(|e| format!("closing cancelled accounts failed: {e}"))?;
        if closed > 0 {
            tracing::info!(closed, "cancelled accounts closed");
        }
        let shredded = revocations.shred_retained(100).await.map_err(|e| format!("shredding retained identities failed: {e}"))?;
        if shredded > 0 {
            tracing::info!(shredded, "retained identities shredded at the end of their period");
        }
        let overdue = revocations.overdue_cancellations(1000).await.map_err(|e| format!("reading overdue cancellations failed: {e}"))?;
        metrics::gauge!("idlink_cancellations_overdue").set(overdue.len() as f64);
        Ok(())
    }
}

/// Follows credit-report requests (issue 15): asks the bureau again when a
/// request's expected time has come, fails what waited too long
/// (`idlink_core::credit::CreditReports::follow_up`).
pub struct CreditFollowUp {
    pub state: idlink_api::AppState,
    pub every: SignedDuration,
}

#[async_trait::async_trait]
impl PeriodicJob for CreditFollowUp {
    fn name(&self) -> &'static str {
        CREDIT_FOLLOW_UP
    }

    fn period(&self) -> SignedDuration {
        self.every
    }

    async fn run(&self, _: Occasion) -> Result<(), String> {
        let done = self.state.credit().follow_up(200).await.map_err(|e| format!("following credit-report requests failed: {e}"))?;
        if done != idlink_core::credit::FollowUp::default() {
            tracing::info!(asked = done.asked, ready = done.ready, failed = done.failed, "credit-report requests followed up");
        }
        Ok(())
    }
}
