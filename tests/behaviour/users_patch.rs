//! SCIM `PATCH /Users/{id}` (RFC 7644 §3.5.2): every operation form, the IdP tolerances and their request-log
//! names, errors and atomicity; and the DynamoDB round trips of each `/Users` request.
use crate::helpers::OperatorScope;
use reqwest::header::ETAG;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{patch_body, ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA};
use crate::users_crud::{
    call, create, expect_error, expect_json, get_user, header, id_of, user, user_url, users_url, version, without_meta,
};

const DEPARTMENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
const EMPLOYEE_NUMBER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";

async fn send_patch(app: &TestApp, org: &ScimOrg, id: &str, body: &Value) -> Response {
    call(app, org, Method::PATCH, &user_url(org, id), Some(body)).await
}

/// Babs Jensen (RFC 7643 §8.2, shortened). Her account email is the primary (home) email, which no test here
/// changes, so PATCHes stay about the protocol.
fn babs() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "babs@example.com", "type": "home", "primary": true},
            {"value": "bjensen@example.com", "type": "work"}
        ],
        "addresses": [
            {
                "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                "region": "CA", "postalCode": "91608", "country": "US", "primary": true
            },
            {
                "type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
                "region": "CA", "postalCode": "91608", "country": "US"
            }
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}]
    })
}

fn version_number(resource: &Value) -> u64 {
    let text = resource["meta"]["version"].as_str().unwrap_or_else(|| panic!("no meta.version: {resource}"));
    text.trim_start_matches("W/").trim_matches('"').parse().unwrap_or_else(|_| panic!("version {text}"))
}

/// PATCHes `created` with `body`, expects 200 and exactly `created` changed by `edit` (meta aside), a version one
/// higher in `meta` and `ETag`, and the same document on a later GET. Returns the patched resource.
async fn patch_expecting(
    app: &TestApp,
    org: &ScimOrg,
    created: &Value,
    body: &Value,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let id = id_of(created);
    let response = send_patch(app, org, &id, body).await;
    let etag = header(&response, ETAG.as_str());
    let patched = expect_json(response, StatusCode::OK).await;
    let mut expected = without_meta(created);
    edit(&mut expected);
    assert_eq!(without_meta(&patched), expected, "PATCH {body}");
    let next = version(version_number(created) + 1);
    assert_eq!(patched["meta"]["version"], json!(next));
    assert_eq!(etag, Some(next));
    assert_eq!(patched["meta"]["created"], created["meta"]["created"]);
    assert_eq!(get_user(app, org, &id).await, patched, "the PATCH is stored");
    patched
}

/// The tolerances the request log recorded for the newest PATCH, sorted.
async fn last_patch_tolerances(app: &TestApp, org: &ScimOrg) -> Vec<String> {
    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 50).await.unwrap();
    let record =
        logs.into_iter().find(|r| r.method == "PATCH").unwrap_or_else(|| panic!("no PATCH in the request log"));
    let mut tolerances = record.tolerances;
    tolerances.sort();
    tolerances
}

async fn assert_tolerances(app: &TestApp, org: &ScimOrg, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|t| (*t).to_owned()).collect();
    expected.sort();
    assert_eq!(last_patch_tolerances(app, org).await, expected);
}

fn set(doc: &mut Value, key: &str, value: Value) {
    doc.as_object_mut().unwrap().insert(key.to_owned(), value);
}

fn remove(doc: &mut Value, key: &str) {
    doc.as_object_mut().unwrap().remove(key);
}

fn push(doc: &mut Value, key: &str, element: Value) {
    doc[key].as_array_mut().unwrap().push(element);
}

// ------------------------------------------------------------------------------------------------------------- add

#[tokio::test]
async fn add_with_a_path_sets_a_single_valued_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "add", "path": "title", "value": "Manager"}]));
    patch_expecting(&app, &org, &created, &body, |u| set(u, "title", json!("Manager"))).await;
    assert_tolerances(&app, &org, &[]).await;
}

