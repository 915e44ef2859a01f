//! Deletes under real concurrency and faults, seen over HTTP: a DELETE that loses to a writer
//! leaves the user's memberships in place, and a team DELETE that DynamoDB fails keeps every count
//! equal to what it counts until the retry completes it.
use crate::helpers::OperatorScope;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, FaultTiming, ScimOrg, TestApp};
use crate::scim_client::{
    create_group, created_id, patch_body, read_user, scim, send, unique_email, user_with_work_email, with_body,
};

async fn new_user(app: &TestApp, org: &ScimOrg) -> String {
    created_id(with_body(scim(app, org, Method::POST, "/Users"), &user_with_work_email(&unique_email("race")))).await
}

/// The team's counter and its membership items, as the store holds them.
async fn count_and_items(app: &TestApp, org: &ScimOrg, team: &str) -> (u64, usize) {
    let counter = app.store.team(&org.id.scope(), team).await.unwrap().map_or(0, |t| t.member_count);
    (counter, app.store.team_members(&org.id.scope(), team).await.unwrap().len())
}

#[tokio::test]
async fn a_delete_that_loses_its_if_match_race_to_a_writer_keeps_the_users_memberships() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut users = Vec::new();
    for _ in 0..16 {
        users.push(new_user(&app, &org).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let team = create_group(&app, &org, "Kept", &refs).await;
    // Each DELETE names the version it read; a PATCH of the same user races it.
    let mut racing = tokio::task::JoinSet::new();
    for user in &users {
        let version = read_user(&app, &org, user).await["meta"]["version"].as_str().unwrap().to_owned();
        let delete = scim(&app, &org, Method::DELETE, &format!("/Users/{user}")).header("if-match", version);
        let patch = with_body(
            scim(&app, &org, Method::PATCH, &format!("/Users/{user}")),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "Raced"}])),
        );
        racing.spawn(async move { send(patch).await.0 });
        racing.spawn(async move { send(delete).await.0 });
    }
    while let Some(status) = racing.join_next().await {
        let status = status.unwrap();
        assert!(
            matches!(
                status,
                StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND
            ),
            "{status}"
        );
    }
    let members = app.store.team_members(&org.id.scope(), &team).await.unwrap();
    for user in &users {
        let exists = app.store.member(&org.id.scope(), user).await.unwrap().is_some();
        let member = members.iter().any(|m| &m.user_id == user);
        assert_eq!(exists, member, "user {user}: exists {exists}, still a member {member}");
    }
    let (counter, items) = count_and_items(&app, &org, &team).await;
    assert_eq!(counter, items as u64);
}

#[tokio::test]
async fn a_team_delete_that_dynamodb_fails_keeps_exact_counts_and_its_retry_completes_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut users = Vec::new();
    for _ in 0..30 {
        users.push(new_user(&app, &org).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let team = create_group(&app, &org, "Failing", &refs).await;
    app.faults.fail_nth("TransactWriteItems", 1, FaultTiming::BeforeSending);
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Groups/{team}"))).await;
    assert!(app.faults.struck());
    assert!(status.is_server_error(), "{status}: {body}");
    let (counter, items) = count_and_items(&app, &org, &team).await;
    assert_eq!(counter, items as u64, "the team's counter equals its memberships after the failure");

    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Groups/{team}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(app.store.team_members(&org.id.scope(), &team).await.unwrap().is_empty());
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Groups/{team}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
