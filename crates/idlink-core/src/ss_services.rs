//! What a bound social-security card does besides paying (SPEC SS3, issue
//! 16): service requests followed to their end, and unemployment-benefit
//! arrival alerts.
//!
//! A service request (`idlink_domain::ss_service`) is recorded, then sent
//! to the province's bureau keyed by its id, so a lost answer is filed again
//! under the same key and never twice (the next read files it); its
//! status is read from the bureau whenever the user looks and moves forward
//! only. A retirement-qualification certification is the holder's own
//! face check. When a request ends (completed or rejected) the user gets an
//! SMS, through the outbox in the transaction that records it.
//!
//! Benefit alerts: a periodic job ([`SsServices::check_benefits`], once
//! across nodes) reads each card bound with `unemployment_alerts` and
//! announces every payment made since the binding, once: the notice row and
//! its SMS are one transaction keyed by the payment.

use crate::ports::Rng;
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::face::FaceResult;
use crate::ports::ids::Ids;
use crate::ports::social_security::{ServiceAnswer, SocialSecurityBureau};
use crate::ports::ss_bindings::{ServiceRow, SsBindingRow, SsBindingStore, SsServiceStore};
use crate::ports::users::UserStore;
use crate::social_security::{Actor, SsError, sealed_card_of};
use crate::steps::notices::{UserMessage, user_sms};
use crate::vault::Vault;
use idlink_domain::social_security::{Coverage, RegionAnswer};
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use serde::Serialize;

const PURPOSE: &str = "social-security services";
/// The SMS telling a user their service request ended (`kind`, `status`).
pub const SERVICE_TEMPLATE: &str = "ss_service_request_ended";
/// The SMS telling a user an unemployment benefit arrived (`month`, `amount_yuan`).
pub const BENEFIT_TEMPLATE: &str = "unemployment_benefit_arrived";

