//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>):
//! `v1` is HMAC-SHA256 and `v1a` Ed25519, both over `{id}.{timestamp}.{body}`
//! and written base64 in the `webhook-signature` header as `v1,<sig>`
//! (several separated by spaces). idlink signs the webhooks it sends to apps
//! with them and checks the ones the host app's payment provider sends it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a webhook's timestamp may be from now (the specification's
/// suggested tolerance against replays).
pub const TOLERANCE_SECS: i64 = 300;

fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    message
}

/// `v1`: HMAC-SHA256 over `id.timestamp.body`, base64.
pub fn sign_v1(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(&signed_content(id, timestamp, body));
    Some(B64.encode(mac.finalize().into_bytes()))
}

/// `v1a`: Ed25519 over `id.timestamp.body`, base64.
pub fn sign_v1a(seed: &[u8; 32], id: &str, timestamp: i64, body: &[u8]) -> String {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    B64.encode(key.sign(&signed_content(id, timestamp, body)).to_bytes())
}

/// The key bytes of a secret: `whsec_<base64>` / `whsk_<base64>` as the
/// specification prints them, or the raw bytes.
pub fn secret_bytes(secret: &[u8]) -> Vec<u8> {
    for prefix in [&b"whsec_"[..], &b"whsk_"[..]] {
        if let Some(rest) = secret.strip_prefix(prefix)
            && let Ok(bytes) = B64.decode(rest)
        {
            return bytes;
        }
    }
    secret.to_vec()
}

/// The key bytes of a configured secret, strictly: `whsec_` must be
/// followed by valid base64; anything else is taken as raw bytes.
pub fn configured_key(secret: &str) -> Option<Vec<u8>> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => B64.decode(b64).ok(),
        None => Some(secret.as_bytes().to_vec()),
    }
}

/// Whether one `v1` entry of a `webhook-signature` header is `key`'s HMAC
/// of the message, and its timestamp within [`TOLERANCE_SECS`] of `now`.
/// The MAC is compared in constant time.
pub fn verify_v1(key: &[u8], id: &str, timestamp: i64, body: &[u8], header: &str, now: i64) -> bool {
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return false;
    }
    let content = signed_content(id, timestamp, body);
    header.split(' ').filter_map(|entry| entry.split_once(',')).filter(|(version, _)| *version == "v1").any(|(_, sig)| {
        let Ok(sig) = B64.decode(sig) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
        mac.update(&content);
        mac.verify_slice(&sig).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = secret_bytes(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        let sig = sign_v1(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig.as_deref(), Some("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn v1_verifies_only_its_message_key_and_time() {
        let key = secret_bytes(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let (id, ts, body) = ("msg_1", 1_700_000_000, br#"{"a":1}"#);
        let sig = sign_v1(&key, id, ts, body).unwrap_or_default();
        let header = format!("v1a,xyz v1,{sig}");
        assert!(verify_v1(&key, id, ts, body, &header, ts + 10));
        assert!(!verify_v1(&key, id, ts, br#"{"a":2}"#, &header, ts), "another body");
        assert!(!verify_v1(&key, "msg_2", ts, body, &header, ts), "another id");
        assert!(!verify_v1(&key, id, ts + 1, body, &header, ts), "another timestamp");
        assert!(!verify_v1(b"other", id, ts, body, &header, ts), "another key");
        assert!(!verify_v1(&key, id, ts, body, &header, ts + TOLERANCE_SECS + 1), "too old");
        assert!(!verify_v1(&key, id, ts, body, &format!("v2,{sig}"), ts), "another version");
        assert!(!verify_v1(&key, id, ts, body, "", ts));
    }
}
