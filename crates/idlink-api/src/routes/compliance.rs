//! `/v1/operator/reports`, `/v1/operator/retention`, `/v1/operator/audit`,
//! `/v1/operator/keys`:
//! the compliance pages' data for auditors and administrators (SPEC OP2,
//! OP3; ADR 0016). Each handler calls one use case of
//! `idlink_core::reports::Compliance`.

use super::audit::{ChainReport, chain_report};
use super::operator::OperatorAuth;
use crate::problem::{FieldError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use idlink_core::ports::audit::{AuditRecord, Outcome};
use idlink_core::ports::operators::{OperatorRow, Role, require};
use idlink_core::ports::reports::AuditFilter;
use idlink_core::reports::{self, Quarter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Auditors and administrators (admins hold every role).
fn auditor(op: &OperatorRow) -> Result<String, Problem> {
    require(op, Role::Auditor)?;
    Ok(format!("operator:{}", op.id))
}

fn quarter(raw: &str) -> Result<Quarter, Problem> {
    Quarter::parse(raw).ok_or_else(|| {
        Problem::validation(vec![FieldError::new("/path/quarter", "invalid_quarter", "`quarter` is a year and a quarter, e.g. 2026Q4.")])
    })
}

fn instant(raw: Option<&str>, field: &str) -> Result<Option<jiff::Timestamp>, Problem> {
    raw.map(|r| {
        // A `+08:00` offset sent unencoded in a query string arrives as ` 08:00`.
        r.parse::<jiff::Timestamp>().or_else(|_| r.replace(' ', "+").parse()).map_err(|_| {
            Problem::validation(vec![FieldError::new(
                format!("/query/{field}"),
                "invalid_instant",
                format!("`{field}` is an RFC 3339 instant with an offset, e.g. 2026-10-01T00:00:00+08:00."),
            )])
        })
    })
    .transpose()
}

/// One file of a quarterly report, as listed in its manifest.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// Data rows, for queries.csv and queries.json.
    pub rows: Option<u64>,
    /// Where to download it.
    pub href: String,
}

/// A quarterly regulator report: its manifest, as filed.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarterlyReport {
    #[schema(example = "2026Q3")]
    pub quarter: String,
    pub format_version: u32,
    /// Inclusive, RFC 3339 in Asia/Shanghai.
    pub period_start: String,
    /// Exclusive.
    pub period_end: String,
    pub generated_at: String,
    pub row_count: u64,
    /// The files the signed manifest lists, then manifest.json and manifest.sig.
    pub files: Vec<ReportFileEntry>,
    /// The Ed25519 key (hex) that signed manifest.json: the audit checkpoint key.
    pub signing_key: String,
    /// Whether the signature and every listed file verify under this server's key.
    pub verified: bool,
    /// What does not verify, if anything.
    pub problems: Vec<String>,
}

/// The report of a quarter that has ended: generated and filed on the
/// first request, served as filed ever after.
#[utoipa::path(get, path = "/v1/operator/reports/quarterly/{quarter}", tag = "operators",
    params(("quarter" = String, Path, pattern = r"^[0-9]{4}Q[1-4]$", example = "2026Q3", description = "A calendar quarter in Asia/Shanghai."),
           ("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = QuarterlyReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn quarterly(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(raw): Path<String>,
) -> Result<Json<QuarterlyReport>, Problem> {
    let actor = auditor(&op)?;
    let q = quarter(&raw)?;
    let files = state.compliance().quarterly(q, &actor).await?;
    let get = |n: &str| files.iter().find(|f| f.name == n).map(|f| f.content.clone());
    let key = state.vault.signer().public_hex();
    let (manifest, problems) = match reports::verify_report(get, Some(&key)) {
        Ok(v) => (Some(v.manifest), Vec::new()),
        Err(problems) => {
            let manifest = get(reports::MANIFEST).and_then(|m| serde_json::from_slice::<reports::Manifest>(&m).ok());
            (manifest, problems)
        }
    };
    let manifest =
        manifest.ok_or_else(|| Problem::new(crate::ProblemCode::InternalError).detail("The filed report has no readable manifest."))?;
    let href = |name: &str| format!("/v1/operator/reports/quarterly/{q}/{name}");
    let mut entries: Vec<ReportFileEntry> = manifest
        .files
        .iter()
        .map(|f| ReportFileEntry { name: f.name.clone(), bytes: f.bytes, sha256: f.sha256.clone(), rows: f.rows, href: href(&f.name) })
        .collect();
    for name in [reports::MANIFEST, reports::SIGNATURE] {
        if let Some(content) = get(name) {
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content));
            entries.push(ReportFileEntry { name: name.into(), bytes: content.len() as u64, sha256, rows: None, href: href(name) });
        }
    }
    Ok(Json(QuarterlyReport {
        quarter: manifest.period.quarter,
        format_version: manifest.format_version,
        period_start: manifest.period.start,
        period_end: manifest.period.end,
        generated_at: manifest.generated_at,
        row_count: manifest.row_count,
        files: entries,
        signing_key: manifest.signing_key.public_key_hex,
        verified: problems.is_empty(),
        problems,
    }))
}

