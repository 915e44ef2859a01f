//! The group provisioning flows of Okta and Microsoft Entra ID against /Groups, with the requests
//! as the IdPs document them:
//! - Okta, "Okta and SCIM Version 2.0" (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20),
//!   SCIM Group operations: Push Groups creates the group (POST, members may be inside), membership
//!   updates are one PATCH that removes with `members[value eq "…"]` and adds with a value list,
//!   renames are a no-path `replace` whose value carries `id` and `displayName` (sent after every
//!   membership update), a full push is `replace` of `members`; integrations made with the AIW send
//!   PUT instead; unlinking with "Delete the group in the target app" sends DELETE.
//! - Microsoft Entra ID, "Tutorial: Develop and plan provisioning for a SCIM endpoint"
//!   (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups),
//!   Group Operations: lookup by `excludedAttributes=members&filter=displayName eq "…"`, create
//!   without members, `Add`/`Remove` of members with `{"$ref": null, "value": …}` lists,
//!   `Replace` of `displayName`, every PATCH answered 204, DELETE.
use crate::helpers::OperatorScope;
use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, empty_list_response, encode, entra, entra_user_body, member_count, member_value_set, new_guid, ok_body,
    okta, okta_user_body, patch_body, send, send_for_status_and_body, string_set, with_utf8_body, ENTRA_AGENT,
    GROUP_SCHEMA, LIST_SCHEMA, OKTA_AGENT, PATCH_SCHEMA,
};

const ADSCIM_GROUP_SCHEMA: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn short() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// Okta's lookup of a pushed group by name.
fn okta_lookup_path(display_name: &str) -> String {
    format!("/Groups?filter={}&startIndex=1&count=100", encode(&format!("displayName eq \"{display_name}\"")))
}

/// Entra's query of groups (members left out) by this filter.
fn entra_filter_path(filter: &str) -> String {
    format!("/Groups?excludedAttributes=members&filter={}", encode(filter))
}

/// Entra's lookup of a group by name.
fn entra_lookup_path(display_name: &str) -> String {
    entra_filter_path(&format!("displayName eq \"{display_name}\""))
}

/// An Okta user (as Okta's "Create the User" request); returns its id and userName.
async fn okta_user(app: &TestApp, org: &ScimOrg) -> (String, String) {
    let user_name = format!("test.user.{}@okta.local", short());
    let body = okta_user_body(&user_name, &format!("00u{}", short()));
    (created_id(with_utf8_body(okta(app, org, Method::POST, "/Users"), &body)).await, user_name)
}

/// An Entra user (as Entra's "Create User" request); returns its id and userName.
async fn entra_user(app: &TestApp, org: &ScimOrg) -> (String, String) {
    let guid = new_guid();
    let user_name = format!("Test_User_{guid}");
    let body = entra_user_body(&user_name, &format!("Test_User_{guid}@testuser.com"));
    (created_id(with_utf8_body(entra(app, org, Method::POST, "/Users"), &body)).await, user_name)
}

/// `GET /Groups/{id}` as Okta, expected to be 200.
async fn okta_read_group(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    ok_body(okta(app, org, Method::GET, &format!("/Groups/{id}"))).await
}

/// `GET /Users/{id}` as Okta, expected to be 200.
async fn okta_read_user(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    ok_body(okta(app, org, Method::GET, &format!("/Users/{id}"))).await
}

// ---------------------------------------------------------------------------------------------
// Okta: Push Groups
// ---------------------------------------------------------------------------------------------

/// Okta's PATCH of group `id` with this PatchOp body.
async fn okta_patch(app: &TestApp, org: &ScimOrg, id: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    send(with_utf8_body(okta(app, org, Method::PATCH, &format!("/Groups/{id}")), body)).await
}

/// Okta's PUT of group `id` with this body.
async fn okta_put(app: &TestApp, org: &ScimOrg, id: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    send(with_utf8_body(okta(app, org, Method::PUT, &format!("/Groups/{id}")), body)).await
}

/// The body of Okta's "Create Groups" request, optionally with members (`{value, display}`).
fn okta_create_body(display_name: &str, members: &[(&str, &str)]) -> Value {
    let members: Vec<Value> = members.iter().map(|(id, name)| json!({"value": id, "display": name})).collect();
    json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": display_name,
        "members": members
    })
}

