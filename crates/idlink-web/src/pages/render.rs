//! What every page shares: the frame around it ([`Chrome`]: language
//! switch, elder-mode switch, landmarks), form errors tied to their fields,
//! and the user-facing message for a problem, in the page's language.

use crate::ctx::Visitor;
use crate::i18n::{Locale, Tr};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use idlink_api::Problem;

/// A language in the switch.
#[derive(Debug, Clone)]
pub struct Language {
    pub tag: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The frame of every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub tr: Tr,
    pub lang: &'static str,
    pub elder: bool,
    pub csrf: String,
    /// Where the switches send the visitor back to.
    pub back: String,
    pub title: String,
    pub signed_in: bool,
    pub languages: Vec<Language>,
}

impl Chrome {
    pub fn new(v: &Visitor, title_key: &str, signed_in: bool) -> Self {
        Chrome {
            tr: v.tr,
            lang: v.locale().tag(),
            elder: v.elder,
            csrf: v.csrf.clone(),
            // The code steps exist only as posts: the switches come back to their start.
            back: if v.path.starts_with("/h5/login/") { "/h5/login".to_owned() } else { v.path.clone() },
            title: v.tr.t(title_key),
            signed_in,
            languages: Locale::ALL.into_iter().map(|l| Language { tag: l.tag(), name: l.own_name(), current: l == v.locale() }).collect(),
        }
    }
}

/// Errors of a form, each tied to the field it is about (`field` is the
/// input's id; the summary links there and the first one gets focus).
#[derive(Debug, Clone, Default)]
pub struct FormErrors(pub Vec<(String, String)>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: String) {
        self.0.push((field.to_owned(), message));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` is the first field in error (it gets the focus).
    pub fn first_is(&self, field: &str) -> bool {
        self.0.first().is_some_and(|(f, _)| f == field)
    }
}

/// What to tell a person about a problem, in their language: the
/// catalogue's `problem-<code>` message, or a generic one naming the code.
pub fn problem_message(tr: &Tr, problem: &Problem) -> String {
    let code = problem.code.as_str();
    let key = format!("problem-{code}");
    let seconds = problem.retry_after.unwrap_or(60).to_string();
    if crate::i18n::has_key(tr.locale, &key) { tr.t1(&key, "seconds", &seconds) } else { tr.t1("problem-generic", "code", code) }
}

/// [`problem_message`] as one area of the pages says it: its own sentence
/// (`<area>-problem-<code>`, the same code worded for that page's context,
/// e.g. "verify first" on a card page names the card) where it has one.
pub fn problem_message_in(tr: &Tr, area: &str, problem: &Problem) -> String {
    let own = format!("{area}-problem-{}", problem.code.as_str());
    if crate::i18n::has_key(tr.locale, &own) {
        tr.t1(&own, "seconds", &problem.retry_after.unwrap_or(60).to_string())
    } else {
        problem_message(tr, problem)
    }
}

/// An askama page as an HTML response (a template that fails to render is a 500 with a plain message).
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown. Please try again.").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    c: Chrome,
    message: &'a str,
    back: &'a str,
}

/// A page that says one thing and links back (refused forms, dead ends).
pub fn message_page(v: &Visitor, message: &str, back: &str) -> Response {
    titled_message_page(v, "app-name", message, back)
}

/// [`message_page`] with its own title (catalogue key).
pub fn titled_message_page(v: &Visitor, title_key: &str, message: &str, back: &str) -> Response {
    let page = MessagePage { c: Chrome::new(v, title_key, v.session_token.is_some()), message, back };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}

/// Any other path under `/h5/`: a page that says so, in the visitor's language.
pub async fn not_found(v: Visitor) -> Response {
    let message = v.tr.t("page-not-found");
    (StatusCode::NOT_FOUND, titled_message_page(&v, "page-not-found-title", &message, "/h5/")).into_response()
}
