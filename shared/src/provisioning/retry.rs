//! The use cases' retries of a write that lost a race: the crate's one policy (`crate::retry`).
use crate::retry::Backoff;

/// Attempts of a write that lost a race (without If-Match) before the request gives up (503).
pub const WRITE_ATTEMPTS: usize = Backoff::CONFLICT.attempts as usize;

/// The pause after a lost race, before reading again.
pub async fn pause_after_conflict(attempt: usize) {
    crate::metrics::count_conflict();
    Backoff::CONFLICT.pause(u32::try_from(attempt).unwrap_or(u32::MAX)).await;
}
