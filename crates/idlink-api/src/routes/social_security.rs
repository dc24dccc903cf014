//! `/v1/social-security/regions`: where the social-security card service
//! is open (SPEC SS1, issue 16), and the region check a binding starts with:
//! the province of a card's issuing area, open or closed with the reason,
//! and the features offered there only. `/v1/social-security/bindings`:
//! binding a card in six steps (SPEC SS2), each repeated safely, resumed
//! from any device (`docs/social-security.md`).

use crate::extract::{Body, Causes, Validate};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use crate::state::ClientIp;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::ports::social_security::CardNamed;
use idlink_core::social_security::{Actor, BindingView};
use idlink_core::ss_services::ServiceView;
use idlink_core::steps::codes::Origin;
use idlink_domain::social_security::{Region, RegionAnswer};
use idlink_domain::ss_service::ServiceKind;
use idlink_domain::{PhoneNumber, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A province and its service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRegion {
    /// The province's GB/T 2260 code.
    #[schema(example = "440000")]
    code: String,
    name: String,
    name_en: String,
    open: bool,
    /// The month the service opened (YYYY-MM), when open.
    opened: Option<String>,
    /// Why it is closed (a stable code: `not_yet_open`), when closed.
    closed_reason: Option<String>,
    /// Features offered in this region only: `lingnan_pass_transit`, `hospital_registration`, `minority_language`.
    features: Vec<String>,
}

impl From<&Region> for ServiceRegion {
    fn from(r: &Region) -> Self {
        Self {
            code: r.code.clone(),
            name: r.name.clone(),
            name_en: r.name_en.clone(),
            open: r.is_open(),
            opened: r.opened.clone(),
            closed_reason: r.closed_reason.clone(),
            features: r.features.iter().map(|f| f.as_str().to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRegions {
    /// Provinces open.
    open: usize,
    regions: Vec<ServiceRegion>,
}

/// Every province and whether the social-security card service is open there.
#[utoipa::path(get, path = "/v1/social-security/regions", tag = "social security",
    responses((status = 200, body = ServiceRegions), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn regions(State(state): State<AppState>) -> Json<ServiceRegions> {
    let c = &state.ss_coverage;
    Json(ServiceRegions { open: c.open_count(), regions: c.regions.iter().map(ServiceRegion::from).collect() })
}

/// The region check of a binding's first step: the province of an issuing
/// area (the card's GB/T 2260 area code) and its service; a closed province
/// answers `social_security_region_closed` with its name and reason.
#[utoipa::path(get, path = "/v1/social-security/regions/{area_code}", tag = "social security",
    params(("area_code" = String, Path, pattern = r"^[0-9]{6}$", example = "440305", description = "The card's issuing area (GB/T 2260), of any level.")),
    responses((status = 200, body = ServiceRegion), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn region(State(state): State<AppState>, Path(area_code): Path<String>) -> Result<Json<ServiceRegion>, Problem> {
    match state.ss_coverage.region_for(&area_code) {
        RegionAnswer::Open(r) => Ok(Json(ServiceRegion::from(r))),
        RegionAnswer::Closed(r) => Err(Problem::new(ProblemCode::SocialSecurityRegionClosed).detail(format!(
            "The social-security card service is not open in {} ({}) yet: {}. A card issued there cannot be bound; GET /v1/social-security/regions lists the open provinces.",
            r.name_en,
            r.name,
            r.closed_reason.as_deref().unwrap_or("closed")
        ))),
        RegionAnswer::NotCovered => Err(Problem::new(ProblemCode::SocialSecurityRegionUnknown)),
    }
}

// ---- Binding a card (SPEC SS2, SS4): the six steps ----

fn actor<'a>(s: &'a UserSession, request_id: Option<&'a RequestId>) -> Actor<'a> {
    Actor { session: &s.0, request_id }
}

const SESSION: &str = "The user's session token.";

/// The card as the bureau disclosed it, masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoundCard {
    /// The social-security card number, masked (`A*****678`).
    card_number: String,
    /// The issuing area (GB/T 2260).
    region: String,
    /// The bank of the card's financial account.
    bank_code: String,
    /// The financial account's number, masked.
    account: String,
}

/// A binding and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsBinding {
    /// `ssb_…`: also the pseudonym medical-payment codes carry.
    id: String,
    /// The province (GB/T 2260).
    region: String,
    /// The step to do now: `entry`, `identity`, `card`, `bank`, `agreement`, `features` (the last one once bound).
    step: String,
    /// 1 to 6.
    step_number: usize,
    /// `open`, `frozen` (a theft-binding risk under review), `bound`, `expired`, `cancelled` or `unbound` (by its holder, once bound).
    status: String,
    /// The current step must be done by then (RFC 3339); codes sent for it are void after.
    step_deadline: String,
    /// The binding ends unless bound by then.
    expires_at: String,
    /// `face` or `sms`, once the identity step is done.
    identity_method: Option<String>,
    /// The face check failed: an SMS code may stand in for it (POST …/identity/sms).
    sms_fallback: bool,
    /// The bureau's dynamic code is on its way (confirm with POST …/card/confirm).
    card_code_sent: bool,
    /// The bank's code is on its way (confirm with POST …/bank/confirm).
    bank_code_sent: bool,
    card: Option<BoundCard>,
    agreement_version: Option<String>,
    features: Vec<String>,
    /// Why it is frozen: `card_bound_elsewhere`, `region_jump:{region}` or `bureau:{reason}`.
    risk_reason: Option<String>,
    /// The provincial bureau's channel that answered last: `primary`, or `alternate` when the primary was busy or down.
    channel: Option<String>,
    bound_at: Option<String>,
    /// `holder`, or `relative` when the caller binds for the holder (they see the binding and take its steps, nothing else of the card).
    acting_as: String,
    /// The relative's part in the binding, if one binds for the holder.
    agent: Option<SsAgent>,
}

/// A relative binding for the holder.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsAgent {
    /// `relative`.
    role: String,
    /// The relative's phone, masked; shown to the holder only.
    #[schema(example = "137****0272")]
    phone: Option<String>,
    /// When the holder ended it (RFC 3339).
    ended_at: Option<String>,
}

impl From<BindingView> for SsBinding {
    fn from(v: BindingView) -> Self {
        Self {
            id: v.id,
            region: v.region,
            step: v.step.as_str().to_owned(),
            step_number: v.step_number,
            status: v.status.as_str().to_owned(),
            step_deadline: v.step_deadline.to_string(),
            expires_at: v.expires_at.to_string(),
            identity_method: v.identity_method,
            sms_fallback: v.sms_fallback,
            card_code_sent: v.card_code_sent,
            bank_code_sent: v.bank_code_sent,
            card: v.card.map(|c| BoundCard { card_number: c.card_number, region: c.region, bank_code: c.bank_code, account: c.account }),
            agreement_version: v.agreement_version,
            features: v.features,
            risk_reason: v.risk_reason,
            channel: v.channel,
            acting_as: v.acting_as.to_owned(),
            agent: v.agent.map(|a| SsAgent { role: a.role, phone: a.phone, ended_at: a.ended_at.map(|t| t.to_string()) }),
            bound_at: v.bound_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SsBindings {
    /// Newest first.
    bindings: Vec<SsBinding>,
}

/// Body of `POST /v1/social-security/bindings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSsBinding {
    /// The card's issuing area (GB/T 2260, six digits; the province's code works too).
    #[schema(pattern = r"^[0-9]{6}$", example = "440305")]
    area_code: String,
    /// Binding for a relative (an elder): their phone; they consent with their own SMS code or face check at the identity step.
    #[schema(pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$", example = "13812341234")]
    on_behalf_of_phone: Option<String>,
}

impl Validate for NewSsBinding {
    type Valid = (String, Option<PhoneNumber>);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let area_ok = c.check(
            "area_code",
            self.area_code.len() != 6 || !self.area_code.bytes().all(|b| b.is_ascii_digit()),
            "invalid_area_code",
            "the six-digit GB/T 2260 issuing area printed on the card.",
        );
        let holder = match &self.on_behalf_of_phone {
            Some(p) => Some(c.parse("on_behalf_of_phone", "invalid_phone", p, PhoneNumber::parse)?),
            None => None,
        };
        area_ok.then_some((self.area_code, holder))
    }
}

/// Step 1, entry: the region check of the card's issuing area opens a binding at the identity step
/// (for the user's own card, or with `on_behalf_of_phone` for a relative's).
#[utoipa::path(post, path = "/v1/social-security/bindings", tag = "social security",
    request_body = NewSsBinding,
    params(("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 201, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn start(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body((area, holder)): Body<NewSsBinding>,
) -> Result<Response, Problem> {
    let who = actor(&session, request_id.as_deref());
    let view = match holder {
        Some(phone) => state.social_security().start_on_behalf(&who, &area, &phone).await?,
        None => state.social_security().start(&who, &area).await?,
    };
    Ok((StatusCode::CREATED, Json(SsBinding::from(view))).into_response())
}

/// The user's bindings: resume one from any device.
#[utoipa::path(get, path = "/v1/social-security/bindings", tag = "social security",
    params(("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBindings), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
) -> Result<Json<SsBindings>, Problem> {
    let bindings = state.social_security().list(&actor(&session, request_id.as_deref())).await?.into_iter().map(SsBinding::from).collect();
    Ok(Json(SsBindings { bindings }))
}

/// One binding and its step.
#[utoipa::path(get, path = "/v1/social-security/bindings/{id}", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().view(&actor(&session, request_id.as_deref()), &id).await?.into()))
}

/// Ends a binding: one under way is cancelled; a bound card is unbound (its holder only), which stops its medical code at once.
#[utoipa::path(delete, path = "/v1/social-security/bindings/{id}", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().cancel(&actor(&session, request_id.as_deref()), &id).await?.into()))
}

/// Body of `POST …/identity/face`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsFace {
    /// The liveness capture from the host app's face SDK. Sandbox test values: `sandbox:pass`, `sandbox:spoof`, `sandbox:poor_lighting`, `sandbox:mismatch`.
    #[schema(example = "sandbox:pass", min_length = 1)]
    liveness_video: String,
}

impl Validate for SsFace {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.liveness_video.trim().is_empty() {
            c.invalid("liveness_video", "missing_liveness", "send the liveness capture of the face SDK.");
            return None;
        }
        Some(self.liveness_video)
    }
}

/// Step 2, identity: a face check against the verified identity; after a failure, `sms_fallback` offers an SMS code.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/identity/face", tag = "social security",
    request_body = SsFace,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn identity_face(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(video): Body<SsFace>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().identity_face(&actor(&session, request_id.as_deref()), &id, &video).await?.into()))
}

/// A challenge sent by SMS.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsChallenge {
    challenge_id: String,
    expires_at: String,
}

