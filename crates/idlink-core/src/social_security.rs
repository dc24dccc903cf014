//! Binding a social-security card (SPEC SS2, SS4, SS5; issue 16): the six steps
//! of `idlink_domain::ss_binding`, each a call that checks where the
//! binding stands, does its work with the institution, and writes the whole
//! binding under its version with an audit record — so a step repeated
//! after it was done answers where the binding is and changes nothing, a
//! user can leave at any step and resume on any device, and a restart
//! loses nothing (the state is the row).
//!
//! - entry: the card's issuing area is a province with the service open;
//! - identity: a face check against the verified identity (name, ID number
//!   and phone, the three elements); after a capture that did not work (not
//!   a photo, not another person's face), an SMS code to the user's phone;
//! - card: the card's number or QR payload, then the provincial bureau's
//!   dynamic code; the bureau discloses the card and its financial account;
//! - bank: the financial account's bank sends its code to the reserved
//!   phone the user names (a forgotten payment password is the bank's to
//!   reset: the step says so, idlink never asks for it);
//! - agreement: the current mobile-payment service agreement, signed by its
//!   version and SHA-256;
//! - features: at least one of [`FEATURES`]; the binding is then bound.
//!
//! Each step has a deadline (`step_minutes`): past it, codes sent for the
//! step are void and the step starts again. The whole binding expires
//! after `binding_hours`. A theft-binding risk — the card bound on another
//! account, a card of another province than the one the binding entered
//! (a region jump), the bureau's own flag, another person's face — freezes
//! the binding and opens a `card_risk` review case with a 5-minute
//! first-response SLA; approving it clears that risk (ADR 0028), rejecting
//! it ends the binding. A passport or permit holder's binding opens frozen,
//! for the same review.
//!
//! A verified adult may bind a relative's card (SS5): the binding is the
//! holder's, the holder is told by SMS and consents with their own SMS code
//! or face, the relative takes the steps and sees the binding's status and
//! nothing else of the card once bound, and the holder ends their part.

use crate::ports::Rng;
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::{SendError, SessionRow};
use crate::ports::bindings::{BankChannel, BankCode, BankUnavailable};
use crate::ports::clock::Clock;
use crate::ports::face::{FaceResult, FaceUnavailable};
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::outbox::NewEvent;
use crate::ports::reviews::{CaseKind, CaseRow};
use crate::ports::social_security::{BureauUnavailable, CardLookup, CardNamed, ConfirmAnswer, LookupAnswer, SocialSecurityBureau};
use crate::ports::ss_bindings::{SsBindingRow, SsBindingStore};
use crate::ports::users::UserStore;
use crate::steps::codes::{ChallengeIssued, CodeLimit, CodeRefusal, Codes, Purpose};
use crate::steps::notices::{UserMessage, user_sms};
use crate::steps::personal::{PHONE_INDEX, Unreadable, corrupt, data_key, open_identity, read_phone};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::shanghai_today;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::social_security::{Coverage, RegionAnswer};
use idlink_domain::ss_binding::{Event, Progress, Refusal, Status, Step};
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const PURPOSE: &str = "social-security card binding";
/// One's own binding processes the card and the ID number it is checked
/// against: both consents (issue 18).
pub const OWN_BINDING_CONSENTS: [idlink_domain::consent::ConsentKind; 2] =
    [idlink_domain::consent::ConsentKind::SocialSecurity, idlink_domain::consent::ConsentKind::IdNumber];
const CARD_CONTEXT: &str = "ss_bindings.card";
const CARD_INDEX: &str = "ss_card";

/// The features a bound card can have.
pub const FEATURES: [&str; 4] = ["medical_payment", "pension_query", "medical_account", "unemployment_alerts"];

/// The SMS telling a holder a relative started binding their card (`relative`: the relative's phone, masked).
pub const STARTED_BY_RELATIVE_TEMPLATE: &str = "ss_binding_started_by_relative";
/// The SMS telling a holder a relative bound their card.
pub const BOUND_BY_RELATIVE_TEMPLATE: &str = "ss_binding_bound_by_relative";

/// The SMS telling a holder a relative asked for their consent code (`relative`: the relative's phone, masked).
pub const CONSENT_REQUESTED_TEMPLATE: &str = "ss_consent_code_requested";

/// The role of a relative who binds for the holder (SS5), as recorded.
pub const AGENT_ROLE: &str = "relative";

/// An audit record of `actor` acting on `row`: its subject is the card's holder.
fn audit_on(actor: &Actor<'_>, row: &SsBindingRow, action: &str, at: Timestamp) -> AuditEntry {
    AuditEntry::new(format!("user:{}", actor.user()), action, PURPOSE, at).subject(&row.user_id).request(actor.request_id)
}

/// The mobile-payment service agreement's version and text (zh-CN, the binding text).
pub const AGREEMENT_VERSION: &str = "SSC-MP-2026-12";
const AGREEMENT_TEXT: &str = include_str!("../data/ss_mobile_payment_agreement.txt");

/// `[social_security]` of the configuration.
#[derive(Debug, Clone)]
pub struct SsPolicy {
    /// How long each step may take.
    pub step_ttl: SignedDuration,
    /// How long a binding may take in all.
    pub binding_ttl: SignedDuration,
    /// First-response target of a theft-binding risk case.
    pub risk_sla: SignedDuration,
    /// How long a medical-payment code lives.
    pub medical_code_ttl: SignedDuration,
    /// How long after spending a code its terminal may finish the payment (then reconciliation decides it).
    pub finish_window: SignedDuration,
    /// Bindings one account may start for relatives in a day.
    pub on_behalf_per_day: u64,
}

impl Default for SsPolicy {
    fn default() -> Self {
        Self {
            step_ttl: SignedDuration::from_mins(15),
            binding_ttl: SignedDuration::from_hours(72),
            risk_sla: SignedDuration::from_mins(5),
            medical_code_ttl: crate::medical_code::DEFAULT_TTL,
            finish_window: SignedDuration::from_mins(10),
            on_behalf_per_day: 3,
        }
    }
}

