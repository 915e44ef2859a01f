//! Rules that compliance checkers and the token lifecycle depend on: decisions read the latest
//! write (strongly consistent reads), required attributes cannot be removed (`mutability`), and
//! `/Schemas` publishes what the service really requires.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{console_org, enable};
use crate::helpers::spawn_app;
use crate::scim_client::{
    assert_scim_error_ignoring_detail, create_group, created_id, encode, ok_body, patch_body, scim, send, unique_email,
    user_with_work_email, with_body, USER_SCHEMA,
};

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

#[tokio::test]
async fn removing_or_unassigning_a_required_attribute_is_a_mutability_error() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("required");
    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    let team = create_group(&app, &org, "Required", &[]).await;
    for (path, operations) in [
        (format!("/Users/{id}"), json!([{"op": "remove", "path": "userName"}])),
        (format!("/Users/{id}"), json!([{"op": "remove", "path": format!("{USER_SCHEMA}:userName")}])),
        (format!("/Users/{id}"), json!([{"op": "replace", "path": "userName", "value": null}])),
        (format!("/Groups/{team}"), json!([{"op": "remove", "path": "displayName"}])),
    ] {
        let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &path), &patch_body(operations))).await;
        assert_scim_error_ignoring_detail(status, &body, StatusCode::BAD_REQUEST, Some("mutability"));
        assert!(body["detail"].as_str().unwrap().contains("required"), "{body}");
    }
    // Nothing changed.
    let user = ok_body(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(user["userName"], email);
}

#[tokio::test]
async fn the_user_schema_publishes_that_an_email_is_required() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let schema = ok_body(scim(&app, &org, Method::GET, &format!("/Schemas/{USER_SCHEMA}"))).await;
    let attribute =
        |name: &str| schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).cloned().unwrap();
    assert_eq!(attribute("emails")["required"], true);
    assert_eq!(attribute("userName")["required"], true);
    assert_eq!(attribute("password")["returned"], "never");
    // What a checker sends from the schema alone (the required attributes) is accepted.
    let email = unique_email("checker");
    let minimal =
        json!({"schemas": [USER_SCHEMA], "userName": format!("u-{}", &email[..8]), "emails": [{"value": email}]});
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Users"), &minimal)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_flood_of_failed_sign_ins_never_runs_more_argon2_hashes_at_once_than_there_are_cpus() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..24 {
        // Half for a real account, half for unknown ones (which still spend one hash, so the
        // answer does not tell them apart).
        let email = if i % 2 == 0 { org.owner.email.clone() } else { unique_email("nobody") };
        let request = app
            .http
            .post(format!("{}/auth/sessions", app.address))
            .json(&json!({"email": email, "passphrase": "not the passphrase, at all"}));
        flood.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = flood.join_next().await {
        let status = status.unwrap();
        assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{status}");
    }
    let gauge = insomnia_scim::auth::argon2_gauge();
    assert!(gauge.peak >= 1, "the sign-ins hashed: {gauge:?}");
    assert!(gauge.peak <= gauge.limit, "more Argon2id hashes ran at once than the bound: {gauge:?}");
}

#[tokio::test]
async fn a_conditional_get_answers_304_with_the_etag_for_users_and_groups_alike() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user =
        created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&unique_email("etag"))))
            .await;
    let team = create_group(&app, &org, "Tagged", &[&user]).await;
    for path in [format!("/Users/{user}"), format!("/Groups/{team}")] {
        let (status, headers, _) = send(scim(&app, &org, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK);
        let tag = headers["etag"].to_str().unwrap().to_owned();
        for condition in [tag.as_str(), "*"] {
            let (status, headers, _) =
                send(scim(&app, &org, Method::GET, &path).header("if-none-match", condition)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} {condition}");
            assert_eq!(headers["etag"].to_str().unwrap(), tag, "{path}: a 304 carries the current ETag");
        }
        // A stale If-Match is refused the same way on both.
        let (status, _, body) = send(scim(&app, &org, Method::DELETE, &path).header("if-match", "W/\"999\"")).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("If-Match"), "{body}");
    }
}
