//! The token scheduler (a daily EventBridge schedule): extends the SCIM tokens of organizations that
//! still meet every requirement before they expire, records why it could not for the others and
//! emails their owners and co-owners (20, 7 and 1 day(s) before expiry, and at expiry), then
//! delivers the email outbox with retries.
//!
//! Each run works "as of" one instant from its clock, so tests and operators can run it for any
//! date. Each organization is handled on its own: a failure is recorded in the run's summary and
//! the run goes on; at the end, a run with any failure answers an error (`RunError`). Every write
//! is conditional (on the settings version, on the notice not being recorded yet), so runs that
//! overlap or repeat never extend twice nor send a notice twice.
mod policy;
mod summary;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use policy::{days_left, describe_blockers, notifies_owners, refresh_blockers, ExpiryNotice, RefreshBlocker};
pub use summary::{OrgOutcome, RunError, RunFailure, RunSummary};

use crate::auth::AuthorizedOrg;
use crate::clock::Clock;
use crate::config::AppConfig;
use crate::domain::{EmailAddress, OrgId, RefreshFailure, ScimSettings};
use crate::lifetimes;
use crate::notify::{deliver_due, Mailer};
use crate::provisioning::{Expected, ProvisioningError};
use crate::runtime::{AwsClients, InitError, TokenKeySource};
use crate::store::{OAuthCredential, OutboxItem, PendingResource, Store, StoreError};

/// Outbox emails taken per query, and at most this many queries per run (a backlog beyond that
/// waits for the next run).
const DELIVERY_BATCH: i32 = 100;
const MAX_DELIVERY_BATCHES: u32 = 20;

/// Why one organization could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("the SCIM settings cannot be read: {0}")]
    Unreadable(StoreError),
    #[error("the SCIM settings point at organization '{0}', which does not exist")]
    MissingOrganization(OrgId),
    #[error("the token expires but its window has no duration to extend it by")]
    NoWindow,
    #[error("the {0} notice is due but the organization has no active owner or co-owner to send it to")]
    NoRecipients(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A scheduler event that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("'as_of' must be an RFC 3339 time such as 2026-11-03T06:00:00Z, not {0}")]
    InvalidAsOf(String),
}

/// Unfinished writes one run completes at most (the rest wait for the next run).
const SWEEP_LIMIT: usize = 200;

#[derive(Clone, Debug)]
pub struct TokenScheduler {
    store: Store,
    mailer: Mailer,
    /// For welcome emails (their initial passphrase is stored as a keyed hash).
    key: TokenKeySource,
    clock: Clock,
}

impl TokenScheduler {
    pub fn new(store: Store, mailer: Mailer, key: TokenKeySource, clock: Clock) -> Self {
        Self { store, mailer, key, clock }
    }

    /// Cold start: configuration, SDK clients and one warm-up read. The token key secret is read
    /// only when an email needs it (a welcome), not at every cold start.
    pub async fn from_env() -> Result<Self, InitError> {
        let config = AppConfig::from_env()?;
        let clients = AwsClients::from_env().await;
        let store = Store::new(clients.dynamodb.clone(), config.table_name);
        let started = std::time::Instant::now();
        store.warm_up().await?;
        tracing::info!(warm_up_ms = started.elapsed().as_secs_f64() * 1000.0, "DynamoDB warm-up done");
        let key = TokenKeySource::from_secret(clients.secrets, config.token_key_secret_id);
        Ok(Self::new(store, Mailer::new(clients.ses, config.sender_email), key, Clock::System))
    }

    /// One run for an EventBridge event; `as_of` (top level, or in `detail`) runs it as of that
    /// time instead of the clock's. A run with any failed organization, stage or email answers an
    /// error once it is done with every other one: the Lambda's `Errors` metric must see it.
    pub async fn handle_event(&self, event: &Value) -> Result<RunSummary, RunError> {
        let as_of = as_of_from_event(event)?.unwrap_or_else(|| self.clock.now());
        let event_id = event.get("id").and_then(Value::as_str).unwrap_or_default();
        if event.get("sweep_only").and_then(Value::as_bool) == Some(true) {
            tracing::info!(as_of = %as_of.to_rfc3339(), event_id, "sweep of unfinished writes starts");
            return self.sweep_as_of(as_of).await.into_result();
        }
        tracing::info!(as_of = %as_of.to_rfc3339(), event_id, "token scheduler run starts");
        self.run_as_of(as_of).await.into_result()
    }

