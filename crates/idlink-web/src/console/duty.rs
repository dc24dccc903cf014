//! Who is on duty (SPEC OP1, issue 13 point 2): the operators paged when a
//! case breaches its SLA, and the admin's switch.

use crate::WebState;
use axum::Router;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
}
