//! Outbox delivery: each due email is claimed, rendered, sent, then completed; transient failures
//! are retried with exponential backoff, permanent ones (or too many attempts) are set aside.
//!
//! A welcome generates the account's one-time initial passphrase here, at send time: the plain
//! text lives only in memory and in the email, the table gets its keyed hash (no Argon2id: it is a
//! random credential, not a chosen password; docs/ARCHITECTURE.md, "Secrets").
use chrono::{DateTime, Duration, Utc};

use super::templates::{oauth_expiring_message, token_expired_message, token_expiring_message, welcome_message};
use super::{Mailer, NotifyError};
use crate::auth::{InitialCredential, TokenKey};
use crate::domain::EmailAddress;
use crate::lifetimes;
use crate::store::{OutboxItem, OutboxKind, Store, StoreError, UnreadableEmail};

/// Attempts before an email that keeps failing transiently is given up on.
pub const MAX_ATTEMPTS: u32 = 10;

/// How long after starting attempt number `attempt` (1-based) the email is tried again if that
/// attempt fails: 1 min, 2, 4, … capped at 6 h.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    (lifetimes::FIRST_EMAIL_RETRY * (1 << doublings)).min(lifetimes::LONGEST_EMAIL_RETRY)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    /// Nothing had to be sent (the welcome was delivered already, or the user has set a
    /// passphrase of their own); the item is completed.
    NotNeeded,
    /// Another run claimed or completed the item first; this run did nothing.
    ClaimedElsewhere,
    /// The attempt failed transiently; the item is due again at `next_due`.
    Retrying {
        attempts: u32,
        next_due: DateTime<Utc>,
    },
    /// Given up: the item is in the failed list and is not retried.
    FailedPermanently {
        error: String,
    },
    /// The outbox could not be updated; the item stays due and a later run takes it.
    Deferred {
        error: String,
    },
}

/// What one scheduler run did with the due emails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u32,
    /// Failed transiently or could not be claimed: due again later.
    pub retried: u32,
    pub failed: u32,
    /// Not needed any more, or handled by another run.
    pub skipped: u32,
}

impl DeliveryReport {
    fn count(&mut self, outcome: &DeliveryOutcome) {
        let counter = match outcome {
            DeliveryOutcome::Sent => &mut self.sent,
            DeliveryOutcome::Retrying { .. } | DeliveryOutcome::Deferred { .. } => &mut self.retried,
            DeliveryOutcome::FailedPermanently { .. } => &mut self.failed,
            DeliveryOutcome::NotNeeded | DeliveryOutcome::ClaimedElsewhere => &mut self.skipped,
        };
        *counter += 1;
    }
}

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("the outbox store failed")]
    Store(#[from] StoreError),
}

impl AttemptError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Notify(err) => err.is_transient(),
            Self::Store(err) => !matches!(err, StoreError::Codec(_)),
        }
    }
}

/// Delivers every email due at `now` (at most `limit`), one after the other. Items that cannot be
/// read are set aside (counted as failed), so they never hold up the others.
pub async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    key: &TokenKey,
    now: DateTime<Utc>,
    limit: i32,
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    let due = store.due_outbox(now, limit).await?;
    for bad in &due.unreadable {
        report.count(&set_aside(store, bad, now).await);
    }
    for item in due.emails {
        report.count(&deliver(store, mailer, key, item, now).await);
    }
    Ok(report)
}

/// Moves an unreadable item out of the due queue; reported here once, as the move succeeds.
async fn set_aside(store: &Store, bad: &UnreadableEmail, now: DateTime<Utc>) -> DeliveryOutcome {
    match store.set_aside_unreadable_email(bad, now).await {
        Ok(true) => {
            tracing::warn!(
                outbox_sk = %bad.sk,
                outbox_id = bad.id.as_deref().unwrap_or_default(),
                reason = %bad.reason,
                "unreadable outbox item set aside; it is never sent"
            );
            DeliveryOutcome::FailedPermanently { error: bad.reason.clone() }
        }
        Ok(false) => DeliveryOutcome::ClaimedElsewhere,
        Err(err) => {
            tracing::warn!(outbox_sk = %bad.sk, error = %crate::telemetry::Chain(&err), "setting an unreadable outbox item aside failed");
            DeliveryOutcome::Deferred { error: crate::telemetry::Chain(&err).to_string() }
        }
    }
}