    pub async fn run(&self) -> RunSummary {
        self.run_as_of(self.clock.now()).await
    }

    /// Refreshes or warns for every token expiring within the warning window (or expired), then
    /// delivers the due emails, and logs the summary.
    pub async fn run_as_of(&self, now: DateTime<Utc>) -> RunSummary {
        let mut summary = RunSummary::new(now);
        match self.store.scim_tokens_expiring_by(now + lifetimes::EXPIRY_WARNING).await {
            Ok(entries) => {
                for entry in entries {
                    summary.orgs_seen += 1;
                    match entry.decoded {
                        Err(err) => summary.fail(Some(entry.key), crate::telemetry::Chain(&OrgError::Unreadable(err))),
                        // The scheduler acts for every organization, as the operator's own job.
                        Ok((org, settings)) => {
                            match self.handle_org(&AuthorizedOrg::for_operator(org.clone()), &settings, now).await {
                                Ok(outcome) => summary.count(outcome),
                                Err(err) => summary.fail(Some(org.to_string()), crate::telemetry::Chain(&err)),
                            }
                        }
                    }
                }
            }
            Err(err) => {
                summary.fail(None, format!("querying the token expiry index failed: {}", crate::telemetry::Chain(&err)))
            }
        }
        self.notify_oauth_expiry(now, &mut summary).await;
        self.settle_health(now, &mut summary).await;
        self.deliver_outbox(now, &mut summary).await;
        self.sweep_unfinished_writes(now, &mut summary).await;
        summary.log();
        summary
    }

    /// Only the sweep of unfinished writes (the frequent schedule's run: `{"sweep_only": true}`).
    pub async fn sweep_as_of(&self, now: DateTime<Utc>) -> RunSummary {
        let mut summary = RunSummary::new(now);
        self.sweep_unfinished_writes(now, &mut summary).await;
        // Quiet connectors and recovery by time have no request to notice them: every sweep looks.
        self.settle_health(now, &mut summary).await;
        // Health emails (queued by this round or by the request log) go out within a sweep.
        match self.store.due_emails(now, 1).await {
            Ok(due) if !due.is_empty() => self.deliver_outbox(now, &mut summary).await,
            Ok(_) => {}
            Err(err) => {
                summary.fail(None, format!("reading the email outbox failed: {}", crate::telemetry::Chain(&err)))
            }
        }
        summary.log();
        summary
    }

    /// Settles every organization's connector health as of `now` (docs/ARCHITECTURE.md,
    /// "Connector health"): a change of state is stored, and its email queued, once.
    async fn settle_health(&self, now: DateTime<Utc>, summary: &mut RunSummary) {
        match crate::provisioning::health::settle_all(&self.store, now).await {
            Ok(round) => {
                summary.health_changes += u32::try_from(round.moves.len()).unwrap_or(u32::MAX);
                summary.health_emails_queued +=
                    u32::try_from(round.moves.iter().filter(|m| m.emailed).count()).unwrap_or(u32::MAX);
                for (org, err) in round.failures {
                    summary.fail(Some(org.to_string()), format!("connector health: {}", crate::telemetry::Chain(&err)));
                }
            }
            Err(err) => summary
                .fail(None, format!("reading the connector health roster failed: {}", crate::telemetry::Chain(&err))),
        }
    }

