//! Writes cut off part way, racing and repeated (docs/ARCHITECTURE.md, "Writes cut off part
//! way"). Each write use case is cut off after each of its store calls in turn — its future
//! dropped, as Lambda's timeout or a crash drops it, with no undo running — and with the answer of
//! that call lost after it committed. After every cut: counters equal the items they count, no
//! membership outlives its user or team, no guard lacks a live holder, and readers see the state
//! before or after the write; then the IdP's retry or the scheduler's sweep completes it.
use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::Method;
use chrono::{Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, MemberRecord};
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::TokenScheduler;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, CutTiming, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{created_id, encode, read_group, scim, send, unique_email, user_with_work_email, with_body};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// More members than one membership transaction holds (49), so member writes take several.
const TEAM_SIZE: usize = 55;

/// A request to the routers in this process, for `TestApp::cut_off`.
fn request(org: &ScimOrg, method: Method, path: &str, body: Option<&Value>) -> axum::http::Request<Body> {
    let builder = axum::http::Request::builder()
        .method(method)
        .uri(format!("/scim/v2/orgs/{}{path}", org.id))
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", org.token));
    match body {
        Some(body) => builder.header("content-type", "application/scim+json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

async fn status_of(app: &TestApp, org: &ScimOrg, method: Method, path: &str, body: Option<&Value>) -> StatusCode {
    let response = app.cut_off(request(org, method, path, body), usize::MAX, CutTiming::BeforeSending).await;
    response.expect("not cut off").status()
}

/// Users loaded straight into the table (with the organization's member counter moved to match),
/// for teams of `TEAM_SIZE`.
async fn user_pool(app: &TestApp, org: &ScimOrg, n: usize) -> Vec<String> {
    let batch = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let now = Utc::now();
    let members: Vec<MemberRecord> = (0..n)
        .map(|i| {
            let email = format!("pool.{batch}.{i}@example.com");
            let resource = json!({"schemas": [USER_SCHEMA], "userName": email, "active": true,
                                  "emails": [{"value": email, "type": "work", "primary": true}]});
            MemberRecord::provisioned(EmailAddress::parse(&email).unwrap(), &resource, now)
        })
        .collect();
    app.store.load_members_unchecked(&org.id.scope(), &members).await.unwrap();
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", AttributeValue::S("ORG".into()))
        .update_expression("ADD member_count :n")
        .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
    ids.sort();
    ids
}

type Item = HashMap<String, AttributeValue>;

async fn table_items(app: &TestApp) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = app
            .store
            .client()
            .scan()
            .table_name(&app.table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// What must hold at every moment, whatever was cut off: the violations found.
async fn violations(app: &TestApp, org: &ScimOrg) -> Vec<String> {
    let items = table_items(app).await;
    let org_pk = insomnia_scim::store::keys::org_pk(&org.id);
    let members_prefix = format!("{org_pk}#GROUP#");
    let mut users: HashMap<String, i64> = HashMap::new();
    let mut teams: HashMap<String, i64> = HashMap::new();
    let mut memberships: Vec<(String, String)> = Vec::new();
    let mut org_members = 0;
    let mut holders: Vec<(String, String)> = Vec::new();
    for item in &items {
        let (pk, sk) = (text(item, "PK"), text(item, "SK"));
        if pk == org_pk {
            if let Some(id) = sk.strip_prefix("USER#") {
                users.insert(id.to_owned(), number(item, "team_count"));
            } else if let Some(id) = sk.strip_prefix("GROUP#") {
                teams.insert(id.to_owned(), number(item, "member_count"));
            } else if sk == "ORG" {
                org_members = number(item, "member_count");
            } else if ["USERNAME#", "EMAIL#", "TEAMNAME#", "LOOKUP#"].iter().any(|p| sk.starts_with(p)) {
                holders.push((sk.to_owned(), text(item, "member_id").to_owned()));
            }
        } else if let Some(team) = pk.strip_prefix(&members_prefix) {
            if let Some(user) = sk.strip_prefix("MEMBER#") {
                memberships.push((team.to_owned(), user.to_owned()));
            }
        }
    }
    let mut found = Vec::new();
    if org_members != users.len() as i64 {
        found.push(format!("organization counts {org_members} members, {} user items", users.len()));
    }
    for (team, count) in &teams {
        let items = memberships.iter().filter(|(t, _)| t == team).count() as i64;
        if *count != items {
            found.push(format!("team {team} counts {count} members, {items} membership items"));
        }
    }
    for (user, count) in &users {
        let items = memberships.iter().filter(|(_, u)| u == user).count() as i64;
        if *count != items {
            found.push(format!("user {user} counts {count} teams, {items} membership items"));
        }
    }
    for (team, user) in &memberships {
        if !teams.contains_key(team) || !users.contains_key(user) {
            found.push(format!("membership of {user} in {team} outlives its user or team"));
        }
    }
    for (guard, holder) in &holders {
        if !users.contains_key(holder) && !teams.contains_key(holder) {
            found.push(format!("{guard} is held by {holder}, which does not exist"));
        }
    }
    found
}

/// Whether every write of the organization is complete: nothing marked, nothing pending.
async fn unfinished(app: &TestApp, org: &ScimOrg) -> Vec<String> {
    let org_pk = insomnia_scim::store::keys::org_pk(&org.id);
    let items = table_items(app).await;
    let mut found = Vec::new();
    for item in &items {
        let (pk, sk) = (text(item, "PK"), text(item, "SK"));
        if pk == org_pk && (item.contains_key("deleting_since") || item.contains_key("pending")) {
            found.push(format!("{sk} is still being written"));
        }
        if pk == "PENDING" && sk.starts_with(&format!("{}#", org.id)) {
            found.push(format!("pending write {sk}"));
        }
    }
    found
}

fn assert_sound(found: Vec<String>, at: &str) {
    assert!(found.is_empty(), "{at}: {found:#?}");
}

/// The scheduler's sweep, as of `minutes` from now.
async fn sweep(app: &TestApp, minutes: i64) {
    let scheduler = TokenScheduler::new(
        app.store.clone(),
        app.app.mailer.clone(),
        TokenKeySource::Ready(app.app.token_key.clone()),
        Clock::System,
    );
    let summary = scheduler.sweep_as_of(Utc::now() + Duration::minutes(minutes)).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
}

/// Runs a write cut off at each of its store calls in turn, both timings, each on fresh state from
/// `prepare`; after each cut checks the invariants and what `readers` see, then lets `complete`
/// finish it and checks that nothing is left unfinished. Answers the number of cuts made.
async fn cut_everywhere<S, P, PF, R, RF, C, CF>(
    app: &TestApp,
    org: &ScimOrg,
    prepare: P,
    make: impl Fn(&S) -> axum::http::Request<Body>,
    readers: R,
    complete: C,
) -> usize
where
    P: Fn() -> PF,
    PF: Future<Output = S>,
    R: Fn(S) -> RF,
    RF: Future<Output = S>,
    C: Fn(S) -> CF,
    CF: Future<Output = ()>,
{
    // How many store calls the write makes when nothing cuts it.
    let state = prepare().await;
    app.flush_logs().await;
    let answered = app.cut_off(make(&state), usize::MAX, CutTiming::BeforeSending).await;
    assert!(answered.expect("not cut").status().is_success());
    let calls = app.cuts.calls();
    complete(readers(state).await).await;
    assert!(calls > 1, "the write makes {calls} store calls");
    let mut cuts = 0;
    for nth in 1..=calls {
        for timing in [CutTiming::BeforeSending, CutTiming::AfterCommit] {
            let state = prepare().await;
            app.flush_logs().await;
            let at = format!("cut at call {nth} of {calls} ({timing:?})");
            if app.cut_off(make(&state), nth, timing).await.is_some() {
                // Fewer calls this time (e.g. nothing left to retry): nothing was cut.
                complete(state).await;
                continue;
            }
            cuts += 1;
            assert_sound(violations(app, org).await, &at);
            let state = readers(state).await;
            assert_sound(violations(app, org).await, &format!("{at}, after the readers"));
            complete(state).await;
            assert_sound(violations(app, org).await, &format!("{at}, completed"));
            assert_sound(unfinished(app, org).await, &format!("{at}, completed"));
        }
    }
    cuts
}

fn no_readers<S>(state: S) -> impl Future<Output = S> {
    std::future::ready(state)
}

async fn group_members(app: &TestApp, org: &ScimOrg, id: &str) -> Option<BTreeSet<String>> {
    let (status, _, group) = send(scim(app, org, reqwest::Method::GET, &format!("/Groups/{id}"))).await;
    match status {
        StatusCode::OK => Some(
            group["members"]
                .as_array()
                .map(|m| m.iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
        ),
        StatusCode::NOT_FOUND => None,
        other => panic!("GET group answered {other}: {group}"),
    }
}

async fn groups_named(app: &TestApp, org: &ScimOrg, name: &str) -> Vec<Value> {
    let filter = encode(&format!("displayName eq \"{name}\""));
    let (status, _, body) = send(scim(app, org, reqwest::Method::GET, &format!("/Groups?filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Resources"].as_array().cloned().unwrap_or_default()
}

fn members_json(ids: &[String]) -> Vec<Value> {
    ids.iter().map(|id| json!({"value": id})).collect()
}

#[tokio::test]
async fn a_user_post_cut_off_anywhere_is_completed_by_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let cuts = cut_everywhere(
        &app,
        &org,
        || async { unique_email("cut.post") },
        |email: &String| request(&org, Method::POST, "/Users", Some(&user_with_work_email(email))),
        no_readers,
        |email: String| {
            let (app, org) = (&app, &org);
            async move {
                let body = user_with_work_email(&email);
                let status = status_of(app, org, Method::POST, "/Users", Some(&body)).await;
                assert!(status == StatusCode::CREATED || status == StatusCode::CONFLICT, "retry: {status}");
                let filter = encode(&format!("userName eq \"{email}\""));
                let (_, _, found) =
                    send(scim(app, org, reqwest::Method::GET, &format!("/Users?filter={filter}"))).await;
                assert_eq!(found["totalResults"], 1, "{found}");
            }
        },
    )
    .await;
    eprintln!("POST /Users: {cuts} cuts");
}

#[tokio::test]
async fn a_user_patch_cut_off_anywhere_is_completed_by_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "title", "value": "Cut"}]});
    let cuts = cut_everywhere(
        &app,
        &org,
        || async {
            created_id(with_body(
                scim(&app, &org, reqwest::Method::POST, "/Users"),
                &user_with_work_email(&unique_email("cut.patch")),
            ))
            .await
        },
        |id: &String| request(&org, Method::PATCH, &format!("/Users/{id}"), Some(&patch)),
        no_readers,
        |id: String| {
            let (app, org, patch) = (&app, &org, &patch);
            async move {
                assert_eq!(
                    status_of(app, org, Method::PATCH, &format!("/Users/{id}"), Some(patch)).await,
                    StatusCode::OK
                );
                let user = crate::scim_client::read_user(app, org, &id).await;
                assert_eq!((user["active"].clone(), user["title"].clone()), (json!(false), json!("Cut")));
            }
        },
    )
    .await;
    eprintln!("PATCH /Users: {cuts} cuts");
}

#[tokio::test]
async fn a_user_delete_cut_off_anywhere_is_finished_by_the_sweep_or_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let cuts = cut_everywhere(
        &app,
        &org,
        || async {
            let id = created_id(with_body(
                scim(&app, &org, reqwest::Method::POST, "/Users"),
                &user_with_work_email(&unique_email("cut.del")),
            ))
            .await;
            let teams = [
                crate::scim_client::create_group(&app, &org, &format!("Del A {id}"), &[&id]).await,
                crate::scim_client::create_group(&app, &org, &format!("Del B {id}"), &[&id]).await,
            ];
            (id, teams)
        },
        |(id, _): &(String, [String; 2])| request(&org, Method::DELETE, &format!("/Users/{id}"), None),
        no_readers,
        |(id, teams): (String, [String; 2])| {
            let (app, org) = (&app, &org);
            async move {
                sweep(app, 10).await;
                let status = status_of(app, org, Method::DELETE, &format!("/Users/{id}"), None).await;
                assert!(status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND, "retry: {status}");
                for team in &teams {
                    let members = group_members(app, org, team).await.unwrap();
                    assert!(!members.contains(&id), "team {team} still lists the deleted user");
                }
            }
        },
    )
    .await;
    eprintln!("DELETE /Users: {cuts} cuts");
}

