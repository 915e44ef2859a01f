//! Paging that does not grow with the page number (docs/ARCHITECTURE.md, "Paging"): an in-order
//! walk of `GET /Users?startIndex&count` (and of a team's members) reads about one page of items per
//! page, RFC 9865 cursors walk the same way, and filters or sorts that no key answers stay within
//! the item budget or answer `400 tooMany`. Items and round trips are counted over the wire (the
//! SDK interceptor of `helpers::RoundTrips`). Users are loaded straight into the table (the store's
//! fixture loader), then the member counter is set to match.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::EmailAddress;
use insomnia_scim::store::MemberRecord;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_on_table, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{assert_scim_error, create_bare_group, encode, ok_body, scim, send, USER_SCHEMA};

/// Items read by a whole walk, per user walked: at most this much over one read per user.
const WALK_ITEMS_PER_USER: f64 = 1.1;
const PAGE: usize = 100;

/// Users of the walks that only check their own kind of walk.
const WALKED: usize = 1_000;

/// Users of the scale run: `SCIM_PAGING_USERS`, else 3,000 (CI). The 20,000 run (docs/BENCHMARKS.md, "Paging
/// at scale") is `SCIM_PAGING_USERS=20000 cargo test -p behaviour-tests --test behaviour -- users_paging::scale`.
fn scale_size() -> usize {
    std::env::var("SCIM_PAGING_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(3_000)
}

/// `n` SCIM-managed users written straight into the table, the organization's member counter
/// moved to match; their ids in id order (the order of a walk).
async fn load_users(app: &TestApp, org: &ScimOrg, n: usize) -> Vec<String> {
    let batch = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let now = Utc::now();
    let members: Vec<MemberRecord> = (0..n)
        .map(|i| {
            let email = format!("walk.{batch}.{i}@example.com");
            let resource = json!({
                "schemas": [USER_SCHEMA],
                "userName": email,
                "emails": [{"value": email, "type": "work", "primary": true}],
                "title": if i % 2 == 0 { "even" } else { "odd" },
                "active": true
            });
            MemberRecord::provisioned(EmailAddress::parse(&email).unwrap(), &resource, now)
        })
        .collect();
    app.store.load_members_unchecked(&org.id.scope(), &members).await.unwrap();
    add_to_member_counter(app, org, n as i64).await;
    let mut ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
    ids.sort();
    ids
}

/// Moves the organization's `member_count` (what `totalResults` of an unfiltered list reads) and
/// its SCIM license counters (the users are active), as creating them would have.
async fn add_to_member_counter(app: &TestApp, org: &ScimOrg, n: i64) {
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", AttributeValue::S("ORG".into()))
        .update_expression("ADD member_count :n, licenses_scim :n, licenses_used :n")
        .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
        .send()
        .await
        .unwrap();
}

/// What one walk cost.
#[derive(Debug, Default)]
struct Walk {
    ids: Vec<String>,
    items: usize,
    pages: usize,
    most_round_trips: usize,
    round_trips: Vec<usize>,
    positions_written: usize,
}

fn page_ids(body: &Value) -> Vec<String> {
    body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

/// Walks `path` (a list path with its query) by `startIndex`, `PAGE` at a time, as Okta and Entra do.
async fn walk_by_index(app: &TestApp, org: &ScimOrg, path: &str, total: usize) -> Walk {
    let mut walk = Walk::default();
    let mut start = 1;
    loop {
        // The previous page's position is written just after its answer: let it land first.
        app.flush_logs().await;
        app.round_trips.start();
        let (status, _, body) =
            send(scim(app, org, Method::GET, &format!("{path}&startIndex={start}&count={PAGE}"))).await;
        assert_eq!(status, StatusCode::OK, "startIndex={start}: {body}");
        let rounds = app.round_trips.sequential();
        walk.items += app.round_trips.items_read();
        walk.round_trips.push(rounds);
        walk.most_round_trips = walk.most_round_trips.max(rounds);
        app.flush_logs().await;
        walk.positions_written += app.round_trips.walk_writes();
        assert_eq!(body["totalResults"].as_u64(), Some(total as u64), "startIndex={start}");
        assert_eq!(body["startIndex"].as_u64(), Some(start as u64));
        let ids = page_ids(&body);
        walk.pages += 1;
        if ids.is_empty() {
            break;
        }
        start += ids.len();
        walk.ids.extend(ids);
        if start > total {
            break;
        }
    }
    walk
}

/// Walks `path` by RFC 9865 cursors, `PAGE` at a time.
async fn walk_by_cursor(app: &TestApp, org: &ScimOrg, path: &str, total: usize) -> Walk {
    let mut walk = Walk::default();
    let mut cursor = String::new();
    loop {
        app.flush_logs().await;
        app.round_trips.start();
        let (status, _, body) =
            send(scim(app, org, Method::GET, &format!("{path}&count={PAGE}&cursor={}", encode(&cursor)))).await;
        assert_eq!(status, StatusCode::OK, "cursor={cursor}: {body}");
        let rounds = app.round_trips.sequential();
        walk.items += app.round_trips.items_read();
        walk.round_trips.push(rounds);
        walk.most_round_trips = walk.most_round_trips.max(rounds);
        assert_eq!(body["totalResults"].as_u64(), Some(total as u64));
        assert!(body.get("startIndex").is_none(), "a cursor page has no startIndex: {body}");
        walk.ids.extend(page_ids(&body));
        walk.pages += 1;
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        assert!(walk.pages <= total / PAGE + 2, "the cursor walk does not end");
    }
    walk
}

/// A request's sequential round trips, and its answer.
async fn measured(
    app: &TestApp,
    org: &ScimOrg,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (usize, StatusCode, Value) {
    app.flush_logs().await;
    app.round_trips.start();
    let request = scim(app, org, method, path);
    let request = match &body {
        Some(body) => crate::scim_client::with_body(request, body),
        None => request,
    };
    let (status, _, answer) = send(request).await;
    (app.round_trips.sequential(), status, answer)
}

fn assert_every_user_once(walk: &Walk, expected: &[String]) {
    assert_eq!(walk.ids.len(), expected.len(), "users walked");
    assert_eq!(walk.ids, expected, "each user exactly once, in id order");
}

fn assert_items_within(walk: &Walk, per_user: f64, users: usize, what: &str) {
    let budget = (per_user * users as f64) as usize;
    assert!(walk.items <= budget, "{what}: {} items read for {users} users (budget {budget})", walk.items);
}

#[tokio::test]
async fn walking_every_user_by_start_index_reads_each_item_about_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let n = WALKED;
    let ids = load_users(&app, &org, n).await;
    let walk = walk_by_index(&app, &org, "/Users?attributes=userName", n).await;
    assert_every_user_once(&walk, &ids);
    assert_items_within(&walk, WALK_ITEMS_PER_USER, n, "index walk");
    // Page 1 is read beside the token check; every later page reads its positions first. Each page
    // with a next one writes where the next starts before it is answered (one more round trip).
    assert_eq!(walk.round_trips[0], 2, "{:?}", walk.round_trips);
    assert!(walk.most_round_trips <= 3, "{:?}", walk.round_trips);
    // Every page but the last remembers where the next one starts.
    assert_eq!(walk.positions_written, walk.pages - 1);
    eprintln!(
        "index walk of {n} users: {} pages, {} items read, {} round trips at most",
        walk.pages, walk.items, walk.most_round_trips
    );
}

#[tokio::test]
async fn walking_every_user_by_cursor_reads_each_item_about_once_in_one_round_trip_a_page() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let n = WALKED;
    let ids = load_users(&app, &org, n).await;
    let walk = walk_by_cursor(&app, &org, "/Users?attributes=userName", n).await;
    assert_every_user_once(&walk, &ids);
    assert_items_within(&walk, WALK_ITEMS_PER_USER, n, "cursor walk");
    assert_eq!(walk.most_round_trips, 1, "{:?}", walk.round_trips);
}

#[tokio::test]
async fn walking_a_teams_members_reads_one_membership_and_one_user_per_member() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let n = WALKED;
    let mut ids = load_users(&app, &org, n + 10).await;
    let team = create_bare_group(&app, &org, "Everyone but ten").await;
    // Ten users stay outside the team.
    ids.truncate(n);
    app.store.load_memberships_unchecked(&org.id.scope(), &team, &ids).await.unwrap();
    let path = format!("/Users?filter={}&attributes=userName", encode(&format!("groups.value eq \"{team}\"")));
    let by_index = walk_by_index(&app, &org, &path, n).await;
    assert_every_user_once(&by_index, &ids);
    // Each member: its membership item and its user item.
    assert_items_within(&by_index, 2.0 * WALK_ITEMS_PER_USER, n, "team index walk");
    assert!(by_index.most_round_trips <= 4, "{:?}", by_index.round_trips);
    let by_cursor = walk_by_cursor(&app, &org, &path, n).await;
    assert_every_user_once(&by_cursor, &ids);
    assert_items_within(&by_cursor, 2.0 * WALK_ITEMS_PER_USER, n, "team cursor walk");
    assert!(by_cursor.most_round_trips <= 2, "{:?}", by_cursor.round_trips);
}

