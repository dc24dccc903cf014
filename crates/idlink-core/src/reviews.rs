//! The operator review queue (SPEC ID3, ID4, ID8, OP1): cases with an SLA,
//! decided in a fixed number of steps by different operators (dual control).
//!
//! A case is opened in the same transaction as the state it reviews (a
//! verification waiting for review, a frozen account). Each decision is one
//! row keyed by (case, step) and unique per (case, operator), so two
//! operators cannot both take the same step and one operator cannot take
//! two. A rejection ends the case; the last approval applies its effect in
//! the same transaction.
//!
//! A reviewer who holds a case may ask the user for more information
//! (ADR 0019): the case waits for the user, out of the queue, and its SLA
//! does not run; the request counts as the first response. The user's
//! answer puts the case back in the queue with a new SLA of the same length.

use crate::ports::reviews::{AnswerChange, CaseKind, CaseRow, CaseStatus, Decision, InfoAnswer, InfoReason, InfoRequest, ReviewStore};

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::guardians::GuardianStore;
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::operators::{OperatorRow, OperatorStore, Role, RoleRequired, require};
use crate::ports::users::UserStore;
use crate::steps::notices::{UserMessage, user_sms};
use crate::steps::paging::breach_event;
use crate::steps::personal::{BIRTH_CONTEXT, ID_CONTEXT, Unreadable, data_key, document_index, open_text};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::verification::VerificationStatus;
use idlink_domain::{CaseId, GuardianshipId, RequestId, UserId, VerificationId};
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such case")]
    NotFound,
    #[error("the case is closed")]
    Closed,
    #[error("an operator who already decided a step of this case cannot take another: a different operator must")]
    SameOperator,
    /// Approving a risk-freeze case lifts the freeze: a dual-control action (`crate::dual`).
    #[error("lifting a freeze takes a dual-control proposal approved by a second operator (action `freeze.lift`)")]
    DualControl,
    #[error("the case is not held by this operator: only the operator who claimed it can release it")]
    NotClaimed,
    #[error("the case waits for the user's answer to a request for more information")]
    AwaitingUser,
    #[error("only the operator who holds the case (claimed it) can ask the user for more information")]
    NotHeld,
    #[error("a risk freeze asks nothing of the user: only document and guardian cases can request more information")]
    NothingToAsk,
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn role_for(kind: CaseKind) -> Role {
    match kind {
        CaseKind::Verification | CaseKind::RiskFreeze | CaseKind::Guardian | CaseKind::CardRisk | CaseKind::Revocation => Role::Reviewer,
    }
}

pub struct Reviews<'a> {
    pub store: &'a dyn ReviewStore,
    /// The user's data key seals the operator's note to them.
    pub users: &'a dyn UserStore,
    /// Whether an approved verification is the user's first or a change (the apps are told which).
    pub identities: &'a dyn IdentityStore,
    pub clock: &'a dyn Clock,
    /// Seals the notice to the user of a request for more information.
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    /// The request acting, named in every audit record (ties a user's
    /// "who accessed my data" entry to the request logs).
    pub request: Option<RequestId>,
}

/// The context a user's answer to request `seq` of `case` is sealed in
/// under their data key: the column and the request, so a sealed answer
/// cannot be passed off as another request's or another field.
pub fn answer_context(case: &CaseId, seq: u32) -> String {
    format!("review_requests.answer:{case}:{seq}")
}

/// The context the operator's note of request `seq` of `case` is sealed in under the user's data key.
pub fn note_context(case: &CaseId, seq: u32) -> String {
    format!("review_requests.note:{case}:{seq}")
}

/// The requests of a case opened for a reader: the operator's note and the user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedRequest {
    pub note: AnswerText,
    pub answer: Option<AnswerText>,
}

/// A user's answer as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerText {
    Read(String),
    /// The user's data is gone (their key was shredded, or the user deleted).
    Unavailable,
}

