//! `/v1/me/verifications/{id}/info-request`, `/v1/me/guardianships/{id}/info-request`:
//! the user's side of a reviewer's request for more information (SPEC OP1,
//! issue 13): what is asked, and the answer that puts the case back in the
//! review queue. The H5 pages answer through [`answer`] too.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::UserSession;
use crate::problem::Problem;
use crate::state::{AppParts, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use idlink_core::ports::auth::SessionRow;
use idlink_core::reviews::{Asked, InfoAnswerError, Resent, UserRequest as Row};
use idlink_domain::{GuardianshipId, RequestId, VerificationId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reviewer's request for more information, and the user's answer once given.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfoRequest {
    #[schema(schema_with = crate::schema::info_reason)]
    pub reason: String,
    /// The reviewer's words to the user (may be empty).
    pub note: String,
    pub requested_at: String,
    pub answer: Option<String>,
    pub answered_at: Option<String>,
}

impl From<Row> for InfoRequest {
    fn from(Row { request: r, note }: Row) -> Self {
        Self {
            reason: r.reason.as_str().to_owned(),
            note,
            requested_at: r.requested_at.to_string(),
            // Only the answer just sent is shown back (see [`answer`]); a stored one stays sealed.
            answer: None,
            answered_at: r.answered_at.map(|t| t.to_string()),
        }
    }
}

/// Body of `POST …/info-request`: the words, and what is sent again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInfo {
    /// The user's words to the reviewer.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S", example = "I have taken the photo again in daylight.")]
    answer: String,
    /// For a verification with a document other than the resident ID: the
    /// document's number again (checked like at verification: another
    /// identity's number is refused, `document_number_taken`). A resident ID
    /// number cannot change in an answer (`resident_id_not_resendable`).
    #[schema(pattern = r"^[A-Za-z0-9]{5,20}$", example = "E12345678")]
    document_number: Option<String>,
    /// For a verification with a document other than the resident ID: the birth date on it, YYYY-MM-DD.
    #[schema(format = Date, example = "1990-01-01")]
    birth_date: Option<String>,
    /// For a guardian link: the reference to the new evidence.
    #[schema(min_length = 1, max_length = 200, example = "hukou-2024-0002")]
    evidence_ref: Option<String>,
}

/// An answer whose fields passed their checks.
#[derive(Debug)]
pub struct ValidAnswer {
    text: String,
    document: Option<(String, Option<jiff::civil::Date>)>,
    evidence: Option<String>,
}

impl Validate for AnswerInfo {
    type Valid = ValidAnswer;
    fn validate(self, c: &mut Causes) -> Option<ValidAnswer> {
        let today = c.today();
        let text = self.answer.trim().to_owned();
        let mut ok = c.check(
            "answer",
            text.is_empty() || text.chars().count() > 500,
            "invalid_answer",
            "`answer` says what you send or why, 1 to 500 characters.",
        );
        let number = self.document_number.map(|n| n.trim().to_ascii_uppercase()).filter(|n| !n.is_empty());
        ok &= c.check(
            "document_number",
            number.as_ref().is_some_and(|n| n.len() < 5 || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_alphanumeric())),
            "invalid_document_number",
            "`document_number` is 5 to 20 letters and digits, as printed on the document.",
        );
        let birth = match self.birth_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => match d.parse::<jiff::civil::Date>() {
                Ok(d) if d <= today => Some(d),
                _ => {
                    c.invalid("birth_date", "invalid_birth_date", "`birth_date` is a past date written YYYY-MM-DD.");
                    ok = false;
                    None
                }
            },
        };
        let evidence = self.evidence_ref.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        ok &= c.check(
            "evidence_ref",
            evidence.as_ref().is_some_and(|e| e.chars().count() > 200),
            "invalid_evidence_ref",
            "`evidence_ref` identifies the evidence document, 1 to 200 characters.",
        );
        Some(ValidAnswer { text, document: number.map(|n| (n, birth)), evidence }).filter(|_| ok)
    }
}