/// Delivers one outbox email, as read from the outbox.
///
/// The item is first claimed (moved to its retry time with one more attempt), so two runs that
/// read it never both send it, and a run that dies mid-send leaves it to be retried.
pub async fn deliver(
    store: &Store,
    mailer: &Mailer,
    key: &TokenKey,
    item: OutboxItem,
    now: DateTime<Utc>,
) -> DeliveryOutcome {
    if item.attempts >= MAX_ATTEMPTS {
        // The last attempt's run ended before recording its outcome: nothing is left to try.
        let error = format!(
            "gave up after {} attempts; last error: {}",
            item.attempts,
            item.last_error.as_deref().unwrap_or("none recorded")
        );
        return give_up(store, &item, error, now).await;
    }
    let claimed = match store.claim_email(&item, now + retry_delay(item.attempts.saturating_add(1))).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return DeliveryOutcome::ClaimedElsewhere,
        Err(err) => return DeliveryOutcome::Deferred { error: crate::telemetry::Chain(&err).to_string() },
    };
    match attempt(store, mailer, key, &claimed, now).await {
        Ok(outcome) => {
            if let Err(err) = store.complete_email(&claimed).await {
                // The item comes due again: a welcome then finds nothing pending; a notice goes twice.
                tracing::warn!(outbox_id = %claimed.id, error = %crate::telemetry::Chain(&err), "completing a delivered email failed");
            }
            tracing::info!(
                outbox_id = %claimed.id,
                kind = claimed.kind.as_str(),
                org = %claimed.org,
                attempts = claimed.attempts,
                outcome = ?outcome,
                "outbox email delivered"
            );
            outcome
        }
        Err(err) if err.is_transient() && claimed.attempts < MAX_ATTEMPTS => {
            let error = crate::telemetry::Chain(&err).to_string();
            if let Err(store_err) = store.record_email_error(&claimed, &error).await {
                tracing::warn!(outbox_id = %claimed.id, error = %crate::telemetry::Chain(&store_err), "recording an email failure failed");
            }
            tracing::warn!(
                outbox_id = %claimed.id,
                kind = claimed.kind.as_str(),
                attempts = claimed.attempts,
                next_due = %claimed.due,
                error = %error,
                "sending an email failed; will retry"
            );
            DeliveryOutcome::Retrying { attempts: claimed.attempts, next_due: claimed.due }
        }
        Err(err) => {
            // The text is made before the await: the chain borrows a cause that is not Sync.
            let error = crate::telemetry::Chain(&err).to_string();
            give_up(store, &claimed, error, now).await
        }
    }
}

async fn give_up(store: &Store, item: &OutboxItem, error: String, now: DateTime<Utc>) -> DeliveryOutcome {
    match store.fail_email_permanently(item, &error, now).await {
        Ok(()) => {
            tracing::error!(
                outbox_id = %item.id,
                kind = item.kind.as_str(),
                org = %item.org,
                attempts = item.attempts,
                error = %error,
                "email given up on"
            );
            DeliveryOutcome::FailedPermanently { error }
        }
        Err(err) => DeliveryOutcome::Deferred { error: crate::telemetry::Chain(&err).to_string() },
    }
}

async fn attempt(
    store: &Store,
    mailer: &Mailer,
    key: &TokenKey,
    item: &OutboxItem,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, AttemptError> {
    let text = match &item.kind {
        OutboxKind::Welcome { account_email } => {
            return send_welcome(store, mailer, key, item, account_email, now).await
        }
        OutboxKind::TokenExpiring { days_left, expires_at, reasons } => {
            token_expiring_message(&item.org_name, *days_left, *expires_at, reasons)
        }
        OutboxKind::TokenExpired => token_expired_message(&item.org_name),
        OutboxKind::OauthExpiring { credential, days_left, expires_at } => {
            oauth_expiring_message(&item.org_name, *credential, *days_left, *expires_at)
        }
        OutboxKind::ConnectorHealth { headline, advice, .. } => {
            super::templates::connector_health_message(&item.org_name, headline, advice)
        }
    };
    mailer.send(&text.addressed_to(item.recipients.clone())).await?;
    Ok(DeliveryOutcome::Sent)
}

async fn send_welcome(
    store: &Store,
    mailer: &Mailer,
    key: &TokenKey,
    item: &OutboxItem,
    account_email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, AttemptError> {
    let credential = InitialCredential::generate();
    let expires_at = now + lifetimes::INITIAL_CREDENTIAL;
    if !store.set_initial_credential(account_email, &credential.hash(key, account_email), expires_at).await? {
        return Ok(DeliveryOutcome::NotNeeded);
    }
    // Only ever to the account itself, whatever the item lists.
    let message = welcome_message(account_email, &item.org_name, credential.reveal(), lifetimes::INITIAL_CREDENTIAL)
        .addressed_to(vec![account_email.clone()]);
    mailer.send(&message).await?;
    if let Err(err) = store.finish_welcome(account_email).await {
        // The passphrase was delivered and works; the account merely still looks pending.
        tracing::warn!(outbox_id = %item.id, error = %crate::telemetry::Chain(&err), "marking the welcome delivered failed");
    }
    Ok(DeliveryOutcome::Sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_six_hours() {
        let minutes: Vec<i64> = (1..=MAX_ATTEMPTS).map(|attempt| retry_delay(attempt).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360]);
        assert_eq!(retry_delay(0).num_minutes(), 1);
        assert_eq!(retry_delay(u32::MAX).num_minutes(), 360);
    }

    #[test]
    fn the_report_counts_each_outcome() {
        let mut report = DeliveryReport::default();
        for outcome in [
            DeliveryOutcome::Sent,
            DeliveryOutcome::Sent,
            DeliveryOutcome::Retrying { attempts: 1, next_due: Utc::now() },
            DeliveryOutcome::Deferred { error: "x".into() },
            DeliveryOutcome::FailedPermanently { error: "y".into() },
            DeliveryOutcome::NotNeeded,
            DeliveryOutcome::ClaimedElsewhere,
        ] {
            report.count(&outcome);
        }
        assert_eq!(report, DeliveryReport { sent: 2, retried: 2, failed: 1, skipped: 2 });
    }

    #[test]
    fn only_rejections_and_undecodable_items_are_permanent() {
        assert!(AttemptError::Notify(NotifyError::Unavailable("throttled".into())).is_transient());
        assert!(!AttemptError::Notify(NotifyError::Rejected("unverified".into())).is_transient());
        assert!(!AttemptError::Notify(NotifyError::NoRecipient).is_transient());
        assert!(AttemptError::Store(StoreError::Throttled).is_transient());
        assert!(!AttemptError::Store(StoreError::malformed("bad")).is_transient());
    }
}
