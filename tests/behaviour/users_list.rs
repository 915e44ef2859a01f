//! SCIM `/Users` queries (RFC 7644 §3.4.2, §3.4.3): paging, sorting, attribute projection, the filter grammar
//! and `POST /Users/.search`.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use insomnia_scim::domain::MemberRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    empty_list_response, encode, sorted_strings, ENTERPRISE_SCHEMA, LIST_SCHEMA, SEARCH_SCHEMA, USER_SCHEMA,
};
use crate::users_crud::{call, create, expect_error, expect_json, get_user, id_of, user, users_url};

fn list_url(org: &ScimOrg, query: &[(&str, &str)]) -> String {
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("{}?{}", users_url(org), query.join("&"))
}

/// GET /Users with `query`; expects a 200 ListResponse.
async fn list(app: &TestApp, org: &ScimOrg, query: &[(&str, &str)]) -> Value {
    let url = list_url(org, query);
    let response = call(app, org, Method::GET, &url, None).await;
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]), "{url}: {body}");
    assert_eq!(
        body["itemsPerPage"].as_u64(),
        Some(resources(&body).len() as u64),
        "{url}: itemsPerPage is the number of Resources"
    );
    body
}

fn resources(list: &Value) -> &Vec<Value> {
    list["Resources"].as_array().unwrap_or_else(|| panic!("no Resources array: {list}"))
}

/// The userNames of a list, in the order returned.
fn names(list: &Value) -> Vec<String> {
    resources(list).iter().map(|r| r["userName"].as_str().unwrap_or("<none>").to_owned()).collect()
}

fn ids(list: &Value) -> Vec<String> {
    resources(list).iter().map(id_of).collect()
}

fn keys(resource: &Value) -> BTreeSet<&str> {
    resource.as_object().unwrap().keys().map(String::as_str).collect()
}

// ------------------------------------------------------------------------------------------------- filter data set

const BABS: &str = "bjensen@example.com";
const JOHN: &str = "JSmith@Example.com";
const ALICE: &str = "alice@example.com";
const PAT: &str = "o.malley@example.com";
const ZED: &str = "zed@example.com";
const ALL: [&str; 5] = [BABS, JOHN, ALICE, PAT, ZED];

/// Five users covering every operator; returned in creation order (BABS, JOHN, ALICE, PAT, ZED).
async fn seed(app: &TestApp, org: &ScimOrg) -> Vec<Value> {
    let bodies = [
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": BABS,
            "externalId": "ext-Bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "mgr-1"}}
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": JOHN,
            "externalId": "ext-jsmith",
            "name": {"familyName": "Smith", "givenName": "John"},
            "title": "Engineer",
            "userType": "Employee",
            "active": false,
            "emails": [{"value": "jsmith@example.com", "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "Engineering"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": ALICE,
            "name": {"familyName": "Anders", "givenName": "Alice"},
            "userType": "Contractor",
            "active": true,
            "emails": [{"value": "alice@example.com", "type": "home", "primary": true}]
        }),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": PAT,
            "name": {"familyName": "O'Malley", "givenName": "Pat"},
            "nickName": "Paddy",
            "active": true,
            "emails": [
                {"value": "pat@example.org", "type": "work", "primary": false},
                {"value": "o.malley@example.com", "type": "other", "primary": true}
            ],
            ENTERPRISE_SCHEMA: {"department": "Engineering", "costCenter": "4130"}
        }),
        json!({
            "schemas": [USER_SCHEMA],
            "userName": ZED,
            "externalId": "EXT-ZED",
            "active": true,
            "emails": [{"value": "zed@example.com", "type": "work", "primary": true}]
        }),
    ];
    let mut created = Vec::new();
    for body in &bodies {
        created.push(create(app, org, body).await);
    }
    created
}

