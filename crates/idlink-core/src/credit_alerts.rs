//! Credit alerts (SPEC CR6, issue 15): a user who opts in is told when their
//! credit record changes (a new query by an institution, a new overdue, a
//! new public record), by SMS and, for the apps they chose among those they
//! authorised, as a security event (`credit_record_changed`).
//!
//! A periodic job ([`CreditAlerts::check_due`], once across nodes) reads
//! each due watch's current file from the bureau's monitoring interface
//! (which adds no query record to the file), compares it with the last file
//! it compared (`idlink_domain::credit_report::changes`) and writes the new
//! file, the notices and the next check in one transaction, conditional on
//! the watch's last check: a second node's check of the same file writes
//! nothing, so a change is announced once. The first check only records the
//! file: what was there before the user opted in is not news. The file is
//! C2 data, sealed under the user's data key.

use crate::events::lifecycle_event;
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::bureau::{BureauAnswer, BureauUnavailable, CreditBureau};
use crate::ports::clock::Clock;
use crate::ports::credit::{CreditStore, CreditWatchRow, WatchCheck};
use crate::ports::events::{Lifecycle, LifecycleType};
use crate::ports::grants::GrantStore;
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::ids::Ids;
use crate::ports::outbox::NewEvent;
use crate::ports::users::UserStore;
use crate::steps::notices::{UserMessage, user_sms};
use crate::steps::personal::{Unreadable, open_identity};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::shanghai_today;
use idlink_domain::credit_report::{CreditReport, RecordChange};
use idlink_domain::{ClientId, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

const BASELINE_CONTEXT: &str = "credit_watches.baseline";
const PURPOSE: &str = "credit alerts";
/// The SMS template of an alert; its parameters say what changed.
pub const ALERT_TEMPLATE: &str = "credit_record_changed";

/// `[credit_report]`'s alert settings.
#[derive(Debug, Clone, Copy)]
pub struct AlertPolicy {
    /// How often each watch's file is compared.
    pub interval: SignedDuration,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self { interval: SignedDuration::from_hours(24) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("verify your real-name identity (resident ID card) first")]
    NotVerified,
    /// An app named is not one the user authorised (or its grant ended).
    #[error("not an app you authorised: {0}")]
    NotAuthorised(String),
    #[error(transparent)]
    Bureau(#[from] BureauUnavailable),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The user has not consented to the processing of their credit report (issue 18).
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
}

/// What a user sees of their alerts.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsView {
    pub enabled: bool,
    pub apps: Vec<ClientId>,
    /// When the file was last compared.
    pub checked_at: Option<Timestamp>,
    pub next_check_at: Option<Timestamp>,
    /// Changes announced so far.
    pub alerts: u32,
}

impl AlertsView {
    fn of(w: Option<&CreditWatchRow>) -> Self {
        match w {
            Some(w) => Self {
                enabled: w.enabled,
                apps: w.apps.clone(),
                checked_at: w.checked_at,
                next_check_at: w.next_check_at.filter(|_| w.enabled),
                alerts: w.alerts,
            },
            None => Self { enabled: false, apps: Vec::new(), checked_at: None, next_check_at: None, alerts: 0 },
        }
    }
}

/// What one pass of the job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertPass {
    pub checked: u32,
    /// Changes announced.
    pub announced: u32,
    /// Watches the bureau could not be asked about (asked again later).
    pub failed: u32,
}

pub struct CreditAlerts<'a> {
    /// Watching the record needs the credit-report consent: a withdrawal turns the watch off.
    pub consent: crate::consents::ConsentGate<'a>,
    pub watches: &'a dyn CreditStore,
    pub identities: &'a dyn IdentityStore,
    pub users: &'a dyn UserStore,
    pub grants: &'a dyn GrantStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub bureau: &'a dyn CreditBureau,
    pub policy: &'a AlertPolicy,
}

/// The stable code of a change (the security event's `change`, the SMS's `change`).
fn code(c: &RecordChange) -> &'static str {
    match c {
        RecordChange::NewQuery { .. } => "new_query",
        RecordChange::NewOverdue { .. } => "new_overdue",
        RecordChange::NewPublicRecord { .. } => "new_public_record",
    }
}

