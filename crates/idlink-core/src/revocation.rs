//! Real-name revocation and account cancellation (SPEC RV1–RV3, CP;
//! issue 17): the preflight (every blocker at once, from every registered
//! host store, asked together, each within the deadline, and from idlink's
//! own rules) and the saga that performs the operation after a step-up.
//! The rules are `idlink_domain::revocation` and `revocation_saga`; this
//! module takes their steps. Each move of a saga is stored with the step's
//! own database effect in one transaction, by version; the host stores'
//! steps are idempotent by the change id; so a saga driven again after a
//! crash, by any node, does each step once.
//!
//! After a committed account cancellation comes its closure (SPEC CP, due
//! within 15 working days of the request): the retained identity is sealed
//! again under a retention key of its own, then the user's data key is
//! destroyed, so every other ciphertext of theirs can no longer be opened
//! (crypto-shredding). A retained identity is shredded in turn when its
//! period ends.
//!
//! A minor (with an approved guardian) or the holder of a foreign document
//! asks for an operator's review first (RV3): a case in the console's
//! queue; the preflight names the review as a blocker until it is approved,
//! and an approval holds for [`RevocationPolicy::review_valid_for`].

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::{AuthStore, SessionRow};
use crate::ports::clock::Clock;
use crate::ports::events::{Lifecycle, LifecycleType};
use crate::ports::freezes::FreezeStore;
use crate::ports::guardians::{GuardianStore, GuardianshipStatus};
use crate::ports::host_stores::{ChangeAnswer, HostStores, HostSubject};
use crate::ports::identity::{IdentityRow, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::keys::KeyStore;
use crate::ports::outbox::NewEvent;
use crate::ports::reviews::{CaseKind, CaseRow, CaseStatus, ReviewStore};
use crate::ports::revocations::{Closure, Due, GrantEffect, Move, RetainedCiphers, RevocationRow, RevocationStore};
use crate::ports::stepup::{Binding, StepUpStore};
use crate::ports::users::UserStore;
use crate::steps::personal::{BIRTH_CONTEXT, ID_CONTEXT, IdentityReader, NAME_CONTEXT, Unreadable};
use crate::stepup::{self, StepUpRefusal};
use idlink_domain::change_limits::ChangeEvent;
use idlink_domain::revocation::{self, Blocker, Operation, OwnFacts, OwnRules, ReviewNeed, ReviewStanding, Source, SourceAnswer};
use idlink_domain::revocation_saga::{Action, Event, Phase, Saga, Step};
use idlink_domain::working_days::WorkingDays;
use idlink_domain::{RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// The configured rules of revocation.
#[derive(Debug, Clone)]
pub struct RevocationPolicy {
    pub own: OwnRules,
    /// How long the preflight waits for each host store.
    pub source_deadline: SignedDuration,
    /// When to ask again a store that did not answer in time (it gave no Retry-After).
    pub retry_after: SignedDuration,
    /// The host app's deep link for each action that clears a blocker
    /// (`BlockerKind::clears_by`); an action without one is described only.
    pub links: BTreeMap<String, String>,
    /// How long a saga may take to reach its commit; short of it then, it rolls back.
    pub window: SignedDuration,
    /// How long a revoked identity's records are kept (out of business use) before they are shredded.
    pub identity_retention: SignedDuration,
    /// The payment capabilities a revoked real name leaves (RV3).
    pub downgrade: revocation::DowngradeRules,
    /// An account cancellation is closed within this many working days of the request (CP).
    pub cancellation_working_days: u32,
    /// The first-response target of a minor's or a foreign document's review.
    pub review_sla: SignedDuration,
    /// How long an approved review lets the user confirm the operation.
    pub review_valid_for: SignedDuration,
    /// The crash harness only (`idlink bench revocation-crash`): the process
    /// aborts, as a `kill -9` would stop it, right after the move of this
    /// name is committed (`start`, `pending_recycle`, `grants_suspended`,
    /// `stores_applied`, `commit_begun`, …: the audit action without
    /// `revocation.`). Never set in production.
    pub crash_after: Option<String>,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        Self {
            own: OwnRules::default(),
            source_deadline: SignedDuration::from_secs(3),
            retry_after: SignedDuration::from_secs(10),
            links: BTreeMap::new(),
            window: SignedDuration::from_secs(120),
            identity_retention: SignedDuration::from_hours(5 * 366 * 24),
            crash_after: None,
            downgrade: revocation::DowngradeRules::default(),
            cancellation_working_days: 15,
            review_sla: SignedDuration::from_hours(24),
            review_valid_for: SignedDuration::from_hours(7 * 24),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// A real-name revocation needs a real-name identity to revoke.
    #[error("the account has no verified real-name identity to revoke")]
    NotVerified,
    /// The operation needs a fresh step-up for it.
    #[error("a step-up for this operation is required")]
    StepUpRequired(StepUpRefusal),
    /// Something stands in the way: the preflight's list.
    #[error("{} blocker(s) stand in the way", .0.blockers.len())]
    Blocked(Box<PreflightReport>),
    /// A saga of the user is already running.
    #[error("a revocation is already running ({0})")]
    AlreadyRunning(String),
    #[error("no such revocation")]
    NotFound,
    /// Only minors and foreign documents are reviewed before the operation.
    #[error("this account needs no review before the operation")]
    NoReviewNeeded,
    /// A minor names a guardian, and has them approved, before asking for the review.
    #[error("a minor needs an approved guardian before asking for the review")]
    GuardianFirst,
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] idlink_crypto::CryptoError),
}

/// Every blocker at once, and what was asked.
#[derive(Debug, Clone)]
pub struct PreflightReport {
    pub operation: Operation,
    pub checked_at: Timestamp,
    /// The host stores registered and asked, in [`Source::HOST`] order (idlink's own rules always apply).
    pub asked: Vec<Source>,
    pub blockers: Vec<Blocker>,
}

impl PreflightReport {
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

pub struct Revocations<'a> {
    pub auth: &'a dyn AuthStore,
    pub identities: &'a dyn IdentityStore,
    pub logins: &'a dyn FreezeStore,
    pub sagas: &'a dyn RevocationStore,
    /// The users' data keys: a closure opens the retained identity with one, then destroys it.
    pub keys: &'a dyn KeyStore,
    pub step_ups: &'a dyn StepUpStore,
    /// The review of minors and foreign documents: their cases, the guardians, the users' keys (to read an age).
    pub reviews: &'a dyn ReviewStore,
    pub guardians: &'a dyn GuardianStore,
    pub users: &'a dyn UserStore,
    pub hosts: &'a dyn HostStores,
    /// Seals the events to the apps.
    pub vault: &'a crate::vault::Vault,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
    pub policy: &'a RevocationPolicy,
}

/// Who asks, for the audit records.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub session: &'a SessionRow,
    pub request_id: Option<&'a RequestId>,
}

