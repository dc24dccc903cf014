//! `POST /h5/prefs`: the language and elder-mode switches on every page.
//! Choices are remembered in cookies for a year; the visitor goes back to
//! the page they were on.

use crate::WebState;
use crate::ctx::{ELDER, LANG, SetCookies, Visitor};
use crate::guard::local_path;
use crate::i18n::Locale;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

const YEAR_SECS: i64 = 365 * 24 * 3600;

#[derive(Debug, Deserialize)]
pub struct Prefs {
    lang: Option<String>,
    elder: Option<String>,
    back: Option<String>,
}

pub async fn update(State(_): State<WebState>, v: Visitor, Form(p): Form<Prefs>) -> Response {
    let mut cookies = SetCookies::default();
    if let Some(locale) = p.lang.as_deref().and_then(Locale::from_tag) {
        cookies.set(LANG, locale.tag(), Some(YEAR_SECS), v.secure);
    }
    match p.elder.as_deref() {
        Some("1") => cookies.set(ELDER, "1", Some(YEAR_SECS), v.secure),
        Some("0") => cookies.clear(ELDER, v.secure),
        _ => {}
    }
    let back = p.back.as_deref().and_then(local_path).unwrap_or("/h5/").to_owned();
    (v.cookies(), cookies, Redirect::to(&back)).into_response()
}
