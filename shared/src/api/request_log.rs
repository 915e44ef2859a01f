//! Middleware that records every SCIM request of a known organization in its request log, and
//! runs the request in a tracing span carrying the same request id, so that every log line of the
//! request joins its request-log record.
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use tracing::Instrument;

use super::scim_context::LogSlot;
use super::AppState;
use crate::log::{guess_idp, Redactor, RequestLogRecord};
use crate::scim::ScimError;

pub async fn record(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = app.clock.now();
    let slot = LogSlot::default();
    request.extensions_mut().insert(slot.clone());
    let request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = request.method().to_string();
    let source = super::admin::ClientSource::of_extensions(request.extensions()).0;
    // Masked before anything is kept (then clipped, so no cut leaves part of a secret unmasked).
    let credential = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let redactor = Redactor::with_credential(credential.and_then(|h| h.trim().split_once(' ')).map(|(_, t)| t));
    let path = redactor.text(request.uri().path()).clipped(512);
    let query = request.uri().query().map(|q| redactor.query(q).clipped(1024));
    let user_agent =
        request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|v| redactor.text(v).clipped(256));
    let resource_type = path.split('/').nth(5).map(|segment| segment.to_owned());
    // The route template, not the path: it holds no id, so it can be logged as it is.
    let route = request.extensions().get::<MatchedPath>().map(|matched| matched.as_str().to_owned());
    // `org` is filled in by the token check once the organization is known (`provisioning::Gate`),
    // the same moment it becomes known to the request log.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = route.as_deref().unwrap_or_default(),
        org = tracing::field::Empty,
    );

    let counters = std::sync::Arc::new(crate::metrics::RequestCounters::default());
    let mut response = crate::metrics::counting(counters.clone(), next.run(request).instrument(span)).await;

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let note = slot.take();
    let status = response.status().as_u16();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let idp = guess_idp(user_agent.as_deref());
    // Metrics of every SCIM request, as one EMF line (docs/ARCHITECTURE.md, "Metrics").
    let mut metrics = crate::metrics::MetricLine::new()
        .dimension("StatusClass", crate::metrics::status_class(status))
        .dimension("Idp", idp)
        .also_by(&[])
        // Joins the request's other log lines and its request-log record.
        .property("request_id", request_id.clone())
        .property("org", note.org.as_ref().map(|org| org.as_str().to_owned()).unwrap_or_default())
        .count("Requests", 1)
        .millis("Latency", latency_ms)
        .count("DynamoDbCalls", counters.dynamodb_calls())
        .count("Conflicts", counters.conflicts())
        .count("Retries", counters.retries());
    if status == 429 {
        metrics = metrics.count("OverBudget", 1);
    }
    metrics.emit(at.timestamp_millis());
    if status == 429 {
        if let Some(org) = &note.org {
            // Per organization, for the alarm on one organization's 429s.
            crate::metrics::MetricLine::new()
                .dimension("Org", org.as_str())
                .count("OverBudget", 1)
                .emit(at.timestamp_millis());
        }
    }
    if let Some(org) = note.org {
        let error = response.extensions().get::<ScimError>();
        let record = RequestLogRecord {
            org,
            request_id,
            at,
            method,
            path,
            query,
            status,
            latency_ms,
            idp: idp.to_owned(),
            user_agent,
            resource_type,
            scim_type: error.and_then(|e| e.scim_type).map(|t| t.as_str().to_owned()),
            detail: error.map(|e| redactor.text(&e.detail).clipped(1024)),
            tolerances: note.tolerances,
            authenticated: note.authenticated,
            refused: note.refused,
        };
        if note.authenticated {
            app.logs.submit(record);
        } else {
            // Anyone can send these: a bounded number per organization and source is kept.
            app.logs.submit_unauthenticated(record, source);
        }
    }
    response
}
