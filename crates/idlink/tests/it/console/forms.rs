//! The console's forms without a browser, on both databases: sign-in (its
//! cookie, the refusal, the idle timeout), a decision and the dual-control
//! refusal, an auditor refused, CSRF; and the API's operator sign-in,
//! which shares the lockout, ended early by `idlink operator unlock`.

use super::{audit_actions, frozen_user_case, staff};
use crate::h5::FormClient;
use crate::{Server, expect_problem, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::operators::Role;
use serde_json::json;
use std::sync::Arc;

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn console_sign_in_and_decisions_through_forms_on_both_databases() {
    for db in crate::databases().await {
        let clock = Arc::new(ManualClock::new("2026-11-30T02:00:00Z".parse().unwrap_or_default()));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let alice = staff(&s, &rt, "alice", &[Role::Reviewer]).await;
        let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
        let case = frozen_user_case(&s, &rt, "13900004444", 2).await;

        let mut f = FormClient::new(&s);
        let res = f.get("/console/sign-in").await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let csrf = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("idlink_csrf="))
            .map(str::to_owned);
        assert!(csrf.is_some_and(|c| c.contains("Path=/console") && c.contains("HttpOnly") && c.contains("SameSite=Strict")), "{kind}");

        // Without the CSRF token the form is refused before the sign-in runs.
        let forged = reqwest::Client::new()
            .post(s.url("/console/sign-in"))
            .header("cookie", f.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username=alice&password={}&totp={}", alice.password, alice.code(&rt)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(forged.status().as_u16(), 403, "{kind}");
        assert!(forged.text().await.unwrap_or_default().contains("表单未被接受"), "{kind}: the console's own refusal");

        let wrong = alice.wrong_code(&rt);
        let res = f.post("/console/sign-in", &[("username", "alice"), ("password", &alice.password), ("totp", &wrong)]).await;
        assert_eq!(res.status().as_u16(), 422, "{kind}");
        assert!(res.text().await.unwrap_or_default().contains("用户名、密码或动态码有误"), "{kind}");
        let code = alice.code(&rt);
        let res = f.post("/console/sign-in", &[("username", "alice"), ("password", &alice.password), ("totp", &code)]).await;
        assert_eq!((res.status().as_u16(), location(&res).as_str()), (303, "/console/cases"), "{kind}");
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("idlink_operator="))
            .map(str::to_owned);
        let cookie = cookie.unwrap_or_else(|| panic!("{kind}: the session cookie"));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console"), "{cookie}");

        let page = f.get("/console/cases").await.text().await.unwrap_or_default();
        assert!(page.contains(&case) && page.contains("剩余 5 分钟"), "{kind}: the case is in the queue");
        let fragment = f.get("/console/cases/list?kind=risk_freeze").await.text().await.unwrap_or_default();
        assert!(fragment.starts_with("<div id=\"queue\"") && fragment.contains(&case), "{kind}: the refresh fragment");

        let res = f.post(&format!("/console/cases/{case}/claim"), &[]).await;
        assert_eq!(location(&res), format!("/console/cases/{case}?done=claimed"), "{kind}");
        let res = f.post(&format!("/console/cases/{case}/decide"), &[("decision", "approve"), ("note", "")]).await;
        assert_eq!(location(&res), format!("/console/cases/{case}?done=step"), "{kind}");
        // The same reviewer again: refused by the use case, and the page says why.
        let res = f.post(&format!("/console/cases/{case}/decide"), &[("decision", "approve"), ("note", "")]).await;
        assert_eq!(res.status().as_u16(), 409, "{kind}");
        assert!(res.text().await.unwrap_or_default().contains("双人复核：下一步必须由另一位审核员处理"), "{kind}");

        // An auditor reads but cannot act.
        let mut g = FormClient::new(&s);
        let _ = g.get("/console/sign-in").await;
        let code = carol.code(&rt);
        let res = g.post("/console/sign-in", &[("username", "carol"), ("password", &carol.password), ("totp", &code)]).await;
        assert_eq!(res.status().as_u16(), 303, "{kind}");
        assert_eq!(g.get(&format!("/console/cases/{case}")).await.status().as_u16(), 200, "{kind}");
        let res = g.post(&format!("/console/cases/{case}/release"), &[]).await;
        assert_eq!(res.status().as_u16(), 403, "{kind}");
        assert!(res.text().await.unwrap_or_default().contains("审计员只能查看"), "{kind}");

        // Sign-out ends the session on the server: the old cookie no longer opens the console.
        let old = g.cookie_header();
        let res = g.post("/console/sign-out", &[]).await;
        assert_eq!(location(&res), "/console/sign-in", "{kind}");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
        let replay = http.get(s.url("/console/cases")).header("cookie", old).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(location(&replay), "/console/sign-in", "{kind}: a signed-out token is refused");

        // Idle for 31 minutes: the session is refused and the cookie cleared.
        clock.advance(jiff::SignedDuration::from_mins(31));
        let res = f.get("/console/cases").await;
        assert_eq!((res.status().as_u16(), location(&res).as_str()), (303, "/console/sign-in"), "{kind}: idle timeout");
        assert!(!f.cookie_header().contains("idlink_operator="), "{kind}");
        // htmx's background refresh is told to send the whole page to the sign-in instead.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
        let res = http.get(s.url("/console/cases/list")).header("hx-request", "true").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204, "{kind}");
        assert_eq!(res.headers().get("hx-redirect").and_then(|v| v.to_str().ok()), Some("/console/sign-in"), "{kind}");
        let actions = audit_actions(&s).await;
        // A freeze's first approval is a dual-control proposal to lift it (ADR 0015).
        assert!(actions.iter().any(|(_, a, _)| a == "dual.propose"), "{kind}");
    }
}

