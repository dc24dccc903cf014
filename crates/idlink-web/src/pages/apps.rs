//! The apps a user authorised (SPEC TP2): `/h5/apps` lists every grant
//! with the claims it holds, since when, and the deliveries the app was
//! sent; the user revokes one or all.

use crate::WebState;
use axum::Router;

pub fn routes() -> Router<WebState> {
    Router::new()
}