    /// Completes (or, for a create nobody took over, undoes) every multi-step write that started
    /// more than `lifetimes::SWEEP_AFTER` ago and that no request finished: a DELETE or POST cut off
    /// part way whose IdP never retried (docs/ARCHITECTURE.md, "Writes cut off part way").
    async fn sweep_unfinished_writes(&self, now: DateTime<Utc>, summary: &mut RunSummary) {
        let writes = match self.store.pending_writes(now - lifetimes::SWEEP_AFTER, SWEEP_LIMIT).await {
            Ok(writes) => writes,
            Err(err) => {
                return summary
                    .fail(None, format!("reading unfinished writes failed: {}", crate::telemetry::Chain(&err)))
            }
        };
        for write in writes {
            let org = AuthorizedOrg::for_operator(write.org.clone());
            let finished = match &write.resource {
                PendingResource::User(id) => match self.store.member_state(&org, id).await {
                    Ok(state) => {
                        crate::provisioning::delete_user(&self.store, &org, id, state, Vec::new(), &Expected::Any, now)
                            .await
                    }
                    Err(err) => Err(err.into()),
                },
                PendingResource::Team(id) => crate::provisioning::finish_team_write(&self.store, &org, id, now).await,
            };
            match finished {
                Ok(()) | Err(ProvisioningError::NotFound { .. }) => summary.writes_completed += 1,
                Err(err) => summary.fail(
                    Some(write.org.to_string()),
                    format!("an unfinished write: {}", crate::telemetry::Chain(&err)),
                ),
            }
        }
    }

    async fn handle_org(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        now: DateTime<Utc>,
    ) -> Result<OrgOutcome, OrgError> {
        let pending = ExpiryNotice::pending(settings, now);
        // Expired and its owners told: nothing more to do until an admin issues a new token. Decided
        // from the index entry alone, so old expired tokens cost no further reads.
        if settings.is_expired(now) && pending.is_none() {
            return Ok(OrgOutcome::Unchanged);
        }
        let (organization, _) =
            self.store.organization(org).await?.ok_or_else(|| OrgError::MissingOrganization(org.id().clone()))?;
        let blockers = refresh_blockers(&organization, settings, now);
        if blockers.is_empty() {
            return self.extend(org, settings, now).await;
        }

        let reason = describe_blockers(&blockers);
        // Kept while the reason stays the same: its time says since when the refresh has failed.
        let failure = match settings.refresh_warning() {
            Some(recorded) if recorded.reason == reason => None,
            _ => Some(RefreshFailure { reason, at: now }),
        };
        let Some(notice) = pending.filter(|_| notifies_owners(&blockers)) else {
            return self.record_failure(org, settings, failure.as_ref()).await;
        };
        let recipients = self.notice_recipients(org).await?;
        if recipients.is_empty() {
            // Not recorded as sent: a later run sends it once an owner is there.
            self.record_failure(org, settings, failure.as_ref()).await?;
            return Err(OrgError::NoRecipients(notice.as_str()));
        }
        let Some((expires_at, key)) = settings.token_expires_at.zip(notice.key(settings)) else {
            return Ok(OrgOutcome::Unchanged);
        };
        let email = match notice {
            ExpiryNotice::Expired => OutboxItem::token_expired(recipients, org, &organization.name, now),
            _ => OutboxItem::token_expiring(
                recipients,
                org,
                &organization.name,
                days_left(expires_at, now),
                expires_at,
                now,
            )
            .because(blockers.iter().map(|b| b.describe().to_owned()).collect()),
        };
        if !self.record_notice(org, settings.version, &key, failure.as_ref(), &email).await? {
            return Ok(OrgOutcome::Unchanged);
        }
        tracing::info!(org = %org, notice = notice.as_str(), outbox_id = %email.id, "token expiry notice queued");
        Ok(OrgOutcome::NotRefreshed { notice: Some(notice) })
    }

    async fn extend(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        now: DateTime<Utc>,
    ) -> Result<OrgOutcome, OrgError> {
        let next = settings.extended(now).ok_or(OrgError::NoWindow)?;
        let expires_at = next.token_expires_at.ok_or(OrgError::NoWindow)?;
        match self.store.extend_scim_token(org, settings, expires_at, now).await {
            Ok(()) => {
                tracing::info!(
                    org = %org,
                    previous_expiry = %settings.token_expires_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
                    expires_at = %expires_at.to_rfc3339(),
                    "SCIM token extended"
                );
                Ok(OrgOutcome::Refreshed { expires_at })
            }
            // A concurrent run extended it, or an admin issued a new token: theirs stands.
            Err(StoreError::VersionMismatch) => Ok(OrgOutcome::Unchanged),
            Err(err) => Err(err.into()),
        }
    }

