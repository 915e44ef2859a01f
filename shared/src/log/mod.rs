//! The SCIM request log. Records are written off the response path: each write starts as its own
//! task when the response is ready, and is awaited after the response has been sent (by the
//! Lambda internal extension in `runtime`, or in the background on a long-running server).
use std::sync::{Arc, Mutex};

use crate::domain::OrgId;

mod capture;
mod describe;
pub use capture::{CapturedBodies, Tap, Tapped};
pub use describe::{
    diff, AttributeChange, LogSubject, MemberEvent, MemberEventKind, Operation, SubjectKind, OPERATION_NAMES,
    TIMELINE_MEMBERS_PER_REQUEST,
};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use crate::redact::{clip, MaskedBody, Redacted, Redactor};
use crate::store::Store;
pub use crate::store::{RequestLogRecord, TimelineEntry};

/// Guesses the IdP from the User-Agent (Okta: "Okta SCIM Client …"; Entra: "Microsoft.Identity…").
pub fn guess_idp(user_agent: Option<&str>) -> &'static str {
    let agent = user_agent.unwrap_or_default().to_ascii_lowercase();
    if agent.contains("okta") {
        "okta"
    } else if agent.contains("microsoft") || agent.contains("azure") || agent.contains("entra") {
        "azure"
    } else {
        "unknown"
    }
}

/// What the handlers tell the request log about a request (filled as the request proceeds).
#[derive(Debug, Default)]
pub struct LogNote {
    /// Set once the organization is known to have SCIM settings: only those requests are logged.
    pub org: Option<OrgId>,
    /// Set once the caller's token passed the check. Requests without are logged at a bounded
    /// rate only (`RequestLogWriter::submit_unauthenticated`).
    pub authenticated: bool,
    pub tolerances: Vec<String>,
    /// Set when the token was refused and is one this organization issued (replaced, revoked,
    /// expired, an ended OAuth grant): connector health counts it apart from unknown tokens.
    pub refused: Option<crate::domain::health::RefusedCredential>,
    /// The user or group the request acted on, and what it did (`LogSlot::describe`).
    pub subject: Option<LogSubject>,
    pub operation: Option<Operation>,
    /// What happened to each member, for their timelines (at most
    /// `TIMELINE_MEMBERS_PER_REQUEST`; `timeline_overflow` counts the others).
    pub member_events: Vec<MemberEvent>,
    pub timeline_overflow: usize,
}

#[derive(Debug, Clone, Default)]
pub struct LogSlot(Arc<Mutex<LogNote>>);

impl LogSlot {
    pub(crate) fn update(&self, f: impl FnOnce(&mut LogNote)) {
        if let Ok(mut note) = self.0.lock() {
            f(&mut note);
        }
    }

    pub fn take(&self) -> LogNote {
        self.0.lock().map(|mut note| std::mem::take(&mut *note)).unwrap_or_default()
    }

    /// Tells the log what the request did, and to whom (the last word wins: a retried write
    /// describes what was finally written).
    pub fn describe(&self, subject: LogSubject, operation: Operation) {
        self.update(|note| {
            note.subject = Some(subject);
            note.operation = Some(operation);
        });
    }

    /// Tells the log what the request did to members, for their timelines (called once per
    /// successful write; a bulk request calls it per operation); past
    /// `TIMELINE_MEMBERS_PER_REQUEST` in all, only counted.
    pub fn member_events(&self, events: Vec<MemberEvent>) {
        self.update(|note| {
            for event in events {
                if note.member_events.len() < TIMELINE_MEMBERS_PER_REQUEST {
                    note.member_events.push(event);
                } else {
                    note.timeline_overflow += 1;
                }
            }
        });
    }

    pub fn add_tolerance(&self, name: &str) {
        self.update(|note| {
            if !note.tolerances.iter().any(|t| t == name) {
                note.tolerances.push(name.to_owned());
            }
        });
    }
}

#[derive(Clone)]
pub struct RequestLogWriter {
    inner: Arc<WriterInner>,
}

struct WriterInner {
    store: Store,
    pending: Mutex<Vec<JoinHandle<()>>>,
    queue: Mutex<LogQueue>,
    /// Mirrors `LogQueue::draining` (set under the queue's lock), for `flush` to wait on.
    draining: watch::Sender<bool>,
    request_finished: Notify,
}

