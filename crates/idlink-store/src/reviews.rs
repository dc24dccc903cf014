//! Storage of operators, their sessions, review cases and freezes.

use async_trait::async_trait;
use idlink_core::audit::AuditEntry;
use idlink_core::operators::{OperatorRow, OperatorSessionRow, OperatorStore, Role};
use idlink_core::ports::StoreError;
use idlink_core::reviews::{CaseKind, CaseRow, CaseStatus, Decision, ReviewStore};
use idlink_domain::{CaseId, GuardianshipId, OperatorId, OperatorSessionId, SessionId, UserId};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{column_id, micros, store_err, timestamp};
use crate::write::Tx;

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {v}"))
}

fn operator(r: &AnyRow) -> Result<OperatorRow, StoreError> {
    let roles: String = r.try_get("roles").map_err(store_err)?;
    Ok(OperatorRow {
        id: column_id(r, "id")?,
        username: r.try_get("username").map_err(store_err)?,
        password_hash: r.try_get("password_hash").map_err(store_err)?,
        totp_cipher: r.try_get("totp_cipher").map_err(store_err)?,
        roles: roles
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Role::parse(s).ok_or_else(|| corrupt("role", s)))
            .collect::<Result<_, _>>()?,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
    })
}

const OPERATOR_COLUMNS: &str = "id, username, password_hash, totp_cipher, roles, created_at";

