//! Operator API for the user 360° (issue 13 point 4): search by blind index, the masked record, the purpose audited.
//!
//! Both are POSTs so that a phone or ID number never sits in a URL (access
//! logs, proxies, browser history); the core turns it into the blind index.

use crate::extract::{Body, Causes, PathId, Validate};
use crate::problem::Problem;
use crate::routes::operator::OperatorAuth;
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use idlink_core::people::{Purpose, SearchBy, UserRecord};
use idlink_domain::{IdNumber, PhoneNumber, RequestId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(view)).routes(routes!(looks))
}

/// What a search looks up.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchKey {
    Phone,
    IdNumber,
}

/// Body of `POST /v1/operator/people/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchPeople {
    /// `phone` (a mainland mobile number) or `id_number` (a mainland resident ID number).
    by: SearchKey,
    /// The phone number (11 digits) or the ID number (18 characters).
    #[schema(example = "13800138000", pattern = r"^(1[0-9]{10}|[0-9]{17}[0-9Xx])$")]
    value: String,
}

impl Validate for SearchPeople {
    type Valid = SearchBy;

    fn validate(self, c: &mut Causes) -> Option<SearchBy> {
        let today = c.today();
        let value = self.value.trim();
        match self.by {
            SearchKey::Phone => c.parse("value", "invalid_phone", value, PhoneNumber::parse).map(SearchBy::Phone),
            SearchKey::IdNumber => c.parse("value", "invalid_id_number", value, |n| IdNumber::parse(n, today)).map(SearchBy::IdNumber),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FoundUser {
    pub user_id: String,
    /// Masked (`138****8000`); null once the user's data was shredded.
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleFound {
    /// The user with this phone or ID number: none or one.
    pub users: Vec<FoundUser>,
}

/// Finds a user by phone or mainland ID number through the blind index.
/// Audited (hit or miss) as `operator.search_user`, without the value.
#[utoipa::path(post, path = "/v1/operator/people/search", tag = "operators",
    request_body = SearchPeople,
    params(("Idlink-Operator" = String, Header, description = "Operator session token (reviewer, auditor or admin).")),
    responses((status = 200, body = PeopleFound), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn search(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<Extension<RequestId>>,
    Body(by): Body<SearchPeople>,
) -> Result<Json<PeopleFound>, Problem> {
    let found = state.people().search(&op, &by, request_id.as_deref()).await?;
    Ok(Json(PeopleFound { users: found.into_iter().map(|f| FoundUser { user_id: f.user_id.to_string(), phone: f.phone }).collect() }))
}

/// Body of `POST /v1/operator/people/{user_id}/view`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRecord {
    /// Why: `complaint`, `fraud_investigation`, `regulator_request` or `account_support`. The user is told it.
    #[schema(example = "complaint", pattern = r"^(complaint|fraud_investigation|regulator_request|account_support)$")]
    purpose: String,
    /// The reference of the request being handled (ticket, letter), at most 200 characters:
    /// kept for auditors, never shown to the user.
    #[schema(example = "TICKET-2026-0042", min_length = 1, max_length = 200)]
    reference: String,
}

impl Validate for OpenRecord {
    type Valid = (Purpose, String);

    fn validate(self, c: &mut Causes) -> Option<(Purpose, String)> {
        let purpose = Purpose::parse(&self.purpose);
        c.check(
            "purpose",
            purpose.is_none(),
            "invalid_purpose",
            "`purpose` is complaint, fraud_investigation, regulator_request or account_support.",
        );
        Some((purpose?, self.reference))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordIdentity {
    /// Masked: first character only.
    pub name: String,
    /// Masked: first 3 and last 4 characters.
    pub id_number: String,
    /// `resident_id`, `passport`, `hk_macau_permit` or `taiwan_permit`.
    pub document_type: String,
    /// How it was verified.
    pub method: String,
    pub verified_at: String,
    pub minor: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordGuardian {
    /// `minor` (this user is the minor) or `guardian`.
    pub role: String,
    pub relationship: String,
    pub status: String,
    pub since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordFreeze {
    pub since: String,
    pub case_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordDevice {
    pub name: String,
    pub primary: bool,
    /// A biometric step-up key is registered.
    pub biometric: bool,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordCard {
    pub binding_id: String,
    pub bank: String,
    pub bank_name: String,
    /// The last four digits only (`**** 0123`).
    pub card: String,
    /// Tier 1: `pending_sms`, `active` or `ended`.
    pub binding: String,
    pub bound_at: Option<String>,
    pub end_reason: Option<String>,
    pub suspended_reason: Option<String>,
    /// Tier 2: the user's balance-query switch.
    pub balance_switch: bool,
    /// Tier 4 of an active card: `not_required`, `in_force`, `not_signed` or `outdated`.
    pub agreement: Option<String>,
    pub agreement_valid_until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordAuthorisations {
    pub payment_password_set: bool,
    pub payment_password_locked: bool,
    pub biometric_step_up: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordCase {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub opened_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordCapability {
    /// `payment`, `balance_query`, `credit_report`, `social_security_card` or `third_party_authorisation`.
    pub capability: String,
    pub available: bool,
    /// Why not: the user's standing (`unverified`, `minor`, `minor_guarded`), `data_deleted`,
    /// or the consent it waits for (`consent_id_number`, `consent_bank_card`, `consent_credit_report`, `consent_social_security`).
    pub why_not: Option<String>,
}

/// A user's record as an operator sees it: every personal field masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRecord {
    pub user_id: String,
    /// Masked; null once the user's data was shredded.
    pub phone: Option<String>,
    pub created_at: String,
    /// The user's data key was shredded: no personal data can be shown.
    pub shredded: bool,
    pub identity: Option<RecordIdentity>,
    /// `unverified`, `minor`, `minor_guarded`, `adult`, or `shredded` (verified,
    /// but the data was deleted: the age is unknown).
    pub standing: String,
    pub guardians: Vec<RecordGuardian>,
    pub frozen: Option<RecordFreeze>,
    pub devices: Vec<RecordDevice>,
    pub cards: Vec<RecordCard>,
    pub authorisations: RecordAuthorisations,
    pub cases: Vec<RecordCase>,
    pub capabilities: Vec<RecordCapability>,
}

impl From<UserRecord> for PersonRecord {
    fn from(r: UserRecord) -> Self {
        PersonRecord {
            user_id: r.user_id.to_string(),
            phone: r.phone,
            created_at: r.created_at.to_string(),
            shredded: r.shredded,
            identity: r.identity.map(|i| RecordIdentity {
                name: i.name,
                id_number: i.id_number,
                document_type: i.document_type.as_str().to_owned(),
                method: i.method,
                verified_at: i.verified_at.to_string(),
                minor: i.minor,
            }),
            standing: r.standing.to_owned(),
            guardians: r
                .guardians
                .into_iter()
                .map(|g| RecordGuardian {
                    role: g.role.to_owned(),
                    relationship: g.relationship,
                    status: g.status.as_str().to_owned(),
                    since: g.since.to_string(),
                })
                .collect(),
            frozen: r.frozen.map(|f| RecordFreeze { since: f.since.to_string(), case_id: f.case_id }),
            devices: r
                .devices
                .into_iter()
                .map(|d| RecordDevice {
                    name: d.name,
                    primary: d.primary,
                    biometric: d.biometric,
                    first_seen: d.first_seen.to_string(),
                    last_seen: d.last_seen.to_string(),
                })
                .collect(),
            cards: r
                .cards
                .into_iter()
                .map(|c| RecordCard {
                    binding_id: c.binding_id,
                    bank: c.bank,
                    bank_name: c.bank_name,
                    card: c.card,
                    binding: c.binding.as_str().to_owned(),
                    bound_at: c.bound_at.map(|t| t.to_string()),
                    end_reason: c.end_reason,
                    suspended_reason: c.suspended_reason,
                    balance_switch: c.balance_switch,
                    agreement: c.agreement.map(str::to_owned),
                    agreement_valid_until: c.agreement_valid_until.map(|t| t.to_string()),
                })
                .collect(),
            authorisations: RecordAuthorisations {
                payment_password_set: r.authorisations.payment_password_set,
                payment_password_locked: r.authorisations.payment_password_locked,
                biometric_step_up: r.authorisations.biometric_step_up,
            },
            cases: r
                .cases
                .into_iter()
                .map(|c| RecordCase {
                    id: c.id,
                    kind: c.kind.as_str().to_owned(),
                    status: c.status.as_str().to_owned(),
                    opened_at: c.opened_at.to_string(),
                })
                .collect(),
            capabilities: r
                .capabilities
                .into_iter()
                .map(|c| RecordCapability {
                    capability: c.capability.as_str().to_owned(),
                    available: c.available,
                    why_not: c.why_not.map(str::to_owned),
                })
                .collect(),
        }
    }
}

/// Opens a user's record for a purpose: audited as `operator.view_user`
/// (the user sees it in their access log, with the purpose), the reference
/// stored beside it. Every personal field is masked.
#[utoipa::path(post, path = "/v1/operator/people/{user_id}/view", tag = "operators",
    request_body = OpenRecord,
    params(
        ("user_id" = String, Path, description = "The user's id (`usr_…`).", pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8"),
        ("Idlink-Operator" = String, Header, description = "Operator session token (reviewer, auditor or admin).")),
    responses((status = 200, body = PersonRecord), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn view(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    request_id: Option<Extension<RequestId>>,
    PathId(user): PathId<UserId>,
    Body((purpose, reference)): Body<OpenRecord>,
) -> Result<Json<PersonRecord>, Problem> {
    let record = state.people().open(&op, &user, purpose, &reference, request_id.as_deref()).await?;
    Ok(Json(record.into()))
}

/// One look at a user's record: who, when, for what, and the reference they gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordLook {
    pub operator_id: String,
    /// RFC 3339.
    pub at: String,
    /// `complaint`, `fraud_investigation`, `regulator_request` or `account_support`.
    pub purpose: String,
    /// The operator's own reference (a ticket, a letter); never shown to the user.
    pub reference: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordLooks {
    /// Newest first, at most 200.
    pub looks: Vec<RecordLook>,
}

/// Who opened a user's record, when, for what and under which reference:
/// the check on the purposes operators give (auditors and admins).
#[utoipa::path(get, path = "/v1/operator/people/{user_id}/looks", tag = "operators",
    params(
        ("user_id" = String, Path, description = "The user's id (`usr_…`).", pattern = r"^usr_[A-Za-z0-9_-]{1,64}$", example = "usr_5f0c8a1b2d3e4f5061728394a5b6c7d8"),
        ("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = RecordLooks), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn looks(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(user): PathId<UserId>,
) -> Result<Json<RecordLooks>, Problem> {
    let looks = state.people().looks(&op, &user, 200).await?;
    Ok(Json(RecordLooks {
        looks: looks
            .into_iter()
            .map(|l| RecordLook {
                operator_id: l.operator_id.to_string(),
                at: idlink_core::reports::shanghai_rfc3339(l.at),
                purpose: l.purpose,
                reference: l.reference,
            })
            .collect(),
    }))
}