#[tokio::test]
async fn a_group_post_with_members_cut_off_anywhere_is_never_half_seen_and_its_retry_completes_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, TEAM_SIZE).await;
    let body = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members_json(&pool)});
    let cuts = cut_everywhere(
        &app,
        &org,
        || async { format!("Cut {}", uuid::Uuid::new_v4().simple()) },
        |name: &String| request(&org, Method::POST, "/Groups", Some(&body(name))),
        |name: String| {
            let (app, org, pool) = (&app, &org, &pool);
            async move {
                // Nobody sees a half-made group: none, or all of its members.
                for group in groups_named(app, org, &name).await {
                    let members = group_members(app, org, group["id"].as_str().unwrap()).await.unwrap();
                    assert_eq!(members.len(), pool.len(), "{name} seen with {} members", members.len());
                }
                name
            }
        },
        |name: String| {
            let (app, org, pool, body) = (&app, &org, &pool, &body);
            async move {
                let status = status_of(app, org, Method::POST, "/Groups", Some(&body(&name))).await;
                assert!(status == StatusCode::CREATED || status == StatusCode::CONFLICT, "retry: {status}");
                let found = groups_named(app, org, &name).await;
                assert_eq!(found.len(), 1, "{found:?}");
                let members = group_members(app, org, found[0]["id"].as_str().unwrap()).await.unwrap();
                assert_eq!(members, pool.iter().cloned().collect::<BTreeSet<_>>());
            }
        },
    )
    .await;
    eprintln!("POST /Groups with {TEAM_SIZE} members: {cuts} cuts");
}

