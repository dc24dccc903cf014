//! Key status (SPEC P6, issue 13 point 7): the master key and data keys,
//! the audit signing key, and when each was last rotated.

use crate::WebState;
use axum::Router;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
}