#[tokio::test]
async fn a_page_whose_position_is_not_remembered_is_read_from_the_start_and_is_the_same() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let ids = load_users(&app, &org, 250).await;
    // Nobody walked to 201: no position; the answer is still users 201..250.
    app.round_trips.start();
    let body = ok_body(scim(&app, &org, Method::GET, "/Users?startIndex=201&count=100")).await;
    assert_eq!(page_ids(&body), ids[200..].to_vec());
    assert!(app.round_trips.items_read() >= 250, "read from the start: {}", app.round_trips.items_read());
    // A page of a walk remembers where the next starts; a different count continues from there too.
    let first = ok_body(scim(&app, &org, Method::GET, "/Users?startIndex=1&count=30")).await;
    assert_eq!(page_ids(&first), ids[..30].to_vec());
    app.flush_logs().await;
    app.round_trips.start();
    let next = ok_body(scim(&app, &org, Method::GET, "/Users?startIndex=31&count=7")).await;
    assert_eq!(page_ids(&next), ids[30..37].to_vec());
    assert!(app.round_trips.items_read() <= 12, "read from the position: {}", app.round_trips.items_read());
    // A position past its time is not used: another instance a day later reads from the start.
    app.flush_logs().await;
    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + chrono::Duration::hours(2))).await;
    later.round_trips.start();
    let again = ok_body(scim(&later, &org_on(&later, &org), Method::GET, "/Users?startIndex=38&count=5")).await;
    assert_eq!(page_ids(&again), ids[37..42].to_vec());
    assert!(later.round_trips.items_read() >= 42, "expired position used: {}", later.round_trips.items_read());
}

