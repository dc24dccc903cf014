//! The oauth store on SQLite and PostgreSQL.

use crate::SqlStore;
use idlink_core::ports::oauth::OAuthStore;

impl OAuthStore for SqlStore {}
