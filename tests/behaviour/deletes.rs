//! Concurrent and interrupted deletes lose nothing: a delete that loses a race changes nothing, no
//! membership outlives its user or team under any interleaving, a crash part way leaves a state
//! the retried DELETE completes, and every counter stays exact.

use std::collections::BTreeSet;

use chrono::Utc;
use insomnia_scim::provisioning;
use insomnia_scim::provisioning::Expected;
use insomnia_scim::store::TeamGuard;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, FaultTiming, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    create_group, created_id, encode, patch_body, patch_group, read_group, read_user, scim, send, unique_email,
    user_with_work_email, with_body,
};

async fn new_user(app: &TestApp, org: &ScimOrg) -> String {
    created_id(with_body(scim(app, org, Method::POST, "/Users"), &user_with_work_email(&unique_email("del")))).await
}

/// Every invariant a delete must keep, checked against the table: each team's counter equals its
/// membership items, no membership names a user that is gone, and each user's membership counter
/// equals the memberships it holds.
async fn assert_consistent(app: &TestApp, org: &ScimOrg, teams: &[&str]) {
    let mut held: std::collections::BTreeMap<String, i64> = Default::default();
    for team in teams {
        let Some(state) = app.store.team_state(&org.id.scope(), team).await.unwrap() else { continue };
        let members = app.store.team_members(&org.id.scope(), team).await.unwrap();
        assert_eq!(state.team.member_count, members.len() as u64, "team {team}: counter and items disagree");
        for membership in members {
            let user = app.store.member_state(&org.id.scope(), &membership.user_id).await.unwrap();
            assert!(user.is_some(), "team {team} holds a membership of a user that is gone");
            *held.entry(membership.user_id).or_default() += 1;
        }
    }
    for (user, count) in held {
        let state = app.store.member_state(&org.id.scope(), &user).await.unwrap().unwrap();
        assert_eq!(state.team_count, count, "user {user}: membership counter and items disagree");
    }
}

#[tokio::test]
async fn a_user_delete_that_loses_a_race_to_a_writer_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let team = create_group(&app, &org, "Racing", &[&user]).await;
    // The delete read the user, then another request changed it before the delete wrote.
    let read = app.store.member_state(&org.id.scope(), &user).await.unwrap();
    let stale = Expected::OneOf(vec![read.as_ref().unwrap().member.version]);
    let patch = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Changed"}]));
    let (status, _, _) = send(with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{user}")), &patch)).await;
    assert_eq!(status, StatusCode::OK);

    let teams = vec![team.clone()];
    let outcome = provisioning::delete_user(&app.store, &org.id.scope(), &user, read, teams, &stale, Utc::now()).await;
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("If-Match"), "{err}");
    // Nothing was removed: the user and its membership are intact.
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(crate::scim_client::member_values(&read_group(&app, &org, &team).await), vec![user.clone()]);
    assert_consistent(&app, &org, &[&team]).await;

    // Over HTTP the same race answers 412 with the stale ETag.
    let (status, _, body) =
        send(scim(&app, &org, Method::DELETE, &format!("/Users/{user}")).header("if-match", "W/\"1\"")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(crate::scim_client::member_values(&read_group(&app, &org, &team).await), vec![user]);
}

#[tokio::test]
async fn a_user_delete_without_if_match_wins_over_a_concurrent_change_and_leaves_no_membership() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let other = new_user(&app, &org).await;
    let a = create_group(&app, &org, "A", &[&user, &other]).await;
    let b = create_group(&app, &org, "B", &[&user]).await;
    let read = app.store.member_state(&org.id.scope(), &user).await.unwrap();
    let patch = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    send(with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{user}")), &patch)).await;

    let teams = vec![a.clone(), b.clone()];
    provisioning::delete_user(&app.store, &org.id.scope(), &user, read, teams, &Expected::Any, Utc::now())
        .await
        .unwrap();
    assert!(app.store.member_state(&org.id.scope(), &user).await.unwrap().is_none(), "the user is gone");
    assert_eq!(crate::scim_client::member_values(&read_group(&app, &org, &a).await), vec![other]);
    assert!(crate::scim_client::member_values(&read_group(&app, &org, &b).await).is_empty());
    assert_consistent(&app, &org, &[&a, &b]).await;
}

