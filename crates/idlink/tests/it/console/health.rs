//! The institution health page and API (SPEC OP2, BK2, BK5; issue 13
//! point 6; ADR 0018). The sandbox is driven into a maintenance window (a
//! bank answering 503 with its end on both channels) until a streak of
//! failures opens the breakers; the API and the page then show the open
//! breaker, an error rate above 0, the announced end and the failover. A
//! scheduled window refuses calls with 503 and its end without calling the
//! bank (its call count does not move), moves a bank's traffic to its other
//! channel when it covers one channel only, and is audited. In the browser
//! (axe on each state, in zh-HK too) an admin schedules and cancels a window.

use super::{Staff, audit_actions, staff};
use crate::cards::{balance, bound_card, step_up, switch};
use crate::h5::Browser;
use crate::reviews::{Op, operator};
use crate::{Server, expect_problem, servers, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

async fn sandbox(s: &Server, method: Method, path: &str, body: Option<Value>) {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", s.sandbox));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "sandbox {path}: {}", res.status());
}

fn as_op(s: &Server, op: &Op, method: Method, path: &str) -> reqwest::RequestBuilder {
    s.client().request(method, s.url(path)).header("idlink-operator", &op.token)
}

async fn health(s: &Server, op: &Op) -> Value {
    let res = as_op(s, op, Method::GET, "/v1/operator/institutions/health").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
    res.json().await.unwrap_or_else(|e| panic!("{e}"))
}

fn channel<'a>(h: &'a Value, institution: &str, channel: &str) -> &'a Value {
    h["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["institution"] == institution && c["channel"] == channel))
        .unwrap_or_else(|| panic!("no {institution}/{channel} in {h}"))
}

/// Queries the balance `n` times with one step-up token (a refused query does not spend it); returns the last answer.
async fn queries(s: &Server, token: &str, binding: &str, n: usize) -> reqwest::Response {
    let t = step_up(s, token, binding).await;
    let mut last = None;
    for _ in 0..n {
        last = Some(balance(s, token, binding, Some(&t)).await);
    }
    last.unwrap_or_else(|| panic!("no query"))
}

/// A bank in maintenance on both channels answers 503 until a streak of
/// failures opens both breakers: the health API shows each of them open,
/// the error rate, the end the bank announced and the failover, for every
/// bank and channel and every other institution kind.
#[tokio::test]
async fn a_maintenance_streak_opens_the_breakers_and_the_health_api_shows_it() {
    for s in servers().await {
        let rt = Runtime::default();
        let reviewer = operator(&s, &rt, "rita", &[Role::Reviewer]).await;
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        assert_eq!(queries(&s, &token, &icbc, 1).await.status().as_u16(), 200);
        let h = health(&s, &reviewer).await;
        assert_eq!(h["per_node"], true);
        assert_eq!((h["window_secs"].as_u64(), h["window_calls"].as_u64()), (Some(300), Some(256)));
        for kind in ["sms", "face", "registry"] {
            assert!(h["channels"].as_array().is_some_and(|cs| cs.iter().any(|c| c["kind"] == kind)), "{kind} listed: {h}");
        }
        let direct = channel(&h, "bank:ICBC", "direct");
        assert_eq!((direct["kind"].as_str(), direct["breaker"]["state"].as_str()), (Some("bank"), Some("closed")));
        assert!(direct["calls"].as_u64().unwrap_or(0) >= 1 && direct["errors"] == 0, "{direct}");
        assert!(direct["p50_ms"].as_u64().is_some_and(|p| p >= 1) && direct["p99_ms"].as_u64() >= direct["p50_ms"].as_u64());
        assert_eq!(channel(&h, "bank:CMB", "card_switch")["calls"], 0, "every bank and channel is listed before its first call");

        sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "bank:ICBC", "minutes": 30}))).await;
        expect_problem(queries(&s, &token, &icbc, 1).await, 503, "bank_unavailable").await;
        // The first failover: the direct channel answered "in maintenance until …".
        let h = health(&s, &reviewer).await;
        let f = &channel(&h, "bank:ICBC", "direct")["last_failover"];
        assert_eq!(
            (f["from"].as_str(), f["to"].as_str(), f["reason"].as_str()),
            (Some("direct"), Some("card_switch"), Some("maintenance")),
            "{f}"
        );
        assert!(f["maintenance_until"].as_str().is_some_and(|u| u.ends_with('Z')), "the bank's announced end: {f}");
        let res = queries(&s, &token, &icbc, 5).await;
        expect_problem(res, 503, "bank_unavailable").await;

        let h = health(&s, &reviewer).await;
        for ch in ["direct", "card_switch"] {
            let c = channel(&h, "bank:ICBC", ch);
            assert_eq!(c["breaker"]["state"], "open", "{ch}: {c}");
            assert!(c["breaker"]["open_until"].as_str().is_some_and(|u| u.ends_with('Z')), "{c}");
            assert!(c["errors"].as_u64() >= Some(5) && c["error_rate"].as_f64().is_some_and(|r| r > 0.5 && r <= 1.0), "{c}");
            let end = c["announced_maintenance_until"].as_str().unwrap_or_else(|| panic!("announced end on {ch}: {c}"));
            let end: jiff::Timestamp = end.parse().unwrap_or_else(|e| panic!("{e}"));
            let left = end.duration_since(jiff::Timestamp::now()).as_secs();
            assert!((25 * 60..=30 * 60).contains(&left), "the bank's announced end, 30 minutes on: {left} s");
        }
        assert_eq!(channel(&h, "bank:ABC", "direct")["breaker"]["state"], "closed", "another bank is not affected");
        // With the direct channel's circuit open, the next call skips it without calling: that failover says so.
        let _refused = queries(&s, &token, &icbc, 1).await;
        let h = health(&s, &reviewer).await;
        let f = &channel(&h, "bank:ICBC", "direct")["last_failover"];
        assert_eq!(
            (f["from"].as_str(), f["to"].as_str(), f["reason"].as_str()),
            (Some("direct"), Some("card_switch"), Some("circuit_open")),
            "{f}"
        );
        assert!(f["maintenance_until"].is_null(), "{f}");
        sandbox(&s, Method::DELETE, "/sandbox/v1/maintenance/bank:ICBC", None).await;
    }
}

