//! Compliance use cases for auditors and administrators (SPEC OP2, OP3):
//! the quarterly regulator report of bank-card queries, its verification,
//! the retention status of the logs idlink must keep, and the audit
//! explorer (search, chain verification, checkpoints).
//!
//! A report covers one calendar quarter in Asia/Shanghai and is filed once:
//! the first generation after the quarter ends is stored and served ever
//! after, so every file fetched separately belongs to the same signed
//! manifest. Users appear under a pseudonym, an HMAC of the user id keyed
//! by the vault's blind-index key with a domain naming the quarter: stable
//! within a report, unlinkable across quarters and to the user id without
//! the key (ADR 0016). The manifest is signed with the audit checkpoint key
//! (Ed25519), as raw bytes, so `openssl pkeyutl -verify -rawin` checks it
//! (`docs/regulator-report.md`).

use crate::audit::{AuditError, CheckpointPolicy, VerifyReport, verify_store};
use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, AuditRecord, AuditStore, Checkpoint};
use crate::ports::clock::Clock;
use crate::ports::reports::{AuditFilter, ComplianceStore, QueryLogRow, ReportFile};
use crate::ports::witness::AuditWitness;
use crate::vault::Vault;
use base64::Engine;
use idlink_domain::calendar::shanghai;
use jiff::Timestamp;
use jiff::civil::date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's `format_version`; a change of columns or encodings bumps it.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const CSV: &str = "queries.csv";
pub const JSON: &str = "queries.json";
pub const SUMS: &str = "SHA256SUMS";
pub const PUBLIC_KEY: &str = "signing-key.pem";
/// Every file of a report, in the order they are written.
pub const FILES: [&str; 6] = [CSV, JSON, SUMS, MANIFEST, SIGNATURE, PUBLIC_KEY];
/// The CSV's header line: the columns, in order.
pub const CSV_COLUMNS: [&str; 8] = ["query_id", "at", "user", "bank", "channel", "precision", "outcome", "reason"];
/// The audit action of filing a report.
pub const FILE_ACTION: &str = "report.quarterly.file";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// A calendar quarter in Asia/Shanghai, written `2026Q4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quarter {
    pub year: i16,
    /// 1 to 4.
    pub quarter: i8,
}

impl Quarter {
    /// `YYYYQn` (years 2000 to 2999, n 1 to 4).
    pub fn parse(s: &str) -> Option<Self> {
        let (y, q) = s.split_once('Q')?;
        if y.len() != 4 || q.len() != 1 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i16 = y.parse().ok()?;
        let quarter: i8 = q.parse().ok()?;
        ((2000..=2999).contains(&year) && (1..=4).contains(&quarter)).then_some(Self { year, quarter })
    }

    /// The first instant of the quarter (00:00 in Asia/Shanghai on its first day).
    pub fn start(self) -> Timestamp {
        Self::first_instant(self.year, self.quarter)
    }

    /// The first instant after the quarter.
    pub fn end(self) -> Timestamp {
        if self.quarter == 4 { Self::first_instant(self.year + 1, 1) } else { Self::first_instant(self.year, self.quarter + 1) }
    }

    fn first_instant(year: i16, quarter: i8) -> Timestamp {
        let day = date(year, (quarter - 1) * 3 + 1, 1);
        day.to_zoned(shanghai()).map(|z| z.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}Q{}", self.year, self.quarter)
    }
}

