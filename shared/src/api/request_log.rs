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
use crate::log::{guess_idp, CapturedBodies, Redactor, RequestLogRecord, Tap};
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

    // The handler reads the body as sent; the log keeps the chunks it read (docs/ARCHITECTURE.md,
    // "Request log").
    let (parts, body) = request.into_parts();
    let (body, tapped) = Tap::wrap(body);
    let request = Request::from_parts(parts, body);

    let counters = std::sync::Arc::new(crate::metrics::RequestCounters::default());
    let response = crate::metrics::counting(counters.clone(), next.run(request).instrument(span)).await;
    // The answer is already whole (a handler's body is one buffer): kept as it is sent, by handle.
    let (parts, body) = response.into_parts();
    let answered = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut response = Response::from_parts(parts, axum::body::Body::from(answered.clone()));

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
        let subject = note.subject.as_ref();
        let summary = note.operation.as_ref().map(|operation| {
            let mut words = operation.words(subject);
            if note.timeline_overflow > 0 {
                words.push_str(&format!(
                    " (timelines written for the first {} members, and {} more not)",
                    crate::log::TIMELINE_MEMBERS_PER_REQUEST,
                    note.timeline_overflow
                ));
            }
            redactor.text(&words).clipped(1024)
        });
        let subject_name = subject.map(|s| redactor.text(&s.name).clipped(256));
        let subject_id = subject.map(|s| redactor.text(&s.id).clipped(256).into_string());
        let subject_key = match (&subject_name, &subject_id) {
            (Some(name), Some(id)) => Some(format!("{} {}", name.to_lowercase(), id.to_lowercase())),
            _ => None,
        };
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
            subject_kind: subject.map(|s| s.kind),
            subject_id,
            subject_name,
            subject_key,
            operation: note.operation.as_ref().map(|o| o.name().to_owned()),
            summary,
            request_body: None,
            response_body: None,
        };
        // Discovery documents are the same for every caller and large (Schemas): not kept when
        // they were answered.
        let discovery =
            matches!(record.resource_type.as_deref(), Some("ServiceProviderConfig" | "Schemas" | "ResourceTypes"));
        let response = if discovery && status < 400 { bytes::Bytes::new() } else { answered };
        let captured = CapturedBodies { redactor, request: tapped, response, member_events: note.member_events };
        if note.authenticated {
            app.logs.submit_captured(record, captured);
        } else {
            // Anyone can send these: a bounded number per organization and source is kept.
            app.logs.submit_unauthenticated_captured(record, source, Some(captured));
        }
    }
    response
}
