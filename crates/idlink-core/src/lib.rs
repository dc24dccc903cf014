//! idlink use cases and the ports they need, in three layers:
//!
//! 1. [`ports`]: the store traits per area with their rows and write
//!    structs, the institution ports, `StoreError`, the audit record types,
//!    `Clock`, `Rng` and `Ids`. It imports no use case.
//! 2. [`steps`]: steps several use cases take (SMS codes, reading personal
//!    data, proving a card, risk freezes, outbox notices, bank events),
//!    functions over ports; and the [`vault`] (keys and sealing).
//! 3. The use cases, one module each ([`auth`], [`security`], [`identity`],
//!    [`bindings`], [`balance`], [`guardians`], [`operators`], [`reviews`], [`dual`],
//!    [`users`], [`people`], [`apikeys`], [`audit`], [`outbox`], [`jobs`], …). Each takes
//!    only the narrow ports it needs and has one flat error enum holding
//!    `StoreError` directly; none embeds another or imports its internals.
//!
//! A use case never reaches for the wall clock or the OS RNG itself, and
//! every prefixed id is minted by the [`ports::ids::Ids`] port. Each state change
//! is written together with its audit record in one store call, hence one
//! transaction, and so are the events it causes ([`outbox`]); periodic work
//! runs once per period across nodes ([`jobs`]).

pub mod agreements;
pub mod apikeys;
pub mod audit;
pub mod auth;
pub mod balance;
pub mod bindings;
pub mod certificates;
pub mod clients;
pub mod consents;
pub mod credit;
pub mod credit_alerts;
pub mod dual;
pub mod events;
pub mod grants;
pub mod guardians;
pub mod idempotency;
pub mod identity;
pub mod institutions;
pub mod jobs;
pub mod keystatus;
pub mod medical_code;
pub mod medical_payment;
pub mod oidc;
pub mod operators;
pub mod outbox;
pub mod payment;
pub mod people;
pub mod ports;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod revocation;
pub mod security;
pub mod seed;
pub mod social_security;
pub mod ss_services;
pub mod steps;
pub mod stepup;
pub mod users;
pub mod vault;
