//! DynamoDB round trips per request, counted by an SDK interceptor (request-log writes apart).
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{console_org, enable};
use crate::helpers::{spawn_app, OperatorScope};
use crate::scim_client::{
    create_group, created_id, encode, patch_body, scim, send, unique_email, user_with_work_email, with_body,
};

#[tokio::test]
async fn an_authenticated_discovery_request_costs_one_round_trip() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // This instance counts a token's requests against the budget once it saw the token pass.
    app.get(&format!("{}/ServiceProviderConfig", org.base), &org.token).send().await.unwrap();
    for route in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        app.round_trips.start();
        let response = app.get(&format!("{}{route}", org.base), &org.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        app.flush_logs().await;
        // The token check's read also fetches the fair-use budget, hence a BatchGetItem of two keys.
        assert_eq!(app.round_trips.calls(), ["BatchGetItem"], "{route}");
        assert_eq!(app.round_trips.rate_counts(), 1, "{route}: one fair-use count, beside the read");
        assert_eq!(app.round_trips.sequential(), 1, "{route}");
        assert_eq!(app.round_trips.log_writes(), 1, "{route}: one request-log write, off the response path");
    }
}

#[tokio::test]
async fn a_user_list_with_groups_costs_the_same_round_trips_for_2_and_for_20_users() {
    use reqwest::Method;

    use crate::scim_client::{create_group, created_id, scim, send, unique_email, user_with_work_email, with_body};
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut users = Vec::new();
    for _ in 0..20 {
        let body = user_with_work_email(&unique_email("listed"));
        users.push(created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &body)).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let even: Vec<&str> = refs.iter().step_by(2).copied().collect();
    create_group(&app, &org, "All", &refs).await;
    create_group(&app, &org, "Even", &even).await;
    let mut rounds = Vec::new();
    for count in [2, 20] {
        // The users' welcome emails go out after their responses: none may fall into the count.
        app.flush_logs().await;
        app.round_trips.start();
        let path = format!("/Users?count={count}&attributes=groups,userName");
        let (status, _, body) = send(scim(&app, &org, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let listed = body["Resources"].as_array().unwrap();
        assert_eq!(listed.len(), count);
        for user in listed {
            let groups = user["groups"].as_array().unwrap();
            let in_even = even.contains(&user["id"].as_str().unwrap());
            assert_eq!(groups.len(), if in_even { 2 } else { 1 }, "{user}");
        }
        // The page of 2 also remembers where the next page starts (docs/ARCHITECTURE.md, "Paging").
        rounds.push(app.round_trips.sequential() - app.round_trips.walk_writes());
    }
    assert_eq!(rounds[0], rounds[1], "round trips grew with the page: {rounds:?}");
    assert!(rounds[1] <= 4, "{rounds:?}");
}

#[tokio::test]
async fn request_log_records_of_requests_that_end_together_share_a_write_and_none_is_lost() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.round_trips.start();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..40 {
        requests.spawn(app.get(&format!("{}/ServiceProviderConfig", org.base), &org.token).send());
    }
    while let Some(response) = requests.join_next().await {
        assert_eq!(response.unwrap().unwrap().status(), StatusCode::OK);
    }
    app.flush_logs().await;
    let records = app.store.recent_request_logs(&org.id.scope(), 100).await.unwrap();
    let ids: std::collections::BTreeSet<_> = records.iter().map(|record| record.request_id.clone()).collect();
    assert_eq!(ids.len(), 40, "every request has its record");
    // A lone request's record is one PutItem (above); records queued behind a write go in one BatchWriteItem.
    let writes = app.round_trips.log_writes();
    assert!(writes < 40, "40 records in {writes} writes");
}

// Decisions read the latest write: every read a decision depends on is strongly consistent.

/// Whether a DynamoDB read request asks for a strongly consistent read (GSI queries cannot).
fn is_consistent(operation: &str, body: &str) -> bool {
    let request: Value = serde_json::from_str(body).unwrap();
    match operation {
        "GetItem" => request["ConsistentRead"] == true,
        "Query" => request["ConsistentRead"] == true || request.get("IndexName").is_some(),
        "BatchGetItem" => {
            request["RequestItems"].as_object().unwrap().values().all(|keys| keys["ConsistentRead"] == true)
        }
        _ => true,
    }
}

#[tokio::test]
async fn every_read_a_decision_depends_on_is_strongly_consistent() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let scim_org = crate::helpers::ScimOrg { id: org.id.clone(), base: org.connector_url(&app), token };
    let user = created_id(with_body(
        scim(&app, &scim_org, Method::POST, "/Users"),
        &user_with_work_email(&unique_email("consistent")),
    ))
    .await;
    let team = create_group(&app, &scim_org, "Consistent", &[&user]).await;

    app.flush_logs().await;
    app.round_trips.start();
    let email = unique_email("other");
    let requests = [
        scim(&app, &scim_org, Method::GET, "/ServiceProviderConfig"),
        scim(&app, &scim_org, Method::GET, &format!("/Users/{user}")),
        scim(&app, &scim_org, Method::GET, &format!("/Users?filter={}", encode(&format!("userName eq \"{email}\"")))),
        scim(&app, &scim_org, Method::GET, "/Users?startIndex=1&count=10"),
        with_body(scim(&app, &scim_org, Method::POST, "/Users"), &user_with_work_email(&email)),
        with_body(
            scim(&app, &scim_org, Method::PATCH, &format!("/Users/{user}")),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "C"}])),
        ),
        scim(&app, &scim_org, Method::GET, &format!("/Groups/{team}")),
        with_body(
            scim(&app, &scim_org, Method::PATCH, &format!("/Groups/{team}")),
            &patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])),
        ),
    ];
    for request in requests {
        let (status, _, body) = send(request).await;
        assert!(status.is_success(), "{status}: {body}");
    }
    let reads: Vec<(String, String)> = app
        .round_trips
        .requests()
        .into_iter()
        .filter(|(op, _)| matches!(op.as_str(), "GetItem" | "Query" | "BatchGetItem"))
        .collect();
    assert!(reads.len() >= 8, "the requests read the table: {reads:?}");
    for (operation, body) in &reads {
        assert!(is_consistent(operation, body), "an eventually consistent {operation}: {body}");
    }
}
