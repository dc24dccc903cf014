//! Every page a signed-in user can open, checked the same way: tap targets
//! of 44 px, then in elder mode (text, line height, key actions and tap
//! targets of 60 px measured in the browser, no sideways scrolling at 200 %
//! text), with axe-core, and under
//! the weight budget (HTML + CSS + htmx under 60 KB compressed).
//! The user is verified and has a bound bank card and social-security card,
//! so the card pages have one, and holds something in every host store, so
//! the revocation page lists blockers.

use super::{Browser, FormClient};
use crate::Server;
use reqwest::Method;
use serde_json::{Value, json};

/// The pages, `{card}` standing for the user's binding id, `{ss}` for their
/// social-security card binding and `{azr}` for an app's sign-in request
/// waiting for the user's consent.
const PAGES: [&str; 27] = [
    "/h5/",
    "/h5/identity",
    "/h5/identity/verify/face",
    "/h5/identity/verify/card",
    "/h5/identity/verify/document",
    "/h5/guardians",
    "/h5/capabilities",
    "/h5/security",
    "/h5/security/reset",
    "/h5/security/verify",
    "/h5/devices",
    "/h5/cards",
    "/h5/cards/bind",
    "/h5/cards/{card}",
    "/h5/cards/{card}/balance",
    "/h5/cards/history",
    "/h5/credit",
    "/h5/social-security",
    "/h5/social-security/{ss}",
    "/h5/social-security/{ss}/accounts",
    "/h5/social-security/{ss}/services",
    "/h5/social-security/{ss}/code",
    "/h5/social-security/{ss}/unbind",
    "/h5/access-log",
    "/h5/apps",
    "/h5/revocation",
    "/h5/authorize/{azr}",
];