/// Records waiting for the one task that writes them, and whether it runs.
#[derive(Default)]
struct LogQueue {
    records: Vec<Pending>,
    draining: bool,
}

/// A record waiting for the writer, with what the writer masks into it (its bodies) and writes
/// beside it (its members' timeline entries).
struct Pending {
    record: RequestLogRecord,
    captured: Option<CapturedBodies>,
}

impl Pending {
    /// Masking happens here, in the writer's task, off the response path.
    fn finish(self) -> (RequestLogRecord, Vec<TimelineEntry>) {
        let mut record = self.record;
        let entries = self.captured.map(|c| c.finish(&mut record)).unwrap_or_default();
        (record, entries)
    }
}

/// Records taken per write: one BatchWriteItem.
const RECORDS_PER_WRITE: usize = 25;

/// Unauthenticated requests (no token, or a wrong one) logged per organization in a 15-minute
/// window: anyone can send them, so they must not fill an organization's log (docs/ARCHITECTURE.md,
/// "Console (web page)", the throttle keys). Enough to show an owner a misconfigured token.
pub const UNAUTHENTICATED_PER_ORG: u64 = 20;
/// The same, per source address, whatever the organization.
pub const UNAUTHENTICATED_PER_SOURCE: u64 = 10;
const UNAUTHENTICATED_WINDOW_SECS: i64 = crate::lifetimes::UNAUTHENTICATED_LOG_WINDOW.num_seconds();

impl WriterInner {
    /// Writes the queue until it is empty; the last look and the end of `draining` are one step
    /// under the lock, so a record submitted meanwhile is never left behind.
    async fn drain(&self) {
        loop {
            let batch: Vec<Pending> = match self.queue.lock() {
                Ok(mut queue) if queue.records.is_empty() => {
                    queue.draining = false;
                    self.draining.send_replace(false);
                    return;
                }
                Ok(mut queue) => {
                    let take = queue.records.len().min(RECORDS_PER_WRITE);
                    queue.records.drain(..take).collect()
                }
                Err(_) => {
                    self.draining.send_replace(false);
                    return;
                }
            };
            let batch: Vec<(RequestLogRecord, Vec<TimelineEntry>)> = batch.into_iter().map(Pending::finish).collect();
            let records: Vec<RequestLogRecord> = batch.iter().map(|(record, _)| record.clone()).collect();
            // Connector health rides the same pass, concurrently: no round trip after the log's.
            let (written, _) = tokio::join!(self.store.put_request_logs_with_timelines(&batch), self.health(&records));
            if let Err(err) = written {
                for (record, _) in &batch {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), org = %record.org, request_id = %record.request_id, "request log write failed");
                }
            }
        }
    }
}

impl WriterInner {
    /// Folds a pass's records into their organizations' connector health (docs/ARCHITECTURE.md,
    /// "Connector health"), as of the newest record.
    async fn health(&self, records: &[RequestLogRecord]) {
        let Some(now) = records.iter().map(|r| r.at).max() else { return };
        let (_, failures) = crate::provisioning::health::record_pass(&self.store, records, now).await;
        for (org, err) in failures {
            tracing::warn!(error = %crate::telemetry::Chain(&err), org = %org, "connector health update failed");
        }
    }

    /// Writes an unauthenticated request's record while its organization's and its source's
    /// counters allow (see `submit_unauthenticated`).
    async fn log_bounded(&self, record: RequestLogRecord, source: String) {
        let now = record.at.timestamp();
        let start = now.div_euclid(UNAUTHENTICATED_WINDOW_SECS) * UNAUTHENTICATED_WINDOW_SECS;
        let (Some(start), Some(end)) = (
            chrono::DateTime::from_timestamp(start, 0),
            chrono::DateTime::from_timestamp(start + UNAUTHENTICATED_WINDOW_SECS, 0),
        ) else {
            return;
        };
        // The source first: what one source sends past its own limit spends none of the
        // organization's.
        let counters = [
            (format!("UNAUTHLOG#SOURCE#{source}"), UNAUTHENTICATED_PER_SOURCE),
            (format!("UNAUTHLOG#ORG#{}", record.org), UNAUTHENTICATED_PER_ORG),
        ];
        for (scope, limit) in counters {
            match self.store.count_attempt(&scope, start, end).await {
                Ok(count) if count <= limit => {}
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), "counting an unauthenticated request failed; not logged");
                    return;
                }
            }
        }
        if let Err(err) = self.store.put_request_log(&record).await {
            tracing::warn!(error = %crate::telemetry::Chain(&err), org = %record.org, request_id = %record.request_id, "request log write failed");
        }
    }
}

