//! What third-party conformance testers check (docs/CONFORMANCE.md): the schema says exactly what
//! the service requires, down to sub-attributes, and the service holds to it.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    assert_scim_error, create_group, created_id, patch_body, read_user, scim, send, unique_email, user_with_work_email,
    with_body, SEARCH_SCHEMA, USER_SCHEMA,
};

async fn schema(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    let (status, _, body) = send(scim(app, org, Method::GET, &format!("/Schemas/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn attribute<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test]
async fn schemas_mark_every_attribute_and_sub_attribute_the_service_requires() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = schema(&app, &org, USER_SCHEMA).await;
    let emails = attribute(&user["attributes"], "emails");
    assert_eq!(emails["required"], true);
    assert_eq!(attribute(&emails["subAttributes"], "value")["required"], true, "{emails}");
    assert_eq!(attribute(&emails["subAttributes"], "primary")["required"], false);
    assert_eq!(attribute(&user["attributes"], "userName")["required"], true);
    assert_eq!(attribute(&user["attributes"], "active")["required"], true);
    let phones = attribute(&user["attributes"], "phoneNumbers");
    assert_eq!(attribute(&phones["subAttributes"], "value")["required"], false, "only what the service needs");

    let group = schema(&app, &org, "urn:ietf:params:scim:schemas:core:2.0:Group").await;
    let members = attribute(&group["attributes"], "members");
    assert_eq!(members["required"], false);
    assert_eq!(attribute(&members["subAttributes"], "value")["required"], true, "{members}");
    let display = attribute(&members["subAttributes"], "display");
    assert_eq!(display["returned"], "request");
    assert_eq!(display["mutability"], "readOnly");
}

#[tokio::test]
async fn an_email_entry_without_a_value_is_400_invalid_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // What a tester that read `emails` as required but not `emails.value` sent.
    let email = unique_email("valueless");
    let body = json!({"schemas": [USER_SCHEMA], "userName": email, "emails": [{"primary": true}]});
    let (status, _, answer) = send(with_body(scim(&app, &org, Method::POST, "/Users"), &body)).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert!(answer["detail"].as_str().unwrap().contains("emails.value"), "{answer}");

    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    let add = patch_body(json!([{"op": "add", "path": "emails", "value": [{"type": "home"}]}]));
    let (status, _, answer) = send(with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{id}")), &add)).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(read_user(&app, &org, &id).await["emails"].as_array().unwrap().len(), 1, "nothing written");
}

#[tokio::test]
async fn removing_active_is_400_mutability_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = created_id(with_body(
        scim(&app, &org, Method::POST, "/Users"),
        &user_with_work_email(&unique_email("remove-active")),
    ))
    .await;
    let path = format!("/Users/{id}");
    let deactivate = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let (status, _, _) = send(with_body(scim(&app, &org, Method::PATCH, &path), &deactivate)).await;
    assert_eq!(status, StatusCode::OK);
    // Removing it used to make the user active again (the default of a create without it).
    let remove = patch_body(json!([{"op": "remove", "path": "active"}]));
    let (status, _, answer) = send(with_body(scim(&app, &org, Method::PATCH, &path), &remove)).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("mutability"));
    assert_eq!(read_user(&app, &org, &id).await["active"], false);
}

#[tokio::test]
async fn a_search_across_resource_types_is_501() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = json!({"schemas": [SEARCH_SCHEMA], "filter": "userName pr"});
    let (status, _, answer) = send(with_body(scim(&app, &org, Method::POST, "/.search"), &body)).await;
    assert_scim_error(status, &answer, StatusCode::NOT_IMPLEMENTED, None);
    assert!(answer["detail"].as_str().unwrap().contains("/Users/.search"), "{answer}");
    let (status, _, _) =
        send(with_body(app.http.post(format!("{}/.search", org.base)).bearer_auth("iscim_wrong"), &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token check comes first");
}

#[tokio::test]
async fn several_sub_attributes_of_one_multi_valued_attribute_are_all_returned() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("subs");
    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    for query in ["attributes=emails.value,emails.type", "attributes=Emails.Type,EMAILS.VALUE"] {
        let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users/{id}?{query}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["emails"], json!([{"value": email, "type": "work"}]), "{query}: {body}");
        assert!(body.get("userName").is_none(), "{body}");
        let (_, _, list) =
            send(scim(&app, &org, Method::GET, &format!("/Users?filter=id%20eq%20%22{id}%22&{query}"))).await;
        assert_eq!(list["Resources"][0]["emails"], json!([{"value": email, "type": "work"}]), "{query}: {list}");
    }
}

