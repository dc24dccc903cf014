//! Retention by period (issue 18 points 2 and 4, SPEC P7, CP): each kind of
//! record is kept for its rule, then purged by one periodic job (once across
//! nodes, under its lease), and legal holds stop the purge for what they cover.
//!
//! - The query log and the audit log: `audit.retention_years` (at least 5).
//! - Sign-ins (the network-operation log): `retention.sign_in_months` (at
//!   least 6) after their session ended.
//! - Credit-report files (the sealed report and its PDF):
//!   `retention.credit_file_days` after the report was ready; the request
//!   row (its fee and state) stays.
//! - Idempotency records and delivered outbox events are purged by their own
//!   jobs; they are listed here with their rules.
//!
//! The audit chain is purged as a prefix, a whole month (Asia/Shanghai) at a
//! time, and only up to a signed checkpoint: the records go, the checkpoints
//! stay, the purge is recorded in the chain and `idlink audit verify` proves
//! the chain from that checkpoint to the head (`audit::verify_store`). The
//! newest checkpoint is never a purge's end, so the signer always finds the
//! record it resumes from.
//!
//! A user is held while a legal hold on them is in force or a review case
//! about them is open: no purge removes their records, and the audit purge
//! stops before the first record about them.

use crate::audit::{ChainVerifier, PURGE_ACTION, purge_purpose};
use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, AuditPurge, AuditStore};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::retention::{CaseHold, LegalHold, RetentionStore};
use idlink_domain::UserId;
use idlink_domain::calendar::shanghai;
use jiff::{SignedDuration, Span, Timestamp, ToSpan};
use serde::Serialize;

/// Rows deleted per statement: short transactions beside live traffic.
const BATCH: u32 = 1000;
/// Months of the audit chain purged in one run at most.
const MONTHS_PER_RUN: usize = 24;
/// The reasons a legal hold may give.
pub const HOLD_REASONS: [&str; 3] = ["dispute", "authority", "litigation"];

/// How long each kind is kept (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRules {
    /// `audit.retention_years`: the audit log and the query log.
    pub audit_years: u32,
    /// `retention.sign_in_months`.
    pub sign_in_months: u32,
    /// `retention.credit_file_days`.
    pub credit_file_days: u32,
    /// `server.idempotency_ttl_secs` (purged by the idempotency job).
    pub idempotency: SignedDuration,
    /// `outbox.keep_delivered_hours` (purged by outbox housekeeping).
    pub outbox_delivered: SignedDuration,
}

/// How long a kind is kept, as the rule says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "unit", content = "n", rename_all = "snake_case")]
pub enum Keep {
    Years(u32),
    Months(u32),
    Days(u32),
    Hours(i64),
}

impl Keep {
    /// `None` past what a calendar can count (a keep of "practically forever").
    fn span(self) -> Option<Span> {
        let s = Span::new();
        match self {
            Keep::Years(n) => s.try_years(i64::from(n)),
            Keep::Months(n) => s.try_months(i64::from(n)),
            Keep::Days(n) => s.try_days(i64::from(n)),
            Keep::Hours(n) => s.try_hours(n),
        }
        .ok()
    }

    /// `at` plus the keep, on the Asia/Shanghai calendar.
    fn after(self, at: Timestamp) -> Timestamp {
        self.span().and_then(|s| at.to_zoned(shanghai()).checked_add(s).ok()).map_or(Timestamp::MAX, |z| z.timestamp())
    }

    /// `at` minus the keep: records older than this are past their rule.
    fn before(self, at: Timestamp) -> Timestamp {
        self.span().and_then(|s| at.to_zoned(shanghai()).checked_sub(s).ok()).map_or(Timestamp::MIN, |z| z.timestamp())
    }
}

/// One kind of record with its rule, as the console and `idlink retention status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindStatus {
    /// `audit_log`, `query_log`, `sign_ins`, `credit_files`, `idempotency`, `outbox`.
    pub kind: &'static str,
    pub keep: Keep,
    /// The configuration key the rule comes from.
    pub setting: &'static str,
    /// The job that purges it.
    pub job: &'static str,
    pub oldest: Option<Timestamp>,
    /// Records older than this are purged at the job's next run.
    pub cutoff: Timestamp,
    /// When the oldest record kept is due (its time plus the keep).
    pub oldest_due: Option<Timestamp>,
}

/// The holds in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holds {
    pub legal: Vec<LegalHold>,
    pub cases: Vec<CaseHold>,
}

/// What one run purged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub query_log: u64,
    pub sign_ins: u64,
    pub credit_files: u64,
    /// The audit chain's periods purged, oldest first.
    pub audit: Vec<AuditPurge>,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("the reason must be one of: dispute, authority, litigation")]
    BadReason,
    #[error("the reference must be 1 to 100 characters without line breaks (a ticket or request number, no personal data)")]
    BadReference,
    #[error("there is no user with this id")]
    UnknownUser,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The retention use cases and the purge job's work.