/// Runs every `(filter, expected userNames)` case and reports all mismatches at once.
async fn check_filters(app: &TestApp, org: &ScimOrg, cases: &[(String, Vec<&str>)]) {
    let mut failures = Vec::new();
    for (filter, expected) in cases {
        let url = list_url(org, &[("filter", filter)]);
        let response = call(app, org, Method::GET, &url, None).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        if status != StatusCode::OK {
            failures.push(format!("{filter}\n    → {status} {text}"));
            continue;
        }
        let body: Value = serde_json::from_str(&text).unwrap();
        let mut got = names(&body);
        got.sort();
        let want = sorted_strings(expected);
        if got != want || body["totalResults"] != json!(want.len()) {
            failures.push(format!(
                "{filter}\n    expected {want:?}\n    got      {got:?} (totalResults {})",
                body["totalResults"]
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} filters failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn cases(list: &[(&str, &[&str])]) -> Vec<(String, Vec<&'static str>)> {
    list.iter()
        .map(|(f, names)| {
            let names = names.iter().map(|n| *ALL.iter().find(|a| *a == n).unwrap()).collect();
            ((*f).to_owned(), names)
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------------ list shape

#[tokio::test]
async fn an_empty_organization_lists_no_users() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = list(&app, &org, &[]).await;
    assert_eq!(body, empty_list_response());
}

#[tokio::test]
async fn the_list_holds_each_user_as_get_returns_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut expected = Vec::new();
    for name in ["ann@example.com", "ben@example.com", "cat@example.com"] {
        let created = create(&app, &org, &user(name)).await;
        expected.push(get_user(&app, &org, &id_of(&created)).await);
    }
    let body = list(&app, &org, &[]).await;
    assert_eq!(body["totalResults"], 3);
    assert_eq!(body["startIndex"], 1);
    let mut got = resources(&body).clone();
    got.sort_by_key(|r| r["userName"].as_str().unwrap_or_default().to_owned());
    assert_eq!(got, expected);
}

// ---------------------------------------------------------------------------------------------------------- paging

#[tokio::test]
async fn walking_pages_of_seven_returns_each_of_25_users_exactly_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut created = BTreeSet::new();
    for i in 0..25 {
        created.insert(id_of(&create(&app, &org, &user(&format!("page{i:02}@example.com"))).await));
    }
    let walk = || async {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        for start in [1, 8, 15, 22] {
            let start_text = start.to_string();
            let body = list(&app, &org, &[("startIndex", &start_text), ("count", "7")]).await;
            assert_eq!(body["totalResults"], 25, "startIndex {start}");
            assert_eq!(body["startIndex"], start, "startIndex is echoed");
            sizes.push(resources(&body).len());
            seen.extend(ids(&body));
        }
        (seen, sizes)
    };
    let (first, sizes) = walk().await;
    assert_eq!(sizes, [7, 7, 7, 4]);
    let unique: BTreeSet<String> = first.iter().cloned().collect();
    assert_eq!(unique.len(), 25, "no user twice");
    assert_eq!(unique, created, "every user once");
    let (second, _) = walk().await;
    assert_eq!(second, first, "the same order on every walk");

    let past = list(&app, &org, &[("startIndex", "26"), ("count", "7")]).await;
    assert_eq!((past["totalResults"].clone(), resources(&past).len()), (json!(25), 0));
}

#[tokio::test]
async fn count_defaults_to_100_and_is_capped_at_200() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // Manual members are listed too; they are the cheapest way to have more than 200 users.
    for i in 0..205 {
        app.add_manual_member(&org.id, &format!("member{i:03}@example.com"), MemberRole::Member, "a long passphrase")
            .await;
    }
    let default = list(&app, &org, &[]).await;
    assert_eq!((default["totalResults"].clone(), default["itemsPerPage"].clone()), (json!(205), json!(100)));
    let capped = list(&app, &org, &[("count", "1000")]).await;
    assert_eq!((capped["totalResults"].clone(), capped["itemsPerPage"].clone()), (json!(205), json!(200)));
    let exact = list(&app, &org, &[("count", "150")]).await;
    assert_eq!(exact["itemsPerPage"], 150);
    let tail = list(&app, &org, &[("startIndex", "201"), ("count", "200")]).await;
    assert_eq!((tail["itemsPerPage"].clone(), tail["startIndex"].clone()), (json!(5), json!(201)));
    let mut all: BTreeSet<String> = ids(&capped).into_iter().collect();
    all.extend(ids(&tail));
    assert_eq!(all.len(), 205, "two pages of 200 cover everyone once");
}

#[tokio::test]
async fn count_zero_returns_only_the_total() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for name in ["ann@example.com", "ben@example.com", "cat@example.com"] {
        create(&app, &org, &user(name)).await;
    }
    let body = list(&app, &org, &[("count", "0")]).await;
    assert_eq!(body["totalResults"], 3);
    assert_eq!(body["itemsPerPage"], 0);
    assert_eq!(body["Resources"], json!([]));
    let filtered = list(&app, &org, &[("count", "0"), ("filter", "userName sw \"b\"")]).await;
    assert_eq!((filtered["totalResults"].clone(), filtered["Resources"].clone()), (json!(1), json!([])));
}

#[tokio::test]
async fn a_negative_count_is_treated_as_zero() {
    // RFC 7644 §3.4.2.4: "A negative value SHALL be interpreted as 0."
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create(&app, &org, &user("ann@example.com")).await;
    let body = list(&app, &org, &[("count", "-5")]).await;
    assert_eq!((body["totalResults"].clone(), body["Resources"].clone()), (json!(1), json!([])));
}

#[tokio::test]
async fn a_start_index_below_one_is_treated_as_one() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for name in ["ann@example.com", "ben@example.com", "cat@example.com"] {
        create(&app, &org, &user(name)).await;
    }
    let first = list(&app, &org, &[("startIndex", "1"), ("count", "2"), ("sortBy", "userName")]).await;
    assert_eq!(names(&first), ["ann@example.com", "ben@example.com"]);
    for start in ["0", "-4"] {
        let body = list(&app, &org, &[("startIndex", start), ("count", "2"), ("sortBy", "userName")]).await;
        assert_eq!(body["startIndex"], 1, "startIndex={start}");
        assert_eq!(names(&body), names(&first), "startIndex={start}");
    }
}

#[tokio::test]
async fn nonsense_list_parameters_are_never_a_5xx() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create(&app, &org, &user("ann@example.com")).await;
    let long_filter = format!("userName eq \"{}\"", "a".repeat(10_000));
    let deep_filter = format!("{}userName pr{}", "(".repeat(5_000), ")".repeat(5_000));
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("count", "abc")],
        vec![("startIndex", "x")],
        vec![("count", "99999999999999999999999")],
        vec![("startIndex", "99999999999999999999999")],
        vec![("sortOrder", "sideways"), ("sortBy", "userName")],
        vec![("sortBy", "no.such.attribute[x]")],
        vec![("attributes", ",,,")],
        vec![("excludedAttributes", "emails[type eq \"work\"]")],
        vec![("filter", &long_filter)],
        vec![("filter", &deep_filter)],
        vec![("filter", "\u{0000}")],
    ];
    for query in cases {
        let response = call(&app, &org, Method::GET, &list_url(&org, &query), None).await;
        let status = response.status();
        let shown: Vec<(String, String)> =
            query.iter().map(|(k, v)| ((*k).to_owned(), v.chars().take(40).collect())).collect();
        assert!(!status.is_server_error(), "{shown:?}: {status}");
        if status.is_client_error() {
            expect_error(response, status, None).await;
        }
    }
}

