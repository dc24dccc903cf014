//! `GET /h5/capabilities`: what I can use now, and why not (SPEC ID4, ID5):
//! each capability with its state, and the one sentence that says what
//! unlocks the rest. The rule is the domain's (`capabilities::restrictions`);
//! a feature open to the user's standing but held back for want of a
//! consent links to that consent's text (issue 18).

use crate::WebState;
use crate::ctx::Signed;
use crate::pages::render::{Chrome, html, message_page, problem_message};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_domain::capabilities::{Capability, Standing, restrictions};

/// One capability as the page shows it.
pub struct Item {
    pub name: String,
    pub available: bool,
    /// Open to the user's standing but held back for want of this consent
    /// (issue 18): the page links to its text.
    pub consent: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "capabilities.html")]
struct CapabilitiesPage {
    c: Chrome,
    standing: String,
    items: Vec<Item>,
    note: Option<String>,
}

pub async fn show(State(state): State<WebState>, s: Signed) -> Response {
    let v = &s.visitor;
    let standing = match idlink_api::routes::identity::standing(&state.app, &s.session, None).await {
        Ok(st) => st,
        Err(p) => {
            return (
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                message_page(v, &problem_message(&v.tr, &p), "/h5/"),
            )
                .into_response();
        }
    };
    let r = restrictions(standing);
    // A store failure leaves the consents out; each feature asks again when used.
    let missing = state.app.consents().missing(&s.session.user_id).await.unwrap_or_default();
    let (standing_key, note_key) = match standing {
        Standing::Unverified => ("standing-unverified", Some("capabilities-note-unverified")),
        Standing::Minor { guardian_approved: true } => ("standing-minor-guarded", Some("capabilities-note-minor-guarded")),
        Standing::Minor { guardian_approved: false } => ("standing-minor", Some("capabilities-note-minor")),
        Standing::Adult => ("standing-adult", None),
    };
    let items = Capability::ALL
        .into_iter()
        .map(|cap| {
            let open = !r.restricted.contains(&cap);
            let consent = missing.iter().find(|m| open && m.kind.holds_back().contains(&cap)).map(|m| m.kind.as_str());
            Item { name: v.tr.t(&format!("capability-{}", cap.as_str().replace('_', "-"))), available: open && consent.is_none(), consent }
        })
        .collect();
    let page = CapabilitiesPage {
        c: Chrome::new(v, "capabilities-title", true),
        standing: v.tr.t(standing_key),
        items,
        note: note_key.map(|k| v.tr.t(k)),
    };
    (v.cookies(), html(StatusCode::OK, &page)).into_response()
}
