//! SCIM `/Groups` (Insomnia teams): create, read, list and filter, replace, delete (RFC 7644 §3.3,
//! §3.4, §3.5.1, §3.6), PATCH of members and names (§3.5.2, 204 No Content), the user's read-only
//! `groups` attribute, uniqueness of displayName, unknown and nested members, ETags (§3.14) and
//! errors (§3.12). Written against /work/scratch/GROUPS_CONTRACT.md.
use crate::helpers::OperatorScope;
use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::header::{HeaderMap, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    assert_scim_error, create_group, created_id, encode, get_group, group_body, member_count, member_values,
    patch_body, patch_group, post_group, read_group, read_user, scim, send, sorted_strings, string_set, unique_email,
    user_with_work_email, with_body, ERROR_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, PATCH_SCHEMA, SEARCH_SCHEMA,
};

/// Creates a user through `POST /Users`; returns its id and userName.
async fn create_user(app: &TestApp, org: &ScimOrg, prefix: &str) -> (String, String) {
    let email = unique_email(prefix);
    let id = created_id(with_body(scim(app, org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    (id, email)
}

async fn put_group(app: &TestApp, org: &ScimOrg, id: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    send(with_body(scim(app, org, Method::PUT, &format!("/Groups/{id}")), body)).await
}

async fn delete(app: &TestApp, org: &ScimOrg, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(scim(app, org, Method::DELETE, path)).await;
    (status, body)
}

/// `GET /Groups?{query}`, expected to be 200.
async fn list_groups(app: &TestApp, org: &ScimOrg, query: &str) -> Value {
    let (status, headers, body) = send(scim(app, org, Method::GET, &format!("/Groups?{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    assert_eq!(headers[CONTENT_TYPE], "application/scim+json");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]), "{body}");
    body
}

async fn filter_groups(app: &TestApp, org: &ScimOrg, filter: &str) -> Value {
    list_groups(app, org, &format!("filter={}", encode(filter))).await
}

fn display_names(list: &Value) -> BTreeSet<String> {
    list["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_owned()).collect()
}

fn ids(list: &Value) -> BTreeSet<String> {
    list["Resources"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect()
}

/// The member as the contract renders it.
/// A member as every answer renders it: `display` (the userName) is returned on request only.
fn rendered_member(org: &ScimOrg, id: &str) -> Value {
    json!({"value": id, "$ref": format!("{}/Users/{id}", org.base), "type": "User"})
}

/// Membership items of a team in the table (PK `ORG#{org}#GROUP#{gid}`).
async fn membership_items(app: &TestApp, org: &ScimOrg, gid: &str) -> usize {
    let output = app
        .store
        .client()
        .query()
        .table_name(&app.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(insomnia_scim::store::keys::team_members_pk(&org.id, gid)),
        )
        .send()
        .await
        .unwrap();
    output.items().len()
}

/// `totalResults` and the ids of `GET /Users?filter=groups.value eq "{gid}"&{paging}`.
async fn users_of_group(app: &TestApp, org: &ScimOrg, gid: &str, paging: &str) -> (u64, Vec<String>) {
    let filter = encode(&format!("groups.value eq \"{gid}\""));
    let (status, _, body) = send(scim(app, org, Method::GET, &format!("/Users?filter={filter}&{paging}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = body["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    (body["totalResults"].as_u64().unwrap(), ids)
}

fn etag(headers: &HeaderMap) -> String {
    headers.get(ETAG).unwrap_or_else(|| panic!("no ETag in {headers:?}")).to_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Create and read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_without_members_returns_201_with_location_etag_and_the_group() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"});
    let (status, headers, created) = post_group(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers[CONTENT_TYPE], "application/scim+json");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let location = format!("{}/Groups/{id}", org.base);
    assert_eq!(headers[LOCATION], location.as_str());
    assert_eq!(created["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(created["displayName"], "Engineering");
    assert!(created.get("externalId").is_none(), "{created}");
    assert_eq!(member_values(&created), Vec::<String>::new(), "a group created without members has none");
    assert_eq!(created["meta"]["resourceType"], "Group");
    assert_eq!(created["meta"]["location"], location);
    assert_eq!(created["meta"]["version"], etag(&headers).as_str(), "the ETag is meta.version");
    assert!(etag(&headers).starts_with("W/\""), "{headers:?}");
    assert!(created["meta"]["created"].is_string() && created["meta"]["lastModified"].is_string(), "{created}");
    assert_eq!(member_count(&app, &org, &id).await, 0);
}

#[tokio::test]
async fn create_with_members_returns_them_sorted_with_ref_display_and_type() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = create_user(&app, &org, "ann").await;
    let (b, b_name) = create_user(&app, &org, "bob").await;
    let (c, c_name) = create_user(&app, &org, "cy").await;
    // Sent unsorted, with a `display` that is not the userName: the service renders its own.
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Design",
        "externalId": "ext-design-1",
        "members": [
            {"value": c, "display": "whatever the IdP calls cy"},
            {"value": a},
            {"value": b, "type": "User"}
        ]
    });
    let (status, headers, created) = post_group(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let mut expected = vec![rendered_member(&org, &a), rendered_member(&org, &b), rendered_member(&org, &c)];
    expected.sort_by(|x, y| x["value"].as_str().cmp(&y["value"].as_str()));
    assert_eq!(created["members"], Value::Array(expected.clone()), "members sorted by value");
    assert_eq!(created["externalId"], "ext-design-1");

    let (status, get_headers, read) = get_group(&app, &org, &id).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(etag(&get_headers), etag(&headers));
    assert_eq!(read["members"], Value::Array(expected));
    assert_eq!(read["displayName"], "Design");
    assert_eq!(read["externalId"], "ext-design-1");
    // `display` is the member's userName, whatever the IdP sent, returned when asked for.
    let (status, _, asked) =
        send(scim(&app, &org, Method::GET, &format!("/Groups/{id}?attributes=members.display,Members.Value"))).await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    let names: BTreeSet<(String, String)> = asked["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["value"].as_str().unwrap().to_owned(), m["display"].as_str().unwrap().to_owned()))
        .collect();
    let expected_names: BTreeSet<(String, String)> = [(a, a_name), (b, b_name), (c, c_name)].into_iter().collect();
    assert_eq!(names, expected_names);
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(member_count(&app, &org, &id).await, 3);
}

#[tokio::test]
async fn get_returns_the_group_with_meta_and_its_etag() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "dee").await;
    let id = create_group(&app, &org, "Platform", &[&u]).await;
    let (status, headers, read) = get_group(&app, &org, &id).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(headers[CONTENT_TYPE], "application/scim+json");
    assert_eq!(read["meta"]["resourceType"], "Group");
    assert_eq!(read["meta"]["location"], format!("{}/Groups/{id}", org.base));
    assert_eq!(read["meta"]["version"], etag(&headers).as_str());
    let expected = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": "Platform",
        "members": [rendered_member(&org, &u)]
    });
    let mut without_meta = read.clone();
    without_meta.as_object_mut().unwrap().remove("meta");
    assert_eq!(without_meta, expected);
}

#[tokio::test]
async fn get_of_an_unknown_group_is_a_scim_404() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, _, body) = get_group(&app, &org, "no-such-group").await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn a_group_of_another_organization_is_404() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let other = app.scim_org().await;
    let id = create_group(&app, &other, "Theirs", &[]).await;
    let (status, _, body) = get_group(&app, &org, &id).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "replace", "path": "displayName", "value": "Mine"}])).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = delete(&app, &org, &format!("/Groups/{id}")).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
    assert_eq!(read_group(&app, &other, &id).await["displayName"], "Theirs", "untouched");
}

#[tokio::test]
async fn the_token_of_one_organization_is_401_on_another_organizations_groups() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let other = app.scim_org().await;
    let id = create_group(&app, &other, "Theirs", &[]).await;
    for (method, path) in [
        (Method::GET, "/Groups".to_owned()),
        (Method::GET, format!("/Groups/{id}")),
        (Method::DELETE, format!("/Groups/{id}")),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", other.base))
            .bearer_auth(&org.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(read_group(&app, &other, &id).await["displayName"], "Theirs");
}

#[tokio::test]
async fn excluded_attributes_members_leaves_members_out() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "eve").await;
    let id = create_group(&app, &org, "Security", &[&u]).await;
    let (status, headers, body) =
        send(scim(&app, &org, Method::GET, &format!("/Groups/{id}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("members").is_none(), "no members key: {body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["displayName"], "Security");
    assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(body["meta"]["version"], etag(&headers).as_str());
}

#[tokio::test]
async fn a_missing_or_empty_display_name_is_400_invalid_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for body in [
        json!({"schemas": [GROUP_SCHEMA]}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": ""}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": null}),
    ] {
        let (status, _, error) = post_group(&app, &org, &body).await;
        assert_scim_error(status, &error, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_eq!(list_groups(&app, &org, "").await["totalResults"], 0, "nothing was created");
}

// ---------------------------------------------------------------------------------------------
// List and filters
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_returns_every_group_and_pages_walk_them_exactly_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let all = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"];
    for name in all {
        create_group(&app, &org, name, &[]).await;
    }
    let body = list_groups(&app, &org, "startIndex=1&count=100").await;
    assert_eq!(body["totalResults"], 5);
    assert_eq!(body["itemsPerPage"], 5);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(display_names(&body), string_set(&all));
    for resource in body["Resources"].as_array().unwrap() {
        assert_eq!(resource["meta"]["resourceType"], "Group", "{resource}");
    }

    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let page = list_groups(&app, &org, &format!("startIndex={start}&count=2")).await;
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["startIndex"], start);
        let expected = if start == 5 { 1 } else { 2 };
        assert_eq!(page["itemsPerPage"], expected, "{page}");
        seen.extend(
            page["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(seen.len(), 5, "every group exactly once: {seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), string_set(&all));

    let again = list_groups(&app, &org, "startIndex=1&count=100").await;
    assert_eq!(ids(&again), ids(&body));
    let order = |list: &Value| -> Vec<String> {
        list["Resources"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(order(&again), order(&body), "default order is stable");
}

#[tokio::test]
async fn count_zero_gives_the_total_only() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create_group(&app, &org, "One", &[]).await;
    create_group(&app, &org, "Two", &[]).await;
    let body = list_groups(&app, &org, "count=0").await;
    assert_eq!(body["totalResults"], 2);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn list_with_excluded_members_has_no_members_keys() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "fay").await;
    create_group(&app, &org, "With", &[&u]).await;
    create_group(&app, &org, "Without", &[]).await;
    let body = list_groups(&app, &org, "excludedAttributes=members").await;
    assert_eq!(body["totalResults"], 2);
    for resource in body["Resources"].as_array().unwrap() {
        assert!(resource.get("members").is_none(), "{resource}");
        assert!(resource["id"].is_string() && resource["displayName"].is_string(), "{resource}");
    }
    let body = list_groups(&app, &org, "attributes=displayName").await;
    for resource in body["Resources"].as_array().unwrap() {
        assert!(resource.get("members").is_none(), "attributes=displayName leaves members out: {resource}");
        assert!(resource["id"].is_string() && resource["displayName"].is_string(), "{resource}");
    }
}

#[tokio::test]
async fn display_name_eq_filter_is_case_insensitive_and_exact() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_group(&app, &org, "Engineering", &[]).await;
    create_group(&app, &org, "Engineering Managers", &[]).await;
    create_group(&app, &org, "Sales", &[]).await;
    for filter in [
        "displayName eq \"Engineering\"",
        "displayName eq \"engineering\"",
        "displayName eq \"ENGINEERING\"",
        "DISPLAYNAME eq \"Engineering\"",
    ] {
        let body = filter_groups(&app, &org, filter).await;
        assert_eq!(body["totalResults"], 1, "{filter}: {body}");
        assert_eq!(body["Resources"][0]["id"], id.as_str(), "{filter}");
        assert_eq!(body["Resources"][0]["displayName"], "Engineering", "stored case is returned");
    }
    let body = filter_groups(&app, &org, "displayName eq \"Engineer\"").await;
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn external_id_and_id_eq_filters_find_the_group() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut by_ext = Vec::new();
    for (name, ext) in [("Red", "ext-red"), ("Green", "ext-green"), ("Blue", "ext-blue")] {
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": ext});
        let (status, _, created) = post_group(&app, &org, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        by_ext.push((created["id"].as_str().unwrap().to_owned(), name));
    }
    let body = filter_groups(&app, &org, "externalId eq \"ext-green\"").await;
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], by_ext[1].0.as_str());
    assert_eq!(body["Resources"][0]["externalId"], "ext-green");

    let body = filter_groups(&app, &org, &format!("id eq \"{}\"", by_ext[2].0)).await;
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["displayName"], "Blue");

    let body = filter_groups(&app, &org, "externalId eq \"ext-purple\"").await;
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn members_value_eq_filter_lists_the_teams_of_a_user() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "gil").await;
    let (v, _) = create_user(&app, &org, "hal").await;
    let a = create_group(&app, &org, "A-team", &[&u, &v]).await;
    let b = create_group(&app, &org, "B-team", &[&u]).await;
    create_group(&app, &org, "C-team", &[&v]).await;
    create_group(&app, &org, "D-team", &[]).await;
    let body = filter_groups(&app, &org, &format!("members.value eq \"{u}\"")).await;
    assert_eq!(body["totalResults"], 2, "{body}");
    assert_eq!(ids(&body), [a.clone(), b].into_iter().collect::<BTreeSet<_>>());

    // Entra's membership check: one group and one member.
    let body = list_groups(
        &app,
        &org,
        &format!(
            "excludedAttributes=members&filter={}",
            encode(&format!("id eq \"{a}\" and members.value eq \"{v}\""))
        ),
    )
    .await;
    assert_eq!(body["totalResults"], 1, "{body}");
    assert!(body["Resources"][0].get("members").is_none());
    let (w, _) = create_user(&app, &org, "ian").await;
    let body = filter_groups(&app, &org, &format!("members.value eq \"{w}\"")).await;
    assert_eq!(body["totalResults"], 0, "a user in no team: {body}");
}

