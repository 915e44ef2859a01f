//! The SCIM request log as admins read it: newest first, paged, filtered. Each record is shown as
//! the foundation wrote it (it never holds a header value other than the User-Agent, nor a body);
//! on top of that, anything shaped like a secret that an IdP put in a URL is masked here.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::authz::OrgCaller;
use super::cursor::Cursor;
use super::{AdminError, Console};
use crate::store::{RequestLogFilter, RequestLogRecord};

pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 200;
const RESOURCE_TYPES: [&str; 5] = ["Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas"];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const PARAMETERS: [&str; 7] = ["status", "method", "resourceType", "from", "to", "limit", "cursor"];
const MASK: &str = "[redacted]";
/// Query parameter names whose values are never shown.
const SECRET_NAMES: [&str; 8] =
    ["token", "password", "passphrase", "secret", "authorization", "key", "credential", "signature"];
/// Prefixes of this service's secrets (SCIM tokens, console sessions).
const SECRET_PREFIXES: [&str; 2] = ["iscim_", "isess_"];

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
        let limit = parse_limit(params.get("limit"), DEFAULT_PAGE, MAX_PAGE)?;
        let after = params.get("cursor").map(|raw| Cursor::decode(raw)).transpose()?;
        Ok(Self { filter: RequestLogFilter { status, method, resource_type, from, to }, after, limit })
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
}

impl From<RequestLogRecord> for LogView {
    fn from(record: RequestLogRecord) -> Self {
        Self {
            request_id: record.request_id,
            at: record.at,
            method: record.method,
            path: redact(&record.path),
            query: record.query.as_deref().map(redact_query),
            status: record.status,
            latency_ms: record.latency_ms,
            idp: record.idp,
            user_agent: record.user_agent.as_deref().map(redact),
            resource_type: record.resource_type,
            scim_type: record.scim_type,
            detail: record.detail.as_deref().map(redact),
            tolerances: record.tolerances,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    pub logs: Vec<LogView>,
    pub next_cursor: Option<String>,
}

/// A query string with the values of secret-named parameters masked, then `redact`ed.
fn redact_query(query: &str) -> String {
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_NAMES.iter().any(|s| name.to_ascii_lowercase().contains(s)) => {
                format!("{name}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    redact(&masked.join("&"))
}

/// Masks what looks like a secret in free text: this service's tokens, bearer credentials, and
/// the compared value of a `password` filter (as text or URL-encoded).
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in SECRET_PREFIXES {
        out = mask_after(&out, prefix, 1, |rest| {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        });
    }
    for marker in ["Bearer ", "bearer ", "Bearer%20", "bearer%20", "Bearer+", "bearer+"] {
        // Only a credential-sized value: prose such as "the bearer token is…" stays readable.
        out = mask_after(&out, marker, 16, |rest| rest.find(|c: char| c.is_whitespace() || c == '&' || c == '"'));
    }
    mask_password_values(&out)
}

/// Replaces the text after each `marker` up to `end(rest)` (or the end) with the mask, when it is
/// at least `min_len` bytes long.
fn mask_after(text: &str, marker: &str, min_len: usize, end: impl Fn(&str) -> Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        let after = &rest[at + marker.len()..];
        let stop = end(after).unwrap_or(after.len());
        if stop >= min_len.max(1) && !after[..stop].starts_with(MASK) {
            out.push_str(MASK);
        } else {
            out.push_str(&after[..stop]);
        }
        rest = &after[stop..];
    }
    out.push_str(rest);
    out
}

/// `password <op> "value"` (also `%22value%22`): the value is masked.
fn mask_password_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let start = search + found + "password".len();
        search = start;
        let bytes = lower.as_bytes();
        let mut i = start;
        let skip_separators = |mut i: usize| loop {
            if bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'+') {
                i += 1;
            } else if lower[i..].starts_with("%20") {
                i += 3;
            } else {
                return i;
            }
        };
        i = skip_separators(i);
        let operator_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        if i == operator_start {
            continue;
        }
        i = skip_separators(i);
        let quote = if lower[i..].starts_with('"') {
            "\""
        } else if lower[i..].starts_with("%22") {
            "%22"
        } else {
            continue;
        };
        let value_start = i + quote.len();
        let value_end = lower[value_start..].find(quote).map_or(lower.len(), |end| value_start + end);
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_end;
        search = value_end;
    }
    out.push_str(&text[copied..]);
    out
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
        let backwards = params(&[("from", "2026-11-03T11:00:00Z"), ("to", "2026-11-03T10:00:00Z")]);
        assert!(LogQuery::parse(&backwards).is_err());
    }

    #[test]
    fn secrets_in_urls_are_masked() {
        assert_eq!(redact_query("access_token=iscim_abc-def&count=5"), "access_token=[redacted]&count=5");
        assert_eq!(redact("/Users/iscim_abc_DEF-1/x"), "/Users/iscim_[redacted]/x");
        assert_eq!(redact("auth Bearer abcdefghij.klmnopqrst rest"), "auth Bearer [redacted] rest");
        let prose = "The bearer token is not valid for this organization's SCIM connector.";
        assert_eq!(redact(prose), prose);
        assert_eq!(
            redact_query("filter=password%20eq%20%22hunter2%22&startIndex=1"),
            "filter=password%20eq%20%22[redacted]%22&startIndex=1"
        );
        assert_eq!(
            redact(r#"password eq "hunter2" and userName eq "x""#),
            r#"password eq "[redacted]" and userName eq "x""#
        );
        assert_eq!(redact("userName eq \"password\""), "userName eq \"password\"");
        assert_eq!(redact("startIndex=1&count=10"), "startIndex=1&count=10");
        assert_eq!(redact(&redact("iscim_abc")), "iscim_[redacted]");
    }
}
