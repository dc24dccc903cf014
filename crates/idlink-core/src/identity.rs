//! Real-name identity (SPEC ID2, ID4, ID5): verification sessions by three
//! elements (name + ID number + the account's phone, proven by an SMS code)
//! plus face liveness, the verified identity they produce, the change limits
//! they obey, and the capabilities that follow from age.
//!
//! Name and ID number are encrypted under the user's data key; the ID
//! number is found through a blind index, so "is this number verified on
//! another account" needs no clear value.

use crate::ports::identity::{
    CardCheck, CardResult, DocumentType, Finish, IdentityRow, IdentityStore, RegistryCheck, RegistryResult, RegistryUnavailable,
    VerificationRow,
};
use crate::steps::cards::{CardNotProven, CardProof};
use crate::steps::personal::IdentityView;

use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::auth::{SendError, SessionRow};
use crate::ports::bindings::BankUnavailable;
use crate::ports::clock::Clock;
use crate::ports::face::{FaceResult, FaceUnavailable};
use crate::ports::ids::Ids;
use crate::ports::reviews::{CaseKind, CaseRow};
use crate::ports::users::UserStore;
use crate::steps::cards::CardProver;
use crate::steps::codes::{CodeRefusal, Codes, Origin, Purpose};
use crate::steps::personal::{
    BIRTH_CONTEXT, ID_CONTEXT, IdentityReader, NAME_CONTEXT, Unreadable, corrupt, data_key, open_identity, open_text,
};
use crate::steps::risk::{Frozen, ensure_not_frozen};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::shanghai_today;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::change_limits::{self, ChangeDecision, ChangeEvent, ChangePolicy, ChangeRule};
use idlink_domain::consent::ConsentKind;
use idlink_domain::verification::{VerificationReason, VerificationStatus};
use idlink_domain::{IdNumber, PersonName, PhoneNumber, RequestId, UserId, VerificationId};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

const CARD_CONTEXT: &str = "verification.card";

