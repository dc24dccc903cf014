//! Storage of operators and their sessions, review cases (and what a
//! decided case changes), freezes with the login signals the risk checks
//! read, and guardianships.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::freezes::{FreezeRow, FreezeStore};
use idlink_core::ports::guardians::{GuardianStore, Guardianship, GuardianshipStatus};
use idlink_core::ports::operators::{OperatorRow, OperatorSessionRow, OperatorStore, Role};
use idlink_core::ports::outbox::NewEvent;
use idlink_core::ports::reviews::{
    AnswerChange, CaseKind, CaseRow, CaseStatus, Decision, InfoAnswer, InfoReason, InfoRequest, ReviewStore,
};
use idlink_domain::{CaseId, GuardianshipId, OperatorId, OperatorSessionId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::identity::UPSERT_IDENTITY;
use crate::outbox::enqueue_in;
use crate::rows::{Columns, count_u32, execute, fetch_all, fetch_one, fetch_optional, first, micros, parsed_list, timestamp};
use crate::write::Tx;

fn operator(r: &AnyRow) -> Result<OperatorRow, StoreError> {
    Ok(OperatorRow {
        id: r.id("id")?,
        username: r.col("username")?,
        password_hash: r.col("password_hash")?,
        totp_cipher: r.col("totp_cipher")?,
        roles: parsed_list("role", &r.col::<String>("roles")?, ',', Role::parse)?,
        created_at: r.instant("created_at")?,
        on_duty: r.flag("on_duty")?,
        phone_cipher: r.col("phone_cipher")?,
        failed_sign_ins: r.count_u32("failed_sign_ins")?,
        locked_until: r.instant_opt("locked_until")?,
    })
}

fn operator_session(r: &AnyRow) -> Result<OperatorSessionRow, StoreError> {
    Ok(OperatorSessionRow {
        id: r.id("id")?,
        operator_id: r.id("operator_id")?,
        secret_hash: r.col("secret_hash")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant("expires_at")?,
        // Sessions from before migration 0015 count from their start.
        last_seen_at: r.instant_opt("last_seen_at")?.unwrap_or(r.instant("created_at")?),
    })
}

const OPERATOR_COLUMNS: &str =
    "id, username, password_hash, totp_cipher, roles, created_at, on_duty, phone_cipher, failed_sign_ins, locked_until";

#[async_trait]
impl OperatorStore for SqlStore {
    async fn insert_operator(&self, op: &OperatorRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO operators ({OPERATOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(op.id.as_str())
            .bind(&op.username)
            .bind(&op.password_hash)
            .bind(&op.totp_cipher)
            .bind(op.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
            .bind(micros(op.created_at))
            .bind(i64::from(op.on_duty))
            .bind(op.phone_cipher.clone())
            .bind(i64::from(op.failed_sign_ins))
            .bind(op.locked_until.map(micros));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn operator_by_username(&self, username: &str) -> Result<Option<OperatorRow>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE username = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(username), &self.reader, operator).await
    }

    async fn operator(&self, id: &OperatorId) -> Result<Option<OperatorRow>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, operator).await
    }

    async fn insert_operator_session(&self, s: &OperatorSessionRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO operator_sessions (id, operator_id, secret_hash, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.as_str())
        .bind(s.operator_id.as_str())
        .bind(&s.secret_hash)
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .bind(micros(s.last_seen_at));
        // A success ends the run of failures (a lock has already ended, or sign-in was refused before).
        let reset = sqlx::query("UPDATE operators SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1").bind(s.operator_id.as_str());
        self.audited(audit, async |tx| {
            execute(q, &mut *tx).await?;
            execute(reset, &mut *tx).await
        })
        .await?;
        Ok(())
    }

    async fn operator_session(&self, id: &OperatorSessionId) -> Result<Option<OperatorSessionRow>, StoreError> {
        let q =
            sqlx::query("SELECT id, operator_id, secret_hash, created_at, expires_at, last_seen_at FROM operator_sessions WHERE id = $1")
                .bind(id.as_str());
        fetch_optional(q, &self.reader, operator_session).await
    }

    async fn operators(&self) -> Result<Vec<OperatorRow>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY username");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, operator).await
    }

    async fn set_on_duty(
        &self,
        id: &OperatorId,
        on_duty: bool,
        phone_cipher: Option<&[u8]>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE operators SET on_duty = $2, phone_cipher = COALESCE($3, phone_cipher) WHERE id = $1")
            .bind(id.as_str())
            .bind(i64::from(on_duty))
            .bind(phone_cipher.map(<[u8]>::to_vec));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }
    async fn record_sign_in_failure(
        &self,
        id: &OperatorId,
        max_failures: u32,
        lock_until: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        // One statement counts and locks, so concurrent failures cannot skip the lock.
        let count = sqlx::query(
            "UPDATE operators SET
                 locked_until = CASE WHEN failed_sign_ins + 1 >= $2 THEN $3 ELSE locked_until END,
                 failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $2 THEN 0 ELSE failed_sign_ins + 1 END
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(i64::from(max_failures))
        .bind(micros(lock_until));
        let read = sqlx::query("SELECT locked_until FROM operators WHERE id = $1").bind(id.as_str());
        self.recorded(audit, async |tx| {
            execute(count, &mut *tx).await?;
            let until = fetch_optional(read, &mut *tx, first::<Option<i64>>).await?.flatten();
            Ok(until == Some(micros(lock_until)))
        })
        .await
    }

    async fn unlock_operator(&self, id: &OperatorId, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE operators SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1").bind(id.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn end_operator_session(&self, id: &OperatorSessionId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE operator_sessions SET expires_at = $2 WHERE id = $1 AND expires_at > $2")
            .bind(id.as_str())
            .bind(micros(at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn touch_operator_session(&self, id: &OperatorSessionId, at: Timestamp) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE operator_sessions SET last_seen_at = $2 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)")
            .bind(id.as_str())
            .bind(micros(at));
        self.write(crate::write::Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }
}

/// Inserts a case inside another change's transaction.
pub(crate) async fn open_case_in(tx: &mut Tx, c: &CaseRow) -> Result<(), StoreError> {
    let q = sqlx::query(
        "INSERT INTO review_cases (id, kind, subject, reference, status, steps_required, created_at, sla_due_at, first_response_at, claimed_by)
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, NULL, NULL)",
    )
    .bind(c.id.as_str())
    .bind(c.kind.as_str())
    .bind(c.subject.as_str())
    .bind(&c.reference)
    .bind(i64::from(c.steps_required))
    .bind(micros(c.created_at))
    .bind(micros(c.sla_due_at));
    execute(q, &mut *tx).await?;
    Ok(())
}

pub(crate) const CASE_COLUMNS: &str =
    "id, kind, subject, reference, status, steps_required, created_at, sla_due_at, first_response_at, escalated_at, claimed_by";

/// The address of the user's ($1) sign-in before this one ($2), for the login risk check.
pub(crate) const PREVIOUS_LOGIN_IP: &str =
    "SELECT client_ip FROM sessions WHERE user_id = $1 AND id <> $2 ORDER BY created_at DESC, id DESC LIMIT 1";

/// Open cases past their first-response SLA at `$1` (see `CaseRow::breached`).
const BREACHED: &str = "status = 'open' AND sla_due_at < $1 AND (first_response_at IS NULL OR first_response_at > sla_due_at)";

fn decision(d: &AnyRow) -> Result<Decision, StoreError> {
    Ok(Decision {
        step: d.count_u32("step")?,
        operator_id: d.id("operator_id")?,
        approve: d.flag("approve")?,
        note: d.col("note")?,
        at: d.instant("at")?,
    })
}

/// A case row without its decisions (read separately).
pub(crate) fn case(r: &AnyRow) -> Result<CaseRow, StoreError> {
    Ok(CaseRow {
        id: r.id("id")?,
        kind: r.parsed("kind", "case kind", CaseKind::parse)?,
        status: r.parsed("status", "case status", CaseStatus::parse)?,
        subject: r.user("subject")?,
        reference: r.col("reference")?,
        steps_required: r.count_u32("steps_required")?,
        created_at: r.instant("created_at")?,
        sla_due_at: r.instant("sla_due_at")?,
        first_response_at: r.instant_opt("first_response_at")?,
        escalated_at: r.instant_opt("escalated_at")?,
        claimed_by: r.id_opt("claimed_by")?,
        decisions: Vec::new(),
        voided_decisions: Vec::new(),
        requests: Vec::new(),
    })
}

fn info_request(r: &AnyRow) -> Result<InfoRequest, StoreError> {
    Ok(InfoRequest {
        seq: r.count_u32("seq")?,
        operator_id: r.id("operator_id")?,
        reason: r.parsed("reason", "information reason", InfoReason::parse)?,
        note_cipher: r.col("note")?,
        requested_at: r.instant("requested_at")?,
        answer_cipher: r.col("answer")?,
        answered_at: r.instant_opt("answered_at")?,
        resent: r.col("resent")?,
    })
}

impl SqlStore {
    /// Reads the decisions and the requests for more information of each case.
    async fn with_decisions(&self, mut cases: Vec<CaseRow>) -> Result<Vec<CaseRow>, StoreError> {
        for c in &mut cases {
            let q = sqlx::query("SELECT step, operator_id, approve, note, at FROM review_decisions WHERE case_id = $1 ORDER BY step");
            c.decisions = fetch_all(q.bind(c.id.as_str()), &self.reader, decision).await?;
            let q = sqlx::query(
                "SELECT step, operator_id, approve, note, at FROM review_voided_decisions WHERE case_id = $1 ORDER BY voided_at, step",
            );
            c.voided_decisions = fetch_all(q.bind(c.id.as_str()), &self.reader, decision).await?;
            let q = sqlx::query(
                "SELECT seq, operator_id, reason, note, requested_at, answer, answered_at, resent FROM review_requests WHERE case_id = $1 ORDER BY seq",
            );
            c.requests = fetch_all(q.bind(c.id.as_str()), &self.reader, info_request).await?;
        }
        Ok(cases)
    }
}

/// What a finished case does to the state it reviewed.
async fn apply_outcome(tx: &mut Tx, case: &CaseRow, outcome: CaseStatus, at: Timestamp) -> Result<(), StoreError> {
    match (case.kind, outcome) {
        (CaseKind::Verification, CaseStatus::Approved) => {
            let sql = format!(
                "INSERT INTO identities (user_id, name_cipher, id_cipher, id_index, method, verified_at, document_type, birth_cipher)
                 SELECT user_id, name_cipher, id_cipher, id_index, method, $2, document_type, birth_cipher FROM verifications WHERE id = $1
                 {UPSERT_IDENTITY}"
            );
            execute(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&case.reference).bind(micros(at)), &mut *tx).await?;
            set_verification(tx, &case.reference, "verified", at).await
        }
        (CaseKind::Verification, _) => set_verification(tx, &case.reference, "rejected", at).await,
        (CaseKind::RiskFreeze, CaseStatus::Approved) => {
            let q = sqlx::query("UPDATE freezes SET status = 'lifted', lifted_at = $2 WHERE user_id = $1 AND status = 'frozen'")
                .bind(case.subject.as_str())
                .bind(micros(at));
            execute(q, &mut *tx).await?;
            Ok(())
        }
        (CaseKind::RiskFreeze, _) => Ok(()),
        (CaseKind::CardRisk, CaseStatus::Approved) => {
            // The holder is who they say: the risk is cleared, and a binding
            // left on another account for the same card ends.
            let ended = sqlx::query(
                "UPDATE ss_bindings SET status = 'cancelled', updated_at = $2, version = version + 1
                 WHERE id <> $1 AND status IN ('open', 'frozen', 'bound')
                   AND card_index = (SELECT card_index FROM ss_bindings
                                     WHERE id = $1 AND status = 'frozen' AND risk_reason = 'card_bound_elsewhere')",
            )
            .bind(&case.reference)
            .bind(micros(at));
            execute(ended, &mut *tx).await?;
            let q = sqlx::query(
                "UPDATE ss_bindings SET status = 'open', risk_cleared = risk_reason, updated_at = $2, version = version + 1
                 WHERE id = $1 AND status = 'frozen'",
            )
            .bind(&case.reference)
            .bind(micros(at));
            execute(q, &mut *tx).await?;
            Ok(())
        }
        (CaseKind::CardRisk, _) => {
            let q = sqlx::query(
                "UPDATE ss_bindings SET status = 'cancelled', updated_at = $2, version = version + 1 WHERE id = $1 AND status = 'frozen'",
            )
            .bind(&case.reference)
            .bind(micros(at));
            execute(q, &mut *tx).await?;
            Ok(())
        }
        // The approval is read by the revocation's preflight: nothing else changes.
        (CaseKind::Revocation, _) => Ok(()),
        (CaseKind::Guardian, o) => {
            let status = if o == CaseStatus::Approved { "approved" } else { "rejected" };
            set_reviewed(tx, "guardianships", &case.reference, status, at).await
        }
    }
}