#[tokio::test]
async fn the_full_filter_grammar_works_on_groups() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for (name, ext) in [("Engineering", Some("e1")), ("Engineering Ops", None), ("Sales", Some("s1")), ("DevOps", None)]
    {
        let mut body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
        if let Some(ext) = ext {
            body["externalId"] = json!(ext);
        }
        let (status, _, created) = post_group(&app, &org, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let cases: [(&str, &[&str]); 9] = [
        ("displayName sw \"Eng\"", &["Engineering", "Engineering Ops"]),
        ("displayName co \"a\" and externalId pr", &["Sales"]),
        ("displayName ew \"ops\"", &["Engineering Ops", "DevOps"]),
        ("not (displayName sw \"Eng\")", &["Sales", "DevOps"]),
        ("externalId pr", &["Engineering", "Sales"]),
        ("(displayName eq \"sales\" or displayName eq \"devops\") and not (externalId pr)", &["DevOps"]),
        ("displayName ne \"Sales\" and displayName co \"Ops\"", &["Engineering Ops", "DevOps"]),
        ("displayName gt \"E\" and displayName lt \"F\"", &["Engineering", "Engineering Ops"]),
        ("displayName sw \"Nothing\"", &[]),
    ];
    for (filter, expected) in cases {
        let body = filter_groups(&app, &org, filter).await;
        assert_eq!(display_names(&body), string_set(expected), "{filter}: {body}");
        assert_eq!(body["totalResults"], expected.len(), "{filter}");
    }
}

#[tokio::test]
async fn post_search_answers_like_get() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for name in ["Engineering", "Engineering Ops", "Sales"] {
        create_group(&app, &org, name, &[]).await;
    }
    let search = json!({
        "schemas": [SEARCH_SCHEMA],
        "filter": "displayName sw \"Eng\"",
        "startIndex": 1,
        "count": 10,
        "excludedAttributes": ["members"]
    });
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Groups/.search"), &search)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 2);
    assert_eq!(display_names(&body), string_set(&["Engineering", "Engineering Ops"]));
    for resource in body["Resources"].as_array().unwrap() {
        assert!(resource.get("members").is_none(), "{resource}");
    }
}

