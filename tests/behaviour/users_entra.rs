//! Microsoft Entra ID's provisioning flow against /Users, with the requests as Microsoft documents
//! them ("Tutorial: Develop and plan provisioning for a SCIM endpoint" and "Known issues and
//! resolutions with SCIM 2.0 protocol compliance"): Test Connection, create, every PATCH form Entra
//! sends (with and without the `aadOptscim062020` flag), soft delete, then DELETE. Each tolerated
//! deviation from RFC 7644 is recorded by name in the request log.
use std::collections::BTreeSet;

use insomnia_scim::domain::MemberRole;
use insomnia_scim::store::{ManagedBy, RequestLogRecord};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, encode, entra, entra_user_body, licenses, new_guid, ok_body, patch_body, send_for_status_and_body,
    string_set, unique_email, with_body, ENTERPRISE_SCHEMA, ENTRA_AGENT, LIST_SCHEMA, SEARCH_SCHEMA, USER_SCHEMA,
};

/// Entra's "Get User by query": `GET /Users?filter=userName eq "{user_name}"` (Test Connection asks
/// for a random GUID).
fn lookup_request(app: &TestApp, org: &ScimOrg, user_name: &str) -> RequestBuilder {
    entra(app, org, Method::GET, &format!("/Users?filter={}", encode(&format!("userName eq \"{user_name}\""))))
}

async fn lookup(app: &TestApp, org: &ScimOrg, user_name: &str) -> (StatusCode, Value) {
    send_for_status_and_body(lookup_request(app, org, user_name)).await
}

/// Creates a user as Entra does; returns its id and work email.
async fn entra_create(app: &TestApp, org: &ScimOrg) -> (String, String) {
    let guid = new_guid();
    let email = format!("Test_User_{guid}@testuser.com");
    let body = entra_user_body(&format!("Test_User_{guid}"), &email);
    (created_id(with_body(entra(app, org, Method::POST, "/Users"), &body)).await, email)
}

async fn entra_patch(app: &TestApp, org: &ScimOrg, id: &str, operations: Value) -> (StatusCode, Value) {
    send_for_status_and_body(with_body(
        entra(app, org, Method::PATCH, &format!("/Users/{id}")),
        &patch_body(operations),
    ))
    .await
}

async fn get_user(app: &TestApp, org: &ScimOrg, id: &str) -> (StatusCode, Value) {
    send_for_status_and_body(entra(app, org, Method::GET, &format!("/Users/{id}"))).await
}

async fn newest_log(app: &TestApp, org: &ScimOrg) -> RequestLogRecord {
    app.flush_logs().await;
    app.store.recent_request_logs(&org.id.scope(), 1).await.unwrap().remove(0)
}

fn tolerances(log: &RequestLogRecord) -> BTreeSet<String> {
    log.tolerances.iter().cloned().collect()
}

#[tokio::test]
async fn entra_test_connection_with_a_random_guid_user_name_is_an_empty_list_response() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.add_manual_member(&org.id, "someone@example.com", MemberRole::Member, "a manual passphrase").await;
    let (status, body) = lookup(&app, &org, &new_guid()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]), "Resources is present and empty: {body}");
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["itemsPerPage"], 0);

    let log = newest_log(&app, &org).await;
    assert_eq!(log.status, 200);
    assert_eq!(log.idp, "azure");
    assert_eq!(log.user_agent.as_deref(), Some(ENTRA_AGENT));
    assert!(log.tolerances.is_empty(), "{log:?}");
}

#[tokio::test]
async fn entra_test_connection_answers_200_with_the_header_content_type() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let response = lookup_request(&app, &org, &new_guid()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
}

#[tokio::test]
async fn entra_create_returns_the_user_and_consumes_a_scim_license() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let guid = new_guid();
    let user_name = format!("Test_User_{guid}");
    let email = format!("Test_User_{guid}@testuser.com");
    let body = entra_user_body(&user_name, &email);
    let (status, created) = send_for_status_and_body(with_body(entra(&app, &org, Method::POST, "/Users"), &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["userName"], user_name.as_str());
    assert_eq!(created["externalId"], body["externalId"]);
    assert_eq!(created["active"], json!(true));
    assert_eq!(created["emails"], body["emails"]);
    assert_eq!(created["name"], body["name"]);
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created["meta"]["version"], "W/\"1\"");
    assert_eq!(licenses(&app, &org).await, (1, 0));

    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, id);
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
    assert_eq!(members[0].email.as_str(), email, "a userName that is no email: the work email is the account");

    // Entra's "Get User by query" now finds it.
    let (status, list) = lookup(&app, &org, &user_name).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
}

