//! Grants (SPEC TP2): the user's own (`/v1/me/grants`) and, for the host
//! backend, a user's (`/v1/users/{id}/grants`, revocation by subject).

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
