//! The retry policy of SPEC §10:
//! `delay = min(max, base·2^attempt) + uniform(0, jitter)`, base 1 s, max 60 s, jitter 1 s,
//! 5 attempts; transient errors are retried, persistent ones fail at once.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::error::ErrorClass;

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Base delay.
    pub base: Duration,
    /// Cap on the exponential part.
    pub max: Duration,
    /// Upper bound of the uniform jitter added to each delay.
    pub jitter: Duration,
    /// Total attempts, including the first.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(60), jitter: Duration::from_secs(1), attempts: 5 }
    }
}

impl RetryPolicy {
    /// A fast policy for tests and local loops (10 ms base, 200 ms max, 5 ms jitter).
    pub fn fast() -> Self {
        Self {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            jitter: Duration::from_millis(5),
            attempts: 5,
        }
    }

    /// The deterministic part of the delay before retry number `attempt` (0-based):
    /// `min(max, base·2^attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }

    /// The full delay with jitter drawn from `rng`.
    pub fn delay<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let jitter_ns = self.jitter.as_nanos() as u64;
        let j = if jitter_ns == 0 { 0 } else { rng.gen_range(0..=jitter_ns) };
        self.backoff(attempt) + Duration::from_nanos(j)
    }

    /// The delays of a whole retry sequence, deterministic for a given `seed`.
    pub fn schedule(&self, seed: u64) -> Vec<Duration> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..self.attempts.saturating_sub(1)).map(|a| self.delay(a, &mut rng)).collect()
    }

    /// Whether to retry after attempt number `attempt` (0-based) failed with `class`.
    pub fn should_retry(&self, attempt: u32, class: ErrorClass) -> bool {
        class == ErrorClass::Transient && attempt + 1 < self.attempts
    }
}
