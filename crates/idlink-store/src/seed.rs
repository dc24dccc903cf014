//! Seeded users for the scale benchmark (`idlink bench seed`, issue 19):
//! a batch written in one transaction, one multi-row statement per table
//! (the real flows' columns), and every audit record appended to the chain
//! after them.

use crate::SqlStore;
use crate::balance::{HISTORY_COLS, HISTORY_COLUMNS, bind_history_row};
use crate::bindings::{NEW_BINDING_COLUMNS, bind_new_binding};
use crate::identity::{IDENTITY_COLUMNS, bind_identity};
use crate::login::{DEVICE_COLUMNS, bind_device};
use crate::rows::{AnyQuery, execute, micros, values};
use crate::store::master_id;
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

impl SqlStore {
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
