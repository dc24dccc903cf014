//! `idlink backup --out FILE`, `idlink backup verify FILE` and `idlink
//! restore FILE` (issue 19, ADR 0033, docs/operations.md).
//!
//! A backup is one JSON Lines file, versioned: a header (format, version,
//! when, which database, its schema version), then each table (its name and
//! columns) followed by its rows, one JSON array per line (integers, text,
//! bytes as `{"b64": …}`, null), and a trailer: the manifest (each table's
//! row count and the SHA-256 of its lines, the header's SHA-256) signed with
//! the audit signing key (Ed25519), with its public key. Ciphertexts are
//! copied as stored. The master keyring is never in a backup: without it the
//! personal data in a backup cannot be read, and a restore needs it.
//!
//! The rows are read in one consistent snapshot of a running server's
//! database (`SqlStore::snapshot`). A restore goes only into an empty
//! database of either kind, migrated to the backup's schema (then to the
//! latest), and stops at once when the configured keyring does not open the
//! backup's keys; afterwards it checks every table's row count and the
//! audit chain.

use crate::config::Config;
use crate::serve::{self, Runtime};
use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use idlink_store::snapshot::{Table, Value};
use idlink_store::{SqlStore, StoreOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

pub const FORMAT: &str = "idlink-backup";
pub const VERSION: u32 = 1;
/// Said in every backup, and by the command that makes one.
pub const NO_KEYRING: &str = "The master keyring is NOT in this backup. Without it the personal data in this file cannot be \
    decrypted, and a restore refuses to go on. Keep the keyring (or its Shamir shares) apart from the backups, and safe.";
/// Rows written per restore transaction.
const RESTORE_BATCH: usize = 2_000;
/// The table whose rows are the data keys: restored first, as the keyring's canary.
const KEYS_TABLE: &str = "data_keys";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub created_at: String,
    /// `sqlite` or `postgres`: where it was made (it restores into either).
    pub backend: String,
    /// The latest migration the database had.
    pub schema_version: i64,
    pub keyring: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableSum {
    pub name: String,
    pub rows: u64,
    /// SHA-256 (hex) of the table's line and its rows' lines, each with its line break.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub header_sha256: String,
    pub tables: Vec<TableSum>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Header(Header),
    Table { name: String, columns: Vec<String> },
    Trailer { manifest: Manifest, public_key: String, signature: String },
}

fn encode(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Text(s) => serde_json::Value::from(s.as_str()),
        Value::Bytes(b) => serde_json::json!({ "b64": B64.encode(b) }),
    }
}

fn decode(v: &serde_json::Value) -> Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Number(n) => Value::Int(n.as_i64().context("a number that is not a 64-bit integer")?),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Object(o) => {
            let b = o.get("b64").and_then(|b| b.as_str()).context("an object that is not {\"b64\": …}")?;
            Value::Bytes(B64.decode(b).context("bytes that are not base64")?)
        }
        _ => bail!("a value of a kind a backup never holds"),
    })
}

fn hex_sha(h: Sha256) -> String {
    hex::encode(h.finalize())
}

/// What the manifest's signature covers: the manifest, after a prefix that
/// keeps the signature from standing for anything else the audit key signs.
fn signed_bytes(m: &Manifest) -> Result<Vec<u8>> {
    let mut bytes = format!("{FORMAT} {VERSION} manifest\n").into_bytes();
    bytes.extend(serde_json::to_vec(m)?);
    Ok(bytes)
}

/// Writes a backup of the configured database to `out` (through a temporary
/// file beside it, renamed when complete). Answers the manifest.
pub async fn backup(config: &Config, rt: &Runtime, out: &Path) -> Result<Manifest> {
    let store = serve::open_existing_store(config).await?;
    let vault = serve::open_vault(config, &store, rt).await?;
    let tables = store.tables().await?;
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        created_at: rt.clock.now().to_string(),
        backend: store.backend().name().into(),
        schema_version: store.schema_version().await?,
        keyring: NO_KEYRING.into(),
    };
    let tmp = out.with_extension("partial");
    let written = write_backup(&store, &vault, &tables, header, &tmp).await;
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let manifest = written?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot move the backup to {}", out.display()))?;
    // The rename itself survives a crash once the directory is on disk.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(manifest)
}

