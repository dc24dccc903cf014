//! The user 360° page and API: a user found by phone and by ID number
//! through the blind index (and a miss), the record opened only with a
//! purpose, every personal value masked in the JSON and the page, the
//! audit records (search and view, with the purpose, never the value or the
//! operator's reference) and the purpose row in the database, and the view
//! in the user's own access log. Both databases; one browser journey.

use super::{Staff, staff};
use crate::h5::{Browser, FormClient};
use crate::{Server, expect_problem, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::operators::Role;
use idlink_core::ports::people::PeopleStore;
use idlink_domain::UserId;
use reqwest::Method;
use serde_json::{Value, json};

const NAME: &str = "钱芳";
const REFERENCE: &str = "TICKET-2026-0042";

/// A verified user with a bound card; answers (user id, card number).
async fn verified_user_with_card(s: &Server, phone: &str, id_number: &str) -> (String, String) {
    let login = crate::login::login_ok(s, phone, "device-a").await;
    let token = login["session_token"].as_str().unwrap_or("").to_owned();
    let user = login["user_id"].as_str().unwrap_or("").to_owned();
    crate::reviews::verify_resident(s, &token, phone, NAME, id_number).await;
    let card = crate::identity::icbc_card(&phone[phone.len() - 4..]);
    let res = s
        .authed(Method::POST, "/v1/me/cards")
        .header("idlink-session", &token)
        .json(&json!({"card_number": card, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pending: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
    let binding = pending["id"].as_str().unwrap_or_else(|| panic!("a pending binding: {pending}")).to_owned();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::POST, &format!("/v1/me/cards/{binding}/confirm"))
        .header("idlink-session", &token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "the card is bound: {}", res.status());
    (user, card)
}

/// An operator's API session token.
async fn operator_token(s: &Server, rt: &Runtime, who: &Staff) -> String {
    let res = s
        .client()
        .post(s.url("/v1/operator/sessions"))
        .json(&json!({"username": who.username, "password": who.password, "totp": who.code(rt)}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
    let v: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
    v["token"].as_str().unwrap_or("").to_owned()
}

async fn post(s: &Server, token: &str, path: &str, body: Value) -> reqwest::Response {
    s.client().post(s.url(path)).header("idlink-operator", token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
}

fn store(s: &Server) -> idlink_store::SqlStore {
    s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"))
}

#[tokio::test]
async fn an_operator_finds_a_user_by_blind_index_and_opens_the_masked_record_for_a_purpose_on_both_databases() {
    for db in crate::databases().await {
        let rt = Runtime::default();
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let (phone, id_number) = ("13912340029", "110105199001010029");
        let (user, card) = verified_user_with_card(&s, phone, id_number).await;
        let rita = staff(&s, &rt, "rita", &[Role::Reviewer]).await;
        let token = operator_token(&s, &rt, &rita).await;

        // By phone, by ID number: the same user, the phone masked; a miss finds nobody.
        let res = post(&s, &token, "/v1/operator/people/search", json!({"by": "phone", "value": phone})).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let by_phone: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_phone["users"], json!([{"user_id": user, "phone": "139****0029"}]), "{kind}");
        let res = post(&s, &token, "/v1/operator/people/search", json!({"by": "id_number", "value": id_number})).await;
        let by_id: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_id["users"][0]["user_id"], json!(user), "{kind}: {by_id}");
        let res = post(&s, &token, "/v1/operator/people/search", json!({"by": "phone", "value": "13700000000"})).await;
        let miss: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(miss["users"], json!([]), "{kind}");
        let res = post(&s, &token, "/v1/operator/people/search", json!({"by": "name", "value": phone})).await;
        expect_problem(res, 422, "validation_failed").await;
        let res = post(&s, &token, "/v1/operator/people/search", json!({"by": "id_number", "value": "110105199001010028"})).await;
        let body = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["code"], "invalid_id_number", "{kind}: a bad check digit is refused, not searched");
        let res = s.client().post(s.url("/v1/operator/people/search")).json(&json!({"by": "phone", "value": phone})).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 401, "operator_session_invalid").await;

        // No purpose, an unknown one, no reference: refused, and nothing is recorded.
        let view = format!("/v1/operator/people/{user}/view");
        let before = store(&s)
            .record_views(&UserId::parse(&user).unwrap_or_else(|e| panic!("{e}")), 10)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(before.is_empty(), "{kind}");
        expect_problem(post(&s, &token, &view, json!({"reference": REFERENCE})).await, 422, "validation_failed").await;
        let body = expect_problem(
            post(&s, &token, &view, json!({"purpose": "curiosity", "reference": REFERENCE})).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["code"], "invalid_purpose", "{kind}");
        let body =
            expect_problem(post(&s, &token, &view, json!({"purpose": "complaint", "reference": "  "})).await, 422, "validation_failed")
                .await;
        assert_eq!(body["errors"][0]["pointer"], "/reference", "{kind}");
        let unknown = post(
            &s,
            &token,
            "/v1/operator/people/usr_0000000000000000000000000000dead/view",
            json!({"purpose": "complaint", "reference": REFERENCE}),
        );
        expect_problem(unknown.await, 404, "user_not_found").await;

        let res = post(&s, &token, &view, json!({"purpose": "complaint", "reference": REFERENCE})).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let text = res.text().await.unwrap_or_else(|e| panic!("{e}"));
        for clear in [phone, id_number, NAME, card.as_str(), REFERENCE] {
            assert!(!text.contains(clear), "{kind}: `{clear}` is not in the record: {text}");
        }
        let record: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record["phone"], "139****0029", "{kind}");
        assert_eq!(record["identity"]["name"], "钱*", "{kind}");
        assert_eq!(record["identity"]["id_number"], "110***********0029", "{kind}");
        assert_eq!(record["identity"]["minor"], false, "{kind}");
        assert_eq!(record["standing"], "adult", "{kind}");
        assert_eq!(record["cards"][0]["card"], format!("**** {}", &card[card.len() - 4..]), "{kind}");
        assert_eq!(record["cards"][0]["binding"], "active", "{kind}");
        assert_eq!(record["cards"][0]["balance_switch"], false, "{kind}");
        assert_eq!(record["devices"][0]["name"], "phone device-a", "{kind}");
        assert_eq!(record["authorisations"]["payment_password_set"], false, "{kind}");
        assert!(
            record["capabilities"].as_array().is_some_and(|c| c.len() == 5 && c.iter().all(|c| c["available"] == true)),
            "{kind}: {record}"
        );

        // A frozen user: the freeze and its open case are in the record.
        let case = super::frozen_user_case(&s, &rt, "13912340011", 1).await;
        let found: Value = post(&s, &token, "/v1/operator/people/search", json!({"by": "phone", "value": "13912340011"}))
            .await
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let frozen_user = found["users"][0]["user_id"].as_str().unwrap_or_else(|| panic!("{kind}: {found}")).to_owned();
        let res = post(
            &s,
            &token,
            &format!("/v1/operator/people/{frozen_user}/view"),
            json!({"purpose": "fraud_investigation", "reference": "RISK-9"}),
        )
        .await;
        let frozen: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(frozen["frozen"]["case_id"], json!(case), "{kind}: {frozen}");
        assert_eq!(
            frozen["cases"],
            json!([{"id": case, "kind": "risk_freeze", "status": "open", "opened_at": frozen["cases"][0]["opened_at"]}]),
            "{kind}"
        );
        assert_eq!(frozen["standing"], "unverified", "{kind}");
        assert!(
            frozen["capabilities"].as_array().is_some_and(|c| c.iter().all(|c| c["available"] == false && c["why_not"] == "unverified")),
            "{kind}"
        );

        // An auditor may look too (investigations, regulators).
        let carol = staff(&s, &rt, "carol", &[Role::Auditor]).await;
        let auditor = operator_token(&s, &rt, &carol).await;
        let res = post(&s, &auditor, &view, json!({"purpose": "regulator_request", "reference": "PBOC letter 17"})).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");

        // Auditors check the purposes given: every look with its reference, newest first; a reviewer may not.
        let looks_path = format!("/v1/operator/people/{user}/looks");
        let res = s.client().get(s.url(&looks_path)).header("idlink-operator", &auditor).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let looks: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        let seen: Vec<(&str, &str)> = looks["looks"]
            .as_array()
            .unwrap_or_else(|| panic!("{kind}: {looks}"))
            .iter()
            .map(|l| (l["purpose"].as_str().unwrap_or(""), l["reference"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(seen, vec![("regulator_request", "PBOC letter 17"), ("complaint", REFERENCE)], "{kind}: {looks}");
        let res = s.client().get(s.url(&looks_path)).header("idlink-operator", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        crate::expect_problem(res, 403, "operator_role_required").await;

        // The database: the audit records (dumped) carry who, whom, what and why,
        // never the searched value nor the reference; the reference is kept beside them.
        let records = store(&s).audit_records(0, 10_000).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let actor = |r: &idlink_core::ports::audit::AuditRecord| r.entry.actor.starts_with("operator:op_");
        let views: Vec<_> = records
            .iter()
            .filter(|r| r.entry.action == "operator.view_user" && r.entry.subject.as_deref() == Some(user.as_str()))
            .collect();
        assert_eq!(views.len(), 2, "{kind}: one record per opening, none for a refused one");
        assert!(views.iter().all(|r| actor(r) && r.entry.subject.as_deref() == Some(user.as_str())), "{kind}");
        assert_eq!(views[0].entry.purpose, "handling your complaint", "{kind}");
        assert_eq!(views[1].entry.purpose, "regulator request", "{kind}");
        let searches: Vec<_> = records.iter().filter(|r| r.entry.action == "operator.search_user").take(3).collect();
        assert_eq!(
            records.iter().filter(|r| r.entry.action == "operator.search_user").count(),
            4,
            "{kind}: hits and the miss (refused bodies never reach the search)"
        );
        assert_eq!(searches.iter().filter(|r| r.entry.subject.as_deref() == Some(user.as_str())).count(), 2, "{kind}");
        assert_eq!(searches[1].entry.purpose, "user search by id number", "{kind}");
        assert!(searches[2].entry.subject.is_none(), "{kind}: a miss names nobody");
        let dump = serde_json::to_string(&records).unwrap_or_else(|e| panic!("{e}"));
        for clear in [phone, id_number, "13700000000", REFERENCE, "PBOC letter 17"] {
            assert!(!dump.contains(clear), "{kind}: `{clear}` is not in the audit log");
        }
        // The tables as stored: the audit log holds the view with its purpose words
        // and not the reference; record_views holds the purpose code beside the reference.
        let audit_table = idlink_store::testing::dump_table(&s.db.store, "audit_log").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(audit_table.contains("operator.view_user") && audit_table.contains("handling your complaint"), "{kind}");
        assert!(!audit_table.contains(REFERENCE) && !audit_table.contains(id_number) && !audit_table.contains(phone), "{kind}");
        let views_table = idlink_store::testing::dump_table(&s.db.store, "record_views").await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            views_table.contains("complaint") && views_table.contains(REFERENCE) && views_table.contains(&user),
            "{kind}: {views_table}"
        );
        let kept = store(&s)
            .record_views(&UserId::parse(&user).unwrap_or_else(|e| panic!("{e}")), 10)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            kept.iter().map(|v| (v.purpose.as_str(), v.reference.as_str())).collect::<Vec<_>>(),
            [("regulator_request", "PBOC letter 17"), ("complaint", REFERENCE)]
        );

        // The user sees it: who (an operator), what, and the purpose, never the reference.
        let log = s.access_log(&user).await;
        let seen = log.iter().find(|r| r["action"] == "operator.view_user").unwrap_or_else(|| panic!("{kind}: in the access log"));
        assert!(seen["actor"].as_str().is_some_and(|a| a.starts_with("operator:")), "{kind}");
        assert_eq!(seen["purpose"], "regulator request", "{kind}: newest first");
        assert!(!serde_json::to_string(&log).unwrap_or_else(|e| panic!("{e}")).contains(REFERENCE), "{kind}");

        // The user withdraws their credit-report consent: the record says which feature waits for it (issue 18).
        let login = crate::login::login_ok(&s, phone, "device-a").await;
        let user_token = login["session_token"].as_str().unwrap_or("").to_owned();
        let res = crate::cards::call(&s, Method::DELETE, "/v1/me/consents/credit_report", &user_token).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).unwrap_or(0), 204, "{kind}");
        let record: Value =
            post(&s, &token, &view, json!({"purpose": "complaint", "reference": REFERENCE})).await.json().await.unwrap_or_default();
        let credit = record["capabilities"].as_array().and_then(|c| c.iter().find(|c| c["capability"] == "credit_report")).cloned();
        assert_eq!(credit, Some(json!({"capability": "credit_report", "available": false, "why_not": "consent_credit_report"})), "{kind}");

        // Once the user's data is deleted the age cannot be known: the record
        // claims no standing (not "minor") and nothing is available.
        let del = s.authed(Method::DELETE, &format!("/v1/users/{user}/personal-data")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(del.status().as_u16(), 204, "{kind}");
        let res = post(&s, &token, &view, json!({"purpose": "complaint", "reference": REFERENCE})).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let gone: Value = res.json().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!((&gone["shredded"], &gone["phone"], &gone["identity"]), (&json!(true), &Value::Null, &Value::Null), "{kind}: {gone}");
        assert_eq!(gone["standing"], "shredded", "{kind}: {gone}");
        let capabilities = gone["capabilities"].as_array().unwrap_or_else(|| panic!("{kind}: {gone}"));
        assert_eq!(capabilities.len(), 5, "{kind}: {gone}");
        for c in capabilities {
            assert_eq!((&c["available"], &c["why_not"]), (&json!(false), &json!("data_deleted")), "{kind}: {c}");
        }
    }
}

/// The console's forms on both databases: a search by ID number, the
/// purpose asked, the record page with no clear value.
#[tokio::test]
async fn the_console_record_page_shows_only_masked_values_on_both_databases() {
    for db in crate::databases().await {
        let rt = Runtime::default();
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let (phone, id_number) = ("13912340037", "110105199001010037");
        let (user, card) = verified_user_with_card(&s, phone, id_number).await;
        let rita = staff(&s, &rt, "rita", &[Role::Reviewer]).await;
        let mut f = FormClient::new(&s);
        let _ = f.get("/console/sign-in").await;
        let code = rita.code(&rt);
        let res = f.post("/console/sign-in", &[("username", "rita"), ("password", &rita.password), ("totp", &code)]).await;
        assert_eq!(res.status().as_u16(), 303, "{kind}");

        let res = f.post("/console/people/search", &[("by", "id_number"), ("value", id_number)]).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let page = res.text().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(page.contains(&format!("href=\"/console/people/{user}\"")) && page.contains("139****0037"), "{kind}: {page}");
        assert!(!page.contains(id_number) && !page.contains(phone), "{kind}: the searched value is not echoed");

        let res = f.post(&format!("/console/people/{user}/view"), &[("purpose", ""), ("reference", "")]).await;
        assert_eq!(res.status().as_u16(), 422, "{kind}");
        let page = res.text().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(page.contains("请选择打开此资料的用途") && page.contains("请输入您正在处理的工单或函件编号"), "{kind}");

        let res = f.post(&format!("/console/people/{user}/view"), &[("purpose", "fraud_investigation"), ("reference", REFERENCE)]).await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let page = res.text().await.unwrap_or_else(|e| panic!("{e}"));
        for clear in [phone, id_number, NAME, card.as_str(), REFERENCE] {
            assert!(!page.contains(clear), "{kind}: `{clear}` is not on the page");
        }
        for shown in ["110***********0037", "钱*", "139****0037", "欺诈调查", "已绑定"] {
            assert!(page.contains(shown), "{kind}: `{shown}` is on the page");
        }
        // The record has no address: reloading it asks for the purpose again.
        let res = f.get(&format!("/console/people/{user}/view")).await;
        assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(format!("/console/people/{user}").as_str()));
    }
}

/// In the browser (zh-CN, then English): sign in, search with a mistake
/// first, give a purpose (without one first), read the masked record; then
/// the user reads the look in their access log. axe on every state.
#[tokio::test]
async fn a_reviewer_searches_gives_a_purpose_and_reads_the_masked_record_and_the_user_sees_it() {
    let rt = Runtime::default();
    let s = start_full(idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}")), &[], rt.clone()).await;
    let phone = "13912340045";
    let rita = staff(&s, &rt, "rita", &[Role::Reviewer]).await;
    let b = Browser::open(true).await;
    // The user signs up in this browser (the H5 cookies are not the console's).
    crate::h5::log_in(&b, &s, phone).await;

    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &rita.username).await;
    b.fill("#password", &rita.password).await;
    b.fill("#totp", &rita.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    assert_eq!(b.path().await, "/console/cases");

    b.click("nav a[href='/console/people']").await;
    assert_eq!(b.text("h1").await, "查找用户");
    b.assert_accessible("user 360 search").await;

    b.fill("#value", "1391234").await;
    b.click("#search").await;
    assert!(b.text("#value-error").await.contains("这不是内地手机号码"), "{}", b.text("main").await);
    assert_eq!(b.attr("#value", "aria-invalid").await.as_deref(), Some("true"));
    b.assert_accessible("user 360 search refused").await;

    b.fill("#value", phone).await;
    b.click("#search").await;
    assert_eq!(b.path().await, "/console/people/search", "a POST: the phone is not in the address");
    let row = b.text("#results tbody tr").await;
    assert!(row.contains("139****0045") && !row.contains(phone), "{row}");
    assert_eq!(b.attr("#results tbody td", "data-label").await.as_deref(), Some("用户"), "cells name their column");
    b.assert_accessible("user 360 results").await;

    b.click("#results a.open").await;
    assert_eq!(b.text("h1").await, "为何打开此用户资料？");
    b.assert_accessible("user 360 purpose").await;
    b.click("#open-record").await;
    assert!(b.text(".error-summary").await.contains("请选择打开此资料的用途"));
    b.assert_accessible("user 360 purpose refused").await;

    b.client.execute("document.querySelector('#purpose').value = 'complaint';", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.fill("#reference", REFERENCE).await;
    b.click("#open-record").await;
    assert_eq!(b.text("h1").await, "用户资料");
    assert!(b.text("#recorded").await.contains("处理用户投诉"));
    assert_eq!(b.text("#fact-phone dd").await, "139****0045");
    assert_eq!(b.text("#no-identity").await, "尚无已认证的身份。");
    let source = b.client.source().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!source.contains(phone) && !source.contains(REFERENCE), "nothing clear in the page");
    assert!(!b.has("#looks").await, "a reviewer is not shown who else looked");
    b.assert_accessible("user 360 record").await;

    // English: the record asks for its purpose again (every look is recorded).
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Why open this record?");
    b.client.execute("document.querySelector('#purpose').value = 'account_support';", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.fill("#reference", "CALL-7").await;
    b.click("#open-record").await;
    assert_eq!(b.text("h1").await, "User record");
    assert!(b.text("#capabilities").await.contains("Not available: Not verified"));
    b.assert_accessible("user 360 record, English").await;
    b.click("button[name=lang][value=zh-CN]").await;

    // The user reads it in "who accessed my data", in words, with the purpose and not the reference.
    b.goto(&s.url("/h5/access-log")).await;
    let log = b.text(".records").await;
    assert!(log.contains("查看了您的资料") && log.contains("处理您的投诉") && log.contains("您使用的应用的工作人员"), "{log}");
    assert!(log.contains("按手机号码查找您的账户"), "the search too: {log}");
    assert!(!log.contains(REFERENCE) && !log.contains("CALL-7"), "{log}");
    b.assert_accessible("access log with an operator's look").await;

    // An auditor opening the record sees every look with the reference given, its own included.
    let audra = staff(&s, &rt, "audra", &[Role::Auditor]).await;
    b.goto(&s.url("/console/sign-in")).await;
    b.click("form[action='/console/sign-out'] button").await;
    b.goto(&s.url("/console/sign-in")).await;
    b.fill("#username", &audra.username).await;
    b.fill("#password", &audra.password).await;
    b.fill("#totp", &audra.code(&rt)).await;
    b.click("form[action='/console/sign-in'] button[type=submit]").await;
    b.goto(&s.url("/console/people")).await;
    b.fill("#value", phone).await;
    b.click("#search").await;
    b.click("#results a.open").await;
    b.client.execute("document.querySelector('#purpose').value = 'regulator_request';", vec![]).await.unwrap_or_else(|e| panic!("{e}"));
    b.fill("#reference", "PBOC-17").await;
    b.click("#open-record").await;
    let looks = b.text("#looks tbody").await;
    let rows: Vec<&str> = looks.lines().collect();
    assert_eq!(rows.len(), 3, "{looks}");
    assert!(rows[0].contains("audra") && rows[0].contains("PBOC-17"), "newest first: {looks}");
    assert!(rows[1].contains("rita") && rows[1].contains("CALL-7") && rows[2].contains(REFERENCE), "{looks}");
    b.assert_accessible("user 360 record, auditor").await;
    b.close().await;
}

/// A passport holder's record shows at most the last four characters of the
/// passport number (P6): the ID card's first 3 + last 4 would show 7 of its 9.
#[tokio::test]
async fn a_passport_number_in_the_record_shows_its_last_four_characters_only_on_both_databases() {
    use crate::reviews::{decide, open_cases, operator, session};
    for db in crate::databases().await {
        let rt = Runtime::default();
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let alice = operator(&s, &rt, "alice", &[Role::Reviewer]).await;
        let bob = operator(&s, &rt, "bob", &[Role::Reviewer]).await;
        let phone = "13833335678";
        let login = session(&s, phone, "d1").await;
        let token = login["session_token"].as_str().unwrap_or_else(|| panic!("{kind}: {login}")).to_owned();
        let user = login["user_id"].as_str().unwrap_or_else(|| panic!("{kind}: {login}")).to_owned();
        crate::consents::give_all(&s, &token).await;
        let res = s
            .authed(Method::POST, "/v1/me/verifications")
            .header("idlink-session", &token)
            .json(&json!({"name": "Smith John", "document_type": "passport", "document_number": "E87654321", "birth_date": "1990-05-17"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 201, "{kind}");
        let started: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
        let code = s.last_code(phone).await;
        let res = s
            .authed(Method::POST, &format!("/v1/me/verifications/{}/submit", started["id"].as_str().unwrap_or("")))
            .header("idlink-session", &token)
            .json(&json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.json::<Value>().await.unwrap_or_else(|e| panic!("{e}"))["status"], "review", "{kind}");
        let cases = open_cases(&s, &alice, "?kind=verification").await;
        let case = cases[0]["id"].as_str().unwrap_or_else(|| panic!("{kind}: {cases:?}")).to_owned();
        assert_eq!(decide(&s, &alice, &case, "approve").await.status().as_u16(), 200, "{kind}");
        assert_eq!(decide(&s, &bob, &case, "approve").await.status().as_u16(), 200, "{kind}");

        let res =
            post(&s, &alice.token, &format!("/v1/operator/people/{user}/view"), json!({"purpose": "complaint", "reference": REFERENCE}))
                .await;
        assert_eq!(res.status().as_u16(), 200, "{kind}");
        let text = res.text().await.unwrap_or_else(|e| panic!("{e}"));
        let record: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(record["identity"]["document_type"], "passport", "{kind}: {record}");
        assert_eq!(record["identity"]["id_number"], "*****4321", "{kind}: {record}");
        assert!(!text.contains("E87") && !text.contains("654321"), "{kind}: {text}");
        assert_eq!(record["standing"], "adult", "{kind}");
    }
}
