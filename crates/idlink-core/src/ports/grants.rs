//! Grants as the user and the host backend see and end them (SPEC TP2).

use async_trait::async_trait;

#[async_trait]
pub trait GrantStore: Send + Sync {}