/// Adds `decisions` to the open `case` and, with `outcome`, closes it and
/// applies its effect, inside another change's transaction. `Unique` when a
/// step was taken concurrently, an operator already took one, or the case
/// was closed meanwhile.
pub(crate) async fn decide_case_in(
    tx: &mut Tx,
    case: &CaseRow,
    decisions: &[Decision],
    outcome: Option<CaseStatus>,
) -> Result<(), StoreError> {
    let mut last = None;
    for d in decisions {
        let q = sqlx::query("INSERT INTO review_decisions (case_id, step, operator_id, approve, note, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(case.id.as_str())
            .bind(i64::from(d.step))
            .bind(d.operator_id.as_str())
            .bind(i64::from(d.approve))
            .bind(&d.note)
            .bind(micros(d.at));
        execute(q, &mut *tx).await?;
        last = Some(d.at);
    }
    let at = last.unwrap_or(case.created_at);
    let status = outcome.unwrap_or(CaseStatus::Open);
    let close = sqlx::query(
        "UPDATE review_cases SET status = $2, first_response_at = COALESCE(first_response_at, $3) WHERE id = $1 AND status = 'open'",
    )
    .bind(case.id.as_str())
    .bind(status.as_str())
    .bind(micros(at));
    if execute(close, &mut *tx).await? != 1 {
        return Err(StoreError::Unique("review_cases closed concurrently".into()));
    }
    if let Some(o) = outcome {
        apply_outcome(tx, case, o, at).await?;
    }
    Ok(())
}

async fn set_verification(tx: &mut Tx, id: &str, status: &str, at: Timestamp) -> Result<(), StoreError> {
    set_reviewed(tx, "verifications", id, status, at).await
}

/// Ends the review of a verification or a guardianship (`status = 'review'`) with `status`.
async fn set_reviewed(tx: &mut Tx, table: &str, id: &str, status: &str, at: Timestamp) -> Result<(), StoreError> {
    let sql = format!("UPDATE {table} SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'review'");
    execute(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status).bind(micros(at)).bind(id), &mut *tx).await?;
    Ok(())
}