#[tokio::test]
async fn entra_disable_with_capitalised_replace_and_string_false_deactivates() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], json!(false), "stored as a boolean");
    let log = newest_log(&app, &org).await;
    assert_eq!((log.method.as_str(), log.status, log.idp.as_str()), ("PATCH", 200, "azure"));
    assert_eq!(tolerances(&log), string_set(&["boolean_as_string", "capitalised_op"]));

    assert_eq!(licenses(&app, &org).await, (0, 0));
    let (_, read) = get_user(&app, &org, &id).await;
    assert_eq!(read["active"], json!(false));
}

#[tokio::test]
async fn entra_disable_with_the_compliance_flag_needs_no_tolerance() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], json!(false));
    assert_eq!(licenses(&app, &org).await, (0, 0));
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&[]));
}

#[tokio::test]
async fn entra_replace_of_the_work_email_value_path_updates_that_email() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let new_email = format!("updated.{}@microsoft.com", new_guid());
    let (status, body) = entra_patch(
        &app,
        &org,
        &id,
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": new_email},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emails"], json!([{"primary": true, "type": "work", "value": new_email}]));
    assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(body["name"]["givenName"], "givenName");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op"]));
    let (_, read) = get_user(&app, &org, &id).await;
    assert_eq!(read["emails"], body["emails"]);
}

#[tokio::test]
async fn entra_add_of_a_work_email_value_path_creates_the_missing_element() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user_name = format!("no.emails.{}@example.com", new_guid());
    let body = json!({"schemas": [USER_SCHEMA], "userName": user_name, "active": true});
    let (status, created) = send_for_status_and_body(with_body(entra(&app, &org, Method::POST, "/Users"), &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let work = format!("work.{}@example.com", new_guid());
    let (status, patched) =
        entra_patch(&app, &org, &id, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": work}]))
            .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["emails"], json!([{"type": "work", "value": work}]));

    assert_eq!(
        tolerances(&newest_log(&app, &org).await),
        string_set(&["capitalised_op", "value_filter_created_element"])
    );
}

#[tokio::test]
async fn entra_replace_of_name_given_name_changes_only_that_sub_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "name.givenName", "value": "Gtfd"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["name"],
        json!({"formatted": "givenName familyName", "familyName": "familyName", "givenName": "Gtfd"})
    );
    assert_eq!(body["meta"]["version"], "W/\"2\"");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op"]));
}

#[tokio::test]
async fn entra_manager_as_a_bare_id_is_stored_as_a_value_object() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (manager, _) = entra_create(&app, &org).await;
    let (id, _) = entra_create(&app, &org).await;
    let (status, body) = entra_patch(
        &app,
        &org,
        &id,
        json!([{"op": "Add", "path": format!("{ENTERPRISE_SCHEMA}:manager"), "value": manager}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ENTERPRISE_SCHEMA]["manager"], json!({"value": manager}));
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["bare_manager_id", "capitalised_op"]));
    let (_, read) = get_user(&app, &org, &id).await;
    assert_eq!(read[ENTERPRISE_SCHEMA]["manager"], json!({"value": manager}));
}

#[tokio::test]
async fn entra_replace_of_the_manager_with_a_bare_id_replaces_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (first, _) = entra_create(&app, &org).await;
    let (second, _) = entra_create(&app, &org).await;
    let (id, _) = entra_create(&app, &org).await;
    let path = format!("{ENTERPRISE_SCHEMA}:manager");
    let (status, _) = entra_patch(&app, &org, &id, json!([{"op": "Add", "path": path, "value": first}])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": path, "value": second}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ENTERPRISE_SCHEMA]["manager"], json!({"value": second}));
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["bare_manager_id", "capitalised_op"]));
}