/// The agreement a user reads and signs.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub version: &'static str,
    pub sha256: String,
    pub text: &'static str,
}

/// A bound card's features are used only while it is bound: an ended
/// binding says it ended, one under way that it is not bound yet.
pub(crate) fn still_bound(row: &SsBindingRow) -> Result<(), SsError> {
    match row.status {
        Status::Bound => Ok(()),
        s if s.is_final() => Err(SsError::Step(Refusal::Ended(s))),
        _ => Err(SsError::FeatureNotBound("bound card")),
    }
}

pub fn agreement() -> Agreement {
    Agreement { version: AGREEMENT_VERSION, sha256: hex::encode(Sha256::digest(AGREEMENT_TEXT.as_bytes())), text: AGREEMENT_TEXT }
}

#[derive(Debug, thiserror::Error)]
pub enum SsError {
    #[error("verify your real-name identity (resident ID card) first")]
    NotVerified,
    #[error("no such binding")]
    NotFound,
    #[error("the social-security card service is not open in {name} ({reason})")]
    RegionClosed { name: String, reason: String },
    #[error("not the issuing area of a mainland province's card")]
    RegionUnknown,
    /// A binding is under way already (its id): resume it or cancel it first.
    #[error("a binding is under way already: {0}")]
    UnderWay(String),
    #[error(transparent)]
    Step(#[from] Refusal),
    #[error("the binding expired before it was bound; start again")]
    Expired,
    #[error("no code is waiting for this step (none was sent, or the step's time ran out): send one again")]
    NoCodeSent,
    #[error("the face check failed: {0:?}")]
    FaceRefused(FaceResult),
    #[error("the SMS code is offered after a failed face check")]
    SmsNotOffered,
    #[error("no card of yours has this number at this bureau")]
    NoCard,
    #[error("the QR code is not one printed on a social-security card")]
    UnreadableQr,
    #[error("the code is wrong")]
    CodeWrong,
    #[error("the bank does not have this phone for the card's financial account")]
    ReservedPhoneMismatch,
    #[error("the agreement changed: read version {0} and sign it")]
    AgreementOutdated(&'static str),
    #[error("choose at least one feature of: {}", FEATURES.join(", "))]
    Features,
    /// The binding is not bound, or was bound without the feature this needs.
    #[error("the card is not bound with the `{0}` feature")]
    FeatureNotBound(&'static str),
    /// Frozen on a theft-binding risk (the reason); an operator reviews it.
    #[error("the binding is frozen for review: {0}")]
    Frozen(String),
    #[error("the card is bound on another account")]
    CardBoundElsewhere,
    /// Binding for a relative takes an adult.
    #[error("binding for a relative is for adults")]
    AgentNotAdult,
    /// No verified user has the phone named for the relative (or it is the actor's own).
    #[error("no verified user has this phone")]
    HolderUnknown,
    #[error("no relative acts on this binding")]
    NoAgent,
    /// This account started as many bindings for relatives as a day allows (retry after the seconds).
    #[error("too many bindings started for relatives today")]
    OnBehalfLimited(u64),
    /// Only the card's holder may do this (unbind a bound card).
    #[error("only the card's holder may do this")]
    HolderOnly,
    /// The bureau holds the card (the reason); only its counter can release it.
    #[error("the bureau holds this card ({0})")]
    CardHeld(String),
    #[error("another device moved this binding at the same time; reload it")]
    Conflict,
    /// The bureau answered something its protocol does not document.
    #[error("the bureau's answer decided nothing ({0}); retry")]
    Undecided(String),
    #[error(transparent)]
    Bureau(#[from] BureauUnavailable),
    #[error(transparent)]
    Face(#[from] FaceUnavailable),
    #[error(transparent)]
    Bank(#[from] BankUnavailable),
    #[error(transparent)]
    Code(#[from] CodeRefusal),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user has not consented to processing this kind of personal information.
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
}

/// Who acts: a user's session.
pub struct Actor<'a> {
    pub session: &'a SessionRow,
    pub request_id: Option<&'a RequestId>,
}

impl Actor<'_> {
    pub(crate) fn user(&self) -> &UserId {
        &self.session.user_id
    }

    pub(crate) fn audit(&self, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", self.session.user_id), action, PURPOSE, at)
            .subject(&self.session.user_id)
            .request(self.request_id)
    }
}

/// The card as sealed in the binding.
#[derive(Serialize, Deserialize)]
pub(crate) struct SealedCard {
    pub(crate) card_ref: String,
    card_number: String,
    region: String,
    bank_code: String,
    account: String,
}

/// The card, masked.
#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    pub card_number: String,
    pub region: String,
    pub bank_code: String,
    pub account: String,
}

/// A binding as its user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct BindingView {
    pub id: String,
    pub region: String,
    /// The step to do now (the last one once bound), and its number of 6.
    pub step: Step,
    pub step_number: usize,
    pub status: Status,
    pub step_deadline: Timestamp,
    pub expires_at: Timestamp,
    pub identity_method: Option<String>,
    /// The face check failed: an SMS code may stand in for it.
    pub sms_fallback: bool,
    pub card_code_sent: bool,
    pub bank_code_sent: bool,
    pub card: Option<CardView>,
    pub agreement_version: Option<String>,
    pub features: Vec<String>,
    pub risk_reason: Option<String>,
    /// The bureau's channel that answered last (`primary` or `alternate`).
    pub channel: Option<String>,
    pub bound_at: Option<Timestamp>,
    /// `holder`, or `relative` for a relative acting on the holder's binding.
    pub acting_as: &'static str,
    /// The relative who binds for the holder, if one does.
    pub agent: Option<AgentView>,
}

/// A relative's part in a binding.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub role: String,
    /// The relative's phone, masked: shown to the holder only (whose card it is).
    pub phone: Option<String>,
    /// When the holder ended it.
    pub ended_at: Option<Timestamp>,
}

/// The card sealed in a binding, opened with the user's key.
fn open_card(key: &idlink_crypto::DataKey, cipher: &[u8]) -> Result<SealedCard, SsError> {
    Ok(serde_json::from_slice(&key.open(CARD_CONTEXT, cipher)?).map_err(corrupt)?)
}

/// The card of a binding past its card step; `audit` records the read of the holder's key.
pub(crate) async fn sealed_card_of(
    users: &dyn UserStore,
    vault: &Vault,
    row: &SsBindingRow,
    audit: &AuditEntry,
) -> Result<SealedCard, SsError> {
    let cipher = row.card_cipher.as_ref().ok_or(SsError::Step(Refusal::NotYet(Step::Card)))?;
    let key = data_key::<SsError>(users, vault, &row.user_id, audit).await?;
    open_card(&key, cipher)
}

/// Where the user resets a forgotten payment password: at the card's bank.
#[derive(Debug, Clone, Serialize)]
pub struct Handoff {
    pub bank_code: String,
    /// The bank's page, when one is configured.
    pub url: Option<String>,
}

/// The card's accounts with where and when they were read.
#[derive(Debug, Clone, Serialize)]
pub struct AccountsView {
    /// The bureau and channel that answered (`ssb:44/primary`).
    pub source: String,
    /// When the bureau's figures are from.
    pub as_of: Timestamp,
    pub pension: Option<crate::ports::social_security::Account>,
    pub medical: Option<crate::ports::social_security::Account>,
}

fn mask_card_number(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    let keep_end = chars.len().saturating_sub(3);
    chars.iter().enumerate().map(|(i, c)| if i == 0 || i >= keep_end { *c } else { '*' }).collect()
}

/// What a binding's next write changes, and how it is audited.
struct Change {
    row: SsBindingRow,
    case: Option<CaseRow>,
    /// A message to the holder, written with the change.
    notice: Option<NewEvent>,
    action: &'static str,
}

impl Change {
    fn new(row: SsBindingRow, action: &'static str) -> Self {
        Self { row, case: None, notice: None, action }
    }

    fn case(mut self, case: CaseRow) -> Self {
        self.case = Some(case);
        self
    }

    fn notice(mut self, notice: Option<NewEvent>) -> Self {
        self.notice = notice;
        self
    }
}

/// The binding use cases.
pub struct SocialSecurity<'a> {
    /// Binding the card needs the social-security consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
    pub bindings: &'a dyn SsBindingStore,
    pub identities: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub bureau: &'a dyn SocialSecurityBureau,
    /// The holder's face check, behind the face consent (in person on a relative's binding).
    pub face: crate::consents::ConsentedFace<'a>,
    pub bank: &'a dyn BankChannel,
    pub codes: Codes<'a>,
    pub coverage: &'a Coverage,
    pub policy: &'a SsPolicy,
}

impl SocialSecurity<'_> {
    fn later(&self, now: Timestamp, by: SignedDuration) -> Timestamp {
        now.checked_add(by).unwrap_or(now)
    }