// --------------------------------------------------------------------------------------------------------- sorting

#[tokio::test]
async fn sort_by_user_name_ascending_and_descending_ignores_case() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for name in ["carol@example.com", "Alice@example.com", "dave@example.com", "Bob@example.com"] {
        create(&app, &org, &user(name)).await;
    }
    let ascending = ["Alice@example.com", "Bob@example.com", "carol@example.com", "dave@example.com"];
    let default_order = list(&app, &org, &[("sortBy", "userName")]).await;
    assert_eq!(names(&default_order), ascending, "sortOrder defaults to ascending");
    let explicit = list(&app, &org, &[("sortBy", "userName"), ("sortOrder", "ascending")]).await;
    assert_eq!(names(&explicit), ascending);
    let descending = list(&app, &org, &[("sortBy", "userName"), ("sortOrder", "descending")]).await;
    let mut reversed = ascending;
    reversed.reverse();
    assert_eq!(names(&descending), reversed);
    let page = list(&app, &org, &[("sortBy", "userName"), ("startIndex", "2"), ("count", "2")]).await;
    assert_eq!(names(&page), ["Bob@example.com", "carol@example.com"], "paging applies after sorting");
}

#[tokio::test]
async fn sort_by_a_sub_attribute_puts_missing_values_last_when_ascending() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for (name, family) in
        [("u1@example.com", Some("Zimmer")), ("u2@example.com", None), ("u3@example.com", Some("adams"))]
    {
        let mut body = user(name);
        if let Some(family) = family {
            body["name"] = json!({"familyName": family, "givenName": "X"});
        }
        create(&app, &org, &body).await;
    }
    create(
        &app,
        &org,
        &json!({"schemas": [USER_SCHEMA], "userName": "u4@example.com", "name": {"familyName": "Miller"}}),
    )
    .await;
    let ascending = list(&app, &org, &[("sortBy", "name.familyName")]).await;
    assert_eq!(names(&ascending), ["u3@example.com", "u4@example.com", "u1@example.com", "u2@example.com"]);
    // RFC 7644 §3.4.2.3: resources without a value sort last ascending and first descending.
    let descending = list(&app, &org, &[("sortBy", "name.familyName"), ("sortOrder", "descending")]).await;
    assert_eq!(names(&descending), ["u2@example.com", "u1@example.com", "u4@example.com", "u3@example.com"]);
}

