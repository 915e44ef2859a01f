//! SCIM 2.0 provisioning for Insomnia: the library every Lambda function uses.
//!
//! Ports and adapters by concern: `scim` (protocol), `domain` (organizations, members, tokens),
//! `store` (DynamoDB adapter), `auth` (SCIM bearer tokens, passphrases), `log` (SCIM request log),
//! `api` (the axum routers the Lambda functions and the dev server run), `runtime` (cold start wiring).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod enablement;
pub mod lifetimes;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod oauth;
pub mod provisioning;
pub mod redact;
pub mod retry;
pub mod runtime;
pub mod scheduler;
pub mod scim;
pub mod store;
pub mod telemetry;
