//! Behaviour tests: every function's routes served over HTTP on a random port, against a real
//! local AWS stack (a moto server shared by the run), each test on a DynamoDB table of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod discovery;
mod errors;
mod helpers;
mod infra;
mod notify;
mod organizations;
mod round_trips;
mod secrets;
mod users_entra;
mod users_okta;
mod users_rules;