#[tokio::test]
async fn add_to_a_multi_valued_attribute_appends() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body =
        patch_body(json!([{"op": "add", "path": "emails", "value": [{"value": "babs@other.org", "type": "other"}]}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        push(u, "emails", json!({"value": "babs@other.org", "type": "other"}));
    })
    .await;
}

#[tokio::test]
async fn add_without_a_path_merges_each_attribute() {
    // RFC 7644 §3.5.2.1, second example.
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "add", "value": {
        "emails": [{"value": "babs@jensen.org", "type": "other"}],
        "nickName": "Babsy"
    }}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        push(u, "emails", json!({"value": "babs@jensen.org", "type": "other"}));
        set(u, "nickName", json!("Babsy"));
    })
    .await;
    assert_tolerances(&app, &org, &[]).await;
}

#[tokio::test]
async fn add_to_a_complex_attribute_merges_its_sub_attributes() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "add", "path": "name", "value": {"middleName": "Jane", "givenName": "Babs"}}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        u["name"]["middleName"] = json!("Jane");
        u["name"]["givenName"] = json!("Babs");
    })
    .await;
}

#[tokio::test]
async fn add_of_an_email_already_present_changes_nothing_not_even_the_version() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(
        json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work"}]}]),
    );
    // RFC 7644 §3.5.2.1: an operation that changes nothing does not change the modify time, and
    // the ETag IdPs compare stays as it was.
    let response = send_patch(&app, &org, &id_of(&created), &body).await;
    let etag = header(&response, ETAG.as_str());
    let patched = expect_json(response, StatusCode::OK).await;
    assert_eq!(patched, created, "the unchanged resource, meta included");
    assert_eq!(etag, Some(version(version_number(&created))));
    assert_eq!(get_user(&app, &org, &id_of(&created)).await, created, "nothing was written");
}

// --------------------------------------------------------------------------------------------------------- replace

#[tokio::test]
async fn replace_without_a_path_sets_each_attribute() {
    // RFC 7644 §3.5.2.3, last example.
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let emails = json!([{"value": "babs@example.com", "type": "home", "primary": true}]);
    let body = patch_body(json!([{"op": "replace", "value": {"emails": emails, "nickName": "Barbie"}}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "emails", emails.clone());
        set(u, "nickName", json!("Barbie"));
    })
    .await;
}

#[tokio::test]
async fn replace_a_filtered_element_and_a_sub_attribute_of_it() {
    // RFC 7644 §3.5.2.3, the address examples.
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let work = json!({
        "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
        "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let body = patch_body(json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": work}]));
    let patched = patch_expecting(&app, &org, &created, &body, |u| u["addresses"][0] = work.clone()).await;

    let body = patch_body(
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    patch_expecting(&app, &org, &patched, &body, |u| {
        u["addresses"][0]["streetAddress"] = json!("1010 Broadway Ave");
    })
    .await;
}

#[tokio::test]
async fn replace_a_sub_attribute_keeps_its_siblings() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]));
    patch_expecting(&app, &org, &created, &body, |u| u["name"]["givenName"] = json!("Babs")).await;
}

#[tokio::test]
async fn replace_a_complex_attribute_leaves_unnamed_sub_attributes() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "replace", "path": "name", "value": {"givenName": "Barb"}}]));
    patch_expecting(&app, &org, &created, &body, |u| u["name"]["givenName"] = json!("Barb")).await;
}

#[tokio::test]
async fn replace_of_an_absent_attribute_adds_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "replace", "path": "userType", "value": "Employee"}]));
    patch_expecting(&app, &org, &created, &body, |u| set(u, "userType", json!("Employee"))).await;
}

// ---------------------------------------------------------------------------------------------------------- remove

#[tokio::test]
async fn remove_with_a_path_removes_attributes_sub_attributes_and_elements() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"},
        {"op": "remove", "path": "addresses[type eq \"home\"].locality"}
    ]));
    patch_expecting(&app, &org, &created, &body, |u| {
        remove(u, "title");
        u["name"].as_object_mut().unwrap().remove("givenName");
        u["emails"] = json!([{"value": "babs@example.com", "type": "home", "primary": true}]);
        u["addresses"][1].as_object_mut().unwrap().remove("locality");
    })
    .await;
}

