//! Chinese national algorithms beside AES: SM3 hashing (GB/T 32905-2016).
//! SM4 (GB/T 32907-2016) is used through [`crate::aead::Sm4Gcm`].

use sm3::{Digest, Sm3};

/// SM3 digest of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm4::Sm4;
    use sm4::cipher::{BlockCipherEncrypt, KeyInit};

    /// GB/T 32905-2016 appendix A, example 1.
    #[test]
    fn sm3_of_abc_matches_the_standard() {
        assert_eq!(hex::encode(sm3(b"abc")), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    /// GB/T 32907-2016 appendix A, example 1: key = plaintext.
    #[test]
    fn sm4_block_matches_the_standard() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap_or_default();
        let cipher = <Sm4 as KeyInit>::new_from_slice(&key);
        assert!(cipher.is_ok());
        let mut block = sm4::cipher::Block::<Sm4>::default();
        block.copy_from_slice(&key);
        if let Ok(c) = cipher {
            c.encrypt_block(&mut block);
        }
        assert_eq!(hex::encode_upper(block.as_slice()), "681EDF34D206965E86B3E94F536E4246");
    }
}