/// An operator's audit record on a case: who, whose data, what, for which request.
fn review_audit(op: &OperatorRow, case: &CaseRow, action: &str, at: Timestamp, rid: Option<&RequestId>) -> AuditEntry {
    AuditEntry::new(format!("operator:{}", op.id), action, format!("review {}", case.kind.as_str()), at).subject(&case.subject).request(rid)
}

/// Opens the notes to the user and the user's answers on `case` for a
/// reviewer (SPEC P6/P7): the one read of the user's data key appends the
/// audit record `review.read_answer` (actor the operator, subject the user).
/// By request `seq`; empty (and nothing read) when nothing was asked.
pub async fn read_answers(
    users: &dyn UserStore,
    vault: &Vault,
    clock: &dyn Clock,
    op: &OperatorRow,
    case: &CaseRow,
    rid: Option<&RequestId>,
) -> Result<std::collections::BTreeMap<u32, OpenedRequest>, ReviewError> {
    require(op, role_for(case.kind))?;
    if case.requests.is_empty() {
        return Ok(Default::default());
    }
    let audit = review_audit(op, case, "review.read_answer", clock.now(), rid);
    let key = match data_key::<ReadError>(users, vault, &case.subject, &audit).await {
        Ok(key) => Some(key),
        Err(ReadError::Unreadable(_)) => None,
        Err(ReadError::Crypto(e)) => return Err(e.into()),
        Err(ReadError::Store(e)) => return Err(e.into()),
    };
    let open = |context: String, cipher: &[u8]| -> Result<AnswerText, ReviewError> {
        Ok(match &key {
            Some(key) => AnswerText::Read(open_text::<ReviewError>(key, &context, cipher)?),
            None => AnswerText::Unavailable,
        })
    };
    let mut out = std::collections::BTreeMap::new();
    for r in &case.requests {
        let note = open(note_context(&case.id, r.seq), &r.note_cipher)?;
        let answer = match &r.answer_cipher {
            Some(cipher) => Some(open(answer_context(&case.id, r.seq), cipher)?),
            None => None,
        };
        out.insert(r.seq, OpenedRequest { note, answer });
    }
    Ok(out)
}

/// Reading the key may find the user's data gone: not an error to the reviewer.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SMS template telling a user that a reviewer asks for more information.
pub const INFO_REQUEST_TEMPLATE: &str = "review_more_info";

/// Refuses an action on a case that is not open, saying whether it waits for the user.
fn ensure_open(case: &CaseRow) -> Result<(), ReviewError> {
    match case.status {
        CaseStatus::Open => Ok(()),
        CaseStatus::WaitingForUser => Err(ReviewError::AwaitingUser),
        CaseStatus::Approved | CaseStatus::Rejected => Err(ReviewError::Closed),
    }
}

