//! The operator console (SPEC P5, OP1): pages under `/console/` for the
//! host company's reviewers, auditors and admins. Same crate, router and
//! guards as the H5 pages (CSRF on every form, a CSP without inline script,
//! the catalogues), its own frame (`templates/console/console_base.html`),
//! stylesheet (`static/console.css`) and cookies scoped to `/console`.
//!
//! Who may do what is decided in the types: a handler that acts on a case
//! takes a [`Reviewer`], which only [`Reviewer::check`] makes (the role check
//! of `ports::operators::require`); pages that only show take a
//! [`SignedOperator`] and ask [`SignedOperator::may_review`] what to offer.
//! The use cases check the role again (the console never decides alone).
//!
//! - [`sign_in`]: sign-in (username, password, TOTP), sign-out, language;
//! - [`cases`]: the review queue and a case's page;
//! - [`credit`]: the credit-report review queue (held by the bureau, with its SLA);
//! - [`breaches`], [`proposals`], [`audit`], [`reports`]: the breach board,
//!   dual control, the audit explorer, the regulator report;
//! - [`retention`]: what is kept how long, and the legal holds;
//! - [`people`]: the user 360° (search by blind index, purpose asked and audited);
//! - [`health`]: institution health (breakers, error rates, latency, maintenance);
//! - [`keys`], [`duty`]: key status and who is on duty;
//! - [`api_keys`]: the host app's API keys, their rotation and revocation.

pub mod api_keys;
pub mod apps;
pub mod audit;
pub mod breaches;
pub mod cases;
pub mod credit;
pub mod duty;
pub mod health;
pub mod keys;
pub mod people;
pub mod proposals;
pub mod reports;
pub mod retention;
pub mod sign_in;

use crate::WebState;
use crate::ctx::{CSRF, SetCookies, Visitor, read_cookie};
use crate::i18n::{Locale, Tr};
use crate::pages::render::{Language, html};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idlink_core::ports::operators::{OperatorRow, Role, RoleRequired, require};
use std::convert::Infallible;

/// The operator's session token (what the API takes in `Idlink-Operator`).
pub const OPERATOR: &str = "idlink_operator";
/// The console's cookies live under this path (without TLS; with it, `__Host-` needs `/`).
pub const SCOPE: &str = "/console";

/// The console's routes, merged into the pages' router (and so behind its guards).
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/cases") }))
        .route("/console/", get(|| async { Redirect::to("/console/cases") }))
        .route("/console/sign-in", get(sign_in::show).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/prefs", post(sign_in::prefs))
        .route("/console/assets/{file}", get(crate::assets::serve))
        .route("/console/cases", get(cases::queue))
        .route("/console/breaches", get(breaches::show))
        .route("/console/credit-reviews", get(credit::show))
        .route("/console/credit-reviews/{id}/decide", post(credit::decide))
        .route("/console/audit", get(audit::show))
        .route("/console/reports", get(reports::show))
        .route("/console/reports/{quarter}/{file}", get(reports::file))
        .route("/console/proposals", get(proposals::show))
        .route("/console/proposals/rotate", post(proposals::propose_rotation))
        .route("/console/proposals/{id}/approve", post(proposals::approve))
        .route("/console/proposals/{id}/reject", post(proposals::reject))
        .route("/console/cases/list", get(cases::queue_fragment))
        .route("/console/cases/{id}", get(cases::show))
        .route("/console/cases/{id}/claim", post(cases::claim))
        .route("/console/cases/{id}/release", post(cases::release))
        .route("/console/cases/{id}/decide", post(cases::decide))
        .route("/console/cases/{id}/request-info", post(cases::request_info))
        .merge(people::routes())
        .merge(api_keys::routes())
        .merge(retention::routes())
        .merge(health::routes())
        .merge(keys::routes())
        .merge(duty::routes())
        .merge(apps::routes())
        .route("/console/{*rest}", get(not_found))
}

/// The cookies a console page sends: a first visit's CSRF token, scoped to the console.
pub fn cookies(v: &Visitor) -> SetCookies {
    let mut out = SetCookies::default();
    for (name, value, age) in &v.new_cookies {
        // The device id is the H5 login's; the console has no use for it.
        if *name == CSRF {
            out.set_in(SCOPE, name, value, *age, v.secure);
        }
    }
    out
}

/// A navigation entry, shown only to the roles that may use it.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// The console's pages in the navigation: where, the label's key, and which operators see it.
/// Whether an operator is shown a page in the navigation.
type Shown = fn(&OperatorRow) -> bool;