#[tokio::test]
async fn a_group_put_cut_off_anywhere_shows_the_old_or_new_members_and_its_retry_completes_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, 2 * TEAM_SIZE).await;
    let (old, new) = pool.split_at(TEAM_SIZE);
    let (old, new): (BTreeSet<String>, BTreeSet<String>) =
        (old.iter().cloned().collect(), new.iter().cloned().collect());
    let put = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members_json(&new.iter().cloned().collect::<Vec<_>>())});
    let cuts = cut_everywhere(
        &app,
        &org,
        || async {
            let name = format!("Put {}", uuid::Uuid::new_v4().simple());
            let refs: Vec<&str> = old.iter().map(String::as_str).collect();
            (crate::scim_client::create_group(&app, &org, &name, &refs).await, name)
        },
        |(id, name): &(String, String)| request(&org, Method::PUT, &format!("/Groups/{id}"), Some(&put(name))),
        |(id, name): (String, String)| {
            let (app, org, old, new) = (&app, &org, &old, &new);
            async move {
                // Its members paged through /Users (what Okta and Entra read), then the group itself.
                let filter = encode(&format!("groups.value eq \"{id}\""));
                let (_, _, page) =
                    send(scim(app, org, reqwest::Method::GET, &format!("/Users?filter={filter}&count=200"))).await;
                let listed: BTreeSet<String> = page["Resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["id"].as_str().unwrap().to_owned())
                    .collect();
                assert!(listed == *old || listed == *new, "a mix of {} members listed", listed.len());
                let members = group_members(app, org, &id).await.unwrap();
                assert!(members == *old || members == *new, "a mix of {} members seen", members.len());
                (id, name)
            }
        },
        |(id, name): (String, String)| {
            let (app, org, new, put) = (&app, &org, &new, &put);
            async move {
                assert_eq!(
                    status_of(app, org, Method::PUT, &format!("/Groups/{id}"), Some(&put(&name))).await,
                    StatusCode::OK
                );
                assert_eq!(group_members(app, org, &id).await.unwrap(), *new);
            }
        },
    )
    .await;
    eprintln!("PUT /Groups replacing {TEAM_SIZE} members by {TEAM_SIZE} others: {cuts} cuts");
}

