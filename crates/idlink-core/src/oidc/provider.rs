//! The provider's use cases (SPEC TP1; plan §3–§4): the authorization
//! request, the consent decision, the token endpoint (client
//! authentication, code exchange with PKCE, refresh rotation), userinfo,
//! revocation and introspection. Errors are the RFC 6749 / 6750 codes the
//! protocol answers with ([`OAuthError`]); the HTTP layer only renders them.

use super::claims::{self, Requested, VerifiedPerson};
use super::keys::IssuerKeys;
use super::{OidcSettings, SUBJECT_KEY_ID, SecretKind, secret_hash};
use crate::ports::audit::AuditEntry;
use crate::ports::clients::{AuthMethod, ClientKind, ClientRow, ClientState, ClientTokenRow};
use crate::ports::clock::Clock;
use crate::ports::events::{Lifecycle, LifecycleType};
use crate::ports::ids::Ids;
use crate::ports::oauth::{AccessTokenView, Approval, AuthzRequestRow, CodeExchange, CodeRow, ConsentRow, NewTokens, RefreshOutcome};
use crate::ports::outbox::NewEvent;
use crate::ports::{Rng, Store, StoreError};
use crate::steps::codes::constant_time_eq;
use crate::steps::personal::{BIRTH_CONTEXT, open_identity, open_text, read_phone};
use crate::vault::Vault;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idlink_crypto::BlindIndexKey;
use idlink_crypto::jose::JwsAlg;
use idlink_domain::{AuthzRequestId, ClientId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::collections::BTreeSet;

/// Scopes idlink knows.
pub const SCOPES: [&str; 4] = ["openid", "phone", "identity", "offline_access"];

/// An OAuth error as the protocol answers it (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    /// 400, or 401 for client authentication and bearer tokens.
    pub status: u16,
    /// The client tried HTTP Basic: the 401 carries `WWW-Authenticate: Basic`.
    pub basic: bool,
}

impl OAuthError {
    /// The error with its description made fit for the wire ([`description_text`]).
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if matches!(error, "invalid_client" | "invalid_token") { 401 } else { 400 };
        Self { error, description: description_text(&description.into()), status, basic: false }
    }

    /// The same with another HTTP status (403 `insufficient_scope`, 503, 429 …).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn server(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "OpenID provider: a port failed");
        Self::new("server_error", "idlink could not complete the request").with_status(500)
    }
}

/// The longest `error_description` idlink sends (it may echo a parameter).
const DESCRIPTION_MAX: usize = 200;

/// RFC 6749 §5.2 (and §4.1.2.1): `error_description` holds only
/// `%x20-21 / %x23-5B / %x5D-7E` — printable ASCII without `"` and `\`.
/// Every OAuth error passes here once, in [`OAuthError::new`]: `"` becomes
/// `'`, `\` becomes `/`, anything else outside the set (control
/// characters, non-ASCII text echoed from a request) becomes `?`, and the
/// text is cut at 200 characters.
pub fn description_text(text: &str) -> String {
    text.chars()
        .take(DESCRIPTION_MAX)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        Self::server(e)
    }
}

/// What `/oauth2/authorize` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Checked and stored: the consent page takes over.
    Consent(AuthzRequestId),
    /// The redirect URI is trusted: the error goes back to the app.
    Redirect(String),
    /// The client or redirect URI cannot be trusted: an error page, never a redirect.
    Page(OAuthError),
}

/// The checked parameters of an authorization request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthzParams {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub requested: Requested,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub request: AuthzRequestId,
    pub client_name: String,
    /// Only an `https:` logo is shown.
    pub logo_url: Option<String>,
    /// Plain claims asked for and allowed.
    pub ordinary: Vec<String>,
    /// Verified claims asked for and allowed (their own consent).
    pub sensitive: Vec<String>,
    /// The user has a verified identity (else the sensitive claims are omitted).
    pub verified: bool,
    pub purpose: Option<String>,
    pub params: AuthzParams,
    /// When the app sent the request (a login older than it may not satisfy `prompt=login`).
    pub requested_at: Timestamp,
}

impl ConsentView {
    /// `prompt=login`, or a login older than `max_age`, asks for a fresh
    /// login; one made after the request was sent satisfies both.
    pub fn needs_fresh_login(&self, login_at: Timestamp, now: Timestamp) -> bool {
        if login_at >= self.requested_at {
            return false;
        }
        let asked = self.params.prompt.iter().any(|p| p == "login");
        let too_old = self.params.max_age.is_some_and(|max| now.duration_since(login_at).as_secs() > max);
        asked || too_old
    }
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Deny,
    /// Allow; `sensitive` is the separate consent to the verified claims.
    Allow {
        sensitive: bool,
    },
}

/// The H5 session the consent is given in.
#[derive(Debug, Clone)]
pub struct ConsentSession {
    pub user: UserId,
    pub session_id: String,
    pub auth_time: Timestamp,
    pub client_ip: String,
    pub request_id: Option<idlink_domain::RequestId>,
}

/// How the client presented itself at the token, revocation or introspection endpoint.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// The `Authorization` header's value, if any.
    pub authorization: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

/// The provider over its ports.
pub struct Provider<'a> {
    pub store: &'a dyn Store,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub settings: &'a OidcSettings,
    /// Verified claims are released only while the ID-number consent is in force (issue 18).
    pub consent_texts: &'a idlink_domain::consent::ConsentTexts,
}

/// `uri` with `params` added to its query (form-urlencoded).
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect::<String>()
    };
    let query = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// The single value of `name`; duplicates are an error (RFC 6749 §3.1).
fn single<'p>(params: &'p [(String, String)], name: &str) -> Result<Option<&'p str>, String> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("`{name}` is repeated"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