    fn province(row: &SsBindingRow) -> &str {
        row.region.get(..2).unwrap_or_default()
    }

    /// Entry: the region check of the card's issuing area, then a new
    /// binding at the identity step. A user with a binding under way gets `UnderWay`.
    pub async fn start(&self, actor: &Actor<'_>, area_code: &str) -> Result<BindingView, SsError> {
        self.consent.check_all::<SsError>(actor.user(), &OWN_BINDING_CONSENTS).await?;
        self.enter(actor, area_code, actor.user(), None).await
    }

    /// Entry on behalf of a relative (SS5): a verified adult binds the card
    /// of the person whose phone they name (verified too). The holder
    /// consents at the identity step, by their own SMS code or face check;
    /// the relative then takes the steps, sees the binding, and nothing
    /// else of the card; the holder can end that at any time.
    pub async fn start_on_behalf(&self, actor: &Actor<'_>, area_code: &str, holder_phone: &PhoneNumber) -> Result<BindingView, SsError> {
        let bucket = format!("ss:on_behalf:{}", actor.user());
        match self.codes.limit::<SsError>(bucket, SignedDuration::from_hours(24), self.policy.on_behalf_per_day, CodeLimit::OnBehalf).await
        {
            Err(SsError::Code(CodeRefusal::RateLimited { retry_after_secs, .. })) => {
                return Err(SsError::OnBehalfLimited(retry_after_secs));
            }
            other => other?,
        }
        let now = self.clock.now();
        let own = self.identities.identity(actor.user()).await?.ok_or(SsError::NotVerified)?;
        let opened = open_identity::<SsError>(
            self.users,
            self.vault,
            actor.user(),
            &actor.audit("identity.read", now),
            &own.name_cipher,
            &own.id_cipher,
        )
        .await?;
        let adult = match own.document_type {
            DocumentType::ResidentId => {
                !idlink_domain::idnumber::is_minor(opened.resident_id(shanghai_today(now))?.age_on(shanghai_today(now)))
            }
            // A passport or permit holder's age was checked by the reviewers; their binding of their own goes to review anyway.
            _ => true,
        };
        if !adult {
            return Err(SsError::AgentNotAdult);
        }
        // The region first: an area that is not open says nothing about whose phone this is.
        self.region_of(area_code)?;
        let index = self.vault.blind_index(PHONE_INDEX, holder_phone.reveal());
        let holder = self.users.find_user_by_phone_index(&index).await?.filter(|h| h != actor.user()).ok_or(SsError::HolderUnknown)?;
        self.enter(actor, area_code, &holder, Some(actor.user())).await
    }

