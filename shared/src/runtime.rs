//! Cold start wiring shared by every function: configuration, SDK clients, the token key from
//! Secrets Manager, one warm-up call, and the Lambda run loop with the request-log flush.
use std::sync::Arc;

use aws_config::BehaviorVersion;
use axum::Router;
use tokio::sync::OnceCell;

use crate::api::{App, AppState};
use crate::auth::{TokenKey, TokenKeyError};
use crate::clock::Clock;
use crate::config::{AppConfig, ConfigError};
use crate::log::RequestLogWriter;
use crate::notify::Mailer;
use crate::provisioning::Gate;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading the token key secret failed")]
    Secret(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the token key secret has no string value")]
    SecretEmpty,
    #[error("the token key secret is unusable: {0}")]
    SecretValue(#[from] TokenKeyError),
    #[error("warming up DynamoDB failed: {0}")]
    Store(#[from] StoreError),
}

/// The SDK clients every function uses. Endpoint, region and credentials come from the SDK's
/// standard environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, …), in Lambda and locally alike.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
        // A hung DynamoDB call must end well inside the function's timeout (15 s for the SCIM
        // functions), as an error the request answers with a clean 503, not as a cut-off request:
        // each attempt may take 4 s, a call with its retries 10 s (docs/ARCHITECTURE.md, "Retries").
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared).timeout_config(dynamodb_timeouts()).build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            ses: aws_sdk_sesv2::Client::new(&shared),
        }
    }
}

/// How long one DynamoDB attempt, and one call with its retries, may take.
pub const DYNAMODB_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
pub const DYNAMODB_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The DynamoDB client's timeouts (see `AwsClients::from_env`).
pub fn dynamodb_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build()
}

/// Reads the token hashing key: the secret string's bytes.
pub async fn load_token_key(secrets: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<TokenKey, InitError> {
    let output =
        secrets.get_secret_value().secret_id(secret_id).send().await.map_err(|err| InitError::Secret(Box::new(err)))?;
    let value = output.secret_string().ok_or(InitError::SecretEmpty)?;
    Ok(TokenKey::new(value.trim().as_bytes())?)
}

/// The token key as a function needs it: at hand, or read from Secrets Manager the first time it
/// is needed. The scheduler needs it only to deliver welcome emails, so its cold start does not
/// wait for the secret.
#[derive(Clone, Debug)]
pub enum TokenKeySource {
    Ready(TokenKey),
    Secret { secrets: aws_sdk_secretsmanager::Client, secret_id: String, loaded: Arc<OnceCell<TokenKey>> },
}

impl TokenKeySource {
    pub fn from_secret(secrets: aws_sdk_secretsmanager::Client, secret_id: String) -> Self {
        Self::Secret { secrets, secret_id, loaded: Arc::new(OnceCell::new()) }
    }

    pub async fn key(&self) -> Result<TokenKey, InitError> {
        match self {
            Self::Ready(key) => Ok(key.clone()),
            Self::Secret { secrets, secret_id, loaded } => {
                loaded.get_or_try_init(|| load_token_key(secrets, secret_id)).await.cloned()
            }
        }
    }
}

/// Builds the app once per cold start: the secret read and the DynamoDB warm-up run concurrently.
pub async fn build_app(config: AppConfig, clients: &AwsClients, clock: Clock) -> Result<AppState, InitError> {
    let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
    let started = std::time::Instant::now();
    let (token_key, warm) =
        tokio::join!(load_token_key(&clients.secrets, &config.token_key_secret_id), store.warm_up());
    warm?;
    // Init time minus this is what the function itself costs (docs/ARCHITECTURE.md, docs/BENCHMARKS.md); the harness reads it.
    tracing::info!(warm_up_ms = started.elapsed().as_secs_f64() * 1000.0, "secret read and DynamoDB warm-up done");
    let logs = RequestLogWriter::new(store.clone());
    let mailer = Mailer::new(clients.ses.clone(), config.sender_email.clone());
    Ok(Arc::new(App { config, store, token_key: token_key?, clock, logs, mailer, gate: Gate::default() }))
}

pub async fn app_from_env() -> Result<AppState, InitError> {
    let config = AppConfig::from_env()?;
    let clients = AwsClients::from_env().await;
    build_app(config, &clients, Clock::System).await
}

/// Runs a router as a Lambda function behind API Gateway. An internal extension awaits the
/// request-log writes after each response has been sent, before Lambda freezes the environment.
pub async fn serve_lambda(app: AppState, router: Router) -> Result<(), lambda_http::Error> {
    let logs = app.logs.clone();
    let flush = lambda_extension::service_fn(move |_event: lambda_extension::LambdaEvent| {
        let logs = logs.clone();
        async move {
            logs.wait_request_finished().await;
            logs.flush().await;
            Ok::<(), lambda_extension::Error>(())
        }
    });
    let extension = lambda_extension::Extension::new()
        .with_events(&["INVOKE"])
        .with_events_processor(flush)
        .with_extension_name("scim-request-log")
        .register()
        .await;
    let logs = app.logs.clone();
    match extension {
        Ok(extension) => {
            let router = router.layer(axum::middleware::map_response(move |response: axum::response::Response| {
                logs.request_finished();
                std::future::ready(response)
            }));
            let (served, extended) = tokio::join!(lambda_http::run(router), extension.run());
            served?;
            extended
        }
        Err(err) => {
            // Without the extension (some local emulators), flush before answering instead.
            tracing::warn!(error = %err, "internal extension unavailable; request logs are flushed inline");
            let router = router.layer(axum::middleware::map_response(move |response: axum::response::Response| {
                let logs = logs.clone();
                async move {
                    logs.flush().await;
                    response
                }
            }));
            lambda_http::run(router).await
        }
    }
}
