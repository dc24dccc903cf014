//! Third-party app registration (SPEC TP1, issue 14 item 1): what a client
//! may be registered with (the scopes, claims and webhook event types are
//! listed here, once), the checks on its metadata, its secrets (shown once,
//! stored as SHA-256) and its webhook signing secrets (shown once, sealed
//! under the vault's `sys-webhooks` key because idlink signs with them), and
//! their rotation with an overlap. The API and the command line call the
//! same [`Clients`] use cases.

use crate::events::ssf::{VerifyError, follow_client_state};
use crate::events::{EventSettings, WEBHOOK_KEY_ID};
use crate::oidc::{OidcSettings, SecretKind, secret_hash};
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clients::{
    AuthMethod, ClientKind, ClientRow, ClientSecretRow, ClientState, ClientStore, NewClient, WebhookEndpointRow, WebhookSecretKind,
    WebhookSecretRow,
};
use crate::ports::clock::Clock;
use crate::ports::events::EventStore;
use crate::ports::ids::Ids;
use crate::ports::keys::KeyStore;
use crate::vault::Vault;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idlink_crypto::CryptoError;
use idlink_crypto::jose::JwsAlg;
use idlink_domain::{ClientId, RequestId};
use jiff::Timestamp;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The scopes a client may be allowed (OIDC Core §5.4 and ours).
pub const SCOPES: &[(&str, &str)] = &[
    ("openid", "sign in: a pairwise subject identifier"),
    ("phone", "the verified mobile number"),
    ("identity", "the verified real name and birth date (verified_claims)"),
    ("offline_access", "a refresh token (needs prompt=consent)"),
];

/// The claims a client may be allowed to ask for, and what each holds.
/// `docs/oidc.md` lists the same; the consent and apps pages word them.
pub const CLAIMS: &[(&str, &str)] = &[
    ("name", "the verified real name"),
    ("birthdate", "the verified birth date"),
    ("age_over_18", "whether the user is an adult (verified)"),
    ("phone_number", "the mobile number"),
    ("phone_number_verified", "whether the mobile number is verified"),
    ("verified_claims", "the verification itself: trust framework, level, evidence (OpenID Identity Assurance)"),
];

/// The webhook event types a client may subscribe to (ADR 0022, `docs/events.md`).
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
    "grant.revoked",
    "identity.verified",
    "identity.changed",
    "identity.revoked",
    "account.disabled",
    "account.enabled",
    "account.purged",
    "session.revoked",
    "credential.changed",
    "credit.record_changed",
];

/// One thing wrong with a registration: the field (a JSON Pointer without
/// the leading `/`), a machine code, and what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub code: &'static str,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the client metadata is invalid")]
    Invalid(Vec<Issue>),
    /// A webhook or logout URL idlink will not send to (SSRF rule).
    #[error("idlink does not send events to this URL")]
    ReceiverRefused(Vec<Issue>),
    #[error("no such client")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<VerifyError> for ClientError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Store(e) => Self::Store(e),
            VerifyError::Crypto(e) => Self::Crypto(e),
        }
    }
}

/// What a client is registered with (already shaped by the caller: the API's body or the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub logo_url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `confidential` (default) or `public`.
    pub kind: Option<String>,
    /// Default: `client_secret_basic` (confidential), `none` (public).
    pub token_endpoint_auth_method: Option<String>,
    pub jwks: Option<serde_json::Value>,
    /// Default: `openid`.
    pub scopes: Vec<String>,
    pub claims: Vec<String>,
    /// Default: ES256.
    pub id_token_signed_response_alg: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub webhook_url: Option<String>,
    pub webhook_event_types: Vec<String>,
    pub introspect_any: bool,
}

/// What a registration answers: the client and the secrets shown this once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: ClientView,
    /// `ics_…`, for a confidential client authenticating with a secret.
    pub client_secret: Option<String>,
    pub webhook: WebhookSecrets,
}

/// Fresh Standard Webhooks secrets, shown once.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    /// `whsec_…`: the receiver verifies `v1` (HMAC-SHA256) signatures with it.
    pub secret: String,
    /// `whpk_…`: the receiver verifies `v1a` (Ed25519) signatures with it.
    /// The private half stays with idlink, sealed.
    pub public_key: String,
}

