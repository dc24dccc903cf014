//! The `idlink` binary's commands, run as a user would run them.
//!
//! The tests run on a multi-thread runtime: a command blocks the test's
//! thread while it runs, and the in-process server's background work (job
//! leases, the outbox) must be able to finish a transaction meanwhile, or
//! the command waits for a lock that thread holds.

use crate::{Server, sqlite_server};
use reqwest::Method;
use std::process::Command;

pub(crate) fn idlink(s: &Server, args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_idlink")).args(args).envs(s.cli_env()).output().unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_exits_zero_when_intact_and_names_the_first_bad_record() {
    let s = sqlite_server().await;
    for phone in ["13833330001", "13833330002", "13833330003"] {
        let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 201);
    }
    let (code, out, err) = idlink(&s, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = idlink(&s, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact") && out.contains("1 signed checkpoints"), "{out}");

    idlink_store::testing::execute(&s.db.store, "DROP TRIGGER audit_log_no_update").await.unwrap_or_else(|e| panic!("{e}"));
    idlink_store::testing::execute(&s.db.store, "UPDATE audit_log SET purpose = 'fraud' WHERE seq = 3")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, out, _) = idlink(&s, &["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at record 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_split_and_combine_recover_the_master_key() {
    let s = sqlite_server().await;
    let (code, shares, err) = idlink(&s, &["keys", "split", "-k", "3", "-n", "5"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = shares.lines().collect();
    assert_eq!(lines.len(), 5);
    let out_file = s.config.server.data_dir.join("recovered.toml");
    let out_path = out_file.display().to_string();
    let (code, out, err) = idlink(&s, &["keys", "combine", "--out", &out_path, lines[4], lines[0], lines[2]]);
    assert_eq!(code, 0, "{out}{err}");
    let original = std::fs::read_to_string(s.config.master_key_file()).unwrap_or_default();
    let recovered = std::fs::read_to_string(&out_file).unwrap_or_default();
    assert_eq!(original, recovered, "the recovered keyring is the original one");

    let (code, _, err) = idlink(&s, &["keys", "combine", "--out", &format!("{out_path}.2"), lines[0], lines[1]]);
    assert_eq!(code, 2);
    assert!(err.contains("3 shares are needed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_rewraps_while_the_server_keeps_reading() {
    let s = sqlite_server().await;
    let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": "13844440001" })).send().await;
    let user: serde_json::Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let id = user["id"].as_str().unwrap_or("").to_owned();

    let (code, out, err) = idlink(&s, &["keys", "rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    // The user's key and 4 system keys (the OpenID signing keys, sealed under
    // sys-oidc-signing, are made on first use, and no app was served here).
    assert!(out.contains("re-wrapped 5 data keys"), "user key + 4 system keys: {out}");
    let (_, status, _) = idlink(&s, &["keys", "status"]);
    assert!(status.contains("(active): fingerprint") && status.contains("wraps 5 keys") && status.contains("wraps 0 keys"), "{status}");

    // The running server has never seen the new master key; it re-reads the keyring on demand.
    let got = s.authed(Method::GET, &format!("/v1/users/{id}")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.status().as_u16(), 200);
    let got: serde_json::Value = got.json().await.unwrap_or_default();
    assert_eq!(got["phone"], "138****0001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_managed_from_the_command_line() {
    let s = sqlite_server().await;
    let (code, token, err) = idlink(&s, &["apikey", "create", "--name", "host app", "--scopes", "users:read,audit:read"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shown once"), "{err}");
    let token = token.trim().to_owned();
    let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(&token).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);

    let (_, list, _) = idlink(&s, &["apikey", "list"]);
    let id = token.split('.').next().unwrap_or("");
    assert!(list.contains(id) && list.contains("host app") && list.contains("active"), "{list}");
    assert!(!list.contains(token.split('.').nth(1).unwrap_or("-")), "the secret is never listed");

    // Rotation: a new token, both work for the overlap; the list says which replaces which.
    let (code, rotated, err) = idlink(&s, &["apikey", "rotate", id, "--overlap-hours", "2", "--expires-in-days", "90"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shown once") && err.contains(&format!("replacing {id}")), "{err}");
    let rotated = rotated.trim().to_owned();
    let new_id = rotated.split('.').next().unwrap_or("").to_owned();
    for t in [&token, &rotated] {
        let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(t).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "both keys work in the overlap");
    }
    let (_, list, _) = idlink(&s, &["apikey", "list"]);
    let old_line = list.lines().find(|l| l.starts_with(id)).unwrap_or_default();
    assert!(old_line.contains("works until") && old_line.contains("last used"), "{list}");
    let new_line = list.lines().find(|l| l.starts_with(&new_id)).unwrap_or_default();
    assert!(new_line.contains("host app") && new_line.contains(&format!("replaces {id}")) && new_line.contains("works until"), "{list}");
    let (code, _, err) = idlink(&s, &["apikey", "rotate", id]);
    assert_eq!(code, 1, "a key is rotated once");
    assert!(err.contains(&format!("its successor is {new_id}")), "{err}");

    let (code, _, _) = idlink(&s, &["apikey", "revoke", id]);
    assert_eq!(code, 0);
    let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(&token).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 401);

    let (code, _, err) = idlink(&s, &["apikey", "create", "--name", "x", "--scopes", "users:delete"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown scope `users:delete`"), "{err}");
}

/// `idlink retention` and `idlink hold`: the rules, a purge now (nothing due
/// on a new installation), a hold placed on a user (refused for nobody),
/// listed, released once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_legal_holds_from_the_command_line() {
    let s = sqlite_server().await;
    let res = s.authed(reqwest::Method::POST, "/v1/users").json(&serde_json::json!({ "phone": "13800138555" })).send().await;
    let user: serde_json::Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let user = user["id"].as_str().unwrap_or_default().to_owned();

    let (code, hold, err) = idlink(&s, &["hold", "place", "--user", &user, "--reason", "dispute", "--reference", "DSP-7"]);
    assert_eq!(code, 0, "{err}");
    let hold = hold.trim().to_owned();
    assert!(hold.starts_with("hold_") && err.contains(&user), "{hold} {err}");
    let (code, _, err) =
        idlink(&s, &["hold", "place", "--user", "usr_0123456789abcdef0123456789abcdef", "--reason", "dispute", "--reference", "X"]);
    assert_eq!(code, 2, "a hold on nobody is refused");
    assert!(err.contains("no user with this id"), "{err}");
    let (code, _, err) = idlink(&s, &["hold", "place", "--user", &user, "--reason", "curiosity", "--reference", "X"]);
    assert_eq!(code, 2);
    assert!(err.contains("dispute, authority, litigation"), "{err}");

    let (code, status, err) = idlink(&s, &["retention", "status"]);
    assert_eq!(code, 0, "{err}");
    for want in ["audit_log\tkeep 5 years (`audit.retention_years`", "sign_ins\tkeep 6 months", "credit_files\tkeep 180 days", &hold] {
        assert!(status.contains(want), "{want} in {status}");
    }
    let (code, purged, err) = idlink(&s, &["retention", "purge"]);
    assert_eq!(code, 0, "{err}");
    assert!(purged.contains("purged: 0 balance queries, 0 sign-ins, 0 credit-report files, 0 audit periods"), "{purged}");

    assert_eq!(idlink(&s, &["hold", "release", &hold]).0, 0);
    assert_eq!(idlink(&s, &["hold", "release", &hold]).0, 1, "released once");
    let (_, list, _) = idlink(&s, &["hold", "list"]);
    assert!(!list.contains(&hold), "{list}");
    let (_, list, _) = idlink(&s, &["hold", "list", "--all"]);
    assert!(list.contains(&hold) && list.contains("released"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_naming_the_key() {
    let s = sqlite_server().await;
    let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(["migrate"])
        .envs(s.cli_env())
        .env("IDLINK__SERVER__LISTN", "127.0.0.1:1")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listn"), "{err}");
}

/// `idlink sandbox` serves the sandbox institutions alone, with the banks'
/// direct channel and its certificates generated in the data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_runs_alone() {
    use tokio::io::AsyncBufReadExt;
    let dir = std::env::temp_dir().join(format!("idlink-sandbox-{}", std::process::id()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env("IDLINK__SERVER__DATA_DIR", &dir)
        .env("IDLINK__SANDBOX__DIRECT_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut base = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_owned());
            break;
        }
    }
    let base = base.unwrap_or_else(|| panic!("no `listening on` line"));
    let index: serde_json::Value =
        reqwest::get(format!("{base}/sandbox/v1")).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert!(index["institutions"]["sms"].is_object() && index["institutions"]["face"].is_object(), "{index}");
    assert!(dir.join("sandbox-pki").join("idlink-client.pem").exists(), "certificates generated at first start");
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `idlink` in `cwd` with exactly the given `IDLINK__…` environment (none inherited).
fn idlink_in(cwd: &std::path::Path, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .output()
        .unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("idlink-{name}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn rand_suffix() -> String {
    idlink_crypto::Random::bytes16(&idlink_crypto::OsRandom)[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Every command takes `--data-dir` (before or after the subcommand), like
/// `serve`: run from a directory where `./var` does not exist, the commands
/// that need the master keyring find it only through the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_takes_the_data_dir_flag() {
    for db in crate::databases().await {
        let s = crate::start_on_db(db).await;
        let data_dir = s.config.server.data_dir.display().to_string();
        let elsewhere = scratch_dir("cwd");
        let env = vec![
            ("IDLINK__DATABASE__URL".to_owned(), s.db.url.clone()),
            ("IDLINK__CRYPTO__GENERATE_DEV_KEY".to_owned(), "false".to_owned()),
        ];
        let run = |args: &[&str]| idlink_in(&elsewhere, &env, args);

        for args in [
            vec!["audit", "verify", "--data-dir", &data_dir],
            vec!["--data-dir", &data_dir, "audit", "checkpoint"],
            vec!["keys", "status", "--data-dir", &data_dir],
            vec!["migrate", "--data-dir", &data_dir],
            vec!["apikey", "list", "--data-dir", &data_dir],
            vec!["operator", "create", "--username", "ops", "--roles", "auditor", "--data-dir", &data_dir],
        ] {
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{} {args:?}: {out}{err}", s.kind);
        }
        let (code, token, err) = run(&["apikey", "create", "--name", "flag", "--scopes", "audit:read", "--data-dir", &data_dir]);
        assert_eq!(code, 0, "{}: {err}", s.kind);
        let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(token.trim()).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "the key made with --data-dir works on the server");
        assert!(!elsewhere.join("var").exists(), "nothing was written to ./var");

        // Without the flag the keyring is looked for in ./var, which is not here.
        let (code, out, err) = run(&["audit", "verify"]);
        assert_eq!(code, 2, "{}: {out}{err}", s.kind);
        assert!(err.contains("master-keys.toml"), "{err}");
        let _ = std::fs::remove_dir_all(&elsewhere);
    }
}

/// `idlink serve` started with a relative data directory prints an API-key
/// command that works when pasted in another directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_banner_hint_works_from_another_directory() {
    use tokio::io::AsyncBufReadExt;
    for db in crate::databases().await {
        let here = scratch_dir("serve");
        let mut env = vec![
            ("IDLINK__SERVER__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("IDLINK__SANDBOX__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("IDLINK__SANDBOX__DIRECT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("IDLINK__LOG__LEVEL".to_owned(), "warn".to_owned()),
        ];
        // SQLite: the default database inside the data directory; PostgreSQL: its URL from the environment.
        if db.kind == "postgres" {
            env.push(("IDLINK__DATABASE__URL".to_owned(), db.url.clone()));
        }
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["serve", "--data-dir", "relative-var"])
            .current_dir(&here)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().cloned())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let (mut hint, mut env_note, mut base) = (None, None, None);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(h) = line.trim().strip_prefix("API key:") {
                hint = Some(h.trim().to_owned());
            } else if let Some(n) = line.trim().strip_prefix("(with the same environment variables:") {
                env_note = Some(n.to_owned());
            } else if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.to_owned());
                break;
            }
        }
        let (hint, base) = (hint.unwrap_or_else(|| panic!("no API key hint")), base.unwrap_or_else(|| panic!("no listening line")));
        assert!(hint.contains(&format!("--data-dir {}", here.join("relative-var").display())), "absolute data directory: {hint}");
        if db.kind == "postgres" {
            assert!(env_note.as_deref().is_some_and(|n| n.contains("IDLINK__DATABASE__URL")), "the URL's variable is named: {env_note:?}");
        }

        // Paste it somewhere else (with the environment the banner names).
        let elsewhere = scratch_dir("paste");
        let words: Vec<&str> = hint.split_whitespace().collect();
        let db_env: Vec<(String, String)> = env.iter().filter(|(k, _)| k == "IDLINK__DATABASE__URL").cloned().collect();
        let out = Command::new(words[0])
            .args(&words[1..])
            .current_dir(&elsewhere)
            .env_clear()
            .envs(db_env)
            .output()
            .unwrap_or_else(|e| panic!("run {hint}: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {hint}: {stderr}", db.kind);
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let res = reqwest::Client::new()
            .post(format!("{base}/v1/users"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"phone": "13855550001"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{}: the pasted command made a key for the running server", db.kind);
        assert!(!elsewhere.join("relative-var").exists() && !elsewhere.join("var").exists(), "no second data directory");
        let _ = child.kill().await;
        let _ = std::fs::remove_dir_all(&here);
        let _ = std::fs::remove_dir_all(&elsewhere);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_quarterly_writes_a_signed_report_and_verify_names_what_was_changed() {
    let s = sqlite_server().await;
    crate::compliance::seed_queries(&s).await;
    let dir = scratch_dir("report");
    let out_dir = dir.join("2026Q3");
    let out_path = out_dir.display().to_string();
    let (code, _, err) = idlink(&s, &["report", "quarterly", "--quarter", "2026q3", "--out", &out_path]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("e.g. 2026Q4"), "{err}");
    let (code, out, err) = idlink(&s, &["report", "quarterly", "--quarter", "2026Q3", "--out", &out_path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("report 2026Q3: 4 queries; wrote 6 files"), "{out}");
    let (code, out, err) = idlink(&s, &["report", "verify", &out_path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("report 2026Q3 verified: 4 queries"), "{out}");

    // The API serves the very report the command filed.
    let manifest = std::fs::read(out_dir.join("manifest.json")).unwrap_or_default();
    let (_, again, _) = idlink(&s, &["report", "quarterly", "--quarter", "2026Q3", "--out", &format!("{out_path}-again")]);
    assert!(again.contains("4 queries"), "{again}");
    assert_eq!(std::fs::read(dir.join("2026Q3-again/manifest.json")).unwrap_or_default(), manifest, "filed once, the same bytes after");

    // One changed byte of the CSV, a row dropped from the JSON, another key.
    let csv = out_dir.join("queries.csv");
    let mut bytes = std::fs::read(&csv).unwrap_or_default();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    std::fs::write(&csv, bytes).unwrap_or_else(|e| panic!("{e}"));
    let (code, out, _) = idlink(&s, &["report", "verify", &out_path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT verified") && out.contains("queries.csv: SHA-256"), "{out}");
    assert!(!out.contains("queries.json"), "only what changed is named: {out}");
    let other = idlink_crypto::signing::Ed25519Signer::from_seed(&[1; 32]).public_hex();
    let (code, out, _) = idlink(&s, &["report", "verify", &out_path, "--public-key", &other]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("manifest.sig: the signature of manifest.json does not verify"), "{out}");
    std::fs::remove_file(out_dir.join("manifest.sig")).unwrap_or_else(|e| panic!("{e}"));
    let (code, out, _) = idlink(&s, &["report", "verify", &out_path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("manifest.sig is missing"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