#[tokio::test]
async fn sort_by_meta_created_follows_creation_time() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for name in ["m3@example.com", "m1@example.com", "m2@example.com", "m0@example.com"] {
        create(&app, &org, &user(name)).await;
    }
    let created_at = |r: &Value| DateTime::parse_from_rfc3339(r["meta"]["created"].as_str().unwrap()).unwrap();
    let ascending = list(&app, &org, &[("sortBy", "meta.created")]).await;
    let times: Vec<_> = resources(&ascending).iter().map(created_at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "ascending by created: {:?}", names(&ascending));
    let descending = list(&app, &org, &[("sortBy", "meta.created"), ("sortOrder", "descending")]).await;
    let times: Vec<_> = resources(&descending).iter().map(created_at).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "descending by created: {:?}", names(&descending));
    assert_eq!(resources(&descending).len(), 4);
    if times.windows(2).all(|w| w[0] > w[1]) {
        assert_eq!(names(&ascending), ["m3@example.com", "m1@example.com", "m2@example.com", "m0@example.com"]);
    }
}

#[tokio::test]
async fn sort_by_a_multi_valued_attribute_uses_the_primary_value() {
    // RFC 7644 §3.4.2.3: multi-valued attributes sort by the primary value, else the first one.
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create(
        &app,
        &org,
        &json!({"schemas": [USER_SCHEMA], "userName": "first", "emails": [
            {"value": "zz@example.com", "type": "home"}, {"value": "aa@example.com", "type": "work", "primary": true}
        ]}),
    )
    .await;
    create(
        &app,
        &org,
        &json!({"schemas": [USER_SCHEMA], "userName": "second", "emails": [{"value": "mm@example.com", "primary": true}]}),
    )
    .await;
    let body = list(&app, &org, &[("sortBy", "emails.value")]).await;
    assert_eq!(names(&body), ["first", "second"], "aa (primary) < mm; zz (first element) would be after");
}

// ------------------------------------------------------------------------------------------------------ projection

