//! Configuration read once per cold start from the environment. AWS endpoints, region and
//! credentials are not here: the SDK reads them from its standard environment.
use std::env;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// DynamoDB table holding every item of the service.
    pub table_name: String,
    /// Secrets Manager secret id whose value keys the SCIM token hashes.
    pub token_key_secret_id: String,
    /// Verified SES sender address for notices and welcome emails.
    pub sender_email: String,
    /// Public origin of the API (e.g. `https://scim.example.com`). When unset, the origin is taken
    /// from each request's `Host` and `X-Forwarded-Proto` headers (what API Gateway sends).
    pub public_base_url: Option<String>,
}

impl AppConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let public_base_url = optional("PUBLIC_BASE_URL").map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &public_base_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "PUBLIC_BASE_URL",
                    reason: "must start with https:// or http://".into(),
                });
            }
        }
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            token_key_secret_id: required("TOKEN_KEY_SECRET_ID")?,
            sender_email: required("SENDER_EMAIL")?,
            public_base_url,
        })
    }
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}
