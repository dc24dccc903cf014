//! Institution health (SPEC BK2, issue 13 point 6): per institution and
//! channel, breaker state, recent error rate and latency, maintenance, failover.

use crate::WebState;
use axum::Router;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
}