const NAV: &[(&str, &str, Shown)] = &[
    ("/console/cases", "console-nav-cases", may_view),
    ("/console/breaches", "console-nav-breaches", may_view),
    ("/console/credit-reviews", "console-nav-credit", may_view),
    ("/console/proposals", "console-nav-proposals", may_view),
    ("/console/people", "console-nav-people", may_view),
    ("/console/audit", "console-nav-audit", may_view),
    ("/console/reports", "console-nav-reports", may_view),
    ("/console/retention", "console-nav-retention", |op| require(op, Role::Auditor).is_ok()),
    ("/console/health", "console-nav-health", may_view),
    ("/console/apps", "console-nav-apps", may_view),
    ("/console/keys", "console-nav-keys", |op| require(op, Role::Auditor).is_ok()),
    ("/console/api-keys", "console-nav-api-keys", |op| require(op, Role::Auditor).is_ok()),
    ("/console/duty", "console-nav-duty", |op| require(op, Role::Admin).is_ok()),
];

/// The frame of every console page.
#[derive(Debug, Clone)]
pub struct ConsoleChrome {
    pub tr: Tr,
    pub lang: &'static str,
    pub csrf: String,
    pub back: String,
    pub title: String,
    pub languages: Vec<Language>,
    /// The signed-in operator's name and roles (empty on the sign-in page).
    pub operator: Option<(String, String)>,
    pub nav: Vec<NavItem>,
}

impl ConsoleChrome {
    pub fn new(v: &Visitor, title: String, op: Option<&OperatorRow>) -> Self {
        let tr = v.tr;
        let nav = match op {
            Some(op) if may_view(op) => NAV
                .iter()
                .filter(|(_, _, shown)| shown(op))
                .map(|&(href, key, _)| NavItem { href, label: tr.t(key), current: v.path.starts_with(href) })
                .collect(),
            _ => Vec::new(),
        };
        ConsoleChrome {
            tr,
            lang: v.locale().tag(),
            csrf: v.csrf.clone(),
            back: v.path.clone(),
            title,
            languages: Locale::ALL.into_iter().map(|l| Language { tag: l.tag(), name: l.own_name(), current: l == v.locale() }).collect(),
            operator: op.map(|o| (o.username.clone(), role_names(&tr, o))),
            nav,
        }
    }
}

fn role_names(tr: &Tr, op: &OperatorRow) -> String {
    op.roles.iter().map(|r| tr.t(&format!("console-role-{}", r.as_str()))).collect::<Vec<_>>().join(", ")
}

/// Reviewers, auditors and admins read the queue.
fn may_view(op: &OperatorRow) -> bool {
    require(op, Role::Reviewer).is_ok() || require(op, Role::Auditor).is_ok()
}

/// A visitor signed in to the console (an operator session from the cookie).
#[derive(Debug, Clone)]
pub struct SignedOperator {
    pub visitor: Visitor,
    pub op: OperatorRow,
}

impl SignedOperator {
    /// The capability to act on cases, if this operator's roles grant it.
    pub fn may_review(&self) -> Option<Reviewer> {
        Reviewer::check(self).ok()
    }
}

/// Proof that the operator may take review steps: made only by a role check.
#[derive(Debug, Clone)]
pub struct Reviewer {
    signed: SignedOperator,
}

impl Reviewer {
    pub fn check(signed: &SignedOperator) -> Result<Reviewer, RoleRequired> {
        require(&signed.op, Role::Reviewer)?;
        Ok(Reviewer { signed: signed.clone() })
    }

    pub fn signed(&self) -> &SignedOperator {
        &self.signed
    }
}

/// Why a console page did not open: not signed in, or a role is missing.
pub enum Refused {
    SignInFirst(SetCookies),
    /// The same for htmx's background refresh: it must send the whole page
    /// to the sign-in, not swap the sign-in page into the list.
    SignInFirstHtmx(SetCookies),
    Role(Box<Response>),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignInFirst(c) => (c, Redirect::to("/console/sign-in")).into_response(),
            Refused::SignInFirstHtmx(c) => (StatusCode::NO_CONTENT, c, [("hx-redirect", "/console/sign-in")]).into_response(),
            Refused::Role(r) => *r,
        }
    }
}

