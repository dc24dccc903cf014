//! Third-party app registration for the host backend (SPEC TP1):
//! `/v1/oauth/clients`, secrets shown once, rotation with an overlap. The
//! checks live in `idlink_core::clients` (the command line shares them);
//! here only the shapes, the scopes and the problem mapping.

use crate::extract::{Body, Causes, FromPath, PathId, Validate};
use crate::middleware::ApiCaller;
use crate::problem::{FieldError, Problem, ProblemCode};
use crate::state::{AppParts, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::clients::{Actor, ClientError, ClientPatch, ClientView, Clients, Issue, Registration};
use idlink_domain::{ClientId, EventId, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update))
        .routes(routes!(rotate_secret))
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(deliveries))
}

/// The registration use cases over the state's parts.
pub fn clients(state: &AppParts) -> Clients<'_> {
    Clients {
        store: state.store.as_ref(),
        streams: state.store.as_ref(),
        keys: state.store.as_ref(),
        vault: &state.vault,
        clock: state.clock.as_ref(),
        ids: state.ids.as_ref(),
        oidc: &state.oidc,
        events: &state.events,
    }
}

impl FromPath for ClientId {
    fn parse(raw: &str) -> Result<Self, idlink_domain::ids::IdError> {
        ClientId::parse(raw)
    }
    fn refused(_: idlink_domain::ids::IdError) -> Problem {
        Problem::new(ProblemCode::ClientNotFound)
    }
}

fn field_errors(issues: Vec<Issue>) -> Vec<FieldError> {
    issues.into_iter().map(|i| FieldError::new(format!("/{}", i.field), i.code, i.detail)).collect()
}

impl From<ClientError> for Problem {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(issues) => Problem::new(ProblemCode::ClientMetadataInvalid).errors(field_errors(issues)),
            ClientError::ReceiverRefused(issues) => Problem::new(ProblemCode::ReceiverRefused).errors(field_errors(issues)),
            ClientError::NotFound => Problem::new(ProblemCode::ClientNotFound),
            ClientError::Store(e) => e.into(),
            ClientError::Crypto(e) => e.into(),
        }
    }
}

fn actor(api: &ApiCaller, request_id: Option<&RequestId>) -> Actor {
    Actor { actor: api.actor(), request_id: request_id.cloned() }
}

/// Body of `POST /v1/oauth/clients` (OpenID Connect Dynamic Client Registration's names where it has one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// Shown to users on the consent page and in their list of apps.
    #[schema(example = "Example Pay")]
    name: String,
    /// An https URL.
    logo_url: Option<String>,
    /// Absolute, matched exactly; https, or http on a loopback address for native apps; no fragment.
    #[schema(example = json!(["https://rp.example.com/callback"]))]
    redirect_uris: Vec<String>,
    /// `confidential` (default) or `public` (PKCE only, no secret).
    kind: Option<String>,
    /// `client_secret_basic` (default for confidential), `client_secret_post`, `private_key_jwt`, `none` (public).
    token_endpoint_auth_method: Option<String>,
    /// The client's public keys (a JWK Set), for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// From `openid`, `phone`, `identity`, `offline_access`; default `["openid"]`.
    scopes: Option<Vec<String>>,
    /// The claims the app may ask for (docs/oidc.md lists them): `name`, `birthdate`, `age_over_18`,
    /// `phone_number`, `phone_number_verified`, `verified_claims`.
    claims: Option<Vec<String>>,
    /// `ES256` (default) or `EdDSA`.
    id_token_signed_response_alg: Option<String>,
    /// OpenID Connect Back-Channel Logout receiver.
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    /// Standard Webhooks receiver of security events.
    webhook_url: Option<String>,
    /// The event types sent to `webhook_url`; absent or empty: all.
    webhook_event_types: Option<Vec<String>>,
    /// A resource server: may introspect tokens issued to other apps.
    introspect_any: Option<bool>,
}

