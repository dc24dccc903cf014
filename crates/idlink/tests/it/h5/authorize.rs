//! The consent page in a browser (SPEC TP1; PIPL art. 29): an app's request
//! started on another site (`localhost` vs `127.0.0.1`) reaches a signed-in
//! user (the self-reloading step for the withheld SameSite=Strict cookie),
//! the page lists exactly the claims asked for, the verified identity under
//! its own section (here: the user is not verified, so the page says the app
//! will not receive it), passes axe in three languages, and Deny sends the
//! user back to the app with `error=access_denied`.

use super::{Browser, log_in};
use idlink_core::oidc::secret_hash;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore};
use idlink_crypto::jose::JwsAlg;

#[tokio::test]
async fn the_consent_page_lists_what_the_app_asked_for_and_deny_goes_back_to_the_app() {
    let s = crate::sqlite_server().await;
    // The app's callback is a page of this server on another site name, so the browser can land there.
    let port = s.base.rsplit(':').next().unwrap_or("").to_owned();
    let callback = format!("http://localhost:{port}/h5/assets/h5.css");
    let now = jiff::Timestamp::now();
    let id = idlink_domain::ClientId::try_from("cli_browserconsent0000000000".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let client = ClientRow {
        id: id.clone(),
        name: "Demo Shop".into(),
        logo_url: None,
        kind: ClientKind::Confidential,
        auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        redirect_uris: vec![callback.clone()],
        allowed_scopes: ["openid", "phone", "identity"].map(str::to_owned).to_vec(),
        allowed_claims: ["name", "birthdate", "phone_number"].map(str::to_owned).to_vec(),
        id_token_alg: JwsAlg::Es256,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: now,
        updated_at: now,
    };
    let secret = ClientSecretRow {
        id: "sec_browser".into(),
        client_id: id.clone(),
        secret_hash: secret_hash("ics_x"),
        created_at: now,
        expires_at: None,
    };
    s.db.store
        .insert_client(&client, Some(&secret), &AuditEntry::new("cli", "oauth.client_create", "test", now))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let b = Browser::open(true).await;
    log_in(&b, &s, "13912340041").await;
    // The app's page is on localhost; it sends the browser to idlink on 127.0.0.1 (another site).
    let authorize = format!(
        "{}/oauth2/authorize?client_id={id}&redirect_uri={}&response_type=code&scope=openid%20phone%20identity&state=xyz\
         &code_challenge=E9Melhoa2OwvFQEMTJgB8KuXcPLalG2UkQXrD2wEbg8&code_challenge_method=S256",
        s.base,
        callback.replace(':', "%3A").replace('/', "%2F")
    );
    b.goto(&format!("http://localhost:{port}/h5/login")).await;
    b.client.execute("window.location.href = arguments[0];", vec![serde_json::json!(authorize)]).await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..50 {
        if b.has("#ordinary-claims").await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(b.path().await.starts_with("/h5/authorize/azr_"), "{}", b.path().await);
    let ordinary = b.text("#ordinary-claims").await;
    assert!(ordinary.contains("手机号") && ordinary.contains("用户标识"), "{ordinary}");
    assert!(!ordinary.contains("实名"), "the verified identity is not among the ordinary claims: {ordinary}");
    assert!(b.has("#sensitive").await, "the verified identity has its own section");
    assert!(b.has("#not-verified").await && !b.has("#sensitive-consent").await, "an unverified user is told, and asked nothing");
    b.assert_accessible("consent (zh-CN)").await;
    for (lang, allow) in [("zh-HK", "允許"), ("en", "Allow")] {
        b.click(&format!("button[name=lang][value={lang}]")).await;
        assert_eq!(b.attr("html", "lang").await.as_deref(), Some(lang));
        assert_eq!(b.text("#allow").await, allow);
        b.assert_accessible(&format!("consent ({lang})")).await;
    }
    b.click("#deny").await;
    let mut url = String::new();
    for _ in 0..50 {
        url = b.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        if url.starts_with(&callback) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(url.starts_with(&callback) && url.contains("error=access_denied") && url.contains("state=xyz"), "{url}");
    b.close().await;
}