/// Writes the backup to `tmp`, readable by its owner only.
async fn write_backup(
    store: &SqlStore,
    vault: &idlink_core::vault::Vault,
    tables: &[Table],
    header: Header,
    tmp: &Path,
) -> Result<Manifest> {
    let file = std::fs::File::create(tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let mut w = BufWriter::new(file);
    let header_line = serde_json::to_string(&Line::Header(header))?;
    writeln!(w, "{header_line}")?;
    let mut sums: Vec<TableSum> = Vec::with_capacity(tables.len());
    let mut hash = Sha256::new();
    let mut current: Option<usize> = None;
    let mut io_error: Option<std::io::Error> = None;
    let start_table = |w: &mut BufWriter<std::fs::File>, hash: &mut Sha256, t: &Table| -> std::io::Result<()> {
        let line =
            serde_json::to_string(&Line::Table { name: t.name.clone(), columns: t.columns.clone() }).map_err(std::io::Error::other)?;
        hash.update(line.as_bytes());
        hash.update(b"\n");
        writeln!(w, "{line}")
    };
    store
        .snapshot(tables, |i, row| {
            let mut step = || -> std::io::Result<()> {
                // Tables without rows get their line too: close the ones before `i`.
                while current != Some(i) {
                    let next = current.map_or(0, |c| c + 1);
                    if let Some(c) = current {
                        sums[c].sha256 = hex_sha(std::mem::take(&mut hash));
                    }
                    start_table(&mut w, &mut hash, &tables[next])?;
                    sums.push(TableSum { name: tables[next].name.clone(), rows: 0, sha256: String::new() });
                    current = Some(next);
                }
                let line = serde_json::Value::Array(row.iter().map(encode).collect()).to_string();
                hash.update(line.as_bytes());
                hash.update(b"\n");
                sums[i].rows += 1;
                writeln!(w, "{line}")
            };
            step().map_err(|e| {
                let message = e.to_string();
                io_error = Some(e);
                idlink_core::ports::StoreError::Unavailable(format!("writing the backup: {message}"))
            })
        })
        .await
        .map_err(|e| match io_error.take() {
            Some(io) => anyhow::Error::from(io).context("cannot write the backup"),
            None => anyhow::Error::from(e).context("cannot read the database"),
        })?;
    // The tables after the last one with rows.
    loop {
        let next = current.map_or(0, |c| c + 1);
        if let Some(c) = current {
            sums[c].sha256 = hex_sha(std::mem::take(&mut hash));
        }
        if next >= tables.len() {
            break;
        }
        start_table(&mut w, &mut hash, &tables[next])?;
        sums.push(TableSum { name: tables[next].name.clone(), rows: 0, sha256: String::new() });
        current = Some(next);
    }
    let manifest = Manifest { header_sha256: hex::encode(Sha256::digest(header_line.as_bytes())), tables: sums };
    let signer = vault.signer();
    let trailer =
        Line::Trailer { manifest: manifest.clone(), public_key: signer.public_hex(), signature: signer.sign(&signed_bytes(&manifest)?) };
    writeln!(w, "{}", serde_json::to_string(&trailer)?)?;
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(manifest)
}

/// What reading a backup through found.
#[derive(Debug)]
pub struct Checked {
    pub header: Header,
    pub manifest: Manifest,
    pub public_key: String,
    /// Each table's columns, as the file names them.
    pub columns: Vec<(String, Vec<String>)>,
    /// Empty when the file is sound.
    pub problems: Vec<String>,
}

/// Reads `file` through, without a database: every table's rows and hash
/// against the manifest, the manifest's signature, and (when given) that
/// it was signed by `expected_key`.
pub fn verify(file: &Path, expected_key: Option<&str>) -> Result<Checked> {
    let reader = BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
    let mut header: Option<(Header, String)> = None;
    let mut found: Vec<TableSum> = Vec::new();
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    let mut hash = Sha256::new();
    let mut trailer: Option<(Manifest, String, String)> = None;
    let mut problems = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("line {}", n + 1))?;
        if trailer.is_some() {
            problems.push(format!("line {}: data after the trailer", n + 1));
            break;
        }
        if line.starts_with('[') {
            let Some(t) = found.last_mut() else {
                problems.push(format!("line {}: a row before any table", n + 1));
                break;
            };
            if let Err(e) = serde_json::from_str::<Vec<serde_json::Value>>(&line)
                .map_err(anyhow::Error::from)
                .and_then(|vs| vs.iter().map(decode).collect::<Result<Vec<_>>>())
            {
                problems.push(format!("line {}: {e:#}", n + 1));
            }
            hash.update(line.as_bytes());
            hash.update(b"\n");
            t.rows += 1;
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(Line::Header(h)) if n == 0 => header = Some((h, line.clone())),
            Ok(Line::Table { name, columns: cols }) => {
                if let Some(t) = found.last_mut() {
                    t.sha256 = hex_sha(std::mem::take(&mut hash));
                }
                hash.update(line.as_bytes());
                hash.update(b"\n");
                columns.push((name.clone(), cols));
                found.push(TableSum { name, rows: 0, sha256: String::new() });
            }
            Ok(Line::Trailer { manifest, public_key, signature }) => {
                if let Some(t) = found.last_mut() {
                    t.sha256 = hex_sha(std::mem::take(&mut hash));
                }
                trailer = Some((manifest, public_key, signature));
            }
            _ => {
                problems.push(format!("line {}: not a line of an idlink backup", n + 1));
                break;
            }
        }
    }
    let Some((header, header_line)) = header else { bail!("{} is not an idlink backup (no header line)", file.display()) };
    if header.format != FORMAT || header.version != VERSION {
        bail!("{}: format {} version {}; this idlink reads {FORMAT} version {VERSION}", file.display(), header.format, header.version);
    }
    let Some((manifest, public_key, signature)) = trailer else {
        problems.push("the file ends before its trailer (cut short?)".into());
        return Ok(Checked {
            header,
            manifest: Manifest { header_sha256: String::new(), tables: found },
            public_key: String::new(),
            columns,
            problems,
        });
    };
    if !idlink_crypto::signing::verify(&public_key, &signed_bytes(&manifest)?, &signature) {
        problems.push("the manifest's signature does not verify".into());
    }
    if let Some(k) = expected_key.filter(|k| !k.eq_ignore_ascii_case(&public_key)) {
        problems.push(format!("signed with key {public_key}, not the expected {k}"));
    }
    if manifest.header_sha256 != hex::encode(Sha256::digest(header_line.as_bytes())) {
        problems.push("the header differs from the one signed".into());
    }
    if manifest.tables.len() != found.len() {
        problems.push(format!("the manifest names {} tables, the file holds {}", manifest.tables.len(), found.len()));
    }
    for (want, got) in manifest.tables.iter().zip(&found) {
        if want.name != got.name {
            problems.push(format!("table {} where the manifest names {}", got.name, want.name));
        } else if want.rows != got.rows {
            problems.push(format!("table {}: {} rows, the manifest says {}", got.name, got.rows, want.rows));
        } else if want.sha256 != got.sha256 {
            problems.push(format!("table {}: its rows differ from those signed (SHA-256 {} ≠ {})", got.name, got.sha256, want.sha256));
        }
    }
    Ok(Checked { header, manifest, public_key, columns, problems })
}

