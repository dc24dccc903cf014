//! The social-security card over HTTP (SPEC SS1–SS4, issue 16), on both
//! databases: the service's coverage (every mainland province open or
//! closed, the region check with the features that apply there only, a
//! deployment's own coverage file); the six-step binding against the
//! sandbox bureaus and banks — resumed on another device and after a
//! restart, each step repeated safely, the SMS code when the face check
//! fails; the bureau's channels failing over and back; theft-binding risks
//! frozen for an operator's review; the card sealed at rest.

use crate::cards::{call, get_json};
use crate::credit::{adult, id_number};
use crate::reviews::{as_op, decide, open_cases, operator};
use crate::{Server, databases, expect_problem, servers, start_with};
use idlink::serve::Runtime;
use idlink_core::ports::operators::Role;
use idlink_core::ports::ss_bindings::SsBindingStore;
use reqwest::Method;
use serde_json::{Value, json};

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

async fn post(s: &Server, token: &str, path: &str, body: Value) -> reqwest::Response {
    call(s, Method::POST, path, token).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// The binding from a successful step.
async fn ok(s: &Server, res: reqwest::Response) -> Value {
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or_default();
    assert!(status == 200 || status == 201, "{}: {status} {v}", s.kind);
    v
}

async fn sandbox(s: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", s.sandbox));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default()
}

/// The sandbox bureau's card of a person, as printed (its number and QR payload).
async fn card_of(s: &Server, id: &str) -> Value {
    sandbox(s, Method::GET, &format!("/sandbox/v1/social-security/cards/{id}"), None).await
}

async fn script(s: &Server, province: &str, channel: &str, mode: &str) {
    let body = json!({"province": province, "channel": channel, "mode": mode, "slow_ms": 3000});
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/social-security/channels", s.sandbox))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204);
}

fn path(id: &str, step: &str) -> String {
    format!("/v1/social-security/bindings/{id}{step}")
}

/// A new binding for a Beijing card (`credit::id_number` numbers are issued in 110105), past its identity step by face.
async fn at_card_step(s: &Server, token: &str) -> String {
    let b = ok(s, post(s, token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
    let id = b["id"].as_str().unwrap_or("").to_owned();
    let b = ok(s, post(s, token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:pass"})).await).await;
    assert_eq!(b["step"], "card", "{b}");
    id
}

/// The card step by the card's number and the bureau's code sent to `phone`.
async fn card_step(s: &Server, token: &str, id: &str, number: &str, phone: &str) -> Value {
    let b = ok(s, post(s, token, &path(id, "/card"), json!({"card_number": number})).await).await;
    assert_eq!(b["card_code_sent"], true, "{b}");
    let code = s.last_code(phone).await;
    ok(s, post(s, token, &path(id, "/card/confirm"), json!({"code": code})).await).await
}

/// The last three steps: the bank's code to a reserved phone, the agreement, the features.
async fn finish(s: &Server, token: &str, id: &str, reserved: &str) -> Value {
    let b = ok(s, post(s, token, &path(id, "/bank"), json!({"reserved_phone": reserved})).await).await;
    assert_eq!(b["bank_code_sent"], true, "{b}");
    let code = s.last_code(reserved).await;
    ok(s, post(s, token, &path(id, "/bank/confirm"), json!({"code": code})).await).await;
    let a = get_json(s, "/v1/social-security/agreement", token).await;
    let sig = json!({"version": a["version"], "sha256": a["sha256"]});
    ok(s, post(s, token, &path(id, "/agreement"), sig).await).await;
    ok(s, post(s, token, &path(id, "/features"), json!({"features": ["medical_payment", "pension_query"]})).await).await
}

/// A session on another device of the same user (after its second SMS check).
async fn other_device(s: &Server, phone: &str, device: &str) -> String {
    crate::login::login_checked(s, phone, device).await.0
}

fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The whole binding: a failed face check and the SMS code instead, the
/// card scanned by its QR code, a second device that resumes at the bank
/// step, a server restart that loses nothing, every step asked twice, the
/// agreement signed by its hash; then bound, with the card masked in every
/// answer and sealed at rest.
#[tokio::test]
async fn a_card_is_bound_in_six_steps_resumed_on_another_device_and_after_a_restart() {
    for db in databases().await {
        let mut s = start_with(db, &[]).await;
        let phone = "13700000201";
        let (token, user) = adult(&s, phone, "201").await;
        let person = id_number(phone, "201");
        let printed = card_of(&s, &person).await;
        let number = printed["card_number"].as_str().unwrap_or("").to_owned();

        // Entry: a closed province is refused, an open one opens the binding at step 2.
        let res = post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "540102"})).await;
        expect_problem(res, 409, "social_security_region_closed").await;
        let res = post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "11010"})).await;
        expect_problem(res, 422, "validation_failed").await;
        let b = ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
        assert_eq!((b["step"].as_str(), b["step_number"].as_u64(), b["status"].as_str()), (Some("identity"), Some(2), Some("open")), "{b}");
        let id = b["id"].as_str().unwrap_or("").to_owned();
        assert!(id.starts_with("ssb_") && id.len() == 36, "{id}");
        let again = post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await;
        let p = expect_problem(again, 409, "social_security_binding_under_way").await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains(&id)), "{p}");

        // A step out of order is refused and says which comes first.
        let p = expect_problem(
            post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await,
            409,
            "social_security_step_out_of_order",
        )
        .await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("identity")), "{p}");
        // The SMS code is offered only after a failed face check.
        expect_problem(post(&s, &token, &path(&id, "/identity/sms"), json!({})).await, 409, "social_security_sms_not_offered").await;
        // A photo instead of a face unlocks nothing; a capture in poor light offers the SMS code.
        let res = post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:spoof"})).await;
        expect_problem(res, 422, "face_check_failed").await;
        assert_eq!(get_json(&s, &path(&id, ""), &token).await["sms_fallback"], false);
        let res = post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:poor_lighting"})).await;
        expect_problem(res, 422, "face_check_failed").await;
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!((b["step"].as_str(), b["sms_fallback"].as_bool()), (Some("identity"), Some(true)), "{b}");
        let c: Value = post(&s, &token, &path(&id, "/identity/sms"), json!({})).await.json().await.unwrap_or_default();
        let challenge_id = c["challenge_id"].as_str().unwrap_or_else(|| panic!("{c}")).to_owned();
        let code = s.last_code(phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let res = post(&s, &token, &path(&id, "/identity/sms/confirm"), json!({"challenge_id": challenge_id, "code": wrong})).await;
        expect_problem(res, 422, "code_wrong").await;
        let b =
            ok(&s, post(&s, &token, &path(&id, "/identity/sms/confirm"), json!({"challenge_id": challenge_id, "code": code})).await).await;
        assert_eq!((b["step"].as_str(), b["identity_method"].as_str()), (Some("card"), Some("sms")), "{b}");
        // Asked again, a done step changes nothing.
        let b = ok(&s, post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:pass"})).await).await;
        assert_eq!((b["step"].as_str(), b["identity_method"].as_str()), (Some("card"), Some("sms")), "{b}");

        // The card by its QR code: a payload not printed by a bureau is refused, the real one sends the bureau's code.
        let forged = printed["qr_payload"].as_str().unwrap_or("").replace(&number, "Z99999999");
        expect_problem(post(&s, &token, &path(&id, "/card"), json!({"qr_payload": forged})).await, 422, "social_security_qr_unreadable")
            .await;
        expect_problem(
            post(&s, &token, &path(&id, "/card"), json!({"card_number": "Z99999999"})).await,
            422,
            "social_security_card_not_found",
        )
        .await;
        expect_problem(
            post(&s, &token, &path(&id, "/card/confirm"), json!({"code": "123456"})).await,
            409,
            "social_security_code_not_sent",
        )
        .await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card"), json!({"qr_payload": printed["qr_payload"]})).await).await;
        assert_eq!((b["card_code_sent"].as_bool(), b["channel"].as_str()), (Some(true), Some("primary")), "{b}");
        let inbox = s.inbox(phone).await;
        assert_eq!(inbox["messages"][0]["template"], "ss_card_binding", "the bureau's code went to the user's phone: {inbox}");
        let code = s.last_code(phone).await;
        expect_problem(post(&s, &token, &path(&id, "/card/confirm"), json!({"code": "999999x"})).await, 422, "social_security_code_wrong")
            .await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card/confirm"), json!({"code": code})).await).await;
        assert_eq!(b["step"], "bank", "{b}");
        let card = &b["card"];
        let account = printed["financial_account"]["card_number"].as_str().unwrap_or("").to_owned();
        assert_eq!(card["bank_code"], printed["financial_account"]["bank_code"], "{b}");
        assert!(card["card_number"].as_str().is_some_and(|n| n.contains('*') && !n.contains(&number[1..6])), "masked: {b}");
        assert!(card["account"].as_str().is_some_and(|a| a.ends_with(&account[account.len() - 4..]) && !a.contains(&account[..10])), "{b}");

        // A forgotten payment password: the bank resets it, on the bank's own page.
        let h = get_json(&s, &path(&id, "/bank/password-reset"), &token).await;
        assert_eq!(h["bank_code"], card["bank_code"], "{h}");
        let url = h["url"].as_str().unwrap_or_else(|| panic!("a page: {h}")).to_owned();
        assert!(url.starts_with(&s.sandbox) && url.contains(card["bank_code"].as_str().unwrap_or("?")), "{url}");
        let page = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap_or_default();
        assert!(h["bank_name"].as_str().is_some_and(|n| html.contains(n)) && !html.contains(&account), "{html}");

        // Another device resumes where the first left.
        let token_b = other_device(&s, phone, "tablet").await;
        let list = get_json(&s, "/v1/social-security/bindings", &token_b).await;
        assert_eq!((list["bindings"][0]["id"].as_str(), list["bindings"][0]["step"].as_str()), (Some(id.as_str()), Some("bank")), "{list}");
        let reserved = "13600000201";
        let b = ok(&s, post(&s, &token_b, &path(&id, "/bank"), json!({"reserved_phone": reserved})).await).await;
        assert_eq!(b["bank_code_sent"], true, "{b}");
        let bank_code = s.last_code(reserved).await;

        // A restart loses nothing: the binding is where it was, the bank's code still confirms it.
        s.restart(|_| {}).await;
        let b = get_json(&s, &path(&id, ""), &token_b).await;
        assert_eq!((b["step"].as_str(), b["bank_code_sent"].as_bool()), (Some("bank"), Some(true)), "{}: {b}", s.kind);
        let res = post(&s, &token_b, &path(&id, "/bank/confirm"), json!({"code": bank_code})).await;
        // The sandbox's bank restarted too and forgot its code: the step asks for a new one, nothing else is lost.
        if res.status().as_u16() != 200 {
            expect_problem(res, 422, "social_security_code_wrong").await;
            ok(&s, post(&s, &token_b, &path(&id, "/bank"), json!({"reserved_phone": reserved})).await).await;
            let bank_code = s.last_code(reserved).await;
            ok(&s, post(&s, &token_b, &path(&id, "/bank/confirm"), json!({"code": bank_code})).await).await;
        }
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!(b["step"], "agreement", "{b}");

        // The agreement: a signature of another text is refused; the current one by its version and hash.
        let a = get_json(&s, "/v1/social-security/agreement", &token).await;
        assert!(a["text"].as_str().is_some_and(|t| t.contains("社会保障卡移动支付服务协议")), "{a}");
        let stale = json!({"version": "SSC-MP-2020-01", "sha256": a["sha256"]});
        expect_problem(post(&s, &token, &path(&id, "/agreement"), stale).await, 409, "social_security_agreement_outdated").await;
        let b = ok(&s, post(&s, &token, &path(&id, "/agreement"), json!({"version": a["version"], "sha256": a["sha256"]})).await).await;
        assert_eq!((b["step"].as_str(), b["agreement_version"].as_str()), (Some("features"), a["version"].as_str()), "{b}");
        let res = post(&s, &token, &path(&id, "/features"), json!({"features": ["teleportation"]})).await;
        expect_problem(res, 422, "validation_failed").await;
        let b =
            ok(&s, post(&s, &token, &path(&id, "/features"), json!({"features": ["medical_payment", "unemployment_alerts"]})).await).await;
        assert_eq!((b["status"].as_str(), b["step"].as_str()), (Some("bound"), Some("features")), "{b}");
        assert_eq!(b["features"], json!(["medical_payment", "unemployment_alerts"]));
        assert!(b["bound_at"].as_str().is_some(), "{b}");
        // Bound: every step answers where it is (ending a bound binding is unbinding: the medical-code test).
        let b2 = ok(&s, post(&s, &token, &path(&id, "/features"), json!({"features": ["pension_query"]})).await).await;
        assert_eq!(b2["features"], b["features"], "a done step changes nothing");

        // Another user cannot see it.
        let (stranger, _) = adult(&s, "13700000202", "202").await;
        expect_problem(
            call(&s, Method::GET, &path(&id, ""), &stranger).send().await.unwrap_or_else(|e| panic!("{e}")),
            404,
            "social_security_binding_not_found",
        )
        .await;

        // At rest: the card, its number and the account are ciphertext; the steps are audited.
        let row = s.db.store.ss_binding(&id).await.ok().flatten().unwrap_or_else(|| panic!("{}: stored", s.kind));
        let cipher = row.card_cipher.clone().unwrap_or_default();
        assert!(cipher.len() > 60, "{}: the card is stored", s.kind);
        for clear in [number.as_bytes(), account.as_bytes(), b"card_ref"] {
            assert!(!holds(&cipher, clear), "{}: {} in clear at rest", s.kind, String::from_utf8_lossy(clear));
        }
        assert!(row.card_index.as_deref().is_some_and(|i| !i.contains(&number)), "a blind index, not the number");
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let records = idlink_core::ports::audit::AuditStore::audit_records_of_user(&s.db.store, &uid, 500).await.unwrap_or_default();
        let actions: Vec<&str> = records.iter().map(|r| r.entry.action.as_str()).filter(|a| a.starts_with("ss_binding.")).collect();
        for step in ["entry", "face_failed", "identity", "card_code_sent", "card", "bank_code_sent", "bank", "agreement_signed", "bound"] {
            assert!(actions.contains(&format!("ss_binding.{step}").as_str()), "{}: ss_binding.{step} audited: {actions:?}", s.kind);
        }
    }
}

