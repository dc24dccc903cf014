//! Guardianship ports (SPEC ID4): links between a minor and a guardian as stored.

use super::StoreError;
use super::audit::AuditEntry;
use super::reviews::CaseRow;
use async_trait::async_trait;
use idlink_domain::{GuardianshipId, UserId};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardianshipStatus {
    /// Waiting for the guardian to accept.
    PendingGuardian,
    /// Waiting for an operator to check the evidence.
    Review,
    Approved,
    Rejected,
}

impl GuardianshipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingGuardian => "pending_guardian",
            Self::Review => "review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::PendingGuardian, Self::Review, Self::Approved, Self::Rejected].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guardianship {
    pub id: GuardianshipId,
    pub minor: UserId,
    pub guardian: UserId,
    /// `parent` or `legal_guardian`.
    pub relationship: String,
    /// A reference to the evidence (household register, court order) held by the host app.
    pub evidence_ref: String,
    pub status: GuardianshipStatus,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait GuardianStore: Send + Sync {
    async fn insert_guardianship(&self, g: &Guardianship, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn guardianship(&self, id: &GuardianshipId) -> Result<Option<Guardianship>, StoreError>;
    /// Links where the user is the minor or the guardian.
    async fn guardianships_of(&self, user: &UserId) -> Result<Vec<Guardianship>, StoreError>;
    /// The guardian accepts: pending_guardian → review, opening the case.
    async fn accept_guardianship(
        &self,
        id: &GuardianshipId,
        guardian: &UserId,
        case: &CaseRow,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
