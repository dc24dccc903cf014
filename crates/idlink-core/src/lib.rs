//! idlink use cases and the ports they need.
//!
//! A use case takes its dependencies as port traits ([`ports`]) so it can run
//! against SQLite, PostgreSQL or a test double with no change, and never
//! reaches for the wall clock or the OS RNG itself ([`clock`], and
//! `idlink_crypto::Random`). Each state change is written together with its
//! audit record ([`audit`]) in one store call, hence one transaction, and
//! so are the events it causes ([`outbox`]); periodic work runs once per
//! period across nodes ([`jobs`]).

pub mod agreements;
pub mod apikeys;
pub mod audit;
pub mod auth;
pub mod balance;
pub mod bindings;
pub mod clock;
pub mod error;
pub mod face;
pub mod guardians;
pub mod idempotency;
pub mod identity;
pub mod jobs;
pub mod operators;
pub mod outbox;
pub mod payment;
pub mod ports;
pub mod reviews;
pub mod risk;
pub mod security;
pub mod stepup;
pub mod users;
pub mod vault;
pub mod witness;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CoreError;
