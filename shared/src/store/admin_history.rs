//! What the console reads and records about an organization's SCIM: the history of changes
//! (enable, token refresh, disable: who, when, what), written in the same transaction as the
//! settings they change, and paged reads of the history and of the SCIM request log.
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{delete, from_item, key_item, put_new, s, to_item, Action, Item};
use super::keys::{history_pk, log_pk, sortable_time, timed_range_end, timed_sk};
use super::organizations::scim_settings_put;
use super::{Conflict, Record, RequestLogRecord, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{EmailAddress, IdentityProvider, OrgId, ScimSettings, TokenWindow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScimHistoryAction {
    Enabled,
    TokenRefreshed,
    /// By the token scheduler (no person acted).
    TokenAutoRefreshed,
    Disabled,
    /// The previous token's overlap ended (recorded with the rotation, at the time it ends; shown
    /// from then on).
    OverlapEnded,
    /// Every token of the organization and every OAuth grant stopped at once.
    TokensRevoked,
    OauthClientCreated,
    OauthClientDeleted,
    /// A reused refresh token or code revoked its refresh-token family (RFC 9700 §4.14.2).
    OauthFamilyRevoked,
    /// An owner turned the token scheduler's automatic refresh off, or on again.
    AutoRefreshOff,
    AutoRefreshOn,
    /// A wrong passphrase was given for a guarded change (`attempted` names it); nothing changed.
    /// Who and when only: never the attempt itself.
    PassphraseRefused,
}

/// The changes that need the acting person's passphrase (docs/ARCHITECTURE.md, "Tokens: rotation,
/// revoke, OAuth"): each issues a credential or stops provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardedAction {
    Enable,
    Refresh,
    Revoke,
    Disable,
    OauthClient,
    DeleteOauthClient,
    /// Turning automatic refresh off (a token then lives only its window) or on.
    AutoRefresh,
}

impl GuardedAction {
    /// What the person was doing, for "`passphrase` is required to …".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Enable => "enable SCIM",
            Self::Refresh => "refresh the token",
            Self::Revoke => "revoke the tokens",
            Self::Disable => "disable SCIM",
            Self::OauthClient => "create the OAuth client",
            Self::DeleteOauthClient => "delete the OAuth client",
            Self::AutoRefresh => "change the automatic refresh",
        }
    }
}

/// One change of an organization's SCIM settings. Never holds a token or its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimHistoryEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub action: ScimHistoryAction,
    /// Who did it; None for the scheduler.
    pub actor: Option<EmailAddress>,
    pub idp: Option<IdentityProvider>,
    pub window: Option<TokenWindow>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Of an automatic extension: the expiry it replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_token_expires_at: Option<DateTime<Utc>>,
    /// Of a rotation: until when the previous token keeps working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_until: Option<DateTime<Utc>>,
    /// Of an OAuth change: the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Of a refused passphrase: the change it was given for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted: Option<GuardedAction>,
}

impl ScimHistoryEntry {
    pub fn new(action: ScimHistoryAction, actor: Option<EmailAddress>, at: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at,
            action,
            actor,
            idp: None,
            window: None,
            token_expires_at: None,
            previous_token_expires_at: None,
            overlap_until: None,
            client_id: None,
            attempted: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct HistoryItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    entry: ScimHistoryEntry,
}

/// The put of a history entry, for a transaction with the change it records.
pub(crate) fn history_put_action(org: &OrgId, entry: &ScimHistoryEntry) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(&HistoryItem { pk: history_pk(org), sk: timed_sk(entry.at, &entry.id), entry: entry.clone() })?;
    put_new(item)
}

/// Which request-log records a page holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestLogFilter {
    /// Inclusive HTTP status range (e.g. 400..=499 for `4xx`).
    pub status: Option<(u16, u16)>,
    pub method: Option<String>,
    pub resource_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Part of the subject's name or id, lowercase (`contains` on `subject_key`).
    pub subject: Option<String>,
    /// An operation name (`log::OPERATION_NAMES`).
    pub operation: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the cursor does not belong to this query")]
    ForeignCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reading at most this many items per page request keeps a rare filter from running long; the
/// page then ends early with a cursor.
const MAX_QUERIES_PER_PAGE: usize = 10;
const FILTERED_BATCH: i32 = 200;

impl Store {
    /// Replaces the SCIM settings (if still at `expected_version`) and records the change, in one
    /// transaction: no change without its history entry. A lost race is `VersionMismatch`.
    pub async fn write_scim_settings_with_history(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        expected_version: Option<u64>,
        entry: &ScimHistoryEntry,
    ) -> Result<(), StoreError> {
        self.write_scim_settings_with_entries(org, settings, expected_version, std::slice::from_ref(entry), None).await
    }