/// Theft-binding risks (SS4): a card the bureau reports stolen, a card of
/// another province than the binding entered (a region jump), and a card
/// bound on another account each freeze the binding and open a `card_risk`
/// case with a 5-minute first-response SLA; while frozen nothing moves;
/// approving lets the binding go on, rejecting ends it.
#[tokio::test]
async fn a_theft_binding_risk_freezes_the_binding_for_an_operator_s_review() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        let rt = Runtime::default();
        let rita = operator(&s, &rt, "rita", &[Role::Reviewer]).await;

        // The bureau reports the card stolen (sequence code 444).
        let phone = "13700000211";
        let (token, _) = adult(&s, phone, "444").await;
        let number = card_of(&s, &id_number(phone, "444")).await["card_number"].as_str().unwrap_or("").to_owned();
        let id = at_card_step(&s, &token).await;
        let res = post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await;
        expect_problem(res, 409, "social_security_binding_frozen").await;
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!((b["status"].as_str(), b["risk_reason"].as_str()), (Some("frozen"), Some("bureau:reported_stolen")), "{b}");
        expect_problem(post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await, 409, "social_security_binding_frozen")
            .await;
        let cases = open_cases(&s, &rita, "?kind=card_risk").await;
        let case =
            cases.iter().find(|c| c["reference"] == id.as_str()).unwrap_or_else(|| panic!("{}: a card_risk case: {cases:?}", s.kind));
        let (created, due) = (case["created_at"].as_str().unwrap_or(""), case["sla_due_at"].as_str().unwrap_or(""));
        let created: jiff::Timestamp = created.parse().unwrap_or_else(|e| panic!("{e}: {case}"));
        let due: jiff::Timestamp = due.parse().unwrap_or_else(|e| panic!("{e}: {case}"));
        assert_eq!(due.duration_since(created).as_secs(), 300, "a 5-minute first-response SLA: {case}");
        // Approved (the user is the holder), but the bureau still holds the card: its counter must release it.
        let res = decide(&s, &rita, case["id"].as_str().unwrap_or(""), "approve").await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        expect_problem(post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await, 409, "social_security_card_held").await;
        assert_eq!(get_json(&s, &path(&id, ""), &token).await["status"], "open", "not frozen again");
        ok(&s, call(&s, Method::DELETE, &path(&id, ""), &token).send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        // Another try, rejected: the binding ends.
        let id = at_card_step(&s, &token).await;
        expect_problem(post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await, 409, "social_security_binding_frozen")
            .await;
        let case = open_cases(&s, &rita, "?kind=card_risk").await.into_iter().find(|c| c["reference"] == id.as_str());
        let case = case.unwrap_or_else(|| panic!("{}: the second case", s.kind));
        assert_eq!(decide(&s, &rita, case["id"].as_str().unwrap_or(""), "reject").await.status().as_u16(), 200);
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!(b["status"], "cancelled", "{b}");

        // A region jump: the binding entered Guangdong, the card is Beijing's.
        let phone = "13700000212";
        let (token, _) = adult(&s, phone, "212").await;
        let number = card_of(&s, &id_number(phone, "212")).await["card_number"].as_str().unwrap_or("").to_owned();
        let b = ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "440305"})).await).await;
        let id = b["id"].as_str().unwrap_or("").to_owned();
        ok(&s, post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:pass"})).await).await;
        expect_problem(post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await, 409, "social_security_binding_frozen")
            .await;
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!(b["risk_reason"], "region_jump:110000", "{b}");
        // The user cannot walk away from the review.
        let res = call(&s, Method::DELETE, &path(&id, ""), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 409, "social_security_binding_frozen").await;
        // Approved (the user moved and their card is Beijing's): the binding goes on, in the card's province, to the end.
        let case = open_cases(&s, &rita, "?kind=card_risk").await.into_iter().find(|c| c["reference"] == id.as_str());
        let case = case.unwrap_or_else(|| panic!("{}: the region-jump case", s.kind));
        assert_eq!(decide(&s, &rita, case["id"].as_str().unwrap_or(""), "approve").await.status().as_u16(), 200);
        let b = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!((b["status"].as_str(), b["step"].as_str()), (Some("open"), Some("card")), "{b}");
        let b = card_step(&s, &token, &id, &number, phone).await;
        assert_eq!((b["step"].as_str(), b["region"].as_str()), (Some("bank"), Some("110000")), "{b}");
        let b = finish(&s, &token, &id, "13600000212").await;
        assert_eq!(b["status"], "bound", "{b}");
        // Bound: no second binding for the same person.
        let again = post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await;
        expect_problem(again, 409, "social_security_binding_under_way").await;

        // The card bound on another account: a binding left on an old account holds it.
        let (_, other_user) = adult(&s, "13700000213", "213").await;
        let moved = format!("UPDATE ss_bindings SET user_id = '{other_user}' WHERE id = '{id}'");
        idlink_store::testing::execute(&s.db.store, &moved).await.unwrap_or_else(|e| panic!("{e}"));
        let id2 = at_card_step(&s, &token).await;
        let b = ok(&s, post(&s, &token, &path(&id2, "/card"), json!({"card_number": number})).await).await;
        assert_eq!(b["card_code_sent"], true);
        let code = s.last_code(phone).await;
        expect_problem(post(&s, &token, &path(&id2, "/card/confirm"), json!({"code": code})).await, 409, "social_security_binding_frozen")
            .await;
        let b = get_json(&s, &path(&id2, ""), &token).await;
        assert_eq!(b["risk_reason"], "card_bound_elsewhere", "{b}");
        // Approved: this user is the holder; the binding on the other account ends, this one goes on to the end.
        let case = open_cases(&s, &rita, "?kind=card_risk").await.into_iter().find(|c| c["reference"] == id2.as_str());
        let case = case.unwrap_or_else(|| panic!("{}: the bound-elsewhere case", s.kind));
        assert_eq!(decide(&s, &rita, case["id"].as_str().unwrap_or(""), "approve").await.status().as_u16(), 200);
        let old = s.db.store.ss_binding(&id).await.ok().flatten().unwrap_or_else(|| panic!("the old binding"));
        assert_eq!(old.status.as_str(), "cancelled", "{}: the other account's binding ended", s.kind);
        card_step(&s, &token, &id2, &number, phone).await;
        assert_eq!(finish(&s, &token, &id2, "13600000212").await["status"], "bound");

        // A live face that is not the holder's freezes the binding too.
        let (token3, _) = adult(&s, "13700000214", "214").await;
        let b = ok(&s, post(&s, &token3, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
        let id3 = b["id"].as_str().unwrap_or("").to_owned();
        let res = post(&s, &token3, &path(&id3, "/identity/face"), json!({"liveness_video": "sandbox:mismatch"})).await;
        expect_problem(res, 409, "social_security_binding_frozen").await;
        assert_eq!(get_json(&s, &path(&id3, ""), &token3).await["risk_reason"], "face_mismatch");
        // The console lists the cases with their kind.
        let ops = as_op(&s, &rita, Method::GET, "/v1/operator/reviews?kind=card_risk").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ops.status().as_u16(), 200);
    }
}

