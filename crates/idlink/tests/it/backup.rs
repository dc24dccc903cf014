//! Backups, restores across the two databases (issue 19): `idlink backup`,
//! `idlink backup verify` and `idlink restore`, run as an operator runs them.

use crate::cli::idlink;
use crate::sqlite_server;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// `idlink` against another database (and data directory, for its keyring).
fn idlink_on(url: &str, data_dir: &Path, generate_key: bool, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(args)
        .env("IDLINK__DATABASE__URL", url)
        .env("IDLINK__SERVER__DATA_DIR", data_dir.display().to_string())
        .env("IDLINK__CRYPTO__GENERATE_DEV_KEY", if generate_key { "true" } else { "false" })
        .output()
        .unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every table of a backup file with its rows, sorted: what "identical rows" compares.
fn rows_of(file: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut table = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            out.entry(table.clone()).or_default().push(line.to_owned());
        } else if let Ok(v) = serde_json::from_str::<Value>(line)
            && let Some(name) = v["table"]["name"].as_str()
        {
            table = name.to_owned();
            out.entry(table.clone()).or_default();
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

fn fresh_sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(name).display())
}

/// SQLite → PostgreSQL → SQLite gives identical rows and a chain that
/// verifies; a restore refuses a database that is not empty and a keyring
/// that does not open the backup's keys; a tampered backup fails `verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_goes_from_sqlite_to_postgresql_and_back_with_identical_rows() {
    let s = sqlite_server().await;
    let phone = "13866660001";
    let token = crate::cards::session(&s, phone).await;
    crate::reviews::verify_resident(&s, &token, phone, "张三", "11010519491231002X").await;
    let (code, out, err) = idlink(&s, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{out}{err}");

    let dir = s.data_dir.clone();
    let first = dir.join("first.backup");
    let (code, out, err) = idlink(&s, &["backup", "--out", &first.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backup written") && out.contains("NOT in this backup"), "says the keyring is not in it: {out}");
    let (code, out, err) = idlink(&s, &["backup", "verify", &first.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backup sound"), "{out}");
    let text = std::fs::read_to_string(&first).unwrap_or_default();
    assert!(!text.contains("张三") && !text.contains("11010519491231002X") && !text.contains(phone), "no personal data in clear");

    // Another keyring does not open the backup's keys: stopped at once, nothing left behind;
    // the same database then restores with the right keyring.
    let other_dir = dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap_or_else(|e| panic!("{e}"));
    let other = fresh_sqlite(&other_dir, "other.db");
    let (code, out, err) = idlink_on(&other, &other_dir, true, &["restore", &first.display().to_string()]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("keyring does not open") && err.contains("nothing was restored"), "{out}{err}");
    let keys = idlink_store::SqlStore::connect(&other, &idlink_store::StoreOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.row_count("data_keys").await.ok(), Some(0), "the canary's rows are taken back");
    let (code, out, err) = idlink_on(&other, &dir, false, &["restore", &first.display().to_string()]);
    assert_eq!(code, 0, "with the right keyring: {out}{err}");

    // Tampered backups: a row changed, the file cut short, the header edited, another signer expected.
    let text = std::fs::read_to_string(&first).unwrap_or_default();
    let at = text.find("\n[").map(|i| i + 2).unwrap_or(0);
    let mut changed = text.clone().into_bytes();
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    let cut = text.trim_end().rsplit_once('\n').map(|(head, _)| format!("{head}\n")).unwrap_or_default();
    let header = text.replacen("\"backend\":\"sqlite\"", "\"backend\":\"postgres\"", 1);
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("changed", changed, "differ from those signed"),
        ("cut", cut.into_bytes(), "cut short"),
        ("header", header.into_bytes(), "header differs"),
    ];
    for (name, bytes, says) in cases {
        let tampered = dir.join(format!("{name}.backup"));
        std::fs::write(&tampered, bytes).unwrap_or_else(|e| panic!("{e}"));
        let (code, out, _) = idlink(&s, &["backup", "verify", &tampered.display().to_string()]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("NOT sound") && out.contains(says), "{name}: {out}");
        let fresh = fresh_sqlite(&dir, &format!("{name}.db"));
        let (code, out, err) = idlink_on(&fresh, &dir, false, &["restore", &tampered.display().to_string()]);
        assert_ne!(code, 0, "{name}: {out}{err}");
        assert!(err.contains("did not verify"), "{name}: {out}{err}");
    }
    let (code, out, _) = idlink(&s, &["backup", "verify", &first.display().to_string(), "--public-key", &"ab".repeat(32)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not the expected"), "{out}");

    // Into an empty PostgreSQL database.
    let pg = match idlink_store::testing::postgres().await {
        Ok(Some(db)) => db,
        Ok(None) => return,
        Err(e) => panic!("{e}"),
    };
    let (code, out, err) = idlink_on(&pg.url, &dir, false, &["restore", &first.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit chain intact") && out.contains("restore complete"), "{out}");
    // Not twice: the database is not empty any more.
    let (code, out, err) = idlink_on(&pg.url, &dir, false, &["restore", &first.display().to_string()]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("not empty"), "{out}{err}");

    // From PostgreSQL into a new SQLite database: the same rows as the first.
    let second = dir.join("second.backup");
    let (code, out, err) = idlink_on(&pg.url, &dir, false, &["backup", "--out", &second.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let back = fresh_sqlite(&dir, "back.db");
    let (code, out, err) = idlink_on(&back, &dir, false, &["restore", &second.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let third = dir.join("third.backup");
    let (code, out, err) = idlink_on(&back, &dir, false, &["backup", "--out", &third.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let (a, b, c) = (rows_of(&first), rows_of(&second), rows_of(&third));
    assert!(a.values().map(Vec::len).sum::<usize>() > 20, "the first backup holds the user's rows: {a:?}");
    assert_eq!(a, b, "SQLite → PostgreSQL: identical rows");
    assert_eq!(a, c, "PostgreSQL → SQLite: identical rows");
    let (code, out, err) = idlink_on(&back, &dir, false, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `idlink move`: a stopped embedded deployment copied into PostgreSQL,
/// interrupted by `kill -9` half-way and run again, resumes and completes
/// with every table's row count equal, the chain verified on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_postgresql_killed_half_way_resumes_and_completes() {
    use std::io::Read;
    let mut s = sqlite_server().await;
    for i in 1..=3 {
        let phone = format!("1386667100{i}");
        let login = crate::login::login_ok(&s, &phone, &format!("move-{i}")).await;
        let token = login["session_token"].as_str().unwrap_or("").to_owned();
        crate::reviews::verify_resident(&s, &token, &phone, "张三", &crate::credit::id_number(&phone, "101")).await;
    }
    let (code, out, err) = idlink(&s, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{out}{err}");
    // The cutover's first step: writes stop.
    let env = s.cli_env();
    s.stop().await;
    let pg = match idlink_store::testing::postgres().await {
        Ok(Some(db)) => db,
        Ok(None) => return,
        Err(e) => panic!("{e}"),
    };

    // One row per transaction, killed once it has begun.
    let mut child = Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(["move", "--to", &pg.url, "--batch-rows", "1"])
        .envs(env.clone())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut progress = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
    let mut seen = String::new();
    let mut buf = [0u8; 512];
    while !seen.contains(" left") {
        let n = progress.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    assert!(seen.contains("rows/s") && seen.contains("left"), "a progress line with the rate and the time left: {seen}");
    let tables = s.db.store.tables().await.unwrap_or_else(|e| panic!("{e}"));
    let mut copied = 0;
    let mut all = 0;
    for t in &tables {
        copied += pg.store.row_count(&t.name).await.unwrap_or(0);
        all += s.db.store.row_count(&t.name).await.unwrap_or(0);
    }
    assert!(copied < all, "killed half-way: {copied} of {all} rows copied");

    let out =
        Command::new(env!("CARGO_BIN_EXE_idlink")).args(["move", "--to", &pg.url]).envs(env).output().unwrap_or_else(|e| panic!("{e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("resuming") && stdout.contains("move complete"), "{stdout}{stderr}");
    assert!(
        stdout.contains("before (SQLite): audit chain intact") && stdout.contains("after (PostgreSQL): audit chain intact"),
        "{stdout}"
    );
    for t in tables {
        let (a, b) = (s.db.store.row_count(&t.name).await.unwrap_or(-1), pg.store.row_count(&t.name).await.unwrap_or(-2));
        assert_eq!(a, b, "table {}", t.name);
    }
}

/// `idlink bench seed`: users with everything a real one leaves, encrypted
/// and blind-indexed, their audit records in the one chain, which verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_users_are_whole_encrypted_and_chained() {
    for db in crate::databases().await {
        let mut s = crate::start_with(db, &[]).await;
        let kind = s.kind;
        let env = s.cli_env();
        s.stop().await;
        const TABLES: [&str; 6] = ["users", "identities", "sensitive_consents", "card_bindings", "balance_queries", "devices"];
        let counts = async || {
            let mut n = Vec::new();
            for t in TABLES {
                n.push(s.db.store.row_count(t).await.unwrap_or_else(|e| panic!("{kind}: {e}")));
            }
            n
        };
        let before = counts().await;
        let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["bench", "seed", "--users", "120", "--batch", "50"])
            .envs(env.clone())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{kind}: {stdout}{stderr}");
        assert!(stdout.contains("120 users seeded") && stderr.contains("users/s"), "{kind}: {stdout}{stderr}");
        let after = counts().await;
        let added: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        assert_eq!(added, [120, 120, 600, 120, 360, 120], "{kind}");
        let banks = idlink_store::testing::query_text(&s.db.store, "SELECT COUNT(DISTINCT bank) FROM card_bindings").await;
        assert!(banks.ok().and_then(|b| b.parse::<i64>().ok()).is_some_and(|b| b >= 10), "{kind}: cards of many banks");
        let users = idlink_store::testing::dump_table(&s.db.store, "users").await.unwrap_or_default();
        let identities = idlink_store::testing::dump_table(&s.db.store, "identities").await.unwrap_or_default();
        assert!(!users.contains("13900000001") && !identities.contains("110105"), "{kind}: nothing in clear");
        let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["audit", "verify"])
            .envs(env.clone())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", String::from_utf8_lossy(&out.stdout));

        // The scale benchmark runs on seeded deployments (here the same one on both sides, in miniature):
        // the seeded users log in with their seeded phones and devices, query balances, and the plans are printed.
        let (dir, url) = (s.data_dir.display().to_string(), s.db.url.clone());
        let args = ["--small", &dir, "--small-database", &url, "--large", &dir, "--large-database", &url];
        let tiny = ["--clients", "2", "--queries", "2", "--logins", "2", "--requests", "4", "--rounds", "1"];
        let out = Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["bench", "scale"])
            .args(args)
            .args(tiny)
            .envs(env)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{kind}: {stdout}{stderr}");
        assert!(stdout.contains("small: 120 users") && stdout.contains("large / small, median of 1 rounds"), "{kind}: {stdout}");
        for what in ["login", "balance, peak", "balance, fixed rate", "introspection"] {
            assert!(stdout.contains(&format!("  {what:<22} throughput")), "{kind}: {what}: {stdout}");
        }
        assert!(stdout.contains("login: the user of a phone:"), "{kind}: {stdout}");
        // PostgreSQL may scan a table of 120 rows rather than read its index; SQLite always reads the index.
        assert!(kind != "sqlite" || stdout.contains("SEARCH users USING INDEX users_phone_index"), "{kind}: {stdout}");
    }
}
