//! Envelope keys. A [`MasterKeyring`] holds master keys by id (one active);
//! each user's [`DataKey`] encrypts that user's fields and is stored only
//! wrapped ([`WrappedDataKey`]) by a master key.
//!
//! Rotation adds a master key, makes it active and re-wraps every data key;
//! field ciphertexts are untouched because the data keys do not change.
//! Crypto-shredding deletes a user's wrapped data key: no key, no data.

use crate::aead::{self, Algorithm, CryptoError};
use crate::random::Random;
use zeroize::Zeroizing;

/// A 256-bit master key with its id (for example `mk-20261122-1a2b`).
#[derive(Clone)]
pub struct MasterKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key: Zeroizing::new(key) }
    }

    pub fn generate(id: impl Into<String>, rng: &dyn Random) -> Self {
        Self::new(id, rng.bytes32())
    }

    /// The clear key, for writing a key file or splitting among custodians.
    pub fn reveal(&self) -> &[u8; 32] {
        &self.key
    }

    /// First 8 bytes of SHA-256 of the key: tells keys apart without revealing them.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(&Sha256::digest(&self.key[..])[..8])
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, fingerprint {})", self.id, self.fingerprint())
    }
}

/// A data key in the clear (in memory only).
#[derive(Clone)]
pub struct DataKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

impl DataKey {
    pub fn generate(id: impl Into<String>, rng: &dyn Random) -> Self {
        Self { id: id.into(), key: Zeroizing::new(rng.bytes32()) }
    }

    pub fn reveal(&self) -> &[u8; 32] {
        &self.key
    }

    /// Encrypts one field; `context` names where it lives (`"users.phone"`).
    pub fn seal(&self, alg: Algorithm, context: &str, plaintext: &[u8], rng: &dyn Random) -> Result<Vec<u8>, CryptoError> {
        aead::seal(alg, &self.id, &self.key, context.as_bytes(), plaintext, rng)
    }

    pub fn open(&self, context: &str, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::open(
            ciphertext,
            context.as_bytes(),
            |id| {
                if id == self.id { Ok(*self.key) } else { Err(CryptoError::UnknownKey(id.to_owned())) }
            },
        )
    }
}

/// A data key as stored: sealed under a master key whose id is in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    pub id: String,
    pub ciphertext: Vec<u8>,
}

impl WrappedDataKey {
    pub fn master_key_id(&self) -> Result<&str, CryptoError> {
        Ok(aead::header(&self.ciphertext)?.key_id)
    }
}

/// All master keys this process can use, and which one wraps new data keys.
#[derive(Clone, Debug)]
pub struct MasterKeyring {
    keys: Vec<MasterKey>,
    active: usize,
    algorithm: Algorithm,
}

impl MasterKeyring {
    /// `keys` must be non-empty and contain `active_id`.
    pub fn new(keys: Vec<MasterKey>, active_id: &str, algorithm: Algorithm) -> Result<Self, CryptoError> {
        let active = keys.iter().position(|k| k.id == active_id).ok_or_else(|| CryptoError::UnknownKey(active_id.to_owned()))?;
        Ok(Self { keys, active, algorithm })
    }

    pub fn active(&self) -> &MasterKey {
        &self.keys[self.active]
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }

    fn key(&self, id: &str) -> Result<[u8; 32], CryptoError> {
        self.keys.iter().find(|k| k.id == id).map(|k| *k.key).ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))
    }

    fn context(dek_id: &str) -> Vec<u8> {
        format!("idlink.data-key:{dek_id}").into_bytes()
    }

    pub fn wrap(&self, dek: &DataKey, rng: &dyn Random) -> Result<WrappedDataKey, CryptoError> {
        let mk = self.active();
        let ciphertext = aead::seal(self.algorithm, &mk.id, &mk.key, &Self::context(&dek.id), &dek.key[..], rng)?;
        Ok(WrappedDataKey { id: dek.id.clone(), ciphertext })
    }

    pub fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, CryptoError> {
        let clear = Zeroizing::new(aead::open(&wrapped.ciphertext, &Self::context(&wrapped.id), |id| self.key(id))?);
        let key: [u8; 32] = clear.as_slice().try_into().map_err(|_| CryptoError::InvalidKey("data key is not 32 bytes".into()))?;
        Ok(DataKey { id: wrapped.id.clone(), key: Zeroizing::new(key) })
    }

    /// Re-wraps under the active master key; `None` when it already is.
    pub fn rewrap(&self, wrapped: &WrappedDataKey, rng: &dyn Random) -> Result<Option<WrappedDataKey>, CryptoError> {
        if wrapped.master_key_id()? == self.active().id {
            return Ok(None);
        }
        self.wrap(&self.unwrap(wrapped)?, rng).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn rotation_rewraps_data_keys_and_old_ciphertexts_stay_readable() {
        let rng = SeededRandom::new(1);
        let old = MasterKey::generate("mk-1", &rng);
        let ring1 = MasterKeyring::new(vec![old.clone()], "mk-1", Algorithm::Aes256Gcm).unwrap_or_else(|e| unreachable!("{e}"));
        let dek = DataKey::generate("dek-usr1", &rng);
        let field = dek.seal(Algorithm::Aes256Gcm, "users.phone", b"13812341234", &rng).unwrap_or_default();
        let wrapped = ring1.wrap(&dek, &rng).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(wrapped.master_key_id(), Ok("mk-1"));

        let new = MasterKey::generate("mk-2", &rng);
        let ring2 = MasterKeyring::new(vec![old, new], "mk-2", Algorithm::Sm4Gcm).unwrap_or_else(|e| unreachable!("{e}"));
        let rewrapped = ring2.rewrap(&wrapped, &rng).unwrap_or_else(|e| unreachable!("{e}"));
        let rewrapped = rewrapped.unwrap_or_else(|| unreachable!("must rewrap"));
        assert_eq!(rewrapped.master_key_id(), Ok("mk-2"));
        assert_eq!(ring2.rewrap(&rewrapped, &rng), Ok(None));

        // Only the new master key is needed after rotation.
        let ring3 = MasterKeyring::new(vec![MasterKey::new("mk-2", *ring2.active().reveal())], "mk-2", Algorithm::Sm4Gcm)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let dek_again = ring3.unwrap(&rewrapped).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(dek_again.open("users.phone", &field), Ok(b"13812341234".to_vec()));
        assert!(matches!(ring3.unwrap(&wrapped), Err(CryptoError::UnknownKey(id)) if id == "mk-1"));
    }

    #[test]
    fn a_wrapped_key_cannot_be_moved_to_another_user() {
        let rng = SeededRandom::new(2);
        let ring = MasterKeyring::new(vec![MasterKey::generate("mk-1", &rng)], "mk-1", Algorithm::Aes256Gcm)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let wrapped = ring.wrap(&DataKey::generate("dek-a", &rng), &rng).unwrap_or_else(|e| unreachable!("{e}"));
        let moved = WrappedDataKey { id: "dek-b".into(), ciphertext: wrapped.ciphertext };
        assert_eq!(ring.unwrap(&moved).err(), Some(CryptoError::Decrypt));
    }
}
