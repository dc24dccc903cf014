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

/// Issue 18: a real-name verification needs the ID-number consent and the
/// consent of what the name is checked with (the face, or the bank card of a
/// four-element check), asked before anything is sent; a withdrawn
/// ID-number consent stops what rests on the real name, the capabilities say
/// so, and what was verified stays on record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_needs_the_id_number_consent_and_withdrawing_it_stops_what_rests_on_the_real_name() {
    for s in servers().await {
        let kind = s.kind;
        let phone = "13800139011";
        let token = session(&s, phone).await;
        let start = async |body: Value| {
            call(&s, Method::POST, "/v1/me/verifications", &token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
        };
        let three = json!({"name": "张三", "id_number": "11010519491231002X"});
        let four = json!({"name": "赵四", "id_number": "11010519491231002X", "method": "four_elements",
            "card_number": crate::identity::icbc_card("4321")});
        let asked = |p: &Value| (p["errors"][0]["detail"].as_str().map(str::to_owned), p["errors"][0]["code"].as_str().map(str::to_owned));

        let p = expect_problem(start(three.clone()).await, 403, "consent_required").await;
        assert_eq!(asked(&p), (Some("id_number".into()), Some("never".into())), "{kind}: {p}");
        let list = get_json(&s, "/v1/me/consents?lang=zh-CN", &token).await;
        assert_eq!(give(&s, &token, &entry(&list, "id_number")).await.status().as_u16(), 201);
        let p = expect_problem(start(three.clone()).await, 403, "consent_required").await;
        assert_eq!(asked(&p).0.as_deref(), Some("face"), "{kind}: a face check needs its own consent: {p}");
        let p = expect_problem(start(four).await, 403, "consent_required").await;
        assert_eq!(asked(&p).0.as_deref(), Some("bank_card"), "{kind}: a four-element check sends a card: {p}");
        let codes = idlink_store::testing::query_text(
            &s.running.as_ref().unwrap_or_else(|| panic!("running")).store,
            "SELECT COUNT(*) FROM verifications",
        )
        .await;
        assert_eq!(codes.ok().as_deref(), Some("0"), "{kind}: nothing was started");

        // A consent withdrawn between the start and the code: nothing goes out, and the code is not spent.
        assert_eq!(give(&s, &token, &entry(&list, "face")).await.status().as_u16(), 201);
        let started: Value = start(three.clone()).await.json().await.unwrap_or_default();
        let code = s.last_code(phone).await;
        let res = call(&s, Method::DELETE, "/v1/me/consents/face", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        let submit = async || {
            call(&s, Method::POST, &format!("/v1/me/verifications/{}/submit", started["id"].as_str().unwrap_or("")), &token)
                .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let p = expect_problem(submit().await, 403, "consent_required").await;
        assert_eq!(asked(&p), (Some("face".into()), Some("withdrawn".into())), "{kind}: {p}");
        assert_eq!(give(&s, &token, &entry(&list, "face")).await.status().as_u16(), 201);
        let done: Value = submit().await.json().await.unwrap_or_default();
        assert_eq!(done["status"], "verified", "{kind}: the same code, once consented: {done}");

        crate::consents::give_all(&s, &token).await;
        let res = call(&s, Method::DELETE, "/v1/me/consents/id_number", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204, "{kind}");

        // Everything that rests on the real name stops, and says which consent it waits for.
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        let restricted: Vec<&str> = caps["restricted"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        for c in ["payment", "balance_query", "credit_report", "social_security_card", "third_party_authorisation"] {
            assert!(restricted.contains(&c), "{kind}: {c} in {caps}");
            let waits = caps["consent_required"]
                .as_array()
                .is_some_and(|a| a.iter().any(|n| n["capability"] == c && n["consent"] == "id_number" && n["state"] == "withdrawn"));
            assert!(waits, "{kind}: {c} waits for the ID-number consent: {caps}");
        }
        let p = expect_problem(crate::cards::bind(&s, &token, "6222021234567890128", phone).await, 403, "consent_required").await;
        assert_eq!(asked(&p), (Some("id_number".into()), Some("withdrawn".into())), "{kind}: {p}");
        let p = expect_problem(start(three).await, 403, "consent_required").await;
        assert_eq!(asked(&p).0.as_deref(), Some("id_number"), "{kind}: {p}");
        // Withdrawing deletes nothing: the verified identity stays on record, and in the user's view.
        let me = get_json(&s, "/v1/me/identity", &token).await;
        assert_eq!(me["document_type"], "resident_id", "{kind}: {me}");
    }
}

/// Two "I agree" taps racing each other record one consent, audited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agreements_at_once_record_one_consent() {
    for s in servers().await {
        let kind = s.kind;
        let token = session(&s, "13800139021").await;
        let card = entry(&get_json(&s, "/v1/me/consents?lang=en", &token).await, "bank_card");
        let (a, b) = tokio::join!(give(&s, &token, &card), give(&s, &token, &card));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 201], "{kind}: one recorded, the other finds it");
        let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
        let rows = idlink_store::testing::query_text(store, "SELECT COUNT(*) FROM sensitive_consents").await;
        assert_eq!(rows.ok().as_deref(), Some("1"), "{kind}");
        let gave = crate::console::audit_actions(&s).await.iter().filter(|(_, a, _)| a == "consent.give").count();
        assert_eq!(gave, 1, "{kind}");

        // However the taps interleave, the store records one: a second record in force is refused, unaudited.
        use idlink_core::ports::consents::{ConsentRow, ConsentStore};
        let me = get_json(&s, "/v1/me", &token).await;
        let user = idlink_domain::UserId::parse(me["user_id"].as_str().unwrap_or("")).unwrap_or_else(|e| panic!("{e}"));
        let now = jiff::Timestamp::now();
        let row = ConsentRow {
            id: "spc_second".into(),
            user_id: user.clone(),
            kind: idlink_domain::consent::ConsentKind::BankCard,
            version: 1,
            locale: "en".into(),
            text_sha256: card["sha256"].as_str().unwrap_or("").into(),
            given_at: now,
            withdrawn_at: None,
        };
        let audit = idlink_core::ports::audit::AuditEntry::new("user:test", "consent.give", "a second record", now).subject(&user);
        assert!(!store.give_consent(&row, &audit).await.unwrap_or_else(|e| panic!("{e}")), "{kind}: refused");
        let rows = idlink_store::testing::query_text(store, "SELECT COUNT(*) FROM sensitive_consents").await;
        assert_eq!(rows.ok().as_deref(), Some("1"), "{kind}");
        let gave = crate::console::audit_actions(&s).await.iter().filter(|(_, a, _)| a == "consent.give").count();
        assert_eq!(gave, 1, "{kind}: nothing audited for what was not written");
    }
}

