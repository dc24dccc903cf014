//! Operator API for key status, requests for more information on a case, and duty (issue 13).

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