#[tokio::test]
async fn an_invalid_filter_is_400_invalid_filter() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create_group(&app, &org, "Engineering", &[]).await;
    for filter in [
        "displayName eq",
        "displayName xx \"a\"",
        "(displayName eq \"a\"",
        "displayName eq \"unterminated",
        "displayName eq \"a\" and",
        "eq \"a\"",
        "displayName[value eq",
    ] {
        let (status, _, body) =
            send(scim(&app, &org, Method::GET, &format!("/Groups?filter={}", encode(filter)))).await;
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    let search = json!({"schemas": [SEARCH_SCHEMA], "filter": "displayName eq"});
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Groups/.search"), &search)).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidFilter"));
}

// ---------------------------------------------------------------------------------------------
// PUT, DELETE, and users
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_replaces_the_display_name_external_id_and_the_whole_member_set() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "jo").await;
    let (u2, _) = create_user(&app, &org, "kim").await;
    let (u3, _) = create_user(&app, &org, "lee").await;
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Old", "externalId": "e-old",
        "members": [{"value": u1}, {"value": u2}]});
    let (status, headers, created) = post_group(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let replacement =
        json!({"schemas": [GROUP_SCHEMA], "displayName": "New", "members": [{"value": u3}, {"value": u2}]});
    let (status, put_headers, replaced) = put_group(&app, &org, &id, &replacement).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_ne!(etag(&put_headers), etag(&headers), "PUT changes the version");
    assert_eq!(replaced["meta"]["version"], etag(&put_headers).as_str());
    let mut expected = vec![rendered_member(&org, &u2), rendered_member(&org, &u3)];
    expected.sort_by(|x, y| x["value"].as_str().cmp(&y["value"].as_str()));
    assert_eq!(replaced["members"], Value::Array(expected.clone()));
    assert_eq!(replaced["displayName"], "New");
    assert!(replaced.get("externalId").is_none(), "externalId left out of the PUT is gone: {replaced}");

    let read = read_group(&app, &org, &id).await;
    assert_eq!(read["members"], Value::Array(expected));
    assert_eq!(read["displayName"], "New");
    assert!(read.get("externalId").is_none(), "{read}");
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert_eq!(filter_groups(&app, &org, &format!("members.value eq \"{u1}\"")).await["totalResults"], 0);
    assert!(read_user(&app, &org, &u1).await.get("groups").is_none(), "u1 is in no team any more");
    assert_eq!(filter_groups(&app, &org, "displayName eq \"Old\"").await["totalResults"], 0);
    assert_eq!(filter_groups(&app, &org, "displayName eq \"new\"").await["totalResults"], 1);
}

