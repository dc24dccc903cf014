//! The credit report (SPEC CR1–CR5, issue 15): quote, request, verify,
//! fetch from the bureau, follow, and download through a signed link.
//!
//! A request is made after a step-up for [`crate::stepup::CREDIT_REPORT`]
//! (its resource the user's own id), at the price quoted: the store opens
//! it free or paid in the same transaction and refuses a second one under
//! way (`ports::credit`). The user then proves who they are; a passed face
//! check moves the request to `fetching` and the bureau is asked at once,
//! keyed by the request's id so asking again never makes a second query.
//! The bureau's answer moves it on (`idlink_domain::credit_request`): a
//! report is sealed under the user's data key (C2) with its rendered PDF;
//! a held query waits `in_review` for an operator.
//!
//! The download link names the request and an expiry and carries a MAC over
//! them and the session that asked for it (keyed by the vault's blind-index
//! key, domain `credit-report-link`), so it opens only in that session,
//! only until it expires, and never for a third-party app's token (which
//! is not a user session). Every download is counted and audited.
//!
//! Verification is by face, by a bank card the user bound (the bank sends
//! its code to the card's reserved phone and the user types it back), or by
//! a digital certificate the user registered, signing a one-time challenge
//! (`crate::certificates`; not on first use: an earlier request must have
//! passed by face or card). A paid request (past the free quota) first
//! waits for its payment through the host app's cashier (`ports::cashier`),
//! created keyed by the request's id so one request is charged once; a paid
//! request that ends `rejected` or `failed` is refunded, at once or by the
//! follow-up job. The user is told by SMS, through the outbox in the
//! transaction that makes it ready, when the report is ready.

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::bindings::{BankChannel, BankCode, BankUnavailable, BindingStatus, BindingStore};
use crate::ports::bureau::{BureauAnswer, BureauUnavailable, CreditBureau};
use crate::ports::cashier::{Cashier, Order, PaymentStatus, PaymentUnavailable};
use crate::ports::certificates::CertificateStore;
use crate::ports::clock::Clock;
use crate::ports::credit::{CreditRequestRow, CreditStore, Move, NewCreditRequest, Opened};
use crate::ports::face::{FaceResult, FaceUnavailable};
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use crate::ports::stepup::{Binding, StepUpStore};
use crate::ports::users::UserStore;
use crate::steps::cards::open_card;
use crate::steps::codes::constant_time_eq;
use crate::steps::notices::{UserMessage, user_sms};
use crate::steps::personal::{Unreadable, data_key, open_identity};
use crate::stepup::{self, StepUpRefusal};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::{shanghai, shanghai_display, shanghai_today};
use idlink_domain::consent::ConsentKind;
use idlink_domain::credit_report::CreditReport;
use idlink_domain::credit_request::{self, Quote, RequestEvent, RequestState, TransitionError};
use idlink_domain::{BindingId, CreditRequestId, Fen, PhoneNumber, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

const REPORT_CONTEXT: &str = "credit_requests.report";
const PDF_CONTEXT: &str = "credit_requests.pdf";
const LINK_DOMAIN: &str = "credit-report-link";
const PURPOSE: &str = "credit report";
/// A credit report is asked in the name of the verified ID number: both
/// consents (issue 18); alerts need the same.
pub const CREDIT_CONSENTS: [ConsentKind; 2] = [ConsentKind::CreditReport, ConsentKind::IdNumber];
/// The card step sends a bank card to its bank too.
const CARD_STEP_CONSENTS: [ConsentKind; 3] = [ConsentKind::CreditReport, ConsentKind::IdNumber, ConsentKind::BankCard];
/// What the payer sees on the cashier's page.
const PAYMENT_DESCRIPTION: &str = "个人信用报告查询费";
/// How long a paid request waits for its payment before it expires.
pub const PAYMENT_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// How long an unpaid request waits for a cashier that does not answer
/// (its payment cannot be cancelled) before it ends all the same.
pub const PAYMENT_GIVE_UP: SignedDuration = SignedDuration::from_hours(24);
/// The SMS template telling a user their report is ready.
pub const READY_TEMPLATE: &str = "credit_report_ready";

/// Whether the cashier's payment is this request's, at its fee.
fn payment_is_for(p: &crate::ports::cashier::Payment, row: &CreditRequestRow) -> bool {
    p.merchant_ref == row.id.as_str() && p.amount == row.fee
}

/// `[credit_report]` of the configuration.
#[derive(Debug, Clone)]
pub struct CreditPolicy {
    /// Free reports per calendar year (Asia/Shanghai).
    pub free_per_year: u32,
    /// The fee of each further report.
    pub fee: Fen,
    /// How long an operator has to review a held request.
    pub review_sla: SignedDuration,
    /// How long a download link works.
    pub link_ttl: SignedDuration,
}

impl Default for CreditPolicy {
    fn default() -> Self {
        Self { free_per_year: 2, fee: Fen(2_500), review_sla: SignedDuration::from_hours(24), link_ttl: SignedDuration::from_hours(24) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    #[error("verify your real-name identity (resident ID card) first")]
    NotVerified,
    #[error("the credit report is available from the age of 18")]
    Minor,
    #[error("step-up required: {0:?}")]
    StepUpRequired(StepUpRefusal),
    #[error("another credit-report request is under way")]
    Busy,
    #[error("the price changed: this request now costs {0} fen")]
    QuoteChanged(Fen),
    /// The cashier could not take the payment: nothing was charged, the request ended.
    #[error(transparent)]
    Payment(#[from] PaymentUnavailable),
    /// No cashier is configured: only free reports are offered.
    #[error("paid reports are not offered on this server")]
    PaymentNotOffered,
    #[error("the request waits for its payment")]
    AwaitingPayment,
    /// Not a card the user bound (or no longer bound).
    #[error("no such bound card")]
    CardNotBound,
    #[error("the bank has another phone on record for this card")]
    ReservedPhoneMismatch,
    #[error("the bank did not accept the code")]
    CodeRefused,
    #[error("no bank code was sent for this request")]
    NoCodeSent,
    #[error(transparent)]
    Bank(#[from] BankUnavailable),
    /// A certificate cannot be the first verification (SPEC CR1).
    #[error("verify by face or by a bound card once before using a certificate")]
    CertificateNotYet,
    #[error("no such active certificate of yours")]
    CertificateNotRegistered,
    #[error("ask for a challenge first")]
    NoChallenge,
    #[error("the challenge expired; ask for a new one")]
    ChallengeExpired,
    #[error(transparent)]
    CertificateRefused(#[from] idlink_crypto::certificates::CertError),
    #[error("no such credit-report request")]
    NotFound,
    #[error("the request is {0:?} and takes no verification")]
    NotAwaitingVerification(RequestState),
    #[error("the face check did not pass: {0:?}")]
    FaceRefused(FaceResult),
    #[error("the download link is not valid for this session")]
    LinkInvalid,
    #[error("the download link has expired; ask for a new one")]
    LinkExpired,
    #[error("the report is not ready")]
    NotReady,
    /// Ready once, then its files were purged by retention (`retention.credit_file_days`).
    #[error("the report's files were deleted at the end of their retention; ask for a new report")]
    Purged,
    #[error("the request is not waiting for a review")]
    NotInReview,
    /// A move the state machine does not allow: a defect, never the user's doing.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Role(#[from] RoleRequired),
    #[error(transparent)]
    Face(#[from] FaceUnavailable),
    #[error(transparent)]
    Bureau(#[from] BureauUnavailable),
    #[error("the report could not be rendered: {0}")]
    Render(String),
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

/// Failed verifications a request allows; the last one ends it `failed`.
pub const MAX_VERIFICATION_ATTEMPTS: u32 = 3;

/// How long the bureau may take before a request fails (and a paid one is refunded).
pub const FETCH_DEADLINE: SignedDuration = SignedDuration::from_hours(24);

/// What one follow-up pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUp {
    /// Requests the bureau was asked about again.
    pub asked: u32,
    /// Of those, now ready.
    pub ready: u32,
    /// Requests that failed: unverified past their time, or the bureau past its deadline.
    pub failed: u32,
    /// Paid requests refunded.
    pub refunded: u32,
}

/// What a user sees of a request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: CreditRequestId,
    pub state: RequestState,
    /// Why it was rejected or failed, or why it waits.
    pub reason: Option<String>,
    /// When the current state is expected to end.
    pub expected_at: Option<Timestamp>,
    pub free: bool,
    pub fee_fen: i64,
    pub method: Option<String>,
    pub pages: Option<u32>,
    pub downloads: u32,
    pub created_at: Timestamp,
    pub ready_at: Option<Timestamp>,
    /// The cashier's payment of a paid request, when it was paid, and when it was refunded.
    pub payment_id: Option<String>,
    pub paid_at: Option<Timestamp>,
    pub refunded_at: Option<Timestamp>,
    /// Where the host app sends its user to pay (in the answer that created the payment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

impl From<&CreditRequestRow> for RequestView {
    fn from(r: &CreditRequestRow) -> Self {
        Self {
            id: r.id.clone(),
            state: r.state,
            reason: r.reason.clone(),
            expected_at: r.expected_at,
            free: r.free,
            fee_fen: r.fee.0,
            method: r.method.clone(),
            pages: r.pages,
            downloads: r.downloads,
            created_at: r.created_at,
            ready_at: r.ready_at,
            payment_id: r.payment_id.clone(),
            paid_at: r.paid_at,
            refunded_at: r.refunded_at,
            checkout_url: None,
        }
    }
}

/// The quote: what the next request costs.
#[derive(Debug, Clone, Serialize)]
pub struct QuoteView {
    pub year: i16,
    pub free_per_year: u32,
    pub free_left: u32,
    pub fee_fen: i64,
}

/// A challenge to sign with a registered certificate's key.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateChallenge {
    /// The exact bytes to sign (UTF-8), ECDSA P-256 with SHA-256.
    pub message: String,
    pub fingerprint: String,
    pub expires_at: Timestamp,
}

/// How long a certificate challenge may be answered.
pub const CHALLENGE_TTL: SignedDuration = SignedDuration::from_secs(120);

/// The bytes a certificate signs: bound to the request, the challenge's
/// nonce, the certificate and the expiry.
fn challenge_message(request: &CreditRequestId, nonce: &str, fingerprint: &str, exp: i64) -> String {
    format!("idlink-cr-v1\n{request}\n{nonce}\n{fingerprint}\n{exp}")
}

/// A download link: the path with its expiry and MAC.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadLink {
    pub path: String,
    pub expires_at: Timestamp,
}

/// The acting user's session and request.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub session: &'a SessionRow,
    pub request_id: Option<&'a RequestId>,
}

impl Actor<'_> {
    fn user(&self) -> &UserId {
        &self.session.user_id
    }

    fn audit(&self, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(format!("user:{}", self.session.user_id), action, PURPOSE, at)
            .subject(&self.session.user_id)
            .request(self.request_id)
    }
}

/// The credit-report use cases.
pub struct CreditReports<'a> {
    /// A credit report needs the credit-report consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
    pub requests: &'a dyn CreditStore,
    pub identities: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub step_ups: &'a dyn StepUpStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub bureau: &'a dyn CreditBureau,
    /// The face check, behind the face consent.
    pub face: crate::consents::ConsentedFace<'a>,
    /// The user's bound cards and their banks' codes (verification by bank card).
    pub bindings: &'a dyn BindingStore,
    pub bank: &'a dyn BankChannel,
    /// The host app's payment connector.
    pub cashier: &'a dyn Cashier,
    /// Registered certificates and the CAs they must chain to.
    pub certificates: &'a dyn CertificateStore,
    pub cas: &'a idlink_crypto::certificates::TrustedCas,
    pub policy: &'a CreditPolicy,
}

/// Where `event` takes a request that is in one of `from`, by the domain's
/// state machine (`idlink_domain::credit_request`), which every state of
/// `from` must agree on: the store then applies it only if the request is
/// still in one of them.
fn target(from: &[RequestState], event: RequestEvent) -> Result<RequestState, CreditError> {
    let mut to = None;
    for state in from {
        let next = state.next(event)?;
        if to.is_some_and(|t| t != next) {
            return Err(TransitionError { from: *state, event }.into());
        }
        to = Some(next);
    }
    to.ok_or(CreditError::NotFound)
}

fn year_of(now: Timestamp) -> i16 {
    now.to_zoned(shanghai()).year()
}

impl CreditReports<'_> {
    pub async fn quote(&self, user: &UserId) -> Result<QuoteView, CreditError> {
        let year = year_of(self.clock.now());
        let used = self.requests.free_reports_used(user, year).await?;
        let Quote { free_left, fee } = credit_request::quote(used, self.policy.free_per_year, self.policy.fee);
        Ok(QuoteView { year, free_per_year: self.policy.free_per_year, free_left, fee_fen: fee.0 })
    }

    /// Opens a request at the price the user accepted, after the step-up.
    pub async fn request(&self, actor: &Actor<'_>, step_up: Option<&str>, accepted_fee: Fen) -> Result<RequestView, CreditError> {
        let now = self.clock.now();
        let user = actor.user();
        // The consents first: the age check reads the ID number.
        self.consent.check_all::<CreditError>(user, &CREDIT_CONSENTS).await?;
        self.ensure_adult(user, now).await?;
        // What the store would refuse is refused before the step-up token is spent.
        let quote = self.quote(user).await?;
        if quote.fee_fen != accepted_fee.0 {
            return Err(CreditError::QuoteChanged(Fen(quote.fee_fen)));
        }
        if accepted_fee > Fen::ZERO && !self.cashier.offered() {
            return Err(CreditError::PaymentNotOffered);
        }
        if self.requests.credit_requests_of(user, 1).await?.first().is_some_and(|r| !r.state.is_final()) {
            return Err(CreditError::Busy);
        }
        let binding = Binding { user, operation: stepup::CREDIT_REPORT, resource: user.as_str() };
        let spent = match step_up {
            Some(token) => stepup::spend(self.step_ups, self.clock, token, &binding).await?,
            None => false,
        };
        if !spent {
            return Err(CreditError::StepUpRequired(stepup::refusal(self.step_ups, self.clock, step_up, &binding).await?));
        }
        let new = NewCreditRequest {
            id: CreditRequestId::from_random(self.ids.entropy()),
            user_id: user.clone(),
            year: year_of(now),
            free_per_year: self.policy.free_per_year,
            fee: self.policy.fee,
            accepted_fee,
            expected_at: self.expected(RequestState::Requested, now),
            at: now,
        };
        let row = match self.requests.open_credit_request(&new, &actor.audit("credit_report.request", now)).await? {
            Opened::Opened(row) => row,
            Opened::Busy => return Err(CreditError::Busy),
            Opened::QuoteChanged { fee } => return Err(CreditError::QuoteChanged(fee)),
        };
        if row.fee > Fen::ZERO { self.charge(&row).await } else { Ok(RequestView::from(row.as_ref())) }
    }

    /// Creates the payment of a paid request with the cashier, keyed by the
    /// request's id (so it is created once however often this runs); the
    /// request then waits for it. A cashier that cannot take it ends the
    /// request (nothing was charged) and says so.
    async fn charge(&self, row: &CreditRequestRow) -> Result<RequestView, CreditError> {
        let order =
            Order { merchant_ref: row.id.as_str(), amount: row.fee, description: PAYMENT_DESCRIPTION, payer_ref: row.user_id.as_str() };
        let created = self.cashier.create(&order).await;
        let now = self.clock.now();
        let system = |action: &str| AuditEntry::new("system", action, PURPOSE, now).subject(&row.user_id);
        let requested = [RequestState::Requested];
        let payment = match created {
            Ok(p) if payment_is_for(&p, row) => p,
            outcome => {
                let m = Move { reason: Some("payment_unavailable"), ..Move::default() };
                let to = target(&requested, RequestEvent::Failed)?;
                self.requests.move_credit_request(&row.id, &requested, to, &m, now, &system("credit_report.failed")).await?;
                return Err(match outcome {
                    Err(e) => e.into(),
                    // A payment for another reference or amount is a cashier defect: never paid, never used.
                    Ok(_) => PaymentUnavailable { retry_after_secs: 60, expected_end: None }.into(),
                });
            }
        };
        let waiting = Move {
            reason: Some("awaiting_payment"),
            payment_id: Some(&payment.id),
            expected_at: now.checked_add(PAYMENT_WINDOW).ok(),
            ..Move::default()
        };
        let audit = system("credit_report.payment_created");
        if !self.requests.move_credit_request(&row.id, &requested, RequestState::Requested, &waiting, now, &audit).await? {
            // Only this call knows the new request; should it have moved anyway, a callback still finds it by its id.
            tracing::warn!(request = %row.id, "a new paid request moved before its payment was noted");
        }
        if payment.status == PaymentStatus::Succeeded {
            self.record_payment(&row.id, &payment.id, "cashier").await?;
        }
        let row = self.requests.credit_request(&row.id).await?.ok_or(CreditError::NotFound)?;
        Ok(RequestView { checkout_url: payment.checkout_url, ..RequestView::from(&row) })
    }

    async fn record_payment(&self, id: &CreditRequestId, payment_id: &str, by: &str) -> Result<bool, CreditError> {
        let now = self.clock.now();
        let Some(row) = self.requests.credit_request(id).await? else { return Err(CreditError::NotFound) };
        let audit = AuditEntry::new(by, "credit_report.paid", PURPOSE, now).subject(&row.user_id);
        let expected = self.expected(RequestState::Requested, now);
        let recorded = self.requests.record_credit_payment(id, payment_id, expected, now, &audit).await?;
        if recorded && row.state.is_final() {
            // Paid after the request ended (it expired waiting): the payment goes back.
            self.refund_due(id).await?;
        }
        Ok(recorded)
    }

    /// The cashier's signed word on a payment (its callback, checked at the
    /// boundary): a success lets the request go on to verification (or, if
    /// it ended meanwhile, is refunded), a failure ends a request still
    /// waiting for it. `None` if no request has this payment at this amount.
    pub async fn payment_update(
        &self,
        merchant_ref: &str,
        payment_id: &str,
        amount: Fen,
        status: PaymentStatus,
    ) -> Result<Option<RequestView>, CreditError> {
        let Ok(id) = CreditRequestId::parse(merchant_ref) else { return Ok(None) };
        let Some(row) = self.requests.credit_request(&id).await? else { return Ok(None) };
        // A request that never learnt its payment's id (the cashier's answer was lost) takes it now.
        if row.payment_id.as_deref().is_some_and(|p| p != payment_id) || row.fee != amount || row.fee == Fen::ZERO {
            return Ok(None);
        }
        match status {
            PaymentStatus::Succeeded => {
                self.record_payment(&id, payment_id, "cashier").await?;
            }
            PaymentStatus::Failed if row.awaiting_payment() => {
                let now = self.clock.now();
                let audit = AuditEntry::new("cashier", "credit_report.failed", PURPOSE, now).subject(&row.user_id);
                let waiting = [RequestState::Requested];
                let m = Move { reason: Some("payment_failed"), unpaid_only: true, ..Move::default() };
                self.requests.move_credit_request(&id, &waiting, target(&waiting, RequestEvent::Failed)?, &m, now, &audit).await?;
            }
            PaymentStatus::Failed | PaymentStatus::Pending | PaymentStatus::Refunded => {}
        }
        let row = self.requests.credit_request(&id).await?.ok_or(CreditError::NotFound)?;
        Ok(Some(RequestView::from(&row)))
    }

    /// Refunds the request if it is paid, ended without a report and not
    /// refunded yet. A cashier outage leaves it to the follow-up job.
    async fn refund_due(&self, id: &CreditRequestId) -> Result<bool, CreditError> {
        let Some(row) = self.requests.credit_request(id).await? else { return Ok(false) };
        let paid = if row.paid_at.is_some() { row.fee } else { Fen::ZERO };
        let (true, None, Some(payment_id)) = (credit_request::refund_due(row.state, paid), row.refunded_at, row.payment_id.as_deref())
        else {
            return Ok(false);
        };
        let reason = row.reason.as_deref().unwrap_or("no_report");
        let now = self.clock.now();
        let refund = match self.cashier.refund(payment_id, row.id.as_str(), row.fee, reason).await {
            Ok(r) => r,
            Err(e) => {
                // To the back of the queue: a refund the cashier keeps refusing never holds up the others.
                tracing::warn!(request = %row.id, error = %e, "the refund waits for the cashier; the follow-up job asks again");
                self.requests.defer_credit_refund(id, now).await?;
                return Ok(false);
            }
        };
        let audit = AuditEntry::new("system", "credit_report.refunded", PURPOSE, now).subject(&row.user_id);
        Ok(self.requests.record_credit_refund(id, &refund.id, now, &audit).await?)
    }

    async fn ensure_adult(&self, user: &UserId, now: Timestamp) -> Result<(), CreditError> {
        let row = self
            .identities
            .identity(user)
            .await?
            .filter(|i| i.document_type == DocumentType::ResidentId)
            .ok_or(CreditError::NotVerified)?;
        let audit = AuditEntry::new(format!("user:{user}"), "identity.read", PURPOSE, now).subject(user);
        let opened = open_identity::<CreditError>(self.users, self.vault, user, &audit, &row.name_cipher, &row.id_cipher).await?;
        let today = shanghai_today(now);
        if idlink_domain::idnumber::is_minor(opened.resident_id(today)?.age_on(today)) {
            return Err(CreditError::Minor);
        }
        Ok(())
    }

    async fn own(&self, user: &UserId, id: &str) -> Result<CreditRequestRow, CreditError> {
        let Ok(id) = CreditRequestId::parse(id) else { return Err(CreditError::NotFound) };
        self.requests.credit_request(&id).await?.filter(|r| &r.user_id == user).ok_or(CreditError::NotFound)
    }

    pub async fn view(&self, user: &UserId, id: &str) -> Result<RequestView, CreditError> {
        Ok(RequestView::from(&self.own(user, id).await?))
    }

    pub async fn list(&self, user: &UserId) -> Result<Vec<RequestView>, CreditError> {
        Ok(self.requests.credit_requests_of(user, 50).await?.iter().map(RequestView::from).collect())
    }

    /// Refuses a verification of a request that does not take one now.
    fn awaiting_verification(row: &CreditRequestRow) -> Result<(), CreditError> {
        if !matches!(row.state, RequestState::Requested | RequestState::Verifying) {
            return Err(CreditError::NotAwaitingVerification(row.state));
        }
        if row.awaiting_payment() {
            return Err(CreditError::AwaitingPayment);
        }
        Ok(())
    }

    /// Counts a failed verification; the last allowed one ends the request
    /// (its free report comes back; a paid one is refunded).
    async fn verification_failed(&self, actor: &Actor<'_>, row: &CreditRequestRow, code: &str, method: &str) -> Result<(), CreditError> {
        let now = self.clock.now();
        // Still waiting for a verification, for as long as a new one may take.
        let expected = self.expected(RequestState::Verifying, now);
        let failed = Move { reason: Some(code), method: Some(method), expected_at: expected, failed_attempt: true, ..Move::default() };
        let audit = actor.audit("credit_report.verification_failed", now);
        let from = [RequestState::Requested, RequestState::Verifying];
        let last = row.attempts + 1 >= MAX_VERIFICATION_ATTEMPTS;
        let (to, failed) = if last {
            (target(&from, RequestEvent::VerificationFailed)?, Move { reason: Some("verification_failed"), expected_at: None, ..failed })
        } else {
            (target(&from, RequestEvent::VerificationStarted)?, failed)
        };
        if self.requests.move_credit_request(&row.id, &from, to, &failed, now, &audit).await? && last {
            self.refund_due(&row.id).await?;
        }
        Ok(())
    }

    /// A passed verification: the request fetches and the bureau is asked at once.
    async fn verified(&self, actor: &Actor<'_>, row: &CreditRequestRow, method: &str) -> Result<RequestView, CreditError> {
        let now = self.clock.now();
        let expected = self.expected(RequestState::Fetching, now);
        let verified = Move { method: Some(method), expected_at: expected, ..Move::default() };
        let from = [RequestState::Requested, RequestState::Verifying];
        let to = target(&from, RequestEvent::Verified)?;
        if !self.requests.move_credit_request(&row.id, &from, to, &verified, now, &actor.audit("credit_report.verified", now)).await? {
            return Err(CreditError::NotAwaitingVerification(self.state_of(&row.id).await?));
        }
        self.fetch_now(&row.id).await?;
        Ok(RequestView::from(&self.requests.credit_request(&row.id).await?.ok_or(CreditError::NotFound)?))
    }

    /// Verification by face; a pass asks the bureau at once.
    pub async fn verify_face(&self, actor: &Actor<'_>, id: &str, liveness_video: &str) -> Result<RequestView, CreditError> {
        let row = self.own(actor.user(), id).await?;
        Self::awaiting_verification(&row)?;
        self.consent.check_all::<CreditError>(actor.user(), &CREDIT_CONSENTS).await?;
        let result = self.face.verify::<CreditError>(actor.user(), liveness_video).await?;
        if let Some((code, _)) = result.reason() {
            self.verification_failed(actor, &row, code, "face").await?;
            return Err(CreditError::FaceRefused(result));
        }
        self.verified(actor, &row, "face").await
    }

    /// One of the user's bound cards, still active, and its number (an audited read of the user's key).
    async fn active_card(
        &self,
        actor: &Actor<'_>,
        id: &BindingId,
    ) -> Result<(crate::ports::bindings::BindingRow, idlink_domain::card::CardNumber), CreditError> {
        let binding = self
            .bindings
            .binding(id, actor.user())
            .await?
            .filter(|b| b.status == BindingStatus::Active)
            .ok_or(CreditError::CardNotBound)?;
        let key = data_key::<CreditError>(self.users, self.vault, actor.user(), &actor.audit("card.read", self.clock.now())).await?;
        let card = open_card::<CreditError>(&key, &binding)?;
        Ok((binding, card))
    }

    /// Verification by a bank card the user bound, first half: the card's
    /// bank sends its code to the reserved phone the user names (a phone the
    /// bank does not have for the card counts as a failed attempt).
    pub async fn start_card(
        &self,
        actor: &Actor<'_>,
        id: &str,
        binding_id: &str,
        reserved_phone: &PhoneNumber,
    ) -> Result<RequestView, CreditError> {
        let row = self.own(actor.user(), id).await?;
        Self::awaiting_verification(&row)?;
        // The card goes to its bank: the bank-card consent too.
        self.consent.check_all::<CreditError>(actor.user(), &CARD_STEP_CONSENTS).await?;
        let binding_id = BindingId::parse(binding_id).map_err(|_| CreditError::CardNotBound)?;
        let (binding, card) = self.active_card(actor, &binding_id).await?;
        let now = self.clock.now();
        // A new reference for every code sent, so a resend is a new code.
        let client_ref = format!("{}-{}", row.id, self.ids.event());
        let reference = match self.bank.send_code(&card, reserved_phone, &client_ref).await? {
            BankCode::Sent { reference } => reference,
            BankCode::PhoneMismatch => {
                self.verification_failed(actor, &row, "reserved_phone_mismatch", "bank_card").await?;
                return Err(CreditError::ReservedPhoneMismatch);
            }
        };
        let started = Move {
            method: Some("bank_card"),
            verify_binding: Some(&binding.id),
            verify_ref: Some(&reference),
            expected_at: self.expected(RequestState::Verifying, now),
            ..Move::default()
        };
        let from = [RequestState::Requested, RequestState::Verifying];
        let to = target(&from, RequestEvent::VerificationStarted)?;
        if !self.requests.move_credit_request(&row.id, &from, to, &started, now, &actor.audit("credit_report.card_code_sent", now)).await? {
            return Err(CreditError::NotAwaitingVerification(self.state_of(&row.id).await?));
        }
        self.view(actor.user(), id).await
    }

    /// Verification by bank card, second half: the bank's code; a pass asks the bureau at once.
    pub async fn confirm_card(&self, actor: &Actor<'_>, id: &str, code: &str) -> Result<RequestView, CreditError> {
        let row = self.own(actor.user(), id).await?;
        Self::awaiting_verification(&row)?;
        self.consent.check_all::<CreditError>(actor.user(), &CARD_STEP_CONSENTS).await?;
        let (Some(binding_id), Some(reference), Some("bank_card")) = (&row.verify_binding, &row.verify_ref, row.method.as_deref()) else {
            return Err(CreditError::NoCodeSent);
        };
        let (_, card) = self.active_card(actor, binding_id).await?;
        if !self.bank.verify_code(reference, &card, code).await? {
            self.verification_failed(actor, &row, "bank_code_wrong", "bank_card").await?;
            return Err(CreditError::CodeRefused);
        }
        self.verified(actor, &row, "bank_card").await
    }

    /// Verification by certificate, first half: a one-time challenge for one
    /// of the user's active certificates, after an earlier request passed
    /// its verification by face or by a bound card.
    pub async fn certificate_challenge(&self, actor: &Actor<'_>, id: &str, fingerprint: &str) -> Result<CertificateChallenge, CreditError> {
        let row = self.own(actor.user(), id).await?;
        Self::awaiting_verification(&row)?;
        self.consent.check_all::<CreditError>(actor.user(), &CREDIT_CONSENTS).await?;
        let earlier = self.requests.credit_requests_of(actor.user(), 100).await?;
        let history = earlier.iter().filter(|r| r.id != row.id).map(|r| (r.method.as_deref(), r.state));
        if !credit_request::certificate_allowed(history) {
            return Err(CreditError::CertificateNotYet);
        }
        let cert = self.certificates.certificate(fingerprint).await?.filter(|c| &c.user_id == actor.user() && c.active);
        let cert = cert.ok_or(CreditError::CertificateNotRegistered)?;
        let now = self.clock.now();
        let expires_at = now.checked_add(CHALLENGE_TTL).map_err(|_| CreditError::ChallengeExpired)?;
        let nonce = hex::encode(self.ids.entropy());
        let exp = expires_at.as_second();
        let reference = format!("{}:{nonce}:{exp}", cert.fingerprint);
        let started = Move {
            method: Some(credit_request::method::CERTIFICATE),
            verify_ref: Some(&reference),
            expected_at: self.expected(RequestState::Verifying, now),
            ..Move::default()
        };
        let from = [RequestState::Requested, RequestState::Verifying];
        let to = target(&from, RequestEvent::VerificationStarted)?;
        let audit = actor.audit("credit_report.certificate_challenge", now);
        if !self.requests.move_credit_request(&row.id, &from, to, &started, now, &audit).await? {
            return Err(CreditError::NotAwaitingVerification(self.state_of(&row.id).await?));
        }
        Ok(CertificateChallenge {
            message: challenge_message(&row.id, &nonce, &cert.fingerprint, exp),
            fingerprint: cert.fingerprint,
            expires_at,
        })
    }

    /// Verification by certificate, second half: the signature over the
    /// challenge by the certificate's key, the certificate still trusted and
    /// the user's. A bad signature counts as a failed attempt; a pass asks
    /// the bureau at once.
    pub async fn verify_certificate(&self, actor: &Actor<'_>, id: &str, signature: &[u8]) -> Result<RequestView, CreditError> {
        let row = self.own(actor.user(), id).await?;
        Self::awaiting_verification(&row)?;
        self.consent.check_all::<CreditError>(actor.user(), &CREDIT_CONSENTS).await?;
        let challenge = match (row.method.as_deref(), row.verify_ref.as_deref()) {
            (Some(credit_request::method::CERTIFICATE), Some(r)) => r.to_owned(),
            _ => return Err(CreditError::NoChallenge),
        };
        let mut parts = challenge.splitn(3, ':');
        let (Some(fingerprint), Some(nonce), Some(exp)) = (parts.next(), parts.next(), parts.next().and_then(|e| e.parse::<i64>().ok()))
        else {
            return Err(CreditError::NoChallenge);
        };
        let now = self.clock.now();
        if now.as_second() > exp {
            return Err(CreditError::ChallengeExpired);
        }
        let cert = self.certificates.certificate(fingerprint).await?.filter(|c| &c.user_id == actor.user() && c.active);
        let cert = cert.ok_or(CreditError::CertificateNotRegistered)?;
        let key = data_key::<CreditError>(self.users, self.vault, actor.user(), &actor.audit("certificate.read", now)).await?;
        let der = key.open(crate::certificates::CERT_CONTEXT, &cert.cert_cipher)?;
        // Still trusted now (expired, or its CA no longer trusted: refused, not counted against the user).
        idlink_crypto::certificates::check_client_cert(self.cas, &der, now.as_second(), &crate::certificates::holder_uri(actor.user()))?;
        let message = challenge_message(&row.id, nonce, fingerprint, exp);
        if let Err(e) = idlink_crypto::certificates::verify_signature(&der, message.as_bytes(), signature) {
            self.verification_failed(actor, &row, "certificate_signature_invalid", credit_request::method::CERTIFICATE).await?;
            return Err(e.into());
        }
        self.certificates.certificate_used(fingerprint, now).await?;
        self.verified(actor, &row, credit_request::method::CERTIFICATE).await
    }

    /// When a request entering `state` now is expected to leave it.
    fn expected(&self, state: RequestState, now: Timestamp) -> Option<Timestamp> {
        state.expected_wait(self.policy.review_sla).and_then(|w| now.checked_add(w).ok())
    }

    /// [`Self::fetch`] for callers that go on when the bureau is down or the
    /// user's consent is gone: the request stays `fetching` (with when it is
    /// asked again), which is not the caller's failure (`None`).
    async fn fetch_now(&self, id: &CreditRequestId) -> Result<Option<RequestState>, CreditError> {
        match self.fetch(id).await {
            Ok(state) => Ok(Some(state)),
            Err(CreditError::Bureau(_) | CreditError::Consent(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks the bureau about a request that is fetching (again, if it was
    /// processing or the bureau was down) and moves it on by the answer.
    pub async fn fetch(&self, id: &CreditRequestId) -> Result<RequestState, CreditError> {
        let Some(row) = self.requests.credit_request(id).await? else { return Err(CreditError::NotFound) };
        if row.state != RequestState::Fetching {
            return Ok(row.state);
        }
        // A consent withdrawn since the request: the bureau is not asked; the
        // request waits (and resumes if the user consents again before its deadline).
        self.consent.check_all::<CreditError>(&row.user_id, &CREDIT_CONSENTS).await?;
        let now = self.clock.now();
        let system = |action: &str| AuditEntry::new("system", action, PURPOSE, now).subject(&row.user_id);
        let identity = self.identities.identity(&row.user_id).await?.ok_or(CreditError::NotVerified)?;
        let read = system("identity.read");
        let opened =
            open_identity::<CreditError>(self.users, self.vault, &row.user_id, &read, &identity.name_cipher, &identity.id_cipher).await?;
        let id_number = opened.resident_id(shanghai_today(now))?;
        let answer = match &row.bureau_query_id {
            Some(q) => self.bureau.status(q).await,
            None => self.bureau.query(id.as_str(), &opened.name, &id_number).await,
        };
        let query = match answer {
            Ok(q) => q,
            Err(e) => {
                let retry = now.checked_add(SignedDuration::from_secs(i64::try_from(e.retry_after_secs).unwrap_or(60))).ok();
                // A stay, not a transition: the request keeps fetching, with when it is asked again.
                let waiting = Move { reason: Some("bureau_unavailable"), expected_at: retry, ..Move::default() };
                self.requests
                    .move_credit_request(
                        id,
                        &[RequestState::Fetching],
                        RequestState::Fetching,
                        &waiting,
                        now,
                        &system("credit_report.bureau_unavailable"),
                    )
                    .await?;
                return Err(e.into());
            }
        };
        let fetching = [RequestState::Fetching];
        let qid = Some(query.query_id.as_str());
        let (to, m, action) = match query.answer {
            BureauAnswer::Ready(report) if report.header.id_number != id_number.reveal() => {
                // Never seal someone else's report for this user: fail it and say so loudly.
                tracing::error!(request = %id, "the bureau answered with a report of another identity; the request fails");
                (
                    target(&fetching, RequestEvent::Failed)?,
                    Move { bureau_query_id: qid, reason: Some("report_mismatch"), ..Move::default() },
                    "credit_report.failed",
                )
            }
            BureauAnswer::Ready(report) => {
                let (report_cipher, pdf_cipher, pages) = self.seal(&row.user_id, &opened.name, &report, now).await?;
                // The user is told when it is ready, by SMS, if and only if it is.
                let message = UserMessage {
                    template: READY_TEMPLATE.to_owned(),
                    params: vec![("request".to_owned(), id.to_string())],
                    actor: "system".to_owned(),
                    purpose: "credit report ready".to_owned(),
                    request_id: None,
                };
                let notice = user_sms::<CreditError>(self.vault, self.ids, now, &row.user_id, &message)?;
                let m = Move {
                    bureau_query_id: qid,
                    report_cipher: Some(&report_cipher),
                    pdf_cipher: Some(&pdf_cipher),
                    pages: Some(pages),
                    notice: Some(&notice),
                    ..Move::default()
                };
                let ready = target(&fetching, RequestEvent::ReportReceived)?;
                let moved = self.requests.move_credit_request(id, &fetching, ready, &m, now, &system("credit_report.ready")).await?;
                return Ok(if moved { ready } else { self.state_of(id).await? });
            }
            // Processing and undocumented answers are stays: still fetching, asked again later.
            BureauAnswer::Processing { expected_ready_at } => (
                RequestState::Fetching,
                Move { bureau_query_id: qid, expected_at: expected_ready_at, ..Move::default() },
                "credit_report.processing",
            ),
            BureauAnswer::ReviewRequired { .. } => {
                let due = now.checked_add(self.policy.review_sla).ok();
                (
                    target(&fetching, RequestEvent::ReviewRequired)?,
                    Move { bureau_query_id: qid, reason: Some("manual_review"), expected_at: due, ..Move::default() },
                    "credit_report.in_review",
                )
            }
            BureauAnswer::Rejected { reason } => {
                let code = if reason == "identity_mismatch" { "identity_mismatch" } else { "rejected_by_bureau" };
                (
                    target(&fetching, RequestEvent::Refused)?,
                    Move { bureau_query_id: qid, reason: Some(code), ..Move::default() },
                    "credit_report.rejected",
                )
            }
            BureauAnswer::Pending { .. } => {
                let later = now.checked_add(SignedDuration::from_mins(1)).ok();
                (RequestState::Fetching, Move { bureau_query_id: qid, expected_at: later, ..Move::default() }, "credit_report.processing")
            }
        };
        let moved = self.requests.move_credit_request(id, &fetching, to, &m, now, &system(action)).await?;
        if moved && to.is_final() {
            self.refund_due(id).await?;
        }
        Ok(if moved { to } else { self.state_of(id).await? })
    }

    /// The requests the bureau holds for review, oldest first (role reviewer):
    /// each with its due time (the configured SLA from when it was held).
    pub async fn review_queue(&self, op: &OperatorRow) -> Result<Vec<RequestView>, CreditError> {
        require(op, Role::Reviewer)?;
        Ok(self.requests.credit_requests_in(&[RequestState::InReview], 200).await?.iter().map(RequestView::from).collect())
    }

    /// Paid requests that ended without a report and whose refund the
    /// cashier has not taken yet (role reviewer): what operators chase.
    pub async fn refunds_waiting(&self, op: &OperatorRow) -> Result<Vec<RequestView>, CreditError> {
        require(op, Role::Reviewer)?;
        Ok(self.requests.credit_refunds_due(200).await?.iter().map(RequestView::from).collect())
    }

    /// The operator's decision on a held request, sent to the bureau:
    /// approval releases the report (sealed as any other), rejection ends the
    /// request `rejected`. Audited as the operator's.
    pub async fn decide(
        &self,
        op: &OperatorRow,
        id: &CreditRequestId,
        approve: bool,
        rid: Option<&RequestId>,
    ) -> Result<RequestView, CreditError> {
        require(op, Role::Reviewer)?;
        let row = self.requests.credit_request(id).await?.ok_or(CreditError::NotFound)?;
        let query_id = match (&row.state, &row.bureau_query_id) {
            (RequestState::InReview, Some(q)) => q.clone(),
            _ => return Err(CreditError::NotInReview),
        };
        let now = self.clock.now();
        let action = if approve { "credit_report.review_approved" } else { "credit_report.review_rejected" };
        let audit = AuditEntry::new(format!("operator:{}", op.id), action, PURPOSE, now).subject(&row.user_id).request(rid);
        let answer = self.bureau.review(&query_id, approve, op.id.as_str()).await?;
        let held = [RequestState::InReview];
        let moved = match answer.answer {
            BureauAnswer::Rejected { .. } => {
                let m = Move { reason: Some("rejected_on_review"), ..Move::default() };
                let moved = self.requests.move_credit_request(id, &held, target(&held, RequestEvent::Refused)?, &m, now, &audit).await?;
                if moved {
                    self.refund_due(id).await?;
                }
                moved
            }
            // Released (or still being prepared): the request fetches again and the report is sealed as any other.
            _ => {
                let expected = self.expected(RequestState::Fetching, now);
                let m = Move { expected_at: expected, ..Move::default() };
                let moved =
                    self.requests.move_credit_request(id, &held, target(&held, RequestEvent::ReviewApproved)?, &m, now, &audit).await?;
                if moved {
                    self.fetch_now(id).await?;
                }
                moved
            }
        };
        if !moved {
            return Err(CreditError::NotInReview);
        }
        let row = self.requests.credit_request(id).await?.ok_or(CreditError::NotFound)?;
        Ok(RequestView::from(&row))
    }

    /// The follow-up job's pass: asks the bureau again about requests whose
    /// expected time has come (processing, or the bureau was down), fails
    /// those the bureau has not answered within [`FETCH_DEADLINE`] and those
    /// left unverified past their expected time (which frees the user to ask
    /// again). Answers how many moved to each end.
    pub async fn follow_up(&self, limit: u32) -> Result<FollowUp, CreditError> {
        let now = self.clock.now();
        let mut done = FollowUp::default();
        let waiting = [RequestState::Requested, RequestState::Verifying, RequestState::Fetching];
        for row in self.requests.credit_requests_in(&waiting, limit).await? {
            if row.expected_at.is_some_and(|t| t > now) {
                continue;
            }
            let audit = |action: &str| AuditEntry::new("system", action, PURPOSE, now).subject(&row.user_id);
            if row.awaiting_payment() && !self.unpaid_may_end(&row, now).await? {
                continue;
            }
            let give_up = match row.state {
                RequestState::Fetching => now.duration_since(row.created_at) >= FETCH_DEADLINE,
                _ => true,
            };
            if give_up {
                let (reason, action, event) = match row.state {
                    RequestState::Fetching => ("bureau_timeout", "credit_report.failed", RequestEvent::Failed),
                    _ if row.awaiting_payment() => ("payment_expired", "credit_report.expired", RequestEvent::Failed),
                    _ => ("verification_expired", "credit_report.expired", RequestEvent::VerificationFailed),
                };
                // An unpaid request ends only while still unpaid: its payment's callback may be on its way.
                let m = Move { reason: Some(reason), expected_at: None, unpaid_only: row.awaiting_payment(), ..Move::default() };
                let to = target(&[row.state], event)?;
                if self.requests.move_credit_request(&row.id, &[row.state], to, &m, now, &audit(action)).await? {
                    done.failed += 1;
                    self.refund_due(&row.id).await?;
                }
                continue;
            }
            done.asked += 1;
            if self.fetch_now(&row.id).await? == Some(RequestState::Ready) {
                done.ready += 1;
            }
        }
        // Refunds the cashier could not take when they fell due.
        for row in self.requests.credit_refunds_due(limit).await? {
            if self.refund_due(&row.id).await? {
                done.refunded += 1;
            }
        }
        Ok(done)
    }

    /// Whether an unpaid request past its payment window may end: its
    /// payment is cancelled at the cashier first, so it can no longer be
    /// paid; a payment made meanwhile (its callback lost) is recorded
    /// instead. A cashier that does not answer keeps the request waiting
    /// (not knowing is not a reason to end what may be paid), up to
    /// [`PAYMENT_GIVE_UP`].
    async fn unpaid_may_end(&self, row: &CreditRequestRow, now: Timestamp) -> Result<bool, CreditError> {
        let Some(payment_id) = row.payment_id.as_deref() else { return Ok(true) };
        match self.cashier.cancel(payment_id).await {
            Ok(p) if payment_is_for(&p, row) && p.status == PaymentStatus::Succeeded => {
                self.record_payment(&row.id, payment_id, "system").await?;
                Ok(false)
            }
            Ok(_) => Ok(true),
            Err(e) if now.duration_since(row.created_at) < PAYMENT_GIVE_UP => {
                tracing::warn!(request = %row.id, error = %e, "the cashier is unavailable; the unpaid request waits");
                Ok(false)
            }
            Err(e) => {
                tracing::error!(request = %row.id, error = %e, "the cashier has not answered for a day; the unpaid request ends");
                Ok(true)
            }
        }
    }

    async fn state_of(&self, id: &CreditRequestId) -> Result<RequestState, CreditError> {
        Ok(self.requests.credit_request(id).await?.ok_or(CreditError::NotFound)?.state)
    }

    /// The report and its PDF, sealed under the user's data key.
    async fn seal(
        &self,
        user: &UserId,
        name: &idlink_domain::PersonName,
        report: &CreditReport,
        now: Timestamp,
    ) -> Result<(Vec<u8>, Vec<u8>, u32), CreditError> {
        let key = data_key::<CreditError>(self.users, self.vault, user, &AuditEntry::new("system", "user.key", PURPOSE, now).subject(user))
            .await?;
        let json = serde_json::to_vec(report).map_err(|e| CreditError::Render(e.to_string()))?;
        let stamp = idlink_pdf::credit_report::Stamp { holder: name.masked(), purpose: "本人查询".into(), at: shanghai_display(now) };
        let report = report.clone();
        let rendered = tokio::task::spawn_blocking(move || idlink_pdf::credit_report::render_report(&report, &stamp))
            .await
            .map_err(|e| CreditError::Render(e.to_string()))?
            .map_err(|e| CreditError::Render(e.to_string()))?;
        let pages = u32::try_from(rendered.pages).unwrap_or(u32::MAX);
        Ok((self.vault.seal(&key, REPORT_CONTEXT, &json)?, self.vault.seal(&key, PDF_CONTEXT, &rendered.pdf)?, pages))
    }

    fn mac(&self, id: &CreditRequestId, session: &SessionRow, expires: i64) -> String {
        self.vault.blind_index(LINK_DOMAIN, &format!("{id}|{}|{expires}", session.id))
    }

    /// A link to the ready report's PDF, for this session only, valid [`CreditPolicy::link_ttl`].
    pub async fn link(&self, actor: &Actor<'_>, id: &str) -> Result<DownloadLink, CreditError> {
        let row = self.own(actor.user(), id).await?;
        if row.state != RequestState::Ready {
            return Err(CreditError::NotReady);
        }
        if row.pdf_cipher.is_none() {
            return Err(CreditError::Purged);
        }
        let expires_at = self.clock.now().checked_add(self.policy.link_ttl).map_err(|_| CreditError::LinkExpired)?;
        let expires = expires_at.as_second();
        let mac = self.mac(&row.id, actor.session, expires);
        Ok(DownloadLink { path: format!("/v1/credit-reports/{}/pdf?expires={expires}&sig={mac}", row.id), expires_at })
    }

    /// The PDF behind a link, in the session it was made for; counted and audited.
    pub async fn download(&self, actor: &Actor<'_>, id: &str, expires: i64, sig: &str) -> Result<Vec<u8>, CreditError> {
        let Ok(rid) = CreditRequestId::parse(id) else { return Err(CreditError::LinkInvalid) };
        let expected = self.mac(&rid, actor.session, expires);
        if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            return Err(CreditError::LinkInvalid);
        }
        let now = self.clock.now();
        if now.as_second() >= expires {
            return Err(CreditError::LinkExpired);
        }
        let row = match self.own(actor.user(), id).await {
            Err(CreditError::NotFound) => return Err(CreditError::LinkInvalid),
            other => other?,
        };
        if row.state != RequestState::Ready {
            return Err(CreditError::NotReady);
        }
        let cipher = row.pdf_cipher.as_deref().ok_or(CreditError::Purged)?;
        let audit = actor.audit("credit_report.download", now);
        let key = data_key::<CreditError>(self.users, self.vault, actor.user(), &actor.audit("user.key", now)).await?;
        let pdf = key.open(PDF_CONTEXT, cipher)?;
        if !self.requests.count_credit_download(&row.id, &audit).await? {
            return Err(CreditError::NotReady);
        }
        Ok(pdf)
    }
}