#[tokio::test]
async fn remove_of_a_whole_multi_valued_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "remove", "path": "phoneNumbers"}, {"op": "remove", "path": "addresses"}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        remove(u, "phoneNumbers");
        remove(u, "addresses");
    })
    .await;
}

// ------------------------------------------------------------------------------------------------ extension paths

#[tokio::test]
async fn extension_urn_paths_write_the_enterprise_extension() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let boss = id_of(&create(&app, &org, &user("boss@example.com")).await);
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([
        {"op": "add", "path": DEPARTMENT, "value": "Tour Operations"},
        {"op": "replace", "path": MANAGER, "value": {"value": boss}},
        {"op": "add", "path": EMPLOYEE_NUMBER, "value": "701984"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "B. Jensen"}
    ]));
    let patched = patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "schemas", json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        set(
            u,
            ENTERPRISE_SCHEMA,
            json!({"department": "Tour Operations", "manager": {"value": boss}, "employeeNumber": "701984"}),
        );
        set(u, "displayName", json!("B. Jensen"));
    })
    .await;

    let body = patch_body(json!([
        {"op": "remove", "path": EMPLOYEE_NUMBER},
        {"op": "replace", "path": DEPARTMENT, "value": "Ops"},
        {"op": "replace", "path": format!("{MANAGER}.value"), "value": boss}
    ]));
    patch_expecting(&app, &org, &patched, &body, |u| {
        u[ENTERPRISE_SCHEMA].as_object_mut().unwrap().remove("employeeNumber");
        u[ENTERPRISE_SCHEMA]["department"] = json!("Ops");
    })
    .await;
    assert_tolerances(&app, &org, &[]).await;
}

#[tokio::test]
async fn a_whole_extension_can_be_added_without_a_path() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let extension = json!({"employeeNumber": "701984", "costCenter": "4130", "division": "Theme Park"});
    let body = patch_body(json!([{"op": "add", "value": {ENTERPRISE_SCHEMA: extension}}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "schemas", json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        set(u, ENTERPRISE_SCHEMA, extension.clone());
    })
    .await;
}

// ----------------------------------------------------------------------------------------------------- tolerances

#[tokio::test]
async fn no_path_values_with_dotted_and_urn_qualified_keys_are_applied() {
    // What Entra ID sends.
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "Replace", "value": {
        "displayName": "D",
        "name.givenName": "G",
        DEPARTMENT: "Eng"
    }}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "displayName", json!("D"));
        u["name"]["givenName"] = json!("G");
        set(u, "schemas", json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        set(u, ENTERPRISE_SCHEMA, json!({"department": "Eng"}));
    })
    .await;
    assert_tolerances(&app, &org, &["capitalised_op", "dotted_key_in_value"]).await;
}

#[tokio::test]
async fn capitalised_ops_are_accepted_and_logged() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([
        {"op": "Replace", "path": "displayName", "value": "Boss"},
        {"op": "Add", "path": "userType", "value": "Employee"},
        {"op": "REMOVE", "path": "title"}
    ]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "displayName", json!("Boss"));
        set(u, "userType", json!("Employee"));
        remove(u, "title");
    })
    .await;
    assert_tolerances(&app, &org, &["capitalised_op"]).await;
}

#[tokio::test]
async fn booleans_sent_as_strings_are_stored_as_booleans() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let patched = patch_expecting(&app, &org, &created, &body, |u| set(u, "active", json!(false))).await;
    assert_tolerances(&app, &org, &["boolean_as_string", "capitalised_op"]).await;

    let body = patch_body(json!([{"op": "replace", "value": {"active": "True"}}]));
    let patched = patch_expecting(&app, &org, &patched, &body, |u| set(u, "active", json!(true))).await;
    assert_tolerances(&app, &org, &["boolean_as_string"]).await;

    let body = patch_body(json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "false"}]));
    patch_expecting(&app, &org, &patched, &body, |u| u["emails"][1]["primary"] = json!(false)).await;
    assert_tolerances(&app, &org, &["boolean_as_string"]).await;
}

