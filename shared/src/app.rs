//! The function's state, built once per cold start: configuration, the store, the token key, the
//! clock, the request-log writer, the mailer, the SCIM token check's gate. Handlers reach the use
//! cases through it.
use std::sync::Arc;

use axum::http::{header, HeaderMap};

use crate::auth::TokenKey;
use crate::clock::Clock;
use crate::config::AppConfig;
use crate::log::RequestLogWriter;
use crate::notify::Mailer;
use crate::provisioning::{Gate, Provisioning};
use crate::store::Store;

/// Everything a handler needs, built once per cold start.
pub struct App {
    pub config: AppConfig,
    pub store: Store,
    pub token_key: TokenKey,
    pub clock: Clock,
    pub logs: RequestLogWriter,
    pub mailer: Mailer,
    /// The SCIM token check and what it remembers between this instance's requests.
    pub gate: Gate,
}

pub type AppState = Arc<App>;

impl App {
    /// The public origin: configured, or taken from the request (API Gateway sets Host and
    /// X-Forwarded-Proto).
    pub fn origin(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.public_base_url {
            return url.clone();
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|p| *p == "https" || *p == "http")
            .unwrap_or("http");
        format!("{proto}://{host}")
    }
}

impl App {
    /// The SCIM use cases, over this state.
    pub fn provisioning(&self) -> Provisioning<'_> {
        Provisioning {
            store: &self.store,
            token_key: &self.token_key,
            clock: &self.clock,
            mailer: &self.mailer,
            gate: &self.gate,
            background: &self.logs,
        }
    }
}