const SYSTEM: &str = "system:revocation";

/// The step-up operation of each operation.
pub fn step_up_operation(o: Operation) -> &'static str {
    match o {
        Operation::RevokeRealName => stepup::REVOKE_REAL_NAME,
        Operation::CancelAccount => stepup::CANCEL_ACCOUNT,
    }
}

/// The outbox kind that tells the host's wallet an account's payment limits (RV3).
pub const HOST_PAYMENT_LIMITS: &str = "host.payment_limits";

/// What a [`HOST_PAYMENT_LIMITS`] event carries (sealed like every payload).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LimitsNotice {
    pub user_id: UserId,
    pub limits: revocation::PaymentLimits,
}

/// The SMS telling a user how the review of their request ended (`operation`, `outcome`: `approved` or `rejected`).
pub const REVIEW_DECIDED_TEMPLATE: &str = "revocation_review_decided";

/// What a review case of `user` asking for `operation` reviews (its `reference`).
pub fn review_reference(user: &UserId, operation: Operation) -> String {
    format!("{user}:{}", operation.as_str())
}

/// A review asked for, and why it was needed.
#[derive(Debug, Clone)]
pub struct ReviewAsked {
    pub need: ReviewNeed,
    pub case: CaseRow,
    /// Opened by this request (not one already open).
    pub opened: bool,
}

/// The change id a host store is given for a saga: one per saga and store.
pub fn change_id(saga: &str, source: Source) -> String {
    format!("{saga}-{}", source.as_str())
}

/// What [`Revocations::reseal_own`] found.
enum Reseal {
    /// No retained identity is under the user's key.
    Nothing,
    /// Some are, but the key is gone.
    KeyGone,
    /// Sealed again, with the new key (wrapped).
    Done(Vec<RetainedCiphers>, idlink_crypto::WrappedDataKey),
}

/// What a pass of the driver did.
enum Outcome {
    /// The saga moved (or another node moved it): look again.
    Moved,
    /// A store did not answer: the saga waits (the job drives it again; its deadline still holds).
    Waiting,
}