/// The bureau busy on its primary channel: the same call goes to the
/// alternate at once, and the binding says which answered; slow past the
/// deadline: the alternate answers well within 30 s; both down: 503 with
/// `Retry-After` and nothing lost; the primary back: after the breaker's
/// wait the traffic returns to it.
#[tokio::test]
async fn a_busy_bureau_fails_over_to_its_alternate_channel_and_back() {
    for db in databases().await {
        let s = start_with(
            db,
            &[
                ("IDLINK__CONNECTORS__TIMEOUT_MS", "1500"),
                ("IDLINK__CONNECTORS__BREAKER_FAILURES", "2"),
                ("IDLINK__CONNECTORS__BREAKER_OPEN_SECS", "1"),
            ],
        )
        .await;
        let phone = "13700000221";
        let (token, _) = adult(&s, phone, "221").await;
        let number = card_of(&s, &id_number(phone, "221")).await["card_number"].as_str().unwrap_or("").to_owned();
        let id = at_card_step(&s, &token).await;

        script(&s, "11", "primary", "busy").await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await).await;
        assert_eq!((b["card_code_sent"].as_bool(), b["channel"].as_str()), (Some(true), Some("alternate")), "{}: {b}", s.kind);

        // Slow past the deadline: the alternate answers, well within 30 s.
        script(&s, "11", "primary", "slow").await;
        let started = std::time::Instant::now();
        let b = ok(&s, post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await).await;
        assert_eq!(b["channel"], "alternate", "{b}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());

        // Both channels down: the step answers 503 with Retry-After and the binding keeps its place.
        script(&s, "11", "primary", "down").await;
        script(&s, "11", "alternate", "down").await;
        let res = post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await;
        assert!(res.headers().get("retry-after").is_some(), "{}", s.kind);
        expect_problem(res, 503, "institution_unavailable").await;
        assert_eq!(get_json(&s, &path(&id, ""), &token).await["step"], "card");

        // The primary recovers: after the breaker's wait, the traffic is back on it.
        script(&s, "11", "primary", "ok").await;
        script(&s, "11", "alternate", "ok").await;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await).await;
        assert_eq!(b["channel"], "primary", "{}: {b}", s.kind);
        let code = s.last_code(phone).await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card/confirm"), json!({"code": code})).await).await;
        assert_eq!(b["step"], "bank", "{b}");
    }
}

/// Each step has its deadline and the binding its expiry (configuration):
/// a code sent for a step that ran out of time is void and the step starts
/// again; a binding not bound in time expires, and a new one can start.
#[tokio::test]
async fn a_step_past_its_deadline_starts_again_and_a_binding_past_its_expiry_ends() {
    for db in databases().await {
        let s = start_with(
            db,
            &[
                ("IDLINK__SANDBOX__DRIVE_CLOCK", "true"),
                ("IDLINK__SOCIAL_SECURITY__STEP_MINUTES", "10"),
                ("IDLINK__SOCIAL_SECURITY__BINDING_HOURS", "1"),
            ],
        )
        .await;
        let phone = "13700000231";
        let (token, _) = adult(&s, phone, "231").await;
        let number = card_of(&s, &id_number(phone, "231")).await["card_number"].as_str().unwrap_or("").to_owned();
        let id = at_card_step(&s, &token).await;
        let b = ok(&s, post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await).await;
        let deadline: jiff::Timestamp = b["step_deadline"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {b}"));
        let expires: jiff::Timestamp = b["expires_at"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {b}"));
        // Each step has 10 minutes; the whole binding an hour from its entry.
        assert!((49..=50).contains(&expires.duration_since(deadline).as_mins()), "{b}");
        let code = s.last_code(phone).await;
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 11 * 60}))).await;
        expect_problem(post(&s, &token, &path(&id, "/card/confirm"), json!({"code": code})).await, 409, "social_security_code_not_sent")
            .await;
        card_step(&s, &token, &id, &number, phone).await;

        // A binding frozen for review (the bureau flags the card: 444) does not expire under the reviewer.
        let (flagged, _) = adult(&s, "13700000232", "444").await;
        let stolen = card_of(&s, &id_number("13700000232", "444")).await["card_number"].as_str().unwrap_or("").to_owned();
        let frozen = at_card_step(&s, &flagged).await;
        expect_problem(
            post(&s, &flagged, &path(&frozen, "/card"), json!({"card_number": stolen})).await,
            409,
            "social_security_binding_frozen",
        )
        .await;

        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 3600}))).await;
        let res = post(&s, &token, &path(&id, "/bank"), json!({"reserved_phone": "13600000231"})).await;
        expect_problem(res, 409, "social_security_binding_expired").await;
        assert_eq!(get_json(&s, &path(&id, ""), &token).await["status"], "expired");
        ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
        expect_problem(
            post(&s, &flagged, &path(&frozen, "/card"), json!({"card_number": stolen})).await,
            409,
            "social_security_binding_frozen",
        )
        .await;
        assert_eq!(get_json(&s, &path(&frozen, ""), &flagged).await["status"], "frozen");
    }
}