/// How the user proves the identity besides name and ID number.
#[derive(Debug, Clone)]
pub enum Method {
    /// The account's phone (SMS code) plus face liveness.
    ThreeElementsFace,
    /// A bank card in the user's name whose reserved phone is the account's phone (SMS code).
    FourElements(CardNumber),
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
    #[error(transparent)]
    CardNotProven(#[from] CardNotProven),
    #[error(transparent)]
    Registry(#[from] RegistryUnavailable),
    /// The card's bank, asked about a card given with the verification.
    #[error(transparent)]
    Bank(#[from] BankUnavailable),
    #[error(transparent)]
    Face(#[from] FaceUnavailable),
    /// The user has not consented to processing their ID number, face or card (issue 18).
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
    #[error(transparent)]
    Frozen(#[from] Frozen),
    #[error(transparent)]
    Code(#[from] CodeRefusal),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
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
    pub id: VerificationId,
    pub status: VerificationStatus,
    pub reasons: Vec<VerificationReason>,
    /// Set when the session waits for the SMS code sent to the account phone.
    pub challenge_id: Option<String>,
}

pub struct Identities<'a> {
    pub store: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    /// Sends and checks the SMS code to the account's phone.
    pub codes: Codes<'a>,
    pub registry: &'a dyn RegistryCheck,
    pub cards: &'a dyn CardCheck,
    /// The face check, behind the face consent.
    pub face: crate::consents::ConsentedFace<'a>,
    /// The ID-number consent every verification needs (and the bank-card
    /// one a four-element verification needs).
    pub consent: crate::consents::ConsentGate<'a>,
    pub change_policy: &'a ChangePolicy,
    pub freezes: &'a dyn crate::ports::freezes::FreezeStore,
    /// First-response target of verification reviews (SPEC ID3: 72 h).
    pub review_sla: jiff::SignedDuration,
}

impl Identities<'_> {
    fn audit(&self, session: &SessionRow, rid: Option<&RequestId>, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", session.user_id), action, "real-name verification", at).subject(&session.user_id).request(rid)
    }

    async fn user_key(&self, user: &UserId, audit: &AuditEntry) -> Result<idlink_crypto::DataKey, IdentityError> {
        data_key(self.users, self.vault, user, audit).await
    }

    fn reader(&self) -> IdentityReader<'_> {
        IdentityReader { store: self.store, users: self.users, vault: self.vault, clock: self.clock }
    }

    fn prover(&self) -> CardProver<'_> {
        CardProver { identities: self.store, users: self.users, vault: self.vault, clock: self.clock, cards: self.cards }
    }

    /// Starts a verification; sends the SMS code to the account's phone.
    pub async fn start(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        origin: &Origin,
        claim: &Claim<'_>,
    ) -> Result<VerificationView, IdentityError> {
        let Claim { name, document, method, phone } = *claim;
        let now = self.clock.now();
        let user = &session.user_id;
        ensure_not_frozen::<IdentityError>(self.freezes, user).await?;
        let kinds: &[ConsentKind] = match method {
            Method::ThreeElementsFace => &[ConsentKind::IdNumber, ConsentKind::Face],
            Method::FourElements(_) => &[ConsentKind::IdNumber, ConsentKind::BankCard],
        };
        self.consent.check_all::<IdentityError>(user, kinds).await?;
        let id_index = crate::steps::personal::document_index(self.vault, document.kind(), document.number());
        if let Some(current) = self.store.identity(user).await? {
            let key = self.user_key(user, &self.audit(session, rid, "identity.read", now)).await?;
            let same_name = key.open(NAME_CONTEXT, &current.name_cipher).is_ok_and(|n| n == name.reveal().as_bytes());
            if current.id_index != id_index || !same_name {
                self.check_change_limits(session, rid, &id_index, now).await?;
            }
        } else if self.store.revoked_identity_exists(&id_index).await? {
            // A revoked real name verified again is a change (SPEC RV3, ID5): the limits apply.
            self.check_change_limits(session, rid, &id_index, now).await?;
        }
        let key = self.user_key(user, &self.audit(session, rid, "identity.collect", now)).await?;
        let v = VerificationRow {
            id: self.ids.verification(),
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
        let challenge = self.codes.request_for_session::<IdentityError>(origin, session, phone, Purpose::Verification).await?;
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
        verification_id: &VerificationId,
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
        // A consent withdrawn since the start stops the check before anything goes out.
        let kinds: &[ConsentKind] = if v.card_cipher.is_some() {
            &[ConsentKind::IdNumber, ConsentKind::BankCard]
        } else {
            &[ConsentKind::IdNumber, ConsentKind::Face]
        };
        self.consent.check_all::<IdentityError>(user, kinds).await?;
        self.codes.redeem_for_session::<IdentityError>(session, rid, challenge_id, code, Purpose::Verification).await?;
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
        let audit = self.audit(session, rid, "identity.read", now);
        let opened = open_identity::<IdentityError>(self.users, self.vault, user, &audit, &v.name_cipher, &v.id_cipher).await?;
        let (key, name) = (&opened.key, &opened.name);
        let text = |c: &[u8], ctx: &str| open_text::<IdentityError>(key, ctx, c);

        let mut reasons = Vec::new();
        // Only resident ID cards are checked automatically; other documents always go to review.
        let mut review = v.document_type != DocumentType::ResidentId;
        if v.document_type == DocumentType::ResidentId {
            let id = opened.resident_id(shanghai_today(now))?;
            match self.registry.check(name, &id, phone).await? {
                RegistryResult::Match => {}
                RegistryResult::NameMismatch => reasons.push(VerificationReason::IdNumberMismatch),
                RegistryResult::NotFound => reasons.push(VerificationReason::IdNumberNotFound),
                RegistryResult::PhoneMismatch => reasons.push(VerificationReason::PhoneMismatch),
                RegistryResult::Pending => review = true,
            }
            if let (Some(c), true) = (&v.card_cipher, reasons.is_empty()) {
                let card = CardNumber::parse(&text(c, CARD_CONTEXT)?, BinTable::bundled()).map_err(corrupt)?;
                match self.cards.four_elements(&card, name, &id, phone).await? {
                    CardResult::Match => {}
                    CardResult::HolderMismatch => reasons.push(VerificationReason::CardHolderMismatch),
                    CardResult::PhoneMismatch => reasons.push(VerificationReason::ReservedPhoneMismatch),
                    CardResult::Lost => reasons.push(VerificationReason::CardReportedLost),
                    CardResult::Pending => review = true,
                }
            }
        }
        if let (Some(video), true) = (liveness_video.filter(|_| v.card_cipher.is_none()), reasons.is_empty()) {
            match self.face.verify::<IdentityError>(user, video).await? {
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
            .then(|| CaseRow::open(self.ids, CaseKind::Verification, user, v.id.as_str(), 2, self.review_sla, now));
        let previous = self.store.identity(user).await?;
        // Ciphertexts differ even for equal names (random nonces): compare clear names.
        let changed_from_previous = previous
            .as_ref()
            .is_some_and(|p| p.id_index != v.id_index || text(&p.name_cipher, NAME_CONTEXT).ok().as_deref() != Some(name.reveal()));
        // A revoked identity verified again counts as a change too (SPEC RV3, ID5).
        let after_revocation = previous.is_none() && identity.is_some() && self.store.revoked_identity_exists(&v.id_index).await?;
        let is_change = identity.is_some() && (changed_from_previous || after_revocation);
        let outcome = if status == VerificationStatus::Rejected { Outcome::Denied } else { Outcome::Success };
        let audit = self.audit(session, rid, &format!("verification.{}", status.as_str()), now).outcome(outcome);
        let event = match &identity {
            Some(_) => {
                let lifecycle = crate::ports::events::Lifecycle {
                    kind: if is_change {
                        crate::ports::events::LifecycleType::IdentityChanged
                    } else {
                        crate::ports::events::LifecycleType::IdentityVerified
                    },
                    user: user.clone(),
                    at: now,
                    actor: "user".into(),
                    client: None,
                    sessions: Vec::new(),
                    // The level the apps' SETs carry (`current_level`).
                    reason: Some(crate::oidc::claims::assurance_level(v.document_type, &v.method).to_owned()),
                };
                Some(crate::events::lifecycle_event::<IdentityError>(self.vault, self.ids, &lifecycle)?)
            }
            None => None,
        };
        let finish = Finish {
            verification_id: &v.id,
            status,
            reasons: &reasons,
            at: now,
            identity: identity.as_ref(),
            change: is_change.then_some(ChangeEvent::Changed { at: now }),
            case: case.as_ref(),
            event: event.as_ref(),
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
        // The card and the verified ID number go to the bank (a payment-password reset by card).
        self.consent.check_all::<IdentityError>(&session.user_id, &crate::balance::BALANCE_CONSENTS).await?;
        let actor = format!("user:{}", session.user_id);
        self.prover().prove(&session.user_id, &actor, rid, card, phone).await
    }

    pub async fn view(&self, user: &UserId, id: &VerificationId) -> Result<VerificationView, IdentityError> {
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
        self.reader().read(user, actor, rid).await
    }
}