async fn okta_push(app: &TestApp, org: &ScimOrg, display_name: &str, members: &[(&str, &str)]) -> String {
    created_id(with_utf8_body(okta(app, org, Method::POST, "/Groups"), &okta_create_body(display_name, members))).await
}

/// Okta's "Update specific Group membership" PATCH: remove one member, add another.
fn okta_membership_patch(remove: &str, add: (&str, &str)) -> Value {
    json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{
                "op": "remove",
                "path": format!("members[value eq \"{remove}\"]")
            },
            {
                "op": "add",
                "path": "members",
                "value": [{
                    "value": add.0,
                    "display": add.1
                }]
            }]
    })
}

/// Okta's "Update a specific Group name" PATCH.
fn okta_rename_patch(id: &str, display_name: &str) -> Value {
    json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{
            "op": "replace",
            "value": {
                "id": id,
                "displayName": display_name
            }
        }]
    })
}

/// The PUT of an Okta AIW integration: the whole group, with its id and every member.
fn okta_put_body(id: &str, display_name: &str, members: &[(&str, &str)]) -> Value {
    let members: Vec<Value> = members.iter().map(|(id, name)| json!({"value": id, "display": name})).collect();
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": display_name,
        "members": members,
        "meta": {"resourceType": "Group"}
    })
}

#[tokio::test]
async fn okta_import_of_groups_on_an_empty_organization_is_an_empty_list_response() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, headers, body) = send(okta(&app, &org, Method::GET, "/Groups?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(body, empty_list_response());
}

#[tokio::test]
async fn okta_import_pages_through_groups_with_integers() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for i in 0..3 {
        okta_push(&app, &org, &format!("Okta Group {i}"), &[]).await;
    }
    let (status, _, body) = send(okta(&app, &org, Method::GET, "/Groups?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], json!(3), "an integer, not a string");
    assert_eq!(body["itemsPerPage"], json!(3));
    assert_eq!(body["startIndex"], json!(1));
    let names: BTreeSet<String> =
        body["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, string_set(&["Okta Group 0", "Okta Group 1", "Okta Group 2"]));
}

#[tokio::test]
async fn okta_lookup_of_an_unknown_group_name_is_an_empty_list_response() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, _, body) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv2"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, empty_list_response());
}

#[tokio::test]
async fn okta_push_creates_the_group_as_documented() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, headers, body) =
        send(with_utf8_body(okta(&app, &org, Method::POST, "/Groups"), &okta_create_body("Test SCIMv2", &[]))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(body["displayName"], "Test SCIMv2");
    assert_eq!(member_value_set(&body), BTreeSet::new());
    assert_eq!(body["meta"]["resourceType"], "Group");
    assert_eq!(headers["location"], format!("{}/Groups/{id}", org.base).as_str());

    // Okta later checks that the group still exists.
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["displayName"], "Test SCIMv2");
    // And finds it by name.
    let (status, _, found) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv2"))).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());
}

#[tokio::test]
async fn okta_push_with_members_creates_the_team_with_them() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, n1) = okta_user(&app, &org).await;
    let (u2, n2) = okta_user(&app, &org).await;
    let (status, _, body) = send(with_utf8_body(
        okta(&app, &org, Method::POST, "/Groups"),
        &okta_create_body("Test SCIMv2", &[(&u1, &n1), (&u2, &n2)]),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(member_value_set(&body), string_set(&[&u1, &u2]));
    for member in body["members"].as_array().unwrap() {
        let value = member["value"].as_str().unwrap();
        assert!(member.get("display").is_none(), "display is returned on request only: {member}");
        assert_eq!(member["$ref"], format!("{}/Users/{value}", org.base));
        assert_eq!(member["type"], "User");
    }
    let (status, _, asked) =
        send(okta(&app, &org, Method::GET, &format!("/Groups/{id}?attributes=members.display,members.value"))).await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    for member in asked["members"].as_array().unwrap() {
        let expected_name = if member["value"] == u1.as_str() { &n1 } else { &n2 };
        assert_eq!(member["display"], expected_name.as_str(), "{member}");
    }
    assert_eq!(member_value_set(&okta_read_group(&app, &org, &id).await), string_set(&[&u1, &u2]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert_eq!(okta_read_user(&app, &org, &u1).await["groups"][0]["value"], id.as_str());
}

#[tokio::test]
async fn okta_membership_update_removes_and_adds_in_one_patch() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (old, old_name) = okta_user(&app, &org).await;
    let (kept, kept_name) = okta_user(&app, &org).await;
    let (new, new_name) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&old, &old_name), (&kept, &kept_name)]).await;

    let (status, headers, body) = okta_patch(&app, &org, &id, &okta_membership_patch(&old, (&new, &new_name))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Okta sends no If-Match: the group is not read again for an ETag (docs/ARCHITECTURE.md).
    assert!(headers.get("etag").is_none(), "{headers:?}");
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(member_value_set(&read), string_set(&[&kept, &new]));
    assert_eq!(read["displayName"], "Test SCIMv2");
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert!(okta_read_user(&app, &org, &old).await.get("groups").is_none(), "the removed user is in no team");
}

