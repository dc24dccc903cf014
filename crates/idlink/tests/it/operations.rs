//! Operations endpoints, request ids, graceful shutdown.

use crate::sqlite_server;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() {
    let s = sqlite_server().await;
    let c = s.client();
    let h: serde_json::Value = c.get(s.url("/healthz")).send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(h["status"], "ok");
    let r = c.get(s.url("/readyz")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);
    let r: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!((r["database"].as_str(), r["key_store"].as_str()), (Some("ok"), Some("ok")));

    let _ = s.authed(Method::GET, "/v1/audit/verify").send().await;
    let m = c.get(s.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    assert!(m.contains("idlink_http_requests_total{method=\"GET\",route=\"/v1/audit/verify\",status=\"200\"}"), "{m}");
    assert!(m.contains("idlink_http_request_duration_seconds_bucket"), "latency histogram: {m}");

    let doc: serde_json::Value =
        c.get(s.url("/openapi.json")).send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"), "{}", doc["openapi"]);
    assert!(doc["paths"]["/v1/users"]["post"].is_object());
}

#[tokio::test]
async fn a_valid_caller_request_id_is_echoed_and_a_missing_one_is_made() {
    let s = sqlite_server().await;
    let res =
        s.client().get(s.url("/healthz")).header("x-request-id", "req_caller-chose-this").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("req_caller-chose-this"));
    let res = s.client().get(s.url("/healthz")).header("x-request-id", "bad id; drop table").send().await.unwrap_or_else(|e| panic!("{e}"));
    let made = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(made.starts_with("req_") && made.len() == 36, "{made}");
}

#[tokio::test]
async fn audit_chain_verifies_over_http_and_checkpoints_are_signed() {
    let s = sqlite_server().await;
    for phone in ["13811110001", "13811110002"] {
        let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({ "phone": phone })).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 201);
    }
    let running = s.running.as_ref().unwrap_or_else(|| panic!("running"));
    let (store, witness) = (running.store.clone(), running.witness.clone());
    let rt = idlink::serve::Runtime::default();
    let vault = idlink::serve::open_vault(&s.config, &store, &rt).await.unwrap_or_else(|e| panic!("{e:#}"));
    let policy = s.config.checkpoint_policy();
    let cp = idlink_core::audit::checkpoint(
        &store,
        witness.as_ref(),
        vault.signer(),
        &policy,
        jiff::Timestamp::now(),
        idlink_core::audit::SigningReason::Manual,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(cp, idlink_core::audit::CheckpointOutcome::Signed { late_reason: None, .. }), "{cp:?}");
    let report: serde_json::Value =
        s.authed(Method::GET, "/v1/audit/verify").send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(report["status"], "intact", "{report}");
    assert!(report["checkpoints"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert_eq!(report["witnessed_checkpoints"], report["checkpoints"], "{report}");
    assert!(report["records"].as_u64().unwrap_or(0) >= 3, "{report}");
}

/// A request that is in flight when shutdown begins still gets its answer.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut s = sqlite_server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let body = br#"{"phone": "13922223333"}"#;
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        s.token,
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    conn.write_all(&body[..5]).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let running = s.running.take().unwrap_or_else(|| panic!("running"));
    let stopping = tokio::spawn(running.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // New connections are refused while the old one is still served.
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "listener must be closed during shutdown");

    conn.write_all(&body[5..]).await.unwrap_or_else(|e| panic!("{e}"));
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("139****3333"), "{answer}");
    let _ = stopping.await;
}

/// A request that stalls (here: a body that never arrives) is cut at the
/// configured timeout with a problem document, not left hanging.
#[tokio::test]
async fn stalled_requests_time_out_with_a_problem_document() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_with(db, &[("IDLINK__SERVER__REQUEST_TIMEOUT_SECS", "1")]).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{{",
        s.token
    );
    conn.write_all(head.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "the server must answer");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json") && answer.contains("\"code\":\"request_timeout\""), "{answer}");
}

/// With `crypto.algorithm = "sm4-gcm"` new personal data is sealed with SM4-GCM.
#[tokio::test]
async fn sm4_gcm_is_selectable_by_configuration() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_with(db, &[("IDLINK__CRYPTO__ALGORITHM", "sm4-gcm")]).await;
    let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({"phone": "13855556666"})).send().await;
    let user: serde_json::Value = res.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let id = idlink_domain::UserId::parse(user["id"].as_str().unwrap_or("")).unwrap_or_else(|e| panic!("{e}"));
    let audit = idlink_core::ports::audit::AuditEntry::new("test", "user.read", "test", jiff::Timestamp::now());
    let (row, key) =
        idlink_core::ports::users::UserStore::read_user(&s.db.store, &id, &audit).await.ok().flatten().unwrap_or_else(|| panic!("row"));
    let alg = idlink_crypto::aead::header(&row.phone_cipher).map(|h| h.algorithm);
    assert_eq!(alg, Ok(idlink_crypto::Algorithm::Sm4Gcm));
    let wrapped = key.unwrap_or_else(|| panic!("key"));
    assert_eq!(idlink_crypto::aead::header(&wrapped.ciphertext).map(|h| h.algorithm), Ok(idlink_crypto::Algorithm::Sm4Gcm));
    let got = s.authed(Method::GET, &format!("/v1/users/{id}")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.status().as_u16(), 200);
}

/// With no `connectors.*` URLs the institution clients reach the in-process sandbox.
#[tokio::test]
async fn institution_clients_default_to_the_in_process_sandbox() {
    let s = sqlite_server().await;
    let inst = s.running.as_ref().map(|r| r.institutions.clone()).unwrap_or_else(|| panic!("running"));
    let to = idlink_domain::PhoneNumber::parse("13866667777").unwrap_or_else(|e| panic!("{e}"));
    let params = std::collections::BTreeMap::from([("code".to_owned(), "135790".to_owned())]);
    let sent = inst.sms.send(&inst.executor, &to, "verification_code", &params, "e2e-1").await;
    assert!(matches!(sent, Ok(idlink_connectors::sms::Delivery::Accepted { .. })), "{sent:?}");
    let inbox: serde_json::Value = reqwest::get(format!("{}/sandbox/v1/sms/inbox?phone=13866667777", s.sandbox))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(inbox["messages"][0]["params"]["code"], "135790", "{inbox}");
}