impl RequestLogWriter {
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(WriterInner {
                store,
                pending: Mutex::new(Vec::new()),
                queue: Mutex::new(LogQueue::default()),
                draining: watch::Sender::new(false),
                request_finished: Notify::new(),
            }),
        }
    }

    /// Starts writing the record now, without waiting for it. Records of requests that end while
    /// a write is under way are written together by the next one (one BatchWriteItem instead of a
    /// PutItem each); a lone record, as in a Lambda invocation, is one PutItem as soon as it comes.
    pub fn submit(&self, record: RequestLogRecord) {
        self.submit_pending(Pending { record, captured: None });
    }

    /// `submit`, with the request's bodies and member events: masked, and the timeline entries
    /// made, by the writer's task (written in the same BatchWriteItem as the record).
    pub fn submit_captured(&self, record: RequestLogRecord, captured: CapturedBodies) {
        self.submit_pending(Pending { record, captured: Some(captured) });
    }

    fn submit_pending(&self, pending: Pending) {
        let start = match self.inner.queue.lock() {
            Ok(mut queue) => {
                queue.records.push(pending);
                self.inner.draining.send_replace(true);
                !std::mem::replace(&mut queue.draining, true)
            }
            Err(_) => return,
        };
        if start {
            let inner = self.inner.clone();
            self.track(tokio::spawn(async move { inner.drain().await }));
        }
    }

    /// Logs a request whose caller was not authenticated, off the response path, only while its
    /// organization's and its source's counters (one ADD each, in fixed 15-minute windows) are
    /// within `UNAUTHENTICATED_PER_ORG` and `UNAUTHENTICATED_PER_SOURCE`. Such a record says
    /// `authenticated: false`, so nothing that acts on the log (emails to owners) takes it for
    /// the IdP's.
    pub fn submit_unauthenticated(&self, record: RequestLogRecord, source: String) {
        self.submit_unauthenticated_captured(record, source, None);
    }

    /// `submit_unauthenticated`, with the request's bodies (masked in the task).
    pub fn submit_unauthenticated_captured(
        &self,
        record: RequestLogRecord,
        source: String,
        captured: Option<CapturedBodies>,
    ) {
        let inner = self.inner.clone();
        self.track(tokio::spawn(async move {
            let (record, _) = Pending { record, captured }.finish();
            // Health counts every such request, whatever the log's bound (a refused credential of
            // the organization's own must not go unseen); alongside the bounded log write.
            let counted = [record.clone()];
            tokio::join!(inner.health(&counted), inner.log_bounded(record, source));
        }));
    }

    /// Runs other work that must not delay the response (e.g. a welcome email) the same way:
    /// started now, awaited after the response has been sent.
    pub fn spawn_after_response<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.track(tokio::spawn(work));
    }

    /// Keeps the handle for `flush`.
    fn track(&self, handle: JoinHandle<()>) {
        if let Ok(mut pending) = self.inner.pending.lock() {
            pending.retain(|h| !h.is_finished());
            pending.push(handle);
        }
    }

    /// Waits for every write submitted so far.
    pub async fn flush(&self) {
        let handles = match self.inner.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => Vec::new(),
        };
        for handle in handles {
            let _ = handle.await;
        }
        // Records that joined a write another flush is awaiting are written by then too.
        let _ = self.inner.draining.subscribe().wait_for(|draining| !*draining).await;
    }

    /// Called when a Lambda invocation's response is ready.
    pub fn request_finished(&self) {
        self.inner.request_finished.notify_one();
    }

    pub async fn wait_request_finished(&self) {
        self.inner.request_finished.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_idps_from_user_agents() {
        assert_eq!(guess_idp(Some("Okta SCIM Client 1.0.0")), "okta");
        assert_eq!(guess_idp(Some("Microsoft.Identity.Provisioning/1.0")), "azure");
        assert_eq!(guess_idp(Some("curl/8.0")), "unknown");
        assert_eq!(guess_idp(None), "unknown");
    }
}