/// Step 2 after a failed face check: an SMS code to the user's phone.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/identity/sms", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsChallenge), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn identity_sms(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    Extension(ip): Extension<ClientIp>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsChallenge>, Problem> {
    let origin = Origin { actor: format!("user:{}", session.0.user_id), client_ip: ip.0, request_id: request_id.as_deref().cloned() };
    let c = state.social_security().identity_sms(&actor(&session, request_id.as_deref()), &origin, &id).await?;
    Ok(Json(SsChallenge { challenge_id: c.challenge_id, expires_at: c.expires_at.to_string() }))
}

/// Body of `POST …/identity/sms/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsSmsCode {
    #[schema(pattern = r"^chl_[A-Za-z0-9_-]{1,64}$", example = "chl_0123456789abcdef0123456789abcdef")]
    challenge_id: String,
    #[schema(pattern = r"^[0-9]{6}$", example = "123456")]
    code: String,
}

impl Validate for SsSmsCode {
    type Valid = (String, String);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        if self.code.len() != 6 || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            c.invalid("code", "invalid_code", "the six digits of the SMS.");
            return None;
        }
        Some((self.challenge_id, self.code))
    }
}

/// Step 2 by SMS code instead of the face check.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/identity/sms/confirm", tag = "social security",
    request_body = SsSmsCode,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn identity_sms_confirm(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body((challenge, code)): Body<SsSmsCode>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().identity_sms_confirm(&actor(&session, request_id.as_deref()), &id, &challenge, &code).await?.into()))
}

