//! Connector health items (docs/ARCHITECTURE.md, "Connector health"): one per organization, its
//! counters in top-level attributes named by bucket (`c#<bucket>#<counter>`, `r#<bucket>#<reason>`:
//! DynamoDB's ADD works on top-level attributes only), updated by one UpdateItem per write pass of
//! the request log, never read first. A roster item per organization lets the scheduler visit them.
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::dynamo::{applied, key_item, n, s, to_attribute, update, Action, Item};
use super::keys::{org_pk, HEALTH_ROSTER_PK, HEALTH_SK};
use super::outbox::outbox_put_action;
use super::{Conflict, Record, Store, StoreError};
use crate::domain::health::{HealthDelta, HealthKind, HealthRecord, RefusedSeen};
use crate::domain::{OrgId, OutboxItem};

/// A health item as read: the record, and the names of its bucket attributes (to remove once
/// their bucket leaves the window).
#[derive(Debug, Clone, Default)]
pub struct StoredHealth {
    pub record: HealthRecord,
    /// Whether this write created the item (the roster learns the organization then).
    pub created: bool,
    bucket_attributes: Vec<(i64, String)>,
}

impl StoredHealth {
    /// The bucket attributes no longer in the window at `now`.
    fn stale_names(&self, now: DateTime<Utc>) -> Vec<String> {
        let stale = self.record.stale_buckets(now);
        self.bucket_attributes.iter().filter(|(b, _)| stale.contains(b)).map(|(_, name)| name.clone()).collect()
    }
}

fn health_key(org: &OrgId) -> Item {
    key_item(org_pk(org), HEALTH_SK.to_owned())
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)?.as_s().ok()?.parse().ok()
}

fn decode(item: Item) -> StoredHealth {
    let mut record = HealthRecord::default();
    let mut bucket_attributes = Vec::new();
    for (name, value) in &item {
        let number = value.as_n().ok().and_then(|v| v.parse::<u64>().ok());
        let mut parts = name.splitn(3, '#');
        let (Some(tag), Some(bucket), Some(rest)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let Ok(bucket) = bucket.parse::<i64>() else { continue };
        match (tag, number) {
            ("c", Some(count)) => record.buckets.entry(bucket).or_default().add(rest, count),
            ("r", Some(count)) => {
                record.reasons.entry(bucket).or_default().insert(rest.to_owned(), count);
            }
            _ => continue,
        }
        bucket_attributes.push((bucket, name.clone()));
    }
    record.last_call_at = time(&item, "last_call_at");
    record.prev_call_at = time(&item, "prev_call_at");
    record.last_success_at = time(&item, "last_success_at");
    record.last_refused = item
        .get("last_refused")
        .and_then(|value| serde_dynamo::from_attribute_value::<_, RefusedSeen>(value.clone()).ok());
    record.cycle_secs = item.get("cycle_secs").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok());
    record.state = item.get("state").and_then(|v| v.as_s().ok()).and_then(|v| HealthKind::parse(v));
    record.since = time(&item, "since");
    record.last_email_at = time(&item, "last_email_at");
    StoredHealth { record, created: false, bucket_attributes }
}

