//! Keyed blind indexes: HMAC-SHA256 over a normalised value, so a row can be
//! found by an encrypted field (phone, ID number, card) without storing or
//! comparing the clear value. The domain separates indexes of different
//! fields, so equal strings in two columns give unrelated indexes.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The secret key of all blind indexes. It is wrapped by the master key like
/// a data key, and does not change on master-key rotation (indexes stay valid).
#[derive(Clone)]
pub struct BlindIndexKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey(..)")
    }
}

impl BlindIndexKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(Zeroizing::new(key))
    }

    /// Hex HMAC of `domain ‖ 0x00 ‖ value`.
    pub fn index(&self, domain: &str, value: &str) -> String {
        // HMAC accepts keys of any length; new_from_slice cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0[..]) else {
            return String::new();
        };
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 checks the HMAC itself (key "Jefe").
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(b"Jefe") else { unreachable!() };
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn indexes_are_keyed_and_domain_separated() {
        let k1 = BlindIndexKey::new([1; 32]);
        let k2 = BlindIndexKey::new([2; 32]);
        assert_eq!(k1.index("phone", "13812341234"), k1.index("phone", "13812341234"));
        assert_ne!(k1.index("phone", "13812341234"), k2.index("phone", "13812341234"));
        assert_ne!(k1.index("phone", "13812341234"), k1.index("card", "13812341234"));
        assert_eq!(k1.index("phone", "1").len(), 64);
    }
}
