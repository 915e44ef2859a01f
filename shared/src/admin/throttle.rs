//! Slowing down passphrase guessing (docs/ARCHITECTURE.md, "Console (web page)", the throttle
//! keys): failed attempts are counted in fixed 15-minute windows; past a limit the answer is 429
//! with `Retry-After` until the window ends, and the passphrase is not even checked (so a
//! locked-out guess learns nothing).
//!
//! - a sign-in (and the OAuth approval's sign-in) counts per account *and* source, and per source:
//!   a stranger's failures from elsewhere lock nobody out (OWASP ASVS 2.2.1);
//! - a signed-in person re-confirming their passphrase (guarded changes, passphrase change)
//!   counts per session, apart from the sign-in counters that anybody can fill;
//! - a reset confirmation counts per email and per source.
//!
//! Each attempt is counted *before* the passphrase is checked (one atomic ADD), so parallel
//! guesses cannot slip past the limit; a successful attempt is given back, so only failures count.
use chrono::{DateTime, TimeZone, Utc};

use super::session::Session;
use super::{AdminError, Console};
use crate::domain::EmailAddress;
use crate::lifetimes::THROTTLE_WINDOW;

/// Failed sign-ins of one account from one source address per window.
pub const ACCOUNT_FAILURES: u64 = 5;
/// Failed sign-ins from one source address per window, whatever the account.
pub const SOURCE_FAILURES: u64 = 30;
/// Failed re-confirmations of the passphrase in one session per window (guarded changes,
/// passphrase change).
pub const SESSION_FAILURES: u64 = 5;
/// Reset confirmations for one email per window (a code is also deleted after 5 wrong tries).
pub const ACCOUNT_RESET_CONFIRMS: u64 = 10;
/// Reset confirmations from one source address per window.
pub const SOURCE_RESET_CONFIRMS: u64 = 30;
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
    let width = THROTTLE_WINDOW.num_seconds();
    let start = now.timestamp().div_euclid(width) * width;
    Utc.timestamp_opt(start, 0).single().unwrap_or(now)
}

impl Console {
    /// The counters of a sign-in by `email` from `source`. The account's counter is keyed by a
    /// keyed hash of the email, so probing unknown addresses leaves no list of them behind.
    pub(crate) fn sign_in_counters(&self, email: &EmailAddress, source: &str) -> Vec<Counter> {
        vec![
            Counter {
                scope: format!("ACCOUNT#{}#SOURCE#{source}", self.key.hash(&email.normalized())),
                limit: ACCOUNT_FAILURES,
            },
            Counter { scope: format!("SOURCE#{source}"), limit: SOURCE_FAILURES },
        ]
    }

    /// The counter of a signed-in person's passphrase re-confirmation: their session's own.
    pub(crate) fn confirm_counters(&self, session: &Session) -> Vec<Counter> {
        let scope = format!("SESSION#{}", self.key.hash(&format!("confirm:{}", session.token_hash)));
        vec![Counter { scope, limit: SESSION_FAILURES }]
    }

    pub(crate) fn reset_confirm_counters(&self, email: &EmailAddress, source: &str) -> Vec<Counter> {
        vec![
            Counter {
                scope: format!("RESETCONFIRM#{}", self.key.hash(&email.normalized())),
                limit: ACCOUNT_RESET_CONFIRMS,
            },
            Counter { scope: format!("RESETCONFIRMSOURCE#{source}"), limit: SOURCE_RESET_CONFIRMS },
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
        let end = start + THROTTLE_WINDOW;
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
            let exceeded = joined.map_err(AdminError::internal)??;
            over |= exceeded;
        }
        if over {
            let retry_after_secs = u64::try_from((end - self.now).num_seconds().max(1)).unwrap_or(1);
            return Err(AdminError::TooManyAttempts { retry_after_secs });
        }
        Ok(())
    }

    /// `count_attempt` for a signed-in person's re-confirmation: its refusal names the session.
    pub(crate) async fn count_confirmation(&self, counters: &[Counter]) -> Result<(), AdminError> {
        self.count_attempt(counters).await.map_err(|err| match err {
            AdminError::TooManyAttempts { retry_after_secs } => AdminError::TooManyConfirmations { retry_after_secs },
            other => other,
        })
    }

    /// Gives back a successful attempt (best effort: a failure only leaves the count one higher).
    pub(crate) async fn give_back_attempt(&self, counters: &[Counter]) {
        let start = window_start(self.now);
        for counter in counters {
            if let Err(err) = self.store.give_back_attempt(&counter.scope, start).await {
                tracing::warn!(error = %crate::telemetry::Chain(&err), "giving back a successful attempt failed");
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