#[tokio::test]
async fn attributes_returns_only_id_schemas_and_the_requested_attributes() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = seed(&app, &org).await;
    let babs = &created[0];

    let only = list(&app, &org, &[("attributes", "userName"), ("filter", "userName eq \"bjensen@example.com\"")]).await;
    let r = &resources(&only)[0];
    assert_eq!(keys(r), BTreeSet::from(["id", "schemas", "userName"]), "{r}");
    assert_eq!(r["userName"], BABS);
    assert_eq!(r["id"], babs["id"]);

    let subs = list(
        &app,
        &org,
        &[("attributes", "name.givenName,emails.value"), ("filter", "userName eq \"bjensen@example.com\"")],
    )
    .await;
    let r = &resources(&subs)[0];
    assert_eq!(keys(r), BTreeSet::from(["emails", "id", "name", "schemas"]), "{r}");
    assert_eq!(r["name"], json!({"givenName": "Barbara"}));
    assert_eq!(r["emails"], json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]));

    let urn = list(
        &app,
        &org,
        &[
            (
                "attributes",
                "urn:ietf:params:scim:schemas:core:2.0:User:displayName,\
                 urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            ("filter", "userName eq \"bjensen@example.com\""),
        ],
    )
    .await;
    let r = &resources(&urn)[0];
    assert_eq!(keys(r), BTreeSet::from(["displayName", "id", "schemas", ENTERPRISE_SCHEMA]), "{r}");
    assert_eq!(r["displayName"], "Babs Jensen");
    assert_eq!(r[ENTERPRISE_SCHEMA], json!({"department": "Tour Operations"}));

    let any_case = list(&app, &org, &[("attributes", "USERNAME,Title"), ("sortBy", "userName")]).await;
    assert_eq!(resources(&any_case).len(), 5);
    for r in resources(&any_case) {
        let has_title = r.get("title").is_some();
        let mut expected = BTreeSet::from(["id", "schemas", "userName"]);
        if has_title {
            expected.insert("title");
        }
        assert_eq!(keys(r), expected, "{r}");
    }
    let titled: Vec<&str> = resources(&any_case)
        .iter()
        .filter(|r| r.get("title").is_some())
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(titled, [BABS, JOHN]);
}

#[tokio::test]
async fn excluded_attributes_are_left_out() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = seed(&app, &org).await;
    let babs = get_user(&app, &org, &id_of(&created[0])).await;
    let body = list(
        &app,
        &org,
        &[
            ("excludedAttributes", "emails,meta,name.familyName,id,schemas"),
            ("filter", "userName eq \"bjensen@example.com\""),
        ],
    )
    .await;
    let r = &resources(&body)[0];
    let mut expected = babs.clone();
    let map = expected.as_object_mut().unwrap();
    map.remove("emails");
    map.remove("meta");
    map["name"].as_object_mut().unwrap().remove("familyName");
    assert_eq!(r, &expected, "id and schemas are always returned; the rest is excluded");
}

// --------------------------------------------------------------------------------------------------------- filters

