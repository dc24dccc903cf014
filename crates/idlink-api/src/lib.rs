//! The HTTP API of idlink.
//!
//! [`app`] assembles the router: operations endpoints (`/healthz`,
//! `/readyz`, `/metrics`, `/openapi.json`) and the authenticated `/v1` API.
//! Layers, outermost first: request id and access log → problem rendering →
//! panic catching → timeout → body limit → metrics → (for the documented
//! routes) the method table → (for `/v1`) authentication → idempotency →
//! handler. The OAuth, OpenID and Shared Signals routes skip the method
//! table: they are not in the document and answer a wrong method themselves.
//!
//! The OpenAPI 3.1 document is generated from the handlers' annotations
//! ([`openapi`]); `docs/openapi.json` is a committed copy kept equal by a test.

// `Problem` is the error type of every handler by design; it is built once
// per failed request, so its size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod client_ip;
pub mod errors;
pub mod extract;
pub mod fragments;
pub mod methods;
pub mod middleware;
pub mod node_metrics;
pub mod problem;
pub mod routes;
pub mod schema;
pub mod state;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use problem::{Problem, ProblemCode};
pub use state::{AppParts, AppState, HttpLimits};

use routes::{
    audit, auth, balance, banks, callbacks, cards, certificates, clients, compliance, consents, credit, dual, grants, guardians, health,
    identity, info, institutions, me, medical, oauth, operations, operator, people, revocation, security, social_security, ssf, users,
};

/// The process-wide Prometheus recorder (the `metrics` facade allows one).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()
                .and_then(|b| b.install_recorder().map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed")).ok())
        })
        .clone()
}

fn api_router() -> OpenApiRouter<AppState> {
    let mut doc = OpenApi::default();
    doc.info.title = "idlink".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Verified real-name identity and consented access to institutions. Errors are RFC 9457 problem documents \
         (application/problem+json) with a stable `code`; see docs/errors.md."
            .into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("<key id>.<secret>")
                .description(Some("Host-app API key from `idlink apikey create`."))
                .build(),
        ),
    );
    OpenApiRouter::with_openapi(doc).routes(routes!(health::healthz)).routes(routes!(health::readyz))
}

fn v1_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users::create_user))
        .routes(routes!(users::get_user))
        .routes(routes!(users::shred_user))
        .routes(routes!(users::access_log))
        .routes(routes!(audit::verify))
        .routes(routes!(auth::request_code))
        .routes(routes!(auth::login))
        .routes(routes!(auth::device_check))
        .routes(routes!(me::me))
        .routes(routes!(me::revoke_sessions))
        .routes(routes!(security::request_my_code))
        .routes(routes!(security::payment_password_status, security::set_payment_password))
        .routes(routes!(security::verify_payment_password))
        .routes(routes!(security::biometric_challenge))
        .routes(routes!(security::biometric_step_up))
        .routes(routes!(security::make_primary))
        .routes(routes!(identity::start))
        .routes(routes!(identity::submit))
        .routes(routes!(identity::get_verification))
        .routes(routes!(identity::identity))
        .routes(routes!(identity::capabilities))
        .routes(routes!(consents::list, consents::give))
        .routes(routes!(consents::withdraw))
        .routes(routes!(guardians::request, guardians::list))
        .routes(routes!(guardians::accept))
        .routes(routes!(info::verification_request, info::answer_verification))
        .routes(routes!(info::guardianship_request, info::answer_guardianship))
        .routes(routes!(cards::bind, cards::list))
        .routes(routes!(cards::confirm))
        .routes(routes!(cards::unbind))
        .routes(routes!(balance::set_switch))
        .routes(routes!(balance::sign_agreement, balance::revoke_agreement))
        .routes(routes!(balance::tiers))
        .routes(routes!(balance::query))
        .routes(routes!(balance::history))
        .routes(routes!(balance::low_balance_alert))
        .routes(routes!(banks::agreement))
        .routes(routes!(credit::quote))
        .routes(routes!(social_security::regions))
        .routes(routes!(social_security::region))
        .routes(routes!(social_security::agreement))
        .routes(routes!(social_security::start, social_security::list))
        .routes(routes!(social_security::get_one, social_security::cancel))
        .routes(routes!(social_security::end_agent))
        .routes(routes!(social_security::identity_face))
        .routes(routes!(social_security::identity_sms))
        .routes(routes!(social_security::identity_sms_confirm))
        .routes(routes!(social_security::card))
        .routes(routes!(social_security::card_confirm))
        .routes(routes!(social_security::bank))
        .routes(routes!(social_security::bank_confirm))
        .routes(routes!(social_security::bank_password_reset))
        .routes(routes!(social_security::sign))
        .routes(routes!(social_security::features))
        .routes(routes!(social_security::accounts))
        .routes(routes!(social_security::submit_service, social_security::list_services))
        .routes(routes!(social_security::get_service))
        .routes(routes!(revocation::preflight))
        .routes(routes!(revocation::start))
        .routes(routes!(revocation::latest))
        .routes(routes!(revocation::ask_review))
        .routes(routes!(medical::issue))
        .routes(routes!(medical::settle))
        .routes(routes!(medical::check))
        .routes(routes!(credit::alerts, credit::set_alerts))
        .routes(routes!(credit::request, credit::list))
        .routes(routes!(credit::get_one))
        .routes(routes!(credit::face))
        .routes(routes!(credit::card))
        .routes(routes!(credit::card_confirm))
        .routes(routes!(credit::certificate_challenge))
        .routes(routes!(credit::certificate))
        .routes(routes!(certificates::register, certificates::list))
        .routes(routes!(certificates::revoke))
        .routes(routes!(credit::link))
        .routes(routes!(credit::pdf))
        .merge(clients::routes())
        .merge(grants::routes())
}

