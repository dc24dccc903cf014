//! `/v1/me/verifications`, `/v1/me/identity`, `/v1/me/capabilities`:
//! real-name verification and what it unlocks (SPEC ID2, ID4, ID5).

use crate::extract::{Body, Causes, PathId, Validate};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::routes::{auth::Challenge, security::phone_of};
use crate::state::{AppState, ClientIp};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::identity::{Claim, Document, Method, Submission, VerificationView};
use idlink_core::ports::identity::DocumentType;
use idlink_core::steps::codes::Origin;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::{IdNumber, PersonName, RequestId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    /// `id_number_mismatch`, `id_number_not_found`, `phone_mismatch`, `face_mismatch`, `liveness_failed`, `poor_lighting`, `id_number_bound_elsewhere`.
    pub code: String,
    /// What the app can tell the user.
    pub guidance: String,
    /// Whether retrying with better input can succeed.
    pub retryable: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub id: String,
    /// `requires_input`, `processing`, `verified`, `rejected` or `review`.
    pub status: String,
    pub reasons: Vec<Reason>,
    /// While `requires_input`: the SMS challenge sent to the account's phone.
    pub phone_check: Option<Challenge>,
}

impl Verification {
    fn from_view(v: VerificationView, expires_at: Option<String>) -> Self {
        Self {
            phone_check: v.challenge_id.map(|c| Challenge { challenge_id: c, expires_at: expires_at.unwrap_or_default() }),
            id: v.id.into(),
            status: v.status.as_str().to_owned(),
            reasons: v
                .reasons
                .iter()
                .map(|r| Reason { code: r.as_str().to_owned(), guidance: r.guidance().to_owned(), retryable: r.retryable() })
                .collect(),
        }
    }
}

/// Body of `POST /v1/me/verifications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVerification {
    /// As on the ID card: Chinese characters (with · for minority names).
    #[schema(example = "张三", min_length = 2, max_length = 70)]
    name: String,
    /// 18-character resident ID number (for `resident_id`).
    #[schema(example = "11010519491231002X", pattern = r"^[0-9]{17}[0-9Xx]$")]
    id_number: Option<String>,
    #[schema(schema_with = crate::schema::document_type)]
    document_type: Option<String>,
    /// The document's number, for documents other than the resident ID.
    #[schema(pattern = r"^[A-Za-z0-9]{5,20}$", example = "E12345678")]
    document_number: Option<String>,
    /// YYYY-MM-DD as printed, for documents other than the resident ID.
    #[schema(format = Date, example = "1990-01-01")]
    birth_date: Option<String>,
    #[schema(schema_with = crate::schema::method)]
    method: Option<String>,
    /// The bank card, for `four_elements`.
    #[schema(pattern = r"^[0-9]{12,19}$", example = "6222021234567890128")]
    card_number: Option<String>,
}

impl StartVerification {
    /// The published schema: the fields, plus the rules that tie them together
    /// (which fields each document type and method needs), as [`Validate`] applies them.
    pub fn published_schema() -> Option<utoipa::openapi::Schema> {
        use utoipa::PartialSchema;
        let utoipa::openapi::RefOr::T(fields) = Self::schema() else { return None };
        use utoipa::openapi::schema::{AnyOfBuilder, SchemaType};
        use utoipa::openapi::{AllOfBuilder, ObjectBuilder};
        let one_of = |values: Vec<Value>| ObjectBuilder::new().schema_type(SchemaType::AnyValue).enum_values(Some(values));
        let branch = |required: &[&str], props: Vec<(&str, Vec<Value>)>| {
            let mut b = ObjectBuilder::new();
            for r in required {
                b = b.required(*r);
            }
            for (name, values) in props {
                b = b.property(name, one_of(values));
            }
            b.build()
        };
        let face = || vec![json!("three_elements_face"), Value::Null];
        let document = AnyOfBuilder::new()
            .item(branch(&["id_number"], vec![("document_type", vec![json!("resident_id"), Value::Null])]))
            .item(branch(
                &["document_type", "document_number", "birth_date"],
                vec![("document_type", vec![json!("passport"), json!("hk_macau_permit"), json!("taiwan_permit")]), ("method", face())],
            ));
        let method = AnyOfBuilder::new()
            .item(branch(&[], vec![("method", face())]))
            .item(branch(&["method", "card_number"], vec![("method", vec![json!("four_elements")])]));
        let rules = AllOfBuilder::new().item(document).item(method);
        Some(
            utoipa::openapi::AllOfBuilder::new()
                .item(fields)
                .item(rules)
                .description(Some("Body of `POST /v1/me/verifications`."))
                .build()
                .into(),
        )
    }
}

