//! The outbox and the periodic jobs end to end (SPEC P3, issue 11 item 7):
//! a user notification outlives an SMS outage and server restarts and is
//! delivered once the gateway is back; a dead letter is listed and sent
//! again from the command line; with two `idlink serve` processes on one
//! PostgreSQL each event is delivered once and each periodic job runs once
//! per period, and both nodes keep their audit witness complete.

use crate::banks::{card_number, reserved_phone};
use crate::cards::bound_card;
use crate::{Server, databases, start_with};
use idlink_core::ports::outbox::{OutboxState, OutboxStore};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Fast retries, none of them the last, and a breaker that does not open (its own tests cover it).
const FAST: [(&str, &str); 5] = [
    ("IDLINK__OUTBOX__POLL_MS", "50"),
    ("IDLINK__OUTBOX__BACKOFF_BASE_MS", "200"),
    ("IDLINK__OUTBOX__BACKOFF_MAX_SECS", "1"),
    ("IDLINK__OUTBOX__MAX_ATTEMPTS", "1000"),
    ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100000"),
];

/// Runs an `idlink` command without blocking the runtime (the in-process
/// server's worker must be able to finish a transaction meanwhile).
async fn run_idlink(env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink")).args(args).envs(env.iter().cloned()).output().await;
    let out = out.unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A line of `idlink outbox list`.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    kind: String,
    state: String,
    user: String,
    attempts: u32,
    last_error: String,
    line: String,
}

async fn listed(s: &Server, dead: bool) -> Vec<Listed> {
    let args: &[&str] = if dead { &["outbox", "list", "--dead"] } else { &["outbox", "list"] };
    let (code, out) = run_idlink(&s.cli_env(), args).await;
    assert_eq!(code, 0, "{}: {out}", s.kind);
    out.lines()
        .filter(|l| l.starts_with("evt_"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            Listed {
                id: field(0).to_owned(),
                kind: field(1).to_owned(),
                state: field(2).to_owned(),
                user: field(3).trim_start_matches("user ").to_owned(),
                attempts: field(4).trim_start_matches("attempts ").parse().unwrap_or(0),
                last_error: field(7).trim_start_matches("last error: ").to_owned(),
                line: l.to_owned(),
            }
        })
        .collect()
}

/// Polls `idlink outbox list` until an event satisfies `want`.
async fn wait_listed(s: &Server, dead: bool, what: &str, want: impl Fn(&Listed) -> bool) -> Listed {
    let mut last = Vec::new();
    for _ in 0..60 {
        last = listed(s, dead).await;
        if let Some(e) = last.iter().find(|e| want(e)) {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{}: no listed event {what}: {last:?}", s.kind)
}

async fn sandbox_call(s: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", s.sandbox));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "sandbox {path}: {}", res.status());
    res.json().await.unwrap_or_default()
}

async fn sms_outage(s: &Server) {
    sandbox_call(s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "sms", "minutes": 30}))).await;
}

/// The messages of `template` in the inbox of `phone`.
async fn messages(s: &Server, phone: &str, template: &str) -> Vec<Value> {
    let inbox = s.inbox(phone).await;
    inbox["messages"].as_array().cloned().unwrap_or_default().into_iter().filter(|m| m["template"] == template).collect()
}