impl Validate for CreateClient {
    type Valid = Registration;
    /// The values are checked by the use case (shared with the command line), which answers `client_metadata_invalid`.
    fn validate(self, _: &mut Causes) -> Option<Registration> {
        Some(Registration {
            name: self.name,
            logo_url: self.logo_url,
            redirect_uris: self.redirect_uris,
            kind: self.kind,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            jwks: self.jwks,
            scopes: self.scopes.unwrap_or_default(),
            claims: self.claims.unwrap_or_default(),
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required.unwrap_or(false),
            webhook_url: self.webhook_url,
            webhook_event_types: self.webhook_event_types.unwrap_or_default(),
            introspect_any: self.introspect_any.unwrap_or(false),
        })
    }
}

/// A client's webhook receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    /// `enabled`, or `disabled` (by an operator, or after the receiver answered 410 Gone).
    pub state: String,
    pub disabled_reason: Option<String>,
}

/// A registered app. Never holds a secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct Client {
    #[schema(example = "cli_0123456789abcdef0123456789abcdef")]
    pub client_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub kind: String,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub claims: Vec<String>,
    pub id_token_signed_response_alg: String,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub introspect_any: bool,
    /// `active` or `disabled`.
    pub state: String,
    pub webhook: Option<Webhook>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ClientView> for Client {
    fn from(v: ClientView) -> Self {
        let c = v.row;
        Client {
            client_id: c.id.to_string(),
            name: c.name,
            logo_url: c.logo_url,
            kind: c.kind.as_str().into(),
            token_endpoint_auth_method: c.auth_method.as_str().into(),
            redirect_uris: c.redirect_uris,
            scopes: c.allowed_scopes,
            claims: c.allowed_claims,
            id_token_signed_response_alg: c.id_token_alg.as_str().into(),
            backchannel_logout_uri: c.backchannel_logout_uri,
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            introspect_any: c.introspect_any,
            state: c.state.as_str().into(),
            webhook: v.webhook.map(|w| Webhook {
                url: w.url,
                event_types: w.event_types,
                state: w.state,
                disabled_reason: w.disabled_reason,
            }),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

/// A registration's answer: the client and its secrets, shown this once (only their hashes, or sealed copies, are kept).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    pub client: Client,
    /// `ics_…`, for `client_secret_basic` / `client_secret_post`.
    pub client_secret: Option<String>,
    /// `whsec_…`: verifies the `v1` (HMAC-SHA256) webhook signatures.
    pub webhook_secret: String,
    /// `whpk_…`: verifies the `v1a` (Ed25519) webhook signatures.
    pub webhook_public_key: String,
}

/// Registers a third-party app. The secrets are in this answer only.
#[utoipa::path(post, path = "/v1/oauth/clients", tag = "apps",
    request_body = CreateClient,
    responses(
        (status = 201, body = CreatedClient),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:write"])))]
pub async fn create(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    Body(reg): Body<CreateClient>,
) -> Result<Response, Problem> {
    api.require("clients:write")?;
    let done = clients(&state).register(&actor(&api, request_id.as_deref()), reg).await?;
    let body = CreatedClient {
        client: done.client.into(),
        client_secret: done.client_secret,
        webhook_secret: done.webhook.secret,
        webhook_public_key: done.webhook.public_key,
    };
    Ok((StatusCode::CREATED, [(axum::http::header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    /// Oldest first.
    pub clients: Vec<Client>,
}

/// The registered apps.
#[utoipa::path(get, path = "/v1/oauth/clients", tag = "apps",
    responses(
        (status = 200, body = ClientList),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:read"])))]
pub async fn list(State(state): State<AppState>, api: ApiCaller) -> Result<Json<ClientList>, Problem> {
    api.require("clients:read")?;
    let all = clients(&state).list().await?;
    Ok(Json(ClientList { clients: all.into_iter().map(Client::from).collect() }))
}

/// One registered app.
#[utoipa::path(get, path = "/v1/oauth/clients/{client_id}", tag = "apps",
    params(("client_id" = String, Path, pattern = r"^cli_[A-Za-z0-9_-]{1,64}$", example = "cli_0123456789abcdef0123456789abcdef")),
    responses(
        (status = 200, body = Client),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:read"])))]
pub async fn show(State(state): State<AppState>, api: ApiCaller, PathId(id): PathId<ClientId>) -> Result<Json<Client>, Problem> {
    api.require("clients:read")?;
    Ok(Json(clients(&state).get(&id).await?.into()))
}

/// Body of `PATCH /v1/oauth/clients/{client_id}`: absent fields stay; an empty string clears `logo_url` or `backchannel_logout_uri`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    name: Option<String>,
    logo_url: Option<String>,
    /// Replaces the list.
    redirect_uris: Option<Vec<String>>,
    backchannel_logout_uri: Option<String>,
    /// A new receiver is enabled (even if the old one was disabled after a 410).
    webhook_url: Option<String>,
    webhook_event_types: Option<Vec<String>>,
    /// `active` or `disabled` (no new authorization, token or introspection; grants stay).
    state: Option<String>,
}

impl Validate for UpdateClient {
    type Valid = ClientPatch;
    fn validate(self, _: &mut Causes) -> Option<ClientPatch> {
        Some(ClientPatch {
            name: self.name,
            logo_url: self.logo_url,
            redirect_uris: self.redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            webhook_url: self.webhook_url,
            webhook_event_types: self.webhook_event_types,
            state: self.state,
        })
    }
}

/// Changes an app: redirect URIs, logo, receivers, state.
#[utoipa::path(patch, path = "/v1/oauth/clients/{client_id}", tag = "apps",
    params(("client_id" = String, Path, pattern = r"^cli_[A-Za-z0-9_-]{1,64}$", example = "cli_0123456789abcdef0123456789abcdef")),
    request_body = UpdateClient,
    responses(
        (status = 200, body = Client),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:write"])))]
pub async fn update(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(id): PathId<ClientId>,
    Body(patch): Body<UpdateClient>,
) -> Result<Json<Client>, Problem> {
    api.require("clients:write")?;
    let who = actor(&api, request_id.as_deref());
    let view = clients(&state).update(&who, &id, patch).await?;
    Ok(Json(view.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSecret {
    /// `ics_…`, shown once.
    pub client_secret: String,
    /// The previous secrets keep working until then.
    pub previous_valid_until: String,
}

/// A new client secret; the previous one keeps working for the overlap (`oidc.secret_overlap_secs`).
#[utoipa::path(post, path = "/v1/oauth/clients/{client_id}/secret", tag = "apps",
    params(("client_id" = String, Path, pattern = r"^cli_[A-Za-z0-9_-]{1,64}$", example = "cli_0123456789abcdef0123456789abcdef")),
    responses(
        (status = 200, body = NewSecret),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:write"])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(id): PathId<ClientId>,
) -> Result<Response, Problem> {
    rotation(&api, async {
        let (secret, until) = clients(&state).rotate_secret(&actor(&api, request_id.as_deref()), &id).await?;
        Ok(NewSecret { client_secret: secret, previous_valid_until: until.to_string() })
    })
    .await
}

/// Both rotations: `clients:write`, then the new secret in this answer only (`no-store`).
async fn rotation<B: Serialize>(api: &ApiCaller, rotate: impl Future<Output = Result<B, ClientError>>) -> Result<Response, Problem> {
    api.require("clients:write")?;
    let body = rotate.await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhookSecret {
    /// `whsec_…`, shown once.
    pub webhook_secret: String,
    /// `whpk_…`.
    pub webhook_public_key: String,
    /// Until then events are signed with the previous secrets too (one signature each).
    pub previous_valid_until: String,
}

/// New webhook signing secrets; the previous ones keep signing beside them for the overlap.
#[utoipa::path(post, path = "/v1/oauth/clients/{client_id}/webhook-secret", tag = "apps",
    params(("client_id" = String, Path, pattern = r"^cli_[A-Za-z0-9_-]{1,64}$", example = "cli_0123456789abcdef0123456789abcdef")),
    responses(
        (status = 200, body = NewWebhookSecret),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:write"])))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    api: ApiCaller,
    request_id: Option<axum::Extension<RequestId>>,
    PathId(id): PathId<ClientId>,
) -> Result<Response, Problem> {
    rotation(&api, async {
        let (s, until) = clients(&state).rotate_webhook_secrets(&actor(&api, request_id.as_deref()), &id).await?;
        Ok(NewWebhookSecret { webhook_secret: s.secret, webhook_public_key: s.public_key, previous_valid_until: until.to_string() })
    })
    .await
}

/// `GET /v1/oauth/clients/{client_id}/deliveries` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// The keyset cursor: `next_cursor` of the previous page.
    #[param(example = "evt_0123456789abcdef0123456789abcdef")]
    cursor: Option<String>,
    /// At most this many receipts (1 to 200, 50 by default).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// One attempt at a delivery: never a body, never personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: u32,
    pub started_at: String,
    pub latency_ms: u64,
    /// The receiver's HTTP status; null when it did not answer.
    pub http_status: Option<u16>,
    /// `delivered`, `retry`, `dead` or `gone`.
    pub outcome: String,
    pub error: Option<String>,
}

/// A delivery receipt: one event for the app on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// The child event's id (`webhook-id`, the SET's `jti`).
    pub id: String,
    /// `webhook`, `set_push`, `set_poll` or `logout`.
    pub channel: String,
    /// The webhook type, e.g. `account.disabled`, or `ssf.verification` / `ssf.stream_updated`.
    pub event_type: String,
    pub created_at: String,
    /// `pending`, `delivered`, `dead` or `gone`.
    pub state: String,
    pub attempts: u32,
    pub delivered_at: Option<String>,
    pub last_status: Option<u16>,
    /// Oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The app's delivery receipts (webhooks, SETs, logout tokens) with every
/// attempt's status, latency and error, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/oauth/clients/{client_id}/deliveries", tag = "apps",
    params(("client_id" = String, Path, pattern = r"^cli_[A-Za-z0-9_-]{1,64}$", example = "cli_0123456789abcdef0123456789abcdef"),
           DeliveriesQuery),
    responses(
        (status = 200, body = DeliveryList),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["clients:read"])))]
pub async fn deliveries(
    State(state): State<AppState>,
    api: ApiCaller,
    PathId(id): PathId<ClientId>,
    axum::extract::Query(q): axum::extract::Query<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, Problem> {
    api.require("clients:read")?;
    clients(&state).get(&id).await?;
    let cursor = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(EventId::parse(c).map_err(|_| {
            Problem::validation(vec![FieldError::new("/query/cursor", "invalid_cursor", "`cursor` is a `next_cursor` of this list.")])
        })?),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows = state.store.client_deliveries(&id, cursor.as_ref(), limit).await?;
    let next_cursor = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.receipt.id.to_string())).flatten();
    let deliveries = rows
        .into_iter()
        .map(|d| Delivery {
            id: d.receipt.id.to_string(),
            channel: d.receipt.channel,
            event_type: d.receipt.event_type,
            created_at: d.receipt.created_at.to_string(),
            state: d.receipt.state,
            attempts: d.receipt.attempts,
            delivered_at: d.receipt.delivered_at.map(|t| t.to_string()),
            last_status: d.receipt.last_status,
            attempt_log: d
                .attempts
                .into_iter()
                .map(|a| DeliveryAttempt {
                    attempt: a.attempt,
                    started_at: a.started_at.to_string(),
                    latency_ms: a.latency_ms,
                    http_status: a.http_status,
                    outcome: a.outcome,
                    error: a.error,
                })
                .collect(),
        })
        .collect();
    Ok(Json(DeliveryList { deliveries, next_cursor }))
}
