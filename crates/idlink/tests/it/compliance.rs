//! The compliance endpoints for auditors (SPEC OP2, OP3; ADR 0016): the
//! quarterly regulator report and its verification with standard tools,
//! the retention status, and the audit explorer down to a tampered byte.
//!
//! Multi-thread runtimes: an `idlink` command blocks the test's thread (see `cli.rs`).

use crate::reviews::{Op, operator};
use crate::{Server, expect_problem, servers};
use idlink::serve::Runtime;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::Value;
use std::process::Command;

fn get(s: &Server, op: &Op, path: &str) -> reqwest::RequestBuilder {
    s.client().request(Method::GET, s.url(path)).header("idlink-operator", &op.token)
}

async fn json(res: reqwest::Response) -> Value {
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.url().path());
    res.json().await.unwrap_or_default()
}

/// Balance queries of 2026Q3 as the query log holds them (the quarter is
/// over on every test machine's clock): three by one user, one by another,
/// one just before and one just after the quarter.
pub(crate) async fn seed_queries(s: &Server) -> (String, String) {
    let (alice, bob) = ("usr_alice0000000000000000000000001", "usr_bob000000000000000000000000001");
    let micros = |t: &str| t.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()).unwrap_or_default();
    let rows = [
        ("bq_q3a", alice, "2026-07-01T00:00:00+08:00", "disclosed", None),
        ("bq_q3b", bob, "2026-08-15T12:30:00.5+08:00", "refused", Some("step_up_required")),
        ("bq_q3c", alice, "2026-09-30T23:59:59+08:00", "replayed", None),
        ("bq_q3d", alice, "2026-09-01T08:00:00+08:00", "disclosed", None),
        ("bq_q2z", alice, "2026-06-30T23:59:59+08:00", "disclosed", None),
        ("bq_q4z", bob, "2026-10-01T00:00:00+08:00", "disclosed", None),
    ];
    for (id, user, at, outcome, reason) in rows {
        let reason = reason.map_or("NULL".to_owned(), |r| format!("'{r}'"));
        let sql = format!(
            "INSERT INTO balance_queries (id, user_id, binding_id, bank, channel, precision_kind, actor, at, outcome, reason)
             VALUES ('{id}', '{user}', 'bnd_1', 'ICBC', 'direct', 'yuan', 'user:{user}', {}, '{outcome}', {reason})",
            micros(at)
        );
        idlink_store::testing::execute(&s.db.store, &sql).await.unwrap_or_else(|e| panic!("{}: {e}", s.kind));
    }
    (alice.to_owned(), bob.to_owned())
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("version").output().is_ok_and(|o| o.status.success())
}

