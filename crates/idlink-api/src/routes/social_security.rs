//! `/v1/social-security/regions`: where the social-security card service
//! is open (SPEC SS1, issue 16), and the region check a binding starts with:
//! the province of a card's issuing area, open or closed with the reason,
//! and the features offered there only.

use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use idlink_domain::social_security::{Region, RegionAnswer};
use serde::Serialize;
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
