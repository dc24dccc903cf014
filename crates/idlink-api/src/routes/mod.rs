//! Route handlers, one module per resource. Handlers are thin: extract,
//! authorise, call one core use case, map its error.

pub mod audit;
pub mod auth;
pub mod balance;
pub mod banks;
pub mod callbacks;
pub mod cards;
pub mod guardians;
pub mod health;
pub mod identity;
pub mod me;
pub mod operator;
pub mod security;
pub mod users;