#[tokio::test]
async fn okta_rename_patch_with_id_in_the_value_renames_and_keeps_members() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, n) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&u, &n)]).await;
    let (status, _, body) = okta_patch(&app, &org, &id, &okta_rename_patch(&id, "Test SCIMv20")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(read["displayName"], "Test SCIMv20");
    assert_eq!(read["id"], id.as_str(), "the id in the value is the group's own, not a change");
    assert_eq!(member_value_set(&read), string_set(&[&u]));
    let (_, _, found) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv20"))).await;
    assert_eq!(found["totalResults"], 1);
    let (_, _, gone) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv2"))).await;
    assert_eq!(gone["totalResults"], 0, "{gone}");
}

#[tokio::test]
async fn okta_rename_to_the_same_name_after_each_membership_update_is_harmless() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = okta_user(&app, &org).await;
    let (b, b_name) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&a, &a_name)]).await;
    // Okta: membership update, then the name update it triggers (same name).
    let (status, _, body) = okta_patch(&app, &org, &id, &okta_membership_patch(&a, (&b, &b_name))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for _ in 0..2 {
        let (status, _, body) = okta_patch(&app, &org, &id, &okta_rename_patch(&id, "Test SCIMv2")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "renaming to its own name is no conflict: {body}");
    }
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(read["displayName"], "Test SCIMv2");
    assert_eq!(member_value_set(&read), string_set(&[&b]));
    assert_eq!(member_count(&app, &org, &id).await, 1);
}