    /// `write_scim_settings_with_history` with more entries, and the removal of an entry recorded
    /// ahead of time (`(at, id)`: a scheduled overlap end that a revoke or a new rotation moved).
    pub async fn write_scim_settings_with_entries(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        expected_version: Option<u64>,
        entries: &[ScimHistoryEntry],
        remove: Option<(DateTime<Utc>, String)>,
    ) -> Result<(), StoreError> {
        let settings_put = scim_settings_put(org, settings, expected_version)?.action()?;
        let mut actions = vec![(settings_put, Conflict::SettingsChanged)];
        for entry in entries {
            actions.push((history_put_action(org, entry)?, Conflict::Exists(Record::HistoryEntry)));
        }
        if let Some((at, id)) = remove {
            let scheduled = delete(key_item(history_pk(org), timed_sk(at, &id))).action()?;
            actions.push((scheduled, Conflict::Changed(Record::ScheduledEntry)));
        }
        match self.transact(actions).await {
            Err(StoreError::Conflict(Conflict::SettingsChanged)) => Err(StoreError::VersionMismatch),
            other => other,
        }
    }

    /// Records a change made elsewhere (e.g. by `enablement::enable_scim`).
    pub async fn append_scim_history(&self, org: &AuthorizedOrg, entry: &ScimHistoryEntry) -> Result<(), StoreError> {
        self.transact(vec![(history_put_action(org, entry)?, Conflict::Exists(Record::HistoryEntry))]).await
    }

    /// History entries, newest first, after the sort key `after`; with the key to continue from.
    pub async fn scim_history_page(
        &self,
        org: &AuthorizedOrg,
        after: Option<String>,
        limit: i32,
    ) -> Result<(Vec<ScimHistoryEntry>, Option<String>), PageError> {
        let (items, next) = self.newest_first(history_pk(org), None, after, limit).await?;
        let entries = items
            .into_iter()
            .map(|item| from_item::<HistoryItem>(item).map(|i| i.entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((entries, next))
    }

    /// Request-log records, newest first, matching `filter`, after the sort key `after`; with the
    /// key to continue from.
    pub async fn request_logs_page(
        &self,
        org: &AuthorizedOrg,
        filter: &RequestLogFilter,
        after: Option<String>,
        limit: i32,
    ) -> Result<(Vec<RequestLogRecord>, Option<String>), PageError> {
        let (items, next) = self.newest_first(log_pk(org), Some(filter), after, limit).await?;
        // The item's keys and ttl are ignored by the record's codec.
        let records = items.into_iter().map(from_item::<RequestLogRecord>).collect::<Result<Vec<_>, _>>()?;
        Ok((records, next))
    }

    /// A page of one partition, newest (highest sort key) first, optionally filtered; the page is
    /// filled over several queries when a filter drops items.
    async fn newest_first(
        &self,
        pk: String,
        filter: Option<&RequestLogFilter>,
        after: Option<String>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<String>), PageError> {
        let wanted = usize::try_from(limit.max(1)).unwrap_or(1);
        let range = filter.map(time_range).unwrap_or((None, None));
        if let Some(after) = &after {
            let below = range.0.as_ref().is_some_and(|lo| after < lo);
            let above = range.1.as_ref().is_some_and(|hi| after > hi);
            if below || above || after.is_empty() {
                return Err(PageError::ForeignCursor);
            }
        }
        let mut start: Option<Item> = after.map(|sk| key_item(pk.clone(), sk.to_owned()));
        let mut found: Vec<Item> = Vec::new();
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let remaining = wanted - found.len();
            let batch = match filter.map(filter_expression) {
                Some(Some(_)) => FILTERED_BATCH,
                _ => i32::try_from(remaining).unwrap_or(i32::MAX),
            };
            let mut query = self
                .query_table()
                .scan_index_forward(false)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start.take())
                .limit(batch);
            query = match &range {
                (Some(lo), Some(hi)) => query
                    .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi)),
                (Some(lo), None) => {
                    query.key_condition_expression("PK = :pk AND SK >= :lo").expression_attribute_values(":lo", s(lo))
                }
                (None, Some(hi)) => {
                    query.key_condition_expression("PK = :pk AND SK <= :hi").expression_attribute_values(":hi", s(hi))
                }
                (None, None) => query.key_condition_expression("PK = :pk"),
            };
            if let Some(Some((expression, names, values))) = filter.map(filter_expression) {
                query = query.filter_expression(expression);
                for (name, attribute) in names {
                    query = query.expression_attribute_names(name, attribute);
                }
                for (name, value) in values {
                    query = query.expression_attribute_values(name, value);
                }
            }
            let output = query.send().await.map_err(StoreError::from_sdk)?;
            let mut items = output.items.unwrap_or_default().into_iter();
            for item in items.by_ref() {
                found.push(item);
                if found.len() == wanted {
                    break;
                }
            }
            let more_in_batch = items.next().is_some();
            if found.len() == wanted {
                // Continue after the last item handed out (not after the batch: it may hold more).
                let last_sk = found.last().and_then(|i| i.get("SK")).and_then(|v| v.as_s().ok()).cloned();
                let more = more_in_batch || output.last_evaluated_key.is_some();
                return Ok((found, last_sk.filter(|_| more)));
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok((found, None)),
            }
        }
        // Stopped early: continue from where the last query stopped.
        let next = start.as_ref().and_then(|k| k.get("SK")).and_then(|v| v.as_s().ok()).cloned();
        Ok((found, next))
    }
}

