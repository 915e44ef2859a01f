//! Behaviour tests: every function's routes served over HTTP on a random port, against a real
//! local AWS stack (a moto server shared by the run), each test on a DynamoDB table of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_auth;
mod admin_logs;
mod admin_matrix;
mod admin_members;
mod admin_scim;
mod admin_support;
mod auth;
mod browser;
mod console_browser;
mod console_web;
mod discovery;
mod errors;
mod fair_use;
mod groups_crud;
mod groups_flows;
mod groups_scale;
mod helpers;
mod infra;
mod isolation;
mod notify;
mod oauth;
mod organizations;
mod round_trips;
mod scheduler;
mod scim_client;
mod secrets;
mod token_rotation;
mod tracing_spans;
mod trust_delete_races;
mod trust_deletes;
mod trust_filters;
mod trust_groups_paging;
mod trust_outbox;
mod trust_paths;
mod trust_rules;
mod trust_scheduler;
mod trust_secrets;
mod users_crud;
mod users_entra;
mod users_list;
mod users_okta;
mod users_paging;
mod users_patch;
mod users_rules;