impl Reviews<'_> {
    /// The same use cases acting for request `rid`.
    pub fn for_request(mut self, rid: Option<&RequestId>) -> Self {
        self.request = rid.cloned();
        self
    }

    fn audit(&self, op: &OperatorRow, case: &CaseRow, action: &str, at: Timestamp) -> AuditEntry {
        review_audit(op, case, action, at, self.request.as_ref())
    }

    pub async fn claim(&self, op: &OperatorRow, case_id: &CaseId) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        ensure_open(&case)?;
        let now = self.clock.now();
        self.store.claim_case(case_id, &op.id, now, &self.audit(op, &case, "review.claim", now)).await?;
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Gives a case this operator claimed back to the queue (the first
    /// response stays recorded: the SLA is about answering, not holding).
    pub async fn release(&self, op: &OperatorRow, case_id: &CaseId) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        ensure_open(&case)?;
        let now = self.clock.now();
        if !self.store.release_case(case_id, &op.id, &self.audit(op, &case, "review.release", now)).await? {
            return Err(ReviewError::NotClaimed);
        }
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Takes the next step of a case. Approval needs `steps_required` different operators.
    pub async fn decide(&self, op: &OperatorRow, case_id: &CaseId, approve: bool, note: &str) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        ensure_open(&case)?;
        if case.decisions.iter().any(|d| d.operator_id == op.id) {
            return Err(ReviewError::SameOperator);
        }
        if approve && case.kind == CaseKind::RiskFreeze {
            return Err(ReviewError::DualControl);
        }
        let now = self.clock.now();
        let step = u32::try_from(case.decisions.len()).unwrap_or(u32::MAX).saturating_add(1);
        let decision = Decision { step, operator_id: op.id.clone(), approve, note: note.to_owned(), at: now };
        let outcome = if !approve {
            Some(CaseStatus::Rejected)
        } else if step >= case.steps_required {
            Some(CaseStatus::Approved)
        } else {
            None
        };
        let action = match outcome {
            Some(CaseStatus::Approved) => "review.approve",
            Some(CaseStatus::Rejected) => "review.reject",
            _ => "review.approve_step",
        };
        // An approved verification reaches the apps the user authorised, as the automated path's does.
        let event = if outcome == Some(CaseStatus::Approved) && case.kind == CaseKind::Verification {
            let kind = if self.identities.identity(&case.subject).await?.is_some() {
                crate::ports::events::LifecycleType::IdentityChanged
            } else {
                crate::ports::events::LifecycleType::IdentityVerified
            };
            let lifecycle = crate::ports::events::Lifecycle {
                kind,
                user: case.subject.clone(),
                at: now,
                actor: format!("operator:{}", op.id),
                client: None,
                sessions: Vec::new(),
                // Reviewed cases are foreign documents (and guardians'): `substantial`.
                reason: Some("substantial".to_owned()),
            };
            Some(crate::events::lifecycle_event::<ReviewError>(self.vault, self.ids, &lifecycle)?)
        } else {
            None
        };
        // A revocation review's outcome is texted: the user comes back to confirm, or may ask again.
        let event = match (outcome, case.kind) {
            (Some(o), CaseKind::Revocation) => {
                let operation = case.reference.rsplit(':').next().unwrap_or_default();
                let message = UserMessage {
                    template: crate::revocation::REVIEW_DECIDED_TEMPLATE.to_owned(),
                    params: vec![("operation".to_owned(), operation.to_owned()), ("outcome".to_owned(), o.as_str().to_owned())],
                    actor: format!("operator:{}", op.id),
                    purpose: "review revocation".to_owned(),
                    request_id: None,
                };
                Some(user_sms::<ReviewError>(self.vault, self.ids, now, &case.subject, &message)?)
            }
            _ => event,
        };
        match self.store.decide_case(&case, &decision, outcome, event.as_ref(), &self.audit(op, &case, action, now)).await {
            Err(StoreError::Unique(_)) => Err(ReviewError::SameOperator),
            other => other.map_err(ReviewError::from),
        }?;
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// Asks the user for more information on a case this operator holds:
    /// the case waits for the user (released, out of the queue, its SLA
    /// answered) and the user gets an SMS saying so; both in one transaction.
    pub async fn request_info(&self, op: &OperatorRow, case_id: &CaseId, reason: InfoReason, note: &str) -> Result<CaseRow, ReviewError> {
        let case = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
        require(op, role_for(case.kind))?;
        ensure_open(&case)?;
        if matches!(case.kind, CaseKind::RiskFreeze | CaseKind::CardRisk | CaseKind::Revocation) {
            return Err(ReviewError::NothingToAsk);
        }
        if case.claimed_by.as_ref() != Some(&op.id) {
            return Err(ReviewError::NotHeld);
        }
        let now = self.clock.now();
        let seq = u32::try_from(case.requests.len()).unwrap_or(u32::MAX).saturating_add(1);
        // The note is about the user's documents: sealed under their key (P6),
        // so shredding it erases the note like the answer.
        let key = data_key::<ReviewError>(self.users, self.vault, &case.subject, &self.audit(op, &case, "review.seal_note", now)).await?;
        let request = InfoRequest {
            seq,
            operator_id: op.id.clone(),
            reason,
            note_cipher: self.vault.seal(&key, &note_context(&case.id, seq), note.as_bytes())?,
            requested_at: now,
            answer_cipher: None,
            answered_at: None,
            resent: None,
        };
        let message = UserMessage {
            template: INFO_REQUEST_TEMPLATE.to_owned(),
            params: vec![("reason".to_owned(), reason.as_str().to_owned()), ("kind".to_owned(), case.kind.as_str().to_owned())],
            actor: format!("operator:{}", op.id),
            purpose: format!("review {}", case.kind.as_str()),
            request_id: None,
        };
        let notice = user_sms::<ReviewError>(self.vault, self.ids, now, &case.subject, &message)?;
        let audit = self.audit(op, &case, "review.request_info", now);
        if !self.store.request_info(case_id, &request, &notice, &audit).await? {
            // Released, decided or asked by someone else meanwhile.
            let again = self.store.case(case_id).await?.ok_or(ReviewError::NotFound)?;
            ensure_open(&again)?;
            return Err(ReviewError::NotHeld);
        }
        self.store.case(case_id).await?.ok_or(ReviewError::NotFound)
    }

    /// The breach board: open cases past their first-response SLA, most
    /// overdue first, with how long overdue and whether escalated.
    pub async fn breach_board(&self, op: &OperatorRow, limit: u32) -> Result<Vec<Breach>, ReviewError> {
        if require(op, Role::Auditor).is_err() {
            require(op, Role::Reviewer)?;
        }
        let now = self.clock.now();
        let cases = self.store.breached_cases(now, limit).await?;
        Ok(cases.into_iter().map(|case| Breach { overdue: now.duration_since(case.sla_due_at), case }).collect())
    }
}