#[tokio::test]
async fn okta_full_push_with_replace_of_members_sets_exactly_those_members() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = okta_user(&app, &org).await;
    let (b, _) = okta_user(&app, &org).await;
    let (c, _) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&a, &a_name)]).await;
    // As in Okta's example, both members carry the same display.
    let body = json!({
      "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
      ],
      "Operations": [
        {
          "op": "replace",
          "path": "members",
          "value": [
            {
              "value": b,
              "display": "test.user@okta.local"
            },
            {
              "value": c,
              "display": "test.user@okta.local"
            }
          ]
        }
      ]
    });
    let (status, _, response) = okta_patch(&app, &org, &id, &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{response}");
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(member_value_set(&read), string_set(&[&b, &c]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
    let (_, _, asked) = send(okta(&app, &org, Method::GET, &format!("/Groups/{id}?attributes=members.display"))).await;
    for member in asked["members"].as_array().unwrap() {
        assert!(member["display"].is_string(), "{member}");
        assert_ne!(
            member["display"], "test.user@okta.local",
            "display is the member's userName, not the IdP's: {member}"
        );
    }
}

#[tokio::test]
async fn okta_put_of_the_whole_group_after_membership_changes_replaces_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = okta_user(&app, &org).await;
    let (b, b_name) = okta_user(&app, &org).await;
    let (c, c_name) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&a, &a_name), (&b, &b_name)]).await;
    // Okta reads the group, then PUTs it back with the membership it now has.
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(member_value_set(&read), string_set(&[&a, &b]));
    let (status, _, body) =
        okta_put(&app, &org, &id, &okta_put_body(&id, "Test SCIMv2", &[(&b, &b_name), (&c, &c_name)])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["displayName"], "Test SCIMv2");
    assert_eq!(member_value_set(&body), string_set(&[&b, &c]));
    assert_eq!(member_value_set(&okta_read_group(&app, &org, &id).await), string_set(&[&b, &c]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
    assert!(okta_read_user(&app, &org, &a).await.get("groups").is_none());

    // The same PUT again (Okta repeats it) changes nothing.
    let (status, _, again) =
        okta_put(&app, &org, &id, &okta_put_body(&id, "Test SCIMv2", &[(&b, &b_name), (&c, &c_name)])).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(member_value_set(&again), string_set(&[&b, &c]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
}

#[tokio::test]
async fn okta_unlink_with_delete_removes_the_group_and_keeps_the_users() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = okta_user(&app, &org).await;
    let id = okta_push(&app, &org, "Test SCIMv2", &[(&a, &a_name)]).await;
    let (status, _, body) = send(okta(&app, &org, Method::DELETE, &format!("/Groups/{id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _, _) = send(okta(&app, &org, Method::GET, &format!("/Groups/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let user = okta_read_user(&app, &org, &a).await;
    assert_eq!(user["active"], json!(true), "the user stays, active");
    assert!(user.get("groups").is_none(), "{user}");
    let (_, _, found) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv2"))).await;
    assert_eq!(found["totalResults"], 0);
}

#[tokio::test]
async fn okta_push_groups_full_flow_is_logged_as_okta() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (a, a_name) = okta_user(&app, &org).await;
    let (b, b_name) = okta_user(&app, &org).await;
    let (c, c_name) = okta_user(&app, &org).await;

    let (status, _, body) = send(okta(&app, &org, Method::GET, "/Groups?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(okta(&app, &org, Method::GET, &okta_lookup_path("Test SCIMv2"))).await;
    assert_eq!((status, body["totalResults"].clone()), (StatusCode::OK, json!(0)), "{body}");
    let (status, _, created) = send(with_utf8_body(
        okta(&app, &org, Method::POST, "/Groups"),
        &okta_create_body("Test SCIMv2", &[(&a, &a_name), (&b, &b_name)]),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{id}");
    let (status, _, _) = send(okta(&app, &org, Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = okta_patch(&app, &org, &id, &okta_membership_patch(&a, (&c, &c_name))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = okta_patch(&app, &org, &id, &okta_rename_patch(&id, "Test SCIMv20")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = okta_put(&app, &org, &id, &okta_put_body(&id, "Test SCIMv20", &[(&c, &c_name)])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(member_value_set(&body), string_set(&[&c]));
    let (status, _, _) = send(okta(&app, &org, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for user in [&a, &b, &c] {
        assert!(okta_read_user(&app, &org, user).await.get("groups").is_none());
    }

    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 50).await.unwrap();
    let groups: Vec<_> = logs.iter().filter(|l| l.path.contains("/Groups")).collect();
    let seen: Vec<(&str, u16)> = groups.iter().map(|l| (l.method.as_str(), l.status)).collect();
    assert_eq!(
        seen,
        [
            ("DELETE", 204),
            ("PUT", 200),
            ("PATCH", 204),
            ("PATCH", 204),
            ("GET", 200),
            ("POST", 201),
            ("GET", 200),
            ("GET", 200)
        ],
        "newest first"
    );
    for log in &groups {
        assert_eq!(log.idp, "okta", "{log:?}");
        assert_eq!(log.user_agent.as_deref(), Some(OKTA_AGENT));
        // The contract leaves the name open: the SCIM resource type or its endpoint.
        assert!(matches!(log.resource_type.as_deref(), Some("Group" | "Groups")), "{log:?}");
    }
    assert_eq!(groups[0].path, format!("/scim/v2/orgs/{}/Groups/{id}", org.id));
    assert_eq!(groups[7].query.as_deref(), Some("startIndex=1&count=100"));
}

// ---------------------------------------------------------------------------------------------
// Microsoft Entra ID
// ---------------------------------------------------------------------------------------------

/// The body of Entra's "Create Group" request.
fn entra_create_body(display_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [GROUP_SCHEMA, ADSCIM_GROUP_SCHEMA],
        "externalId": external_id,
        "displayName": display_name,
        "meta": {
            "resourceType": "Group"
        }
    })
}

async fn entra_create(app: &TestApp, org: &ScimOrg, display_name: &str) -> (String, String) {
    let external_id = new_guid();
    let body = entra_create_body(display_name, &external_id);
    (created_id(with_utf8_body(entra(app, org, Method::POST, "/Groups"), &body)).await, external_id)
}

async fn entra_patch(app: &TestApp, org: &ScimOrg, id: &str, operations: Value) -> (StatusCode, Value) {
    send_for_status_and_body(with_utf8_body(
        entra(app, org, Method::PATCH, &format!("/Groups/{id}")),
        &patch_body(operations),
    ))
    .await
}

fn entra_members(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"$ref": null, "value": id})).collect())
}

/// Entra's `Add` of these members to group `id`, expected to be 204.
async fn entra_add_members(app: &TestApp, org: &ScimOrg, id: &str, members: &[&str]) {
    let (status, body) =
        entra_patch(app, org, id, json!([{"op": "Add", "path": "members", "value": entra_members(members)}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn entra_test_connection_lookup_of_a_random_group_is_an_empty_list() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, headers, body) = send(entra(&app, &org, Method::GET, &entra_lookup_path(&new_guid()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn entra_create_group_as_documented() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let external_id = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let (status, headers, body) = send(with_utf8_body(
        entra(&app, &org, Method::POST, "/Groups"),
        &entra_create_body("displayName", external_id),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    let id = body["id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(body["externalId"], external_id);
    assert_eq!(body["displayName"], "displayName");
    assert_eq!(body["meta"]["resourceType"], "Group");
    assert!(body["meta"]["created"].is_string() && body["meta"]["lastModified"].is_string(), "{body}");
    assert_eq!(member_value_set(&body), BTreeSet::new(), "groups are created with an empty members list");
}

#[tokio::test]
async fn entra_get_group_with_excluded_members_has_no_members() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = entra_user(&app, &org).await;
    let (id, external_id) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&u]).await;
    let (status, _, body) =
        send(entra(&app, &org, Method::GET, &format!("/Groups/{id}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["externalId"], external_id.as_str());
    assert_eq!(body["displayName"], "displayName");
    assert_eq!(body["meta"]["resourceType"], "Group");
}

#[tokio::test]
async fn entra_lookup_by_display_name_finds_the_group_without_members() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = entra_user(&app, &org).await;
    let name = format!("Entra Group {}", short());
    let (id, external_id) = entra_create(&app, &org, &name).await;
    entra_create(&app, &org, &format!("{name} Other")).await;
    entra_add_members(&app, &org, &id, &[&u]).await;

    let (status, _, body) = send(entra(&app, &org, Method::GET, &entra_lookup_path(&name))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 1, "{body}");
    let resource = &body["Resources"][0];
    assert_eq!(resource["id"], id.as_str());
    assert_eq!(resource["externalId"], external_id.as_str());
    assert_eq!(resource["displayName"], name.as_str());
    let schemas = resource["schemas"].as_array().unwrap();
    assert!(schemas.contains(&json!(GROUP_SCHEMA)), "{resource}");
    assert_eq!(resource["meta"]["resourceType"], "Group");
    assert!(resource.get("members").is_none(), "{resource}");
}

#[tokio::test]
async fn entra_adds_two_members_in_one_operation() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = entra_user(&app, &org).await;
    let (u2, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Add", "path": "members", "value": entra_members(&[&u1, &u2])}]))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "Entra expects 204 without a body");
    assert_eq!(member_value_set(&okta_read_group(&app, &org, &id).await), string_set(&[&u1, &u2]));
    assert_eq!(member_count(&app, &org, &id).await, 2);
}

#[tokio::test]
async fn entra_removes_a_member_listed_in_the_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = entra_user(&app, &org).await;
    let (u2, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&u1, &u2]).await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Remove", "path": "members", "value": entra_members(&[&u1])}]))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_value_set(&okta_read_group(&app, &org, &id).await), string_set(&[&u2]));
    assert_eq!(member_count(&app, &org, &id).await, 1);
    assert!(okta_read_user(&app, &org, &u1).await.get("groups").is_none());
}

#[tokio::test]
async fn entra_removes_a_member_by_a_value_filter_path() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = entra_user(&app, &org).await;
    let (u2, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&u1, &u2]).await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Remove", "path": format!("members[value eq \"{u2}\"]")}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(member_value_set(&okta_read_group(&app, &org, &id).await), string_set(&[&u1]));
    assert_eq!(member_count(&app, &org, &id).await, 1);
}

#[tokio::test]
async fn entra_renames_with_a_capitalised_replace_of_display_name() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&u]).await;
    let new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName";
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "displayName", "value": new_name}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(read["displayName"], new_name);
    assert_eq!(member_value_set(&read), string_set(&[&u]), "a rename keeps the members");
    let (_, _, found) = send(entra(&app, &org, Method::GET, &entra_lookup_path(new_name))).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    let (_, _, old) = send(entra(&app, &org, Method::GET, &entra_lookup_path("displayName"))).await;
    assert_eq!(old["totalResults"], 0, "{old}");
    assert_eq!(okta_read_user(&app, &org, &u).await["groups"][0]["display"], new_name);
}

#[tokio::test]
async fn entra_replaces_the_external_id() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "externalId", "value": "new-object-id"}])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(okta_read_group(&app, &org, &id).await["externalId"], "new-object-id");
    let (status, _, found) =
        send(entra(&app, &org, Method::GET, &entra_filter_path("externalId eq \"new-object-id\""))).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());
}

#[tokio::test]
async fn entra_checks_a_membership_with_id_and_members_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (member, _) = entra_user(&app, &org).await;
    let (outsider, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&member]).await;
    for (user, expected) in [(&member, 1), (&outsider, 0)] {
        let filter = format!("id eq \"{id}\" and members.value eq \"{user}\"");
        let (status, _, body) = send(entra(&app, &org, Method::GET, &entra_filter_path(&filter))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"], expected, "{body}");
    }
}