#[tokio::test]
async fn a_bare_manager_id_is_stored_as_an_object() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let boss = id_of(&create(&app, &org, &user("boss@example.com")).await);
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "add", "path": MANAGER, "value": boss}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "schemas", json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        set(u, ENTERPRISE_SCHEMA, json!({"manager": {"value": boss}}));
    })
    .await;
    assert_tolerances(&app, &org, &["bare_manager_id"]).await;
}

#[tokio::test]
async fn a_value_filter_on_a_missing_work_email_creates_it() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut tess = user("tess@example.com");
    tess["emails"] = json!([{"value": "tess@example.com", "type": "home", "primary": true}]);
    let created = create(&app, &org, &tess).await;
    let body =
        patch_body(json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "tess.work@example.com"}]));
    let patched = patch_expecting(&app, &org, &created, &body, |u| {
        push(u, "emails", json!({"type": "work", "value": "tess.work@example.com"}));
    })
    .await;
    assert_tolerances(&app, &org, &["value_filter_created_element"]).await;

    let body = patch_body(
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "tess.office@example.com"}]),
    );
    patch_expecting(&app, &org, &patched, &body, |u| u["emails"][1]["value"] = json!("tess.office@example.com")).await;
    assert_tolerances(&app, &org, &[]).await;
}

#[tokio::test]
async fn remove_with_a_value_list_removes_only_the_listed_elements() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "remove", "path": "emails", "value": [{"value": "bjensen@example.com"}]}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        u["emails"] = json!([{"value": "babs@example.com", "type": "home", "primary": true}]);
    })
    .await;
    assert_tolerances(&app, &org, &["remove_by_value_list"]).await;
}

#[tokio::test]
async fn message_member_names_in_another_case_are_accepted() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = json!({
        "schemas": [PATCH_SCHEMA],
        "operations": [{"Op": "replace", "Path": "title", "Value": "Boss"}]
    });
    patch_expecting(&app, &org, &created, &body, |u| set(u, "title", json!("Boss"))).await;
    assert_tolerances(&app, &org, &["message_key_case"]).await;
}

#[tokio::test]
async fn an_empty_path_means_no_path() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "replace", "path": "", "value": {"title": "Boss"}}]));
    patch_expecting(&app, &org, &created, &body, |u| set(u, "title", json!("Boss"))).await;
    assert_tolerances(&app, &org, &["empty_path"]).await;
}

#[tokio::test]
async fn a_single_value_for_a_multi_valued_attribute_is_wrapped() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body =
        patch_body(json!([{"op": "add", "path": "emails", "value": {"value": "babs@other.org", "type": "other"}}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        push(u, "emails", json!({"value": "babs@other.org", "type": "other"}));
    })
    .await;
    assert_tolerances(&app, &org, &["single_value_for_multi_valued"]).await;
}

#[tokio::test]
async fn the_users_own_id_in_a_no_path_value_is_ignored() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "replace", "value": {"id": id_of(&created), "active": false}}]));
    patch_expecting(&app, &org, &created, &body, |u| set(u, "active", json!(false))).await;
    assert_tolerances(&app, &org, &["read_only_value_ignored"]).await;
}

#[tokio::test]
async fn a_read_only_sub_attribute_inside_a_value_is_ignored() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let boss = id_of(&create(&app, &org, &user("boss@example.com")).await);
    let created = create(&app, &org, &babs()).await;
    let body = patch_body(json!([{"op": "add", "path": MANAGER, "value": {"value": boss, "displayName": "The Boss"}}]));
    patch_expecting(&app, &org, &created, &body, |u| {
        set(u, "schemas", json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        set(u, ENTERPRISE_SCHEMA, json!({"manager": {"value": boss}}));
    })
    .await;
    assert_tolerances(&app, &org, &["read_only_value_ignored"]).await;
}

