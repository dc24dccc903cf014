//! Conversions between stored columns and domain values, and small SQL builders.

use idlink_core::ports::StoreError;
use jiff::Timestamp;

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

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

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

/// A prefixed id (`bnd_…`, `case_…`) read from `column`; one that does not
/// parse is corrupt data. Ids are stored as their text (`.as_str()`).
pub(crate) fn column_id<T>(r: &sqlx::any::AnyRow, column: &str) -> Result<T, StoreError>
where
    T: TryFrom<String, Error = idlink_domain::ids::IdError>,
{
    use sqlx::Row;
    let text: String = r.try_get(column).map_err(store_err)?;
    T::try_from(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// [`column_id`] for a nullable column.
pub(crate) fn column_opt_id<T>(r: &sqlx::any::AnyRow, column: &str) -> Result<Option<T>, StoreError>
where
    T: TryFrom<String, Error = idlink_domain::ids::IdError>,
{
    use sqlx::Row;
    let text: Option<String> = r.try_get(column).map_err(store_err)?;
    text.map(|t| T::try_from(t).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))).transpose()
}
