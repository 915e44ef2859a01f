//! Large teams and concurrent writers on /Groups: adding or removing one member costs the same
//! few DynamoDB round trips at 10 and at 10,000 members, one PATCH can add 10,000 members, and
//! concurrent PATCHes lose nothing. Users (and, for the big team, memberships) are loaded straight
//! into the table in batches of 25, not through HTTP, to keep the tests fast.
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use insomnia_scim::domain::EmailAddress;
use insomnia_scim::scim::group::{envelope_len, LIST_PAGE_BUDGET};
use insomnia_scim::store::MemberRecord;
use reqwest::header::IF_MATCH;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{spawn_app, FaultTiming, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    create_bare_group, encode, member_count, member_value_set, member_values, patch_group, patch_group_request,
    read_group, scim, send, with_body, ERROR_SCHEMA, LIST_SCHEMA, USER_SCHEMA,
};

/// The budget: adding or removing one team member, whatever the team size: the team beside the
/// token check, then one transaction (the floor, docs/ARCHITECTURE.md, "Round trips per operation").
const MEMBER_CHANGE_BUDGET: usize = 2;

/// `totalResults` of `GET /Users?filter=groups.value eq "{gid}"`.
async fn users_of_group_total(app: &TestApp, org: &ScimOrg, gid: &str) -> u64 {
    let filter = encode(&format!("groups.value eq \"{gid}\""));
    let (status, _, body) = send(scim(app, org, Method::GET, &format!("/Users?filter={filter}&count=1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["Resources"].as_array().unwrap().len() <= 1, "{body}");
    body["totalResults"].as_u64().unwrap()
}

/// `n` SCIM-managed users of the organization, written straight into the table; returns their ids.
async fn bulk_users(app: &TestApp, org: &ScimOrg, n: usize) -> Vec<String> {
    let batch = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let now = Utc::now();
    let members: Vec<MemberRecord> = (0..n)
        .map(|i| {
            let email = format!("bulk.{batch}.{i}@example.com");
            let resource = json!({
                "schemas": [USER_SCHEMA],
                "userName": email,
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": true
            });
            MemberRecord::provisioned(EmailAddress::parse(&email).unwrap(), &resource, now)
        })
        .collect();
    app.store.load_members_unchecked(&org.id.scope(), &members).await.unwrap();
    members.into_iter().map(|m| m.id).collect()
}

/// Memberships of `user_ids` in team `gid`, loaded in bulk (the store's fixture loader, which also
/// sets the team's member_count).
async fn bulk_memberships(app: &TestApp, org: &ScimOrg, gid: &str, user_ids: &[String]) {
    app.store.load_memberships_unchecked(&org.id.scope(), gid, user_ids).await.unwrap();
}

/// Sets the team item's `member_count` directly in the table.
async fn set_member_count(app: &TestApp, org: &ScimOrg, gid: &str, count: u64) {
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", AttributeValue::S(insomnia_scim::store::keys::team_sk(gid)))
        .update_expression("SET member_count = :n")
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":n", AttributeValue::N(count.to_string()))
        .send()
        .await
        .unwrap();
}

/// The round trips of one request: `calls()` read right after the response.
async fn measured(app: &TestApp, request: RequestBuilder, expected: StatusCode) -> Vec<String> {
    app.round_trips.start();
    let (status, _, body) = send(request).await;
    let calls = app.round_trips.calls();
    assert_eq!(status, expected, "{body}");
    calls
}

#[derive(Debug, Default)]
struct Costs {
    okta_add: Vec<String>,
    okta_remove: Vec<String>,
    entra_add: Vec<String>,
    entra_remove: Vec<String>,
    read_without_members: Vec<String>,
}

/// Adds `extra` to team `gid` and removes it again, in Okta's and in Entra's forms, counting the
/// round trips of each request.
async fn member_change_costs(app: &TestApp, org: &ScimOrg, gid: &str, extra: &str) -> Costs {
    let okta_add = json!([{"op": "add", "path": "members", "value": [{"value": extra, "display": "bulk user"}]}]);
    let okta_remove = json!([{"op": "remove", "path": format!("members[value eq \"{extra}\"]")}]);
    let entra_add = json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": extra}]}]);
    let entra_remove = json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": extra}]}]);
    Costs {
        okta_add: measured(app, patch_group_request(app, org, gid, &okta_add), StatusCode::NO_CONTENT).await,
        okta_remove: measured(app, patch_group_request(app, org, gid, &okta_remove), StatusCode::NO_CONTENT).await,
        entra_add: measured(app, patch_group_request(app, org, gid, &entra_add), StatusCode::NO_CONTENT).await,
        entra_remove: measured(app, patch_group_request(app, org, gid, &entra_remove), StatusCode::NO_CONTENT).await,
        read_without_members: measured(
            app,
            scim(app, org, Method::GET, &format!("/Groups/{gid}?excludedAttributes=members")),
            StatusCode::OK,
        )
        .await,
    }
}

#[tokio::test]
async fn adding_or_removing_one_member_costs_the_same_few_round_trips_at_10_and_at_10000_members() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let small = create_bare_group(&app, &org, "Small team").await;
    let big = create_bare_group(&app, &org, "Big team").await;

    // The 10-member team first (measured while the table is small: moto's TransactWriteItems copies
    // the whole table per action, which only slows the local stack down, not the count).
    let few = bulk_users(&app, &org, 11).await;
    let extra = few[10].clone();
    bulk_memberships(&app, &org, &small, &few[..10]).await;
    assert_eq!(member_count(&app, &org, &small).await, 10);
    let at_10 = member_change_costs(&app, &org, &small, &extra).await;
    assert_eq!(member_count(&app, &org, &small).await, 10);
    assert_eq!(users_of_group_total(&app, &org, &small).await, 10);

    let many = bulk_users(&app, &org, 10_000).await;
    bulk_memberships(&app, &org, &big, &many).await;
    assert_eq!(member_count(&app, &org, &big).await, 10_000);
    let at_10k = member_change_costs(&app, &org, &big, &extra).await;

    for (form, costs) in [
        ("Okta add", (&at_10.okta_add, &at_10k.okta_add)),
        ("Okta remove", (&at_10.okta_remove, &at_10k.okta_remove)),
        ("Entra add", (&at_10.entra_add, &at_10k.entra_add)),
        ("Entra remove", (&at_10.entra_remove, &at_10k.entra_remove)),
    ] {
        let (small_calls, big_calls) = costs;
        assert!(small_calls.len() <= MEMBER_CHANGE_BUDGET, "{form} at 10 members: {small_calls:?}");
        assert!(big_calls.len() <= MEMBER_CHANGE_BUDGET, "{form} at 10,000 members: {big_calls:?}");
        assert_eq!(
            small_calls.len(),
            big_calls.len(),
            "{form}: the same cost at 10 and at 10,000 members ({small_calls:?} vs {big_calls:?})"
        );
    }
    // excludedAttributes=members never reads memberships, so it costs the same too.
    assert!(at_10.read_without_members.len() <= 2, "{:?}", at_10.read_without_members);
    assert_eq!(
        at_10.read_without_members.len(),
        at_10k.read_without_members.len(),
        "{:?} vs {:?}",
        at_10.read_without_members,
        at_10k.read_without_members
    );
    // The count stays exact through the add/remove pairs.
    assert_eq!(member_count(&app, &org, &big).await, 10_000);
}

/// One PATCH adding `n` members (users loaded in bulk) to a team that already holds the first
/// `present` of them: 204, then exactly `n` members, by the store's count, by
/// `/Users?filter=groups.value eq`, and in the group itself, each once and sorted.
async fn one_patch_adds_members_with_an_exact_count(n: usize, present: usize) {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let gid = create_bare_group(&app, &org, "Everyone").await;
    let users = bulk_users(&app, &org, n).await;
    if present > 0 {
        let value: Vec<Value> = users[..present].iter().map(|id| json!({"value": id})).collect();
        let (status, _, body) =
            patch_group(&app, &org, &gid, json!([{"op": "add", "path": "members", "value": value}])).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(member_count(&app, &org, &gid).await, present as u64);
    }
    let value: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let (status, _, body) =
        patch_group(&app, &org, &gid, json!([{"op": "add", "path": "members", "value": value}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(member_count(&app, &org, &gid).await, n as u64);
    assert_eq!(users_of_group_total(&app, &org, &gid).await, n as u64);
    let (status, _, without) =
        send(scim(&app, &org, Method::GET, &format!("/Groups/{gid}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::OK, "{without}");
    assert!(without.get("members").is_none());
    // Within what one response carries (20,000): every member, once, sorted.
    let read = read_group(&app, &org, &gid).await;
    let members = member_values(&read);
    assert_eq!(members.len(), n);
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(members, expected, "every member exactly once, sorted by value");
}

/// One PATCH with 10,000 new members is ~205 TransactWriteItems of ≤ 99 actions (49 members each).
/// (The test launcher's moto rolls transactions back per item; stock moto copies the table per
/// action, which made this take over 25 minutes.)
#[tokio::test]
async fn one_patch_adding_10000_members_succeeds_with_an_exact_count() {
    one_patch_adds_members_with_an_exact_count(10_000, 0).await;
}

#[tokio::test]
async fn a_single_patch_adding_250_members_to_a_team_holding_50_is_exact() {
    // 250 ids, 50 of them already members: the 200 new ones span more than one transaction.
    one_patch_adds_members_with_an_exact_count(250, 50).await;
}

#[tokio::test]
async fn fifty_concurrent_patch_adds_all_land() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 50).await;
    let gid = create_bare_group(&app, &org, "Crowd").await;
    let mut set = JoinSet::new();
    for user in &users {
        let operations = json!([{"op": "add", "path": "members", "value": [{"value": user}]}]);
        set.spawn(send(patch_group_request(&app, &org, &gid, &operations)));
    }
    let mut statuses = Vec::new();
    while let Some(done) = set.join_next().await {
        let (status, _, body) = done.unwrap();
        statuses.push((status, body));
    }
    let failures: Vec<_> = statuses.iter().filter(|(s, _)| *s != StatusCode::NO_CONTENT).collect();
    assert!(failures.is_empty(), "every concurrent add succeeds: {failures:?}");

    let members: BTreeSet<String> = member_values(&read_group(&app, &org, &gid).await).into_iter().collect();
    assert_eq!(members, users.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(member_count(&app, &org, &gid).await, 50);
    assert_eq!(users_of_group_total(&app, &org, &gid).await, 50);
}

#[tokio::test]
async fn a_concurrent_rename_and_member_adds_lose_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 20).await;
    let gid = create_bare_group(&app, &org, "Before").await;
    let mut set = JoinSet::new();
    for (i, user) in users.iter().enumerate() {
        let operations = json!([{"op": "add", "path": "members", "value": [{"value": user}]}]);
        set.spawn(send(patch_group_request(&app, &org, &gid, &operations)));
        if i == 5 {
            let rename = json!([{"op": "replace", "path": "displayName", "value": "After"}]);
            set.spawn(send(patch_group_request(&app, &org, &gid, &rename)));
        }
        if i == 12 {
            let external = json!([{"op": "Replace", "path": "externalId", "value": "ext-after"}]);
            set.spawn(send(patch_group_request(&app, &org, &gid, &external)));
        }
    }
    while let Some(done) = set.join_next().await {
        let (status, _, body) = done.unwrap();
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let read = read_group(&app, &org, &gid).await;
    assert_eq!(read["displayName"], "After");
    assert_eq!(read["externalId"], "ext-after");
    let members: BTreeSet<String> = member_values(&read).into_iter().collect();
    assert_eq!(members, users.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(member_count(&app, &org, &gid).await, 20);

    let lookup = |name: &str| format!("/Groups?filter={}", encode(&format!("displayName eq \"{name}\"")));
    let (_, _, after) = send(scim(&app, &org, Method::GET, &lookup("After"))).await;
    assert_eq!(after["totalResults"], 1, "{after}");
    let (_, _, before) = send(scim(&app, &org, Method::GET, &lookup("Before"))).await;
    assert_eq!(before["totalResults"], 0, "{before}");
    create_bare_group(&app, &org, "Before").await;
}

#[tokio::test]
async fn concurrent_patches_with_the_same_if_match_let_exactly_one_through() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 10).await;
    let gid = create_bare_group(&app, &org, "Guarded").await;
    let (_, headers, _) = send(scim(&app, &org, Method::GET, &format!("/Groups/{gid}"))).await;
    let version = headers["etag"].to_str().unwrap().to_owned();
    let mut set = JoinSet::new();
    for user in &users {
        let operations = json!([{"op": "add", "path": "members", "value": [{"value": user}]}]);
        set.spawn(send(patch_group_request(&app, &org, &gid, &operations).header(IF_MATCH, version.as_str())));
    }
    let mut ok = 0;
    let mut precondition_failed = 0;
    while let Some(done) = set.join_next().await {
        let (status, _, body) = done.unwrap();
        match status {
            StatusCode::NO_CONTENT => ok += 1,
            StatusCode::PRECONDITION_FAILED => {
                assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
                precondition_failed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, precondition_failed), (1, 9), "one writer holds the version");
    assert_eq!(member_values(&read_group(&app, &org, &gid).await).len(), 1);
    assert_eq!(member_count(&app, &org, &gid).await, 1);
}

#[tokio::test]
async fn a_team_over_20000_members_answers_too_many_unless_members_are_excluded() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 3).await;
    let gid = create_bare_group(&app, &org, "Huge").await;
    let value: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let (status, _, body) =
        patch_group(&app, &org, &gid, json!([{"op": "add", "path": "members", "value": value}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // At the limit the members are still returned.
    set_member_count(&app, &org, &gid, 20_000).await;
    assert_eq!(member_values(&read_group(&app, &org, &gid).await).len(), 3);

    set_member_count(&app, &org, &gid, 20_001).await;
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Groups/{gid}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(body["status"], "400");
    assert_eq!(body["scimType"], "tooMany");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("excludedAttributes=members"), "{detail}");
    assert!(detail.contains("groups.value"), "{detail}");

    let (status, _, body) =
        send(scim(&app, &org, Method::GET, &format!("/Groups/{gid}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("members").is_none());
    assert_eq!(body["displayName"], "Huge");
    let filter = encode("displayName eq \"Huge\"");
    let (status, _, body) =
        send(scim(&app, &org, Method::GET, &format!("/Groups?excludedAttributes=members&filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1);
    // Its members are still paged through /Users (the total may come from the count set above).
    let filter = encode(&format!("groups.value eq \"{gid}\""));
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users?filter={filter}&count=10"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: BTreeSet<String> =
        body["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, users.iter().cloned().collect::<BTreeSet<_>>());
}

/// What the store holds for a team, three ways: its counter, its membership items (through
/// `/Users?filter=groups.value eq`), and the group's member list.
async fn membership_views(app: &TestApp, org: &ScimOrg, gid: &str) -> (u64, u64, usize) {
    let listed = member_values(&read_group(app, org, gid).await).len();
    (member_count(app, org, gid).await, users_of_group_total(app, org, gid).await, listed)
}

fn assert_interrupted(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{body}");
    assert_eq!(body["status"], "503", "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("Retry the request"), "{detail}");
}

#[tokio::test]
async fn a_chunk_failing_half_way_through_a_patch_leaves_an_exact_count_and_a_retry_completes_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 250).await;
    let gid = create_bare_group(&app, &org, "Interrupted").await;
    let value: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let add_all = json!([{"op": "add", "path": "members", "value": value}]);

    // The change is recorded first (transaction 1); the second of six membership transactions
    // (49 members each) never reaches DynamoDB: the first 49 members are in.
    app.faults.fail_nth("TransactWriteItems", 3, FaultTiming::BeforeSending);
    let (status, _, body) = patch_group(&app, &org, &gid, add_all.clone()).await;
    assert!(app.faults.struck());
    assert_interrupted(status, &body);
    assert!(body["detail"].as_str().unwrap().contains("49 of the 250"), "{body}");
    assert_eq!(member_count(&app, &org, &gid).await, 49, "the count matches the items meanwhile");
    // The next reader of the team completes the recorded change: never a half-applied member set.
    assert_eq!(membership_views(&app, &org, &gid).await, (250, 250, 250));

    // The IdP retries the same PATCH: nothing is left to do, the count stays exact.
    let (status, _, body) = patch_group(&app, &org, &gid, add_all).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(membership_views(&app, &org, &gid).await, (250, 250, 250));
}

#[tokio::test]
async fn a_chunk_whose_answer_is_lost_after_commit_still_leaves_an_exact_count() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 250).await;
    let gid = create_bare_group(&app, &org, "Lost answer").await;
    bulk_memberships(&app, &org, &gid, &users).await;
    let value: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let remove_all = json!([{"op": "remove", "path": "members", "value": value}]);

    // The second membership transaction commits (49 more removed) but its answer is lost: the
    // service cannot know, yet the counter moved in the same transaction as the items.
    app.faults.fail_nth("TransactWriteItems", 3, FaultTiming::AfterCommit);
    let (status, _, body) = patch_group(&app, &org, &gid, remove_all.clone()).await;
    assert!(app.faults.struck());
    assert_interrupted(status, &body);
    assert_eq!(member_count(&app, &org, &gid).await, 152, "the count matches the items meanwhile");
    assert_eq!(membership_views(&app, &org, &gid).await, (0, 0, 0), "the next reader completes the change");

    let (status, _, body) = patch_group(&app, &org, &gid, remove_all).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(membership_views(&app, &org, &gid).await, (0, 0, 0));
}

#[tokio::test]
async fn a_post_whose_members_cannot_all_be_written_creates_nothing_and_its_retry_succeeds() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let users = bulk_users(&app, &org, 150).await;
    let members: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "All at once",
        "members": members
    });
    // Transactions: 1 creates the team, 2 adds 49 members, 3 (the next 49) fails.
    app.faults.fail_nth("TransactWriteItems", 3, FaultTiming::BeforeSending);
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Groups"), &group)).await;
    assert!(app.faults.struck());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "503", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Retry the request"), "{body}");
    let filter = encode("displayName eq \"All at once\"");
    let (status, _, found) = send(scim(&app, &org, Method::GET, &format!("/Groups?filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 0, "nobody sees the half-made team: {found}");

    // The IdP's retry is not refused as a duplicate.
    let (status, _, created) = send(with_body(scim(&app, &org, Method::POST, "/Groups"), &group)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let gid = created["id"].as_str().unwrap();
    assert_eq!(membership_views(&app, &org, gid).await, (150, 150, 150));
}

// `GET /Groups` is bounded per page, not per team: a page of several large teams stops before the
// team that would take it over `LIST_PAGE_BUDGET` (what one Lambda response can carry), answers
// `200` with fewer teams than `count` and an honest `itemsPerPage`, and an IdP paging by
// `startIndex` gets every team exactly once, each with all its members.
//
// The memberships are loaded straight into the table with the store's bulk loader. Their user ids
// are long (the membership items do not need user items), so that a few thousand memberships weigh
// what tens of thousands of real ones would, and the test stays fast on moto.

const BIG_TEAMS: usize = 4;

/// A user id of about 800 bytes (within DynamoDB's 1 KiB sort-key limit).
fn long_user_id(team: usize, i: usize) -> String {
    format!("{}-{team}-{i}-{}", uuid::Uuid::new_v4(), "x".repeat(760))
}

/// What one member entry of a rendered group weighs in a response.
fn member_weight(org: &ScimOrg, id: &str) -> usize {
    let entry = serde_json::json!({"value": id, "$ref": format!("{}/Users/{id}", org.base), "type": "User"});
    envelope_len(&entry.to_string()) + 1
}

/// `GET /Groups?startIndex=…&count=100`: the status, the body as text and as JSON.
async fn list_page(app: &TestApp, org: &ScimOrg, query: &str) -> (StatusCode, String, serde_json::Value) {
    let response = scim(app, org, Method::GET, &format!("/Groups?{query}")).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.chars().take(500).collect()));
    (status, text, body)
}

#[tokio::test]
async fn a_page_of_large_teams_stops_within_the_budget_and_paging_by_start_index_returns_every_team_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // Each big team is ~40% of the budget: two fit on a page, three do not.
    let per_team = LIST_PAGE_BUDGET * 2 / 5 / member_weight(&org, &long_user_id(0, 0)) + 1;
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut loads = Vec::new();
    for team in 0..BIG_TEAMS {
        let gid = create_bare_group(&app, &org, &format!("Big team {team}")).await;
        let members: Vec<String> = (0..per_team).map(|i| long_user_id(team, i)).collect();
        expected.insert(gid.clone(), members.iter().cloned().collect());
        loads.push((gid, members));
    }
    let small = create_bare_group(&app, &org, "Small team").await;
    let few: Vec<String> = (0..3).map(|i| long_user_id(99, i)).collect();
    expected.insert(small.clone(), few.iter().cloned().collect());
    loads.push((small, few));
    let mut tasks = tokio::task::JoinSet::new();
    for (gid, members) in loads {
        let store = app.store.clone();
        let org_id = org.id.clone();
        tasks.spawn(async move { store.load_memberships_unchecked(&org_id.scope(), &gid, &members).await.unwrap() });
    }
    tasks.join_all().await;
    let sum: usize = expected.values().map(|m| m.iter().map(|id| member_weight(&org, id)).sum::<usize>()).sum();
    assert!(sum > LIST_PAGE_BUDGET * 3 / 2, "the teams together are well over one response: {sum}");

    // Without members every team fits on one page.
    let (status, _, body) = list_page(&app, &org, "excludedAttributes=members").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["itemsPerPage"], expected.len(), "{body}");

    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut start = 1;
    let mut pages = 0;
    while start <= expected.len() {
        let (status, text, body) = list_page(&app, &org, &format!("startIndex={start}&count=100")).await;
        assert_eq!(status, StatusCode::OK, "page at {start}: {body}");
        assert!(envelope_len(&text) <= LIST_PAGE_BUDGET, "page at {start} weighs {}", envelope_len(&text));
        assert_eq!(body["schemas"], serde_json::json!([LIST_SCHEMA]));
        assert_eq!(body["totalResults"], expected.len(), "totalResults counts every match on every page");
        assert_eq!(body["startIndex"], start);
        let resources = body["Resources"].as_array().unwrap();
        assert_eq!(body["itemsPerPage"], resources.len(), "itemsPerPage is what the page holds");
        assert!(!resources.is_empty(), "a page holds at least one team");
        assert!(resources.len() < expected.len(), "no page holds every team: {}", resources.len());
        for group in resources {
            let id = group["id"].as_str().unwrap().to_owned();
            let members = member_value_set(group);
            assert!(seen.insert(id.clone(), members).is_none(), "team {id} came twice");
        }
        start += resources.len();
        pages += 1;
        assert!(pages <= expected.len(), "paging ends");
    }
    assert!(pages >= 2, "{pages} pages");
    assert_eq!(seen.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "every team exactly once");
    for (id, members) in &expected {
        assert_eq!(seen[id].len(), members.len(), "team {id}");
        assert!(seen[id] == *members, "team {id} came with all its members");
    }
}
