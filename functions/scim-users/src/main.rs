//! Lambda function: SCIM Users and discovery.
use insomnia_scim::{api, runtime, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = runtime::app_from_env().await?;
    runtime::serve_lambda(app.clone(), api::with_fallbacks(api::scim_users_routes(app))).await
}