#[async_trait]
impl ReviewStore for SqlStore {
    async fn case(&self, id: &CaseId) -> Result<Option<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE id = $1");
        let found = fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, case).await?;
        Ok(self.with_decisions(Vec::from_iter(found)).await?.pop())
    }

    async fn cases(&self, status: CaseStatus, kind: Option<CaseKind>, limit: u32) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE status = $1 AND ($2 = '' OR kind = $2) ORDER BY created_at, id LIMIT $3"
        );
        let q =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status.as_str()).bind(kind.map(|k| k.as_str()).unwrap_or("")).bind(i64::from(limit));
        self.with_decisions(fetch_all(q, &self.reader, case).await?).await
    }

    async fn claim_case(&self, id: &CaseId, operator_id: &OperatorId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE review_cases SET claimed_by = $2, first_response_at = COALESCE(first_response_at, $3) WHERE id = $1 AND status = 'open'",
        )
        .bind(id.as_str())
        .bind(operator_id.as_str())
        .bind(micros(at));
        self.audited(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn release_case(&self, id: &CaseId, operator_id: &OperatorId, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE review_cases SET claimed_by = NULL WHERE id = $1 AND claimed_by = $2 AND status = 'open'")
            .bind(id.as_str())
            .bind(operator_id.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn decide_case(
        &self,
        case: &CaseRow,
        d: &Decision,
        outcome: Option<CaseStatus>,
        event: Option<&NewEvent>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            decide_case_in(tx, case, std::slice::from_ref(d), outcome).await?;
            crate::outbox::enqueue_in(tx, event).await
        })
        .await
    }

    async fn sla_breaches(&self, now: Timestamp) -> Result<Vec<(CaseKind, u64)>, StoreError> {
        let sql = format!("SELECT kind, COUNT(*) AS n FROM review_cases WHERE {BREACHED} GROUP BY kind ORDER BY kind");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now));
        fetch_all(q, &self.reader, |r| Ok((r.parsed("kind", "case kind", CaseKind::parse)?, r.count_u64("n")?))).await
    }

    async fn breached_cases(&self, now: Timestamp, limit: u32) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE {BREACHED} ORDER BY sla_due_at, id LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(i64::from(limit)), &self.reader, case).await
    }

    async fn escalate_case(&self, id: &CaseId, at: Timestamp, event: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE review_cases SET escalated_at = $2 WHERE id = $1 AND status = 'open' AND escalated_at IS NULL")
            .bind(id.as_str())
            .bind(micros(at));
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
            enqueue_in(tx, [event]).await?;
            Ok(true)
        })
        .await
    }

    async fn request_info(&self, id: &CaseId, r: &InfoRequest, notice: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError> {
        let wait = sqlx::query(
            "UPDATE review_cases SET status = 'waiting_user', claimed_by = NULL, first_response_at = COALESCE(first_response_at, $3)
             WHERE id = $1 AND status = 'open' AND claimed_by = $2",
        )
        .bind(id.as_str())
        .bind(r.operator_id.as_str())
        .bind(micros(r.requested_at));
        let insert = sqlx::query(
            "INSERT INTO review_requests (case_id, seq, operator_id, reason, note, requested_at, answer, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        )
        .bind(id.as_str())
        .bind(i64::from(r.seq))
        .bind(r.operator_id.as_str())
        .bind(r.reason.as_str())
        .bind(r.note_cipher.as_slice())
        .bind(micros(r.requested_at));
        self.audited_if(audit, async |tx| {
            if execute(wait, &mut *tx).await? != 1 {
                return Ok(false);
            }
            execute(insert, &mut *tx).await?;
            enqueue_in(tx, [notice]).await?;
            Ok(true)
        })
        .await
    }

    async fn answer_info(&self, a: &InfoAnswer<'_>, audit: &AuditEntry) -> Result<bool, StoreError> {
        let case = a.case;
        let fill = sqlx::query(
            "UPDATE review_requests SET answer = $3, answered_at = $4, resent = $5 WHERE case_id = $1 AND seq = $2 AND answered_at IS NULL",
        )
        .bind(case.id.as_str())
        .bind(i64::from(a.seq))
        .bind(a.answer_cipher.as_slice())
        .bind(micros(a.at))
        .bind(a.change.resent());
        // New evidence voids the steps taken on the old one (dual control
        // holds on what is finally approved): all steps are needed again.
        let void = a.change.resent().map(|_| {
            (
                sqlx::query(
                    "INSERT INTO review_voided_decisions (case_id, step, operator_id, approve, note, at, voided_at)
                     SELECT case_id, step, operator_id, approve, note, at, $2 FROM review_decisions WHERE case_id = $1",
                )
                .bind(case.id.as_str())
                .bind(micros(a.at)),
                sqlx::query("DELETE FROM review_decisions WHERE case_id = $1").bind(case.id.as_str()),
            )
        });
        // Back in the queue for anyone, with a new SLA that has not been answered nor escalated yet.
        let reopen = sqlx::query(
            "UPDATE review_cases SET status = 'open', sla_due_at = $2, first_response_at = NULL, escalated_at = NULL, claimed_by = NULL
             WHERE id = $1 AND status = 'waiting_user'",
        )
        .bind(case.id.as_str())
        .bind(micros(a.sla_due_at));
        let change = match (&a.change, case.kind) {
            (AnswerChange::Document { id_cipher, id_index, birth_cipher }, CaseKind::Verification) => Some(
                sqlx::query(
                    "UPDATE verifications SET id_cipher = $1, id_index = $2, birth_cipher = COALESCE($3, birth_cipher), updated_at = $4
                     WHERE id = $5 AND status = 'review'",
                )
                .bind(id_cipher.clone())
                .bind(id_index.clone())
                .bind(birth_cipher.clone())
                .bind(micros(a.at))
                .bind(case.reference.clone()),
            ),
            (AnswerChange::Evidence { evidence_ref }, CaseKind::Guardian) => Some(
                sqlx::query("UPDATE guardianships SET evidence_ref = $1, updated_at = $2 WHERE id = $3 AND status = 'review'")
                    .bind(evidence_ref.clone())
                    .bind(micros(a.at))
                    .bind(case.reference.clone()),
            ),
            (AnswerChange::Nothing, _) => None,
            _ => return Err(StoreError::Corrupt(format!("an answer that does not fit a {} case", case.kind.as_str()))),
        };
        self.audited_if(audit, async |tx| {
            if execute(fill, &mut *tx).await? != 1 || execute(reopen, &mut *tx).await? != 1 {
                return Ok(false);
            }
            if let Some(q) = change
                && execute(q, &mut *tx).await? != 1
            {
                return Err(StoreError::Unique("the reviewed record left review concurrently".into()));
            }
            if let Some((keep, delete)) = void {
                execute(keep, &mut *tx).await?;
                execute(delete, &mut *tx).await?;
            }
            Ok(true)
        })
        .await
    }

    async fn waiting_for(&self, subject: &UserId) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE subject = $1 AND status = 'waiting_user' ORDER BY created_at, id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(subject.as_str());
        self.with_decisions(fetch_all(q, &self.reader, case).await?).await
    }

    async fn case_for(&self, kind: CaseKind, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        let sql =
            // An open case first (at most one per reference), whatever the clocks of the nodes that wrote the others.
            format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE kind = $1 AND reference = $2
                     ORDER BY CASE WHEN status IN ('open', 'waiting_user') THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1");
        let found = fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind.as_str()).bind(reference), &self.reader, case).await?;
        Ok(self.with_decisions(Vec::from_iter(found)).await?.pop())
    }
}