/// An app's sign-in request asking for the phone number and the verified
/// identity with a purpose (every section of the consent page): its page's path.
pub(super) async fn consent_request(s: &Server) -> String {
    use idlink_core::ports::audit::AuditEntry;
    use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientState, ClientStore};
    let now = jiff::Timestamp::now();
    let id = idlink_domain::ClientId::try_from("cli_everypageconsent000000000".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let client = ClientRow {
        id: id.clone(),
        name: "城市出行".into(),
        logo_url: None,
        kind: ClientKind::Public,
        auth_method: AuthMethod::None,
        jwks: None,
        redirect_uris: vec!["https://rp.example/cb".into()],
        allowed_scopes: ["openid", "phone", "identity"].map(str::to_owned).to_vec(),
        allowed_claims: ["name", "birthdate", "phone_number"].map(str::to_owned).to_vec(),
        id_token_alg: idlink_crypto::jose::JwsAlg::Es256,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: now,
        updated_at: now,
    };
    // Once per server: a second call finds the app registered.
    let _ = s.db.store.insert_client(&client, None, &AuditEntry::new("cli", "oauth.client_create", "test", now)).await;
    let claims = json!({"userinfo": {"verified_claims": {"purpose": "乘车实名核验", "claims": {"name": null}}}});
    let url = idlink_core::oidc::provider::with_query(
        &s.url("/oauth2/authorize"),
        &[
            ("client_id", id.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("response_type", "code"),
            ("scope", "openid phone identity"),
            ("claims", &claims.to_string()),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ],
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
    let res = http.get(url).send().await.unwrap_or_else(|e| panic!("{e}"));
    let to = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(to.starts_with("/h5/authorize/azr_"), "a pending sign-in request: {to}");
    to
}

/// A verified user with a bound ICBC card, a payment password and balance
/// queries on, through
/// the API; the browser's
/// own session is the one set up.
pub(super) async fn verified_with_card(s: &Server, token: &str, phone: &str, id_number: &str) -> String {
    crate::reviews::verify_resident(s, token, phone, "钱芳", id_number).await;
    // A card of its own per user (one card on two accounts is a risk signal).
    let card = crate::identity::icbc_card(&phone[phone.len() - 4..]);
    let res = s
        .authed(Method::POST, "/v1/me/cards")
        .header("idlink-session", token)
        .json(&json!({"card_number": card, "reserved_phone": phone}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pending: Value = res.json().await.unwrap_or_default();
    let binding = pending["id"].as_str().unwrap_or_else(|| panic!("a pending binding: {pending}")).to_owned();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::POST, &format!("/v1/me/cards/{binding}/confirm"))
        .header("idlink-session", token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "the card is bound: {}", res.status());
    let res = s
        .authed(Method::POST, "/v1/me/sms-challenges")
        .header("idlink-session", token)
        .json(&json!({"purpose": "payment_password"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let challenge: Value = res.json().await.unwrap_or_default();
    let code = s.last_code(phone).await;
    let res = s
        .authed(Method::PUT, "/v1/me/payment-password")
        .header("idlink-session", token)
        .json(&json!({"password": "246801", "challenge_id": challenge["challenge_id"], "code": code}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204, "the payment password is set");
    let res = s
        .authed(Method::PUT, "/v1/me/features/balance-query")
        .header("idlink-session", token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 204, "balance queries are on");
    binding
}

/// The visible tap targets smaller than `min` px either way (a radio button
/// or checkbox counts with its label, the target a finger hits).
pub(super) async fn small_targets(b: &Browser, min: f64) -> Vec<String> {
    let targets = b
        .client
        .execute(
            "return [...document.querySelectorAll('button, a, input:not([type=hidden]), select')]\
               .filter(e => e.offsetParent !== null && !e.classList.contains('skip') && e.type !== 'radio' && e.type !== 'checkbox')\
               .map(e => { const b = e.getBoundingClientRect(); return [e.outerHTML.slice(0, 80), b.width, b.height]; });",
            vec![],
        )
        .await
        .unwrap_or_default();
    targets
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t[1].as_f64().unwrap_or(0.0) < min || t[2].as_f64().unwrap_or(0.0) < min)
        .map(|t| t.to_string())
        .collect()
}

/// Elder-mode measures of the page shown now.
pub(super) async fn elder_measures(b: &Browser, page: &str, faults: &mut Vec<String>) {
    let m = b
        .client
        .execute(
            "const px = v => parseFloat(v);\
             const body = getComputedStyle(document.body);\
             const texts = [...document.querySelectorAll('main p, main li, main dd, main label')].filter(e => e.offsetParent !== null)\
               .map(e => [e.tagName, px(getComputedStyle(e).fontSize)]);\
             const keys = [...document.querySelectorAll('main button[type=submit], main .button')].filter(e => e.offsetParent !== null)\
               .map(e => [e.outerHTML.slice(0, 60), px(getComputedStyle(e).fontSize)]);\
             return { body: px(body.fontSize), line: px(body.lineHeight) / px(body.fontSize), texts, keys };",
            vec![],
        )
        .await
        .unwrap_or_default();
    let mut check = |ok: bool, what: String| {
        if !ok {
            faults.push(format!("{page}: {what}"));
        }
    };
    check(m["body"].as_f64().unwrap_or(0.0) >= 18.0, format!("body text ≥ 18 px: {}", m["body"]));
    check(m["line"].as_f64().unwrap_or(0.0) >= 1.3, format!("line height ≥ 1.3: {}", m["line"]));
    for t in m["texts"].as_array().cloned().unwrap_or_default() {
        check(t[1].as_f64().unwrap_or(0.0) >= 18.0, format!("text ≥ 18 px: {t}"));
    }
    for k in m["keys"].as_array().cloned().unwrap_or_default() {
        check(k[1].as_f64().unwrap_or(0.0) >= 30.0, format!("key action text ≥ 30 px: {k}"));
    }
    for t in small_targets(b, 60.0).await {
        check(false, format!("tap target ≥ 60 × 60 px: {t}"));
    }
    let overflow = b
        .client
        .execute(
            "document.documentElement.style.fontSize = '200%';\
             const o = document.documentElement.scrollWidth - document.documentElement.clientWidth;\
             document.documentElement.style.fontSize = '';\
             return o;",
            vec![],
        )
        .await
        .unwrap_or_default();
    check(overflow.as_f64().unwrap_or(1.0) <= 0.0, format!("no sideways scrolling at 200 % text: {overflow} px"));
}

#[tokio::test]
async fn every_page_is_large_enough_in_elder_mode_accessible_and_light() {
    let s = crate::sqlite_server().await;
    let phone = "13700002468";
    let b = Browser::open(true).await;
    super::log_in(&b, &s, phone).await;
    let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    let card = verified_with_card(&s, &token, phone, "110105199001010029").await;
    let features = json!(["medical_payment", "pension_query", "medical_account", "unemployment_alerts"]);
    let (ss, _) = crate::social_security::bind(&s, &token, phone, "110105199001010029", features).await;
    // The revocation page lists a blocker of every host store.
    let user = crate::cards::get_json(&s, "/v1/me", &token).await["user_id"].as_str().unwrap_or("").to_owned();
    crate::revocation::holdings(&s, &user, crate::revocation::everything()).await;
    let consent = consent_request(&s).await;
    let azr = consent.trim_start_matches("/h5/authorize/").to_owned();
    let fill = |page: &str| page.replace("{card}", &card).replace("{ss}", &ss).replace("{azr}", &azr);
    let mut faults = Vec::new();
    for page in PAGES {
        b.goto(&s.url(&fill(page))).await;
        for t in small_targets(&b, 44.0).await {
            faults.push(format!("{page}: tap target ≥ 44 × 44 px: {t}"));
        }
    }
    b.goto(&s.url("/h5/")).await;
    b.click("button[name=elder][value='1']").await;
    for page in PAGES {
        let path = fill(page);
        b.goto(&s.url(&path)).await;
        assert_eq!(b.path().await, path, "{page} opens for a verified user with a card");
        assert!(b.has("body.elder").await, "{page}: elder mode is remembered");
        b.assert_accessible(&format!("{page} in elder mode")).await;
        elder_measures(&b, page, &mut faults).await;
    }
    b.close().await;
    assert!(faults.is_empty(), "elder mode falls short:\n{}", faults.join("\n"));

    // The weight budget, for each page as served to this user.
    let mut c = FormClient::new(&s);
    c.cookies.insert("idlink_session".to_owned(), token);
    let mut assets = 0;
    for asset in ["/h5/assets/h5.css", "/h5/assets/htmx.min.js"] {
        assets += super::gzip_len(&c.get(asset).await.bytes().await.unwrap_or_default());
    }
    for page in PAGES {
        let res = c.get(&fill(page)).await;
        assert_eq!(res.status().as_u16(), 200, "{page}");
        let total = super::gzip_len(&res.bytes().await.unwrap_or_default()) + assets;
        assert!(total < 60 * 1024, "{page}: {total} bytes compressed with its CSS and htmx");
    }
}