/// Body of `POST …/card`: the card's number (typed) or the payload of its QR code (scanned), one of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsCard {
    /// Typed: the card number printed on the card.
    #[schema(pattern = r"^[A-Za-z0-9]{9}$", example = "A12345678")]
    card_number: Option<String>,
    /// Scanned: the card's QR payload.
    #[schema(example = "SSC1:A12345678:440305:0a1b2c3d", min_length = 1, max_length = 512)]
    qr_payload: Option<String>,
}

impl SsCard {
    /// The published schema: the fields, and the rule that exactly one of them is given.
    pub fn published_schema() -> Option<utoipa::openapi::Schema> {
        use utoipa::PartialSchema;
        use utoipa::openapi::schema::OneOfBuilder;
        use utoipa::openapi::{AllOfBuilder, ObjectBuilder};
        let utoipa::openapi::RefOr::T(fields) = Self::schema() else { return None };
        let one = OneOfBuilder::new()
            .item(ObjectBuilder::new().required("card_number").build())
            .item(ObjectBuilder::new().required("qr_payload").build());
        Some(
            AllOfBuilder::new()
                .item(fields)
                .item(one)
                .description(Some("Body of `POST …/card`: `card_number` or `qr_payload`, one of them."))
                .build()
                .into(),
        )
    }
}

