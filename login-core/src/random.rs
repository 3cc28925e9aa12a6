//! Randomness, injected: login tokens, encryption nonces and backoff jitter come from a
//! [`Random`], so a seeded run hands out the same tokens every time.

use std::sync::{Arc, Mutex, PoisonError};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A source of random bytes.
pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The thread-local CSPRNG (ChaCha, seeded and reseeded from the operating system): what
/// production uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

/// A ChaCha20 generator from a seed: reproducible runs for tests and scenario suites.
#[derive(Debug)]
pub struct SeededRandom(Mutex<ChaCha20Rng>);

impl SeededRandom {
    /// A generator from a 64-bit seed.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(ChaCha20Rng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill_bytes(buf);
    }
}

/// A shared generator, as the service holds it.
pub type SharedRandom = Arc<dyn Random>;

/// `N` random bytes.
pub fn bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    random.fill(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_differ_by_seed() {
        let a: [u8; 32] = bytes(&SeededRandom::new(7));
        let b: [u8; 32] = bytes(&SeededRandom::new(7));
        let c: [u8; 32] = bytes(&SeededRandom::new(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let os: [u8; 32] = bytes(&OsRandom);
        assert_ne!(os, [0u8; 32]);
    }
}