/// One file of the report of a quarter that has ended, as filed (the same
/// bytes on every request): `manifest.json`, `manifest.sig` (raw Ed25519
/// signature over manifest.json), `queries.csv`, `queries.json`,
/// `SHA256SUMS`, `signing-key.pem`. Format: docs/regulator-report.md.
#[utoipa::path(get, path = "/v1/operator/reports/quarterly/{quarter}/{file}", tag = "operators",
    params(("quarter" = String, Path, pattern = r"^[0-9]{4}Q[1-4]$", example = "2026Q3", description = "A calendar quarter in Asia/Shanghai."),
           ("file" = String, Path, pattern = r"^(manifest\.json|manifest\.sig|queries\.csv|queries\.json|SHA256SUMS|signing-key\.pem)$", example = "manifest.json", description = "The file of the report: manifest.json, manifest.sig, queries.csv, queries.json, SHA256SUMS or signing-key.pem."),
           ("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, description = "The file's bytes; `Content-Type` by file (application/json, text/csv, text/plain, application/octet-stream, application/x-pem-file).", body = Vec<u8>, content_type = "application/octet-stream"),
              (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn quarterly_file(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path((raw, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let actor = auditor(&op)?;
    let q = quarter(&raw)?;
    let file = state.compliance().quarterly_file(q, &name, &actor).await?;
    let content_type = match file.name.as_str() {
        reports::MANIFEST | reports::JSON => "application/json",
        reports::CSV => "text/csv; charset=utf-8; header=present",
        reports::SUMS => "text/plain; charset=utf-8",
        reports::PUBLIC_KEY => "application/x-pem-file",
        _ => "application/octet-stream",
    };
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], file.content).into_response())
}

/// One kind of record with its retention rule and the oldest record kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionKind {
    /// `audit_log`, `query_log`, `sign_ins`, `credit_files`, `idempotency` or `outbox`.
    pub kind: String,
    /// How long it is kept: `{"unit": "years", "n": 5}` (units: years, months, days, hours).
    #[schema(value_type = Object, example = json!({"unit": "years", "n": 5}))]
    pub keep: serde_json::Value,
    /// The configuration key of the rule.
    pub setting: String,
    /// The periodic job that purges it (`idlink jobs list`).
    pub job: String,
    /// The oldest record kept, RFC 3339; null when none is kept.
    pub oldest_record_at: Option<String>,
    /// Records older than this are purged at the job's next run (except held users').
    pub purge_before: String,
    /// When the oldest record kept is due: its time plus the rule.
    pub oldest_due_at: Option<String>,
}

/// A legal hold in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView {
    pub id: String,
    pub user_id: String,
    /// `dispute`, `authority` or `litigation`.
    pub reason: String,
    pub reference: String,
    pub placed_by: String,
    pub placed_at: String,
}

/// A user held by an open review case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseHoldView {
    pub user_id: String,
    pub case_id: String,
    pub opened_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Retention {
    pub kinds: Vec<RetentionKind>,
    /// No purge removes these users' records while the hold is in force.
    pub legal_holds: Vec<HoldView>,
    /// Users with an open review case, held the same way.
    pub case_holds: Vec<CaseHoldView>,
}