/// An instant as the report writes it: RFC 3339 in Asia/Shanghai (`+08:00`).
pub fn shanghai_rfc3339(t: Timestamp) -> String {
    t.display_with_offset(shanghai().to_offset(t)).to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reports are filed once a quarter is over.
    #[error("the quarter {quarter} ends at {ends}; its report can be generated from then on")]
    PeriodOpen { quarter: Quarter, ends: String },
    #[error("a report has no file `{0}`")]
    UnknownFile(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// One file as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// Data rows (the CSV's lines after the header; the JSON array's elements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub quarter: String,
    /// Inclusive, RFC 3339 in Asia/Shanghai.
    pub start: String,
    /// Exclusive.
    pub end: String,
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub algorithm: String,
    /// The raw 32-byte Ed25519 public key, hex.
    pub public_key_hex: String,
    /// The same key as a PEM SubjectPublicKeyInfo file of the report.
    pub pem_file: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub report: String,
    pub period: Period,
    pub generated_at: String,
    pub row_count: u64,
    /// How users are named: `hmac-sha256-v1` (ADR 0016).
    pub pseudonym: String,
    pub files: Vec<ManifestFile>,
    pub signing_key: SigningKey,
    /// The signature file: raw 64-byte Ed25519 signature over the exact bytes of manifest.json.
    pub signature_file: String,
}

/// A row of `queries.json` (and, in this order, of `queries.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub query_id: String,
    pub at: String,
    pub user: String,
    pub bank: String,
    pub channel: String,
    pub precision: String,
    pub outcome: String,
    pub reason: Option<String>,
}

/// The user's pseudonym in the report of `period`: `p_` and the first 128
/// bits of HMAC-SHA256(blind-index key, "report.pseudonym.v1:" + period ‖ 0 ‖ user id).
pub fn pseudonym(vault: &Vault, period: &str, user_id: &str) -> String {
    let mac = vault.blind_index(&format!("report.pseudonym.v1:{period}"), user_id);
    format!("p_{}", mac.get(..32).unwrap_or(&mac))
}

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv(rows: &[ReportRow]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let fields = [&r.query_id, &r.at, &r.user, &r.bank, &r.channel, &r.precision, &r.outcome, r.reason.as_deref().unwrap_or("")];
        for (i, f) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, f);
        }
        out.push_str("\r\n");
    }
    out
}

/// Data records of an RFC 4180 CSV (CRLF-terminated, quotes doubled), less the header.
fn csv_rows(text: &str) -> u64 {
    let (mut records, mut quoted, mut prev) = (0u64, false, '\0');
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if c == '\n' && prev == '\r' && !quoted {
            records += 1;
        }
        prev = c;
    }
    records.saturating_sub(1)
}

