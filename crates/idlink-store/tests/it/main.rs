//! The store conformance suite: every test runs on SQLite and, when
//! reachable (always in CI), on PostgreSQL, and must behave identically.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod idempotency;
mod keys;
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
