//! The audit chain end to end (SPEC P7, issue 10): a real server signs its
//! chain every interval into the database and the witness file; `idlink
//! audit verify` and `GET /v1/audit/verify` catch every truncation an
//! attacker with write access to the database can make (after dropping the
//! append-only triggers, as they would).
//!
//! Multi-thread runtimes: an `idlink` command blocks the test's thread, and
//! the in-process server's background work must be able to finish a
//! transaction meanwhile (see `cli.rs`).

use crate::{Server, databases, start_full, start_with};
use idlink::serve::{self, Runtime};
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::audit::{AuditEntry, GENESIS_HASH, record_hash};
use idlink_store::Backend;
use idlink_store::testing::{self, TestDb};
use reqwest::Method;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run_idlink(env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idlink")).args(args).envs(env.iter().cloned()).output();
    let out = out.unwrap_or_else(|e| panic!("run idlink: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn idlink(s: &Server, args: &[&str]) -> (i32, String) {
    run_idlink(&s.cli_env(), args)
}

async fn sql(db: &TestDb, sql: &str) {
    testing::execute(&db.store, sql).await.unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.kind));
}

/// What an attacker with write access to the database does first.
pub(crate) async fn drop_guards(db: &TestDb) {
    let drops: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_checkpoints_no_update",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER audit_log_no_change ON audit_log",
            "DROP TRIGGER audit_log_no_delete ON audit_log",
            "DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints",
        ],
    };
    for d in drops {
        sql(db, d).await;
    }
}

async fn head(db: &TestDb) -> (i64, String) {
    db.store.audit_head().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn hash_of(db: &TestDb, seq: i64) -> String {
    let r = db.store.audit_records(seq - 1, 1).await.unwrap_or_else(|e| panic!("{e}"));
    r.first().filter(|r| r.seq == seq).map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone())
}

/// Cuts the chain after `keep`, with the checkpoints above, and moves the head back.
async fn cut_after(db: &TestDb, keep: i64) {
    let hash = hash_of(db, keep).await;
    sql(db, &format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
    sql(db, &format!("DELETE FROM audit_checkpoints WHERE seq > {keep}")).await;
    sql(db, &format!("UPDATE audit_head SET seq = {keep}, hash = '{hash}' WHERE id = 1")).await;
}

async fn create_users(s: &Server, phones: &[&str]) {
    for phone in phones {
        let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 201, "{}", s.kind);
    }
}

async fn verify_http(s: &Server) -> serde_json::Value {
    let res = s.authed(Method::GET, "/v1/audit/verify").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
    res.json().await.unwrap_or_default()
}

fn witness_file(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-witness").join("checkpoints.jsonl")
}

fn witness_lines(data_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(witness_file(data_dir)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("witness line {l}: {e}"))).collect()
}

