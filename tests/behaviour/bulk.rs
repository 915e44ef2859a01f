//! Bulk (RFC 7644 §3.7, docs/ARCHITECTURE.md, "Bulk"): operations run in order through the same
//! handlers and use cases as single requests, `bulkId` references (forward too), `failOnErrors`,
//! per-operation results, the announced limits (413 past them), fair use per operation.
use insomnia_scim::store::RateBudget;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    assert_scim_error, member_value_set, read_group, read_user, scim, send, string_set, unique_email,
    user_with_work_email, with_body, GROUP_SCHEMA, PATCH_SCHEMA,
};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn bulk_body(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

async fn post_bulk(app: &TestApp, org: &ScimOrg, body: &Value) -> (StatusCode, Value) {
    let (status, _, answer) = send(with_body(scim(app, org, Method::POST, "/Bulk"), body)).await;
    (status, answer)
}

fn create_user_op(bulk_id: &str, email: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user_with_work_email(email)})
}

fn id_of(location: &Value) -> String {
    location.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_group_whose_members_are_users_created_in_the_same_request() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, b) = (unique_email("bulk-a"), unique_email("bulk-b"));
    // The group comes first: it waits for the users it refers to (RFC 7644 §3.7.1).
    let group = json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
        "schemas": [GROUP_SCHEMA], "displayName": "Bulk team",
        "members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}]
    }});
    let (status, answer) =
        post_bulk(&app, &org, &bulk_body(json!([group, create_user_op("a", &a), create_user_op("b", &b)]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["schemas"], json!([BULK_RESPONSE]));
    let results = answer["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{answer}");
    let by_id = |bulk_id: &str| results.iter().find(|r| r["bulkId"] == bulk_id).unwrap().clone();
    for bulk_id in ["a", "b", "g"] {
        let result = by_id(bulk_id);
        assert_eq!(result["method"], "POST");
        assert_eq!(result["status"], "201", "{result}");
        assert_eq!(result["version"], "W/\"1\"", "{result}");
        assert!(result.get("response").is_none());
    }
    assert_eq!(results[2]["bulkId"], "g", "the group ran after the users it refers to: {answer}");
    let (user_a, user_b) = (id_of(&by_id("a")["location"]), id_of(&by_id("b")["location"]));
    assert_eq!(by_id("a")["location"], format!("{}/Users/{user_a}", org.base));
    assert_eq!(read_user(&app, &org, &user_a).await["userName"], a.as_str());
    let group_id = id_of(&by_id("g")["location"]);
    let group = read_group(&app, &org, &group_id).await;
    assert_eq!(member_value_set(&group), string_set(&[&user_a, &user_b]));

    // PATCH, PUT and DELETE by id, with versions as If-Match: a stale one is that operation's 412.
    let patch = json!({"method": "PATCH", "path": format!("/Users/{user_a}"), "version": "W/\"1\"",
        "data": {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": false}]}});
    let stale = json!({"method": "DELETE", "path": format!("/Users/{user_b}"), "version": "W/\"7\""});
    let remove = json!({"method": "DELETE", "path": format!("/Groups/{group_id}")});
    let (status, answer) = post_bulk(&app, &org, &bulk_body(json!([patch, stale, remove]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["Operations"].as_array().unwrap();
    assert_eq!(results[0]["status"], "200", "{answer}");
    assert_eq!(results[0]["version"], "W/\"2\"");
    assert_eq!(results[0]["location"], format!("{}/Users/{user_a}", org.base));
    assert_eq!(results[1]["status"], "412", "{answer}");
    assert_eq!(results[1]["response"]["status"], "412");
    assert_eq!(results[2]["status"], "204", "{answer}");
    assert_eq!(read_user(&app, &org, &user_a).await["active"], false);
    assert_eq!(read_user(&app, &org, &user_b).await["active"], true, "the stale DELETE changed nothing");
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Groups/{group_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_operation_has_its_own_result_and_a_reference_to_a_failed_one_is_409() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let good = unique_email("bulk-good");
    let bad = json!({"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}});
    let group = json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
        "schemas": [GROUP_SCHEMA], "displayName": "Refers to a failure", "members": [{"value": "bulkId:bad"}]}});
    let (status, answer) = post_bulk(&app, &org, &bulk_body(json!([bad, create_user_op("good", &good), group]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["status"], "400");
    assert_eq!(results[0]["response"]["scimType"], "invalidValue", "{answer}");
    assert!(results[0].get("location").is_none());
    assert_eq!(results[1]["status"], "201");
    assert_eq!(results[2]["status"], "409", "{answer}");
    assert!(results[2]["response"]["detail"].as_str().unwrap().contains("bulkId:bad"), "{answer}");
    let (_, _, list) = send(scim(&app, &org, Method::GET, "/Groups")).await;
    assert_eq!(list["totalResults"], 0, "the group was not created");
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_errors() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let later = unique_email("bulk-later");
    let bad = |id: &str| json!({"method": "POST", "path": "/Users", "bulkId": id, "data": {"userName": ""}});
    let mut body = bulk_body(json!([bad("x"), bad("y"), create_user_op("z", &later)]));
    body["failOnErrors"] = json!(2);
    let (status, answer) = post_bulk(&app, &org, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let statuses: Vec<&str> =
        answer["Operations"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["400", "400"], "nothing runs after the second error");
    let filter = crate::scim_client::encode(&format!("userName eq \"{later}\""));
    let (_, _, found) = send(scim(&app, &org, Method::GET, &format!("/Users?filter={filter}"))).await;
    assert_eq!(found["totalResults"], 0);
}

#[tokio::test]
async fn the_limits_are_announced_and_413_past_them() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (_, _, spc) = send(scim(&app, &org, Method::GET, "/ServiceProviderConfig")).await;
    assert_eq!(spc["bulk"], json!({"supported": true, "maxOperations": 100, "maxPayloadSize": 1_048_576}));

    let many: Vec<Value> = (0..101).map(|i| json!({"method": "DELETE", "path": format!("/Users/u{i}")})).collect();
    let (status, answer) = post_bulk(&app, &org, &bulk_body(Value::Array(many))).await;
    assert_scim_error(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert!(answer["detail"].as_str().unwrap().contains("maxOperations"), "{answer}");

    let padding = "x".repeat(1_048_576);
    let big = bulk_body(json!([{"method": "POST", "path": "/Users", "bulkId": "a",
        "data": {"userName": "big@example.com", "title": padding}}]));
    let (status, answer) = post_bulk(&app, &org, &big).await;
    assert_scim_error(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert!(answer["detail"].as_str().unwrap().contains("maxPayloadSize"), "{answer}");

    let (status, answer) = post_bulk(&app, &org, &json!({"Operations": []})).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let no_bulk_id = bulk_body(json!([{"method": "POST", "path": "/Users", "data": {}}]));
    let (status, answer) = post_bulk(&app, &org, &no_bulk_id).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let (status, answer) = post_bulk(&app, &org, &bulk_body(json!([]))).await;
    assert_eq!((status, answer["Operations"].clone()), (StatusCode::OK, json!([])));

    let wrong = with_body(app.http.post(format!("{}/Bulk", org.base)).bearer_auth("iscim_wrong"), &big);
    let (status, _, _) = send(wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token is checked before any input error is told");
    let email = unique_email("bulk-wrong");
    let small = bulk_body(json!([create_user_op("a", &email)]));
    let wrong = with_body(app.http.post(format!("{}/Bulk", org.base)).bearer_auth("iscim_wrong"), &small);
    let (status, _, answer) = send(wrong).await;
    assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn each_operation_spends_the_fair_use_budget_as_its_single_request_would() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.store.set_rate_budget(&org.id.scope(), RateBudget { per_second: 1, burst: 2 }).await.unwrap();
    // This instance learns the budget from the next read.
    let (status, _, _) = send(scim(&app, &org, Method::GET, "/ServiceProviderConfig")).await;
    assert!(status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS);
    let operations: Vec<Value> =
        (0..8).map(|i| json!({"method": "DELETE", "path": format!("/Users/missing-{i}")})).collect();
    let (status, answer) = post_bulk(&app, &org, &bulk_body(Value::Array(operations))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let statuses: Vec<&str> =
        answer["Operations"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 8);
    assert!(statuses.iter().all(|s| *s == "404" || *s == "429"), "{statuses:?}");
    assert!(statuses.contains(&"429"), "8 operations at once are over a burst of 2: {statuses:?}");
}
