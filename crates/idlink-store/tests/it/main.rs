//! The store conformance suite: every test runs on SQLite and, when
//! reachable (always in CI), on PostgreSQL, and must behave identically.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod balance;
mod counts;
mod credit;
mod events;
mod grants;
mod idempotency;
mod keys;
mod medical;
mod migrations;
mod oauth;
mod operators;
mod outbox;
mod people;
mod plans;
mod proposals;
mod reports;
mod retention;
mod revocations;
mod security;
mod users;

use idlink_store::testing::{self, TestDb};

/// The databases to run on. Fails the test if PostgreSQL is required but absent.
pub async fn databases() -> Vec<TestDb> {
    match testing::all().await {
        Ok(dbs) => dbs,
        Err(e) => panic!("test databases: {e}"),
    }
}

pub fn at(second: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000 + second).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[tokio::test]
async fn migrations_apply_once_on_every_database() {
    for db in databases().await {
        assert_eq!(db.store.migrate().await.ok(), Some(0), "{}: second migrate must apply nothing", db.kind);
    }
}

/// SQLite runs in WAL mode with synchronous=FULL: commits are durable when they return.
#[tokio::test]
async fn sqlite_commits_are_durable_and_readers_do_not_block() {
    let db = testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    let dump = testing::query_text(&db.store, "PRAGMA journal_mode").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dump.trim(), "wal");
    let sync = testing::query_text(&db.store, "PRAGMA synchronous").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sync.trim(), "2", "2 = FULL");
}

/// `database.sqlite_mmap_mib` and `sqlite_cache_mib` reach every reader
/// connection (the scale benchmark's SQLite figures depend on them), a map
/// may be larger than the 2 GiB SQLite allows unless built otherwise, and
/// without them SQLite keeps its own defaults: no map, a 2 MiB cache.
#[tokio::test]
async fn sqlite_connections_read_through_the_configured_map_and_cache() {
    let db = testing::sqlite().await.unwrap_or_else(|e| panic!("{e}"));
    // Past SQLite's own 2 GiB cap, which idlink's build raises (.cargo/config.toml).
    let tuned = idlink_store::StoreOptions { sqlite_mmap_mib: Some(4096), sqlite_cache_mib: Some(8), ..Default::default() };
    let store = idlink_store::SqlStore::connect(&db.url, &tuned).await.unwrap_or_else(|e| panic!("{e}"));
    // Every pooled reader, not only the first.
    let gib4 = (4096u64 * 1024 * 1024).to_string();
    assert_eq!(testing::reader_pragma(&store, "mmap_size", 4).await, Ok(vec![gib4.clone(); 4]));
    assert_eq!(testing::writer_pragma(&store, "mmap_size").await, Ok(gib4), "the writer reads through the map too");
    assert_eq!(testing::reader_pragma(&store, "cache_size", 4).await, Ok(vec!["-8192".to_owned(); 4]), "negative: KiB");
    store.close().await;
    assert_eq!(testing::query_text(&db.store, "PRAGMA mmap_size").await, Ok("0".to_owned()), "no map unless configured");
    assert_eq!(testing::query_text(&db.store, "PRAGMA cache_size").await, Ok("-2000".to_owned()), "SQLite's own 2 MiB");
}