/// A freshly started server has written no record: the chain verifies; the
/// first record (an API key) waits for the next checkpoint; shutdown signs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freshly_started_server_with_no_records_verifies() {
    for db in databases().await {
        let data_dir = std::env::temp_dir().join(format!("idlink-e2e-fresh-{}-{}", std::process::id(), db.kind));
        let _ = std::fs::remove_dir_all(&data_dir);
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
        let dir = data_dir.display().to_string();
        let cli_env =
            env(&[("IDLINK__DATABASE__URL", &db.url), ("IDLINK__SERVER__DATA_DIR", &dir), ("IDLINK__CRYPTO__GENERATE_DEV_KEY", "false")]);
        let server_env = env(&[
            ("IDLINK__SERVER__LISTEN", "127.0.0.1:0"),
            ("IDLINK__SANDBOX__LISTEN", "127.0.0.1:0"),
            ("IDLINK__SANDBOX__DIRECT_LISTEN", "127.0.0.1:0"),
            // Registering the demo app would be the first records.
            ("IDLINK__SANDBOX__DEMO_APP", "false"),
            ("IDLINK__DATABASE__URL", &db.url),
            ("IDLINK__SERVER__DATA_DIR", &dir),
        ]);
        let config = idlink::config::load(None, server_env).unwrap_or_else(|e| panic!("{e:#}"));
        let running = serve::start(&config, Runtime::default()).await.unwrap_or_else(|e| panic!("{e:#}"));
        assert!(witness_file(&data_dir).exists(), "{}: the witness is created at start", db.kind);

        let (code, out) = run_idlink(&cli_env, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", db.kind);
        assert!(out.contains("audit chain intact: 0 records, 0 signed checkpoints"), "{out}");
        assert!(out.contains("audit-witness/checkpoints.jsonl: 0 checkpoints"), "{out}");

        let rt = Runtime::default();
        let scopes = ["audit:read".to_owned()];
        let (_, token) = idlink_core::apikeys::create(
            &running.store,
            &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
            rt.clock.as_ref(),
            "auditor",
            &scopes,
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let res = reqwest::Client::new().get(format!("http://{}/v1/audit/verify", running.api_addr)).bearer_auth(&token).send().await;
        let report: serde_json::Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        assert_eq!(report["status"], "intact", "{}: {report}", db.kind);
        assert_eq!((report["records"].as_u64(), report["unsigned_records"].as_u64()), (Some(1), Some(1)), "{report}");

        running.shutdown().await;
        let (code, out) = run_idlink(&cli_env, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", db.kind);
        assert!(out.contains("1 records, 1 signed checkpoints") && out.contains("1 checkpoints, the newest at record 1"), "{out}");
        assert!(!out.contains("wait for the next checkpoint"), "shutdown signs everything: {out}");
        let _ = std::fs::remove_dir_all(&data_dir);
    }
}

/// A server signing every second while users are created: the chain, its
/// checkpoints and the witness agree, over HTTP and from the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_chain_with_periodic_checkpoints_verifies() {
    for db in databases().await {
        let mut s = start_with(db, &[("IDLINK__AUDIT__CHECKPOINT_INTERVAL_SECS", "1")]).await;
        let data_dir = s.config.server.data_dir.clone();
        for round in 0..8 {
            let phones = [format!("1390000{round:02}01"), format!("1390000{round:02}02")];
            create_users(&s, &[phones[0].as_str(), phones[1].as_str()]).await;
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
        for _ in 0..50 {
            if witness_lines(&data_dir).len() >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let report = verify_http(&s).await;
        assert_eq!(report["status"], "intact", "{}: {report}", s.kind);
        assert!(report["checkpoints"].as_u64().unwrap_or(0) >= 3, "{report}");
        assert!(report["witnessed_checkpoints"].as_u64().unwrap_or(0) >= 3, "{report}");
        assert_eq!(report["late_signings"], serde_json::json!([]), "{report}");
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);

        s.stop().await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);
        assert!(out.contains("audit chain intact") && !out.contains("wait for the next checkpoint"), "{out}");
        // The witness holds exactly the database's checkpoints, line for line.
        let in_db = s.db.store.checkpoints().await.unwrap_or_else(|e| panic!("{e}"));
        let lines = witness_lines(&data_dir);
        assert_eq!(lines.len(), in_db.len(), "{}", s.kind);
        for (line, c) in lines.iter().zip(&in_db) {
            assert_eq!(
                (line["seq"].as_i64(), line["hash"].as_str(), line["signature"].as_str(), line["public_key"].as_str()),
                (Some(c.seq), Some(c.hash.as_str()), Some(c.signature.as_str()), Some(c.public_key.as_str())),
            );
            assert_eq!(line["at"].as_str().map(str::to_owned), Some(c.at.to_string()));
        }
        assert_eq!(in_db.last().map(|c| c.seq), Some(head(&s.db).await.0), "shutdown signs the head");
    }
}

/// The last record deleted while the server runs: with the head kept, the
/// head names it; with the head and the checkpoint moved back too, the
/// witness still holds the checkpoint that signed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_last_record_is_caught_by_the_cli_and_the_api() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        create_users(&s, &["13877770001", "13877770002", "13877770003"]).await;
        let (code, out) = idlink(&s, &["audit", "checkpoint"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("witnessed in file"), "{out}");
        let (last, _) = head(&s.db).await;

        drop_guards(&s.db).await;
        sql(&s.db, &format!("DELETE FROM audit_log WHERE seq = {last}")).await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains(&format!("BROKEN at record {last}")) && out.contains("audit_head"), "{out}");
        let report = verify_http(&s).await;
        assert_eq!(report["status"], "broken", "{report}");
        assert_eq!(report["first_bad_record"], last, "{report}");

        // An attacker moves the head back and removes the checkpoint above the cut.
        let prev = hash_of(&s.db, last - 1).await;
        sql(&s.db, &format!("UPDATE audit_head SET seq = {}, hash = '{prev}' WHERE id = 1", last - 1)).await;
        sql(&s.db, &format!("DELETE FROM audit_checkpoints WHERE seq >= {last}")).await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains(&format!("the witness holds a checkpoint at record {last}")), "{out}");
        let report = verify_http(&s).await;
        assert_eq!(report["status"], "broken", "{report}");
        assert!(report["problem"].as_str().unwrap_or("").contains("witness"), "{report}");
        let (code, out) = idlink(&s, &["audit", "checkpoint"]);
        assert_eq!(code, 1, "the shortened chain is not signed: {out}");
        assert!(out.contains("NOT signed"), "{out}");
    }
}