/// The sort-key bounds of a time range (sort keys start with the fixed-width time).
fn time_range(filter: &RequestLogFilter) -> (Option<String>, Option<String>) {
    (filter.from.map(sortable_time), filter.to.map(timed_range_end))
}

type Expression = (String, Vec<(String, String)>, Vec<(String, aws_sdk_dynamodb::types::AttributeValue)>);

fn filter_expression(filter: &RequestLogFilter) -> Option<Expression> {
    let mut clauses = Vec::new();
    let mut names = Vec::new();
    let mut values = Vec::new();
    if let Some((lo, hi)) = filter.status {
        clauses.push("#status BETWEEN :status_lo AND :status_hi".to_owned());
        names.push(("#status".to_owned(), "status".to_owned()));
        values.push((":status_lo".to_owned(), aws_sdk_dynamodb::types::AttributeValue::N(lo.to_string())));
        values.push((":status_hi".to_owned(), aws_sdk_dynamodb::types::AttributeValue::N(hi.to_string())));
    }
    if let Some(method) = &filter.method {
        clauses.push("#method = :method".to_owned());
        names.push(("#method".to_owned(), "method".to_owned()));
        values.push((":method".to_owned(), s(method)));
    }
    if let Some(resource_type) = &filter.resource_type {
        clauses.push("#resource_type = :resource_type".to_owned());
        names.push(("#resource_type".to_owned(), "resource_type".to_owned()));
        values.push((":resource_type".to_owned(), s(resource_type)));
    }
    if let Some(subject) = &filter.subject {
        clauses.push("contains(#subject_key, :subject)".to_owned());
        names.push(("#subject_key".to_owned(), "subject_key".to_owned()));
        values.push((":subject".to_owned(), s(subject)));
    }
    if let Some(operation) = &filter.operation {
        clauses.push("#operation = :operation".to_owned());
        names.push(("#operation".to_owned(), "operation".to_owned()));
        values.push((":operation".to_owned(), s(operation)));
    }
    (!clauses.is_empty()).then(|| (clauses.join(" AND "), names, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_bounds_enclose_every_key_of_the_range() {
        let from = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 11, 3, 11, 0, 0).unwrap();
        let (lo, hi) = time_range(&RequestLogFilter { from: Some(from), to: Some(to), ..Default::default() });
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        let inside = format!("{}#abc", sortable_time(to));
        let before = format!("{}#abc", sortable_time(from - chrono::Duration::microseconds(1)));
        let after = format!("{}#abc", sortable_time(to + chrono::Duration::microseconds(1)));
        assert!(lo <= inside && inside <= hi);
        assert!(before < lo);
        assert!(after > hi);
    }

    #[test]
    fn filters_become_one_expression() {
        assert!(filter_expression(&RequestLogFilter::default()).is_none());
        let filter = RequestLogFilter {
            status: Some((400, 499)),
            method: Some("PATCH".into()),
            resource_type: Some("Users".into()),
            ..Default::default()
        };
        let (expression, names, values) = filter_expression(&filter).unwrap();
        assert_eq!(
            expression,
            "#status BETWEEN :status_lo AND :status_hi AND #method = :method AND #resource_type = :resource_type"
        );
        assert_eq!(names.len(), 3);
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn history_entries_never_carry_a_token() {
        let entry = ScimHistoryEntry::new(ScimHistoryAction::Enabled, None, Utc::now());
        let item = to_item(&HistoryItem { pk: "p".into(), sk: "s".into(), entry }).unwrap();
        assert!(!item.keys().any(|k| k.contains("token_hash")));
    }
}
