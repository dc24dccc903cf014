//! Third-party apps in the console (SPEC TP1, TP3, OP): every registered
//! client with its active grants and deliveries by state; one client's
//! delivery receipts with each attempt (status, latency, error); admins
//! disable or enable a client and rotate its secret (shown once). The
//! changes go through the same use cases as `/v1/oauth/clients`.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::{Tr, has_key};
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idlink_api::Problem;
use idlink_api::routes::clients::clients;
use idlink_core::clients::{Actor, ClientPatch, ClientView};
use idlink_core::ports::grants::{ClientFigures, DeliveryRow};
use idlink_core::ports::operators::{Role, require};
use idlink_domain::ClientId;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/apps", get(list))
        .route("/console/apps/{id}", get(detail))
        .route("/console/apps/{id}/state", post(set_state))
        // The new secret's page sits at this URL: coming back to it (the
        // language switch) shows the app, never the secret again.
        .route("/console/apps/{id}/secret", get(to_app).post(rotate))
}

/// Receipts shown on a client's page.
const RECEIPTS: u32 = 100;

pub struct AppRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub state: String,
    pub active: bool,
    pub redirect_uris: Vec<String>,
    pub grants: u64,
    /// "3 delivered, 1 dead", in words.
    pub deliveries: String,
}

pub struct AttemptLine {
    pub number: u32,
    pub at: String,
    pub status: String,
    pub latency: String,
    pub error: String,
}

pub struct ReceiptRow {
    pub id: String,
    pub event: String,
    pub channel: String,
    pub state: String,
    pub failed: bool,
    pub at: String,
    pub attempts: Vec<AttemptLine>,
}

fn words(tr: &Tr, key: &str, fallback: &str) -> String {
    if has_key(tr.locale, key) { tr.t(key) } else { fallback.to_owned() }
}

fn state_words(tr: &Tr, active: bool) -> String {
    tr.t(if active { "console-apps-state-active" } else { "console-apps-state-disabled" })
}

fn kind_words(tr: &Tr, confidential: bool) -> String {
    tr.t(if confidential { "console-apps-kind-confidential" } else { "console-apps-kind-public" })
}

fn delivery_state(tr: &Tr, state: &str) -> String {
    words(tr, &format!("console-apps-delivery-{state}"), state)
}

fn figures_words(tr: &Tr, f: &ClientFigures) -> String {
    if f.deliveries.is_empty() {
        return tr.t("console-apps-no-deliveries");
    }
    f.deliveries.iter().map(|(state, n)| format!("{} {}", n, delivery_state(tr, state))).collect::<Vec<_>>().join(", ")
}

fn app_row(tr: &Tr, v: &ClientView, f: Option<&ClientFigures>) -> AppRow {
    let c = &v.row;
    let active = c.state.as_str() == "active";
    let empty = ClientFigures::default();
    let f = f.unwrap_or(&empty);
    AppRow {
        id: c.id.to_string(),
        name: c.name.clone(),
        kind: kind_words(tr, c.kind.as_str() == "confidential"),
        state: state_words(tr, active),
        active,
        redirect_uris: c.redirect_uris.clone(),
        grants: f.active_grants,
        deliveries: figures_words(tr, f),
    }
}

#[derive(Template)]
#[template(path = "console/apps.html")]
struct ListPage {
    c: ConsoleChrome,
    apps: Vec<AppRow>,
    error: Option<String>,
}

/// `GET /console/apps`.
async fn list(State(state): State<WebState>, s: SignedOperator) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-apps-title"), Some(&s.op));
    let all = clients(&state.app).list().await.map_err(Problem::from);
    let figures = state.app.store.client_figures().await.map_err(Problem::from);
    let page = match (all, figures) {
        (Ok(all), Ok(figures)) => {
            let apps = all.iter().map(|v| app_row(&tr, v, figures.iter().find(|(id, _)| *id == v.row.id).map(|(_, f)| f))).collect();
            ListPage { c, apps, error: None }
        }
        (Err(p), _) | (_, Err(p)) => ListPage { c, apps: Vec::new(), error: Some(problem_message_in(&tr, "console", &p)) },
    };
    let status = if page.error.is_some() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

#[derive(Template)]
#[template(path = "console/app.html")]
struct DetailPage {
    c: ConsoleChrome,
    app: AppRow,
    /// The receiver's URL and its state, in words.
    webhook: Option<(String, String)>,
    logout: Option<String>,
    scopes: String,
    claims: String,
    receipts: Vec<ReceiptRow>,
    may_change: bool,
    /// A secret just minted, shown this once.
    new_secret: Option<String>,
    error: Option<String>,
}

fn receipt(tr: &Tr, d: &DeliveryRow, attempts: Vec<AttemptLine>) -> ReceiptRow {
    ReceiptRow {
        id: d.id.clone(),
        event: d.event_type.clone(),
        channel: words(tr, &format!("console-apps-channel-{}", d.channel.replace('_', "-")), &d.channel),
        state: delivery_state(tr, &d.state),
        failed: matches!(d.state.as_str(), "dead" | "gone"),
        at: tr.datetime(d.created_at),
        attempts,
    }
}

