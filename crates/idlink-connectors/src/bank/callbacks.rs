//! The bank protocol's inbound half (SPEC BK5): the signed callbacks a bank
//! sends about its cards (reported lost, password locked, password reset).
//!
//! `POST {idlink}/v1/callbacks/banks/{code}/events` with the headers
//! [`TIMESTAMP`], [`NONCE`] (the event id) and [`SIGNATURE`], the bank's
//! Ed25519 signature (hex) of [`idlink_crypto::signing::bank_message`] over
//! method, path, timestamp, nonce and body. The body is looked at only once
//! the signature holds; its `event_id` must then be the signed nonce. A
//! replayed event id is acknowledged by the core and changes nothing.

use idlink_crypto::signing::{bank_message, verify as verify_signature};

pub const TIMESTAMP: &str = "bank-timestamp";
pub const NONCE: &str = "bank-nonce";
pub const SIGNATURE: &str = "bank-signature";

/// The path a bank posts its events to (and signs).
pub fn path(bank: &str) -> String {
    format!("/v1/callbacks/banks/{bank}/events")
}

/// The signature headers of a callback, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a callback is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefused {
    /// No key configured, a header missing, or a signature that does not verify.
    #[error("the bank signature is missing or does not verify")]
    Signature,
    /// The body's event id is not the nonce the bank signed.
    #[error("The signed nonce must be the event id.")]
    NonceNotEventId,
}

/// A callback whose signature holds; its body may now be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCallback {
    nonce: String,
}

impl SignedCallback {
    /// Checks that the body's event id is the signed nonce.
    pub fn for_event(&self, event_id: &str) -> Result<(), CallbackRefused> {
        if self.nonce == event_id { Ok(()) } else { Err(CallbackRefused::NonceNotEventId) }
    }
}

/// Checks a callback from `bank` against the banks' public key (hex
/// Ed25519); without a key every callback is refused.
pub fn verify(bank_public_hex: Option<&str>, bank: &str, h: SignatureHeaders<'_>, body: &[u8]) -> Result<SignedCallback, CallbackRefused> {
    match (bank_public_hex, h.timestamp, h.nonce, h.signature) {
        (Some(key), Some(ts), Some(nonce), Some(sig))
            if verify_signature(key, &bank_message("POST", &path(bank), ts, nonce, body), sig) =>
        {
            Ok(SignedCallback { nonce: nonce.to_owned() })
        }
        _ => Err(CallbackRefused::Signature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::signing::Ed25519Signer;

    #[test]
    fn only_the_banks_signature_over_this_path_and_body_holds() {
        let bank = Ed25519Signer::from_seed(&[3; 32]);
        let body = br#"{"event_id":"evt-1"}"#;
        let sig = bank.sign(&bank_message("POST", &path("ICBC"), "1700000000", "evt-1", body));
        let h = SignatureHeaders { timestamp: Some("1700000000"), nonce: Some("evt-1"), signature: Some(&sig) };
        let key = bank.public_hex();
        let ok = verify(Some(&key), "ICBC", h, body);
        assert_eq!(ok.as_ref().map(|s| s.for_event("evt-1")), Ok(Ok(())));
        assert_eq!(ok.map(|s| s.for_event("evt-2")), Ok(Err(CallbackRefused::NonceNotEventId)));
        assert_eq!(verify(None, "ICBC", h, body), Err(CallbackRefused::Signature), "no key: refused");
        assert_eq!(verify(Some(&key), "CMB", h, body), Err(CallbackRefused::Signature), "another bank's path");
        assert_eq!(verify(Some(&key), "ICBC", h, b"{}"), Err(CallbackRefused::Signature), "another body");
        let unsigned = SignatureHeaders { signature: None, ..h };
        assert_eq!(verify(Some(&key), "ICBC", unsigned, body), Err(CallbackRefused::Signature));
        let other = Ed25519Signer::from_seed(&[4; 32]).public_hex();
        assert_eq!(verify(Some(&other), "ICBC", h, body), Err(CallbackRefused::Signature), "another key");
    }
}
