//! `/console/api-keys`: the host app's API keys (SPEC P5, issue 18 point 3)
//! for auditors and admins: each key's name, scopes, state (working,
//! working until the end of a rotation's overlap, expired, revoked), last
//! use and the key it replaced. Admins rotate a key (the new token is shown
//! once, on the answer page, never stored) and revoke one. The same use
//! cases as `idlink apikey rotate` and `idlink apikey revoke`.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::Tr;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_core::apikeys::{self, KeyState, RotateError, Rotation};
use idlink_core::ports::operators::{Role, require};
use idlink_domain::ApiKeyId;
use jiff::SignedDuration;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/api-keys", get(list))
        // An answer page sits at its action's URL: coming back to it (a reload
        // without resending, the language switch) shows the list, never a token again.
        .route("/console/api-keys/{id}/rotate", get(to_list).post(rotate))
        .route("/console/api-keys/{id}/revoke", get(to_list).post(revoke))
}

/// The overlaps offered, in hours (the CLI takes any from 1 minute to 30 days).
const OVERLAPS: [i64; 4] = [1, 24, 72, 168];
/// The new key's lives offered, in days (0: until revoked or rotated).
const LIVES: [i64; 4] = [0, 90, 180, 365];

pub struct KeyLine {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub state: String,
    /// Still works: may be rotated and revoked.
    pub working: bool,
    pub created: String,
    pub last_used: String,
    pub replaces: String,
}