impl Revocations<'_> {
    /// Every blocker standing in the way of `operation` for the session's
    /// user, on the session's device: the host stores are asked together,
    /// each within the deadline; one that does not answer is a blocker.
    pub async fn preflight(&self, session: &SessionRow, operation: Operation) -> Result<PreflightReport, RevocationError> {
        let user = &session.user_id;
        let identity = self.identities.identity(user).await?;
        if operation == Operation::RevokeRealName && identity.is_none() {
            return Err(RevocationError::NotVerified);
        }
        let now = self.clock.now();
        let asked = self.hosts.registered();
        let subject = HostSubject { user_id: user.as_str(), operation };
        // Every store at once: the slowest one, capped by the deadline, is the preflight's wait.
        let answers = futures::future::join_all(asked.iter().map(|source| self.ask(*source, subject, now)));
        let own = self.own_facts(session, identity.as_ref(), operation, now);
        let (answers, own) = futures::future::join(answers, own).await;
        let own = revocation::own_blockers(&own?, &self.policy.own, now);
        let preflight = revocation::preflight(&asked, &answers, own);
        metrics::counter!("idlink_revocation_preflights_total", "clear" => if preflight.is_clear() { "yes" } else { "no" }).increment(1);
        Ok(PreflightReport { operation, checked_at: now, asked, blockers: preflight.blockers })
    }

    /// Starts the operation after a step-up for it: the same preflight
    /// runs again and must be clear, then the saga is stored and driven as
    /// far as it goes now (the `revocation_saga` job drives it on after a
    /// store's silence or a crash).
    pub async fn start(&self, actor: Actor<'_>, operation: Operation, step_up: Option<&str>) -> Result<RevocationRow, RevocationError> {
        let user = &actor.session.user_id;
        if let Some(open) = self.sagas.latest_revocation_of(user).await?.filter(|r| !r.saga.phase.is_final()) {
            return Err(RevocationError::AlreadyRunning(open.id));
        }
        let binding = Binding { user, operation: step_up_operation(operation), resource: user.as_str() };
        let spent = match step_up {
            Some(token) => stepup::spend(self.step_ups, self.clock, token, &binding).await?,
            None => false,
        };
        if !spent {
            return Err(RevocationError::StepUpRequired(stepup::refusal(self.step_ups, self.clock, step_up, &binding).await?));
        }
        let report = self.preflight(actor.session, operation).await?;
        if !report.is_clear() {
            return Err(RevocationError::Blocked(Box::new(report)));
        }
        let now = self.clock.now();
        let row = RevocationRow {
            id: self.ids.revocation(),
            user_id: user.clone(),
            operation,
            saga: Saga::new(),
            deadline: now.checked_add(self.policy.window).unwrap_or(now),
            due: (operation == Operation::CancelAccount).then(|| {
                let (at, provisional) = WorkingDays::bundled().due(now, self.policy.cancellation_working_days);
                Due { at, provisional }
            }),
            closed_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let audit =
            AuditEntry::new(format!("user:{user}"), "revocation.start", operation.as_str(), now).subject(user).request(actor.request_id);
        match self.sagas.insert_revocation(&row, &audit).await {
            Err(StoreError::Unique(_)) => {
                let open = self.sagas.latest_revocation_of(user).await?.map(|r| r.id).unwrap_or_default();
                return Err(RevocationError::AlreadyRunning(open));
            }
            other => other?,
        }
        self.crash_point("start");
        self.drive(&row.id).await
    }

    /// The account's payment capabilities now (RV3): lowered once its real
    /// name was revoked, unless it was verified again since.
    pub async fn payment_limits(&self, user: &UserId) -> Result<revocation::PaymentLimits, RevocationError> {
        let revoked_at = match self.sagas.latest_revocation_of(user).await? {
            Some(r) if r.operation == Operation::RevokeRealName && r.saga.phase == Phase::Committed => {
                let verified_since = self.identities.identity(user).await?.is_some_and(|i| i.verified_at > r.updated_at);
                (!verified_since).then_some(r.updated_at)
            }
            _ => None,
        };
        Ok(revocation::payment_limits(revoked_at, self.clock.now(), &self.policy.downgrade))
    }

    /// The user's latest revocation, if any; an open one is driven on first
    /// (a user following it sees it move, whatever the job's period).
    pub async fn latest(&self, session: &SessionRow) -> Result<Option<RevocationRow>, RevocationError> {
        match self.sagas.latest_revocation_of(&session.user_id).await? {
            Some(open) if !open.saga.phase.is_final() => Ok(Some(self.drive(&open.id).await?)),
            other => Ok(other),
        }
    }

    /// Drives the saga as far as it goes now: every step it can take or
    /// undo, until it is final or waits for a store that did not answer.
    pub async fn drive(&self, id: &str) -> Result<RevocationRow, RevocationError> {
        // Each pass moves the saga once or stops; a saga makes at most 9 moves.
        for _ in 0..16 {
            let row = self.sagas.revocation(id).await?.ok_or(RevocationError::NotFound)?;
            if row.saga.phase.is_final() {
                return self.closed_once_committed(row).await;
            }
            if let Outcome::Waiting = self.pass(&row).await? {
                return Ok(row);
            }
        }
        self.sagas.revocation(id).await?.ok_or(RevocationError::NotFound)
    }

    /// A committed cancellation is closed at once (the job closes one a crash left unclosed).
    async fn closed_once_committed(&self, row: RevocationRow) -> Result<RevocationRow, RevocationError> {
        if row.operation != Operation::CancelAccount || row.saga.phase != Phase::Committed || row.closed_at.is_some() {
            return Ok(row);
        }
        if let Err(e) = self.close(&row).await {
            tracing::warn!(saga = %row.id, error = %e, "a cancelled account could not be closed yet; the job tries again");
            return Ok(row);
        }
        self.sagas.revocation(&row.id).await?.ok_or(RevocationError::NotFound)
    }

    /// Every open saga, driven once (the periodic job, on one node at a time);
    /// one saga's error does not stop the others.
    pub async fn drive_open(&self, limit: u32) -> Result<usize, RevocationError> {
        let open = self.sagas.open_revocations(limit).await?;
        metrics::gauge!("idlink_revocation_sagas_open").set(open.len() as f64);
        for row in &open {
            if let Err(e) = self.drive(&row.id).await {
                tracing::warn!(saga = %row.id, error = %e, "a revocation saga could not be driven; next period");
            }
        }
        Ok(open.len())
    }

    /// Closes every committed account cancellation not closed yet (the
    /// periodic job, on one node at a time); one closure's error does not stop the others.
    pub async fn close_accounts(&self, limit: u32) -> Result<usize, RevocationError> {
        let mut closed = 0;
        for row in self.sagas.unclosed_cancellations(limit).await? {
            match self.close(&row).await {
                Ok(true) => closed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(saga = %row.id, error = %e, "an account could not be closed; next period"),
            }
        }
        Ok(closed)
    }

    /// The closure of one committed cancellation: the retained identity
    /// sealed again under `ret-{saga id}`, then the user's data key destroyed,
    /// in one transaction. `false` when another node closed it first.
    async fn close(&self, row: &RevocationRow) -> Result<bool, RevocationError> {
        let user = &row.user_id;
        let now = self.clock.now();
        let (resealed, retention_key, key_lost) = match self.reseal_own(user, format!("ret-{}", row.id)).await? {
            Reseal::Nothing => (Vec::new(), None, false),
            Reseal::Done(rows, key) => (rows, Some(key), false),
            // Gone already: another node closed it meanwhile, or the host shredded the user
            // first and what was kept under the key went with it.
            Reseal::KeyGone => {
                if self.sagas.revocation(&row.id).await?.is_some_and(|r| r.closed_at.is_some()) {
                    return Ok(false);
                }
                tracing::warn!(saga = %row.id, "the user's data key is gone before the closure: the retained identity cannot be resealed");
                (Vec::new(), None, true)
            }
        };
        // The apps were told `account_purged` and lost their grants at the commit.
        let closure = Closure { at: now, resealed: &resealed, retention_key: retention_key.as_ref(), key_lost };
        let audit = AuditEntry::new(SYSTEM, "account.closed", row.id.clone(), now).subject(user);
        Ok(self.sagas.close_account(&row.id, user, &closure, &audit).await?)
    }

    /// The user's retained identities still sealed under their own key, sealed again under a
    /// fresh key `key_id` (not stored yet).
    async fn reseal_own(&self, user: &UserId, key_id: String) -> Result<Reseal, RevocationError> {
        let own: Vec<RetainedCiphers> = self.sagas.retained_ciphers(user).await?.into_iter().filter(|r| r.key_id.is_none()).collect();
        if own.is_empty() {
            return Ok(Reseal::Nothing);
        }
        let Some(wrapped) = self.keys.wrapped_key(&crate::vault::Vault::data_key_id(user)).await? else { return Ok(Reseal::KeyGone) };
        let key = self.vault.unwrap(&wrapped)?;
        let (retention, wrapped_retention) = self.vault.new_key(key_id.clone())?;
        let reseal = |context: &str, cipher: &[u8]| -> Result<Vec<u8>, RevocationError> {
            Ok(self.vault.seal(&retention, context, &key.open(context, cipher)?)?)
        };
        let mut out = Vec::with_capacity(own.len());
        for r in own {
            out.push(RetainedCiphers {
                name_cipher: reseal(NAME_CONTEXT, &r.name_cipher)?,
                id_cipher: reseal(ID_CONTEXT, &r.id_cipher)?,
                birth_cipher: r.birth_cipher.as_deref().map(|c| reseal(BIRTH_CONTEXT, c)).transpose()?,
                key_id: Some(key_id.clone()),
                revocation_id: r.revocation_id,
            });
        }
        Ok(Reseal::Done(out, wrapped_retention))
    }

    /// Before the user's data key goes by another path than a closure (the host's
    /// `DELETE /v1/users/{id}/personal-data`): what the law keeps of them is sealed again
    /// under a key of its own (`ret-{user}-{n}`), so that it outlives theirs until its period ends.
    pub async fn keep_retained_apart(&self, user: &UserId) -> Result<(), RevocationError> {
        let now = self.clock.now();
        if let Reseal::Done(resealed, key) = self.reseal_own(user, format!("ret-{user}-{}", now.as_microsecond())).await? {
            let audit = AuditEntry::new(SYSTEM, "identity.retained_apart", "personal data deletion", now).subject(user);
            self.sagas.reseal_retained(user, &resealed, &key, &audit).await?;
        }
        Ok(())
    }

    /// Shreds the retained identities whose period has ended (the periodic job).
    pub async fn shred_retained(&self, limit: u32) -> Result<usize, RevocationError> {
        let now = self.clock.now();
        let mut shredded = 0;
        for end in self.sagas.retained_ended(now, limit).await? {
            let audit = AuditEntry::new(SYSTEM, "identity.retention_ended", end.revocation_id.clone(), now).subject(&end.user_id);
            match self.sagas.shred_retained(&end, &audit).await {
                Ok(true) => shredded += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(retained = %end.revocation_id, error = %e, "a retained identity could not be shredded; next period")
                }
            }
        }
        Ok(shredded)
    }

    /// Sagas still open past their window (a store that neither commits nor undoes), the
    /// longest-stuck first among the `limit` least recently moved (the console's board).
    pub async fn stuck(&self, limit: u32) -> Result<Vec<RevocationRow>, RevocationError> {
        let now = self.clock.now();
        let mut open: Vec<RevocationRow> = self.sagas.open_revocations(limit).await?.into_iter().filter(|r| r.deadline < now).collect();
        open.sort_by_key(|r| r.deadline);
        Ok(open)
    }

    /// Account cancellations past their due time now, the most overdue first (the console's board).
    pub async fn overdue_cancellations(&self, limit: u32) -> Result<Vec<RevocationRow>, RevocationError> {
        Ok(self.sagas.overdue_cancellations(self.clock.now(), limit).await?)
    }

    /// One move of the saga: the deadline, or its next step or compensation.
    async fn pass(&self, row: &RevocationRow) -> Result<Outcome, RevocationError> {
        let now = self.clock.now();
        let past_deadline = row.saga.phase == Phase::Forward && !row.saga.committing && now >= row.deadline;
        let (event, effects) = if past_deadline {
            (Event::DeadlinePassed, Effects::default())
        } else {
            let moved = match row.saga.next() {
                Action::Nothing => return Ok(Outcome::Moved),
                Action::Take(step) => self.take(row, step, now).await?,
                Action::Compensate(step) => self.compensate(row, step, now).await?,
            };
            match moved {
                Some(moved) => moved,
                None => return Ok(Outcome::Waiting),
            }
        };
        let next = row.saga.apply(event);
        let detail = match next.reason {
            Some(why) if row.saga.phase == Phase::Forward && next.phase != Phase::Forward => format!("rolling back: {}", why.as_str()),
            _ => row.operation.as_str().to_owned(),
        };
        let audit = AuditEntry::new(SYSTEM, audit_action(event, next), detail, now).subject(&row.user_id);
        let change = effects.change.as_ref().map(|(effect, e)| (*effect, e));
        // A committed revocation of the real name: the next login asks for an SMS code too (RV3).
        let login_check = (effects.retire.is_some() && row.operation == Operation::RevokeRealName).then_some("real_name_revoked");
        let m = Move {
            next: &next,
            at: now,
            change,
            retire_identity: effects.retire,
            mark_identity: effects.mark,
            login_check,
            host_event: effects.limits.as_ref(),
        };
        // `false`: another node moved it first; the next pass reads its move.
        if self.sagas.advance_revocation(&row.id, row.version, &m, &audit).await? {
            self.crash_point(audit.action.trim_start_matches("revocation."));
        }
        Ok(Outcome::Moved)
    }

    /// `step` of the saga: the event it ends with and its database effect, or `None` to wait for a store.
    async fn take(&self, row: &RevocationRow, step: Step, now: Timestamp) -> Result<Option<Moved>, RevocationError> {
        let subject = HostSubject { user_id: row.user_id.as_str(), operation: row.operation };
        let done = |event: Event| Some((event, Effects::default()));
        Ok(match step {
            Step::MarkPending => Some((Event::Done(step), Effects { mark: Some(true), ..Effects::default() })),
            Step::SuspendGrants => {
                let told = self.told(row, LifecycleType::AccountDisabled, "revocation_pending", now)?;
                Some((Event::Done(step), Effects { change: Some((GrantEffect::Hold, told)), ..Effects::default() }))
            }
            Step::ApplyStores => {
                let mut waiting = false;
                for source in self.hosts.registered() {
                    match self.hosts.apply(source, &change_id(&row.id, source), subject).await {
                        Ok(ChangeAnswer::Applied | ChangeAnswer::Committed) => {}
                        Ok(ChangeAnswer::Refused { .. } | ChangeAnswer::Undone) => return Ok(done(Event::Refused(step))),
                        Ok(ChangeAnswer::Pending { .. }) | Err(_) => waiting = true,
                    }
                }
                if waiting { None } else { done(Event::Done(step)) }
            }
            Step::Commit if !row.saga.committing => {
                // The last look before the point of no return: an identity changed since it was
                // marked (a new verification clears the mark) or a funds operation during the
                // window rolls back.
                let marked = self.sagas.identity_marked(&row.user_id, &row.id).await?;
                let has_identity = self.identities.identity(&row.user_id).await?.is_some();
                let changed = match row.operation {
                    Operation::RevokeRealName => !marked,
                    Operation::CancelAccount => has_identity && !marked,
                };
                if changed {
                    return Ok(done(Event::Refused(step)));
                }
                let mut waiting = false;
                for source in self.hosts.registered() {
                    match self.hosts.change(source, &change_id(&row.id, source)).await {
                        Ok(state) if state.funds_operations > 0 => return Ok(done(Event::FundsOperation)),
                        Ok(state) if matches!(state.answer, ChangeAnswer::Applied | ChangeAnswer::Committed) => {}
                        Ok(_) | Err(_) => waiting = true,
                    }
                }
                if waiting { None } else { done(Event::Begin(step)) }
            }
            Step::Commit => {
                // Past the point of no return: every store commits, however long it takes.
                for source in self.hosts.registered() {
                    match self.hosts.commit(source, &change_id(&row.id, source)).await {
                        Ok(ChangeAnswer::Committed) => {}
                        other => {
                            tracing::warn!(saga = %row.id, store = source.as_str(), answer = ?other, "a store did not commit yet");
                            return Ok(None);
                        }
                    }
                }
                let kind = match row.operation {
                    Operation::RevokeRealName => LifecycleType::IdentityRevoked,
                    // The account's data goes with the closure that follows at once, so the apps
                    // are told to delete theirs (RISC account-purged).
                    Operation::CancelAccount => LifecycleType::AccountPurged,
                };
                // Either way the identity is kept, out of business use, as the law asks.
                let retire = Some(now.checked_add(self.policy.identity_retention).unwrap_or(now));
                let told = self.told(row, kind, row.operation.as_str(), now)?;
                let limits = match row.operation {
                    Operation::RevokeRealName => self.limits_event(row, now)?,
                    // A closed account receives nothing any more.
                    Operation::CancelAccount => None,
                };
                Some((Event::Done(step), Effects { change: Some((GrantEffect::Revoke, told)), retire, mark: None, limits }))
            }
        })
    }

    /// Undoes `step`; `None` to wait for a store.
    async fn compensate(&self, row: &RevocationRow, step: Step, now: Timestamp) -> Result<Option<Moved>, RevocationError> {
        Ok(match step {
            Step::MarkPending => Some((Event::Compensated(step), Effects { mark: Some(false), ..Effects::default() })),
            Step::Commit => Some((Event::Compensated(step), Effects::default())),
            Step::SuspendGrants => {
                let told = self.told(row, LifecycleType::AccountEnabled, "revocation_rolled_back", now)?;
                Some((Event::Compensated(step), Effects { change: Some((GrantEffect::Release, told)), ..Effects::default() }))
            }
            Step::ApplyStores => {
                let mut waiting = false;
                for source in self.hosts.registered() {
                    match self.hosts.undo(source, &change_id(&row.id, source)).await {
                        Ok(ChangeAnswer::Undone) => {}
                        _ => waiting = true,
                    }
                }
                if waiting { None } else { Some((Event::Compensated(step), Effects::default())) }
            }
        })
    }

    /// The crash harness's stop right after the move `name` (see [`RevocationPolicy::crash_after`]).
    fn crash_point(&self, name: &str) {
        if self.policy.crash_after.as_deref() == Some(name) {
            tracing::error!(after = name, "revocation.crash_after: aborting as a kill -9 would (crash harness)");
            std::process::abort();
        }
    }

    /// The event that tells the host's wallet the limits a revocation
    /// committed `at` leaves (what `payment_limits` answers from then on);
    /// none when the deployment registers no wallet.
    fn limits_event(&self, row: &RevocationRow, at: Timestamp) -> Result<Option<NewEvent>, RevocationError> {
        if !self.hosts.registered().contains(&Source::Wallet) {
            return Ok(None);
        }
        let limits = revocation::payment_limits(Some(at), at, &self.policy.downgrade);
        let clear = serde_json::to_vec(&LimitsNotice { user_id: row.user_id.clone(), limits })
            .map_err(|e| StoreError::Corrupt(format!("an outbox payload: {e}")))?;
        let id = self.ids.event();
        let payload = crate::steps::notices::seal_payload(self.vault, id.as_str(), HOST_PAYMENT_LIMITS, &clear)?;
        Ok(Some(NewEvent { id, kind: HOST_PAYMENT_LIMITS.to_owned(), subject: Some(row.user_id.clone()), payload, at }))
    }

    /// The lifecycle event the apps are told with a move made `at` (the
    /// move's own time: the apps told are those holding a grant then).
    fn told(&self, row: &RevocationRow, kind: LifecycleType, reason: &str, at: Timestamp) -> Result<NewEvent, StoreError> {
        let lifecycle = Lifecycle {
            kind,
            user: row.user_id.clone(),
            at,
            actor: "system".into(),
            client: None,
            sessions: Vec::new(),
            reason: Some(reason.to_owned()),
        };
        crate::events::lifecycle_store_event(self.vault, self.ids, &lifecycle)
    }

    /// `source`'s answer; `asked_at` is when the preflight began (a retry time counts from it).
    async fn ask(&self, source: Source, subject: HostSubject<'_>, asked_at: Timestamp) -> (Source, SourceAnswer) {
        let deadline = self.policy.source_deadline.unsigned_abs();
        let answer = match tokio::time::timeout(deadline, self.hosts.blockers(source, subject)).await {
            Ok(Ok(found)) => SourceAnswer::Answered(found),
            Ok(Err(unavailable)) => {
                let wait = SignedDuration::from_secs(i64::try_from(unavailable.retry_after_secs).unwrap_or(i64::MAX));
                // A store's own Retry-After, within reason: never "come back next year".
                SourceAnswer::Unanswered {
                    retry_at: later(asked_at, wait.clamp(SignedDuration::from_secs(1), SignedDuration::from_hours(1))),
                }
            }
            Err(_) => {
                metrics::counter!("idlink_revocation_source_timeouts_total", "source" => source.as_str()).increment(1);
                SourceAnswer::Unanswered { retry_at: later(asked_at, self.policy.retry_after) }
            }
        };
        (source, answer)
    }

    /// What idlink knows for its own rules: the latest abnormal login and
    /// real-name change inside their windows, and whether the session's device is the primary one.
    async fn own_facts(
        &self,
        session: &SessionRow,
        identity: Option<&IdentityRow>,
        operation: Operation,
        now: Timestamp,
    ) -> Result<OwnFacts, RevocationError> {
        let id_index = identity.map(|i| i.id_index.as_str());
        let user = &session.user_id;
        let since = now.checked_sub(self.policy.own.abnormal_login_within).unwrap_or(now);
        let last_abnormal_login = self.logins.last_abnormal_login(user, since).await?;
        let primary_device = self.auth.devices(user).await?.iter().any(|d| d.id == session.device_id && d.primary);
        let last_real_name_change = match id_index {
            Some(index) => self
                .identities
                .change_history(index)
                .await?
                .into_iter()
                .filter_map(|e| match e {
                    ChangeEvent::Changed { at } => Some(at),
                    ChangeEvent::CoolingOffStarted { .. } => None,
                })
                .max(),
            None => None,
        };
        let (minor_without_guardian, review) = match identity {
            Some(i) => self.review_standing(session, i, operation, now).await?,
            None => (false, ReviewStanding::Clear),
        };
        Ok(OwnFacts { last_abnormal_login, primary_device, last_real_name_change, minor_without_guardian, review })
    }

    /// Whether the user is a minor without an approved guardian, and where
    /// the review their request needs stands (the latest case for it).
    async fn review_standing(
        &self,
        session: &SessionRow,
        identity: &IdentityRow,
        operation: Operation,
        now: Timestamp,
    ) -> Result<(bool, ReviewStanding), RevocationError> {
        let user = &session.user_id;
        let reader = IdentityReader { store: self.identities, users: self.users, vault: self.vault, clock: self.clock };
        let minor = reader.read::<RevocationError>(user, &format!("user:{user}"), None).await?.is_some_and(|v| v.minor);
        let Some(need) = revocation::review_need(minor, identity.document_type) else { return Ok((false, ReviewStanding::Clear)) };
        let guardian = !minor
            || self.guardians.guardianships_of(user).await?.iter().any(|g| g.minor == *user && g.status == GuardianshipStatus::Approved);
        let standing = match self.reviews.case_for(CaseKind::Revocation, &review_reference(user, operation)).await? {
            None => ReviewStanding::NotAsked(need),
            Some(c) => match c.status {
                CaseStatus::Open | CaseStatus::WaitingForUser => ReviewStanding::Pending { need, decide_by: c.sla_due_at },
                CaseStatus::Rejected => ReviewStanding::Refused(need),
                CaseStatus::Approved => {
                    let decided = c.decisions.iter().map(|d| d.at).max().unwrap_or(c.created_at);
                    // An approval serves one operation, for a while: not again after it was carried out.
                    let used = self
                        .sagas
                        .latest_revocation_of(user)
                        .await?
                        .is_some_and(|r| r.operation == operation && r.saga.phase == Phase::Committed && r.created_at > decided);
                    if used || now >= later(decided, self.policy.review_valid_for) {
                        ReviewStanding::NotAsked(need)
                    } else {
                        ReviewStanding::Clear
                    }
                }
            },
        };
        Ok((!guardian, standing))
    }

    /// Asks an operator to review the user's request for `operation` (a
    /// minor's, with their approved guardian; a foreign document's): a case
    /// in the console's queue. Asking again while one is open returns it.
    pub async fn ask_review(&self, actor: Actor<'_>, operation: Operation) -> Result<ReviewAsked, RevocationError> {
        let session = actor.session;
        let user = &session.user_id;
        let identity = self.identities.identity(user).await?.ok_or(match operation {
            Operation::RevokeRealName => RevocationError::NotVerified,
            Operation::CancelAccount => RevocationError::NoReviewNeeded,
        })?;
        let now = self.clock.now();
        let (minor_without_guardian, standing) = self.review_standing(session, &identity, operation, now).await?;
        let reference = review_reference(user, operation);
        let need = match standing {
            ReviewStanding::Clear => return Err(RevocationError::NoReviewNeeded),
            ReviewStanding::Pending { need, .. } => {
                let case = self.reviews.case_for(CaseKind::Revocation, &reference).await?.ok_or(RevocationError::NotFound)?;
                return Ok(ReviewAsked { need, case, opened: false });
            }
            ReviewStanding::NotAsked(need) | ReviewStanding::Refused(need) => need,
        };
        if minor_without_guardian {
            return Err(RevocationError::GuardianFirst);
        }
        let case = CaseRow::open(self.ids, CaseKind::Revocation, user, &reference, 1, self.policy.review_sla, now);
        let audit =
            AuditEntry::new(format!("user:{user}"), "revocation.review_asked", format!("{} ({})", operation.as_str(), need.as_str()), now)
                .subject(user)
                .request(actor.request_id);
        match self.sagas.open_review(&case, &audit).await {
            // Asked twice at once: the other request's case is the one.
            Err(StoreError::Unique(_)) => {
                let case = self.reviews.case_for(CaseKind::Revocation, &reference).await?.ok_or(RevocationError::NotFound)?;
                Ok(ReviewAsked { need, case, opened: false })
            }
            Err(e) => Err(e.into()),
            // Read back as stored (times to the microsecond), as every later read shows it.
            Ok(()) => {
                let case = self.reviews.case(&case.id).await?.unwrap_or(case);
                Ok(ReviewAsked { need, case, opened: true })
            }
        }
    }
}

