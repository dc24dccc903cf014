//! The admin's console pages: key status (the same figures as `idlink keys
//! status`, a rotation by the command line seen arriving) and the operators
//! on duty (put on duty with a paging phone that is stored sealed, taken off,
//! a locked sign-in unlocked). Both are refused to the roles they are not for.

use super::journeys::{server, sign_in, sqlite};
use super::{audit_actions, staff};
use crate::cli::idlink;
use crate::h5::Browser;
use crate::reviews::as_op;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// An auditor reads the key status (a reviewer may not); after `idlink keys
/// rotate` the page shows two master keys, the new one active and wrapping
/// every key, and the rotation by the command line; the API agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_status_shows_fingerprints_and_the_latest_rotation() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let audrey = staff(&s, &rt, "audrey", &[Role::Auditor]).await;
    let rita = staff(&s, &rt, "rita", &[Role::Reviewer]).await;
    let res = s.authed(Method::POST, "/v1/users").json(&json!({ "phone": "13855550001" })).send().await;
    assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 201);

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &rita).await;
    assert!(!b.has("nav a[href='/console/keys']").await, "a reviewer is not offered the key status");
    b.goto(&s.url("/console/keys")).await;
    assert!(b.has("#keys-error").await, "and is refused it");
    assert!(!b.has("#masters").await);
    b.click("form[action='/console/sign-out'] button").await;

    sign_in(&b, &s, &rt, &audrey).await;
    b.goto(&s.url("/console/keys")).await;
    b.assert_accessible("key status zh-CN").await;
    b.click("button[name=lang][value=en]").await;
    let masters = b.text("#masters").await;
    assert_eq!(masters.matches("Active").count(), 1, "{masters}");
    let wrapped = masters.split(" data keys").next().and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse::<u32>().ok());
    let wrapped = wrapped.unwrap_or_else(|| panic!("a count of wrapped keys: {masters}"));
    assert!(wrapped >= 5, "the user's key, the operators' and the four system keys: {masters}");
    assert_eq!(b.text("#latest-rotation").await, "The master key has not been rotated yet.");
    let system = b.text("#system-keys").await;
    assert!(system.contains("Blind-index key") && system.contains("Audit signing key"), "{system}");
    b.assert_accessible("key status").await;

    let (code, out, err) = idlink(&s, &["keys", "rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    let new_key = out.split_whitespace().nth(4).unwrap_or("").trim_end_matches(';').to_owned();
    assert!(new_key.starts_with("mk-"), "{out}");

    b.goto(&s.url("/console/keys")).await;
    let masters = b.text("#masters").await;
    let active_row = masters.lines().find(|l| l.contains("Active")).unwrap_or("").to_owned();
    assert!(
        active_row.contains(&new_key) && active_row.contains(&format!("{wrapped} data keys")),
        "the new key wraps every key: {masters}"
    );
    assert!(masters.contains("Retired") && masters.contains("0 data keys"), "{masters}");
    let rotation = b.text("#latest-rotation").await;
    assert!(rotation.starts_with("Last master-key rotation:") && rotation.contains("by cli (Done)"), "{rotation}");
    assert!(b.text("#system-keys").await.matches(new_key.as_str()).count() == 4, "every system key re-wrapped");
    b.assert_accessible("key status after rotation").await;
    let page_key = b.text("#signing-key").await;

    let (_, status, _) = idlink(&s, &["keys", "status"]);
    assert!(status.contains(&format!("{new_key} (active)")) && status.contains("latest master-key rotation:"), "{status}");
    assert!(status.contains(&format!("audit signing public key {page_key}")), "the page and the CLI name one signing key: {status}");

    let op = crate::reviews::operator(&s, &rt, "aldo", &[Role::Auditor]).await;
    let res = as_op(&s, &op, Method::GET, "/v1/operator/keys").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.unwrap_or_default();
    assert_eq!(v["signing_public_key"], page_key.as_str());
    assert_eq!(v["latest_rotation"]["actor"], "cli");
    let active: Vec<&Value> = v["master_keys"].as_array().into_iter().flatten().filter(|k| k["active"] == true).collect();
    assert_eq!((active.len(), active[0]["id"].as_str()), (1, Some(new_key.as_str())), "{v}");
    assert!(v["missing_master_keys"].as_array().is_some_and(|m| m.is_empty()), "{v}");
    let text = v.to_string();
    let keyring = std::fs::read_to_string(s.config.master_key_file()).unwrap_or_default();
    for secret in keyring.lines().filter_map(|l| l.split('"').nth(1)).filter(|v| v.len() >= 40) {
        assert!(!text.contains(secret), "no key material in the answer");
    }
    let reviewer = crate::reviews::operator(&s, &rt, "ravi", &[Role::Reviewer]).await;
    let res = as_op(&s, &reviewer, Method::GET, "/v1/operator/keys").send().await.unwrap_or_else(|e| panic!("{e}"));
    crate::expect_problem(res, 403, "operator_role_required").await;
    b.close().await;
}

/// An admin puts a reviewer on duty: without a phone and with a bad one the
/// page says what to enter; with a good one the operator is on duty and the
/// phone is in the database only sealed. Off duty again; a locked sign-in
/// is unlocked at once. A reviewer cannot open the page.
#[tokio::test]
async fn an_admin_puts_an_operator_on_duty_and_unlocks_a_locked_sign_in() {
    let (s, rt, _clock) = server(sqlite().await).await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    let carol = staff(&s, &rt, "carol", &[Role::Reviewer]).await;

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &carol).await;
    assert!(!b.has("nav a[href='/console/duty']").await, "only admins are offered the duty page");
    b.goto(&s.url("/console/duty")).await;
    assert!(b.has("#duty-error").await && !b.has("#operators tbody tr").await, "a reviewer is refused the list");
    b.click("form[action='/console/sign-out'] button").await;

    sign_in(&b, &s, &rt, &ada).await;
    b.click("nav a[href='/console/duty']").await;
    b.assert_accessible("duty zh-CN").await;
    b.click("button[name=lang][value=en]").await;
    assert!(b.text("#operator-carol").await.contains("Off duty · no paging phone"));

    b.click("#on-carol").await;
    assert_eq!(b.text("#phone-carol-error").await, "Enter the phone to page: an operator on duty without one could not be reached.");
    assert_eq!(b.focus_on("phone-carol").await, "phone-carol", "the field to fix has the focus");
    b.assert_accessible("duty phone needed").await;
    b.fill("#phone-carol", "12345").await;
    b.click("#on-carol").await;
    assert!(b.text("#phone-carol-error").await.starts_with("Enter a mainland mobile number"));

    b.fill("#phone-carol", "13800138000").await;
    b.click("#on-carol").await;
    assert_eq!(b.text("#notice").await, "carol is on duty and will be paged when a case breaches its SLA.");
    assert!(b.text("#operator-carol").await.contains("On duty · paging phone set"));
    b.assert_accessible("duty set").await;
    let operators = idlink_store::testing::dump_table(&s.db.store, "operators").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(operators.contains("carol") && !operators.contains("13800138000"), "the paging phone is stored sealed");
    assert!(!b.text("main").await.contains("13800138000"), "and never shown again");

    b.click("#off-carol").await;
    assert_eq!(b.text("#notice").await, "carol is off duty.");
    assert!(b.text("#operator-carol").await.contains("Off duty · paging phone set"), "the phone stays for next time");

    // Five wrong codes lock carol's sign-in (over the API, as a guesser would).
    for _ in 0..5 {
        let res = s
            .client()
            .post(s.url("/v1/operator/sessions"))
            .json(&json!({"username": "carol", "password": carol.password, "totp": carol.wrong_code(&rt)}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401);
    }
    b.goto(&s.url("/console/duty")).await;
    assert!(b.text("#operator-carol").await.contains("Locked until"), "{}", b.text("#operator-carol").await);
    b.click("#unlock-carol").await;
    assert_eq!(b.text("#notice").await, "carol can sign in again.");
    assert!(b.text("#operator-carol").await.contains("Can sign in"));
    assert!(!b.has("#unlock-carol").await);
    b.assert_accessible("duty unlocked").await;
    b.close().await;

    let actions = audit_actions(&s).await;
    let by_ada = |action: &str| actions.iter().filter(|(actor, a, _)| a == action && actor.starts_with("operator:op_")).count();
    assert_eq!((by_ada("operator.duty"), by_ada("operator.unlock")), (2, 1), "{actions:?}");
    let res = s
        .client()
        .post(s.url("/v1/operator/sessions"))
        .json(&json!({"username": "carol", "password": carol.password, "totp": carol.code(&rt)}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201, "unlocked: carol signs in");
}