#[tokio::test]
async fn okta_deactivation_is_a_plain_patch() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    patch_expecting(&app, &org, &created, &body, |u| set(u, "active", json!(false))).await;
    assert_tolerances(&app, &org, &[]).await;
}

// ---------------------------------------------------------------------------------------------------------- errors

/// Sends each body, expects 400 with `scim_type`, and checks the user did not change.
async fn expect_refused(app: &TestApp, org: &ScimOrg, created: &Value, bodies: &[Value], scim_type: &str) {
    let id = id_of(created);
    let mut failures = Vec::new();
    for body in bodies {
        let response = send_patch(app, org, &id, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ok = status == StatusCode::BAD_REQUEST
            && error["scimType"] == scim_type
            && error["status"] == "400"
            && error["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"]);
        if !ok {
            failures.push(format!("{body}\n    → {status} {text}"));
        }
    }
    assert!(failures.is_empty(), "{} PATCHes not refused with {scim_type}:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(get_user(app, org, &id).await, *created, "a refused PATCH changes nothing");
}

#[tokio::test]
async fn an_unknown_op_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let bodies = [
        patch_body(json!([{"op": "move", "path": "title", "value": "x"}])),
        patch_body(json!([{"op": "", "path": "title", "value": "x"}])),
        patch_body(json!([{"op": 5, "path": "title", "value": "x"}])),
        patch_body(json!([{"path": "title", "value": "x"}])),
    ];
    expect_refused(&app, &org, &created, &bodies, "invalidSyntax").await;
}

#[tokio::test]
async fn a_bad_path_is_400_invalid_path() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let paths = [
        "emails[type eq \"work\"",
        "shoeSize",
        "name.nickname",
        "title.x",
        "title[value eq \"x\"]",
        "name..givenName",
        "emails[type eq \"work\"].nope",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department.x",
    ];
    let bodies: Vec<Value> =
        paths.iter().map(|p| patch_body(json!([{"op": "replace", "path": p, "value": "x"}]))).collect();
    expect_refused(&app, &org, &created, &bodies, "invalidPath").await;
}

#[tokio::test]
async fn remove_without_a_path_is_400_no_target() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let bodies =
        [patch_body(json!([{"op": "remove"}])), patch_body(json!([{"op": "remove", "value": {"title": "x"}}]))];
    expect_refused(&app, &org, &created, &bodies, "noTarget").await;
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_400_invalid_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let bodies = [
        patch_body(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
        patch_body(json!([{"op": "replace", "path": "active", "value": 5}])),
        patch_body(json!([{"op": "replace", "path": "userName", "value": 5}])),
        patch_body(json!([{"op": "replace", "path": "name", "value": "Babs"}])),
        patch_body(json!([{"op": "add", "path": "emails", "value": ["a@b.c"]}])),
        patch_body(json!([{"op": "replace", "path": "title", "value": ["a", "b"]}])),
        patch_body(json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "yes"}])),
        patch_body(json!([{"op": "replace", "value": "not an object"}])),
        patch_body(json!([{"op": "replace", "value": {"active": "perhaps"}}])),
        patch_body(json!([{"op": "add", "path": "title"}])),
    ];
    expect_refused(&app, &org, &created, &bodies, "invalidValue").await;
}

#[tokio::test]
async fn read_only_targets_are_400_mutability() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let bodies = [
        patch_body(json!([{"op": "replace", "path": "id", "value": "another-id"}])),
        patch_body(json!([{"op": "remove", "path": "id"}])),
        patch_body(json!([{"op": "remove", "path": "meta"}])),
        patch_body(json!([{"op": "replace", "path": "meta.version", "value": "W/\"9\""}])),
        patch_body(json!([{"op": "add", "path": "groups", "value": [{"value": "g-1"}]}])),
        patch_body(json!([{"op": "replace", "value": {"id": "another-id"}}])),
        patch_body(json!([{"op": "replace", "value": {"meta": {"resourceType": "Group"}}}])),
    ];
    expect_refused(&app, &org, &created, &bodies, "mutability").await;
}