fn later(from: Timestamp, wait: SignedDuration) -> Timestamp {
    from.checked_add(wait).unwrap_or(from)
}

/// What a move writes besides the saga: the grants change with the event to the apps,
/// the identity's retention end (a committed revocation), its pending-recycle mark set or lifted.
#[derive(Default)]
struct Effects {
    change: Option<(GrantEffect, NewEvent)>,
    retire: Option<Timestamp>,
    mark: Option<bool>,
    /// The account's payment limits, to the host's wallet (a committed revocation of the real name).
    limits: Option<NewEvent>,
}

/// A move: its event and what it writes.
type Moved = (Event, Effects);

/// The audit action of a move.
fn audit_action(event: Event, next: Saga) -> &'static str {
    match (event, next.phase) {
        (_, Phase::Committed) => "revocation.committed",
        (_, Phase::RolledBack) => "revocation.rolled_back",
        (Event::Done(Step::MarkPending), _) => "revocation.pending_recycle",
        (Event::Done(Step::SuspendGrants), _) => "revocation.grants_suspended",
        (Event::Done(Step::ApplyStores), _) => "revocation.stores_applied",
        (Event::Begin(Step::Commit), _) => "revocation.commit_begun",
        (Event::Compensated(_), _) => "revocation.compensated",
        _ => "revocation.rolling_back",
    }
}
