//! Operator API for key status, requests for more information on a case, and duty (issue 13).

use crate::extract::{Body, Causes, PathId, Validate};
use crate::problem::Problem;
use crate::routes::operator::{Case, OperatorAuth, case_view};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use idlink_core::ports::reviews::InfoReason;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_info))
}

/// Body of `POST /v1/operator/reviews/{case_id}/request-info`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInfo {
    #[schema(schema_with = crate::schema::info_reason)]
    reason: String,
    /// Words to the user (shown to them as written); optional.
    #[schema(max_length = 400, example = "The photo page is cut off at the bottom.")]
    note: Option<String>,
}

impl Validate for RequestInfo {
    type Valid = (InfoReason, String);
    fn validate(self, c: &mut Causes) -> Option<(InfoReason, String)> {
        let reason = InfoReason::parse(&self.reason);
        if reason.is_none() {
            c.invalid(
                "reason",
                "invalid_reason",
                "`reason` is document_unreadable, document_expired, photo_page_missing or guardian_proof_missing.",
            );
        }
        let note = self.note.unwrap_or_default().trim().to_owned();
        let ok = c.check("note", note.chars().count() > 400, "invalid_note", "`note` is at most 400 characters.");
        Some((reason?, note)).filter(|_| ok)
    }
}

/// Asks the user for more information on a case the operator holds (claimed):
/// the case waits for the user (`waiting_user`, out of the queue, the request
/// answers its SLA) and the user is told by SMS; their answer puts it back in
/// the queue with a new SLA.
#[utoipa::path(post, path = "/v1/operator/reviews/{case_id}/request-info", tag = "operators",
    request_body = RequestInfo,
    params(("case_id" = String, Path, pattern = r"^case_[A-Za-z0-9_-]{1,64}$", example = "case_0123456789abcdef0123456789abcdef", description = "The case."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Case), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn request_info(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<axum::Extension<idlink_domain::RequestId>>,
    PathId(id): PathId<idlink_domain::CaseId>,
    Body((reason, note)): Body<RequestInfo>,
) -> Result<Json<Case>, Problem> {
    let c = state.reviews().for_request(request_id.as_deref()).request_info(&op, &id, reason, &note).await?;
    Ok(Json(case_view(c, state.clock.now())))
}