/// 250 records signed at shutdown; then the last 200, their checkpoint and
/// the head are rolled back in the stopped database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_last_200_records_is_caught() {
    for db in databases().await {
        let mut s = start_with(db, &[]).await;
        create_users(&s, &["13866660001"]).await;
        for i in 0..250 {
            let e = AuditEntry::new("apikey:key_e2e", "user.read", "support", jiff::Timestamp::now()).request(None);
            s.db.store.append_audit(&e).await.unwrap_or_else(|e| panic!("record {i}: {e}"));
        }
        s.stop().await;
        let (last, _) = head(&s.db).await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);

        drop_guards(&s.db).await;
        cut_after(&s.db, last - 200).await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(
            out.contains(&format!("BROKEN at record {}", last - 199)) && out.contains(&format!("checkpoint at record {last}")),
            "{out}"
        );
    }
}

/// Every checkpoint deleted and the chain re-hashed after a changed record:
/// the database alone verifies, the witness does not; with the witness wiped
/// too, a chain with no checkpoint is refused once its records are older
/// than one interval and the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_every_checkpoint_and_rehashing_after_a_changed_record_is_caught() {
    for db in databases().await {
        // The server's clock two hours back: its records are old to the command line's.
        let past = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
        let rt = Runtime {
            clock: std::sync::Arc::new(idlink_core::ports::clock::ManualClock::new(past)),
            rng: std::sync::Arc::new(idlink_crypto::OsRandom),
        };
        let mut s = start_full(db, &[], rt).await;
        create_users(&s, &["13855550001", "13855550002", "13855550003"]).await;
        s.stop().await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);
        assert!(out.contains("1 signed checkpoints"), "{out}");

        drop_guards(&s.db).await;
        let records = s.db.store.audit_records(0, 1000).await.unwrap_or_else(|e| panic!("{e}"));
        let mut prev = GENESIS_HASH.to_owned();
        for mut r in records {
            if r.seq >= 2 {
                if r.seq == 2 {
                    r.entry.purpose = "nothing to see".into();
                }
                r.prev_hash = prev.clone();
                r.hash = record_hash(r.seq, &r.prev_hash, &r.entry);
                let update = format!(
                    "UPDATE audit_log SET purpose = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                    r.entry.purpose, r.prev_hash, r.hash, r.seq
                );
                sql(&s.db, &update).await;
                sql(&s.db, &format!("UPDATE audit_head SET hash = '{}' WHERE seq = {}", r.hash, r.seq)).await;
            }
            prev = r.hash;
        }
        sql(&s.db, "DELETE FROM audit_checkpoints").await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains("rewritten"), "the witnessed checkpoint's hash is not the chain's: {out}");

        std::fs::write(witness_file(&s.config.server.data_dir), "").unwrap_or_else(|e| panic!("{e}"));
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains("BROKEN at record 1") && out.contains("no signed checkpoint at all"), "{out}");
    }
}

