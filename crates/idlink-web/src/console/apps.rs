//! Third-party apps in the console (SPEC TP1, TP3, OP): registration, secret
//! rotation, and the delivery receipts per app.

use crate::WebState;
use axum::Router;

pub fn routes() -> Router<WebState> {
    Router::new()
}