/// The card as the user named it.
pub enum Named {
    Number(String),
    Qr(String),
}

impl Validate for SsCard {
    type Valid = Named;
    fn validate(self, c: &mut Causes) -> Option<Named> {
        match (self.card_number, self.qr_payload) {
            (Some(n), None) if n.len() == 9 && n.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(Named::Number(n.to_ascii_uppercase())),
            (Some(_), None) => {
                c.invalid("card_number", "invalid_card_number", "the nine letters and digits printed on the card.");
                None
            }
            (None, Some(q)) if !q.trim().is_empty() && q.len() <= 512 => Some(Named::Qr(q)),
            (None, Some(_)) => {
                c.invalid("qr_payload", "invalid_qr_payload", "the text of the card's QR code, as scanned.");
                None
            }
            _ => {
                c.invalid("card_number", "one_of", "send `card_number` (typed) or `qr_payload` (scanned), one of them.");
                None
            }
        }
    }
}

/// Step 3, card: the provincial bureau finds the card and sends its dynamic code to the user's phone.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/card", tag = "social security",
    request_body = SsCard,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn card(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(named): Body<SsCard>,
) -> Result<Json<SsBinding>, Problem> {
    let card = match &named {
        Named::Number(n) => CardNamed::Number(n),
        Named::Qr(q) => CardNamed::Qr(q),
    };
    Ok(Json(state.social_security().card(&actor(&session, request_id.as_deref()), &id, card).await?.into()))
}

/// A code sent by SMS (the bureau's or the bank's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsCode {
    #[schema(example = "123456", min_length = 1)]
    code: String,
}

impl Validate for SsCode {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.code.trim().is_empty() || self.code.len() > 12 {
            c.invalid("code", "missing_code", "send the code from the SMS.");
            return None;
        }
        Some(self.code)
    }
}

/// Step 3 confirmed by the bureau's dynamic code: the card and its financial account are disclosed.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/card/confirm", tag = "social security",
    request_body = SsCode,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn card_confirm(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(code): Body<SsCode>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().card_confirm(&actor(&session, request_id.as_deref()), &id, &code).await?.into()))
}

