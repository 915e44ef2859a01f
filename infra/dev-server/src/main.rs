//! One local port, every function: the same routers the Lambda mains run, merged.
use clap::Parser;
use insomnia_scim::{api, runtime, telemetry};

#[derive(Parser)]
#[command(about = "Serve every SCIM function on one local port (same paths as template.yaml)")]
struct Args {
    #[arg(long, env = "DEV_SERVER_HOST", default_value = "127.0.0.1")]
    host: String,
    #[arg(long, env = "DEV_SERVER_PORT", default_value_t = 8080)]
    port: u16,
}

// One thread, as the functions run (docs/ARCHITECTURE.md, "CPU per request"): the benchmark's CPU
// per request is then theirs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init();
    let args = Args::parse();
    let app = runtime::app_from_env().await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    tracing::info!(address = %listener.local_addr()?, "dev server listening");
    axum::serve(listener, api::local_service(api::all_routes(app)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
