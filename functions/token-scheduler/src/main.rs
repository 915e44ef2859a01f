//! Lambda function run daily by EventBridge: SCIM token auto-refresh, expiry notices and email
//! retries. The run logic lands with the scheduler issue; the function already initialises like
//! the others and logs one summary per run.
use insomnia_scim::{runtime, telemetry};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = runtime::app_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let as_of = app.clock.now();
            tracing::info!(as_of = %as_of, event_id = ?event.payload.get("id"), "token scheduler run: nothing to do yet");
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "as_of": as_of.to_rfc3339() }))
        }
    }))
    .await
}