#[tokio::test]
async fn a_message_that_is_not_a_patch_op_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let op = json!([{"op": "replace", "path": "title", "value": "x"}]);
    let bodies = [
        json!({"Operations": op}),
        json!({"schemas": [USER_SCHEMA], "Operations": op}),
        json!({"schemas": PATCH_SCHEMA, "Operations": op}),
        json!({"schemas": [PATCH_SCHEMA]}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": []}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": "replace"}),
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    ];
    expect_refused(&app, &org, &created, &bodies, "invalidSyntax").await;
}

#[tokio::test]
async fn malformed_patch_json_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let response = app
        .http
        .patch(user_url(&org, &id_of(&created)))
        .bearer_auth(&org.token)
        .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
        .body("{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"], \"Operations\": [")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
    assert_eq!(get_user(&app, &org, &id_of(&created)).await, created);
}

// ------------------------------------------------------------------------------------------------------- atomicity

#[tokio::test]
async fn a_failing_second_operation_leaves_the_user_unchanged() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &babs()).await;
    let id = id_of(&created);
    let cases = [
        (
            json!([{"op": "replace", "path": "displayName", "value": "Changed"}, {"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "title", "value": "New"}, {"op": "replace", "path": "active", "value": "perhaps"}]),
            "invalidValue",
        ),
        (json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "shoeSize"}]), "invalidPath"),
        (
            json!([
                {"op": "replace", "path": "nickName", "value": "N"},
                {"op": "replace", "path": "emails[type eq \"fax\" or type eq \"pager\"].value", "value": "x"}
            ]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "value": {"displayName": "Changed", "title": "New", "active": "perhaps"}}]),
            "invalidValue",
        ),
    ];
    for (operations, scim_type) in cases {
        let response = send_patch(&app, &org, &id, &patch_body(operations.clone())).await;
        expect_error(response, StatusCode::BAD_REQUEST, Some(scim_type)).await;
        let response = call(&app, &org, Method::GET, &user_url(&org, &id), None).await;
        assert_eq!(header(&response, ETAG.as_str()), Some(version(1)), "{operations}");
        assert_eq!(expect_json(response, StatusCode::OK).await, created, "{operations}");
    }
}

// ----------------------------------------------------------------------------------------------------- round trips

/// Sends the request with the round-trip counter running; returns the response and the DynamoDB calls made
/// before the response arrived (request-log writes excluded).
/// The DynamoDB calls a request made on its response path. `len()` is the number of sequential
/// round trips (calls running concurrently, like the token check beside a lookup, count once),
/// which is what the budgets limit; Debug shows every call.
struct RoundTripCount {
    calls: Vec<String>,
    sequential: usize,
}

impl RoundTripCount {
    fn len(&self) -> usize {
        self.sequential
    }
}

impl std::fmt::Debug for RoundTripCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sequential round trips: {:?}", self.sequential, self.calls)
    }
}

async fn counted(app: &TestApp, request: reqwest::RequestBuilder) -> (Response, RoundTripCount) {
    // Work left from earlier requests (welcome emails) must not fall into the count.
    app.flush_logs().await;
    app.round_trips.start_served_only();
    let response = request.send().await.unwrap();
    let calls = RoundTripCount { calls: app.round_trips.calls(), sequential: app.round_trips.sequential() };
    (response, calls)
}

/// One request to open connections, then waits for the background work of everything before (request-log writes,
/// welcome emails of the users created), so that the counter sees only the request under test.
async fn warm_up(app: &TestApp, org: &ScimOrg) {
    expect_json(
        call(app, org, Method::GET, &format!("{}/ServiceProviderConfig", org.base), None).await,
        StatusCode::OK,
    )
    .await;
    app.flush_logs().await;
}

