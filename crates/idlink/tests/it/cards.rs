//! Binding bank cards over HTTP (SPEC BK1), on both databases.

use crate::reviews::verify_resident;
use crate::{Server, expect_problem, servers};
use reqwest::Method;
use serde_json::{Value, json};

async fn session(s: &Server, phone: &str) -> String {
    crate::login::login_ok(s, phone, "d").await["session_token"].as_str().unwrap_or("").to_owned()
}

fn call(s: &Server, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.authed(method, path).header("idlink-session", token)
}

async fn bind(s: &Server, token: &str, card: &str, phone: &str) -> reqwest::Response {
    call(s, Method::POST, "/v1/me/cards", token)
        .json(&json!({"card_number": card, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn confirm(s: &Server, token: &str, id: &str, code: &str) -> reqwest::Response {
    call(s, Method::POST, &format!("/v1/me/cards/{id}/confirm"), token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_card_is_bound_after_the_bank_confirms_it_and_its_code() {
    for s in servers().await {
        let banks: Value = reqwest::get(format!("{}/sandbox/v1/banks", s.sandbox))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let icbc = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == "ICBC")).cloned().unwrap_or_default();
        let card = icbc["cards"][0].clone();
        let (number, holder, holder_id, phone) = (
            card["number"].as_str().unwrap_or("").to_owned(),
            card["holder_name"].as_str().unwrap_or("").to_owned(),
            card["holder_id_number"].as_str().unwrap_or("").to_owned(),
            card["reserved_phone"].as_str().unwrap_or("").to_owned(),
        );
        let token = session(&s, &phone).await;

        // Only a verified user binds cards.
        expect_problem(bind(&s, &token, &number, &phone).await, 404, "identity_not_verified").await;
        verify_resident(&s, &token, &phone, &holder, &holder_id).await;

        // The bank checks the reserved phone.
        let p = expect_problem(bind(&s, &token, &number, "13912340000").await, 422, "bank_card_check_failed").await;
        assert_eq!(p["errors"][0]["code"], "reserved_phone_mismatch", "{p}");

        let res = bind(&s, &token, &number, &phone).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        let pending: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            (pending["status"].as_str(), pending["bank"].as_str(), pending["last4"].as_str()),
            (Some("pending_sms"), Some("ICBC"), Some(&number[number.len() - 4..]))
        );
        let id = pending["id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(&phone).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        expect_problem(confirm(&s, &token, &id, wrong).await, 422, "bank_code_wrong").await;
        let res = confirm(&s, &token, &id, &code).await;
        assert_eq!(res.status().as_u16(), 200);
        let bound: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            (bound["status"].as_str(), bound["risk"].as_str(), bound["bank_name"].as_str()),
            (Some("active"), Some("allow"), Some("中国工商银行")),
            "{bound}"
        );
        expect_problem(confirm(&s, &token, &id, &code).await, 409, "card_binding_not_pending").await;
        expect_problem(bind(&s, &token, &number, &phone).await, 409, "card_already_bound").await;

        let list: Value =
            call(&s, Method::GET, "/v1/me/cards", &token).send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        assert_eq!(list["cards"].as_array().map(Vec::len), Some(1));
        assert!(!list.to_string().contains(&number), "the card number is never shown whole");

        let res = call(&s, Method::DELETE, &format!("/v1/me/cards/{id}"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        let list: Value =
            call(&s, Method::GET, "/v1/me/cards", &token).send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        assert_eq!(list["cards"], json!([]));
    }
}

/// The same card bound on a second account raises the risk signal (step-up by default).
#[tokio::test]
async fn the_same_card_on_two_accounts_is_a_risk_signal() {
    for s in servers().await {
        let card = crate::identity::icbc_card("4321");
        let mut risks = Vec::new();
        for (phone, name, id) in [("13822220001", "郑一", "11010519800101111X"), ("13822220002", "郑二", "110105198001012222")] {
            let token = session(&s, phone).await;
            let id = {
                let body = &id[..17];
                let mut f = [0u8; 17];
                f.copy_from_slice(body.as_bytes());
                format!("{body}{}", idlink_domain::idnumber::check_character(&f))
            };
            verify_resident(&s, &token, phone, name, &id).await;
            let pending: Value = bind(&s, &token, &card, phone).await.json().await.unwrap_or_default();
            let code = s.last_code(phone).await;
            let bound: Value = confirm(&s, &token, pending["id"].as_str().unwrap_or(""), &code).await.json().await.unwrap_or_default();
            risks.push(bound["risk"].as_str().unwrap_or("").to_owned());
        }
        assert_eq!(risks, ["allow", "step_up"], "{}", s.kind);
    }
}
