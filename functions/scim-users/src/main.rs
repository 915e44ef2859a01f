//! Lambda function: SCIM Users and discovery.
use insomnia_scim::{api, runtime, telemetry};

// One thread: an execution environment serves one request at a time, and a multi-thread runtime
// spends about a quarter more CPU per request waking workers (docs/ARCHITECTURE.md, "CPU per request").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = runtime::app_from_env().await?;
    runtime::serve_lambda(app.clone(), api::with_fallbacks(api::scim_users_routes(app))).await
}