/// Streams the tables of a backup that [`verify`] found sound to `each`, a
/// batch of rows at a time (only table `only`, when given). Each table's
/// lines are hashed again as they are read: a file changed since it was
/// verified stops at its first changed table.
async fn read_tables<F, Fut>(file: &Path, manifest: &Manifest, only: Option<&str>, mut each: F) -> Result<()>
where
    F: FnMut(Table, Vec<Vec<Value>>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let reader = BufReader::new(std::fs::File::open(file)?);
    let mut table: Option<Table> = None;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut hash = Sha256::new();
    let wanted = |t: &Option<Table>| t.as_ref().is_some_and(|t| only.is_none_or(|o| o == t.name));
    for line in reader.lines() {
        let line = line?;
        if line.starts_with('[') {
            if wanted(&table) {
                hash.update(line.as_bytes());
                hash.update(b"\n");
                let values: Vec<serde_json::Value> = serde_json::from_str(&line)?;
                rows.push(values.iter().map(decode).collect::<Result<_>>()?);
                if rows.len() >= RESTORE_BATCH
                    && let Some(t) = &table
                {
                    each(t.clone(), std::mem::take(&mut rows)).await?;
                }
            }
            continue;
        }
        // A table's line, or the trailer: the table before it is complete.
        if let Some(t) = table.take().filter(|t| only.is_none_or(|o| o == t.name)) {
            let sum = hex_sha(std::mem::take(&mut hash));
            if manifest.tables.iter().find(|m| m.name == t.name).is_none_or(|m| m.sha256 != sum) {
                bail!(
                    "table {} changed since the backup was verified: the restore stops here; drop the database and restore again",
                    t.name
                );
            }
            each(t, std::mem::take(&mut rows)).await?;
        }
        hash = Sha256::new();
        if let Ok(Line::Table { name, columns }) = serde_json::from_str::<Line>(&line) {
            hash.update(line.as_bytes());
            hash.update(b"\n");
            table = Some(Table { name, columns });
        }
    }
    Ok(())
}

