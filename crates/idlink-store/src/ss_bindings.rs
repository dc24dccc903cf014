//! Social-security card bindings on SQLite and PostgreSQL (the rules are in
//! `idlink_domain::ss_binding` and `idlink_core::social_security`): the
//! whole row written under its version, with its audit record and, on a
//! freeze, its review case, in one transaction; and the medical-payment
//! codes spent at terminals, one row per code.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::outbox::NewEvent;
use idlink_core::ports::reviews::CaseRow;
use idlink_core::ports::ss_bindings::{
    CodeBinding, CodeUse, IssuedCodeRecord, MedicalCodeStore, ServiceRow, SsBindingRow, SsBindingStore, SsServiceStore,
};
use idlink_domain::UserId;
use idlink_domain::ss_binding::{Status, Step};
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::read_batch::{Ask, Statements};
use crate::rows::qualified;
use crate::rows::{AnyQuery, Columns, execute, fetch_all, fetch_optional, first, micros};
use crate::store::{API_KEY_COLUMNS, api_key_row};
use idlink_core::ports::apikeys::ApiKeyRow;
use idlink_domain::ApiKeyId;

const COLUMNS: &str = "id, user_id, region, step, status, step_deadline, expires_at, identity_method, face_failures, card_code_ref, \
     card_cipher, card_index, bank_code_ref, agreement_version, agreement_sha256, features, risk_reason, channel, version, created_at, \
     updated_at, bound_at, risk_cleared, agent_user_id, agent_role, agent_ended_at";

/// A terminal's check of a medical code reads the code's binding, whether
/// the code was used, the digest it was issued with and the terminal's API
/// key: one statement for the whole check (ADR 0034), and
/// the checks waiting at one moment share it (ADR 0023), as a counter's
/// queue of terminals does at peak.
static CODE_BINDING: Statements<CodeAsk, CodeRead> = Statements::new(code_binding_select, code_read);

fn code_binding_select() -> String {
    format!(
        "SELECT q.n AS n, b.region, b.status, b.features, \
         CASE WHEN EXISTS (SELECT 1 FROM medical_code_uses u WHERE u.jti = q.jti) THEN 1 ELSE 0 END AS used, \
         (SELECT i.digest FROM medical_codes_issued i WHERE i.jti = q.jti AND i.binding_id = q.binding_id) AS digest, {} \
         FROM q LEFT JOIN ss_bindings b ON b.id = q.binding_id LEFT JOIN api_keys k ON k.id = q.key_id \
         WHERE q.binding_id IS NOT NULL",
        qualified(API_KEY_COLUMNS, "k")
    )
}

/// What one check's read found: the binding and the key, each when it exists.
pub(crate) struct CodeRead {
    binding: Option<CodeBinding>,
    key: Option<ApiKeyRow>,
}

fn code_read(r: &AnyRow) -> Result<CodeRead, StoreError> {
    let binding = match r.col::<Option<String>>("status")? {
        Some(_) => Some(CodeBinding {
            region: r.col("region")?,
            status: r.parsed("status", "binding status", Status::parse)?,
            features: r.col("features")?,
            used: r.flag("used")?,
            issued_digest: r.col("digest")?,
        }),
        None => None,
    };
    let key = if r.col::<Option<String>>("id")?.is_some() { Some(api_key_row(r)?) } else { None };
    Ok(CodeRead { binding, key })
}

/// One check's read: the code's binding and its `jti`, and the terminal's
/// key. A padding row has no binding id and yields no row.
pub(crate) struct CodeAsk {
    binding_id: String,
    jti: String,
    key_id: String,
}

impl Ask for CodeAsk {
    const COLUMNS: &'static [&'static str] = &["binding_id", "jti", "key_id"];
    fn bind(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(self.binding_id).bind(self.jti).bind(self.key_id)
    }
    fn pad(q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(None::<String>).bind(None::<String>).bind(None::<String>)
    }
}