#[tokio::test]
async fn put_without_members_leaves_the_group_empty() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "max").await;
    let (u2, _) = create_user(&app, &org, "ned").await;
    let id = create_group(&app, &org, "Crew", &[&u1, &u2]).await;
    let (status, _, replaced) =
        put_group(&app, &org, &id, &json!({"schemas": [GROUP_SCHEMA], "displayName": "Crew"})).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(member_values(&replaced), Vec::<String>::new());
    assert_eq!(member_values(&read_group(&app, &org, &id).await), Vec::<String>::new());
    assert_eq!(member_count(&app, &org, &id).await, 0);
    assert_eq!(users_of_group(&app, &org, &id, "count=10").await.0, 0);
}

#[tokio::test]
async fn put_ignores_id_and_meta_in_the_body() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_group(&app, &org, "Ops", &[]).await;
    let body = json!({"schemas": [GROUP_SCHEMA], "id": "something-else", "displayName": "Ops 2",
        "meta": {"resourceType": "Group", "version": "W/\"99\""}});
    let (status, _, replaced) = put_group(&app, &org, &id, &body).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(read_group(&app, &org, &id).await["displayName"], "Ops 2");
    let (status, _, _) = get_group(&app, &org, "something-else").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_removes_the_group_and_its_memberships_but_keeps_the_users() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "oli").await;
    let (u2, _) = create_user(&app, &org, "pam").await;
    let id = create_group(&app, &org, "Doomed", &[&u1, &u2]).await;
    let keep = create_group(&app, &org, "Kept", &[&u1]).await;

    let (status, body) = delete(&app, &org, &format!("/Groups/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null, "204 has no body");
    let (status, _, body) = get_group(&app, &org, &id).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = delete(&app, &org, &format!("/Groups/{id}")).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);

    let user1 = read_user(&app, &org, &u1).await;
    let teams: Vec<&str> = user1["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
    assert_eq!(teams, [keep.as_str()], "only the kept team is left: {user1}");
    assert!(read_user(&app, &org, &u2).await.get("groups").is_none(), "u2 is in no team any more");
    assert_eq!(app.store.members(&org.id.scope()).await.unwrap().len(), 2, "users stay");
    assert_eq!(filter_groups(&app, &org, &format!("members.value eq \"{u2}\"")).await["totalResults"], 0);
    assert_eq!(membership_items(&app, &org, &id).await, 0, "no membership item is left");
    let listed = list_groups(&app, &org, "").await;
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(display_names(&listed), string_set(&["Kept"]));
    // The name is free again.
    create_group(&app, &org, "Doomed", &[]).await;
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_team() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "quinn").await;
    let (u2, _) = create_user(&app, &org, "rae").await;
    let a = create_group(&app, &org, "Team A", &[&u1, &u2]).await;
    let b = create_group(&app, &org, "Team B", &[&u1]).await;

    let (status, _) = delete(&app, &org, &format!("/Users/{u1}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(read_group(&app, &org, &a).await["members"], json!([rendered_member(&org, &u2)]));
    assert_eq!(member_values(&read_group(&app, &org, &b).await), Vec::<String>::new());
    assert_eq!(member_count(&app, &org, &a).await, 1);
    assert_eq!(member_count(&app, &org, &b).await, 0);
    assert_eq!(filter_groups(&app, &org, &format!("members.value eq \"{u1}\"")).await["totalResults"], 0);
    assert_eq!(users_of_group(&app, &org, &a, "count=10").await, (1, vec![u2.clone()]));
}

#[tokio::test]
async fn a_user_lists_its_teams_in_the_read_only_groups_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "sam").await;
    let (loner, _) = create_user(&app, &org, "tia").await;
    let a = create_group(&app, &org, "Alpha", &[&u]).await;
    let b = create_group(&app, &org, "Beta", &[&u]).await;
    create_group(&app, &org, "Gamma", &[]).await;

    let expected_groups = |a_name: &str| -> Vec<Value> {
        let mut expected: Vec<Value> = [(&a, a_name), (&b, "Beta")]
            .iter()
            .map(|(gid, name)| {
                json!({"value": gid, "$ref": format!("{}/Groups/{gid}", org.base), "display": name, "type": "direct"})
            })
            .collect();
        expected.sort_by(|x, y| x["value"].as_str().cmp(&y["value"].as_str()));
        expected
    };
    let groups_of = |user: &Value| -> Vec<Value> {
        let mut groups = user["groups"].as_array().unwrap_or_else(|| panic!("no groups: {user}")).clone();
        groups.sort_by(|x, y| x["value"].as_str().cmp(&y["value"].as_str()));
        groups
    };
    let user = read_user(&app, &org, &u).await;
    assert_eq!(groups_of(&user), expected_groups("Alpha"), "{user}");
    assert!(read_user(&app, &org, &loner).await.get("groups").is_none(), "absent when none");

    // A rename shows in the user's groups.
    let (status, _, body) =
        patch_group(&app, &org, &a, json!([{"op": "replace", "path": "displayName", "value": "Alpha Prime"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let user = read_user(&app, &org, &u).await;
    assert_eq!(groups_of(&user), expected_groups("Alpha Prime"), "{user}");
}

#[tokio::test]
async fn user_lists_include_groups_only_when_requested() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, user_name) = create_user(&app, &org, "uma").await;
    let gid = create_group(&app, &org, "Listed", &[&u]).await;
    let filter = encode(&format!("userName eq \"{user_name}\""));
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users?filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1);
    assert!(body["Resources"][0].get("groups").is_none(), "not by default in lists: {body}");

    let (status, _, body) =
        send(scim(&app, &org, Method::GET, &format!("/Users?filter={filter}&attributes=groups"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resource = &body["Resources"][0];
    assert_eq!(resource["id"], u.as_str());
    assert_eq!(resource["groups"][0]["value"], gid.as_str(), "{body}");
    assert_eq!(resource["groups"][0]["display"], "Listed");
    assert_eq!(resource["groups"].as_array().unwrap().len(), 1);
    assert!(resource.get("userName").is_none(), "attributes=groups returns only id, schemas and groups: {resource}");
}

#[tokio::test]
async fn users_filter_groups_value_eq_pages_the_members_of_a_team() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut members = Vec::new();
    for prefix in ["va", "wu", "xi"] {
        members.push(create_user(&app, &org, prefix).await.0);
    }
    let (outsider, _) = create_user(&app, &org, "yo").await;
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let gid = create_group(&app, &org, "Paged", &refs).await;
    create_group(&app, &org, "Other", &[&outsider]).await;

    let (total, first) = users_of_group(&app, &org, &gid, "startIndex=1&count=2").await;
    assert_eq!(total, 3);
    assert_eq!(first.len(), 2);
    let (total, second) = users_of_group(&app, &org, &gid, "startIndex=3&count=2").await;
    assert_eq!(total, 3);
    assert_eq!(second.len(), 1);
    let seen: Vec<String> = first.into_iter().chain(second).collect();
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 3, "each member exactly once: {seen:?}");
    assert_eq!(unique, members.into_iter().collect::<BTreeSet<_>>());
    assert!(!unique.contains(&outsider));
}

// ---------------------------------------------------------------------------------------------
// Uniqueness, unknown and nested members
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_taken_display_name_in_any_case_is_409_uniqueness() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create_group(&app, &org, "Engineering", &[]).await;
    for name in ["Engineering", "ENGINEERING", "engineering"] {
        let (status, _, body) = post_group(&app, &org, &group_body(name, &[])).await;
        assert_scim_error(status, &body, StatusCode::CONFLICT, Some("uniqueness"));
    }
    assert_eq!(list_groups(&app, &org, "").await["totalResults"], 1);
}

#[tokio::test]
async fn renaming_to_a_taken_name_is_409_by_put_and_by_patch_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create_group(&app, &org, "Taken", &[]).await;
    let (u, _) = create_user(&app, &org, "zed").await;
    let id = create_group(&app, &org, "Mine", &[&u]).await;
    let (_, before_headers, before) = get_group(&app, &org, &id).await;

    let (status, _, body) = put_group(&app, &org, &id, &group_body("TAKEN", &[])).await;
    assert_scim_error(status, &body, StatusCode::CONFLICT, Some("uniqueness"));
    for operations in [
        json!([{"op": "replace", "path": "displayName", "value": "taken"}]),
        json!([{"op": "Replace", "path": "displayName", "value": "Taken"}]),
        json!([{"op": "replace", "value": {"id": id, "displayName": "Taken"}}]),
    ] {
        let (status, _, body) = patch_group(&app, &org, &id, operations.clone()).await;
        assert_scim_error(status, &body, StatusCode::CONFLICT, Some("uniqueness"));
    }
    let (_, after_headers, after) = get_group(&app, &org, &id).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(etag(&after_headers), etag(&before_headers));
    assert_eq!(filter_groups(&app, &org, "displayName eq \"Taken\"").await["totalResults"], 1);
}

