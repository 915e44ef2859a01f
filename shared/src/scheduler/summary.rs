//! What one run did: counted per organization, logged once as one structured line, and returned
//! to the caller (the Lambda's response, `scimctl run-scheduler`'s output).
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{EventError, ExpiryNotice};
use crate::notify::DeliveryReport;

/// Failures a run's error lists one by one; the rest are counted (all are in the summary line).
const FAILURES_NAMED: usize = 10;

/// Why a scheduler run answers an error, so that the function's `Errors` metric (and its alarm)
/// sees it. A failed run still handled every other organization and logged its summary.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{}", describe_failed_run(.0))]
    Failed(Box<RunSummary>),
}

fn describe_failed_run(summary: &RunSummary) -> String {
    let mut text = format!(
        "the token scheduler run had {} failure(s): {} organization(s) or run stage(s) failed, {} email(s) given up on",
        summary.failure_count(),
        summary.failures.len(),
        summary.emails_failed
    );
    for failure in summary.failures.iter().take(FAILURES_NAMED) {
        text.push_str(&format!("; {}: {}", failure.org.as_deref().unwrap_or("run"), failure.error));
    }
    if summary.failures.len() > FAILURES_NAMED {
        text.push_str(&format!("; and {} more", summary.failures.len() - FAILURES_NAMED));
    }
    text
}

/// What a run did for one organization whose token expires within the warning window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgOutcome {
    /// The token's expiry was extended by its window.
    Refreshed { expires_at: DateTime<Utc> },
    /// The token could not be extended: the failure is recorded, and the due notice, if any, queued.
    NotRefreshed { notice: Option<ExpiryNotice> },
    /// Nothing to do: another writer got there first (a concurrent run, a manual refresh), or the
    /// token has expired and its owners were told already.
    Unchanged,
}

/// One organization (or stage of the run) that failed; the run went on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFailure {
    /// The organization, or the item key when the organization cannot be told; None for a stage
    /// of the run (the expiry index query, the outbox delivery).
    pub org: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub as_of: DateTime<Utc>,
    /// Organizations whose token expires within the warning window or has expired.
    pub orgs_seen: u32,
    pub refreshed: u32,
    pub not_refreshable: u32,
    pub notices_queued: u32,
    /// OAuth connections with a credential near its end (client secret, an unrenewed refresh token)
    /// whose owners were emailed in this run.
    pub oauth_notices_queued: u32,
    pub unchanged: u32,
    pub emails_sent: u32,
    /// Failed for now (or could not be claimed): due again later, with backoff.
    pub emails_retried: u32,
    /// Given up on: kept in the outbox's failed list for operators.
    pub emails_failed: u32,
    /// Writes cut off part way that the sweep completed (or undid, for a create nobody retried).
    pub writes_completed: u32,
    /// Connector health states changed by this run (docs/ARCHITECTURE.md, "Connector health").
    pub health_changes: u32,
    /// Of which owners were emailed.
    pub health_emails_queued: u32,
    pub failures: Vec<RunFailure>,
}

