//! `idlink bench seed --users N` (issue 19, docs/operations.md): adds N
//! realistic users to the configured database, through the same store and
//! the real vault (`idlink_core::seed`): each signed up with a device,
//! verified (ID number and name sealed under their own data key, blind
//! indexed), gave the five consents, bound a debit card of the roster's banks
//! in turn, and queried its balance; about a dozen audit records each, in
//! the one chain. Batches of users are written in one transaction each,
//! with a progress line (users, rate, time left).

use crate::config::Config;
use crate::serve::{self, Runtime};
use anyhow::{Context, Result};
use idlink_core::seed::{SeededUser, Seeder};
use idlink_domain::card::BinTable;
use std::io::Write;
use std::time::Instant;

pub struct SeedOptions {
    pub users: u64,
    /// Users written per transaction (at most [`MAX_BATCH`]).
    pub batch: usize,
}

/// Users a transaction holds at most (each batch is built in memory first).
pub const MAX_BATCH: usize = 5_000;

/// SQLite's page cache while seeding, unless `database.sqlite_cache_mib` says otherwise.
const SEED_CACHE_MIB: u32 = 1_024;

/// What a seeding run did.
#[derive(Debug)]
pub struct Seeded {
    pub users: u64,
    pub audit_records: u64,
    pub seconds: f64,
}

pub async fn run(config: &Config, rt: &Runtime, opts: &SeedOptions) -> Result<Seeded> {
    // A bulk load: commits not waited for one by one, and a page cache that holds the indexes being filled.
    let bulk = idlink_store::StoreOptions { bulk_load: true, sqlite_cache_mib: Some(SEED_CACHE_MIB), ..Default::default() };
    let store = serve::open_store_with(config, bulk).await?;
    let vault = serve::open_vault(config, &store, rt).await?;
    let texts = config.consent_texts()?;
    let roster = config.roster()?;
    let ids = idlink_core::ports::ids::RandomIds(rt.rng.clone());
    let seeder = Seeder::new(&vault, &ids, &texts, &roster, BinTable::bundled(), rt.clock.now())
        .context("no bank of the roster has a debit BIN in the bundled table")?;
    // Numbered after the users already there, so that a second run adds more.
    let first = u64::try_from(store.row_count("users").await?).unwrap_or(0);
    let audit_before = store.row_count("audit_log").await?;
    println!(
        "seeding {} users (from number {first}) into the {} database; cards of {} banks",
        opts.users,
        store.backend().name(),
        seeder.banks().len()
    );
    let started = Instant::now();
    // SQLite: indexes rebuilt once at the end instead of filled a random key at a time (an interrupted
    // seed leaves them recorded; the next seed rebuilds them at its end, anything else when it opens).
    let suspended = store.suspend_indexes().await.context("cannot suspend the indexes for the load")?;
    if suspended > 0 {
        println!("{suspended} secondary indexes suspended for the load");
    }
    let mut done = 0u64;
    let mut err = std::io::stderr();
    let mut printed = Instant::now();
    let (mut building, mut writing) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    while done < opts.users {
        let size = (opts.users - done).min(opts.batch.clamp(1, MAX_BATCH) as u64);
        let t = Instant::now();
        let batch = (first + done..first + done + size).map(|n| seeder.user(n)).collect::<Result<Vec<SeededUser>, _>>()?;
        building += t.elapsed();
        let t = Instant::now();
        store.seed_users(&batch).await.context("cannot write the seeded users")?;
        writing += t.elapsed();
        done += size;
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let left = ((opts.users - done) as f64 / rate).round() as u64;
        // A progress line four times a second at most (a terminal, or a log that keeps every line).
        if done == opts.users || printed.elapsed() >= std::time::Duration::from_millis(250) {
            printed = Instant::now();
            let _ = write!(err, "\r{done}/{} users; {rate:.0} users/s; {}m{:02}s left   ", opts.users, left / 60, left % 60);
            let _ = err.flush();
        }
    }
    let _ = writeln!(err);
    let t = Instant::now();
    let rebuilt = store.rebuild_indexes().await.context("cannot rebuild the indexes after the load")?;
    let indexing = t.elapsed();
    // Durable before the witness outside the database records the head.
    store.end_bulk_load().await.context("cannot end the bulk load")?;
    // Signed as a server would sign them: a chain with unsigned records past the allowance does not verify.
    let witness = serve::open_witness(config, true, rt.clock.clone(), None)?;
    let policy = config.checkpoint_policy();
    let signing = idlink_core::audit::SigningReason::Manual;
    idlink_core::audit::checkpoint(&store, witness.as_ref(), vault.signer(), &policy, rt.clock.now(), signing)
        .await
        .context("cannot sign the audit chain")?;
    serve::refresh_statistics(&store).await;
    let seconds = started.elapsed().as_secs_f64();
    let audit_records = u64::try_from(store.row_count("audit_log").await? - audit_before).unwrap_or(0);
    println!(
        "{done} users seeded in {seconds:.1} s ({:.0} users/s; {:.1} s building the rows, {:.1} s writing them, {:.1} s rebuilding {rebuilt} indexes); {audit_records} audit records",
        done as f64 / seconds.max(0.001),
        building.as_secs_f64(),
        writing.as_secs_f64(),
        indexing.as_secs_f64()
    );
    Ok(Seeded { users: done, audit_records, seconds })
}
