//! Balance queries (SPEC BK3, BK4, BK6). A query passes four tiers: an
//! active binding, the user's "balance query" switch, a fresh step-up token
//! for this card, and, for banks that require it, a valid electronic
//! agreement. Only then is a [`BalanceGrant`] made, and the bank call takes
//! one. The answer is reduced to the bank's disclosure policy, and is
//! returned only after the transaction that spends the token and writes the
//! audit records (the card read and the query) and the history entry has
//! committed; the store may commit several queries in one transaction
//! (ADR 0006). Bank exceptions (lost card, locked password) reported in the
//! bank's answer act like its callbacks (see [`crate::bindings`]). A
//! low-balance alert (BK6) is an outbox event written in the query's commit.

use crate::ports::balance::{Agreement, BalanceBank, BalanceGrant, BalanceStore, BankBalance, QueryCommitment, QueryContext, QueryRecord};

use crate::agreements::{AgreementDocuments, Document};
use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::auth::SessionRow;
use crate::ports::bindings::BankUnavailable;
use crate::ports::bindings::{BankEventKind, BindingRow, BindingStatus, BindingStore};
use crate::ports::clock::Clock;
use crate::ports::idempotency::ClaimRef;
use crate::ports::ids::Ids;
use crate::ports::stepup::{Binding, StepUpStore};
use crate::steps::bank_events::BankEvents;
use crate::steps::cards::open_card;
use crate::steps::notices::{UserMessage, user_sms};
use crate::steps::personal::Unreadable;
use crate::stepup::StepUpRefusal;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::disclosure::{self, Disclosed, Precision};
use idlink_domain::roster::{Bank, Roster};
use idlink_domain::{BindingId, Fen, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FEATURE: &str = "balance_query";
/// Binding a card and querying its balance process the card and the
/// verified ID number it is proven against: both consents (issue 18).
pub const BALANCE_CONSENTS: [idlink_domain::consent::ConsentKind; 2] =
    [idlink_domain::consent::ConsentKind::BankCard, idlink_domain::consent::ConsentKind::IdNumber];

/// The answer of a query kept (sealed) for an idempotent replay, with what
/// authorised it, so a replay can check those tiers are still in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeptAnswer {
    /// The bank's figure (sealed like everything kept), so a replay can show it under a changed policy.
    pub balance: Fen,
    pub binding_id: BindingId,
    pub step_up_token_id: String,
    pub bank: String,
    pub channel: String,
    pub answer: BalanceAnswer,
}

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error("the card is not bound")]
    NotBound,
    #[error("the user has switched balance queries off")]
    FeatureOff,
    #[error("this bank needs a signed electronic agreement for the card")]
    AgreementRequired,
    #[error("bank {bank} requires no electronic agreement")]
    NoAgreementForBank { bank: String },
    #[error("the version signed is not bank {bank}'s current agreement, {current}")]
    AgreementVersionNotCurrent { bank: String, current: String },
    #[error("the hash signed is not the SHA-256 of bank {bank}'s current agreement")]
    AgreementHashMismatch { bank: String },
    #[error("a fresh step-up token for balance.query on this card is needed: {}", .0.as_str())]
    StepUpRequired(StepUpRefusal),
    #[error("this bank does not disclose balances to third parties")]
    Closed,
    #[error("the bank suspended balance queries on this card until its password is reset")]
    Suspended,
    #[error("the bank reports this card lost; the binding has ended")]
    CardLost,
    #[error(transparent)]
    Bank(#[from] BankUnavailable),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The user has not consented to processing this kind of personal information.
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
}

