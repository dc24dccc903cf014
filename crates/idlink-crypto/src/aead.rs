//! Authenticated encryption with a self-describing envelope.
//!
//! Layout of every ciphertext (version 1):
//! `0x01 | alg (1) | key-id length (1) | key id (ASCII) | nonce (12) | ciphertext ‖ tag (16)`.
//! The header is also bound as associated data, so a ciphertext cannot be
//! relabelled to another key or algorithm; callers add their own context
//! (table, column, row) as extra associated data.

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm};
use serde::{Deserialize, Serialize};

use crate::random::Random;

/// SM4 in GCM mode with a 96-bit nonce (RFC 8998).
pub type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Which AEAD seals new data. Existing data is opened by the algorithm its
/// header names, whatever the current setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    #[default]
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    Sm4Gcm,
}

impl Algorithm {
    fn tag(self) -> u8 {
        match self {
            Algorithm::Aes256Gcm => 1,
            Algorithm::Sm4Gcm => 2,
        }
    }

    fn from_tag(tag: u8) -> Result<Self, CryptoError> {
        match tag {
            1 => Ok(Algorithm::Aes256Gcm),
            2 => Ok(Algorithm::Sm4Gcm),
            other => Err(CryptoError::Malformed(format!("unknown algorithm tag {other}"))),
        }
    }

    /// Key length in bytes. SM4 uses the first 16 bytes of a 32-byte key.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes256Gcm => 32,
            Algorithm::Sm4Gcm => 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext is malformed: {0}")]
    Malformed(String),
    #[error("decryption failed: wrong key, wrong context or tampered data")]
    Decrypt,
    #[error("no key with id `{0}` is available")]
    UnknownKey(String),
    #[error("key material is invalid: {0}")]
    InvalidKey(String),
}

/// The parsed header of a ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub algorithm: Algorithm,
    pub key_id: &'a str,
}

/// Reads the algorithm and key id without decrypting.
pub fn header(ciphertext: &[u8]) -> Result<Header<'_>, CryptoError> {
    Ok(split(ciphertext)?.header)
}

struct Parts<'a> {
    header: Header<'a>,
    header_bytes: &'a [u8],
    nonce: [u8; NONCE_LEN],
    body: &'a [u8],
}

fn split(ct: &[u8]) -> Result<Parts<'_>, CryptoError> {
    let short = || CryptoError::Malformed("too short".into());
    let [version, alg, id_len, rest @ ..] = ct else {
        return Err(short());
    };
    if *version != VERSION {
        return Err(CryptoError::Malformed(format!("unknown version {version}")));
    }
    let id_len = usize::from(*id_len);
    if rest.len() < id_len + NONCE_LEN + 16 {
        return Err(short());
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let key_id = std::str::from_utf8(id).map_err(|_| CryptoError::Malformed("key id is not UTF-8".into()))?;
    Ok(Parts {
        header: Header { algorithm: Algorithm::from_tag(*alg)?, key_id },
        header_bytes: &ct[..3 + id_len],
        nonce: nonce.try_into().map_err(|_| short())?,
        body,
    })
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + context.len());
    v.extend_from_slice(header);
    v.extend_from_slice(context);
    v
}