fn pkce_s256(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

impl Provider<'_> {
    pub fn keys(&self) -> IssuerKeys<'_> {
        IssuerKeys { store: self.store, keys: self.store, vault: self.vault, clock: self.clock, rng: self.rng, settings: self.settings }
    }

    /// A per-client identifier derived from `value` (pairwise `sub`, `sid`, …; plan §6.12).
    async fn per_client(&self, domain: &str, client: &ClientId, value: &str) -> Result<String, OAuthError> {
        let key = self.vault.system_data_key::<KeyFail>(self.store, SUBJECT_KEY_ID).await.map_err(OAuthError::server)?;
        let hex_mac = BlindIndexKey::new(*key.reveal()).index(domain, &format!("{client}\u{0}{value}"));
        let bytes = hex::decode(hex_mac).map_err(OAuthError::server)?;
        let text = B64URL.encode(bytes);
        Ok(text.chars().take(22).collect())
    }

    /// The pairwise `sub` of `user` for `client`.
    pub async fn subject(&self, client: &ClientId, user: &UserId) -> Result<String, OAuthError> {
        self.per_client("oidc-sub", client, user.as_str()).await
    }

    async fn sid(&self, client: &ClientId, session_id: &str) -> Result<String, OAuthError> {
        self.per_client("oidc-sid", client, session_id).await
    }

    /// The rate limit of a provider endpoint (`authorize`, `token`) per
    /// client IP, in one-minute windows (the login's `rate_limits` table,
    /// buckets `oauth:{endpoint}:{ip}`, purged by the `oauth_purge` job).
    /// `Some(seconds)` until the window ends when the limit is reached.
    pub async fn rate_limited(&self, endpoint: &str, client_ip: &str, per_minute: u64) -> Result<Option<u64>, OAuthError> {
        if per_minute == 0 {
            return Ok(None);
        }
        let now = self.clock.now().as_second();
        let start = now - now.rem_euclid(60);
        let window = Timestamp::from_second(start).map_err(OAuthError::server)?;
        let count = self.store.hit_rate_limit(&format!("oauth:{endpoint}:{client_ip}"), window).await?;
        Ok((count > per_minute).then(|| u64::try_from(start + 60 - now).unwrap_or(60).max(1)))
    }

    // ── Authorization request ──────────────────────────────────────────

    /// `GET/POST /oauth2/authorize`.
    pub async fn authorize(&self, params: &[(String, String)]) -> Result<AuthorizeOutcome, OAuthError> {
        let page = |d: &str| Ok(AuthorizeOutcome::Page(OAuthError::new("invalid_request", d)));
        let (client_id, redirect_uri) = match (single(params, "client_id"), single(params, "redirect_uri")) {
            (Ok(Some(c)), Ok(Some(r))) => (c, r),
            (Err(e), _) | (_, Err(e)) => return page(&e),
            _ => return page("client_id and redirect_uri are required"),
        };
        let Ok(client_id) = ClientId::try_from(client_id.to_owned()) else { return page("unknown client") };
        let Some(client) = self.store.client(&client_id).await?.filter(|c| c.state == ClientState::Active) else {
            return page("unknown client");
        };
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return page("the redirect_uri is not registered for this client");
        }
        // From here on the redirect URI is trusted: errors go back to the app.
        let state = single(params, "state").ok().flatten().map(str::to_owned);
        let back = |error: &'static str, d: &str| {
            // Through the constructor: the description's charset is checked in one place.
            let e = OAuthError::new(error, d);
            let mut q: Vec<(&str, &str)> = vec![("error", error), ("error_description", e.description.as_str())];
            if let Some(s) = &state {
                q.push(("state", s));
            }
            q.push(("iss", &self.settings.issuer));
            Ok(AuthorizeOutcome::Redirect(with_query(redirect_uri, &q)))
        };
        let get = |name: &str| single(params, name);
        let mut values = std::collections::BTreeMap::new();
        for name in
            ["response_type", "scope", "nonce", "code_challenge", "code_challenge_method", "claims", "prompt", "max_age", "ui_locales"]
        {
            match get(name) {
                Ok(v) => {
                    values.insert(name, v);
                }
                Err(e) => return back("invalid_request", &e),
            }
        }
        let v = |name: &str| values.get(name).copied().flatten();
        // The request is stored before any user is involved: its size is bounded.
        let too_long = [("state", 512), ("nonce", 512), ("claims", 4096), ("ui_locales", 64), ("scope", 512), ("prompt", 64)]
            .into_iter()
            .find(|(name, max)| {
                let len = if *name == "state" { state.as_deref().map_or(0, str::len) } else { v(name).map_or(0, str::len) };
                len > *max
            });
        if let Some((name, max)) = too_long {
            return back("invalid_request", &format!("`{name}` is longer than {max} bytes"));
        }
        if get("request").ok().flatten().is_some() {
            return back("request_not_supported", "request objects are not supported");
        }
        if get("request_uri").ok().flatten().is_some() {
            return back("request_uri_not_supported", "request_uri is not supported");
        }
        if v("response_type") != Some("code") {
            return back("unsupported_response_type", "only response_type=code is supported");
        }
        let mut scopes: Vec<String> = v("scope").unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return back("invalid_scope", "the openid scope is required");
        }
        if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str()) || !client.allowed_scopes.contains(s)) {
            return back("invalid_scope", &format!("scope `{bad}` is not allowed for this client"));
        }
        let (Some(challenge), Some("S256")) = (v("code_challenge"), v("code_challenge_method")) else {
            return back("invalid_request", "PKCE with code_challenge_method=S256 is required");
        };
        if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return back("invalid_request", "code_challenge is not a base64url SHA-256");
        }
        let prompt: Vec<String> = v("prompt").unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if prompt.iter().any(|p| p == "none") {
            // idlink always asks: consent is given on its page.
            return back("consent_required", "idlink asks the user for consent on its page");
        }
        // OIDC Core §11: offline access only with prompt=consent; otherwise the scope is ignored.
        if !prompt.iter().any(|p| p == "consent") {
            scopes.retain(|s| s != "offline_access");
        }
        let max_age = match v("max_age").map(str::parse::<i64>) {
            None => None,
            Some(Ok(n)) if n >= 0 => Some(n),
            Some(_) => return back("invalid_request", "max_age is not a non-negative integer"),
        };
        let requested = match Requested::parse(&scopes, v("claims")) {
            Ok(r) => r,
            Err(e) => return back("invalid_request", &e),
        };
        let now = self.clock.now();
        let params = AuthzParams {
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state,
            nonce: v("nonce").map(str::to_owned),
            code_challenge: challenge.to_owned(),
            requested,
            prompt,
            max_age,
            ui_locales: v("ui_locales").map(str::to_owned),
        };
        let row = AuthzRequestRow {
            id: self.ids.authz_request(),
            client_id: client.id.clone(),
            params: serde_json::to_value(&params).map_err(OAuthError::server)?,
            created_at: now,
            expires_at: now.checked_add(self.settings.authorization_ttl).unwrap_or(now),
        };
        self.store.insert_authz_request(&row).await?;
        Ok(AuthorizeOutcome::Consent(row.id))
    }

    async fn pending(&self, id: &AuthzRequestId) -> Result<Option<(AuthzRequestRow, AuthzParams, ClientRow)>, OAuthError> {
        let Some(row) = self.store.authz_request(id).await? else { return Ok(None) };
        if row.expires_at <= self.clock.now() {
            return Ok(None);
        }
        let params: AuthzParams = serde_json::from_value(row.params.clone()).map_err(OAuthError::server)?;
        let Some(client) = self.store.client(&row.client_id).await?.filter(|c| c.state == ClientState::Active) else { return Ok(None) };
        Ok(Some((row, params, client)))
    }

    /// What the consent page shows for `id` to `user`; `None` when the
    /// request is unknown, used or expired.
    pub async fn consent_view(&self, id: &AuthzRequestId, user: &UserId) -> Result<Option<ConsentView>, OAuthError> {
        let Some((row, params, client)) = self.pending(id).await? else { return Ok(None) };
        let asked = params.requested.all();
        let mut allowed: Vec<String> = asked.into_iter().filter(|t| claims::allowed(&client.allowed_claims, t)).collect();
        allowed.sort_by_key(|t| claims::display_rank(t));
        let verified = self.real_name_releasable(user).await?;
        Ok(Some(ConsentView {
            request: row.id,
            client_name: client.name.clone(),
            logo_url: client.logo_url.clone().filter(|u| u.starts_with("https://")),
            ordinary: allowed.iter().filter(|t| !claims::is_sensitive(t)).cloned().collect(),
            sensitive: allowed.iter().filter(|t| claims::is_sensitive(t)).cloned().collect(),
            verified,
            purpose: params.requested.purpose.clone(),
            params,
            requested_at: row.created_at,
        }))
    }

    /// The user's answer: the redirect back to the app (a code, or `access_denied`).
    /// `text_hash` is the SHA-256 of the consent wording the user was shown.
    pub async fn decide(
        &self,
        id: &AuthzRequestId,
        who: &ConsentSession,
        decision: Decision,
        text_hash: &str,
    ) -> Result<Option<String>, OAuthError> {
        let Some((row, params, client)) = self.pending(id).await? else { return Ok(None) };
        let now = self.clock.now();
        let actor = format!("user:{}", who.user);
        let audit = |action: &str| {
            AuditEntry::new(actor.clone(), action, format!("authorize app {}", client.id), now)
                .subject(&who.user)
                .request(who.request_id.as_ref())
        };
        let mut back: Vec<(&str, String)> = Vec::new();
        let sensitive_ok = match decision {
            Decision::Deny => {
                if !self.store.deny_authz_request(&row.id, &audit("oauth.deny")).await? {
                    return Ok(None);
                }
                back.push(("error", "access_denied".into()));
                if let Some(s) = &params.state {
                    back.push(("state", s.clone()));
                }
                back.push(("iss", self.settings.issuer.clone()));
                let q: Vec<(&str, &str)> = back.iter().map(|(k, v)| (*k, v.as_str())).collect();
                return Ok(Some(with_query(&params.redirect_uri, &q)));
            }
            Decision::Allow { sensitive } => sensitive,
        };
        let verified = self.real_name_releasable(&who.user).await?;
        let kept: BTreeSet<String> = params
            .requested
            .all()
            .into_iter()
            .filter(|t| claims::allowed(&client.allowed_claims, t))
            .filter(|t| !claims::is_sensitive(t) || (sensitive_ok && verified))
            .collect();
        let released = params.requested.within(&kept);
        let ordinary: Vec<String> = kept.iter().filter(|t| !claims::is_sensitive(t)).cloned().collect();
        let sensitive: Vec<String> = kept.iter().filter(|t| claims::is_sensitive(t)).cloned().collect();
        let mut consents = vec![ConsentRow {
            id: self.ids.consent(),
            consent_version: self.settings.consent_version.clone(),
            text_hash: text_hash.to_owned(),
            claims: ordinary,
            sensitive: false,
        }];
        if !sensitive.is_empty() {
            consents.push(ConsentRow {
                id: self.ids.consent(),
                consent_version: self.settings.consent_version.clone(),
                text_hash: text_hash.to_owned(),
                claims: sensitive,
                sensitive: true,
            });
        }
        let code = SecretKind::Code.mint(self.ids);
        let approval = Approval {
            request: row.id.clone(),
            new_grant: self.ids.grant(),
            scopes: params.scopes.clone(),
            claims: kept.iter().cloned().collect(),
            consents,
            sub: self.subject(&client.id, &who.user).await?,
            sid: self.sid(&client.id, &who.session_id).await?,
            code: CodeRow {
                code_hash: secret_hash(&code),
                client_id: client.id.clone(),
                user_id: who.user.clone(),
                grant_id: self.ids.grant(),
                session_id: Some(who.session_id.clone()),
                redirect_uri: params.redirect_uri.clone(),
                scope: params.scopes.join(" "),
                claims: json!({"userinfo": released.userinfo, "id_token": released.id_token}),
                nonce: params.nonce.clone(),
                code_challenge: params.code_challenge.clone(),
                auth_time: who.auth_time,
                created_at: now,
                expires_at: now.checked_add(self.settings.code_ttl).unwrap_or(now),
                used_at: None,
            },
            at: now,
        };
        if self.store.approve(&who.user, &client.id, &who.session_id, &approval, &audit("oauth.consent")).await?.is_none() {
            return Ok(None);
        }
        back.push(("code", code));
        if let Some(s) = &params.state {
            back.push(("state", s.clone()));
        }
        back.push(("iss", self.settings.issuer.clone()));
        let q: Vec<(&str, &str)> = back.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(Some(with_query(&params.redirect_uri, &q)))
    }

    // ── Client authentication ──────────────────────────────────────────

    /// Reads what the client presented (RFC 6749 §2.3, RFC 7523), before any lookup.
    fn presented(creds: &ClientCredentials) -> Result<Presented, OAuthError> {
        let basic = creds.authorization.as_deref().and_then(|h| h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")));
        if let Some(b64) = basic {
            let fail = || {
                let mut e = OAuthError::new("invalid_client", "malformed Basic credentials");
                e.basic = true;
                e
            };
            let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| fail())?;
            let text = String::from_utf8(decoded).map_err(|_| fail())?;
            let (id, secret) = text.split_once(':').ok_or_else(fail)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            return Ok(Presented::Secret { id: form_decode(id), secret: form_decode(secret), method: AuthMethod::ClientSecretBasic });
        }
        if let Some(assertion) = &creds.assertion {
            if creds.assertion_type.as_deref() != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                return Err(OAuthError::new("invalid_client", "unsupported client_assertion_type"));
            }
            return Ok(Presented::Assertion(assertion.clone()));
        }
        let id = creds.client_id.clone().unwrap_or_default();
        Ok(match &creds.client_secret {
            Some(secret) => Presented::Secret { id, secret: secret.clone(), method: AuthMethod::ClientSecretPost },
            None => Presented::Bare(id),
        })
    }

    /// Authenticates the client at the token, revocation or introspection
    /// endpoint by its registered method (RFC 6749 §2.3, RFC 7523).
    pub async fn authenticate(&self, creds: &ClientCredentials, endpoint: &str) -> Result<ClientRow, OAuthError> {
        let presented = Self::presented(creds)?;
        let fail = |d: &str| presented.refusal(d);
        let (id, secret, method) = match &presented {
            Presented::Assertion(assertion) => return self.authenticate_jwt(assertion, creds.client_id.as_deref(), endpoint).await,
            Presented::Secret { id, secret, method } => (id, Some(secret), *method),
            Presented::Bare(id) => (id, None, AuthMethod::None),
        };
        let client = self.active_client(id).await?.ok_or_else(|| fail("unknown client"))?;
        if client.auth_method != method {
            return Err(fail("the client must authenticate with its registered method"));
        }
        match secret {
            None if client.kind == ClientKind::Public => Ok(client),
            None => Err(fail("client authentication is required")),
            Some(secret) => {
                let hash = secret_hash(secret);
                let live = self.store.live_client_secrets(&client.id, self.clock.now()).await?;
                if live.iter().any(|s| constant_time_eq(s.secret_hash.as_bytes(), hash.as_bytes())) {
                    Ok(client)
                } else {
                    Err(fail("wrong client secret"))
                }
            }
        }
    }

    async fn active_client(&self, id: &str) -> Result<Option<ClientRow>, OAuthError> {
        let Ok(id) = ClientId::try_from(id.to_owned()) else { return Ok(None) };
        Ok(self.store.client(&id).await?.filter(|c| c.state == ClientState::Active))
    }

    async fn authenticate_jwt(&self, assertion: &str, claimed: Option<&str>, endpoint: &str) -> Result<ClientRow, OAuthError> {
        let fail = |d: &str| OAuthError::new("invalid_client", d);
        let unverified =
            assertion.split('.').nth(1).and_then(|p| B64URL.decode(p).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let iss = unverified.as_ref().and_then(|c| c.get("iss")).and_then(Value::as_str).unwrap_or_default().to_owned();
        if claimed.is_some_and(|c| c != iss) {
            return Err(fail("client_id does not match the assertion"));
        }
        let client = self.active_client(&iss).await?.ok_or_else(|| fail("unknown client"))?;
        if client.auth_method != AuthMethod::PrivateKeyJwt {
            return Err(fail("the client must authenticate with its registered method"));
        }
        let jwks = client.jwks.clone().ok_or_else(|| fail("the client has no registered keys"))?;
        let (_, claims) =
            idlink_crypto::jose::verify(assertion, &jwks, &JwsAlg::ALL).map_err(|_| fail("the assertion's signature does not verify"))?;
        let now = self.clock.now().as_second();
        let sub_ok = claims.get("sub").and_then(Value::as_str) == Some(client.id.as_str());
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == endpoint || *a == self.settings.issuer,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str().is_some_and(|a| a == endpoint || a == self.settings.issuer)),
            _ => false,
        };
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        if !sub_ok || !aud_ok || jti.is_empty() {
            return Err(fail("the assertion's sub, aud or jti is wrong"));
        }
        let exp = assertion_times(&claims, now, self.settings.assertion_max_lifetime.as_secs()).map_err(fail)?;
        let expires = Timestamp::from_second(exp).map_err(|_| fail("exp out of range"))?;
        if !self.store.record_assertion(&client.id, jti, expires).await? {
            return Err(fail("the assertion was used before"));
        }
        Ok(client)
    }

    // ── Token endpoint ─────────────────────────────────────────────────

    fn new_tokens(&self, offline: bool, userinfo_claims: Vec<String>, sid: Option<String>) -> (NewTokens, String, Option<String>) {
        let now = self.clock.now();
        let access = SecretKind::AccessToken.mint(self.ids);
        let refresh = offline.then(|| SecretKind::RefreshToken.mint(self.ids));
        let t = NewTokens {
            family: self.ids.refresh_family(),
            access_hash: secret_hash(&access),
            access_expires_at: now.checked_add(self.settings.access_token_ttl).unwrap_or(now),
            refresh_hash: refresh.as_deref().map(secret_hash),
            refresh_expires_at: now.checked_add(self.settings.refresh_ttl).unwrap_or(now),
            userinfo_claims,
            sid,
            at: now,
        };
        (t, access, refresh)
    }

    /// `POST /oauth2/token`: the JSON answer of RFC 6749 §5.1.
    pub async fn token(&self, client: &ClientRow, form: &[(String, String)]) -> Result<Value, OAuthError> {
        let get = |name: &str| single(form, name).map_err(|e| OAuthError::new("invalid_request", e));
        match get("grant_type")? {
            Some("authorization_code") => self.exchange(client, get("code")?, get("redirect_uri")?, get("code_verifier")?).await,
            Some("refresh_token") => self.refresh(client, get("refresh_token")?).await,
            Some("client_credentials") => self.client_credentials(client, get("scope")?).await,
            Some(_) => {
                Err(OAuthError::new("unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials"))
            }
            None => Err(OAuthError::new("invalid_request", "grant_type is required")),
        }
    }

    async fn exchange(
        &self,
        client: &ClientRow,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let bad = |d: &str| OAuthError::new("invalid_grant", d);
        let code = code.ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
        let hash = secret_hash(code);
        let row = self.store.code(&hash).await?.ok_or_else(|| bad("unknown code"))?;
        if row.client_id != client.id {
            return Err(bad("the code was issued to another client"));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Err(bad("redirect_uri differs from the authorization request's"));
        }
        let verifier = verifier.ok_or_else(|| bad("code_verifier is required (PKCE)"))?;
        let well_formed =
            (43..=128).contains(&verifier.len()) && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !well_formed || !constant_time_eq(pkce_s256(verifier).as_bytes(), row.code_challenge.as_bytes()) {
            return Err(bad("code_verifier does not match the code_challenge"));
        }
        let userinfo: Vec<String> = tag_list(&row.claims, "userinfo");
        let sid = match &row.session_id {
            Some(s) => Some(self.sid(&client.id, s).await?),
            None => None,
        };
        let offline = row.scope.split(' ').any(|s| s == "offline_access");
        let (tokens, access, refresh) = self.new_tokens(offline, userinfo, sid.clone());
        let now = tokens.at;
        let issue =
            AuditEntry::new(format!("client:{}", client.id), "oauth.token", "authorization code exchange", now).subject(&row.user_id);
        let reuse = AuditEntry::new(format!("client:{}", client.id), "oauth.code_reuse", "authorization code used twice", now)
            .subject(&row.user_id)
            .outcome(crate::ports::audit::Outcome::Denied);
        let told = self.reuse_event("code_reuse", now);
        let code_row = match self.store.exchange_code(&hash, &tokens, &issue, &reuse, &told).await? {
            CodeExchange::Issued(c) => *c,
            CodeExchange::Reused => return Err(bad("the code was used before; what it issued is revoked")),
            CodeExchange::Invalid => return Err(bad("the code expired or its grant is no longer active")),
        };
        let sub = self.subject(&client.id, &code_row.user_id).await?;
        let mut id_claims = serde_json::Map::new();
        let id_tags: BTreeSet<String> = tag_list(&code_row.claims, "id_token").into_iter().collect();
        self.release(&client.id, &code_row.user_id, &id_tags, &mut id_claims).await?;
        let key = self.keys().signing_key_for(client.id_token_alg).await.map_err(OAuthError::server)?;
        let exp = now.checked_add(self.settings.id_token_ttl).unwrap_or(now);
        let mut claims = json!({
            "iss": self.settings.issuer,
            "sub": sub,
            "aud": client.id.as_str(),
            "exp": exp.as_second(),
            "iat": now.as_second(),
            "auth_time": code_row.auth_time.as_second(),
            "at_hash": at_hash(client.id_token_alg, &access),
            "amr": ["sms"],
            "acr": "urn:idlink:acr:sms",
        });
        if let Value::Object(map) = &mut claims {
            if let Some(n) = &code_row.nonce {
                map.insert("nonce".into(), json!(n));
            }
            if let Some(s) = &sid {
                map.insert("sid".into(), json!(s));
            }
            map.extend(id_claims);
        }
        let id_token = key.sign(Some("JWT"), &claims).map_err(OAuthError::server)?;
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_ttl.as_secs(),
            "scope": code_row.scope,
            "id_token": id_token,
        });
        if let (Some(r), Value::Object(map)) = (refresh, &mut body) {
            map.insert("refresh_token".into(), json!(r));
        }
        Ok(body)
    }

    /// RFC 6749 §4.4: a confidential client's token for itself, scope
    /// `ssf` only (Shared Signals stream management, SSF 1.0 §7.1.1): no
    /// user, no refresh token, no ID token.
    async fn client_credentials(&self, client: &ClientRow, scope: Option<&str>) -> Result<Value, OAuthError> {
        if client.kind != ClientKind::Confidential {
            return Err(OAuthError::new("unauthorized_client", "client_credentials is for confidential clients"));
        }
        // §3.3: without a scope the default, `ssf`; any other scope is refused.
        let ssf = crate::events::ssf::SCOPE;
        let scope = scope.unwrap_or(ssf);
        if scope.split(' ').all(str::is_empty) || scope.split(' ').any(|s| !s.is_empty() && s != ssf) {
            return Err(OAuthError::new("invalid_scope", "client_credentials grants the ssf scope only"));
        }
        let now = self.clock.now();
        let access = SecretKind::AccessToken.mint(self.ids);
        let row = ClientTokenRow {
            token_hash: secret_hash(&access),
            client_id: client.id.clone(),
            scope: ssf.to_owned(),
            created_at: now,
            expires_at: now.checked_add(self.settings.access_token_ttl).unwrap_or(now),
        };
        let audit = AuditEntry::new(format!("client:{}", client.id), "oauth.token", "client credentials", now);
        self.store.insert_client_token(&row, &audit).await?;
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_ttl.as_secs(),
            "scope": ssf,
        }))
    }

    /// The lifecycle event a reuse writes with the family's revocation, so
    /// the app learns its tokens were stolen or replayed and ends the user's
    /// session there: `sessions_revoked` for this app only (webhook
    /// `session.revoked`, CAEP `session-revoked` with `initiating_entity`
    /// `policy`, a back-channel logout by `sub`), `reason` naming the reuse.
    fn reuse_event(
        &self,
        reason: &'static str,
        at: Timestamp,
    ) -> impl Fn(&UserId, &ClientId) -> Result<NewEvent, StoreError> + Send + Sync {
        let (vault, ids) = (self.vault, self.ids);
        move |user: &UserId, client: &ClientId| {
            let lifecycle = Lifecycle {
                kind: LifecycleType::SessionsRevoked,
                user: user.clone(),
                at,
                actor: "system".into(),
                client: Some(client.clone()),
                sessions: Vec::new(),
                reason: Some(reason.to_owned()),
            };
            crate::events::lifecycle_store_event(vault, ids, &lifecycle)
        }
    }

    async fn refresh(&self, client: &ClientRow, token: Option<&str>) -> Result<Value, OAuthError> {
        let token = token.ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
        let (tokens, access, refresh) = self.new_tokens(true, Vec::new(), None);
        let now = tokens.at;
        let actor = format!("client:{}", client.id);
        let issue = AuditEntry::new(actor.clone(), "oauth.refresh", "refresh token rotation", now);
        let reuse = AuditEntry::new(actor, "oauth.refresh_reuse", "a used refresh token came back: its family is revoked", now)
            .outcome(crate::ports::audit::Outcome::Denied);
        let told = self.reuse_event("refresh_token_reuse", now);
        match self.store.rotate_refresh(&secret_hash(token), &client.id, &tokens, &issue, &reuse, &told).await? {
            RefreshOutcome::Rotated(family) => Ok(json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.settings.access_token_ttl.as_secs(),
                "scope": family.scope,
                "refresh_token": refresh,
            })),
            RefreshOutcome::Reused => Err(OAuthError::new("invalid_grant", "the refresh token was used before; its family is revoked")),
            RefreshOutcome::Invalid => Err(OAuthError::new("invalid_grant", "unknown, expired or revoked refresh token")),
        }
    }

    /// Whether the user's ID-number consent is in force: without it, what
    /// relies on the real name stops, the verified claims apps read
    /// included (issue 18); they are left out as for a user never verified.
    async fn id_number_consented(&self, user: &UserId) -> Result<bool, OAuthError> {
        let gate = crate::consents::ConsentGate { store: self.store, texts: self.consent_texts };
        Ok(gate.require(user, idlink_domain::consent::ConsentKind::IdNumber).await?.is_ok())
    }

    /// Whether verified claims may be offered and released for `user`: a
    /// verified identity and the ID-number consent in force.
    async fn real_name_releasable(&self, user: &UserId) -> Result<bool, OAuthError> {
        Ok(self.id_number_consented(user).await? && self.store.identity(user).await?.is_some())
    }

    /// Adds the claims of `tags` for `user` to `out` (audited PII reads).
    async fn release(
        &self,
        client: &ClientId,
        user: &UserId,
        tags: &BTreeSet<String>,
        out: &mut serde_json::Map<String, Value>,
    ) -> Result<(), OAuthError> {
        let now = self.clock.now();
        let actor = format!("client:{client}");
        if tags.iter().any(|t| t.starts_with("phone_number")) {
            let audit = AuditEntry::new(actor.clone(), "user.read", "OpenID claims for an authorized app", now).subject(user);
            let (_, phone) = read_phone::<ReadFail>(self.store, self.vault, &audit, user).await.map_err(OAuthError::server)?;
            if tags.contains("phone_number") {
                out.insert("phone_number".into(), json!(format!("+86{}", phone.reveal())));
            }
            if tags.contains("phone_number_verified") {
                out.insert("phone_number_verified".into(), json!(true));
            }
        }
        if tags.iter().any(|t| claims::is_sensitive(t))
            && self.id_number_consented(user).await?
            && let Some(row) = self.store.identity(user).await?
        {
            let audit = AuditEntry::new(actor, "identity.read", "OpenID verified claims for an authorized app", now).subject(user);
            let opened = open_identity::<ReadFail>(self.store, self.vault, user, &audit, &row.name_cipher, &row.id_cipher)
                .await
                .map_err(OAuthError::server)?;
            let today = idlink_domain::calendar::shanghai_today(now);
            let birth = match &row.birth_cipher {
                Some(c) => open_text::<ReadFail>(&opened.key, BIRTH_CONTEXT, c)
                    .map_err(OAuthError::server)?
                    .parse::<jiff::civil::Date>()
                    .map_err(OAuthError::server)?,
                None => opened.resident_id(today).map_err(OAuthError::server)?.birth_date(),
            };
            let process =
                format!("vp_{}", self.per_client("oidc-vp", client, &format!("{}\u{0}{}", user, row.verified_at.as_microsecond())).await?);
            let person = VerifiedPerson {
                name: opened.name.reveal().to_owned(),
                birthdate: birth,
                age: idlink_domain::idnumber::age_on(birth, today),
                verification_process: process,
                identity: row,
            };
            if let Some(vc) = claims::verified_claims(self.settings, &person, tags) {
                out.insert("verified_claims".into(), vc);
            }
        }
        Ok(())
    }

    // ── Resource endpoints ─────────────────────────────────────────────

    fn active(&self, v: &AccessTokenView) -> bool {
        v.is_active(self.clock.now())
    }

    /// `GET/POST /oauth2/userinfo` with a bearer token.
    pub async fn userinfo(&self, bearer: &str) -> Result<Value, OAuthError> {
        let invalid = || OAuthError::new("invalid_token", "the access token is not active");
        let view = self.store.access_token(&secret_hash(bearer)).await?.ok_or_else(invalid)?;
        if !self.active(&view) {
            return Err(invalid());
        }
        let (Some(user), Some(sub)) = (view.user_id.clone(), view.sub.clone()) else { return Err(invalid()) };
        if !view.scope.split(' ').any(|s| s == "openid") {
            return Err(OAuthError {
                error: "insufficient_scope",
                description: "the openid scope is required".into(),
                status: 403,
                basic: false,
            });
        }
        let mut out = serde_json::Map::new();
        out.insert("sub".into(), json!(sub));
        let tags: BTreeSet<String> = view.claims.iter().cloned().collect();
        self.release(&view.client_id, &user, &tags, &mut out).await?;
        Ok(Value::Object(out))
    }

    /// `POST /oauth2/revoke` (RFC 7009): unknown tokens are fine (200).
    pub async fn revoke(&self, client: &ClientRow, form: &[(String, String)]) -> Result<(), OAuthError> {
        let token = single(form, "token")
            .map_err(|e| OAuthError::new("invalid_request", e))?
            .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
        let now = self.clock.now();
        let audit = AuditEntry::new(format!("client:{}", client.id), "oauth.revoke", "the app revoked a token", now);
        self.store.revoke_token(&secret_hash(token), &client.id, now, &audit).await?;
        Ok(())
    }

    /// `POST /oauth2/introspect` (RFC 7662), client authentication included:
    /// one statement for a client with a secret (the common resource server),
    /// no audit (no personal data is returned).
    pub async fn introspect(&self, creds: &ClientCredentials, endpoint: &str, form: &[(String, String)]) -> Result<Value, OAuthError> {
        let presented = Self::presented(creds)?;
        let token = match single(form, "token") {
            Ok(Some(token)) => token,
            // The caller's authentication is still judged first (RFC 6749 §5.2 order).
            Ok(None) | Err(_) => {
                self.authenticate(creds, endpoint).await?;
                let e = single(form, "token").err().unwrap_or_else(|| "token is required".into());
                return Err(OAuthError::new("invalid_request", e));
            }
        };
        let token_hash = secret_hash(token);
        let (caller, introspects_any, view) = match &presented {
            Presented::Secret { id, secret, method } => {
                let refused = || presented.refusal("unknown client or wrong client secret");
                let Ok(caller) = ClientId::try_from(id.clone()) else { return Err(refused()) };
                let found = self.store.introspection(&caller, &secret_hash(secret), &token_hash, self.clock.now()).await?;
                let Some(found) = found.filter(|f| f.caller_active && f.secret_matches) else { return Err(refused()) };
                if found.caller_method != *method {
                    return Err(presented.refusal("the client must authenticate with its registered method"));
                }
                (caller, found.caller_introspects_any, found.token)
            }
            Presented::Assertion(_) => {
                let client = self.authenticate(creds, endpoint).await?;
                (client.id.clone(), client.introspect_any, self.store.access_token(&token_hash).await?)
            }
            // A public client proves nothing but its id: it may not learn about tokens (RFC 7662 §2.1).
            Presented::Bare(_) => return Err(OAuthError::new("invalid_client", "introspection needs a client that authenticates")),
        };
        let Some(view) = view else { return Ok(json!({"active": false})) };
        if !self.active(&view) || (view.client_id != caller && !introspects_any) {
            return Ok(json!({"active": false}));
        }
        let mut out = json!({
            "active": true,
            "scope": view.scope,
            "client_id": view.client_id.as_str(),
            "token_type": "Bearer",
            "exp": view.expires_at.as_second(),
            "iat": view.created_at.as_second(),
            "iss": self.settings.issuer,
        });
        if let (Some(sub), Value::Object(map)) = (view.sub, &mut out) {
            map.insert("sub".into(), json!(sub));
        }
        Ok(out)
    }
}

