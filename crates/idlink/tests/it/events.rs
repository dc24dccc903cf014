//! Security events to apps end to end (SPEC TP3, issue 14 item 6; ADR 0022):
//! a change committed in one store call reaches every app that held a grant
//! as a Standard Webhook (checked with the `standardwebhooks` crate, `v1a`
//! with ed25519-dalek), a pushed Security Event Token and a back-channel
//! logout token (both checked with `jwt-simple`, an independent JOSE stack);
//! a receiver down for an hour gets each event once afterwards; a 410
//! disables the endpoint; and a server stopped between the commit and the
//! delivery delivers after its restart. Apps, grants and webhook secrets are
//! written with SQL (secrets sealed with the server's vault), as the
//! provider and the registration would; the provider's own key signs.

use crate::{Server, databases, start_full, start_with};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::events::{Lifecycle, LifecycleType};
use idlink_core::ports::ids::RandomIds;
use idlink_crypto::OsRandom;
use idlink_domain::UserId;
use idlink_store::testing;
use jwt_simple::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got, and what it answered.
#[derive(Clone)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

/// An app's receivers (`/hook`, `/set`, `/logout`) on one port, answering `status`.
struct Receiver {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    /// Answers of `/hook` only (410 tests).
    hook_status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Self {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let hook_status = Arc::new(AtomicU16::new(0));
        let (h, st, hs) = (hits.clone(), status.clone(), hook_status.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (h, st, hs) = (h.clone(), st.clone(), hs.clone());
            async move {
                let mut answered = st.load(Ordering::SeqCst);
                if uri.path() == "/hook" && hs.load(Ordering::SeqCst) != 0 {
                    answered = hs.load(Ordering::SeqCst);
                }
                h.lock().unwrap_or_else(|p| p.into_inner()).push(Hit {
                    path: uri.path().to_owned(),
                    headers,
                    body: body.to_vec(),
                    answered,
                });
                StatusCode::from_u16(answered).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base: format!("http://{addr}"), hits, status, hook_status }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn delivered(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path && (200..300).contains(&h.answered)).collect()
    }

    /// Waits until `path` was answered with success `n` times.
    async fn wait_delivered(&self, path: &str, n: usize, within: Duration) -> Vec<Hit> {
        let start = Instant::now();
        loop {
            let got = self.delivered(path);
            if got.len() >= n || start.elapsed() > within {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What the app was given: its webhook secrets and the provider's key id.
struct App {
    whsec: String,
    ed25519_seed: [u8; 32],
}

fn header(h: &Hit, name: &str) -> String {
    h.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn sql(s: &Server, statement: &str) {
    let store = s.running.as_ref().map(|r| r.store.clone()).expect("running");
    testing::execute(&store, statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

async fn scalar(s: &Server, query: &str) -> String {
    let store = s.running.as_ref().map(|r| r.store.clone()).expect("running");
    testing::query_text(&store, query).await.unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// A blob literal in the server's SQL dialect.
fn blob(s: &Server, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if s.kind == "postgres" { format!("decode('{hex}', 'hex')") } else { format!("X'{hex}'") }
}

async fn seal(s: &Server, key_id: &str, context: &str, clear: &[u8]) -> Vec<u8> {
    let running = s.running.as_ref().expect("running");
    let key = running.vault.system_data_key::<idlink_core::users::UserError>(&running.store, key_id).await.expect("system key");
    running.vault.seal(&key, context, clear).expect("seal")
}

async fn new_user(s: &Server, phone: &str) -> UserId {
    let res = s.authed(Method::POST, "/v1/users").json(&json!({ "phone": phone })).send().await.expect("create user");
    let v: Value = res.json().await.expect("json");
    UserId::parse(v["id"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("user id in {v}: {e}"))
}

/// An app with a grant of `user` (granted at `granted_at`, µs), a webhook
/// endpoint with an HMAC and an Ed25519 secret, a push SSF stream and a
/// back-channel logout URI, all on `r`.
async fn app(s: &Server, r: &Receiver, client: &str, user: &UserId, granted_at: i64) -> App {
    let t = granted_at;
    let base = &r.base;
    sql(s, &format!(
        "INSERT INTO oauth_clients (id, name, kind, auth_method, allowed_scopes, allowed_claims, id_token_alg, backchannel_logout_uri,
             backchannel_logout_session_required, introspect_any, state, created_at, updated_at)
         VALUES ('{client}', 'Shop', 'confidential', 'client_secret_basic', '[\"openid\"]', '[]', 'ES256', '{base}/logout', 0, 0, 'active', {t}, {t})"
    )).await;
    sql(s, &format!("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES ('{client}', 'pairwise-{client}', '{user}')")).await;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at)
         VALUES ('grt_{client}', '{user}', '{client}', '[\"openid\"]', '[]', 'active', {t}, {t})"
        ),
    )
    .await;
    sql(s, &format!(
        "INSERT INTO webhook_endpoints (id, client_id, url, event_types, state, created_at) VALUES ('whe_{client}', '{client}', '{base}/hook', '[]', 'enabled', {t})"
    )).await;
    let mut raw = [0u8; 24];
    idlink_crypto::Random::fill(&OsRandom, &mut raw);
    let whsec = format!("whsec_{}", B64.encode(raw));
    let sealed = seal(s, idlink_core::events::WEBHOOK_KEY_ID, &format!("webhook_secrets:whs_{client}_1"), whsec.as_bytes()).await;
    sql(
        s,
        &format!(
            "INSERT INTO webhook_secrets (id, client_id, kind, secret, created_at) VALUES ('whs_{client}_1', '{client}', 'hmac', {}, {t})",
            blob(s, &sealed)
        ),
    )
    .await;
    let mut ed25519_seed = [0u8; 32];
    idlink_crypto::Random::fill(&OsRandom, &mut ed25519_seed);
    let sealed = seal(s, idlink_core::events::WEBHOOK_KEY_ID, &format!("webhook_secrets:whs_{client}_2"), &ed25519_seed).await;
    sql(s, &format!(
        "INSERT INTO webhook_secrets (id, client_id, kind, secret, created_at) VALUES ('whs_{client}_2', '{client}', 'ed25519', {}, {t})",
        blob(s, &sealed)
    )).await;
    let types = serde_json::to_string(&idlink_core::events::map::set_types_supported()).expect("json");
    sql(s, &format!(
        "INSERT INTO ssf_streams (id, client_id, aud, method, endpoint_url, events_requested, events_delivered, status, created_at, updated_at)
         VALUES ('sst_{client}', '{client}', '{client}', 'urn:ietf:rfc:8935', '{base}/set', '{types}', '{types}', 'enabled', {t}, {t})"
    )).await;
    App { whsec, ed25519_seed }
}

/// Freezes the account as the risk rules do: the freeze, the grants
/// suspended and the lifecycle event, in one store call.
async fn freeze(s: &Server, user: &UserId, now: jiff::Timestamp) {
    use idlink_core::ports::freezes::FreezeStore;
    use idlink_core::ports::reviews::{CaseKind, CaseRow};
    let running = s.running.as_ref().expect("running");
    let ids = RandomIds(Arc::new(OsRandom));
    let case = CaseRow::open(&ids, CaseKind::RiskFreeze, user, user.as_str(), 2, jiff::SignedDuration::from_mins(5), now);
    let lifecycle = Lifecycle {
        kind: LifecycleType::AccountDisabled,
        user: user.clone(),
        at: now,
        actor: "system".into(),
        client: None,
        sessions: Vec::new(),
        reason: Some("risk".into()),
    };
    let event = idlink_core::events::lifecycle_store_event(&running.vault, &ids, &lifecycle).expect("event");
    let audit = idlink_core::ports::audit::AuditEntry::new("system:risk", "account.freeze", "risk", now).subject(user);
    assert!(running.store.freeze(user, "burst", &case, &event, &audit).await.expect("freeze"));
}

/// Checks a compact JWS with jwt-simple against the provider's published
/// key (by `kid`) and the explicit `typ`, and returns its claims.
async fn verify_jwt(s: &Server, token: &str, typ: &str, now: Option<i64>) -> Value {
    let meta = Token::decode_metadata(token).expect("metadata");
    let kid = meta.key_id().expect("kid").to_owned();
    let jwk: Value =
        serde_json::from_str(&scalar(s, &format!("SELECT public_jwk FROM oidc_signing_keys WHERE kid = '{kid}'")).await).expect("jwk");
    let coord = |k: &str| B64URL.decode(jwk[k].as_str().unwrap_or_default()).expect("coordinate");
    let mut sec1 = vec![4u8];
    sec1.extend(coord("x"));
    sec1.extend(coord("y"));
    let key = ES256PublicKey::from_bytes(&sec1).expect("ES256 key");
    let options = VerificationOptions {
        required_signature_type: Some(typ.to_owned()),
        allowed_issuers: Some(std::collections::HashSet::from([s.base.clone()])),
        artificial_time: now.map(|n| UnixTimeStamp::from_secs(u64::try_from(n).unwrap_or(0))),
        ..VerificationOptions::default()
    };
    let claims = key.verify_token::<Value>(token, Some(options)).unwrap_or_else(|e| panic!("{typ} does not verify: {e}"));
    let mut all = claims.custom.clone();
    let obj = all.as_object_mut().expect("object");
    obj.insert("iss".into(), json!(claims.issuer));
    obj.insert("jti".into(), json!(claims.jwt_id));
    obj.insert("sub".into(), json!(claims.subject));
    obj.insert("exp".into(), json!(claims.expires_at.map(|t| t.as_secs())));
    obj.insert("aud".into(), json!(claims.audiences.map(|a| a.into_set().into_iter().collect::<Vec<_>>())));
    all
}

fn verify_v1a(app: &App, hit: &Hit) {
    use ed25519_dalek::Verifier;
    // No published crate verifies v1a: the check is the spec's, Ed25519 over `id.timestamp.body`.
    let sig = header(hit, "webhook-signature");
    let v1a = sig.split(' ').find_map(|e| e.strip_prefix("v1a,")).expect("a v1a signature");
    let sig = ed25519_dalek::Signature::from_slice(&B64.decode(v1a).expect("base64")).expect("signature");
    let key = ed25519_dalek::SigningKey::from_bytes(&app.ed25519_seed).verifying_key();
    let mut message = format!("{}.{}.", header(hit, "webhook-id"), header(hit, "webhook-timestamp")).into_bytes();
    message.extend_from_slice(&hit.body);
    key.verify(&message, &sig).expect("v1a verifies");
}

const FAST: [(&str, &str); 1] = [("IDLINK__OUTBOX__POLL_MS", "50")];

#[tokio::test]
async fn a_freeze_reaches_the_app_as_a_signed_webhook_a_set_and_a_logout_token() {
    for db in databases().await {
        let s = start_with(db, &FAST).await;
        let r = Receiver::start().await;
        let user = new_user(&s, "13800138101").await;
        let now = s.running.as_ref().expect("running").clock.now();
        let app = app(&s, &r, "cli_shop", &user, now.as_microsecond() - 1_000_000).await;
        // A grant created after the event must not get it.
        let late = app_late(&s, &user, now.as_microsecond() + 60_000_000).await;
        freeze(&s, &user, now).await;
        assert_eq!(scalar(&s, "SELECT state FROM oauth_grants WHERE id = 'grt_cli_shop'").await, "suspended", "{}", s.kind);

        let hooks = r.wait_delivered("/hook", 1, Duration::from_secs(20)).await;
        let sets = r.wait_delivered("/set", 1, Duration::from_secs(20)).await;
        let logouts = r.wait_delivered("/logout", 1, Duration::from_secs(20)).await;
        assert_eq!((hooks.len(), sets.len(), logouts.len()), (1, 1, 1), "{}: one of each", s.kind);

        // The webhook: the published verifier accepts v1, v1a checks, no personal data.
        let hook = &hooks[0];
        let wh = standardwebhooks::Webhook::new(&app.whsec).expect("secret");
        wh.verify(&hook.body, &hook.headers).unwrap_or_else(|e| panic!("{}: v1 does not verify: {e:?}", s.kind));
        verify_v1a(&app, hook);
        let body: Value = serde_json::from_slice(&hook.body).expect("json");
        assert_eq!(body["type"], "account.disabled");
        assert_eq!(body["data"]["sub"], "pairwise-cli_shop");
        assert!(!String::from_utf8_lossy(&hook.body).contains("13800138101"));
        assert!(!String::from_utf8_lossy(&hook.body).contains(user.as_str()), "{}: the user id never leaves", s.kind);

        // The SET (RFC 8417, RISC account-disabled, SSF sub_id, no exp).
        let set = &sets[0];
        assert_eq!(header(set, "content-type"), "application/secevent+jwt");
        let claims = verify_jwt(&s, &String::from_utf8_lossy(&set.body), "secevent+jwt", None).await;
        assert_eq!(claims["aud"], json!(["cli_shop"]));
        assert_eq!(claims["sub_id"], json!({"format": "iss_sub", "iss": s.base, "sub": "pairwise-cli_shop"}));
        assert!(claims["events"]["https://schemas.openid.net/secevent/risc/event-type/account-disabled"].is_object(), "{claims}");
        assert_eq!(claims["exp"], Value::Null, "a SET has no exp");
        assert_eq!(claims["sub"], Value::Null, "a SET has no top-level sub");
        assert_eq!(claims["txn"], body["data"]["event_id"], "one change, one reference for this app");

        // The logout token (OIDC Back-Channel Logout 1.0).
        let form = String::from_utf8_lossy(&logouts[0].body).into_owned();
        let token = form.strip_prefix("logout_token=").expect("form");
        let claims = verify_jwt(&s, token, "logout+jwt", None).await;
        assert_eq!(claims["sub"], "pairwise-cli_shop");
        assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
        assert!(claims["exp"].is_u64() && claims.get("nonce").is_none());

        // Receipts: delivered, one per channel; the late app got nothing.
        assert_eq!(
            scalar(&s, &format!("SELECT COUNT(*) FROM event_deliveries WHERE user_id = '{user}' AND state = 'delivered'")).await,
            "3",
            "{}",
            s.kind
        );
        assert_eq!(scalar(&s, &format!("SELECT COUNT(*) FROM event_deliveries WHERE client_id = '{late}'")).await, "0");
    }
}

/// A second app whose grant postdates the event.
async fn app_late(s: &Server, user: &UserId, granted_at: i64) -> String {
    let client = "cli_late";
    let t = granted_at;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_clients (id, name, kind, auth_method, allowed_scopes, allowed_claims, id_token_alg,
             backchannel_logout_session_required, introspect_any, state, created_at, updated_at)
         VALUES ('{client}', 'Late', 'confidential', 'client_secret_basic', '[]', '[]', 'ES256', 0, 0, 'active', {t}, {t})"
        ),
    )
    .await;
    sql(s, &format!("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES ('{client}', 'pairwise-late', '{user}')")).await;
    sql(
        s,
        &format!(
            "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at)
         VALUES ('grt_{client}', '{user}', '{client}', '[]', '[]', 'active', {t}, {t})"
        ),
    )
    .await;
    sql(s, &format!(
        "INSERT INTO webhook_endpoints (id, client_id, url, event_types, state, created_at) VALUES ('whe_{client}', '{client}', 'http://127.0.0.1:9/x', '[]', 'enabled', {t})"
    )).await;
    client.to_owned()
}

#[tokio::test]
async fn a_receiver_down_for_an_hour_gets_every_event_once_afterwards() {
    let db = testing::sqlite().await.expect("sqlite");
    let start = jiff::Timestamp::from_second(1_790_000_000).expect("time");
    let clock = Arc::new(ManualClock::new(start));
    let rt = Runtime { clock: clock.clone(), rng: Arc::new(OsRandom) };
    let s = start_full(db, &FAST, rt).await;
    let r = Receiver::start().await;
    let user = new_user(&s, "13800138102").await;
    let app = app(&s, &r, "cli_down", &user, start.as_microsecond() - 1_000_000).await;
    r.status.store(503, Ordering::SeqCst);
    freeze(&s, &user, start).await;
    // The first attempts fail.
    let t0 = Instant::now();
    while r.hits().iter().filter(|h| h.path == "/hook").count() < 1 && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An hour of outage, minute by minute: the retries follow the schedule and fail.
    for _ in 0..60 {
        clock.advance(jiff::SignedDuration::from_mins(1));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let failed = r.hits().iter().filter(|h| h.path == "/hook").count();
    assert!((2..=5).contains(&failed), "retries follow the schedule, not every poll: {failed}");
    // Back up: within the next slots of the schedule everything arrives.
    r.status.store(200, Ordering::SeqCst);
    for _ in 0..36 {
        clock.advance(jiff::SignedDuration::from_mins(5));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let hooks = r.wait_delivered("/hook", 1, Duration::from_secs(10)).await;
    let sets = r.wait_delivered("/set", 1, Duration::from_secs(10)).await;
    let logouts = r.wait_delivered("/logout", 1, Duration::from_secs(10)).await;
    assert_eq!((hooks.len(), sets.len(), logouts.len()), (1, 1, 1), "each event once after the outage");
    // The same webhook-id on every attempt; the signature checked against the
    // published signer (verify() reads the wall clock, and this server's clock was moved).
    let ids: std::collections::BTreeSet<String> = r.hits().iter().filter(|h| h.path == "/hook").map(|h| header(h, "webhook-id")).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let hook = &hooks[0];
    let ts: i64 = header(hook, "webhook-timestamp").parse().expect("timestamp");
    assert!(ts > start.as_second() + 3600, "signed at the attempt, not at the event");
    let expected =
        standardwebhooks::Webhook::new(&app.whsec).expect("secret").sign(&header(hook, "webhook-id"), ts, &hook.body).expect("sign");
    assert!(header(hook, "webhook-signature").split(' ').any(|e| e == expected), "v1 matches the published signer");
    verify_v1a(&app, hook);
    // The SET keeps its jti over retries; verified at the moved time.
    let jtis: std::collections::BTreeSet<String> =
        r.hits().iter().filter(|h| h.path == "/set").map(|h| String::from_utf8_lossy(&h.body).into_owned()).collect();
    let now = s.running.as_ref().expect("running").clock.now().as_second();
    let claims = verify_jwt(&s, &String::from_utf8_lossy(&sets[0].body), "secevent+jwt", Some(now)).await;
    assert!(jtis.len() >= 2 && claims["jti"].is_string(), "several attempts of one SET");
    let attempts = scalar(&s, &format!("SELECT attempts FROM event_deliveries WHERE channel = 'webhook' AND user_id = '{user}'")).await;
    assert_eq!(attempts, failed.saturating_add(1).to_string(), "the receipt counts every attempt");
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_later_events_skip_it() {
    let db = testing::sqlite().await.expect("sqlite");
    let s = start_with(db, &FAST).await;
    let r = Receiver::start().await;
    let user = new_user(&s, "13800138103").await;
    let now = s.running.as_ref().expect("running").clock.now();
    app(&s, &r, "cli_gone", &user, now.as_microsecond() - 1_000_000).await;
    r.hook_status.store(410, Ordering::SeqCst);
    freeze(&s, &user, now).await;
    r.wait_delivered("/set", 1, Duration::from_secs(20)).await;
    let t0 = Instant::now();
    while scalar(&s, "SELECT state FROM webhook_endpoints WHERE id = 'whe_cli_gone'").await != "disabled"
        && t0.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scalar(&s, "SELECT disabled_reason FROM webhook_endpoints WHERE id = 'whe_cli_gone'").await, "gone_410");
    assert_eq!(scalar(&s, "SELECT state FROM event_deliveries WHERE channel = 'webhook'").await, "gone");
    let audited = scalar(&s, "SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.endpoint_disabled'").await;
    assert_eq!(audited, "1");
    assert_eq!(r.hits().iter().filter(|h| h.path == "/hook").count(), 1, "a 410 is not retried");
}

#[tokio::test]
async fn a_server_stopped_between_commit_and_delivery_delivers_after_restart() {
    let db = testing::sqlite().await.expect("sqlite");
    // The worker looks once at start, then not for ten minutes: the event waits in the outbox.
    let mut s = start_with(db, &[("IDLINK__OUTBOX__POLL_MS", "600000")]).await;
    let r = Receiver::start().await;
    let user = new_user(&s, "13800138104").await;
    let now = s.running.as_ref().expect("running").clock.now();
    app(&s, &r, "cli_crash", &user, now.as_microsecond() - 1_000_000).await;
    freeze(&s, &user, now).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(r.hits().is_empty(), "nothing is sent inline");
    s.restart(|c| c.outbox.poll_ms = 50).await;
    let hooks = r.wait_delivered("/hook", 1, Duration::from_secs(20)).await;
    assert_eq!(hooks.len(), 1, "the committed event arrives after the restart");
}

/// The SSF transmitter as a receiver uses it: discovery, a poll stream,
/// verification, a lifecycle SET polled and acknowledged, one stream per client.
#[tokio::test]
async fn an_ssf_receiver_creates_a_poll_stream_verifies_it_and_polls_events() {
    let db = testing::sqlite().await.expect("sqlite");
    let s = start_with(db, &FAST).await;
    let r = Receiver::start().await;
    let user = new_user(&s, "13800138105").await;
    let now = s.running.as_ref().expect("running").clock.now();
    app(&s, &r, "cli_ssf", &user, now.as_microsecond() - 1_000_000).await;
    // This app listens by polling only.
    sql(&s, "DELETE FROM ssf_streams WHERE client_id = 'cli_ssf'").await;
    sql(&s, "DELETE FROM webhook_endpoints WHERE client_id = 'cli_ssf'").await;
    sql(&s, "UPDATE oauth_clients SET backchannel_logout_uri = NULL WHERE id = 'cli_ssf'").await;
    sql(
        &s,
        &format!(
            "INSERT INTO oauth_client_secrets (id, client_id, secret_hash, created_at) VALUES ('ocs_1', 'cli_ssf', '{}', 0)",
            idlink_core::oidc::secret_hash("ics_receiver")
        ),
    )
    .await;
    let c = reqwest::Client::new();
    let conf: Value = c.get(s.url("/.well-known/ssf-configuration")).send().await.expect("conf").json().await.expect("json");
    assert_eq!(conf["spec_version"], "1_0");
    assert_eq!(conf["issuer"], s.base);

    let bad = c.post(s.url("/ssf/streams")).basic_auth("cli_ssf", Some("wrong")).json(&json!({})).send().await.expect("post");
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get("www-authenticate").is_some());
    let disabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    let create = json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": [disabled, "urn:example:unknown"]});
    let res = c.post(s.url("/ssf/streams")).basic_auth("cli_ssf", Some("ics_receiver")).json(&create).send().await.expect("create");
    assert_eq!(res.status(), 201);
    let stream: Value = res.json().await.expect("json");
    assert_eq!(stream["events_delivered"], json!([disabled]));
    let id = stream["stream_id"].as_str().expect("id").to_owned();
    assert_eq!(stream["delivery"]["endpoint_url"], format!("{}/ssf/poll/{id}", s.base));
    let again = c.post(s.url("/ssf/streams")).basic_auth("cli_ssf", Some("ics_receiver")).json(&create).send().await.expect("again");
    assert_eq!(again.status(), 409, "one stream per client");

    let v = c
        .post(s.url("/ssf/verify"))
        .basic_auth("cli_ssf", Some("ics_receiver"))
        .json(&json!({"stream_id": id, "state": "abc"}))
        .send()
        .await;
    assert_eq!(v.expect("verify").status(), 204);
    freeze(&s, &user, s.running.as_ref().expect("running").clock.now()).await;
    // The fan-out runs in the background: poll until both wait.
    let poll_url = s.url(&format!("/ssf/poll/{id}"));
    let t0 = Instant::now();
    let polled = loop {
        let p: Value = c
            .post(&poll_url)
            .basic_auth("cli_ssf", Some("ics_receiver"))
            .json(&json!({"returnImmediately": true}))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        if p["sets"].as_object().map_or(0, |m| m.len()) >= 2 || t0.elapsed() > Duration::from_secs(20) {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sets = polled["sets"].as_object().expect("sets").clone();
    assert_eq!(sets.len(), 2, "{polled}");
    let mut seen = Vec::new();
    for (jti, set) in &sets {
        let claims = verify_jwt(&s, set.as_str().expect("set"), "secevent+jwt", None).await;
        assert_eq!(claims["jti"], json!(jti));
        seen.extend(claims["events"].as_object().expect("events").keys().cloned());
        if claims["events"].get(disabled).is_some() {
            assert_eq!(claims["sub_id"]["sub"], "pairwise-cli_ssf");
        }
    }
    seen.sort();
    assert_eq!(seen, [disabled, "https://schemas.openid.net/secevent/ssf/event-type/verification"]);
    let acks: Vec<&String> = sets.keys().collect();
    let p: Value = c
        .post(&poll_url)
        .basic_auth("cli_ssf", Some("ics_receiver"))
        .json(&json!({"ack": acks}))
        .send()
        .await
        .expect("ack")
        .json()
        .await
        .expect("json");
    assert_eq!(p["sets"], json!({}), "acknowledged SETs are not polled again");
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM event_deliveries WHERE client_id = 'cli_ssf' AND state = 'delivered'").await, "2");

    let del = c.delete(s.url(&format!("/ssf/streams?stream_id={id}"))).basic_auth("cli_ssf", Some("ics_receiver")).send().await;
    assert_eq!(del.expect("delete").status(), 204);
}
