//! Third-party apps and the grants users gave them, over HTTP (SPEC TP1,
//! TP2; issue 14 items 1 and 5): registration checks, secrets shown once and
//! stored only hashed or sealed, rotation with an overlap, and revocation by
//! the user and by the host backend, which ends the grant's tokens in the
//! same transaction as its lifecycle event.

use crate::login::{login_ok, me};
use crate::{Server, databases, expect_problem, servers, start_full, start_with};
use idlink::serve::Runtime;
use idlink_core::oidc::secret_hash;
use idlink_core::ports::clients::ClientStore;
use idlink_core::ports::clock::ManualClock;
use idlink_domain::{ClientId, GrantId};
use idlink_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

/// An API key of the host backend with the app and grant scopes.
pub async fn apps_key(s: &Server) -> String {
    let running = s.running.as_ref().unwrap_or_else(|| panic!("running"));
    let scopes: Vec<String> = ["clients:read", "clients:write", "grants:read", "grants:write"].iter().map(|x| (*x).to_owned()).collect();
    let (_, token) = idlink_core::apikeys::create(
        &running.store,
        &idlink_core::ports::ids::RandomIds(Arc::new(idlink_crypto::OsRandom)),
        running.clock.as_ref(),
        "apps",
        &scopes,
        "test",
    )
    .await
    .unwrap_or_else(|e| panic!("api key: {e}"));
    token
}

fn call(s: &Server, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    s.client().request(method, s.url(path)).bearer_auth(key)
}