/// The SMS parameters of a change: what it is, who and when (the user's own record, sent to their own phone).
fn params(c: &RecordChange) -> Vec<(String, String)> {
    let (who, when) = match c {
        RecordChange::NewQuery { date, institution, .. } => (institution.clone(), date.to_string()),
        RecordChange::NewOverdue { institution, default_months, .. } => (institution.clone(), default_months.to_string()),
        RecordChange::NewPublicRecord { authority, date, .. } => (authority.clone(), date.to_string()),
    };
    vec![("change".to_owned(), code(c).to_owned()), ("who".to_owned(), who), ("when".to_owned(), when)]
}

impl CreditAlerts<'_> {
    pub async fn view(&self, user: &UserId) -> Result<AlertsView, AlertError> {
        Ok(AlertsView::of(self.watches.credit_watch(user).await?.as_ref()))
    }

    /// Turns the user's alerts on or off, with the apps (among those they
    /// authorised) that are told too. The first check is due at once.
    pub async fn set(
        &self,
        session: &SessionRow,
        rid: Option<&RequestId>,
        enabled: bool,
        apps: &[ClientId],
    ) -> Result<AlertsView, AlertError> {
        let user = &session.user_id;
        if enabled {
            self.consent.check_all::<AlertError>(user, &crate::credit::CREDIT_CONSENTS).await?;
            self.identities.identity(user).await?.filter(|i| i.document_type == DocumentType::ResidentId).ok_or(AlertError::NotVerified)?;
        }
        // Turning alerts off always works, whatever became of the apps named before.
        let apps: &[ClientId] = if enabled { apps } else { &[] };
        let granted = self.grants.grants_of_user(user, false).await?;
        if let Some(app) = apps.iter().find(|a| !granted.iter().any(|g| &g.client_id == *a && g.state == "active")) {
            return Err(AlertError::NotAuthorised(app.to_string()));
        }
        let now = self.clock.now();
        let action = if enabled { "credit_alerts.on" } else { "credit_alerts.off" };
        let audit = AuditEntry::new(format!("user:{user}"), action, PURPOSE, now).subject(user).request(rid);
        self.watches.set_credit_watch(user, enabled, apps, enabled.then_some(now), now, &audit).await?;
        self.view(user).await
    }

    /// The job's pass: checks the watches due now, `batch` at a time,
    /// until none is due (at most ten batches a pass). Every watch checked
    /// moves its next check, whatever happened, so a watch that keeps
    /// failing never holds the others back.
    pub async fn check_due(&self, batch: u32) -> Result<AlertPass, AlertError> {
        let now = self.clock.now();
        let mut pass = AlertPass::default();
        for _ in 0..10 {
            let due = self.watches.due_credit_watches(now, batch).await?;
            for w in &due {
                if self.consent.require_all(&w.user_id, &crate::credit::CREDIT_CONSENTS).await?.is_err() {
                    // Withdrawn (or a new text not agreed to yet): the bureau is asked nothing more.
                    let audit = AuditEntry::new("system", "credit_alerts.off", "the credit-report consent is not in force", now)
                        .subject(&w.user_id);
                    self.watches.set_credit_watch(&w.user_id, false, &[], None, now, &audit).await?;
                    continue;
                }
                match self.check(w, now).await {
                    Ok(announced) => {
                        pass.checked += 1;
                        pass.announced += announced;
                    }
                    Err(e) => {
                        pass.failed += 1;
                        self.defer(w, now, &e).await?;
                    }
                }
            }
            if due.len() < usize::try_from(batch).unwrap_or(usize::MAX) {
                break;
            }
        }
        Ok(pass)
    }

    /// A check that failed: asked again later (the bureau's retry time, or
    /// an hour), or, when the user's data can no longer be read (their key
    /// was shredded), the watch is turned off. The log names the kind of
    /// failure only: an error's text may quote the file.
    async fn defer(&self, w: &CreditWatchRow, now: Timestamp, e: &AlertError) -> Result<(), AlertError> {
        let (code, after) = match e {
            AlertError::Bureau(u) => {
                ("bureau_unavailable", SignedDuration::from_secs(i64::try_from(u.retry_after_secs).unwrap_or(60).max(60)))
            }
            AlertError::Unreadable(_) | AlertError::Crypto(_) => ("unreadable", self.policy.interval),
            AlertError::NotVerified | AlertError::NotAuthorised(_) | AlertError::Consent(_) => ("not_verified", self.policy.interval),
            AlertError::Store(_) => ("store", SignedDuration::from_hours(1)),
        };
        tracing::warn!(user = %w.user_id, failure = code, "a credit watch could not be checked; it is asked again later");
        if code == "unreadable" {
            let audit = AuditEntry::new("system", "credit_alerts.off", "the user's data can no longer be read", now).subject(&w.user_id);
            self.watches.set_credit_watch(&w.user_id, false, &[], None, now, &audit).await?;
            return Ok(());
        }
        let retry = WatchCheck {
            baseline_cipher: None,
            checked_at: now,
            next_check_at: now.checked_add(after).unwrap_or(now),
            alerts: 0,
            last_error: Some(code),
            notices: &[],
            audit: None,
        };
        self.watches.record_credit_watch_check(&w.user_id, w.checked_at, &retry).await?;
        Ok(())
    }

    /// Checks one watch; answers how many changes it announced.
    async fn check(&self, w: &CreditWatchRow, now: Timestamp) -> Result<u32, AlertError> {
        let user = &w.user_id;
        let retry = |why: &'static str, after: SignedDuration| WatchCheck {
            baseline_cipher: None,
            checked_at: now,
            next_check_at: now.checked_add(after).unwrap_or(now),
            alerts: 0,
            last_error: Some(why),
            notices: &[],
            audit: None,
        };
        let Some(identity) = self.identities.identity(user).await?.filter(|i| i.document_type == DocumentType::ResidentId) else {
            self.watches.record_credit_watch_check(user, w.checked_at, &retry("not_verified", self.policy.interval)).await?;
            return Ok(0);
        };
        let read = AuditEntry::new("system", "identity.read", PURPOSE, now).subject(user);
        let opened = open_identity::<AlertError>(self.users, self.vault, user, &read, &identity.name_cipher, &identity.id_cipher).await?;
        let id_number = opened.resident_id(shanghai_today(now))?;
        let watch_ref = format!("watch-{user}");
        let report = match self.bureau.monitor(&watch_ref, &opened.name, &id_number).await {
            Ok(BureauAnswer::Ready(report)) if report.header.id_number == id_number.reveal() => report,
            Ok(_) => {
                self.watches.record_credit_watch_check(user, w.checked_at, &retry("bureau_refused", self.policy.interval)).await?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        // The first check records the file: what was there before is not news.
        // A stored file that no longer reads (a format change) is replaced the same way.
        let earlier = w.baseline_cipher.as_deref().and_then(|sealed| {
            let clear = opened.key.open(BASELINE_CONTEXT, sealed).ok()?;
            let read = serde_json::from_slice::<CreditReport>(&clear).ok();
            if read.is_none() {
                tracing::warn!(user = %user, "a credit watch's stored file no longer reads; it is taken afresh");
            }
            read
        });
        let changes = earlier.map(|e| idlink_domain::credit_report::changes(&e, &report)).unwrap_or_default();
        let mut notices: Vec<NewEvent> = Vec::new();
        for c in &changes {
            let message = UserMessage {
                template: ALERT_TEMPLATE.to_owned(),
                params: params(c),
                actor: "system".to_owned(),
                purpose: PURPOSE.to_owned(),
                request_id: None,
            };
            notices.push(user_sms::<AlertError>(self.vault, self.ids, now, user, &message)?);
            for app in &w.apps {
                let event = Lifecycle {
                    kind: LifecycleType::CreditRecordChanged,
                    user: user.clone(),
                    at: now,
                    actor: "system".to_owned(),
                    client: Some(app.clone()),
                    sessions: Vec::new(),
                    reason: Some(code(c).to_owned()),
                };
                notices.push(lifecycle_event::<AlertError>(self.vault, self.ids, &event)?);
            }
        }
        let json = serde_json::to_vec(&report).map_err(|e| StoreError::Corrupt(format!("a credit report: {e}")))?;
        let sealed = self.vault.seal(&opened.key, BASELINE_CONTEXT, &json)?;
        let announced = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        // Every read of the file is recorded (P7), with what it announced.
        let kinds: Vec<&str> = changes.iter().map(code).collect();
        let audit = if announced > 0 {
            AuditEntry::new("system", "credit_alerts.announced", format!("{PURPOSE}: {}", kinds.join(", ")), now).subject(user)
        } else {
            AuditEntry::new("system", "credit_alerts.checked", PURPOSE, now).subject(user)
        };
        let check = WatchCheck {
            baseline_cipher: Some(&sealed),
            checked_at: now,
            next_check_at: now.checked_add(self.policy.interval).unwrap_or(now),
            alerts: announced,
            last_error: None,
            notices: &notices,
            audit: Some(&audit),
        };
        Ok(if self.watches.record_credit_watch_check(user, w.checked_at, &check).await? { announced } else { 0 })
    }
}
