//! Browser journeys of the identity pages (SPEC ID2–ID5, issue 12 point 3):
//! verification by ID card + face after a poor-lighting refusal (zh-CN, JS
//! on), by four elements (en, JS off), a passport through the operators'
//! review (zh-HK, elder mode), a minor and a guardian; and the
//! verification form on both databases without a browser.
//!
//! After a form is sent, no page shows the ID number, card or document
//! number unmasked: the journeys check each page's source.

use super::{Browser, FormClient, log_in};
use crate::Server;
use idlink::serve::Runtime;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Value, json};

const ZHANG_SAN_ID: &str = "11010519491231002X";

/// A valid resident ID number for a division, birth date and sequence code.
fn id_number(division: &str, birth: &str, seq: &str) -> String {
    let body = format!("{division}{birth}{seq}");
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(body.as_bytes());
    format!("{body}{}", idlink_domain::idnumber::check_character(&first17))
}

/// Ticks a radio button or box (no new page follows).
/// The page's HTML must not contain any of `secrets` (personal data shown unmasked).
async fn assert_nothing_unmasked(b: &Browser, what: &str, secrets: &[&str]) {
    let src = b.client.source().await.unwrap_or_default();
    for secret in secrets {
        assert!(!src.contains(secret), "{what}: the page shows {secret} unmasked");
    }
}

/// The session token of the browser's H5 login (the API takes the same token).
async fn browser_session(b: &Browser) -> String {
    let c = b.client.get_named_cookie("idlink_session").await.unwrap_or_else(|e| panic!("session cookie: {e}"));
    c.value().to_owned()
}

/// Logs in through the pages without a browser; a first login creates the account.
async fn form_login(c: &mut FormClient<'_>, s: &Server, phone: &str) {
    assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
    let page = c.post("/h5/login", &[("phone", phone)]).await.text().await.unwrap_or_default();
    let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
    let code = s.last_code(phone).await;
    let res = c.post("/h5/login/code", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await;
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/"), "{}: logged in", s.kind);
    c.agree_to_all().await;
}

fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start).nth(1).and_then(|r| r.split(end).next()).unwrap_or("").to_owned()
}

/// The review cases of `kind` open now, as an operator lists them.
async fn open_cases(s: &Server, op: &str, kind: &str) -> Vec<Value> {
    let v: Value = s
        .client()
        .get(s.url(&format!("/v1/operator/reviews?kind={kind}")))
        .header("idlink-operator", op)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    v["cases"].as_array().cloned().unwrap_or_default()
}

