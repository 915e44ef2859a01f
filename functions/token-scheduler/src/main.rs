//! Lambda function run daily by EventBridge: SCIM token auto-refresh, expiry notices and email
//! retries (`insomnia_scim::scheduler`). An event may carry `as_of` (RFC 3339) to run as of that time.
use insomnia_scim::scheduler::TokenScheduler;
use insomnia_scim::telemetry;
use lambda_runtime::{service_fn, LambdaEvent};

// One thread: an execution environment serves one request at a time, and a multi-thread runtime
// spends about a quarter more CPU per request waking workers (docs/ARCHITECTURE.md, "CPU per request").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let scheduler = TokenScheduler::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let scheduler = scheduler.clone();
        // A run with failures answers an error (after its summary line): the `Errors` alarm counts it.
        async move { scheduler.handle_event(&event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