#[tokio::test]
async fn entra_no_path_replace_with_dotted_and_urn_keys_sets_each_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    // "Requests to replace multiple attributes", with the aadOptscim062020 flag.
    let work = format!("TestMhvaes.{}@test.microsoft.com", new_guid());
    let (status, body) = entra_patch(
        &app,
        &org,
        &id,
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": work},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                format!("{ENTERPRISE_SCHEMA}:employeeNumber"): "Aklq"
            }}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Bjfe");
    assert_eq!(body["name"], json!({"formatted": "givenName familyName", "givenName": "Kkom", "familyName": "Unua"}));
    assert_eq!(body[ENTERPRISE_SCHEMA], json!({"employeeNumber": "Aklq"}));
    assert_eq!(body["emails"], json!([{"primary": true, "type": "work", "value": work}]));
    assert!(body.get("name.givenName").is_none(), "a dotted key is a path, not a new attribute: {body}");
    assert!(body.get(format!("{ENTERPRISE_SCHEMA}:employeeNumber")).is_none(), "{body}");

    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["dotted_key_in_value"]));
}

#[tokio::test]
async fn entra_multi_attribute_replace_without_the_flag_applies_every_operation() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    // "Requests to replace multiple attributes", without the flag (Entra's default).
    let work = format!("TestBcwqnm.{}@test.microsoft.com", new_guid());
    let (status, body) = entra_patch(
        &app,
        &org,
        &id,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": work},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": format!("{ENTERPRISE_SCHEMA}:employeeNumber"), "value": "Eqpj"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Pvlo");
    assert_eq!(body["emails"][0]["value"], work.as_str());
    assert_eq!(body["name"]["givenName"], "Gtfd");
    assert_eq!(body["name"]["familyName"], "Pkqf");
    assert_eq!(body["externalId"], "Eqpj");
    assert_eq!(body[ENTERPRISE_SCHEMA]["employeeNumber"], "Eqpj");
    assert_eq!(body["meta"]["version"], "W/\"2\"", "one PATCH is one write");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op"]));
}

#[tokio::test]
async fn entra_add_of_a_single_value_attribute_with_capitalised_op() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Add", "path": "nickName", "value": "Babs"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["nickName"], "Babs");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op"]));

    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "add", "path": "nickName", "value": "Barb"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["nickName"], "Barb");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&[]), "the flagged form is plain RFC 7644");
}

#[tokio::test]
async fn entra_remove_of_an_attribute_with_capitalised_op() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let (status, _) = entra_patch(&app, &org, &id, json!([{"op": "add", "path": "title", "value": "Engineer"}])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = entra_patch(&app, &org, &id, json!([{"op": "Remove", "path": "title"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("title").is_none(), "{body}");
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op"]));
    let (_, read) = get_user(&app, &org, &id).await;
    assert!(read.get("title").is_none(), "{read}");
}

#[tokio::test]
async fn entra_remove_with_a_value_list_removes_only_the_listed_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, work) = entra_create(&app, &org).await;
    let other = format!("other.{}@testuser.com", new_guid());
    let (status, _) = entra_patch(
        &app,
        &org,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"type": "other", "value": other}]}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Entra's Remove form that names the value in a list (as it does for group members).
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Remove", "path": "emails", "value": [{"value": other}]}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emails"], json!([{"primary": true, "type": "work", "value": work}]));
    assert_eq!(tolerances(&newest_log(&app, &org).await), string_set(&["capitalised_op", "remove_by_value_list"]));
}

#[tokio::test]
async fn entra_soft_delete_then_delete_frees_the_license_and_removes_the_user() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (id, _) = entra_create(&app, &org).await;
    let (keep, _) = entra_create(&app, &org).await;
    assert_eq!(licenses(&app, &org).await, (2, 0));

    // Soft delete: the user stays readable and listed, without a license.
    let (status, body) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let (status, read) = get_user(&app, &org, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["active"], json!(false));
    let user_name = read["userName"].as_str().unwrap().to_owned();
    let (_, list) = lookup(&app, &org, &user_name).await;
    assert_eq!(list["totalResults"], 1);

    // Hard delete, later.
    let response = entra(&app, &org, Method::DELETE, &format!("/Users/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty(), "204 has no body");
    let log = newest_log(&app, &org).await;
    assert_eq!((log.method.as_str(), log.status, log.idp.as_str()), ("DELETE", 204, "azure"));
    let (status, body) = get_user(&app, &org, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "404");
    let (_, list) = lookup(&app, &org, &user_name).await;
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    assert_eq!(licenses(&app, &org).await, (1, 0), "deleting an inactive user frees nothing twice");
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [keep.as_str()]);
}