/// Encrypts `plaintext` under `key` (32 bytes), labelled with `key_id`.
/// `context` is authenticated but not stored: the same context must be given to [`open`].
pub fn seal(
    algorithm: Algorithm,
    key_id: &str,
    key: &[u8; 32],
    context: &[u8],
    plaintext: &[u8],
    rng: &dyn Random,
) -> Result<Vec<u8>, CryptoError> {
    let id_len = u8::try_from(key_id.len()).map_err(|_| CryptoError::InvalidKey("key id longer than 255 bytes".into()))?;
    let mut out = Vec::with_capacity(3 + key_id.len() + NONCE_LEN + plaintext.len() + 16);
    out.push(VERSION);
    out.push(algorithm.tag());
    out.push(id_len);
    out.extend_from_slice(key_id.as_bytes());
    let header_len = out.len();
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    out.extend_from_slice(&nonce);
    let aad = aad(&out[..header_len], context);
    let body = raw_encrypt(algorithm, key, &nonce, &aad, plaintext)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decrypts a ciphertext from [`seal`]; `key_for` resolves the header's key id.
pub fn open<F>(ciphertext: &[u8], context: &[u8], key_for: F) -> Result<Vec<u8>, CryptoError>
where
    F: FnOnce(&str) -> Result<[u8; 32], CryptoError>,
{
    let parts = split(ciphertext)?;
    let key = key_for(parts.header.key_id)?;
    raw_decrypt(parts.header.algorithm, &key, &parts.nonce, &aad(parts.header_bytes, context), parts.body)
}

/// One AEAD encryption without envelope (exposed for test vectors).
pub fn raw_encrypt(alg: Algorithm, key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce = Array::from(*nonce);
    let payload = Payload { msg, aad };
    let res = match alg {
        Algorithm::Aes256Gcm => cipher::<Aes256Gcm>(&key[..])?.encrypt(&nonce, payload),
        Algorithm::Sm4Gcm => cipher::<Sm4Gcm>(&key[..16])?.encrypt(&nonce, payload),
    };
    res.map_err(|_| CryptoError::InvalidKey("encryption refused the input".into()))
}

/// One AEAD decryption without envelope (exposed for test vectors).
pub fn raw_decrypt(alg: Algorithm, key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce = Array::from(*nonce);
    let payload = Payload { msg, aad };
    let res = match alg {
        Algorithm::Aes256Gcm => cipher::<Aes256Gcm>(&key[..])?.decrypt(&nonce, payload),
        Algorithm::Sm4Gcm => cipher::<Sm4Gcm>(&key[..16])?.decrypt(&nonce, payload),
    };
    res.map_err(|_| CryptoError::Decrypt)
}

fn cipher<C: KeyInit>(key: &[u8]) -> Result<C, CryptoError> {
    C::new_from_slice(key).map_err(|_| CryptoError::InvalidKey("wrong key length".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap_or_default()
    }

    /// NIST GCM specification (McGrew & Viega), test case 16: AES-256, 96-bit IV, with AAD.
    #[test]
    fn aes_256_gcm_matches_the_nist_vector() {
        let key: [u8; 32] = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308").try_into().unwrap_or([0; 32]);
        let iv: [u8; 12] = unhex("cafebabefacedbaddecaf888").try_into().unwrap_or([0; 12]);
        let pt = unhex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let expected = unhex(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
             76fc6ece0f4e1768cddf8853bb2d551b",
        );
        let ct = raw_encrypt(Algorithm::Aes256Gcm, &key, &iv, &aad, &pt);
        assert_eq!(ct.as_deref().map(hex::encode), Ok(hex::encode(&expected)));
        assert_eq!(raw_decrypt(Algorithm::Aes256Gcm, &key, &iv, &aad, &expected), Ok(pt));
    }

    /// RFC 8998 appendix A.1: SM4-GCM.
    #[test]
    fn sm4_gcm_matches_rfc_8998() {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&unhex("0123456789ABCDEFFEDCBA9876543210"));
        let iv: [u8; 12] = unhex("00001234567800000000ABCD").try_into().unwrap_or([0; 12]);
        let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let pt = unhex(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let expected = unhex(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
             83DE3541E4C2B58177E065A9BF7B62EC",
        );
        let ct = raw_encrypt(Algorithm::Sm4Gcm, &key, &iv, &aad, &pt);
        assert_eq!(ct.as_deref().map(hex::encode), Ok(hex::encode(&expected)));
    }

    #[test]
    fn envelope_names_its_key_and_binds_context() {
        let rng = SeededRandom::new(7);
        let key = [9u8; 32];
        for alg in [Algorithm::Aes256Gcm, Algorithm::Sm4Gcm] {
            let ct = seal(alg, "dek_1", &key, b"users.phone", b"13812341234", &rng).unwrap_or_default();
            assert_eq!(header(&ct), Ok(Header { algorithm: alg, key_id: "dek_1" }));
            assert_eq!(open(&ct, b"users.phone", |_| Ok(key)), Ok(b"13812341234".to_vec()));
            assert_eq!(open(&ct, b"users.name", |_| Ok(key)), Err(CryptoError::Decrypt));
            let mut tampered = ct.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert_eq!(open(&tampered, b"users.phone", |_| Ok(key)), Err(CryptoError::Decrypt));
            let mut relabelled = ct.clone();
            relabelled[4] = b'X';
            assert_eq!(open(&relabelled, b"users.phone", |_| Ok(key)), Err(CryptoError::Decrypt));
        }
        assert!(open(&[1, 1], b"", |_| Ok(key)).is_err());
        assert!(open(&[], b"", |_| Ok(key)).is_err());
    }
}
