//! The randomness port. Production uses the operating system's CSPRNG;
//! tests use [`SeededRandom`] to make ids, keys and codes reproducible.

use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// A source of random bytes. Implementations must be cryptographically
/// secure outside tests: keys, nonces and SMS codes come from here.
pub trait Random: Send + Sync {
    fn fill(&self, buf: &mut [u8]);

    fn bytes16(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b
    }

    fn bytes32(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        b
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // getrandom fails only when the OS has no entropy source at all; a
        // process that cannot get randomness must not hand out keys.
        if getrandom::fill(buf).is_err() {
            std::process::abort();
        }
    }
}

/// Deterministic bytes from SHA-256 over (seed, counter). For tests only:
/// predictable by design.
#[derive(Debug)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: Mutex<u64>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        Self { seed: s, counter: Mutex::new(0) }
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut counter = match self.counter.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        for chunk in buf.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(counter.to_le_bytes());
            *counter += 1;
            let block = h.finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}
