//! The revocation preflight over HTTP against the sandbox host stores, on
//! both databases (issue 17, SPEC RV1): one account with every blocker kind
//! at once, cleared one by one; a store that does not answer in time, or
//! fails, is itself a blocker; without a real name only the account can
//! be closed.

use crate::cards::get_json;
use crate::login::{login_body, login_ok};
use crate::reviews::{session, verify_resident};
use crate::{Server, databases, expect_problem, start_full, start_with};
use idlink::serve::Runtime;
use idlink_core::ports::clock::{Clock, ManualClock};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn holdings(s: &Server, user: &str, h: Value) {
    let res = reqwest::Client::new()
        .put(format!("{}/sandbox/v1/host-stores/users/{user}", s.sandbox))
        .json(&h)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204, "{}", res.text().await.unwrap_or_default());
}

pub(crate) async fn script(s: &Server, source: &str, mode: &str, slow_ms: u64) {
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/host-stores/script", s.sandbox))
        .json(&json!({"source": source, "mode": mode, "slow_ms": slow_ms}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204);
}

pub(crate) async fn preflight(s: &Server, token: &str, operation: &str) -> Value {
    get_json(s, &format!("/v1/me/revocation/preflight?operation={operation}"), token).await
}

pub(crate) fn codes(p: &Value) -> Vec<String> {
    p["blockers"].as_array().map(|b| b.iter().filter_map(|b| b["code"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn blocker<'a>(p: &'a Value, code: &str) -> &'a Value {
    p["blockers"].as_array().and_then(|b| b.iter().find(|b| b["code"] == code)).unwrap_or(&Value::Null)
}

/// Every holding the sandbox host stores know of.
pub(crate) fn everything() -> Value {
    json!({
        "wallet_balance_fen": 1,
        "pending_transactions": 2,
        "red_packets": [{"from": "张三丰", "amount_fen": 888}],
        "loans": [{"product": "Micro-loan", "amount_fen": 50000}],
        "contracts": ["Video Plus"],
        "admin_of": ["Acme Ltd"]
    })
}

/// A login on a second device (a step-up at login, so an abnormal one
/// here), its device check completed; returns the session token.
async fn second_device(s: &Server, phone: &str, device: &str) -> String {
    let (token, answer) = crate::login::login_checked(s, phone, device).await;
    assert_eq!(answer["risk"], "step_up", "a new device is a step-up with `risk.step_up_at = 1`: {answer}");
    token
}

#[tokio::test]
async fn the_preflight_names_every_blocker_at_once_and_each_clears() {
    for db in databases().await {
        let t0: jiff::Timestamp = "2027-03-01T02:00:00Z".parse().unwrap_or_default();
        let clock = Arc::new(ManualClock::new(t0));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let extra = [("IDLINK__LOGIN__SESSION_TTL_HOURS", "20000"), ("IDLINK__RISK__STEP_UP_AT", "1")];
        let s = start_full(db, &extra, rt).await;
        let day = |n: i64| jiff::SignedDuration::from_hours(24 * n);
        let phone = "13866661001";
        let id = crate::credit::id_number(phone, "321");

        // The first device is the primary one; the real name is verified, then changed a day later.
        let primary = login_ok(&s, phone, "phone-a").await["session_token"].as_str().unwrap_or("").to_owned();
        verify_resident(&s, &primary, phone, "张三丰", &id).await;
        let p = preflight(&s, &primary, "revoke_real_name").await;
        assert_eq!((codes(&p), &p["clear"]), (Vec::<String>::new(), &json!(true)), "the first verification is not a change: {p}");
        clock.advance(day(1));
        verify_resident(&s, &primary, phone, "张三峰", &id).await;
        let changed_at = clock.now();
        clock.advance(day(1));
        // A login on another device that the risk rules stepped up: an abnormal login.
        let other = second_device(&s, phone, "tablet-b").await;
        let abnormal_at = clock.now();
        let user = get_json(&s, "/v1/me", &other).await["user_id"].as_str().unwrap_or("").to_owned();
        holdings(&s, &user, everything()).await;

        let p = preflight(&s, &other, "revoke_real_name").await;
        assert_eq!(
            codes(&p),
            [
                "wallet_balance",
                "pending_transactions",
                "unclaimed_red_packets",
                "active_loans",
                "auto_renew_contracts",
                "directory_admin",
                "abnormal_login",
                "non_primary_device",
                "recent_real_name_change"
            ],
            "{} {p}",
            s.kind
        );
        assert_eq!(p["clear"], false);
        assert_eq!(p["operation"], "revoke_real_name");
        assert_eq!(p["sources_asked"], json!(["wallet", "lending", "subscriptions", "directories"]));
        let balance = blocker(&p, "wallet_balance");
        assert_eq!((balance["amount_fen"].as_i64(), balance["source"].as_str()), (Some(1), Some("wallet")), "even 1 fen blocks");
        assert_eq!(balance["action"]["code"], "withdraw_balance");
        let packet = blocker(&p, "unclaimed_red_packets");
        assert_eq!(packet["item"], "张**", "the sender is masked: {packet}");
        assert!(!p.to_string().contains("张三丰"), "no name in clear: {p}");
        assert_eq!(blocker(&p, "active_loans")["amount_fen"], 50000);
        assert_eq!(blocker(&p, "directory_admin")["item"], "Acme Ltd");
        let lifts = |code: &str| blocker(&p, code)["until"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        assert_eq!(lifts("abnormal_login"), abnormal_at.checked_add(day(30)).ok(), "30 days after the abnormal login");
        assert_eq!(lifts("recent_real_name_change"), changed_at.checked_add(day(90)).ok(), "90 days after the change");
        assert_eq!(blocker(&p, "non_primary_device")["action"]["code"], "use_primary_device");

        // Each clears by itself, and only it goes.
        let mut left = codes(&p);
        let mut h = everything();
        for (field, empty, code) in [
            ("wallet_balance_fen", json!(0), "wallet_balance"),
            ("pending_transactions", json!(0), "pending_transactions"),
            ("red_packets", json!([]), "unclaimed_red_packets"),
            ("loans", json!([]), "active_loans"),
            ("contracts", json!([]), "auto_renew_contracts"),
            ("admin_of", json!([]), "directory_admin"),
        ] {
            h[field] = empty;
            holdings(&s, &user, h.clone()).await;
            left.retain(|c| c != code);
            assert_eq!(codes(&preflight(&s, &other, "revoke_real_name").await), left, "{} after clearing {code}", s.kind);
        }
        // The primary device has no device blocker.
        left.retain(|c| c != "non_primary_device");
        assert_eq!(codes(&preflight(&s, &primary, "revoke_real_name").await), left);
        // The waiting periods lift at their ends.
        clock.advance(day(29));
        assert_eq!(codes(&preflight(&s, &primary, "revoke_real_name").await), left, "a day before the end");
        clock.advance(day(1));
        left.retain(|c| c != "abnormal_login");
        assert_eq!(codes(&preflight(&s, &primary, "revoke_real_name").await), left, "30 days after the abnormal login");
        clock.advance(day(58));
        assert_eq!(codes(&preflight(&s, &primary, "revoke_real_name").await), left, "a day before 90 days after the change");
        clock.advance(day(1));
        for operation in ["revoke_real_name", "cancel_account"] {
            let p = preflight(&s, &primary, operation).await;
            assert_eq!((codes(&p), &p["clear"], &p["operation"]), (Vec::<String>::new(), &json!(true), &json!(operation)), "{p}");
        }
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_in_time_is_a_blocker() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__REVOCATION__SOURCE_DEADLINE_MS", "400"), ("IDLINK__CONNECTORS__RETRIES", "0")]).await;
        let phone = "13866661002";
        let token = login_ok(&s, phone, "phone-a").await["session_token"].as_str().unwrap_or("").to_owned();
        verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "322")).await;
        let user = get_json(&s, "/v1/me", &token).await["user_id"].as_str().unwrap_or("").to_owned();
        holdings(&s, &user, json!({"loans": [{"product": "Micro-loan", "amount_fen": 100}], "contracts": ["Video Plus"]})).await;
        script(&s, "lending", "slow", 5_000).await;
        script(&s, "wallet", "down", 0).await;

        let started = std::time::Instant::now();
        let p = preflight(&s, &token, "revoke_real_name").await;
        let waited = started.elapsed();
        // The slow store's loan is not known, and not passed over: its silence blocks.
        let named: Vec<(String, String)> = p["blockers"]
            .as_array()
            .map(|b| {
                b.iter().map(|b| (b["source"].as_str().unwrap_or("").to_owned(), b["code"].as_str().unwrap_or("").to_owned())).collect()
            })
            .unwrap_or_default();
        let named: Vec<(&str, &str)> = named.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            named,
            [("wallet", "source_unavailable"), ("lending", "source_unavailable"), ("subscriptions", "auto_renew_contracts")],
            "{} {p}",
            s.kind
        );
        assert!(waited < std::time::Duration::from_millis(4_000), "the deadline bounds the wait, not the slow store: {waited:?}");
        let retry = p["blockers"][1]["until"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let checked = p["checked_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        assert_eq!(
            retry.zip(checked).map(|(r, c)| r.duration_since(c).as_secs()),
            Some(10),
            "a store that did not answer in time is asked again after `revocation.retry_secs`"
        );
        assert_eq!(p["blockers"][1]["action"]["code"], "retry_later");

        // Back up: its loan shows.
        script(&s, "lending", "ok", 0).await;
        script(&s, "wallet", "ok", 0).await;
        assert_eq!(codes(&preflight(&s, &token, "revoke_real_name").await), ["active_loans", "auto_renew_contracts"]);

        // An operation idlink does not know is refused at the boundary.
        let res = s.authed(Method::GET, "/v1/me/revocation/preflight?operation=forget_me").header("idlink-session", &token).send().await;
        let p = expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["pointer"], "/query/operation", "{p}");
    }
}

#[tokio::test]
async fn without_a_real_name_only_the_account_can_be_closed() {
    let s = crate::sqlite_server().await;
    let phone = "13866661003";
    let token = login_ok(&s, phone, "phone-a").await["session_token"].as_str().unwrap_or("").to_owned();
    let res = s.authed(Method::GET, "/v1/me/revocation/preflight").header("idlink-session", &token).send().await;
    let p = expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "identity_not_verified").await;
    assert!(p["detail"].as_str().unwrap_or("").contains("cancel_account"), "{p}");
    let p = preflight(&s, &token, "cancel_account").await;
    assert_eq!(p["clear"], true, "{p}");
    // The page does not stop at "nothing to revoke": it opens the account-closing check.
    let mut page = crate::h5::FormClient::new(&s);
    page.cookies.insert("idlink_session".to_owned(), token);
    let res = page.get("/h5/revocation").await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/revocation?operation=cancel_account"));
    let res = page.get("/h5/revocation?operation=cancel_account").await;
    assert!(res.text().await.unwrap_or_default().contains("id=\"clear\""), "the closing check opens and is clear");
}

