//! The one retry policy (docs/ARCHITECTURE.md, "Retries"): a bounded number of attempts, each
//! after a pause that grows exponentially up to a ceiling, with full jitter so that writers who
//! collided once spread out instead of colliding again.
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    base_ms: u64,
    ceiling_ms: u64,
}

impl Backoff {
    /// A write that lost a race to another writer of the same resource: re-read and try again soon.
    pub const CONFLICT: Self = Self { attempts: 30, base_ms: 5, ceiling_ms: 60 };
    /// DynamoDB throttling or a transaction conflict: the same request again, a little later.
    pub const CONTENTION: Self = Self { attempts: 8, base_ms: 10, ceiling_ms: 640 };
    /// An index (GSI1) that may not yet show a write: wait for it to catch up.
    pub const INDEX_LAG: Self = Self { attempts: 6, base_ms: 50, ceiling_ms: 1_600 };

    /// Whether attempt `attempt` (0 for the first) may still be made.
    pub fn allows(&self, attempt: u32) -> bool {
        attempt < self.attempts
    }

    /// The pause before attempt `attempt + 1`: random, up to `base · 2^attempt` (at most the ceiling).
    pub async fn pause(&self, attempt: u32) {
        crate::metrics::count_retry();
        let ceiling = self.base_ms.saturating_mul(1u64 << attempt.min(16)).min(self.ceiling_ms).max(1);
        let millis = rand::random_range(1..=ceiling);
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pauses_are_bounded_by_the_ceiling() {
        let quick = Backoff { attempts: 3, base_ms: 1, ceiling_ms: 2 };
        let started = std::time::Instant::now();
        for attempt in 0..20 {
            quick.pause(attempt).await;
        }
        assert!(started.elapsed() < Duration::from_millis(20 * 2 + 200), "{:?}", started.elapsed());
        assert!(quick.allows(2) && !quick.allows(3));
    }
}
