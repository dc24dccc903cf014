//! Ed25519 signatures: audit-log checkpoints, and the messages exchanged
//! with banks over the direct channel (requests, answers, callbacks).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Signs with one Ed25519 key. For checkpoints the seed is a system key
/// stored wrapped by the master key; for bank messages it is the channel's key.
pub struct Ed25519Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519Signer(public {})", self.public_hex())
    }
}

impl Ed25519Signer {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(seed) }
    }

    /// The seed, hex-encoded (to store a generated key).
    pub fn seed_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// Reads a hex seed as written by [`Self::seed_hex`].
    pub fn from_seed_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self::from_seed(&<[u8; 32]>::try_from(bytes.as_slice()).ok()?))
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }
}

/// What is signed for a message to or from a bank: method, path, timestamp
/// and nonce, one per line, then the body as sent.
pub fn bank_message(method: &str, path: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(method.len() + path.len() + timestamp.len() + nonce.len() + 4 + body.len());
    for part in [method, path, timestamp, nonce] {
        m.extend_from_slice(part.as_bytes());
        m.push(b'\n');
    }
    m.extend_from_slice(body);
    m
}

/// Checks a hex signature under a hex public key.
pub fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let Ok(pk) = hex::decode(public_hex) else { return false };
    let Ok(pk) = <[u8; 32]>::try_from(pk.as_slice()) else { return false };
    let Ok(pk) = VerifyingKey::from_bytes(&pk) else { return false };
    let Ok(sig) = hex::decode(signature_hex) else { return false };
    let Ok(sig) = Signature::from_slice(&sig) else { return false };
    pk.verify(message, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, test 1 (empty message).
    #[test]
    fn matches_rfc_8032_test_1() {
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap_or_default()
            .try_into()
            .unwrap_or([0; 32]);
        let s = Ed25519Signer::from_seed(&seed);
        assert_eq!(s.public_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = s.sign(b"");
        assert!(sig.starts_with("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"));
        assert!(verify(&s.public_hex(), b"", &sig));
        assert!(!verify(&s.public_hex(), b"x", &sig));
    }
}