/// An admin schedules windows; during them the connectors answer 503 with
/// the window's end without calling the bank, or fail over to the bank's
/// other channel; reviewers cannot schedule; every change is audited.
#[tokio::test]
async fn a_scheduled_window_refuses_calls_with_its_end_fails_over_and_is_audited() {
    for s in servers().await {
        let rt = Runtime::default();
        let admin = operator(&s, &rt, "ada", &[Role::Admin]).await;
        let reviewer = operator(&s, &rt, "rex", &[Role::Reviewer]).await;
        let (token, icbc, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let now = jiff::Timestamp::now();
        let at = |mins: i64| now.checked_add(jiff::SignedDuration::from_mins(mins)).unwrap_or(now).to_string();
        let window = |institution: &str, channel: Option<&str>, from: i64, until: i64| json!({"institution": institution, "channel": channel, "starts_at": at(from), "ends_at": at(until), "note": "core banking upgrade"});
        let schedule = |op: &Op, body: Value| as_op(&s, op, Method::POST, "/v1/operator/institutions/maintenance").json(&body).send();

        let res = schedule(&reviewer, window("bank:ICBC", Some("direct"), -1, 60)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "operator_role_required").await;
        let res = schedule(&admin, window("bank:NOPE", None, -1, 60)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "institution_unknown").await;
        let res = schedule(&admin, window("bank:ICBC", Some("carrier_pigeon"), -1, 60)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "institution_unknown").await;
        let res = schedule(&admin, window("bank:ICBC", None, 60, 30)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "maintenance_period_invalid").await;
        let res = schedule(&admin, window("bank:ICBC", None, 0, 60 * 24 * 8)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "maintenance_period_invalid").await;

        // One channel in maintenance: ICBC's traffic goes through the switch, and the failover says why.
        let res = schedule(&admin, window("bank:ICBC", Some("direct"), -1, 60)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let direct_window: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(queries(&s, &token, &icbc, 1).await.status().as_u16(), 200, "served through the other channel");
        let h = health(&s, &reviewer).await;
        let direct = channel(&h, "bank:ICBC", "direct");
        assert_eq!(direct["scheduled_now"]["id"], direct_window["id"], "{direct}");
        let f = &direct["last_failover"];
        assert_eq!((f["from"].as_str(), f["to"].as_str()), (Some("direct"), Some("card_switch")));
        assert_eq!((f["reason"].as_str(), &f["maintenance_until"]), (Some("maintenance"), &direct_window["ends_at"]), "{f}");
        assert!(channel(&h, "bank:ICBC", "card_switch")["scheduled_now"].is_null(), "the switch is not in the window");

        // A whole-bank window overlapping the direct one is refused: callers would be told two ends.
        let res = schedule(&admin, window("bank:ICBC", None, -1, 90)).await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 409, "maintenance_overlaps").await;
        let cancel = |op: &Op, w: &Value| {
            let path = format!("/v1/operator/institutions/maintenance/{}/cancel", w["id"].as_str().unwrap_or(""));
            as_op(&s, op, Method::POST, &path).send()
        };
        assert_eq!(cancel(&admin, &direct_window).await.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 200);

        // The whole bank in two adjacent windows: 503 with the end of the second, the
        // health API says the same end, and the bank is not called.
        let res = schedule(&admin, window("bank:ICBC", None, -1, 30)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201);
        let first_window: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        let res = schedule(&admin, window("bank:ICBC", None, 30, 90)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "an adjacent window does not overlap");
        let bank_window: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        let calls = |h: &Value| {
            channel(h, "bank:ICBC", "direct")["calls"].as_u64().unwrap_or(0)
                + channel(h, "bank:ICBC", "card_switch")["calls"].as_u64().unwrap_or(0)
        };
        let before = calls(&health(&s, &reviewer).await);
        let res = queries(&s, &token, &icbc, 1).await;
        let retry: u64 = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!((85 * 60..=90 * 60).contains(&retry), "Retry-After runs to the second window's end: {retry}");
        let p = expect_problem(res, 503, "bank_unavailable").await;
        let expected: jiff::Timestamp = bank_window["ends_at"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}"));
        let said: jiff::Timestamp = p["expected_end"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(said, expected, "the expected end runs over the adjacent windows");
        let h = health(&s, &reviewer).await;
        assert_eq!(calls(&h), before, "the bank was not called during the window");
        for ch in ["direct", "card_switch"] {
            let c = channel(&h, "bank:ICBC", ch);
            let page: jiff::Timestamp =
                c["scheduled_until"].as_str().unwrap_or_else(|| panic!("{ch}: {c}")).parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(page, said, "{ch}: the health page and the 503 agree");
            assert_eq!(c["scheduled_now"]["id"], first_window["id"], "{ch}: {c}");
        }

        // The calendar lists both; cancelling gives the traffic back at once; a second cancel finds nothing.
        let cal: Value = as_op(&s, &reviewer, Method::GET, "/v1/operator/institutions/maintenance")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cal["windows"].as_array().map(Vec::len), Some(2), "{cal}");
        for w in [&bank_window, &first_window] {
            expect_problem(cancel(&reviewer, w).await.unwrap_or_else(|e| panic!("{e}")), 403, "operator_role_required").await;
            assert_eq!(cancel(&admin, w).await.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 200);
            expect_problem(cancel(&admin, w).await.unwrap_or_else(|e| panic!("{e}")), 404, "maintenance_not_found").await;
        }
        let res = as_op(&s, &admin, Method::POST, "/v1/operator/institutions/maintenance/mnt_nope/cancel").send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "maintenance_not_found").await;
        assert_eq!(queries(&s, &token, &icbc, 1).await.status().as_u16(), 200, "served again once cancelled");

        let actions = audit_actions(&s).await;
        let by_admin = |action: &str| actions.iter().filter(|(who, a, _)| *who == format!("operator:{}", admin.id) && a == action).count();
        assert_eq!((by_admin("maintenance.schedule"), by_admin("maintenance.cancel")), (3, 3), "{actions:?}");
    }
}