impl FromRequestParts<WebState> for SignedOperator {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Refused> {
        let Ok(visitor) = Visitor::from_request_parts(parts, state).await;
        let token = read_cookie(&parts.headers, OPERATOR, visitor.secure).filter(|t| !t.is_empty());
        let mut out = cookies(&visitor);
        let htmx = parts.headers.contains_key("hx-request");
        let sign_in_first = |c| if htmx { Refused::SignInFirstHtmx(c) } else { Refused::SignInFirst(c) };
        let Some(token) = token else { return Err(sign_in_first(out)) };
        match state.app.operators().authenticate(&token).await {
            // The queue is for reviewers and auditors (admins count as both).
            Ok(op) if may_view(&op) => Ok(SignedOperator { visitor, op }),
            Ok(op) => {
                let signed = SignedOperator { visitor, op };
                let message = signed.visitor.tr.t("console-problem-operator_role_required");
                Err(Refused::Role(Box::new(message_page(&signed.visitor, Some(&signed.op), StatusCode::FORBIDDEN, &message))))
            }
            Err(_) => {
                // Expired (idle or absolute) or unknown: sign in again.
                out.set_in(SCOPE, OPERATOR, "", Some(0), visitor.secure);
                Err(sign_in_first(out))
            }
        }
    }
}

impl OptionalFromRequestParts<WebState> for SignedOperator {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Option<Self>, Infallible> {
        Ok(<SignedOperator as FromRequestParts<WebState>>::from_request_parts(parts, state).await.ok())
    }
}

impl FromRequestParts<WebState> for Reviewer {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Refused> {
        let signed = <SignedOperator as FromRequestParts<WebState>>::from_request_parts(parts, state).await?;
        Reviewer::check(&signed).map_err(|_| {
            let message = signed.visitor.tr.t("console-problem-operator_role_required");
            Refused::Role(Box::new(message_page(&signed.visitor, Some(&signed.op), StatusCode::FORBIDDEN, &message)))
        })
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    c: ConsoleChrome,
    message: &'a str,
}

/// A console page that says one thing (a refusal, a dead end) and links to the queue.
pub fn message_page(v: &Visitor, op: Option<&OperatorRow>, status: StatusCode, message: &str) -> Response {
    let page = MessagePage { c: ConsoleChrome::new(v, v.tr.t("console-name"), op), message };
    (cookies(v), html(status, &page)).into_response()
}

/// Any other path under `/console/`.
async fn not_found(v: Visitor, op: Option<SignedOperator>) -> Response {
    let message = v.tr.t("console-page-not-found");
    message_page(&v, op.as_ref().map(|s| &s.op), StatusCode::NOT_FOUND, &message)
}

#[cfg(test)]
mod tests {
    use crate::i18n::{Locale, keys};

    /// Every key the console's templates and modules name literally is in
    /// the catalogues (the crate-wide scan does not look into these folders).
    #[test]
    fn every_key_the_console_names_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let known: std::collections::BTreeSet<String> = keys(Locale::En).into_iter().collect();
        let mut named = 0;
        for sub in ["templates/console", "src/console"] {
            for entry in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for opener in [".t(\"", ".t1(\"", ".tn(\""] {
                    for piece in text.split(opener).skip(1) {
                        let key = piece.split('"').next().unwrap_or("");
                        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                            continue;
                        }
                        named += 1;
                        assert!(known.contains(key), "{}: `{key}` is not in the catalogues", entry.path().display());
                    }
                }
            }
        }
        assert!(named > 30, "the scan found the console's keys ({named})");
    }

    /// Keys built at run time (roles, kinds, statuses, reasons, problems) exist in every language.
    #[test]
    fn every_built_key_exists() {
        let mut built: Vec<String> = Vec::new();
        for r in ["reviewer", "auditor", "admin"] {
            built.push(format!("console-role-{r}"));
        }
        for k in ["verification", "risk_freeze", "guardian", "card_risk"] {
            built.push(format!("console-kind-{k}"));
            built.push(format!("console-what-{k}"));
        }
        for r in ["region-jump", "bureau", "card-bound-elsewhere", "face-mismatch", "foreign-document"] {
            built.push(format!("console-card-risk-{r}"));
        }
        for s in ["open", "approved", "rejected"] {
            built.push(format!("console-status-{s}"));
        }
        for r in super::cases::REASONS {
            built.push(format!("console-reason-{r}"));
        }
        for p in super::cases::PROBLEMS {
            built.push(format!("console-problem-{p}"));
        }
        for locale in Locale::ALL {
            for key in &built {
                assert!(crate::i18n::has_key(locale, key), "{}: `{key}` missing", locale.tag());
            }
        }
    }
}