    /// A new binding of `holder`'s card at the identity step, entered by `actor` (the holder, or `agent`).
    async fn enter(&self, actor: &Actor<'_>, area_code: &str, holder: &UserId, agent: Option<&UserId>) -> Result<BindingView, SsError> {
        let region = self.region_of(area_code)?;
        let identity =
            self.identities.identity(holder).await?.ok_or(if agent.is_some() { SsError::HolderUnknown } else { SsError::NotVerified })?;
        let now = self.clock.now();
        let p = Progress::entered();
        let mut row = SsBindingRow {
            id: format!("ssb_{}", hex::encode(self.rng.bytes16())),
            user_id: holder.clone(),
            region,
            step: p.step,
            status: p.status,
            step_deadline: self.later(now, self.policy.step_ttl),
            expires_at: self.later(now, self.policy.binding_ttl),
            identity_method: None,
            face_failures: 0,
            card_code_ref: None,
            card_cipher: None,
            card_index: None,
            bank_code_ref: None,
            agreement_version: None,
            agreement_sha256: None,
            features: None,
            risk_reason: None,
            risk_cleared: None,
            agent_user_id: agent.cloned(),
            agent_role: agent.map(|_| AGENT_ROLE.to_owned()),
            agent_ended_at: None,
            channel: None,
            version: 1,
            created_at: now,
            updated_at: now,
            bound_at: None,
        };
        let action = if agent.is_some() { "ss_binding.entry_on_behalf" } else { "ss_binding.entry" };
        // The holder hears of it at once, from idlink, with who asks: their code is then no surprise.
        let notice = match agent {
            Some(_) => Some(self.holder_notice(actor, &row, STARTED_BY_RELATIVE_TEMPLATE).await?),
            None => None,
        };
        // A passport or permit holder's binding goes to review before any step
        // (SS5): it is written frozen, with its case, in the same transaction.
        let case = if identity.document_type != DocumentType::ResidentId { Some(self.frozen(&mut row, "foreign_document")?) } else { None };
        let mut audits = vec![audit_on(actor, &row, action, now)];
        if case.is_some() {
            audits.push(audit_on(actor, &row, "ss_binding.frozen", now));
        }
        if !self.bindings.insert_ss_binding(&row, case.as_ref(), notice.as_ref(), &audits).await? {
            // A relative is not told which binding the holder has.
            return Err(if agent.is_some() { SsError::UnderWay(String::new()) } else { self.under_way(holder).await });
        }
        self.view_of(actor, &row).await
    }

    /// An SMS to the holder naming the relative who acts (their phone, masked).
    async fn holder_notice(&self, actor: &Actor<'_>, row: &SsBindingRow, template: &str) -> Result<NewEvent, SsError> {
        let now = self.clock.now();
        let read = audit_on(actor, row, "phone.read", now);
        let (_, relative) = read_phone::<SsError>(self.users, self.vault, &read, actor.user()).await?;
        let message = UserMessage {
            template: template.to_owned(),
            params: vec![("relative".into(), relative.masked())],
            actor: format!("user:{}", actor.user()),
            purpose: PURPOSE.into(),
            request_id: actor.request_id.cloned(),
        };
        user_sms::<SsError>(self.vault, self.ids, now, &row.user_id, &message)
    }

    /// The province of an open region, from a card's issuing area.
    fn region_of(&self, area_code: &str) -> Result<String, SsError> {
        match self.coverage.region_for(area_code) {
            RegionAnswer::Open(r) => Ok(r.code.clone()),
            RegionAnswer::Closed(r) => {
                Err(SsError::RegionClosed { name: r.name.clone(), reason: r.closed_reason.clone().unwrap_or_default() })
            }
            RegionAnswer::NotCovered => Err(SsError::RegionUnknown),
        }
    }

    /// The binding under way (or bound) that keeps the holder from starting another.
    async fn under_way(&self, holder: &UserId) -> SsError {
        let open = match self.bindings.ss_bindings_of(holder).await {
            Ok(rows) => rows.into_iter().find(|b| matches!(b.status, Status::Open | Status::Frozen | Status::Bound)),
            Err(e) => return e.into(),
        };
        SsError::UnderWay(open.map(|b| b.id).unwrap_or_default())
    }

    pub async fn view(&self, actor: &Actor<'_>, id: &str) -> Result<BindingView, SsError> {
        let row = self.reachable(actor, id).await?;
        self.view_of(actor, &row).await
    }

    /// The user's own bindings, then those they act on for a relative.
    pub async fn list(&self, actor: &Actor<'_>) -> Result<Vec<BindingView>, SsError> {
        let mut out = Vec::new();
        let own = self.bindings.ss_bindings_of(actor.user()).await?;
        for row in own.into_iter().chain(self.bindings.ss_bindings_as_agent(actor.user()).await?) {
            out.push(self.view_of(actor, &row).await?);
        }
        Ok(out)
    }

    /// The holder ends their relative's part in the binding (SS5): the relative sees it no more.
    pub async fn end_agent(&self, actor: &Actor<'_>, id: &str) -> Result<BindingView, SsError> {
        let mut row = self.own(actor.user(), id).await?;
        if row.agent_user_id.is_none() {
            return Err(SsError::NoAgent);
        }
        if row.agent_ended_at.is_none() {
            row.agent_ended_at = Some(self.clock.now());
            row = self.save(actor, Change::new(row, "ss_binding.agent_ended")).await?;
        }
        self.view_of(actor, &row).await
    }