/// Body of `POST …/bank`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsBank {
    /// The phone the bank has on record for the card's financial account; the bank sends its code there.
    #[schema(pattern = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$", example = "13812341234")]
    reserved_phone: String,
}

impl Validate for SsBank {
    type Valid = PhoneNumber;
    fn validate(self, c: &mut Causes) -> Option<PhoneNumber> {
        c.parse("reserved_phone", "invalid_phone", &self.reserved_phone, PhoneNumber::parse)
    }
}

/// Step 4, bank: the financial account's bank sends its code to the reserved phone. A forgotten payment password is reset with the bank, never here.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/bank", tag = "social security",
    request_body = SsBank,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn bank(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(phone): Body<SsBank>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().bank(&actor(&session, request_id.as_deref()), &id, &phone).await?.into()))
}

/// Step 4 confirmed by the bank's code.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/bank/confirm", tag = "social security",
    request_body = SsCode,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn bank_confirm(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(code): Body<SsCode>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().bank_confirm(&actor(&session, request_id.as_deref()), &id, &code).await?.into()))
}

/// The mobile-payment service agreement.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsAgreement {
    version: String,
    /// SHA-256 of `text` (hex): sign it with the version.
    sha256: String,
    text: String,
}

/// The current mobile-payment service agreement, to read before signing.
#[utoipa::path(get, path = "/v1/social-security/agreement", tag = "social security",
    responses((status = 200, body = SsAgreement), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn agreement() -> Json<SsAgreement> {
    let a = idlink_core::social_security::agreement();
    Json(SsAgreement { version: a.version.to_owned(), sha256: a.sha256, text: a.text.to_owned() })
}

/// Body of `POST …/agreement`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsSignature {
    #[schema(example = "SSC-MP-2026-12", min_length = 1)]
    version: String,
    #[schema(pattern = r"^[0-9a-fA-F]{64}$", example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    sha256: String,
}

impl Validate for SsSignature {
    type Valid = (String, String);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.invalid("sha256", "invalid_hash", "the agreement's `sha256` from GET /v1/social-security/agreement.");
            return None;
        }
        Some((self.version, self.sha256))
    }
}

/// Step 5: signs the agreement read, by its version and SHA-256.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/agreement", tag = "social security",
    request_body = SsSignature,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn sign(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body((version, sha256)): Body<SsSignature>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().sign(&actor(&session, request_id.as_deref()), &id, &version, &sha256).await?.into()))
}

/// Body of `POST …/features`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsFeatures {
    /// One or more of `medical_payment`, `pension_query`, `medical_account`, `unemployment_alerts`.
    #[schema(example = json!(["medical_payment", "pension_query"]))]
    features: Vec<String>,
}

impl Validate for SsFeatures {
    type Valid = Vec<String>;
    fn validate(self, c: &mut Causes) -> Option<Vec<String>> {
        let known = idlink_core::social_security::FEATURES;
        if self.features.is_empty() || self.features.iter().any(|f| !known.contains(&f.as_str())) {
            c.invalid("features", "invalid_features", format!("one or more of: {}.", known.join(", ")));
            return None;
        }
        Some(self.features)
    }
}

/// Step 6: chooses the features; the binding is bound.
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/features", tag = "social security",
    request_body = SsFeatures,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn features(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body(features): Body<SsFeatures>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().features(&actor(&session, request_id.as_deref()), &id, &features).await?.into()))
}

/// One month's movement on an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsStatement {
    /// `YYYY-MM`.
    month: String,
    /// `contribution` or `payment`.
    kind: String,
    /// Negative for money out.
    amount_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SsAccount {
    balance_fen: i64,
    /// The last twelve months, and payments since.
    statements: Vec<SsStatement>,
}

/// The card's accounts and where they come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsAccounts {
    /// The bureau and channel that answered (`ssb:11/primary`).
    source: String,
    /// When the bureau's figures are from (RFC 3339).
    as_of: String,
    /// With the `pension_query` feature.
    pension: Option<SsAccount>,
    /// With the `medical_account` feature.
    medical: Option<SsAccount>,
}

