//! The social-security card service's coverage over HTTP (SPEC SS1, issue
//! 16), on both databases: every mainland province with its service open or
//! closed, the region check of a card's issuing area with the features that
//! apply there only, and a deployment's own coverage file.

use crate::{Server, databases, expect_problem, servers, start_with};
use reqwest::Method;
use serde_json::Value;

async fn get(s: &Server, path: &str) -> reqwest::Response {
    s.authed(Method::GET, path).send().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_service_is_open_in_29_provinces_and_a_card_s_area_names_its_region() {
    for s in servers().await {
        let all: Value = get(&s, "/v1/social-security/regions").await.json().await.unwrap_or_default();
        let regions = all["regions"].as_array().cloned().unwrap_or_default();
        assert_eq!((regions.len(), all["open"].as_u64()), (31, Some(29)), "{}: {all}", s.kind);
        let with_features: Vec<&str> =
            regions.iter().filter(|r| r["features"].as_array().is_some_and(|f| !f.is_empty())).filter_map(|r| r["code"].as_str()).collect();
        assert_eq!(with_features, ["110000", "440000", "530000"], "features only where they apply");

        // A Shenzhen card: Guangdong, open since 2019-03, with the Lingnan Pass.
        let res = get(&s, "/v1/social-security/regions/440305").await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let gd: Value = res.json().await.unwrap_or_default();
        assert_eq!((gd["code"].as_str(), gd["open"].as_bool(), gd["opened"].as_str()), (Some("440000"), Some(true), Some("2019-03")));
        assert_eq!(gd["features"], serde_json::json!(["lingnan_pass_transit"]));
        let yn: Value = get(&s, "/v1/social-security/regions/530102").await.json().await.unwrap_or_default();
        assert_eq!(yn["features"], serde_json::json!(["minority_language"]));

        // A closed province answers with a clear problem; an area that is no mainland province is not found.
        let p = expect_problem(get(&s, "/v1/social-security/regions/540102").await, 409, "social_security_region_closed").await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("Tibet") && d.contains("not_yet_open")), "{p}");
        expect_problem(get(&s, "/v1/social-security/regions/810000").await, 404, "social_security_region_unknown").await;
        expect_problem(get(&s, "/v1/social-security/regions/999999").await, 404, "social_security_region_unknown").await;
        expect_problem(get(&s, "/v1/social-security/regions/abc").await, 404, "social_security_region_unknown").await;
    }
}

#[tokio::test]
async fn a_deployment_configures_its_own_coverage() {
    for db in databases().await {
        let dir = std::env::temp_dir().join(format!("idlink-ss-{}-{}", std::process::id(), db.kind));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("regions.toml");
        let text = "[[regions]]\ncode = \"440000\"\nname = \"广东省\"\nname_en = \"Guangdong\"\nclosed_reason = \"suspended\"\n\n\
                    [[regions]]\ncode = \"110000\"\nname = \"北京市\"\nname_en = \"Beijing\"\nopened = \"2020-07\"\n";
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        let path = file.display().to_string();
        let s = start_with(db, &[("IDLINK__SOCIAL_SECURITY__REGIONS_FILE", path.as_str())]).await;
        let all: Value = get(&s, "/v1/social-security/regions").await.json().await.unwrap_or_default();
        assert_eq!((all["regions"].as_array().map(Vec::len), all["open"].as_u64()), (Some(2), Some(1)), "{all}");
        let p = expect_problem(get(&s, "/v1/social-security/regions/440305").await, 409, "social_security_region_closed").await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("suspended")), "{p}");
        assert_eq!(get(&s, "/v1/social-security/regions/110101").await.status().as_u16(), 200);
        expect_problem(get(&s, "/v1/social-security/regions/330106").await, 404, "social_security_region_unknown").await;
    }
}