/// The QR image as the API draws it (an SVG path of dark rectangles),
/// rasterised and read back by a QR decoder.
pub(crate) fn decode_qr(svg: &str) -> String {
    let attr = |name: &str| -> usize {
        let at = svg.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name}: {svg}")) + name.len() + 2;
        svg[at..].split('"').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}"))
    };
    let (w, h) = (attr("width"), attr("height"));
    let mut dark = vec![false; w * h];
    let d = svg.split(" d=\"").nth(1).and_then(|p| p.split('"').next()).unwrap_or_else(|| panic!("no path: {svg}"));
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        // "{left} {top}h{width}v{height}H{left}V{top}"
        let nums: Vec<usize> = rect.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).filter_map(|n| n.parse().ok()).collect();
        let [left, top, width, height, ..] = nums[..] else { panic!("a path segment: {rect}") };
        for y in top..(top + height).min(h) {
            for x in left..(left + width).min(w) {
                dark[y * w + x] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| if dark[y * w + x] { 0 } else { 255 });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap_or_else(|e| panic!("decode: {e:?}")).1
}

/// A terminal's key (`medical:settle`), and the sandbox terminal configured with it.
async fn terminal(s: &Server) -> String {
    let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
    let rt = Runtime::default();
    let (_, key) = idlink_core::apikeys::create(
        &store,
        &idlink_core::ports::ids::RandomIds(rt.rng.clone()),
        rt.clock.as_ref(),
        "pharmacy",
        &["medical:settle".into()],
        "test",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let issuer = reqwest::get(s.url("/.well-known/openid-configuration"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json::<Value>()
        .await
        .unwrap_or_default()["issuer"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let config = json!({"api_url": s.base, "api_key": key, "issuer": issuer});
    let res = reqwest::Client::new()
        .post(format!("{}/sandbox/v1/terminal/config", s.sandbox))
        .json(&config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204);
    key
}

async fn pay(s: &Server, code: &str, amount: i64) -> Value {
    sandbox(s, Method::POST, "/sandbox/v1/terminal/pay", Some(json!({"code": code, "amount_fen": amount}))).await
}

/// The medical-insurance code (SS3): issued to a bound card on the user's
/// device, drawn as a QR image that decodes back to it, checked offline
/// with idlink's published key, settled once by the sandbox terminal;
/// refused when shown again, after it expired (a screenshot a minute
/// later), when altered, and to a key without `medical:settle`.
#[tokio::test]
async fn a_medical_code_pays_once_and_is_refused_after_use_or_expiry() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true")]).await;
        let phone = "13700000241";
        let (token, _) = adult(&s, phone, "241").await;
        let number = card_of(&s, &id_number(phone, "241")).await["card_number"].as_str().unwrap_or("").to_owned();
        let id = at_card_step(&s, &token).await;
        // Not bound yet: no code.
        expect_problem(post(&s, &token, &path(&id, "/medical-code"), json!({})).await, 409, "medical_card_unusable").await;
        card_step(&s, &token, &id, &number, phone).await;
        assert_eq!(finish(&s, &token, &id, "13600000241").await["status"], "bound");
        let key = terminal(&s).await;

        let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
        let code = c["code"].as_str().unwrap_or("").to_owned();
        let expires: jiff::Timestamp = c["expires_at"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {c}"));
        let refresh: jiff::Timestamp = c["refresh_at"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {c}"));
        assert_eq!(expires.duration_since(refresh).as_secs(), 10, "{c}");
        // The QR image decodes back to the code.
        assert_eq!(decode_qr(c["qr_svg"].as_str().unwrap_or("")), code, "{}", s.kind);
        // Offline, with the published key: idlink's, for this binding, region and device.
        let jwks: Value = reqwest::get(s.url("/oauth2/jwks")).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let issuer: Value = reqwest::get(s.url("/.well-known/openid-configuration"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let now = jiff::Timestamp::now().as_second();
        let claims = idlink_core::medical_code::verify_offline(&code, &jwks, issuer["issuer"].as_str().unwrap_or(""), now)
            .unwrap_or_else(|e| panic!("{}: {e}", s.kind));
        assert_eq!((claims.sub.as_str(), claims.reg.as_str(), claims.exp - claims.iat), (id.as_str(), "110000", 60));
        let me = get_json(&s, "/v1/me", &token).await;
        let devices: Vec<String> = me["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["id"].as_str())
            .map(idlink_core::medical_payment::device_digest)
            .collect();
        assert!(devices.contains(&claims.dev), "bound to the user's device: {me}");

        // The terminal's online check spends nothing: valid, and valid again.
        let check = |code: String| {
            let (s, key) = (&s, key.clone());
            async move {
                s.client()
                    .post(s.url("/v1/social-security/medical-codes/verify"))
                    .bearer_auth(&key)
                    .json(&json!({"code": code}))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        for _ in 0..2 {
            let v = ok(&s, check(code.clone()).await).await;
            assert_eq!((v["valid"].as_bool(), v["region"].as_str()), (Some(true), Some("110000")), "{v}");
        }
        // The check reads the terminal's key with the code (ADR 0034) and refuses as every API call does: a wrong
        // key first, even with a body that is not a check; then a key without the scope. An Idempotency-Key
        // changes nothing (nothing is spent, nothing kept).
        let verify = |key: String, body: Value| {
            s.client().post(s.url("/v1/social-security/medical-codes/verify")).bearer_auth(key).json(&body).send()
        };
        let wrong = format!("{key}x");
        for body in [json!({"code": code}), json!({"cod": 1})] {
            let res = verify(wrong.clone(), body).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(res.headers().contains_key("www-authenticate"), "{}: a 401 names its scheme", s.kind);
            expect_problem(res, 401, "unauthorized").await;
        }
        let p =
            expect_problem(verify(key.clone(), json!({"cod": 1})).await.unwrap_or_else(|e| panic!("{e}")), 422, "validation_failed").await;
        assert_eq!(p["errors"].as_array().map(Vec::len), Some(2), "the unknown field and the missing code: {p}");
        let res = s.authed(Method::POST, "/v1/social-security/medical-codes/verify").json(&json!({"code": code})).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 403, "insufficient_scope").await;
        for _ in 0..2 {
            let res = s
                .client()
                .post(s.url("/v1/social-security/medical-codes/verify"))
                .bearer_auth(&key)
                .header("Idempotency-Key", "check-1")
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(ok(&s, res).await["valid"], true);
        }

        // The terminal settles it; the split adds up.
        let paid = pay(&s, &code, 12_800).await;
        assert_eq!(paid["result"], "settled", "{}: {paid}", s.kind);
        let p = &paid["payment"];
        assert_eq!(p["medical_account_fen"].as_i64().unwrap_or(0) + p["pooled_fund_fen"].as_i64().unwrap_or(0), 12_800, "{p}");
        assert_eq!(p["region"], "110000");
        // The same terminal asking again for the same payment (its answer lost): the same payment, not a second one.
        let again = pay(&s, &code, 12_800).await;
        assert_eq!(again["payment"]["settlement_id"], p["settlement_id"], "{again}");
        // Shown again for another payment (a screenshot), it passes the terminal's offline check and idlink refuses it.
        let again = pay(&s, &code, 9_900).await;
        assert_eq!((again["result"].as_str(), again["status"].as_u64()), (Some("refused"), Some(409)), "{again}");
        assert_eq!(again["problem"]["code"], "medical_code_used");
        expect_problem(check(code.clone()).await, 409, "medical_code_used").await;
        // A key without the scope cannot settle.
        let body = json!({"code": code, "amount_fen": 100, "terminal_id": "t"});
        let res = s.authed(Method::POST, "/v1/social-security/medical-payments").json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "insufficient_scope").await;

        // A code shown a minute later is refused, at the counter and by idlink.
        let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
        let late = c["code"].as_str().unwrap_or("").to_owned();
        assert_ne!(late, code, "every code is new");
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 70}))).await;
        let refused = pay(&s, &late, 500).await;
        assert_eq!((refused["result"].as_str(), refused["reason"].as_str()), (Some("refused_offline"), Some("expired")), "{refused}");
        let body = json!({"code": late, "amount_fen": 500, "terminal_id": "t"});
        let res = s
            .client()
            .post(s.url("/v1/social-security/medical-payments"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 410, "medical_code_expired").await;
        // An altered code is not idlink's.
        let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
        let good = c["code"].as_str().unwrap_or("").to_owned();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let claims: Value = serde_json::from_slice(&base64_url(&parts[1])).unwrap_or_default();
        let mut forged = claims.clone();
        forged["sub"] = json!("ssb_00000000000000000000000000000000");
        parts[1] = base64_url_encode(&serde_json::to_vec(&forged).unwrap_or_default());
        let body = json!({"code": parts.join("."), "amount_fen": 500, "terminal_id": "t"});
        let res = s
            .client()
            .post(s.url("/v1/social-security/medical-payments"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(res, 422, "medical_code_invalid").await;
        assert_eq!(p["errors"][0]["code"], "bad_signature", "{p}");
        // The live code still pays.
        assert_eq!(pay(&s, &good, 300).await["result"], "settled");

        // The bureau down while a terminal settles: 503; the same terminal finishes the payment later, even after the
        // code expired, and only once; another terminal's key cannot.
        let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
        let pending = c["code"].as_str().unwrap_or("").to_owned();
        script(&s, "11", "primary", "down").await;
        script(&s, "11", "alternate", "down").await;
        let settle = |key: String, code: String| terminal_pays(&s, key, code, 4_200, "till-9");
        expect_problem(settle(key.clone(), pending.clone()).await, 503, "institution_unavailable").await;
        script(&s, "11", "primary", "ok").await;
        script(&s, "11", "alternate", "ok").await;
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 70}))).await;
        let other_key = terminal(&s).await;
        expect_problem(settle(other_key, pending.clone()).await, 410, "medical_code_expired").await;
        let done = ok(&s, settle(key.clone(), pending.clone()).await).await;
        assert_eq!(done["amount_fen"], 4_200, "{done}");
        let replay = ok(&s, settle(key.clone(), pending.clone()).await).await;
        assert_eq!(replay["settlement_id"], done["settlement_id"], "answered again, charged once");

        // The holder unbinds the card: a code issued before is refused at once, no new one is issued, the accounts have ended.
        let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
        let live = c["code"].as_str().unwrap_or("").to_owned();
        let check = |code: String| {
            let key = key.clone();
            let url = s.url("/v1/social-security/medical-codes/verify");
            async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"code": code}))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        assert_eq!(check(live.clone()).await.status().as_u16(), 200, "{}: live before", s.kind);
        let b = ok(&s, call(&s, Method::DELETE, &path(&id, ""), &token).send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(b["status"], "unbound", "{b}");
        expect_problem(check(live.clone()).await, 409, "medical_card_unusable").await;
        expect_problem(settle(key.clone(), live).await, 409, "medical_card_unusable").await;
        expect_problem(post(&s, &token, &path(&id, "/medical-code"), json!({})).await, 409, "medical_card_unusable").await;
        let res = call(&s, Method::GET, &path(&id, "/accounts"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 409, "social_security_binding_ended").await;
        let again = ok(&s, call(&s, Method::DELETE, &path(&id, ""), &token).send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert_eq!(again["status"], "unbound", "asked again, the same answer");
        // The card can be bound again.
        ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
    }
}

/// A payment a terminal began and did not finish (the bureau's answer lost,
/// or the bureau down) is decided by reconciliation after the terminal's
/// window, once the bureau answers: the bureau voids the code's settlement
/// for good or answers the one it made. The terminal asking again meanwhile
/// hears it is pending, then gets the settled payment or hears the voided
/// one was not made; a settle reaching the bureau after the void is refused.
#[tokio::test]
async fn an_unfinished_payment_is_reconciled_with_the_bureau() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true"), ("IDLINK__SOCIAL_SECURITY__RECONCILE_SECS", "1")]).await;
        let (phone, seq) = ("13700000245", "245");
        let (token, user) = adult(&s, phone, seq).await;
        let (id, _) = bind(&s, &token, phone, &id_number(phone, seq), json!(["medical_payment"])).await;
        let key = terminal(&s).await;
        let settle = |code: String| terminal_pays(&s, key.clone(), code, 5_100, "till-3");
        let jti_of = |code: &str| {
            let claims: Value = serde_json::from_slice(&base64_url(code.split('.').nth(1).unwrap_or(""))).unwrap_or_default();
            claims["jti"].as_str().unwrap_or("").to_owned()
        };
        let status_of = |jti: String| {
            let store = s.db.store.clone();
            async move {
                use idlink_core::ports::ss_bindings::MedicalCodeStore;
                store.medical_code_use(&jti).await.ok().flatten().map(|u| u.status).unwrap_or_default()
            }
        };
        let wait_for = |jti: String, want: &'static str| {
            let status_of = &status_of;
            async move {
                let mut now = String::new();
                for _ in 0..150 {
                    now = status_of(jti.clone()).await;
                    if now == want {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                now
            }
        };
        let advance = |secs: i64| sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": secs})));
        // The bureau charges but its answer is lost, on both channels: the terminal sees 503.
        let charged =
            ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await["code"].as_str().unwrap_or("").to_owned();
        script(&s, "11", "primary", "lost_answer").await;
        script(&s, "11", "alternate", "lost_answer").await;
        expect_problem(settle(charged.clone()).await, 503, "institution_unavailable").await;
        // Both channels down: the bureau charges nothing.
        let uncharged =
            ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await["code"].as_str().unwrap_or("").to_owned();
        script(&s, "11", "primary", "down").await;
        script(&s, "11", "alternate", "down").await;
        expect_problem(settle(uncharged.clone()).await, 503, "institution_unavailable").await;
        let (charged_jti, uncharged_jti) = (jti_of(&charged), jti_of(&uncharged));
        // Within the terminal's window nothing is decided for it.
        advance(300).await;
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(status_of(charged_jti.clone()).await, "settling", "{}: the terminal may still finish it", s.kind);
        // Past it, with the bureau still down: nothing is decided, and the terminal hears it is pending.
        advance(420).await;
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(status_of(charged_jti.clone()).await, "settling", "{}: a bureau that is down decides nothing", s.kind);
        let p = expect_problem(settle(charged.clone()).await, 409, "medical_payment_pending").await;
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("do not charge")), "{p}");
        // The bureau back: its record decides.
        script(&s, "11", "primary", "ok").await;
        script(&s, "11", "alternate", "ok").await;
        assert_eq!(wait_for(charged_jti.clone(), "settled").await, "settled", "{}", s.kind);
        assert_eq!(wait_for(uncharged_jti.clone(), "voided").await, "voided", "{}", s.kind);
        // The terminal asking again: the charged payment's answer; the voided one was not made.
        let paid = ok(&s, settle(charged).await).await;
        assert_eq!((paid["amount_fen"].as_i64(), paid["settlement_id"].as_str().is_some()), (Some(5_100), true), "{paid}");
        expect_problem(settle(uncharged.clone()).await, 409, "medical_payment_voided").await;

        // The void is the bureau's too: a settle with that code reaching it late (a queued request) is refused.
        let card = card_of(&s, &id_number(phone, seq)).await;
        let late = json!({"settlement_ref": uncharged_jti, "card_ref": card["card_ref"], "amount_fen": 5_100, "terminal_id": "till-3"});
        let refused = sandbox(&s, Method::POST, "/ssb/11/primary/v1/settlements", Some(late)).await;
        assert_eq!(refused["result"], "voided", "{refused}");
        let uid = idlink_domain::UserId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let records = idlink_core::ports::audit::AuditStore::audit_records_of_user(&s.db.store, &uid, 500).await.unwrap_or_default();
        for action in ["medical_code.reconciled", "medical_code.voided"] {
            assert!(records.iter().any(|r| r.entry.action == action && r.entry.actor == "ssb:11"), "{}: {action} audited", s.kind);
        }
    }
}