/// The same organization and token, through another server.
fn org_on(app: &TestApp, org: &ScimOrg) -> ScimOrg {
    ScimOrg { id: org.id.clone(), base: format!("{}/scim/v2/orgs/{}", app.address, org.id), token: org.token.clone() }
}

#[tokio::test]
async fn a_walk_continues_after_the_last_user_it_returned_when_users_come_and_go() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let ids = load_users(&app, &org, 40).await;
    let first = ok_body(scim(&app, &org, Method::GET, "/Users?startIndex=1&count=20")).await;
    assert_eq!(page_ids(&first), ids[..20].to_vec());
    app.flush_logs().await;
    // A user of the first page leaves: the second page still starts with user 21, none skipped.
    let (status, _, _) = send(scim(&app, &org, Method::DELETE, &format!("/Users/{}", ids[3]))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let second = ok_body(scim(&app, &org, Method::GET, "/Users?startIndex=21&count=20")).await;
    assert_eq!(page_ids(&second), ids[20..].to_vec());
}

#[tokio::test]
async fn cursors_are_opaque_bound_to_their_organization_and_query_and_expire() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let other = app.scim_org().await;
    load_users(&app, &org, 30).await;
    load_users(&app, &other, 5).await;
    let first = ok_body(scim(&app, &org, Method::GET, "/Users?cursor&count=10")).await;
    assert_eq!(page_ids(&first).len(), 10);
    let next = first["nextCursor"].as_str().unwrap().to_owned();
    assert!(!next.contains("USER#") && !next.contains(org.id.as_str()), "opaque: {next}");
    // Tampered, made up, another organization's, another query's: 400 invalidCursor.
    let mut tampered = next.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    for (who, path) in [
        (&org, format!("/Users?count=10&cursor={}", encode(&tampered))),
        (&org, "/Users?count=10&cursor=bm90LWEtY3Vyc29y.0123".to_owned()),
        (&other, format!("/Users?count=10&cursor={}", encode(&next))),
        (&org, format!("/Users?count=10&cursor={}&filter={}", encode(&next), encode("title eq \"even\""))),
    ] {
        let (status, _, body) = send(scim(&app, who, Method::GET, &path)).await;
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
    // Past cursorTimeout (an hour): 400 expiredCursor.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + chrono::Duration::hours(2))).await;
    let (status, _, body) =
        send(scim(&later, &org_on(&later, &org), Method::GET, &format!("/Users?count=10&cursor={}", encode(&next))))
            .await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("expiredCursor"));
    // Index and cursor together, or a cursor with sortBy: 400 invalidValue.
    for path in ["/Users?cursor&startIndex=1", "/Users?cursor&sortBy=userName"] {
        let (status, _, body) = send(scim(&app, &org, Method::GET, path)).await;
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    // A bad cursor with a wrong token is still 401 first.
    let stranger = ScimOrg { token: "iscim_wrong".into(), ..org_on(&app, &org) };
    let (status, _, _) = send(scim(&app, &stranger, Method::GET, "/Users?cursor=nonsense")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_filtered_cursor_walk_returns_each_match_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let ids = load_users(&app, &org, 45).await;
    // Every other user's title is "even" (load_users): 23 matches, in pages of 10.
    let filter = encode("title eq \"even\"");
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let body = ok_body(scim(
            &app,
            &org,
            Method::GET,
            &format!("/Users?filter={filter}&count=10&cursor={}", encode(&cursor)),
        ))
        .await;
        assert_eq!(body["totalResults"], 23, "{body}");
        seen.extend(page_ids(&body));
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let all = ok_body(scim(&app, &org, Method::GET, &format!("/Users?filter={filter}&count=200"))).await;
    let mut expected = page_ids(&all);
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 23);
    assert!(seen.iter().all(|id| ids.contains(id)));
}

