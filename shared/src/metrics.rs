//! CloudWatch metrics as embedded-metric-format (EMF) log lines: one JSON line per request or
//! scheduler run on stdout, which CloudWatch Logs turns into metrics with no API call and no
//! latency on the request path. The template's dashboard and alarms read them (namespace
//! [`NAMESPACE`]).
//!
//! The lines are written here, not by a crate, because none fits what they carry. Each request
//! writes its own line, with its request id as a property (to join its logs) and two dimension sets
//! (by status class and IdP, and the total `[]` that alarms and graphs read).
//! `metrics_cloudwatch_embedded` (a recorder for the `metrics` facade) aggregates counters
//! process-wide in a `&'static` collector until a flush, with one dimension set per document and
//! properties shared by every request in flight (the dev server serves many at once);
//! `metrique-writer-format-emf` (awslabs) is a wide-event framework (derive macros, a global entry
//! sink) around the same JSON; smaller ones have had a single release. The format is one JSON
//! object (docs/ARCHITECTURE.md, "Metrics"), this module is its whole writer over the `serde_json`
//! the Lambdas already link, and the tests below pin its shape.
use serde_json::{json, Map, Value};

/// The namespace every metric of this service is in.
pub const NAMESPACE: &str = "InsomniaScim";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF line: dimension values, metric values, and the dimension sets to publish them under.
#[derive(Debug, Clone, Default)]
pub struct MetricLine {
    dimensions: Vec<(&'static str, String)>,
    /// Dimension sets by name (each a subset of `dimensions`); `[]` publishes the total.
    sets: Vec<Vec<&'static str>>,
    metrics: Vec<(&'static str, Unit, f64)>,
    /// Values that are neither dimension nor metric (the request id, to join the request's logs).
    properties: Vec<(&'static str, String)>,
}

impl MetricLine {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Also publish the metrics under these dimensions only (the first set is always all of them).
    pub fn also_by(mut self, set: &[&'static str]) -> Self {
        self.sets.push(set.to_vec());
        self
    }

    /// A value kept in the line only (searchable in CloudWatch Logs, not a metric dimension).
    pub fn property(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.properties.push((name, value.into()));
        self
    }

    pub fn count(self, name: &'static str, value: u64) -> Self {
        self.metric(name, Unit::Count, value as f64)
    }

    pub fn millis(self, name: &'static str, value: u64) -> Self {
        self.metric(name, Unit::Milliseconds, value as f64)
    }

    fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    /// The line's JSON (`_aws.CloudWatchMetrics` with Namespace, Dimensions, Metrics; values at the root).
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let all: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let mut sets = vec![all];
        sets.extend(self.sets.iter().cloned());
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": self.metrics.iter()
                        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        for (name, value) in self.properties.iter().chain(&self.dimensions) {
            root.insert((*name).into(), Value::String(value.clone()));
        }
        for (name, _, value) in &self.metrics {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root)
    }

    /// Writes the line to stdout, where the Lambda runtime hands it to CloudWatch Logs.
    pub fn emit(&self, timestamp_ms: i64) {
        println!("{}", self.to_json(timestamp_ms));
    }
}

/// `2xx`, `4xx`, `5xx`… of an HTTP status.
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_has_the_emf_shape() {
        let line = MetricLine::new()
            .dimension("StatusClass", status_class(429))
            .dimension("Idp", "okta")
            .also_by(&[])
            .property("request_id", "r-1")
            .count("Requests", 1)
            .millis("Latency", 12)
            .to_json(1_700_000_000_000);
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "InsomniaScim",
                        "Dimensions": [["StatusClass", "Idp"], []],
                        "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]
                    }]
                },
                "StatusClass": "4xx",
                "Idp": "okta",
                "request_id": "r-1",
                "Requests": 1.0,
                "Latency": 12.0
            })
        );
    }

    #[test]
    fn every_metric_and_dimension_named_in_the_directive_has_a_value() {
        let line = MetricLine::new().dimension("Org", "acme").count("OverBudget", 1).to_json(0);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                assert!(line[name.as_str().unwrap()].is_string(), "{line}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(line[metric["Name"].as_str().unwrap()].is_number(), "{line}");
        }
        // One line, as CloudWatch Logs reads it.
        assert!(!line.to_string().contains('\n'));
    }
}

/// The metric line of one email delivered off the request path (the welcome email); the
/// scheduler's run reports its own in its summary line.
pub fn email_outcome(outcome: &crate::notify::DeliveryOutcome) -> MetricLine {
    use crate::notify::DeliveryOutcome as O;
    let (sent, retried, failed) = match outcome {
        O::Sent => (1, 0, 0),
        O::Retrying { .. } | O::Deferred { .. } => (0, 1, 0),
        O::NotNeeded | O::ClaimedElsewhere => (0, 0, 0),
        O::FailedPermanently { .. } => (0, 0, 1),
    };
    MetricLine::new().count("EmailsSent", sent).count("EmailsRetried", retried).count("EmailsFailed", failed)
}

/// What one request did, counted as it goes: the counters live in a task-local of the request's
/// future (set by the request-log middleware), so the store and the retry policy count without
/// being handed anything, and work spawned off the request (its log write) is not counted.
#[derive(Debug, Default)]
pub struct RequestCounters {
    dynamodb_calls: std::sync::atomic::AtomicU64,
    conflicts: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
}

tokio::task_local! {
    static COUNTERS: std::sync::Arc<RequestCounters>;
}

impl RequestCounters {
    /// DynamoDB requests sent (each attempt counts).
    pub fn dynamodb_calls(&self) -> u64 {
        self.dynamodb_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes that lost a race to another writer and were tried again.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Pauses of the retry policy, for whatever reason.
    pub fn retries(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Runs `work` with `counters` counting what it does.
pub async fn counting<F: std::future::Future>(counters: std::sync::Arc<RequestCounters>, work: F) -> F::Output {
    COUNTERS.scope(counters, work).await
}

fn bump(field: impl FnOnce(&RequestCounters) -> &std::sync::atomic::AtomicU64) {
    let _ = COUNTERS.try_with(|counters| field(counters).fetch_add(1, std::sync::atomic::Ordering::Relaxed));
}

pub fn count_dynamodb_call() {
    bump(|c| &c.dynamodb_calls);
}

pub fn count_conflict() {
    bump(|c| &c.conflicts);
}

pub fn count_retry() {
    bump(|c| &c.retries);
}

#[cfg(test)]
mod counter_tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn counts_land_in_the_request_that_made_them_and_nowhere_else() {
        let counters = Arc::new(RequestCounters::default());
        counting(counters.clone(), async {
            count_dynamodb_call();
            count_dynamodb_call();
            count_conflict();
            count_retry();
        })
        .await;
        // Outside any request: nothing to count into, and nothing fails.
        count_dynamodb_call();
        assert_eq!((counters.dynamodb_calls(), counters.conflicts(), counters.retries()), (2, 1, 1));
    }
}
