//! The SCIM request log as admins read it: newest first, paged, filtered. Each record is shown as
//! it was written: it never holds a header value other than the User-Agent, nor a body, and its
//! request text was masked before the write (`log::Redactor`).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::authz::OrgCaller;
use super::cursor::Cursor;
use super::{AdminError, Console};
use crate::log::{Redacted, SubjectKind, OPERATION_NAMES};
use crate::store::{RequestLogFilter, RequestLogRecord};

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 200;
const RESOURCE_TYPES: [&str; 5] = ["Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas"];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const PARAMETERS: [&str; 9] =
    ["status", "method", "resourceType", "from", "to", "subject", "operation", "limit", "cursor"];
/// What one page of the log holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub filter: RequestLogFilter,
    pub after: Option<String>,
    pub limit: i32,
}

fn invalid(message: String) -> AdminError {
    AdminError::InvalidRequest(message)
}

fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, AdminError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(format!("`{name}` must be an RFC 3339 time such as 2026-11-03T10:00:00Z, not '{raw}'.")))
}

/// `limit` of a paged endpoint: 1 to `max`, `default` when absent.
pub fn parse_limit(raw: Option<&String>, default: i32, max: i32) -> Result<i32, AdminError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| invalid(format!("`limit` must be a whole number from 1 to {max}, not '{raw}'."))),
    }
}

impl LogQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, AdminError> {
        if let Some(unknown) = params.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
            return Err(invalid(format!("Unknown parameter `{unknown}`; accepted: {}.", PARAMETERS.join(", "))));
        }
        let status = params
            .get("status")
            .map(|raw| {
                let lower = raw.trim().to_ascii_lowercase();
                let class =
                    lower.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()).filter(|d| (1..=5).contains(d));
                match (class, lower.parse::<u16>().ok().filter(|n| (100..=599).contains(n))) {
                    (Some(class), _) => Ok((class * 100, class * 100 + 99)),
                    (None, Some(exact)) => Ok((exact, exact)),
                    _ => Err(invalid(format!(
                        "`status` must be a class (2xx, 4xx, 5xx…) or a status code, not '{raw}'."
                    ))),
                }
            })
            .transpose()?;
        let method = params
            .get("method")
            .map(|raw| {
                let upper = raw.trim().to_ascii_uppercase();
                METHODS
                    .contains(&upper.as_str())
                    .then_some(upper)
                    .ok_or_else(|| invalid(format!("`method` must be one of {}, not '{raw}'.", METHODS.join(", "))))
            })
            .transpose()?;
        let resource_type = params
            .get("resourceType")
            .map(|raw| {
                RESOURCE_TYPES.iter().find(|t| t.eq_ignore_ascii_case(raw.trim())).map(|t| (*t).to_owned()).ok_or_else(
                    || invalid(format!("`resourceType` must be one of {}, not '{raw}'.", RESOURCE_TYPES.join(", "))),
                )
            })
            .transpose()?;
        let from = params.get("from").map(|raw| parse_time("from", raw)).transpose()?;
        let to = params.get("to").map(|raw| parse_time("to", raw)).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(invalid("`from` must not be later than `to`.".into()));
            }
        }
        // A userName, displayName or id, or part of one, in any case.
        let subject = params
            .get("subject")
            .map(|raw| raw.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .map(|s| {
                (s.chars().count() <= 256)
                    .then_some(s)
                    .ok_or_else(|| invalid("`subject` must be at most 256 characters.".into()))
            })
            .transpose()?;
        let operation = params
            .get("operation")
            .map(|raw| {
                let lower = raw.trim().to_ascii_lowercase();
                OPERATION_NAMES.iter().find(|o| **o == lower).map(|o| (*o).to_owned()).ok_or_else(|| {
                    invalid(format!("`operation` must be one of {}, not '{raw}'.", OPERATION_NAMES.join(", ")))
                })
            })
            .transpose()?;
        let limit = parse_limit(params.get("limit"), DEFAULT_PAGE, MAX_PAGE)?;
        let after = params.get("cursor").map(|raw| Cursor::decode(raw)).transpose()?;
        let filter = RequestLogFilter { status, method, resource_type, from, to, subject, operation };
        Ok(Self { filter, after, limit })
    }
}

