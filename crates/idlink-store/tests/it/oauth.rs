//! The OpenID provider's store on both databases (plan §3): a signing key
//! generation is taken by exactly one node, a code is single use and a
//! second use revokes what the first issued, refresh tokens rotate by
//! compare-and-set and a reused one revokes its family and the family's
//! access tokens.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientState, ClientStore};
use idlink_core::ports::oauth::{
    Approval, AuthzRequestRow, CodeExchange, CodeRow, NewTokens, OAuthFlowStore, OAuthStore, RefreshOutcome, SigningKeyRow,
};
use idlink_core::ports::outbox::{NewEvent, OutboxStore};
use idlink_crypto::jose::JwsAlg;
use idlink_domain::{AuthzRequestId, ClientId, ConsentId, EventId, GrantId, RefreshFamilyId, UserId};
use idlink_store::SqlStore;
use serde_json::json;

fn audit(action: &str) -> AuditEntry {
    AuditEntry::new("test", action, "test", at(1))
}

/// The reuse event's id for `tag` (the test's builder makes a plain outbox event).
fn reuse_id(tag: &str) -> EventId {
    EventId::try_from(format!("evt_reuse{tag}00000000000000000")).unwrap_or_else(|e| panic!("{e}"))
}

/// A builder of the event a reuse writes, recognisable by `tag` in the outbox.
fn reuse_event(tag: &'static str) -> impl Fn(&UserId, &ClientId) -> Result<NewEvent, StoreError> + Send + Sync {
    move |user, _| Ok(NewEvent { id: reuse_id(tag), kind: "lifecycle".into(), subject: Some(user.clone()), payload: vec![1], at: at(1) })
}

fn key(kid: &str, generation: i64) -> SigningKeyRow {
    SigningKeyRow {
        kid: kid.into(),
        alg: JwsAlg::Es256,
        generation,
        public_jwk: json!({"kty": "EC", "kid": kid}),
        private_sealed: vec![1, 2, 3],
        created_at: at(0),
        activates_at: at(generation * 100),
        retires_at: None,
        removed_at: None,
    }
}

#[tokio::test]
async fn one_key_per_generation_and_retired_keys_leave_the_set() {
    for db in databases().await {
        let s = &db.store;
        assert!(s.insert_signing_key(&key("a", 0), &audit("oidc.key_publish")).await.unwrap_or(false), "{}", db.kind);
        assert!(!s.insert_signing_key(&key("b", 0), &audit("oidc.key_publish")).await.unwrap_or(true), "{}: the race's loser", db.kind);
        assert!(s.insert_signing_key(&key("c", 1), &audit("oidc.key_publish")).await.unwrap_or(false), "{}", db.kind);
        let keys = s.signing_keys().await.unwrap_or_default();
        assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["a", "c"], "{}", db.kind);
        assert_eq!(keys[0].retires_at, Some(at(100)), "{}: the next key's activation retires the previous", db.kind);
        assert_eq!(s.remove_signing_keys(at(50), at(60), &audit("oidc.key_remove")).await.unwrap_or(9), 0, "{}", db.kind);
        assert_eq!(s.remove_signing_keys(at(101), at(200), &audit("oidc.key_remove")).await.unwrap_or(0), 1, "{}", db.kind);
        assert_eq!(s.signing_keys().await.unwrap_or_default().len(), 1, "{}", db.kind);
    }
}

