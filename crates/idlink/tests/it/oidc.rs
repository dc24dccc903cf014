//! The OpenID provider end to end (SPEC TP1, TP2; issue 14): an independent
//! relying party (the `openidconnect` crate, its own HTTP adapter over
//! reqwest with redirects off) discovers idlink, sends the user through the
//! consent page (driven as a browser would, with the H5 cookies), exchanges
//! the code with PKCE, checks the ID token's signature (ES256 on one
//! database, EdDSA on the other), reads `verified_claims` from userinfo,
//! rotates its refresh token, and sees reuse, code reuse and revocation
//! take effect — on a second node at once.

use crate::h5::FormClient;
use crate::{Server, servers};
use idlink_core::oidc::secret_hash;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore};
use idlink_crypto::jose::JwsAlg;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, RefreshToken, Scope, TokenResponse, UserInfoClaims,
};
use serde_json::{Value, json};

const REDIRECT: &str = "https://rp.example/callback";
const SECRET: &str = "ics_e2e-client-secret-0123456789abcdefghijklmnopqrstu";
const ZHANG_SAN_ID: &str = "11010519491231002X";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Ida {
    #[serde(default)]
    verified_claims: Option<Value>,
}
impl AdditionalClaims for Ida {}

type HttpResult = Result<openidconnect::http::Response<Vec<u8>>, std::io::Error>;

/// openidconnect's HTTP client: our reqwest (rustls over aws-lc), no redirects (plan §1).
async fn call(http: reqwest::Client, req: openidconnect::http::Request<Vec<u8>>) -> HttpResult {
    let req = reqwest::Request::try_from(req).map_err(std::io::Error::other)?;
    let res = http.execute(req).await.map_err(std::io::Error::other)?;
    let mut out = openidconnect::http::Response::builder().status(res.status().as_u16());
    for (k, v) in res.headers() {
        out = out.header(k.as_str(), v.as_bytes());
    }
    let body = res.bytes().await.map_err(std::io::Error::other)?.to_vec();
    out.body(body).map_err(std::io::Error::other)
}

/// A form body (reqwest is built without its `form` feature).
fn form(pairs: &[(&str, &str)]) -> String {
    idlink_core::oidc::provider::with_query("", pairs).trim_start_matches('?').to_owned()
}

trait FormPost {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormPost for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded").body(form(pairs))
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
}

async fn register(s: &Server, alg: JwsAlg) -> String {
    let id = if alg == JwsAlg::EdDsa { "e2eedwards000000000000000" } else { "e2eecdsa00000000000000000" };
    register_with(s, alg, id, &["name", "birthdate", "age_over_18", "phone_number"], None).await
}

/// A confidential app `cli_{id}` allowed `claims`, with an optional logo.
async fn register_with(s: &Server, alg: JwsAlg, id: &str, claims: &[&str], logo: Option<&str>) -> String {
    let now = jiff::Timestamp::now();
    let id = idlink_domain::ClientId::try_from(format!("cli_{id}")).unwrap_or_else(|e| panic!("{e}"));
    let client = ClientRow {
        id: id.clone(),
        name: "Demo Shop".into(),
        logo_url: logo.map(str::to_owned),
        kind: ClientKind::Confidential,
        auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        redirect_uris: vec![REDIRECT.into()],
        allowed_scopes: ["openid", "phone", "identity", "offline_access"].map(str::to_owned).to_vec(),
        allowed_claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        id_token_alg: alg,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: now,
        updated_at: now,
    };
    let secret = ClientSecretRow {
        id: format!("sec_{}", id.as_str()),
        client_id: id.clone(),
        secret_hash: secret_hash(SECRET),
        created_at: now,
        expires_at: None,
    };
    s.db.store
        .insert_client(&client, Some(&secret), &AuditEntry::new("cli", "oauth.client_create", "test", now))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    id.to_string()
}

fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start).nth(1).and_then(|r| r.split(end).next()).unwrap_or("").to_owned()
}

/// An HTML attribute's text as the browser reads it (named and numeric character references).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find(';') else { break };
        let entity = &rest[i + 1..i + j];
        let c = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..=i + j]),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| p.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.replace("%3A", ":").replace("%2F", "/")))
}

