//! Users: encrypted phone, masked answers, audited reads, crypto-shredding.

use crate::{expect_problem, servers};
use reqwest::Method;

#[tokio::test]
async fn a_user_is_created_read_audited_and_shredded() {
    for s in servers().await {
        let res = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({"phone": "+86 138 0013 8000"})).send().await;
        let res = res.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let user: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(user["phone"], "138****8000", "masked: {user}");
        let id = user["id"].as_str().unwrap_or("").to_owned();

        // The same phone cannot register twice (found through the blind index).
        let dup = s.authed(Method::POST, "/v1/users").json(&serde_json::json!({"phone": "13800138000"})).send().await;
        expect_problem(dup.unwrap_or_else(|e| panic!("{e}")), 409, "phone_taken").await;

        let got: serde_json::Value = s
            .authed(Method::GET, &format!("/v1/users/{id}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(got, user, "{}", s.kind);

        // The clear number is not stored anywhere in the database.
        let rows = idlink_store::testing::dump_table(&s.db.store, "users").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(rows.contains(&id), "{}: the dump shows the row", s.kind);
        assert!(!rows.contains("13800138000") && !rows.contains("38000"), "{}: clear phone found in the users table", s.kind);

        let del = s.authed(Method::DELETE, &format!("/v1/users/{id}/personal-data")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(del.status().as_u16(), 204);
        let gone = s.authed(Method::GET, &format!("/v1/users/{id}")).send().await;
        expect_problem(gone.unwrap_or_else(|e| panic!("{e}")), 410, "user_data_shredded").await;

        let log: serde_json::Value = s
            .authed(Method::GET, &format!("/v1/users/{id}/access-log"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let actions: Vec<&str> =
            log["records"].as_array().map(|a| a.iter().filter_map(|r| r["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(actions, ["user.read", "user.shred", "user.read", "user.create"], "{}: newest first", s.kind);
        assert!(log["records"][0]["actor"].as_str().unwrap_or("").starts_with("apikey:key_"));
        assert!(log["records"][0]["request_id"].as_str().unwrap_or("").starts_with("req_"));
    }
}
