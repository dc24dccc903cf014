//! The identity pages (being written).

use crate::WebState;
use axum::Router;

/// The routes of these pages, merged into the `/h5/` router.
pub fn routes() -> Router<WebState> {
    Router::new()
}