#[tokio::test]
async fn filters_support_every_comparison_operator() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let list = cases(&[
        ("userName eq \"alice@example.com\"", &[ALICE]),
        ("userName ne \"alice@example.com\"", &[BABS, JOHN, PAT, ZED]),
        ("name.familyName co \"ens\"", &[BABS]),
        ("userName co \"SMITH\"", &[JOHN]),
        ("userName sw \"j\"", &[JOHN]),
        ("emails.value ew \".org\"", &[BABS, PAT]),
        ("title pr", &[BABS, JOHN]),
        ("nickName pr", &[PAT]),
        ("externalId pr", &[BABS, JOHN, ZED]),
        ("userName gt \"j\"", &[JOHN, PAT, ZED]),
        ("userName ge \"jsmith@example.com\"", &[JOHN, PAT, ZED]),
        ("userName lt \"b\"", &[ALICE]),
        ("userName le \"bjensen@example.com\"", &[ALICE, BABS]),
        ("active eq false", &[JOHN]),
        ("active eq true", &[BABS, ALICE, PAT, ZED]),
        ("active ne false", &[BABS, ALICE, PAT, ZED]),
        ("userType eq \"Employee\"", &[BABS, JOHN]),
        ("meta.resourceType eq \"User\"", &ALL),
    ]);
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filters_follow_the_case_rules_of_each_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = seed(&app, &org).await;
    let babs_id = id_of(&created[0]);
    let mut list = cases(&[
        ("userName eq \"ALICE@EXAMPLE.COM\"", &[ALICE]),
        ("userName eq \"jsmith@example.com\"", &[JOHN]),
        ("USERNAME eq \"alice@example.com\"", &[ALICE]),
        ("UserName Eq \"alice@example.com\"", &[ALICE]),
        ("title eq \"tour guide\"", &[BABS]),
        ("emails.type eq \"WORK\"", &[BABS, JOHN, PAT, ZED]),
        ("externalId eq \"ext-Bjensen\"", &[BABS]),
        ("externalId eq \"ext-bjensen\"", &[]),
        ("externalId eq \"EXT-ZED\"", &[ZED]),
        ("externalId eq \"ext-zed\"", &[]),
        ("externalId sw \"EXT\"", &[ZED]),
    ]);
    list.push((format!("id eq \"{babs_id}\""), vec![BABS]));
    let upper = babs_id.to_uppercase();
    let lower = babs_id.to_lowercase();
    for other in [upper, lower] {
        if other != babs_id {
            list.push((format!("id eq \"{other}\""), vec![]));
        }
    }
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filters_combine_with_and_or_not_and_parentheses() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let list = cases(&[
        ("title pr and active eq true", &[BABS]),
        ("userName sw \"alice\" or userName sw \"zed\"", &[ALICE, ZED]),
        ("not (active eq true)", &[JOHN]),
        ("not (title pr)", &[ALICE, PAT, ZED]),
        ("not(title pr)", &[ALICE, PAT, ZED]),
        // and binds tighter than or
        ("title pr or userName eq \"nobody@example.com\" and active eq false", &[BABS, JOHN]),
        ("(title pr or userName eq \"nobody@example.com\") and active eq false", &[JOHN]),
        ("userName eq \"nobody@example.com\" and active eq false or nickName pr", &[PAT]),
        ("not (title pr) and not (nickName pr)", &[ALICE, ZED]),
        ("((userName sw \"a\") or (userName sw \"b\")) and (active eq true)", &[ALICE, BABS]),
        ("userType eq \"Employee\" and (title eq \"Engineer\" or title eq \"Tour Guide\")", &[BABS, JOHN]),
        ("not (not (nickName pr))", &[PAT]),
        ("not (userName sw \"a\" or userName sw \"b\") and active eq true", &[PAT, ZED]),
        ("userName sw \"a\" or userName sw \"b\" or userName sw \"j\" or userName sw \"o\"", &[ALICE, BABS, JOHN, PAT]),
        ("userName sw \"a\" and userName sw \"b\"", &[]),
    ]);
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filters_with_value_paths_match_within_one_element() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let list = cases(&[
        ("emails[type eq \"work\" and primary eq true]", &[BABS, ZED]),
        ("emails[type eq \"home\" and primary eq true]", &[ALICE]),
        ("emails[type eq \"work\" and value co \"jensen\"]", &[BABS]),
        ("emails[type eq \"other\" or value ew \".org\"]", &[BABS, PAT]),
        ("emails[not (type eq \"work\")]", &[BABS, ALICE, PAT]),
        ("emails[value sw \"pat\"] and active eq true", &[PAT]),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or phoneNumbers[type eq \"work\"]",
            &[BABS, JOHN, ZED],
        ),
        ("emails[type eq \"work\" and primary eq false]", &[PAT]),
        ("phoneNumbers[type eq \"mobile\"]", &[]),
    ]);
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filters_reach_sub_attributes_and_urn_qualified_paths() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let list = cases(&[
        ("name.givenName eq \"john\"", &[JOHN]),
        ("name.familyName sw \"o'\"", &[PAT]),
        ("emails.type eq \"other\"", &[PAT]),
        ("emails.primary eq true", &[BABS, ALICE, PAT, ZED]),
        ("phoneNumbers.value pr", &[BABS]),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Engineering\"", &[JOHN, PAT]),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"", &[BABS]),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"mgr-1\"", &[BABS]),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr", &[PAT]),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq \"engineering\"", &[JOHN, PAT]),
        ("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"alice@example.com\"", &[ALICE]),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq \"smith\"", &[JOHN]),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Engineering\" and active eq true",
            &[PAT],
        ),
    ]);
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filters_compare_dates_chronologically() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = seed(&app, &org).await;
    let first: DateTime<Utc> =
        DateTime::parse_from_rfc3339(created[0]["meta"]["created"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    // An hour before the first creation, written with a +05:00 offset: lexicographically after every stored
    // timestamp, chronologically before all of them.
    let plus_five = FixedOffset::east_opt(5 * 3600).unwrap();
    let hour_before = (first - Duration::hours(1)).with_timezone(&plus_five).to_rfc3339();
    let last_created = created[4]["meta"]["created"].as_str().unwrap().to_owned();
    let first_created = created[0]["meta"]["created"].as_str().unwrap().to_owned();
    let list = vec![
        ("meta.created gt \"2000-01-01T00:00:00Z\"".to_owned(), ALL.to_vec()),
        ("meta.created lt \"2000-01-01T00:00:00Z\"".to_owned(), vec![]),
        (format!("meta.created gt \"{hour_before}\""), ALL.to_vec()),
        (format!("meta.created lt \"{hour_before}\""), vec![]),
        (format!("meta.created le \"{last_created}\""), ALL.to_vec()),
        (format!("meta.created lt \"{first_created}\""), vec![]),
        (format!("meta.lastModified ge \"{first_created}\""), ALL.to_vec()),
        ("meta.lastModified le \"2999-12-31T23:59:59Z\"".to_owned(), ALL.to_vec()),
    ];
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn filter_keywords_are_case_insensitive() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let list = cases(&[
        ("userName EQ \"alice@example.com\"", &[ALICE]),
        ("title PR AND active Eq true", &[BABS]),
        ("userName SW \"alice\" OR userName Sw \"zed\"", &[ALICE, ZED]),
        ("NOT (active eq true)", &[JOHN]),
        ("emails[type EQ \"work\" And primary eq true]", &[BABS, ZED]),
        ("userName Co \"MALLEY\"", &[PAT]),
        ("userName EW \"@EXAMPLE.COM\"", &[BABS, JOHN, ALICE, PAT, ZED]),
        ("userName GT \"y\" or userName LT \"alicf\"", &[ALICE, ZED]),
        ("userName gE \"zed@example.com\" or userName Le \"alice@example.com\"", &[ALICE, ZED]),
        ("nickName pR and userName nE \"x\"", &[PAT]),
    ]);
    check_filters(&app, &org, &list).await;
}

#[tokio::test]
async fn a_filter_matching_nothing_is_an_empty_list() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let body = list(&app, &org, &[("filter", "userName eq \"nobody@example.com\"")]).await;
    assert_eq!(body, empty_list_response());
}

