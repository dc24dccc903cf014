//! The user's digital certificates (SPEC CR1; ADR 0027): register one a
//! trusted CA issued to the user, list them, revoke one. They verify
//! credit-report requests by signing a challenge
//! (`POST /v1/credit-reports/{id}/certificate/challenge`).

use crate::extract::{Body, Causes, Validate};
use crate::middleware::UserSession;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use idlink_core::certificates::CertificateView;
use idlink_domain::RequestId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Certificate {
    /// SHA-256 of the certificate (DER), lowercase hex: what a challenge names.
    fingerprint: String,
    active: bool,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<CertificateView> for Certificate {
    fn from(v: CertificateView) -> Self {
        Self {
            fingerprint: v.fingerprint,
            active: v.active,
            created_at: v.created_at.to_string(),
            last_used_at: v.last_used_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Certificates {
    /// Newest first.
    certificates: Vec<Certificate>,
}

/// Body of `POST /v1/me/certificates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCertificate {
    /// The client certificate (PEM) a certificate authority this server trusts issued to you; with the sandbox, `POST /sandbox/v1/ca/certificates` issues one.
    #[schema(min_length = 1, example = "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n")]
    certificate_pem: String,
}

impl Validate for RegisterCertificate {
    type Valid = String;
    fn validate(self, c: &mut Causes) -> Option<String> {
        if self.certificate_pem.trim().is_empty() || self.certificate_pem.len() > 16_384 {
            c.invalid("certificate_pem", "invalid_certificate", "send the certificate's PEM (at most 16 KiB).");
            return None;
        }
        Some(self.certificate_pem)
    }
}

/// Registers a digital certificate for verification.
#[utoipa::path(post, path = "/v1/me/certificates", tag = "credit report",
    request_body = RegisterCertificate,
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 201, body = Certificate), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn register(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Body(pem): Body<RegisterCertificate>,
) -> Result<Response, Problem> {
    let view = state.certificates().register(&session.0, request_id.as_deref(), pem.as_bytes()).await?;
    Ok((StatusCode::CREATED, Json(Certificate::from(view))).into_response())
}

/// My digital certificates.
#[utoipa::path(get, path = "/v1/me/certificates", tag = "credit report",
    params(("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 200, body = Certificates), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, session: UserSession) -> Result<Json<Certificates>, Problem> {
    let certificates = state.certificates().list(&session.0.user_id).await?.into_iter().map(Certificate::from).collect();
    Ok(Json(Certificates { certificates }))
}

/// Revokes one of my certificates: it verifies nothing any more.
#[utoipa::path(delete, path = "/v1/me/certificates/{fingerprint}", tag = "credit report",
    params(("fingerprint" = String, Path, pattern = r"^[0-9a-f]{64}$", example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", description = "From GET /v1/me/certificates."),
        ("Idlink-Session" = String, Header, description = "The user's session token.")),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("api_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    request_id: Option<Extension<RequestId>>,
    session: UserSession,
    Path(fingerprint): Path<String>,
) -> Result<StatusCode, Problem> {
    if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(Problem::new(ProblemCode::CertificateNotFound));
    }
    state.certificates().revoke(&session.0, request_id.as_deref(), &fingerprint).await?;
    Ok(StatusCode::NO_CONTENT)
}