/// Logs in and verifies the real name (ID card and face) through the pages.
async fn verified_user(c: &mut FormClient<'_>, s: &Server, phone: &str) {
    assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
    let page = c.post("/h5/login", &[("phone", phone)]).await.text().await.unwrap_or_default();
    let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
    let code = s.last_code(phone).await;
    let res = c.post("/h5/login/code", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await;
    assert_eq!(location(&res), "/h5/", "{}: logged in", s.kind);
    c.agree_to_all().await;
    let start = [("kind", "face"), ("name", "张三"), ("id_number", ZHANG_SAN_ID)];
    let page = c.post("/h5/identity/verifications", &start).await.text().await.unwrap_or_default();
    let vid = between(&page, "action=\"/h5/identity/verifications/", "/submit\"");
    let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
    let code = s.last_code(phone).await;
    let submit = [("kind", "face"), ("challenge_id", challenge.as_str()), ("code", code.as_str()), ("liveness", "sandbox:pass")];
    let res = c.post(&format!("/h5/identity/verifications/{vid}/submit"), &submit).await;
    assert_eq!(res.status().as_u16(), 303, "{}: verified", s.kind);
}

/// Follows the RP's authorization URL through the consent page; answers the redirect back to the RP.
async fn consent(c: &mut FormClient<'_>, s: &Server, auth_url: &str, fields: &[(&str, &str)]) -> (String, String) {
    let path = auth_url.strip_prefix(&s.base).unwrap_or(auth_url).to_owned();
    let res = c.get(&path).await;
    assert_eq!(res.status().as_u16(), 303, "{}: {}", s.kind, res.text().await.unwrap_or_default());
    let page_path = location(&res);
    assert!(page_path.starts_with("/h5/authorize/azr_"), "{page_path}");
    let page = c.get(&page_path).await.text().await.unwrap_or_default();
    let res = c.post(&page_path, fields).await;
    assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
    // The way back to the app is a page that moves on by itself (the pages' CSP has `form-action 'self'`).
    let back = res.text().await.unwrap_or_default();
    let to = unescape(&between(&back, "id=\"continue\" href=\"", "\""));
    assert!(back.contains(&format!("content=\"0; url={}", between(&back, "content=\"0; url=", "\""))), "{back}");
    (page, to)
}

async fn introspect(base: &str, client: &str, token: &str) -> Value {
    let res = no_redirects()
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(client, Some(SECRET))
        .form_body(&[("token", token)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap_or_default()
}

#[tokio::test]
async fn an_independent_relying_party_signs_in_reads_verified_claims_and_loses_revoked_tokens_everywhere() {
    for s in servers().await {
        let alg = if s.kind == "sqlite" { JwsAlg::EdDsa } else { JwsAlg::Es256 };
        let client_id = register(&s, alg).await;
        let mut browser = FormClient::new(&s);
        verified_user(&mut browser, &s, "13912340031").await;

        // Discovery (with the Identity Assurance metadata, read as JSON too).
        let meta: Value = reqwest::get(s.url("/.well-known/openid-configuration"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(meta["issuer"], s.base.as_str());
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(meta["verified_claims_supported"], true);
        assert_eq!(meta["trust_frameworks_supported"], json!(["https://idlink.dev/tf/cn-real-name"]));
        assert_eq!(meta["request_uri_parameter_supported"], false);
        assert_eq!(meta["scopes_supported"], json!(["openid", "phone", "identity", "offline_access", "ssf"]));
        assert!(meta["claims_in_verified_claims_supported"].as_array().is_some_and(|a| a.contains(&json!("birthdate"))));
        assert!(
            meta["revocation_endpoint"].is_string()
                && meta["introspection_endpoint"].is_string()
                && meta["backchannel_logout_supported"] == true
        );
        let rq = no_redirects();
        let http = |req| call(rq.clone(), req);
        let provider = CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap_or_else(|e| panic!("{e}")), &http)
            .await
            .unwrap_or_else(|e| panic!("{}: discovery: {e:?}", s.kind));
        let rp = CoreClient::from_provider_metadata(provider, ClientId::new(client_id.clone()), Some(ClientSecret::new(SECRET.into())))
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap_or_else(|e| panic!("{e}")));

        // Authorize with PKCE, asking for verified claims in userinfo and the name in the ID token.
        let claims = json!({
            "userinfo": {"verified_claims": {"verification": {"trust_framework": null}, "claims": {"name": null, "birthdate": null}}},
            "id_token": {"verified_claims": {"verification": {"trust_framework": null}, "claims": {"name": null}}}
        });
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("phone".into()))
            .add_scope(Scope::new("offline_access".into()))
            .add_extra_param("prompt", "consent")
            .add_extra_param("claims", claims.to_string())
            .set_pkce_challenge(challenge)
            .url();
        let (page, back) = consent(&mut browser, &s, url.as_str(), &[("decision", "allow"), ("sensitive", "1")]).await;
        assert!(page.contains("id=\"sensitive-consent\"") && page.contains("id=\"ordinary-claims\""), "{}: {page}", s.kind);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
        assert_eq!(query_param(&back, "iss").as_deref(), Some(s.base.as_str()), "RFC 9207");
        let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));

        let tokens = rp
            .exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: token: {e:?}", s.kind));
        let verifier_algs =
            rp.id_token_verifier().set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256, CoreJwsSigningAlgorithm::EdDsa]);
        let id_token = tokens.id_token().unwrap_or_else(|| panic!("no ID token"));
        let id_claims = id_token.claims(&verifier_algs, &nonce).unwrap_or_else(|e| panic!("{}: ID token: {e:?}", s.kind));
        let sub = id_claims.subject().as_str().to_owned();
        assert_eq!(sub.len(), 22, "pairwise sub");
        assert_eq!(
            id_token.signing_alg().ok().cloned(),
            Some(if alg == JwsAlg::EdDsa { CoreJwsSigningAlgorithm::EdDsa } else { CoreJwsSigningAlgorithm::EcdsaP256Sha256 })
        );
        // The claims asked for in the ID token: the verified name only, with sid and at_hash.
        let jwt = serde_json::to_value(id_token).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let payload: Value = jwt
            .split('.')
            .nth(1)
            .and_then(|p| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        assert_eq!(payload["verified_claims"]["claims"], json!({"name": "张三"}), "{}: {payload}", s.kind);
        assert!(payload["sid"].is_string() && payload["at_hash"].is_string() && payload.get("phone_number").is_none(), "{payload}");
        let access = tokens.access_token().clone();
        let refresh = tokens
            .refresh_token()
            .cloned()
            .unwrap_or_else(|| panic!("{}: offline_access with prompt=consent gives a refresh token", s.kind));

        // Userinfo: sub, the phone number and verified_claims as IDA shapes them.
        let info: UserInfoClaims<Ida, CoreGenderClaim> = rp
            .user_info(access.clone(), None)
            .unwrap_or_else(|e| panic!("{e}"))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: userinfo: {e:?}", s.kind));
        assert_eq!(info.subject().as_str(), sub);
        assert_eq!(info.phone_number().map(|p| p.as_str().to_owned()).as_deref(), Some("+8613912340031"));
        let vc = info.additional_claims().verified_claims.clone().unwrap_or_else(|| panic!("{}: no verified_claims", s.kind));
        assert_eq!(vc["claims"], json!({"name": "张三", "birthdate": "1949-12-31"}), "{}", s.kind);
        assert_eq!(vc["verification"]["trust_framework"], "https://idlink.dev/tf/cn-real-name");
        assert_eq!(vc["verification"]["evidence"][0]["type"], "electronic_record");
        assert_eq!(vc["verification"]["evidence"][0]["record"]["type"], "population_register");
        let methods: Vec<&str> = vc["verification"]["evidence"][0]["check_details"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["check_method"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(methods, ["data", "bvr"]);
        assert!(vc["verification"]["verification_process"].as_str().is_some_and(|p| p.starts_with("vp_")));

        // RFC 6750: the scheme is case-insensitive; a body token counts only on a form POST; one method per request.
        let url = format!("{}/oauth2/userinfo", s.base);
        let secret = access.secret().to_owned();
        let res = no_redirects().get(&url).header("authorization", format!("bearer {secret}")).send().await;
        assert_eq!(res.map(|r| r.status().as_u16()).ok(), Some(200), "{}: a lowercase scheme", s.kind);
        let form = |r: reqwest::RequestBuilder| {
            r.header("content-type", "application/x-www-form-urlencoded").body(format!("access_token={secret}"))
        };
        let res = form(no_redirects().post(&url)).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}: the token in a form body", s.kind);
        let res = form(no_redirects().get(&url)).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401, "{}: a body token on a GET does not count", s.kind);
        let res = form(no_redirects().post(&url).bearer_auth(&secret)).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 400, "{}: two methods at once", s.kind);
        let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_request"), "{challenge}");
        assert!(!vc.to_string().contains(ZHANG_SAN_ID), "never the ID number");

        // Refresh rotates; the old refresh token coming back kills the family.
        let rotated = rp
            .exchange_refresh_token(&refresh)
            .unwrap_or_else(|e| panic!("{e}"))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{}: refresh: {e:?}", s.kind));
        let refresh2 = rotated.refresh_token().cloned().unwrap_or_else(|| panic!("rotation gives a new refresh token"));
        assert_ne!(refresh2.secret(), refresh.secret());
        assert_eq!(introspect(&s.base, &client_id, rotated.access_token().secret()).await["active"], true);
        let reuse = rp.exchange_refresh_token(&refresh).unwrap_or_else(|e| panic!("{e}")).request_async(&http).await;
        assert!(reuse.is_err(), "{}: a used refresh token is refused", s.kind);
        assert_eq!(
            introspect(&s.base, &client_id, rotated.access_token().secret()).await,
            json!({"active": false}),
            "{}: the family's tokens died",
            s.kind
        );
        assert_eq!(introspect(&s.base, &client_id, access.secret()).await, json!({"active": false}));
        let again = rp
            .exchange_refresh_token(&RefreshToken::new(refresh2.secret().clone()))
            .unwrap_or_else(|e| panic!("{e}"))
            .request_async(&http)
            .await;
        assert!(again.is_err(), "{}: the newest refresh token of a revoked family is refused too", s.kind);

        // A code used twice: refused, and what the first use issued is revoked.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let verifier_text = verifier.secret().clone();
        let (url, _, _) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .url();
        let (_, back) = consent(&mut browser, &s, url.as_str(), &[("decision", "allow")]).await;
        let code2 = query_param(&back, "code").unwrap_or_default();
        let first = rp
            .exchange_code(AuthorizationCode::new(code2.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(first.refresh_token().is_none(), "no offline_access: no refresh token");
        assert_eq!(introspect(&s.base, &client_id, first.access_token().secret()).await["active"], true);
        let second = rp
            .exchange_code(AuthorizationCode::new(code2))
            .unwrap_or_else(|e| panic!("{e}"))
            .set_pkce_verifier(openidconnect::PkceCodeVerifier::new(verifier_text))
            .request_async(&http)
            .await;
        assert!(second.is_err(), "{}: a code is single use", s.kind);
        assert_eq!(introspect(&s.base, &client_id, first.access_token().secret()).await["active"], false, "{}", s.kind);

        // Revocation, seen at once by a second node on the same database.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, _) = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .url();
        let (_, back) = consent(&mut browser, &s, url.as_str(), &[("decision", "allow")]).await;
        let live = rp
            .exchange_code(AuthorizationCode::new(query_param(&back, "code").unwrap_or_default()))
            .unwrap_or_else(|e| panic!("{e}"))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let token = live.access_token().secret().clone();
        let second_node = idlink::serve::start(&s.config, idlink::serve::Runtime::default()).await.unwrap_or_else(|e| panic!("{e:#}"));
        let other = format!("http://{}", second_node.api_addr);
        assert_eq!(introspect(&other, &client_id, &token).await["active"], true, "{}", s.kind);
        let res = no_redirects()
            .post(s.url("/oauth2/revoke"))
            .basic_auth(&client_id, Some(SECRET))
            .form_body(&[("token", token.as_str())])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            introspect(&other, &client_id, &token).await,
            json!({"active": false}),
            "{}: revocation visible on the second node",
            s.kind
        );
        let res = no_redirects().get(format!("{other}/oauth2/userinfo")).bearer_auth(&token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401);
        let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
        second_node.shutdown().await;

        // Nothing secret is stored in clear: the tokens and the secret appear in no table.
        let secrets = [token.as_str(), access.secret().as_str(), refresh.secret().as_str(), code.as_str(), SECRET];
        assert_no_secret_stored(&s, &secrets).await;
    }
}

