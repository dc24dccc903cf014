//! `GET /h5/`: the signed-in user's start page (the menu of flows);
//! without a session, the login page.

use crate::WebState;
use crate::ctx::Signed;
use crate::pages::render::{Chrome, html};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Chrome,
    welcome: String,
}

pub async fn show(State(state): State<WebState>, s: Signed) -> Response {
    let devices = state.app.store.devices(&s.session.user_id).await.unwrap_or_default();
    let device = devices.iter().find(|d| d.id == s.session.device_id).map_or_else(String::new, |d| d.name.clone());
    let v = &s.visitor;
    let page = Home { c: Chrome::new(v, "home-title", true), welcome: v.tr.t1("home-welcome", "device", &device) };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}