/// Each kind of record with its retention rule (SPEC CP, P7: query logs and
/// audit records `audit.retention_years`, at least 5 years; sign-ins at least
/// 6 months; `docs/retention.md`), the oldest record kept, and the holds in force.
#[utoipa::path(get, path = "/v1/operator/retention", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = Retention), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn retention(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<Retention>, Problem> {
    auditor(&op)?;
    let r = state.retention();
    let kinds = r.status().await?;
    let holds = r.holds().await?;
    let at = reports::shanghai_rfc3339;
    Ok(Json(Retention {
        kinds: kinds
            .into_iter()
            .map(|k| RetentionKind {
                kind: k.kind.into(),
                keep: serde_json::to_value(k.keep).unwrap_or_default(),
                setting: k.setting.into(),
                job: k.job.into(),
                oldest_record_at: k.oldest.map(at),
                purge_before: at(k.cutoff),
                oldest_due_at: k.oldest_due.map(at),
            })
            .collect(),
        legal_holds: holds
            .legal
            .into_iter()
            .map(|h| HoldView {
                id: h.id,
                user_id: h.user_id.to_string(),
                reason: h.reason,
                reference: h.reference,
                placed_by: h.placed_by,
                placed_at: at(h.placed_at),
            })
            .collect(),
        case_holds: holds
            .cases
            .into_iter()
            .map(|c| CaseHoldView { user_id: c.user_id.to_string(), case_id: c.case_id, opened_at: at(c.opened_at) })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditSearch {
    /// Whose data (a user id).
    #[param(example = "usr_0123456789abcdef0123456789abcdef")]
    subject: Option<String>,
    /// Who acted: `user:usr_…`, `apikey:key_…`, `operator:op_…`, `system`, `cli`.
    #[param(example = "system")]
    actor: Option<String>,
    /// A dotted verb, e.g. `balance.query`.
    #[param(example = "balance.query")]
    action: Option<String>,
    #[param(schema_with = crate::schema::audit_outcome)]
    outcome: Option<String>,
    /// Records at or after this instant (RFC 3339; percent-encode a `+` offset as `%2B`).
    #[param(format = DateTime, example = "2026-09-30T16:00:00Z")]
    from: Option<String>,
    /// Records before this instant (RFC 3339).
    #[param(format = DateTime, example = "2026-12-31T16:00:00Z")]
    until: Option<String>,
    /// The keyset cursor: records with a lower sequence number (`next_before` of the previous page).
    #[param(minimum = 1)]
    before: Option<i64>,
    /// At most this many records (1 to 500, 50 by default).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// An audit record with its place in the hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub subject: Option<String>,
    pub action: String,
    pub purpose: String,
    pub outcome: String,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecords {
    /// Newest first.
    pub records: Vec<AuditRecordView>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// The audit explorer: records filtered by subject, actor, action, outcome
/// and time, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/operator/audit/records", tag = "operators",
    params(AuditSearch, ("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = AuditRecords), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_records(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Query(q): Query<AuditSearch>,
) -> Result<Json<AuditRecords>, Problem> {
    auditor(&op)?;
    if q.outcome.as_deref().is_some_and(|o| Outcome::parse(o).is_none()) {
        return Err(Problem::validation(vec![FieldError::new(
            "/query/outcome",
            "invalid_outcome",
            "`outcome` is success, denied or failed.",
        )]));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = AuditFilter {
        subject: q.subject,
        actor: q.actor,
        action: q.action,
        outcome: q.outcome,
        from: instant(q.from.as_deref(), "from")?,
        until: instant(q.until.as_deref(), "until")?,
        before: q.before,
        limit,
    };
    let records = state.compliance().search_audit(&filter).await?;
    let next_before = (records.len() == limit as usize).then(|| records.last().map(|r| r.seq)).flatten();
    Ok(Json(AuditRecords { records: records.into_iter().map(AuditRecordView::from).collect(), next_before }))
}

impl From<AuditRecord> for AuditRecordView {
    fn from(r: AuditRecord) -> Self {
        AuditRecordView {
            seq: r.seq,
            at: reports::shanghai_rfc3339(r.entry.at),
            actor: r.entry.actor,
            subject: r.entry.subject,
            action: r.entry.action,
            purpose: r.entry.purpose,
            outcome: r.entry.outcome,
            request_id: r.entry.request_id,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Verifies the whole chain, its head, checkpoints, their continuity and the
/// witness: the same result as `idlink audit verify`, with the first bad record.
#[utoipa::path(get, path = "/v1/operator/audit/verify", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = ChainReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_verify(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<ChainReport>, Problem> {
    auditor(&op)?;
    Ok(Json(chain_report(state.compliance().verify_chain().await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CheckpointPage {
    /// Checkpoints at lower records than this (`next_before` of the previous page).
    #[param(minimum = 1)]
    before: Option<i64>,
    /// At most this many (1 to 500, 50 by default).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// A signed checkpoint and whether its signature verifies.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The record it signs.
    pub seq: i64,
    pub hash: String,
    pub at: String,
    pub public_key: String,
    pub signature: String,
    /// `valid`; `invalid` (this server's key, a bad signature); `unknown_key` (signed by another key).
    pub signature_status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checkpoints {
    /// Newest first.
    pub checkpoints: Vec<CheckpointView>,
    pub next_before: Option<i64>,
}

/// The signed checkpoints of the audit chain, newest first, with their signature status.
#[utoipa::path(get, path = "/v1/operator/audit/checkpoints", tag = "operators",
    params(CheckpointPage, ("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = Checkpoints), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_checkpoints(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Query(q): Query<CheckpointPage>,
) -> Result<Json<Checkpoints>, Problem> {
    auditor(&op)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let list = state.compliance().checkpoints(q.before, limit).await?;
    let next_before = (list.len() == limit as usize).then(|| list.last().map(|c| c.checkpoint.seq)).flatten();
    Ok(Json(Checkpoints {
        checkpoints: list
            .into_iter()
            .map(|c| CheckpointView {
                seq: c.checkpoint.seq,
                hash: c.checkpoint.hash,
                at: reports::shanghai_rfc3339(c.checkpoint.at),
                public_key: c.checkpoint.public_key,
                signature: c.checkpoint.signature,
                signature_status: c.signature.into(),
            })
            .collect(),
        next_before,
    }))
}

/// A master key of the keyring, by fingerprint (never the key).
#[derive(Debug, Serialize, ToSchema)]
pub struct MasterKeyView {
    pub id: String,
    /// Short SHA-256 fingerprint of the key.
    pub fingerprint: String,
    /// New data keys are wrapped under the active key.
    pub active: bool,
    /// How many stored data keys it wraps.
    pub wraps: u64,
}

/// A master key id that wraps stored keys but is missing from the keyring.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingMasterKey {
    pub id: String,
    /// How many stored keys cannot be unwrapped until the keyring has it again.
    pub wraps: u64,
}

/// A system key and the master key wrapping it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemKeyView {
    pub id: String,
    pub purpose: String,
    /// Null when the key is not stored yet.
    pub wrapped_by: Option<String>,
}

/// The latest signed checkpoint of the audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestCheckpointView {
    pub seq: i64,
    pub at: String,
    pub signature_valid: bool,
}

/// The key status (SPEC P6, OP3): no key material, only what shows the keys are in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyStatusView {
    /// `aes-256-gcm` or `sm4-gcm`.
    pub algorithm: String,
    pub master_keys: Vec<MasterKeyView>,
    /// Non-empty means some stored keys cannot be unwrapped: restore the keyring.
    pub missing_master_keys: Vec<MissingMasterKey>,
    pub system_keys: Vec<SystemKeyView>,
    /// The audit signing key's public half (hex); the regulator report is signed with it too.
    pub signing_public_key: String,
    pub latest_checkpoint: Option<LatestCheckpointView>,
    /// The latest master-key rotation in the audit trail (`keys.rotate`), by the CLI or dual control.
    pub latest_rotation: Option<AuditRecordView>,
}

/// Key status: the master keys by fingerprint and how many keys each wraps,
/// the system keys, the signing key and its latest checkpoint, the latest
/// master-key rotation. The same figures as `idlink keys status`.
#[utoipa::path(get, path = "/v1/operator/keys", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token (auditor or admin).")),
    responses((status = 200, body = KeyStatusView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn key_status(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<KeyStatusView>, Problem> {
    let store = state.store.as_ref();
    let k = idlink_core::keystatus::key_status(&op, &state.vault, store, store, store).await?;
    Ok(Json(KeyStatusView {
        algorithm: k.algorithm.to_owned(),
        master_keys: k
            .masters
            .into_iter()
            .map(|m| MasterKeyView { id: m.id, fingerprint: m.fingerprint, active: m.active, wraps: m.wraps })
            .collect(),
        missing_master_keys: k.missing_masters.into_iter().map(|(id, wraps)| MissingMasterKey { id, wraps }).collect(),
        system_keys: k
            .system_keys
            .into_iter()
            .map(|s| SystemKeyView { id: s.id.to_owned(), purpose: s.purpose.to_owned(), wrapped_by: s.wrapped_by })
            .collect(),
        signing_public_key: k.signing_public_key,
        latest_checkpoint: k.latest_checkpoint.map(|c| LatestCheckpointView {
            seq: c.seq,
            at: reports::shanghai_rfc3339(c.at),
            signature_valid: c.signature_valid,
        }),
        latest_rotation: k.latest_rotation.map(AuditRecordView::from),
    }))
}
