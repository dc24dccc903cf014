//! The executor and the institution clients against real HTTP servers:
//! the sandbox institutions, and small scripted servers for failure modes.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod mtls;

use idlink_connectors::breaker::State;
use idlink_connectors::face::{FaceOutcome, FaceProvider};
use idlink_connectors::sms::{Delivery, SmsGateway};
use idlink_connectors::{CallError, Executor, ExecutorPolicy, Target};
use idlink_core::ports::clock::ManualClock;
use idlink_domain::PhoneNumber;
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(idlink_sandbox::serve(listener, idlink_sandbox::Sandbox::new(), std::future::pending()));
    format!("http://{addr}")
}

fn executor(clock: Arc<ManualClock>, policy: ExecutorPolicy) -> Executor {
    Executor::new(policy, clock)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)))
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn code(c: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("code".to_owned(), c.to_owned())])
}

#[tokio::test]
async fn sms_reaches_the_sandbox_inbox_once_per_client_ref() {
    let base = sandbox().await;
    let exec = executor(clock(), ExecutorPolicy::default());
    let sms = SmsGateway::new(&base).unwrap_or_else(|e| panic!("{e}"));
    let to = phone("13812341234");
    let first = sms.send(&exec, &to, "verification_code", &code("482913"), "ref-1").await.unwrap_or_else(|e| panic!("{e}"));
    let again = sms.send(&exec, &to, "verification_code", &code("482913"), "ref-1").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, again, "a retried send is the same message");
    assert!(matches!(first, Delivery::Accepted { .. }));

    let inbox: serde_json::Value = reqwest::get(format!("{base}/sandbox/v1/sms/inbox?phone=13812341234"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let messages = inbox["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 1, "{inbox}");
    assert_eq!(messages[0]["params"]["code"], "482913");
    assert!(messages[0]["text"].as_str().unwrap_or("").contains("482913"));
    assert_eq!(messages[0]["to"], "138****1234");

    let rejected = sms.send(&exec, &phone("13800000000"), "verification_code", &code("1"), "ref-2").await;
    assert!(matches!(rejected, Ok(Delivery::Rejected { .. })), "{rejected:?}");
}

#[tokio::test]
async fn face_outcomes_follow_the_documented_test_values() {
    let base = sandbox().await;
    let exec = executor(clock(), ExecutorPolicy::default());
    let face = FaceProvider::new(&base).unwrap_or_else(|e| panic!("{e}"));
    for (video, want) in [
        ("sandbox:pass", FaceOutcome::Pass),
        ("sandbox:spoof", FaceOutcome::Spoof),
        ("sandbox:poor_lighting", FaceOutcome::PoorLighting),
        ("sandbox:mismatch", FaceOutcome::Mismatch),
        ("sandbox:pending", FaceOutcome::Pending { status: "manual_review".into() }),
        ("any real video", FaceOutcome::Pass),
    ] {
        let (_, got) = face.verify(&exec, "subject-1", video).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, want, "{video}");
    }
}

/// Maintenance answers 503 with Retry-After; repeated failures open the
/// circuit (calls then fail without touching the network); once the window
/// ends and the breaker's wait is over, a half-open probe closes it again.
#[tokio::test]
async fn maintenance_opens_the_circuit_and_service_returns_by_itself() {
    let base = sandbox().await;
    let clock = clock();
    let policy = ExecutorPolicy { breaker_failures: 2, breaker_open_for: SignedDuration::from_secs(30), ..ExecutorPolicy::default() };
    let exec = executor(clock.clone(), policy);
    let sms = SmsGateway::new(&base).unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::new();
    let opened = http
        .post(format!("{base}/sandbox/v1/maintenance"))
        .json(&serde_json::json!({"institution": "sms", "minutes": 10}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened.status().as_u16(), 201);

    let to = phone("13812341234");
    for i in 0..2 {
        let r = sms.send(&exec, &to, "verification_code", &code("1"), &format!("m-{i}")).await;
        match r {
            Err(CallError::Maintenance { retry_after_secs, .. }) => assert!((1..=600).contains(&retry_after_secs)),
            other => panic!("expected maintenance, got {other:?}"),
        }
    }
    assert!(matches!(exec.breaker_state(sms.target()), State::Open { .. }));
    let r = sms.send(&exec, &to, "verification_code", &code("1"), "m-2").await;
    assert!(matches!(r, Err(CallError::CircuitOpen { .. })), "{r:?}");

    // The sandbox's window ends (its clock moves 11 minutes) and idlink's breaker wait passes.
    let adv = http.post(format!("{base}/sandbox/v1/clock/advance")).json(&serde_json::json!({"seconds": 660})).send().await;
    assert_eq!(adv.map(|r| r.status().as_u16()).unwrap_or(0), 200);
    clock.advance(SignedDuration::from_secs(31));
    let r = sms.send(&exec, &to, "verification_code", &code("1"), "m-3").await;
    assert!(matches!(r, Ok(Delivery::Accepted { .. })), "the probe succeeds: {r:?}");
    assert_eq!(exec.breaker_state(sms.target()), State::Closed { failures: 0 });
}

/// A server that fails `failures` times with 500, then answers `{"ok": true}`.
async fn flaky(failures: u32, delay: Duration) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/op",
        axum::routing::post(move || {
            let h = h.clone();
            async move {
                tokio::time::sleep(delay).await;
                let n = h.fetch_add(1, Ordering::SeqCst);
                if n < failures {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"error": "boom"})))
                } else {
                    (axum::http::StatusCode::OK, axum::Json(serde_json::json!({"ok": true})))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn only_idempotent_calls_are_retried() {
    let (base, hits) = flaky(2, Duration::ZERO).await;
    let exec = executor(clock(), ExecutorPolicy::default());
    let target = Target::new("flaky", "main", &base).unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::json!({});
    let r: Result<serde_json::Value, _> = exec.call(&target, reqwest::Method::POST, "/op", Some(&body), false).await;
    assert!(matches!(r, Err(CallError::Status { status: 500, .. })), "{r:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a non-idempotent call is sent once");

    let r: Result<serde_json::Value, _> = exec.call(&target, reqwest::Method::POST, "/op", Some(&body), true).await;
    assert_eq!(r.ok(), Some(serde_json::json!({"ok": true})));
    assert_eq!(hits.load(Ordering::SeqCst), 3, "one failure more, then success");
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let (base, _) = flaky(0, Duration::from_secs(3)).await;
    let policy = ExecutorPolicy { deadline: Duration::from_millis(200), ..ExecutorPolicy::default() };
    let exec = executor(clock(), policy);
    let target = Target::new("slow", "main", &base).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let r: Result<serde_json::Value, _> = exec.call(&target, reqwest::Method::POST, "/op", Some(&serde_json::json!({})), true).await;
    assert!(matches!(r, Err(CallError::Timeout { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// An answer that cannot be decoded is an error on the health page (the
/// institution serves nothing usable), yet the breaker stays closed: the
/// institution is up, and failing over would not help.
#[tokio::test]
async fn undecodable_answers_count_as_errors_but_do_not_open_the_breaker() {
    let (base, _) = flaky(0, Duration::ZERO).await;
    let exec = executor(clock(), ExecutorPolicy::default());
    let target = Target::new("garbled", "main", &base).unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::json!({});
    let ok: Result<serde_json::Value, _> = exec.call(&target, reqwest::Method::POST, "/op", Some(&body), false).await;
    assert_eq!(ok.ok(), Some(serde_json::json!({"ok": true})));
    for _ in 0..6 {
        // `{"ok": true}` is not a number: the answer is of no use.
        let r: Result<u64, _> = exec.call(&target, reqwest::Method::POST, "/op", Some(&body), false).await;
        assert!(matches!(r, Err(CallError::Protocol { .. })), "{r:?}");
    }
    let views = exec.health().views(exec.now());
    let v = views.iter().find(|v| v.institution == "garbled").unwrap_or_else(|| panic!("{views:?}"));
    assert_eq!((v.calls, v.errors), (7, 6), "{v:?}");
    assert!((v.error_rate() - 6.0 / 7.0).abs() < 1e-9, "{v:?}");
    assert_eq!(exec.breaker_state(&target), State::Closed { failures: 0 }, "protocol errors are not outages");
}