/// A case on the breach board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub case: CaseRow,
    /// How long past its SLA.
    pub overdue: SignedDuration,
}

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

/// Escalates SLA breaches (issue 13): each breached case pages the operators
/// on duty who may act on it, through one outbox event, exactly once per
/// case (the case is marked escalated in the event's transaction).
pub struct Escalations<'a> {
    pub reviews: &'a dyn ReviewStore,
    pub operators: &'a dyn OperatorStore,
    pub vault: &'a Vault,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
}

impl Escalations<'_> {
    /// Escalates every breached case not escalated yet; answers how many this call escalated.
    pub async fn run(&self) -> Result<u64, EscalationError> {
        let now = self.clock.now();
        let pending: Vec<CaseRow> = self.reviews.breached_cases(now, 500).await?.into_iter().filter(|c| c.escalated_at.is_none()).collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let on_duty: Vec<OperatorRow> = self.operators.operators().await?.into_iter().filter(|o| o.on_duty).collect();
        let mut escalated = 0;
        for case in &pending {
            let paged: Vec<_> = on_duty.iter().filter(|o| require(o, role_for(case.kind)).is_ok()).map(|o| o.id.clone()).collect();
            let who = paged.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let event = breach_event::<EscalationError>(self.vault, self.ids, now, case, paged)?;
            let purpose = format!(
                "review {} past its SLA ({}); paged: {}",
                case.kind.as_str(),
                case.id,
                if who.is_empty() { "nobody on duty" } else { &who }
            );
            let audit = AuditEntry::new("system:sla", "review.escalate", purpose, now).subject(&case.subject);
            if self.reviews.escalate_case(&case.id, now, &event, &audit).await? {
                escalated += 1;
                metrics::counter!("idlink_review_sla_escalations_total", "kind" => case.kind.as_str()).increment(1);
            }
        }
        Ok(escalated)
    }
}