#[tokio::test]
async fn a_notification_outlives_an_sms_outage_and_restarts_and_is_delivered_once_the_gateway_is_back() {
    for db in databases().await {
        let mut s = start_with(db, &FAST).await;
        let (token, binding, _) = bound_card(&s, "ICBC").await;
        let owner = reserved_phone(&s, "ICBC").await;
        let number = card_number(&s, "ICBC").await;
        sms_outage(&s).await;
        let r = sandbox_call(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/report-lost"), None).await;
        assert_eq!(r["callback"]["delivered"], true, "{r}");

        // The binding ended at once; the SMS waits in the outbox, retried while the gateway is down.
        let e = wait_listed(&s, false, "failing in the outage", |e| e.attempts >= 2 && e.last_error.contains("maintenance")).await;
        assert_eq!((e.kind.as_str(), e.state.as_str()), ("user.sms", "pending"), "{}: {e:?}", s.kind);
        assert!(e.user.starts_with("usr_"), "{e:?}");
        assert!(!e.line.contains(&owner) && !e.line.contains(&number), "{}: no personal data in the listing: {}", s.kind, e.line);
        assert!(messages(&s, &owner, "card_binding_ended_lost").await.is_empty(), "{}: nothing was delivered", s.kind);
        let list: Value = crate::cards::get_json(&s, "/v1/me/cards", &token).await;
        let card = list["cards"].as_array().and_then(|c| c.iter().find(|c| c["id"] == binding.as_str())).cloned().unwrap_or_default();
        assert_eq!(card["end_reason"], "card_reported_lost", "{}: {list}", s.kind);

        // A restart onto a gateway nobody answers: the event is still there and still retried.
        s.restart(|c| c.connectors.sms.url = "http://127.0.0.1:9".into()).await;
        let before = e.attempts;
        let e2 = wait_listed(&s, false, "failing after the restart", |x| {
            x.id == e.id && x.attempts > before && x.last_error.contains("could not be reached")
        })
        .await;

        // The gateway is back (the sandbox's, after another restart): delivered, once.
        s.restart(|c| c.connectors.sms.url = String::new()).await;
        let inbox = s.sms_delivered(&owner, "card_binding_ended_lost").await;
        let sent = messages(&s, &owner, "card_binding_ended_lost").await;
        assert_eq!(sent.len(), 1, "{}: {inbox}", s.kind);
        assert_eq!(sent[0]["received"], 1, "{}: the gateway got it once: {inbox}", s.kind);
        assert_eq!(sent[0]["params"]["bank"], "ICBC", "{inbox}");
        assert_eq!(sent[0]["params"]["last4"].as_str(), Some(&number[number.len() - 4..]), "{inbox}");
        let item = s.db.store.outbox_item(&event_id(&e.id)).await.ok().flatten().unwrap_or_else(|| panic!("{}: {}", s.kind, e.id));
        assert_eq!(item.state, OutboxState::Delivered, "{}: {item:?}", s.kind);
        assert!(item.attempts > e2.attempts, "{}: {item:?}", s.kind);
        assert!(listed(&s, false).await.iter().all(|x| x.id != e.id), "{}: no longer waiting", s.kind);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_dead_letter_is_listed_and_retried_from_the_command_line() {
    for db in databases().await {
        let extra = [
            ("IDLINK__OUTBOX__POLL_MS", "50"),
            ("IDLINK__OUTBOX__BACKOFF_BASE_MS", "100"),
            ("IDLINK__OUTBOX__MAX_ATTEMPTS", "2"),
            ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100000"),
        ];
        let mut s = start_with(db, &extra).await;
        bound_card(&s, "ICBC").await;
        let owner = reserved_phone(&s, "ICBC").await;
        let number = card_number(&s, "ICBC").await;
        sms_outage(&s).await;
        sandbox_call(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/report-lost"), None).await;

        let dead = wait_listed(&s, true, "dead", |_| true).await;
        assert_eq!((dead.state.as_str(), dead.attempts), ("dead", 2), "{}: {dead:?}", s.kind);
        assert!(dead.last_error.starts_with("attempt 2 of 2: ") && dead.last_error.contains("maintenance"), "{}: {dead:?}", s.kind);
        assert!(listed(&s, false).await.iter().any(|e| e.id == dead.id), "{}: dead letters are among the undelivered", s.kind);
        let (_, out) = run_idlink(&s.cli_env(), &["outbox", "list", "--dead"]).await;
        assert!(out.contains("0 waiting, 1 dead"), "{}: {out}", s.kind);
        // Parked: no further attempt, and nothing readable in the table.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let still = s.db.store.outbox_item(&event_id(&dead.id)).await.ok().flatten().unwrap_or_else(|| panic!("{}", dead.id));
        assert_eq!((still.state, still.attempts), (OutboxState::Dead, 2), "{}", s.kind);
        let dump = idlink_store::testing::dump_table(&s.db.store, "outbox").await.unwrap_or_else(|e| panic!("{e}"));
        for secret in [owner.as_str(), number.as_str(), "card_binding_ended_lost"] {
            assert!(!dump.contains(secret), "{}: the outbox holds `{secret}` in clear: {dump}", s.kind);
        }

        // The gateway is back; the operator sends it again.
        sandbox_call(&s, Method::DELETE, "/sandbox/v1/maintenance/sms", None).await;
        let (code, out) = run_idlink(&s.cli_env(), &["outbox", "retry", &dead.id]).await;
        assert_eq!(code, 0, "{}: {out}", s.kind);
        assert!(out.contains("is due now"), "{out}");
        let inbox = s.sms_delivered(&owner, "card_binding_ended_lost").await;
        assert_eq!(messages(&s, &owner, "card_binding_ended_lost").await.len(), 1, "{}: {inbox}", s.kind);
        let mut delivered = None;
        for _ in 0..40 {
            delivered = s.db.store.outbox_item(&event_id(&dead.id)).await.ok().flatten();
            if delivered.as_ref().is_some_and(|d| d.state == OutboxState::Delivered) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let delivered = delivered.unwrap_or_else(|| panic!("{}", dead.id));
        assert_eq!((delivered.state, delivered.attempts), (OutboxState::Delivered, 1), "{}: a fresh count of attempts", s.kind);
        assert!(listed(&s, true).await.is_empty(), "{}", s.kind);

        let (code, out) = run_idlink(&s.cli_env(), &["outbox", "retry", &dead.id]).await;
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains("delivered already"), "{out}");
        let (code, out) = run_idlink(&s.cli_env(), &["outbox", "retry", "evt_nope"]).await;
        assert_eq!((code, out.contains("no outbox event evt_nope")), (1, true), "{out}");
        // Every periodic job ran on this (only) node, which holds each lease.
        let (code, out) = run_idlink(&s.cli_env(), &["jobs", "list"]).await;
        assert_eq!(code, 0, "{out}");
        let node = s.running.as_ref().map(|r| r.node.clone()).unwrap_or_default();
        for job in ["audit_checkpoint", "review_sla", "idempotency_purge", "outbox_housekeeping"] {
            assert!(out.lines().any(|l| l.starts_with(job) && l.contains(&format!("holder {node}\t"))), "{}: {job}: {out}", s.kind);
        }
        // The operator's retry is in the audit log, under the user it concerns.
        let records = idlink_core::ports::audit::AuditStore::audit_records(&s.db.store, 0, 10_000).await.unwrap_or_default();
        let retry = records.iter().find(|r| r.entry.action == "outbox.retry").unwrap_or_else(|| panic!("{}: no retry record", s.kind));
        assert_eq!((retry.entry.actor.as_str(), retry.entry.subject.as_deref()), ("cli", Some(dead.user.as_str())), "{}", s.kind);
        s.stop().await;
    }
}

/// A `idlink serve` process.
struct Node {
    child: tokio::process::Child,
    base: String,
    sandbox: Option<String>,
}

async fn spawn_node(env: &[(String, String)], log: &Path) -> Node {
    use tokio::io::AsyncBufReadExt;
    let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
        .arg("serve")
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout"))).lines();
    let (mut base, mut sandbox) = (None, None);
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.trim_start().strip_prefix("sandbox:") {
            sandbox = rest.trim().split("/sandbox/v1").next().map(str::to_owned);
        }
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_owned());
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Node { child, base: base.unwrap_or_else(|| panic!("the node did not start")), sandbox }
}

impl Node {
    /// A clean stop (SIGTERM): in-flight work finishes, the last checkpoint is signed.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }

    /// A counter or gauge from `/metrics` (0 when absent).
    async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
        text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
    }
}

const JOBS: [(&str, u64); 4] = [("audit_checkpoint", 1), ("review_sla", 1), ("outbox_housekeeping", 1), ("idempotency_purge", 2)];

/// Two nodes on one PostgreSQL: each outbox event is delivered once (by
/// either), each periodic job runs once per period (not once per node), and
/// each node's witness holds the checkpoints, though one node signs them.
#[tokio::test]
async fn two_nodes_deliver_each_event_once_and_run_each_job_once_per_period() {
    for db in databases().await.into_iter().filter(|d| d.kind == "postgres") {
        let dir = std::env::temp_dir().join(format!("idlink-two-nodes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let d = dir.display().to_string();
        let common: Vec<(String, String)> = [
            ("IDLINK__DATABASE__URL", db.url.as_str()),
            ("IDLINK__SERVER__DATA_DIR", d.as_str()),
            ("IDLINK__SERVER__LISTEN", "127.0.0.1:0"),
            ("IDLINK__SERVER__REQUEST_TIMEOUT_SECS", "3"),
            ("IDLINK__SERVER__IDEMPOTENCY_STALE_AFTER_SECS", "4"),
            ("IDLINK__SERVER__IDEMPOTENCY_TTL_SECS", "5"),
            ("IDLINK__AUDIT__CHECKPOINT_INTERVAL_SECS", "1"),
            ("IDLINK__AUDIT__CHECKPOINT_GRACE_SECS", "4"),
            ("IDLINK__REVIEW__SLA_CHECK_SECS", "1"),
            ("IDLINK__OUTBOX__HOUSEKEEPING_SECS", "1"),
            ("IDLINK__OUTBOX__POLL_MS", "50"),
            ("IDLINK__OUTBOX__BATCH", "1"),
            ("IDLINK__LOGIN__RESEND_INTERVAL_SECS", "0"),
            ("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR", "50"),
            ("IDLINK__PAYMENT_PASSWORD__MEMORY_KIB", "2048"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let with = |extra: &[(&str, String)]| {
            let mut env = common.clone();
            env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            env
        };
        let env_a = with(&[
            ("IDLINK__SANDBOX__LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__SANDBOX__DIRECT_LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__AUDIT__WITNESS_DIR", format!("{d}/witness-a")),
        ]);
        let a = spawn_node(&env_a, &dir.join("node-a.log")).await;
        let sandbox = a.sandbox.clone().unwrap_or_else(|| panic!("node a runs the sandbox"));
        // Node b has no sandbox of its own: it reaches node a's institutions.
        let env_b = with(&[
            ("IDLINK__SANDBOX__ENABLED", "false".into()),
            ("IDLINK__CONNECTORS__SMS__URL", sandbox.clone()),
            ("IDLINK__CONNECTORS__FACE__URL", sandbox.clone()),
            ("IDLINK__CONNECTORS__REGISTRY__URL", sandbox.clone()),
            ("IDLINK__CONNECTORS__BUREAU__URL", sandbox.clone()),
            ("IDLINK__CONNECTORS__BANK__SWITCH_URL", sandbox.clone()),
            ("IDLINK__AUDIT__WITNESS_DIR", format!("{d}/witness-b")),
        ]);
        let b = spawn_node(&env_b, &dir.join("node-b.log")).await;
        let started = Instant::now();
        let runs_before = job_runs_of(&db).await;

        let (code, token) = run_idlink(&env_a, &["apikey", "create", "--name", "two", "--scopes", "users:read,users:write"]).await;
        assert_eq!(code, 0, "{token}");
        let token = token.lines().next().unwrap_or("").trim().to_owned();
        let config = idlink::config::load(None, env_a.clone()).unwrap_or_else(|e| panic!("{e:#}"));
        let s = Server { running: None, base: a.base.clone(), sandbox, token, kind: db.kind, config, db, data_dir: dir.clone() };

        // Twelve events, each from a bank callback to node a, each an SMS to deliver.
        bound_card(&s, "ICBC").await;
        let owner = reserved_phone(&s, "ICBC").await;
        let number = card_number(&s, "ICBC").await;
        for _ in 0..6 {
            for _ in 0..3 {
                sandbox_call(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/wrong-password"), None).await;
            }
            sandbox_call(&s, Method::POST, &format!("/sandbox/v1/cards/{number}/password-reset"), None).await;
        }
        let templates = ["card_balance_suspended", "card_balance_resumed"];
        let mut sent = Vec::new();
        for _ in 0..100 {
            sent = Vec::new();
            for t in templates {
                sent.extend(messages(&s, &owner, t).await);
            }
            if sent.len() >= 12 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(sent.len(), 12, "every event delivered: {sent:?}");
        assert!(sent.iter().all(|m| m["received"] == 1), "the gateway got each once: {sent:?}");
        let count = |sql: &str| {
            let store = s.db.store.clone();
            let sql = sql.to_owned();
            async move { idlink_store::testing::query_text(&store, &sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")) }
        };
        // The gateway answers before the worker records the delivery: wait for the records.
        // Only the SMS: the card changes' lifecycle events (security events to apps) are in the outbox too.
        let delivered_once = "SELECT COUNT(*) FROM outbox WHERE kind = 'user.sms' AND state = 'delivered' AND attempts = 1";
        for _ in 0..50 {
            if count(delivered_once).await == "12" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(count(delivered_once).await, "12");
        assert_eq!(count("SELECT COUNT(*) FROM outbox WHERE kind = 'user.sms'").await, "12");
        let by_a = count(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'user.sms' AND claimed_by IN (SELECT claimed_by FROM outbox WHERE kind = 'user.sms' LIMIT 1)",
        )
        .await;
        eprintln!("one node delivered {by_a} of the 12 events, the other the rest");
        let kind = "idlink_outbox_deliveries_total{kind=\"user.sms\"}";
        let delivered = a.metric(kind).await + b.metric(kind).await;
        assert_eq!(delivered, 12.0, "deliveries counted once across the nodes");

        // The periodic jobs, over the whole time both nodes ran.
        let wait = Duration::from_secs(6).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let runs_after = job_runs_of(&s.db).await;
        let elapsed = started.elapsed().as_secs_f64();
        for (job, period) in JOBS {
            let ran = runs_after.get(job).copied().unwrap_or(0) - runs_before.get(job).copied().unwrap_or(0);
            let periods = elapsed / period as f64;
            assert!(
                (ran as f64) <= periods.ceil() + 1.0 && (ran as f64) >= (periods - 3.0).max(1.0),
                "{job}: {ran} runs in {elapsed:.1} s with a period of {period} s on two nodes: {runs_after:?}"
            );
            let per_node = (
                a.metric(&format!("idlink_job_runs_total{{job=\"{job}\"}}")).await,
                b.metric(&format!("idlink_job_runs_total{{job=\"{job}\"}}")).await,
            );
            eprintln!("{job}: {ran} runs in {elapsed:.1} s (node a {}, node b {})", per_node.0, per_node.1);
        }
        let b_signed = b.metric("idlink_job_runs_total{job=\"audit_checkpoint\"}").await;
        let breached = "idlink_review_sla_breached{kind=\"verification\"}";
        assert_eq!(a.metric(breached).await + b.metric(breached).await, 0.0, "the gauge is not summed over nodes");

        // Node a stops: node b takes the jobs over once node a's leases lapse.
        a.stop().await;
        let series = "idlink_job_runs_total{job=\"review_sla\"}";
        let before = b.metric(series).await;
        let mut after = before;
        for _ in 0..60 {
            after = b.metric(series).await;
            if after > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(after > before, "node b never took the review SLA job over: {before} → {after}");
        // Both nodes stopped cleanly; each one's witness verifies the chain.
        b.stop().await;
        for node in ["a", "b"] {
            let mut env = s.cli_env();
            env.push(("IDLINK__AUDIT__WITNESS_DIR".into(), format!("{d}/witness-{node}")));
            env.push(("IDLINK__AUDIT__CHECKPOINT_GRACE_SECS".into(), "4".into()));
            env.push(("IDLINK__SERVER__REQUEST_TIMEOUT_SECS".into(), "3".into()));
            env.push(("IDLINK__AUDIT__CHECKPOINT_INTERVAL_SECS".into(), "1".into()));
            let (code, out) = run_idlink(&env, &["audit", "verify"]).await;
            assert_eq!(code, 0, "node {node}'s witness: {out}");
            let witnessed = std::fs::read_to_string(dir.join(format!("witness-{node}/checkpoints.jsonl"))).unwrap_or_default();
            eprintln!("node {node}'s witness: {} checkpoints", witnessed.lines().count());
            // Node b signed nothing (unless it had to take over): what its witness holds, it caught up from node a.
            assert!(witnessed.lines().count() >= 1, "node {node} keeps its witness (node b signed {b_signed} times): {witnessed}");
        }
        let signed_by = idlink_core::ports::audit::AuditStore::checkpoints(&s.db.store).await.unwrap_or_default().len();
        eprintln!("{signed_by} checkpoints signed in {elapsed:.1} s");
    }
}

async fn job_runs_of(db: &idlink_store::testing::TestDb) -> BTreeMap<String, u64> {
    let leases = idlink_core::ports::leases::LeaseStore::leases(&db.store).await.unwrap_or_else(|e| panic!("{e}"));
    leases.into_iter().map(|l| (l.job, l.runs)).collect()
}

/// An event id as listed by the CLI.
fn event_id(id: &str) -> idlink_domain::EventId {
    idlink_domain::EventId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}