fn sh(dir: &std::path::Path, script: &str) -> (bool, String) {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().unwrap_or_else(|e| panic!("sh: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_downloads_the_signed_quarterly_report_and_verifies_it_with_standard_tools() {
    for s in servers().await {
        let (alice, bob) = seed_queries(&s).await;
        let rt = Runtime::default();
        let auditor = operator(&s, &rt, "auditor", &[Role::Auditor]).await;
        let reviewer = operator(&s, &rt, "reviewer", &[Role::Reviewer]).await;

        let res = get(&s, &reviewer, "/v1/operator/reports/quarterly/2026Q3").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "operator_role_required").await;
        let res = get(&s, &auditor, "/v1/operator/reports/quarterly/2026Q5").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "validation_failed").await;
        let open = idlink_core::reports::Quarter::parse(&format!(
            "{}Q{}",
            idlink_domain::calendar::shanghai_today(jiff::Timestamp::now()).year(),
            (idlink_domain::calendar::shanghai_today(jiff::Timestamp::now()).month() - 1) / 3 + 1
        ))
        .map(|q| q.to_string())
        .unwrap_or_default();
        let res = get(&s, &auditor, &format!("/v1/operator/reports/quarterly/{open}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(res, 409, "report_period_open").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("+08:00"), "{p}");

        let report = json(get(&s, &auditor, "/v1/operator/reports/quarterly/2026Q3").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(report["row_count"], 4, "{}: {report}", s.kind);
        assert_eq!(report["verified"], true, "{report}");
        assert_eq!(report["period_start"], "2026-07-01T00:00:00+08:00");
        assert_eq!(report["period_end"], "2026-10-01T00:00:00+08:00");
        assert_eq!(report["files"].as_array().map(Vec::len), Some(6), "{report}");

        let dir = std::env::temp_dir().join(format!("idlink-report-{}-{}", std::process::id(), s.kind));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        for f in idlink_core::reports::FILES {
            let res =
                get(&s, &auditor, &format!("/v1/operator/reports/quarterly/2026Q3/{f}")).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(res.status().as_u16(), 200, "{f}");
            let bytes = res.bytes().await.unwrap_or_default();
            std::fs::write(dir.join(f), &bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        let res = get(&s, &auditor, "/v1/operator/reports/quarterly/2026Q3/secrets.txt").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 404, "report_file_unknown").await;

        // The files fetched one by one belong to one signed manifest.
        let read = |n: &str| std::fs::read(dir.join(n)).ok();
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        let key = idlink::serve::open_vault(&s.config, &store, &rt).await.unwrap_or_else(|e| panic!("{e:#}")).signer().public_hex();
        assert_eq!(report["signing_key"], key.as_str(), "signed with the audit checkpoint key");
        let verified = idlink_core::reports::verify_report(read, Some(&key)).unwrap_or_else(|p| panic!("{}: {p:?}", s.kind));
        assert_eq!(verified.manifest.generated_at, report["generated_at"].as_str().unwrap_or(""));

        // The users are pseudonyms: stable within the report, never the user id.
        let csv = std::fs::read_to_string(dir.join("queries.csv")).unwrap_or_default();
        assert!(!csv.contains(&alice) && !csv.contains(&bob), "{csv}");
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "query_id,at,user,bank,channel,precision,outcome,reason");
        assert_eq!(lines.len(), 5, "{csv}");
        let user_of = |id: &str| lines.iter().find(|l| l.starts_with(id)).and_then(|l| l.split(',').nth(2)).unwrap_or("").to_owned();
        assert_eq!(user_of("bq_q3a"), user_of("bq_q3c"));
        assert_ne!(user_of("bq_q3a"), user_of("bq_q3b"));
        assert!(user_of("bq_q3a").starts_with("p_") && user_of("bq_q3a").len() == 34, "{csv}");
        assert!(
            lines.contains(
                &format!("bq_q3b,2026-08-15T12:30:00.5+08:00,{},ICBC,direct,yuan,refused,step_up_required", user_of("bq_q3b")).as_str()
            ),
            "{csv}"
        );
        assert_eq!(lines[1].split(',').nth(1), Some("2026-07-01T00:00:00+08:00"), "(at, id) order: {csv}");

        // docs/regulator-report.md's recipe, with standard tools where this machine has them.
        if have("sha256sum") {
            let (ok, out) = sh(&dir, "grep -q \"$(sha256sum SHA256SUMS | cut -d' ' -f1)\" manifest.json && sha256sum -c SHA256SUMS");
            assert!(ok && out.contains("queries.csv: OK") && out.contains("queries.json: OK"), "{out}");
        }
        if have("openssl") {
            let recipe = "openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in manifest.json -sigfile manifest.sig";
            let (ok, out) = sh(&dir, recipe);
            assert!(ok && out.contains("Signature Verified Successfully"), "{out}");
            let (ok, out) = sh(&dir, "openssl pkey -pubin -in signing-key.pem -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \\n'");
            assert!(ok && out == key, "the PEM holds the manifest's key: {out} vs {key}");
            // One changed byte of the manifest and openssl refuses it.
            let mut m = std::fs::read(dir.join("manifest.json")).unwrap_or_default();
            m[20] ^= 1;
            std::fs::write(dir.join("manifest.json"), m).unwrap_or_else(|e| panic!("{e}"));
            let (ok, out) = sh(&dir, recipe);
            assert!(!ok && out.contains("Signature Verification Failure"), "{out}");
        }
        std::fs::remove_dir_all(&dir).ok();

        // The filing is audited, and the second request serves the filed report.
        let again = json(get(&s, &auditor, "/v1/operator/reports/quarterly/2026Q3").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(again["generated_at"], report["generated_at"]);
        let filed = json(
            get(&s, &auditor, "/v1/operator/audit/records?action=report.quarterly.file").send().await.unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        assert_eq!(filed["records"].as_array().map(Vec::len), Some(1), "{filed}");
        assert!(filed["records"][0]["actor"].as_str().unwrap_or("").starts_with("operator:op_"), "{filed}");
        assert!(filed["records"][0]["purpose"].as_str().unwrap_or("").contains("4 queries"), "{filed}");

        // Retention status: the oldest query kept is the seeded one of 2026Q2.
        let retention = json(get(&s, &auditor, "/v1/operator/retention").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        let kinds = retention["kinds"].as_array().cloned().unwrap_or_default();
        let kind = |k: &str| kinds.iter().find(|v| v["kind"] == k).cloned().unwrap_or_default();
        assert_eq!(kind("query_log")["keep"], serde_json::json!({"unit": "years", "n": 5}));
        assert_eq!(kind("query_log")["oldest_record_at"], "2026-06-30T23:59:59+08:00");
        assert_eq!(kind("query_log")["oldest_due_at"], "2031-06-30T23:59:59+08:00");
        assert_eq!(kind("audit_log")["setting"], "audit.retention_years");
        assert_eq!(kind("sign_ins")["keep"], serde_json::json!({"unit": "months", "n": 6}));
        assert_eq!(kind("idempotency")["job"], "idempotency_purge");
        assert!(kind("audit_log")["oldest_record_at"].is_string(), "{retention}");
        assert_eq!(retention["legal_holds"], serde_json::json!([]), "{retention}");
        let res = get(&s, &reviewer, "/v1/operator/retention").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "operator_role_required").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_explorer_pages_newest_first_and_verify_names_a_tampered_record() {
    for s in servers().await {
        let rt = Runtime::default();
        let auditor = operator(&s, &rt, "auditor", &[Role::Auditor]).await;
        let admin = operator(&s, &rt, "admin", &[Role::Admin]).await;
        let mut users = Vec::new();
        for phone in ["13855550001", "13855550002", "13855550003"] {
            let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
            let v: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
            users.push(v["id"].as_str().unwrap_or("").to_owned());
        }
        let out = Command::new(env!("CARGO_BIN_EXE_idlink")).args(["audit", "checkpoint"]).envs(s.cli_env()).output();
        assert!(out.is_ok_and(|o| o.status.success()), "{}", s.kind);

        // Newest first, a page at a time, each record with its hash and the previous one.
        let page1 = json(get(&s, &auditor, "/v1/operator/audit/records?limit=2").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        let recs = page1["records"].as_array().cloned().unwrap_or_default();
        assert_eq!(recs.len(), 2);
        assert!(recs[0]["seq"].as_i64() > recs[1]["seq"].as_i64());
        assert_eq!(recs[0]["prev_hash"], recs[1]["hash"], "{page1}");
        let before = page1["next_before"].as_i64().unwrap_or(0);
        assert_eq!(Some(before), recs[1]["seq"].as_i64());
        let page2 = json(
            get(&s, &admin, &format!("/v1/operator/audit/records?limit=2&before={before}")).send().await.unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        assert!(page2["records"][0]["seq"].as_i64().unwrap_or(i64::MAX) < before, "{page2}");
        let mine = json(
            get(&s, &auditor, &format!("/v1/operator/audit/records?subject={}", users[1])).send().await.unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        let mine = mine["records"].as_array().cloned().unwrap_or_default();
        assert!(!mine.is_empty() && mine.iter().all(|r| r["subject"] == users[1].as_str()), "{mine:?}");
        let res = get(&s, &auditor, "/v1/operator/audit/records?outcome=maybe").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "validation_failed").await;
        // A time range; an unencoded `+08:00` offset is read as meant.
        let old = json(
            get(&s, &auditor, "/v1/operator/audit/records?until=2001-01-01T00:00:00+08:00").send().await.unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        assert_eq!(old["records"].as_array().map(Vec::len), Some(0), "{old}");
        let recent = json(
            get(&s, &auditor, "/v1/operator/audit/records?from=2001-01-01T00:00:00%2B08:00&limit=500")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
        assert!(recent["records"].as_array().map_or(0, Vec::len) >= 3, "{recent}");
        let res = get(&s, &auditor, "/v1/operator/audit/records?from=yesterday").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "validation_failed").await;

        // Checkpoints with their signature status.
        let cps = json(get(&s, &auditor, "/v1/operator/audit/checkpoints").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        let cps = cps["checkpoints"].as_array().cloned().unwrap_or_default();
        assert!(!cps.is_empty(), "{}", s.kind);
        assert!(cps.iter().all(|c| c["signature_status"] == "valid"), "{cps:?}");

        let intact = json(get(&s, &auditor, "/v1/operator/audit/verify").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(intact["status"], "intact", "{}: {intact}", s.kind);

        // One changed byte of one record: the explorer's verification names it, as `idlink audit verify` does.
        let victim = mine.last().and_then(|r| r["seq"].as_i64()).unwrap_or(0);
        crate::audit::drop_guards(&s.db).await;
        let tamper = format!("UPDATE audit_log SET purpose = purpose || '.' WHERE seq = {victim}");
        idlink_store::testing::execute(&s.db.store, &tamper).await.unwrap_or_else(|e| panic!("{e}"));
        let broken = json(get(&s, &auditor, "/v1/operator/audit/verify").send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(broken["status"], "broken", "{broken}");
        assert_eq!(broken["first_bad_record"], victim, "{broken}");
        assert!(broken["problem"].as_str().unwrap_or("").contains(&format!("record {victim}")), "{broken}");
        let cli = Command::new(env!("CARGO_BIN_EXE_idlink")).args(["audit", "verify"]).envs(s.cli_env()).output();
        let cli = cli.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        assert!(cli.contains(&format!("BROKEN at record {victim}: {}", broken["problem"].as_str().unwrap_or("?"))), "{cli}");
    }
}