    async fn record_failure(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        failure: Option<&RefreshFailure>,
    ) -> Result<OrgOutcome, OrgError> {
        if let Some(failure) = failure {
            match self.store.record_refresh_failure(org, settings.version, failure).await {
                Ok(()) => tracing::warn!(org = %org, reason = %failure.reason, "SCIM token cannot be refreshed"),
                Err(StoreError::VersionMismatch) => return Ok(OrgOutcome::Unchanged),
                Err(err) => return Err(err.into()),
            }
        }
        Ok(OrgOutcome::NotRefreshed { notice: None })
    }

    /// The notice transaction (the store retries it when an overlapping run's transaction gets in
    /// the way; the retry then finds the notice recorded).
    async fn record_notice(
        &self,
        org: &AuthorizedOrg,
        version: u64,
        key: &str,
        failure: Option<&RefreshFailure>,
        email: &OutboxItem,
    ) -> Result<bool, StoreError> {
        self.store.record_expiry_notice(org, version, key, failure, email).await
    }

    /// Emails the owners of each OAuth connection whose client secret, or whose newest refresh
    /// token (one its IdP stopped renewing), ends within the warning window: 20, 7 and 1 day(s)
    /// before, and at the end, once each (recorded on the client). A connection that keeps
    /// refreshing moves its refresh token's end and is never told anything.
    async fn notify_oauth_expiry(&self, now: DateTime<Utc>, summary: &mut RunSummary) {
        let orgs = match self.store.oauth_client_orgs().await {
            Ok(orgs) => orgs,
            Err(err) => {
                return summary
                    .fail(None, format!("querying the OAuth clients failed: {}", crate::telemetry::Chain(&err)))
            }
        };
        for org in orgs {
            match self.notify_oauth_org(&AuthorizedOrg::for_operator(org.clone()), now).await {
                Ok(queued) => summary.oauth_notices_queued += queued,
                Err(err) => summary.fail(Some(org.to_string()), crate::telemetry::Chain(&err)),
            }
        }
    }