pub struct Retention<'a> {
    pub store: &'a dyn RetentionStore,
    pub audits: &'a dyn AuditStore,
    pub clock: &'a dyn Clock,
    /// The audit signing key's public half: a purge ends only at a checkpoint it signed.
    pub public_key: String,
    pub rules: RetentionRules,
}

impl Retention<'_> {
    fn audit_keep(&self) -> Keep {
        Keep::Years(self.rules.audit_years)
    }

    /// Purges every kind past its rule (except held users' records). Safe to
    /// run on several nodes at once: each statement deletes only what is past
    /// its rule, and an audit purge is refused when another node purged first.
    pub async fn purge(&self) -> Result<Purged, StoreError> {
        let now = self.clock.now();
        let mut out = Purged {
            query_log: drain(|| self.store.purge_query_log(self.audit_keep().before(now), BATCH)).await?,
            sign_ins: drain(|| self.store.purge_sign_ins(Keep::Months(self.rules.sign_in_months).before(now), BATCH)).await?,
            credit_files: drain(|| self.store.purge_credit_files(Keep::Days(self.rules.credit_file_days).before(now), BATCH)).await?,
            audit: Vec::new(),
        };
        out.audit = self.purge_audit(now).await?;
        Ok(out)
    }

    /// Purges the audit chain month by month while a whole month is past the
    /// rule, each time up to the last checkpoint signed within the month.
    async fn purge_audit(&self, now: Timestamp) -> Result<Vec<AuditPurge>, StoreError> {
        let cutoff = self.audit_keep().before(now);
        let mut done = Vec::new();
        let checkpoints = self.audits.checkpoints().await?;
        // The newest checkpoint stays above every purge (the signer resumes from it).
        let newest = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
        // What an interrupted run left of the records its purge covers goes first.
        drain(|| self.store.delete_purged_audit(BATCH)).await?;
        let held = self.store.first_held_audit_seq().await?;
        let Some((mut first_seq, mut first_at)) = self.store.first_audit_record().await? else { return Ok(done) };
        let Ok(mut month) = first_at.to_zoned(shanghai()).first_of_month().and_then(|d| d.start_of_day()) else { return Ok(done) };
        for _ in 0..MONTHS_PER_RUN {
            let Ok(next) = month.checked_add(1.month()) else { break };
            let end = next.timestamp();
            if end > cutoff {
                break;
            }
            // The last checkpoint signed within the month covers only records written before its end.
            let boundary = checkpoints
                .iter()
                .filter(|c| c.at < end && c.seq >= first_seq && c.seq < newest && held.is_none_or(|h| c.seq < h))
                .filter(|c| c.signed_by(&self.public_key))
                .max_by_key(|c| c.seq);
            if let Some(c) = boundary {
                // Evidence of tampering is never purged: the records must still chain to the checkpoint.
                self.check_range(first_seq, c).await?;
                let from = first_at.to_zoned(shanghai()).strftime("%Y-%m").to_string();
                let to = month.strftime("%Y-%m").to_string();
                let purge = AuditPurge {
                    first_seq,
                    through_seq: c.seq,
                    through_hash: c.hash.clone(),
                    period: if from == to { to } else { format!("{from}..{to}") },
                    records: u64::try_from(c.seq - first_seq + 1).unwrap_or(0),
                    purged_at: now,
                };
                let audit = AuditEntry::new("system", PURGE_ACTION, purge_purpose(&purge), now);
                if !self.store.purge_audit(&purge, &audit).await? {
                    break; // another node purged first, or a hold came meanwhile
                }
                drain(|| self.store.delete_purged_audit(BATCH)).await?;
                tracing::info!(first = purge.first_seq, through = purge.through_seq, period = %purge.period, "audit records purged by retention");
                done.push(purge);
                match self.store.first_audit_record().await? {
                    Some((seq, at)) => (first_seq, first_at) = (seq, at),
                    None => break,
                }
            }
            month = next;
        }
        Ok(done)
    }

    /// Walks the records `first_seq..=c.seq`: each must hash to itself and
    /// link to the one before, and the last must be the checkpoint's.
    async fn check_range(&self, first_seq: i64, c: &crate::ports::audit::Checkpoint) -> Result<(), StoreError> {
        let refuse = |why: String| {
            StoreError::Corrupt(format!(
                "audit records {first_seq} to {} do not verify ({why}); nothing was purged: run `idlink audit verify`",
                c.seq
            ))
        };
        let mut after = first_seq - 1;
        let mut v: Option<ChainVerifier> = None;
        while after < c.seq {
            let batch = self.audits.audit_records(after, 2000).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for r in batch.iter().filter(|r| r.seq <= c.seq) {
                let verifier = v.get_or_insert_with(|| ChainVerifier::resume(r.seq - 1, &r.prev_hash, [c.seq]));
                verifier.push(r).map_err(|b| refuse(b.to_string()))?;
            }
        }
        match v {
            Some(v) if v.first_seq_seen() == Some(first_seq) && v.hash_at(c.seq) == Some(c.hash.as_str()) => Ok(()),
            _ => Err(refuse(format!("the chain does not end in the hash checkpoint {} signed", c.seq))),
        }
    }

    /// Each kind with its rule and the oldest record kept.
    pub async fn status(&self) -> Result<Vec<KindStatus>, StoreError> {
        let now = self.clock.now();
        let oldest = self.store.oldest_kept().await?;
        let hours = |d: SignedDuration| Keep::Hours(d.as_hours());
        let rows: [(&'static str, Keep, &'static str, &'static str, Option<Timestamp>); 6] = [
            ("audit_log", self.audit_keep(), "audit.retention_years", "retention", oldest.audit_log),
            ("query_log", self.audit_keep(), "audit.retention_years", "retention", oldest.query_log),
            ("sign_ins", Keep::Months(self.rules.sign_in_months), "retention.sign_in_months", "retention", oldest.sign_ins),
            ("credit_files", Keep::Days(self.rules.credit_file_days), "retention.credit_file_days", "retention", oldest.credit_files),
            ("idempotency", hours(self.rules.idempotency), "server.idempotency_ttl_secs", "idempotency_purge", oldest.idempotency),
            ("outbox", hours(self.rules.outbox_delivered), "outbox.keep_delivered_hours", "outbox_housekeeping", oldest.outbox),
        ];
        Ok(rows
            .into_iter()
            .map(|(kind, keep, setting, job, oldest)| KindStatus {
                kind,
                keep,
                setting,
                job,
                oldest,
                cutoff: keep.before(now),
                oldest_due: oldest.map(|o| keep.after(o)),
            })
            .collect())
    }

    /// The holds in force: legal holds and open review cases.
    pub async fn holds(&self) -> Result<Holds, StoreError> {
        Ok(Holds { legal: self.store.legal_holds(false).await?, cases: self.store.case_holds().await? })
    }

    /// Places a legal hold on `user`'s records (audited, naming the user as subject).
    pub async fn place_hold(
        &self,
        ids: &dyn Ids,
        user: &UserId,
        reason: &str,
        reference: &str,
        actor: &str,
    ) -> Result<LegalHold, HoldError> {
        if !HOLD_REASONS.contains(&reason) {
            return Err(HoldError::BadReason);
        }
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 100 || reference.chars().any(char::is_control) {
            return Err(HoldError::BadReference);
        }
        let now = self.clock.now();
        let hold = LegalHold {
            id: format!("hold_{}", hex::encode(ids.entropy())),
            user_id: user.clone(),
            reason: reason.to_owned(),
            reference: reference.to_owned(),
            placed_by: actor.to_owned(),
            placed_at: now,
            released_by: None,
            released_at: None,
        };
        let mut audit = AuditEntry::new(actor, "retention.hold", format!("legal hold {} ({reason}, {reference})", hold.id), now);
        audit.subject = Some(user.as_str().to_owned());
        if !self.store.place_hold(&hold, &audit).await? {
            return Err(HoldError::UnknownUser);
        }
        Ok(hold)
    }

    /// Releases a hold; false when there is no such hold in force.
    pub async fn release_hold(&self, id: &str, actor: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let audit = AuditEntry::new(actor, "retention.release", format!("legal hold {id} released"), now);
        self.store.release_hold(id, actor, now, &audit).await
    }
}

/// Repeats a batch purge until a batch comes back short; the total.
async fn drain<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let n = batch().await?;
        total += n;
        if n < u64::from(BATCH) {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::MIN)
    }

    #[test]
    fn keeps_count_on_the_shanghai_calendar() {
        // 2026-12-01 01:00 in Shanghai is 2026-11-30T17:00Z.
        let now = at("2026-11-30T17:00:00Z");
        assert_eq!(Keep::Years(5).before(now), at("2021-11-30T17:00:00Z"));
        assert_eq!(Keep::Months(6).before(now), at("2026-05-31T17:00:00Z"));
        assert_eq!(Keep::Days(180).after(at("2026-01-01T00:00:00Z")), at("2026-06-30T00:00:00Z"));
        assert_eq!(Keep::Hours(24).before(now), at("2026-11-29T17:00:00Z"));
    }
}