fn account(a: idlink_core::ports::social_security::Account) -> SsAccount {
    SsAccount {
        balance_fen: a.balance_fen,
        statements: a.statements.into_iter().map(|s| SsStatement { month: s.month, kind: s.kind, amount_fen: s.amount_fen }).collect(),
    }
}

/// The bound card's pension and medical accounts with their statements, read from the bureau now.
#[utoipa::path(get, path = "/v1/social-security/bindings/{id}/accounts", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsAccounts), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn accounts(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsAccounts>, Problem> {
    let a = state.social_security().accounts(&actor(&session, request_id.as_deref()), &id).await?;
    Ok(Json(SsAccounts { source: a.source, as_of: a.as_of.to_string(), pension: a.pension.map(account), medical: a.medical.map(account) }))
}

/// A service request and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsServiceRequest {
    /// `ssr_…`.
    id: String,
    binding_id: String,
    /// `offsite_medical_filing`, `relation_transfer` or `retirement_certification`.
    kind: String,
    /// The other region (province, GB/T 2260) of a filing or a transfer.
    to_region: Option<String>,
    /// `submitted`, `accepted`, `in_progress`, `completed` or `rejected`.
    status: String,
    /// Why the bureau rejected it (`same_region`, …).
    reason: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<ServiceView> for SsServiceRequest {
    fn from(v: ServiceView) -> Self {
        Self {
            id: v.id,
            binding_id: v.binding_id,
            kind: v.kind.as_str().to_owned(),
            to_region: v.to_region,
            status: v.status.as_str().to_owned(),
            reason: v.reason,
            created_at: v.created_at.to_string(),
            updated_at: v.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SsServiceRequests {
    /// Newest first, each with the bureau's status now.
    requests: Vec<SsServiceRequest>,
}

/// Body of `POST …/service-requests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSsServiceRequest {
    /// `offsite_medical_filing`, `relation_transfer` or `retirement_certification`.
    #[schema(example = "offsite_medical_filing")]
    kind: String,
    /// For a filing or a transfer: the other region's area code (GB/T 2260).
    #[schema(pattern = r"^[0-9]{6}$", example = "440305")]
    to_region: Option<String>,
    /// For a retirement certification: the holder's liveness capture (sandbox: `sandbox:pass`).
    #[schema(example = "sandbox:pass", min_length = 1)]
    liveness_video: Option<String>,
}

impl NewSsServiceRequest {
    /// The published schema: the fields, and what each kind needs (a
    /// filing or a transfer its `to_region`, a certification its `liveness_video`).
    pub fn published_schema() -> Option<utoipa::openapi::Schema> {
        use utoipa::PartialSchema;
        use utoipa::openapi::schema::{OneOfBuilder, SchemaType};
        use utoipa::openapi::{AllOfBuilder, ObjectBuilder};
        let utoipa::openapi::RefOr::T(fields) = Self::schema() else { return None };
        let kinds = |k: &[&str]| {
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .enum_values(Some(k.iter().map(|v| serde_json::json!(v)).collect::<Vec<_>>()))
        };
        let rules = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .required("kind")
                    .required("to_region")
                    .property("kind", kinds(&["offsite_medical_filing", "relation_transfer"]))
                    .build(),
            )
            .item(
                ObjectBuilder::new()
                    .required("kind")
                    .required("liveness_video")
                    .property("kind", kinds(&["retirement_certification"]))
                    .build(),
            );
        let described =
            Some("Body of `POST …/service-requests`: a filing or a transfer names `to_region`; a certification sends `liveness_video`.");
        Some(AllOfBuilder::new().item(fields).item(rules).description(described).build().into())
    }
}

impl Validate for NewSsServiceRequest {
    type Valid = (ServiceKind, Option<String>, Option<String>);
    fn validate(self, c: &mut Causes) -> Option<Self::Valid> {
        let Some(kind) = ServiceKind::parse(&self.kind) else {
            c.invalid("kind", "invalid_kind", "offsite_medical_filing, relation_transfer or retirement_certification.");
            return None;
        };
        let region_ok = self.to_region.as_deref().is_none_or(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()));
        let ok = c.check(
            "to_region",
            !region_ok || (kind.needs_region() && self.to_region.is_none()),
            "invalid_region",
            "the other region's six-digit area code (GB/T 2260), for a filing or a transfer.",
        ) & c.check(
            "liveness_video",
            kind == ServiceKind::RetirementCertification && self.liveness_video.as_deref().is_none_or(|v| v.trim().is_empty()),
            "missing_liveness",
            "a retirement certification is the holder's face check: send the liveness capture.",
        );
        ok.then_some((kind, self.to_region, self.liveness_video))
    }
}

