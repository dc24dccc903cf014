//! Seeded users for the scale benchmark (`idlink bench seed`, issue 19):
//! a batch written in one transaction, one multi-row statement per table
//! (the real flows' columns), and every audit record appended to the chain
//! after them.

use crate::SqlStore;
use crate::balance::{HISTORY_COLS, HISTORY_COLUMNS, bind_history_row};
use crate::bindings::{NEW_BINDING_COLUMNS, bind_new_binding};
use crate::identity::{IDENTITY_COLUMNS, bind_identity};
use crate::login::{DEVICE_COLUMNS, bind_device};
use crate::rows::{AnyQuery, Columns, execute, fetch_all, micros, store_err, values};
use crate::store::{Backend, SUSPENDED_INDEXES_SCHEMA, master_id};
use crate::write::Commit;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::seed::SeededUser;

/// `INSERT INTO {table} ({columns}) VALUES …` for `rows` rows of `cols` values.
fn insert<'q>(table: &str, columns: &str, rows: usize, cols: usize) -> AnyQuery<'q> {
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {table} ({columns}) VALUES {}", values(rows, cols, 1))))
}

/// Users per multi-row statement: SQLite finds each `$N` by name, so a
/// statement costs more than its rows past a few thousand values (20
/// users are 1,420). A transaction holds as many statements as its batch.
const USERS_PER_STATEMENT: usize = 20;

/// The tables a seed fills.
const SEEDED_TABLES: [&str; 8] =
    ["data_keys", "users", "devices", "identities", "sensitive_consents", "card_bindings", "balance_queries", "audit_log"];

impl SqlStore {
    /// Drops the non-unique secondary indexes of the tables a seed fills,
    /// for a bulk load into SQLite, recording how to make each again (table
    /// `suspended_indexes`); returns how many it dropped. Filling a B-tree
    /// in key order is what a rebuild does, while a load of random keys
    /// (the user ids of 11 M audit records, of balance queries and card
    /// bindings) inserts each into a page anywhere in an index that
    /// outgrew the cache: a 1 M-user seed slowed from 1,140 to 350 users/s.
    /// Unique indexes stay: they are constraints (a duplicate phone or ID
    /// number is refused at once, and `ON CONFLICT` needs them), so a
    /// server on the same database meanwhile only reads more slowly.
    /// PostgreSQL keeps its indexes (seeding it does not slow down the same
    /// way): answers 0.
    pub async fn suspend_indexes(&self) -> Result<usize, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        let mut found: Vec<(String, String, String)> = Vec::new();
        for table in SEEDED_TABLES {
            let q = sqlx::query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL \
                 AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
            )
            .bind(table);
            let rows = fetch_all(q, &self.reader, |r| Ok((r.col::<String>("name")?, r.col::<String>("sql")?))).await?;
            found.extend(rows.into_iter().map(|(name, sql)| (name, table.to_owned(), sql)));
        }
        let n = found.len();
        // The record and the drop in one transaction: an interrupted load leaves every index either in place or recorded.
        self.write(Commit::Bookkeeping, async |tx| {
            for (name, table, sql) in &found {
                let record = sqlx::query("INSERT INTO suspended_indexes (name, table_name, definition) VALUES ($1, $2, $3)")
                    .bind(name.clone())
                    .bind(table.clone())
                    .bind(sql.clone());
                execute(record, &mut *tx).await?;
                let drop = format!("DROP INDEX {}", crate::snapshot::ident(name)?);
                execute(sqlx::query(sqlx::AssertSqlSafe(drop)), &mut *tx).await?;
            }
            Ok(())
        })
        .await?;
        Ok(n)
    }

    /// Whether an interrupted bulk load left indexes suspended (none before
    /// the schema that records them).
    pub async fn has_suspended_indexes(&self) -> Result<bool, StoreError> {
        Ok(self.schema_version_if_any().await? >= SUSPENDED_INDEXES_SCHEMA && self.row_count("suspended_indexes").await? > 0)
    }

    /// Makes again every index [`Self::suspend_indexes`] dropped, one
    /// transaction each (the index and the end of its record together), and
    /// returns how many. An index that exists already only loses its
    /// record, and so does every record in PostgreSQL (the statements are
    /// SQLite's; a move or restore may have copied the records there).
    pub async fn rebuild_indexes(&self) -> Result<usize, StoreError> {
        let q = sqlx::query("SELECT name, definition FROM suspended_indexes ORDER BY table_name, name");
        let suspended = fetch_all(q, &self.reader, |r| Ok((r.col::<String>("name")?, r.col::<String>("definition")?))).await?;
        for (name, definition) in &suspended {
            let exists: i64 = match self.backend() {
                Backend::Sqlite => {
                    let q = sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name = $1").bind(name.clone());
                    fetch_all(q, &self.reader, |r| r.col::<i64>("n")).await?.first().copied().unwrap_or(0)
                }
                Backend::Postgres => 1,
            };
            self.write(Commit::Bookkeeping, async |tx| {
                if exists == 0 {
                    sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::Corrupt(format!("cannot rebuild index {name} after a bulk load: {}", store_err(e))))?;
                }
                execute(sqlx::query("DELETE FROM suspended_indexes WHERE name = $1").bind(name.clone()), &mut *tx).await
            })
            .await?;
        }
        Ok(suspended.len())
    }

    /// Writes `users` and their audit records in one transaction, a
    /// multi-row statement per table for each 20 of them.
    pub async fn seed_users(&self, users: &[SeededUser]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        let audits: Vec<AuditEntry> = users.iter().flat_map(|u| u.audit.iter().cloned()).collect();
        let parts = users.chunks(USERS_PER_STATEMENT).map(statements).collect::<Result<Vec<_>, _>>()?;
        let statements: Vec<AnyQuery<'_>> = parts.into_iter().flatten().collect();
        self.recorded(&audits[..], async |tx| {
            for q in statements {
                execute(q, &mut *tx).await?;
            }
            Ok(())
        })
        .await
    }
}