/// What a user's answer to a request for more information may fail on.
#[derive(Debug, thiserror::Error)]
pub enum InfoAnswerError {
    /// No case of this user waits for an answer about this verification or guardian link.
    #[error("nothing of yours waits for more information here")]
    NoOpenRequest,
    /// The document number sent again is not one of the case's document type.
    #[error("the document number is not valid for this document: {0}")]
    InvalidDocument(String),
    /// A resident ID number cannot change in an answer: it takes a new verification (registry check).
    #[error("a resident ID number cannot be changed in an answer: start a new verification")]
    ResidentIdResent,
    /// The document number sent again is another user's verified identity.
    #[error("this document number is bound to another identity")]
    DocumentNumberTaken,
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the user sends back besides words.
#[derive(Debug, Clone)]
pub enum Resent {
    Nothing,
    /// The document's number (and, for documents other than the resident ID, its birth date) again.
    Document {
        number: String,
        birth_date: Option<jiff::civil::Date>,
    },
    /// A new reference to the guardian evidence.
    Evidence(String),
}

/// A request for more information as its user reads it: with the operator's note opened.
#[derive(Debug, Clone)]
pub struct UserRequest {
    pub request: InfoRequest,
    pub note: String,
}

/// What is asked about: the user's verification, or a guardian link where they are the minor.
#[derive(Debug, Clone)]
pub enum Asked {
    Verification(VerificationId),
    Guardianship(GuardianshipId),
}

/// The user's side of a request for more information: seeing it, answering it.
pub struct InfoAnswers<'a> {
    pub reviews: &'a dyn ReviewStore,
    pub identities: &'a dyn IdentityStore,
    pub guardians: &'a dyn GuardianStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
}