fn binding(r: &AnyRow) -> Result<SsBindingRow, StoreError> {
    Ok(SsBindingRow {
        id: r.col("id")?,
        user_id: r.user("user_id")?,
        region: r.col("region")?,
        step: r.parsed("step", "binding step", Step::parse)?,
        status: r.parsed("status", "binding status", Status::parse)?,
        step_deadline: r.instant("step_deadline")?,
        expires_at: r.instant("expires_at")?,
        identity_method: r.col("identity_method")?,
        face_failures: r.count_u32("face_failures")?,
        card_code_ref: r.col("card_code_ref")?,
        card_cipher: r.col("card_cipher")?,
        card_index: r.col("card_index")?,
        bank_code_ref: r.col("bank_code_ref")?,
        agreement_version: r.col("agreement_version")?,
        agreement_sha256: r.col("agreement_sha256")?,
        features: r.col("features")?,
        risk_reason: r.col("risk_reason")?,
        risk_cleared: r.col("risk_cleared")?,
        agent_user_id: r.col::<Option<String>>("agent_user_id")?.map(|u| crate::rows::user_id(&u)).transpose()?,
        agent_role: r.col("agent_role")?,
        agent_ended_at: r.instant_opt("agent_ended_at")?,
        channel: r.col("channel")?,
        version: r.col("version")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
        bound_at: r.instant_opt("bound_at")?,
    })
}