#[async_trait]
impl FreezeStore for SqlStore {
    async fn active_freeze(&self, user: &UserId) -> Result<Option<FreezeRow>, StoreError> {
        let q = sqlx::query("SELECT reason, frozen_at, case_id FROM freezes WHERE user_id = $1 AND status = 'frozen'").bind(user.as_str());
        fetch_optional(q, &self.reader, |r| {
            Ok(FreezeRow { user_id: user.clone(), reason: r.col("reason")?, frozen_at: r.instant("frozen_at")?, case_id: r.id("case_id")? })
        })
        .await
    }

    async fn freeze(&self, user: &UserId, reason: &str, case: &CaseRow, event: &NewEvent, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "INSERT INTO freezes (user_id, status, reason, frozen_at, lifted_at, case_id) VALUES ($1, 'frozen', $2, $3, NULL, $4)
             ON CONFLICT (user_id) DO UPDATE SET status = 'frozen', reason = excluded.reason, frozen_at = excluded.frozen_at,
                 lifted_at = NULL, case_id = excluded.case_id
             WHERE freezes.status <> 'frozen'",
        )
        .bind(user.as_str())
        .bind(reason)
        .bind(micros(case.created_at))
        .bind(case.id.as_str());
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? == 0 {
                return Ok(false);
            }
            open_case_in(tx, case).await?;
            crate::events::lifecycle_in(tx, user, event.at, crate::events::GrantChange::Suspend, event).await?;
            Ok(true)
        })
        .await
    }

    async fn previous_login_ip(&self, user: &UserId, session_id: &SessionId) -> Result<Option<String>, StoreError> {
        let q = sqlx::query(PREVIOUS_LOGIN_IP).bind(user.as_str()).bind(session_id.as_str());
        Ok(fetch_optional(q, &self.reader, first::<Option<String>>).await?.flatten())
    }

    async fn sessions_since(&self, user: &UserId, since: Timestamp) -> Result<u32, StoreError> {
        let q =
            sqlx::query("SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND created_at >= $2").bind(user.as_str()).bind(micros(since));
        count_u32("COUNT(*) sessions", fetch_one(q, &self.reader, first).await?)
    }

    async fn record_abnormal_login(
        &self,
        user: &UserId,
        session_id: &SessionId,
        decision: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO login_risks (session_id, user_id, decision, at) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(session_id.as_str())
        .bind(user.as_str())
        .bind(decision)
        .bind(micros(audit.at));
        // Once per session: a repeat records nothing, not even its audit record.
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await.map(|_| ())
    }

    async fn last_abnormal_login(&self, user: &UserId, since: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let q = sqlx::query("SELECT MAX(at) FROM login_risks WHERE user_id = $1 AND at >= $2").bind(user.as_str()).bind(micros(since));
        fetch_one(q, &self.reader, first::<Option<i64>>).await?.map(timestamp).transpose()
    }
}