/// A terminal with API key `key` settles `amount` fen with `code` through idlink.
async fn terminal_pays(s: &Server, key: String, code: String, amount: i64, terminal_id: &str) -> reqwest::Response {
    let body = json!({"code": code, "amount_fen": amount, "terminal_id": terminal_id});
    s.client()
        .post(s.url("/v1/social-security/medical-payments"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap_or_default()
}

fn base64_url_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A medical code lives as configured (`social_security.medical_code_secs`), and no longer than terminals accept.
#[tokio::test]
async fn a_medical_code_lives_as_configured() {
    let db = idlink_store::testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let s = start_with(db, &[("IDLINK__SOCIAL_SECURITY__MEDICAL_CODE_SECS", "30")]).await;
    let (token, id, _) = bound(&s, "13700000242", "242", json!(["medical_payment"])).await;
    let c = ok(&s, post(&s, &token, &path(&id, "/medical-code"), json!({})).await).await;
    let expires: jiff::Timestamp = c["expires_at"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}: {c}"));
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((25..=30).contains(&left), "{left} s: {c}");
    let refused = idlink::config::load(None, [("IDLINK__SOCIAL_SECURITY__MEDICAL_CODE_SECS".to_owned(), "121".to_owned())])
        .and_then(|c| c.social_security.policy());
    assert!(refused.is_err_and(|e| e.to_string().contains("medical_code_secs")), "longer than terminals accept is refused");
}

/// A bound user with their binding, card number and phone; `features` chosen at the last step.
async fn bound(s: &Server, phone: &str, seq: &str, features: Value) -> (String, String, String) {
    let (token, _) = adult(s, phone, seq).await;
    let (id, number) = bind(s, &token, phone, &id_number(phone, seq), features).await;
    (token, id, number)
}

/// Binds the Beijing card of the verified user with `token` (their phone
/// and ID number, issued in 110105) with `features`: its id and card number.
pub(crate) async fn bind(s: &Server, token: &str, phone: &str, person: &str, features: Value) -> (String, String) {
    let number = card_of(s, person).await["card_number"].as_str().unwrap_or("").to_owned();
    let id = at_card_step(s, token).await;
    card_step(s, token, &id, &number, phone).await;
    let b = ok(s, post(s, token, &path(&id, "/bank"), json!({"reserved_phone": "13600000000"})).await).await;
    assert_eq!(b["bank_code_sent"], true);
    let code = s.last_code("13600000000").await;
    ok(s, post(s, token, &path(&id, "/bank/confirm"), json!({"code": code})).await).await;
    let a = get_json(s, "/v1/social-security/agreement", token).await;
    ok(s, post(s, token, &path(&id, "/agreement"), json!({"version": a["version"], "sha256": a["sha256"]})).await).await;
    let b = ok(s, post(s, token, &path(&id, "/features"), json!({"features": features})).await).await;
    assert_eq!(b["status"], "bound", "{b}");
    (id, number)
}

/// Balances and statements with their source and `as_of`, each only with
/// its feature; service requests of the three kinds followed through
/// their statuses (forward only), a rejection with its reason, an SMS when
/// each ends; unemployment benefits announced once by SMS, only those paid
/// since the binding.
#[tokio::test]
async fn accounts_service_requests_and_benefit_alerts_follow_the_bureau() {
    for db in databases().await {
        let s = start_with(db, &[("IDLINK__SANDBOX__DRIVE_CLOCK", "true"), ("IDLINK__SOCIAL_SECURITY__BENEFIT_CHECK_SECS", "1")]).await;
        let phone = "13700000251";
        let (token, id, number) = bound(&s, phone, "251", json!(["pension_query", "unemployment_alerts"])).await;

        // Accounts: the pension only (no medical_account feature), with where and when.
        let a = get_json(&s, &path(&id, "/accounts"), &token).await;
        assert_eq!(a["source"], "ssb:11/primary", "{a}");
        assert!(a["as_of"].as_str().is_some_and(|t| t.ends_with('Z')), "{a}");
        assert!(a["pension"]["balance_fen"].as_i64().is_some_and(|b| b > 0), "{a}");
        assert_eq!(a["pension"]["statements"].as_array().map(Vec::len), Some(12), "{a}");
        assert!(a["medical"].is_null(), "not chosen, not shown: {a}");
        // No code without the medical_payment feature.
        expect_problem(post(&s, &token, &path(&id, "/medical-code"), json!({})).await, 409, "medical_card_unusable").await;

        // Service requests: a filing to Guangdong, a transfer to the card's own province (rejected), a certification by face.
        let filing = ok(
            &s,
            post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "offsite_medical_filing", "to_region": "440305"})).await,
        )
        .await;
        assert_eq!((filing["status"].as_str(), filing["to_region"].as_str()), (Some("submitted"), Some("440000")), "{filing}");
        let transfer =
            ok(&s, post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "relation_transfer", "to_region": "110101"})).await)
                .await;
        assert_eq!((transfer["status"].as_str(), transfer["reason"].as_str()), (Some("rejected"), Some("same_region")), "{transfer}");
        let res = post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "relation_transfer", "to_region": "540102"})).await;
        expect_problem(res, 409, "social_security_region_closed").await;
        let res = post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "retirement_certification"})).await;
        expect_problem(res, 422, "validation_failed").await;
        let res = post(
            &s,
            &token,
            &path(&id, "/service-requests"),
            json!({"kind": "retirement_certification", "liveness_video": "sandbox:spoof"}),
        )
        .await;
        expect_problem(res, 422, "face_check_failed").await;
        let cert = ok(
            &s,
            post(
                &s,
                &token,
                &path(&id, "/service-requests"),
                json!({"kind": "retirement_certification", "liveness_video": "sandbox:pass"}),
            )
            .await,
        )
        .await;
        let (fid, cid) = (filing["id"].as_str().unwrap_or(""), cert["id"].as_str().unwrap_or(""));
        for (secs, status) in [(61, "accepted"), (3600, "in_progress"), (24 * 3600, "completed")] {
            sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": secs}))).await;
            let r = get_json(&s, &format!("/v1/social-security/service-requests/{fid}"), &token).await;
            assert_eq!(r["status"], status, "{}: {r}", s.kind);
        }
        let list = get_json(&s, &path(&id, "/service-requests"), &token).await;
        let statuses: Vec<&str> = list["requests"].as_array().into_iter().flatten().filter_map(|r| r["status"].as_str()).collect();
        assert_eq!(statuses, ["completed", "rejected", "completed"], "newest first: {list}");
        assert!(list["requests"][0]["id"] == cid, "{list}");
        let ended = delivered(&s, phone, "ss_service_request_ended", 2).await;
        assert_eq!(ended.len(), 2, "{}: one SMS for each request that ended after it was filed: {ended:?}", s.kind);
        let stranger = adult(&s, "13700000252", "252").await.0;
        expect_problem(
            call(&s, Method::GET, &format!("/v1/social-security/service-requests/{fid}"), &stranger)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            404,
            "social_security_binding_not_found",
        )
        .await;

        // Benefits: one arrives, the job announces it once.
        let paid =
            sandbox(&s, Method::POST, "/sandbox/v1/social-security/benefits", Some(json!({"card_number": number, "amount_fen": 187_000})))
                .await;
        assert!(paid["payment_id"].as_str().is_some(), "{paid}");
        let announced = delivered(&s, phone, "unemployment_benefit_arrived", 1).await;
        assert_eq!(announced.len(), 1, "{}: one SMS", s.kind);
        assert_eq!(announced[0]["params"]["amount_yuan"], "1870.00", "{announced:?}");
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let inbox = s.inbox(phone).await;
        let count = inbox["messages"].as_array().into_iter().flatten().filter(|m| m["template"] == "unemployment_benefit_arrived").count();
        assert_eq!(count, 1, "{}: announced once across passes", s.kind);

        // A filing whose answer was lost (the bureau down on both channels) is recorded, and filed once when it is back.
        script(&s, "11", "primary", "down").await;
        script(&s, "11", "alternate", "down").await;
        let res = post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "relation_transfer", "to_region": "310101"})).await;
        expect_problem(res, 503, "institution_unavailable").await;
        script(&s, "11", "primary", "ok").await;
        script(&s, "11", "alternate", "ok").await;
        let list = get_json(&s, &path(&id, "/service-requests"), &token).await;
        assert_eq!(
            (list["requests"][0]["kind"].as_str(), list["requests"][0]["status"].as_str()),
            (Some("relation_transfer"), Some("submitted")),
            "{list}"
        );
        let again = get_json(&s, &path(&id, "/service-requests"), &token).await;
        assert_eq!(again["requests"].as_array().map(Vec::len), Some(4), "filed once, listed once: {again}");

        // A benefit paid before the card was bound is not news; one paid after is.
        let phone2 = "13700000253";
        let (token2, _) = adult(&s, phone2, "253").await;
        let number2 = card_of(&s, &id_number(phone2, "253")).await["card_number"].as_str().unwrap_or("").to_owned();
        let id2 = at_card_step(&s, &token2).await;
        card_step(&s, &token2, &id2, &number2, phone2).await;
        sandbox(&s, Method::POST, "/sandbox/v1/social-security/benefits", Some(json!({"card_number": number2, "amount_fen": 100_000})))
            .await;
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 5}))).await;
        let b = ok(&s, post(&s, &token2, &path(&id2, "/bank"), json!({"reserved_phone": "13600000253"})).await).await;
        assert_eq!(b["bank_code_sent"], true);
        let code = s.last_code("13600000253").await;
        ok(&s, post(&s, &token2, &path(&id2, "/bank/confirm"), json!({"code": code})).await).await;
        let a = get_json(&s, "/v1/social-security/agreement", &token2).await;
        ok(&s, post(&s, &token2, &path(&id2, "/agreement"), json!({"version": a["version"], "sha256": a["sha256"]})).await).await;
        ok(&s, post(&s, &token2, &path(&id2, "/features"), json!({"features": ["unemployment_alerts"]})).await).await;
        sandbox(&s, Method::POST, "/sandbox/v1/clock/advance", Some(json!({"seconds": 5}))).await;
        sandbox(&s, Method::POST, "/sandbox/v1/social-security/benefits", Some(json!({"card_number": number2, "amount_fen": 200_000})))
            .await;
        let news = delivered(&s, phone2, "unemployment_benefit_arrived", 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let news_after = delivered(&s, phone2, "unemployment_benefit_arrived", 1).await;
        assert_eq!((news.len(), news_after.len()), (1, 1), "{}: {news_after:?}", s.kind);
        assert_eq!(news_after[0]["params"]["amount_yuan"], "2000.00");
    }
}