#[async_trait]
impl SsBindingStore for SqlStore {
    async fn insert_ss_binding(
        &self,
        row: &SsBindingRow,
        case: Option<&CaseRow>,
        notice: Option<&NewEvent>,
        audits: &[AuditEntry],
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO ss_bindings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26)"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.id.clone())
            .bind(row.user_id.as_str())
            .bind(row.region.clone())
            .bind(row.step.as_str())
            .bind(row.status.as_str())
            .bind(micros(row.step_deadline))
            .bind(micros(row.expires_at))
            .bind(row.identity_method.clone())
            .bind(i64::from(row.face_failures))
            .bind(row.card_code_ref.clone())
            .bind(row.card_cipher.clone())
            .bind(row.card_index.clone())
            .bind(row.bank_code_ref.clone())
            .bind(row.agreement_version.clone())
            .bind(row.agreement_sha256.clone())
            .bind(row.features.clone())
            .bind(row.risk_reason.clone())
            .bind(row.channel.clone())
            .bind(row.version)
            .bind(micros(row.created_at))
            .bind(micros(row.updated_at))
            .bind(row.bound_at.map(micros))
            .bind(row.risk_cleared.clone())
            .bind(row.agent_user_id.as_ref().map(|u| u.as_str().to_owned()))
            .bind(row.agent_role.clone())
            .bind(row.agent_ended_at.map(micros));
        let inserted = self
            .audited_if(audits, async |tx| {
                let done = execute(q, &mut *tx).await? == 1;
                if done {
                    if let Some(c) = case {
                        crate::reviews::open_case_in(tx, c).await?;
                    }
                    crate::outbox::enqueue_in(tx, notice).await?;
                }
                Ok(done)
            })
            .await;
        match inserted {
            Err(StoreError::Unique(_)) => Ok(false),
            other => other,
        }
    }

    async fn ss_binding(&self, id: &str) -> Result<Option<SsBindingRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM ss_bindings WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()), &self.reader, binding).await
    }

    async fn ss_bindings_of(&self, user: &UserId) -> Result<Vec<SsBindingRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM ss_bindings WHERE user_id = $1 ORDER BY created_at DESC, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, binding).await
    }

    async fn ss_bindings_as_agent(&self, agent: &UserId) -> Result<Vec<SsBindingRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM ss_bindings WHERE agent_user_id = $1 AND agent_ended_at IS NULL ORDER BY created_at DESC, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agent.as_str()), &self.reader, binding).await
    }

    async fn save_ss_binding(
        &self,
        row: &SsBindingRow,
        case: Option<&CaseRow>,
        notice: Option<&NewEvent>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE ss_bindings SET step = $2, status = $3, step_deadline = $4, expires_at = $5, identity_method = $6, face_failures = $7,
                 card_code_ref = $8, card_cipher = $9, card_index = $10, bank_code_ref = $11, agreement_version = $12,
                 agreement_sha256 = $13, features = $14, risk_reason = $15, channel = $16, version = $17, updated_at = $18, bound_at = $19,
                 risk_cleared = $21, region = $22, agent_ended_at = $23
             WHERE id = $1 AND version = $20",
        )
        .bind(row.id.clone())
        .bind(row.step.as_str())
        .bind(row.status.as_str())
        .bind(micros(row.step_deadline))
        .bind(micros(row.expires_at))
        .bind(row.identity_method.clone())
        .bind(i64::from(row.face_failures))
        .bind(row.card_code_ref.clone())
        .bind(row.card_cipher.clone())
        .bind(row.card_index.clone())
        .bind(row.bank_code_ref.clone())
        .bind(row.agreement_version.clone())
        .bind(row.agreement_sha256.clone())
        .bind(row.features.clone())
        .bind(row.risk_reason.clone())
        .bind(row.channel.clone())
        .bind(row.version)
        .bind(micros(row.updated_at))
        .bind(row.bound_at.map(micros))
        .bind(row.version - 1)
        .bind(row.risk_cleared.clone())
        .bind(row.region.clone())
        .bind(row.agent_ended_at.map(micros));
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
            if let Some(c) = case {
                crate::reviews::open_case_in(tx, c).await?;
            }
            crate::outbox::enqueue_in(tx, notice).await?;
            Ok(true)
        })
        .await
    }

    async fn ss_bindings_with_card(&self, card_index: &str, user: &UserId) -> Result<u32, StoreError> {
        let q = sqlx::query(
            "SELECT COUNT(*) FROM ss_bindings WHERE card_index = $1 AND user_id <> $2 AND status IN ('open', 'frozen', 'bound')",
        )
        .bind(card_index.to_owned())
        .bind(user.as_str());
        let n: i64 = fetch_optional(q, &self.reader, first).await?.unwrap_or(0);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

const USE_COLUMNS: &str = "jti, binding_id, user_id, terminal_id, actor, amount_fen, status, settlement_id, medical_account_fen, \
     pooled_fund_fen, used_at, settled_at";

fn code_use(r: &AnyRow) -> Result<CodeUse, StoreError> {
    Ok(CodeUse {
        jti: r.col("jti")?,
        binding_id: r.col("binding_id")?,
        user_id: r.user("user_id")?,
        terminal_id: r.col("terminal_id")?,
        actor: r.col("actor")?,
        amount_fen: r.col("amount_fen")?,
        status: r.col("status")?,
        settlement_id: r.col("settlement_id")?,
        medical_account_fen: r.col("medical_account_fen")?,
        pooled_fund_fen: r.col("pooled_fund_fen")?,
        used_at: r.instant("used_at")?,
        settled_at: r.instant_opt("settled_at")?,
    })
}

#[async_trait]
impl MedicalCodeStore for SqlStore {
    async fn spend_medical_code(&self, u: &CodeUse, audit: &AuditEntry) -> Result<Option<CodeUse>, StoreError> {
        let sql = format!(
            "INSERT INTO medical_code_uses ({USE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'settling', NULL, NULL, NULL, $7, NULL)"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(u.jti.clone())
            .bind(u.binding_id.clone())
            .bind(u.user_id.as_str())
            .bind(u.terminal_id.clone())
            .bind(u.actor.clone())
            .bind(u.amount_fen)
            .bind(micros(u.used_at));
        match self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await {
            Ok(true) => Ok(None),
            Ok(false) | Err(StoreError::Unique(_)) => {
                let earlier = self.medical_code_use(&u.jti).await?;
                earlier.map(Some).ok_or_else(|| StoreError::Unavailable("the code's use was not recorded; retry".into()))
            }
            Err(e) => Err(e),
        }
    }

    async fn settle_medical_code(&self, u: &CodeUse, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE medical_code_uses SET status = $6, settlement_id = $2, medical_account_fen = $3, pooled_fund_fen = $4,
                 settled_at = $5
             WHERE jti = $1 AND status = 'settling'",
        )
        .bind(u.jti.clone())
        .bind(u.settlement_id.clone())
        .bind(u.medical_account_fen)
        .bind(u.pooled_fund_fen)
        .bind(u.settled_at.map(micros))
        .bind(u.status.clone());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn binding_for_code(
        &self,
        binding_id: &str,
        jti: &str,
        key: &ApiKeyId,
    ) -> Result<(Option<CodeBinding>, Option<ApiKeyRow>), StoreError> {
        let ask = CodeAsk { binding_id: binding_id.to_owned(), jti: jti.to_owned(), key_id: key.as_str().to_owned() };
        Ok(self.code_bindings.read(&self.reader, ask, &CODE_BINDING).await?.map_or((None, None), |r| (r.binding, r.key)))
    }

    async fn record_issued_code(&self, code: &IssuedCodeRecord) -> Result<(), StoreError> {
        let q = sqlx::query("INSERT INTO medical_codes_issued (jti, binding_id, digest, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(code.jti.clone())
            .bind(code.binding_id.clone())
            .bind(code.digest.clone())
            .bind(micros(code.expires_at));
        self.write(crate::write::Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn purge_issued_codes(&self, before: Timestamp) -> Result<u64, StoreError> {
        let q = sqlx::query("DELETE FROM medical_codes_issued WHERE expires_at < $1").bind(micros(before));
        self.write(crate::write::Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
    }

    async fn medical_code_use(&self, jti: &str) -> Result<Option<CodeUse>, StoreError> {
        let sql = format!("SELECT {USE_COLUMNS} FROM medical_code_uses WHERE jti = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(jti.to_owned()), &self.reader, code_use).await
    }

    async fn unfinished_code_uses(
        &self,
        before: Timestamp,
        after: Option<&(Timestamp, String)>,
        limit: u32,
    ) -> Result<Vec<CodeUse>, StoreError> {
        // Row-value keyset over the partial index of `settling` uses (0032).
        let sql = format!(
            "SELECT {USE_COLUMNS} FROM medical_code_uses \
             WHERE status = 'settling' AND used_at < $1 AND (used_at, jti) > ($2, $3) ORDER BY used_at, jti LIMIT $4"
        );
        let (at, jti) = after.map_or((i64::MIN, String::new()), |(t, j)| (micros(*t), j.clone()));
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(before)).bind(at).bind(jti).bind(i64::from(limit));
        fetch_all(q, &self.reader, code_use).await
    }
}

const SERVICE_COLUMNS: &str = "id, binding_id, user_id, kind, to_region, bureau_id, status, reason, created_at, updated_at";

fn service(r: &AnyRow) -> Result<ServiceRow, StoreError> {
    Ok(ServiceRow {
        id: r.col("id")?,
        binding_id: r.col("binding_id")?,
        user_id: r.user("user_id")?,
        kind: r.parsed("kind", "service kind", ServiceKind::parse)?,
        to_region: r.col("to_region")?,
        bureau_id: r.col("bureau_id")?,
        status: r.parsed("status", "service status", ServiceStatus::parse)?,
        reason: r.col("reason")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
    })
}

#[async_trait]
impl SsServiceStore for SqlStore {
    async fn insert_service_request(&self, row: &ServiceRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO ss_service_requests ({SERVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.id.clone())
            .bind(row.binding_id.clone())
            .bind(row.user_id.as_str())
            .bind(row.kind.as_str())
            .bind(row.to_region.clone())
            .bind(row.bureau_id.clone())
            .bind(row.status.as_str())
            .bind(row.reason.clone())
            .bind(micros(row.created_at))
            .bind(micros(row.updated_at));
        self.audited(audit, async |tx| execute(q, &mut *tx).await.map(|_| ())).await
    }

    async fn service_request(&self, id: &str) -> Result<Option<ServiceRow>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM ss_service_requests WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()), &self.reader, service).await
    }

    async fn service_requests_of(&self, binding_id: &str) -> Result<Vec<ServiceRow>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM ss_service_requests WHERE binding_id = $1 ORDER BY created_at DESC, id");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(binding_id.to_owned()), &self.reader, service).await
    }

    async fn move_service_request(
        &self,
        row: &ServiceRow,
        from: ServiceStatus,
        notice: Option<&NewEvent>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE ss_service_requests SET status = $2, reason = $3, updated_at = $4, bureau_id = $6 WHERE id = $1 AND status = $5",
        )
        .bind(row.id.clone())
        .bind(row.status.as_str())
        .bind(row.reason.clone())
        .bind(micros(row.updated_at))
        .bind(from.as_str())
        .bind(row.bureau_id.clone());
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
            crate::outbox::enqueue_in(tx, notice).await?;
            Ok(true)
        })
        .await
    }

    async fn bound_with_feature(&self, feature: &str, after: &str, limit: u32) -> Result<Vec<SsBindingRow>, StoreError> {
        // Features are a short comma-separated list of fixed names: matched with its commas.
        let sql = format!(
            "SELECT {COLUMNS} FROM ss_bindings WHERE status = 'bound' AND id > $1 AND (',' || features || ',') LIKE $2 ORDER BY id LIMIT $3"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.to_owned()).bind(format!("%,{feature},%")).bind(i64::from(limit));
        fetch_all(q, &self.reader, binding).await
    }

    async fn record_benefit_notice(
        &self,
        binding_id: &str,
        payment_id: &str,
        amount_fen: i64,
        at: Timestamp,
        notice: &NewEvent,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query("INSERT INTO ss_benefit_notices (binding_id, payment_id, amount_fen, noticed_at) VALUES ($1, $2, $3, $4)")
            .bind(binding_id.to_owned())
            .bind(payment_id.to_owned())
            .bind(amount_fen)
            .bind(micros(at));
        let written = self
            .audited_if(audit, async |tx| {
                execute(q, &mut *tx).await?;
                crate::outbox::enqueue_in(tx, Some(notice)).await?;
                Ok(true)
            })
            .await;
        match written {
            Err(StoreError::Unique(_)) => Ok(false),
            other => other,
        }
    }
}
