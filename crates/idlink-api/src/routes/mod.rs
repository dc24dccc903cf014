//! Route handlers, one module per resource. Handlers are thin: extract,
//! authorise, call one core use case, map its error.

pub mod audit;
pub mod health;
pub mod users;

use crate::problem::Problem;
use idlink_core::CoreError;
use idlink_core::ports::StoreError;

/// The one mapping from use-case errors to problems; it lists every variant.
pub fn core_problem(e: CoreError) -> Problem {
    match e {
        CoreError::NotFound => Problem::new("user_not_found"),
        CoreError::Conflict(detail) => Problem::new("phone_taken").detail(format!("{detail}.")),
        CoreError::Shredded => Problem::new("user_data_shredded"),
        CoreError::Store(e) => store_problem(e),
        CoreError::Crypto(e) => {
            tracing::error!(error = %e, "decryption failed");
            Problem::new("internal_error")
        }
    }
}

pub fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Unavailable(detail) => {
            tracing::error!(%detail, "database unavailable");
            Problem::new("service_unavailable").retry_after(5)
        }
        StoreError::Unique(rule) => {
            tracing::error!(%rule, "unexpected uniqueness conflict");
            Problem::new("internal_error")
        }
        StoreError::Corrupt(detail) => {
            tracing::error!(%detail, "stored data is corrupt");
            Problem::new("internal_error")
        }
    }
}