/// A verification request whose fields passed their checks.
#[derive(Debug)]
pub struct ValidClaim {
    name: PersonName,
    document: Document,
    method: Method,
}

impl ValidClaim {
    /// The use case's claim, with the account's phone (the H5 pages read
    /// their form through [`StartVerification`] and start it as the API does).
    pub fn claim<'a>(&'a self, phone: &'a idlink_domain::PhoneNumber) -> Claim<'a> {
        Claim { name: &self.name, document: &self.document, method: &self.method, phone }
    }
}

impl Validate for StartVerification {
    type Valid = ValidClaim;
    fn validate(self, c: &mut Causes) -> Option<ValidClaim> {
        let today = c.today();
        let name = c.parse("name", "invalid_name", &self.name, PersonName::parse);
        let document_type = match self.document_type.as_deref() {
            None => Some(DocumentType::ResidentId),
            Some(t) => DocumentType::parse(t).or_else(|| {
                c.invalid(
                    "document_type",
                    "invalid_document_type",
                    "`document_type` is resident_id, passport, hk_macau_permit or taiwan_permit.",
                );
                None
            }),
        };
        let document = match document_type {
            Some(DocumentType::ResidentId) => c
                .require("id_number", self.id_number.as_deref())
                .and_then(|n| c.parse("id_number", "invalid_id_number", n, |n| IdNumber::parse(n, today)))
                .map(Document::ResidentId),
            Some(kind) => {
                let number = c.require("document_number", self.document_number.as_deref());
                if number.is_some_and(|n| n.len() < 5 || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_alphanumeric())) {
                    c.invalid(
                        "document_number",
                        "invalid_document_number",
                        "`document_number` is 5 to 20 letters and digits, as printed on the document.",
                    );
                }
                let birth = c.require("birth_date", self.birth_date.as_deref()).and_then(|d| match d.parse::<jiff::civil::Date>() {
                    Ok(d) if d <= today => Some(d),
                    _ => {
                        c.invalid("birth_date", "invalid_birth_date", "`birth_date` is a past date written YYYY-MM-DD.");
                        None
                    }
                });
                match (number, birth) {
                    (Some(n), Some(b)) => Some(Document::Other { kind, number: n.to_ascii_uppercase(), birth_date: b }),
                    _ => None,
                }
            }
            None => None,
        };
        let method = match self.method.as_deref() {
            None | Some("three_elements_face") => Some(Method::ThreeElementsFace),
            Some("four_elements") => {
                if document_type != Some(DocumentType::ResidentId) {
                    c.invalid("method", "invalid_method", "Four-element verification works with the resident ID card only.");
                }
                c.require("card_number", self.card_number.as_deref())
                    .and_then(|n| c.parse("card_number", "invalid_card_number", n, |n| CardNumber::parse(n, BinTable::bundled())))
                    .map(Method::FourElements)
            }
            Some(other) => {
                c.invalid("method", "invalid_method", format!("`{other}` is not a method; use three_elements_face or four_elements."));
                None
            }
        };
        Some(ValidClaim { name: name?, document: document?, method: method? })
    }
}

