//! Electronic agreements (SPEC BK3 tier 4) over HTTP, on both databases:
//! each bank's current document is served with its version and SHA-256,
//! signing checks both against it, and publishing a new version asks for a
//! new signature before the next query.

use crate::cards::{agreement_document, balance, bound_card, call, get_json, sign, step_up, switch};
use crate::{expect_problem, servers};
use reqwest::Method;
use serde_json::Value;
use sha2::Digest;

#[tokio::test]
async fn the_current_agreement_is_served_and_only_its_version_and_hash_are_signed() {
    for s in servers().await {
        // The document: text, version and the SHA-256 of the text, naming the bank and its policy.
        let doc = agreement_document(&s, "CMB").await;
        let text = doc["text"].as_str().unwrap_or("");
        assert_eq!(doc["version"], "CMB-2026-01", "{doc}");
        assert_eq!(doc["sha256"].as_str(), Some(hex::encode(sha2::Sha256::digest(text.as_bytes())).as_str()));
        for part in ["招商银行账户余额信息查询授权协议", "风险提示书", "精确到角", "每日18:00", "CMB-2026-01"] {
            assert!(text.contains(part), "{part} is in the document");
        }
        assert_eq!((doc["bank_name"].as_str(), doc["validity_days"].as_i64()), (Some("招商银行"), Some(365)));
        let other = agreement_document(&s, "CIB").await;
        assert_ne!(other["sha256"], doc["sha256"], "each bank has its own document");
        expect_problem(s.authed(Method::GET, "/v1/banks/ICBC/agreement").send().await.unwrap(), 404, "agreement_not_required").await;
        expect_problem(s.authed(Method::GET, "/v1/banks/NOPE/agreement").send().await.unwrap(), 404, "bank_unknown").await;
        let anonymous = s.client().get(s.url("/v1/banks/CMB/agreement")).send().await.unwrap();
        expect_problem(anonymous, 401, "unauthorized").await;

        let (token, cmb, _) = bound_card(&s, "CMB").await;
        switch(&s, &token, true).await;
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!(tiers["agreement_status"], "not_signed", "{tiers}");
        assert_eq!(
            (tiers["agreement_document"]["version"].as_str(), tiers["agreement_document"]["url"].as_str()),
            (Some("CMB-2026-01"), Some("/v1/banks/CMB/agreement"))
        );
        assert_eq!(tiers["agreement_document"]["sha256"], doc["sha256"]);

        // Any 64-hex string used to be accepted; now only the current document's hash.
        let version = doc["version"].as_str().unwrap_or("");
        let p = expect_problem(sign(&s, &token, &cmb, version, &"ab".repeat(32)).await, 422, "agreement_hash_mismatch").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("/v1/banks/CMB/agreement"), "{p}");
        let hash = doc["sha256"].as_str().unwrap_or("");
        let p = expect_problem(sign(&s, &token, &cmb, "CMB-2025-01", hash).await, 409, "agreement_version_not_current").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("CMB-2026-01"), "names the current version: {p}");
        let p = expect_problem(sign(&s, &token, &cmb, version, "xyz").await, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "invalid_document_hash", "{p}");
        let t = step_up(&s, &token, &cmb).await;
        expect_problem(balance(&s, &token, &cmb, Some(&t)).await, 403, "agreement_required").await;

        let res = sign(&s, &token, &cmb, version, &hash.to_uppercase()).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let signed: Value = res.json().await.unwrap_or_default();
        assert_eq!((signed["document_version"].as_str(), signed["document_hash"].as_str()), (Some(version), Some(hash)), "{signed}");
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!((tiers["agreement_status"].as_str(), tiers["agreement"]["id"].as_str()), (Some("in_force"), signed["id"].as_str()));
        assert_eq!(balance(&s, &token, &cmb, Some(&t)).await.status().as_u16(), 200);

        // A bank that needs no agreement has nothing to sign.
        let (token2, icbc, _) = bound_card(&s, "ICBC").await;
        expect_problem(sign(&s, &token2, &icbc, version, hash).await, 404, "agreement_not_required").await;
    }
}

#[tokio::test]
async fn a_new_version_of_the_document_asks_for_a_new_signature() {
    for mut s in servers().await {
        let (token, cmb, _) = bound_card(&s, "CMB").await;
        switch(&s, &token, true).await;
        let old = agreement_document(&s, "CMB").await;
        let first = sign(&s, &token, &cmb, old["version"].as_str().unwrap_or(""), old["sha256"].as_str().unwrap_or("")).await;
        assert_eq!(first.status().as_u16(), 201);
        let first: Value = first.json().await.unwrap_or_default();
        let t = step_up(&s, &token, &cmb).await;
        assert_eq!(balance(&s, &token, &cmb, Some(&t)).await.status().as_u16(), 200);

        // CMB publishes a new version: the deployment's agreements file gains an entry and idlink restarts.
        let file = s.config.server.data_dir.join("agreements.toml");
        let text =
            format!("{}\n[[banks]]\ncode = \"CMB\"\nversion = \"2026-07\"\n", idlink_domain::agreement::AgreementTemplates::bundled_text());
        std::fs::write(&file, text).unwrap();
        s.restart(|c| c.connectors.bank.agreements_file = Some(file)).await;

        let new = agreement_document(&s, "CMB").await;
        assert_eq!(new["version"], "CMB-2026-07", "{new}");
        assert_ne!(new["sha256"], old["sha256"]);
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!(tiers["agreement_status"], "outdated", "{tiers}");
        assert!(tiers["agreement"].is_null(), "the old signature is not in force for queries: {tiers}");
        assert_eq!(tiers["outdated_agreement"]["document_version"], "CMB-2026-01");
        assert_eq!(tiers["agreement_document"]["version"], "CMB-2026-07");
        let t = step_up(&s, &token, &cmb).await;
        expect_problem(balance(&s, &token, &cmb, Some(&t)).await, 403, "agreement_required").await;
        let stale = sign(&s, &token, &cmb, old["version"].as_str().unwrap_or(""), old["sha256"].as_str().unwrap_or("")).await;
        expect_problem(stale, 409, "agreement_version_not_current").await;

        // Signing the new version renews the old agreement; the unspent step-up token now works.
        let res = sign(&s, &token, &cmb, "CMB-2026-07", new["sha256"].as_str().unwrap_or("")).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let renewed: Value = res.json().await.unwrap_or_default();
        assert_eq!(renewed["renews"], first["id"], "{renewed}");
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!((tiers["agreement_status"].as_str(), tiers["outdated_agreement"].is_null()), (Some("in_force"), true), "{tiers}");
        assert_eq!(balance(&s, &token, &cmb, Some(&t)).await.status().as_u16(), 200);

        // Revoking works as before: tier 4 is gone at once.
        let res = call(&s, Method::DELETE, &format!("/v1/me/cards/{cmb}/agreements"), &token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);
        let tiers: Value = get_json(&s, &format!("/v1/me/cards/{cmb}/authorisations"), &token).await;
        assert_eq!(tiers["agreement_status"], "not_signed", "{tiers}");
    }
}