/// The public key as a PEM SubjectPublicKeyInfo, as `openssl pkey -pubin` reads it.
pub fn public_key_pem(public_hex: &str) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend(hex::decode(public_hex).unwrap_or_default());
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", base64::engine::general_purpose::STANDARD.encode(der))
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Builds every file of the report of `quarter` from its query log rows.
pub fn build_report(
    quarter: Quarter,
    rows: &[QueryLogRow],
    name_user: impl Fn(&str) -> String,
    signer: &idlink_crypto::signing::Ed25519Signer,
    generated_at: Timestamp,
) -> Vec<ReportFile> {
    let rows: Vec<ReportRow> = rows
        .iter()
        .map(|r| ReportRow {
            query_id: r.id.to_string(),
            at: shanghai_rfc3339(r.at),
            user: name_user(&r.user_id),
            bank: r.bank.clone(),
            channel: r.channel.clone(),
            precision: r.precision.clone(),
            outcome: r.outcome.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    let csv = csv(&rows).into_bytes();
    let mut json = serde_json::to_vec_pretty(&rows).unwrap_or_default();
    json.push(b'\n');
    let sums = format!("{}  {CSV}\n{}  {JSON}\n", sha256_hex(&csv), sha256_hex(&json)).into_bytes();
    let pem = public_key_pem(&signer.public_hex()).into_bytes();
    let n = rows.len() as u64;
    let file = |name: &str, content: &[u8], rows: Option<u64>| ManifestFile {
        name: name.to_owned(),
        bytes: content.len() as u64,
        sha256: sha256_hex(content),
        rows,
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        report: "bank_card_query_log".into(),
        period: Period {
            quarter: quarter.to_string(),
            start: shanghai_rfc3339(quarter.start()),
            end: shanghai_rfc3339(quarter.end()),
            time_zone: "Asia/Shanghai".into(),
        },
        generated_at: shanghai_rfc3339(generated_at),
        row_count: n,
        pseudonym: "hmac-sha256-v1".into(),
        files: vec![file(CSV, &csv, Some(n)), file(JSON, &json, Some(n)), file(SUMS, &sums, None), file(PUBLIC_KEY, &pem, None)],
        signing_key: SigningKey { algorithm: "Ed25519".into(), public_key_hex: signer.public_hex(), pem_file: PUBLIC_KEY.into() },
        signature_file: SIGNATURE.into(),
    };
    let mut manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    manifest.push(b'\n');
    let signature = hex::decode(signer.sign(&manifest)).unwrap_or_default();
    [(CSV, csv), (JSON, json), (SUMS, sums), (MANIFEST, manifest), (SIGNATURE, signature), (PUBLIC_KEY, pem)]
        .into_iter()
        .map(|(name, content)| ReportFile { name: name.to_owned(), content })
        .collect()
}

/// What a sound report holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReport {
    pub manifest: Manifest,
}

/// Checks a report's files: the manifest parses, its signature verifies
/// under `trusted_key` (hex; the report's own key when None, which proves
/// only integrity), each listed file has the size and SHA-256 listed, and
/// the CSV and JSON hold `row_count` rows. Every problem found is named.
pub fn verify_report(read: impl Fn(&str) -> Option<Vec<u8>>, trusted_key: Option<&str>) -> Result<VerifiedReport, Vec<String>> {
    let mut problems = Vec::new();
    let Some(raw) = read(MANIFEST) else { return Err(vec![format!("{MANIFEST} is missing")]) };
    let manifest: Manifest = match serde_json::from_slice(&raw) {
        Ok(m) => m,
        Err(e) => return Err(vec![format!("{MANIFEST} is not a report manifest: {e}")]),
    };
    if manifest.format_version != FORMAT_VERSION {
        problems.push(format!("{MANIFEST}: format_version {} is not {FORMAT_VERSION}", manifest.format_version));
    }
    let key = trusted_key.unwrap_or(&manifest.signing_key.public_key_hex);
    if key != manifest.signing_key.public_key_hex {
        problems.push(format!("{MANIFEST}: signed with key {}, not the trusted key {key}", manifest.signing_key.public_key_hex));
    }
    match read(SIGNATURE) {
        None => problems.push(format!("{SIGNATURE} is missing")),
        Some(sig) => {
            if !idlink_crypto::signing::verify(key, &raw, &hex::encode(sig)) {
                problems.push(format!("{SIGNATURE}: the signature of {MANIFEST} does not verify under key {key}"));
            }
        }
    }
    for f in &manifest.files {
        let Some(content) = read(&f.name) else {
            problems.push(format!("{} is missing", f.name));
            continue;
        };
        if content.len() as u64 != f.bytes {
            problems.push(format!("{}: {} bytes, the manifest says {}", f.name, content.len(), f.bytes));
        }
        if sha256_hex(&content) != f.sha256 {
            problems.push(format!("{}: SHA-256 {} differs from the manifest's {}", f.name, sha256_hex(&content), f.sha256));
        }
        let rows = match f.name.as_str() {
            CSV => Some(csv_rows(&String::from_utf8_lossy(&content))),
            JSON => Some(serde_json::from_slice::<Vec<ReportRow>>(&content).map_or(0, |v| v.len() as u64)),
            _ => None,
        };
        if let Some(n) = rows.filter(|n| *n != manifest.row_count) {
            problems.push(format!("{}: {n} rows, the manifest says {}", f.name, manifest.row_count));
        }
    }
    for name in [CSV, JSON] {
        if !manifest.files.iter().any(|f| f.name == name) {
            problems.push(format!("{MANIFEST} does not list {name}"));
        }
    }
    if problems.is_empty() { Ok(VerifiedReport { manifest }) } else { Err(problems) }
}

/// The compliance use cases (ADR 0016).
pub struct Compliance<'a> {
    pub store: &'a dyn ComplianceStore,
    pub audits: &'a dyn AuditStore,
    pub witness: &'a dyn AuditWitness,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub policy: &'a CheckpointPolicy,
}