#[tokio::test]
async fn a_group_patch_adding_many_members_cut_off_anywhere_is_completed_by_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, TEAM_SIZE).await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "add", "path": "members", "value": members_json(&pool)}]});
    let everyone: BTreeSet<String> = pool.iter().cloned().collect();
    let cuts = cut_everywhere(
        &app,
        &org,
        || async {
            crate::scim_client::create_bare_group(&app, &org, &format!("Add {}", uuid::Uuid::new_v4().simple())).await
        },
        |id: &String| request(&org, Method::PATCH, &format!("/Groups/{id}"), Some(&patch)),
        |id: String| {
            let (app, org, everyone) = (&app, &org, &everyone);
            async move {
                let members = group_members(app, org, &id).await.unwrap();
                assert!(
                    members.is_empty() || members == *everyone,
                    "{} of {} members seen",
                    members.len(),
                    everyone.len()
                );
                id
            }
        },
        |id: String| {
            let (app, org, patch, everyone) = (&app, &org, &patch, &everyone);
            async move {
                assert_eq!(
                    status_of(app, org, Method::PATCH, &format!("/Groups/{id}"), Some(patch)).await,
                    StatusCode::NO_CONTENT
                );
                assert_eq!(group_members(app, org, &id).await.unwrap(), *everyone);
            }
        },
    )
    .await;
    eprintln!("PATCH /Groups adding {TEAM_SIZE} members: {cuts} cuts");
}