async fn client(s: &SqlStore, id: &str) -> ClientId {
    let id = ClientId::try_from(id.to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let row = ClientRow {
        id: id.clone(),
        name: "App".into(),
        logo_url: None,
        kind: ClientKind::Public,
        auth_method: AuthMethod::None,
        jwks: None,
        redirect_uris: vec!["https://app.example/cb".into()],
        allowed_scopes: vec!["openid".into()],
        allowed_claims: vec![],
        id_token_alg: JwsAlg::Es256,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        introspect_any: false,
        state: ClientState::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    s.insert_client(&row, None, &audit("oauth.client_create")).await.unwrap_or_else(|e| panic!("{e}"));
    id
}

/// A consented request: answers the code's hash.
async fn approved(s: &SqlStore, user: &UserId, client: &ClientId, n: u8, offline: bool) -> String {
    let rid = AuthzRequestId::from_random([n; 16]);
    let req = AuthzRequestRow { id: rid.clone(), client_id: client.clone(), params: json!({}), created_at: at(0), expires_at: at(600) };
    s.insert_authz_request(&req).await.unwrap_or_else(|e| panic!("{e}"));
    let code_hash = format!("code-{n}");
    let a = Approval {
        request: rid,
        new_grant: GrantId::from_random([n; 16]),
        scopes: vec!["openid".into()],
        claims: vec![],
        consents: vec![idlink_core::ports::oauth::ConsentRow {
            id: ConsentId::from_random([n; 16]),
            consent_version: "v".into(),
            text_hash: "h".into(),
            claims: vec![],
            sensitive: false,
        }],
        sub: format!("sub-{user}"),
        sid: format!("sid-{n}"),
        code: CodeRow {
            code_hash: code_hash.clone(),
            client_id: client.clone(),
            user_id: user.clone(),
            grant_id: GrantId::from_random([0; 16]),
            session_id: Some("ses".into()),
            redirect_uri: "https://app.example/cb".into(),
            scope: if offline { "openid offline_access".into() } else { "openid".into() },
            claims: json!({"userinfo": [], "id_token": []}),
            nonce: None,
            code_challenge: "c".into(),
            auth_time: at(0),
            created_at: at(0),
            expires_at: at(60),
            used_at: None,
        },
        at: at(1),
    };
    let grant = s.approve(user, client, "ses", &a, &audit("oauth.consent")).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(grant.is_some());
    assert!(
        s.approve(user, client, "ses", &a, &audit("oauth.consent")).await.unwrap_or_else(|e| panic!("{e}")).is_none(),
        "a request is answered once"
    );
    code_hash
}

fn tokens(n: u8, refresh: bool) -> NewTokens {
    NewTokens {
        family: RefreshFamilyId::from_random([n; 16]),
        access_hash: format!("access-{n}"),
        access_expires_at: at(1000),
        refresh_hash: refresh.then(|| format!("refresh-{n}")),
        refresh_expires_at: at(5000),
        userinfo_claims: vec![],
        sid: None,
        at: at(10),
    }
}

#[tokio::test]
async fn a_code_is_single_use_and_its_second_use_revokes_what_it_issued() {
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;
        let cli = client(s, "cli_storetestcodes00000000000").await;
        let code = approved(s, &user, &cli, 1, false).await;
        let first = s
            .exchange_code(&code, &tokens(1, false), &audit("oauth.token"), &audit("oauth.code_reuse"), &reuse_event("code"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(first, CodeExchange::Issued(_)), "{}: {first:?}", db.kind);
        let view = s.access_token("access-1").await.unwrap_or_default().unwrap_or_else(|| panic!("stored"));
        assert!(view.revoked_at.is_none() && view.grant_state.as_deref() == Some("active"), "{}", db.kind);
        assert_eq!(view.sub.as_deref(), Some(format!("sub-{user}").as_str()));
        let second = s
            .exchange_code(&code, &tokens(2, false), &audit("oauth.token"), &audit("oauth.code_reuse"), &reuse_event("code"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second, CodeExchange::Reused, "{}", db.kind);
        let told = s.outbox_item(&reuse_id("code")).await.unwrap_or_default();
        assert_eq!(
            told.and_then(|e| e.subject).map(|u| u.to_string()),
            Some(user.to_string()),
            "{}: the reuse event is written with the revocation",
            db.kind
        );
        assert!(s.access_token("access-1").await.unwrap_or_default().and_then(|v| v.revoked_at).is_some(), "{}: revoked", db.kind);
        assert!(s.access_token("access-2").await.unwrap_or_default().is_none(), "{}: nothing issued twice", db.kind);
        let unknown = s
            .exchange_code("nope", &tokens(3, false), &audit("oauth.token"), &audit("oauth.code_reuse"), &reuse_event("code"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unknown, CodeExchange::Invalid);
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_once_and_a_reused_one_revokes_the_family() {
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;
        let cli = client(s, "cli_storetestrefresh000000000").await;
        let code = approved(s, &user, &cli, 4, true).await;
        let issued = s
            .exchange_code(&code, &tokens(4, true), &audit("oauth.token"), &audit("oauth.code_reuse"), &reuse_event("code"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(issued, CodeExchange::Issued(_)), "{}", db.kind);
        // Two nodes present the same refresh token at once: exactly one rotates.
        let (t5, t6, ok, reuse) = (tokens(5, true), tokens(6, true), audit("oauth.refresh"), audit("oauth.refresh_reuse"));
        let ev = reuse_event("refresh");
        let (a, b) = tokio::join!(
            s.rotate_refresh("refresh-4", &cli, &t5, &ok, &reuse, &ev),
            s.rotate_refresh("refresh-4", &cli, &t6, &ok, &reuse, &ev)
        );
        let outcomes = [a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}"))];
        assert_eq!(outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Rotated(_))).count(), 1, "{}: {outcomes:?}", db.kind);
        assert_eq!(outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Reused)).count(), 1, "{}: the loser is reuse", db.kind);
        assert!(s.outbox_item(&reuse_id("refresh")).await.unwrap_or_default().is_some(), "{}: the app is told of the reuse", db.kind);
        // The reuse revoked the whole family: every access token and the newest refresh token.
        for access in ["access-4", "access-5", "access-6"] {
            if let Some(v) = s.access_token(access).await.unwrap_or_default() {
                assert!(v.revoked_at.is_some(), "{}: {access} still active", db.kind);
            }
        }
        let newest = s
            .rotate_refresh(
                "refresh-5",
                &cli,
                &tokens(7, true),
                &audit("oauth.refresh"),
                &audit("oauth.refresh_reuse"),
                &reuse_event("later"),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let newest_b = s
            .rotate_refresh(
                "refresh-6",
                &cli,
                &tokens(8, true),
                &audit("oauth.refresh"),
                &audit("oauth.refresh_reuse"),
                &reuse_event("later"),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(newest == RefreshOutcome::Invalid || newest_b == RefreshOutcome::Invalid, "{}", db.kind);
        assert!(!matches!(newest, RefreshOutcome::Rotated(_)) && !matches!(newest_b, RefreshOutcome::Rotated(_)), "{}", db.kind);
        let again = s
            .rotate_refresh(
                "refresh-4",
                &cli,
                &tokens(9, true),
                &audit("oauth.refresh"),
                &audit("oauth.refresh_reuse"),
                &reuse_event("later"),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, RefreshOutcome::Reused, "{}", db.kind);
        assert!(
            s.outbox_item(&reuse_id("later")).await.unwrap_or_default().is_none(),
            "{}: a reuse in a family revoked already tells nothing new",
            db.kind
        );
        // Another client cannot use or revoke it.
        let other = client(s, "cli_storetestother00000000000").await;
        assert!(!s.revoke_token("access-4", &other, at(20), &audit("oauth.revoke")).await.unwrap_or(true));
        assert!(!s.record_assertion(&other, "jti-1", at(100)).await.map(|first| !first).unwrap_or(true));
        assert!(!s.record_assertion(&other, "jti-1", at(100)).await.unwrap_or(true), "{}: a jti is accepted once", db.kind);
    }
}

#[tokio::test]
async fn introspection_reads_the_caller_its_live_secrets_and_the_token_in_one_statement() {
    use idlink_core::ports::clients::ClientSecretRow;
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;
        let owner = client(s, "cli_storetestintrospect000000").await;
        let code = approved(s, &user, &owner, 9, false).await;
        let issued = s
            .exchange_code(&code, &tokens(9, false), &audit("oauth.token"), &audit("oauth.code_reuse"), &reuse_event("code"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(issued, CodeExchange::Issued(_)), "{}", db.kind);
        // A confidential resource server with one secret, then rotated with an overlap until t=500.
        let rs = ClientId::try_from("cli_storetestresourceserver00".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let secret = |id: &str, hash: &str| ClientSecretRow {
            id: id.into(),
            client_id: rs.clone(),
            secret_hash: hash.into(),
            created_at: at(0),
            expires_at: None,
        };
        let row = ClientRow {
            id: rs.clone(),
            name: "Resource server".into(),
            logo_url: None,
            kind: ClientKind::Confidential,
            auth_method: AuthMethod::ClientSecretBasic,
            jwks: None,
            redirect_uris: vec![],
            allowed_scopes: vec!["openid".into()],
            allowed_claims: vec![],
            id_token_alg: JwsAlg::Es256,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            introspect_any: true,
            state: ClientState::Active,
            created_at: at(0),
            updated_at: at(0),
        };
        s.insert_client(&row, Some(&secret("sec_old", "old-hash")), &audit("oauth.client_create")).await.unwrap_or_else(|e| panic!("{e}"));
        let read = |hash: &'static str, token: &'static str, now: i64| {
            let rs = rs.clone();
            async move { s.introspection(&rs, hash, token, at(now)).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        let found = read("old-hash", "access-9", 20).await.unwrap_or_else(|| panic!("{}: the caller exists", db.kind));
        assert!(found.secret_matches && found.caller_active && found.caller_introspects_any, "{}: {found:?}", db.kind);
        assert_eq!((found.caller_kind, found.caller_method), (ClientKind::Confidential, AuthMethod::ClientSecretBasic));
        let token = found.token.unwrap_or_else(|| panic!("{}: the token is found", db.kind));
        assert_eq!(token, s.access_token("access-9").await.unwrap_or_default().unwrap_or_else(|| panic!("stored")), "{}", db.kind);
        assert!(!read("wrong-hash", "access-9", 20).await.is_some_and(|f| f.secret_matches), "{}: a wrong secret", db.kind);
        assert!(read("old-hash", "no-such-token", 20).await.is_some_and(|f| f.token.is_none()), "{}: unknown token", db.kind);
        let stranger = ClientId::try_from("cli_storetestnobody0000000000".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.introspection(&stranger, "old-hash", "access-9", at(20)).await.unwrap_or_else(|e| panic!("{e}")).is_none());
        // Rotation: both secrets during the overlap, only the new one after it.
        assert!(
            s.rotate_client_secret(&rs, &secret("sec_new", "new-hash"), at(500), &audit("oauth.client_secret_rotate"))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(read("old-hash", "access-9", 499).await.is_some_and(|f| f.secret_matches), "{}: in the overlap", db.kind);
        assert!(read("new-hash", "access-9", 499).await.is_some_and(|f| f.secret_matches), "{}: the new secret", db.kind);
        assert!(!read("old-hash", "access-9", 500).await.is_some_and(|f| f.secret_matches), "{}: after the overlap", db.kind);
        assert!(read("new-hash", "access-9", 500).await.is_some_and(|f| f.secret_matches), "{}", db.kind);
        // Read together (ADR 0023): many at once, each with its own answer at its own time.
        let asks: Vec<(ClientId, &str, &str, i64)> = (0..150)
            .map(|i| match i % 5 {
                0 => (rs.clone(), "old-hash", "access-9", 499),
                1 => (rs.clone(), "old-hash", "access-9", 500),
                2 => (rs.clone(), "new-hash", "no-such-token", 20),
                3 => (stranger.clone(), "new-hash", "access-9", 20),
                _ => (rs.clone(), "wrong-hash", "access-9", 20),
            })
            .collect();
        let answers = futures::future::join_all(asks.iter().map(|(c, h, t, n)| s.introspection(c, h, t, at(*n)))).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let answer = answer.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
            let seen = answer.as_ref().map(|f| (f.secret_matches, f.token.is_some()));
            let want = match i % 5 {
                0 => Some((true, true)),
                1 => Some((false, true)),
                2 => Some((true, false)),
                3 => None,
                _ => Some((false, true)),
            };
            assert_eq!(seen, want, "{}: ask {i}", db.kind);
        }
        // A disabled caller is read as such.
        let mut disabled = row.clone();
        disabled.state = ClientState::Disabled;
        assert!(s.update_client(&disabled, None, None, &audit("oauth.client_update")).await.unwrap_or_else(|e| panic!("{e}")));
        assert!(read("new-hash", "access-9", 20).await.is_some_and(|f| !f.caller_active), "{}: disabled", db.kind);
    }
}