#[tokio::test]
async fn a_group_patch_that_names_attributes_answers_200_with_the_group() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user = created_id(with_body(
        scim(&app, &org, Method::POST, "/Users"),
        &user_with_work_email(&unique_email("patch200")),
    ))
    .await;
    let id = create_group(&app, &org, "Answered", &[]).await;
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    // RFC 7644 §3.5.2: a server MUST answer 200 with the resource when `attributes` is given.
    let path = format!("/Groups/{id}?attributes=displayName,members");
    let (status, headers, body) = send(with_body(scim(&app, &org, Method::PATCH, &path), &add)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Answered");
    assert_eq!(body["members"][0]["value"], user.as_str(), "{body}");
    assert_eq!(body["id"], id.as_str());
    assert!(body.get("meta").is_none(), "projected: {body}");
    assert_eq!(headers["etag"].to_str().unwrap(), "W/\"2\"");

    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
    let path = format!("/Groups/{id}?excludedAttributes=Members");
    let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &path), &rename)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Renamed");
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["meta"]["version"], "W/\"3\"", "{body}");

    // Without them: 204 with the ETag, as Okta and Entra expect.
    let back = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Answered"}]));
    let (status, headers, body) =
        send(with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &back)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(headers["etag"].to_str().unwrap(), "W/\"4\"");
    let bad = format!("/Groups/{id}?attributes=members[value");
    let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &bad), &back)).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
}

#[tokio::test]
async fn a_member_that_is_not_a_user_is_400_telling_to_create_users_first() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_group(&app, &org, "Strict", &[]).await;
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}]));
    let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &format!("/Groups/{id}")), &add)).await;
    assert_scim_error(status, &body, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("fake-member-id") && detail.contains("create the users"), "{detail}");
}

#[tokio::test]
async fn attributes_and_excluded_attributes_match_names_in_any_case_on_every_read_and_list() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("case");
    let user = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    let id = create_group(&app, &org, "Cased", &[&user]).await;
    let get = |path: String| {
        let request = scim(&app, &org, Method::GET, &path);
        async move {
            let (status, _, body) = send(request).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let only_name = get(format!("/Groups/{id}?attributes=DISPLAYNAME")).await;
    assert_eq!(only_name, json!({"id": id, "schemas": [crate::scim_client::GROUP_SCHEMA], "displayName": "Cased"}));
    let without_members = get(format!("/Groups/{id}?excludedAttributes=MEMBERS")).await;
    assert!(without_members.get("members").is_none() && without_members["meta"].is_object(), "{without_members}");
    let list = get("/Groups?excludedAttributes=Members".to_owned()).await;
    assert!(list["Resources"][0].get("members").is_none(), "{list}");
    let list = get("/Groups?attributes=displayname".to_owned()).await;
    assert_eq!(list["Resources"][0]["displayName"], "Cased");
    assert!(list["Resources"][0].get("meta").is_none(), "{list}");

    let qualified = "urn:ietf:params:scim:schemas:core:2.0:User:USERNAME,Name.GivenName";
    let read = get(format!("/Users/{user}?attributes={qualified}")).await;
    assert_eq!(read["userName"], email.as_str());
    assert_eq!(read["name"], json!({"givenName": "Test"}));
    assert!(read.get("emails").is_none(), "{read}");
    let read = get(format!("/Users/{user}?excludedAttributes=EMAILS,Name")).await;
    assert!(read.get("emails").is_none() && read.get("name").is_none() && read["userName"].is_string(), "{read}");
}

#[tokio::test]
async fn every_create_has_location_and_meta_location_even_when_projected() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = user_with_work_email(&unique_email("located"));
    let (status, headers, user) =
        send(with_body(scim(&app, &org, Method::POST, "/Users?attributes=userName"), &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap();
    assert_eq!(headers["location"].to_str().unwrap(), format!("{}/Users/{id}", org.base));
    let group = json!({"schemas": [crate::scim_client::GROUP_SCHEMA], "displayName": "Located"});
    let (status, headers, group) = send(with_body(scim(&app, &org, Method::POST, "/Groups"), &group)).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let location = format!("{}/Groups/{}", org.base, group["id"].as_str().unwrap());
    assert_eq!(headers["location"].to_str().unwrap(), location);
    assert_eq!(group["meta"]["location"], location.as_str());
}

#[tokio::test]
async fn a_user_patch_applies_its_operations_in_order_and_all_or_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = created_id(with_body(
        scim(&app, &org, Method::POST, "/Users"),
        &user_with_work_email(&unique_email("ordered")),
    ))
    .await;
    let path = format!("/Users/{id}");
    let ops = patch_body(json!([
        {"op": "add", "path": "emails", "value": [{"value": "other@example.com", "type": "other"}]},
        {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "other2@example.com"},
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "displayName", "value": "Second"}
    ]));
    let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &path), &ops)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Second");
    assert_eq!(body["emails"][1], json!({"value": "other2@example.com", "type": "other"}));
    let version = body["meta"]["version"].clone();

    let failing = patch_body(json!([
        {"op": "replace", "path": "displayName", "value": "Third"},
        {"op": "remove", "path": "userName"}
    ]));
    let (status, _, answer) = send(with_body(scim(&app, &org, Method::PATCH, &path), &failing)).await;
    assert_scim_error(status, &answer, StatusCode::BAD_REQUEST, Some("mutability"));
    assert!(answer["detail"].as_str().unwrap().contains("Operations[1]"), "{answer}");
    let read = read_user(&app, &org, &id).await;
    assert_eq!(read["displayName"], "Second", "the first operation was not applied either");
    assert_eq!(read["meta"]["version"], version);
}