/// A client as shown to the host backend and operators: never a secret.
#[derive(Debug, Clone)]
pub struct ClientView {
    pub row: ClientRow,
    pub webhook: Option<WebhookEndpointRow>,
}

/// A change to a client (`PATCH`): absent fields stay as they are; an empty
/// string clears an optional URL.
#[derive(Debug, Clone, Default)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub logo_url: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_event_types: Option<Vec<String>>,
    /// `active` or `disabled`.
    pub state: Option<String>,
}

/// Who asks, for the audit record.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `apikey:key_…`, `operator:op_…`, `cli`.
    pub actor: String,
    pub request_id: Option<RequestId>,
}

/// The registration use cases.
pub struct Clients<'a> {
    pub store: &'a dyn ClientStore,
    /// The app's Shared Signals stream, which follows the app's state.
    pub streams: &'a dyn EventStore,
    pub keys: &'a dyn KeyStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub oidc: &'a OidcSettings,
    pub events: &'a EventSettings,
}

const PURPOSE: &str = "third-party app registration";

impl Clients<'_> {
    fn audit(&self, who: &Actor, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(who.actor.clone(), action, PURPOSE, at).request(who.request_id.as_ref())
    }

    /// Registers a client; its secrets are in the answer and nowhere else in clear.
    pub async fn register(&self, who: &Actor, reg: Registration) -> Result<Registered, ClientError> {
        let now = self.clock.now();
        let mut issues = Vec::new();
        let name = check_name(&mut issues, &reg.name);
        let logo_url = reg.logo_url.as_deref().and_then(|u| check_logo(&mut issues, u));
        check_redirect_uris(&mut issues, &reg.redirect_uris);
        let kind = match reg.kind.as_deref() {
            None => ClientKind::Confidential,
            Some(k) => ClientKind::parse(k).unwrap_or_else(|| {
                issue(&mut issues, "kind", "invalid_kind", "`kind` is `confidential` or `public`.");
                ClientKind::Confidential
            }),
        };
        let auth_method = match reg.token_endpoint_auth_method.as_deref() {
            None if kind == ClientKind::Public => AuthMethod::None,
            None => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m).unwrap_or_else(|| {
                issue(
                    &mut issues,
                    "token_endpoint_auth_method",
                    "invalid_auth_method",
                    "`token_endpoint_auth_method` is `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.",
                );
                AuthMethod::ClientSecretBasic
            }),
        };
        match (kind, auth_method) {
            (ClientKind::Public, AuthMethod::None)
            | (ClientKind::Confidential, AuthMethod::ClientSecretBasic)
            | (ClientKind::Confidential, AuthMethod::ClientSecretPost)
            | (ClientKind::Confidential, AuthMethod::PrivateKeyJwt) => {}
            (ClientKind::Public, _) => issue(
                &mut issues,
                "token_endpoint_auth_method",
                "invalid_auth_method",
                "A public client cannot keep a secret: its `token_endpoint_auth_method` is `none`.",
            ),
            (ClientKind::Confidential, AuthMethod::None) => issue(
                &mut issues,
                "token_endpoint_auth_method",
                "invalid_auth_method",
                "A confidential client authenticates: `client_secret_basic`, `client_secret_post` or `private_key_jwt`.",
            ),
        }
        match (&reg.jwks, auth_method) {
            (Some(jwks), AuthMethod::PrivateKeyJwt) => check_jwks(&mut issues, jwks),
            (None, AuthMethod::PrivateKeyJwt) => {
                issue(&mut issues, "jwks", "required", "`private_key_jwt` needs the client's public keys in `jwks`.")
            }
            (Some(_), _) => issue(&mut issues, "jwks", "unexpected", "`jwks` is only for `private_key_jwt`."),
            (None, _) => {}
        }
        let scopes = if reg.scopes.is_empty() { vec!["openid".to_owned()] } else { reg.scopes.clone() };
        let scopes = check_names(&mut issues, "scopes", "invalid_scope", &scopes, SCOPES.iter().map(|(n, _)| *n));
        if !scopes.iter().any(|s| s == "openid") {
            issue(&mut issues, "scopes", "invalid_scope", "`scopes` must include `openid`.");
        }
        let claims = check_names(&mut issues, "claims", "invalid_claim", &reg.claims, CLAIMS.iter().map(|(n, _)| *n));
        let alg = match reg.id_token_signed_response_alg.as_deref() {
            None => JwsAlg::Es256,
            Some(a) => JwsAlg::parse(a).unwrap_or_else(|| {
                issue(&mut issues, "id_token_signed_response_alg", "invalid_alg", "`id_token_signed_response_alg` is `ES256` or `EdDSA`.");
                JwsAlg::Es256
            }),
        };
        let event_types = check_names(
            &mut issues,
            "webhook_event_types",
            "invalid_event_type",
            &reg.webhook_event_types,
            WEBHOOK_EVENT_TYPES.iter().copied(),
        );
        if reg.introspect_any && kind != ClientKind::Confidential {
            issue(&mut issues, "introspect_any", "confidential_only", "Only a confidential client may introspect other clients' tokens.");
        }
        if reg.webhook_url.is_none() && !reg.webhook_event_types.is_empty() {
            issue(&mut issues, "webhook_event_types", "unexpected", "`webhook_event_types` needs a `webhook_url`.");
        }
        let logout = reg.backchannel_logout_uri.as_deref().map(|u| check_receiver_shape(&mut issues, "backchannel_logout_uri", u));
        let webhook = reg.webhook_url.as_deref().map(|u| check_receiver_shape(&mut issues, "webhook_url", u));
        if !issues.is_empty() {
            return Err(ClientError::Invalid(issues));
        }
        let mut refused = Vec::new();
        for (field, url) in [("backchannel_logout_uri", &logout), ("webhook_url", &webhook)] {
            if let Some(Some(u)) = url {
                self.check_receiver(&mut refused, field, u);
            }
        }
        if !refused.is_empty() {
            return Err(ClientError::ReceiverRefused(refused));
        }

        let id = self.ids.client();
        let client = ClientRow {
            id: id.clone(),
            name,
            logo_url,
            kind,
            auth_method,
            jwks: reg.jwks.clone(),
            redirect_uris: dedup(reg.redirect_uris.clone()),
            allowed_scopes: scopes,
            allowed_claims: claims,
            id_token_alg: alg,
            backchannel_logout_uri: logout.flatten().map(|u| u.text),
            backchannel_logout_session_required: reg.backchannel_logout_session_required,
            introspect_any: reg.introspect_any,
            state: ClientState::Active,
            created_at: now,
            updated_at: now,
        };
        let (client_secret, secret_row) = match auth_method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                let (clear, row) = self.new_secret(&id, now);
                (Some(clear), Some(row))
            }
            AuthMethod::PrivateKeyJwt | AuthMethod::None => (None, None),
        };
        let endpoint = webhook.flatten().map(|u| WebhookEndpointRow {
            id: self.ids.endpoint(),
            client_id: id.clone(),
            url: u.text,
            event_types: event_types.clone(),
            state: "enabled".into(),
            disabled_at: None,
            disabled_reason: None,
            created_at: now,
        });
        let (shown, rows) = self.new_webhook_secrets(&id, now).await?;
        let new = NewClient { client: &client, secret: secret_row.as_ref(), webhook: endpoint.as_ref(), webhook_secrets: &rows };
        self.store.register_client(&new, &self.audit(who, "oauth_client.create", now)).await?;
        tracing::info!(client = %id, "third-party app registered");
        Ok(Registered { client: ClientView { row: client, webhook: endpoint }, client_secret, webhook: shown })
    }

    pub async fn list(&self) -> Result<Vec<ClientView>, ClientError> {
        let mut out = Vec::new();
        for row in self.store.list_clients().await? {
            let webhook = self.store.webhook_endpoint(&row.id).await?;
            out.push(ClientView { row, webhook });
        }
        Ok(out)
    }

    pub async fn get(&self, id: &ClientId) -> Result<ClientView, ClientError> {
        let row = self.store.client(id).await?.ok_or(ClientError::NotFound)?;
        let webhook = self.store.webhook_endpoint(id).await?;
        Ok(ClientView { row, webhook })
    }

    /// Changes what may change after registration.
    pub async fn update(&self, who: &Actor, id: &ClientId, patch: ClientPatch) -> Result<ClientView, ClientError> {
        let now = self.clock.now();
        let ClientView { mut row, webhook } = self.get(id).await?;
        let mut issues = Vec::new();
        if let Some(name) = &patch.name {
            row.name = check_name(&mut issues, name);
        }
        if let Some(logo) = &patch.logo_url {
            row.logo_url = if logo.is_empty() { None } else { check_logo(&mut issues, logo) };
        }
        if let Some(uris) = &patch.redirect_uris {
            check_redirect_uris(&mut issues, uris);
            row.redirect_uris = dedup(uris.clone());
        }
        let mut logout = None;
        if let Some(uri) = &patch.backchannel_logout_uri {
            if uri.is_empty() {
                row.backchannel_logout_uri = None;
            } else {
                logout = check_receiver_shape(&mut issues, "backchannel_logout_uri", uri);
            }
        }
        if let Some(state) = &patch.state {
            match ClientState::parse(state) {
                Some(s) => row.state = s,
                None => issue(&mut issues, "state", "invalid_state", "`state` is `active` or `disabled`."),
            }
        }
        let mut hook_url = None;
        if let Some(url) = &patch.webhook_url {
            if url.is_empty() {
                issue(&mut issues, "webhook_url", "invalid_url", "A webhook receiver cannot be removed, only moved: give its new URL.");
            } else {
                hook_url = check_receiver_shape(&mut issues, "webhook_url", url);
            }
        }
        let types = patch
            .webhook_event_types
            .as_ref()
            .map(|t| check_names(&mut issues, "webhook_event_types", "invalid_event_type", t, WEBHOOK_EVENT_TYPES.iter().copied()));
        if types.is_some() && hook_url.is_none() && webhook.is_none() {
            issue(&mut issues, "webhook_event_types", "unexpected", "`webhook_event_types` needs a `webhook_url`.");
        }
        if !issues.is_empty() {
            return Err(ClientError::Invalid(issues));
        }
        let mut refused = Vec::new();
        if let Some(u) = &logout {
            self.check_receiver(&mut refused, "backchannel_logout_uri", u);
        }
        if let Some(u) = &hook_url {
            self.check_receiver(&mut refused, "webhook_url", u);
        }
        if !refused.is_empty() {
            return Err(ClientError::ReceiverRefused(refused));
        }
        if let Some(u) = logout {
            row.backchannel_logout_uri = Some(u.text);
        }
        row.updated_at = now;
        let endpoint = match (hook_url, types, webhook.clone()) {
            (None, None, _) => None,
            (url, types, Some(mut e)) => {
                if let Some(u) = url {
                    e.url = u.text;
                    // A new URL is a new receiver: whatever disabled the old one does not carry over.
                    e.state = "enabled".into();
                    e.disabled_at = None;
                    e.disabled_reason = None;
                }
                if let Some(t) = types {
                    e.event_types = t;
                }
                Some(e)
            }
            (Some(u), types, None) => Some(WebhookEndpointRow {
                id: self.ids.endpoint(),
                client_id: id.clone(),
                url: u.text,
                event_types: types.unwrap_or_default(),
                state: "enabled".into(),
                disabled_at: None,
                disabled_reason: None,
                created_at: now,
            }),
            (None, Some(_), None) => None,
        };
        let action = match patch.state.as_deref() {
            Some("disabled") => "oauth_client.disable",
            Some("active") => "oauth_client.enable",
            _ => "oauth_client.update",
        };
        // SSF 1.0 §8.1.5: the app's stream follows its state, told to the receiver, in the same write.
        let follow = match patch.state {
            Some(_) => {
                let stream = self.streams.stream_of(id).await?;
                follow_client_state(self.vault, self.ids, self.clock, stream.as_ref(), row.state == ClientState::Active)?
            }
            None => None,
        };
        let follow = follow.map(|(change, announce)| {
            let action = if change.status == "disabled" { "ssf.stream_disabled" } else { "ssf.stream_enabled" };
            (change, announce, self.audit(who, action, now))
        });
        let stream = follow.as_ref().map(|(change, announce, audit)| (change, announce, audit));
        if !self.store.update_client(&row, endpoint.as_ref(), stream, &self.audit(who, action, now)).await? {
            return Err(ClientError::NotFound);
        }
        Ok(ClientView { row, webhook: endpoint.or(webhook) })
    }

    /// A new client secret; the current ones keep working for `oidc.secret_overlap`.
    pub async fn rotate_secret(&self, who: &Actor, id: &ClientId) -> Result<(String, Timestamp), ClientError> {
        let now = self.clock.now();
        let client = self.store.client(id).await?.ok_or(ClientError::NotFound)?;
        if !matches!(client.auth_method, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost) {
            return Err(ClientError::Invalid(vec![Issue {
                field: "token_endpoint_auth_method".into(),
                code: "no_secret",
                detail: format!("This client authenticates with `{}`: it has no secret to rotate.", client.auth_method.as_str()),
            }]));
        }
        let (clear, row) = self.new_secret(id, now);
        let until = now.checked_add(self.oidc.secret_overlap).unwrap_or(now);
        if !self.store.rotate_client_secret(id, &row, until, &self.audit(who, "oauth_client.rotate_secret", now)).await? {
            return Err(ClientError::NotFound);
        }
        Ok((clear, until))
    }

    /// New webhook signing secrets; the current ones keep signing beside them for `oidc.secret_overlap`.
    pub async fn rotate_webhook_secrets(&self, who: &Actor, id: &ClientId) -> Result<(WebhookSecrets, Timestamp), ClientError> {
        let now = self.clock.now();
        let (shown, rows) = self.new_webhook_secrets(id, now).await?;
        let until = now.checked_add(self.oidc.secret_overlap).unwrap_or(now);
        if !self.store.rotate_webhook_secrets(id, &rows, until, &self.audit(who, "oauth_client.rotate_webhook_secret", now)).await? {
            return Err(ClientError::NotFound);
        }
        Ok((shown, until))
    }

    fn new_secret(&self, id: &ClientId, now: Timestamp) -> (String, ClientSecretRow) {
        let clear = SecretKind::ClientSecret.mint(self.ids);
        let row = ClientSecretRow {
            id: format!("csc_{}", hex::encode(self.ids.entropy())),
            client_id: id.clone(),
            secret_hash: secret_hash(&clear),
            created_at: now,
            expires_at: None,
        };
        (clear, row)
    }

    async fn new_webhook_secrets(&self, id: &ClientId, now: Timestamp) -> Result<(WebhookSecrets, Vec<WebhookSecretRow>), ClientError> {
        let key = self.vault.system_data_key::<ClientError>(self.keys, WEBHOOK_KEY_ID).await?;
        let hmac = self.ids.secret();
        let seed = self.ids.secret();
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let public_key = format!("whpk_{}", STANDARD.encode(public));
        let mut rows = Vec::new();
        for (kind, bytes, public) in [(WebhookSecretKind::Hmac, hmac, None), (WebhookSecretKind::Ed25519, seed, Some(public_key.clone()))] {
            let sid = format!("wsk_{}", hex::encode(self.ids.entropy()));
            let sealed = self.vault.seal(&key, &format!("webhook_secrets:{sid}"), &bytes)?;
            rows.push(WebhookSecretRow {
                id: sid,
                client_id: id.clone(),
                kind,
                sealed,
                public_key: public,
                created_at: now,
                expires_at: None,
            });
        }
        Ok((WebhookSecrets { secret: format!("whsec_{}", STANDARD.encode(hmac)), public_key }, rows))
    }

    /// The SSRF rule for URLs idlink will call (ADR 0022): https unless plain
    /// http is allowed; no literal loopback, private or link-local address
    /// unless private targets are allowed. Names are resolved (and checked
    /// again) by the sender at each delivery.
    fn check_receiver(&self, refused: &mut Vec<Issue>, field: &str, url: &Url) {
        if url.scheme == "http" && !self.events.allow_plain_http {
            issue(refused, field, "plain_http", format!("`{field}` must be https."));
        }
        if !self.events.allow_private_targets && url.is_private_target() {
            issue(refused, field, "private_target", format!("`{field}` points at a loopback, private or link-local address."));
        }
    }
}