#[tokio::test]
async fn a_rename_frees_the_old_name() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_group(&app, &org, "Before", &[]).await;
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "replace", "path": "displayName", "value": "After"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(read_group(&app, &org, &id).await["displayName"], "After");
    let other = create_group(&app, &org, "before", &[]).await;
    assert_ne!(other, id);
    let (status, _, body) = post_group(&app, &org, &group_body("AFTER", &[])).await;
    assert_scim_error(status, &body, StatusCode::CONFLICT, Some("uniqueness"));
}

#[tokio::test]
async fn an_unknown_member_on_create_is_400_invalid_value_naming_it_and_creates_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "abe").await;
    let unknown = "9f0c3c0e-0000-4000-8000-00000000dead";
    let (status, _, body) = post_group(&app, &org, &group_body("Ghosts", &[&u, unknown])).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains(unknown), "the detail names the id: {body}");
    assert_eq!(list_groups(&app, &org, "").await["totalResults"], 0, "no group was created");
    assert!(read_user(&app, &org, &u).await.get("groups").is_none());
    // The name was not reserved.
    create_group(&app, &org, "Ghosts", &[&u]).await;
}

#[tokio::test]
async fn an_unknown_member_in_a_patch_changes_nothing_not_even_the_other_operations() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "bea").await;
    let (u2, _) = create_user(&app, &org, "cal").await;
    let id = create_group(&app, &org, "Stable", &[&u1]).await;
    let (_, before_headers, before) = get_group(&app, &org, &id).await;
    let unknown = "1d3e5f70-0000-4000-8000-00000000beef";
    let operations = json!([
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members", "value": [{"value": u2}]},
        {"op": "add", "path": "members", "value": [{"value": unknown}]},
        {"op": "remove", "path": format!("members[value eq \"{u1}\"]")}
    ]);
    let (status, _, body) = patch_group(&app, &org, &id, operations).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains(unknown), "the detail names the id: {body}");

    let (_, after_headers, after) = get_group(&app, &org, &id).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(etag(&after_headers), etag(&before_headers));
    assert_eq!(member_count(&app, &org, &id).await, 1);
    assert_eq!(filter_groups(&app, &org, "displayName eq \"Renamed\"").await["totalResults"], 0);
    assert!(read_user(&app, &org, &u2).await.get("groups").is_none());
}

#[tokio::test]
async fn an_unknown_member_in_a_put_or_replace_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "dov").await;
    let id = create_group(&app, &org, "Stable", &[&u1]).await;
    let (_, _, before) = get_group(&app, &org, &id).await;
    let unknown = "unknown-member-id-42";
    let (status, _, body) = put_group(&app, &org, &id, &group_body("Stable 2", &[unknown])).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains(unknown), "{body}");
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "replace", "path": "members", "value": [{"value": unknown}]}]))
            .await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains(unknown), "{body}");
    assert_eq!(read_group(&app, &org, &id).await, before);
    assert_eq!(member_count(&app, &org, &id).await, 1);
}