/// The API's sign-in runs the same use case: five failures lock it, the
/// right code is then refused with the same problem, and `idlink operator
/// unlock` ends the lock before its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_sign_in_locks_after_five_failures_and_the_cli_unlocks() {
    for db in crate::databases().await {
        let rt = Runtime::default();
        let s: Server = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let erin = staff(&s, &rt, "erin", &[Role::Reviewer]).await;
        let sign_in = |code: String| {
            s.client()
                .post(s.url("/v1/operator/sessions"))
                .json(&json!({"username": "erin", "password": erin.password, "totp": code}))
                .send()
        };
        for _ in 0..5 {
            let res = sign_in(erin.wrong_code(&rt)).await.unwrap_or_else(|e| panic!("{e}"));
            expect_problem(res, 401, "operator_sign_in_failed").await;
        }
        let res = sign_in(erin.code(&rt)).await.unwrap_or_else(|e| panic!("{e}"));
        let problem = expect_problem(res, 401, "operator_sign_in_failed").await;
        assert!(problem["detail"].as_str().unwrap_or("").contains("locked"), "{kind}: {problem}");
        let actions = audit_actions(&s).await;
        assert_eq!(actions.iter().filter(|(who, a, _)| who == "operator:erin" && a == "operator.sign_in").count(), 4, "{kind}");
        assert!(
            actions.iter().any(|(_, a, _)| a == "operator.lock") && actions.iter().any(|(_, a, _)| a == "operator.sign_in_locked"),
            "{kind}"
        );

        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["operator", "unlock", "erin"])
            .envs(s.cli_env())
            .output()
            .unwrap_or_else(|e| panic!("run idlink: {e}"));
        assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked: erin"));
        let res = sign_in(erin.code(&rt)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{kind}: unlocked by the CLI");
        assert!(audit_actions(&s).await.iter().any(|(who, a, _)| who == "cli" && a == "operator.unlock"), "{kind}");

        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["operator", "unlock", "nobody"])
            .envs(s.cli_env())
            .output()
            .unwrap_or_else(|e| panic!("run idlink: {e}"));
        assert!(!out.status.success(), "{kind}: an unknown operator is an error");
    }
}