fn issue(issues: &mut Vec<Issue>, field: &str, code: &'static str, detail: impl Into<String>) {
    issues.push(Issue { field: field.to_owned(), code, detail: detail.into() });
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn check_name(issues: &mut Vec<Issue>, name: &str) -> String {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) {
        issue(issues, "name", "invalid_name", "`name` is 1 to 100 characters, shown to users on the consent page.");
    }
    name.to_owned()
}

fn check_logo(issues: &mut Vec<Issue>, url: &str) -> Option<String> {
    match Url::parse(url) {
        Ok(u) if u.scheme == "https" && u.fragment.is_none() => Some(u.text),
        _ => {
            issue(issues, "logo_url", "invalid_url", "`logo_url` is an absolute https URL.");
            None
        }
    }
}

fn check_redirect_uris(issues: &mut Vec<Issue>, uris: &[String]) {
    if uris.is_empty() || uris.len() > 20 {
        issue(issues, "redirect_uris", "invalid_redirect_uri", "`redirect_uris` holds 1 to 20 URIs.");
    }
    for (i, raw) in uris.iter().enumerate() {
        let field = format!("redirect_uris/{i}");
        match Url::parse(raw) {
            Err(e) => issue(issues, &field, "invalid_redirect_uri", format!("Not an absolute URL: {e}.")),
            Ok(u) if u.fragment.is_some() => {
                issue(issues, &field, "invalid_redirect_uri", "A redirect URI has no fragment (RFC 6749 §3.1.2).")
            }
            Ok(u) if u.scheme == "https" => {}
            Ok(u) if u.scheme == "http" && u.is_loopback_name() => {}
            Ok(_) => issue(
                issues,
                &field,
                "invalid_redirect_uri",
                "A redirect URI is https; plain http only for a loopback address (`http://127.0.0.1`, `http://[::1]`, `http://localhost`) of a native app.",
            ),
        }
    }
}

