//! Outbox delivery: each due email is claimed, rendered, sent, then completed; transient failures
//! are retried with exponential backoff, permanent ones (or too many attempts) are set aside.
//!
//! A welcome generates the account's one-time initial passphrase here, at send time, and sets it
//! in the claim's transaction: the plain text lives only in memory and in the email, the table
//! gets its keyed hash (no Argon2id: it is a
//! random credential, not a chosen password; docs/ARCHITECTURE.md, "Secrets").
use chrono::{DateTime, Duration, Utc};

use super::templates::{
    last_admin_kept_message, oauth_expiring_message, token_expired_message, token_expiring_message, welcome_message,
};
use super::{Mailer, NotifyError};
use crate::auth::{InitialCredential, TokenKey};
use crate::domain::EmailAddress;
use crate::lifetimes;
use crate::store::{OutboxItem, OutboxKind, Store, StoreError, UnreadableEmail, WelcomeClaim};

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
    let retry_at = now + retry_delay(item.attempts.saturating_add(1));
    let (claimed, welcome) = match claim(store, key, &item, retry_at, now).await {
        Ok(Claim::Claimed(claimed, welcome)) => (*claimed, welcome),
        Ok(Claim::Elsewhere) => return DeliveryOutcome::ClaimedElsewhere,
        Ok(Claim::NotNeeded) => {
            // A welcome nobody waits for: nothing was claimed or sent; the item goes.
            if let Err(err) = store.complete_email(&item).await {
                tracing::warn!(outbox_id = %item.id, error = %crate::telemetry::Chain(&err), "removing an unneeded welcome failed");
            }
            return DeliveryOutcome::NotNeeded;
        }
        Err(err) => return DeliveryOutcome::Deferred { error: crate::telemetry::Chain(&err).to_string() },
    };
    match attempt(mailer, &claimed, welcome.as_ref()).await {
        Ok(outcome) => {
            let completed = match &welcome {
                Some(welcome) => store.complete_welcome(&claimed, &welcome.account).await,
                None => store.complete_email(&claimed).await,
            };
            if let Err(err) = completed {
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

/// A welcome's one-time initial passphrase, set on its account as the email was claimed.
struct Welcome {
    account: EmailAddress,
    credential: InitialCredential,
}

enum Claim {
    Claimed(Box<OutboxItem>, Option<Welcome>),
    Elsewhere,
    NotNeeded,
}

/// Claims the item (moved to `retry_at` with one more attempt); a welcome's initial passphrase is
/// set on its account in the same transaction (docs/ARCHITECTURE.md, "Round trips per operation":
/// a welcome costs two DynamoDB calls and the send).
async fn claim(
    store: &Store,
    key: &TokenKey,
    item: &OutboxItem,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    let OutboxKind::Welcome { account_email } = &item.kind else {
        return Ok(match store.claim_email(item, retry_at).await? {
            Some(claimed) => Claim::Claimed(Box::new(claimed), None),
            None => Claim::Elsewhere,
        });
    };
    let credential = InitialCredential::generate();
    let hash = credential.hash(key, account_email);
    let expires_at = now + lifetimes::INITIAL_CREDENTIAL;
    Ok(match store.claim_welcome(item, retry_at, account_email, &hash, expires_at).await? {
        WelcomeClaim::Claimed(claimed) => {
            Claim::Claimed(claimed, Some(Welcome { account: account_email.clone(), credential }))
        }
        WelcomeClaim::ClaimedElsewhere => Claim::Elsewhere,
        WelcomeClaim::NotPending => Claim::NotNeeded,
    })
}

async fn attempt(
    mailer: &Mailer,
    item: &OutboxItem,
    welcome: Option<&Welcome>,
) -> Result<DeliveryOutcome, AttemptError> {
    let message = match (&item.kind, welcome) {
        // Only ever to the account itself, whatever the item lists.
        (OutboxKind::Welcome { .. }, Some(welcome)) => welcome_message(
            &welcome.account,
            &item.org_name,
            welcome.credential.reveal(),
            lifetimes::INITIAL_CREDENTIAL,
        )
        .addressed_to(vec![welcome.account.clone()]),
        (OutboxKind::Welcome { .. }, None) => return Ok(DeliveryOutcome::NotNeeded),
        (OutboxKind::TokenExpiring { days_left, expires_at, reasons }, _) => {
            token_expiring_message(&item.org_name, *days_left, *expires_at, reasons)
                .addressed_to(item.recipients.clone())
        }
        (OutboxKind::TokenExpired, _) => token_expired_message(&item.org_name).addressed_to(item.recipients.clone()),
        (OutboxKind::LastAdminKept { member_email, refused }, _) => {
            last_admin_kept_message(&item.org_name, member_email, *refused).addressed_to(item.recipients.clone())
        }
        (OutboxKind::OauthExpiring { credential, days_left, expires_at }, _) => {
            oauth_expiring_message(&item.org_name, *credential, *days_left, *expires_at)
                .addressed_to(item.recipients.clone())
        }
        (OutboxKind::ConnectorHealth { headline, advice, .. }, _) => {
            super::templates::connector_health_message(&item.org_name, headline, advice)
                .addressed_to(item.recipients.clone())
        }
    };
    mailer.send(&message).await?;
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
