//! Callbacks institutions post to idlink (a bank's card events today): one
//! verifier per inbound kind, built by that kind's connector and handed to
//! the api in [`InstitutionPorts`](super::InstitutionPorts). The api checks a
//! callback against the path it was actually received on, so a moved route
//! can never accept or refuse signatures made for another path.

/// Why a callback is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefused {
    /// No key configured, a header missing, or a signature that does not verify.
    #[error("the signature is missing or does not verify")]
    Signature,
    /// The body's event id is not the nonce the sender signed.
    #[error("The signed nonce must be the event id.")]
    NonceNotEventId,
}

/// A callback whose signature holds; its body may now be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCallback {
    nonce: String,
}

impl SignedCallback {
    /// A callback whose signature over `nonce` the verifier checked.
    pub fn new(nonce: impl Into<String>) -> Self {
        Self { nonce: nonce.into() }
    }

    /// Checks that the body's event id is the signed nonce.
    pub fn for_event(&self, event_id: &str) -> Result<(), CallbackRefused> {
        if self.nonce == event_id { Ok(()) } else { Err(CallbackRefused::NonceNotEventId) }
    }
}

/// Checks an inbound callback's signature before its body is read.
pub trait CallbackVerifier: Send + Sync {
    /// `path`: the request's path as received (the one the sender signed);
    /// `header`: the request's headers by name; `body`: as received.
    fn verify(&self, path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Result<SignedCallback, CallbackRefused>;
}
