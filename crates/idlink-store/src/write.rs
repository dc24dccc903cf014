//! How a store write is written: one transaction, its audit records, one of
//! two commits (SPEC P7; ADR 0002, revision of issue 11; ADR 0004).
//!
//! Every write transaction of the store begins in [`begin`], and every one
//! but the balance group commit's (ADR 0006) runs through one of the
//! helpers below. The body is an async closure that is lent the
//! transaction and holds the statements of the change:
//!
//! ```text
//! self.audited(audit, async |tx| {
//!     execute(sqlx::query("UPDATE …").bind(…), &mut *tx).await?;
//!     Ok(())
//! })
//! .await
//! ```
//!
//! (Statements run through the wrappers in `rows.rs`: `execute` answers
//! the rows changed, `fetch_optional`/`fetch_one`/`fetch_all` decode rows.)
//!
//! The helper then appends the records to the audit chain after the body's
//! statements (`audit::append_all_in`) and ends the transaction the way its
//! name says, so that neither can be forgotten or mixed up at a call site:
//!
//! | helper | audit records | ends in |
//! |---|---|---|
//! | [`audited`](SqlStore::audited) | appended after the body | `idempotency::commit`: the change is the request's effect |
//! | [`audited_if`](SqlStore::audited_if) | the same, if the body changed something | the same, or a rollback |
//! | [`recorded`](SqlStore::recorded) | appended after the body | `idempotency::commit_bookkeeping`: a write that only records |
//! | [`write`](SqlStore::write), [`write_if`](SqlStore::write_if) | none, or the body's own (`append_in`) | the [`Commit`] named |
//!
//! A body that finds nothing to change answers `false` or `None` to an
//! `…_if` helper ([`Changed`]): no record is appended, no claim is pinned,
//! and the transaction is dropped, which rolls it back (as the early
//! `return Ok(false)` of the hand-written transactions did). An error from
//! the body rolls back the same way.
//!
//! Statements that other changes share (`insert_user_in`, `open_case_in`,
//! `append_in`, …) take `&mut Tx` and are called from bodies with `tx`.
//!
//! Why a closure rather than a guard value with `audit` and `commit`
//! methods: a guard would leave `begin → … → append → commit` written out
//! at every call site, only renamed, and a forgotten record or the wrong
//! commit would still compile; with the closure the call site names the
//! kind of write once and holds only what is particular to it. Bodies are
//! lent the transaction's connection (`&mut AnyConnection`) rather than
//! `&mut Transaction<'static, Any>`: with the latter, rustc 1.95 cannot
//! prove the `async_trait` methods' futures `Send` ("implementation of
//! `AsyncFnOnce` is not general enough": the transaction's lifetime is
//! treated as a second higher-ranked one). With the connection, async
//! closures need no boxing and no lifetime annotations, and bodies write
//! `&mut *tx` as the hand-written transactions did.

use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;

use crate::audit::append_all_in;
use crate::idempotency;
use crate::rows::store_err;
use crate::{Backend, SqlStore};
use sqlx::{Any, AnyPool, Transaction};

/// The connection of a write transaction, as bodies and `…_in` helpers see it.
pub(crate) type Tx = sqlx::AnyConnection;

/// How a write transaction ends (ADR 0004).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    /// The change is the running request's effect: marks its idempotency
    /// claim in the same transaction, and fails if the claim was taken over.
    Effect,
    /// The write only records (audit-only records, rate-limit counts,
    /// challenges, refusals, the idempotency records themselves): repeating
    /// it is harmless, so it pins no claim.
    Bookkeeping,
}

/// What the body of an `…_if` helper answers: whether it changed anything.
pub(crate) trait Changed {
    fn changed(&self) -> bool;
}

impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}

impl<T> Changed for Option<T> {
    fn changed(&self) -> bool {
        self.is_some()
    }
}

/// The audit records a write appends: one entry, or several in order.
pub(crate) trait Records {
    fn entries(&self) -> &[AuditEntry];
}

impl Records for &AuditEntry {
    fn entries(&self) -> &[AuditEntry] {
        std::slice::from_ref(*self)
    }
}

impl Records for &[AuditEntry] {
    fn entries(&self) -> &[AuditEntry] {
        self
    }
}

impl SqlStore {
    /// A change and its audit records, committed as the request's effect.
    pub(crate) async fn audited<T>(
        &self,
        records: impl Records,
        body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(Commit::Effect, records.entries(), |_| true, body).await
    }

    /// A change that may find nothing to change (`false`, `None`): then
    /// nothing is recorded and the transaction rolls back.
    pub(crate) async fn audited_if<T: Changed>(
        &self,
        records: impl Records,
        body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(Commit::Effect, records.entries(), T::changed, body).await
    }

    /// A write that only records, with its audit records: pins no claim.
    pub(crate) async fn recorded<T>(
        &self,
        records: impl Records,
        body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(Commit::Bookkeeping, records.entries(), |_| true, body).await
    }

    /// A write with no audit record of its own (or whose records depend on
    /// what the body finds: the body appends them with [`crate::audit::append_in`]).
    pub(crate) async fn write<T>(&self, commit: Commit, body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.transaction(commit, &[], |_| true, body).await
    }

    /// [`write`](Self::write) for a body that may find nothing to change.
    pub(crate) async fn write_if<T: Changed>(
        &self,
        commit: Commit,
        body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(commit, &[], T::changed, body).await
    }

    /// The one place a write transaction of the store begins (see the module header).
    async fn transaction<T>(
        &self,
        commit: Commit,
        records: &[AuditEntry],
        changed: impl FnOnce(&T) -> bool,
        body: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = begin(&self.writer, self.backend()).await?;
        let value = body(&mut tx).await?;
        if !changed(&value) {
            // Dropping the transaction rolls it back: nothing recorded, no claim pinned.
            return Ok(value);
        }
        append_all_in(&mut tx, records).await?;
        match commit {
            Commit::Effect => idempotency::commit(tx).await?,
            Commit::Bookkeeping => idempotency::commit_bookkeeping(tx).await?,
        }
        Ok(value)
    }
}

/// A write transaction on `writer`. On SQLite it takes the write lock at
/// once, so concurrent writers (even other processes) queue rather than
/// deadlock. The balance group commit begins its batches here too.
pub(crate) async fn begin(writer: &AnyPool, backend: Backend) -> Result<Transaction<'static, Any>, StoreError> {
    match backend {
        Backend::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await.map_err(store_err),
        Backend::Postgres => writer.begin().await.map_err(store_err),
    }
}
