//! The apps a user authorised (SPEC TP2): `/h5/apps` lists every grant
//! with the claims it holds, since when, and the deliveries the app was
//! sent; the user revokes one or all (each after a confirmation page).

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::i18n::{Tr, has_key};
use crate::pages::render::{Chrome, html, message_page, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_api::routes::grants::grants;
use idlink_core::grants::{GrantView, Revoker};
use idlink_core::ports::grants::DeliveryRow;
use idlink_domain::GrantId;
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/apps", get(list))
        .route("/h5/apps/revoke-all", get(revoke_all_page).post(revoke_all))
        .route("/h5/apps/{grant}", get(detail))
        .route("/h5/apps/{grant}/revoke", get(revoke_page).post(revoke))
}

/// A delivery as the page words it.
pub struct DeliveryLine {
    pub what: String,
    pub channel: String,
    pub state: String,
    pub at: String,
    pub failed: bool,
}

/// A grant as the page words it.
pub struct AppLine {
    pub id: String,
    pub name: String,
    /// The claims held, in words.
    pub claims: Vec<String>,
    pub since: String,
    /// Why the app's access is paused (a freeze, or a revocation under way), if it is.
    pub paused: Option<String>,
    pub deliveries: Vec<DeliveryLine>,
}

/// The catalogue's words for `key`, or `fallback` where it has none (a name added later).
fn words(tr: &Tr, key: &str, fallback: &str) -> String {
    if has_key(tr.locale, key) { tr.t(key) } else { fallback.to_owned() }
}

fn slug(s: &str) -> String {
    s.replace(['.', '_'], "-")
}

fn delivery(tr: &Tr, d: &DeliveryRow) -> DeliveryLine {
    DeliveryLine {
        what: words(tr, &format!("apps-event-{}", slug(&d.event_type)), &d.event_type),
        channel: words(tr, &format!("apps-channel-{}", slug(&d.channel)), &d.channel),
        state: words(tr, &format!("apps-delivery-{}", slug(&d.state)), &d.state),
        at: tr.datetime(d.delivered_at.unwrap_or(d.created_at)),
        failed: matches!(d.state.as_str(), "dead" | "gone"),
    }
}

fn line(tr: &Tr, v: &GrantView) -> AppLine {
    let g = &v.grant;
    // Scopes that hold data without a claim of their own (the phone number) are named by the scope.
    let mut claims: Vec<String> = g
        .claims
        .iter()
        .map(|tag| {
            // Verified claims are held as `vc:name`: the words are the claim's.
            let c = idlink_core::oidc::claims::claim_name(tag);
            words(tr, &format!("apps-claim-{}", slug(c)), c)
        })
        .collect();
    if claims.is_empty() {
        claims.push(tr.t("apps-claim-sign-in"));
    }
    AppLine {
        id: g.id.to_string(),
        name: g.client_name.clone(),
        claims,
        since: tr.datetime(g.created_at),
        paused: match g.state.as_str() {
            "suspended" => Some(tr.t("apps-suspended")),
            "held" => Some(tr.t("apps-held")),
            _ => None,
        },
        deliveries: v.deliveries.iter().map(|d| delivery(tr, d)).collect(),
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct ListPage {
    c: Chrome,
    apps: Vec<AppLine>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "app.html")]
struct DetailPage {
    c: Chrome,
    app: AppLine,
}

#[derive(Template)]
#[template(path = "app_revoke.html")]
struct RevokePage {
    c: Chrome,
    /// `None`: every app.
    app: Option<AppLine>,
    action: String,
    cancel: String,
}

fn trouble(v: &Visitor, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, message_page(v, &problem_message_in(&v.tr, "apps", p), "/h5/apps")).into_response()
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    n: u32,
}

/// `GET /h5/apps`.
async fn list(State(state): State<WebState>, s: Signed, Query(q): Query<Done>) -> Response {
    let v = &s.visitor;
    match grants(&state.app).list(&s.session.user_id).await {
        Ok(all) => {
            let done = match q.done.as_str() {
                "revoked" => Some(v.tr.t("apps-done-revoked")),
                "revoked-all" => Some(v.tr.t1("apps-done-revoked-all", "count", &q.n.to_string())),
                _ => None,
            };
            let page = ListPage { c: Chrome::new(v, "apps-title", true), apps: all.iter().map(|g| line(&v.tr, g)).collect(), done };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Err(e) => trouble(v, &Problem::from(e)),
    }
}

fn grant_id(raw: &str) -> Option<GrantId> {
    GrantId::parse(raw).ok()
}

async fn one(state: &WebState, s: &Signed, raw: &str) -> Result<GrantView, Problem> {
    let id = grant_id(raw).ok_or_else(|| Problem::new(idlink_api::ProblemCode::GrantNotFound))?;
    grants(&state.app).get(&s.session.user_id, &id).await.map_err(Problem::from)
}

/// `GET /h5/apps/{grant}`.
async fn detail(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    match one(&state, &s, &raw).await {
        Ok(g) => {
            let page = DetailPage { c: Chrome::new(v, "apps-detail-title", true), app: line(&v.tr, &g) };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Err(p) => trouble(v, &p),
    }
}

/// `GET /h5/apps/{grant}/revoke`: asks first.
async fn revoke_page(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    match one(&state, &s, &raw).await {
        Ok(g) => {
            let app = line(&v.tr, &g);
            let (action, cancel) = (format!("/h5/apps/{}/revoke", app.id), format!("/h5/apps/{}", app.id));
            let page = RevokePage { c: Chrome::new(v, "apps-revoke-title", true), app: Some(app), action, cancel };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Err(p) => trouble(v, &p),
    }
}

/// `POST /h5/apps/{grant}/revoke`: ends the grant at once.
async fn revoke(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let Some(id) = grant_id(&raw) else { return trouble(v, &Problem::new(idlink_api::ProblemCode::GrantNotFound)) };
    let who = Revoker::user(&s.session.user_id, v.request_id.clone());
    match grants(&state.app).revoke(&who, &s.session.user_id, &id).await {
        Ok(()) => (v.cookies(), Redirect::to("/h5/apps?done=revoked")).into_response(),
        Err(e) => trouble(v, &Problem::from(e)),
    }
}

/// `GET /h5/apps/revoke-all`: asks first.
async fn revoke_all_page(s: Signed) -> Response {
    let v = &s.visitor;
    let page = RevokePage {
        c: Chrome::new(v, "apps-revoke-all-title", true),
        app: None,
        action: "/h5/apps/revoke-all".into(),
        cancel: "/h5/apps".into(),
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

/// `POST /h5/apps/revoke-all`.
async fn revoke_all(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    let who = Revoker::user(&s.session.user_id, v.request_id.clone());
    match grants(&state.app).revoke_all(&who, &s.session.user_id).await {
        Ok(n) => (v.cookies(), Redirect::to(&format!("/h5/apps?done=revoked-all&n={n}"))).into_response(),
        Err(e) => trouble(v, &Problem::from(e)),
    }
}
