//! Retries: only for retryable classes, with exponential backoff and full jitter, honouring a
//! backend's retry-after, and only when the body can be replayed.

use std::time::Duration;

use rand::Rng;

/// When and how often to retry.
///
/// Defaults: 5 attempts in all, delays from 200 ms doubling up to 10 s, retry-after honoured
/// up to 60 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Delay bound before the first retry.
    pub base_delay: Duration,
    /// Largest delay bound between attempts.
    pub max_delay: Duration,
    /// Longest retry-after the host honours.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 for the first retry): the backend's
    /// retry-after when it gave one, else a random delay up to the exponential bound.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let bound = self.base_delay.saturating_mul(1u32 << retry.min(20)).min(self.max_delay);
        let millis = bound.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=millis.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_honour_retry_after() {
        let p = RetryPolicy::default();
        for retry in 0..30 {
            let bound = p.base_delay.saturating_mul(1 << retry.min(20)).min(p.max_delay);
            assert!(p.delay(retry, None) <= bound);
        }
        assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.delay(0, Some(Duration::from_secs(3600))), p.max_retry_after);
    }
}