/// Records a crashed server left unsigned: named until someone signs them,
/// and the late signing stays visible in every later verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_left_unsigned_by_a_crash_are_named_until_signed_late() {
    for db in databases().await {
        let mut s = start_with(db, &[]).await;
        create_users(&s, &["13844440001"]).await;
        s.stop().await;
        let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        for _ in 0..3 {
            let e = AuditEntry::new("apikey:key_e2e", "user.read", "support", an_hour_ago);
            s.db.store.append_audit(&e).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let (last, _) = head(&s.db).await;
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 1, "{}: {out}", s.kind);
        assert!(out.contains(&format!("records {} to {last} are not covered by a signed checkpoint", last - 2)), "{out}");
        assert!(out.contains("idlink audit checkpoint"), "says what to do: {out}");

        let (code, out) = idlink(&s, &["audit", "checkpoint"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);
        assert!(out.contains(&format!("the late signing is recorded as record {}", last + 1)), "{out}");
        let (code, out) = idlink(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{}: {out}", s.kind);
        assert!(out.contains(&format!("WARNING: records {} to {} were signed", last - 2, last + 1)), "{out}");
    }
}

/// `audit.witness = "http"`: checkpoints go to a remote witness log (here the
/// sandbox's), out of reach of whoever holds idlink's host. Records and the
/// checkpoints above them deleted from the database, with the head moved
/// back, are caught because the log still holds what was signed.
#[tokio::test]
async fn a_remote_witness_log_catches_a_cut_made_on_the_host() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__AUDIT__WITNESS", "http"), ("IDLINK__AUDIT__CHECKPOINT_INTERVAL_SECS", "1")]).await;
        let data_dir = s.config.server.data_dir.clone();
        create_users(&s, &["13877790001", "13877790002", "13877790003"]).await;
        let (target, _) = head(&s.db).await;
        let latest = format!("{}/witness/v1/logs/idlink/latest", s.sandbox);
        let mut witnessed = -1;
        for _ in 0..60 {
            let v: serde_json::Value = reqwest::get(&latest).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
            witnessed = v["checkpoint"]["seq"].as_i64().unwrap_or(-1);
            if witnessed >= target {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(witnessed >= target, "{}: the log received the checkpoint of record {target}", s.kind);
        assert!(!witness_file(&data_dir).exists(), "no local witness file with a remote witness");
        let report = verify_http(&s).await;
        assert_eq!(report["status"], "intact", "{}: {report}", s.kind);
        assert!(report["witnessed_checkpoints"].as_u64().unwrap_or(0) >= 1, "{report}");

        // The log checks what it is sent: a statement not signed by the log's key is refused.
        let forged = serde_json::json!({
            "seq": witnessed + 1, "hash": "00".repeat(32), "at": "2026-11-30T00:00:00Z",
            "public_key": "11".repeat(32), "signature": "22".repeat(64)
        });
        let res = reqwest::Client::new().post(format!("{}/witness/v1/logs/idlink/checkpoints", s.sandbox)).json(&forged).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 422, "{}", s.kind);

        // An attacker on the host cuts the chain back, with its checkpoints and head.
        drop_guards(&s.db).await;
        cut_after(&s.db, 1).await;
        let report = verify_http(&s).await;
        assert_eq!(report["status"], "broken", "{}: {report}", s.kind);
        assert!(report["problem"].as_str().unwrap_or("").contains("witness"), "names the witnessed checkpoint: {report}");
    }
}