#[tokio::test]
async fn a_group_delete_cut_off_anywhere_is_finished_by_the_sweep_or_its_retry() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, TEAM_SIZE).await;
    let refs: Vec<&str> = pool.iter().map(String::as_str).collect();
    let cuts = cut_everywhere(
        &app,
        &org,
        || async {
            crate::scim_client::create_group(&app, &org, &format!("Gone {}", uuid::Uuid::new_v4().simple()), &refs)
                .await
        },
        |id: &String| request(&org, Method::DELETE, &format!("/Groups/{id}"), None),
        no_readers,
        |id: String| {
            let (app, org) = (&app, &org);
            async move {
                sweep(app, 10).await;
                let status = status_of(app, org, Method::DELETE, &format!("/Groups/{id}"), None).await;
                assert!(status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND, "retry: {status}");
                assert_eq!(group_members(app, org, &id).await, None);
            }
        },
    )
    .await;
    eprintln!("DELETE /Groups of {TEAM_SIZE} members: {cuts} cuts");
}

#[tokio::test]
async fn a_group_post_cut_off_and_never_retried_is_undone_by_the_sweep() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, TEAM_SIZE).await;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Never retried", "members": members_json(&pool)});
    // Cut off after the team and the first membership transaction (49 of 55 members).
    assert!(app
        .cut_off(request(&org, Method::POST, "/Groups", Some(&body)), 5, CutTiming::BeforeSending)
        .await
        .is_none());
    assert_sound(violations(&app, &org).await, "cut off");
    assert!(groups_named(&app, &org, "Never retried").await.is_empty(), "nobody sees the half-made group");
    // Too recent for the sweep: a request may still be working on it.
    sweep(&app, 0).await;
    assert!(!unfinished(&app, &org).await.is_empty());
    sweep(&app, 10).await;
    assert_sound(unfinished(&app, &org).await, "swept");
    assert_sound(violations(&app, &org).await, "swept");
    // The name is free again: a new POST creates the group (the sweep undid the unanswered one).
    let (status, _, created) = send(with_body(scim(&app, &org, reqwest::Method::POST, "/Groups"), &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        read_group(&app, &org, created["id"].as_str().unwrap()).await["members"].as_array().unwrap().len(),
        TEAM_SIZE
    );
}