/// The inserts of `users`, parents first: the keys and users, then what names them.
fn statements(users: &[SeededUser]) -> Result<Vec<AnyQuery<'_>>, StoreError> {
    let n = users.len();
    let mut keys = insert("data_keys", "id, master_key_id, ciphertext", n, 3);
    let mut people = insert("users", "id, phone_cipher, phone_index, created_at", n, 4);
    let mut devices = insert("devices", DEVICE_COLUMNS, n, 8);
    let mut identities = insert("identities", IDENTITY_COLUMNS, n, 8);
    let consents_n: usize = users.iter().map(|u| u.consents.len()).sum();
    let mut consents =
        insert("sensitive_consents", "id, user_id, kind, version, locale, text_sha256, given_at, withdrawn_at", consents_n, 8);
    let mut bindings = insert("card_bindings", &format!("{NEW_BINDING_COLUMNS}, bound_at"), n, 11);
    let queries_n: usize = users.iter().map(|u| u.queries.len()).sum();
    let mut history = insert("balance_queries", HISTORY_COLUMNS, queries_n, HISTORY_COLS);
    for u in users {
        keys = keys.bind(&u.key.id).bind(master_id(&u.key)?).bind(&u.key.ciphertext);
        people = people.bind(u.user.id.as_str()).bind(&u.user.phone_cipher).bind(&u.user.phone_index).bind(micros(u.user.created_at));
        devices = bind_device(devices, &u.device);
        identities = bind_identity(identities, &u.identity);
        for c in &u.consents {
            consents = consents
                .bind(&c.id)
                .bind(c.user_id.as_str())
                .bind(c.kind.as_str())
                .bind(i64::from(c.version))
                .bind(&c.locale)
                .bind(&c.text_sha256)
                .bind(micros(c.given_at))
                .bind(c.withdrawn_at.map(micros));
        }
        bindings = bind_new_binding(bindings, &u.binding).bind(u.binding.bound_at.map(micros));
        for r in &u.queries {
            history = bind_history_row(history, u.user.id.as_str(), r);
        }
    }
    Ok(vec![keys, people, devices, identities, consents, bindings, history])
}
