//! The clients' and grants' store on both databases: a registration writes
//! the client, its URIs, secret, webhook endpoint and sealed secrets
//! together; rotation ends the old secrets at the overlap, never later; a
//! revocation ends each grant with its tokens, family, codes, consents and
//! app sessions, with its event and audit record, or nothing.

use crate::{at, databases};
use idlink_core::ports::audit::{AuditEntry, AuditStore};
use idlink_core::ports::clients::{
    AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore, NewClient, WebhookEndpointRow, WebhookSecretKind,
    WebhookSecretRow,
};
use idlink_core::ports::grants::{GrantRevocation, GrantStore};
use idlink_core::ports::outbox::NewEvent;
use idlink_core::ports::users::{UserRow, UserStore};
use idlink_crypto::jose::JwsAlg;
use idlink_crypto::{Algorithm, DataKey, MasterKey, MasterKeyring, Random, SeededRandom};
use idlink_domain::{ClientId, EndpointId, EventId, GrantId, UserId};
use idlink_store::SqlStore;
use idlink_store::testing;

fn client(id: &ClientId, t: i64) -> ClientRow {
    ClientRow {
        id: id.clone(),
        name: "Example Pay".into(),
        logo_url: None,
        kind: ClientKind::Confidential,
        auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        redirect_uris: vec!["https://rp.example.com/cb".into()],
        allowed_scopes: vec!["openid".into(), "identity".into()],
        allowed_claims: vec!["name".into()],
        id_token_alg: JwsAlg::Es256,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: at(t),
        updated_at: at(t),
    }
}

fn secret(id: &ClientId, n: u8, t: i64) -> ClientSecretRow {
    ClientSecretRow { id: format!("csc_{n}"), client_id: id.clone(), secret_hash: format!("hash-{n}"), created_at: at(t), expires_at: None }
}

fn hook_secret(id: &ClientId, n: u8, kind: WebhookSecretKind, t: i64) -> WebhookSecretRow {
    WebhookSecretRow {
        id: format!("wsk_{n}"),
        client_id: id.clone(),
        kind,
        sealed: vec![n; 40],
        public_key: None,
        created_at: at(t),
        expires_at: None,
    }
}