/// The `template` SMS in `phone`'s inbox, once there are `n` (the outbox delivers after the change), or after 15 s.
async fn delivered(s: &Server, phone: &str, template: &str, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..150 {
        let inbox = s.inbox(phone).await;
        found = inbox["messages"].as_array().into_iter().flatten().filter(|m| m["template"] == template).cloned().collect();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    found
}

/// A passport holder (SS5): verified by two reviewers, their binding goes
/// to review at entry; approved, it goes through the six steps with the
/// card the bureau holds under the passport's number.
#[tokio::test]
async fn a_passport_holder_s_binding_goes_to_review_then_binds() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        let rt = Runtime::default();
        let (alice, bob) = (operator(&s, &rt, "alice", &[Role::Reviewer]).await, operator(&s, &rt, "bob", &[Role::Reviewer]).await);
        let phone = "13700000261";
        let token = crate::cards::session(&s, phone).await;
        crate::consents::give_all(&s, &token).await;
        let body = json!({"name": "Smith John", "document_type": "passport", "document_number": "E12345678", "birth_date": "1990-05-17"});
        let started: Value = call(&s, Method::POST, "/v1/me/verifications", &token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let vid = started["id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(phone).await;
        let submit = json!({"challenge_id": started["phone_check"]["challenge_id"], "code": code, "liveness_video": "sandbox:pass"});
        ok(&s, post(&s, &token, &format!("/v1/me/verifications/{vid}/submit"), submit).await).await;
        let case = open_cases(&s, &alice, "?kind=verification").await.into_iter().find(|c| c["reference"] == vid.as_str());
        let case = case.unwrap_or_else(|| panic!("{}: the verification case", s.kind))["id"].as_str().unwrap_or("").to_owned();
        decide(&s, &alice, &case, "approve").await;
        decide(&s, &bob, &case, "approve").await;
        crate::consents::give_all(&s, &token).await;

        // Entry: the binding opens frozen, under review.
        let b = ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "440305"})).await).await;
        assert_eq!((b["status"].as_str(), b["risk_reason"].as_str()), (Some("frozen"), Some("foreign_document")), "{b}");
        let id = b["id"].as_str().unwrap_or("").to_owned();
        expect_problem(
            post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:pass"})).await,
            409,
            "social_security_binding_frozen",
        )
        .await;
        let case = open_cases(&s, &alice, "?kind=card_risk").await.into_iter().find(|c| c["reference"] == id.as_str());
        let case = case.unwrap_or_else(|| panic!("{}: the binding's review", s.kind))["id"].as_str().unwrap_or("").to_owned();
        // Its entry and its freeze are both on the record, written with the binding.
        let row = s.db.store.ss_binding(&id).await.ok().flatten().unwrap_or_else(|| panic!("{}: stored", s.kind));
        let records =
            idlink_core::ports::audit::AuditStore::audit_records_of_user(&s.db.store, &row.user_id, 500).await.unwrap_or_default();
        for action in ["ss_binding.entry", "ss_binding.frozen"] {
            assert!(records.iter().any(|r| r.entry.action == action), "{}: {action} audited", s.kind);
        }
        assert_eq!(decide(&s, &alice, &case, "approve").await.status().as_u16(), 200);

        // Approved: the six steps, with the card Guangdong's bureau holds under the passport.
        ok(&s, post(&s, &token, &path(&id, "/identity/face"), json!({"liveness_video": "sandbox:pass"})).await).await;
        let printed = sandbox(&s, Method::GET, "/sandbox/v1/social-security/cards/E12345678?province=44", None).await;
        let number = printed["card_number"].as_str().unwrap_or("").to_owned();
        let b = card_step(&s, &token, &id, &number, phone).await;
        assert_eq!((b["step"].as_str(), b["card"]["region"].as_str()), (Some("bank"), Some("440000")), "{b}");
        assert_eq!(finish(&s, &token, &id, "13600000261").await["status"], "bound");
    }
}

