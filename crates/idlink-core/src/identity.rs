//! Real-name identity (SPEC ID2, ID4, ID5): verification sessions by three
//! elements (name + ID number + the account's phone, proven by an SMS code)
//! plus face liveness, the verified identity they produce, the change limits
//! they obey, and the capabilities that follow from age.
//!
//! Name and ID number are encrypted under the user's data key; the ID
//! number is found through a blind index, so "is this number verified on
//! another account" needs no clear value.

use crate::audit::{AuditEntry, Outcome};
use crate::auth::{Auth, AuthError, Purpose, SessionRow};
use crate::clock::Clock;
use crate::error::CoreError;
use crate::face::{FaceResult, FaceUnavailable, FaceVerifier};
use crate::ports::{StoreError, UserStore};
use crate::reviews::{CaseKind, CaseRow};
use crate::users::open_text;
use crate::vault::Vault;
use async_trait::async_trait;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::change_limits::{self, ChangeDecision, ChangeEvent, ChangePolicy, ChangeRule};
use idlink_domain::verification::{VerificationReason, VerificationStatus};
use idlink_domain::{IdNumber, PersonName, PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

const NAME_CONTEXT: &str = "identity.name";
const ID_CONTEXT: &str = "identity.id_number";
const BIRTH_CONTEXT: &str = "identity.birth_date";
const CARD_CONTEXT: &str = "verification.card";

/// The registry's answer about name, ID number and phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryResult {
    Match,
    NameMismatch,
    NotFound,
    PhoneMismatch,
    /// Undocumented or undecided: sent to review.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the identity registry is unavailable; retry after {retry_after_secs} s")]
pub struct RegistryUnavailable {
    pub retry_after_secs: u64,
    /// When the institution announced the end of its maintenance, if it did.
    pub expected_end: Option<Timestamp>,
}

/// The bank's answer about a card's four elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardResult {
    Match,
    HolderMismatch,
    PhoneMismatch,
    Lost,
    Pending,
}

/// Four-element card checks through the card switch.
#[async_trait]
pub trait CardCheck: Send + Sync {
    async fn four_elements(
        &self,
        card: &CardNumber,
        name: &PersonName,
        id: &IdNumber,
        phone: &PhoneNumber,
    ) -> Result<CardResult, RegistryUnavailable>;
}

/// How the user proves the identity besides name and ID number.
#[derive(Debug, Clone)]
pub enum Method {
    /// The account's phone (SMS code) plus face liveness.
    ThreeElementsFace,
    /// A bank card in the user's name whose reserved phone is the account's phone (SMS code).
    FourElements(CardNumber),
}

#[async_trait]
pub trait RegistryCheck: Send + Sync {
    async fn check(&self, name: &PersonName, id: &IdNumber, phone: &PhoneNumber) -> Result<RegistryResult, RegistryUnavailable>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub id: String,
    pub user_id: UserId,
    pub method: String,
    pub document_type: DocumentType,
    /// For documents without a birth date in their number (passports, permits).
    pub birth_cipher: Option<Vec<u8>>,
    /// The bank card of a four-element verification.
    pub card_cipher: Option<Vec<u8>>,
    pub status: VerificationStatus,
    pub name_cipher: Vec<u8>,
    pub id_cipher: Vec<u8>,
    pub id_index: String,
    pub reasons: Vec<VerificationReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub user_id: UserId,
    pub document_type: DocumentType,
    pub birth_cipher: Option<Vec<u8>>,
    pub name_cipher: Vec<u8>,
    pub id_cipher: Vec<u8>,
    pub id_index: String,
    pub method: String,
    pub verified_at: Timestamp,
}

/// What finishing a verification writes, in one transaction.
#[derive(Debug)]
pub struct Finish<'a> {
    pub verification_id: &'a str,
    pub status: VerificationStatus,
    pub reasons: &'a [VerificationReason],
    pub at: Timestamp,
    pub identity: Option<&'a IdentityRow>,
    /// Recorded against the ID number when the verification changed real-name information.
    pub change: Option<ChangeEvent>,
    /// Opened when the verification goes to review.
    pub case: Option<&'a CaseRow>,
    pub audit: &'a AuditEntry,
}

/// The identity document a verification is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Verified automatically against the registry.
    ResidentId,
    /// Passports and permits go to operator review (two steps).
    Passport,
    HkMacauPermit,
    TaiwanPermit,
}

impl DocumentType {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::ResidentId => "resident_id",
            DocumentType::Passport => "passport",
            DocumentType::HkMacauPermit => "hk_macau_permit",
            DocumentType::TaiwanPermit => "taiwan_permit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::ResidentId, Self::Passport, Self::HkMacauPermit, Self::TaiwanPermit].into_iter().find(|d| d.as_str() == s)
    }
}

