//! Request bodies of SCIM endpoints: size limit, media type, JSON — each refused with a SCIM error.
use axum::body::to_bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde_json::Value;

use crate::scim::{ScimError, ScimType, MAX_PAYLOAD_BYTES};

/// A JSON body sent as `application/scim+json` or `application/json` (or without a type).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_json(request, MAX_PAYLOAD_BYTES, || {
            ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("The request body is larger than the {MAX_PAYLOAD_BYTES} bytes this service accepts."),
            )
        })
        .await
        .map(ScimBody)
    }
}

/// A Bulk request's body: as [`ScimBody`], held to `bulk.maxPayloadSize` (RFC 7644 §3.7.4: `413` past it).
pub struct BulkBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for BulkBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_json(request, crate::scim::bulk::BULK_MAX_PAYLOAD_BYTES, crate::scim::bulk::too_large).await.map(BulkBody)
    }
}

async fn read_json(request: Request, limit: usize, too_large: impl FnOnce() -> ScimError) -> Result<Value, ScimError> {
    let media_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if let Some(media_type) = media_type.filter(|m| !m.is_empty()) {
        if media_type != "application/scim+json" && media_type != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                format!(
                    "Content-Type '{media_type}' is not supported; send application/scim+json or application/json."
                ),
            ));
        }
    }
    let bytes = to_bytes(request.into_body(), limit).await.map_err(|_| too_large())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "The request body is empty; a JSON object is required.",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad_request(ScimType::InvalidSyntax, format!("The request body is not valid JSON: {e}."))
    })
}
