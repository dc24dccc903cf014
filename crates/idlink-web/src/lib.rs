//! The H5 pages of idlink (SPEC P1, SS5): the mobile-web reference client a
//! host app embeds, served by `idlink serve` under `/h5/` (`/` redirects there).
//!
//! Pages are rendered on the server from askama templates (compile-time
//! checked, escaped) and work with JavaScript off: every form posts and the
//! server answers with the next page or a redirect. htmx (vendored, pinned)
//! only improves that (`hx-boost` swaps pages without a full reload).
//!
//! The pages call the same use cases as the API through the API's
//! [`AppState`]; no business rule lives here. What this crate owns:
//! - [`i18n`]: the zh-CN / zh-HK / en catalogues, dates and money per language;
//! - [`ctx`]: what every page knows about its visitor (language, elder mode,
//!   session, CSRF token) from cookies, and the cookies it sets;
//! - [`guard`]: security headers (a CSP without inline script) and the CSRF
//!   check on every form;
//! - [`assets`]: the stylesheet and htmx, with cache validators;
//! - [`pages`]: one module per flow.

pub mod assets;
pub mod console;
pub mod ctx;
pub mod guard;
pub mod i18n;
pub mod pages;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::Redirect;
use axum::routing::{get, post};
use idlink_api::AppState;

/// How the pages are served.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Cookies carry `Secure` and the `__Host-` prefix: set it when idlink
    /// is reached over HTTPS (directly or behind a TLS-terminating proxy).
    pub secure_cookies: bool,
}

/// What the page handlers can reach.
#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    pub settings: WebSettings,
}

/// The `/h5/` pages and the `/` redirect, to merge with the API router.
pub fn router(app: AppState, settings: WebSettings) -> Router {
    let state = WebState { app, settings };
    let pages = Router::new()
        .route("/h5/", get(pages::home::show))
        .route("/h5/login", get(pages::login::show).post(pages::login::send_code))
        .route("/h5/login/code", post(pages::login::redeem))
        .route("/h5/login/device", post(pages::login::confirm_device))
        .route("/h5/logout", post(pages::login::logout))
        .route("/h5/access-log", get(pages::access::show))
        .route("/h5/capabilities", get(pages::capabilities::show))
        .route("/h5/prefs", post(pages::prefs::update))
        .route("/h5/assets/{file}", get(assets::serve))
        .merge(pages::identity::routes())
        .merge(pages::security::routes())
        .merge(pages::cards::routes())
        .merge(pages::credit::routes())
        .merge(pages::social_security::routes())
        .merge(pages::ss_records::routes())
        .merge(pages::revocation::routes())
        .merge(pages::authorize::routes())
        .merge(pages::apps::routes())
        .merge(pages::consents::routes())
        .merge(console::routes())
        .route("/h5/{*rest}", get(pages::render::not_found))
        .layer(from_fn_with_state(state.clone(), guard::check_forms))
        .layer(axum::middleware::from_fn(guard::security_headers))
        // The same outer layers as the API: metrics, a deadline (a slow form
        // body cannot hold a connection), no panic reaching the client, and
        // the request id (logged, and on the pages' audit records).
        .layer(axum::middleware::from_fn(idlink_api::middleware::record_metrics))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.app.limits.request_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(from_fn_with_state(state.app.clone(), idlink_api::middleware::request_id))
        .with_state(state);
    Router::new().route("/", get(|| async { Redirect::to("/h5/") })).route("/h5", get(|| async { Redirect::to("/h5/") })).merge(pages)
}
