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

use crate::problem::Problem;
use idlink_core::CoreError;
use idlink_core::auth::{AuthError, SendError};
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

/// The mapping from login errors to problems; it lists every variant.
pub fn auth_problem(e: AuthError) -> Problem {
    match e {
        AuthError::RateLimited { retry_after_secs, rule } => {
            let why = match rule {
                "resend_interval" => "A code was sent to this number moments ago",
                "per_phone" => "Too many codes were sent to this number this hour",
                _ => "Too many codes were requested from this network this hour",
            };
            Problem::new("rate_limited").detail(format!("{why}. Retry in {retry_after_secs} s.")).retry_after(retry_after_secs)
        }
        AuthError::WrongCode { remaining } => {
            Problem::new("code_wrong").detail(format!("The code is wrong; {remaining} tries left. Check the SMS and try again."))
        }
        AuthError::ChallengeGone => Problem::new("challenge_gone"),
        AuthError::SessionInvalid => Problem::new("session_invalid"),
        AuthError::DeviceCheckRequired => Problem::new("device_check_required"),
        AuthError::Send(SendError::Rejected) => Problem::new("sms_undeliverable"),
        AuthError::Send(SendError::Unavailable { retry_after_secs }) => Problem::new("institution_unavailable")
            .detail(format!("The SMS gateway is unavailable. Retry in {retry_after_secs} s."))
            .retry_after(retry_after_secs),
        AuthError::Core(e) => core_problem(e),
    }
}
