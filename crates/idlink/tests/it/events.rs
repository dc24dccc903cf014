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
pub(crate) struct Hit {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    answered: u16,
}

/// An app's receivers (`/hook`, `/set`, `/logout`) on one port, answering `status`.
pub(crate) struct Receiver {
    pub(crate) base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    /// Answers of `/hook` only (410 tests).
    hook_status: Arc<AtomicU16>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
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

    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn delivered(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path && (200..300).contains(&h.answered)).collect()
    }

    /// Waits until `path` was answered with success `n` times.
    pub(crate) async fn wait_delivered(&self, path: &str, n: usize, within: Duration) -> Vec<Hit> {
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
pub(crate) struct App {
    whsec: String,
    ed25519_seed: [u8; 32],
}

pub(crate) fn header(h: &Hit, name: &str) -> String {
    h.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

pub(crate) async fn sql(s: &Server, statement: &str) {
    let store = s.running.as_ref().map(|r| r.store.clone()).expect("running");
    testing::execute(&store, statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

async fn insert(s: &Server, app: &testing::AppFixture<'_>) {
    let store = s.running.as_ref().map(|r| r.store.clone()).expect("running");
    app.insert(&store).await.unwrap_or_else(|e| panic!("{e}"));
}

pub(crate) async fn scalar(s: &Server, query: &str) -> String {
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
pub(crate) async fn app(s: &Server, r: &Receiver, client: &str, user: &UserId, granted_at: i64) -> App {
    let t = granted_at;
    let base = &r.base;
    let (logout, hook, sub) = (format!("{base}/logout"), format!("{base}/hook"), format!("pairwise-{client}"));
    let fixture = testing::AppFixture {
        client,
        name: "Shop",
        user: user.as_str(),
        sub: &sub,
        scopes: "[\"openid\"]",
        logout_uri: Some(&logout),
        session_required: false,
        webhook_url: Some(&hook),
        at_micros: t,
    };
    insert(s, &fixture).await;
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
    let fixture = testing::AppFixture {
        client,
        name: "Late",
        user: user.as_str(),
        sub: "pairwise-late",
        scopes: "[]",
        logout_uri: None,
        session_required: false,
        webhook_url: Some("http://127.0.0.1:9/x"),
        at_micros: granted_at,
    };
    insert(s, &fixture).await;
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
    assert_eq!(wait_for(&s, "SELECT state FROM event_deliveries WHERE channel = 'webhook'", "gone").await, "gone");
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

/// A request of the host backend with the apps scopes (`clients:read`, `clients:write`).
async fn host(s: &Server, method: Method, path: &str) -> reqwest::RequestBuilder {
    let key = crate::grants::apps_key(s).await;
    reqwest::Client::new().request(method, s.url(path)).bearer_auth(key)
}

/// A form body (the test values need no escaping but spaces).
trait FormBody {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", v.replace(' ', "+"))).collect();
        self.header("content-type", "application/x-www-form-urlencoded").body(body.join("&"))
    }
}

/// Adds a client secret `secret` to `client` (its hash, as registration writes it).
async fn client_secret(s: &Server, client: &str, secret: &str) {
    let hash = idlink_core::oidc::secret_hash(secret);
    sql(
        s,
        &format!(
            "INSERT INTO oauth_client_secrets (id, client_id, secret_hash, created_at) VALUES ('ocs_{client}', '{client}', '{hash}', 0)"
        ),
    )
    .await;
}

/// A `client_credentials` token with scope `ssf` (RFC 6749 §4.4).
async fn ssf_token(s: &Server, client: &str, secret: &str) -> String {
    let res = reqwest::Client::new()
        .post(s.url("/oauth2/token"))
        .basic_auth(client, Some(secret))
        .form_pairs(&[("grant_type", "client_credentials"), ("scope", "ssf")])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200, "{}", s.kind);
    let body: Value = res.json().await.expect("json");
    body["access_token"].as_str().expect("access_token").to_owned()
}

/// OpenID SSF 1.0 §7.1.1 with `authorization_schemes` urn:ietf:rfc:6749:
/// a confidential app gets a `client_credentials` token of scope `ssf` (no
/// user, no refresh token, no ID token) and manages its stream with it;
/// a bad bearer is a 401 with a Bearer challenge (the OIDF
/// InvalidAccessToken module); HTTP Basic still works; userinfo refuses
/// the user-less token; disabling the app ends it.
#[tokio::test]
async fn ssf_stream_management_takes_a_client_credentials_token() {
    for db in databases().await {
        let s = start_with(db, &FAST).await;
        let c = reqwest::Client::new();
        let res = host(&s, Method::POST, "/v1/oauth/clients")
            .await
            .json(&json!({"name": "Receiver", "redirect_uris": ["https://rp.example.com/cb"]}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201, "{}", s.kind);
        let reg: Value = res.json().await.expect("json");
        let client = reg["client"]["client_id"].as_str().expect("client_id").to_owned();
        let secret = reg["client_secret"].as_str().expect("secret").to_owned();

        let discovery: Value = c.get(s.url("/.well-known/openid-configuration")).send().await.expect("d").json().await.expect("json");
        assert!(discovery["grant_types_supported"].as_array().is_some_and(|g| g.contains(&json!("client_credentials"))));

        let token = |scope: Option<&'static str>| {
            let mut form = vec![("grant_type", "client_credentials")];
            form.extend(scope.map(|sc| ("scope", sc)));
            c.post(s.url("/oauth2/token")).basic_auth(&client, Some(&secret)).form_pairs(&form).send()
        };
        let res = token(Some("ssf")).await.expect("token");
        assert_eq!(res.status(), 200, "{}", s.kind);
        let body: Value = res.json().await.expect("json");
        assert_eq!((body["token_type"].as_str(), body["scope"].as_str()), (Some("Bearer"), Some("ssf")), "{body}");
        assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");
        let bearer = body["access_token"].as_str().expect("access_token").to_owned();
        // No scope: the default, ssf. Any other scope: invalid_scope.
        assert_eq!(token(None).await.expect("token").status(), 200);
        for bad in ["openid", "ssf openid", "phone"] {
            let res = token(Some(bad)).await.expect("token");
            assert_eq!(res.status(), 400, "{bad}");
            let e: Value = res.json().await.expect("json");
            assert_eq!(e["error"], "invalid_scope", "{bad}");
        }
        let hash = idlink_core::oidc::secret_hash(&bearer);
        let user = scalar(&s, &format!("SELECT COALESCE(user_id, 'none') FROM oauth_access_tokens WHERE token_hash = '{hash}'")).await;
        assert_eq!(user, "none", "{}: the token has no user", s.kind);
        let audited =
            scalar(&s, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'oauth.token' AND actor = 'client:{client}'")).await;
        assert_eq!(audited, "2", "{}: every issuance audited", s.kind);

        // Introspection: active, the client's, no sub. Userinfo: refused.
        let intro: Value = c
            .post(s.url("/oauth2/introspect"))
            .basic_auth(&client, Some(&secret))
            .form_pairs(&[("token", bearer.as_str())])
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("json");
        assert_eq!((intro["active"].as_bool(), intro["scope"].as_str()), (Some(true), Some("ssf")), "{intro}");
        assert!(intro.get("sub").is_none(), "{intro}");
        let info = c.get(s.url("/oauth2/userinfo")).bearer_auth(&bearer).send().await.expect("userinfo");
        assert_eq!(info.status(), 401, "{}: userinfo refuses a token without a user", s.kind);

        // The stream, managed with the bearer token.
        let create = json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": []});
        let res = c.post(s.url("/ssf/streams")).bearer_auth(&bearer).json(&create).send().await.expect("create");
        assert_eq!(res.status(), 201, "{}", s.kind);
        let stream: Value = res.json().await.expect("json");
        let id = stream["stream_id"].as_str().expect("id").to_owned();
        let read = c.get(s.url(&format!("/ssf/streams?stream_id={id}"))).bearer_auth(&bearer).send().await.expect("read");
        assert_eq!(read.status(), 200);
        // HTTP Basic keeps working.
        let read = c.get(s.url(&format!("/ssf/streams/status?stream_id={id}"))).basic_auth(&client, Some(&secret)).send().await;
        assert_eq!(read.expect("status").status(), 200);
        // A bad bearer: 401 with a Bearer challenge; no credentials: both schemes offered.
        let bad = c.get(s.url("/ssf/streams")).bearer_auth("ila_not-a-token").send().await.expect("bad");
        assert_eq!(bad.status(), 401);
        let challenge = bad.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
        let none = c.get(s.url("/ssf/streams")).send().await.expect("none");
        assert_eq!(none.status(), 401);
        let schemes: Vec<String> =
            none.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        assert!(schemes.iter().any(|v| v.starts_with("Bearer")) && schemes.iter().any(|v| v.starts_with("Basic")), "{schemes:?}");
        // A user's token (no ssf scope) is not enough: 403 insufficient_scope.
        let t = now_micros(&s);
        sql(&s, &format!(
            "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, scope, created_at, expires_at) VALUES ('{}', '{client}', NULL, NULL, 'openid', {t}, {})",
            idlink_core::oidc::secret_hash("ila_openid_only"), t + 600_000_000
        )).await;
        let res = c.get(s.url("/ssf/streams")).bearer_auth("ila_openid_only").send().await.expect("scope");
        assert_eq!(res.status(), 403, "{}", s.kind);
        // A user's live token, even one naming the scope, is valid but the user's, not the app's:
        // 403 insufficient_scope (RFC 6750 §3.1), not 401.
        let owner = new_user(&s, "13800138119").await;
        sql(&s, &format!(
            "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at) VALUES ('grt_ssf_user', '{owner}', '{client}', '[\"openid\"]', '[]', 'active', {t}, {t})"
        )).await;
        sql(&s, &format!(
            "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, scope, created_at, expires_at) VALUES ('{}', '{client}', '{owner}', 'grt_ssf_user', 'openid ssf', {t}, {})",
            idlink_core::oidc::secret_hash("ila_users_token"), t + 600_000_000
        )).await;
        let res = c.get(s.url("/ssf/streams")).bearer_auth("ila_users_token").send().await.expect("user token");
        assert_eq!(res.status(), 403, "{}", s.kind);
        let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(challenge.contains("insufficient_scope"), "{challenge}");

        // The app disabled by the host: its token is dead at once.
        let res = host(&s, Method::PATCH, &format!("/v1/oauth/clients/{client}")).await.json(&json!({"state": "disabled"})).send().await;
        assert_eq!(res.expect("disable").status(), 200);
        let res = c.get(s.url("/ssf/streams")).bearer_auth(&bearer).send().await.expect("after");
        assert_eq!(res.status(), 401, "{}", s.kind);
        // A public client may not use the grant.
        let res = host(&s, Method::POST, "/v1/oauth/clients")
            .await
            .json(&json!({"name": "Phone app", "redirect_uris": ["https://rp.example.com/cb"], "kind": "public"}))
            .send()
            .await
            .expect("register");
        let public: Value = res.json().await.expect("json");
        let public = public["client"]["client_id"].as_str().expect("client_id").to_owned();
        let res = c
            .post(s.url("/oauth2/token"))
            .form_pairs(&[("grant_type", "client_credentials"), ("client_id", public.as_str())])
            .send()
            .await
            .expect("token");
        let e: Value = res.json().await.expect("json");
        assert_eq!(e["error"], "unauthorized_client", "{}", s.kind);
    }
}

fn now_micros(s: &Server) -> i64 {
    s.running.as_ref().expect("running").clock.now().as_microsecond()
}

/// Waits until `query` answers `want` (the outbox works in the background).
async fn wait_for(s: &Server, query: &str, want: &str) -> String {
    let t0 = Instant::now();
    loop {
        let got = scalar(s, query).await;
        if got == want || t0.elapsed() > Duration::from_secs(20) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SSF 1.0 §8.1.2 and §8.1.5 with a push stream: a PATCH keeps what it did
/// not send (the authorization header); a status the stream has already is
/// answered with the stored one and writes nothing; paused holds a SET and
/// enabling sends it at once; the transmitter disabling the stream (the
/// host disabled the app) pushes a signed stream-updated SET first.
#[tokio::test]
async fn ssf_status_follows_the_spec_and_the_transmitter_announces_its_changes() {
    for db in databases().await {
        let s = start_with(db, &FAST).await;
        let r = Receiver::start().await;
        let c = reqwest::Client::new();
        let user = new_user(&s, "13800138106").await;
        app(&s, &r, "cli_status", &user, now_micros(&s) - 1_000_000).await;
        sql(&s, "DELETE FROM ssf_streams WHERE client_id = 'cli_status'").await;
        sql(&s, "DELETE FROM webhook_endpoints WHERE client_id = 'cli_status'").await;
        sql(&s, "UPDATE oauth_clients SET backchannel_logout_uri = NULL WHERE id = 'cli_status'").await;
        client_secret(&s, "cli_status", "ics_status").await;
        let bearer = ssf_token(&s, "cli_status", "ics_status").await;
        let disabled_type = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
        let create = json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": format!("{}/set", r.base), "authorization_header": "Bearer rx-secret"},
            "events_requested": [disabled_type],
        });
        let stream: Value =
            c.post(s.url("/ssf/streams")).bearer_auth(&bearer).json(&create).send().await.expect("c").json().await.expect("j");
        let id = stream["stream_id"].as_str().expect("id").to_owned();

        // PATCH a new endpoint only: the authorization header stays.
        let patch = json!({"stream_id": id, "delivery": {"endpoint_url": format!("{}/set2", r.base)}});
        let res = c.patch(s.url("/ssf/streams")).bearer_auth(&bearer).json(&patch).send().await.expect("patch");
        assert_eq!(res.status(), 200, "{}", s.kind);
        let patched: Value = res.json().await.expect("json");
        assert_eq!(patched["delivery"]["method"], "urn:ietf:rfc:8935", "{patched}");
        assert_eq!(patched["events_requested"], json!([disabled_type]), "{patched}");
        let verify = c.post(s.url("/ssf/verify")).bearer_auth(&bearer).json(&json!({"stream_id": id})).send().await.expect("verify");
        assert_eq!(verify.status(), 204);
        let got = r.wait_delivered("/set2", 1, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 1, "{}", s.kind);
        assert_eq!(header(&got[0], "authorization"), "Bearer rx-secret", "{}: the PATCH kept the header", s.kind);

        // Pause; pausing again changes nothing and writes nothing.
        let status = |status: &'static str| {
            c.post(s.url("/ssf/streams/status"))
                .bearer_auth(&bearer)
                .json(&json!({"stream_id": id, "status": status, "reason": "maintenance"}))
                .send()
        };
        assert_eq!(status("paused").await.expect("pause").status(), 200);
        let again = status("paused").await.expect("pause again");
        assert_eq!(again.status(), 200);
        let body: Value = again.json().await.expect("json");
        assert_eq!((body["status"].as_str(), body["reason"].as_str()), (Some("paused"), Some("maintenance")), "{body}");
        let audited = scalar(&s, "SELECT COUNT(*) FROM audit_log WHERE action = 'ssf.stream_status'").await;
        assert_eq!(audited, "1", "{}: the same status is no change", s.kind);

        // Paused: the event is held; enabled: it goes at once.
        freeze(&s, &user, s.running.as_ref().expect("running").clock.now()).await;
        wait_for(&s, "SELECT COUNT(*) FROM event_deliveries WHERE client_id = 'cli_status' AND channel = 'set_push' AND event_type = 'account.disabled'", "1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(r.delivered("/set2").len() == 1, "{}: nothing pushed while paused", s.kind);
        assert_eq!(status("enabled").await.expect("enable").status(), 200);
        let got = r.wait_delivered("/set2", 2, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 2, "{}: the held SET arrives once enabled", s.kind);
        let claims = verify_jwt(&s, &String::from_utf8_lossy(&got[1].body), "secevent+jwt", None).await;
        assert!(claims["events"].get(disabled_type).is_some(), "{claims}");

        // The host disables the app: the stream is disabled and the receiver told first.
        let res = host(&s, Method::PATCH, "/v1/oauth/clients/cli_status").await.json(&json!({"state": "disabled"})).send().await;
        assert_eq!(res.expect("disable").status(), 200);
        let got = r.wait_delivered("/set2", 3, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 3, "{}: a stream-updated SET", s.kind);
        let claims = verify_jwt(&s, &String::from_utf8_lossy(&got[2].body), "secevent+jwt", None).await;
        let updated = &claims["events"]["https://schemas.openid.net/secevent/ssf/event-type/stream-updated"];
        assert_eq!(updated["status"], "disabled", "{claims}");
        assert!(updated["reason"].is_string(), "{claims}");
        assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}), "{claims}");
        assert_eq!(scalar(&s, "SELECT status FROM ssf_streams WHERE client_id = 'cli_status'").await, "disabled");
        // Enabled again by the host: the stream follows, and says so.
        let res = host(&s, Method::PATCH, "/v1/oauth/clients/cli_status").await.json(&json!({"state": "active"})).send().await;
        assert_eq!(res.expect("enable").status(), 200);
        let got = r.wait_delivered("/set2", 4, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 4, "{}", s.kind);
        let claims = verify_jwt(&s, &String::from_utf8_lossy(&got[3].body), "secevent+jwt", None).await;
        assert_eq!(claims["events"]["https://schemas.openid.net/secevent/ssf/event-type/stream-updated"]["status"], "enabled");

        // A PATCH to another origin without a header: the old receiver's credential does not follow.
        let elsewhere = Receiver::start().await;
        let patch = json!({"stream_id": id, "delivery": {"endpoint_url": format!("{}/set", elsewhere.base)}});
        let res = c.patch(s.url("/ssf/streams")).basic_auth("cli_status", Some("ics_status")).json(&patch).send().await;
        assert_eq!(res.expect("patch").status(), 200, "{}", s.kind);
        let verify = c.post(s.url("/ssf/verify")).basic_auth("cli_status", Some("ics_status")).json(&json!({"stream_id": id})).send();
        assert_eq!(verify.await.expect("verify").status(), 204);
        let got = elsewhere.wait_delivered("/set", 1, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 1, "{}", s.kind);
        assert_eq!(header(&got[0], "authorization"), "", "{}: no header to another receiver", s.kind);
    }
}

/// A push endpoint answering 410 Gone: the transmitter disables the stream
/// (audited, reason given) and records its stream-updated SET; held SETs
/// are dropped; the receiver reads the status and its reason.
#[tokio::test]
async fn a_410_from_the_push_endpoint_disables_the_stream() {
    let db = testing::sqlite().await.expect("sqlite");
    let s = start_with(db, &FAST).await;
    let r = Receiver::start().await;
    let user = new_user(&s, "13800138107").await;
    app(&s, &r, "cli_pgone", &user, now_micros(&s) - 1_000_000).await;
    client_secret(&s, "cli_pgone", "ics_pgone").await;
    r.status.store(410, Ordering::SeqCst);
    r.hook_status.store(200, Ordering::SeqCst);
    freeze(&s, &user, s.running.as_ref().expect("running").clock.now()).await;
    assert_eq!(wait_for(&s, "SELECT status FROM ssf_streams WHERE client_id = 'cli_pgone'", "disabled").await, "disabled");
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM audit_log WHERE action = 'ssf.stream_disabled'").await, "1");
    let announced = "SELECT state FROM event_deliveries WHERE client_id = 'cli_pgone' AND event_type = 'ssf.stream_updated'";
    // Its own push meets the same 410: parked, not retried, not looping.
    assert_eq!(wait_for(&s, announced, "gone").await, "gone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM event_deliveries WHERE client_id = 'cli_pgone' AND channel = 'set_push'").await, "2");
    let status: Value = reqwest::Client::new()
        .get(s.url("/ssf/streams/status?stream_id=sst_cli_pgone"))
        .basic_auth("cli_pgone", Some("ics_pgone"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["status"], "disabled", "{status}");
    assert_eq!(status["reason"], idlink_core::events::deliver::GONE_REASON, "{status}");
}

/// Enqueues a lifecycle event as a store call would.
async fn lifecycle(s: &Server, kind: LifecycleType, user: &UserId, sessions: Vec<idlink_domain::SessionId>) {
    use idlink_core::ports::outbox::OutboxStore;
    let running = s.running.as_ref().expect("running");
    let ids = RandomIds(Arc::new(OsRandom));
    let lifecycle =
        Lifecycle { kind, user: user.clone(), at: running.clock.now(), actor: "user".into(), client: None, sessions, reason: None };
    let event = idlink_core::events::lifecycle_store_event(&running.vault, &ids, &lifecycle).expect("event");
    running.store.enqueue_outbox(&[event]).await.expect("enqueue");
}

/// OIDC Back-Channel Logout 1.0 §2.4/§2.6: an app registered with
/// `backchannel_logout_session_required` gets one logout token per ended
/// session, each with its `sid`; an app without it one token per ended
/// session it saw, and one token by `sub` alone for a user-wide end.
#[tokio::test]
async fn logout_tokens_carry_the_sid_of_each_ended_session_when_the_app_requires_it() {
    for db in databases().await {
        let s = start_with(db, &FAST).await;
        let r = Receiver::start().await;
        let plain = Receiver::start().await;
        let user = new_user(&s, "13800138108").await;
        let t = now_micros(&s) - 1_000_000;
        app(&s, &r, "cli_sids", &user, t).await;
        app(&s, &plain, "cli_nosid", &user, t).await;
        for c in ["cli_sids", "cli_nosid"] {
            sql(&s, &format!("DELETE FROM ssf_streams WHERE client_id = '{c}'")).await;
            sql(&s, &format!("DELETE FROM webhook_endpoints WHERE client_id = '{c}'")).await;
        }
        sql(&s, "UPDATE oauth_clients SET backchannel_logout_session_required = 1 WHERE id = 'cli_sids'").await;
        // Two H5 sessions, each seen by both apps (their own sids).
        for (n, session) in ["ses_one00000000000000000000000000", "ses_two00000000000000000000000000"].iter().enumerate() {
            for c in ["cli_sids", "cli_nosid"] {
                sql(&s, &format!(
                    "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at) VALUES ('sid-{c}-{n}', '{c}', '{user}', '{session}', {t})"
                )).await;
            }
        }
        let one = idlink_domain::SessionId::parse("ses_one00000000000000000000000000").expect("session id");
        lifecycle(&s, LifecycleType::SessionsRevoked, &user, vec![one]).await;
        let got = r.wait_delivered("/logout", 1, Duration::from_secs(20)).await;
        let other = plain.wait_delivered("/logout", 1, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!((r.delivered("/logout").len(), plain.delivered("/logout").len()), (1, 1), "{}: one token each", s.kind);
        let token = |h: &Hit| String::from_utf8_lossy(&h.body).trim_start_matches("logout_token=").to_owned();
        let claims = verify_jwt(&s, &token(&got[0]), "logout+jwt", None).await;
        assert_eq!(claims["sid"], "sid-cli_sids-0", "{}: the ended session's sid", s.kind);
        let claims = verify_jwt(&s, &token(&other[0]), "logout+jwt", None).await;
        assert_eq!(claims["sub"], "pairwise-cli_nosid");
        assert_eq!(claims["sid"], "sid-cli_nosid-0", "{}: one ended session is named to every app that saw it", s.kind);

        // A user-wide end (a freeze): one token per live session for the app that requires a sid.
        sql(&s, "UPDATE oauth_sessions SET ended_at = created_at + 1 WHERE session_id = 'ses_one00000000000000000000000000'").await;
        sql(&s, &format!(
            "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at) VALUES ('sid-cli_sids-2', 'cli_sids', '{user}', 'ses_three000000000000000000000000', {t})"
        )).await;
        freeze(&s, &user, s.running.as_ref().expect("running").clock.now()).await;
        let got = r.wait_delivered("/logout", 3, Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(r.delivered("/logout").len(), 3, "{}: two live sessions, two tokens", s.kind);
        let mut sids = Vec::new();
        for h in &got[1..] {
            sids.push(verify_jwt(&s, &token(h), "logout+jwt", None).await["sid"].as_str().unwrap_or_default().to_owned());
        }
        sids.sort();
        assert_eq!(sids, ["sid-cli_sids-1", "sid-cli_sids-2"], "{}", s.kind);
        // The app without the flag: one token by sub, no sid, though one session is still live
        // (a `sid` would end only that one; the user-wide end ends them all).
        let other = plain.wait_delivered("/logout", 2, Duration::from_secs(20)).await;
        assert_eq!(other.len(), 2, "{}", s.kind);
        let claims = verify_jwt(&s, &token(&other[1]), "logout+jwt", None).await;
        assert_eq!(claims["sub"], "pairwise-cli_nosid");
        assert!(claims.get("sid").is_none(), "{}: a user-wide end names no session: {claims}", s.kind);
    }
}

/// `GET /v1/oauth/clients/{id}/deliveries`: the app's receipts with every
/// attempt, newest first, a page at a time; ids and statuses only.
#[tokio::test]
async fn the_host_lists_an_apps_deliveries_with_their_attempts() {
    for db in databases().await {
        let s = start_with(db, &FAST).await;
        let r = Receiver::start().await;
        let user = new_user(&s, "13800138109").await;
        app(&s, &r, "cli_receipts", &user, now_micros(&s) - 1_000_000).await;
        freeze(&s, &user, s.running.as_ref().expect("running").clock.now()).await;
        let q = "SELECT COUNT(*) FROM event_deliveries WHERE client_id = 'cli_receipts' AND state = 'delivered'";
        assert_eq!(wait_for(&s, q, "3").await, "3", "{}", s.kind);
        let key = crate::grants::apps_key(&s).await;
        let page = |cursor: Option<String>| {
            let mut url = "/v1/oauth/clients/cli_receipts/deliveries?limit=2".to_owned();
            if let Some(c) = cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            reqwest::Client::new().get(s.url(&url)).bearer_auth(&key).send()
        };
        let res = page(None).await.expect("page");
        assert_eq!(res.status(), 200, "{}", s.kind);
        let text = res.text().await.expect("text");
        assert!(!text.contains(user.as_str()) && !text.contains("13800138109"), "{}: no personal data: {text}", s.kind);
        let first: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(first["deliveries"].as_array().map(Vec::len), Some(2), "{first}");
        let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
        let second: Value = page(Some(cursor)).await.expect("page").json().await.expect("json");
        assert_eq!(second["deliveries"].as_array().map(Vec::len), Some(1), "{second}");
        assert_eq!(second["next_cursor"], Value::Null);
        let mut channels: Vec<String> = first["deliveries"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(second["deliveries"].as_array().into_iter().flatten())
            .map(|d| d["channel"].as_str().unwrap_or_default().to_owned())
            .collect();
        channels.sort();
        assert_eq!(channels, ["logout", "set_push", "webhook"], "{}", s.kind);
        let d = &first["deliveries"][0];
        assert_eq!(d["state"], "delivered");
        assert_eq!(d["attempt_log"][0]["outcome"], "delivered", "{d}");
        assert!(d["attempt_log"][0]["http_status"].is_u64() && d["attempt_log"][0]["latency_ms"].is_u64(), "{d}");
        let bad = host(&s, Method::GET, "/v1/oauth/clients/cli_receipts/deliveries?cursor=nope").await.send().await.expect("bad");
        assert_eq!(bad.status(), 422, "{}", s.kind);
        let none = host(&s, Method::GET, "/v1/oauth/clients/cli_nobody/deliveries").await.send().await.expect("none");
        assert_eq!(none.status(), 404, "{}", s.kind);
    }
}
