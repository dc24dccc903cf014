//! Every failure is a problem document with a stable code: never a 500, never plain text.

use crate::{expect_problem, sqlite_server};
use reqwest::Method;

#[tokio::test]
async fn malformed_requests_get_problem_documents() {
    let s = sqlite_server().await;
    let post = |body: &'static str| s.authed(Method::POST, "/v1/users").header("content-type", "application/json").body(body);

    expect_problem(post("{\"phone\": ").send().await.unwrap_or_else(|e| panic!("{e}")), 400, "malformed_json").await;
    expect_problem(post("[1,2]").send().await.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;

    let p = expect_problem(post("{\"phone\": 13812341234}").send().await.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["pointer"], "/phone");
    assert_eq!(p["errors"][0]["code"], "invalid_type");

    let p = expect_problem(post("{}").send().await.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["code"], "required");

    // Several causes are listed together.
    let p = expect_problem(
        post("{\"phone\": \"123\", \"nmae\": \"x\"}").send().await.unwrap_or_else(|e| panic!("{e}")),
        422,
        "validation_failed",
    )
    .await;
    let codes: Vec<&str> = p["errors"].as_array().map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect()).unwrap_or_default();
    assert_eq!(codes, ["invalid_phone", "unknown_field"], "{p}");

    let big = format!("{{\"phone\": \"{}\"}}", "1".repeat(10_000));
    let res = s.authed(Method::POST, "/v1/users").header("content-type", "application/json").body(big).send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 413, "payload_too_large").await;

    let res = s.authed(Method::POST, "/v1/users").header("content-type", "text/plain").body("phone=1").send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 415, "unsupported_media_type").await;

    let res = s.client().get(s.url("/v1/no-such-thing")).send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "not_found").await;

    let res = s.authed(Method::PUT, "/v1/users").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    expect_problem(res, 405, "method_not_allowed").await;

    let res = s.authed(Method::GET, "/v1/users/not-an-id").send().await;
    let p = expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["code"], "invalid_id");

    let res = s.authed(Method::GET, "/v1/users/usr_00000000000000000000000000000000").send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "user_not_found").await;
}

#[tokio::test]
async fn requests_without_a_valid_key_are_refused() {
    let s = sqlite_server().await;
    let res = s.client().post(s.url("/v1/users")).json(&serde_json::json!({"phone": "13812341234"})).send().await;
    let res = res.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.headers().contains_key("www-authenticate"));
    expect_problem(res, 401, "unauthorized").await;

    for token in ["garbage", "key_00.secret", &format!("{}x", s.token)] {
        let res = s.client().get(s.url("/v1/audit/verify")).bearer_auth(token).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 401, "unauthorized").await;
    }

    // A key without the scope is refused with 403 naming the scope.
    let rt = idlink::serve::Runtime::default();
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let (row, reader) = idlink_core::apikeys::create(
        &store,
        &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rt.clock.as_ref(),
        "reader",
        &["users:read".into()],
        "test",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let res = s.client().post(s.url("/v1/users")).bearer_auth(&reader).json(&serde_json::json!({"phone": "13812341234"})).send().await;
    let p = expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 403, "insufficient_scope").await;
    assert!(p["detail"].as_str().unwrap_or("").contains("users:write"));

    // Revocation takes effect on the next request.
    assert!(idlink_core::apikeys::revoke(&store, rt.clock.as_ref(), &row.id, "test").await.unwrap_or(false));
    let res = s.client().get(s.url("/v1/users/usr_0000")).bearer_auth(&reader).send().await;
    expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 401, "api_key_revoked").await;
}
