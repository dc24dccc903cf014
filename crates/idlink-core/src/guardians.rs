//! Guardians of minors (SPEC ID4). A verified minor names a guardian (a
//! verified adult, found by phone) with the evidence of the relationship;
//! the guardian accepts; an operator reviews the evidence. Until a link is
//! approved the minor's capabilities stay restricted.

use crate::audit::AuditEntry;
use crate::auth::SessionRow;
use crate::clock::Clock;
use crate::identity::{Identities, IdentityError};
use crate::ports::StoreError;
use crate::reviews::{CaseKind, CaseRow};
use async_trait::async_trait;
use idlink_domain::{RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
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
    pub id: String,
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
    async fn guardianship(&self, id: &str) -> Result<Option<Guardianship>, StoreError>;
    /// Links where the user is the minor or the guardian.
    async fn guardianships_of(&self, user: &UserId) -> Result<Vec<Guardianship>, StoreError>;
    /// The guardian accepts: pending_guardian → review, opening the case.
    async fn accept_guardianship(
        &self,
        id: &str,
        guardian: &UserId,
        case: &CaseRow,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum GuardianError {
    #[error("only a verified minor can name a guardian")]
    NotAVerifiedMinor,
    #[error("the guardian must be a verified adult user")]
    GuardianNotEligible,
    #[error("no such guardianship for this user")]
    NotFound,
    #[error("this guardianship does not wait for the guardian")]
    NotPending,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<StoreError> for GuardianError {
    fn from(e: StoreError) -> Self {
        GuardianError::Identity(e.into())
    }
}

pub struct Guardians<'a> {
    pub store: &'a dyn GuardianStore,
    pub identities: Identities<'a>,
    pub clock: &'a dyn Clock,
    /// Review target for guardian evidence (SPEC ID4: 10–15 working days).
    pub review_sla: SignedDuration,
}

impl Guardians<'_> {
    fn audit(session: &SessionRow, rid: Option<&RequestId>, action: &str, subject: &UserId, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, "guardian link", at).subject(subject).request(rid)
    }

    /// The minor names a guardian (found by phone by the caller).
    pub async fn request(
        &self,
        minor: &SessionRow,
        rid: Option<&RequestId>,
        guardian: &UserId,
        relationship: &str,
        evidence_ref: &str,
    ) -> Result<Guardianship, GuardianError> {
        let me = self.identities.identity(minor, rid).await?;
        if !me.is_some_and(|i| i.minor) {
            return Err(GuardianError::NotAVerifiedMinor);
        }
        let adult = self.identities.identity_of(guardian).await?;
        if adult.is_none_or(|i| i.minor) || *guardian == minor.user_id {
            return Err(GuardianError::GuardianNotEligible);
        }
        let now = self.clock.now();
        let g = Guardianship {
            id: format!("grd_{}", hex::encode(self.identities.vault.rng().bytes16())),
            minor: minor.user_id.clone(),
            guardian: guardian.clone(),
            relationship: relationship.to_owned(),
            evidence_ref: evidence_ref.to_owned(),
            status: GuardianshipStatus::PendingGuardian,
            created_at: now,
        };
        self.store.insert_guardianship(&g, &Self::audit(minor, rid, "guardianship.request", &minor.user_id, now)).await?;
        Ok(g)
    }

    /// The guardian accepts; the evidence goes to operator review.
    pub async fn accept(&self, guardian: &SessionRow, rid: Option<&RequestId>, id: &str) -> Result<Guardianship, GuardianError> {
        let g = self.store.guardianship(id).await?.filter(|g| g.guardian == guardian.user_id).ok_or(GuardianError::NotFound)?;
        if g.status != GuardianshipStatus::PendingGuardian {
            return Err(GuardianError::NotPending);
        }
        let now = self.clock.now();
        let case = CaseRow::open(self.identities.vault.rng(), CaseKind::Guardian, &g.minor, &g.id, 1, self.review_sla, now);
        let audit = Self::audit(guardian, rid, "guardianship.accept", &g.minor, now);
        if !self.store.accept_guardianship(id, &guardian.user_id, &case, now, &audit).await? {
            return Err(GuardianError::NotPending);
        }
        Ok(Guardianship { status: GuardianshipStatus::Review, ..g })
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<Guardianship>, GuardianError> {
        Ok(self.store.guardianships_of(user).await?)
    }

    /// Whether the minor has an approved guardian.
    pub async fn has_approved_guardian(&self, minor: &UserId) -> Result<bool, GuardianError> {
        Ok(self.store.guardianships_of(minor).await?.iter().any(|g| g.minor == *minor && g.status == GuardianshipStatus::Approved))
    }
}
