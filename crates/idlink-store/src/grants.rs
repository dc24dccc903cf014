//! The grants store on SQLite and PostgreSQL.

use crate::SqlStore;
use idlink_core::ports::grants::GrantStore;

impl GrantStore for SqlStore {}
