//! Route handlers, one module per resource. Handlers are thin: extract,
//! authorise, call one core use case, map its error (with `?`, through the
//! conversions in [`crate::errors`]).

pub mod audit;
pub mod auth;
pub mod balance;
pub mod banks;
pub mod callbacks;
pub mod cards;
pub mod certificates;
pub mod clients;
pub mod compliance;
pub mod consents;
pub mod credit;
pub mod dual;
pub mod grants;
pub mod guardians;
pub mod health;
pub mod identity;
pub mod info;
pub mod institutions;
pub mod me;
pub mod medical;
pub mod oauth;
pub mod operations;
pub mod operator;
pub mod people;
pub mod revocation;
pub mod security;
pub mod social_security;
pub mod ssf;
pub mod users;