/// A step-up token for `operation` on the user's own id (the adult's payment password).
async fn step_up(s: &Server, token: &str, user: &str, operation: &str) -> String {
    let res = s
        .authed(Method::POST, "/v1/me/payment-password/verify")
        .header("idlink-session", token)
        .json(&json!({"password": "135790", "operation": operation, "resource": user}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = res.json().await.unwrap_or_default();
    v["step_up_token"].as_str().unwrap_or_else(|| panic!("no step-up token: {v}")).to_owned()
}

async fn start(s: &Server, token: &str, step_up: Option<&str>, operation: &str) -> reqwest::Response {
    let mut r = s.authed(Method::POST, "/v1/me/revocations").header("idlink-session", token).json(&json!({"operation": operation}));
    if let Some(t) = step_up {
        r = r.header("idlink-step-up", t);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// What the sandbox wallet was told of the user's payment limits, once told (within 15 s).
async fn wallet_limits(s: &Server, user: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..150 {
        v = reqwest::get(format!("{}/sandbox/v1/host-stores/users/{user}/payment-limits", s.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        if !v["limits"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    v
}

async fn change_status(s: &Server, source: &str, change: &str) -> String {
    let v: Value = reqwest::get(format!("{}/host/{source}/v1/changes/{change}", s.sandbox))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_owned()
}

async fn funds_operation(s: &Server, user: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/sandbox/v1/host-stores/users/{user}/funds-operations", s.sandbox))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

/// The account events (sorted: deliveries to one app are not ordered) once `n` of them arrived, or after 20 s.
async fn account_events(r: &crate::events::Receiver, n: usize) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let mut got = hook_types(&r.hits().into_iter().filter(|h| h.path == "/hook").collect::<Vec<_>>());
        if got.len() >= n || start.elapsed() > std::time::Duration::from_secs(20) {
            got.sort();
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

const STORES: [&str; 4] = ["wallet", "lending", "subscriptions", "directories"];

/// The account events the app's webhook got, in order (not the set-up's
/// own, `identity.verified` and `credential.changed`, whose order the test does not fix).
fn hook_types(hits: &[crate::events::Hit]) -> Vec<String> {
    hits.iter()
        .filter_map(|h| serde_json::from_slice::<Value>(&h.body).ok())
        .filter_map(|b| b["type"].as_str().map(str::to_owned))
        .filter(|t| t.starts_with("account.") || t == "identity.revoked")
        .collect()
}

#[tokio::test]
async fn a_revocation_commits_and_every_app_grant_and_store_follows() {
    use crate::events::{Receiver, app, scalar};
    use std::time::Duration;
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__OUTBOX__POLL_MS", "50")]).await;
        let r = Receiver::start().await;
        let phone = "13866661011";
        let (token, user) = crate::credit::adult(&s, phone, "331").await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = s.running.as_ref().map(|r| r.clock.now()).unwrap_or_default();
        app(&s, &r, "cli_rvk", &uid, now.as_microsecond() - 1_000_000).await;

        // No step-up: refused. Something held at the wallet: refused with the list, nothing started.
        expect_problem(start(&s, &token, None, "revoke_real_name").await, 403, "step_up_required").await;
        holdings(&s, &user, json!({"wallet_balance_fen": 1})).await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        let p = expect_problem(start(&s, &token, Some(&t), "revoke_real_name").await, 409, "revocation_blocked").await;
        assert_eq!(
            (p["errors"][0]["code"].as_str(), p["errors"][0]["detail"].as_str()),
            (Some("wallet_balance"), Some("withdraw_balance")),
            "{p}"
        );
        let res = s.authed(Method::GET, "/v1/me/revocations/latest").header("idlink-session", &token).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "revocation_not_found").await;
        holdings(&s, &user, json!({})).await;
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert_eq!(
            caps["payments"],
            json!({"daily_receiving_limit_fen": 5_000_000, "withdrawals_paused_until": null, "auto_debit_allowed": true})
        );

        let t = step_up(&s, &token, &user, "identity.revoke").await;
        let res = start(&s, &token, Some(&t), "revoke_real_name").await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let done: Value = res.json().await.unwrap_or_default();
        assert_eq!(done["phase"], "committed", "{done}");
        assert_eq!(done["steps_done"], json!(["mark_pending", "suspend_grants", "apply_stores", "commit"]));
        let id = done["id"].as_str().unwrap_or("").to_owned();

        // Every grant and token dead; every store committed; the identity out of business use, kept sealed.
        assert_eq!(scalar(&s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_rvk'").await, "revoked", "{}", s.kind);
        let live = scalar(&s, &format!("SELECT COUNT(*) FROM oauth_access_tokens WHERE user_id = '{user}' AND revoked_at IS NULL")).await;
        assert_eq!(live, "0", "{}: no token of the user is alive", s.kind);
        for source in STORES {
            assert_eq!(change_status(&s, source, &format!("{id}-{source}")).await, "committed", "{} {source}", s.kind);
        }
        let res = s.authed(Method::GET, "/v1/me/identity").header("idlink-session", &token).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "identity_not_verified").await;
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM identities WHERE user_id = '{user}'")).await, "0");
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await, "1", "{}", s.kind);

        // The app was told: first disabled while the saga ran, then the identity revoked; logged out.
        assert_eq!(account_events(&r, 2).await, ["account.disabled", "identity.revoked"], "{}", s.kind);
        // The pushed SETs (their signatures are checked in `events`): RISC account-disabled, then CAEP assurance-level-change.
        let start = std::time::Instant::now();
        let set_types = loop {
            let types: Vec<String> = r
                .hits()
                .iter()
                .filter(|h| h.path == "/set")
                .filter_map(|h| String::from_utf8_lossy(&h.body).split('.').nth(1).map(str::to_owned))
                .filter_map(|p| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok())
                .filter_map(|p| serde_json::from_slice::<Value>(&p).ok())
                .flat_map(|c| c["events"].as_object().map(|e| e.keys().cloned().collect::<Vec<_>>()).unwrap_or_default())
                .collect();
            if types.iter().any(|t| t.ends_with("assurance-level-change")) || start.elapsed() > Duration::from_secs(20) {
                break types;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        for wanted in ["risc/event-type/account-disabled", "caep/event-type/assurance-level-change"] {
            assert!(set_types.iter().any(|t| t.ends_with(wanted)), "{}: {wanted} in {set_types:?}", s.kind);
        }
        // The payment capabilities drop (RV3): 2,000 yuan a day, withdrawals paused 72 h, no auto-debit.
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        let committed_at = done["updated_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()).unwrap_or_default();
        let paused = caps["payments"]["withdrawals_paused_until"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        assert_eq!(paused, committed_at.checked_add(jiff::SignedDuration::from_hours(72)).ok(), "{caps}");
        assert_eq!(
            (&caps["payments"]["daily_receiving_limit_fen"], &caps["payments"]["auto_debit_allowed"], &caps["verified"]),
            (&json!(200_000), &json!(false), &json!(false))
        );
        let latest = get_json(&s, "/v1/me/revocations/latest", &token).await;
        assert_eq!((latest["id"].as_str(), latest["phase"].as_str()), (Some(id.as_str()), Some("committed")));
        // …and the host's wallet, which enforces them, is told the same, once, through the outbox.
        let told = wallet_limits(&s, &user).await;
        assert_eq!(
            told["limits"],
            json!({"daily_receiving_limit_fen": 200_000, "withdrawals_paused_until": caps["payments"]["withdrawals_paused_until"], "auto_debit_allowed": false}),
            "{}: {told}",
            s.kind
        );
        assert_eq!(told["events"].as_array().map(Vec::len), Some(1), "{}: {told}", s.kind);
        let sealed = scalar(
            &s,
            &format!("SELECT COUNT(*) FROM outbox WHERE kind = 'host.payment_limits' AND subject = '{user}' AND state = 'delivered'"),
        )
        .await;
        assert_eq!(sealed, "1", "{}", s.kind);

        // The next login, even on the known device, proves the phone by SMS first (RV3); once only.
        let again = session(&s, phone, "d").await;
        assert_eq!(again["status"], "device_check_required", "{} {again}", s.kind);
        let (check, pending) =
            (again["device_check"]["challenge_id"].as_str().unwrap_or(""), again["session_token"].as_str().unwrap_or(""));
        let code = s.last_code(phone).await;
        let res = s
            .authed(Method::POST, "/v1/auth/device-check")
            .header("idlink-session", pending)
            .json(&login_body(phone, "d", check, &code))
            .send()
            .await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 200, "{}", s.kind);
        assert_eq!(session(&s, phone, "d").await["status"], "active", "{}: one extra check, not every login", s.kind);
        let devices = scalar(&s, &format!("SELECT COUNT(*) FROM devices WHERE user_id = '{user}'")).await;
        assert_eq!(devices, "1", "{}: the known device checked again, not registered twice", s.kind);

        // Verified again, the revoked real name counts as a change (ID5): a revocation waits 90 days
        // again, and the payment limits are back.
        verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "331")).await;
        let p = preflight(&s, &token, "revoke_real_name").await;
        assert!(codes(&p).contains(&"recent_real_name_change".to_owned()), "{}: {p}", s.kind);
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert_eq!((&caps["payments"]["daily_receiving_limit_fen"], &caps["verified"]), (&json!(5_000_000), &json!(true)), "{caps}");
        let audited = scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'revocation.%' AND subject = '{user}'")).await;
        assert_eq!(audited, "6", "{}: the start, the three steps, the commit begun and done", s.kind);
    }
}

#[tokio::test]
async fn a_funds_operation_during_the_window_rolls_every_step_back() {
    use crate::events::scalar;
    for db in databases().await {
        let extra = [("IDLINK__CONNECTORS__RETRIES", "0"), ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100")];
        let s = start_with(db, &extra).await;
        let phone = "13866661012";
        let (token, user) = crate::credit::adult(&s, phone, "332").await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = s.running.as_ref().map(|r| r.clock.now()).unwrap_or_default();
        let r = crate::events::Receiver::start().await;
        crate::events::app(&s, &r, "cli_fund", &uid, now.as_microsecond() - 1_000_000).await;

        // The lending store is down: the saga waits at its stores, grants suspended.
        script(&s, "lending", "changes_down", 0).await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        let res = start(&s, &token, Some(&t), "revoke_real_name").await;
        assert_eq!(res.status().as_u16(), 202, "{}", s.kind);
        let waiting: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            (waiting["phase"].as_str(), waiting["steps_done"].clone()),
            (Some("forward"), json!(["mark_pending", "suspend_grants"]))
        );
        assert_eq!(scalar(&s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_fund'").await, "held", "{}", s.kind);
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        expect_problem(start(&s, &token, Some(&t), "revoke_real_name").await, 409, "revocation_running").await;

        // Money moves at the wallet during the window; the lending store comes back.
        assert_eq!(funds_operation(&s, &user).await["changes_told"], 1, "the wallet held the change");
        script(&s, "lending", "ok", 0).await;
        let done = get_json(&s, "/v1/me/revocations/latest", &token).await;
        assert_eq!(
            (done["phase"].as_str(), done["rollback_reason"].as_str(), done["steps_done"].clone()),
            (Some("rolled_back"), Some("funds_operation"), json!([])),
            "{} {done}",
            s.kind
        );
        let id = done["id"].as_str().unwrap_or("").to_owned();
        for source in STORES {
            assert_eq!(change_status(&s, source, &format!("{id}-{source}")).await, "undone", "{} {source}", s.kind);
        }
        assert_eq!(scalar(&s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_fund'").await, "active", "{}: grants back", s.kind);
        let identity = s.authed(Method::GET, "/v1/me/identity").header("idlink-session", &token).send().await;
        assert_eq!(identity.map(|r| r.status().as_u16()).unwrap_or(0), 200, "{}: the identity stays", s.kind);
        assert_eq!(account_events(&r, 2).await, ["account.disabled", "account.enabled"], "{}", s.kind);
    }
}

#[tokio::test]
async fn a_store_silent_past_the_window_rolls_back_once_it_can_undo() {
    use crate::events::scalar;
    for db in databases().await {
        let t0: jiff::Timestamp = "2027-05-01T02:00:00Z".parse().unwrap_or_default();
        let clock = Arc::new(ManualClock::new(t0));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let extra = [
            ("IDLINK__CONNECTORS__RETRIES", "0"),
            ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100"),
            ("IDLINK__REVOCATION__WINDOW_SECS", "60"),
        ];
        let s = start_full(db, &extra, rt).await;
        let (token, user) = crate::credit::adult(&s, "13866661013", "333").await;
        script(&s, "directories", "changes_down", 0).await;
        let t = step_up(&s, &token, &user, "account.cancel").await;
        let res = start(&s, &token, Some(&t), "cancel_account").await;
        assert_eq!(res.status().as_u16(), 202, "{}", s.kind);
        let id = res.json::<Value>().await.unwrap_or_default()["id"].as_str().unwrap_or("").to_owned();

        // Past the window: rolling back; the silent store's undo waits for it.
        clock.advance(jiff::SignedDuration::from_secs(61));
        let p = get_json(&s, "/v1/me/revocations/latest", &token).await;
        assert_eq!((p["phase"].as_str(), p["rollback_reason"].as_str()), (Some("compensating"), Some("timed_out")), "{} {p}", s.kind);
        script(&s, "directories", "ok", 0).await;
        let p = get_json(&s, "/v1/me/revocations/latest", &token).await;
        assert_eq!((p["phase"].as_str(), p["steps_done"].clone()), (Some("rolled_back"), json!([])), "{} {p}", s.kind);
        for source in STORES {
            assert_eq!(change_status(&s, source, &format!("{id}-{source}")).await, "undone", "{} {source}", s.kind);
        }
        let rolled =
            scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'revocation.rolled_back' AND subject = '{user}'")).await;
        assert_eq!(rolled, "1", "{}", s.kind);
    }
}

/// A saga left waiting by a node that stopped resumes after its restart,
/// and two nodes driving it at once move each step once: the start and the
/// five moves are audited exactly once each, and the app is told once.
#[tokio::test]
async fn a_saga_resumes_after_a_restart_and_two_nodes_move_it_once() {
    use crate::events::scalar;
    for db in databases().await {
        let extra = [("IDLINK__CONNECTORS__RETRIES", "0"), ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100")];
        let mut s = start_with(db, &extra).await;
        let (token, user) = crate::credit::adult(&s, "13866661014", "334").await;
        script(&s, "subscriptions", "changes_down", 0).await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        let res = start(&s, &token, Some(&t), "revoke_real_name").await;
        assert_eq!(res.status().as_u16(), 202, "{}", s.kind);

        // The node stops mid-saga and comes back (its sandbox afresh, every store answering).
        s.restart(|_| {}).await;
        let mut other = s.config.clone();
        for (url, source) in [
            (&mut other.connectors.host_stores.wallet_url, "wallet"),
            (&mut other.connectors.host_stores.lending_url, "lending"),
            (&mut other.connectors.host_stores.subscriptions_url, "subscriptions"),
            (&mut other.connectors.host_stores.directories_url, "directories"),
        ] {
            *url = format!("{}/host/{source}", s.sandbox);
        }
        let node_b = idlink::serve::start(&other, Runtime::default()).await.unwrap_or_else(|e| panic!("{e:#}"));
        let b_base = format!("http://{}", node_b.api_addr);
        let latest = |base: String| {
            let (key, token) = (s.token.clone(), token.clone());
            async move {
                reqwest::Client::new()
                    .get(format!("{base}/v1/me/revocations/latest"))
                    .bearer_auth(key)
                    .header("idlink-session", token)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                    .json::<Value>()
                    .await
                    .unwrap_or_default()
            }
        };
        let (a, b) = tokio::join!(latest(s.base.clone()), latest(b_base));
        assert_eq!((a["phase"].as_str(), b["phase"].as_str()), (Some("committed"), Some("committed")), "{} {a} {b}", s.kind);
        let moves = scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'revocation.%' AND subject = '{user}'")).await;
        assert_eq!(moves, "6", "{}: the start and five moves, each once", s.kind);
        let told = scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await;
        assert_eq!(told, "1", "{}: the identity retired once", s.kind);
        node_b.shutdown().await;
    }
}

/// The identity verified again while the saga waits (the mark is gone: the
/// identity changed) rolls the saga back instead of committing; and a risk
/// freeze that came meanwhile stays: the rollback releases the saga's hold
/// on the grants into the freeze's suspension, not into active.
#[tokio::test]
async fn an_identity_changed_or_frozen_meanwhile_is_respected_by_the_rollback() {
    use crate::events::scalar;
    for db in databases().await {
        let extra = [("IDLINK__CONNECTORS__RETRIES", "0"), ("IDLINK__CONNECTORS__BREAKER_FAILURES", "100")];
        let s = start_with(db, &extra).await;
        let phone = "13866661015";
        let (token, user) = crate::credit::adult(&s, phone, "335").await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = s.running.as_ref().map(|r| r.clock.now()).unwrap_or_default();
        let r = crate::events::Receiver::start().await;
        crate::events::app(&s, &r, "cli_chg", &uid, now.as_microsecond() - 1_000_000).await;
        script(&s, "wallet", "changes_down", 0).await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        assert_eq!(start(&s, &token, Some(&t), "revoke_real_name").await.status().as_u16(), 202, "{}", s.kind);

        // Meanwhile: verified again (same person), and frozen by the risk rules.
        verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "335")).await;
        let micros = now.as_microsecond();
        let freeze = format!(
            "INSERT INTO freezes (user_id, status, reason, frozen_at, case_id) VALUES ('{user}', 'frozen', 'test', {micros}, 'cas_test')"
        );
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        idlink_store::testing::execute(&store, &freeze).await.unwrap_or_else(|e| panic!("{}: {e}", s.kind));
        script(&s, "wallet", "ok", 0).await;
        let p = get_json(&s, "/v1/me/revocations/latest", &token).await;
        assert_eq!(
            (p["phase"].as_str(), p["rollback_reason"].as_str()),
            (Some("rolled_back"), Some("step_refused")),
            "{}: a changed identity is not retired: {p}",
            s.kind
        );
        let identity = s.authed(Method::GET, "/v1/me/identity").header("idlink-session", &token).send().await;
        assert_eq!(identity.map(|r| r.status().as_u16()).unwrap_or(0), 200, "{}: the identity stays", s.kind);
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await, "0");
        assert_eq!(
            scalar(&s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_chg'").await,
            "suspended",
            "{}: the freeze's suspension stays after the rollback",
            s.kind
        );
    }
}

/// The crash harness, a small sample (`idlink bench revocation-crash` runs
/// 200): the node aborted right after each forward move in turn, and killed
/// at random points, each time restarted and followed to a single commit.
#[tokio::test]
async fn the_saga_survives_a_crash_after_every_move_and_at_random_points() {
    let opts = idlink::bench_crash::Options {
        runs: 10,
        exe: std::path::PathBuf::from(env!("CARGO_BIN_EXE_idlink")),
        database_url: String::new(),
        seed: 5,
        apps: 2,
    };
    let report = idlink::bench_crash::run(&opts).await.unwrap_or_else(|e| panic!("{e:#}"));
    idlink::bench_crash::print(&report);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(report.runs, 10);
    assert!(report.found.keys().any(|f| f.starts_with("forward:3:1")), "a crash after the commit began was resumed: {:?}", report.found);
}

/// Every ciphertext in `sql`'s first column that some data key still in the
/// database opens (under any of the personal-data contexts).
async fn still_open(s: &Server, sql: &str) -> usize {
    use idlink_core::steps::personal::{BIRTH_CONTEXT, ID_CONTEXT, NAME_CONTEXT, PHONE_CONTEXT};
    let running = s.running.as_ref().expect("running");
    let store = &running.store;
    let ciphers = idlink_store::testing::query_bytes(store, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ids = idlink_store::testing::query_strings(store, "SELECT id FROM data_keys").await.unwrap_or_else(|e| panic!("{e}"));
    let mut keys = Vec::new();
    for id in ids {
        let wrapped = idlink_core::ports::keys::KeyStore::wrapped_key(store, &id).await.unwrap_or_else(|e| panic!("{id}: {e}"));
        let wrapped = wrapped.unwrap_or_else(|| panic!("{id} listed but not read"));
        keys.push(running.vault.unwrap(&wrapped).unwrap_or_else(|e| panic!("{id} does not unwrap: {e}")));
    }
    ciphers
        .iter()
        .filter(|c| keys.iter().any(|k| [PHONE_CONTEXT, NAME_CONTEXT, ID_CONTEXT, BIRTH_CONTEXT].iter().any(|ctx| k.open(ctx, c).is_ok())))
        .count()
}

/// An account cancellation (SPEC CP): due at the end of the 15th working day
/// after the request, public holidays counted (asked on 30 September 2026,
/// before the National Day week: due at the end of 27 October), and closed
/// as soon as it commits. The closure destroys the user's data key: every
/// ciphertext of theirs left in the database is tried with every data key
/// still there, and none opens. The retained identity, sealed again under
/// a key of its own, still opens until its period ends; then the job
/// shreds it and its key. The phone is free for a new account.
#[tokio::test]
async fn a_cancelled_account_is_closed_in_time_and_none_of_its_ciphertexts_opens_any_more() {
    use crate::events::scalar;
    for db in databases().await {
        let t0: jiff::Timestamp = "2026-09-30T02:00:00Z".parse().unwrap_or_default();
        let clock = Arc::new(ManualClock::new(t0));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[("IDLINK__REVOCATION__DRIVE_SECS", "1"), ("IDLINK__OUTBOX__POLL_MS", "50")], rt).await;
        let phone = "13866661014";
        let (token, user) = crate::credit::adult(&s, phone, "334").await;
        let r = crate::events::Receiver::start().await;
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        crate::events::app(&s, &r, "cli_cls", &uid, t0.as_microsecond() - 1_000_000).await;
        let mine = [
            format!("SELECT phone_cipher FROM users WHERE id = '{user}'"),
            format!("SELECT name_cipher FROM verifications WHERE user_id = '{user}'"),
            format!("SELECT id_cipher FROM verifications WHERE user_id = '{user}'"),
        ];
        for sql in &mine {
            assert!(still_open(&s, sql).await > 0, "{}: before, the user's key opens {sql}", s.kind);
        }

        let t = step_up(&s, &token, &user, "account.cancel").await;
        let res = start(&s, &token, Some(&t), "cancel_account").await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let done: Value = res.json().await.unwrap_or_default();
        assert_eq!(done["phase"], "committed", "{done}");
        assert_eq!(done["due_at"], "2026-10-27T16:00:00Z", "{}: 15 working days, the holiday week skipped: {done}", s.kind);
        assert_eq!(done["due_provisional"], false);
        assert_eq!(done["closed_at"], t0.to_string(), "{}: closed at once", s.kind);

        // The app was told the account is going, then that its data is gone (RISC account-purged): delete yours.
        assert_eq!(account_events(&r, 2).await, ["account.disabled", "account.purged"], "{}", s.kind);
        // Crypto-shredded: the key is gone, and no key left opens what remains of the user's.
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = 'dek-{user}'")).await, "0", "{}", s.kind);
        for sql in &mine {
            assert_eq!(still_open(&s, sql).await, 0, "{}: after the closure nothing opens {sql}", s.kind);
        }
        // The session ended with the account; the phone is free for a new one.
        let res = s.authed(Method::GET, "/v1/me").header("idlink-session", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401, "{}", s.kind);
        let (_, again) = crate::credit::adult(&s, phone, "335").await;
        assert_ne!(again, user, "{}: the same phone signs up as a new account", s.kind);
        // The law's record stays, apart and sealed under its own key, out of business use.
        let retained = format!("SELECT id_cipher FROM retained_identities WHERE user_id = '{user}'");
        assert_eq!(still_open(&s, &retained).await, 1, "{}: the retained identity opens with its retention key", s.kind);
        let key_id = scalar(&s, &format!("SELECT key_id FROM retained_identities WHERE user_id = '{user}'")).await;
        assert_eq!(key_id, format!("ret-{}", done["id"].as_str().unwrap_or("")), "{}", s.kind);
        let closed = scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'account.closed' AND subject = '{user}'")).await;
        assert_eq!(closed, "1", "{}", s.kind);
        // Nothing ties the ID number to the closed account, and no credential of it is left.
        for (what, sql) in [
            (
                "indexed verifications",
                format!("SELECT COUNT(*) FROM verifications WHERE user_id = '{user}' AND id_index NOT LIKE 'closed:%'"),
            ),
            ("payment password", format!("SELECT COUNT(*) FROM payment_passwords WHERE user_id = '{user}'")),
            ("devices", format!("SELECT COUNT(*) FROM devices WHERE user_id = '{user}'")),
            ("live sessions", format!("SELECT COUNT(*) FROM sessions WHERE user_id = '{user}' AND revoked_at IS NULL")),
        ] {
            assert_eq!(scalar(&s, &sql).await, "0", "{}: {what} left after the closure", s.kind);
        }

        // Five years and a day on, the job shreds it, key and all.
        clock.advance(jiff::SignedDuration::from_hours((5 * 366 + 1) * 24));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await != "0" {
            assert!(std::time::Instant::now() < deadline, "{}: the retained identity was not shredded at the end of its period", s.kind);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM data_keys WHERE id = '{key_id}'")).await, "0", "{}", s.kind);
        let ended =
            scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'identity.retention_ended' AND subject = '{user}'")).await;
        assert_eq!(ended, "1", "{}", s.kind);
    }
}

/// A revoked real name on an account that stays (RV3): its records are kept,
/// out of business use, for their period, then shredded: the retained
/// identity and the verifications that made it, while the account and
/// everything else of the user's go on opening.
#[tokio::test]
async fn a_revoked_identity_is_shredded_at_the_end_of_its_period_and_the_account_stays() {
    use crate::events::scalar;
    for db in databases().await {
        let t0: jiff::Timestamp = "2026-12-01T02:00:00Z".parse().unwrap_or_default();
        let clock = Arc::new(ManualClock::new(t0));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[("IDLINK__REVOCATION__DRIVE_SECS", "1")], rt).await;
        let (token, user) = crate::credit::adult(&s, "13866661015", "336").await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        let res = start(&s, &token, Some(&t), "revoke_real_name").await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let verifications = format!("SELECT id_cipher FROM verifications WHERE user_id = '{user}'");
        assert!(still_open(&s, &verifications).await > 0, "{}: kept, sealed, during the period", s.kind);
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await, "1");

        clock.advance(jiff::SignedDuration::from_hours((5 * 366 + 1) * 24));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while scalar(&s, &format!("SELECT COUNT(*) FROM retained_identities WHERE user_id = '{user}'")).await != "0" {
            assert!(std::time::Instant::now() < deadline, "{}: not shredded at the end of its period", s.kind);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(still_open(&s, &verifications).await, 0, "{}: the verifications of the revoked identity went with it", s.kind);
        let indexed =
            scalar(&s, &format!("SELECT COUNT(*) FROM verifications WHERE user_id = '{user}' AND id_index NOT LIKE 'shredded:%'")).await;
        assert_eq!(indexed, "0", "{}: nothing ties the ID number to the account any more", s.kind);
        assert_eq!(
            still_open(&s, &format!("SELECT phone_cipher FROM users WHERE id = '{user}'")).await,
            1,
            "{}: the account stays",
            s.kind
        );
    }
}

/// The host deletes a user's personal data (`DELETE /v1/users/{id}/personal-data`)
/// after their real name was revoked: the user's key goes, but the identity the
/// law keeps is sealed again under a key of its own first, and still opens.
#[tokio::test]
async fn deleting_personal_data_keeps_the_retained_identity_apart() {
    use crate::events::scalar;
    for db in databases().await {
        let s = crate::start_with(db, &[]).await;
        let (token, user) = crate::credit::adult(&s, "13866661016", "337").await;
        let t = step_up(&s, &token, &user, "identity.revoke").await;
        assert_eq!(start(&s, &token, Some(&t), "revoke_real_name").await.status().as_u16(), 201, "{}", s.kind);
        let res = s.authed(Method::DELETE, &format!("/v1/users/{user}/personal-data")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204, "{}", s.kind);
        assert_eq!(
            still_open(&s, &format!("SELECT phone_cipher FROM users WHERE id = '{user}'")).await,
            0,
            "{}: the user's key is gone",
            s.kind
        );
        let retained = format!("SELECT id_cipher FROM retained_identities WHERE user_id = '{user}'");
        assert_eq!(still_open(&s, &retained).await, 1, "{}: the identity the law keeps still opens", s.kind);
        let key = scalar(&s, &format!("SELECT key_id FROM retained_identities WHERE user_id = '{user}'")).await;
        assert!(key.starts_with(&format!("ret-{user}-")), "{}: {key}", s.kind);
    }
}

async fn ask_review(s: &Server, token: &str, operation: &str) -> reqwest::Response {
    s.authed(Method::POST, "/v1/me/revocation/review")
        .header("idlink-session", token)
        .json(&json!({"operation": operation}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Verifies the session's user with a passport, approved by two reviewers, and sets their payment password.
pub(crate) async fn verify_passport(s: &Server, reviewers: [&crate::reviews::Op; 2], token: &str, phone: &str, number: &str) {
    let [alice, bob] = reviewers;
    let token = token.to_owned();
    crate::consents::give_all(s, &token).await;
    let body = json!({"name": "Smith John", "document_type": "passport", "document_number": number, "birth_date": "1990-05-17"});
    let res = s.authed(Method::POST, "/v1/me/verifications").header("idlink-session", &token).json(&body).send().await;
    let started: Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let vid = started["id"].as_str().unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    let submit = json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"});
    let res =
        s.authed(Method::POST, &format!("/v1/me/verifications/{vid}/submit")).header("idlink-session", &token).json(&submit).send().await;
    assert_eq!(res.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 200);
    let case = crate::reviews::open_cases(s, alice, "?kind=verification").await.into_iter().find(|c| c["reference"] == vid.as_str());
    let case = case.unwrap_or_else(|| panic!("{}: the verification case", s.kind))["id"].as_str().unwrap_or("").to_owned();
    crate::reviews::decide(s, alice, &case, "approve").await;
    crate::reviews::decide(s, bob, &case, "approve").await;
    crate::cards::ensure_payment_password(s, &token, phone).await;
}

/// RV3: a minor (with an approved guardian) and a passport holder ask for
/// an operator's review before either operation; the preflight names the
/// review until it is approved, the outcome is texted, an approval serves
/// a while and once; a refused review may be asked again.
#[tokio::test]
async fn minors_and_foreign_documents_are_reviewed_before_they_revoke() {
    use crate::reviews::{decide, open_cases, operator};
    use idlink_core::ports::operators::Role;
    for db in databases().await {
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[], rt.clone()).await;
        let (alice, bob) = (operator(&s, &rt, "alice", &[Role::Reviewer]).await, operator(&s, &rt, "bob", &[Role::Reviewer]).await);

        // A minor: the guardian first, then the review.
        let (child_phone, parent_phone) = ("13866662001", "13866662002");
        let child = crate::cards::session(&s, child_phone).await;
        verify_resident(&s, &child, child_phone, "李小明", &crate::reviews::minor_id_number()).await;
        crate::cards::ensure_payment_password(&s, &child, child_phone).await;
        let me = get_json(&s, "/v1/me", &child).await;
        let child_id = me["user_id"].as_str().unwrap_or("").to_owned();
        let p = preflight(&s, &child, "revoke_real_name").await;
        assert_eq!(codes(&p), ["guardian_required", "review_required"], "{}: {p}", s.kind);
        assert_eq!(blocker(&p, "review_required")["item"], "minor");
        assert_eq!(blocker(&p, "guardian_required")["action"]["code"], "name_guardian");
        expect_problem(ask_review(&s, &child, "revoke_real_name").await, 409, "revocation_guardian_required").await;
        let parent = crate::cards::session(&s, parent_phone).await;
        verify_resident(&s, &parent, parent_phone, "李大明", "11010519491231002X").await;
        let res = s
            .authed(Method::POST, "/v1/me/guardianships")
            .header("idlink-session", &child)
            .json(&json!({"guardian_phone": parent_phone, "relationship": "parent", "evidence_ref": "hukou-scan-7781"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let link: Value = res.json().await.unwrap_or_default();
        let link = link["id"].as_str().unwrap_or("").to_owned();
        let res = s.authed(Method::POST, &format!("/v1/me/guardianships/{link}/accept")).header("idlink-session", &parent).send().await;
        assert_eq!(res.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 200);
        let case = open_cases(&s, &alice, "?kind=guardian").await.into_iter().find(|c| c["reference"] == link.as_str());
        decide(&s, &alice, case.unwrap_or_default()["id"].as_str().unwrap_or(""), "approve").await;
        assert_eq!(codes(&preflight(&s, &child, "revoke_real_name").await), ["review_required"], "{}", s.kind);

        // Asked once (201), asked again while open: the same case (200); the preflight says it is pending.
        let res = ask_review(&s, &child, "revoke_real_name").await;
        assert_eq!(res.status().as_u16(), 201);
        let asked: Value = res.json().await.unwrap_or_default();
        assert_eq!((asked["reason"].as_str(), asked["status"].as_str()), (Some("minor"), Some("open")), "{asked}");
        let again = ask_review(&s, &child, "revoke_real_name").await;
        assert_eq!(again.status().as_u16(), 200);
        assert_eq!(again.json::<Value>().await.unwrap_or_default()["case_id"], asked["case_id"]);
        let p = preflight(&s, &child, "revoke_real_name").await;
        assert_eq!(codes(&p), ["review_pending"]);
        assert_eq!(
            (blocker(&p, "review_pending")["until"].clone(), blocker(&p, "review_pending")["action"]["code"].clone()),
            (asked["decide_by"].clone(), json!("wait_for_review"))
        );
        let t = step_up(&s, &child, &child_id, "identity.revoke").await;
        let refused = expect_problem(start(&s, &child, Some(&t), "revoke_real_name").await, 409, "revocation_blocked").await;
        assert_eq!(refused["errors"][0]["code"], "review_pending", "{refused}");
        // The cancellation is its own request: not covered by this review.
        assert_eq!(codes(&preflight(&s, &child, "cancel_account").await), ["review_required"]);

        // The reviewer's queue has it, with no personal data in its reference; approved, the user is texted.
        let case = open_cases(&s, &alice, "?kind=revocation").await.into_iter().find(|c| c["id"] == asked["case_id"]);
        let case = case.unwrap_or_else(|| panic!("{}: the review in the queue", s.kind));
        assert_eq!(case["reference"], format!("{child_id}:revoke_real_name"));
        assert_eq!(decide(&s, &alice, case["id"].as_str().unwrap_or(""), "approve").await.status().as_u16(), 200);
        let inbox = s.sms_delivered(child_phone, "revocation_review_decided").await;
        assert_eq!(inbox["messages"][0]["params"]["outcome"], "approved", "{inbox}");
        assert!(codes(&preflight(&s, &child, "revoke_real_name").await).is_empty(), "{}: approved, nothing stands in the way", s.kind);
        let t = step_up(&s, &child, &child_id, "identity.revoke").await;
        let res = start(&s, &child, Some(&t), "revoke_real_name").await;
        let done: Value = res.json().await.unwrap_or_default();
        assert_eq!(done["phase"], "committed", "{}: {done}", s.kind);

        // A passport holder: refused, asked again, approved; an approval lapses after its days.
        let holder = crate::cards::session(&s, "13866662003").await;
        verify_passport(&s, [&alice, &bob], &holder, "13866662003", "E22345678").await;
        let p = preflight(&s, &holder, "cancel_account").await;
        assert_eq!(codes(&p), ["review_required"], "{}: {p}", s.kind);
        assert_eq!(blocker(&p, "review_required")["item"], "foreign_document");
        let first: Value = ask_review(&s, &holder, "cancel_account").await.json().await.unwrap_or_default();
        assert_eq!(first["reason"], "foreign_document");
        assert_eq!(decide(&s, &bob, first["case_id"].as_str().unwrap_or(""), "reject").await.status().as_u16(), 200);
        assert_eq!(codes(&preflight(&s, &holder, "cancel_account").await), ["review_refused"]);
        let inbox = s.sms_delivered("13866662003", "revocation_review_decided").await;
        assert_eq!(inbox["messages"][0]["params"]["outcome"], "rejected");
        // (The latest case is the newest: the clock moves on between two asks, as it does outside tests.)
        clock.advance(jiff::SignedDuration::from_secs(1));
        let res = ask_review(&s, &holder, "cancel_account").await;
        assert_eq!(res.status().as_u16(), 201, "a refused review may be asked again");
        let second: Value = res.json().await.unwrap_or_default();
        assert_ne!(second["case_id"], first["case_id"]);
        decide(&s, &alice, second["case_id"].as_str().unwrap_or(""), "approve").await;
        assert!(codes(&preflight(&s, &holder, "cancel_account").await).is_empty());
        expect_problem(ask_review(&s, &holder, "cancel_account").await, 409, "revocation_review_not_needed").await;
        clock.advance(jiff::SignedDuration::from_hours(7 * 24));
        assert_eq!(codes(&preflight(&s, &holder, "cancel_account").await), ["review_required"], "{}: the approval lapsed", s.kind);

        // An adult with a resident ID card is never asked.
        let (adult, _) = crate::credit::adult(&s, "13866662004", "331").await;
        expect_problem(ask_review(&s, &adult, "revoke_real_name").await, 409, "revocation_review_not_needed").await;
    }
}