impl BalanceError {
    /// The reason a refused query shows in the user's history; none for failures that are not refusals.
    pub fn refusal_reason(&self) -> Option<&'static str> {
        Some(match self {
            BalanceError::NotBound => "card_binding_not_found",
            BalanceError::FeatureOff => "balance_query_disabled",
            BalanceError::AgreementRequired => "agreement_required",
            BalanceError::StepUpRequired(why) => why.as_str(),
            BalanceError::Closed => "balance_not_disclosed",
            BalanceError::Suspended => "balance_query_suspended",
            BalanceError::CardLost => "card_reported_lost",
            BalanceError::Bank(_) => "bank_unavailable",
            BalanceError::Consent(_) => "consent_required",
            BalanceError::Unreadable(_)
            | BalanceError::Crypto(_)
            | BalanceError::Store(_)
            | BalanceError::NoAgreementForBank { .. }
            | BalanceError::AgreementVersionNotCurrent { .. }
            | BalanceError::AgreementHashMismatch { .. } => return None,
        })
    }
}

/// Where tier 4 stands for a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementStatus {
    /// The bank requires no agreement.
    NotRequired,
    /// An agreement for the bank's current document is in force.
    InForce,
    /// None is in force: sign the current document.
    NotSigned,
    /// The one in force was signed for an older version (or text) of the
    /// document; it no longer counts: sign the current document.
    Outdated,
}

/// Every authorisation tier of one card, as the user sees and revokes them (BK3).
#[derive(Debug, Clone, Serialize)]
pub struct Tiers {
    /// The card's bank (its roster code).
    pub bank: String,
    /// Tier 1: `active` (revoke by unbinding the card).
    pub binding: String,
    /// Tier 2: the user's switch (revoke by switching it off).
    pub balance_query_enabled: bool,
    /// Tier 3: a fresh step-up token is needed for every query; nothing stands to revoke.
    pub step_up_per_query: bool,
    /// Tier 4: whether this bank requires an agreement, and the one in force
    /// for its current document.
    pub agreement_required: bool,
    pub agreement_status: AgreementStatus,
    pub agreement: Option<Agreement>,
    /// An unexpired agreement signed for an older document; it no longer counts.
    pub outdated_agreement: Option<Agreement>,
    /// The document to sign (or signed): the bank's current one.
    #[serde(skip)]
    pub document: Option<std::sync::Arc<Document>>,
    /// Set while the bank has suspended queries on the card (`password_locked`).
    pub suspended_reason: Option<String>,
    pub low_balance_alert: Option<Fen>,
}

/// What the user sees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BalanceAnswer {
    pub precision: Precision,
    pub disclosed: Disclosed,
    pub as_of: Timestamp,
    pub next_refresh_at: Timestamp,
    /// The disclosed figure is below the user's threshold for this card (they were also sent an SMS).
    pub low_balance_alert: bool,
}

/// Whether what may be shown is below the threshold. Decided on the
/// disclosed figure, never the exact balance, so the alert reveals nothing
/// the policy hides: a range alerts only when all of it is below.
pub fn below_threshold(disclosed: &Disclosed, threshold: Fen) -> bool {
    match disclosed {
        Disclosed::Amount { fen } => fen.0 < threshold.0,
        Disclosed::Range { high, .. } => high.0 <= threshold.0,
        Disclosed::Closed => false,
    }
}

