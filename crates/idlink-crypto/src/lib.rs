//! Cryptography for idlink's personal data (SPEC P6) and audit log (P7).
//!
//! - [`aead`]: authenticated encryption with AES-256-GCM or SM4-GCM; every
//!   ciphertext names its algorithm and key id, so old data stays readable
//!   across algorithm changes and key rotations.
//! - [`keyring`]: envelope encryption: master keys wrap per-user data keys;
//!   rotation re-wraps data keys without touching the data they protect;
//!   deleting a user's data key makes their data unreadable (crypto-shredding).
//! - [`blind_index`]: keyed HMAC indexes to find a row by an encrypted value.
//! - [`shamir`]: k-of-n sharing of a master key among custodians.
//! - [`signing`]: Ed25519 signatures for audit checkpoints and bank messages.
//! - [`random`]: the randomness port, OS-backed or seeded for tests.
//! - [`national`]: SM3 hashing (GB/T 32905) beside the SM4 cipher.
//! - [`jose`]: the OpenID provider's signing keys, JWKs and compact JWS.
//! - [`webhooks`]: Standard Webhooks signatures, sent and received.
//! - [`certificates`]: users' client certificates and their signed challenges.

pub mod aead;
pub mod blind_index;
pub mod certificates;
pub mod jose;
pub mod keyring;
pub mod national;
pub mod random;
pub mod shamir;
pub mod signing;
pub mod totp;
pub mod webhooks;

pub use aead::{Algorithm, CryptoError};
pub use blind_index::BlindIndexKey;
pub use keyring::{DataKey, MasterKey, MasterKeyring, WrappedDataKey};
pub use random::{OsRandom, Random, SeededRandom};