async fn detail_page(state: &WebState, s: &SignedOperator, raw: &str, new_secret: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-apps-detail-title"), Some(&s.op));
    let not_found = || {
        let message = problem_message_in(&tr, "console", &Problem::new(idlink_api::ProblemCode::ClientNotFound));
        super::message_page(&s.visitor, Some(&s.op), StatusCode::NOT_FOUND, &message)
    };
    let Ok(id) = ClientId::parse(raw) else { return not_found() };
    let loaded = async {
        let v = clients(&state.app).get(&id).await.map_err(Problem::from)?;
        let figures = state.app.store.client_figures().await?;
        let deliveries = state.app.store.deliveries_of_client(&id, RECEIPTS).await?;
        let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
        let attempts = state.app.store.delivery_attempts(&ids).await?;
        Ok::<_, Problem>((v, figures, deliveries, attempts))
    };
    let (v, figures, deliveries, attempts) = match loaded.await {
        Ok(x) => x,
        Err(p) if p.code == idlink_api::ProblemCode::ClientNotFound => return not_found(),
        Err(p) => {
            let message = problem_message_in(&tr, "console", &p);
            return super::message_page(&s.visitor, Some(&s.op), StatusCode::SERVICE_UNAVAILABLE, &message);
        }
    };
    let receipts = deliveries
        .iter()
        .map(|d| {
            let lines = attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .map(|a| AttemptLine {
                    number: a.attempt,
                    at: tr.datetime(a.started_at),
                    status: a.http_status.map_or_else(|| a.outcome.clone(), |s| format!("{s} ({})", a.outcome)),
                    latency: tr.t1("console-apps-latency", "ms", &a.latency_ms.to_string()),
                    error: a.error.clone().unwrap_or_default(),
                })
                .collect();
            receipt(&tr, d, lines)
        })
        .collect();
    let f = figures.iter().find(|(cid, _)| *cid == id).map(|(_, f)| f);
    let page = DetailPage {
        c,
        app: app_row(&tr, &v, f),
        webhook: v.webhook.as_ref().map(|w| {
            let state = if w.state == "enabled" { "console-apps-webhook-enabled" } else { "console-apps-webhook-disabled" };
            (w.url.clone(), tr.t(state))
        }),
        logout: v.row.backchannel_logout_uri.clone(),
        scopes: v.row.allowed_scopes.join(" "),
        claims: v.row.allowed_claims.join(" "),
        receipts,
        may_change: require(&s.op, Role::Admin).is_ok(),
        new_secret,
        error: None,
    };
    let status = if page.error.is_some() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

async fn to_app(Path(raw): Path<String>) -> Response {
    match ClientId::parse(&raw) {
        Ok(id) => Redirect::to(&format!("/console/apps/{id}")).into_response(),
        Err(_) => Redirect::to("/console/apps").into_response(),
    }
}

/// `GET /console/apps/{id}`.
async fn detail(State(state): State<WebState>, s: SignedOperator, Path(raw): Path<String>) -> Response {
    detail_page(&state, &s, &raw, None).await
}

fn actor(s: &SignedOperator) -> Actor {
    Actor { actor: format!("operator:{}", s.op.id), request_id: s.visitor.request_id.clone() }
}

/// Refuses an operator who is not an admin.
fn admin_only(s: &SignedOperator) -> Option<Response> {
    require(&s.op, Role::Admin).err().map(|_| {
        let message = s.visitor.tr.t("console-problem-operator_role_required");
        super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message)
    })
}

#[derive(serde::Deserialize)]
pub struct StateForm {
    /// `active` or `disabled`.
    state: String,
}

/// `POST /console/apps/{id}/state`: disable or enable (admins).
async fn set_state(
    State(state): State<WebState>,
    s: SignedOperator,
    Path(raw): Path<String>,
    axum::Form(f): axum::Form<StateForm>,
) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let Ok(id) = ClientId::parse(&raw) else { return detail_page(&state, &s, &raw, None).await };
    let patch = ClientPatch { state: Some(f.state), ..ClientPatch::default() };
    match clients(&state.app).update(&actor(&s), &id, patch).await {
        Ok(_) => (cookies(&s.visitor), Redirect::to(&format!("/console/apps/{id}"))).into_response(),
        Err(e) => {
            let message = problem_message_in(&s.visitor.tr, "console", &Problem::from(e));
            super::message_page(&s.visitor, Some(&s.op), StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
    }
}

/// `POST /console/apps/{id}/secret`: a new client secret, shown once on the answer page (admins).
async fn rotate(State(state): State<WebState>, s: SignedOperator, Path(raw): Path<String>) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let Ok(id) = ClientId::parse(&raw) else { return detail_page(&state, &s, &raw, None).await };
    match clients(&state.app).rotate_secret(&actor(&s), &id).await {
        Ok((secret, until)) => {
            let shown = s
                .visitor
                .tr
                .ta("console-apps-new-secret", &[("secret", secret.as_str()), ("until", s.visitor.tr.datetime(until).as_str())]);
            let mut page = detail_page(&state, &s, &raw, Some(shown)).await;
            page.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            page
        }
        Err(e) => {
            let message = problem_message_in(&s.visitor.tr, "console", &Problem::from(e));
            super::message_page(&s.visitor, Some(&s.op), StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
    }
}