#[tokio::test]
async fn deletes_racing_team_additions_leave_no_membership_of_a_deleted_user() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut users = Vec::new();
    for _ in 0..24 {
        users.push(new_user(&app, &org).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let home = create_group(&app, &org, "Home", &refs).await;
    let joined = create_group(&app, &org, "Joined", &[]).await;
    // Each user is deleted while it is being added to another team, all at once.
    let mut racing = tokio::task::JoinSet::new();
    for user in &users {
        let delete = scim(&app, &org, Method::DELETE, &format!("/Users/{user}"));
        let add = with_body(
            scim(&app, &org, Method::PATCH, &format!("/Groups/{joined}")),
            &patch_body(json!([{"op": "add", "path": "members", "value": [{"value": user}]}])),
        );
        racing.spawn(async move { send(delete).await.0 });
        racing.spawn(async move { send(add).await.0 });
    }
    while let Some(status) = racing.join_next().await {
        let status = status.unwrap();
        // A delete answers 204; an addition 204, or 400 when its user was already deleted.
        assert!(matches!(status, StatusCode::NO_CONTENT | StatusCode::BAD_REQUEST), "{status}");
    }
    for user in &users {
        assert!(app.store.member_state(&org.id.scope(), user).await.unwrap().is_none(), "every delete finished");
    }
    assert!(app.store.team_members(&org.id.scope(), &joined).await.unwrap().is_empty(), "a deleted user joined a team");
    assert!(app.store.team_members(&org.id.scope(), &home).await.unwrap().is_empty());
    assert_consistent(&app, &org, &[&home, &joined]).await;
}

#[tokio::test]
async fn a_member_cannot_be_added_to_a_team_while_it_is_being_deleted() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let team = create_group(&app, &org, "Late joiners", &[]).await;
    // A delete has taken its first step (and then, say, its function stopped).
    let state = app.store.member_state(&org.id.scope(), &user).await.unwrap().unwrap();
    app.store.mark_member_deleting(&org.id.scope(), &state.member, Utc::now()).await.unwrap();

    // The transaction itself refuses the membership, whatever its caller read before.
    let membership = insomnia_scim::store::Membership { team_id: team.clone(), user_id: user.clone(), display: None };
    let added = app
        .store
        .add_team_members(&org.id.scope(), &team, &[membership], TeamGuard::Settled(None), Utc::now())
        .await
        .unwrap();
    assert_eq!(added, 0);
    let patch = json!([{"op": "add", "path": "members", "value": [{"value": user}]}]);
    let (status, _, body) = patch_group(&app, &org, &team, patch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(app.store.team_members(&org.id.scope(), &team).await.unwrap().is_empty());
    // The user no longer shows, and the retried DELETE finishes the delete.
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(app.store.member_state(&org.id.scope(), &user).await.unwrap().is_none());
    assert_consistent(&app, &org, &[&team]).await;
}

#[tokio::test]
async fn a_user_delete_interrupted_part_way_is_finished_by_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let a = create_group(&app, &org, "First", &[&user]).await;
    let b = create_group(&app, &org, "Second", &[&user]).await;
    // Transactions: 1 marks the user, 2 and 3 leave the teams, 4 removes the user; 3 fails.
    app.faults.fail_nth("TransactWriteItems", 3, FaultTiming::BeforeSending);
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{user}"))).await;
    assert!(app.faults.struck());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Retry the DELETE"), "{body}");
    assert_consistent(&app, &org, &[&a, &b]).await;
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a user being deleted is not shown");

    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(app.store.member_state(&org.id.scope(), &user).await.unwrap().is_none());
    assert!(app.store.team_members(&org.id.scope(), &a).await.unwrap().is_empty());
    assert!(app.store.team_members(&org.id.scope(), &b).await.unwrap().is_empty());
    assert_consistent(&app, &org, &[&a, &b]).await;
}

#[tokio::test]
async fn a_user_whose_counter_shows_a_membership_the_index_does_not_is_not_finished() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    // A membership the user-to-team index has not shown yet (GSI1 is eventually consistent).
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(insomnia_scim::store::keys::user_sk(&user)))
        .update_expression("SET team_count = :one")
        .expression_attribute_values(":one", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{user}"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let state = app.store.member_state(&org.id.scope(), &user).await.unwrap().unwrap();
    assert!(state.deleting, "marked, not removed while a membership may remain");
}