/// How a client presented itself at an endpoint, before any lookup.
enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { id: String, secret: String, method: AuthMethod },
    /// `private_key_jwt` (RFC 7523).
    Assertion(String),
    /// A `client_id` alone: a public client.
    Bare(String),
}

impl Presented {
    /// The `invalid_client` answer; a Basic attempt's 401 names the Basic scheme.
    fn refusal(&self, description: &str) -> OAuthError {
        let mut e = OAuthError::new("invalid_client", description);
        e.basic = matches!(self, Presented::Secret { method: AuthMethod::ClientSecretBasic, .. });
        e
    }
}

/// How far ahead of idlink's clock an assertion's `iat` or `nbf` may be (the client's clock runs fast).
const ASSERTION_SKEW_SECS: i64 = 60;

/// A JWT NumericDate claim (RFC 7519 §2: seconds, possibly fractional); `Err` when present but not a number.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, ()> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64)).map(Some).ok_or(()),
    }
}

/// The time rules of a client assertion (RFC 7523 §3; OIDC Core §9), at
/// `now` (seconds): `exp` in the future; `iat` and `nbf`, when present,
/// not ahead of `now` by more than 60 s; a lifetime (`exp` − `iat`, or
/// `exp` − `now` without `iat`) of at most `max_lifetime` seconds, so a jti
/// is kept for a bounded time. Answers `exp`, until which the jti is kept.
fn assertion_times(claims: &Value, now: i64, max_lifetime: i64) -> Result<i64, &'static str> {
    let exp = numeric_date(claims, "exp").map_err(|_| "exp is not a number")?.ok_or("the assertion has no exp")?;
    let iat = numeric_date(claims, "iat").map_err(|_| "iat is not a number")?;
    let nbf = numeric_date(claims, "nbf").map_err(|_| "nbf is not a number")?;
    if exp <= now {
        return Err("the assertion has expired");
    }
    if iat.is_some_and(|t| t > now.saturating_add(ASSERTION_SKEW_SECS)) {
        return Err("the assertion's iat is in the future");
    }
    if nbf.is_some_and(|t| t > now.saturating_add(ASSERTION_SKEW_SECS)) {
        return Err("the assertion is not valid yet (nbf)");
    }
    if exp.saturating_sub(iat.unwrap_or(now)) > max_lifetime {
        return Err("the assertion lives longer than idlink accepts (exp too far after iat or now)");
    }
    Ok(exp)
}