/// Reads every text column of every table and looks for the secrets.
async fn assert_no_secret_stored(s: &Server, secrets: &[&str]) {
    use sqlx::{Column, Row};
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url).await.unwrap_or_else(|e| panic!("{e}"));
    let tables_sql = if s.kind == "sqlite" {
        "SELECT name FROM sqlite_master WHERE type = 'table'".to_owned()
    } else {
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = current_schema()".to_owned()
    };
    let tables: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(tables_sql))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.try_get::<String, _>("name").ok())
        .collect();
    assert!(tables.iter().any(|t| t == "oauth_access_tokens"), "{}: {tables:?}", s.kind);
    for t in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t}"))).fetch_all(&mut conn).await.unwrap_or_default();
        for row in rows {
            for (i, col) in row.columns().iter().enumerate() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    for secret in secrets {
                        assert!(!text.contains(secret), "{}: {t}.{} holds a secret in clear", s.kind, col.name());
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn requests_that_cannot_be_trusted_are_refused_without_a_redirect_and_pkce_is_required() {
    let s = crate::sqlite_server().await;
    let client_id = register(&s, JwsAlg::Es256).await;
    let http = no_redirects();
    let good_challenge = "E9Melhoa2OwvFQEMTJgB8KuXcPLalG2UkQXrD2wEbg8";
    let authorize = |redirect: &str, extra: &[(&str, &str)]| {
        let mut q: Vec<(String, String)> = vec![
            ("client_id".into(), client_id.clone()),
            ("redirect_uri".into(), redirect.into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid".into()),
            ("state".into(), "st4te".into()),
        ];
        q.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        q.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        http.get(idlink_core::oidc::provider::with_query(&s.url("/oauth2/authorize"), &pairs)).send()
    };
    // A redirect URI not registered (even a prefix of one): an error page, no Location.
    for bad in ["https://evil.example/callback", "https://rp.example/callback/x", "https://rp.example/callback?a=1"] {
        let res = authorize(bad, &[("code_challenge", good_challenge), ("code_challenge_method", "S256")])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 400, "{bad}");
        assert!(res.headers().get("location").is_none(), "{bad}: never redirected");
    }
    // PKCE missing or plain: the trusted redirect URI gets invalid_request with state and iss.
    for extra in
        [vec![], vec![("code_challenge", good_challenge), ("code_challenge_method", "plain")], vec![("code_challenge", good_challenge)]]
    {
        let res = authorize(REDIRECT, &extra).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 303, "{extra:?}");
        let to = location(&res);
        assert!(
            to.starts_with(REDIRECT) && to.contains("error=invalid_request") && to.contains("state=st4te") && to.contains("iss="),
            "{to}"
        );
    }
    // A scope the client may not have.
    let res = authorize(REDIRECT, &[("code_challenge", good_challenge), ("code_challenge_method", "S256"), ("scope", "openid admin")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(location(&res).contains("error=invalid_scope"), "{}", location(&res));
    // The token endpoint: a wrong secret is 401 with a Basic challenge, in RFC 6749's shape.
    let res = http
        .post(s.url("/oauth2/token"))
        .basic_auth(&client_id, Some("ics_wrong"))
        .form_body(&[("grant_type", "authorization_code"), ("code", "ilc_nope"), ("redirect_uri", REDIRECT), ("code_verifier", "x")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic")));
    assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(body["error"], "invalid_client");
    let res = http
        .post(s.url("/oauth2/token"))
        .basic_auth(&client_id, Some(SECRET))
        .form_body(&[("grant_type", "authorization_code"), ("code", "ilc_nope"), ("redirect_uri", REDIRECT), ("code_verifier", "x")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.json::<Value>().await.unwrap_or_default()["error"], "invalid_grant");
    // JWKS: every published key, with kid and alg.
    let jwks: Value = reqwest::get(s.url("/oauth2/jwks")).await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let algs: Vec<&str> = jwks["keys"].as_array().map(|k| k.iter().filter_map(|k| k["alg"].as_str()).collect()).unwrap_or_default();
    assert!(algs.contains(&"ES256") && algs.contains(&"EdDSA"), "{jwks}");
    assert!(jwks.to_string().find("\"d\"").is_none(), "no private part");
}

/// `prompt=login`: a session older than the request ends, and the login comes back to the consent page.
#[tokio::test]
async fn prompt_login_asks_for_a_fresh_login_and_comes_back_to_the_consent_page() {
    let s = crate::sqlite_server().await;
    let client_id = register(&s, JwsAlg::Es256).await;
    let phone = "13912340051";
    let mut c = FormClient::new(&s);
    let log_in = async |c: &mut FormClient<'_>| {
        let page = c.post("/h5/login", &[("phone", phone)]).await.text().await.unwrap_or_default();
        let challenge = between(&page, "name=\"challenge_id\" value=\"", "\"");
        let code = s.last_code(phone).await;
        let res = c.post("/h5/login/code", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await;
        location(&res)
    };
    assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
    assert_eq!(log_in(&mut c).await, "/h5/");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let url = idlink_core::oidc::provider::with_query(
        "/oauth2/authorize",
        &[
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "login"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ],
    );
    let page_path = location(&c.get(&url).await);
    assert!(page_path.starts_with("/h5/authorize/azr_"), "{page_path}");
    let res = c.get(&page_path).await;
    assert_eq!(location(&res), "/h5/login", "the older session does not satisfy prompt=login");
    assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
    assert_eq!(log_in(&mut c).await, page_path, "the fresh login comes back to the consent page");
    let page = c.get(&page_path).await.text().await.unwrap_or_default();
    assert!(page.contains("id=\"ordinary-claims\""), "{page}");
}

/// The `claims` parameter cannot reach past the client's registration: an
/// app allowed `name` only that asks for `birthdate` (in userinfo and the ID
/// token) sees it dropped — not on the consent page, not released. The page
/// is in the app's `ui_locales` (the first supported one), and its policy
/// lets the app's https logo show, from that origin only.
#[tokio::test]
async fn claims_outside_the_registration_are_never_shown_nor_released_and_the_page_speaks_ui_locales() {
    for s in servers().await {
        let client_id =
            register_with(&s, JwsAlg::Es256, "e2enameonly00000000000000", &["name"], Some("https://cdn.rp.example/logo.png")).await;
        let mut browser = FormClient::new(&s);
        verified_user(&mut browser, &s, "13912340071").await;
        let claims = json!({
            "userinfo": {"verified_claims": {"verification": {"trust_framework": null}, "claims": {"name": null, "birthdate": null}}},
            "id_token": {"verified_claims": {"verification": {"trust_framework": null}, "claims": {"birthdate": null}}, "phone_number": null}
        });
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let url = idlink_core::oidc::provider::with_query(
            "/oauth2/authorize",
            &[
                ("client_id", client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("claims", &claims.to_string()),
                ("ui_locales", "fr-CA en zh-CN"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
            ],
        );
        let page_path = location(&browser.get(&url).await);
        assert!(page_path.starts_with("/h5/authorize/azr_"), "{}: {page_path}", s.kind);
        let res = browser.get(&page_path).await;
        let csp = res.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(csp.contains("img-src 'self' data: https://cdn.rp.example;") && csp.contains("default-src 'none'"), "{csp}");
        let page = res.text().await.unwrap_or_default();
        assert!(page.contains("<html lang=\"en\""), "{}: ui_locales picks English (French is not offered)", s.kind);
        assert!(page.contains("src=\"https://cdn.rp.example/logo.png\""), "{}: the logo", s.kind);
        assert!(page.contains("Your verified real name"), "{}: {page}", s.kind);
        assert!(!page.contains("date of birth") && !page.contains("Your phone number"), "{}: not allowed, not shown: {page}", s.kind);
        // The language switch comes back with the visitor's choice winning.
        assert!(page.contains(&format!("name=\"back\" value=\"{page_path}?chosen=1\"")), "{page}");

        let res = browser.post(&page_path, &[("decision", "allow"), ("sensitive", "1")]).await;
        let back = res.text().await.unwrap_or_default();
        let to = unescape(&between(&back, "id=\"continue\" href=\"", "\""));
        let code = query_param(&to, "code").unwrap_or_else(|| panic!("{}: {back}", s.kind));
        let res = no_redirects()
            .post(s.url("/oauth2/token"))
            .basic_auth(&client_id, Some(SECRET))
            .form_body(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let tokens: Value = res.json().await.unwrap_or_default();
        let id_token: Value = tokens["id_token"]
            .as_str()
            .and_then(|t| t.split('.').nth(1))
            .and_then(|p| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        assert!(id_token["sub"].is_string(), "{id_token}");
        assert!(id_token.get("verified_claims").is_none() && id_token.get("phone_number").is_none(), "{}: {id_token}", s.kind);
        let userinfo = async || -> Value {
            no_redirects()
                .get(s.url("/oauth2/userinfo"))
                .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_default()
        };
        let info = userinfo().await;
        assert_eq!(info["verified_claims"]["claims"], json!({"name": "张三"}), "{}: the allowed claim only", s.kind);

        // The ID-number consent withdrawn on the H5 page: the real name is no longer released (issue 18).
        let res = browser.post("/h5/consents/id_number/withdraw", &[]).await;
        assert_eq!(res.status().as_u16(), 303, "{}", s.kind);
        let info = userinfo().await;
        assert!(info["sub"].is_string() && info.get("verified_claims").is_none(), "{}: {info}", s.kind);
    }
}

/// `/oauth2/authorize` and `/oauth2/token` are limited per address: over the
/// limit, 429 with `Retry-After` in the endpoint's own format (an HTML page,
/// never a redirect to the app; RFC 6749 JSON), checked before the client.
#[tokio::test]
async fn authorize_and_token_are_rate_limited_per_address_in_their_own_formats() {
    for db in crate::databases().await {
        let s =
            crate::start_with(db, &[("IDLINK__OIDC__AUTHORIZE_PER_IP_PER_MINUTE", "2"), ("IDLINK__OIDC__TOKEN_PER_IP_PER_MINUTE", "2")])
                .await;
        let client_id = register(&s, JwsAlg::Es256).await;
        let http = no_redirects();
        let authorize = idlink_core::oidc::provider::with_query(
            &s.url("/oauth2/authorize"),
            &[
                ("client_id", client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
            ],
        );
        // The windows are whole minutes: start well inside one.
        let second = jiff::Timestamp::now().as_second().rem_euclid(60);
        if second > 45 {
            tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(61 - second).unwrap_or(1))).await;
        }
        let mut statuses = Vec::new();
        let mut last = None;
        for _ in 0..3 {
            let res = http.get(&authorize).send().await.unwrap_or_else(|e| panic!("{e}"));
            statuses.push(res.status().as_u16());
            last = Some(res);
        }
        assert_eq!(statuses, [303, 303, 429], "{}", s.kind);
        let res = last.unwrap_or_else(|| panic!("three answers"));
        assert!(res.headers().get("location").is_none(), "{}: never a redirect", s.kind);
        let wait: u64 = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!((1..=60).contains(&wait), "{}: Retry-After {wait}", s.kind);
        assert!(res.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html")));

        let token = || {
            http.post(s.url("/oauth2/token"))
                .basic_auth(&client_id, Some("ics_wrong"))
                .form_body(&[
                    ("grant_type", "authorization_code"),
                    ("code", "ilc_nope"),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", "x"),
                ])
                .send()
        };
        let statuses = [token().await.map(|r| r.status().as_u16()).unwrap_or(0), token().await.map(|r| r.status().as_u16()).unwrap_or(0)];
        let res = token().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((statuses, res.status().as_u16()), ([401, 401], 429), "{}: counted before the client is checked", s.kind);
        assert!(res.headers().get("retry-after").is_some(), "{}", s.kind);
        assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let body: Value = res.json().await.unwrap_or_default();
        assert_eq!(body["error"], "temporarily_unavailable", "{}: {body}", s.kind);
    }
}