impl InfoAnswers<'_> {
    /// The case of `user` about `asked`, if it exists and is theirs.
    async fn case_of(&self, user: &UserId, asked: &Asked) -> Result<Option<CaseRow>, InfoAnswerError> {
        let (kind, reference) = match asked {
            Asked::Verification(id) => {
                if self.identities.verification(id, user).await?.is_none() {
                    return Ok(None);
                }
                (CaseKind::Verification, id.as_str())
            }
            Asked::Guardianship(id) => {
                if self.guardians.guardianship(id).await?.is_none_or(|g| g.minor != *user) {
                    return Ok(None);
                }
                (CaseKind::Guardian, id.as_str())
            }
        };
        Ok(self.reviews.case_for(kind, reference).await?.filter(|c| c.subject == *user))
    }

    /// Opens the operator's notes of `requests` on `case` for the user
    /// themselves (their own data; the key read is audited).
    async fn with_notes(&self, user: &UserId, case: &CaseRow, requests: Vec<InfoRequest>) -> Result<Vec<UserRequest>, InfoAnswerError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let audit = AuditEntry::new(format!("user:{user}"), "review.read_note", format!("review {}", case.kind.as_str()), self.clock.now())
            .subject(user);
        let key = data_key::<InfoAnswerError>(self.users, self.vault, user, &audit).await?;
        requests
            .into_iter()
            .map(|r| {
                Ok(UserRequest { note: open_text::<InfoAnswerError>(&key, &note_context(&case.id, r.seq), &r.note_cipher)?, request: r })
            })
            .collect()
    }

    /// Everything the user is asked and has not answered yet: what about, and the request.
    pub async fn waiting(&self, user: &UserId) -> Result<Vec<(Asked, UserRequest)>, InfoAnswerError> {
        let mut out = Vec::new();
        for case in self.reviews.waiting_for(user).await? {
            let asked = match case.kind {
                CaseKind::Verification => VerificationId::parse(&case.reference).ok().map(Asked::Verification),
                CaseKind::Guardian => GuardianshipId::parse(&case.reference).ok().map(Asked::Guardianship),
                CaseKind::RiskFreeze | CaseKind::CardRisk | CaseKind::Revocation => None,
            };
            if let (Some(asked), Some(r)) = (asked, case.open_request()) {
                for shown in self.with_notes(user, &case, vec![r.clone()]).await? {
                    out.push((asked.clone(), shown));
                }
            }
        }
        Ok(out)
    }

    /// The request the user has to answer about `asked`, if any.
    pub async fn open_request(&self, user: &UserId, asked: &Asked) -> Result<Option<UserRequest>, InfoAnswerError> {
        let Some(case) = self.case_of(user, asked).await? else {
            return Ok(None);
        };
        let open = Vec::from_iter(case.open_request().cloned());
        Ok(self.with_notes(user, &case, open).await?.pop())
    }

    /// Answers the open request about `asked`: the words, and what is sent
    /// again; the case goes back in the queue with a new SLA as long as the first.
    pub async fn answer(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        asked: &Asked,
        text: &str,
        resent: &Resent,
    ) -> Result<UserRequest, InfoAnswerError> {
        let user = &session.user_id;
        let case = self.case_of(user, asked).await?.ok_or(InfoAnswerError::NoOpenRequest)?;
        let request = case.open_request().ok_or(InfoAnswerError::NoOpenRequest)?;
        let now = self.clock.now();
        let audit = |action: &str| {
            AuditEntry::new(format!("user:{user}"), action, format!("review {}", case.kind.as_str()), now).subject(user).request(rid)
        };
        // One read of the user's key seals the words (and a document sent again).
        let sends_document = matches!((resent, asked), (Resent::Document { .. }, Asked::Verification(_)));
        let key_read = if sends_document { "identity.collect" } else { "review.collect_answer" };
        let key = data_key::<InfoAnswerError>(self.users, self.vault, user, &audit(key_read)).await?;
        let answer_cipher = self.vault.seal(&key, &answer_context(&case.id, request.seq), text.as_bytes())?;
        let change = match (resent, asked) {
            (Resent::Nothing, _) => AnswerChange::Nothing,
            (Resent::Evidence(evidence_ref), Asked::Guardianship(_)) => AnswerChange::Evidence { evidence_ref: evidence_ref.clone() },
            (Resent::Document { number, birth_date }, Asked::Verification(id)) => {
                let v = self.identities.verification(id, user).await?.ok_or(InfoAnswerError::NoOpenRequest)?;
                if v.status != VerificationStatus::Review {
                    return Err(InfoAnswerError::NoOpenRequest);
                }
                // A resident ID is checked against the registry (three elements) when
                // the verification starts: a new number needs a new verification.
                if v.document_type == DocumentType::ResidentId {
                    return Err(InfoAnswerError::ResidentIdResent);
                }
                let clear = number.trim().to_ascii_uppercase();
                if clear.is_empty() || clear.chars().count() > 32 {
                    return Err(InfoAnswerError::InvalidDocument("empty or too long".to_owned()));
                }
                let index = document_index(self.vault, v.document_type, &clear);
                // The same rule as at verification: one identity per document number.
                if self.identities.identity_owner(&index).await?.is_some_and(|owner| owner != *user) {
                    return Err(InfoAnswerError::DocumentNumberTaken);
                }
                let birth_cipher = match birth_date {
                    Some(b) => Some(self.vault.seal(&key, BIRTH_CONTEXT, b.to_string().as_bytes())?),
                    None => None,
                };
                AnswerChange::Document { id_cipher: self.vault.seal(&key, ID_CONTEXT, clear.as_bytes())?, id_index: index, birth_cipher }
            }
            // Sent to the wrong kind of case: only the words count.
            _ => AnswerChange::Nothing,
        };
        let length = case.sla_due_at.duration_since(case.sla_started_at());
        let answer = InfoAnswer {
            case: &case,
            seq: request.seq,
            answer_cipher,
            at: now,
            sla_due_at: now.checked_add(length).unwrap_or(now),
            change,
        };
        // A resent document or evidence is named in the record: the reviewers see only masks.
        let mut answer_audit = audit("review.answer_info");
        match &answer.change {
            AnswerChange::Document { .. } => answer_audit.purpose.push_str(": document number resent"),
            AnswerChange::Evidence { .. } => answer_audit.purpose.push_str(": evidence resent"),
            AnswerChange::Nothing => {}
        }
        if !self.reviews.answer_info(&answer, &answer_audit).await? {
            return Err(InfoAnswerError::NoOpenRequest);
        }
        let after = self.reviews.case(&case.id).await?.ok_or(InfoAnswerError::NoOpenRequest)?;
        let request = after.requests.into_iter().find(|r| r.seq == answer.seq).ok_or(InfoAnswerError::NoOpenRequest)?;
        let note = open_text::<InfoAnswerError>(&key, &note_context(&case.id, request.seq), &request.note_cipher)?;
        Ok(UserRequest { request, note })
    }
}
