//! Behaviour tests: every function's routes served over HTTP on a random port, against a real
//! local AWS stack (a moto server shared by the run), each test on a DynamoDB table of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod admin_auth;
mod admin_logs;
mod admin_matrix;
mod admin_members;
mod admin_scim;
mod admin_support;
mod auth;
mod browser;
mod bulk;
mod conformance;
mod console_browser;
mod console_web;
mod deletes;
mod discovery;
mod errors;
mod fair_use;
mod groups_crud;
mod groups_flows;
mod groups_scale;
mod helpers;
mod infra;
mod isolation;
mod logs_browser;
mod logs_explained;
mod notify;
mod oauth;
mod oauth_browser;
mod organizations;
mod passphrase_gate;
mod round_trips;
mod scheduler;
mod scim_client;
mod secrets;
mod store_faults;
mod token_rotation;
mod tracing_spans;
mod users_crud;
mod users_entra;
mod users_list;
mod users_okta;
mod users_paging;
mod users_patch;
mod users_rules;
mod write_integrity;