#[tokio::test]
async fn a_user_of_another_organization_is_an_unknown_member() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let other = app.scim_org().await;
    let (foreign, _) = create_user(&app, &other, "eli").await;
    let id = create_group(&app, &org, "Local", &[]).await;
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "add", "path": "members", "value": [{"value": foreign}]}])).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains(&foreign), "{body}");
    assert_eq!(member_values(&read_group(&app, &org, &id).await), Vec::<String>::new());
    let (status, _, body) = post_group(&app, &org, &group_body("Mixed", &[&foreign])).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

#[tokio::test]
async fn a_group_as_a_member_is_400_invalid_value_nested_teams_are_not_supported() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "fox").await;
    let inner = create_group(&app, &org, "Inner", &[&u]).await;
    let outer = create_group(&app, &org, "Outer", &[]).await;

    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Nest",
        "members": [{"value": inner, "type": "Group"}]});
    let (status, _, error) = post_group(&app, &org, &body).await;
    assert_scim_error(status, &error, StatusCode::BAD_REQUEST, Some("invalidValue"));

    let (status, _, error) = patch_group(
        &app,
        &org,
        &outer,
        json!([{"op": "add", "path": "members", "value": [{"value": inner, "type": "Group"}]}]),
    )
    .await;
    assert_scim_error(status, &error, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // The id of a group without a type is not a user of this organization either.
    let (status, _, error) =
        patch_group(&app, &org, &outer, json!([{"op": "add", "path": "members", "value": [{"value": inner}]}])).await;
    assert_scim_error(status, &error, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // A user sent with type "Group" is refused too.
    let (status, _, error) = patch_group(
        &app,
        &org,
        &outer,
        json!([{"op": "add", "path": "members", "value": [{"value": u, "type": "Group"}]}]),
    )
    .await;
    assert_scim_error(status, &error, StatusCode::BAD_REQUEST, Some("invalidValue"));

    assert_eq!(member_values(&read_group(&app, &org, &outer).await), Vec::<String>::new());
    assert_eq!(member_count(&app, &org, &outer).await, 0);
    assert_eq!(list_groups(&app, &org, "").await["totalResults"], 2, "Nest was not created");
}

// ---------------------------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn patch_returns_204_and_with_if_match_the_etag_get_shows() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "gus").await;
    let (v, _) = create_user(&app, &org, "gwen").await;
    let id = create_group(&app, &org, "Patched", &[]).await;
    let (_, before_headers, _) = get_group(&app, &org, &id).await;
    // As Okta and Entra send it (no If-Match): 204, no body, and no read after the write, so no
    // ETag (the version it left is not known without one: docs/ARCHITECTURE.md).
    let (status, headers, body) =
        patch_group(&app, &org, &id, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "204 has no body");
    assert!(headers.get(ETAG).is_none(), "{headers:?}");
    let (_, get_headers, read) = get_group(&app, &org, &id).await;
    assert_ne!(etag(&get_headers), etag(&before_headers), "a member change is a new version");
    assert_eq!(read["members"], json!([rendered_member(&org, &u)]));

    // A client chaining conditional PATCHes gets the ETag of the version each made.
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": v}]}]));
    let (status, headers, body) = send(
        with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &add).header(IF_MATCH, etag(&get_headers)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let patch_etag = etag(&headers);
    let (_, get_headers, read) = get_group(&app, &org, &id).await;
    assert_eq!(etag(&get_headers), patch_etag, "the PATCH's ETag is the resulting version");
    assert_eq!(read["meta"]["version"], patch_etag.as_str());
    assert_eq!(member_count(&app, &org, &id).await, 2);
    let remove = patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]));
    let (status, headers, _) = send(
        with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &remove)
            .header(IF_MATCH, patch_etag.as_str()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, get_headers, read) = get_group(&app, &org, &id).await;
    assert_eq!(etag(&get_headers), etag(&headers), "after a removal too");
    assert_eq!(read["members"], json!([rendered_member(&org, &v)]));
}

