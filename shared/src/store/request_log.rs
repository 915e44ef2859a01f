//! SCIM request log items: one per request, per organization, newest first, kept 30 days.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{from_item, s, to_item};
use super::keys::{log_pk, member_timeline_pk, timed_sk};
use super::{Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::OrgId;
use crate::log::{AttributeChange, MaskedBody, Redacted, SubjectKind};

/// What the log keeps of one SCIM request. Built only from redacted parts of the request: no
/// header values except the User-Agent, no request body, no token. Every field that holds request
/// text is [`Redacted`], so no code path can store a secret the request carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLogRecord {
    pub org: OrgId,
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: Redacted,
    pub query: Option<Redacted>,
    pub status: u16,
    pub latency_ms: u64,
    /// `okta`, `azure` or `unknown`, guessed from the User-Agent.
    pub idp: String,
    pub user_agent: Option<Redacted>,
    pub resource_type: Option<String>,
    pub scim_type: Option<String>,
    pub detail: Option<Redacted>,
    /// Non-standard input accepted from the IdP for this request (e.g. `capitalised_op`).
    pub tolerances: Vec<String>,
    /// Whether the caller's token passed the check; anyone can send the others (logged at a
    /// bounded rate). A record written before this was recorded reads as false.
    #[serde(default)]
    pub authenticated: bool,
    /// The organization's own credential the request was refused for (never the credential):
    /// the log row and connector health say which (docs/ARCHITECTURE.md, "Connector health").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<crate::domain::health::RefusedCredential>,
    /// The user or group acted on (told by the use case), and the operation: its name (for
    /// filters, `log::OPERATION_NAMES`) and in words ("Deactivated bob@…").
    #[serde(default)]
    pub subject_kind: Option<SubjectKind>,
    #[serde(default)]
    pub subject_id: Option<String>,
    #[serde(default)]
    pub subject_name: Option<Redacted>,
    /// Lowercase name and id, for the subject filter (`contains`).
    #[serde(default)]
    pub subject_key: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub summary: Option<Redacted>,
    /// Bodies, masked at write (set by the log writer: `log::CapturedBodies`).
    #[serde(default)]
    pub request_body: Option<MaskedBody>,
    #[serde(default)]
    pub response_body: Option<MaskedBody>,
}

/// One event of a member's provisioning timeline (docs/ARCHITECTURE.md, "Member timeline"):
/// written with the request-log record of the request that made it, kept as long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub org: OrgId,
    pub member_id: String,
    pub user_name: Redacted,
    pub at: DateTime<Utc>,
    /// The request-log record of the request that made it.
    pub request_id: String,
    /// Its place among the request's events (part of its key).
    #[serde(default)]
    pub seq: usize,
    pub idp: String,
    /// "Created", "Updated", "Deactivated", "Joined Engineering"…
    pub summary: Redacted,
    /// Each attribute's old and new value, masked.
    #[serde(default)]
    pub changes: Vec<AttributeChange>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub team: Option<Redacted>,
}

#[derive(Serialize, Deserialize)]
struct TimelineItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    entry: TimelineEntry,
}

fn timeline_item(entry: &TimelineEntry) -> Result<super::Item, StoreError> {
    to_item(&TimelineItem {
        pk: member_timeline_pk(&entry.org, &entry.member_id),
        // The request id and the event's place keep keys unique, also when one request touches
        // a member twice (newest first within a request too: a later event has a higher place).
        sk: timed_sk(entry.at, &format!("{}#{:04}", entry.request_id, entry.seq)),
        ttl: (entry.at + crate::lifetimes::REQUEST_LOG_RETENTION).timestamp(),
        entry: entry.clone(),
    })
}

#[derive(Serialize, Deserialize)]
struct RequestLogItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    record: RequestLogRecord,
}

fn request_log_item(record: &RequestLogRecord) -> Result<super::Item, StoreError> {
    to_item(&RequestLogItem {
        pk: log_pk(&record.org),
        sk: timed_sk(record.at, &record.request_id),
        ttl: (record.at + crate::lifetimes::REQUEST_LOG_RETENTION).timestamp(),
        record: record.clone(),
    })
}

impl Store {
    pub async fn put_request_log(&self, record: &RequestLogRecord) -> Result<(), StoreError> {
        self.put_unconditionally(request_log_item(record)?).await?;
        Ok(())
    }

    /// Several records in one BatchWriteItem per 25 (the writer coalesces the records of requests
    /// that end together); one record is one PutItem.
    pub async fn put_request_logs(&self, records: &[RequestLogRecord]) -> Result<(), StoreError> {
        match records {
            [] => Ok(()),
            [record] => self.put_request_log(record).await,
            _ => self.put_all(records.iter().map(request_log_item).collect::<Result<_, _>>()?).await,
        }
    }

    /// Records with their members' timeline entries, in the same BatchWriteItem(s) (25 items each);
    /// a lone record without entries is one PutItem.
    pub async fn put_request_logs_with_timelines(
        &self,
        records: &[(RequestLogRecord, Vec<TimelineEntry>)],
    ) -> Result<(), StoreError> {
        if records.iter().all(|(_, entries)| entries.is_empty()) {
            let plain: Vec<RequestLogRecord> = records.iter().map(|(r, _)| r.clone()).collect();
            return self.put_request_logs(&plain).await;
        }
        let mut items = Vec::new();
        for (record, entries) in records {
            items.push(request_log_item(record)?);
            for entry in entries {
                items.push(timeline_item(entry)?);
            }
        }
        self.put_all(items).await
    }

    /// One member's timeline, newest first: one Query of its partition.
    pub async fn member_timeline(
        &self,
        org: &AuthorizedOrg,
        member_id: &str,
        limit: i32,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(member_timeline_pk(org, member_id)))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<TimelineItem>(item).map(|i| i.entry))
            .collect()
    }

    /// The newest `limit` records of an organization.
    pub async fn recent_request_logs(
        &self,
        org: &AuthorizedOrg,
        limit: i32,
    ) -> Result<Vec<RequestLogRecord>, StoreError> {
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(log_pk(org)))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<RequestLogItem>(item).map(|i| i.record))
            .collect()
    }
}
