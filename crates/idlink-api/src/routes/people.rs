//! Operator API for the user 360° (issue 13 point 4): search by blind index, the masked record, the purpose audited.

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
