//! `/v1/me/consents`: the user's separate consents to process sensitive
//! personal information (issue 18 point 1, PIPL art. 29, SPEC CP): each
//! kind with its current text, giving one to the text shown, withdrawing one.

use crate::extract::{Body, Causes, Validate};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::consents::ConsentView;
use idlink_domain::consent::ConsentState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One kind of sensitive personal information with its current text and where the user stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Consent {
    /// `face`, `id_number`, `bank_card`, `credit_report` or `social_security`.
    pub kind: String,
    /// `given` (to the current text: processing is allowed), `never`, `outdated` (given to an older version) or `withdrawn`.
    pub state: String,
    /// The current text's version: what a consent is given to.
    pub version: u32,
    /// The language of `title` and `text`.
    pub locale: String,
    pub title: String,
    pub text: String,
    /// SHA-256 (hex) of the title, a line break and the text, in UTF-8: send it back to consent.
    pub sha256: String,
    /// The version last consented to, if any.
    pub given_version: Option<u32>,
    /// When (RFC 3339) the consent now shown was given, or withdrawn.
    pub given_at: Option<String>,
    pub withdrawn_at: Option<String>,
}

impl From<ConsentView> for Consent {
    fn from(v: ConsentView) -> Self {
        let (given_version, given_at, withdrawn_at) = match v.state {
            ConsentState::Never => (None, None, None),
            ConsentState::Given { version, at } | ConsentState::Outdated { version, at } => (Some(version), Some(at.to_string()), None),
            ConsentState::Withdrawn { version, at } => (Some(version), None, Some(at.to_string())),
        };
        Self {
            kind: v.text.kind.as_str().to_owned(),
            state: v.state.as_str().to_owned(),
            version: v.text.version,
            locale: v.text.locale.to_owned(),
            title: v.text.title,
            text: v.text.body,
            sha256: v.text.sha256,
            given_version,
            given_at,
            withdrawn_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    pub consents: Vec<Consent>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct Lang {
    /// The texts' language: `zh-CN` (default), `zh-HK` or `en`.
    #[param(example = "zh-CN")]
    lang: Option<String>,
}

/// Every kind of sensitive personal information with its current text (in
/// `lang`) and the user's consent: show the text before the first processing
/// of a kind, and wherever the user manages their consents.
#[utoipa::path(get, path = "/v1/me/consents", tag = "identity",
    params(Lang, ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = ConsentList), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, session: UserSession, Query(q): Query<Lang>) -> Result<Json<ConsentList>, Problem> {
    let lang = q.lang.as_deref().unwrap_or("zh-CN");
    let all = state.consents().list(&session.0.user_id, lang).await?;
    Ok(Json(ConsentList { consents: all.into_iter().map(Consent::from).collect() }))
}

/// Body of `POST /v1/me/consents`: the text the user read and agreed to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveConsent {
    /// `face`, `id_number`, `bank_card`, `credit_report` or `social_security`.
    #[schema(pattern = "^(face|id_number|bank_card|credit_report|social_security)$", example = "bank_card")]
    kind: String,
    /// The language the text was shown in: `zh-CN`, `zh-HK` or `en`.
    #[schema(pattern = "^(zh-CN|zh-HK|en)$", example = "zh-CN")]
    locale: String,
    #[schema(minimum = 1, example = 1)]
    version: u32,
    /// The `sha256` of the text shown, as `GET /v1/me/consents` gave it.
    #[schema(pattern = "^[0-9a-f]{64}$", example = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a0c2e4b6d8f0a2c4e6b8d0f")]
    sha256: String,
}

impl Validate for GiveConsent {
    type Valid = GiveConsent;
    fn validate(self, c: &mut Causes) -> Option<GiveConsent> {
        let mut ok = c.check(
            "kind",
            idlink_domain::consent::ConsentKind::parse(&self.kind).is_none(),
            "invalid_kind",
            "`kind` is face, id_number, bank_card, credit_report or social_security.",
        );
        ok &= c.check(
            "locale",
            !idlink_domain::consent::LOCALES.contains(&self.locale.as_str()),
            "invalid_locale",
            "`locale` is zh-CN, zh-HK or en.",
        );
        ok &= c.check(
            "sha256",
            self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
            "invalid_sha256",
            "`sha256` is the 64 hex digits of the text shown.",
        );
        Some(self).filter(|_| ok)
    }
}

/// The user agrees to the current text of one kind, as shown: 201 with the
/// consent, or 200 when it was given already. Audited (`consent.give`).
#[utoipa::path(post, path = "/v1/me/consents", tag = "identity",
    request_body = GiveConsent,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = Consent), (status = 200, body = Consent), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn give(State(state): State<AppState>, session: UserSession, Body(body): Body<GiveConsent>) -> Result<Response, Problem> {
    let actor = format!("user:{}", session.0.user_id);
    let (view, new) = state.consents().give(&session.0.user_id, &body.kind, &body.locale, body.version, &body.sha256, &actor).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Consent::from(view))).into_response())
}

/// Withdraws the user's consent of one kind, as easily as it was given: the
/// processing that needs it stops at once; nothing the law requires to keep
/// is deleted. Audited (`consent.withdraw`).
#[utoipa::path(delete, path = "/v1/me/consents/{kind}", tag = "identity",
    params(
        ("kind" = String, Path, pattern = "^(face|id_number|bank_card|credit_report|social_security)$", example = "bank_card",
            description = "`face`, `id_number`, `bank_card`, `credit_report` or `social_security`."),
        ("Idlink-Session" = String, Header, description = "The user's session token."),
    ),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn withdraw(State(state): State<AppState>, session: UserSession, Path(kind): Path<String>) -> Result<StatusCode, Problem> {
    let actor = format!("user:{}", session.0.user_id);
    if state.consents().withdraw(&session.0.user_id, &kind, &actor).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::new(ProblemCode::ConsentNotFound))
    }
}