#[tokio::test]
async fn entra_requests_are_logged_as_azure_with_their_tolerances() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, _) = lookup(&app, &org, &new_guid()).await;
    assert_eq!(status, StatusCode::OK);
    let (id, _) = entra_create(&app, &org).await;
    let (status, _) =
        entra_patch(&app, &org, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(status, StatusCode::OK);
    let response = entra(&app, &org, Method::DELETE, &format!("/Users/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    let seen: Vec<(&str, u16)> = logs.iter().map(|l| (l.method.as_str(), l.status)).collect();
    assert_eq!(seen, [("DELETE", 204), ("PATCH", 200), ("POST", 201), ("GET", 200)], "newest first");
    for log in &logs {
        assert_eq!(log.idp, "azure", "{log:?}");
        assert_eq!(log.user_agent.as_deref(), Some(ENTRA_AGENT));
        assert_eq!(log.resource_type.as_deref(), Some("Users"), "{log:?}");
    }
    assert_eq!(tolerances(&logs[1]), string_set(&["boolean_as_string", "capitalised_op"]));
    assert!(logs[0].tolerances.is_empty() && logs[3].tolerances.is_empty());
}

// Entra's documented query attribute `emails[type eq "work"].value` in /Users filters: a value
// filter followed by a sub-attribute means the same as the condition inside the brackets
// (`emails[type eq "work" and value eq "x"]`), and its `value eq` is answered by the email key
// lookup, as `emails.value eq` is, not by reading every member.

/// Creates a user as Entra does, with a work and a home email; returns its id.
async fn user_with_emails(app: &TestApp, org: &ScimOrg, work: &str, home: &str) -> String {
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": work,
        "active": true,
        "emails": [
            {"primary": true, "type": "work", "value": work},
            {"primary": false, "type": "home", "value": home}
        ],
        "name": {"givenName": "Test", "familyName": "User"}
    });
    created_id(with_body(entra(app, org, Method::POST, "/Users"), &body)).await
}

async fn filtered(app: &TestApp, org: &ScimOrg, filter: &str) -> Value {
    ok_body(entra(app, org, Method::GET, &format!("/Users?filter={}", encode(filter)))).await
}

fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn entra_work_email_filter_matches_only_the_user_whose_work_email_it_is() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let shared = unique_email("shared");
    // The same address is one user's work email and another's home email.
    let worker = user_with_emails(&app, &org, &shared, &unique_email("worker.home")).await;
    let homer_work = unique_email("homer.work");
    let homer = user_with_emails(&app, &org, &homer_work, &shared).await;
    let other = user_with_emails(&app, &org, &unique_email("other.work"), &unique_email("other.home")).await;

    let entra_form = format!("emails[type eq \"work\"].value eq \"{shared}\"");
    let body = filtered(&app, &org, &entra_form).await;
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]), "{body}");
    assert_eq!(ids(&body), sorted(&[&worker]), "only the work-email user: {body}");
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["itemsPerPage"], 1, "{body}");
    assert_eq!(body["Resources"][0]["userName"], shared.as_str(), "{body}");

    // Case-insensitive like emails.value, and the same answer as the RFC 7644 spelling.
    let upper = filtered(&app, &org, &format!("emails[type eq \"work\"].value eq \"{}\"", shared.to_uppercase())).await;
    assert_eq!(ids(&upper), sorted(&[&worker]), "{upper}");
    let rfc = filtered(&app, &org, &format!("emails[type eq \"work\" and value eq \"{shared}\"]")).await;
    assert_eq!(rfc, body);

    let home = filtered(&app, &org, &format!("emails[type eq \"home\"].value eq \"{shared}\"")).await;
    assert_eq!(ids(&home), sorted(&[&homer]), "{home}");
    assert_eq!(home["totalResults"], 1, "{home}");
    let any = filtered(&app, &org, &format!("emails.value eq \"{shared}\"")).await;
    assert_eq!(ids(&any), sorted(&[&worker, &homer]), "both users have the address: {any}");
    assert_eq!(any["totalResults"], 2, "{any}");

    // Other operators, pr, and the form inside and/or/not.
    for (filter, expected) in [
        (format!("emails[type eq \"work\"].value sw \"{}\"", &shared[..10]), vec![&worker]),
        (format!("emails[type eq \"work\"].value co \"{}\"", &homer_work[..14]), vec![&homer]),
        (format!("emails[type eq \"work\"].value ne \"{shared}\""), vec![&homer, &other]),
        ("emails[type eq \"home\"].value pr".to_owned(), vec![&worker, &homer, &other]),
        ("emails[type eq \"other\"].value pr".to_owned(), vec![]),
        (format!("userName pr and emails[type eq \"work\"].value eq \"{shared}\""), vec![&worker]),
        (
            format!("emails[type eq \"work\"].value eq \"{shared}\" or userName eq \"{homer_work}\""),
            vec![&worker, &homer],
        ),
        (format!("not (emails[type eq \"work\"].value eq \"{shared}\")"), vec![&homer, &other]),
    ] {
        let body = filtered(&app, &org, &filter).await;
        assert_eq!(ids(&body), sorted(&expected), "{filter}: {body}");
        assert_eq!(body["totalResults"], expected.len(), "{filter}: {body}");
    }

    // POST /Users/.search takes the same filter.
    let search = json!({"schemas": [SEARCH_SCHEMA], "filter": entra_form});
    let (status, searched) =
        send_for_status_and_body(with_body(entra(&app, &org, Method::POST, "/Users/.search"), &search)).await;
    assert_eq!(status, StatusCode::OK, "{searched}");
    assert_eq!(ids(&searched), sorted(&[&worker]), "{searched}");
}

/// Waits until the work that creating users started in the background (welcome emails) is done, so
/// that the operations counted next are the list's own.
async fn quiet(app: &TestApp) {
    // The welcome emails of the users just created are delivered after their responses: wait for
    // that work itself (a quiet gap alone can fall inside one delivery's passphrase hash).
    app.flush_logs().await;
    for _ in 0..50 {
        app.round_trips.start();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if app.round_trips.calls().is_empty() {
            return;
        }
    }
    panic!("background DynamoDB calls did not stop: {:?}", app.round_trips.calls());
}

/// The DynamoDB operations of one filtered list, in a stable order (some run concurrently).
async fn operations(app: &TestApp, org: &ScimOrg, filter: &str) -> Vec<String> {
    app.round_trips.start();
    filtered(app, org, filter).await;
    let mut calls = app.round_trips.calls();
    calls.sort();
    calls
}

#[tokio::test]
async fn entra_work_email_filter_is_answered_by_the_email_key_lookup() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let work = unique_email("lookup.work");
    let id = user_with_emails(&app, &org, &work, &unique_email("lookup.home")).await;
    for _ in 0..3 {
        user_with_emails(&app, &org, &unique_email("else.work"), &unique_email("else.home")).await;
    }
    let entra_form = format!("emails[type eq \"work\"].value eq \"{work}\"");
    assert_eq!(ids(&filtered(&app, &org, &entra_form).await), [id]);
    quiet(&app).await;

    let key_lookup = operations(&app, &org, &format!("emails.value eq \"{work}\"")).await;
    let full_scan = operations(&app, &org, &format!("emails.value co \"{work}\"")).await;
    assert_ne!(key_lookup, full_scan, "the two kinds of answer are told apart by their operations");
    assert_eq!(operations(&app, &org, &entra_form).await, key_lookup, "the Entra form uses the email key lookup");
    // A condition the lookup cannot answer still leaves the lookup to narrow the candidates.
    let narrowed = format!("emails[type eq \"work\" and primary eq true].value eq \"{work}\" and active eq true");
    assert_eq!(operations(&app, &org, &narrowed).await, key_lookup);
    assert_eq!(ids(&filtered(&app, &org, &narrowed).await).len(), 1);
}
