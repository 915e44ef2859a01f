//! HTTP adapters: the axum routers that the Lambda functions run (through `lambda_http`) and that
//! the dev server mounts together on one port.
mod admin;
mod body;
mod bulk;
mod console_web;
mod discovery;
mod error;
mod etag;
mod groups;
mod oauth;
mod request;
mod request_log;
pub mod routes;
mod scim_context;
mod users;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::scim::{ScimError, SCIM_MEDIA_TYPE};

pub use crate::app::{App, AppState};
use routes::Function;
pub use scim_context::ScimCaller;

/// The routes served by the `scim-users` function: Users and the discovery documents.
pub fn scim_users_routes(app: AppState) -> Router {
    routes::router_of(Function::ScimUsers)
        .layer(axum::middleware::from_fn_with_state(app.clone(), request_log::record))
        .with_state(app)
}

/// The routes served by the `scim-groups` function.
pub fn scim_groups_routes(app: AppState) -> Router {
    routes::router_of(Function::ScimGroups)
        .layer(axum::middleware::from_fn_with_state(app.clone(), request_log::record))
        .with_state(app)
}

/// The routes served by the `scim-admin` function.
pub fn admin_routes(app: AppState) -> Router {
    routes::router_of(Function::ScimAdmin)
        .layer(axum::middleware::map_response(admin::no_store))
        .layer(axum::middleware::map_response(console_web::security_headers))
        .with_state(app)
}

/// Answers unknown paths and methods with SCIM errors. Added once on top of whatever routes a
/// process serves (axum refuses to merge two routers that both have fallbacks).
pub fn with_fallbacks(router: Router) -> Router {
    router.fallback(unknown_path).method_not_allowed_fallback(unsupported_method)
}

/// A router as a local server (the dev server, the behaviour tests) serves it: with each
/// connection's peer address, which `admin::ClientSource` reads (on Lambda, API Gateway's
/// `sourceIp` takes its place).
pub fn local_service(
    router: Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    router.into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// Every route of every function, as the dev server serves them on one port.
pub fn all_routes(app: AppState) -> Router {
    with_fallbacks(scim_users_routes(app.clone()).merge(scim_groups_routes(app.clone())).merge(admin_routes(app)))
}

/// A fallback's answer: never cached, with the security headers every console answer carries (a
/// 404 or 405 under `/admin/` is the console's answer too, and the headers belong on every answer
/// the router gives; docs/ARCHITECTURE.md, "Console (web page)").
async fn fallback_answer(error: ScimError) -> Response {
    let response = admin::no_store(error.into_response()).await;
    console_web::security_headers(response).await
}

async fn unknown_path() -> Response {
    fallback_answer(ScimError::not_found("No endpoint at this path. SCIM endpoints live under /scim/v2/orgs/{orgId}/."))
        .await
}

async fn unsupported_method() -> Response {
    fallback_answer(ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "This HTTP method is not supported on this endpoint.",
    ))
    .await
}

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    scim_text(status, body.to_string())
}

/// A SCIM response whose JSON text is already written.
pub fn scim_text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    response
}