#[tokio::test]
async fn filters_and_sorts_over_more_than_the_item_budget_answer_400_too_many() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    load_users(&app, &org, 3).await;
    // The counter says the organization is over the budget: refused before anything is read.
    add_to_member_counter(&app, &org, insomnia_scim::provisioning::LIST_ITEM_BUDGET as i64).await;
    for path in [
        format!("/Users?filter={}", encode("title eq \"even\"")),
        "/Users?sortBy=userName".to_owned(),
        format!("/Users?filter={}&cursor", encode("name.familyName co \"x\"")),
        "/Users?startIndex=60000&count=10".to_owned(),
    ] {
        app.round_trips.start();
        let (status, _, body) = send(scim(&app, &org, Method::GET, &path)).await;
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("tooMany"));
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("userName") && detail.contains("cursor"), "{path}: {detail}");
        assert!(app.round_trips.items_read() < 10, "{path}: {} items read", app.round_trips.items_read());
    }
    // A walk in order and a key lookup still answer.
    let body = ok_body(scim(&app, &org, Method::GET, "/Users?count=2")).await;
    assert_eq!(body["Resources"].as_array().unwrap().len(), 2);
    let body = ok_body(scim(&app, &org, Method::GET, &format!("/Users?filter={}", encode("userName eq \"x\"")))).await;
    assert_eq!(body["totalResults"], 0);
}

