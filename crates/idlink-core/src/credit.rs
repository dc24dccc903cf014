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

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::bureau::{BureauAnswer, BureauUnavailable, CreditBureau};
use crate::ports::clock::Clock;
use crate::ports::credit::{CreditRequestRow, CreditStore, Move, NewCreditRequest, Opened};
use crate::ports::face::{FaceResult, FaceUnavailable, FaceVerifier};
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use crate::ports::stepup::{Binding, StepUpStore};
use crate::ports::users::UserStore;
use crate::steps::codes::constant_time_eq;
use crate::steps::personal::{Unreadable, data_key, open_identity};
use crate::stepup::{self, StepUpRefusal};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::{shanghai, shanghai_display, shanghai_today};
use idlink_domain::credit_report::CreditReport;
use idlink_domain::credit_request::{self, Quote, RequestEvent, RequestState, TransitionError};
use idlink_domain::{CreditRequestId, Fen, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

const REPORT_CONTEXT: &str = "credit_requests.report";
const PDF_CONTEXT: &str = "credit_requests.pdf";
const LINK_DOMAIN: &str = "credit-report-link";
const PURPOSE: &str = "credit report";

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
    /// Paid reports need the host app's payment connector, which is not built yet.
    #[error("this request costs {0} fen and paid reports are not available yet")]
    PaymentUnavailable(Fen),
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
    pub requests: &'a dyn CreditStore,
    pub identities: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub step_ups: &'a dyn StepUpStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub bureau: &'a dyn CreditBureau,
    pub face: &'a dyn FaceVerifier,
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
        self.ensure_adult(user, now).await?;
        // What the store would refuse is refused before the step-up token is spent.
        let quote = self.quote(user).await?;
        if quote.fee_fen != accepted_fee.0 {
            return Err(CreditError::QuoteChanged(Fen(quote.fee_fen)));
        }
        if accepted_fee > Fen::ZERO {
            // Paid reports go through the host app's payment connector (issue 15), not built yet:
            // refused before anything is written, so nothing is charged or counted.
            return Err(CreditError::PaymentUnavailable(accepted_fee));
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
        match self.requests.open_credit_request(&new, &actor.audit("credit_report.request", now)).await? {
            Opened::Opened(row) => Ok(RequestView::from(row.as_ref())),
            Opened::Busy => Err(CreditError::Busy),
            Opened::QuoteChanged { fee } => Err(CreditError::QuoteChanged(fee)),
        }
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

    /// Verification by face; a pass asks the bureau at once.
    pub async fn verify_face(&self, actor: &Actor<'_>, id: &str, liveness_video: &str) -> Result<RequestView, CreditError> {
        let row = self.own(actor.user(), id).await?;
        if !matches!(row.state, RequestState::Requested | RequestState::Verifying) {
            return Err(CreditError::NotAwaitingVerification(row.state));
        }
        let result = self.face.verify(actor.user().as_str(), liveness_video).await?;
        let now = self.clock.now();
        if let Some((code, _)) = result.reason() {
            // Still waiting for a verification, for as long as a new one may take.
            let expected = self.expected(RequestState::Verifying, now);
            let started = Move { reason: Some(code), method: Some("face"), expected_at: expected, ..Move::default() };
            let audit = actor.audit("credit_report.verification_failed", now);
            let from = [RequestState::Requested, RequestState::Verifying];
            // The last allowed attempt ends the request; it gives its free report back.
            let (to, started) = if row.attempts + 1 >= MAX_VERIFICATION_ATTEMPTS {
                (
                    target(&from, RequestEvent::VerificationFailed)?,
                    Move { reason: Some("verification_failed"), failed_attempt: true, ..started },
                )
            } else {
                (target(&from, RequestEvent::VerificationStarted)?, Move { failed_attempt: true, ..started })
            };
            self.requests.move_credit_request(&row.id, &from, to, &started, now, &audit).await?;
            return Err(CreditError::FaceRefused(result));
        }
        debug_assert_eq!(result, FaceResult::Pass);
        let expected = self.expected(RequestState::Fetching, now);
        let verified = Move { method: Some("face"), expected_at: expected, ..Move::default() };
        let from = [RequestState::Requested, RequestState::Verifying];
        let to = target(&from, RequestEvent::Verified)?;
        if !self.requests.move_credit_request(&row.id, &from, to, &verified, now, &actor.audit("credit_report.verified", now)).await? {
            return Err(CreditError::NotAwaitingVerification(self.own(actor.user(), id).await?.state));
        }
        self.fetch_now(&row.id).await?;
        self.view(actor.user(), id).await
    }

    /// When a request entering `state` now is expected to leave it.
    fn expected(&self, state: RequestState, now: Timestamp) -> Option<Timestamp> {
        state.expected_wait(self.policy.review_sla).and_then(|w| now.checked_add(w).ok())
    }

    /// [`Self::fetch`] for callers that go on when the bureau is down: its
    /// outage is the request's state (`fetching`, with when it is asked
    /// again), not the caller's failure (`None`).
    async fn fetch_now(&self, id: &CreditRequestId) -> Result<Option<RequestState>, CreditError> {
        match self.fetch(id).await {
            Ok(state) => Ok(Some(state)),
            Err(CreditError::Bureau(_)) => Ok(None),
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
                let m = Move {
                    bureau_query_id: qid,
                    report_cipher: Some(&report_cipher),
                    pdf_cipher: Some(&pdf_cipher),
                    pages: Some(pages),
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
        Ok(if moved { to } else { self.state_of(id).await? })
    }

    /// The requests the bureau holds for review, oldest first (role reviewer):
    /// each with its due time (the configured SLA from when it was held).
    pub async fn review_queue(&self, op: &OperatorRow) -> Result<Vec<RequestView>, CreditError> {
        require(op, Role::Reviewer)?;
        Ok(self.requests.credit_requests_in(&[RequestState::InReview], 200).await?.iter().map(RequestView::from).collect())
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
                self.requests.move_credit_request(id, &held, target(&held, RequestEvent::Refused)?, &m, now, &audit).await?
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
            let give_up = match row.state {
                RequestState::Fetching => now.duration_since(row.created_at) >= FETCH_DEADLINE,
                _ => true,
            };
            if give_up {
                let (reason, action, event) = match row.state {
                    RequestState::Fetching => ("bureau_timeout", "credit_report.failed", RequestEvent::Failed),
                    _ => ("verification_expired", "credit_report.expired", RequestEvent::VerificationFailed),
                };
                let m = Move { reason: Some(reason), expected_at: None, ..Move::default() };
                let to = target(&[row.state], event)?;
                if self.requests.move_credit_request(&row.id, &[row.state], to, &m, now, &audit(action)).await? {
                    done.failed += 1;
                }
                continue;
            }
            done.asked += 1;
            if self.fetch_now(&row.id).await? == Some(RequestState::Ready) {
                done.ready += 1;
            }
        }
        Ok(done)
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
        let cipher = row.pdf_cipher.as_deref().filter(|_| row.state == RequestState::Ready).ok_or(CreditError::NotReady)?;
        let audit = actor.audit("credit_report.download", now);
        let key = data_key::<CreditError>(self.users, self.vault, actor.user(), &actor.audit("user.key", now)).await?;
        let pdf = key.open(PDF_CONTEXT, cipher)?;
        if !self.requests.count_credit_download(&row.id, &audit).await? {
            return Err(CreditError::NotReady);
        }
        Ok(pdf)
    }
}
