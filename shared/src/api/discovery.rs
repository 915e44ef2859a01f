//! GET /ServiceProviderConfig, /ResourceTypes[/{id}], /Schemas[/{id}] (RFC 7644 §4), and the
//! server-root search this service does not offer (RFC 7644 §3.4.3).
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{scim_json, AppState, ScimCaller};
use crate::scim::{discovery, ScimError};

pub(super) async fn service_provider_config(
    State(app): State<AppState>,
    caller: ScimCaller,
) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    Ok(scim_json(StatusCode::OK, &discovery::service_provider_config(&caller.base_url)))
}

pub(super) async fn resource_types(State(app): State<AppState>, caller: ScimCaller) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    Ok(scim_json(StatusCode::OK, &discovery::resource_types(&caller.base_url)))
}

pub(super) async fn resource_type(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    let body = discovery::resource_type(&id, &caller.base_url)
        .ok_or_else(|| ScimError::not_found(format!("No resource type '{id}'; this service has User and Group.")))?;
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn schemas(State(app): State<AppState>, caller: ScimCaller) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    Ok(scim_json(StatusCode::OK, &discovery::schemas(&caller.base_url)))
}

pub(super) async fn schema(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    let body =
        discovery::schema(&id, &caller.base_url).ok_or_else(|| ScimError::not_found(format!("No schema '{id}'.")))?;
    Ok(scim_json(StatusCode::OK, &body))
}

/// `POST /.search` at the server root (RFC 7644 §3.4.3: a search across resource types): not offered,
/// so `501` (RFC 7644 §3.12), after the token check (docs/ARCHITECTURE.md, "Discovery").
pub(super) async fn search_all(State(app): State<AppState>, caller: ScimCaller) -> Result<Response, ScimError> {
    caller.authorize(&app).await?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "Searching several resource types at once is not offered: search /Users/.search or /Groups/.search.",
    ))
}