#[tokio::test]
async fn a_sorted_page_deep_in_the_list_is_right_while_keeping_only_the_top_of_the_sort() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    load_users(&app, &org, 120).await;
    let all = ok_body(scim(&app, &org, Method::GET, "/Users?sortBy=userName&sortOrder=descending&count=200")).await;
    let names: Vec<String> =
        all["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    let page =
        ok_body(scim(&app, &org, Method::GET, "/Users?sortBy=userName&sortOrder=descending&startIndex=95&count=10"))
            .await;
    let page_names: Vec<String> =
        page["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_lowercase()).collect();
    assert_eq!(page_names, names[94..104].to_vec());
    assert_eq!(page["totalResults"], 120);
    // A filter with a sort: only matches, sorted.
    let filtered = ok_body(scim(
        &app,
        &org,
        Method::GET,
        &format!("/Users?filter={}&sortBy=userName&startIndex=2&count=3", encode("title eq \"even\"")),
    ))
    .await;
    assert_eq!(filtered["totalResults"], 60);
    assert_eq!(filtered["Resources"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn service_provider_config_announces_index_and_cursor_paging() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = ok_body(scim(&app, &org, Method::GET, "/ServiceProviderConfig")).await;
    assert_eq!(
        body["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index", "defaultPageSize": 100,
               "maxPageSize": 200, "cursorTimeout": 3600})
    );
    // Groups page by index only.
    let (status, _, body) = send(scim(&app, &org, Method::GET, "/Groups?cursor")).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

/// The scale run: an organization of `scale_size()` users (20,000 in the documented run) and a
/// team holding all of them. Every page of each walk stays within its round trips and the whole
/// walk within its items; one member added and removed, a user read and a lookup stay within
/// theirs (docs/ARCHITECTURE.md, "Round trips per operation").
#[tokio::test]
async fn scale_every_walk_page_member_change_read_and_lookup_stays_within_its_budget() {
    let started = std::time::Instant::now();
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let n = scale_size();
    let ids = load_users(&app, &org, n).await;
    let team = create_bare_group(&app, &org, "Everyone").await;
    app.store.load_memberships_unchecked(&org.id.scope(), &team, &ids).await.unwrap();
    let loaded = started.elapsed();

    let users = walk_by_index(&app, &org, "/Users?attributes=userName", n).await;
    assert_every_user_once(&users, &ids);
    assert_items_within(&users, WALK_ITEMS_PER_USER, n, "index walk");
    assert!(users.most_round_trips <= 3, "{:?}", users.round_trips);
    let by_cursor = walk_by_cursor(&app, &org, "/Users?attributes=userName", n).await;
    assert_every_user_once(&by_cursor, &ids);
    assert_items_within(&by_cursor, WALK_ITEMS_PER_USER, n, "cursor walk");
    assert_eq!(by_cursor.most_round_trips, 1, "{:?}", by_cursor.round_trips);
    let team_path = format!("/Users?filter={}&attributes=userName", encode(&format!("groups.value eq \"{team}\"")));
    let members = walk_by_index(&app, &org, &team_path, n).await;
    assert_every_user_once(&members, &ids);
    assert_items_within(&members, 2.0 * WALK_ITEMS_PER_USER, n, "team index walk");
    assert!(members.most_round_trips <= 4, "{:?}", members.round_trips);
    let walked = started.elapsed() - loaded;

    // A user created through SCIM, read, looked up, added to the big team and removed again.
    let email = crate::scim_client::unique_email("scale");
    // (A create's round trips are counted in `round_trips`: its welcome email goes out after it.)
    let (_, status, created) =
        measured(&app, &org, Method::POST, "/Users", Some(crate::scim_client::user_with_work_email(&email))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (rounds, status, _) = measured(&app, &org, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, rounds), (StatusCode::OK, 1), "GET a user in no team");
    let (rounds, status, _) = measured(&app, &org, Method::GET, &format!("/Users/{}", ids[n / 2]), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(rounds <= 2, "GET a member of the big team: {rounds}");
    let lookup = format!("/Users?filter={}", encode(&format!("userName eq \"{email}\"")));
    let (rounds, status, found) = measured(&app, &org, Method::GET, &lookup, None).await;
    assert_eq!((status, found["totalResults"].as_u64()), (StatusCode::OK, Some(1)), "{found}");
    assert!(rounds <= 2, "userName eq: {rounds}");
    for operations in [
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
    ] {
        let body = json!({"schemas": [crate::scim_client::PATCH_SCHEMA], "Operations": operations});
        let (rounds, status, answer) =
            measured(&app, &org, Method::PATCH, &format!("/Groups/{team}"), Some(body)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
        assert!(rounds <= 3, "one member change of a {n}-member team: {rounds}");
    }
    eprintln!(
        "scale run, {n} users: loaded in {:.0?}, walked in {:.0?}; index walk {} items over {} pages (≤ {} round trips), \
         cursor walk {} items (≤ {}), team walk {} items (≤ {}); total {:.0?}",
        loaded,
        walked,
        users.items,
        users.pages,
        users.most_round_trips,
        by_cursor.items,
        by_cursor.most_round_trips,
        members.items,
        members.most_round_trips,
        started.elapsed()
    );
}