#[tokio::test]
async fn a_user_delete_cut_off_after_its_first_step_does_not_make_a_create_answer_404() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("zombie");
    let id =
        created_id(with_body(scim(&app, &org, reqwest::Method::POST, "/Users"), &user_with_work_email(&email))).await;
    let team = crate::scim_client::create_group(&app, &org, "Zombie's team", &[&id]).await;
    // The DELETE's calls: the token check (BatchGetItem and its teams query, the fair-use count),
    // then the mark; cut off right after the mark committed.
    let mut cut = None;
    for nth in 1..=6 {
        app.flush_logs().await;
        if app
            .cut_off(request(&org, Method::DELETE, &format!("/Users/{id}"), None), nth, CutTiming::AfterCommit)
            .await
            .is_none()
            && unfinished(&app, &org).await.iter().any(|u| u.contains(&id))
        {
            cut = Some(nth);
            break;
        }
    }
    assert!(cut.is_some(), "no cut left the delete marked");
    // Gone for reads...
    let (status, _, _) = send(scim(&app, &org, reqwest::Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ...and a create of the same userName and email finishes that delete instead of answering 404.
    let (status, _, created) =
        send(with_body(scim(&app, &org, reqwest::Method::POST, "/Users"), &user_with_work_email(&email))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_ne!(created["id"], json!(id));
    assert!(
        !group_members(&app, &org, &team).await.unwrap().contains(&id),
        "the team no longer lists the deleted user"
    );
    assert_sound(violations(&app, &org).await, "after the create");
    assert_sound(unfinished(&app, &org).await, "after the create");
}

/// The members every serial order of the two writers could leave.
async fn race_round(
    app: &TestApp,
    org: &ScimOrg,
    pool: &[String],
    pinned: bool,
) -> (Vec<StatusCode>, BTreeSet<String>) {
    let (a, b) = (&pool[..8], &pool[8..16]);
    let id = crate::scim_client::create_group(
        app,
        org,
        &format!("Race {}", uuid::Uuid::new_v4().simple()),
        &pool[16..24].iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let (_, headers, group) = crate::scim_client::get_group(app, org, &id).await;
    let etag = headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "members", "value": members_json(a)}]});
    let mut put = group.clone();
    put["members"] = json!(members_json(b));
    let with_etag = |r: reqwest::RequestBuilder| if pinned { r.header("if-match", &etag) } else { r };
    let patching = send(with_etag(with_body(scim(app, org, reqwest::Method::PATCH, &format!("/Groups/{id}")), &patch)));
    let putting = send(with_etag(with_body(scim(app, org, reqwest::Method::PUT, &format!("/Groups/{id}")), &put)));
    let ((patch_status, _, patch_body), (put_status, _, put_body)) = tokio::join!(patching, putting);
    for (status, body) in [(patch_status, &patch_body), (put_status, &put_body)] {
        assert!(status.is_success() || status == StatusCode::PRECONDITION_FAILED, "{status}: {body}");
    }
    (vec![patch_status, put_status], group_members(app, org, &id).await.unwrap())
}

#[tokio::test]
async fn racing_member_replacements_end_as_one_of_them_never_a_mix_and_if_match_refuses_the_loser() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, 24).await;
    let (a, b): (BTreeSet<String>, BTreeSet<String>) =
        (pool[..8].iter().cloned().collect(), pool[8..16].iter().cloned().collect());
    for _ in 0..6 {
        let (_, members) = race_round(&app, &org, &pool, false).await;
        assert!(members == a || members == b, "a mix: {members:?}");
    }
    for _ in 0..6 {
        let (statuses, members) = race_round(&app, &org, &pool, true).await;
        let refused = statuses.iter().filter(|s| **s == StatusCode::PRECONDITION_FAILED).count();
        assert_eq!(refused, 1, "one of two writers with the same ETag is refused: {statuses:?}");
        assert!(members == a || members == b, "a mix: {members:?}");
        let winner = if statuses[0].is_success() { &a } else { &b };
        assert_eq!(&members, winner, "the refused writer changed nothing");
    }
    assert_sound(violations(&app, &org).await, "after the races");
}