async fn new_user(s: &SqlStore, rng: &SeededRandom) -> UserId {
    let ring = MasterKeyring::new(vec![MasterKey::generate("mk-1", rng)], "mk-1", Algorithm::Aes256Gcm).unwrap_or_else(|e| panic!("{e}"));
    let id = UserId::from_random(rng.bytes16());
    let dek = DataKey::generate(format!("dek-{id}"), rng);
    let row = UserRow { id: id.clone(), phone_cipher: vec![9], phone_index: format!("idx-{id}"), created_at: at(1) };
    let wrapped = ring.wrap(&dek, rng).unwrap_or_else(|e| panic!("{e}"));
    s.insert_user(&row, &wrapped, &AuditEntry::new("test", "user.create", "test", at(1)).subject(&id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    id
}

async fn count(s: &SqlStore, sql: &str) -> String {
    testing::query_text(s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn registration_and_rotation_write_everything_together_and_never_lengthen_a_secret() {
    let rng = SeededRandom::new(41);
    for db in databases().await {
        let (s, kind) = (&db.store, db.kind);
        let id = ClientId::from_random(rng.bytes16());
        let row = client(&id, 10);
        let endpoint = WebhookEndpointRow {
            id: EndpointId::from_random(rng.bytes16()),
            client_id: id.clone(),
            url: "https://rp.example.com/hooks".into(),
            event_types: vec!["grant.revoked".into()],
            state: "enabled".into(),
            disabled_at: None,
            disabled_reason: None,
            created_at: at(10),
        };
        let hooks = [hook_secret(&id, 1, WebhookSecretKind::Hmac, 10), hook_secret(&id, 2, WebhookSecretKind::Ed25519, 10)];
        let first = secret(&id, 1, 10);
        let new = NewClient { client: &row, secret: Some(&first), webhook: Some(&endpoint), webhook_secrets: &hooks };
        s.register_client(&new, &AuditEntry::new("test", "oauth_client.create", "test", at(10)))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(s.client(&id).await.unwrap_or_else(|e| panic!("{e}")), Some(row.clone()), "{kind}");
        assert_eq!(s.webhook_endpoint(&id).await.unwrap_or_else(|e| panic!("{e}")), Some(endpoint.clone()), "{kind}");
        assert_eq!(s.live_webhook_secrets(&id, at(11)).await.unwrap_or_default().len(), 2, "{kind}");

        // Rotation at 20 with the overlap ending at 100; a second at 30 ending at 110 keeps 100 for the first.
        let audit = AuditEntry::new("test", "oauth_client.rotate_secret", "test", at(20));
        assert!(s.rotate_client_secret(&id, &secret(&id, 2, 20), at(100), &audit).await.unwrap_or_else(|e| panic!("{e}")));
        let hashes = |v: Vec<ClientSecretRow>| v.into_iter().map(|r| r.secret_hash).collect::<Vec<_>>();
        assert_eq!(hashes(s.live_client_secrets(&id, at(99)).await.unwrap_or_default()), ["hash-2", "hash-1"], "{kind}");
        assert!(s.rotate_client_secret(&id, &secret(&id, 3, 30), at(110), &audit).await.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(hashes(s.live_client_secrets(&id, at(100)).await.unwrap_or_default()), ["hash-3", "hash-2"], "{kind}");
        assert_eq!(hashes(s.live_client_secrets(&id, at(110)).await.unwrap_or_default()), ["hash-3"], "{kind}");
        let ghost = ClientId::from_random(rng.bytes16());
        assert!(!s.rotate_client_secret(&ghost, &secret(&ghost, 4, 30), at(110), &audit).await.unwrap_or_else(|e| panic!("{e}")));

        let more = [hook_secret(&id, 3, WebhookSecretKind::Hmac, 40), hook_secret(&id, 4, WebhookSecretKind::Ed25519, 40)];
        assert!(s.rotate_webhook_secrets(&id, &more, at(140), &audit).await.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(s.live_webhook_secrets(&id, at(139)).await.unwrap_or_default().len(), 4, "{kind}");
        assert_eq!(s.live_webhook_secrets(&id, at(140)).await.unwrap_or_default().len(), 2, "{kind}");

        // An update replaces the URIs and the endpoint's URL.
        let mut changed = row.clone();
        changed.redirect_uris = vec!["https://rp.example.com/v2".into()];
        changed.state = ClientState::Disabled;
        let moved = WebhookEndpointRow { url: "https://rp.example.com/v2/hooks".into(), ..endpoint.clone() };
        let audit = AuditEntry::new("test", "oauth_client.update", "test", at(50));
        assert!(s.update_client(&changed, Some(&moved), None, &audit).await.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(s.client(&id).await.unwrap_or_default(), Some(changed), "{kind}");
        assert_eq!(s.webhook_endpoint(&id).await.unwrap_or_default(), Some(moved), "{kind}");
        assert!(!s.update_client(&client(&ghost, 1), None, None, &audit).await.unwrap_or_else(|e| panic!("{e}")), "{kind}");
        let actions = count(s, "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'oauth_client.%'").await;
        assert_eq!(actions, "5", "{kind}: register, three rotations, one update (refusals write nothing)");
    }
}

#[tokio::test]
async fn a_revocation_ends_each_grant_with_everything_hanging_from_it_or_nothing() {
    let rng = SeededRandom::new(43);
    for db in databases().await {
        let (s, kind) = (&db.store, db.kind);
        let user = new_user(s, &rng).await;
        let cid = ClientId::from_random(rng.bytes16());
        s.insert_client(&client(&cid, 5), None, &AuditEntry::new("test", "oauth_client.create", "test", at(5)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let grant = GrantId::from_random(rng.bytes16());
        let t = at(6).as_microsecond();
        for q in [
            format!(
                "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at) VALUES ('{grant}', '{user}', '{cid}', '[\"openid\"]', '[\"name\"]', 'active', {t}, {t})"
            ),
            format!(
                "INSERT INTO oauth_consents (id, grant_id, user_id, client_id, consent_version, text_hash, claims, sensitive, consented_at) VALUES ('cns_1', '{grant}', '{user}', '{cid}', 'v1', 'h', '[\"name\"]', 0, {t})"
            ),
            format!(
                "INSERT INTO oauth_refresh_families (id, grant_id, client_id, user_id, scope, created_at, expires_at) VALUES ('rtf_1', '{grant}', '{cid}', '{user}', 'openid', {t}, {t})"
            ),
            format!(
                "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, family_id, scope, created_at, expires_at) VALUES ('fam-token', '{cid}', '{user}', 'rtf_1', 'openid', {t}, {t})"
            ),
            format!(
                "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, scope, created_at, expires_at) VALUES ('grant-token', '{cid}', '{user}', '{grant}', 'openid', {t}, {t})"
            ),
            format!(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, grant_id, redirect_uri, scope, code_challenge, auth_time, created_at, expires_at) VALUES ('code-1', '{cid}', '{user}', '{grant}', 'https://rp.example.com/cb', 'openid', 'c', {t}, {t}, {t})"
            ),
            format!(
                "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at) VALUES ('sid-1', '{cid}', '{user}', 'ses_1', {t})"
            ),
        ] {
            testing::execute(s, &q).await.unwrap_or_else(|e| panic!("{kind}: {q}: {e}"));
        }
        let listed = s.grants_of_user(&user, false).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed.len(), 1, "{kind}");
        assert_eq!((listed[0].client_name.as_str(), listed[0].consent_version.as_deref()), ("Example Pay", Some("v1")), "{kind}");
        assert_eq!(s.app_sessions(&user, &cid).await.unwrap_or_default().len(), 1, "{kind}");

        let revocation = |event: EventId| GrantRevocation {
            grant: grant.clone(),
            user: user.clone(),
            client: cid.clone(),
            at: at(60),
            by: "user".into(),
            reason: "revoked_by_user".into(),
            event: NewEvent { id: event, kind: "lifecycle".into(), subject: Some(user.clone()), payload: vec![1, 2, 3], at: at(60) },
            audit: AuditEntry::new(format!("user:{user}"), "oauth_grant.revoke", "test", at(60)).subject(&user),
        };
        // A revocation whose event cannot be written (an id taken) leaves everything as it was.
        let taken = EventId::from_random(rng.bytes16());
        testing::execute(
            s,
            &format!(
                "INSERT INTO outbox (id, kind, payload, state, created_at, due_at, attempts) VALUES ('{taken}', 'x', '', 'done', 0, 0, 0)"
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(s.revoke_grants(&[revocation(taken)]).await.is_err(), "{kind}");
        assert_eq!(count(s, &format!("SELECT state FROM oauth_grants WHERE id = '{grant}'")).await, "active", "{kind}: rolled back");
        assert_eq!(count(s, "SELECT COUNT(*) FROM oauth_access_tokens WHERE revoked_at IS NOT NULL").await, "0", "{kind}");

        let ended = s.revoke_grants(&[revocation(EventId::from_random(rng.bytes16()))]).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ended, vec![grant.clone()], "{kind}");
        let t60 = at(60).as_microsecond();
        assert_eq!(
            count(s, &format!("SELECT COUNT(*) FROM oauth_access_tokens WHERE revoked_at = {t60}")).await,
            "2",
            "{kind}: by grant and by family"
        );
        assert_eq!(count(s, "SELECT revoke_reason FROM oauth_refresh_families WHERE id = 'rtf_1'").await, "grant", "{kind}");
        assert_eq!(count(s, "SELECT COUNT(*) FROM oauth_codes WHERE used_at IS NOT NULL").await, "1", "{kind}");
        assert_eq!(count(s, "SELECT COUNT(*) FROM oauth_consents WHERE withdrawn_at IS NOT NULL").await, "1", "{kind}");
        assert_eq!(count(s, "SELECT COUNT(*) FROM oauth_sessions WHERE ended_at IS NOT NULL").await, "1", "{kind}");
        assert_eq!(count(s, &format!("SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle' AND subject = '{user}'")).await, "1", "{kind}");
        let records = s.audit_records_of_user(&user, 10).await.unwrap_or_default();
        assert_eq!(records.first().map(|r| r.entry.action.as_str()), Some("oauth_grant.revoke"), "{kind}");
        assert!(s.grants_of_user(&user, false).await.unwrap_or_default().is_empty(), "{kind}");
        assert_eq!(s.grants_of_user(&user, true).await.unwrap_or_default()[0].revoked_by.as_deref(), Some("user"), "{kind}");

        // Again: nothing to end, no second event or record.
        let again = s.revoke_grants(&[revocation(EventId::from_random(rng.bytes16()))]).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_empty(), "{kind}");
        assert_eq!(count(s, "SELECT COUNT(*) FROM outbox WHERE kind = 'lifecycle'").await, "1", "{kind}");
        assert_eq!(count(s, "SELECT COUNT(*) FROM audit_log WHERE action = 'oauth_grant.revoke'").await, "1", "{kind}");
    }
}
