//! Operators, the review queue with dual control, foreign documents and risk
//! freezes, over HTTP (SPEC P5, ID3, ID8, OP1).

use crate::login::{challenge, login, login_body};
use crate::{Server, expect_problem, start_full};
use idlink::serve::{self, Runtime};
use idlink_core::operators::Operators;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) struct Op {
    pub(crate) token: String,
    pub(crate) id: String,
}

pub(crate) async fn operator(s: &Server, rt: &Runtime, username: &str, roles: &[Role]) -> Op {
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let vault = serve::open_vault(&s.config, &store, rt).await.unwrap_or_else(|e| panic!("{e:#}"));
    let policy = serve::password_policy(&s.config);
    let ops = Operators {
        store: &store,
        keys: &store,
        audits: &store,
        vault: &vault,
        clock: rt.clock.as_ref(),
        ids: &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rng: rt.rng.as_ref(),
        password_policy: &policy,
        session_ttl: jiff::SignedDuration::from_hours(8),
        policy: serve::operator_sign_in(&s.config),
    };
    let new = ops.create(username, roles, "test").await.unwrap_or_else(|e| panic!("{e}"));
    let now = rt.clock.now().as_second();
    let wrong = s
        .client()
        .post(s.url("/v1/operator/sessions"))
        .json(&json!({"username": username, "password": new.password, "totp": "000000"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if idlink_crypto::totp::code_at(&new.totp_secret, now, 6) != "000000" {
        expect_problem(wrong, 401, "operator_sign_in_failed").await;
    }
    let totp = idlink_crypto::totp::code_at(&new.totp_secret, now, 6);
    let res = s
        .client()
        .post(s.url("/v1/operator/sessions"))
        .json(&json!({"username": username, "password": new.password, "totp": totp}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
    let v: Value = res.json().await.unwrap_or_default();
    Op { token: v["token"].as_str().unwrap_or("").to_owned(), id: v["operator"]["id"].as_str().unwrap_or("").to_owned() }
}

pub(crate) fn as_op(s: &Server, op: &Op, method: Method, path: &str) -> reqwest::RequestBuilder {
    s.client().request(method, s.url(path)).header("idlink-operator", &op.token)
}

pub(crate) async fn decide(s: &Server, op: &Op, case: &str, decision: &str) -> reqwest::Response {
    as_op(s, op, Method::POST, &format!("/v1/operator/reviews/{case}/decisions"))
        .json(&json!({"decision": decision, "note": "checked the document scan"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) async fn open_cases(s: &Server, op: &Op, query: &str) -> Vec<Value> {
    let v: Value = as_op(s, op, Method::GET, &format!("/v1/operator/reviews{query}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    v["cases"].as_array().cloned().unwrap_or_default()
}

/// A resident ID number of a child born 1 June 2015 (a minor until 2033).
pub(crate) fn minor_id_number() -> String {
    let body = "44052420150601123";
    let mut f = [0u8; 17];
    f.copy_from_slice(body.as_bytes());
    format!("{body}{}", idlink_domain::idnumber::check_character(&f))
}

pub(crate) async fn session(s: &Server, phone: &str, device: &str) -> Value {
    let c = challenge(s, phone, device).await;
    let code = s.last_code(phone).await;
    login(s, phone, device, &c, &code).await.json().await.unwrap_or_default()
}

#[tokio::test]
async fn a_passport_verification_needs_two_different_reviewers() {
    for db in crate::databases().await {
        a_passport_verification_needs_two_different_reviewers_on(db).await;
    }
}

async fn a_passport_verification_needs_two_different_reviewers_on(db: idlink_store::testing::TestDb) {
    let clock = Arc::new(ManualClock::new("2026-11-22T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let s = start_full(db, &[], rt.clone()).await;
    let alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Reviewer]).await;
    let carol = operator(&s, &rt, "carol", &[Role::Auditor]).await;

    // Operators use their own sessions; a host-app key does not open operator endpoints.
    let res = s.authed(Method::GET, "/v1/operator/reviews").send().await.unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 401, "operator_session_invalid").await;

    let phone = "13833334444";
    let v = session(&s, phone, "d1").await;
    let token = v["session_token"].as_str().unwrap_or("").to_owned();
    crate::consents::give_all(&s, &token).await;
    let start = s
        .authed(Method::POST, "/v1/me/verifications")
        .header("idlink-session", &token)
        .json(&json!({"name": "Smith John", "document_type": "passport", "document_number": "E12345678", "birth_date": "1990-05-17"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(start.status().as_u16(), 201);
    let started: Value = start.json().await.unwrap_or_default();
    let vid = started["id"].as_str().unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::POST, &format!("/v1/me/verifications/{vid}/submit"))
        .header("idlink-session", &token)
        .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let submitted: Value = res.json().await.unwrap_or_default();
    assert_eq!(submitted["status"], "review", "{submitted}");

    let cases = open_cases(&s, &alice, "?kind=verification").await;
    assert_eq!(cases.len(), 1);
    let case = cases[0]["id"].as_str().unwrap_or("").to_owned();
    assert_eq!((cases[0]["reference"].as_str(), cases[0]["steps_required"].as_u64()), (Some(vid.as_str()), Some(2)));

    expect_problem(decide(&s, &carol, &case, "approve").await, 403, "operator_role_required").await;
    // Operator decisions honour Idempotency-Key: a retried decision replays, it is not a second step.
    let send = || {
        as_op(&s, &alice, Method::POST, &format!("/v1/operator/reviews/{case}/decisions"))
            .header("idempotency-key", "alice-decision-1")
            .json(&json!({"decision": "approve", "note": "passport scan matches"}))
            .send()
    };
    let first: Value = send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(first["status"], "open", "one approval is not enough: {first}");
    let retried = send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retried.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(retried.json::<Value>().await.unwrap_or_default(), first);
    expect_problem(decide(&s, &alice, &case, "approve").await, 409, "second_operator_required").await;
    let second: Value = decide(&s, &bob, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(second["status"], "approved", "{second}");
    expect_problem(decide(&s, &bob, &case, "reject").await, 409, "case_closed").await;

    let me: Value = s
        .authed(Method::GET, "/v1/me/identity")
        .header("idlink-session", &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(
        (me["document_type"].as_str(), me["name"].as_str(), me["age"].as_i64()),
        (Some("passport"), Some("S*********"), Some(36)),
        "{me}"
    );
    let v: Value = s
        .authed(Method::GET, &format!("/v1/me/verifications/{vid}"))
        .header("idlink-session", &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(v["status"], "verified");
    // The approval is a lifecycle event for the apps the user authorised, written with it (ADR 0022).
    let sql = "SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle'";
    let events = idlink_store::testing::query_text(&s.db.store, sql).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(events, "1", "{}: one identity event for the reviewers' approval", s.kind);
}

#[tokio::test]
async fn a_risky_login_freezes_the_account_until_two_operators_lift_it() {
    for db in crate::databases().await {
        a_risky_login_freezes_the_account_until_two_operators_lift_it_on(db).await;
    }
}

async fn a_risky_login_freezes_the_account_until_two_operators_lift_it_on(db: idlink_store::testing::TestDb) {
    let clock = Arc::new(ManualClock::new("2026-11-22T02:00:00Z".parse().unwrap_or_default()));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let extra = [("IDLINK__RISK__FREEZE_AT", "3"), ("IDLINK__RISK__BURST_LOGINS_PER_HOUR", "3"), ("IDLINK__REVIEW__SLA_CHECK_SECS", "1")];
    let s = start_full(db, &extra, rt.clone()).await;
    let alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
    let bob = operator(&s, &rt, "bob", &[Role::Admin]).await;

    let phone = "13855556666";
    for _ in 0..2 {
        assert_eq!(session(&s, phone, "home").await["risk"], "allow");
    }
    // A third login within the hour from a new device: burst + new device → freeze.
    let v = session(&s, phone, "elsewhere").await;
    assert_eq!(v["risk"], "freeze", "{v}");
    let check = v["device_check"]["challenge_id"].as_str().unwrap_or("").to_owned();
    let token = v["session_token"].as_str().unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::POST, "/v1/auth/device-check")
        .header("idlink-session", &token)
        .json(&login_body(phone, "elsewhere", &check, &code))
        .send()
        .await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 200);

    // Sensitive operations are refused while frozen.
    let res = s
        .authed(Method::POST, "/v1/me/payment-password/verify")
        .header("idlink-session", &token)
        .json(&json!({"password": "135790", "operation": "device.make_primary", "resource": "x"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 403, "account_frozen").await;

    // Nobody responds within 5 minutes: the breach is listed and counted.
    clock.advance(jiff::SignedDuration::from_mins(6));
    let breached = open_cases(&s, &alice, "?kind=risk_freeze&breached=true").await;
    assert_eq!(breached.len(), 1, "{breached:?}");
    assert_eq!(breached[0]["sla_breached"], true);
    let case = breached[0]["id"].as_str().unwrap_or("").to_owned();
    // The gauge is this node's own (other test servers in the process have theirs) and its job counts
    // every second here: poll until the next count.
    let mut seen = false;
    for _ in 0..50 {
        let metrics = s.client().get(s.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
        if metrics.contains("idlink_review_sla_breached{kind=\"risk_freeze\"} 1") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(seen, "the SLA breach never showed in /metrics");

    let res = as_op(&s, &alice, Method::POST, &format!("/v1/operator/reviews/{case}/claim")).send().await.unwrap_or_else(|e| panic!("{e}"));
    let rid = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let claimed: Value = res.json().await.unwrap_or_default();
    assert!(claimed["first_response_at"].is_string());
    // The claim's audit record names the request, to tie it to the request logs.
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let records = idlink_core::ports::audit::AuditStore::audit_records(&store, 0, 10_000).await.unwrap_or_else(|e| panic!("{e}"));
    let claim = records.iter().rev().find(|r| r.entry.action == "review.claim").unwrap_or_else(|| panic!("a review.claim record"));
    assert!(!rid.is_empty() && claim.entry.request_id.as_deref() == Some(rid.as_str()), "{rid} vs {:?}", claim.entry.request_id);
    // Lifting a freeze is a dual-control action (ADR 0015): not a review step.
    expect_problem(decide(&s, &alice, &case, "approve").await, 409, "dual_control_required").await;
    let proposal = crate::dual::propose(&s, &alice, json!({"action": "freeze.lift", "case_id": case, "note": "customer confirmed"})).await;
    assert_eq!((proposal["status"].as_str(), proposal["case_id"].as_str()), (Some("pending"), Some(case.as_str())), "{proposal}");
    let pid = proposal["id"].as_str().unwrap_or("").to_owned();
    // One operator cannot lift a freeze alone.
    expect_problem(crate::dual::decide_proposal(&s, &alice, &pid, "approve").await, 403, "own_proposal").await;
    let res = s
        .authed(Method::POST, "/v1/me/payment-password/verify")
        .header("idlink-session", &token)
        .json(&json!({"password": "135790", "operation": "device.make_primary", "resource": "x"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    expect_problem(res, 403, "account_frozen").await;
    let approved = crate::dual::decide_proposal(&s, &bob, &pid, "approve").await;
    assert_eq!(approved.status().as_u16(), 200);
    let approved: Value = approved.json().await.unwrap_or_default();
    assert_eq!((approved["status"].as_str(), approved["decided_by"].as_str()), (Some("approved"), Some(bob.id.as_str())), "{approved}");
    // Approved once: a second approval is refused, and the case holds both operators' decisions.
    expect_problem(crate::dual::decide_proposal(&s, &bob, &pid, "approve").await, 409, "proposal_decided").await;
    let lifted: Value = as_op(&s, &alice, Method::GET, "/v1/operator/reviews?kind=risk_freeze&status=approved")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let lifted = &lifted["cases"][0];
    assert_eq!(lifted["id"].as_str(), Some(case.as_str()), "{lifted}");
    let deciders: Vec<&str> =
        lifted["decisions"].as_array().map(|d| d.iter().filter_map(|x| x["operator_id"].as_str()).collect()).unwrap_or_default();
    assert_eq!(deciders, [alice.id.as_str(), bob.id.as_str()], "{lifted}");
    let record = crate::dual::audit_record(&s, "dual.approve").await;
    assert!(record.contains(&alice.id) && record.contains(&bob.id), "the audit record names both operators: {record}");
    let res = s
        .authed(Method::POST, "/v1/me/payment-password/verify")
        .header("idlink-session", &token)
        .json(&json!({"password": "135790", "operation": "device.make_primary", "resource": "x"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // No payment password is set: the ordinary refusal, no longer the freeze.
    expect_problem(res, 403, "payment_password_refused").await;
}

pub async fn verify_resident(s: &Server, token: &str, phone: &str, name: &str, id: &str) {
    // Verifying, and the features the tests go on to use, need the user's consents (issue 18).
    crate::consents::give_all(s, token).await;
    let res = s
        .authed(Method::POST, "/v1/me/verifications")
        .header("idlink-session", token)
        .json(&json!({"name": name, "id_number": id}))
        .send()
        .await;
    let started: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let code = s.last_code(phone).await;
    let vid = started["id"].as_str().unwrap_or("");
    let res = s
        .authed(Method::POST, &format!("/v1/me/verifications/{vid}/submit"))
        .header("idlink-session", token)
        .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"}))
        .send()
        .await;
    let done: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(done["status"], "verified", "{done}");
}

#[tokio::test]
async fn a_minor_is_restricted_until_a_guardian_link_is_approved() {
    for db in crate::databases().await {
        a_minor_is_restricted_until_a_guardian_link_is_approved_on(db).await;
    }
}

async fn a_minor_is_restricted_until_a_guardian_link_is_approved_on(db: idlink_store::testing::TestDb) {
    let rt = Runtime::default();
    let s = start_full(db, &[], rt.clone()).await;
    let reviewer = operator(&s, &rt, "rita", &[Role::Reviewer]).await;
    let (child_phone, parent_phone) = ("13866660001", "13866660002");
    let child = session(&s, child_phone, "c").await["session_token"].as_str().unwrap_or("").to_owned();
    let parent = session(&s, parent_phone, "p").await["session_token"].as_str().unwrap_or("").to_owned();
    verify_resident(&s, &child, child_phone, "李小明", &minor_id_number()).await;

    // The guardian must be a verified adult.
    let name_guardian = |token: String| {
        s.authed(Method::POST, "/v1/me/guardianships")
            .header("idlink-session", token)
            .json(&json!({"guardian_phone": parent_phone, "relationship": "parent", "evidence_ref": "hukou-scan-7781"}))
            .send()
    };
    expect_problem(name_guardian(child.clone()).await.unwrap_or_else(|e| panic!("{e}")), 422, "guardian_not_eligible").await;
    verify_resident(&s, &parent, parent_phone, "李大明", "11010519491231002X").await;
    // An adult cannot name a guardian.
    expect_problem(name_guardian(parent.clone()).await.unwrap_or_else(|e| panic!("{e}")), 403, "not_a_verified_minor").await;

    let res = name_guardian(child.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
    let link: Value = res.json().await.unwrap_or_default();
    assert_eq!(link["status"], "pending_guardian");
    let id = link["id"].as_str().unwrap_or("").to_owned();
    // Only the named guardian can accept.
    let res = s.authed(Method::POST, &format!("/v1/me/guardianships/{id}/accept")).header("idlink-session", &child).send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "guardianship_not_found").await;
    let res = s.authed(Method::POST, &format!("/v1/me/guardianships/{id}/accept")).header("idlink-session", &parent).send().await;
    let accepted: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(accepted["status"], "review");

    let caps = async |token: String| {
        let v: Value = s
            .authed(Method::GET, "/v1/me/capabilities")
            .header("idlink-session", token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        v["restricted"].clone()
    };
    assert_eq!(caps(child.clone()).await, json!(["payment", "balance_query", "credit_report"]), "restricted while in review");

    let cases = open_cases(&s, &reviewer, "?kind=guardian").await;
    assert_eq!(cases.len(), 1);
    let case = cases[0]["id"].as_str().unwrap_or("").to_owned();
    let decided: Value = decide(&s, &reviewer, &case, "approve").await.json().await.unwrap_or_default();
    assert_eq!(decided["status"], "approved", "guardian evidence needs one review step: {decided}");
    assert_eq!(caps(child.clone()).await, json!(["credit_report"]));
    let links: Value = s
        .authed(Method::GET, "/v1/me/guardianships")
        .header("idlink-session", &parent)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(links["guardianships"][0]["status"], "approved", "{links}");
}
