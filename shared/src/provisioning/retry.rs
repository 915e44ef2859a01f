//! The retry policy of a write that lost a race to another writer.
use std::time::Duration;

/// Attempts of a write that lost a race (without If-Match) before the request gives up (503).
pub const WRITE_ATTEMPTS: usize = 30;

/// A short random pause after a lost race, growing with the attempt and bounded, so that
/// concurrent writers of one resource spread out instead of colliding again.
pub async fn pause_after_conflict(attempt: usize) {
    let ceiling = 5 * (1 + attempt.min(10)) as u64;
    let millis = rand::random_range(1..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}
