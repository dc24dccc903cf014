//! The Shared Signals transmitter (OpenID SSF 1.0; SPEC TP3; ADR 0022):
//! its configuration, stream management, subjects, verification and RFC 8936
//! polling. Like the OAuth endpoints, outside `openapi.json`.

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