/// Binding on behalf of a relative (SS5): a verified adult binds an
/// elder's card; the elder consents with their own SMS code and receives
/// the bureau's code; the relative's role is recorded and limited (the
/// binding's steps and status, not the accounts, codes or services); the
/// elder ends it, and the relative sees the binding no more.
#[tokio::test]
async fn a_relative_binds_an_elder_s_card_with_the_elder_s_consent_and_the_elder_ends_it() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        let elder_phone = "13700000271";
        let (elder, elder_user) = adult(&s, elder_phone, "271").await;
        let (son, son_user) = adult(&s, "13700000272", "272").await;
        let number = card_of(&s, &id_number(elder_phone, "271")).await["card_number"].as_str().unwrap_or("").to_owned();

        let res = post(&s, &son, "/v1/social-security/bindings", json!({"area_code": "110105", "on_behalf_of_phone": "13799999999"})).await;
        expect_problem(res, 404, "social_security_holder_unknown").await;
        let res = post(&s, &son, "/v1/social-security/bindings", json!({"area_code": "110105", "on_behalf_of_phone": "13700000272"})).await;
        expect_problem(res, 404, "social_security_holder_unknown").await;
        let b =
            ok(&s, post(&s, &son, "/v1/social-security/bindings", json!({"area_code": "110105", "on_behalf_of_phone": elder_phone})).await)
                .await;
        assert_eq!((b["acting_as"].as_str(), b["agent"]["role"].as_str()), (Some("relative"), Some("relative")), "{b}");
        let id = b["id"].as_str().unwrap_or("").to_owned();

        // The elder's consent: the SMS code to the elder's own phone, typed on the relative's device.
        let c: Value = post(&s, &son, &path(&id, "/identity/sms"), json!({})).await.json().await.unwrap_or_default();
        let challenge = c["challenge_id"].as_str().unwrap_or_else(|| panic!("{}: {c}", s.kind)).to_owned();
        let code = s.last_code(elder_phone).await;
        // With the code, idlink tells the elder who asks for it and why.
        let asked = delivered(&s, elder_phone, "ss_consent_code_requested", 1).await;
        assert_eq!(asked.first().map(|m| m["params"]["relative"].clone()), Some(json!("137****0272")), "{}: {asked:?}", s.kind);
        let b = ok(&s, post(&s, &son, &path(&id, "/identity/sms/confirm"), json!({"challenge_id": challenge, "code": code})).await).await;
        assert_eq!((b["step"].as_str(), b["identity_method"].as_str()), (Some("card"), Some("sms")), "{b}");
        // The bureau's code goes to the elder too.
        card_step(&s, &son, &id, &number, elder_phone).await;
        let b = finish(&s, &son, &id, "13600000271").await;
        assert_eq!(b["status"], "bound", "{b}");

        // The elder heard of it from idlink, with the relative's phone (masked), when it started and when it was bound.
        let started = delivered(&s, elder_phone, "ss_binding_started_by_relative", 1).await;
        assert_eq!(started.first().map(|m| m["params"]["relative"].clone()), Some(json!("137****0272")), "{}: {started:?}", s.kind);
        assert_eq!(delivered(&s, elder_phone, "ss_binding_bound_by_relative", 1).await.len(), 1, "{}", s.kind);

        // The relative's part is limited: no accounts, no code, no service requests.
        expect_problem(
            call(&s, Method::GET, &path(&id, "/accounts"), &son).send().await.unwrap_or_else(|e| panic!("{e}")),
            404,
            "social_security_binding_not_found",
        )
        .await;
        expect_problem(post(&s, &son, &path(&id, "/medical-code"), json!({})).await, 404, "social_security_binding_not_found").await;
        let res = post(&s, &son, &path(&id, "/service-requests"), json!({"kind": "offsite_medical_filing", "to_region": "440305"})).await;
        expect_problem(res, 404, "social_security_binding_not_found").await;
        // The elder holds it: it is in their list, with the relative's part, and the code is theirs.
        let mine = get_json(&s, "/v1/social-security/bindings", &elder).await;
        let b = &mine["bindings"][0];
        assert_eq!(b["agent"]["phone"], "137****0272", "{}: the holder sees who takes part: {b}", s.kind);
        // And on the holder's page.
        let mut page = crate::h5::FormClient::new(&s);
        page.cookies.insert("idlink_session".to_owned(), elder.clone());
        let html = page.get(&format!("/h5/social-security/{id}")).await.text().await.unwrap_or_default();
        assert!(html.contains("您的亲属 137****0272 正在为您绑定此卡"), "{}: the page names the relative", s.kind);
        assert_eq!(
            (b["id"].as_str(), b["acting_as"].as_str(), b["agent"]["ended_at"].is_null()),
            (Some(id.as_str()), Some("holder"), true),
            "{mine}"
        );
        ok(&s, post(&s, &elder, &path(&id, "/medical-code"), json!({})).await).await;
        let theirs = get_json(&s, "/v1/social-security/bindings", &son).await;
        assert_eq!(theirs["bindings"][0]["id"], id.as_str(), "{theirs}");
        assert!(theirs["bindings"][0]["agent"]["phone"].is_null(), "the relative's view: {theirs}");

        // Starting bindings for relatives is capped (each sends the holder an SMS): three a day, refused ones included.
        let res = post(&s, &son, "/v1/social-security/bindings", json!({"area_code": "110105", "on_behalf_of_phone": elder_phone})).await;
        expect_problem(res, 429, "social_security_on_behalf_limit").await;

        // The card is the elder's to unbind, not the relative's.
        expect_problem(
            call(&s, Method::DELETE, &path(&id, ""), &son).send().await.unwrap_or_else(|e| panic!("{e}")),
            403,
            "social_security_holder_only",
        )
        .await;

        // The elder ends it: the relative no longer sees the binding.
        expect_problem(
            call(&s, Method::DELETE, &path(&id, "/agent"), &son).send().await.unwrap_or_else(|e| panic!("{e}")),
            404,
            "social_security_binding_not_found",
        )
        .await;
        let b = ok(&s, call(&s, Method::DELETE, &path(&id, "/agent"), &elder).send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        assert!(b["agent"]["ended_at"].as_str().is_some(), "{b}");
        expect_problem(
            call(&s, Method::GET, &path(&id, ""), &son).send().await.unwrap_or_else(|e| panic!("{e}")),
            404,
            "social_security_binding_not_found",
        )
        .await;
        assert_eq!(get_json(&s, "/v1/social-security/bindings", &son).await["bindings"], json!([]));

        // Every step is on the elder's record, done by the relative.
        let uid = idlink_domain::UserId::parse(&elder_user).unwrap_or_else(|e| panic!("{e}"));
        let records = idlink_core::ports::audit::AuditStore::audit_records_of_user(&s.db.store, &uid, 500).await.unwrap_or_default();
        let by_son: Vec<&str> =
            records.iter().filter(|r| r.entry.actor == format!("user:{son_user}")).map(|r| r.entry.action.as_str()).collect();
        for action in ["ss_binding.entry_on_behalf", "ss_binding.identity", "ss_binding.card", "ss_binding.bound"] {
            assert!(by_son.contains(&action), "{}: {action} by the relative on the elder's record: {by_son:?}", s.kind);
        }
        assert!(records.iter().any(|r| r.entry.action == "ss_binding.agent_ended" && r.entry.actor == format!("user:{elder_user}")));
    }
}