/// Answers the open request about `asked` (the API and the H5 pages both make it here).
pub async fn answer(
    state: &AppParts,
    session: &SessionRow,
    rid: Option<&RequestId>,
    asked: &Asked,
    a: &ValidAnswer,
) -> Result<Row, Problem> {
    let resent = match (asked, &a.document, &a.evidence) {
        (Asked::Verification(_), Some((number, birth_date)), _) => Resent::Document { number: number.clone(), birth_date: *birth_date },
        (Asked::Guardianship(_), _, Some(evidence)) => Resent::Evidence(evidence.clone()),
        _ => Resent::Nothing,
    };
    Ok(state.info_answers().answer(session, rid, asked, &a.text, &resent).await?)
}

/// The request just answered, with the words the user sent.
fn answered(r: Row, a: &ValidAnswer) -> InfoRequest {
    InfoRequest { answer: Some(a.text.clone()), ..r.into() }
}

async fn open(state: &AppParts, session: &SessionRow, asked: &Asked) -> Result<Json<InfoRequest>, Problem> {
    let r = state.info_answers().open_request(&session.user_id, asked).await?;
    Ok(Json(r.ok_or(InfoAnswerError::NoOpenRequest)?.into()))
}

/// What a reviewer asks about this verification, while it waits for the user's answer.
#[utoipa::path(get, path = "/v1/me/verifications/{verification_id}/info-request", tag = "identity",
    params(
        ("verification_id" = String, Path, pattern = r"^ver_[A-Za-z0-9_-]{1,64}$", example = "ver_0123456789abcdef0123456789abcdef", description = "A verification under review."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = InfoRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn verification_request(
    State(state): State<AppState>,
    session: UserSession,
    PathId(id): PathId<VerificationId>,
) -> Result<Json<InfoRequest>, Problem> {
    open(&state, &session.0, &Asked::Verification(id)).await
}

/// Answers the reviewer's request (words, and the document's fields again): the case goes back to the review queue.
#[utoipa::path(post, path = "/v1/me/verifications/{verification_id}/info-request", tag = "identity",
    request_body = AnswerInfo,
    params(
        ("verification_id" = String, Path, pattern = r"^ver_[A-Za-z0-9_-]{1,64}$", example = "ver_0123456789abcdef0123456789abcdef", description = "A verification under review."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = InfoRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn answer_verification(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<VerificationId>,
    Body(a): Body<AnswerInfo>,
) -> Result<Json<InfoRequest>, Problem> {
    Ok(Json(answered(answer(&state, &session.0, request_id.as_deref(), &Asked::Verification(id), &a).await?, &a)))
}

/// What a reviewer asks about this guardian link (to the minor), while it waits for the answer.
#[utoipa::path(get, path = "/v1/me/guardianships/{guardianship_id}/info-request", tag = "identity",
    params(
        ("guardianship_id" = String, Path, pattern = r"^grd_[A-Za-z0-9_-]{1,64}$", example = "grd_0123456789abcdef0123456789abcdef", description = "A guardian link under review."),
        ("Idlink-Session" = String, Header, description = "The minor's session token."),
    ),
    responses((status = 200, body = InfoRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn guardianship_request(
    State(state): State<AppState>,
    session: UserSession,
    PathId(id): PathId<GuardianshipId>,
) -> Result<Json<InfoRequest>, Problem> {
    open(&state, &session.0, &Asked::Guardianship(id)).await
}

/// Answers the reviewer's request (words, and a new evidence reference): the case goes back to the review queue.
#[utoipa::path(post, path = "/v1/me/guardianships/{guardianship_id}/info-request", tag = "identity",
    request_body = AnswerInfo,
    params(
        ("guardianship_id" = String, Path, pattern = r"^grd_[A-Za-z0-9_-]{1,64}$", example = "grd_0123456789abcdef0123456789abcdef", description = "A guardian link under review."),
        ("Idlink-Session" = String, Header, description = "The minor's session token."),
    ),
    responses((status = 200, body = InfoRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn answer_guardianship(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(id): PathId<GuardianshipId>,
    Body(a): Body<AnswerInfo>,
) -> Result<Json<InfoRequest>, Problem> {
    Ok(Json(answered(answer(&state, &session.0, request_id.as_deref(), &Asked::Guardianship(id), &a).await?, &a)))
}