pub struct Choice {
    pub value: i64,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct KeysPage {
    c: ConsoleChrome,
    keys: Vec<KeyLine>,
    may_change: bool,
    overlaps: Vec<Choice>,
    lives: Vec<Choice>,
    /// A token just minted, shown this once, with what happens to the old key.
    new_token: Option<(String, String)>,
    /// Why the last action was refused.
    refusal: Option<String>,
    error: Option<String>,
}

fn line(tr: &Tr, k: &idlink_core::ports::apikeys::ApiKeyRow, now: jiff::Timestamp) -> KeyLine {
    let state = KeyState::of(k, now);
    KeyLine {
        id: k.id.to_string(),
        name: k.name.clone(),
        scopes: k.scopes.join(" "),
        state: match state {
            KeyState::Active => tr.t("console-api-keys-active"),
            KeyState::Expiring(at) => tr.t1("console-api-keys-expiring", "at", &tr.datetime(at)),
            KeyState::Expired(at) => tr.t1("console-api-keys-expired", "at", &tr.datetime(at)),
            KeyState::Revoked(at) => tr.t1("console-api-keys-revoked", "at", &tr.datetime(at)),
        },
        working: matches!(state, KeyState::Active | KeyState::Expiring(_)),
        created: tr.datetime(k.created_at),
        last_used: k.last_used_at.map_or_else(|| tr.t("console-api-keys-never"), |t| tr.datetime(t)),
        replaces: k.replaces.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

async fn page(
    state: &WebState,
    s: &SignedOperator,
    new_token: Option<(String, String)>,
    refusal: Option<(StatusCode, String)>,
) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-api-keys-title"), Some(&s.op));
    if require(&s.op, Role::Auditor).is_err() {
        let message = tr.t("console-problem-operator_role_required");
        return super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message);
    }
    let now = state.app.clock.now();
    let overlaps =
        OVERLAPS.iter().map(|&h| Choice { value: h, label: tr.tn("console-api-keys-hours", "n", h), selected: h == 24 }).collect();
    let lives = LIVES
        .iter()
        .map(|&d| Choice {
            value: d,
            label: if d == 0 { tr.t("console-api-keys-no-expiry") } else { tr.tn("console-api-keys-days", "n", d) },
            selected: d == 0,
        })
        .collect();
    let refused = refusal.as_ref().map(|(status, _)| *status);
    let refusal = refusal.map(|(_, why)| why);
    let mut page =
        KeysPage { c, keys: Vec::new(), may_change: require(&s.op, Role::Admin).is_ok(), overlaps, lives, new_token, refusal, error: None };
    let status = match state.app.store.list_api_keys().await {
        Ok(keys) => {
            // Newest first: a rotation's new key sits above the key it replaces.
            page.keys = keys.iter().rev().map(|k| line(&tr, k, now)).collect();
            refused.unwrap_or(StatusCode::OK)
        }
        Err(e) => {
            page.error = Some(problem_message_in(&tr, "console", &Problem::from(e)));
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let mut res = (cookies(&s.visitor), html(status, &page)).into_response();
    if page.new_token.is_some() {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn to_list() -> Redirect {
    Redirect::to("/console/api-keys")
}

/// `GET /console/api-keys`.
async fn list(State(state): State<WebState>, s: SignedOperator) -> Response {
    page(&state, &s, None, None).await
}

fn admin_only(s: &SignedOperator) -> Option<Response> {
    require(&s.op, Role::Admin).err().map(|_| {
        let message = s.visitor.tr.t("console-problem-operator_role_required");
        super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message)
    })
}

#[derive(serde::Deserialize)]
pub struct RotateForm {
    overlap_hours: i64,
    expires_in_days: i64,
}

/// `POST /console/api-keys/{id}/rotate` (admins): the new token on the answer page, once.
async fn rotate(
    State(state): State<WebState>,
    s: SignedOperator,
    Path(raw): Path<String>,
    axum::Form(f): axum::Form<RotateForm>,
) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let tr = s.visitor.tr;
    let Ok(id) = ApiKeyId::parse(&raw) else {
        return page(&state, &s, None, Some((StatusCode::NOT_FOUND, tr.t("console-api-keys-not-found")))).await;
    };
    if !OVERLAPS.contains(&f.overlap_hours) || !LIVES.contains(&f.expires_in_days) {
        return page(&state, &s, None, Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("console-api-keys-bad-choice")))).await;
    }
    let rotation = Rotation {
        overlap: SignedDuration::from_hours(f.overlap_hours),
        expires_in: (f.expires_in_days > 0).then(|| SignedDuration::from_hours(f.expires_in_days * 24)),
    };
    let app = &state.app;
    let actor = format!("operator:{}", s.op.id);
    match apikeys::rotate(app.store.as_ref(), app.ids.as_ref(), app.clock.as_ref(), &id, rotation, &actor).await {
        Ok(done) => {
            let what = tr.ta(
                "console-api-keys-new-token",
                &[("new", done.key.id.as_str()), ("old", id.as_str()), ("until", &tr.datetime(done.old_expires_at))],
            );
            page(&state, &s, Some((done.token, what)), None).await
        }
        Err(RotateError::Store(e)) => {
            page(&state, &s, None, Some((StatusCode::SERVICE_UNAVAILABLE, problem_message_in(&tr, "console", &Problem::from(e))))).await
        }
        Err(RotateError::NotFound(_)) => page(&state, &s, None, Some((StatusCode::NOT_FOUND, tr.t("console-api-keys-not-found")))).await,
        Err(RotateError::AlreadyRotated(_, next)) => {
            page(&state, &s, None, Some((StatusCode::CONFLICT, tr.t1("console-api-keys-already-rotated", "next", next.as_str())))).await
        }
        Err(RotateError::Invalid(_)) => {
            page(&state, &s, None, Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("console-api-keys-bad-choice")))).await
        }
        Err(RotateError::NotWorking(..)) => {
            page(&state, &s, None, Some((StatusCode::CONFLICT, tr.t("console-api-keys-not-working")))).await
        }
    }
}

/// `POST /console/api-keys/{id}/revoke` (admins): refused from now on.
async fn revoke(State(state): State<WebState>, s: SignedOperator, Path(raw): Path<String>) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let tr = s.visitor.tr;
    let Ok(id) = ApiKeyId::parse(&raw) else {
        return page(&state, &s, None, Some((StatusCode::NOT_FOUND, tr.t("console-api-keys-not-found")))).await;
    };
    let actor = format!("operator:{}", s.op.id);
    match apikeys::revoke(state.app.store.as_ref(), state.app.clock.as_ref(), &id, &actor).await {
        Ok(true) => (cookies(&s.visitor), Redirect::to("/console/api-keys")).into_response(),
        Ok(false) => page(&state, &s, None, Some((StatusCode::CONFLICT, tr.t("console-api-keys-not-working")))).await,
        Err(e) => {
            page(&state, &s, None, Some((StatusCode::SERVICE_UNAVAILABLE, problem_message_in(&tr, "console", &Problem::from(e))))).await
        }
    }
}