/// Restores `file` into the configured database, which must be empty (or
/// hold only an empty schema). Verifies the file first, checks the target
/// and the backup's tables and columns before writing, restores the data
/// keys first and stops at once when the configured keyring does not open
/// them or the backup was not signed by their audit key; then every table,
/// each table's row count, the migrations after the backup's schema, and the
/// audit chain. Prints what it does.
pub async fn restore(config: &Config, rt: &Runtime, file: &Path, expected_key: Option<&str>) -> Result<ExitCode> {
    let checked = verify(file, expected_key)?;
    if !checked.problems.is_empty() {
        for p in &checked.problems {
            println!("backup NOT sound: {p}");
        }
        bail!("{} did not verify: nothing was restored", file.display());
    }
    let url = config.database_url()?;
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.server.data_dir)?;
    }
    let store = SqlStore::connect(&url, &StoreOptions::default()).await.context("cannot open the database to restore into")?;
    let version = checked.header.schema_version;
    // The target as it is, before anything is written: no rows, no newer schema.
    let at = store.schema_version_if_any().await?;
    if at > version {
        bail!("the database is at schema {at}, the backup at {version}: restore into an empty database; nothing was restored");
    }
    if version > store.latest_schema() {
        bail!(
            "the backup is at schema {version}, newer than this idlink knows ({}): restore it with a newer idlink",
            store.latest_schema()
        );
    }
    if let Some(t) = store.first_table_with_rows(&store.tables().await?).await? {
        bail!("the database is not empty (table {t} has rows): restore only into an empty database; nothing was restored");
    }
    store.migrate_below(version.saturating_add(1)).await.context("cannot create the backup's schema")?;
    let tables = store.tables().await?;
    let known: std::collections::BTreeMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    // Every table and column of the backup is this schema's, and the other way round.
    let mut in_backup = std::collections::BTreeSet::new();
    for (name, columns) in &checked.columns {
        same_columns(&Table { name: name.clone(), columns: columns.clone() }, &known)?;
        in_backup.insert(name.as_str());
    }
    if let Some(missing) = tables.iter().find(|t| !in_backup.contains(t.name.as_str())) {
        bail!("the backup has no table {}, which schema {version} has: nothing was restored", missing.name);
    }
    let target = &store;
    println!(
        "restoring {} ({} at schema {version}, made {}) into the {} database",
        file.display(),
        checked.header.backend,
        checked.header.created_at,
        store.backend().name()
    );
    // The keyring's canary: the data keys first, opened with the configured keyring.
    read_tables(file, &checked.manifest, Some(KEYS_TABLE), |t, rows| async move {
        target.insert_rows(&t, &rows).await?;
        Ok(())
    })
    .await?;
    let today = rt.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let ring = serve::load_keyring(config, rt.rng.as_ref(), today)?;
    let unknown: Vec<String> =
        store.master_keys_in_use().await?.into_iter().filter(|id| !ring.keys().iter().any(|k| k.id == *id)).collect();
    let opened = match unknown.is_empty() {
        true => serve::open_vault(config, &store, rt).await.map_err(|e| format!("{e:#}")),
        false => Err(format!("it lacks master key {}", unknown.join(", "))),
    };
    let refusal = match &opened {
        Err(e) => Some(format!("the configured master keyring does not open this backup's keys ({e})")),
        Ok(v) if v.signer().public_hex() != checked.public_key => Some(format!(
            "the backup was signed with key {}, not with the audit key of the deployment whose keys it holds ({})",
            checked.public_key,
            v.signer().public_hex()
        )),
        Ok(_) => None,
    };
    if let Some(why) = refusal {
        store.delete_all_rows(KEYS_TABLE).await?;
        bail!("{why}; nothing was restored. Restore with the keyring of the deployment that made the backup");
    }
    let mut written = 0u64;
    read_tables(file, &checked.manifest, None, |t, rows| {
        if t.name != KEYS_TABLE {
            written += rows.len() as u64;
        }
        async move {
            if t.name != KEYS_TABLE {
                target.insert_rows(&t, &rows).await.with_context(|| format!("table {}", t.name))?;
            }
            Ok(())
        }
    })
    .await?;
    let mut bad = 0;
    for sum in &checked.manifest.tables {
        let n = store.row_count(&sum.name).await?;
        if u64::try_from(n).ok() != Some(sum.rows) {
            println!("table {}: {n} rows, the backup has {}", sum.name, sum.rows);
            bad += 1;
        }
    }
    let applied = store.migrate().await?;
    serve::refresh_statistics(&store).await;
    println!("{written} rows written besides the data keys; every table's row count checked; {applied} later migrations applied");
    let vault = serve::open_vault(config, &store, rt).await?;
    let witness = serve::open_witness(config, false, rt.clock.clone(), None)?;
    let report = idlink_core::audit::verify_store(
        &store,
        witness.as_ref(),
        &vault.signer().public_hex(),
        &config.checkpoint_policy(),
        rt.clock.now(),
    )
    .await?;
    match report.first_break {
        None => println!("audit chain intact: {} records, {} signed checkpoints", report.records, report.checkpoints),
        Some(b) => {
            println!("audit chain BROKEN after the restore: {b}");
            bad += 1;
        }
    }
    if bad == 0 {
        println!("restore complete: every table's row count matches the backup");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

/// The backup's table has exactly the columns of this schema's.
fn same_columns(t: &Table, known: &std::collections::BTreeMap<&str, &Table>) -> Result<()> {
    let Some(here) = known.get(t.name.as_str()) else { bail!("table {} is not in this schema", t.name) };
    let mut a = t.columns.clone();
    let mut b = here.columns.clone();
    a.sort();
    b.sort();
    if a != b {
        bail!("table {}: the backup's columns ({}) are not this schema's ({})", t.name, a.join(", "), b.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_value_round_trips_and_nothing_else_is_read() {
        for v in
            [Value::Null, Value::Int(i64::MIN), Value::Int(i64::MAX), Value::Text("张三 \"x\"\n".into()), Value::Bytes(vec![0, 255, 7])]
        {
            assert_eq!(decode(&encode(&v)).ok(), Some(v));
        }
        for bad in [serde_json::json!(1.5), serde_json::json!(true), serde_json::json!({"hex": "00"}), serde_json::json!([1])] {
            assert!(decode(&bad).is_err(), "{bad}");
        }
    }
}