#[tokio::test]
async fn two_walks_of_one_organization_skip_nobody_whatever_is_deleted_between_their_pages() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut ids = Vec::new();
    for i in 0..250 {
        ids.push(
            created_id(with_body(
                scim(&app, &org, reqwest::Method::POST, "/Users"),
                &user_with_work_email(&unique_email(&format!("walk{i}"))),
            ))
            .await,
        );
    }
    ids.sort();
    let page = |start: usize| {
        let (app, org) = (&app, &org);
        async move {
            let (status, _, body) =
                send(scim(app, org, reqwest::Method::GET, &format!("/Users?startIndex={start}&count=100"))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let ids: Vec<String> =
                body["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
            (ids, body["totalResults"].as_u64().unwrap() as usize)
        }
    };
    // Walk A reads page 1; ten of its users are deleted; walk B reads page 1; both walk on.
    let (mut walk_a, _) = page(1).await;
    for id in &ids[..10] {
        let (status, _, _) = send(scim(&app, &org, reqwest::Method::DELETE, &format!("/Users/{id}"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (mut walk_b, _) = page(1).await;
    for walk in [&mut walk_a, &mut walk_b] {
        let mut start = 101;
        loop {
            let (ids, total) = page(start).await;
            walk.extend(ids);
            start += 100;
            if start > total {
                break;
            }
        }
    }
    // Every user that existed throughout is seen by both walks.
    for (name, walk) in [("A", &walk_a), ("B", &walk_b)] {
        let seen: BTreeSet<&String> = walk.iter().collect();
        let skipped: Vec<&String> = ids[10..].iter().filter(|id| !seen.contains(id)).collect();
        assert!(skipped.is_empty(), "walk {name} skipped {} users", skipped.len());
    }
}

#[tokio::test]
async fn a_bulk_cut_off_anywhere_leaves_each_operation_done_or_not_done() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let pool = user_pool(&app, &org, TEAM_SIZE).await;
    let body = |(email, name): &(String, String)| {
        let mut members = members_json(&pool);
        members.push(json!({"value": "bulkId:u"}));
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_with_work_email(email)},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}}
        ]})
    };
    // Each operation is whole or absent: the user exists or not; the group, if seen, has every member.
    let check = |(email, name): (String, String)| {
        let (app, org, pool) = (&app, &org, &pool);
        async move {
            let filter = encode(&format!("userName eq \"{email}\""));
            let (_, _, users) = send(scim(app, org, reqwest::Method::GET, &format!("/Users?filter={filter}"))).await;
            let user = users["Resources"].as_array().unwrap().first().map(|u| u["id"].as_str().unwrap().to_owned());
            for group in groups_named(app, org, &name).await {
                let members = group_members(app, org, group["id"].as_str().unwrap()).await.unwrap();
                let mut expected: BTreeSet<String> = pool.iter().cloned().collect();
                expected.insert(user.clone().expect("a group made from the bulk has its user"));
                assert_eq!(members, expected, "{name} seen with {} members", members.len());
            }
            (email, name)
        }
    };
    let cuts = cut_everywhere(
        &app,
        &org,
        || async { (unique_email("cut.bulk"), format!("Bulk {}", uuid::Uuid::new_v4().simple())) },
        |state: &(String, String)| request(&org, Method::POST, "/Bulk", Some(&body(state))),
        check,
        |state: (String, String)| {
            let app = &app;
            async move {
                // Never retried: the sweep finishes or undoes what was under way.
                sweep(app, 10).await;
                check(state).await;
            }
        },
    )
    .await;
    eprintln!("POST /Bulk (a user, then a group of {TEAM_SIZE} and that user): {cuts} cuts");
}
