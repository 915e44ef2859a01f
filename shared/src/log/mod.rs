//! The SCIM request log. Records are written off the response path: each write starts as its own
//! task when the response is ready, and is awaited after the response has been sent (by the
//! Lambda internal extension in `runtime`, or in the background on a long-running server).
use std::sync::{Arc, Mutex};

use crate::domain::OrgId;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use crate::redact::{clip, Redacted, Redactor};
pub use crate::store::RequestLogRecord;
use crate::store::Store;

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
    pub tolerances: Vec<String>,
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
    request_finished: Notify,
}

impl RequestLogWriter {
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(WriterInner { store, pending: Mutex::new(Vec::new()), request_finished: Notify::new() }),
        }
    }

    /// Starts writing the record now, without waiting for it.
    pub fn submit(&self, record: RequestLogRecord) {
        let store = self.inner.store.clone();
        let handle = tokio::spawn(async move {
            if let Err(err) = store.put_request_log(&record).await {
                tracing::warn!(error = %err, org = %record.org, request_id = %record.request_id, "request log write failed");
            }
        });
        if let Ok(mut pending) = self.inner.pending.lock() {
            pending.retain(|h| !h.is_finished());
            pending.push(handle);
        }
    }

    /// Runs other work that must not delay the response (e.g. a welcome email) the same way:
    /// started now, awaited after the response has been sent.
    pub fn spawn_after_response<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(work);
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