/// Callbacks from banks: authenticated by the bank's signature, no API key.
fn callback_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callbacks::bank_event)).routes(routes!(callbacks::payment_event))
}

/// Operator routes: their own authentication, no host-app API key.
fn operator_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(operator::sign_in)).merge(operator_session_routes())
}

fn operator_session_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operator::list))
        .routes(routes!(operator::case))
        .routes(routes!(operator::claim))
        .routes(routes!(operator::release))
        .routes(routes!(operator::decide))
        .routes(routes!(dual::propose, dual::list))
        .routes(routes!(dual::show))
        .routes(routes!(dual::approve))
        .routes(routes!(dual::reject))
        .routes(routes!(dual::breaches))
        .routes(routes!(dual::operators))
        .routes(routes!(dual::duty))
        .routes(routes!(compliance::quarterly))
        .routes(routes!(compliance::quarterly_file))
        .routes(routes!(compliance::retention))
        .routes(routes!(compliance::audit_records))
        .routes(routes!(compliance::audit_verify))
        .routes(routes!(compliance::audit_checkpoints))
        .routes(routes!(compliance::key_status))
        .routes(routes!(credit::reviews))
        .routes(routes!(credit::decide))
        .merge(people::routes())
        .merge(institutions::routes())
        .merge(operations::routes())
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> OpenApi {
    let (_, mut doc) = api_router().merge(v1_routes()).merge(operator_routes()).merge(callback_routes()).split_for_parts();
    add_problem_schemas(&mut doc);
    fragments::apply(&mut doc);
    doc
}

fn add_problem_schemas(doc: &mut OpenApi) {
    use utoipa::PartialSchema;
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert("Problem".into(), problem::Problem::schema());
    components.schemas.insert("FieldError".into(), problem::FieldError::schema());
    // Bodies whose fields depend on each other publish those rules too.
    if let Some(schema) = identity::StartVerification::published_schema() {
        components.schemas.insert("StartVerification".into(), schema.into());
    }
    if let Some(schema) = dual::Propose::published_schema() {
        components.schemas.insert("Propose".into(), schema.into());
    }
    if let Some(schema) = social_security::SsCard::published_schema() {
        components.schemas.insert("SsCard".into(), schema.into());
    }
    if let Some(schema) = social_security::NewSsServiceRequest::published_schema() {
        components.schemas.insert("NewSsServiceRequest".into(), schema.into());
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let v1 = v1_routes()
        .route_layer(from_fn_with_state(state.clone(), middleware::idempotency))
        .route_layer(from_fn_with_state(state.clone(), middleware::authenticate));
    let operators = OpenApiRouter::new().routes(routes!(operator::sign_in)).merge(
        operator_session_routes()
            .route_layer(from_fn_with_state(state.clone(), middleware::idempotency))
            .route_layer(from_fn_with_state(state.clone(), operator::authenticate)),
    );
    let (router, _) = api_router().merge(v1).merge(operators).merge(callback_routes()).split_for_parts();
    let doc = openapi();
    let methods = methods::MethodTable::from_document(&doc);
    let openapi_json = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let metrics = metrics_handle();
    let review_sla = state.review_sla.clone();
    router
        .route("/openapi.json", get(move || async move { ([("content-type", "application/json")], openapi_json) }))
        .route(
            "/metrics",
            get(move || async move {
                match &metrics {
                    // The process-wide registry, then this node's own gauges.
                    Some(h) => ([("content-type", "text/plain; version=0.0.4")], h.render() + &review_sla.render()).into_response(),
                    None => {
                        Problem::new(ProblemCode::ServiceUnavailable).detail("Metrics are not available in this process.").into_response()
                    }
                }
            }),
        )
        .fallback(|| async { Problem::new(ProblemCode::NotFound) })
        .layer(from_fn_with_state(methods, methods::guard))
        // The OAuth, OpenID and Shared Signals endpoints speak their own RFCs' formats (ADR 0021)
        // and answer a wrong method themselves: they are not in the method table.
        .merge(oauth::router())
        .merge(ssf::router())
        .layer(from_fn(middleware::record_metrics))
        .layer(RequestBodyLimitLayer::new(state.limits.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, state.limits.request_timeout))
        .layer(CatchPanicLayer::new())
        .layer(from_fn(problem::render_problems))
        .layer(from_fn_with_state(state.clone(), middleware::request_id))
        .with_state(state)
}
