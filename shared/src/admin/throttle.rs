//! Slowing down passphrase guessing: failed attempts are counted per account and per source
//! address in fixed 15-minute windows; past the limit the answer is 429 with `Retry-After` until
//! the window ends, and the passphrase is not even checked (so a locked-out guess learns nothing).
//!
//! Each attempt is counted *before* the passphrase is checked (one atomic ADD), so parallel
//! guesses cannot slip past the limit; a successful attempt is given back, so only failures count.
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{AdminError, Console};
use crate::domain::EmailAddress;

pub const WINDOW: Duration = Duration::minutes(15);
/// Failed passphrase checks of one account per window (sign-in, refresh, passphrase change).
pub const ACCOUNT_FAILURES: u64 = 5;
/// Failed passphrase checks from one source address per window, whatever the account.
pub const SOURCE_FAILURES: u64 = 30;
/// Reset emails per account per window (beyond it requests are silently dropped).
pub const ACCOUNT_RESETS: u64 = 3;
/// Reset requests per source address per window.
pub const SOURCE_RESETS: u64 = 20;

/// One counter and its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub scope: String,
    pub limit: u64,
}

/// The start of the window holding `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let width = WINDOW.num_seconds();
    let start = now.timestamp().div_euclid(width) * width;
    Utc.timestamp_opt(start, 0).single().unwrap_or(now)
}

impl Console {
    /// The counters of a passphrase check by `email` from `source`. The account's counter is keyed
    /// by a keyed hash of the email, so probing unknown addresses leaves no list of them behind.
    pub(crate) fn passphrase_counters(&self, email: &EmailAddress, source: &str) -> Vec<Counter> {
        vec![
            Counter { scope: format!("ACCOUNT#{}", self.key.hash(&email.normalized())), limit: ACCOUNT_FAILURES },
            Counter { scope: format!("SOURCE#{source}"), limit: SOURCE_FAILURES },
        ]
    }

    pub(crate) fn reset_counters(&self, email: &EmailAddress, source: &str) -> Vec<Counter> {
        vec![
            Counter { scope: format!("RESET#{}", self.key.hash(&email.normalized())), limit: ACCOUNT_RESETS },
            Counter { scope: format!("RESETSOURCE#{source}"), limit: SOURCE_RESETS },
        ]
    }

    /// Counts an attempt in every counter; `TooManyAttempts` when any is past its limit.
    pub(crate) async fn count_attempt(&self, counters: &[Counter]) -> Result<(), AdminError> {
        let start = window_start(self.now);
        let end = start + WINDOW;
        let mut over = false;
        // Both counters are written concurrently: one round trip of latency.
        let mut tasks = tokio::task::JoinSet::new();
        for counter in counters {
            let store = self.store.clone();
            let counter = counter.clone();
            tasks
                .spawn(async move { store.count_attempt(&counter.scope, start, end).await.map(|n| n > counter.limit) });
        }
        while let Some(joined) = tasks.join_next().await {
            let exceeded = joined.map_err(|e| AdminError::Internal(e.to_string()))??;
            over |= exceeded;
        }
        if over {
            let retry_after_secs = u64::try_from((end - self.now).num_seconds().max(1)).unwrap_or(1);
            return Err(AdminError::TooManyAttempts { retry_after_secs });
        }
        Ok(())
    }

    /// Gives back a successful attempt (best effort: a failure only leaves the count one higher).
    pub(crate) async fn give_back_attempt(&self, counters: &[Counter]) {
        let start = window_start(self.now);
        for counter in counters {
            if let Err(err) = self.store.give_back_attempt(&counter.scope, start).await {
                tracing::warn!(error = %err, "giving back a successful attempt failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_quarter_hours() {
        let at = Utc.with_ymd_and_hms(2026, 11, 3, 10, 29, 59).unwrap();
        assert_eq!(window_start(at), Utc.with_ymd_and_hms(2026, 11, 3, 10, 15, 0).unwrap());
        let edge = Utc.with_ymd_and_hms(2026, 11, 3, 10, 30, 0).unwrap();
        assert_eq!(window_start(edge), edge);
    }
}
