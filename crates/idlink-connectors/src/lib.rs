//! Clients for the institutions idlink calls, and the one [`Executor`]
//! every outbound call goes through.
//!
//! Each institution kind has a module with its pure wire types (serde
//! structs, mapped to domain results with unknown statuses treated as
//! *pending*, never as success) and a thin client over the executor.
//! The executor owns deadlines, retries (idempotent calls only), a circuit
//! breaker per institution and channel with half-open probes, optional
//! mutual TLS, and logging with personal data masked. Besides institutions,
//! the remote audit witness ([`witness`]) is reached the same way.

pub mod bank;
pub mod breaker;
pub mod channels;
pub mod executor;
pub mod face;
pub mod masking;
pub mod registry;
pub mod sms;
pub mod witness;

pub use executor::{CallError, Executor, ExecutorPolicy, Signing, Target, TlsIdentity};
