//! Errors of the use cases. The API maps each variant to a problem code;
//! the mapping lists every variant, so adding one breaks the build there.

use crate::ports::StoreError;
use idlink_crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the user's data has been deleted (their data key was shredded)")]
    Shredded,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("password hashing: {0}")]
    Hash(#[from] crate::payment::HashError),
}
