//! Running statements and reading their rows, written once for every module:
//! the fetch and execute wrappers (sqlx errors mapped by [`store_err`]),
//! the conversions between stored columns and domain values ([`Columns`]),
//! and small SQL builders.
//!
//! A read is one line at its call site:
//! `fetch_optional(sqlx::query("SELECT …").bind(id), &self.reader, operator).await`,
//! where `operator` decodes one row with [`Columns`]; a write body runs
//! `execute(q, &mut *tx)`, which answers the rows it changed.

use idlink_core::ports::StoreError;
use idlink_domain::UserId;
use idlink_domain::ids::IdError;
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// Instants are stored as microseconds since the Unix epoch, UTC.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn timestamp(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}

/// Maps a sqlx error: unique violations name their rule, the rest is "unavailable".
pub(crate) fn store_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Unique(db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned()))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A stored value that does not parse as what it should be (`case kind x`).
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} {value}"))
}

/// A stored user id.
pub(crate) fn user_id(s: &str) -> Result<UserId, StoreError> {
    UserId::parse(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored enumeration value (`CaseKind::parse`, `SessionStatus::parse`, …); `what` names it in the error.
pub(crate) fn parsed<T>(what: &str, s: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(s).ok_or_else(|| corrupt(what, s))
}

/// A list stored as text joined by `sep` (roles, verification reasons); an empty text is an empty list.
pub(crate) fn parsed_list<T>(what: &str, text: &str, sep: char, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, StoreError> {
    text.split(sep).filter(|s| !s.is_empty()).map(|s| parsed(what, s, &parse)).collect()
}

/// A stored count as `u32` (attempts, failures, steps). Fails closed: a
/// negative or out-of-range count is corrupt data naming its column, never 0
/// (a `steps_required` of 0 would let one approval close a two-step case).
pub(crate) fn count_u32(column: &str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(&format!("count {column}"), n))
}

/// A stored count as `u64`; a negative one is corrupt data naming its column.
pub(crate) fn count_u64(column: &str, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| corrupt(&format!("count {column}"), n))
}

/// The columns of a row, read as the store writes them.
pub(crate) trait Columns {
    /// A column as stored (text, integer, bytes, or `Option` of one).
    fn col<T>(&self, name: &str) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>;

    /// An instant (BIGINT microseconds).
    fn instant(&self, name: &str) -> Result<Timestamp, StoreError> {
        timestamp(self.col(name)?)
    }

    /// An instant that may be NULL.
    fn instant_opt(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        self.col::<Option<i64>>(name)?.map(timestamp).transpose()
    }

    fn user(&self, name: &str) -> Result<UserId, StoreError> {
        user_id(&self.col::<String>(name)?)
    }

    /// A 0/1 integer.
    fn flag(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.col::<i64>(name)? != 0)
    }

    /// A count column (see [`count_u32`]): negative or out of range is corrupt.
    fn count_u32(&self, name: &str) -> Result<u32, StoreError> {
        count_u32(name, self.col(name)?)
    }

    /// A count column (see [`count_u64`]): negative is corrupt.
    fn count_u64(&self, name: &str) -> Result<u64, StoreError> {
        count_u64(name, self.col(name)?)
    }

    /// A prefixed id (`bnd_…`, `ses_…`); one that does not parse is corrupt
    /// data. Ids are stored as their text (`.as_str()` when bound).
    fn id<T>(&self, name: &str) -> Result<T, StoreError>
    where
        T: TryFrom<String, Error = IdError>,
    {
        T::try_from(self.col::<String>(name)?).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }

    /// A prefixed id that may be NULL.
    fn id_opt<T>(&self, name: &str) -> Result<Option<T>, StoreError>
    where
        T: TryFrom<String, Error = IdError>,
    {
        self.col::<Option<String>>(name)?.map(|t| T::try_from(t).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))).transpose()
    }

    /// A text column holding an enumeration value; `what` names it in the error.
    fn parsed<T>(&self, name: &str, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
        parsed(what, &self.col::<String>(name)?, parse)
    }
}

impl Columns for AnyRow {
    fn col<T>(&self, name: &str) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
    {
        self.try_get(name).map_err(store_err)
    }
}

/// The first column of a row: the decoder of single-value queries (`SELECT COUNT(*) …`).
pub(crate) fn first<T>(r: &AnyRow) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    r.try_get(0).map_err(store_err)
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Runs `q` on `on` (the reader pool, or a write transaction's `&mut *tx`)
/// and decodes the row it returns, if any.
pub(crate) async fn fetch_optional<'c, T>(
    q: AnyQuery<'_>,
    on: impl Executor<'c, Database = Any>,
    decode: impl FnOnce(&AnyRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    q.fetch_optional(on).await.map_err(store_err)?.map(|r| decode(&r)).transpose()
}

/// Runs `q` and decodes the one row it must return.
pub(crate) async fn fetch_one<'c, T>(
    q: AnyQuery<'_>,
    on: impl Executor<'c, Database = Any>,
    decode: impl FnOnce(&AnyRow) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    decode(&q.fetch_one(on).await.map_err(store_err)?)
}

/// Runs `q` and decodes every row it returns, in order.
pub(crate) async fn fetch_all<'c, T>(
    q: AnyQuery<'_>,
    on: impl Executor<'c, Database = Any>,
    decode: impl FnMut(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    q.fetch_all(on).await.map_err(store_err)?.iter().map(decode).collect()
}

/// Runs a statement that returns no rows; answers how many rows it changed.
pub(crate) async fn execute<'c>(q: AnyQuery<'_>, on: impl Executor<'c, Database = Any>) -> Result<u64, StoreError> {
    Ok(q.execute(on).await.map_err(store_err)?.rows_affected())
}

/// `($first, …), …` placeholders for `rows` rows of `cols` columns (multi-row inserts).
pub(crate) fn values(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..cols).map(|c| format!("${}", first + r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `p.a, p.b, …`: the columns of a list such as `"a, b"` qualified by a table alias (for joins and `RETURNING`).
pub(crate) fn qualified(columns: &str, alias: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}
