//! Third-party app registration for the host backend (SPEC TP1):
//! `/v1/oauth/clients`, secrets shown once, rotation with an overlap.

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