impl Store {
    /// Adds one write pass's counts to the organization's health item and returns it as it is
    /// now (one UpdateItem, `ALL_NEW`). `now`: the pass's time, stored as the item's first write
    /// when there was none.
    pub async fn record_health(
        &self,
        org: &OrgId,
        delta: &HealthDelta,
        now: DateTime<Utc>,
    ) -> Result<StoredHealth, StoreError> {
        // The pass that creates the item finds its own id in it (times can be equal, ids cannot).
        let pass = uuid::Uuid::new_v4().simple().to_string();
        let mut sets = vec!["first_at = if_not_exists(first_at, :now)".to_owned()];
        sets.push("first_pass = if_not_exists(first_pass, :pass)".to_owned());
        let mut adds = Vec::new();
        let mut request = self.client.update_item().table_name(&self.table).set_key(Some(health_key(org)));
        request = request.expression_attribute_values(":now", s(now.to_rfc3339()));
        request = request.expression_attribute_values(":pass", s(&pass));
        if let Some(at) = delta.last_call_at {
            // Evaluated against the item before this update: the call before this pass's.
            sets.push("prev_call_at = if_not_exists(last_call_at, :call)".to_owned());
            sets.push("last_call_at = :call".to_owned());
            request = request.expression_attribute_values(":call", s(at.to_rfc3339()));
        }
        if let Some(at) = delta.last_success_at {
            sets.push("last_success_at = :ok".to_owned());
            request = request.expression_attribute_values(":ok", s(at.to_rfc3339()));
        }
        if let Some(refused) = &delta.last_refused {
            sets.push("last_refused = :refused".to_owned());
            request = request.expression_attribute_values(":refused", to_attribute(refused)?);
        }
        let names = delta
            .counts
            .iter()
            .map(|((bucket, counter), count)| (format!("c#{bucket}#{counter}"), *count))
            .chain(delta.reasons.iter().map(|((bucket, reason), count)| (format!("r#{bucket}#{reason}"), *count)));
        for (i, (name, count)) in names.enumerate() {
            adds.push(format!("#a{i} :a{i}"));
            request = request.expression_attribute_names(format!("#a{i}"), name);
            request = request.expression_attribute_values(format!(":a{i}"), n(count));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        let output = request
            .update_expression(expression)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let item = output.attributes.unwrap_or_default();
        let created = item.get("first_pass").and_then(|v| v.as_s().ok()) == Some(&pass);
        Ok(StoredHealth { created, ..decode(item) })
    }

    /// The organization's health item, if its IdP ever called.
    pub async fn health(&self, org: &OrgId) -> Result<Option<StoredHealth>, StoreError> {
        let output = self.item_by_key(org_pk(org), HEALTH_SK).await?;
        Ok(output.item.map(decode))
    }

    /// Removes the buckets that left the window at `now` and stores a newly learned cycle: one
    /// UpdateItem, only when there is either.
    pub async fn tidy_health(
        &self,
        org: &OrgId,
        stored: &StoredHealth,
        cycle_secs: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let stale = stored.stale_names(now);
        if stale.is_empty() && cycle_secs.is_none() {
            return Ok(());
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(health_key(org)))
            .condition_expression("attribute_exists(PK)");
        let mut expression = String::new();
        if let Some(cycle) = cycle_secs {
            expression.push_str("SET cycle_secs = :cycle ");
            request = request.expression_attribute_values(":cycle", n(cycle));
        }
        if !stale.is_empty() {
            let removed: Vec<String> = (0..stale.len()).map(|i| format!("#s{i}")).collect();
            expression.push_str(&format!("REMOVE {}", removed.join(", ")));
            for (i, name) in stale.into_iter().enumerate() {
                request = request.expression_attribute_names(format!("#s{i}"), name);
            }
        }
        applied(request.update_expression(expression.trim()).send().await)?;
        Ok(())
    }

    /// Lists the organization for the scheduler's health rounds (idempotent).
    pub async fn enrol_health(&self, org: &OrgId) -> Result<(), StoreError> {
        self.put_unconditionally(key_item(HEALTH_ROSTER_PK.to_owned(), org.to_string())).await
    }

    /// Every organization with a health item.
    pub async fn health_roster(&self) -> Result<Vec<OrgId>, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(HEALTH_ROSTER_PK));
        let ids = self
            .query_all_decoded(query, |item| {
                Ok(item.get("SK").and_then(|v| v.as_s().ok()).and_then(|sk| OrgId::parse(sk).ok()))
            })
            .await?;
        Ok(ids.into_iter().flatten().collect())
    }

    /// Moves the stored state from `from` to `to` at `now`, with `email` queued in the same
    /// transaction (and its time recorded): `false` when another writer moved it first, so the
    /// email of a transition is queued once however many writers see it.
    pub async fn move_health(
        &self,
        org: &OrgId,
        from: Option<HealthKind>,
        to: HealthKind,
        now: DateTime<Utc>,
        email: Option<&OutboxItem>,
    ) -> Result<bool, StoreError> {
        let mut expression = "SET #state = :to, since = :now".to_owned();
        if email.is_some() {
            expression.push_str(", last_email_at = :now");
        }
        let condition = match from {
            Some(_) => "#state = :from",
            None => "attribute_exists(PK) AND attribute_not_exists(#state)",
        };
        let mut values = vec![(":to", s(to.as_str())), (":now", s(now.to_rfc3339()))];
        if let Some(from) = from {
            values.push((":from", s(from.as_str())));
        }
        let Some(email) = email else {
            // No email: the conditional update alone (a transaction only where there is one).
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(health_key(org)))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names("#state", "state");
            for (name, value) in values {
                request = request.expression_attribute_values(name, value);
            }
            return applied(request.send().await);
        };
        let mut set = update(health_key(org))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#state", "state");
        for (name, value) in values {
            set = set.expression_attribute_values(name, value);
        }
        let actions = vec![
            (set.action()?, Conflict::Changed(Record::Health)),
            (outbox_put_action(email)?, Conflict::Exists(Record::OutboxItem)),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Changed(Record::Health))) => Ok(false),
            Err(err) => Err(err),
        }
    }
}
