//! Guardians of minors (SPEC ID4). A verified minor names a guardian (a
//! verified adult, found by phone) with the evidence of the relationship;
//! the guardian accepts; an operator reviews the evidence. Until a link is
//! approved the minor's capabilities stay restricted.

use crate::ports::guardians::{GuardianStore, Guardianship, GuardianshipStatus};

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::reviews::{CaseKind, CaseRow};
use crate::steps::personal::{IdentityReader, Unreadable};
use idlink_crypto::CryptoError;
use idlink_domain::{GuardianshipId, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};

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
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

pub struct Guardians<'a> {
    pub store: &'a dyn GuardianStore,
    /// Reads the minor's and the guardian's verified identities (age).
    pub identities: IdentityReader<'a>,
    pub ids: &'a dyn Ids,
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
        let me = self.identities.read::<GuardianError>(&minor.user_id, &format!("user:{}", minor.user_id), rid).await?;
        if !me.is_some_and(|i| i.minor) {
            return Err(GuardianError::NotAVerifiedMinor);
        }
        let adult = self.identities.read::<GuardianError>(guardian, "system", None).await?;
        if adult.is_none_or(|i| i.minor) || *guardian == minor.user_id {
            return Err(GuardianError::GuardianNotEligible);
        }
        let now = self.clock.now();
        let g = Guardianship {
            id: self.ids.guardianship(),
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
    pub async fn accept(&self, guardian: &SessionRow, rid: Option<&RequestId>, id: &GuardianshipId) -> Result<Guardianship, GuardianError> {
        let g = self.store.guardianship(id).await?.filter(|g| g.guardian == guardian.user_id).ok_or(GuardianError::NotFound)?;
        if g.status != GuardianshipStatus::PendingGuardian {
            return Err(GuardianError::NotPending);
        }
        let now = self.clock.now();
        let case = CaseRow::open(self.ids, CaseKind::Guardian, &g.minor, g.id.as_str(), 1, self.review_sla, now);
        let audit = Self::audit(guardian, rid, "guardianship.accept", &g.minor, now);
        if !self.store.accept_guardianship(id, &guardian.user_id, &case, now, &audit).await? {
            return Err(GuardianError::NotPending);
        }
        Ok(Guardianship { status: GuardianshipStatus::Review, ..g })
    }

    /// Who asks `guardian` to be their guardian, masked: the guardian must
    /// know whom they accept for. The read is the guardian's own, recorded
    /// on the minor's access log (the minor asked for it by naming them).
    pub async fn asking_minor(
        &self,
        guardian: &SessionRow,
        rid: Option<&RequestId>,
        g: &Guardianship,
    ) -> Result<Option<crate::steps::personal::IdentityView>, GuardianError> {
        if g.guardian != guardian.user_id {
            return Err(GuardianError::NotFound);
        }
        self.identities.read::<GuardianError>(&g.minor, &format!("user:{}", guardian.user_id), rid).await
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<Guardianship>, GuardianError> {
        Ok(self.store.guardianships_of(user).await?)
    }

    /// Whether the minor has an approved guardian.
    pub async fn has_approved_guardian(&self, minor: &UserId) -> Result<bool, GuardianError> {
        Ok(self.store.guardianships_of(minor).await?.iter().any(|g| g.minor == *minor && g.status == GuardianshipStatus::Approved))
    }
}
