//! Request and response bodies as the request log sees them: the request body is copied as the
//! handler reads it (a [`Tap`], reference-counted chunks, no copy of the bytes), the response body
//! is kept as it is answered; both are masked and cut in the log writer's task, off the response
//! path (docs/ARCHITECTURE.md, "Request log").
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use serde_json::Value;

use super::describe::{diff, MemberEvent, MemberEventKind};
use crate::redact::Redactor;
use crate::store::{RequestLogRecord, TimelineEntry};

/// Most bytes of a request body kept for the log: what a SCIM request may carry. A larger body
/// is refused by its handler, and logged as not kept.
const MAX_TAPPED_BYTES: usize = crate::scim::MAX_PAYLOAD_BYTES;

#[derive(Default)]
struct Seen {
    chunks: Vec<Bytes>,
    bytes: usize,
    overflow: bool,
}

/// A request body that keeps a copy (of the chunk handles) of what its reader reads, unchanged
/// for the reader: same frames, same size hint, so its limits answer as before.
pub struct Tap {
    inner: Body,
    seen: Arc<Mutex<Seen>>,
}

/// What a [`Tap`] saw.
#[derive(Clone, Default)]
pub struct Tapped(Arc<Mutex<Seen>>);

impl Tap {
    pub fn wrap(inner: Body) -> (Body, Tapped) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (Body::new(Self { inner, seen: seen.clone() }), Tapped(seen))
    }
}

impl http_body::Body for Tap {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Ok(mut seen)) = (frame.data_ref(), self.seen.lock()) {
                seen.bytes += data.len();
                if seen.bytes <= MAX_TAPPED_BYTES {
                    seen.chunks.push(data.clone());
                } else {
                    seen.overflow = true;
                    seen.chunks.clear();
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Tapped {
    /// The bytes seen, their count, and whether they are all the body's bytes that were read.
    fn take(&self) -> (Vec<u8>, usize, bool) {
        match self.0.lock() {
            Ok(mut seen) => {
                let chunks = std::mem::take(&mut seen.chunks);
                (chunks.concat(), seen.bytes, !seen.overflow)
            }
            Err(_) => (Vec::new(), 0, false),
        }
    }
}

/// What the writer masks and adds to a record: its bodies and its members' timeline entries.
pub struct CapturedBodies {
    pub redactor: Redactor,
    pub request: Tapped,
    pub response: Bytes,
    pub member_events: Vec<MemberEvent>,
}

impl CapturedBodies {
    /// Masks the bodies into `record`, and makes the timeline entries of its member events.
    pub fn finish(self, record: &mut RequestLogRecord) -> Vec<TimelineEntry> {
        let (request, bytes, complete) = self.request.take();
        record.request_body = (bytes > 0).then(|| self.redactor.body(&request, bytes, complete));
        record.response_body =
            (!self.response.is_empty()).then(|| self.redactor.body(&self.response, self.response.len(), true));
        // Numbered: one request may touch a member twice (joined and left, or a bulk request), and
        // one batch must not hold two items with the same key.
        self.member_events
            .into_iter()
            .enumerate()
            .map(|(seq, event)| timeline_entry(&self.redactor, record, seq, event))
            .collect()
    }
}

fn active(document: Option<&Value>) -> Option<bool> {
    document.and_then(|d| d.get("active")).and_then(Value::as_bool)
}

fn timeline_entry(redactor: &Redactor, record: &RequestLogRecord, seq: usize, event: MemberEvent) -> TimelineEntry {
    let (summary, changes, team) = match &event.kind {
        MemberEventKind::Created { document } => ("Created".to_owned(), diff(redactor, None, document.as_ref()), None),
        MemberEventKind::Linked { before, after } => (
            "Linked (added by hand, now managed by the IdP)".to_owned(),
            diff(redactor, before.as_ref(), after.as_ref()),
            None,
        ),
        MemberEventKind::Changed { before, after } => {
            let changes = diff(redactor, before.as_ref(), after.as_ref());
            let summary = match (active(before.as_ref()), active(after.as_ref())) {
                (Some(true), Some(false)) => "Deactivated".to_owned(),
                (Some(false), Some(true)) => "Reactivated".to_owned(),
                _ => "Updated".to_owned(),
            };
            (summary, changes, None)
        }
        MemberEventKind::Deleted => ("Deleted".to_owned(), Vec::new(), None),
        MemberEventKind::JoinedTeam { team_id, team } => {
            (format!("Joined {team}"), Vec::new(), Some((team_id.clone(), redactor.text(team).clipped(256))))
        }
        MemberEventKind::LeftTeam { team_id, team } => {
            (format!("Left {team}"), Vec::new(), Some((team_id.clone(), redactor.text(team).clipped(256))))
        }
    };
    TimelineEntry {
        org: record.org.clone(),
        member_id: event.member_id,
        user_name: redactor.text(&event.user_name).clipped(256),
        at: record.at,
        request_id: record.request_id.clone(),
        seq,
        idp: record.idp.clone(),
        summary: redactor.text(&summary).clipped(512),
        changes,
        team_id: team.as_ref().map(|(id, _)| id.clone()),
        team: team.map(|(_, name)| name),
    }
}