#[tokio::test]
async fn a_team_delete_that_loses_a_race_to_a_writer_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let team = create_group(&app, &org, "Contested", &[&user]).await;
    let read = app.store.team_state(&org.id.scope(), &team).await.unwrap();
    let stale = Expected::OneOf(vec![read.as_ref().unwrap().team.version]);
    let rename = json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]);
    let (status, _, _) = patch_group(&app, &org, &team, rename).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let err =
        provisioning::delete_team(&app.store, &org.id.scope(), &team, read, &stale, Utc::now()).await.unwrap_err();
    assert!(err.to_string().contains("If-Match"), "{err}");
    let group = read_group(&app, &org, &team).await;
    assert_eq!(group["displayName"], "Renamed");
    assert_eq!(crate::scim_client::member_values(&group), vec![user]);
    assert_consistent(&app, &org, &[&team]).await;
}

#[tokio::test]
async fn a_team_delete_interrupted_part_way_keeps_exact_counts_and_its_retry_completes_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut users = Vec::new();
    for _ in 0..60 {
        users.push(new_user(&app, &org).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let team = create_group(&app, &org, "Leaving", &refs).await;
    let other = create_group(&app, &org, "Staying", &refs[..5]).await;
    // Transactions: 1 marks the team, 2 removes 49 members, 3 the other 11 (it fails), 4 the team.
    app.faults.fail_nth("TransactWriteItems", 3, FaultTiming::BeforeSending);
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Groups/{team}"))).await;
    assert!(app.faults.struck());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Retry the DELETE"), "{body}");
    assert_consistent(&app, &org, &[&team, &other]).await;
    assert_eq!(app.store.team_members(&org.id.scope(), &team).await.unwrap().len(), 11);
    // A team being deleted is gone for every reader, and takes no new member.
    let (status, _, _) = send(scim(&app, &org, Method::GET, &format!("/Groups/{team}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let filter = encode("displayName eq \"Leaving\"");
    let (_, _, found) = send(scim(&app, &org, Method::GET, &format!("/Groups?filter={filter}"))).await;
    assert_eq!(found["totalResults"], 0, "{found}");
    let (_, _, user) = send(scim(&app, &org, Method::GET, &format!("/Users/{}", users[59]))).await;
    let groups: BTreeSet<String> = user["groups"]
        .as_array()
        .map(|g| g.iter().map(|g| g["value"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    assert!(!groups.contains(&team), "{user}");
    let add = json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]);
    let (status, _, _) = patch_group(&app, &org, &team, add).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The IdP retries: the delete finishes, and the name is free again.
    let (status, _, body) = send(scim(&app, &org, Method::DELETE, &format!("/Groups/{team}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(app.store.team_state(&org.id.scope(), &team).await.unwrap().is_none());
    assert!(app.store.team_members(&org.id.scope(), &team).await.unwrap().is_empty());
    assert_consistent(&app, &org, &[&other]).await;
    create_group(&app, &org, "Leaving", &[]).await;
}

#[tokio::test]
async fn a_team_delete_with_if_match_holds_against_a_concurrent_writer_over_http() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = new_user(&app, &org).await;
    let team = create_group(&app, &org, "Pinned", &[]).await;
    let version = read_group(&app, &org, &team).await["meta"]["version"].as_str().unwrap().to_owned();
    let add = json!([{"op": "add", "path": "members", "value": [{"value": user}]}]);
    assert_eq!(patch_group(&app, &org, &team, add).await.0, StatusCode::NO_CONTENT);
    let request = scim(&app, &org, Method::DELETE, &format!("/Groups/{team}")).header("if-match", version);
    let (status, _, body) = send(request).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(crate::scim_client::member_values(&read_group(&app, &org, &team).await), vec![user]);
}

// Deletes under real concurrency and faults, seen over HTTP: a DELETE that loses to a writer
// leaves the user's memberships in place, and a team DELETE that DynamoDB fails keeps every count
// equal to what it counts until the retry completes it.

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