#[tokio::test]
async fn a_get_by_id_costs_at_most_two_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = id_of(&create(&app, &org, &babs()).await);
    warm_up(&app, &org).await;
    let (response, calls) = counted(&app, app.get(&user_url(&org, &id), &org.token)).await;
    expect_json(response, StatusCode::OK).await;
    assert!(calls.len() <= 2, "{calls:?}");
}

#[tokio::test]
async fn a_put_costs_at_most_two_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = id_of(&create(&app, &org, &babs()).await);
    warm_up(&app, &org).await;
    let mut replacement = babs();
    replacement["title"] = json!("Changed");
    let request = crate::users_crud::request(&app, &org, Method::PUT, &user_url(&org, &id), Some(&replacement));
    let (response, calls) = counted(&app, request).await;
    assert_eq!(expect_json(response, StatusCode::OK).await["title"], "Changed");
    assert!(calls.len() <= 2, "{calls:?}");
}

#[tokio::test]
async fn a_patch_costs_at_most_two_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = id_of(&create(&app, &org, &babs()).await);
    warm_up(&app, &org).await;
    let body = patch_body(json!([{"op": "replace", "path": "title", "value": "Changed"}]));
    let request = crate::users_crud::request(&app, &org, Method::PATCH, &user_url(&org, &id), Some(&body));
    let (response, calls) = counted(&app, request).await;
    assert_eq!(expect_json(response, StatusCode::OK).await["title"], "Changed");
    assert!(calls.len() <= 2, "{calls:?}");
}

#[tokio::test]
async fn a_delete_costs_at_most_two_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = id_of(&create(&app, &org, &babs()).await);
    warm_up(&app, &org).await;
    let request = crate::users_crud::request(&app, &org, Method::DELETE, &user_url(&org, &id), None);
    let (response, calls) = counted(&app, request).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(calls.len() <= 2, "{calls:?}");
}

#[tokio::test]
async fn a_user_name_filter_costs_at_most_two_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for i in 0..10 {
        create(&app, &org, &user(&format!("member{i}@example.com"))).await;
    }
    warm_up(&app, &org).await;
    let url = format!("{}?filter=userName%20eq%20%22MEMBER7%40example.com%22", users_url(&org));
    let (response, calls) = counted(&app, app.get(&url, &org.token)).await;
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "member7@example.com");
    assert!(calls.len() <= 2, "{calls:?}");
}

#[tokio::test]
async fn a_post_costs_at_most_three_round_trips() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    warm_up(&app, &org).await;
    let request = crate::users_crud::request(&app, &org, Method::POST, &users_url(&org), Some(&babs()));
    let (response, calls) = counted(&app, request).await;
    expect_json(response, StatusCode::CREATED).await;
    // Welcome-email delivery runs after the response, in a task of its own: not counted.
    assert!(calls.len() <= 3, "{calls:?}");
}

#[tokio::test]
async fn a_new_accounts_welcome_costs_two_dynamodb_calls_after_the_response() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    warm_up(&app, &org).await;
    // Every call the POST makes, served or started for after the response, until all is done.
    let email = crate::scim_client::unique_email("welcomed");
    let mut body = babs();
    body["userName"] = json!(email);
    body["emails"] = json!([{"value": email, "type": "work", "primary": true}]);
    app.round_trips.start();
    let request = crate::users_crud::request(&app, &org, Method::POST, &users_url(&org), Some(&body));
    expect_json(request.send().await.unwrap(), StatusCode::CREATED).await;
    app.flush_logs().await;
    let calls = app.round_trips.calls();
    assert_eq!(crate::helpers::sent_emails(&email).await.len(), 1, "the welcome went out");
    // The create: the uniqueness reads beside the token check, then its transaction (with the
    // welcome in the outbox). The welcome: claimed with the account's initial credential set (one
    // transaction), then marked delivered and removed from the outbox (one transaction).
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls.iter().filter(|c| c.starts_with("TransactWriteItems")).count(), 3, "{calls:?}");
}