#[tokio::test]
async fn adding_a_present_member_or_removing_an_absent_one_is_harmless() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "hob").await;
    let (u2, _) = create_user(&app, &org, "ivy").await;
    let id = create_group(&app, &org, "Idempotent", &[&u1]).await;
    for operations in [
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
        json!([{"op": "add", "path": "members", "value": [{"value": u1}, {"value": u1}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
        json!([{"op": "Remove", "path": "members", "value": [{"value": u2}]}]),
    ] {
        let (status, _, body) = patch_group(&app, &org, &id, operations.clone()).await;
        assert!(status.is_success(), "{operations}: {status} {body}");
        assert_eq!(member_values(&read_group(&app, &org, &id).await), vec![u1.clone()], "{operations}");
        assert_eq!(member_count(&app, &org, &id).await, 1, "{operations}");
    }
    // Duplicates inside one add count once.
    let (status, _, body) = patch_group(
        &app,
        &org,
        &id,
        json!([{"op": "add", "path": "members", "value": [{"value": u2}, {"value": u2}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_values(&read_group(&app, &org, &id).await), sorted_strings(&[&u1, &u2]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert_eq!(users_of_group(&app, &org, &id, "count=10").await.0, 2);
}

#[tokio::test]
async fn a_member_in_the_create_body_twice_counts_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "jay").await;
    let id = create_group(&app, &org, "Twice", &[&u, &u]).await;
    assert_eq!(member_values(&read_group(&app, &org, &id).await), vec![u.clone()]);
    assert_eq!(member_count(&app, &org, &id).await, 1);
}

#[tokio::test]
async fn replace_members_replaces_the_set_and_remove_members_removes_all() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "kai").await;
    let (u2, _) = create_user(&app, &org, "lou").await;
    let (u3, _) = create_user(&app, &org, "mo").await;
    let id = create_group(&app, &org, "Swap", &[&u1, &u2]).await;

    let (status, _, body) = patch_group(
        &app,
        &org,
        &id,
        json!([{"op": "replace", "path": "members", "value": [{"value": u2}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_values(&read_group(&app, &org, &id).await), sorted_strings(&[&u2, &u3]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert!(read_user(&app, &org, &u1).await.get("groups").is_none());

    let (status, _, body) = patch_group(&app, &org, &id, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_values(&read_group(&app, &org, &id).await), Vec::<String>::new());
    assert_eq!(member_count(&app, &org, &id).await, 0);
    assert_eq!(users_of_group(&app, &org, &id, "count=10").await.0, 0);
    assert_eq!(read_group(&app, &org, &id).await["displayName"], "Swap", "only members were removed");
}

#[tokio::test]
async fn operations_of_one_patch_apply_in_order() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "nia").await;
    let (u2, _) = create_user(&app, &org, "oz").await;
    let id = create_group(&app, &org, "Ordered", &[&u2]).await;
    let operations = json!([
        {"op": "add", "path": "members", "value": [{"value": u1}]},
        {"op": "remove", "path": format!("members[value eq \"{u1}\"]")},
        {"op": "remove", "path": format!("members[value eq \"{u2}\"]")},
        {"op": "add", "path": "members", "value": [{"value": u2}]},
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "displayName", "value": "Second"}
    ]);
    let (status, _, body) = patch_group(&app, &org, &id, operations).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let read = read_group(&app, &org, &id).await;
    assert_eq!(member_values(&read), vec![u2.clone()], "add u1 then remove u1: absent; remove u2 then add u2: present");
    assert_eq!(read["displayName"], "Second");
    assert_eq!(member_count(&app, &org, &id).await, 1);
    assert_eq!(filter_groups(&app, &org, "displayName eq \"First\"").await["totalResults"], 0);
    assert_eq!(filter_groups(&app, &org, "displayName eq \"Second\"").await["totalResults"], 1);
}

#[tokio::test]
async fn replace_of_display_name_and_external_id_in_every_form() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "pia").await;
    let id = create_group(&app, &org, "Named", &[&u]).await;
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "Replace", "path": "externalId", "value": "ext-w"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(read_group(&app, &org, &id).await["externalId"], "ext-w");
    assert_eq!(filter_groups(&app, &org, "externalId eq \"ext-w\"").await["totalResults"], 1);
    let (status, _, body) = patch_group(&app, &org, &id, json!([{"op": "remove", "path": "externalId"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(read_group(&app, &org, &id).await.get("externalId").is_none());
    assert_eq!(filter_groups(&app, &org, "externalId eq \"ext-w\"").await["totalResults"], 0);
    // Okta's form (no path, the group's own id in the value) comes last, so that a failure there
    // leaves the other forms checked.
    let steps = [
        (json!([{"op": "replace", "path": "displayName", "value": "X"}]), "X"),
        (json!([{"op": "Replace", "path": "displayName", "value": "Z"}]), "Z"),
        (json!([{"op": "replace", "value": {"displayName": "W"}}]), "W"),
        (json!([{"op": "replace", "value": {"id": id, "displayName": "Y"}}]), "Y"),
    ];
    for (operations, expected) in steps {
        let (status, _, body) = patch_group(&app, &org, &id, operations.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{operations}: {body}");
        let read = read_group(&app, &org, &id).await;
        assert_eq!(read["displayName"], expected, "{operations}");
        assert_eq!(member_values(&read), vec![u.clone()], "a rename keeps the members");
    }
}

#[tokio::test]
async fn patch_errors_have_their_scim_types() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "rex").await;
    let id = create_group(&app, &org, "Errors", &[&u]).await;
    let (_, _, before) = get_group(&app, &org, &id).await;
    let cases = [
        (json!([{"op": "frobnicate", "path": "displayName", "value": "x"}]), "invalidSyntax"),
        (json!([{"op": "replace", "path": "members[value eq", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": "noSuchAttribute", "value": "x"}]), "invalidPath"),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "replace", "path": "displayName", "value": 5}]), "invalidValue"),
        (json!([{"op": "add", "path": "members", "value": "not-a-list"}]), "invalidValue"),
        (json!([{"op": "replace", "path": "id", "value": "new-id"}]), "mutability"),
        (json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]), "mutability"),
    ];
    for (operations, scim_type) in cases {
        let (status, _, body) = patch_group(&app, &org, &id, operations.clone()).await;
        assert_eq!(body["scimType"], scim_type, "{operations}: {body}");
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let no_schema = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    let (status, _, body) =
        send(with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &no_schema)).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    assert_eq!(read_group(&app, &org, &id).await, before, "no failed PATCH changed anything");
    let (status, _, body) =
        patch_group(&app, &org, "no-such-group", json!([{"op": "replace", "path": "displayName", "value": "x"}])).await;
    assert_scim_error(status, &body, StatusCode::NOT_FOUND, None);
}

// ---------------------------------------------------------------------------------------------
// ETags
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn if_match_with_a_stale_etag_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = create_user(&app, &org, "sid").await;
    let (u2, _) = create_user(&app, &org, "tom").await;
    let (status, create_headers, created) = post_group(&app, &org, &group_body("Versioned", &[&u1])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let stale = etag(&create_headers);
    let (status, _, body) =
        patch_group(&app, &org, &id, json!([{"op": "replace", "path": "displayName", "value": "Versioned 2"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, before_headers, before) = get_group(&app, &org, &id).await;
    assert_ne!(etag(&before_headers), stale);

    let patch =
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": u2}]}]});
    let (status, _, body) = send(
        with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &patch).header(IF_MATCH, stale.as_str()),
    )
    .await;
    assert_scim_error(status, &body, StatusCode::PRECONDITION_FAILED, None);
    let (status, _, body) = send(
        with_body(scim(&app, &org, Method::PUT, &format!("/Groups/{id}")), &group_body("Versioned 3", &[]))
            .header(IF_MATCH, stale.as_str()),
    )
    .await;
    assert_scim_error(status, &body, StatusCode::PRECONDITION_FAILED, None);
    let (status, _, body) =
        send(scim(&app, &org, Method::DELETE, &format!("/Groups/{id}")).header(IF_MATCH, stale.as_str())).await;
    assert_scim_error(status, &body, StatusCode::PRECONDITION_FAILED, None);

    let (_, after_headers, after) = get_group(&app, &org, &id).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(etag(&after_headers), etag(&before_headers));
    assert_eq!(member_count(&app, &org, &id).await, 1);
}

#[tokio::test]
async fn if_match_with_the_current_etag_or_star_proceeds() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "uri").await;
    let id = create_group(&app, &org, "Current", &[]).await;
    let (_, headers, _) = get_group(&app, &org, &id).await;
    let patch =
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]});
    let (status, patch_headers, body) = send(
        with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &patch).header(IF_MATCH, etag(&headers)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = send(
        with_body(scim(&app, &org, Method::PUT, &format!("/Groups/{id}")), &group_body("Current 2", &[&u]))
            .header(IF_MATCH, etag(&patch_headers)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Current 2");
    let (status, _, body) = send(
        with_body(
            scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")),
            &json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Current 3"}]}),
        )
        .header(IF_MATCH, "*"),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let read = read_group(&app, &org, &id).await;
    assert_eq!(read["displayName"], "Current 3");
    assert_eq!(member_values(&read), vec![u.clone()]);
    let (status, _, _) = send(scim(&app, &org, Method::DELETE, &format!("/Groups/{id}")).header(IF_MATCH, "*")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_group(&app, &org, "Parsed", &[]).await;
    for (method, path) in [
        (Method::POST, "/Groups".to_owned()),
        (Method::PUT, format!("/Groups/{id}")),
        (Method::PATCH, format!("/Groups/{id}")),
    ] {
        let (status, _, body) = send(
            scim(&app, &org, method.clone(), &path)
                .header("content-type", "application/scim+json")
                .body("{\"displayName\": "),
        )
        .await;
        assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    }
}

#[tokio::test]
async fn bad_input_is_never_a_5xx() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = create_user(&app, &org, "vic").await;
    let id = create_group(&app, &org, "Robust", &[&u]).await;
    let group_path = format!("/Groups/{id}");
    let bodies = [
        "[]".to_owned(),
        "null".to_owned(),
        "\"text\"".to_owned(),
        "{}".to_owned(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": 5}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": ["a"]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": "x"}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [5]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [{}]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [{"value": null}]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [{"value": 7}]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "members": [{"value": ""}]}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "M", "externalId": {"a": 1}}).to_string(),
        json!({"schemas": "not-a-list", "displayName": "M"}).to_string(),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "x".repeat(10_000)}).to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": "nope"}).to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [5]}).to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": ["a"]}]}]})
            .to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "members[value eq 5]"}]}).to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "value": {"members": [{"value": "nobody"}]}}]})
            .to_string(),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}]})
            .to_string(),
        "{\"a\":".repeat(200),
    ];
    // Every request is tried; the failures are reported together at the end.
    let mut failures: Vec<String> = Vec::new();
    let clip = |text: &str| -> String { text.chars().take(120).collect() };
    for body in &bodies {
        for (method, path) in [
            (Method::POST, "/Groups".to_owned()),
            (Method::PUT, group_path.clone()),
            (Method::PATCH, group_path.clone()),
            (Method::POST, "/Groups/.search".to_owned()),
        ] {
            let (status, _, response) = send(
                scim(&app, &org, method.clone(), &path)
                    .header("content-type", "application/scim+json")
                    .body(body.clone()),
            )
            .await;
            let scim_error = response["schemas"] == json!([ERROR_SCHEMA])
                && response["status"] == json!(status.as_u16().to_string());
            if status.is_server_error() || (status.is_client_error() && !scim_error) {
                failures.push(format!("{method} {path} {}: {status} {response}", clip(body)));
            }
        }
    }
    let queries = [
        "filter=".to_owned(),
        "filter=%22".to_owned(),
        format!("filter={}", encode("members[value eq \"x\"] and")),
        format!("filter={}", encode("displayName eq \"\\\"\"")),
        "startIndex=-5&count=-1".to_owned(),
        "startIndex=abc&count=xyz".to_owned(),
        "startIndex=99999999999999999999".to_owned(),
        "count=100000000".to_owned(),
        "attributes=&excludedAttributes=".to_owned(),
        "excludedAttributes=members,members,nothing".to_owned(),
        "sortBy=displayName&sortOrder=sideways".to_owned(),
        format!("filter={}", encode(&format!("({})", "(".repeat(500)))),
    ];
    for query in &queries {
        for path in ["/Groups".to_owned(), group_path.clone()] {
            let (status, _, response) = send(scim(&app, &org, Method::GET, &format!("{path}?{query}"))).await;
            if status.is_server_error() || (status.is_client_error() && response["schemas"] != json!([ERROR_SCHEMA])) {
                failures.push(format!("GET {path}?{}: {status} {response}", clip(query)));
            }
        }
    }
    let (status, _, response) = send(
        scim(&app, &org, Method::POST, "/Groups")
            .header("content-type", "text/plain")
            .body(group_body("Typed", &[]).to_string()),
    )
    .await;
    if status != StatusCode::UNSUPPORTED_MEDIA_TYPE || response["schemas"] != json!([ERROR_SCHEMA]) {
        failures.push(format!("POST /Groups as text/plain: {status} {response} (expected a SCIM 415)"));
    }
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let (status, _, response) = send(
            scim(&app, &org, method.clone(), "/Groups/%00%ff..%2F")
                .header("content-type", "application/scim+json")
                .body(group_body("Odd", &[]).to_string()),
        )
        .await;
        if status.is_server_error() {
            failures.push(format!("{method} /Groups/%00%ff..%2F: {status} {response}"));
        }
    }
    assert!(failures.is_empty(), "{} bad answers:\n{}", failures.len(), failures.join("\n"));
    // Through all of it the group stayed readable.
    let read = read_group(&app, &org, &id).await;
    assert_eq!(read["id"], id.as_str());
    assert!(read["displayName"].is_string(), "{read}");
    assert!(member_values(&read).len() <= 1, "{read}");
}
