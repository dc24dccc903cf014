//! The bank protocol's inbound half (SPEC BK5): the signed callbacks a bank
//! sends about its cards (reported lost, password locked, password reset).
//!
//! `POST {idlink}`[`CALLBACK_PATH`](idlink_domain::roster::CALLBACK_PATH) with the headers [`TIMESTAMP`],
//! [`NONCE`] (the event id) and [`SIGNATURE`], the bank's Ed25519 signature
//! (hex) of [`idlink_crypto::signing::bank_message`] over method, path,
//! timestamp, nonce and body. The path checked is the one the request was
//! received on. The body is looked at only once the signature holds; its
//! `event_id` must then be the signed nonce. A replayed event id is
//! acknowledged by the core and changes nothing.

use idlink_core::ports::callbacks::{CallbackRefused, CallbackVerifier, SignedCallback};
use idlink_crypto::signing::{bank_message, verify as verify_signature};

pub const TIMESTAMP: &str = "bank-timestamp";
pub const NONCE: &str = "bank-nonce";
pub const SIGNATURE: &str = "bank-signature";

/// The banks' callback verifier: their public key (hex Ed25519); without a
/// key every callback is refused.
#[derive(Debug, Clone, Default)]
pub struct BankCallbacks {
    public_hex: Option<String>,
}

impl BankCallbacks {
    pub fn new(public_hex: Option<String>) -> Self {
        Self { public_hex }
    }
}

impl CallbackVerifier for BankCallbacks {
    fn verify(&self, path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Result<SignedCallback, CallbackRefused> {
        match (self.public_hex.as_deref(), header(TIMESTAMP), header(NONCE), header(SIGNATURE)) {
            (Some(key), Some(ts), Some(nonce), Some(sig))
                if verify_signature(key, &bank_message("POST", path, &ts, &nonce, body), &sig) =>
            {
                Ok(SignedCallback::new(nonce))
            }
            _ => Err(CallbackRefused::Signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::signing::Ed25519Signer;
    use idlink_domain::roster::callback_path;

    #[test]
    fn only_the_banks_signature_over_this_path_and_body_holds() {
        let bank = Ed25519Signer::from_seed(&[3; 32]);
        let body = br#"{"event_id":"evt-1"}"#;
        let sig = bank.sign(&bank_message("POST", &callback_path("ICBC"), "1700000000", "evt-1", body));
        let headers = |sig: Option<String>| {
            move |name: &str| match name {
                TIMESTAMP => Some("1700000000".to_owned()),
                NONCE => Some("evt-1".to_owned()),
                SIGNATURE => sig.clone(),
                _ => None,
            }
        };
        let h = headers(Some(sig));
        let key = BankCallbacks::new(Some(bank.public_hex()));
        let (icbc, cmb) = (callback_path("ICBC"), callback_path("CMB"));
        let ok = key.verify(&icbc, &h, body);
        assert_eq!(ok.as_ref().map(|s| s.for_event("evt-1")), Ok(Ok(())));
        assert_eq!(ok.map(|s| s.for_event("evt-2")), Ok(Err(CallbackRefused::NonceNotEventId)));
        assert_eq!(BankCallbacks::new(None).verify(&icbc, &h, body), Err(CallbackRefused::Signature), "no key: refused");
        assert_eq!(key.verify(&cmb, &h, body), Err(CallbackRefused::Signature), "another bank's path");
        assert_eq!(key.verify("/v2/callbacks/banks/ICBC/events", &h, body), Err(CallbackRefused::Signature), "another route");
        assert_eq!(key.verify(&icbc, &h, b"{}"), Err(CallbackRefused::Signature), "another body");
        assert_eq!(key.verify(&icbc, &headers(None), body), Err(CallbackRefused::Signature));
        let other = BankCallbacks::new(Some(Ed25519Signer::from_seed(&[4; 32]).public_hex()));
        assert_eq!(other.verify(&icbc, &h, body), Err(CallbackRefused::Signature), "another key");
    }
}
