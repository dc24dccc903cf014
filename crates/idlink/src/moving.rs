//! `idlink move --to postgres://…` (issue 19, docs/operations.md): copies a
//! stopped embedded (SQLite) deployment into PostgreSQL, table by table,
//! parents first, a page of rows per transaction, with a progress line
//! (rows, rate, time left). Interrupted (even by `kill -9`), it resumes:
//! what each table has in PostgreSQL is the first rows of the SQLite table
//! in rowid order, so it goes on after them. The audit chain is verified
//! before the copy (on SQLite) and after it (on PostgreSQL), and every
//! table's row count compared.

use crate::config::Config;
use crate::serve::{self, Runtime};
use anyhow::{Context, Result, bail};
use idlink_store::{Backend, SqlStore, StoreOptions};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// How a move reports and how much it copies per transaction.
pub struct MoveOptions<'a> {
    pub to: &'a str,
    pub batch_rows: u32,
}

fn verify_chain(label: &str, report: &idlink_core::audit::VerifyReport) -> Result<()> {
    match &report.first_break {
        None => {
            println!("{label}: audit chain intact ({} records, {} signed checkpoints)", report.records, report.checkpoints);
            Ok(())
        }
        Some(b) => bail!("{label}: audit chain BROKEN: {b}; nothing more is copied"),
    }
}

fn eta(left: u64, rate: f64) -> String {
    if rate <= 0.0 {
        return "?".into();
    }
    let secs = (left as f64 / rate).round() as u64;
    format!("{}m{:02}s", secs / 60, secs % 60)
}

pub async fn run(config: &Config, rt: &Runtime, opts: &MoveOptions<'_>) -> Result<ExitCode> {
    let source = serve::open_existing_store(config).await?;
    if source.backend() != Backend::Sqlite {
        bail!("`idlink move` copies an embedded (SQLite) deployment; this one is on {}", source.backend().name());
    }
    if source.schema_version().await? != source.latest_schema() {
        bail!("the SQLite database is not at this idlink's schema: run `idlink migrate` with it first");
    }
    if Backend::from_url(opts.to) != Some(Backend::Postgres) {
        bail!("--to must be a PostgreSQL URL (postgres://…)");
    }
    let vault = serve::open_vault(config, &source, rt).await?;
    let key = vault.signer().public_hex();
    let policy = config.checkpoint_policy();
    let witness = serve::open_witness(config, false, rt.clock.clone(), None)?;
    let before = idlink_core::audit::verify_store(&source, witness.as_ref(), &key, &policy, rt.clock.now()).await?;
    verify_chain("before (SQLite)", &before)?;

    // Nothing writes to the source while it is copied: a server still running stops here (or waits).
    let mut lock = source.hold_writes().await.context("the SQLite database is being written: stop the idlink servers first")?;
    let target = SqlStore::connect(opts.to, &StoreOptions::default()).await.context("cannot open the PostgreSQL database")?;
    target.migrate().await.context("cannot apply the migrations to PostgreSQL")?;
    let (from, to) = (source.schema_version().await?, target.schema_version().await?);
    if from != to {
        bail!("SQLite is at schema {from}, PostgreSQL at {to}: move with the same idlink on both");
    }
    let tables = source.tables().await?;
    let mut totals = Vec::with_capacity(tables.len());
    for t in &tables {
        let total = source.row_count(&t.name).await?;
        let there = if target.holds_only_seed(&t.name).await? { 0 } else { target.row_count(&t.name).await? };
        if there > total {
            bail!(
                "PostgreSQL has {there} rows in {}, SQLite {total}: it is not a copy of this deployment; move into an empty database",
                t.name
            );
        }
        totals.push((total, there));
    }
    let all: i64 = totals.iter().map(|(t, _)| t).sum();
    let already: i64 = totals.iter().map(|(_, d)| d).sum();
    if already > 0 {
        println!("resuming: {already} of {all} rows are in PostgreSQL already");
    }
    let started = Instant::now();
    let mut copied: u64 = 0;
    let mut err = std::io::stderr();
    for (t, &(total, there)) in tables.iter().zip(&totals) {
        if there == total {
            continue;
        }
        let mut after = source.rowid_at(&t.name, there).await?.unwrap_or(i64::MIN);
        let mut done = there;
        loop {
            let (last, rows) = source.page_by_rowid(t, after, opts.batch_rows.max(1)).await?;
            if rows.is_empty() {
                break;
            }
            target.insert_rows(t, &rows).await.with_context(|| format!("table {}", t.name))?;
            after = last;
            done += rows.len() as i64;
            copied += rows.len() as u64;
            let rate = copied as f64 / started.elapsed().as_secs_f64().max(0.001);
            let left = u64::try_from(all - already).unwrap_or(0).saturating_sub(copied);
            let _ = write!(err, "\r{}: {done}/{total} rows; {:.0} rows/s; {} left      ", t.name, rate, eta(left, rate));
            let _ = err.flush();
        }
        let _ = writeln!(err);
    }
    println!("{copied} rows copied in {:.1} s", started.elapsed().as_secs_f64());
    let mut bad = 0;
    for (t, &(total, _)) in tables.iter().zip(&totals) {
        let n = target.row_count(&t.name).await?;
        if n != total {
            println!("table {}: {n} rows in PostgreSQL, {total} in SQLite", t.name);
            bad += 1;
        }
    }
    let after = idlink_core::audit::verify_store(&target, witness.as_ref(), &key, &policy, rt.clock.now()).await?;
    let _ = sqlx::query("ROLLBACK").execute(&mut *lock).await;
    drop(lock);
    verify_chain("after (PostgreSQL)", &after)?;
    if bad > 0 {
        return Ok(ExitCode::from(1));
    }
    crate::serve::refresh_statistics(&target).await;
    println!("move complete: every table's row count matches; set database.url to the PostgreSQL URL and start idlink");
    Ok(ExitCode::SUCCESS)
}