/// Starts a real-name verification by three elements (name, ID number, the
/// account's phone) plus face liveness. An SMS code goes to the phone.
#[utoipa::path(post, path = "/v1/me/verifications", tag = "identity",
    request_body = StartVerification,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = Verification), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn start(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(claim): Body<StartVerification>,
) -> Result<Response, Problem> {
    let rid = request_id.as_deref();
    let phone = phone_of(&state, &session, rid, "real-name verification").await?;
    let origin = Origin { actor: format!("user:{}", session.0.user_id), client_ip: ip.0, request_id: rid.cloned() };
    let view = state.identities().start(&session.0, rid, &origin, &claim.claim(&phone)).await?;
    let expires = state.clock.now().checked_add(state.auth_policy.code_ttl).ok().map(|t| t.to_string());
    Ok((StatusCode::CREATED, Json(Verification::from_view(view, expires))).into_response())
}

/// Body of `POST /v1/me/verifications/{id}/submit`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitVerification {
    #[schema(example = "chl_0123456789abcdef")]
    challenge_id: String,
    /// The 6-digit code sent to the account's phone.
    #[schema(pattern = r"^[0-9]{6}$", example = "123456")]
    code: String,
    /// The liveness capture, for `three_elements_face`. Sandbox test values: `sandbox:pass`, `sandbox:spoof`, `sandbox:poor_lighting`, `sandbox:mismatch`, `sandbox:pending`.
    #[schema(example = "sandbox:pass")]
    liveness_video: Option<String>,
}

impl Validate for SubmitVerification {
    type Valid = Self;
    fn validate(self, _: &mut Causes) -> Option<Self> {
        Some(self)
    }
}

/// Submits the SMS code and the liveness capture; answers the outcome.
#[utoipa::path(post, path = "/v1/me/verifications/{verification_id}/submit", tag = "identity",
    request_body = SubmitVerification,
    params(
        ("verification_id" = String, Path, pattern = r"^ver_[A-Za-z0-9_-]{1,64}$", example = "ver_0123456789abcdef0123456789abcdef", description = "From POST /v1/me/verifications."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = Verification), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    PathId(verification_id): PathId<idlink_domain::VerificationId>,
    Body(body): Body<SubmitVerification>,
) -> Result<Json<Verification>, Problem> {
    let (challenge_id, code, video) = (&body.challenge_id, &body.code, body.liveness_video.as_deref());
    let rid = request_id.as_deref();
    let phone = phone_of(&state, &session, rid, "real-name verification").await?;
    let view = state
        .identities()
        .complete(&session.0, rid, &verification_id, &Submission { phone: &phone, challenge_id, code, liveness_video: video })
        .await?;
    Ok(Json(Verification::from_view(view, None)))
}