fn check_jwks(issues: &mut Vec<Issue>, jwks: &serde_json::Value) {
    let keys = jwks.get("keys").and_then(serde_json::Value::as_array);
    match keys {
        Some(keys) if !keys.is_empty() => {
            for (i, k) in keys.iter().enumerate() {
                if let Err(e) = idlink_crypto::jose::thumbprint(k) {
                    issue(issues, &format!("jwks/keys/{i}"), "invalid_jwk", format!("{e}."));
                }
                if k.get("d").is_some() {
                    issue(issues, &format!("jwks/keys/{i}"), "invalid_jwk", "A private key: register the public key only.");
                }
            }
        }
        _ => issue(issues, "jwks", "invalid_jwks", "`jwks` is a JWK Set: `{\"keys\": [...]}` with at least one public key."),
    }
}

/// Names from a closed list, sorted, without duplicates.
fn check_names<'k>(
    issues: &mut Vec<Issue>,
    field: &str,
    code: &'static str,
    names: &[String],
    known: impl Iterator<Item = &'k str> + Clone,
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if known.clone().any(|k| k == n) {
            out.push(n.clone());
        } else {
            let list: Vec<&str> = known.clone().collect();
            issue(issues, &format!("{field}/{i}"), code, format!("Unknown: `{n}`; known: {}.", list.join(", ")));
        }
    }
    dedup(out)
}

