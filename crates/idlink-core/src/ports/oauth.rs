//! The OpenID provider's store (SPEC TP1, TP2; ADR 0020): clients and their
//! secrets, authorization requests, codes, subjects, grants and consents,
//! access and refresh tokens, signing keys. Tokens, codes and client secrets
//! are stored only as their SHA-256.

use async_trait::async_trait;

#[async_trait]
pub trait OAuthStore: Send + Sync {}