/// A service request as its user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub binding_id: String,
    pub kind: ServiceKind,
    pub to_region: Option<String>,
    pub status: ServiceStatus,
    pub reason: Option<String>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl From<ServiceRow> for ServiceView {
    fn from(r: ServiceRow) -> Self {
        Self {
            id: r.id,
            binding_id: r.binding_id,
            kind: r.kind,
            to_region: r.to_region,
            status: r.status,
            reason: r.reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a benefit check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BenefitPass {
    pub cards: u32,
    pub announced: u32,
    pub failed: u32,
}

pub struct SsServices<'a> {
    pub bindings: &'a dyn SsBindingStore,
    pub services: &'a dyn SsServiceStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub bureau: &'a dyn SocialSecurityBureau,
    /// The face check of a retirement certification, behind the face consent.
    pub face: crate::consents::ConsentedFace<'a>,
    /// Requests, their views and benefit alerts need the social-security consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
    pub coverage: &'a Coverage,
}

fn province(row: &SsBindingRow) -> &str {
    row.region.get(..2).unwrap_or_default()
}

impl SsServices<'_> {
    /// The user's bound binding.
    async fn bound(&self, actor: &Actor<'_>, binding_id: &str) -> Result<SsBindingRow, SsError> {
        let row = self.bindings.ss_binding(binding_id).await?.filter(|r| &r.user_id == actor.user()).ok_or(SsError::NotFound)?;
        crate::social_security::still_bound(&row)?;
        self.consented(actor).await?;
        Ok(row)
    }

    /// The holder acts on their own card here: their social-security and
    /// ID-number consents are needed whoever made the binding.
    async fn consented(&self, actor: &Actor<'_>) -> Result<(), SsError> {
        self.consent.check_all::<SsError>(actor.user(), &crate::social_security::OWN_BINDING_CONSENTS).await
    }

    /// Files a request with the card's bureau. A filing or transfer names
    /// the other region (an open province's area); a retirement
    /// certification is the holder's face check (`liveness_video`).
    pub async fn submit(
        &self,
        actor: &Actor<'_>,
        binding_id: &str,
        kind: ServiceKind,
        to_region: Option<&str>,
        liveness_video: Option<&str>,
    ) -> Result<ServiceView, SsError> {
        let row = self.bound(actor, binding_id).await?;
        let to_region = match (kind.needs_region(), to_region) {
            (true, Some(area)) => match self.coverage.region_for(area) {
                RegionAnswer::Open(r) => Some(r.code.clone()),
                RegionAnswer::Closed(r) => {
                    return Err(SsError::RegionClosed { name: r.name.clone(), reason: r.closed_reason.clone().unwrap_or_default() });
                }
                RegionAnswer::NotCovered => return Err(SsError::RegionUnknown),
            },
            (true, None) => return Err(SsError::RegionUnknown),
            (false, _) => None,
        };
        if kind == ServiceKind::RetirementCertification {
            let result = self.face.verify::<SsError>(actor.user(), liveness_video.unwrap_or_default()).await?;
            if result != FaceResult::Pass {
                return Err(SsError::FaceRefused(result));
            }
        }
        let now = self.clock.now();
        // Recorded before the bureau is asked, keyed by its id: a lost answer is asked again with the same key.
        let stored = ServiceRow {
            id: format!("ssr_{}", hex::encode(self.rng.bytes16())),
            binding_id: row.id.clone(),
            user_id: row.user_id.clone(),
            kind,
            to_region,
            bureau_id: String::new(),
            status: ServiceStatus::Submitted,
            reason: None,
            created_at: now,
            updated_at: now,
        };
        self.services.insert_service_request(&stored, &actor.audit("ss_service.submitted", now)).await?;
        Ok(self.filed(&row, stored).await?.into())
    }

    /// Files a recorded request with the bureau (idempotent by its id) and records the bureau's id and answer.
    async fn filed(&self, binding: &SsBindingRow, row: ServiceRow) -> Result<ServiceRow, SsError> {
        let now = self.clock.now();
        let audit = |action: &str| AuditEntry::new("system", action, PURPOSE, now).subject(&row.user_id);
        let card = sealed_card_of(self.users, self.vault, binding, &audit("ss_card.read")).await?;
        let answer = self.bureau.submit_service(province(binding), &row.id, &card.card_ref, row.kind, row.to_region.as_deref()).await?;
        let (bureau_id, status, reason) = match answer {
            ServiceAnswer::Known { request_id, status, reason } => (request_id, status, reason),
            ServiceAnswer::UnknownCard => return Err(SsError::NoCard),
            ServiceAnswer::Pending { status } => return Err(SsError::Undecided(status)),
        };
        let moved = ServiceRow { bureau_id, status, reason, updated_at: now, ..row.clone() };
        if self.services.move_service_request(&moved, row.status, None, &audit("ss_service.filed")).await? {
            Ok(moved)
        } else {
            Ok(self.services.service_request(&row.id).await?.unwrap_or(row))
        }
    }

    /// One request, its status read from the bureau now if it has not ended.
    pub async fn view(&self, actor: &Actor<'_>, id: &str) -> Result<ServiceView, SsError> {
        let row = self.services.service_request(id).await?.filter(|r| &r.user_id == actor.user()).ok_or(SsError::NotFound)?;
        self.consented(actor).await?;
        Ok(self.refreshed(row).await?.into())
    }

    /// A binding's requests, newest first, each refreshed.
    pub async fn list(&self, actor: &Actor<'_>, binding_id: &str) -> Result<Vec<ServiceView>, SsError> {
        let row = self.bindings.ss_binding(binding_id).await?.filter(|r| &r.user_id == actor.user()).ok_or(SsError::NotFound)?;
        self.consented(actor).await?;
        let mut out = Vec::new();
        for s in self.services.service_requests_of(&row.id).await? {
            out.push(self.refreshed(s).await?.into());
        }
        Ok(out)
    }

    /// The request with the bureau's current status (forward only); an
    /// ending is told to the user. A bureau that cannot be reached leaves
    /// the stored status, which is then what the user sees.
    async fn refreshed(&self, row: ServiceRow) -> Result<ServiceRow, SsError> {
        if row.status.is_final() {
            return Ok(row);
        }
        let Some(binding) = self.bindings.ss_binding(&row.binding_id).await? else { return Ok(row) };
        if row.bureau_id.is_empty() {
            // Its filing's answer was lost: file it again (the bureau knows it by its id).
            return match self.filed(&binding, row.clone()).await {
                Ok(filed) => Ok(filed),
                Err(SsError::Store(e)) => Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "a service request could not be filed again");
                    Ok(row)
                }
            };
        }
        let (status, reason) = match self.bureau.service_status(province(&binding), &row.bureau_id).await {
            Ok(ServiceAnswer::Known { status, reason, .. }) => (status, reason),
            Ok(_) => return Ok(row),
            Err(e) => {
                tracing::warn!(error = %e, "a service request's status could not be read");
                return Ok(row);
            }
        };
        let Some(next) = row.status.follow(status) else { return Ok(row) };
        let now = self.clock.now();
        let moved = ServiceRow { status: next, reason, updated_at: now, ..row.clone() };
        let notice = if next.is_final() {
            let message = UserMessage {
                template: SERVICE_TEMPLATE.into(),
                params: vec![("kind".into(), row.kind.as_str().into()), ("status".into(), next.as_str().into())],
                actor: format!("ssb:{}", province(&binding)),
                purpose: PURPOSE.into(),
                request_id: None,
            };
            Some(user_sms::<SsError>(self.vault, self.ids, now, &row.user_id, &message)?)
        } else {
            None
        };
        let audit = AuditEntry::new(format!("ssb:{}", province(&binding)), "ss_service.status", PURPOSE, now).subject(&row.user_id);
        if self.services.move_service_request(&moved, row.status, notice.as_ref(), &audit).await? {
            Ok(moved)
        } else {
            // Another reader moved it first: what is stored now is the answer.
            Ok(self.services.service_request(&row.id).await?.unwrap_or(row))
        }
    }

    /// Reads the benefit payments of every card bound with
    /// `unemployment_alerts`, `limit` at a time, and announces the new ones.
    /// A card whose bureau fails is counted and left for the next pass.
    pub async fn check_benefits(&self, limit: u32) -> Result<BenefitPass, StoreError> {
        let mut pass = BenefitPass::default();
        let mut after = String::new();
        loop {
            let page = self.services.bound_with_feature("unemployment_alerts", &after, limit.min(200)).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            for row in &page {
                pass.cards += 1;
                match self.announce(row).await {
                    Ok(n) => pass.announced += n,
                    Err(SsError::Store(e)) => return Err(e),
                    Err(e) => {
                        pass.failed += 1;
                        tracing::warn!(error = %e, "a card's benefits could not be read");
                    }
                }
            }
            if page.len() < limit.min(200) as usize {
                break;
            }
        }
        Ok(pass)
    }

    async fn announce(&self, row: &SsBindingRow) -> Result<u32, SsError> {
        // A holder without the consents is not polled; one bound on their
        // behalf consented in person at the binding's identity step, until
        // they withdraw.
        let kinds = &crate::social_security::OWN_BINDING_CONSENTS;
        let allowed = if row.agent_user_id.is_none() {
            self.consent.check_all::<SsError>(&row.user_id, kinds).await
        } else {
            self.consent.not_withdrawn::<SsError>(&row.user_id, kinds).await
        };
        match allowed {
            Ok(()) => {}
            Err(SsError::Consent(_)) => return Ok(0),
            Err(e) => return Err(e),
        }
        let now = self.clock.now();
        let system = |action: &str| AuditEntry::new("system", action, PURPOSE, now).subject(&row.user_id);
        let card = sealed_card_of(self.users, self.vault, row, &system("ss_card.read")).await?;
        let since = row.bound_at.unwrap_or(row.created_at);
        let mut announced = 0;
        for b in self.bureau.benefits(province(row), &card.card_ref).await? {
            // What was paid before the binding is not news.
            if b.paid_at < since {
                continue;
            }
            let message = UserMessage {
                template: BENEFIT_TEMPLATE.into(),
                params: vec![("month".into(), b.month.clone()), ("amount_yuan".into(), b.amount.to_string())],
                actor: format!("ssb:{}", province(row)),
                purpose: PURPOSE.into(),
                request_id: None,
            };
            let notice = user_sms::<SsError>(self.vault, self.ids, now, &row.user_id, &message)?;
            if self
                .services
                .record_benefit_notice(&row.id, &b.payment_id, b.amount.0, now, &notice, &system("ss_benefit.announced"))
                .await?
            {
                announced += 1;
            }
        }
        Ok(announced)
    }
}
