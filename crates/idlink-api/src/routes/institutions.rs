//! Operator API for institution health (issue 13 point 6).

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
