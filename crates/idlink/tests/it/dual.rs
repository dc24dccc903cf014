//! Dual control of sensitive operator actions and SLA-breach escalation,
//! over HTTP on both databases (issue 13, ADR 0015): a master-key rotation
//! proposed by one admin runs once when two others approve it at once, and
//! leaves the same keyring the command line's rotation leaves; an expired
//! proposal cannot be approved; a breached review case pages the operators
//! on duty exactly once. (Lifting a freeze through a proposal is in
//! `reviews.rs`, in the freeze's own journey.)

use crate::reviews::{Op, as_op, operator, session};
use crate::{Server, expect_problem, start_full};
use idlink::serve::{self, Runtime};
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::keys::KeyStore;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn propose(s: &Server, op: &Op, body: Value) -> Value {
    let res = as_op(s, op, Method::POST, "/v1/operator/proposals").json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap_or_default());
    res.json().await.unwrap_or_default()
}

pub(crate) async fn decide_proposal(s: &Server, op: &Op, id: &str, decision: &str) -> reqwest::Response {
    as_op(s, op, Method::POST, &format!("/v1/operator/proposals/{id}/{decision}"))
        .json(&json!({"note": "checked with the requester"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn store(s: &Server) -> idlink_store::SqlStore {
    s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"))
}

/// Every audit record with `action`, one per line.
pub(crate) async fn audit_record(s: &Server, action: &str) -> String {
    let records = store(s).audit_records(0, 100_000).await.unwrap_or_else(|e| panic!("{e}"));
    records
        .iter()
        .filter(|r| r.entry.action == action)
        .map(|r| format!("{} {} {}", r.entry.actor, r.entry.action, r.entry.purpose))
        .collect::<Vec<_>>()
        .join("\n")
}

fn keyring(s: &Server) -> (usize, String) {
    let text = std::fs::read_to_string(s.config.master_key_file()).unwrap_or_default();
    let active = text.lines().find_map(|l| l.strip_prefix("active = ")).unwrap_or("").trim_matches('"').to_owned();
    (text.matches("[[keys]]").count(), active)
}

fn idlink_cli(s: &Server, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(args)
        .envs(s.cli_env())
        .output()
        .unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_proposed_by_one_admin_runs_once_when_two_approve_it_at_once() {
    for db in crate::databases().await {
        a_key_rotation_runs_once_on(db).await;
    }
}

async fn a_key_rotation_runs_once_on(db: idlink_store::testing::TestDb) {
    let rt = Runtime::default();
    let s = start_full(db, &[], rt.clone()).await;
    let kind = s.kind;
    let alice = operator(&s, &rt, "alice", &[Role::Admin]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Admin]).await;
    let carol = operator(&s, &rt, "carol", &[Role::Admin]).await;
    let reviewer = operator(&s, &rt, "rita", &[Role::Reviewer]).await;
    let res = s.authed(Method::POST, "/v1/users").json(&json!({ "phone": "13844440002" })).send().await;
    let user: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let user_id = user["id"].as_str().unwrap_or("").to_owned();
    let (keys_before, old_key) = keyring(&s);
    assert_eq!(keys_before, 1, "{kind}");

    // A reviewer may not propose it; an admin may, and may not approve their own.
    let res = as_op(&s, &reviewer, Method::POST, "/v1/operator/proposals")
        .json(&json!({"action": "keys.rotate", "note": "yearly rotation"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 403, "operator_role_required").await;
    let p = propose(&s, &alice, json!({"action": "keys.rotate", "note": "yearly rotation"})).await;
    let id = p["id"].as_str().unwrap_or("").to_owned();
    assert_eq!((p["status"].as_str(), p["proposed_by"].as_str()), (Some("pending"), Some(alice.id.as_str())), "{kind}: {p}");
    let pending: Value = as_op(&s, &bob, Method::GET, "/v1/operator/proposals")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(pending["proposals"][0]["id"].as_str(), Some(id.as_str()), "{kind}: {pending}");
    expect_problem(decide_proposal(&s, &alice, &id, "approve").await, 403, "own_proposal").await;
    assert_eq!(keyring(&s).0, 1, "{kind}: nothing ran");

    // Two admins approve at the same moment: one wins, the rotation runs once.
    let (b, c) = tokio::join!(decide_proposal(&s, &bob, &id, "approve"), decide_proposal(&s, &carol, &id, "approve"));
    let (won, lost) = if b.status().as_u16() == 200 { (b, c) } else { (c, b) };
    assert_eq!(won.status().as_u16(), 200, "{kind}");
    expect_problem(lost, 409, "proposal_decided").await;
    let done: Value = won.json().await.unwrap_or_default();
    assert_eq!(done["status"], "approved", "{kind}: {done}");
    let (keys_after, new_key) = keyring(&s);
    assert_eq!(keys_after, 2, "{kind}: exactly one key was added");
    assert_ne!(new_key, old_key);
    assert_eq!(done["result"]["key_id"].as_str(), Some(new_key.as_str()), "{kind}: {done}");

    // The same result as `idlink keys rotate`: every data key under the new
    // active key, none under the old one, and old data still decrypts.
    let counts = store(&s).count_keys_by_master().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(counts.iter().all(|(k, _)| *k == new_key), "{kind}: {counts:?}");
    assert_eq!(done["result"]["rewrapped"].as_u64(), counts.first().map(|(_, n)| *n), "{kind}: {done}");
    let (code, status) = idlink_cli(&s, &["keys", "status"]);
    assert_eq!(code, 0, "{status}");
    assert!(
        status.contains(&format!("{new_key} (active): fingerprint")) && status.contains(&format!("{old_key}: fingerprint")),
        "{status}"
    );
    assert!(status.contains("wraps 0 keys"), "{kind}: nothing left under the old key: {status}");
    let got: Value = s
        .authed(Method::GET, &format!("/v1/users/{user_id}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(got["phone"], "138****0002", "{kind}: {got}");
    let record = audit_record(&s, "keys.rotate").await;
    assert!(record.contains(&alice.id) && record.contains(&new_key), "{kind}: the rotation names the proposer: {record}");
    assert_eq!(record.lines().count(), 1, "{kind}: {record}");

    // And the command line's rotation still rotates from there.
    let (code, out) = idlink_cli(&s, &["keys", "rotate"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(keyring(&s).0, 3, "{kind}: {out}");
}

#[tokio::test]
async fn an_expired_proposal_cannot_be_approved_and_a_rejected_one_never_runs() {
    for db in crate::databases().await {
        an_expired_proposal_on(db).await;
    }
}

async fn an_expired_proposal_on(db: idlink_store::testing::TestDb) {
    let clock = Arc::new(ManualClock::new("2026-11-22T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    // The operators stay signed in past the window (the idle timeout is longer than it).
    let s = start_full(
        db,
        &[("IDLINK__REVIEW__DUAL_CONTROL_WINDOW_MINUTES", "30"), ("IDLINK__REVIEW__OPERATOR_IDLE_MINUTES", "120")],
        rt.clone(),
    )
    .await;
    let kind = s.kind;
    let alice = operator(&s, &rt, "alice", &[Role::Admin]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Admin]).await;
    let p = propose(&s, &alice, json!({"action": "keys.rotate", "note": "rotation"})).await;
    let id = p["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(p["expires_at"], "2026-11-22T02:30:00Z", "{kind}: the configured window: {p}");

    clock.advance(jiff::SignedDuration::from_mins(31));
    let refused = expect_problem(decide_proposal(&s, &bob, &id, "approve").await, 409, "proposal_expired").await;
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("2026-11-22T02:30:00Z")), "{refused}");
    let listed: Value = as_op(&s, &bob, Method::GET, "/v1/operator/proposals")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(listed["proposals"][0]["status"], "expired", "{kind}: {listed}");
    // It can still be rejected (withdrawn by its proposer), and then never approved.
    let rejected: Value = decide_proposal(&s, &alice, &id, "reject").await.json().await.unwrap_or_default();
    assert_eq!((rejected["status"].as_str(), rejected["decided_by"].as_str()), (Some("rejected"), Some(alice.id.as_str())), "{rejected}");
    expect_problem(decide_proposal(&s, &bob, &id, "approve").await, 409, "proposal_decided").await;
    assert_eq!(keyring(&s).0, 1, "{kind}: the rotation never ran");
    let res = as_op(&s, &bob, Method::POST, "/v1/operator/proposals/prp_unknown/approve")
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 404, "proposal_not_found").await;
    let res = as_op(&s, &bob, Method::POST, "/v1/operator/proposals")
        .json(&json!({"action": "freeze.lift", "note": "x"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 422, "validation_failed").await;
    assert!(audit_record(&s, "dual.reject").await.contains(&alice.id));
}

#[tokio::test]
async fn an_sla_breach_pages_the_operators_on_duty_once_per_case() {
    for db in crate::databases().await {
        an_sla_breach_pages_on(db).await;
    }
}

async fn an_sla_breach_pages_on(db: idlink_store::testing::TestDb) {
    let clock = Arc::new(ManualClock::new("2026-11-22T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let extra = [("IDLINK__RISK__FREEZE_AT", "3"), ("IDLINK__RISK__BURST_LOGINS_PER_HOUR", "3"), ("IDLINK__REVIEW__SLA_CHECK_SECS", "1")];
    let s = start_full(db, &extra, rt.clone()).await;
    let kind = s.kind;
    let alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Admin]).await;
    let pager = "13912340001";

    // Only an admin sets who is on duty.
    let duty = |op: &Op, body: Value| as_op(&s, op, Method::PUT, &format!("/v1/operator/operators/{}/duty", alice.id)).json(&body).send();
    expect_problem(duty(&alice, json!({"on_duty": true})).await.unwrap_or_else(|e| panic!("{e}")), 403, "operator_role_required").await;
    let bad = duty(&bob, json!({"on_duty": true, "phone": "12345"})).await.unwrap_or_else(|e| panic!("{e}"));
    expect_problem(bad, 422, "validation_failed").await;
    let unreachable = duty(&bob, json!({"on_duty": true})).await.unwrap_or_else(|e| panic!("{e}"));
    expect_problem(unreachable, 422, "paging_phone_required").await;
    let on: Value =
        duty(&bob, json!({"on_duty": true, "phone": pager})).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!((on["on_duty"].as_bool(), on["has_paging_phone"].as_bool()), (Some(true), Some(true)), "{on}");
    assert!(!on.to_string().contains(pager), "the number is never shown: {on}");
    let all: Value = as_op(&s, &bob, Method::GET, "/v1/operator/operators")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let on_duty: Vec<&str> = all["operators"]
        .as_array()
        .map(|a| a.iter().filter(|o| o["on_duty"] == true).filter_map(|o| o["username"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(on_duty, ["alice"], "{kind}: {all}");

    // Two accounts frozen: two risk-freeze cases with a 5-minute SLA.
    for phone in ["13855550001", "13855550002"] {
        for _ in 0..2 {
            assert_eq!(session(&s, phone, "home").await["risk"], "allow");
        }
        assert_eq!(session(&s, phone, "elsewhere").await["risk"], "freeze", "{kind}");
    }
    let board = |op: &Op| as_op(&s, op, Method::GET, "/v1/operator/breaches").send();
    let empty: Value = board(&alice).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(empty["breaches"].as_array().map(Vec::len), Some(0), "{kind}: nothing breached yet: {empty}");

    clock.advance(jiff::SignedDuration::from_mins(7));
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = board(&alice).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let escalated = seen["breaches"].as_array().map(|b| b.iter().filter(|x| x["escalated"] == true).count()).unwrap_or(0);
        if escalated == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let breaches = seen["breaches"].as_array().cloned().unwrap_or_default();
    assert_eq!(breaches.len(), 2, "{kind}: {seen}");
    for b in &breaches {
        assert_eq!((b["kind"].as_str(), b["escalated"].as_bool()), (Some("risk_freeze"), Some(true)), "{kind}: {b}");
        assert_eq!(b["overdue_secs"].as_i64(), Some(120), "{kind}: 7 minutes after a 5-minute SLA: {b}");
    }

    // Both pages reach the operator on duty, one SMS per case.
    let mut pages = Vec::new();
    for _ in 0..150 {
        let inbox = s.inbox(pager).await;
        pages = inbox["messages"].as_array().cloned().unwrap_or_default();
        if pages.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pages.len(), 2, "{kind}: {pages:?}");
    let mut paged: Vec<&str> = pages.iter().filter_map(|m| m["params"]["case"].as_str()).collect();
    paged.sort_unstable();
    let mut cases: Vec<&str> = breaches.iter().filter_map(|b| b["case_id"].as_str()).collect();
    cases.sort_unstable();
    assert_eq!(paged, cases, "{kind}");
    assert!(pages.iter().all(|m| m["template"] == "review_sla_breached" && m["received"] == 1), "{kind}: {pages:?}");

    // Repeated runs (the job on later periods, and another node's run now) page nobody again.
    for _ in 0..3 {
        clock.advance(jiff::SignedDuration::from_secs(2));
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    }
    let st = store(&s);
    let vault = serve::open_vault(&s.config, &st, &rt).await.unwrap_or_else(|e| panic!("{e:#}"));
    let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
    let again = idlink_core::reviews::Escalations { reviews: &st, operators: &st, vault: &vault, ids: &ids, clock: clock.as_ref() };
    assert_eq!(again.run().await.ok(), Some(0), "{kind}");
    let events = idlink_store::testing::query_text(&st, "SELECT COUNT(*) FROM outbox WHERE kind = 'review.sla_breached'").await;
    assert_eq!(events.as_deref(), Ok("2"), "{kind}: one outbox event per breached case");
    assert_eq!(s.inbox(pager).await["messages"].as_array().map(Vec::len), Some(2), "{kind}");
    assert_eq!(audit_record(&s, "review.escalate").await.lines().count(), 2, "{kind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_is_put_on_duty_from_the_command_line() {
    let rt = Runtime::default();
    let s = start_full(idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}")), &[], rt.clone()).await;
    let _alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
    let (code, out) = idlink_cli(&s, &["operator", "duty", "alice", "on"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("alice has no paging phone: add --phone NUMBER"), "nobody is on duty unreachable: {out}");
    let (code, out) = idlink_cli(&s, &["operator", "duty", "alice", "on", "--phone", "13912340002"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice is on duty; paging phone set") && !out.contains("13912340002"), "{out}");
    let (code, out) = idlink_cli(&s, &["operator", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice\treviewer\ton duty\tpaging phone set"), "{out}");
    let (code, out) = idlink_cli(&s, &["operator", "duty", "nobody", "off"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no operator named nobody"), "{out}");
    assert!(audit_record(&s, "operator.duty").await.lines().all(|l| l.starts_with("cli ")), "the CLI acts as `cli`");
}