/// One request of the log, as shown to admins.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub latency_ms: u64,
    pub idp: String,
    pub user_agent: Option<String>,
    pub resource_type: Option<String>,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// Non-standard input from the IdP that was accepted (e.g. `capitalised_op`).
    pub tolerances: Vec<String>,
    /// Whether the caller presented a token that passed; the others could come from anyone.
    pub authenticated: bool,
    /// The organization's own credential it was refused for, in words ("the token replaced on …").
    pub refused: Option<String>,
    pub subject: Option<SubjectView>,
    /// The operation's name (`log::OPERATION_NAMES`) and the request in words.
    pub operation: Option<String>,
    pub summary: Option<String>,
    /// Bodies as stored: masked, at most 16 KB each.
    pub request_body: Option<BodyView>,
    pub response_body: Option<BodyView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectView {
    pub kind: Option<SubjectKind>,
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BodyView {
    pub text: String,
    pub bytes: usize,
    pub truncated: bool,
}

impl From<crate::log::MaskedBody> for BodyView {
    fn from(body: crate::log::MaskedBody) -> Self {
        Self { text: body.text().to_owned(), bytes: body.bytes(), truncated: body.truncated() }
    }
}

impl From<RequestLogRecord> for LogView {
    fn from(record: RequestLogRecord) -> Self {
        Self {
            request_id: record.request_id,
            at: record.at,
            method: record.method,
            path: record.path.into_string(),
            query: record.query.map(Redacted::into_string),
            status: record.status,
            latency_ms: record.latency_ms,
            idp: record.idp,
            user_agent: record.user_agent.map(Redacted::into_string),
            resource_type: record.resource_type,
            scim_type: record.scim_type,
            detail: record.detail.map(Redacted::into_string),
            tolerances: record.tolerances,
            authenticated: record.authenticated,
            refused: record.refused.map(|credential| credential.words()),
            subject: record.subject_id.map(|id| SubjectView {
                kind: record.subject_kind,
                id,
                name: record.subject_name.map(Redacted::into_string),
            }),
            operation: record.operation,
            summary: record.summary.map(Redacted::into_string),
            request_body: record.request_body.map(BodyView::from),
            response_body: record.response_body.map(BodyView::from),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    pub logs: Vec<LogView>,
    pub next_cursor: Option<String>,
}

impl Console {
    pub async fn scim_logs(&self, caller: &OrgCaller, query: &LogQuery) -> Result<LogPage, AdminError> {
        caller.require_admin()?;
        let (records, next) =
            self.store.request_logs_page(&caller.org, &query.filter, query.after.clone(), query.limit).await?;
        Ok(LogPage {
            logs: records.into_iter().map(LogView::from).collect(),
            next_cursor: next.as_deref().map(Cursor::encode),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn queries_parse_with_their_defaults_and_name_bad_values() {
        let query =
            LogQuery::parse(&params(&[("status", "4XX"), ("method", "patch"), ("resourceType", "users")])).unwrap();
        assert_eq!(query.filter.status, Some((400, 499)));
        assert_eq!(query.filter.method.as_deref(), Some("PATCH"));
        assert_eq!(query.filter.resource_type.as_deref(), Some("Users"));
        assert_eq!(query.limit, DEFAULT_PAGE);
        assert_eq!(LogQuery::parse(&params(&[("status", "404")])).unwrap().filter.status, Some((404, 404)));
        for (name, value, expected) in [
            ("status", "6xx", "`status`"),
            ("method", "TRACE", "`method`"),
            ("resourceType", "Bulk", "`resourceType`"),
            ("from", "yesterday", "`from`"),
            ("limit", "0", "`limit`"),
            ("limit", "500", "`limit`"),
            ("cursor", "!!", "cursor"),
            ("sort", "x", "Unknown parameter `sort`"),
        ] {
            let err = LogQuery::parse(&params(&[(name, value)])).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}={value}: {err}");
        }
        let described =
            LogQuery::parse(&params(&[("subject", " Bob@Example.com "), ("operation", "Deactivated")])).unwrap();
        assert_eq!(described.filter.subject.as_deref(), Some("bob@example.com"));
        assert_eq!(described.filter.operation.as_deref(), Some("deactivated"));
        let err = LogQuery::parse(&params(&[("operation", "renamed")])).unwrap_err().to_string();
        assert!(err.contains("`operation` must be one of created"), "{err}");
        let backwards = params(&[("from", "2026-11-03T11:00:00Z"), ("to", "2026-11-03T10:00:00Z")]);
        assert!(LogQuery::parse(&backwards).is_err());
    }
}