/// A verification's status and reasons.
#[utoipa::path(get, path = "/v1/me/verifications/{verification_id}", tag = "identity",
    params(
        ("verification_id" = String, Path, pattern = r"^ver_[A-Za-z0-9_-]{1,64}$", example = "ver_0123456789abcdef0123456789abcdef", description = "From POST /v1/me/verifications."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 200, body = Verification), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_verification(
    State(state): State<AppState>,
    session: UserSession,
    PathId(id): PathId<idlink_domain::VerificationId>,
) -> Result<Json<Verification>, Problem> {
    let view = state.identities().view(&session.0.user_id, &id).await?;
    Ok(Json(Verification::from_view(view, None)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Identity {
    /// Masked: first character only.
    pub name: String,
    /// `resident_id`, `passport`, `hk_macau_permit` or `taiwan_permit`.
    pub document_type: String,
    /// Masked: first 3 and last 4 characters.
    pub id_number: String,
    pub verified_at: String,
    /// Full years in Asia/Shanghai.
    pub age: i16,
    pub minor: bool,
}

/// The user's verified identity, masked.
#[utoipa::path(get, path = "/v1/me/identity", tag = "identity",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Identity), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn identity(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
) -> Result<Json<Identity>, Problem> {
    let view = state.identities().identity(&session.0, request_id.as_deref()).await?;
    let v = view.ok_or_else(|| Problem::new(ProblemCode::IdentityNotVerified))?;
    Ok(Json(Identity {
        name: v.name,
        document_type: v.document_type.as_str().to_owned(),
        id_number: v.id_number,
        verified_at: v.verified_at.to_string(),
        age: v.age,
        minor: v.minor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub verified: bool,
    pub minor: bool,
    /// Features the user cannot use now, e.g. `payment`, `balance_query`, `credit_report`.
    pub restricted: Vec<String>,
    /// Why, for each restriction group.
    pub notes: Vec<String>,
    /// The payment capabilities the host's payment system enforces (lowered once the real name is revoked).
    pub payments: PaymentCapabilities,
    /// Features restricted for want of the user's separate consent (also in `restricted`):
    /// which consent, and whether it was never given, given to an older text, or withdrawn.
    pub consent_required: Vec<ConsentNeeded>,
}

/// A feature the user's consent does not allow now (issue 18).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentNeeded {
    /// `payment`, `balance_query`, `credit_report`, `social_security_card` or `third_party_authorisation`.
    pub capability: String,
    /// The consent it needs: `id_number`, `bank_card`, `credit_report` or `social_security`.
    pub consent: String,
    /// `never`, `outdated` or `withdrawn`.
    pub state: String,
}

/// Payment capabilities (SPEC RV3).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentCapabilities {
    /// What the account may receive a day, in fen.
    #[schema(example = 5000000)]
    pub daily_receiving_limit_fen: i64,
    /// Withdrawals are paused until then (72 h after a revocation of the real name).
    pub withdrawals_paused_until: Option<String>,
    /// Whether auto-debit contracts may run (ended by a revocation of the real name).
    pub auto_debit_allowed: bool,
}

/// Where the user stands for the capabilities rules (ID5): unverified, a
/// minor (with or without an approved guardian) or an adult. The API and
/// the H5 pages both ask it here.
pub async fn standing(
    state: &crate::state::AppParts,
    session: &idlink_core::ports::auth::SessionRow,
    request_id: Option<&RequestId>,
) -> Result<idlink_domain::capabilities::Standing, Problem> {
    use idlink_domain::capabilities::Standing;
    Ok(match state.identities().identity(session, request_id).await? {
        None => Standing::Unverified,
        Some(v) if v.minor => Standing::Minor { guardian_approved: state.guardians().has_approved_guardian(&session.user_id).await? },
        Some(_) => Standing::Adult,
    })
}

/// What the user can do, given verification and age (SPEC ID4). The host app reads it to grey out features.
#[utoipa::path(get, path = "/v1/me/capabilities", tag = "identity",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Capabilities), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn capabilities(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
) -> Result<Json<Capabilities>, Problem> {
    use idlink_domain::capabilities::{Standing, restrictions};
    let standing = standing(&state, &session.0, request_id.as_deref()).await?;
    let r = restrictions(standing);
    let consent_required: Vec<ConsentNeeded> = state
        .consents()
        .missing(&session.0.user_id)
        .await?
        .into_iter()
        .flat_map(|m| {
            m.kind.holds_back().iter().map(move |c| ConsentNeeded {
                capability: c.as_str().into(),
                consent: m.kind.as_str().into(),
                state: m.state.into(),
            })
        })
        .collect();
    let mut restricted: Vec<String> = r.restricted.iter().map(|c| c.as_str().to_owned()).collect();
    for c in &consent_required {
        if !restricted.contains(&c.capability) {
            restricted.push(c.capability.clone());
        }
    }
    let mut notes: Vec<String> = r.note.map(str::to_owned).into_iter().collect();
    if !consent_required.is_empty() {
        notes.push(
            "Some features need the user's separate consent to process their data: see consent_required and GET /v1/me/consents.".into(),
        );
    }
    let caps = Capabilities {
        verified: standing != Standing::Unverified,
        minor: matches!(standing, Standing::Minor { .. }),
        restricted,
        notes,
        consent_required,
        payments: {
            let p = state.revocations().payment_limits(&session.0.user_id).await?;
            PaymentCapabilities {
                daily_receiving_limit_fen: p.daily_receiving_limit.0,
                withdrawals_paused_until: p.withdrawals_paused_until.map(|t| t.to_string()),
                auto_debit_allowed: p.auto_debit_allowed,
            }
        },
    };
    Ok(Json(caps))
}