#[tokio::test]
async fn the_okta_user_lookup_finds_one_user() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = seed(&app, &org).await;
    let body =
        list(&app, &org, &[("filter", "userName eq \"jsmith@example.com\""), ("startIndex", "1"), ("count", "100")])
            .await;
    assert_eq!(body["totalResults"], 1);
    assert_eq!(resources(&body)[0], get_user(&app, &org, &id_of(&created[1])).await);
}

#[tokio::test]
async fn filtering_sorting_and_paging_combine() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let query = |start: &'static str| {
        [("filter", "emails.primary eq true"), ("sortBy", "userName"), ("count", "2"), ("startIndex", start)]
    };
    let first = list(&app, &org, &query("1")).await;
    assert_eq!((first["totalResults"].clone(), names(&first)), (json!(4), vec![ALICE.to_owned(), BABS.to_owned()]));
    let second = list(&app, &org, &query("3")).await;
    assert_eq!((second["totalResults"].clone(), names(&second)), (json!(4), vec![PAT.to_owned(), ZED.to_owned()]));
    assert_eq!(second["startIndex"], 3);
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let invalid = [
        "userName eq",
        "userName xx \"alice\"",
        "userName eq \"alice",
        "(userName eq \"alice\"",
        "userName eq \"alice\")",
        "not userName eq \"alice\"",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "userName eq \"alice\" and",
        "and userName eq \"alice\"",
        "userName eq \"a\" or or userName eq \"b\"",
        "userName eq alice",
        "userName pr \"x\"",
        "\"alice\"",
        "userName eq \"x\" extra",
        "emails[type eq \"work\"].value",
        "emails[type eq \"work\"].value.display eq \"x\"",
        "emails[type eq \"work\" and value[type eq \"x\"]]",
        "emails[]",
        "userName eq 1.2.3",
        "userName eq \"\\q\"",
        "userName",
        "()",
        "name..givenName eq \"x\"",
    ];
    let mut failures = Vec::new();
    for filter in invalid {
        let response = call(&app, &org, Method::GET, &list_url(&org, &[("filter", filter)]), None).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ok = status == StatusCode::BAD_REQUEST
            && body["scimType"] == "invalidFilter"
            && body["status"] == "400"
            && body["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            && body["detail"].as_str().is_some_and(|d| !d.is_empty());
        if !ok {
            failures.push(format!("{filter}\n    → {status} {text}"));
        }
    }
    assert!(failures.is_empty(), "{} filters not refused as invalidFilter:\n{}", failures.len(), failures.join("\n"));
}