    async fn view_of(&self, actor: &Actor<'_>, row: &SsBindingRow) -> Result<BindingView, SsError> {
        // A relative sees the card while they bind it (the bank step names its bank), not once it is bound.
        let shown = &row.user_id == actor.user() || row.status == Status::Open;
        let card = match row.card_cipher.as_ref().filter(|_| shown) {
            Some(c) => {
                let key =
                    data_key::<SsError>(self.users, self.vault, &row.user_id, &audit_on(actor, row, "ss_card.read", self.clock.now()))
                        .await?;
                let card = open_card(&key, c)?;
                Some(CardView {
                    card_number: mask_card_number(&card.card_number),
                    region: card.region,
                    bank_code: card.bank_code,
                    account: idlink_domain::pii::mask_card(&card.account),
                })
            }
            None => None,
        };
        // The holder sees who takes part for them: the relative's phone, masked (its reading audited on the relative's record).
        let agent_phone = match &row.agent_user_id {
            Some(agent) if &row.user_id == actor.user() => {
                let read = actor.audit("phone.read", self.clock.now()).subject(agent);
                Some(read_phone::<SsError>(self.users, self.vault, &read, agent).await?.1.masked())
            }
            _ => None,
        };
        Ok(BindingView {
            id: row.id.clone(),
            region: row.region.clone(),
            step: row.step,
            step_number: row.step.number(),
            status: row.status,
            step_deadline: row.step_deadline,
            expires_at: row.expires_at,
            identity_method: row.identity_method.clone(),
            sms_fallback: row.step == Step::Identity && row.face_failures > 0,
            card_code_sent: row.card_code_ref.is_some(),
            bank_code_sent: row.bank_code_ref.is_some(),
            card,
            agreement_version: row.agreement_version.clone(),
            features: row.features.as_deref().map(|f| f.split(',').map(str::to_owned).collect()).unwrap_or_default(),
            risk_reason: row.risk_reason.clone(),
            channel: row.channel.clone(),
            bound_at: row.bound_at,
            acting_as: if &row.user_id == actor.user() { "holder" } else { AGENT_ROLE },
            agent: row.agent_role.clone().map(|role| AgentView { role, phone: agent_phone, ended_at: row.agent_ended_at }),
        })
    }

    /// The holder's own binding.
    async fn own(&self, user: &UserId, id: &str) -> Result<SsBindingRow, SsError> {
        self.bindings.ss_binding(id).await?.filter(|r| &r.user_id == user).ok_or(SsError::NotFound)
    }

    /// One's own binding is processed only with one's social-security and
    /// ID-number consents (issue 18). A binding made on a relative's behalf
    /// rests on the holder's in-person consent at its identity step (their
    /// own SMS code or face check), until the holder withdraws either.
    async fn holder_consents(&self, row: &SsBindingRow) -> Result<(), SsError> {
        if row.agent_user_id.is_some() {
            return self.consent.not_withdrawn::<SsError>(&row.user_id, &OWN_BINDING_CONSENTS).await;
        }
        self.consent.check_all::<SsError>(&row.user_id, &OWN_BINDING_CONSENTS).await
    }

    /// The bank step sends the card's financial account to its bank: one's
    /// own binding needs the bank-card consent as well.
    async fn card_consent(&self, row: &SsBindingRow) -> Result<(), SsError> {
        let card = [idlink_domain::consent::ConsentKind::BankCard];
        if row.agent_user_id.is_some() {
            return self.consent.not_withdrawn::<SsError>(&row.user_id, &card).await;
        }
        self.consent.check_all::<SsError>(&row.user_id, &card).await
    }

    /// A binding the actor may see and take steps on: their own, or one they act on for a relative still.
    async fn reachable(&self, actor: &Actor<'_>, id: &str) -> Result<SsBindingRow, SsError> {
        let row = self.bindings.ss_binding(id).await?.ok_or(SsError::NotFound)?;
        let agent = row.agent_user_id.as_ref() == Some(actor.user()) && row.agent_ended_at.is_none();
        if &row.user_id == actor.user() || agent { Ok(row) } else { Err(SsError::NotFound) }
    }

