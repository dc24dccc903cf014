//! The user's separate consents to process sensitive personal information
//! (issue 18 point 1, PIPL art. 29, SPEC CP): `/h5/consents` lists every kind
//! with where the user stands and withdraws one in one step, as easily as it
//! was given; `/h5/consents/{kind}` shows the current text in the user's
//! language and records the agreement to exactly that text (its version and
//! SHA-256), then goes back to the page that asked. The pages that process a
//! kind send the user here first when its consent is missing
//! ([`ask_first`]).

use crate::WebState;
use crate::ctx::{Signed, Visitor};
use crate::pages::render::{Chrome, html, message_page, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idlink_api::Problem;
use idlink_core::consents::{ConsentView, CurrentText};
use idlink_domain::UserId;
use idlink_domain::consent::{ConsentKind, ConsentState};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/consents", get(list))
        .route("/h5/consents/{kind}", get(text_page).post(give))
        .route("/h5/consents/{kind}/withdraw", post(withdraw).get(|| async { Redirect::to("/h5/consents") }))
}

/// Where the user stands with one kind, in words.
pub struct ConsentLine {
    pub kind: &'static str,
    pub title: String,
    pub state: String,
    pub given: bool,
}

#[derive(Template)]
#[template(path = "consents.html")]
struct ListPage {
    c: Chrome,
    consents: Vec<ConsentLine>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct TextPage {
    c: Chrome,
    kind: &'static str,
    text: CurrentText,
    state: String,
    given: bool,
    /// Where to go once agreed (a page of these H5 pages).
    back: String,
}

fn state_words(v: &Visitor, s: &ConsentState<jiff::Timestamp>) -> String {
    let tr = &v.tr;
    match s {
        ConsentState::Never => tr.t("consents-state-never"),
        ConsentState::Given { version, at } => {
            tr.ta("consents-state-given", &[("version", &version.to_string()), ("at", &tr.datetime(*at))])
        }
        ConsentState::Outdated { .. } => tr.t("consents-state-outdated"),
        ConsentState::Withdrawn { at, .. } => tr.t1("consents-state-withdrawn", "at", &tr.datetime(*at)),
    }
}

fn line(v: &Visitor, c: &ConsentView) -> ConsentLine {
    ConsentLine { kind: c.text.kind.as_str(), title: c.text.title.clone(), state: state_words(v, &c.state), given: c.state.allows() }
}

fn trouble(v: &Visitor, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, message_page(v, &problem_message_in(&v.tr, "consents", p), "/h5/consents")).into_response()
}

/// A page to come back to: one of these H5 pages, nothing else.
fn safe_back(back: &str) -> String {
    // Only a path (never a host), printable ASCII, without dot segments,
    // encoded ones included (no `%` at all: the pages that ask need none).
    let path = crate::guard::local_path(back).filter(|p| {
        p.len() == back.len() && !p.starts_with("/h5//") && !p.contains("..") && p.bytes().all(|b| b.is_ascii_graphic() && b != b'%')
    });
    path.unwrap_or("/h5/consents").to_owned()
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /h5/consents`.
async fn list(State(state): State<WebState>, s: Signed, Query(q): Query<Done>) -> Response {
    let v = &s.visitor;
    match state.app.consents().list(&s.session.user_id, v.tr.locale.tag()).await {
        Ok(all) => {
            let done = match q.done.as_str() {
                "withdrawn" => Some(v.tr.t("consents-done-withdrawn")),
                "given" => Some(v.tr.t("consents-done-given")),
                _ => None,
            };
            let page = ListPage { c: Chrome::new(v, "consents-title", true), consents: all.iter().map(|c| line(v, c)).collect(), done };
            (v.cookies(), html(StatusCode::OK, &page)).into_response()
        }
        Err(e) => trouble(v, &Problem::from(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct Back {
    #[serde(default)]
    back: String,
}

fn kind_of(raw: &str) -> Option<ConsentKind> {
    ConsentKind::parse(raw)
}

fn no_such_kind(v: &Visitor) -> Response {
    (StatusCode::NOT_FOUND, message_page(v, &v.tr.t("consents-unknown-kind"), "/h5/consents")).into_response()
}

/// `GET /h5/consents/{kind}[?back=…]`: the current text, to agree to.
async fn text_page(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, Query(q): Query<Back>) -> Response {
    let v = &s.visitor;
    let Some(kind) = kind_of(&raw) else { return no_such_kind(v) };
    let consents = state.app.consents();
    let list = match consents.list(&s.session.user_id, v.tr.locale.tag()).await {
        Ok(l) => l,
        Err(e) => return trouble(v, &Problem::from(e)),
    };
    let Some(view) = list.into_iter().find(|c| c.text.kind == kind) else { return no_such_kind(v) };
    let page = TextPage {
        c: Chrome::new(v, "consent-title", true),
        kind: kind.as_str(),
        state: state_words(v, &view.state),
        given: view.state.allows(),
        text: view.text,
        back: safe_back(if q.back.is_empty() { "/h5/consents?done=given" } else { &q.back }),
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

#[derive(Deserialize)]
pub struct Agree {
    version: u32,
    sha256: String,
    locale: String,
    #[serde(default)]
    back: String,
}

/// `POST /h5/consents/{kind}`: the user agrees to the text shown; back to the page that asked.
async fn give(State(state): State<WebState>, s: Signed, Path(raw): Path<String>, axum::Form(f): axum::Form<Agree>) -> Response {
    let v = &s.visitor;
    let actor = format!("user:{}", s.session.user_id);
    match state.app.consents().give(&s.session.user_id, &raw, &f.locale, f.version, &f.sha256, &actor).await {
        Ok(_) => (v.cookies(), Redirect::to(&safe_back(&f.back))).into_response(),
        Err(e) => trouble(v, &Problem::from(e)),
    }
}

/// `POST /h5/consents/{kind}/withdraw`: one step, as easy as agreeing.
async fn withdraw(State(state): State<WebState>, s: Signed, Path(raw): Path<String>) -> Response {
    let v = &s.visitor;
    let actor = format!("user:{}", s.session.user_id);
    match state.app.consents().withdraw(&s.session.user_id, &raw, &actor).await {
        Ok(_) => (v.cookies(), Redirect::to("/h5/consents?done=withdrawn")).into_response(),
        Err(e) => trouble(v, &Problem::from(e)),
    }
}

/// For the pages that process `kinds`: `None` when the user's consents
/// allow it, else the way to the first missing consent's text, coming back
/// to `back` once agreed (which asks the next one, if any).
pub async fn ask_first(state: &WebState, user: &UserId, kinds: &[ConsentKind], back: &str) -> Option<Response> {
    let gate = idlink_core::consents::ConsentGate { store: state.app.store.as_ref(), texts: &state.app.consent_texts };
    match gate.require_all(user, kinds).await {
        Ok(Ok(())) => None,
        // A store failure is met again, and reported, by the page itself.
        Err(_) => None,
        Ok(Err(missing)) => {
            let query = serde_urlencoded::to_string([("back", back)]).unwrap_or_default();
            Some(Redirect::to(&format!("/h5/consents/{}?{query}", missing.kind.as_str())).into_response())
        }
    }
}