/// A deployment that publishes a new version of a text (`consents.texts_file`)
/// asks every user again: a consent to the older version no longer allows
/// the processing, says so (`outdated`), and agreeing to the new one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_of_a_text_asks_again() {
    for db in crate::databases().await {
        let mut s = crate::start_with(db, &[]).await;
        let kind = s.kind;
        let phone = "13800139031";
        let token = session(&s, phone).await;
        crate::reviews::verify_resident(&s, &token, phone, "张三", "11010519491231002X").await;
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert_eq!(caps["restricted"], json!([]), "{kind}: {caps}");

        // Version 2 of the bank-card text, with a changed English body.
        let bundled = include_str!("../../../idlink-domain/data/consents.toml");
        let v2 = bundled
            .replace("kind = \"bank_card\"\nversion = 1", "kind = \"bank_card\"\nversion = 2")
            .replace("To bind your bank cards", "From 2027, to bind your bank cards");
        assert_ne!(v2, bundled);
        let file = s.data_dir.join("consents-v2.toml");
        std::fs::write(&file, v2).unwrap_or_else(|e| panic!("{e}"));
        s.restart(|c| c.consents.texts_file = file.display().to_string()).await;

        let card = entry(&get_json(&s, "/v1/me/consents?lang=en", &token).await, "bank_card");
        assert_eq!(
            (card["state"].as_str(), card["version"].as_u64(), card["given_version"].as_u64()),
            (Some("outdated"), Some(2), Some(1)),
            "{kind}: {card}"
        );
        assert!(card["text"].as_str().unwrap_or("").starts_with("From 2027"), "{card}");
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        let needed = caps["consent_required"].as_array().cloned().unwrap_or_default();
        assert!(
            needed.iter().any(|c| c["capability"] == "balance_query" && c["consent"] == "bank_card" && c["state"] == "outdated"),
            "{kind}: {caps}"
        );
        let p = expect_problem(crate::cards::bind(&s, &token, "6222021234567890128", phone).await, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["code"], "outdated", "{kind}: {p}");

        // Agreeing to version 2: processing goes on; both records are kept.
        assert_eq!(give(&s, &token, &card).await.status().as_u16(), 201, "{kind}");
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert_eq!(caps["restricted"], json!([]), "{kind}: {caps}");
        let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
        let rows = idlink_store::testing::query_text(store, "SELECT COUNT(*) FROM sensitive_consents WHERE kind = 'bank_card'").await;
        assert_eq!(rows.ok().as_deref(), Some("2"), "{kind}");
    }
}
