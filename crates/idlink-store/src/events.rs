//! The events store on SQLite and PostgreSQL.

use crate::SqlStore;
use idlink_core::ports::events::EventStore;

impl EventStore for SqlStore {}