/// Withdraws the session user's consent of `kind` (issue 18).
async fn withdraw(s: &Server, token: &str, kind: &str) {
    let res = call(s, Method::DELETE, &format!("/v1/me/consents/{kind}"), token).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204, "{kind} withdrawn");
}

/// Issue 18: each step of one's own binding needs the consents it
/// processes at the time it is taken (the face at the identity step, the
/// social-security records at every step), and a bound card's accounts and
/// service requests stop once the social-security consent is withdrawn.
#[tokio::test]
async fn each_step_and_service_of_one_s_own_card_stops_when_its_consent_is_withdrawn() {
    for db in databases().await {
        let s = start_with(db, &[]).await;
        let kind = s.kind;
        let phone = "13700000271";
        let (token, _) = adult(&s, phone, "271").await;
        let b = ok(&s, post(&s, &token, "/v1/social-security/bindings", json!({"area_code": "110105"})).await).await;
        let id = b["id"].as_str().unwrap_or("").to_owned();

        // The face consent withdrawn: the face check is not made, and the answer says which consent.
        withdraw(&s, &token, "face").await;
        let face = json!({"liveness_video": "sandbox:pass"});
        let p = expect_problem(post(&s, &token, &path(&id, "/identity/face"), face.clone()).await, 403, "consent_required").await;
        assert_eq!((p["errors"][0]["code"].as_str(), p["errors"][0]["detail"].as_str()), (Some("withdrawn"), Some("face")), "{kind}: {p}");
        crate::consents::give_all(&s, &token).await;
        let b = ok(&s, post(&s, &token, &path(&id, "/identity/face"), face).await).await;
        assert_eq!(b["step"], "card", "{kind}: {b}");

        // The social-security consent withdrawn half-way: the next step waits for it, and the binding with it.
        withdraw(&s, &token, "social_security").await;
        let number = card_of(&s, &id_number(phone, "271")).await["card_number"].as_str().unwrap_or("").to_owned();
        let p = expect_problem(post(&s, &token, &path(&id, "/card"), json!({"card_number": number})).await, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["detail"], "social_security", "{kind}: {p}");
        // What is kept stays in view: seeing one's own data is not processing it anew.
        let view = get_json(&s, &path(&id, ""), &token).await;
        assert_eq!(view["step"], "card", "{kind}: {view}");
        crate::consents::give_all(&s, &token).await;
        assert_eq!(card_step(&s, &token, &id, &number, phone).await["step"], "bank", "{kind}: resumed where it stopped");

        // A bound card: its accounts and service requests stop with the consent.
        let other = "13700000272";
        let (token, id, _) = bound(&s, other, "272", json!(["pension_query"])).await;
        ok(&s, post(&s, &token, &path(&id, "/service-requests"), json!({"kind": "offsite_medical_filing", "to_region": "440305"})).await)
            .await;
        withdraw(&s, &token, "social_security").await;
        let filing = json!({"kind": "offsite_medical_filing", "to_region": "440305"});
        expect_problem(post(&s, &token, &path(&id, "/service-requests"), filing).await, 403, "consent_required").await;
        let list = call(&s, Method::GET, &path(&id, "/service-requests"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(list, 403, "consent_required").await;
        let accounts = call(&s, Method::GET, &path(&id, "/accounts"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(accounts, 403, "consent_required").await;
        let caps = get_json(&s, "/v1/me/capabilities", &token).await;
        assert!(caps["restricted"].as_array().is_some_and(|r| r.iter().any(|c| c == "social_security_card")), "{kind}: {caps}");
        // The card rests on the real name too: the ID-number consent withdrawn stops it as well.
        crate::consents::give_all(&s, &token).await;
        ok(&s, call(&s, Method::GET, &path(&id, "/accounts"), &token).send().await.unwrap_or_else(|e| panic!("{e}"))).await;
        withdraw(&s, &token, "id_number").await;
        let accounts = call(&s, Method::GET, &path(&id, "/accounts"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        let p = expect_problem(accounts, 403, "consent_required").await;
        assert_eq!(p["errors"][0]["detail"], "id_number", "{kind}: {p}");
        let filing = json!({"kind": "offsite_medical_filing", "to_region": "440305"});
        expect_problem(post(&s, &token, &path(&id, "/service-requests"), filing).await, 403, "consent_required").await;
    }
}