#[tokio::test]
async fn entra_deletes_the_group_and_keeps_its_users() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u, _) = entra_user(&app, &org).await;
    let (id, _) = entra_create(&app, &org, "displayName").await;
    entra_add_members(&app, &org, &id, &[&u]).await;
    let (status, _, body) = send(entra(&app, &org, Method::DELETE, &format!("/Groups/{id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _, _) =
        send(entra(&app, &org, Method::GET, &format!("/Groups/{id}?excludedAttributes=members"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(okta_read_user(&app, &org, &u).await.get("groups").is_none());
}

#[tokio::test]
async fn entra_full_group_flow_is_logged_as_azure() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (u1, _) = entra_user(&app, &org).await;
    let (u2, _) = entra_user(&app, &org).await;
    let (u3, _) = entra_user(&app, &org).await;
    let name = format!("Entra Flow {}", short());

    let (status, _, body) = send(entra(&app, &org, Method::GET, &entra_lookup_path(&name))).await;
    assert_eq!((status, body["totalResults"].clone()), (StatusCode::OK, json!(0)), "{body}");
    let (id, external_id) = entra_create(&app, &org, &name).await;
    let steps = [
        json!([{"op": "Add", "path": "members", "value": entra_members(&[&u1, &u2])}]),
        json!([{"op": "Add", "path": "members", "value": entra_members(&[&u3])}]),
        json!([{"op": "Remove", "path": "members", "value": entra_members(&[&u1])}]),
        json!([{"op": "Remove", "path": format!("members[value eq \"{u2}\"]")}]),
        json!([{"op": "Replace", "path": "displayName", "value": format!("{name} Renamed")}]),
    ];
    for operations in steps {
        let (status, body) = entra_patch(&app, &org, &id, operations.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{operations}: {body}");
    }
    let (status, _, body) = send(entra(&app, &org, Method::GET, &entra_lookup_path(&format!("{name} Renamed")))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["externalId"], external_id.as_str());
    let read = okta_read_group(&app, &org, &id).await;
    assert_eq!(member_value_set(&read), string_set(&[&u3]));
    assert_eq!(member_count(&app, &org, &id).await, 1);
    let (status, _, _) = send(entra(&app, &org, Method::DELETE, &format!("/Groups/{id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 50).await.unwrap();
    let groups: Vec<_> = logs.iter().filter(|l| l.path.contains("/Groups") && l.idp == "azure").collect();
    let seen: Vec<(&str, u16)> = groups.iter().map(|l| (l.method.as_str(), l.status)).collect();
    assert_eq!(
        seen,
        [
            ("DELETE", 204),
            ("GET", 200),
            ("PATCH", 204),
            ("PATCH", 204),
            ("PATCH", 204),
            ("PATCH", 204),
            ("PATCH", 204),
            ("POST", 201),
            ("GET", 200)
        ],
        "newest first"
    );
    for log in &groups {
        assert_eq!(log.user_agent.as_deref(), Some(ENTRA_AGENT));
        // The contract leaves the name open: the SCIM resource type or its endpoint.
        assert!(matches!(log.resource_type.as_deref(), Some("Group" | "Groups")), "{log:?}");
    }
}
