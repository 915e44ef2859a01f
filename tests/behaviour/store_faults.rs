//! DynamoDB failing under a request (docs/ARCHITECTURE.md, "Retries"): throttling and transaction
//! conflicts are retried with the one backoff and, when they last, answered `503` with
//! `Retry-After` having changed nothing; a failing fair-use count or request-log write never fails
//! the request; a hung call is ended by the SDK's attempt timeout and retried, well inside the
//! function's timeout.
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with_production_timeouts, Refusal, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, patch_body, read_user, scim, send, unique_email, user_with_work_email, with_body,
};

async fn new_user(app: &TestApp, org: &ScimOrg) -> String {
    created_id(with_body(scim(app, org, Method::POST, "/Users"), &user_with_work_email(&unique_email("faults")))).await
}

fn assert_retry_later(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &serde_json::Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "503", "{body}");
    let seconds: u64 = headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&seconds), "Retry-After: {seconds}");
}

#[tokio::test]
async fn a_throttled_read_is_retried_and_a_lasting_one_answers_503_with_retry_after() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = new_user(&app, &org).await;
    app.cuts.refuse("BatchGetItem", 2, Refusal::Throttled);
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "retried past two throttled answers: {body}");
    app.cuts.refuse("BatchGetItem", 100, Refusal::Throttled);
    let (status, headers, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    app.cuts.clear();
    assert_retry_later(status, &headers, &body);
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_a_lasting_one_answers_503_having_changed_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = new_user(&app, &org).await;
    let deactivate = patch_body(json!([{"op": "replace", "path": "title", "value": "First"}]));
    app.cuts.refuse("TransactWriteItems", 2, Refusal::TransactionConflict);
    let (status, _, body) =
        send(with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{id}")), &deactivate)).await;
    assert_eq!(status, StatusCode::OK, "retried past two conflicts: {body}");
    let again = patch_body(json!([{"op": "replace", "path": "title", "value": "Second"}]));
    app.cuts.refuse("TransactWriteItems", 100, Refusal::TransactionConflict);
    let (status, headers, body) =
        send(with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{id}")), &again)).await;
    app.cuts.clear();
    assert_retry_later(status, &headers, &body);
    assert_eq!(read_user(&app, &org, &id).await["title"], "First");
}

#[tokio::test]
async fn a_failing_query_answers_503_and_the_delete_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = new_user(&app, &org).await;
    crate::scim_client::create_group(&app, &org, "Kept", &[&id]).await;
    // The DELETE's first read includes the user's teams (a GSI query).
    app.cuts.refuse("Query", 100, Refusal::Throttled);
    let (status, headers, body) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{id}"))).await;
    app.cuts.clear();
    assert_retry_later(status, &headers, &body);
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_fair_use_count_or_request_log_write_never_fails_the_request() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = new_user(&app, &org).await;
    // The fair-use count is an UpdateItem beside the token check.
    app.cuts.refuse("UpdateItem", 100, Refusal::Throttled);
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.cuts.clear();
    // The request log is written after the response; its failure is logged, never answered.
    app.cuts.refuse("PutItem", 100, Refusal::Throttled);
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.flush_logs().await;
    app.cuts.clear();
}

#[tokio::test]
async fn a_hung_call_is_ended_by_the_attempt_timeout_and_retried_inside_the_function_timeout() {
    let app = spawn_app_with_production_timeouts().await;
    let org = app.scim_org().await;
    let id = new_user(&app, &org).await;
    app.flush_logs().await;
    app.cuts.hang_next(Duration::from_secs(30));
    let started = Instant::now();
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    let took = started.elapsed();
    app.cuts.clear();
    assert_eq!(status, StatusCode::OK, "{body}");
    let attempt = insomnia_scim::runtime::DYNAMODB_ATTEMPT_TIMEOUT;
    assert!(took >= attempt, "the hung attempt was waited for: {took:?}");
    assert!(took < insomnia_scim::runtime::DYNAMODB_OPERATION_TIMEOUT, "retried at once: {took:?}");
}