fn guardianship(r: &AnyRow) -> Result<Guardianship, StoreError> {
    Ok(Guardianship {
        id: r.id("id")?,
        minor: r.user("minor_user")?,
        guardian: r.user("guardian_user")?,
        relationship: r.col("relationship")?,
        evidence_ref: r.col("evidence_ref")?,
        status: r.parsed("status", "guardianship status", GuardianshipStatus::parse)?,
        created_at: r.instant("created_at")?,
    })
}

const GUARDIAN_COLUMNS: &str = "id, minor_user, guardian_user, relationship, evidence_ref, status, created_at";

#[async_trait]
impl GuardianStore for SqlStore {
    async fn insert_guardianship(&self, g: &Guardianship, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO guardianships ({GUARDIAN_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(g.id.as_str())
            .bind(g.minor.as_str())
            .bind(g.guardian.as_str())
            .bind(&g.relationship)
            .bind(&g.evidence_ref)
            .bind(g.status.as_str())
            .bind(micros(g.created_at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn guardianship(&self, id: &GuardianshipId) -> Result<Option<Guardianship>, StoreError> {
        let sql = format!("SELECT {GUARDIAN_COLUMNS} FROM guardianships WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, guardianship).await
    }

    async fn guardianships_of(&self, user: &UserId) -> Result<Vec<Guardianship>, StoreError> {
        let sql =
            format!("SELECT {GUARDIAN_COLUMNS} FROM guardianships WHERE minor_user = $1 OR guardian_user = $1 ORDER BY created_at, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, guardianship).await
    }

    async fn accept_guardianship(
        &self,
        id: &GuardianshipId,
        guardian: &UserId,
        case: &CaseRow,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE guardianships SET status = 'review', updated_at = $1 WHERE id = $2 AND guardian_user = $3 AND status = 'pending_guardian'",
        )
        .bind(micros(at))
        .bind(id.as_str())
        .bind(guardian.as_str());
        self.open_case_if_changed(q, case, audit).await
    }
}

impl SqlStore {
    /// Runs `q` and, if it changed a row, opens `case` and appends `audit` in
    /// the same transaction (a freeze, a guardianship sent to review).
    async fn open_case_if_changed(&self, q: crate::rows::AnyQuery<'_>, case: &CaseRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? == 0 {
                return Ok(false);
            }
            open_case_in(tx, case).await?;
            Ok(true)
        })
        .await
    }
}