async fn approve(s: &Server, op: &str, case: &str) -> Value {
    s.client()
        .post(s.url(&format!("/v1/operator/reviews/{case}/decisions")))
        .header("idlink-operator", op)
        .json(&json!({"decision": "approve", "note": "checked the scan"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn verifying_by_id_card_and_face_after_poor_lighting_guidance_in_simplified_chinese() {
    let s = crate::sqlite_server().await;
    let phone = "13912340001";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;

    b.goto(&s.url("/h5/identity")).await;
    assert!(b.text("#identity-none").await.contains("还没有完成实名认证"));
    b.assert_accessible("identity status, not verified").await;

    b.click("a[href='/h5/identity/verify/face']").await;
    // Each kind of sensitive information is asked for separately first (issue 18): the ID number, then the face.
    assert_eq!(b.path().await, "/h5/consents/id_number");
    assert!(b.text("main").await.contains("身份证件号码"), "the ID-number text");
    b.assert_accessible("the ID-number consent asked before verifying").await;
    b.click("#agree").await;
    assert_eq!(b.path().await, "/h5/consents/face");
    assert!(b.text("main").await.contains("人脸"), "the face text");
    b.click("#agree").await;
    assert_eq!(b.path().await, "/h5/identity/verify/face");
    assert!(b.text("#start-intro").await.contains("您账户绑定的手机号"), "the code goes to the account's phone");
    b.assert_accessible("face verification form").await;
    let user = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    let me: serde_json::Value = s
        .authed(reqwest::Method::GET, "/v1/me")
        .header("idlink-session", &user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let user_id = me["user_id"].as_str().unwrap_or_default().to_owned();
    let phone_reads = async || s.access_log(&user_id).await.iter().filter(|r| r["action"] == "user.read_phone").count();
    let reads_before = phone_reads().await;

    // A wrong check digit: the error is on the field, announced, and has the focus.
    b.fill("#name", "张三").await;
    b.fill("#id_number", "110105194912310021").await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert!(b.text("#id_number-error").await.contains("不是有效的身份证号"));
    assert_eq!(b.attr("#id_number", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(b.focus_on("id_number").await, "id_number");
    assert!(b.has(".error-summary[role=alert] a[href='#id_number']").await);
    assert_eq!(b.attr("#name", "value").await.as_deref(), Some("张三"), "what was typed is kept");
    b.assert_accessible("face verification form with an error").await;
    assert_eq!(phone_reads().await, reads_before, "neither the form nor a refused one decrypts the phone (an audited read)");

    b.fill("#id_number", ZHANG_SAN_ID).await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert!(b.text("#code-sent").await.contains("139****0001"));
    assert!(b.text("fieldset.choices legend").await.contains("测试替代"), "the sandbox's stand-in is named as such");
    assert_eq!(b.text("label[for=liveness-2]").await, "光线不好的面部", "the choices are in words");
    assert_nothing_unmasked(&b, "code step", &[ZHANG_SAN_ID]).await;
    b.assert_accessible("code and capture step").await;

    // No capture chosen: said on the group, which gets the focus.
    b.fill("#code", &s.last_code(phone).await).await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert!(b.text("#liveness-error").await.contains("请选择一种刷脸结果"));
    assert_eq!(b.focus_on("liveness").await, "liveness");
    b.assert_accessible("capture step with an error").await;

    b.tick("input[value='sandbox:poor_lighting']").await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    let path = b.path().await;
    assert!(path.starts_with("/h5/identity/verifications/ver_") && !path.ends_with("/submit"), "a page to come back to: {path}");
    assert_eq!(b.text("#outcome-status").await, "未通过");
    let guidance = b.text("#reason-poor_lighting").await;
    assert!(guidance.contains("光线太差") && guidance.contains("明亮") && guidance.contains("帽子"), "{guidance}");
    assert!(b.text("#retry-advice").await.contains("重试"));
    assert_eq!(b.focus_on("outcome").await, "outcome", "the outcome is focused, so it is read out");
    assert_eq!(b.attr("#outcome", "role").await.as_deref(), Some("status"));
    assert_nothing_unmasked(&b, "rejected outcome", &[ZHANG_SAN_ID]).await;
    b.assert_accessible("rejected with guidance").await;

    b.click("#try-again").await;
    assert_eq!(b.path().await, "/h5/identity/verify/face");
    b.fill("#name", "张三").await;
    b.fill("#id_number", ZHANG_SAN_ID).await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    b.tick("input[value='sandbox:pass']").await;
    b.fill("#code", &s.last_code(phone).await).await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert_eq!(b.text("#outcome-status").await, "已认证");
    assert!(b.text("h1").await.contains("认证成功"));
    assert_nothing_unmasked(&b, "verified outcome", &[ZHANG_SAN_ID]).await;
    b.assert_accessible("verified").await;

    b.click("#to-capabilities").await;
    assert_eq!(b.path().await, "/h5/capabilities");
    assert!(b.has(".capabilities .available").await, "open to a verified adult");
    assert!(!b.has(".capabilities .restricted:not(.consent)").await, "nothing held back but by consent");
    // The card, credit and social-security consents are not given yet: each links to its text, and back.
    b.click(".capabilities .consent a[href^='/h5/consents/bank_card']").await;
    assert_eq!(b.path().await, "/h5/consents/bank_card");
    b.click("#agree").await;
    assert_eq!(b.path().await, "/h5/capabilities");
    assert!(!b.has(".capabilities .consent a[href^='/h5/consents/bank_card']").await, "bank cards open once agreed");
    b.assert_accessible("capabilities after verification").await;

    b.goto(&s.url("/h5/identity")).await;
    assert_eq!(b.text("#identity-name").await, "张*");
    assert_eq!(b.text("#identity-number").await, "110***********002X");
    assert_eq!(b.text("#identity-document").await, "居民身份证");
    assert!(b.text("#identity-age").await.ends_with('岁'));
    assert!(!b.has("#identity-latest").await, "a verification that passed is not listed as open");
    assert_nothing_unmasked(&b, "identity status", &[ZHANG_SAN_ID]).await;
    b.assert_accessible("identity status, verified").await;
    b.close().await;
}

#[tokio::test]
async fn verifying_by_four_elements_in_english_without_javascript() {
    let s = crate::sqlite_server().await;
    let phone = "13912340002";
    let b = Browser::open(false).await;
    log_in(&b, &s, phone).await;
    b.click("button[name=lang][value=en]").await;
    b.goto(&s.url("/h5/identity")).await;
    assert!(b.text("#identity-none").await.contains("not verified"));
    b.click("a[href='/h5/identity/verify/card']").await;
    assert_eq!(b.agree_when_asked().await, 2, "the ID-number and bank-card consents first");
    assert!(b.text("h1").await.contains("bank card"));
    b.assert_accessible("four-element form").await;

    // Nothing filled in: every field says what to enter; the first has the focus.
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert_eq!(b.text("#name-error").await, "Enter your full name.");
    assert_eq!(b.text("#id_number-error").await, "Enter your ID card number.");
    assert_eq!(b.text("#card_number-error").await, "Enter the bank card number.");
    assert_eq!(b.focus_on("name").await, "name");
    b.assert_accessible("four-element form with errors").await;

    let id = id_number("110105", "19850315", "321");
    // The sandbox bank has another reserved phone for cards ending 1111.
    let wrong_card = crate::identity::icbc_card("1111");
    b.fill("#name", "赵四").await;
    b.fill("#id_number", &id).await;
    b.fill("#card_number", &wrong_card).await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert!(b.text("#code-sent").await.contains("139****0002"));
    assert!(!b.has("input[name=liveness]").await && !b.has("#capture-from-app").await, "the bank vouches: no face check");
    assert_nothing_unmasked(&b, "four-element code step", &[&id, &wrong_card]).await;
    b.assert_accessible("four-element code step").await;

    b.fill("#code", "12345").await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert_eq!(b.text("#code-error").await, "The code is the 6 digits from the SMS.");
    assert_eq!(b.focus_on("code").await, "code");
    b.assert_accessible("four-element code step with an error").await;
    b.fill("#code", &s.last_code(phone).await).await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert_eq!(b.text("#outcome-status").await, "Not verified");
    assert!(b.text("#reason-reserved_phone_mismatch").await.contains("update the number at your bank"));
    assert_eq!(b.focus_on("outcome").await, "outcome");
    assert_nothing_unmasked(&b, "four-element outcome", &[&id, &wrong_card]).await;
    b.assert_accessible("four-element rejection").await;

    // The verification stays where the user can come back to it.
    b.goto(&s.url("/h5/identity")).await;
    assert_eq!(b.text("#identity-latest").await, "Not verified");
    b.assert_accessible("identity status with the latest attempt").await;

    b.click("a[href='/h5/identity/verify/card']").await;
    let card = crate::identity::icbc_card("4321");
    b.fill("#name", "赵四").await;
    b.fill("#id_number", &id).await;
    b.fill("#card_number", &card).await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    b.fill("#code", &s.last_code(phone).await).await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert_eq!(b.text("#outcome-status").await, "Verified");
    assert_nothing_unmasked(&b, "four-element verified", &[&id, &card]).await;
    b.assert_accessible("four-element verified").await;
    b.goto(&s.url("/h5/identity")).await;
    assert_eq!(b.text("#identity-name").await, "赵*");
    assert_eq!(b.text("#identity-age").await.split(' ').nth(1), Some("years"));
    assert!(b.text("#identity-number").await.starts_with("110") && b.text("#identity-number").await.contains('*'));
    assert_nothing_unmasked(&b, "identity status (en)", &[&id, &card]).await;
    b.assert_accessible("identity status (en)").await;
    b.close().await;
}

#[tokio::test]
async fn a_passport_goes_to_review_and_the_user_sees_the_approval_in_traditional_chinese_elder_mode() {
    let rt = Runtime::default();
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_full(db, &[], rt.clone()).await;
    let alice = crate::reviews::operator(&s, &rt, "alice", &[Role::Reviewer]).await.token;
    let bob = crate::reviews::operator(&s, &rt, "bob", &[Role::Reviewer]).await.token;
    let phone = "13912340003";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("button[name=elder][value='1']").await;
    b.goto(&s.url("/h5/identity")).await;
    b.click("a[href='/h5/identity/verify/document']").await;
    assert_eq!(b.agree_when_asked().await, 2, "the ID-number and face consents first");
    assert_eq!(b.text("h1").await, "護照或通行證認證");
    assert!(b.has("body.elder").await);
    b.assert_accessible("document form (zh-HK, elder)").await;

    // A birth date in the future is refused on its field.
    b.fill("#name", "Smith John").await;
    b.fill("#document_number", "E12345678").await;
    b.fill("#birth_date", "2990-05-17").await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert!(b.text("#birth_date-error").await.contains("過去的日期"));
    assert_eq!(b.focus_on("birth_date").await, "birth_date");
    b.assert_accessible("document form with an error").await;

    b.fill("#birth_date", "1990-05-17").await;
    b.tick("input[name=document_type][value=passport]").await;
    b.click("form[action='/h5/identity/verifications'] button[type=submit]").await;
    assert!(b.text("#code-sent").await.contains("139****0003"));
    assert_nothing_unmasked(&b, "document code step", &["E12345678"]).await;
    b.assert_accessible("document code step (elder)").await;
    // Elder mode: the capture choices and the button are large targets.
    let sizes = b
        .client
        .execute(
            "return [document.querySelector('label[for=liveness]').getBoundingClientRect().height,\
                     document.querySelector('form[action$=\"/submit\"] button').getBoundingClientRect().height];",
            vec![],
        )
        .await
        .unwrap_or_default();
    assert!(sizes[0].as_f64().unwrap_or(0.0) >= 60.0 && sizes[1].as_f64().unwrap_or(0.0) >= 60.0, "{sizes}");
    b.tick("input[value='sandbox:pass']").await;
    b.fill("#code", &s.last_code(phone).await).await;
    b.click("form[action$='/submit'] button[type=submit]").await;
    assert_eq!(b.text("#outcome-status").await, "職員審核中");
    assert!(b.text("#review-note").await.contains("72 小時"));
    let outcome_path = b.path().await;
    assert_nothing_unmasked(&b, "document under review", &["E12345678"]).await;
    b.assert_accessible("document under review").await;

    // The status page shows the open review until the operators decide.
    b.goto(&s.url("/h5/identity")).await;
    assert_eq!(b.text("#identity-latest").await, "職員審核中");
    assert!(b.has("#identity-none").await);
    b.assert_accessible("identity status with a review open").await;

    let cases = open_cases(&s, &alice, "verification").await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = cases[0]["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(Some(cases[0]["reference"].as_str().unwrap_or("")), outcome_path.rsplit('/').next());
    assert_eq!(approve(&s, &alice, &case).await["status"], "open");
    b.goto(&s.url("/h5/identity")).await;
    b.click("a[href^='/h5/identity/verifications/']").await;
    assert_eq!(b.text("#outcome-status").await, "職員審核中", "one reviewer is not enough");
    assert_eq!(approve(&s, &bob, &case).await["status"], "approved");
    b.click("#check-again").await;
    assert_eq!(b.text("#outcome-status").await, "已認證");
    b.assert_accessible("document approved").await;

    b.goto(&s.url("/h5/identity")).await;
    assert_eq!(b.text("#identity-document").await, "護照");
    let number = b.text("#identity-number").await;
    assert_eq!(number, "*****5678", "a passport number shows its last four only");
    assert_nothing_unmasked(&b, "identity status (passport)", &["E12345678"]).await;
    b.assert_accessible("identity status, passport").await;
    b.close().await;
}

#[tokio::test]
async fn a_minor_asks_a_guardian_who_accepts_and_the_review_opens_the_capabilities() {
    let rt = Runtime::default();
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_full(db, &[], rt.clone()).await;
    let rita = crate::reviews::operator(&s, &rt, "rita", &[Role::Reviewer]).await.token;
    let (child_phone, parent_phone) = ("13912340005", "13912340006");

    // The guardian: an adult who logs in through the pages (no browser) and is verified.
    let mut parent = FormClient::new(&s);
    form_login(&mut parent, &s, parent_phone).await;
    let parent_token = parent.cookies.get("idlink_session").cloned().unwrap_or_default();

    let b = Browser::open(true).await;
    log_in(&b, &s, child_phone).await;
    b.goto(&s.url("/h5/guardians")).await;
    assert!(b.text("#guardians-standing").await.contains("请先完成实名认证"));
    b.assert_accessible("guardians, not verified").await;
    let child_token = browser_session(&b).await;
    crate::reviews::verify_resident(&s, &child_token, child_phone, "李小明", &id_number("440524", "20150601", "123")).await;

    b.goto(&s.url("/h5/guardians")).await;
    assert!(b.text("#guardians-standing").await.contains("未满 18 周岁"));
    assert!(b.has("#mine-empty").await);
    b.assert_accessible("guardians, a minor without a guardian").await;

    // The guardian is not verified yet: the refusal says what to do.
    b.fill("#guardian_phone", parent_phone).await;
    b.fill("#evidence_ref", "hukou-scan-7781").await;
    b.click("form[action='/h5/guardians'] button[type=submit]").await;
    assert!(b.text("#guardian_phone-error").await.contains("请监护人先登录并完成实名认证"));
    assert_eq!(b.focus_on("guardian_phone").await, "guardian_phone");
    b.assert_accessible("guardian request refused").await;

    crate::reviews::verify_resident(&s, &parent_token, parent_phone, "李大明", ZHANG_SAN_ID).await;
    b.click("form[action='/h5/guardians'] button[type=submit]").await;
    assert_eq!(b.path().await, "/h5/guardians");
    assert_eq!(b.text("#mine .link-status").await, "等待监护人确认");
    assert!(b.text("#mine").await.contains("hukou-scan-7781") && b.text("#mine").await.contains("父母"));
    b.assert_accessible("guardian request sent").await;

    // The guardian sees the request addressed to them and accepts.
    let page = parent.get("/h5/guardians").await.text().await.unwrap_or_default();
    assert!(page.contains("指定您为监护人的申请") && page.contains("等待监护人确认"), "{page}");
    assert!(page.contains("申请人：李") && !page.contains("李小明"), "the guardian sees who asks, masked: {page}");
    let action = between(&page, "<form method=\"post\" action=\"/h5/guardians/", "\"");
    assert!(action.starts_with("grd_") && action.ends_with("/accept"), "{action}");
    let res = parent.post(&format!("/h5/guardians/{action}"), &[]).await;
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/guardians"));
    let page = parent.get("/h5/guardians").await.text().await.unwrap_or_default();
    assert!(page.contains("监护人已同意，工作人员正在审核证明") && !page.contains("/accept"), "accepted once: {page}");

    b.goto(&s.url("/h5/guardians")).await;
    assert_eq!(b.text("#mine .link-status").await, "监护人已同意，工作人员正在审核证明");
    b.assert_accessible("guardian accepted, under review").await;
    b.goto(&s.url("/h5/capabilities")).await;
    assert!(b.has(".capabilities .restricted").await, "restricted while the evidence is reviewed");

    let cases = open_cases(&s, &rita, "guardian").await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(approve(&s, &rita, cases[0]["id"].as_str().unwrap_or("")).await["status"], "approved");
    b.goto(&s.url("/h5/guardians")).await;
    assert_eq!(b.text("#mine .link-status").await, "已通过");
    assert!(b.text("#guardians-standing").await.contains("审核通过"));
    b.assert_accessible("guardian approved").await;
    b.goto(&s.url("/h5/identity")).await;
    assert!(b.text("#identity-minor").await.contains("未满 18 周岁"));
    assert_nothing_unmasked(&b, "a minor's identity", &["44052420150601123"]).await;
    b.assert_accessible("a minor's identity").await;
    b.close().await;

    // The API says the same.
    let caps: Value = s
        .authed(Method::GET, "/v1/me/capabilities")
        .header("idlink-session", &child_token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(caps["restricted"], json!(["credit_report"]), "{caps}");
}

/// The verification form without a browser, on SQLite and PostgreSQL:
/// errors come back with what was typed, a good form reaches the code step,
/// and the outcome and status pages mask the number.
#[tokio::test]
async fn the_verification_form_round_trips_on_both_databases() {
    for s in crate::servers().await {
        let phone = "13912340007";
        let mut c = FormClient::new(&s);
        form_login(&mut c, &s, phone).await;
        let res = c.get("/h5/identity/verify/face").await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);

        let start = [("kind", "face"), ("name", "张3"), ("id_number", "110105194912310021")];
        let res = c.post("/h5/identity/verifications", &start).await;
        assert_eq!(res.status().as_u16(), 422, "{}", s.kind);
        let page = res.text().await.unwrap_or_default();
        assert!(page.contains("id=\"name-error\"") && page.contains("id=\"id_number-error\""), "{}: both causes", s.kind);
        assert!(page.contains("value=\"张3\"") && page.contains("value=\"110105194912310021\""), "{}: typed values kept", s.kind);

        let start = [("kind", "face"), ("name", "张三"), ("id_number", "1101 0519 4912 3100 2X")];
        let res = c.post("/h5/identity/verifications", &start).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let page = res.text().await.unwrap_or_default();
        assert!(!page.contains(ZHANG_SAN_ID) && !page.contains("1101 0519"), "{}: the code step shows no ID number", s.kind);
        let vid = between(&page, "action=\"/h5/identity/verifications/", "/submit\"");
        let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
        assert!(vid.starts_with("ver_") && challenge.starts_with("chl_"), "{}: {vid} {challenge}", s.kind);

        let code = s.last_code(phone).await;
        let submit = [("kind", "face"), ("challenge_id", challenge.as_str()), ("code", code.as_str()), ("liveness", "sandbox:pass")];
        let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit).await;
        assert_eq!(res.status().as_u16(), 303, "{}", s.kind);
        let to = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert_eq!(to, format!("/h5/identity/verifications/{vid}?via=face"), "{}", s.kind);
        let page = c.get(&to).await.text().await.unwrap_or_default();
        assert!(page.contains("id=\"outcome-status\">已认证<"), "{}: {page}", s.kind);
        // A second submit of the same verification shows its result, not an error.
        let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit).await;
        assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(format!("/h5/identity/verifications/{vid}").as_str()));
        // A reload of a step's address (a post) lands on its page.
        let res = c.get(&format!("/h5/identity/verifications/{vid}/submit")).await;
        assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(format!("/h5/identity/verifications/{vid}").as_str()));
        let page = c.get("/h5/identity").await.text().await.unwrap_or_default();
        assert!(page.contains("110***********002X") && !page.contains(ZHANG_SAN_ID), "{}: masked", s.kind);

        // Another user's verification is not shown.
        let mut other = FormClient::new(&s);
        form_login(&mut other, &s, "13912340008").await;
        let res = other.get(&format!("/h5/identity/verifications/{vid}")).await;
        assert_eq!(res.status().as_u16(), 404, "{}", s.kind);
    }
}

/// With a real face provider configured, the pages offer no stand-in: they
/// say the capture comes from the host app, and a submit without one says so.
#[tokio::test]
async fn without_the_sandbox_face_provider_the_capture_comes_from_the_host_app() {
    let mut s = crate::sqlite_server().await;
    // Nothing listens there: the page must not need the provider to say this.
    s.restart(|c| c.connectors.face.url = "http://127.0.0.1:9".into()).await;
    let phone = "13912340009";
    let mut c = FormClient::new(&s);
    form_login(&mut c, &s, phone).await;
    let start = [("kind", "face"), ("name", "张三"), ("id_number", ZHANG_SAN_ID)];
    let page = c.post("/h5/identity/verifications", &start).await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"capture-from-app\"") && !page.contains("sandbox:"), "no stand-in offered: {page}");
    let vid = between(&page, "action=\"/h5/identity/verifications/", "/submit\"");
    let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
    let code = s.last_code(phone).await;
    let submit = [("kind", "face"), ("challenge_id", challenge.as_str()), ("code", code.as_str()), ("liveness", "sandbox:pass")];
    let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit[..3]).await;
    assert_eq!(res.status().as_u16(), 422);
    let page = res.text().await.unwrap_or_default();
    assert!(between(&page, "id=\"code-error\">", "<").contains("App"), "{page}");
    // A forged stand-in is not offered either: it reaches the configured provider, which is down.
    let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit).await;
    assert_ne!(res.status().as_u16(), 303, "no sandbox value passes a real provider");
}