impl RunSummary {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        Self {
            as_of,
            orgs_seen: 0,
            refreshed: 0,
            not_refreshable: 0,
            notices_queued: 0,
            oauth_notices_queued: 0,
            unchanged: 0,
            emails_sent: 0,
            emails_retried: 0,
            emails_failed: 0,
            writes_completed: 0,
            health_changes: 0,
            health_emails_queued: 0,
            failures: Vec::new(),
        }
    }

    /// Organizations and run stages that failed, plus emails given up on.
    pub fn failure_count(&self) -> usize {
        self.failures.len().saturating_add(usize::try_from(self.emails_failed).unwrap_or(usize::MAX))
    }

    /// The summary when the run did all its work; otherwise the error that makes it fail visibly.
    pub fn into_result(self) -> Result<Self, RunError> {
        if self.failure_count() == 0 {
            Ok(self)
        } else {
            Err(RunError::Failed(Box::new(self)))
        }
    }

    pub(super) fn count(&mut self, outcome: OrgOutcome) {
        match outcome {
            OrgOutcome::Refreshed { .. } => self.refreshed += 1,
            OrgOutcome::NotRefreshed { notice } => {
                self.not_refreshable += 1;
                self.notices_queued += u32::from(notice.is_some());
            }
            OrgOutcome::Unchanged => self.unchanged += 1,
        }
    }

    pub(super) fn fail(&mut self, org: Option<String>, error: impl std::fmt::Display) {
        let failure = RunFailure { org, error: error.to_string() };
        tracing::error!(org = ?failure.org, error = %failure.error, "token scheduler: failure, the run goes on");
        self.failures.push(failure);
    }

    pub(super) fn add_deliveries(&mut self, report: &DeliveryReport) {
        self.emails_sent += report.sent;
        self.emails_retried += report.retried;
        self.emails_failed += report.failed;
    }

    /// The run's metrics, as one EMF line (docs/ARCHITECTURE.md, "Metrics"): the failures metric
    /// is what the scheduler's alarm watches.
    pub fn metrics(&self) -> crate::metrics::MetricLine {
        crate::metrics::MetricLine::new()
            .count("TokensExpiringSoon", u64::from(self.orgs_seen))
            .count("OrgsRefreshed", u64::from(self.refreshed))
            .count("NoticesQueued", u64::from(self.notices_queued))
            .count("EmailsSent", u64::from(self.emails_sent))
            .count("EmailsRetried", u64::from(self.emails_retried))
            .count("EmailsFailed", u64::from(self.emails_failed))
            .count("SchedulerFailures", u64::try_from(self.failures.len()).unwrap_or(u64::MAX))
    }

    /// The one line a run logs.
    pub(super) fn log(&self) {
        self.metrics().emit(chrono::Utc::now().timestamp_millis());
        let failures = serde_json::to_string(&self.failures).unwrap_or_default();
        tracing::info!(
            as_of = %self.as_of.to_rfc3339(),
            orgs_seen = self.orgs_seen,
            refreshed = self.refreshed,
            not_refreshable = self.not_refreshable,
            notices_queued = self.notices_queued,
            unchanged = self.unchanged,
            emails_sent = self.emails_sent,
            emails_retried = self.emails_retried,
            emails_failed = self.emails_failed,
            writes_completed = self.writes_completed,
            failure_count = self.failures.len(),
            failures = %failures,
            "token scheduler run"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_a_failed_organization_reports_it_in_its_metric_line() {
        let mut summary = RunSummary::new(Utc::now());
        summary.orgs_seen = 3;
        summary.count(OrgOutcome::Refreshed { expires_at: Utc::now() });
        summary.add_deliveries(&DeliveryReport { sent: 2, retried: 1, failed: 1, skipped: 0 });
        summary.fail(Some("acme".into()), "boom");
        let line = summary.metrics().to_json(0);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "InsomniaScim");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([[]]));
        for (name, value) in [
            ("SchedulerFailures", 1.0),
            ("TokensExpiringSoon", 3.0),
            ("OrgsRefreshed", 1.0),
            ("EmailsSent", 2.0),
            ("EmailsRetried", 1.0),
            ("EmailsFailed", 1.0),
        ] {
            assert_eq!(line[name], value, "{name}: {line}");
        }
    }

    #[test]
    fn outcomes_and_deliveries_add_up() {
        let mut summary = RunSummary::new(Utc::now());
        summary.count(OrgOutcome::Refreshed { expires_at: Utc::now() });
        summary.count(OrgOutcome::NotRefreshed { notice: Some(ExpiryNotice::SecondWarning) });
        summary.count(OrgOutcome::NotRefreshed { notice: None });
        summary.count(OrgOutcome::Unchanged);
        summary.add_deliveries(&DeliveryReport { sent: 2, retried: 1, failed: 1, skipped: 4 });
        summary.fail(Some("acme".into()), "boom");
        assert_eq!(
            (summary.refreshed, summary.not_refreshable, summary.notices_queued, summary.unchanged),
            (1, 2, 1, 1)
        );
        assert_eq!((summary.emails_sent, summary.emails_retried, summary.emails_failed), (2, 1, 1));
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["failures"][0], serde_json::json!({ "org": "acme", "error": "boom" }));
        assert_eq!(summary.failure_count(), 2, "one organization and one email given up on");
    }

    #[test]
    fn a_run_with_any_failure_is_an_error_naming_the_count() {
        let clean = RunSummary::new(Utc::now());
        assert!(clean.clone().into_result().is_ok());

        let mut emails_only = clean.clone();
        emails_only.add_deliveries(&DeliveryReport { failed: 1, ..DeliveryReport::default() });
        let error = emails_only.into_result().unwrap_err().to_string();
        assert!(error.contains("1 failure(s)") && error.contains("1 email(s) given up on"), "{error}");

        let mut many = clean;
        for i in 0..12 {
            many.fail(Some(format!("org-{i}")), "boom");
        }
        many.fail(None, "reading the email outbox failed");
        let error = many.into_result().unwrap_err().to_string();
        assert!(error.contains("13 failure(s)") && error.contains("org-0: boom"), "{error}");
        assert!(error.contains("and 3 more") && !error.contains("org-11"), "{error}");
    }
}
