//! The user 360° (SPEC P5, P6, issue 13 point 4): find a user by phone or ID
//! number through the blind index, with a purpose that is asked and audited.

use crate::WebState;
use axum::Router;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
}