fn check_receiver_shape(issues: &mut Vec<Issue>, field: &str, raw: &str) -> Option<Url> {
    match Url::parse(raw) {
        Ok(u) if (u.scheme == "https" || u.scheme == "http") && u.fragment.is_none() => Some(u),
        _ => {
            issue(issues, field, "invalid_url", format!("`{field}` is an absolute http(s) URL without a fragment."));
            None
        }
    }
}

/// Just enough of an absolute URL to judge it: its scheme, host and fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub text: String,
    pub scheme: String,
    pub host: String,
    pub fragment: Option<String>,
}

impl Url {
    pub fn parse(raw: &str) -> Result<Url, &'static str> {
        if raw.len() > 2000 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("too long, or has spaces or control characters");
        }
        let (scheme, rest) = raw.split_once("://").ok_or("no scheme")?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)) {
            return Err("the scheme is not lower-case letters");
        }
        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((a, f)) => (a, Some(f.to_owned())),
            None => (rest, None),
        };
        let authority = before_fragment.split(['/', '?']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("credentials in a URL are not allowed");
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            let (h, port) = v6.split_once(']').ok_or("an unclosed IPv6 literal")?;
            check_port(port)?;
            h.parse::<Ipv6Addr>().map_err(|_| "a bad IPv6 literal")?;
            h.to_owned()
        } else {
            let (h, port) = match authority.split_once(':') {
                Some((h, p)) => (h, format!(":{p}")),
                None => (authority, String::new()),
            };
            check_port(&port)?;
            if h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                return Err("no host, or a host that is not a DNS name or an IP address");
            }
            h.to_ascii_lowercase()
        };
        Ok(Url { text: raw.to_owned(), scheme: scheme.to_owned(), host, fragment })
    }

    fn ip(&self) -> Option<IpAddr> {
        self.host.parse::<IpAddr>().ok()
    }

    /// `localhost` or a loopback literal (RFC 8252 §7.3 native-app redirects).
    pub fn is_loopback_name(&self) -> bool {
        self.host == "localhost" || self.ip().is_some_and(|ip| ip.is_loopback())
    }

    /// A host idlink must not be made to call: loopback, private, link-local, unspecified.
    pub fn is_private_target(&self) -> bool {
        if self.host == "localhost" || self.host.ends_with(".localhost") {
            return true;
        }
        match self.ip() {
            Some(IpAddr::V4(ip)) => v4_private(ip),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => v4_private(v4),
                None => {
                    let first = ip.segments()[0];
                    ip.is_loopback() || ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
                }
            },
            None => false,
        }
    }
}