    async fn notify_oauth_org(&self, org: &AuthorizedOrg, now: DateTime<Utc>) -> Result<u32, OrgError> {
        let Some(client) = self.store.oauth_client(org).await? else {
            return Ok(0);
        };
        // A client of an older grant epoch (revoked, SCIM disabled) serves nobody: nothing to tell.
        let settings = self.store.scim_settings(org).await?;
        if !settings.is_some_and(|settings| settings.enabled && settings.grant_epoch == client.epoch) {
            return Ok(0);
        }
        let mut due = Vec::new();
        // A notice recorded under its key of before (see `ExpiryNotice::oauth_keys`) counts as sent.
        let unsent = |[key, legacy]: [String; 2]| (!client.notices_sent.contains(&legacy)).then_some(key);
        if let Some(notice) = ExpiryNotice::due(client.secret_expires_at, now) {
            let credential = format!("secret:{}", client.secret_expires_at.to_rfc3339());
            if let Some(key) = unsent(notice.oauth_keys(&credential)) {
                due.push((OAuthCredential::ClientSecret, client.secret_expires_at, notice, key));
            }
        }
        // The live connection is the family renewed last; older ones ending unused are no news.
        let families = self.store.oauth_families(org).await?;
        let newest = families
            .iter()
            .filter(|family| family.client_id == client.client_id && family.revoked_at.is_none())
            .max_by_key(|family| family.refresh_expires_at);
        if let Some(family) = newest {
            if let Some(notice) = ExpiryNotice::due(family.refresh_expires_at, now) {
                let credential = format!("refresh:{}:{}", family.id, family.refresh_expires_at.to_rfc3339());
                if let Some(key) = unsent(notice.oauth_keys(&credential)) {
                    due.push((OAuthCredential::RefreshToken, family.refresh_expires_at, notice, key));
                }
            }
        }
        if due.is_empty() {
            return Ok(0);
        }
        let recipients = self.notice_recipients(org).await?;
        if recipients.is_empty() {
            return Err(OrgError::NoRecipients("OAuth expiry"));
        }
        let (organization, _) =
            self.store.organization(org).await?.ok_or_else(|| OrgError::MissingOrganization(org.id().clone()))?;
        let mut queued = 0;
        for (credential, expires_at, notice, key) in due {
            let days = if notice == ExpiryNotice::Expired { 0 } else { days_left(expires_at, now).max(1) };
            let email = OutboxItem::oauth_expiring(
                recipients.clone(),
                org,
                &organization.name,
                credential,
                days,
                expires_at,
                now,
            );
            if self.store.record_oauth_notice(org, &client.client_id, &key, &email).await? {
                tracing::info!(org = %org, notice = %key, outbox_id = %email.id, "OAuth expiry notice queued");
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Who gets an organization's notices: its active owners and co-owners.
    async fn notice_recipients(&self, org: &AuthorizedOrg) -> Result<Vec<EmailAddress>, StoreError> {
        let admins = self.store.organization_admins(org).await?;
        Ok(admins.into_iter().filter(|m| m.active && m.role.is_admin()).map(|m| m.email).collect())
    }

    /// Delivers every email due now (welcomes, notices, retries), batch after batch.
    async fn deliver_outbox(&self, now: DateTime<Utc>, summary: &mut RunSummary) {
        let key = match self.key.key().await {
            Ok(key) => key,
            Err(err) => {
                // Every email stays due for the next run.
                summary.fail(None, format!("no email was delivered: {}", crate::telemetry::Chain(&err)));
                return;
            }
        };
        for _ in 0..MAX_DELIVERY_BATCHES {
            match deliver_due(&self.store, &self.mailer, &key, now, DELIVERY_BATCH).await {
                Ok(report) => {
                    summary.add_deliveries(&report);
                    let handled = report.sent + report.retried + report.failed + report.skipped;
                    if i64::from(handled) < i64::from(DELIVERY_BATCH) {
                        return;
                    }
                }
                Err(err) => {
                    summary.fail(None, format!("reading the email outbox failed: {}", crate::telemetry::Chain(&err)));
                    return;
                }
            }
        }
    }
}

/// The `as_of` of an event (top level, as `cargo lambda invoke` or a schedule's input sends it, or
/// in an EventBridge event's `detail`).
pub fn as_of_from_event(event: &Value) -> Result<Option<DateTime<Utc>>, EventError> {
    let value = event.get("as_of").or_else(|| event.get("detail").and_then(|detail| detail.get("as_of")));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| EventError::InvalidAsOf(format!("{text:?}"))),
        Some(other) => Err(EventError::InvalidAsOf(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn an_event_may_carry_an_as_of_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 3, 6, 0, 0).unwrap();
        assert_eq!(as_of_from_event(&json!({ "as_of": "2026-11-03T06:00:00Z" })).unwrap(), Some(at));
        assert_eq!(as_of_from_event(&json!({ "detail": { "as_of": "2026-11-03T07:00:00+01:00" } })).unwrap(), Some(at));
        let scheduled =
            json!({ "id": "x", "detail-type": "Scheduled Event", "time": "2026-11-03T06:00:00Z", "detail": {} });
        assert_eq!(as_of_from_event(&scheduled).unwrap(), None);
        assert_eq!(as_of_from_event(&json!({})).unwrap(), None);
        for bad in [json!({ "as_of": "yesterday" }), json!({ "as_of": 3 })] {
            let err = as_of_from_event(&bad).unwrap_err().to_string();
            assert!(err.contains("RFC 3339"), "{err}");
        }
    }

    #[test]
    fn the_sample_event_parses() {
        let sample: Value = serde_json::from_str(include_str!("../../../infra/events/scheduled.json")).unwrap();
        assert_eq!(sample["detail-type"], "Scheduled Event");
        assert_eq!(as_of_from_event(&sample).unwrap(), None);
    }
}
