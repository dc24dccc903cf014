//! The cashier's callbacks (SPEC CR2): Standard Webhooks deliveries to
//! `POST /v1/callbacks/payments`, signed `v1` (HMAC-SHA256) with the
//! configured secret over `webhook-id.webhook-timestamp.body`, refused when
//! the timestamp is more than five minutes away. The body is looked at only
//! once the signature holds; the delivery id is the signed nonce.

use idlink_core::ports::callbacks::{CallbackRefused, CallbackVerifier, SignedCallback};
use idlink_core::ports::clock::Clock;
use idlink_crypto::webhooks::{configured_key, verify_v1};
use std::sync::Arc;

pub const ID: &str = "webhook-id";
pub const TIMESTAMP: &str = "webhook-timestamp";
pub const SIGNATURE: &str = "webhook-signature";

/// Checks payment callbacks with the shared secret; without one every callback is refused.
#[derive(Clone)]
pub struct PaymentCallbacks {
    key: Option<Vec<u8>>,
    clock: Arc<dyn Clock>,
}

impl PaymentCallbacks {
    /// `secret`: `whsec_<base64>` or raw bytes; empty means none.
    pub fn new(secret: &str, clock: Arc<dyn Clock>) -> Self {
        // An empty or malformed secret verifies nothing (the settings refuse it at start anyway).
        let key = configured_key(secret).filter(|k| k.len() >= 16);
        Self { key, clock }
    }
}

impl CallbackVerifier for PaymentCallbacks {
    fn verify(&self, _path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Result<SignedCallback, CallbackRefused> {
        let (Some(key), Some(id), Some(ts), Some(sig)) = (self.key.as_deref(), header(ID), header(TIMESTAMP), header(SIGNATURE)) else {
            return Err(CallbackRefused::Signature);
        };
        let Ok(ts) = ts.trim().parse::<i64>() else { return Err(CallbackRefused::Signature) };
        if verify_v1(key, &id, ts, body, &sig, self.clock.now().as_second()) {
            Ok(SignedCallback::new(id))
        } else {
            Err(CallbackRefused::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_core::ports::clock::ManualClock;
    use idlink_crypto::webhooks::{secret_bytes, sign_v1};

    #[test]
    fn only_the_secrets_fresh_signature_over_this_body_holds() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap_or_else(|e| panic!("{e}"));
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
        let body = br#"{"type":"payment.succeeded"}"#;
        let sig = sign_v1(&secret_bytes(secret.as_bytes()), "msg_1", now.as_second(), body).unwrap_or_default();
        let headers = |ts: i64, sig: String| {
            move |name: &str| match name {
                ID => Some("msg_1".to_owned()),
                TIMESTAMP => Some(ts.to_string()),
                SIGNATURE => Some(format!("v1,{sig}")),
                _ => None,
            }
        };
        let v = PaymentCallbacks::new(secret, clock.clone());
        let ok = v.verify("/v1/callbacks/payments", &headers(now.as_second(), sig.clone()), body);
        assert_eq!(ok.map(|s| s.for_event("msg_1")), Ok(Ok(())));
        assert_eq!(v.verify("/", &headers(now.as_second(), sig.clone()), b"{}"), Err(CallbackRefused::Signature), "another body");
        assert_eq!(v.verify("/", &headers(now.as_second() - 600, sig.clone()), body), Err(CallbackRefused::Signature), "stale");
        assert_eq!(PaymentCallbacks::new("", clock).verify("/", &headers(now.as_second(), sig), body), Err(CallbackRefused::Signature));
    }
}