/// Registers a confidential app and answers the registration's body.
pub async fn register(s: &Server, key: &str, name: &str) -> Value {
    let res = call(s, key, Method::POST, "/v1/oauth/clients")
        .json(&json!({
            "name": name,
            "redirect_uris": ["https://rp.example.com/callback", "http://127.0.0.1:7000/cb"],
            "scopes": ["openid", "identity"],
            "claims": ["name", "birthdate", "verified_claims"],
            "webhook_url": "https://rp.example.com/hooks",
            "webhook_event_types": ["grant.revoked"],
        }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
    res.json().await.unwrap_or_default()
}

fn store(s: &Server) -> &idlink_store::SqlStore {
    &s.running.as_ref().unwrap_or_else(|| panic!("running")).store
}

async fn sql(s: &Server, q: &str) {
    testing::execute(store(s), q).await.unwrap_or_else(|e| panic!("{}: {q}: {e}", s.kind));
}

async fn text(s: &Server, q: &str) -> String {
    testing::query_text(store(s), q).await.unwrap_or_else(|e| panic!("{}: {q}: {e}", s.kind))
}

#[tokio::test]
async fn registration_checks_the_metadata_and_shows_each_secret_once() {
    for s in servers().await {
        let key = apps_key(&s).await;
        // The default test key has no app scopes.
        let res = s.authed(Method::GET, "/v1/oauth/clients").send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "insufficient_scope").await;

        let bad = call(&s, &key, Method::POST, "/v1/oauth/clients")
            .json(&json!({
                "name": "Bad",
                "redirect_uris": ["http://rp.example.com/cb", "https://rp.example.com/cb#frag", "/relative"],
                "scopes": ["openid", "email"],
                "claims": ["name", "id_number"],
                "kind": "public",
                "token_endpoint_auth_method": "client_secret_basic",
                "logo_url": "http://rp.example.com/logo.png",
            }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body = expect_problem(bad, 422, "client_metadata_invalid").await;
        let pointers: Vec<&str> = body["errors"].as_array().into_iter().flatten().filter_map(|e| e["pointer"].as_str()).collect();
        for p in [
            "/redirect_uris/0",
            "/redirect_uris/1",
            "/redirect_uris/2",
            "/scopes/1",
            "/claims/1",
            "/token_endpoint_auth_method",
            "/logo_url",
        ] {
            assert!(pointers.contains(&p), "{}: {p} named in {body}", s.kind);
        }

        let created = register(&s, &key, "Example Pay").await;
        let id = created["client"]["client_id"].as_str().unwrap_or_default().to_owned();
        let secret = created["client_secret"].as_str().unwrap_or_default().to_owned();
        let whsec = created["webhook_secret"].as_str().unwrap_or_default().to_owned();
        assert!(id.starts_with("cli_"), "{created}");
        assert!(secret.starts_with("ics_") && secret.len() > 40, "{created}");
        assert!(whsec.starts_with("whsec_"), "{created}");
        assert!(created["webhook_public_key"].as_str().is_some_and(|k| k.starts_with("whpk_")), "{created}");
        assert_eq!(
            created["client"]["redirect_uris"],
            json!(["http://127.0.0.1:7000/cb", "https://rp.example.com/callback"]),
            "kept exactly"
        );
        assert_eq!(created["client"]["id_token_signed_response_alg"], "ES256");
        assert_eq!(created["client"]["webhook"]["event_types"], json!(["grant.revoked"]));

        // Stored only as SHA-256; the webhook secret only sealed.
        let secrets = testing::dump_table(store(&s), "oauth_client_secrets").await.unwrap_or_default();
        assert!(secrets.contains(&secret_hash(&secret)), "{}: {secrets}", s.kind);
        assert!(!secrets.contains(&secret), "{}: the secret in clear", s.kind);
        let raw = whsec.trim_start_matches("whsec_");
        for table in ["webhook_secrets", "oauth_clients", "audit_log"] {
            let dump = testing::dump_table(store(&s), table).await.unwrap_or_default();
            assert!(!dump.contains(raw) && !dump.contains(&secret), "{}: a secret in {table}", s.kind);
        }
        assert_eq!(text(&s, &format!("SELECT COUNT(*) FROM webhook_secrets WHERE client_id = '{id}' AND expires_at IS NULL")).await, "2");

        // Never shown again.
        for path in ["/v1/oauth/clients".to_owned(), format!("/v1/oauth/clients/{id}")] {
            let res = call(&s, &key, Method::GET, &path).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(res.status().as_u16(), 200);
            let body = res.text().await.unwrap_or_default();
            assert!(body.contains(&id) && !body.contains(&secret) && !body.contains(raw), "{}: {body}", s.kind);
        }
        let missing = call(&s, &key, Method::GET, "/v1/oauth/clients/cli_00000000000000000000000000000000").send().await;
        expect_problem(missing.unwrap_or_else(|e| panic!("{e}")), 404, "client_not_found").await;

        // Changes: a redirect URI replaced, then the app disabled; each audited.
        let res = call(&s, &key, Method::PATCH, &format!("/v1/oauth/clients/{id}"))
            .json(&json!({"redirect_uris": ["https://rp.example.com/v2/callback"], "logo_url": "https://rp.example.com/logo.png"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let patched: Value = res.json().await.unwrap_or_default();
        assert_eq!(patched["redirect_uris"], json!(["https://rp.example.com/v2/callback"]), "{patched}");
        let res = call(&s, &key, Method::PATCH, &format!("/v1/oauth/clients/{id}"))
            .json(&json!({"state": "disabled"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let patched: Value = res.json().await.unwrap_or_default();
        assert_eq!(patched["state"], "disabled", "{patched}");
        let res = call(&s, &key, Method::PATCH, &format!("/v1/oauth/clients/{id}"))
            .json(&json!({"redirect_uris": ["ftp://x/cb"]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "client_metadata_invalid").await;
        let actions = text(
            &s,
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('oauth_client.create', 'oauth_client.update', 'oauth_client.disable')",
        )
        .await;
        assert_eq!(actions, "3", "{}", s.kind);

        // A public client gets no client secret; private_key_jwt needs keys.
        let res = call(&s, &key, Method::POST, "/v1/oauth/clients")
            .json(&json!({"name": "App", "kind": "public", "redirect_uris": ["http://[::1]:9000/cb"]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let public: Value = res.json().await.unwrap_or_default();
        assert_eq!(public["client_secret"], Value::Null, "{public}");
        assert_eq!(public["client"]["token_endpoint_auth_method"], "none", "{public}");
        let res = call(&s, &key, Method::POST, "/v1/oauth/clients")
            .json(&json!({"name": "Jwt", "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a.example/cb"]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 422, "client_metadata_invalid").await;
    }
}

#[tokio::test]
async fn receivers_on_private_addresses_or_plain_http_are_refused() {
    // Without the sandbox (whose demo app listens on loopback) the SSRF rule holds.
    let db = testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let nowhere = "http://127.0.0.1:9";
    let s = start_with(
        db,
        &[
            ("IDLINK__SANDBOX__ENABLED", "false"),
            ("IDLINK__CONNECTORS__SMS__URL", nowhere),
            ("IDLINK__CONNECTORS__FACE__URL", nowhere),
            ("IDLINK__CONNECTORS__REGISTRY__URL", nowhere),
            ("IDLINK__CONNECTORS__BUREAU__URL", nowhere),
            ("IDLINK__CONNECTORS__BANK__SWITCH_URL", nowhere),
        ],
    )
    .await;
    let key = apps_key(&s).await;
    for (field, url) in [
        ("webhook_url", "https://10.1.2.3/hook"),
        ("webhook_url", "https://169.254.169.254/latest/meta-data"),
        ("webhook_url", "https://[::1]/hook"),
        ("webhook_url", "http://rp.example.com/hook"),
        ("backchannel_logout_uri", "https://localhost/logout"),
        ("backchannel_logout_uri", "https://192.168.1.10/logout"),
    ] {
        let res = call(&s, &key, Method::POST, "/v1/oauth/clients")
            .json(&json!({"name": "App", "redirect_uris": ["https://rp.example.com/cb"], field: url}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body = expect_problem(res, 422, "receiver_refused").await;
        assert_eq!(body["errors"][0]["pointer"], format!("/{field}"), "{url}: {body}");
    }
    assert_eq!(text(&s, "SELECT COUNT(*) FROM oauth_clients").await, "0", "nothing registered");
    let res = call(&s, &key, Method::POST, "/v1/oauth/clients")
        .json(&json!({"name": "App", "redirect_uris": ["https://rp.example.com/cb"], "webhook_url": "https://8.8.8.8/hook"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 201);
}

#[tokio::test]
async fn a_rotated_secret_works_beside_the_new_one_until_the_overlap_ends() {
    for db in databases().await {
        let clock = Arc::new(ManualClock::new("2026-11-30T08:00:00Z".parse().unwrap_or_default()));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[("IDLINK__OIDC__SECRET_OVERLAP_SECS", "3600")], rt).await;
        let key = apps_key(&s).await;
        let created = register(&s, &key, "Rotating").await;
        let id = ClientId::parse(created["client"]["client_id"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let first = secret_hash(created["client_secret"].as_str().unwrap_or_default());
        let live = |at: &str| {
            let s = &s;
            let id = id.clone();
            let at: jiff::Timestamp = at.parse().unwrap_or_default();
            async move {
                let rows = store(s).live_client_secrets(&id, at).await.unwrap_or_else(|e| panic!("{e}"));
                rows.into_iter().map(|r| r.secret_hash).collect::<Vec<_>>()
            }
        };
        assert_eq!(live("2026-11-30T08:00:01Z").await, vec![first.clone()]);

        clock.advance(jiff::SignedDuration::from_mins(10));
        let res = call(&s, &key, Method::POST, &format!("/v1/oauth/clients/{id}/secret")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let rotated: Value = res.json().await.unwrap_or_default();
        let second = secret_hash(rotated["client_secret"].as_str().unwrap_or_default());
        assert_eq!(rotated["previous_valid_until"], "2026-11-30T09:10:00Z", "{rotated}");

        let mut both = live("2026-11-30T09:09:59Z").await;
        both.sort();
        let mut want = vec![first.clone(), second.clone()];
        want.sort();
        assert_eq!(both, want, "{}: both work during the overlap", s.kind);
        assert_eq!(live("2026-11-30T09:10:00Z").await, vec![second.clone()], "{}: the old one is refused after", s.kind);

        // A second rotation within the overlap never lengthens the first secret's life.
        clock.advance(jiff::SignedDuration::from_mins(30));
        let res = call(&s, &key, Method::POST, &format!("/v1/oauth/clients/{id}/secret")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(live("2026-11-30T09:10:00Z").await.len(), 2, "{}: second and third", s.kind);
        assert!(!live("2026-11-30T09:10:00Z").await.contains(&first));

        // Webhook secrets rotate the same way: two kinds, old ones until the overlap ends.
        let res =
            call(&s, &key, Method::POST, &format!("/v1/oauth/clients/{id}/webhook-secret")).send().await.unwrap_or_else(|e| panic!("{e}"));
        let hook: Value = res.json().await.unwrap_or_default();
        assert!(hook["webhook_secret"].as_str().is_some_and(|w| w.starts_with("whsec_")), "{hook}");
        let now: jiff::Timestamp = "2026-11-30T08:41:00Z".parse().unwrap_or_default();
        assert_eq!(store(&s).live_webhook_secrets(&id, now).await.unwrap_or_default().len(), 4, "{}", s.kind);
        let later: jiff::Timestamp = "2026-11-30T09:41:00Z".parse().unwrap_or_default();
        assert_eq!(store(&s).live_webhook_secrets(&id, later).await.unwrap_or_default().len(), 2, "{}", s.kind);

        let res = call(&s, &key, Method::POST, "/v1/oauth/clients/cli_00000000000000000000000000000000/secret").send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), 404, "client_not_found").await;
    }
}

/// A grant as the provider writes it at consent, with an access token, a
/// refresh family, the app's session and a delivery receipt.
pub async fn grant_with_tokens(s: &Server, user: &str, client: &str, tag: &str) -> String {
    let grant = GrantId::from_random(idlink_crypto::Random::bytes16(&idlink_crypto::OsRandom)).to_string();
    let t = jiff::Timestamp::now().as_microsecond();
    let later = t + 3_600_000_000;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at) \
         VALUES ('{grant}', '{user}', '{client}', '[\"openid\",\"identity\"]', '[\"name\",\"birthdate\"]', 'active', {t}, {t})"
        ),
    )
    .await;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_consents (id, grant_id, user_id, client_id, consent_version, text_hash, claims, sensitive, consented_at) \
         VALUES ('cns_{tag}', '{grant}', '{user}', '{client}', '2026-11', 'h', '[\"name\",\"birthdate\"]', 1, {t})"
        ),
    )
    .await;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_refresh_families (id, grant_id, client_id, user_id, scope, created_at, expires_at) \
         VALUES ('rtf_{tag}', '{grant}', '{client}', '{user}', 'openid identity', {t}, {later})"
        ),
    )
    .await;
    for (hash, family) in [(format!("at-{tag}-1"), "NULL".to_owned()), (format!("at-{tag}-2"), format!("'rtf_{tag}'"))] {
        sql(
            s,
            &format!(
                "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, family_id, scope, created_at, expires_at) \
             VALUES ('{hash}', '{client}', '{user}', '{grant}', {family}, 'openid identity', {t}, {later})"
            ),
        )
        .await;
    }
    sql(s, &format!(
        "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at) VALUES ('sid-{tag}', '{client}', '{user}', 'ses_{tag}', {t})"
    ))
    .await;
    sql(s, &format!(
        "INSERT INTO event_deliveries (id, parent_event_id, user_id, client_id, channel, event_type, created_at, state, attempts, delivered_at, last_status) \
         VALUES ('evt_{tag}', 'evt_parent_{tag}', '{user}', '{client}', 'webhook', 'identity.verified', {t}, 'delivered', 1, {t}, 200)"
    ))
    .await;
    grant
}

async fn revoked_tokens(s: &Server, tag: &str) -> String {
    text(s, &format!("SELECT COUNT(*) FROM oauth_access_tokens WHERE token_hash LIKE 'at-{tag}-%' AND revoked_at IS NOT NULL")).await
}

#[tokio::test]
async fn revoking_a_grant_ends_its_tokens_with_its_lifecycle_event_and_is_idempotent() {
    for s in servers().await {
        let key = apps_key(&s).await;
        let a = register(&s, &key, "App A").await["client"]["client_id"].as_str().unwrap_or_default().to_owned();
        let b = register(&s, &key, "App B").await["client"]["client_id"].as_str().unwrap_or_default().to_owned();
        let session = login_ok(&s, "13800138111", "dev-grants").await["session_token"].as_str().unwrap_or_default().to_owned();
        let user = me(&s, &session).await.json::<Value>().await.unwrap_or_default()["user_id"].as_str().unwrap_or_default().to_owned();
        assert!(user.starts_with("usr_"), "{}", s.kind);
        let ga = grant_with_tokens(&s, &user, &a, "a").await;
        let gb = grant_with_tokens(&s, &user, &b, "b").await;
        let mine = |m: Method, path: &str| s.authed(m, path).header("idlink-session", &session);

        let list: Value =
            mine(Method::GET, "/v1/me/grants").send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        let grants = list["grants"].as_array().cloned().unwrap_or_default();
        assert_eq!(grants.len(), 2, "{}: {list}", s.kind);
        let first = grants.iter().find(|g| g["grant_id"] == ga.as_str()).cloned().unwrap_or_default();
        assert_eq!(first["client_name"], "App A");
        assert_eq!(first["claims"], json!(["name", "birthdate"]));
        assert_eq!(first["consent_version"], "2026-11");
        assert_eq!(first["deliveries"][0]["event_type"], "identity.verified", "{first}");
        assert_eq!(first["deliveries"][0]["state"], "delivered");
        assert_eq!(first["deliveries"].as_array().map(Vec::len), Some(1), "only this app's receipts");

        let one = mine(Method::GET, &format!("/v1/me/grants/{ga}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.status().as_u16(), 200);

        // The user revokes A: A's tokens and family end, B's stay; one lifecycle event, one audit record.
        let res = mine(Method::DELETE, &format!("/v1/me/grants/{ga}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        assert_eq!(revoked_tokens(&s, "a").await, "2", "{}: both access tokens of the grant", s.kind);
        assert_eq!(revoked_tokens(&s, "b").await, "0", "{}", s.kind);
        assert_eq!(text(&s, "SELECT revoke_reason FROM oauth_refresh_families WHERE id = 'rtf_a'").await, "grant");
        assert_eq!(text(&s, "SELECT COUNT(*) FROM oauth_consents WHERE id = 'cns_a' AND withdrawn_at IS NOT NULL").await, "1");
        assert_eq!(text(&s, "SELECT COUNT(*) FROM oauth_sessions WHERE sid = 'sid-a' AND ended_at IS NOT NULL").await, "1");
        assert_eq!(text(&s, &format!("SELECT revoked_by FROM oauth_grants WHERE id = '{ga}'")).await, "user");
        let events = format!("SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle' AND subject = '{user}'");
        assert_eq!(text(&s, &events).await, "1", "{}", s.kind);
        let payloads = testing::dump_table(store(&s), "outbox").await.unwrap_or_default();
        assert!(!payloads.contains("grant_revoked"), "{}: the payload is sealed", s.kind);
        let audited = format!("SELECT COUNT(*) FROM audit_log WHERE action = 'oauth_grant.revoke' AND subject = '{user}'");
        assert_eq!(text(&s, &audited).await, "1");

        // Gone from the list; revoking it again is a 404.
        let list: Value =
            mine(Method::GET, "/v1/me/grants").send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
        assert_eq!(list["grants"].as_array().map(Vec::len), Some(1), "{list}");
        let again = mine(Method::DELETE, &format!("/v1/me/grants/{ga}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(again, 404, "grant_not_found").await;
        let theirs = mine(Method::GET, &format!("/v1/me/grants/{ga}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(theirs, 404, "grant_not_found").await;

        // The host backend sees B, revokes by subject; a second time finds none.
        let host: Value = call(&s, &key, Method::GET, &format!("/v1/users/{user}/grants"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(host["grants"][0]["grant_id"], gb.as_str(), "{host}");
        let res = call(&s, &key, Method::DELETE, &format!("/v1/users/{user}/grants")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.json::<Value>().await.unwrap_or_default()["revoked"], 1, "{}", s.kind);
        assert_eq!(revoked_tokens(&s, "b").await, "2", "{}", s.kind);
        assert_eq!(text(&s, &format!("SELECT revoked_by FROM oauth_grants WHERE id = '{gb}'")).await, "host");
        assert_eq!(text(&s, &events).await, "2", "{}", s.kind);
        let res = call(&s, &key, Method::DELETE, &format!("/v1/users/{user}/grants")).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.json::<Value>().await.unwrap_or_default()["revoked"], 0, "{}", s.kind);
        let res = mine(Method::DELETE, "/v1/me/grants").send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.json::<Value>().await.unwrap_or_default()["revoked"], 0, "{}", s.kind);
        let res = call(&s, &key, Method::DELETE, &format!("/v1/users/{user}/grants/{gb}")).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 404, "grant_not_found").await;
        assert_eq!(text(&s, &events).await, "2", "{}: no event for nothing", s.kind);

        // Without the grants scope the host sees nothing.
        let res = s.authed(Method::GET, &format!("/v1/users/{user}/grants")).send().await.unwrap_or_else(|e| panic!("{e}"));
        expect_problem(res, 403, "insufficient_scope").await;
    }
}

#[tokio::test]
async fn revoking_every_grant_of_the_user_ends_them_all_in_one_request() {
    for s in servers().await {
        let key = apps_key(&s).await;
        let session = login_ok(&s, "13800138112", "dev-all").await["session_token"].as_str().unwrap_or_default().to_owned();
        let user = me(&s, &session).await.json::<Value>().await.unwrap_or_default()["user_id"].as_str().unwrap_or_default().to_owned();
        for tag in ["x", "y", "z"] {
            let c = register(&s, &key, &format!("App {tag}")).await["client"]["client_id"].as_str().unwrap_or_default().to_owned();
            grant_with_tokens(&s, &user, &c, tag).await;
        }
        let res =
            s.authed(Method::DELETE, "/v1/me/grants").header("idlink-session", &session).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.json::<Value>().await.unwrap_or_default()["revoked"], 3, "{}", s.kind);
        for tag in ["x", "y", "z"] {
            assert_eq!(revoked_tokens(&s, tag).await, "2", "{}: {tag}", s.kind);
        }
        let events = format!("SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle' AND subject = '{user}'");
        assert_eq!(text(&s, &events).await, "3", "{}: one event per grant", s.kind);
    }
}

/// Runs the binary while the server keeps serving (a blocked test thread
/// would stall the in-process server mid-transaction, holding SQLite's lock).
async fn idlink(s: &Server, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
        .args(args)
        .envs(s.cli_env())
        .output()
        .await
        .unwrap_or_else(|e| panic!("run idlink: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn the_command_line_registers_rotates_and_disables_through_the_same_checks() {
    let s = crate::sqlite_server().await;
    let (code, out, err) = idlink(
        &s,
        &[
            "client",
            "create",
            "--name",
            "Shell App",
            "--redirect-uri",
            "https://rp.example.com/cb",
            "--scopes",
            "openid,phone",
            "--claims",
            "phone_number",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let value = |key: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_default().to_owned();
    let id = value("client_id");
    let secret = value("client_secret");
    assert!(id.starts_with("cli_") && secret.starts_with("ics_") && value("webhook_secret").starts_with("whsec_"), "{out}");
    let secrets = testing::dump_table(store(&s), "oauth_client_secrets").await.unwrap_or_default();
    assert!(secrets.contains(&secret_hash(&secret)) && !secrets.contains(&secret), "only the hash is kept");

    let (code, out, _) = idlink(&s, &["client", "show", &id]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Shell App") && out.contains("phone_number") && !out.contains(&secret), "{out}");
    let (code, out, _) = idlink(&s, &["client", "list"]).await;
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");

    let (code, out, err) = idlink(&s, &["client", "rotate-secret", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("client_secret=ics_") && !out.contains(&secret), "{out}");
    assert!(err.contains("works until"), "{err}");
    let (code, out, _) = idlink(&s, &["client", "disable", &id]).await;
    assert_eq!(code, 0);
    assert!(out.contains("disabled"), "{out}");
    assert_eq!(text(&s, &format!("SELECT state FROM oauth_clients WHERE id = '{id}'")).await, "disabled");

    // The same checks as the API: a refused registration says why, writes nothing.
    let (code, _, err) = idlink(&s, &["client", "create", "--name", "Bad", "--redirect-uri", "http://rp.example.com/cb#x"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("redirect_uris/0"), "{err}");
    let audited = text(&s, "SELECT COUNT(*) FROM audit_log WHERE actor = 'cli' AND action LIKE 'oauth_client.%'").await;
    assert_eq!(audited, "3", "create, rotate, disable");
}

/// Counts rows of `table` whose key column is one of `keys` (the rows a test seeded).
async fn seeded(s: &Server, table: &str, column: &str, keys: &[&str]) -> Vec<String> {
    let list = keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let q = format!("SELECT {column} FROM {table} WHERE {column} IN ({list}) ORDER BY {column}");
    let text = testing::dump_table(store(s), &format!("({q}) AS t")).await.unwrap_or_default();
    keys.iter().filter(|k| text.contains(*k)).map(|k| (*k).to_owned()).collect()
}

/// The `oauth_purge` job (issue 14): once the sandbox clock passes expiry
/// plus the grace, expired requests, codes, tokens, revoked or expired
/// families, spent assertion `jti`s, ended app sessions and the provider's
/// rate-limit windows are deleted; a live family keeps every refresh token,
/// the used ones too, so a reuse after the purge is still recognised (and
/// the app is told, in the transaction that revokes the family).
#[tokio::test]
async fn the_purge_deletes_what_expired_and_keeps_what_a_live_grant_needs() {
    for db in databases().await {
        let s = start_with(
            db,
            &[
                ("IDLINK__SANDBOX__DRIVE_CLOCK", "true"),
                ("IDLINK__OIDC__PURGE_EVERY_SECS", "1"),
                ("IDLINK__OIDC__PURGE_GRACE_SECS", "86400"),
                ("IDLINK__OIDC__SESSION_RETENTION_DAYS", "1"),
            ],
        )
        .await;
        let key = apps_key(&s).await;
        let reg = register(&s, &key, "Purged App").await;
        let client = reg["client"]["client_id"].as_str().unwrap_or_default().to_owned();
        let secret = reg["client_secret"].as_str().unwrap_or_default().to_owned();
        let session = login_ok(&s, "13800138333", "dev-purge").await["session_token"].as_str().unwrap_or_default().to_owned();
        let user = me(&s, &session).await.json::<Value>().await.unwrap_or_default()["user_id"].as_str().unwrap_or_default().to_owned();
        let grant = grant_with_tokens(&s, &user, &client, "p").await;
        let t = jiff::Timestamp::now().as_microsecond();
        let (min, day) = (60_000_000_i64, 86_400_000_000_i64);
        let (live_used, live_next) = (secret_hash("ilr_purge-live-0"), secret_hash("ilr_purge-live-1"));
        // `live_used` expired on its own (a shorter refresh TTL configured after it was issued):
        // its family is live, so it stays, and coming back it is still a reuse.
        for q in [
            format!(
                "INSERT INTO oauth_authz_requests (id, client_id, params, created_at, expires_at) VALUES ('azr_purgeold', '{client}', '{{}}', {t}, {})",
                t + 10 * min
            ),
            format!(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, grant_id, redirect_uri, scope, code_challenge, auth_time, created_at, expires_at, used_at) \
                 VALUES ('code-old', '{client}', '{user}', '{grant}', 'https://rp.example.com/callback', 'openid', 'c', {t}, {t}, {}, {t})",
                t + min
            ),
            format!(
                "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, scope, created_at, expires_at) \
                 VALUES ('at-old', '{client}', '{user}', '{grant}', 'openid', {t}, {}), ('at-live', '{client}', '{user}', '{grant}', 'openid', {t}, {})",
                t + 10 * min,
                t + 30 * day
            ),
            format!(
                "INSERT INTO oauth_refresh_families (id, grant_id, client_id, user_id, scope, created_at, expires_at, revoked_at, revoke_reason) VALUES \
                 ('rtf_live', '{grant}', '{client}', '{user}', 'openid', {t}, {live}, NULL, NULL), \
                 ('rtf_dead', '{grant}', '{client}', '{user}', 'openid', {t}, {live}, {t}, 'revoked'), \
                 ('rtf_over', '{grant}', '{client}', '{user}', 'openid', {t}, {over}, NULL, NULL)",
                live = t + 30 * day,
                over = t + 60 * min
            ),
            format!(
                "INSERT INTO oauth_refresh_tokens (token_hash, family_id, generation, created_at, expires_at, used_at) VALUES \
                 ('{live_used}', 'rtf_live', 0, {t}, {over}, {t}), ('{live_next}', 'rtf_live', 1, {t}, {live}, NULL), \
                 ('rt-dead', 'rtf_dead', 0, {t}, {live}, NULL), ('rt-over', 'rtf_over', 0, {t}, {over}, NULL)",
                live = t + 30 * day,
                over = t + 60 * min
            ),
            format!(
                "INSERT INTO oauth_client_assertions (client_id, jti, expires_at) VALUES ('{client}', 'jti-old', {}), ('{client}', 'jti-live', {})",
                t + 5 * min,
                t + 30 * day
            ),
            format!(
                "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at, ended_at) VALUES \
                 ('sid-ended', '{client}', '{user}', 'ses_ended', {t}, {t})"
            ),
            format!(
                "INSERT INTO rate_limits (bucket, window_start, count) VALUES ('oauth:token:192.0.2.1', {t}, 3), ('code:ip:192.0.2.1', {t}, 3)"
            ),
        ] {
            sql(&s, &q).await;
        }
        let snapshot = async || {
            [
                seeded(&s, "oauth_authz_requests", "id", &["azr_purgeold"]).await,
                seeded(&s, "oauth_codes", "code_hash", &["code-old"]).await,
                seeded(&s, "oauth_access_tokens", "token_hash", &["at-old", "at-live"]).await,
                seeded(&s, "oauth_refresh_families", "id", &["rtf_dead", "rtf_live", "rtf_over"]).await,
                seeded(&s, "oauth_refresh_tokens", "token_hash", &[live_used.as_str(), live_next.as_str(), "rt-dead", "rt-over"]).await,
                seeded(&s, "oauth_client_assertions", "jti", &["jti-live", "jti-old"]).await,
                seeded(&s, "oauth_sessions", "sid", &["sid-ended", "sid-p"]).await,
                seeded(&s, "rate_limits", "bucket", &["code:ip:192.0.2.1", "oauth:token:192.0.2.1"]).await,
            ]
        };
        let all = snapshot().await;
        // The job runs every second: nothing is deleted before its time.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(snapshot().await, all, "{}: nothing purged early", s.kind);
        assert_eq!(all.iter().map(Vec::len).sum::<usize>(), 17, "{}: {all:?}", s.kind);

        // Two days later on the sandbox clock (idlink's clock follows it).
        let res = reqwest::Client::new()
            .post(format!("{}/sandbox/v1/clock/advance", s.sandbox))
            .json(&json!({"seconds": 2 * 86_400 + 60}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let want = [
            vec![],
            vec![],
            vec!["at-live".to_owned()],
            vec!["rtf_live".to_owned()],
            vec![live_used.clone(), live_next.clone()],
            vec!["jti-live".to_owned()],
            vec!["sid-p".to_owned()],
            vec!["code:ip:192.0.2.1".to_owned()],
        ];
        let mut now = snapshot().await;
        for _ in 0..100 {
            if now == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            now = snapshot().await;
        }
        assert_eq!(now, want, "{}: what remains after the purge", s.kind);

        // The live family's used refresh token is still recognised: a reuse revokes the family and tells the app.
        let lifecycle = format!("SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle' AND subject = '{user}'");
        let before: u64 = text(&s, &lifecycle).await.parse().unwrap_or(0);
        let res = s
            .client()
            .post(s.url("/oauth2/token"))
            .basic_auth(&client, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&refresh_token=ilr_purge-live-0")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 400, "{}", s.kind);
        let body: Value = res.json().await.unwrap_or_default();
        assert_eq!(body["error"], "invalid_grant", "{body}");
        assert!(body["error_description"].as_str().is_some_and(|d| d.contains("used before")), "{}: {body}", s.kind);
        assert_eq!(text(&s, "SELECT revoke_reason FROM oauth_refresh_families WHERE id = 'rtf_live'").await, "reuse", "{}", s.kind);
        let after: u64 = text(&s, &lifecycle).await.parse().unwrap_or(0);
        assert_eq!(after, before + 1, "{}: the reuse wrote one lifecycle event for the app", s.kind);
    }
}
