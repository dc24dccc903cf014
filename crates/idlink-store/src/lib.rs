//! SQLite and PostgreSQL storage for idlink.
//!
//! One implementation, [`SqlStore`], serves both databases through sqlx's
//! `Any` driver: the SQL is written once in the dialect both accept (`$N`
//! placeholders, `RETURNING`, `ON CONFLICT`), instants are stored as BIGINT
//! microseconds, and only migrations differ per database
//! (`migrations/sqlite`, `migrations/postgres`). See docs/adr/0002.
//!
//! A write is written once, through the helpers in `write.rs`:
//! `self.audited(audit, async |tx| { …statements… })` runs the statements,
//! appends the audit record (`audit::append_all_in`, the one chain append)
//! and commits as the request's effect; `audited_if`, `recorded`, `write`
//! and `write_if` cover a change that may find nothing to change, a write
//! that only records, and writes without a record of their own. Each names
//! how it ends for idempotency (ADR 0004). Statements are run, and their
//! rows decoded, through the few wrappers in `rows.rs` (`execute`,
//! `fetch_optional`, `fetch_one`, `fetch_all`, and `Columns` for the
//! conversions of stored columns), so each module holds only its SQL, its
//! binds and which columns make which value.
//!
//! SQLite runs with one writer connection (plus readers) and `BEGIN
//! IMMEDIATE`, so writers queue instead of failing with `SQLITE_BUSY`;
//! PostgreSQL relies on row locks (the audit chain head) and unique keys.
//! Balance queries commit in groups through one writer task per store
//! (`group_commit`, ADR 0006); SQLite's WAL is checkpointed beside the
//! writer rather than inside its commits.
//!
//! Events a change causes are written to the outbox in the change's
//! transaction (`outbox`), which also keeps the periodic jobs' leases.
//!
//! [`witness::FileWitness`] keeps a copy of each signed audit checkpoint in
//! a file outside the database (docs/audit.md).
//!
//! [`snapshot`] copies every table as it is, read from the catalog, for
//! backups, restores and moves between the two databases (ADR 0033).
//!
//! [`plans`] reads the query plans of the hot statements for the scale
//! benchmark (docs/benchmarks.md).
//!
//! [`testing`] gives the conformance tests (and other crates' tests) a fresh
//! database of either kind.

mod audit;
mod balance;
mod bindings;
mod certificates;
mod clients;
mod consents;
mod credit;
mod events;
mod grants;
mod group_commit;
mod idempotency;
mod identity;
mod login;
mod maintenance;
mod oauth;
mod outbox;
mod people;
pub mod plans;
mod proposals;
mod read_batch;
mod reports;
mod retention;
mod reviews;
mod revocations;
mod rows;
mod security;
mod seed;
pub mod snapshot;
mod ss_bindings;
mod store;
pub mod testing;
pub mod witness;
mod write;

pub use store::{Backend, SqlStore, StoreOptions};
