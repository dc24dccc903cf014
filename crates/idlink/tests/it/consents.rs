//! Separate consents to process sensitive personal information (issue 18
//! point 1, PIPL art. 29, SPEC CP) on both databases, through the HTTP API:
//! the texts in three languages with their hashes; a consent given to the
//! text shown (a stale or altered one refused), listed, withdrawn as easily;
//! the processing that depends on it refused at once and the capability
//! saying why; a new version of a text asks again; nothing kept is deleted.

use crate::cards::{call, get_json, session};
use crate::{Server, expect_problem, servers};
use reqwest::Method;
use serde_json::{Value, json};

/// Gives every consent the user has not given, to the texts in `lang` (test fixture).
pub(crate) async fn give_all(s: &Server, token: &str) {
    let list = get_json(s, "/v1/me/consents?lang=en", token).await;
    for c in list["consents"].as_array().cloned().unwrap_or_default() {
        if c["state"] != "given" {
            let res = give(s, token, &c).await;
            assert_eq!(res.status().as_u16(), 201, "consent {}: {}", c["kind"], res.text().await.unwrap_or_default());
        }
    }
}

/// Consents to `c` (an entry of `GET /v1/me/consents`) as shown.
async fn give(s: &Server, token: &str, c: &Value) -> reqwest::Response {
    call(s, Method::POST, "/v1/me/consents", token)
        .json(&json!({"kind": c["kind"], "locale": c["locale"], "version": c["version"], "sha256": c["sha256"]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn entry(list: &Value, kind: &str) -> Value {
    list["consents"].as_array().and_then(|a| a.iter().find(|c| c["kind"] == kind)).cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_is_given_to_the_text_shown_listed_withdrawn_and_the_feature_stops() {
    for s in servers().await {
        let kind = s.kind;
        let phone = "13800139001";
        let token = session(&s, phone).await;

        // Every kind, never given, with its text in the language asked for.
        let list = get_json(&s, "/v1/me/consents?lang=zh-HK", &token).await;
        let kinds: Vec<&str> =
            list["consents"].as_array().map(|a| a.iter().filter_map(|c| c["kind"].as_str()).collect()).unwrap_or_default();
        assert_eq!(kinds, ["face", "id_number", "bank_card", "credit_report", "social_security"], "{kind}");
        let card = entry(&list, "bank_card");
        assert_eq!((card["state"].as_str(), card["locale"].as_str(), card["version"].as_u64()), (Some("never"), Some("zh-HK"), Some(1)));
        assert!(card["text"].as_str().unwrap_or("").contains("銀行卡號"), "{card}");
        assert_eq!(card["sha256"].as_str().map(str::len), Some(64));
        let en = entry(&get_json(&s, "/v1/me/consents?lang=en", &token).await, "bank_card");
        assert_ne!(en["sha256"], card["sha256"], "each language's text has its own hash");

        // Binding a card is refused before any consent, saying which.
        let res = crate::cards::bind(&s, &token, "6222021234567890128", phone).await;
        let p = expect_problem(res, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["code"], "never", "{p}");
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        let needed = caps["consent_required"].as_array().cloned().unwrap_or_default();
        assert!(
            needed.iter().any(|c| c["capability"] == "balance_query" && c["consent"] == "bank_card" && c["state"] == "never"),
            "{caps}"
        );

        // A consent to another text (altered, or a stale version) is refused.
        let mut altered = card.clone();
        altered["sha256"] = json!("0".repeat(64));
        expect_problem(give(&s, &token, &altered).await, 409, "consent_text_not_current").await;
        let mut stale = card.clone();
        stale["version"] = json!(0);
        expect_problem(give(&s, &token, &stale).await, 409, "consent_text_not_current").await;
        let mut bad = card.clone();
        bad["kind"] = json!("everything");
        expect_problem(give(&s, &token, &bad).await, 422, "validation_failed").await;

        // Given to the text shown: listed with its version and time; given twice, one record.
        assert_eq!(give(&s, &token, &card).await.status().as_u16(), 201, "{kind}");
        assert_eq!(give(&s, &token, &card).await.status().as_u16(), 200, "{kind}: already given");
        let listed = entry(&get_json(&s, "/v1/me/consents?lang=zh-HK", &token).await, "bank_card");
        assert_eq!((listed["state"].as_str(), listed["given_version"].as_u64()), (Some("given"), Some(1)), "{listed}");
        assert!(listed["given_at"].is_string(), "{listed}");
        let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
        let rows = idlink_store::testing::query_text(store, "SELECT COUNT(*) FROM sensitive_consents WHERE kind = 'bank_card'").await;
        assert_eq!(rows.ok().as_deref(), Some("1"), "{kind}");

        // Withdrawn as easily: the feature stops at once, the capability says why.
        let res = call(&s, Method::DELETE, "/v1/me/consents/bank_card", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204, "{kind}");
        let res = call(&s, Method::DELETE, "/v1/me/consents/bank_card", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 404, "consent_not_found").await;
        let p = expect_problem(crate::cards::bind(&s, &token, "6222021234567890128", phone).await, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["code"], "withdrawn", "{p}");
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert!(caps["restricted"].as_array().is_some_and(|r| r.iter().any(|c| c == "balance_query")), "{caps}");
        let needed = caps["consent_required"].as_array().cloned().unwrap_or_default();
        assert!(needed.iter().any(|c| c["consent"] == "bank_card" && c["state"] == "withdrawn"), "{caps}");
        let rows = idlink_store::testing::query_text(store, "SELECT COUNT(*) FROM sensitive_consents WHERE withdrawn_at IS NOT NULL").await;
        assert_eq!(rows.ok().as_deref(), Some("1"), "{kind}: the record is kept, stamped");

        // Every step is audited with the user as subject.
        let actions = crate::console::audit_actions(&s).await;
        let gave = actions.iter().filter(|(_, a, _)| a == "consent.give").count();
        let withdrew = actions.iter().filter(|(_, a, _)| a == "consent.withdraw").count();
        assert_eq!((gave, withdrew), (1, 1), "{kind}");
    }
}