/// The claim tags of one place (`userinfo`, `id_token`) in a code's claims.
fn tag_list(claims: &Value, place: &str) -> Vec<String> {
    claims.get(place).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

/// OIDC Core §3.1.3.6: the left half of the hash of the access token, with
/// the hash of the signing algorithm (SHA-512 for Ed25519).
fn at_hash(alg: JwsAlg, token: &str) -> String {
    match alg {
        JwsAlg::Es256 => {
            let d = Sha256::digest(token.as_bytes());
            B64URL.encode(&d[..16])
        }
        JwsAlg::EdDsa => {
            let d = Sha512::digest(token.as_bytes());
            B64URL.encode(&d[..32])
        }
    }
}

/// An `application/x-www-form-urlencoded` body as name/value pairs.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The error type of the vault's system key for per-client identifiers.
#[derive(Debug, thiserror::Error)]
enum KeyFail {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
}

/// The error type of the audited personal-data reads.
#[derive(Debug, thiserror::Error)]
enum ReadFail {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] idlink_crypto::CryptoError),
    #[error("{0}")]
    Unreadable(#[from] crate::steps::personal::Unreadable),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%25"), "a:b c%");
        assert_eq!(form_decode("100%"), "100%");
    }

    #[test]
    fn assertions_expire_start_and_live_within_bounds() {
        let now = 1_800_000_000;
        let at = |v: Value| assertion_times(&v, now, 300);
        assert_eq!(at(json!({"exp": now + 60})), Ok(now + 60), "exp only, within the lifetime");
        assert_eq!(at(json!({"exp": now as f64 + 60.5})), Ok(now + 60), "fractional NumericDate");
        assert!(at(json!({"exp": now})).is_err(), "expired");
        assert!(at(json!({})).is_err(), "no exp");
        assert!(at(json!({"exp": "soon"})).is_err(), "exp not a number");
        // iat and nbf up to 60 s ahead (clock skew), not beyond.
        assert!(at(json!({"exp": now + 120, "iat": now + 60})).is_ok());
        assert!(at(json!({"exp": now + 120, "iat": now + 61})).is_err(), "iat in the future");
        assert!(at(json!({"exp": now + 120, "nbf": now + 60})).is_ok());
        assert!(at(json!({"exp": now + 120, "nbf": now + 61})).is_err(), "nbf in the future");
        assert!(at(json!({"exp": now + 120, "nbf": "x"})).is_err(), "nbf not a number");
        // Lifetime: exp − iat, or exp − now without iat, at most the maximum.
        assert!(at(json!({"exp": now + 300})).is_ok());
        assert!(at(json!({"exp": now + 301})).is_err(), "too long without iat");
        assert!(at(json!({"exp": now + 200, "iat": now - 100})).is_ok(), "exactly the maximum");
        assert!(at(json!({"exp": now + 200, "iat": now - 101})).is_err(), "too long from iat");
        assert!(at(json!({"exp": now + 10, "iat": now - 3600})).is_err(), "an old, long-lived assertion");
    }

    #[test]
    fn error_descriptions_are_plain_ascii_without_quotes() {
        assert_eq!(description_text("scope `a\"b\\c` 名"), "scope `a'b/c` ?");
        assert_eq!(OAuthError::new("invalid_request", "x\n\"y\"").description, "x?'y'");
    }

    proptest::proptest! {
        #[test]
        fn every_error_description_is_in_the_rfc_6749_charset(text in proptest::prelude::any::<String>()) {
            let e = OAuthError::new("invalid_request", text);
            proptest::prop_assert!(e.description.chars().count() <= DESCRIPTION_MAX);
            for b in e.description.bytes() {
                proptest::prop_assert!(matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E), "byte {b:#x} in {:?}", e.description);
            }
        }
    }

    #[test]
    fn rfc_7636_appendix_b() {
        assert_eq!(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
