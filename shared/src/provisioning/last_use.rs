//! When each credential was last used (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"):
//! written at most once a minute per credential and instance, by a task that runs after the
//! response (like the request log), so it never delays an answer or fails a request.
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::auth::Credential;
use crate::domain::{OrgId, ScimSettings};
use crate::log::RequestLogWriter;
use crate::store::Store;

/// Credentials remembered; past it the memory starts over (a few more writes, no harm).
const REMEMBERED: usize = 10_000;

/// The minute each credential's use was last written by this instance: held by the gate, so by
/// the function's state, one per instance.
#[derive(Debug, Default)]
pub struct LastUseMemory(Mutex<HashMap<String, i64>>);

impl LastUseMemory {
    /// Whether the use of `credential` at `now` is the first this instance sees in its minute.
    fn first_this_minute(&self, credential: String, now: DateTime<Utc>) -> bool {
        let minute = now.timestamp().div_euclid(60);
        let Ok(mut map) = self.0.lock() else { return false };
        if map.len() >= REMEMBERED {
            map.clear();
        }
        match map.insert(credential, minute) {
            Some(previous) => previous != minute,
            None => true,
        }
    }

    /// Notes that `credential` passed the token check of `org` at `now`: written after the
    /// response, at most once a minute per credential.
    pub(super) fn note(
        &self,
        store: &Store,
        background: &RequestLogWriter,
        org: &OrgId,
        settings: &ScimSettings,
        credential: &Credential,
        now: DateTime<Utc>,
    ) {
        let (name, hash) = match credential {
            Credential::Current => {
                let hash = settings.token_hash.as_ref().map(|h| h.as_str().to_owned()).unwrap_or_default();
                (format!("{org}|current|{hash}"), hash)
            }
            Credential::Previous => {
                let hash = settings.previous_token.as_ref().map(|p| p.hash.as_str().to_owned()).unwrap_or_default();
                (format!("{org}|previous|{hash}"), hash)
            }
            Credential::Access(client) => (format!("{org}|client|{}", client.as_str()), String::new()),
        };
        if !self.first_this_minute(name, now) {
            return;
        }
        let (store, org, credential) = (store.clone(), org.clone(), credential.clone());
        background.spawn_after_response(async move {
            let written = match &credential {
                Credential::Current => store.record_token_use(&org, &hash, now).await,
                Credential::Previous => store.record_previous_token_use(&org, &hash, now).await,
                Credential::Access(client) => store.record_client_use(&org, client, now).await,
            };
            if let Err(err) = written {
                tracing::warn!(error = %crate::telemetry::Chain(&err), org = %org, "recording a credential's last use failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_use_is_written_once_a_minute() {
        let at = |s| Utc.timestamp_opt(s, 0).single().unwrap();
        let memory = LastUseMemory::default();
        assert!(memory.first_this_minute("t|a".into(), at(600)));
        assert!(!memory.first_this_minute("t|a".into(), at(659)));
        assert!(memory.first_this_minute("t|b".into(), at(659)));
        assert!(memory.first_this_minute("t|a".into(), at(660)));
        assert!(LastUseMemory::default().first_this_minute("t|a".into(), at(660)), "per instance");
    }
}