    /// The binding, ready for `step`: expired when its time is up, with its
    /// step's codes voided and a new deadline when the step's time is up.
    /// `Ok(None)` when the step was done already (nothing to do again).
    async fn ready(&self, actor: &Actor<'_>, id: &str, step: Step) -> Result<Option<SsBindingRow>, SsError> {
        let mut row = self.reachable(actor, id).await?;
        self.holder_consents(&row).await?;
        let now = self.clock.now();
        // A frozen binding waits for its review: it does not expire under the reviewer.
        if row.status == Status::Open && now >= row.expires_at {
            let p = row.progress().apply(Event::Expire)?;
            row.status = p.status;
            self.save(actor, Change::new(row, "ss_binding.expired")).await?;
            return Err(SsError::Expired);
        }
        match row.progress().apply(Event::Done(step)) {
            Err(Refusal::AlreadyDone) => return Ok(None),
            Err(Refusal::Frozen) => return Err(SsError::Frozen(row.risk_reason.unwrap_or_default())),
            Err(Refusal::Ended(Status::Expired)) => return Err(SsError::Expired),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        if now >= row.step_deadline {
            row.card_code_ref = None;
            row.bank_code_ref = None;
            row.step_deadline = self.later(now, self.policy.step_ttl);
        }
        Ok(Some(row))
    }

    /// Writes the change under the binding's version.
    async fn save(&self, actor: &Actor<'_>, mut c: Change) -> Result<SsBindingRow, SsError> {
        let now = self.clock.now();
        c.row.version += 1;
        c.row.updated_at = now;
        let audit = audit_on(actor, &c.row, c.action, now);
        match self.bindings.save_ss_binding(&c.row, c.case.as_ref(), c.notice.as_ref(), &audit).await {
            Ok(true) => Ok(c.row),
            Ok(false) => Err(SsError::Conflict),
            Err(StoreError::Unique(_)) => Err(SsError::CardBoundElsewhere),
            Err(e) => Err(e.into()),
        }
    }

    /// Completes `step` on `row` and writes it.
    async fn done(&self, actor: &Actor<'_>, mut row: SsBindingRow, step: Step, action: &'static str) -> Result<BindingView, SsError> {
        let now = self.clock.now();
        let p = row.progress().apply(Event::Done(step))?;
        row.step = p.step;
        row.status = p.status;
        row.step_deadline = self.later(now, self.policy.step_ttl);
        if p.status == Status::Bound {
            row.bound_at = Some(now);
        }
        let notice = match (p.status, &row.agent_user_id) {
            (Status::Bound, Some(_)) => Some(self.holder_notice(actor, &row, BOUND_BY_RELATIVE_TEMPLATE).await?),
            _ => None,
        };
        let row = self.save(actor, Change::new(row, action).notice(notice)).await?;
        self.view_of(actor, &row).await
    }

    /// Freezes the binding on a theft-binding risk and opens its review case.
    async fn freeze(&self, actor: &Actor<'_>, mut row: SsBindingRow, reason: &str) -> SsError {
        let case = match self.frozen(&mut row, reason) {
            Ok(case) => case,
            Err(e) => return e,
        };
        match self.save(actor, Change::new(row, "ss_binding.frozen").case(case)).await {
            Ok(_) => SsError::Frozen(reason.to_owned()),
            Err(e) => e,
        }
    }

    /// `row` frozen for `reason`, and the review case that goes with it.
    fn frozen(&self, row: &mut SsBindingRow, reason: &str) -> Result<CaseRow, SsError> {
        row.status = row.progress().apply(Event::Freeze)?.status;
        row.risk_reason = Some(reason.to_owned());
        Ok(CaseRow::open(self.ids, CaseKind::CardRisk, &row.user_id, &row.id, 1, self.policy.risk_sla, self.clock.now()))
    }

    /// Whether an operator cleared this risk on the binding (it does not freeze it again).
    fn cleared(row: &SsBindingRow, reason: &str) -> bool {
        row.risk_cleared.as_deref() == Some(reason)
    }

    /// A step asked again after it was done answers where the binding is.
    async fn current(&self, actor: &Actor<'_>, id: &str) -> Result<BindingView, SsError> {
        self.view(actor, id).await
    }

    /// Identity by face against the verified identity.
    pub async fn identity_face(&self, actor: &Actor<'_>, id: &str, liveness_video: &str) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Identity).await? else { return self.current(actor, id).await };
        let result = if row.agent_user_id.is_some() {
            self.face.verify_in_person::<SsError>(&row.user_id, liveness_video).await?
        } else {
            self.face.verify::<SsError>(&row.user_id, liveness_video).await?
        };
        // A live face that is not the holder's is a theft signal, not a failed capture.
        if result == FaceResult::FaceMismatch && !Self::cleared(&row, "face_mismatch") {
            return Err(self.freeze(actor, row, "face_mismatch").await);
        }
        if matches!(result, FaceResult::LivenessFailed | FaceResult::FaceMismatch) {
            // A photo, a screen, or another person's face (after a review): no SMS code stands in for that.
            return Err(SsError::FaceRefused(result));
        }
        if result != FaceResult::Pass {
            // A capture that did not work (light, undecided): the SMS code may stand in.
            row.face_failures = row.face_failures.saturating_add(1);
            self.save(actor, Change::new(row, "ss_binding.face_failed")).await?;
            return Err(SsError::FaceRefused(result));
        }
        row.identity_method = Some("face".into());
        self.done(actor, row, Step::Identity, "ss_binding.identity").await
    }

    /// After a failed face check: an SMS code to the user's phone.
    pub async fn identity_sms(
        &self,
        actor: &Actor<'_>,
        origin: &crate::steps::codes::Origin,
        id: &str,
    ) -> Result<ChallengeIssued, SsError> {
        let Some(row) = self.ready(actor, id, Step::Identity).await? else { return Err(Refusal::AlreadyDone.into()) };
        if !Self::sms_offered(&row) {
            return Err(SsError::SmsNotOffered);
        }
        // To the holder's own phone, for the device that asks (the holder's, or the relative's with the holder beside them).
        let read = audit_on(actor, &row, "phone.read", self.clock.now());
        let (_, phone) = read_phone::<SsError>(self.users, self.vault, &read, &row.user_id).await?;
        let by_relative = row.agent_user_id.as_ref() == Some(actor.user());
        let issued = self.codes.request::<SsError>(origin, &phone, actor.session.device_id.as_str(), Purpose::SocialSecurity).await?;
        // A relative asked for the holder's consent code: the holder hears from idlink who asks and why,
        // so the code is never read out to a stranger unknowingly. After the code's own limits (a refused
        // request sends no notice either); a binding moved meanwhile on another device is read again once.
        if by_relative {
            let mut row = row;
            for attempt in 0..2 {
                let notice = self.holder_notice(actor, &row, CONSENT_REQUESTED_TEMPLATE).await?;
                match self.save(actor, Change::new(row, "ss_binding.consent_code_sent").notice(Some(notice))).await {
                    Ok(_) => break,
                    Err(SsError::Conflict) if attempt == 0 => row = self.reachable(actor, id).await?,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(issued)
    }

    /// The SMS code stands in for the face check after a capture that did
    /// not work, and is the holder's consent when a relative binds for them.
    fn sms_offered(row: &SsBindingRow) -> bool {
        row.face_failures > 0 || row.agent_user_id.is_some()
    }

    /// The SMS code standing in for the face check.
    pub async fn identity_sms_confirm(&self, actor: &Actor<'_>, id: &str, challenge_id: &str, code: &str) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Identity).await? else { return self.current(actor, id).await };
        if !Self::sms_offered(&row) {
            return Err(SsError::SmsNotOffered);
        }
        let phone_index = self.users.phone_index(&row.user_id).await?.ok_or(Unreadable::UserNotFound)?;
        let device = self.codes.device_hash(actor.session.device_id.as_str());
        if let Err(refused) = self.codes.redeem(challenge_id, code, &phone_index, &device, Purpose::SocialSecurity).await {
            let failed = audit_on(actor, &row, "sms_code.verify", self.clock.now()).outcome(crate::ports::audit::Outcome::Failed);
            self.codes.store.append_audit(&failed).await?;
            return Err(refused.into_error());
        }
        row.identity_method = Some("sms".into());
        self.done(actor, row, Step::Identity, "ss_binding.identity").await
    }

    /// The card by its number or QR payload: the bureau sends its dynamic code.
    pub async fn card(&self, actor: &Actor<'_>, id: &str, card: CardNamed<'_>) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Card).await? else { return self.current(actor, id).await };
        // An operator approved a region jump: the card's own province is the binding's now.
        if let Some(region) = row.risk_cleared.as_deref().and_then(|c| c.strip_prefix("region_jump:")) {
            row.region = region.to_owned();
        }
        let now = self.clock.now();
        let identity = self.identities.identity(&row.user_id).await?.ok_or(SsError::NotVerified)?;
        let opened = open_identity::<SsError>(
            self.users,
            self.vault,
            &row.user_id,
            &audit_on(actor, &row, "identity.read", now),
            &identity.name_cipher,
            &identity.id_cipher,
        )
        .await?;
        // A resident ID is checked again as one; a passport's or permit's number goes as stored.
        let document_type = identity.document_type;
        let document_number = match document_type {
            DocumentType::ResidentId => opened.resident_id(shanghai_today(now))?.reveal().to_owned(),
            _ => opened.id_text.clone(),
        };
        let (_, phone) = read_phone::<SsError>(self.users, self.vault, &audit_on(actor, &row, "phone.read", now), &row.user_id).await?;
        // One reference per code sent (the step's version), so asking again after a timeout is a new code.
        let request_ref = format!("{}-{}", row.id, row.version);
        let lookup = CardLookup {
            request_ref: &request_ref,
            name: &opened.name,
            document_number: &document_number,
            document_type: document_type.as_str(),
            phone: &phone,
            card,
        };
        let (answer, via) = self.bureau.lookup(Self::province(&row), &lookup).await?;
        row.channel = Some(via.to_owned());
        match answer {
            LookupAnswer::CodeSent { reference } => {
                row.card_code_ref = Some(reference);
                let row = self.save(actor, Change::new(row, "ss_binding.card_code_sent")).await?;
                self.view_of(actor, &row).await
            }
            LookupAnswer::NoCard => Err(SsError::NoCard),
            LookupAnswer::UnreadableQr => Err(SsError::UnreadableQr),
            LookupAnswer::OtherRegion { region } => Err(self.freeze(actor, row, &format!("region_jump:{region}")).await),
            // Cleared by an operator, but the bureau still holds the card: only its counter can release it.
            LookupAnswer::Risk { reason } if Self::cleared(&row, &format!("bureau:{reason}")) => Err(SsError::CardHeld(reason)),
            LookupAnswer::Risk { reason } => Err(self.freeze(actor, row, &format!("bureau:{reason}")).await),
            LookupAnswer::Pending { status } => Err(SsError::Undecided(status)),
        }
    }

    /// The bureau's dynamic code: the card is disclosed and sealed.
    pub async fn card_confirm(&self, actor: &Actor<'_>, id: &str, code: &str) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Card).await? else { return self.current(actor, id).await };
        let reference = row.card_code_ref.clone().ok_or(SsError::NoCodeSent)?;
        let (answer, via) = self.bureau.confirm(Self::province(&row), &reference, code).await?;
        row.channel = Some(via.to_owned());
        let card = match answer {
            ConfirmAnswer::Confirmed(card) => card,
            ConfirmAnswer::WrongCode => return Err(SsError::CodeWrong),
            ConfirmAnswer::Expired => {
                row.card_code_ref = None;
                self.save(actor, Change::new(row, "ss_binding.card_code_expired")).await?;
                return Err(SsError::NoCodeSent);
            }
            ConfirmAnswer::Pending { status } => return Err(SsError::Undecided(status)),
        };
        let index = self.vault.blind_index(CARD_INDEX, &card.card_number);
        row.card_code_ref = None;
        if card.region.get(..2) != Some(Self::province(&row)) {
            return Err(self.freeze(actor, row, &format!("region_jump:{}0000", card.region.get(..2).unwrap_or_default())).await);
        }
        if self.bindings.ss_bindings_with_card(&index, &row.user_id).await? > 0 {
            row.card_index = Some(index);
            return Err(self.freeze(actor, row, "card_bound_elsewhere").await);
        }
        let key =
            data_key::<SsError>(self.users, self.vault, &row.user_id, &audit_on(actor, &row, "ss_card.seal", self.clock.now())).await?;
        let sealed = SealedCard {
            card_ref: card.card_ref.clone(),
            card_number: card.card_number.clone(),
            region: card.region.clone(),
            bank_code: card.bank_code.clone(),
            account: card.account.reveal().to_owned(),
        };
        let clear = serde_json::to_vec(&sealed).map_err(corrupt)?;
        row.card_cipher = Some(self.vault.seal(&key, CARD_CONTEXT, &clear)?);
        row.card_index = Some(index);
        self.done(actor, row, Step::Card, "ss_binding.card").await
    }

    async fn sealed_card(&self, actor: &Actor<'_>, row: &SsBindingRow) -> Result<SealedCard, SsError> {
        sealed_card_of(self.users, self.vault, row, &audit_on(actor, row, "ss_card.read", self.clock.now())).await
    }

    fn account(card: &SealedCard) -> Result<CardNumber, SsError> {
        Ok(CardNumber::parse(&card.account, BinTable::bundled()).map_err(corrupt)?)
    }

    /// Bank verification, first half: the financial account's bank sends its
    /// code to the reserved phone the user names.
    pub async fn bank(&self, actor: &Actor<'_>, id: &str, reserved_phone: &PhoneNumber) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Bank).await? else { return self.current(actor, id).await };
        self.card_consent(&row).await?;
        let card = self.sealed_card(actor, &row).await?;
        let account = Self::account(&card)?;
        let client_ref = format!("{}-{}", row.id, row.version);
        match self.bank.send_code(&account, reserved_phone, &client_ref).await? {
            BankCode::Sent { reference } => row.bank_code_ref = Some(reference),
            BankCode::PhoneMismatch => return Err(SsError::ReservedPhoneMismatch),
        }
        let row = self.save(actor, Change::new(row, "ss_binding.bank_code_sent")).await?;
        self.view_of(actor, &row).await
    }

    /// Bank verification, second half: the bank's code.
    pub async fn bank_confirm(&self, actor: &Actor<'_>, id: &str, code: &str) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Bank).await? else { return self.current(actor, id).await };
        self.card_consent(&row).await?;
        let reference = row.bank_code_ref.clone().ok_or(SsError::NoCodeSent)?;
        let card = self.sealed_card(actor, &row).await?;
        if !self.bank.verify_code(&reference, &Self::account(&card)?, code).await? {
            return Err(SsError::CodeWrong);
        }
        row.bank_code_ref = None;
        self.done(actor, row, Step::Bank, "ss_binding.bank").await
    }

    /// Signs the current agreement, named by its version and SHA-256.
    pub async fn sign(&self, actor: &Actor<'_>, id: &str, version: &str, sha256: &str) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Agreement).await? else { return self.current(actor, id).await };
        let current = agreement();
        if version != current.version || !sha256.eq_ignore_ascii_case(&current.sha256) {
            return Err(SsError::AgreementOutdated(current.version));
        }
        row.agreement_version = Some(current.version.to_owned());
        row.agreement_sha256 = Some(current.sha256);
        self.done(actor, row, Step::Agreement, "ss_binding.agreement_signed").await
    }

    /// Chooses the features: the binding is bound.
    pub async fn features(&self, actor: &Actor<'_>, id: &str, features: &[String]) -> Result<BindingView, SsError> {
        let Some(mut row) = self.ready(actor, id, Step::Features).await? else { return self.current(actor, id).await };
        let mut chosen: Vec<&str> = FEATURES.into_iter().filter(|f| features.iter().any(|x| x == f)).collect();
        chosen.dedup();
        if chosen.is_empty() || features.iter().any(|f| !FEATURES.contains(&f.as_str())) {
            return Err(SsError::Features);
        }
        row.features = Some(chosen.join(","));
        match self.done(actor, row.clone(), Step::Features, "ss_binding.bound").await {
            // Another account bound the same card meanwhile: a theft-binding risk, not a plain refusal.
            Err(SsError::CardBoundElsewhere) => Err(self.freeze(actor, row, "card_bound_elsewhere").await),
            done => done,
        }
    }

    /// The card's pension and medical accounts, as the bureau has them now:
    /// each only with its feature (`pension_query`, `medical_account`). The
    /// holder's only: a relative who bound the card does not see them.
    pub async fn accounts(&self, actor: &Actor<'_>, id: &str) -> Result<AccountsView, SsError> {
        let row = self.own(actor.user(), id).await?;
        self.holder_consents(&row).await?;
        let features: Vec<&str> = row.features.as_deref().unwrap_or_default().split(',').collect();
        let (pension, medical) = (features.contains(&"pension_query"), features.contains(&"medical_account"));
        still_bound(&row)?;
        if !(pension || medical) {
            return Err(SsError::FeatureNotBound("pension_query"));
        }
        let card = self.sealed_card(actor, &row).await?;
        let province = Self::province(&row);
        let (a, via) = self.bureau.accounts(province, &card.card_ref).await?;
        Ok(AccountsView {
            source: format!("ssb:{province}/{via}"),
            as_of: a.as_of,
            pension: pension.then_some(a.pension),
            medical: medical.then_some(a.medical),
        })
    }

    /// The hand-off when the user forgot the payment password of the card's
    /// financial account: the bank resets it, never idlink. `template` is
    /// the configured page (`{bank}`: the bank's code).
    pub async fn bank_password_reset(&self, actor: &Actor<'_>, id: &str, template: &str) -> Result<Handoff, SsError> {
        let row = self.reachable(actor, id).await?;
        let card = self.sealed_card(actor, &row).await?;
        let url = (!template.is_empty()).then(|| template.replace("{bank}", &card.bank_code));
        Ok(Handoff { bank_code: card.bank_code, url })
    }

    /// Ends a binding: one under way is cancelled (by the holder or their
    /// relative), a bound card is unbound (by its holder only): its
    /// medical code, accounts and alerts stop at once.
    pub async fn cancel(&self, actor: &Actor<'_>, id: &str) -> Result<BindingView, SsError> {
        let mut row = self.reachable(actor, id).await?;
        if matches!(row.status, Status::Cancelled | Status::Unbound) {
            return self.view_of(actor, &row).await;
        }
        // A bound card is its holder's to unbind: a relative's part ended with the binding.
        let (event, action) = if row.status == Status::Bound {
            if &row.user_id != actor.user() {
                return Err(SsError::HolderOnly);
            }
            (Event::Unbind, "ss_binding.unbound")
        } else {
            (Event::Cancel, "ss_binding.cancelled")
        };
        let p = row.progress().apply(event)?;
        row.status = p.status;
        // An unbound card leaves the relative's list too.
        if row.status == Status::Unbound && row.agent_user_id.is_some() && row.agent_ended_at.is_none() {
            row.agent_ended_at = Some(self.clock.now());
        }
        let row = self.save(actor, Change::new(row, action)).await?;
        self.view_of(actor, &row).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_and_the_agreement_hash_is_its_text() {
        assert_eq!(mask_card_number("A12345678"), "A*****678");
        let a = agreement();
        assert_eq!(a.sha256, hex::encode(Sha256::digest(a.text.as_bytes())));
        assert!(a.text.contains(AGREEMENT_VERSION));
    }
}
