//! Every log line of a SCIM request carries the request's id, organization and route (the
//! fields of its span), so it joins the request's log record.
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{process_logs, spawn_app, FaultTiming};
use crate::scim_client::{created_id, patch_body, scim, unique_email, user_with_work_email, with_body};

#[tokio::test]
async fn a_log_line_of_a_request_names_its_request_id_organization_and_route() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = user_with_work_email(&unique_email("span"));
    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user)).await;
    // The write comes after the token check, so the organization is known when its failure is logged.
    app.faults.fail_nth("TransactWriteItems", 1, FaultTiming::BeforeSending);
    let patch = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let response = with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{id}")), &patch).send().await.unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());
    assert!(app.faults.struck());
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();

    let lines: Vec<Value> = process_logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["span"]["request_id"] == request_id.as_str())
        .collect();
    let errors: Vec<&Value> = lines.iter().filter(|line| line["level"] == "ERROR").collect();
    assert!(!errors.is_empty(), "no error line in the request's span: {lines:?}");
    for line in errors {
        assert_eq!(line["span"]["org"], org.id.as_str(), "{line}");
        assert_eq!(line["span"]["route"], "/scim/v2/orgs/{orgId}/Users/{id}", "{line}");
        assert_eq!(line["span"]["method"], "PATCH", "{line}");
    }
    // The request log has the same request id.
    app.flush_logs().await;
    assert!(app.dump_table().await.contains(&request_id), "the request-log record has another request id");
}

#[tokio::test]
async fn the_store_counts_each_dynamodb_request_into_the_metrics_of_the_request_that_sent_it() {
    use insomnia_scim::metrics::{counting, RequestCounters};
    let app = crate::helpers::spawn_app().await;
    let org = app.scim_org().await;
    let counters = std::sync::Arc::new(RequestCounters::default());
    let scope = crate::helpers::OperatorScope::scope(&org.id);
    counting(counters.clone(), async {
        app.store.members(&scope).await.unwrap();
        app.store.organization(&scope).await.unwrap();
    })
    .await;
    assert_eq!(counters.dynamodb_calls(), 2);
    // A call outside any request counts nowhere.
    app.store.organization(&scope).await.unwrap();
    assert_eq!(counters.dynamodb_calls(), 2);
}