/// The document presented: a resident ID number, or another document with its number and the birth date on it.
#[derive(Debug, Clone)]
pub enum Document {
    ResidentId(IdNumber),
    Other { kind: DocumentType, number: String, birth_date: Date },
}

impl Document {
    fn kind(&self) -> DocumentType {
        match self {
            Document::ResidentId(_) => DocumentType::ResidentId,
            Document::Other { kind, .. } => *kind,
        }
    }

    fn number(&self) -> &str {
        match self {
            Document::ResidentId(id) => id.reveal(),
            Document::Other { number, .. } => number,
        }
    }
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn insert_verification(&self, v: &VerificationRow, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn verification(&self, id: &str, user: &UserId) -> Result<Option<VerificationRow>, StoreError>;
    /// Moves `from → to` if the session is still in `from`; false otherwise.
    async fn move_verification(
        &self,
        id: &str,
        from: VerificationStatus,
        to: VerificationStatus,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn finish_verification(&self, f: &Finish<'_>) -> Result<(), StoreError>;
    async fn identity(&self, user: &UserId) -> Result<Option<IdentityRow>, StoreError>;
    async fn identity_owner(&self, id_index: &str) -> Result<Option<UserId>, StoreError>;
    async fn change_history(&self, id_index: &str) -> Result<Vec<ChangeEvent>, StoreError>;
    async fn record_cooling_off(&self, id_index: &str, at: Timestamp, until: Timestamp, audit: &AuditEntry) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("real-name changes are limited ({rule:?}); possible again from {allowed_from}")]
    ChangeLimited { rule: ChangeRule, allowed_from: Timestamp, policy: ChangePolicy },
    #[error("no such verification")]
    NotFound,
    #[error("this verification is {0:?} and takes no more input")]
    NotAwaitingInput(VerificationStatus),
    #[error("this verification needs the liveness capture")]
    LivenessRequired,
    #[error("the user has no verified resident-ID identity")]
    NotVerified,
    #[error("the bank did not confirm the card: {0:?}")]
    CardRefused(VerificationReason),
    #[error(transparent)]
    Registry(#[from] RegistryUnavailable),
    #[error(transparent)]
    Face(#[from] FaceUnavailable),
    #[error(transparent)]
    Frozen(#[from] crate::risk::Frozen),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::risk::RiskFailure> for IdentityError {
    fn from(e: crate::risk::RiskFailure) -> Self {
        match e {
            crate::risk::RiskFailure::Frozen(f) => IdentityError::Frozen(f),
            crate::risk::RiskFailure::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        IdentityError::Auth(AuthError::from(e))
    }
}

impl From<CoreError> for IdentityError {
    fn from(e: CoreError) -> Self {
        IdentityError::Auth(AuthError::Core(e))
    }
}

/// Proof that the bank confirmed a card of the user's verified identity with
/// the account's phone. Only [`Identities::prove_card`] makes one.
#[derive(Debug)]
pub struct CardProof {
    user: UserId,
}

impl CardProof {
    pub fn user(&self) -> &UserId {
        &self.user
    }
}

/// Who the user says they are, and how they will prove it.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub name: &'a PersonName,
    pub document: &'a Document,
    pub method: &'a Method,
    /// The account's phone (the SMS code goes there).
    pub phone: &'a PhoneNumber,
}

/// What the user submits to complete a verification.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The account's phone (the code was sent there).
    pub phone: &'a PhoneNumber,
    pub challenge_id: &'a str,
    pub code: &'a str,
    /// Required by three-element verifications, ignored by four-element ones.
    pub liveness_video: Option<&'a str>,
}

/// A verification as shown to the app.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationView {
    pub id: String,
    pub status: VerificationStatus,
    pub reasons: Vec<VerificationReason>,
    /// Set when the session waits for the SMS code sent to the account phone.
    pub challenge_id: Option<String>,
}

/// The verified identity, masked.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityView {
    pub name: String,
    pub id_number: String,
    pub document_type: DocumentType,
    pub verified_at: Timestamp,
    pub age: i16,
    pub minor: bool,
}

pub struct Identities<'a> {
    pub auth: Auth<'a>,
    pub store: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub registry: &'a dyn RegistryCheck,
    pub cards: &'a dyn CardCheck,
    pub face: &'a dyn FaceVerifier,
    pub change_policy: &'a ChangePolicy,
    pub freezes: &'a dyn crate::risk::FreezeStore,
    /// First-response target of verification reviews (SPEC ID3: 72 h).
    pub review_sla: jiff::SignedDuration,
}

pub use idlink_domain::calendar::shanghai_today;

impl Identities<'_> {
    fn audit(&self, session: &SessionRow, rid: Option<&RequestId>, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, "real-name verification", at).subject(&session.user_id).request(rid)
    }

    async fn user_key(&self, user: &UserId, audit: &AuditEntry) -> Result<idlink_crypto::DataKey, CoreError> {
        crate::users::data_key(self.users, self.vault, user, audit).await
    }

    /// Starts a verification; sends the SMS code to the account's phone.
    pub async fn start(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        origin: &crate::auth::Origin,
        claim: &Claim<'_>,
    ) -> Result<VerificationView, IdentityError> {
        let Claim { name, document, method, phone } = *claim;
        let now = self.clock.now();
        let user = &session.user_id;
        crate::risk::ensure_not_frozen(self.freezes, user).await?;
        let id_index = match document {
            Document::ResidentId(id) => self.vault.blind_index("id_number", id.reveal()),
            Document::Other { kind, number, .. } => self.vault.blind_index("document", &format!("{}:{number}", kind.as_str())),
        };
        if let Some(current) = self.store.identity(user).await? {
            let key = self.user_key(user, &self.audit(session, rid, "identity.read", now)).await?;
            let same_name = key.open(NAME_CONTEXT, &current.name_cipher).is_ok_and(|n| n == name.reveal().as_bytes());
            if current.id_index != id_index || !same_name {
                self.check_change_limits(session, rid, &id_index, now).await?;
            }
        }
        let key = self.user_key(user, &self.audit(session, rid, "identity.collect", now)).await?;
        let v = VerificationRow {
            id: format!("ver_{}", hex::encode(self.vault.rng().bytes16())),
            user_id: user.clone(),
            method: match method {
                Method::ThreeElementsFace => "three_elements_face".into(),
                Method::FourElements(_) => "four_elements".into(),
            },
            card_cipher: match method {
                Method::FourElements(card) => Some(self.vault.seal(&key, CARD_CONTEXT, card.reveal().as_bytes())?),
                Method::ThreeElementsFace => None,
            },
            document_type: document.kind(),
            birth_cipher: match document {
                Document::Other { birth_date, .. } => Some(self.vault.seal(&key, BIRTH_CONTEXT, birth_date.to_string().as_bytes())?),
                Document::ResidentId(_) => None,
            },
            status: VerificationStatus::RequiresInput,
            name_cipher: self.vault.seal(&key, NAME_CONTEXT, name.reveal().as_bytes())?,
            id_cipher: self.vault.seal(&key, ID_CONTEXT, document.number().as_bytes())?,
            id_index,
            reasons: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_verification(&v, &self.audit(session, rid, "verification.start", now)).await?;
        let challenge = self.auth.request_code_for_session(origin, session, phone, Purpose::Verification).await?;
        Ok(VerificationView { id: v.id, status: v.status, reasons: Vec::new(), challenge_id: Some(challenge.challenge_id) })
    }

    async fn check_change_limits(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        id_index: &str,
        now: Timestamp,
    ) -> Result<(), IdentityError> {
        let history = self.store.change_history(id_index).await?;
        match change_limits::decide(self.change_policy, &history, now) {
            ChangeDecision::Allowed => Ok(()),
            ChangeDecision::Refused { rule, allowed_from, starts_cooling_off } => {
                if let Some(until) = starts_cooling_off {
                    let audit = self.audit(session, rid, "identity.change_cooling_off", now).outcome(Outcome::Denied);
                    self.store.record_cooling_off(id_index, now, until, &audit).await?;
                }
                Err(IdentityError::ChangeLimited { rule, allowed_from, policy: self.change_policy.clone() })
            }
        }
    }

    /// Completes a verification with the SMS code and the liveness video.
    pub async fn complete(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        verification_id: &str,
        input: &Submission<'_>,
    ) -> Result<VerificationView, IdentityError> {
        let Submission { phone, challenge_id, code, liveness_video } = *input;
        let user = &session.user_id;
        let v = self.store.verification(verification_id, user).await?.ok_or(IdentityError::NotFound)?;
        if v.status != VerificationStatus::RequiresInput {
            return Err(IdentityError::NotAwaitingInput(v.status));
        }
        if v.card_cipher.is_none() && liveness_video.is_none() {
            return Err(IdentityError::LivenessRequired);
        }
        self.auth.redeem_for_session(session, rid, challenge_id, code, Purpose::Verification).await?;
        let now = self.clock.now();
        if !self.store.move_verification(verification_id, VerificationStatus::RequiresInput, VerificationStatus::Processing, now).await? {
            return Err(IdentityError::NotAwaitingInput(VerificationStatus::Processing));
        }
        match self.decide(session, rid, &v, phone, liveness_video).await {
            Ok(view) => Ok(view),
            Err(e) => {
                // An institution failed: the user may submit again.
                let _ = self
                    .store
                    .move_verification(verification_id, VerificationStatus::Processing, VerificationStatus::RequiresInput, now)
                    .await;
                Err(e)
            }
        }
    }

    async fn decide(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        v: &VerificationRow,
        phone: &PhoneNumber,
        liveness_video: Option<&str>,
    ) -> Result<VerificationView, IdentityError> {
        let user = &session.user_id;
        let now = self.clock.now();
        let key = self.user_key(user, &self.audit(session, rid, "identity.read", now)).await?;
        let text = |c: &[u8], ctx: &str| open_text(&key, ctx, c);
        let corrupt = |e: String| CoreError::Store(StoreError::Corrupt(e));
        let name = PersonName::parse(&text(&v.name_cipher, NAME_CONTEXT)?).map_err(|e| corrupt(e.to_string()))?;

        let mut reasons = Vec::new();
        // Only resident ID cards are checked automatically; other documents always go to review.
        let mut review = v.document_type != DocumentType::ResidentId;
        if v.document_type == DocumentType::ResidentId {
            let id = IdNumber::parse(&text(&v.id_cipher, ID_CONTEXT)?, shanghai_today(now)).map_err(|e| corrupt(e.to_string()))?;
            match self.registry.check(&name, &id, phone).await? {
                RegistryResult::Match => {}
                RegistryResult::NameMismatch => reasons.push(VerificationReason::IdNumberMismatch),
                RegistryResult::NotFound => reasons.push(VerificationReason::IdNumberNotFound),
                RegistryResult::PhoneMismatch => reasons.push(VerificationReason::PhoneMismatch),
                RegistryResult::Pending => review = true,
            }
            if let (Some(c), true) = (&v.card_cipher, reasons.is_empty()) {
                let card = CardNumber::parse(&text(c, CARD_CONTEXT)?, BinTable::bundled()).map_err(|e| corrupt(e.to_string()))?;
                match self.cards.four_elements(&card, &name, &id, phone).await? {
                    CardResult::Match => {}
                    CardResult::HolderMismatch => reasons.push(VerificationReason::CardHolderMismatch),
                    CardResult::PhoneMismatch => reasons.push(VerificationReason::ReservedPhoneMismatch),
                    CardResult::Lost => reasons.push(VerificationReason::CardReportedLost),
                    CardResult::Pending => review = true,
                }
            }
        }
        if let (Some(video), true) = (liveness_video.filter(|_| v.card_cipher.is_none()), reasons.is_empty()) {
            match self.face.verify(user.as_str(), video).await? {
                FaceResult::Pass => {}
                FaceResult::LivenessFailed => reasons.push(VerificationReason::LivenessFailed),
                FaceResult::PoorLighting => reasons.push(VerificationReason::PoorLighting),
                FaceResult::FaceMismatch => reasons.push(VerificationReason::FaceMismatch),
                FaceResult::Pending => review = true,
            }
        }
        if self.store.identity_owner(&v.id_index).await?.is_some_and(|owner| owner != *user) {
            reasons.push(VerificationReason::IdNumberBoundElsewhere);
        }
        let status = if !reasons.is_empty() {
            VerificationStatus::Rejected
        } else if review {
            VerificationStatus::Review
        } else {
            VerificationStatus::Verified
        };
        let identity = (status == VerificationStatus::Verified).then(|| IdentityRow {
            user_id: user.clone(),
            name_cipher: v.name_cipher.clone(),
            id_cipher: v.id_cipher.clone(),
            id_index: v.id_index.clone(),
            method: v.method.clone(),
            document_type: v.document_type,
            birth_cipher: v.birth_cipher.clone(),
            verified_at: now,
        });
        let case = (status == VerificationStatus::Review)
            .then(|| CaseRow::open(self.vault.rng(), CaseKind::Verification, user, &v.id, 2, self.review_sla, now));
        let previous = self.store.identity(user).await?;
        // Ciphertexts differ even for equal names (random nonces): compare clear names.
        let is_change = identity.is_some()
            && previous
                .as_ref()
                .is_some_and(|p| p.id_index != v.id_index || text(&p.name_cipher, NAME_CONTEXT).ok().as_deref() != Some(name.reveal()));
        let outcome = if status == VerificationStatus::Rejected { Outcome::Denied } else { Outcome::Success };
        let audit = self.audit(session, rid, &format!("verification.{}", status.as_str()), now).outcome(outcome);
        let finish = Finish {
            verification_id: &v.id,
            status,
            reasons: &reasons,
            at: now,
            identity: identity.as_ref(),
            change: is_change.then_some(ChangeEvent::Changed { at: now }),
            case: case.as_ref(),
            audit: &audit,
        };
        self.store.finish_verification(&finish).await?;
        Ok(VerificationView { id: v.id.clone(), status, reasons, challenge_id: None })
    }

    /// Asks the card's bank whether the card, the user's verified name and ID
    /// number and the account's phone belong together.
    pub async fn prove_card(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        card: &CardNumber,
        phone: &PhoneNumber,
    ) -> Result<CardProof, IdentityError> {
        let user = &session.user_id;
        let row =
            self.store.identity(user).await?.filter(|i| i.document_type == DocumentType::ResidentId).ok_or(IdentityError::NotVerified)?;
        let now = self.clock.now();
        let key = self.user_key(user, &self.audit(session, rid, "identity.read", now)).await?;
        let corrupt = |e: String| IdentityError::from(CoreError::Store(StoreError::Corrupt(e)));
        let text = |c: &[u8], ctx: &str| open_text(&key, ctx, c);
        let name = PersonName::parse(&text(&row.name_cipher, NAME_CONTEXT)?).map_err(|e| corrupt(e.to_string()))?;
        let id = IdNumber::parse(&text(&row.id_cipher, ID_CONTEXT)?, shanghai_today(now)).map_err(|e| corrupt(e.to_string()))?;
        match self.cards.four_elements(card, &name, &id, phone).await? {
            CardResult::Match => Ok(CardProof { user: user.clone() }),
            CardResult::HolderMismatch => Err(IdentityError::CardRefused(VerificationReason::CardHolderMismatch)),
            CardResult::PhoneMismatch => Err(IdentityError::CardRefused(VerificationReason::ReservedPhoneMismatch)),
            CardResult::Lost | CardResult::Pending => Err(IdentityError::CardRefused(VerificationReason::CardReportedLost)),
        }
    }

    pub async fn view(&self, user: &UserId, id: &str) -> Result<VerificationView, IdentityError> {
        let v = self.store.verification(id, user).await?.ok_or(IdentityError::NotFound)?;
        Ok(VerificationView { id: v.id, status: v.status, reasons: v.reasons, challenge_id: None })
    }

    /// The user's verified identity, masked, with age in Asia/Shanghai.
    pub async fn identity(&self, session: &SessionRow, rid: Option<&RequestId>) -> Result<Option<IdentityView>, IdentityError> {
        self.identity_read(&session.user_id, &format!("user:{}", session.user_id), rid).await
    }

    /// Another user's identity (masked), read by the system, e.g. to check a guardian is an adult.
    pub async fn identity_of(&self, user: &UserId) -> Result<Option<IdentityView>, IdentityError> {
        self.identity_read(user, "system", None).await
    }

    async fn identity_read(&self, user: &UserId, actor: &str, rid: Option<&RequestId>) -> Result<Option<IdentityView>, IdentityError> {
        let Some(row) = self.store.identity(user).await? else { return Ok(None) };
        let now = self.clock.now();
        let audit = AuditEntry::new(actor, "identity.read", "real-name verification", now).subject(user).request(rid);
        let key = self.user_key(user, &audit).await?;
        let corrupt = |e: String| IdentityError::from(CoreError::Store(StoreError::Corrupt(e)));
        let name = open_text(&key, NAME_CONTEXT, &row.name_cipher)?;
        let id_text = open_text(&key, ID_CONTEXT, &row.id_cipher)?;
        let today = shanghai_today(now);
        let birth = match &row.birth_cipher {
            Some(c) => open_text(&key, BIRTH_CONTEXT, c)?.parse::<Date>().ok().ok_or_else(|| corrupt("birth date".into()))?,
            None => IdNumber::parse(&id_text, today).map_err(|e| corrupt(e.to_string()))?.birth_date(),
        };
        let name = PersonName::parse(&name).map_err(|e| corrupt(e.to_string()))?;
        let age = idlink_domain::idnumber::age_on(birth, today);
        Ok(Some(IdentityView {
            name: name.masked(),
            id_number: idlink_domain::mask_id_number(&id_text),
            document_type: row.document_type,
            verified_at: row.verified_at,
            age,
            minor: idlink_domain::idnumber::is_minor(age),
        }))
    }
}