/// Files a service request with the card's bureau (the card must be bound).
#[utoipa::path(post, path = "/v1/social-security/bindings/{id}/service-requests", tag = "social security",
    request_body = NewSsServiceRequest,
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 201, body = SsServiceRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn submit_service(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
    Body((kind, region, video)): Body<NewSsServiceRequest>,
) -> Result<Response, Problem> {
    let view = state.ss_services().submit(&actor(&session, request_id.as_deref()), &id, kind, region.as_deref(), video.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(SsServiceRequest::from(view))).into_response())
}

/// The binding's service requests, each with the bureau's status now.
#[utoipa::path(get, path = "/v1/social-security/bindings/{id}/service-requests", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsServiceRequests), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list_services(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsServiceRequests>, Problem> {
    let requests =
        state.ss_services().list(&actor(&session, request_id.as_deref()), &id).await?.into_iter().map(SsServiceRequest::from).collect();
    Ok(Json(SsServiceRequests { requests }))
}

/// One service request with the bureau's status now.
#[utoipa::path(get, path = "/v1/social-security/service-requests/{request_id}", tag = "social security",
    params(("request_id" = String, Path, pattern = r"^ssr_[0-9a-f]{32}$", example = "ssr_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsServiceRequest), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn get_service(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(rid): Path<String>,
) -> Result<Json<SsServiceRequest>, Problem> {
    Ok(Json(state.ss_services().view(&actor(&session, request_id.as_deref()), &rid).await?.into()))
}

/// Where to reset a forgotten payment password.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankHandoff {
    bank_code: String,
    bank_name: Option<String>,
    /// The bank's own page for it, when the deployment knows one; otherwise the user asks the bank.
    url: Option<String>,
    /// What to tell the user.
    message: String,
}

/// The hand-off when the user forgot the payment password of the card's financial account (SS4): the bank resets it, never idlink.
#[utoipa::path(get, path = "/v1/social-security/bindings/{id}/bank/password-reset", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = BankHandoff), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn bank_password_reset(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<BankHandoff>, Problem> {
    let h = state.social_security().bank_password_reset(&actor(&session, request_id.as_deref()), &id, &state.bank_password_reset).await?;
    let bank_name = state.roster.bank(&h.bank_code).map(|b| b.name.clone());
    let message = format!(
        "Your payment password is {}'s: reset it with the bank (its app, website or counter), then come back and go on with this step. idlink never asks for it.",
        bank_name.as_deref().unwrap_or(&h.bank_code)
    );
    Ok(Json(BankHandoff { bank_code: h.bank_code, bank_name, url: h.url, message }))
}

/// The holder ends their relative's part in the binding: the relative no longer sees it or takes its steps.
#[utoipa::path(delete, path = "/v1/social-security/bindings/{id}/agent", tag = "social security",
    params(("id" = String, Path, pattern = r"^ssb_[0-9a-f]{32}$", example = "ssb_0123456789abcdef0123456789abcdef"), ("Idlink-Session" = String, Header, description = SESSION)),
    responses((status = 200, body = SsBinding), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn end_agent(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(id): Path<String>,
) -> Result<Json<SsBinding>, Problem> {
    Ok(Json(state.social_security().end_agent(&actor(&session, request_id.as_deref()), &id).await?.into()))
}