#[async_trait]
impl OperatorStore for SqlStore {
    async fn insert_operator(&self, op: &OperatorRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(
                "INSERT INTO operators (id, username, password_hash, totp_cipher, roles, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(op.id.as_str())
            .bind(&op.username)
            .bind(&op.password_hash)
            .bind(&op.totp_cipher)
            .bind(op.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
            .bind(micros(op.created_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn operator_by_username(&self, username: &str) -> Result<Option<OperatorRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE username = $1")))
            .bind(username)
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| operator(&r))
            .transpose()
    }

    async fn operator(&self, id: &OperatorId) -> Result<Option<OperatorRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| operator(&r))
            .transpose()
    }

    async fn insert_operator_session(&self, s: &OperatorSessionRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query("INSERT INTO operator_sessions (id, operator_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(s.id.as_str())
                .bind(s.operator_id.as_str())
                .bind(&s.secret_hash)
                .bind(micros(s.created_at))
                .bind(micros(s.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn operator_session(&self, id: &OperatorSessionId) -> Result<Option<OperatorSessionRow>, StoreError> {
        let row = sqlx::query("SELECT id, operator_id, secret_hash, created_at, expires_at FROM operator_sessions WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        row.map(|r| {
            Ok(OperatorSessionRow {
                id: column_id(&r, "id")?,
                operator_id: column_id(&r, "operator_id")?,
                secret_hash: r.try_get("secret_hash").map_err(store_err)?,
                created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
                expires_at: timestamp(r.try_get("expires_at").map_err(store_err)?)?,
            })
        })
        .transpose()
    }
}

/// Inserts a case inside another change's transaction.
pub(crate) async fn open_case_in(tx: &mut Tx, c: &CaseRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO review_cases (id, kind, subject, reference, status, steps_required, created_at, sla_due_at, first_response_at, claimed_by)
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, NULL, NULL)",
    )
    .bind(c.id.as_str())
    .bind(c.kind.as_str())
    .bind(c.subject.as_str())
    .bind(&c.reference)
    .bind(i64::from(c.steps_required))
    .bind(micros(c.created_at))
    .bind(micros(c.sla_due_at))
    .execute(&mut *tx)
    .await
    .map_err(store_err)?;
    Ok(())
}

const CASE_COLUMNS: &str = "id, kind, subject, reference, status, steps_required, created_at, sla_due_at, first_response_at";

impl SqlStore {
    async fn case_row(&self, r: &AnyRow) -> Result<CaseRow, StoreError> {
        let id: CaseId = column_id(r, "id")?;
        let kind: String = r.try_get("kind").map_err(store_err)?;
        let status: String = r.try_get("status").map_err(store_err)?;
        let subject: String = r.try_get("subject").map_err(store_err)?;
        let steps: i64 = r.try_get("steps_required").map_err(store_err)?;
        let first: Option<i64> = r.try_get("first_response_at").map_err(store_err)?;
        let decisions = sqlx::query("SELECT step, operator_id, approve, note, at FROM review_decisions WHERE case_id = $1 ORDER BY step")
            .bind(id.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(store_err)?
            .iter()
            .map(|d| {
                let step: i64 = d.try_get("step").map_err(store_err)?;
                let approve: i64 = d.try_get("approve").map_err(store_err)?;
                Ok(Decision {
                    step: u32::try_from(step).unwrap_or(u32::MAX),
                    operator_id: column_id(d, "operator_id")?,
                    approve: approve != 0,
                    note: d.try_get("note").map_err(store_err)?,
                    at: timestamp(d.try_get("at").map_err(store_err)?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(CaseRow {
            kind: CaseKind::parse(&kind).ok_or_else(|| corrupt("case kind", &kind))?,
            status: CaseStatus::parse(&status).ok_or_else(|| corrupt("case status", &status))?,
            subject: UserId::parse(&subject).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            reference: r.try_get("reference").map_err(store_err)?,
            steps_required: u32::try_from(steps).unwrap_or(u32::MAX),
            created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
            sla_due_at: timestamp(r.try_get("sla_due_at").map_err(store_err)?)?,
            first_response_at: first.map(timestamp).transpose()?,
            decisions,
            id,
        })
    }
}

/// What a finished case does to the state it reviewed.
async fn apply_outcome(tx: &mut Tx, case: &CaseRow, outcome: CaseStatus, at: Timestamp) -> Result<(), StoreError> {
    match (case.kind, outcome) {
        (CaseKind::Verification, CaseStatus::Approved) => {
            sqlx::query(
                "INSERT INTO identities (user_id, name_cipher, id_cipher, id_index, method, verified_at, document_type, birth_cipher)
                 SELECT user_id, name_cipher, id_cipher, id_index, method, $2, document_type, birth_cipher FROM verifications WHERE id = $1
                 ON CONFLICT (user_id) DO UPDATE SET name_cipher = excluded.name_cipher, id_cipher = excluded.id_cipher,
                     id_index = excluded.id_index, method = excluded.method, verified_at = excluded.verified_at,
                     document_type = excluded.document_type, birth_cipher = excluded.birth_cipher",
            )
            .bind(&case.reference)
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            set_verification(tx, &case.reference, "verified", at).await
        }
        (CaseKind::Verification, _) => set_verification(tx, &case.reference, "rejected", at).await,
        (CaseKind::RiskFreeze, CaseStatus::Approved) => {
            sqlx::query("UPDATE freezes SET status = 'lifted', lifted_at = $2 WHERE user_id = $1 AND status = 'frozen'")
                .bind(case.subject.as_str())
                .bind(micros(at))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(())
        }
        (CaseKind::RiskFreeze, _) => Ok(()),
        (CaseKind::Guardian, o) => {
            let status = if o == CaseStatus::Approved { "approved" } else { "rejected" };
            sqlx::query("UPDATE guardianships SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'review'")
                .bind(status)
                .bind(micros(at))
                .bind(&case.reference)
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            Ok(())
        }
    }
}

async fn set_verification(tx: &mut Tx, id: &str, status: &str, at: Timestamp) -> Result<(), StoreError> {
    sqlx::query("UPDATE verifications SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'review'")
        .bind(status)
        .bind(micros(at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
    Ok(())
}

#[async_trait]
impl ReviewStore for SqlStore {
    async fn case(&self, id: &CaseId) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        match row {
            Some(r) => Ok(Some(self.case_row(&r).await?)),
            None => Ok(None),
        }
    }

    async fn cases(&self, status: CaseStatus, kind: Option<CaseKind>, limit: u32) -> Result<Vec<CaseRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE status = $1 AND ($2 = '' OR kind = $2) ORDER BY created_at, id LIMIT $3"
        )))
        .bind(status.as_str())
        .bind(kind.map(|k| k.as_str()).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.case_row(r).await?);
        }
        Ok(out)
    }

    async fn claim_case(&self, id: &CaseId, operator_id: &OperatorId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited(audit, async |tx| {
            let n = sqlx::query(
                "UPDATE review_cases SET claimed_by = $2, first_response_at = COALESCE(first_response_at, $3) WHERE id = $1 AND status = 'open'",
            )
            .bind(id.as_str())
            .bind(operator_id.as_str())
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            Ok(n == 1)
        })
        .await
    }

    async fn decide_case(&self, case: &CaseRow, d: &Decision, outcome: Option<CaseStatus>, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query("INSERT INTO review_decisions (case_id, step, operator_id, approve, note, at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(case.id.as_str())
                .bind(i64::from(d.step))
                .bind(d.operator_id.as_str())
                .bind(i64::from(d.approve))
                .bind(&d.note)
                .bind(micros(d.at))
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            let status = outcome.unwrap_or(CaseStatus::Open);
            let n = sqlx::query(
                "UPDATE review_cases SET status = $2, first_response_at = COALESCE(first_response_at, $3) WHERE id = $1 AND status = 'open'",
            )
            .bind(case.id.as_str())
            .bind(status.as_str())
            .bind(micros(d.at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Unique("review_cases closed concurrently".into()));
            }
            if let Some(o) = outcome {
                apply_outcome(tx, case, o, d.at).await?;
            }
            Ok(())
        })
        .await
    }

    async fn sla_breaches(&self, now: Timestamp) -> Result<Vec<(CaseKind, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM review_cases
             WHERE status = 'open' AND sla_due_at < $1 AND (first_response_at IS NULL OR first_response_at > sla_due_at)
             GROUP BY kind ORDER BY kind",
        )
        .bind(micros(now))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(store_err)?;
                let n: i64 = r.try_get("n").map_err(store_err)?;
                Ok((CaseKind::parse(&kind).ok_or_else(|| corrupt("case kind", &kind))?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}

#[async_trait]
impl idlink_core::risk::FreezeStore for SqlStore {
    async fn active_freeze(&self, user: &UserId) -> Result<Option<idlink_core::risk::FreezeRow>, StoreError> {
        let row = sqlx::query("SELECT reason, frozen_at, case_id FROM freezes WHERE user_id = $1 AND status = 'frozen'")
            .bind(user.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?;
        row.map(|r| {
            Ok(idlink_core::risk::FreezeRow {
                user_id: user.clone(),
                reason: r.try_get("reason").map_err(store_err)?,
                frozen_at: timestamp(r.try_get("frozen_at").map_err(store_err)?)?,
                case_id: column_id(&r, "case_id")?,
            })
        })
        .transpose()
    }

    async fn freeze(&self, user: &UserId, reason: &str, case: &CaseRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let n = sqlx::query(
                "INSERT INTO freezes (user_id, status, reason, frozen_at, lifted_at, case_id) VALUES ($1, 'frozen', $2, $3, NULL, $4)
                 ON CONFLICT (user_id) DO UPDATE SET status = 'frozen', reason = excluded.reason, frozen_at = excluded.frozen_at,
                     lifted_at = NULL, case_id = excluded.case_id
                 WHERE freezes.status <> 'frozen'",
            )
            .bind(user.as_str())
            .bind(reason)
            .bind(micros(case.created_at))
            .bind(case.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            open_case_in(tx, case).await?;
            Ok(true)
        })
        .await
    }

    async fn previous_login_ip(&self, user: &UserId, session_id: &SessionId) -> Result<Option<String>, StoreError> {
        let ip: Option<Option<String>> =
            sqlx::query_scalar("SELECT client_ip FROM sessions WHERE user_id = $1 AND id <> $2 ORDER BY created_at DESC, id DESC LIMIT 1")
                .bind(user.as_str())
                .bind(session_id.as_str())
                .fetch_optional(&self.reader)
                .await
                .map_err(store_err)?;
        Ok(ip.flatten())
    }

    async fn sessions_since(&self, user: &UserId, since: Timestamp) -> Result<u32, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND created_at >= $2")
            .bind(user.as_str())
            .bind(micros(since))
            .fetch_one(&self.reader)
            .await
            .map_err(store_err)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

fn guardianship(r: &AnyRow) -> Result<idlink_core::guardians::Guardianship, StoreError> {
    use idlink_core::guardians::{Guardianship, GuardianshipStatus};
    let user = |col: &str| -> Result<UserId, StoreError> {
        let v: String = r.try_get(col).map_err(store_err)?;
        UserId::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let status: String = r.try_get("status").map_err(store_err)?;
    Ok(Guardianship {
        id: column_id(r, "id")?,
        minor: user("minor_user")?,
        guardian: user("guardian_user")?,
        relationship: r.try_get("relationship").map_err(store_err)?,
        evidence_ref: r.try_get("evidence_ref").map_err(store_err)?,
        status: GuardianshipStatus::parse(&status).ok_or_else(|| corrupt("guardianship status", &status))?,
        created_at: timestamp(r.try_get("created_at").map_err(store_err)?)?,
    })
}

const GUARDIAN_COLUMNS: &str = "id, minor_user, guardian_user, relationship, evidence_ref, status, created_at";

#[async_trait]
impl idlink_core::guardians::GuardianStore for SqlStore {
    async fn insert_guardianship(&self, g: &idlink_core::guardians::Guardianship, audit: &AuditEntry) -> Result<(), StoreError> {
        self.audited(audit, async |tx| {
            sqlx::query(
                "INSERT INTO guardianships (id, minor_user, guardian_user, relationship, evidence_ref, status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(g.id.as_str())
            .bind(g.minor.as_str())
            .bind(g.guardian.as_str())
            .bind(&g.relationship)
            .bind(&g.evidence_ref)
            .bind(g.status.as_str())
            .bind(micros(g.created_at))
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
            Ok(())
        })
        .await
    }

    async fn guardianship(&self, id: &GuardianshipId) -> Result<Option<idlink_core::guardians::Guardianship>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {GUARDIAN_COLUMNS} FROM guardianships WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(store_err)?
            .map(|r| guardianship(&r))
            .transpose()
    }

    async fn guardianships_of(&self, user: &UserId) -> Result<Vec<idlink_core::guardians::Guardianship>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GUARDIAN_COLUMNS} FROM guardianships WHERE minor_user = $1 OR guardian_user = $1 ORDER BY created_at, id"
        )))
        .bind(user.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?
        .iter()
        .map(guardianship)
        .collect()
    }

    async fn accept_guardianship(
        &self,
        id: &GuardianshipId,
        guardian: &UserId,
        case: &CaseRow,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.audited_if(audit, async |tx| {
            let n = sqlx::query("UPDATE guardianships SET status = 'review', updated_at = $1 WHERE id = $2 AND guardian_user = $3 AND status = 'pending_guardian'")
                .bind(micros(at))
                .bind(id.as_str())
                .bind(guardian.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?
                .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            open_case_in(tx, case).await?;
            Ok(true)
        })
        .await
    }
}