fn check_port(port: &str) -> Result<(), &'static str> {
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(()),
        Some(p) if !p.is_empty() && p.parse::<u16>().is_ok() => Ok(()),
        _ => Err("a bad port"),
    }
}

fn v4_private(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        // Carrier-grade NAT (RFC 6598).
        || (o[0] == 100 && (64..128).contains(&o[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_judged_by_their_host() {
        let u = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(u("http://127.0.0.1:8080/cb").is_loopback_name());
        assert!(u("http://[::1]/cb").is_loopback_name());
        assert!(u("http://localhost/cb").is_loopback_name());
        assert!(!u("http://example.com/cb").is_loopback_name());
        for private in [
            "https://10.1.2.3/x",
            "https://192.168.0.1",
            "https://169.254.169.254/latest",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://app.localhost/",
        ] {
            assert!(u(private).is_private_target(), "{private}");
        }
        assert!(!u("https://8.8.8.8/x").is_private_target());
        assert!(!u("https://rp.example.com/hook?x=1").is_private_target());
        assert_eq!(u("https://rp.example.com/cb#frag").fragment.as_deref(), Some("frag"));
        for bad in ["rp.example.com/cb", "https://user:pw@rp.example.com/", "https://rp.example.com:99999/", "https:// x/", "HTTPS://a/"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        let mut issues = Vec::new();
        check_redirect_uris(&mut issues, &["https://rp.example.com/cb".into(), "http://127.0.0.1:7000/cb".into()]);
        assert!(issues.is_empty(), "{issues:?}");
        check_redirect_uris(&mut issues, &["http://rp.example.com/cb".into(), "https://rp.example.com/cb#x".into(), "/cb".into()]);
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["redirect_uris/0", "redirect_uris/1", "redirect_uris/2"]);
    }
}