pub struct Balances<'a> {
    /// Balance queries need the bank-card consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
    pub store: &'a dyn BalanceStore,
    pub step_ups: &'a dyn StepUpStore,
    pub bindings: &'a dyn BindingStore,
    /// Applies what a bank's answer reports about the card (lost, locked).
    pub events: BankEvents<'a>,
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    pub bank: &'a dyn BalanceBank,
    pub roster: &'a Roster,
    /// The banks' current agreements (tier 4).
    pub documents: &'a AgreementDocuments,
    pub clock: &'a dyn Clock,
    pub agreement_validity: SignedDuration,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Balances<'_> {
    fn audit(session: &SessionRow, rid: Option<&RequestId>, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, "balance query", at).subject(&session.user_id).request(rid)
    }

    async fn active_binding(&self, session: &SessionRow, binding_id: &BindingId) -> Result<BindingRow, BalanceError> {
        match self.bindings.binding(binding_id, &session.user_id).await? {
            Some(b) if b.status == BindingStatus::Active => Ok(b),
            _ => Err(BalanceError::NotBound),
        }
    }

    pub async fn set_switch(&self, session: &SessionRow, rid: Option<&RequestId>, enabled: bool) -> Result<(), BalanceError> {
        let now = self.clock.now();
        let action = if enabled { "feature.balance_query.on" } else { "feature.balance_query.off" };
        self.store.set_feature(&session.user_id, FEATURE, enabled, now, &Self::audit(session, rid, action, now)).await?;
        Ok(())
    }

    /// Signs the bank's current agreement for a card, valid for the configured
    /// period. The version and hash must be those of the current document
    /// (`GET /v1/banks/{code}/agreement`): a signature is for a text the user read.
    pub async fn sign_agreement(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        version: &str,
        document_hash: &str,
    ) -> Result<Agreement, BalanceError> {
        let binding = self.active_binding(session, binding_id).await?;
        let bank = binding.bank;
        let doc = self.documents.current(&bank).ok_or_else(|| BalanceError::NoAgreementForBank { bank: bank.clone() })?;
        if version != doc.version {
            return Err(BalanceError::AgreementVersionNotCurrent { bank, current: doc.version.clone() });
        }
        if !doc.sha256.eq_ignore_ascii_case(document_hash) {
            return Err(BalanceError::AgreementHashMismatch { bank });
        }
        let now = self.clock.now();
        // Signing while one is in force renews it: the new one replaces it.
        let renews = self.store.valid_agreement(&session.user_id, binding_id, now).await?.map(|a| a.id);
        let action = if renews.is_some() { "agreement.renew" } else { "agreement.sign" };
        let a = Agreement {
            id: self.ids.agreement(),
            user_id: session.user_id.clone(),
            binding_id: binding_id.clone(),
            document_version: doc.version.clone(),
            document_hash: doc.sha256.clone(),
            signed_at: now,
            valid_until: now.checked_add(self.agreement_validity).unwrap_or(now),
            renews,
        };
        self.store.insert_agreement(&a, &Self::audit(session, rid, action, now)).await?;
        Ok(a)
    }

    /// Tiers 1, 2 and 4 and the bank's policy, in the order a user fixes them.
    fn check_tiers(&self, ctx: &QueryContext) -> Result<(BindingRow, Bank), BalanceError> {
        let binding = match &ctx.binding {
            Some(b) if b.status == BindingStatus::Active => b.clone(),
            _ => return Err(BalanceError::NotBound),
        };
        if binding.suspended_reason.is_some() {
            return Err(BalanceError::Suspended);
        }
        if !ctx.feature_enabled {
            return Err(BalanceError::FeatureOff);
        }
        let bank = self.roster.bank(&binding.bank).cloned().ok_or(BalanceError::Closed)?;
        if bank.precision == Precision::Closed {
            return Err(BalanceError::Closed);
        }
        if bank.e_agreement && !ctx.agreement.as_ref().is_some_and(|a| self.documents.is_current(&bank.code, &a.version, &a.hash)) {
            return Err(BalanceError::AgreementRequired);
        }
        Ok((binding, bank))
    }

    async fn step_up_refusal(&self, step_up: Option<&str>, binding_id: &BindingId, user: &UserId) -> Result<StepUpRefusal, BalanceError> {
        let binding = Binding { user, operation: crate::stepup::BALANCE_QUERY, resource: binding_id.as_str() };
        Ok(crate::stepup::refusal(self.step_ups, self.clock, step_up, &binding).await?)
    }

    /// Queries the balance through all four tiers. With `claim` (the
    /// request's `Idempotency-Key`), the answer is kept sealed in the same
    /// transaction that spends the token, for [`Self::replay`]. A refused
    /// query is listed in the user's history with its reason, and audited.
    pub async fn query(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        step_up: Option<&str>,
        claim: Option<&ClaimRef>,
    ) -> Result<BalanceAnswer, BalanceError> {
        let answer = self.run_query(session, rid, binding_id, step_up, claim).await;
        self.noting_refusal(session, rid, binding_id, answer).await
    }

    /// Passes `answer` on; a refusal is first listed in the history and audited.
    async fn noting_refusal(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        answer: Result<BalanceAnswer, BalanceError>,
    ) -> Result<BalanceAnswer, BalanceError> {
        if let Err(e) = &answer {
            self.record_refusal(session, rid, binding_id, e).await?;
        }
        answer
    }

    async fn record_refusal(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        e: &BalanceError,
    ) -> Result<(), BalanceError> {
        let Some(reason) = e.refusal_reason() else { return Ok(()) };
        let user = &session.user_id;
        // Only the user's own cards have a history (an unknown id is not recorded).
        let Some(binding) = self.bindings.binding(binding_id, user).await? else { return Ok(()) };
        let bank = self.roster.bank(&binding.bank);
        let now = self.clock.now();
        let record = QueryRecord {
            id: self.ids.query(now),
            binding_id: binding_id.clone(),
            bank: binding.bank.clone(),
            channel: "none".to_owned(),
            precision: bank.map_or("closed", |b| b.precision.name()).to_owned(),
            actor: format!("user:{user}"),
            at: now,
            outcome: "refused".to_owned(),
            reason: Some(reason.to_owned()),
        };
        let audit = Self::audit(session, rid, "balance.query", now).outcome(Outcome::Denied);
        self.store.record_query(user, &record, &audit).await?;
        Ok(())
    }

    async fn run_query(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        step_up: Option<&str>,
        claim: Option<&ClaimRef>,
    ) -> Result<BalanceAnswer, BalanceError> {
        let user = &session.user_id;
        self.consent.check_all::<BalanceError>(user, &BALANCE_CONSENTS).await?;
        let now = self.clock.now();
        // A malformed token reads as an unusable one; the tiers before it are still reported first.
        let (token_id, secret) = step_up.and_then(|t| t.split_once('.')).unwrap_or(("", ""));
        let secret_hash = hash(secret);
        let ctx = self.store.query_context(user, binding_id, (token_id, &secret_hash), now).await?;
        let (binding, bank) = self.check_tiers(&ctx)?;
        if token_id.is_empty() || !ctx.token_usable {
            return Err(BalanceError::StepUpRequired(self.step_up_refusal(step_up, binding_id, user).await?));
        }
        let tier3 = Binding { user, operation: crate::stepup::BALANCE_QUERY, resource: binding_id.as_str() };
        // The card read is audited in the commit below, together with the query.
        let vault = self.vault;
        let wrapped = ctx.user_key.ok_or(Unreadable::Shredded)?;
        let card = open_card::<BalanceError>(&vault.unwrap(&wrapped)?, &binding)?;
        let card_read = Self::audit(session, rid, "card.read", now);
        let grant = BalanceGrant::new(card, bank);
        let answer = match self.bank.balance(&grant).await {
            Ok(a) => a,
            Err(e) => {
                // The card may have reached the bank before the failure.
                self.store.append_audit(&card_read).await?;
                return Err(e.into());
            }
        };
        let (balance, channel) = match answer {
            BankBalance::Balance { fen, channel } => (fen, channel),
            // The bank knows before its callback arrives (or it was lost): act on its answer.
            refusal => {
                let (kind, error) = if refusal == BankBalance::CardLost {
                    (BankEventKind::CardLost, BalanceError::CardLost)
                } else {
                    (BankEventKind::PasswordLocked, BalanceError::Suspended)
                };
                self.store.append_audit(&card_read).await?;
                let event_id = self.ids.bank_answer_event();
                self.events.apply(&grant.bank().code, &event_id, kind, grant.card().reveal()).await?;
                return Err(error);
            }
        };
        let at = self.clock.now();
        let record = QueryRecord {
            id: self.ids.query(at),
            binding_id: binding_id.clone(),
            bank: grant.bank().code.clone(),
            channel: channel.to_owned(),
            precision: grant.bank().precision.name().to_owned(),
            actor: format!("user:{user}"),
            at,
            outcome: "disclosed".to_owned(),
            reason: None,
        };
        let (as_of, next_refresh_at) = disclosure::snapshot(at, grant.bank().freshness);
        let disclosed = disclosure::disclose(balance, grant.bank().precision);
        let low_balance_alert = binding.low_balance_alert.is_some_and(|t| below_threshold(&disclosed, t));
        let answer = BalanceAnswer { precision: grant.bank().precision, disclosed, as_of, next_refresh_at, low_balance_alert };
        let sealed = match claim {
            Some(c) => {
                let kept = KeptAnswer {
                    balance,
                    binding_id: binding_id.clone(),
                    step_up_token_id: token_id.to_owned(),
                    bank: record.bank.clone(),
                    channel: record.channel.clone(),
                    answer: answer.clone(),
                };
                let clear = serde_json::to_vec(&kept).map_err(|e| StoreError::Corrupt(format!("kept balance answer: {e}")))?;
                Some(crate::idempotency::seal(vault, &c.owner, &c.key, &clear)?)
            }
            None => None,
        };
        // The alert is sent only if the query commits, and then surely (SPEC BK6, P3).
        let notice = if low_balance_alert {
            let message = UserMessage {
                template: "low_balance_alert".to_owned(),
                params: vec![("bank".to_owned(), grant.bank().code.clone()), ("last4".to_owned(), binding.last4.clone())],
                actor: format!("user:{user}"),
                purpose: "low-balance alert".to_owned(),
                request_id: rid.cloned(),
            };
            Some(user_sms::<BalanceError>(vault, self.ids, at, user, &message)?)
        } else {
            None
        };
        // No balance leaves unless the token is spent and the query audited, together.
        let audit = Self::audit(session, rid, "balance.query", at);
        let commitment = QueryCommitment {
            token_id,
            secret_hash: &secret_hash,
            binding: &tier3,
            record: &record,
            card_read: &card_read,
            audit: &audit,
            kept: claim.zip(sealed.as_deref()),
            notice: notice.as_ref(),
        };
        if !self.store.commit_query(commitment).await? {
            return Err(BalanceError::StepUpRequired(self.step_up_refusal(step_up, binding_id, user).await?));
        }
        Ok(answer)
    }

    /// Serves an idempotent replay of a query whose answer was kept: only
    /// while every tier that authorised it is still in force (the binding,
    /// the switch, the agreement, and the very step-up token it spent, still
    /// unexpired), and recorded like a disclosure (history and audit log).
    pub async fn replay(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        step_up: Option<&str>,
        kept: &[u8],
    ) -> Result<BalanceAnswer, BalanceError> {
        let answer = self.run_replay(session, rid, binding_id, step_up, kept).await;
        self.noting_refusal(session, rid, binding_id, answer).await
    }

    async fn run_replay(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
        step_up: Option<&str>,
        kept: &[u8],
    ) -> Result<BalanceAnswer, BalanceError> {
        // A replay discloses again: the consent must still stand.
        self.consent.check_all::<BalanceError>(&session.user_id, &BALANCE_CONSENTS).await?;
        let kept: KeptAnswer = serde_json::from_slice(kept).map_err(|e| StoreError::Corrupt(format!("kept balance answer: {e}")))?;
        let user = &session.user_id;
        let now = self.clock.now();
        let (token_id, secret) = step_up.and_then(|t| t.split_once('.')).unwrap_or(("", ""));
        let ctx = self.store.query_context(user, binding_id, (token_id, &hash(secret)), now).await?;
        let (_, bank) = self.check_tiers(&ctx)?;
        if kept.binding_id != *binding_id || token_id.is_empty() || kept.step_up_token_id != token_id {
            let why = if token_id.is_empty() { StepUpRefusal::Missing } else { StepUpRefusal::OtherUse };
            return Err(BalanceError::StepUpRequired(why));
        }
        if !ctx.token_spent {
            // The token that authorised the query has expired since (or was never this one).
            return Err(BalanceError::StepUpRequired(match self.step_up_refusal(step_up, binding_id, user).await? {
                StepUpRefusal::Spent => StepUpRefusal::Expired,
                other => other,
            }));
        }
        // Shown again only as precisely as both the first answer and the bank's policy now allow.
        let precision = disclosure::coarser(kept.answer.precision, bank.precision);
        let answer = BalanceAnswer { precision, disclosed: disclosure::disclose(kept.balance, precision), ..kept.answer };
        let record = QueryRecord {
            id: self.ids.query(now),
            binding_id: binding_id.clone(),
            bank: kept.bank,
            channel: kept.channel,
            precision: precision.name().to_owned(),
            actor: format!("user:{user}"),
            at: now,
            outcome: "replayed".to_owned(),
            reason: None,
        };
        self.store.record_query(user, &record, &Self::audit(session, rid, "balance.query.replay", now)).await?;
        Ok(answer)
    }

    /// The card's four tiers.
    pub async fn tiers(&self, session: &SessionRow, binding_id: &BindingId) -> Result<Tiers, BalanceError> {
        let b = self.active_binding(session, binding_id).await?;
        let user = &session.user_id;
        let now = self.clock.now();
        let required = self.roster.bank(&b.bank).is_some_and(|bank| bank.e_agreement);
        let document = self.documents.current(&b.bank).cloned();
        let signed = self.store.valid_agreement(user, binding_id, now).await?;
        // The same rule as the query's: only a signature of the current document counts.
        let (agreement_status, agreement, outdated_agreement) = match signed {
            _ if !required => (AgreementStatus::NotRequired, None, None),
            None => (AgreementStatus::NotSigned, None, None),
            Some(a) if self.documents.is_current(&b.bank, &a.document_version, &a.document_hash) => {
                (AgreementStatus::InForce, Some(a), None)
            }
            Some(a) => (AgreementStatus::Outdated, None, Some(a)),
        };
        Ok(Tiers {
            bank: b.bank,
            binding: b.status.as_str().to_owned(),
            balance_query_enabled: self.store.feature_enabled(user, FEATURE).await?,
            step_up_per_query: true,
            agreement_required: required,
            agreement_status,
            agreement,
            outdated_agreement,
            document: if required { document } else { None },
            suspended_reason: b.suspended_reason,
            low_balance_alert: b.low_balance_alert,
        })
    }

    /// Revokes the card's agreement (tier 4); effective on the next query.
    pub async fn revoke_agreement(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        binding_id: &BindingId,
    ) -> Result<u64, BalanceError> {
        self.active_binding(session, binding_id).await?;
        let now = self.clock.now();
        Ok(self.store.revoke_agreements(&session.user_id, binding_id, now, &Self::audit(session, rid, "agreement.revoke", now)).await?)
    }

    pub async fn history(&self, user: &UserId) -> Result<Vec<QueryRecord>, BalanceError> {
        Ok(self.store.query_history(user, 200).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_looks_only_at_what_may_be_shown() {
        let amount = |f| Disclosed::Amount { fen: Fen(f) };
        assert!(below_threshold(&amount(9_990), Fen(10_000)));
        assert!(!below_threshold(&amount(10_000), Fen(10_000)));
        // A range alerts only when all of it lies below the threshold.
        let range = Disclosed::Range { low: Fen(50_000), high: Fen(100_000) };
        assert!(below_threshold(&range, Fen(100_000)));
        assert!(!below_threshold(&range, Fen(99_999)));
        assert!(!below_threshold(&Disclosed::Closed, Fen(i64::MAX)));
    }
}