/// A document the reviewers refuse: the status page says so in words and
/// offers to start again (no reason code comes with a reviewer's refusal).
#[tokio::test]
async fn a_document_the_reviewers_refuse_says_so_and_offers_to_start_again() {
    let rt = Runtime::default();
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = crate::start_full(db, &[], rt.clone()).await;
    let rita = crate::reviews::operator(&s, &rt, "rita", &[Role::Reviewer]).await.token;
    let phone = "13912340010";
    let mut c = FormClient::new(&s);
    form_login(&mut c, &s, phone).await;
    let start = [
        ("kind", "document"),
        ("name", "Chan Tai Man"),
        ("document_type", "hk_macau_permit"),
        ("document_number", "H1234567801"),
        ("birth_date", "1988-02-29"),
    ];
    let page = c.post("/h5/identity/verifications", &start).await.text().await.unwrap_or_default();
    assert!(!page.contains("H1234567801"), "the code step shows no document number");
    let vid = between(&page, "action=\"/h5/identity/verifications/", "/submit\"");
    let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
    let code = s.last_code(phone).await;
    let submit = [("kind", "document"), ("challenge_id", challenge.as_str()), ("code", code.as_str()), ("liveness", "sandbox:pass")];
    let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit).await;
    let to = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let page = c.get(&to).await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"outcome-status\">工作人员审核中<"), "{page}");

    let cases = open_cases(&s, &rita, "verification").await;
    let case = cases.iter().find(|k| k["reference"] == vid.as_str()).and_then(|k| k["id"].as_str()).unwrap_or("").to_owned();
    let refused: Value = s
        .client()
        .post(s.url(&format!("/v1/operator/reviews/{case}/decisions")))
        .header("idlink-operator", &rita)
        .json(&json!({"decision": "reject", "note": "the scan is unreadable"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(refused["status"], "rejected", "{refused}");
    let page = c.get(&format!("/h5/identity/verifications/{vid}")).await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"outcome-status\">未通过<") && page.contains("工作人员无法根据证件确认您的信息"), "{page}");
    assert!(page.contains("id=\"try-again\" href=\"/h5/identity\""), "starting again is offered: {page}");
    let status = c.get("/h5/identity").await.text().await.unwrap_or_default();
    assert!(status.contains("id=\"identity-latest\">未通过<") && status.contains("id=\"identity-none\""), "{status}");
}