async fn browser_server() -> (Server, Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))));
    let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    (start_full(db, &[], rt.clone()).await, rt, clock)
}

async fn sign_in(b: &Browser, s: &Server, rt: &Runtime, who: &Staff) {
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &who.username).await;
    b.fill("#password", &who.password).await;
    b.fill("#totp", &who.code(rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    assert_eq!(b.path().await, "/console/cases", "{} signed in", who.username);
}

/// An admin reads the page after a maintenance streak (breaker open in
/// words, error rate, the announced end, the failover), then schedules a
/// window in zh-HK and cancels it; a reviewer sees the page without the form.
#[tokio::test]
async fn an_admin_reads_the_health_page_and_keeps_the_calendar_in_the_browser() {
    let (s, rt, _clock) = browser_server().await;
    let ada = staff(&s, &rt, "ada", &[Role::Admin]).await;
    let rex = staff(&s, &rt, "rex", &[Role::Reviewer]).await;
    let (token, icbc, _) = bound_card(&s, "ICBC").await;
    switch(&s, &token, true).await;
    sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "bank:ICBC", "minutes": 30}))).await;
    expect_problem(queries(&s, &token, &icbc, 6).await, 503, "bank_unavailable").await;

    let b = Browser::open(true).await;
    sign_in(&b, &s, &rt, &ada).await;
    b.click("button[name=lang][value=en]").await;
    b.click("nav a[href='/console/health']").await;
    assert_eq!(b.text("h1").await, "Institution health");
    assert!(b.text("#health-intro").await.contains("this server only"), "figures are per node: {}", b.text("#health-intro").await);
    let row = b.text("#ch-bank-ICBC-direct").await;
    assert!(row.contains("Open: calls refused until"), "the breaker in words: {row}");
    assert!(!row.contains("0.0 %") && row.contains('%'), "an error rate above 0: {row}");
    assert!(row.contains("Announced by the institution, until"), "{row}");
    assert!(row.contains("from Direct to Card switch"), "the failover: {row}");
    assert!(row.contains("configured"), "ICBC is configured direct: {row}");
    assert_eq!(b.attr("#ch-bank-ICBC-direct td.breaker", "data-label").await.as_deref(), Some("Circuit breaker"));
    assert!(b.text("#health-sms").await.contains("Gateway") && b.has("#health-face").await && b.has("#health-registry").await);
    assert!(b.has("#no-windows").await);
    b.assert_accessible("health page with an open breaker").await;

    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "機構健康狀況");
    assert!(b.text("#ch-bank-ICBC-direct").await.contains("斷開"), "{}", b.text("#ch-bank-ICBC-direct").await);
    b.assert_accessible("health page zh-HK").await;
    // No times: refused with words, nothing scheduled.
    b.fill("#m-note", "系統升級").await;
    b.client
        .execute("document.querySelectorAll('form.schedule [required]').forEach(e => e.removeAttribute('required'));", vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.click("#schedule").await;
    assert!(b.text("#health-error").await.contains("請以日期和時間填寫"), "{}", b.text("main").await);
    b.assert_accessible("health schedule refused zh-HK").await;
    let set = |css: &'static str, v: &'static str| {
        let client = b.client.clone();
        async move {
            client
                .execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(css), json!(v)])
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
        }
    };
    set("#m-target", "bank:ABC|card_switch").await;
    set("#m-starts", "2026-11-30T20:00").await;
    set("#m-ends", "2026-11-30T22:30").await;
    b.fill("#m-note", "系統升級").await;
    b.click("#schedule").await;
    assert_eq!(b.text("#notice").await, "維護時段已安排。");
    let cal = b.text("#calendar").await;
    assert!(cal.contains("(ABC)") && cal.contains("銀行卡轉接") && cal.contains("2026年11月30日 20:00") && cal.contains("22:30"), "{cal}");
    assert!(
        b.text("#ch-bank-ABC-card_switch").await.contains("下次：2026年11月30日 20:00"),
        "{}",
        b.text("#ch-bank-ABC-card_switch").await
    );
    b.assert_accessible("health calendar with a window zh-HK").await;
    let actions = audit_actions(&s).await;
    assert!(actions.iter().any(|(_, a, o)| a == "maintenance.schedule" && o == "success"), "{actions:?}");

    b.click("#calendar button[type=submit]").await;
    assert_eq!(b.text("#notice").await, "維護時段已取消。");
    assert!(b.has("#no-windows").await);
    b.assert_accessible("health calendar after cancel zh-HK").await;

    // A reviewer reads the same page, without the admins' form.
    b.click("form[action='/console/sign-out'] button").await;
    sign_in(&b, &s, &rt, &rex).await;
    b.goto(&s.url("/console/health")).await;
    assert!(b.has("#health-bank").await && !b.has("form.schedule").await, "no calendar form for a reviewer");
    b.assert_accessible("health page for a reviewer").await;
    b.close().await;
}