/// A signed checkpoint with whether its signature verifies under the vault's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointStatus {
    pub checkpoint: Checkpoint,
    /// `valid`, `invalid` (the trusted key, a bad signature) or `unknown_key`.
    pub signature: &'static str,
}

impl Compliance<'_> {
    /// The report of `quarter`: the filed one, or a new one filed now (with
    /// an audit record naming `actor`) when the quarter is over.
    pub async fn quarterly(&self, quarter: Quarter, actor: &str) -> Result<Vec<ReportFile>, ReportError> {
        let period = quarter.to_string();
        let filed = self.store.filed_report(&period).await?;
        if !filed.is_empty() {
            return Ok(filed);
        }
        let now = self.clock.now();
        if now < quarter.end() {
            return Err(ReportError::PeriodOpen { quarter, ends: shanghai_rfc3339(quarter.end()) });
        }
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let batch = self.store.query_log(quarter.start(), quarter.end(), after, 2000).await?;
            let Some(last) = batch.last() else { break };
            after = Some((last.at, last.id.clone()));
            rows.extend(batch);
        }
        let files = build_report(quarter, &rows, |u| pseudonym(self.vault, &period, u), self.vault.signer(), now);
        let audit = AuditEntry::new(actor, FILE_ACTION, format!("regulator report {period}: {} queries", rows.len()), now);
        self.store.file_report(&period, &files, now, &audit).await?;
        // Another generator may have filed first: serve what is filed.
        Ok(self.store.filed_report(&period).await?)
    }

    /// One file of the report of `quarter`.
    pub async fn quarterly_file(&self, quarter: Quarter, name: &str, actor: &str) -> Result<ReportFile, ReportError> {
        if !FILES.contains(&name) {
            return Err(ReportError::UnknownFile(name.to_owned()));
        }
        let files = self.quarterly(quarter, actor).await?;
        files.into_iter().find(|f| f.name == name).ok_or_else(|| ReportError::UnknownFile(name.to_owned()))
    }

    /// Audit records matching `filter`, newest first (limit 1 to 500).
    pub async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let filter = AuditFilter { limit: filter.limit.clamp(1, 500), ..filter.clone() };
        self.store.search_audit(&filter).await
    }

    /// The whole chain verified, exactly as `idlink audit verify` does.
    pub async fn verify_chain(&self) -> Result<VerifyReport, AuditError> {
        let key = self.vault.signer().public_hex();
        verify_store(self.audits, self.witness, &key, self.policy, self.clock.now()).await
    }

    /// Signed checkpoints, newest first, below `before` (a seq), at most `limit`.
    pub async fn checkpoints(&self, before: Option<i64>, limit: u32) -> Result<Vec<CheckpointStatus>, StoreError> {
        let key = self.vault.signer().public_hex();
        let all = self.audits.checkpoints().await?;
        Ok(all
            .into_iter()
            .rev()
            .filter(|c| before.is_none_or(|b| c.seq < b))
            .take(limit.clamp(1, 500) as usize)
            .map(|c| {
                let signature = if c.signed_by(&key) {
                    "valid"
                } else if c.public_key == key {
                    "invalid"
                } else {
                    "unknown_key"
                };
                CheckpointStatus { checkpoint: c, signature }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::signing::Ed25519Signer;

    #[test]
    fn quarters_are_shanghai_calendar_quarters() {
        let q = Quarter::parse("2026Q4").unwrap_or_else(|| panic!("parses"));
        assert_eq!(q.to_string(), "2026Q4");
        assert_eq!(q.start().to_string(), "2026-09-30T16:00:00Z");
        assert_eq!(q.end().to_string(), "2026-12-31T16:00:00Z");
        assert_eq!(shanghai_rfc3339(q.start()), "2026-10-01T00:00:00+08:00");
        assert_eq!(Quarter::parse("2027Q1").map(|q| q.start()), Some(q.end()));
        for bad in ["2026Q5", "2026Q0", "2026q4", "26Q4", "2026Q44", "", "Q4", "1999Q1", "+026Q1"] {
            assert_eq!(Quarter::parse(bad), None, "{bad}");
        }
    }

    fn rows() -> Vec<QueryLogRow> {
        let at = |s: &str| s.parse::<Timestamp>().unwrap_or_default();
        let id = |s: &str| idlink_domain::QueryId::parse(s).unwrap_or_else(|e| panic!("{e}"));
        vec![
            QueryLogRow {
                id: id("bq_1"),
                user_id: "usr_a".into(),
                bank: "ICBC".into(),
                channel: "direct".into(),
                precision: "fen".into(),
                at: at("2026-10-01T00:00:00.25+08:00"),
                outcome: "disclosed".into(),
                reason: None,
            },
            QueryLogRow {
                id: id("bq_2"),
                user_id: "usr_b".into(),
                bank: "CMB".into(),
                channel: "card_switch".into(),
                precision: "yuan".into(),
                at: at("2026-12-31T23:59:59+08:00"),
                outcome: "refused".into(),
                reason: Some("step_up_required, \"x\"".into()),
            },
        ]
    }

    #[test]
    fn a_built_report_verifies_and_every_change_is_named() {
        let signer = Ed25519Signer::from_seed(&[7; 32]);
        let q = Quarter::parse("2026Q4").unwrap_or_else(|| panic!("parses"));
        let files = build_report(q, &rows(), |u| format!("p_{u}"), &signer, q.end());
        let get = |files: &[ReportFile], n: &str| files.iter().find(|f| f.name == n).map(|f| f.content.clone());
        let ok = verify_report(|n| get(&files, n), Some(&signer.public_hex())).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(ok.manifest.row_count, 2);
        assert_eq!(ok.manifest.period.start, "2026-10-01T00:00:00+08:00");
        let csv = String::from_utf8(get(&files, CSV).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            csv,
            "query_id,at,user,bank,channel,precision,outcome,reason\r\n\
             bq_1,2026-10-01T00:00:00.25+08:00,p_usr_a,ICBC,direct,fen,disclosed,\r\n\
             bq_2,2026-12-31T23:59:59+08:00,p_usr_b,CMB,card_switch,yuan,refused,\"step_up_required, \"\"x\"\"\"\r\n"
        );
        assert_eq!(csv_rows(&csv), 2);

        // A changed byte in the CSV: its size still matches, its hash does not.
        let mut tampered = files.clone();
        tampered[0].content[10] ^= 1;
        let problems = verify_report(|n| get(&tampered, n), Some(&signer.public_hex())).err().unwrap_or_default();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("queries.csv: SHA-256"), "{problems:?}");

        // Another key: the signature is named.
        let other = Ed25519Signer::from_seed(&[8; 32]).public_hex();
        let problems = verify_report(|n| get(&files, n), Some(&other)).err().unwrap_or_default();
        assert!(problems.iter().any(|p| p.starts_with("manifest.sig")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("not the trusted key")), "{problems:?}");

        // A missing file.
        let problems = verify_report(|n| (n != JSON).then(|| get(&files, n)).flatten(), None).err().unwrap_or_default();
        assert_eq!(problems, ["queries.json is missing"]);
    }

    #[test]
    fn the_public_key_pem_is_an_ed25519_spki() {
        let signer = Ed25519Signer::from_seed(&[7; 32]);
        let pem = public_key_pem(&signer.public_hex());
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"), "{pem}");
    }
}