// --------------------------------------------------------------------------------------------------------- .search

#[tokio::test]
async fn post_search_works_like_get() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let url = format!("{}/.search", users_url(&org));
    let search = json!({
        "schemas": [SEARCH_SCHEMA],
        "filter": "active eq true",
        "startIndex": 1,
        "count": 2,
        "sortBy": "userName",
        "sortOrder": "descending",
        "attributes": ["userName"]
    });
    let body = expect_json(call(&app, &org, Method::POST, &url, Some(&search)).await, StatusCode::OK).await;
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!((body["totalResults"].clone(), body["itemsPerPage"].clone()), (json!(4), json!(2)));
    assert_eq!(body["startIndex"], 1);
    assert_eq!(names(&body), [ZED, PAT]);
    for r in resources(&body) {
        assert_eq!(keys(r), BTreeSet::from(["id", "schemas", "userName"]), "{r}");
    }

    let get = list(
        &app,
        &org,
        &[
            ("filter", "active eq true"),
            ("startIndex", "1"),
            ("count", "2"),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("attributes", "userName"),
        ],
    )
    .await;
    assert_eq!(body, get, "the same answer as GET /Users");

    let excluded = json!({
        "schemas": [SEARCH_SCHEMA],
        "filter": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Engineering\"",
        "excludedAttributes": ["emails", "meta"]
    });
    let body = expect_json(call(&app, &org, Method::POST, &url, Some(&excluded)).await, StatusCode::OK).await;
    let mut got = names(&body);
    got.sort();
    assert_eq!(got, sorted_strings(&[JOHN, PAT]));
    for r in resources(&body) {
        assert!(r.get("emails").is_none() && r.get("meta").is_none(), "{r}");
        assert!(r.get("name").is_some(), "{r}");
    }
}

#[tokio::test]
async fn post_search_with_an_invalid_filter_is_400_invalid_filter() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    seed(&app, &org).await;
    let url = format!("{}/.search", users_url(&org));
    let search = json!({"schemas": [SEARCH_SCHEMA], "filter": "userName eq"});
    expect_error(
        call(&app, &org, Method::POST, &url, Some(&search)).await,
        StatusCode::BAD_REQUEST,
        Some("invalidFilter"),
    )
    .await;
}
