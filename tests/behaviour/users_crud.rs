//! SCIM `/Users`: create, read, replace and delete (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.6), media types,
//! errors (§3.12) and ETags (§3.14). Also the small helpers the other `users_*` files share.
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    create_group, created_id, scim, send, unique_email, user_with_work_email, with_body, ENTERPRISE_SCHEMA,
    ERROR_SCHEMA, PATCH_SCHEMA, SCIM_JSON, USER_SCHEMA,
};

// ------------------------------------------------------------------------------------------------ shared helpers

/// The smallest valid User: the core schema and a userName that is also the account email.
pub(crate) fn user(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name})
}

pub(crate) fn users_url(org: &ScimOrg) -> String {
    format!("{}/Users", org.base)
}

pub(crate) fn user_url(org: &ScimOrg, id: &str) -> String {
    format!("{}/Users/{id}", org.base)
}

/// A request with the organization's token and, when given, a SCIM JSON body.
pub(crate) fn request(
    app: &TestApp,
    org: &ScimOrg,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    let builder = app.http.request(method, url).bearer_auth(&org.token);
    match body {
        Some(body) => builder.header(CONTENT_TYPE, SCIM_JSON).body(body.to_string()),
        None => builder,
    }
}

pub(crate) async fn call(app: &TestApp, org: &ScimOrg, method: Method, url: &str, body: Option<&Value>) -> Response {
    request(app, org, method, url, body).send().await.unwrap()
}

/// Asserts the status and the SCIM media type, and returns the JSON body (the body is shown on failure).
pub(crate) async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = header(&response, CONTENT_TYPE.as_str());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(content_type.as_deref(), Some(SCIM_JSON), "content type; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}"))
}

/// Asserts an RFC 7644 §3.12 error with this status and (when given) this scimType; returns the body.
pub(crate) async fn expect_error(response: Response, status: StatusCode, scim_type: Option<&str>) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
    assert_eq!(body["status"], json!(status.as_u16().to_string()), "status is a string: {body}");
    if let Some(scim_type) = scim_type {
        assert_eq!(body["scimType"], json!(scim_type), "{body}");
    }
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "detail: {body}");
    body
}

pub(crate) fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// POSTs `body` to /Users, expects 201, returns the resource.
pub(crate) async fn create(app: &TestApp, org: &ScimOrg, body: &Value) -> Value {
    let response = call(app, org, Method::POST, &users_url(org), Some(body)).await;
    expect_json(response, StatusCode::CREATED).await
}

/// GETs /Users/{id}, expects 200, returns the resource.
pub(crate) async fn get_user(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    let response = call(app, org, Method::GET, &user_url(org, id), None).await;
    expect_json(response, StatusCode::OK).await
}

pub(crate) fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap_or_else(|| panic!("no id in {resource}")).to_owned()
}

pub(crate) fn version(n: u64) -> String {
    format!("W/\"{n}\"")
}

/// The resource without `meta` (which changes on every write).
pub(crate) fn without_meta(resource: &Value) -> Value {
    let mut copy = resource.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("meta");
    }
    copy
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}")).with_timezone(&Utc)
}

async fn total_users(app: &TestApp, org: &ScimOrg) -> u64 {
    let response = call(app, org, Method::GET, &users_url(org), None).await;
    expect_json(response, StatusCode::OK).await["totalResults"].as_u64().unwrap()
}

/// Every attribute the User schema has (and the Enterprise extension), with distinctive values.
fn rich_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "Ext-00042",
        "userName": "Alice.Smith@Example.COM",
        "name": {
            "formatted": "Ms. Alice B Smith, III",
            "familyName": "Smith",
            "givenName": "Alice",
            "middleName": "Beatrice",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Alice Smith",
        "nickName": "Ally",
        "profileUrl": "https://login.example.com/AliceSmith",
        "title": "Vice President",
        "userType": "Employee",
        "preferredLanguage": "en-US,en;q=0.8",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "Alice.Smith@Example.COM", "type": "work", "primary": true},
            {"value": "ally@home.example.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 555 5555", "type": "work"}, {"value": "+1 555 555 4444", "type": "mobile"}],
        "ims": [{"value": "ally_smith", "type": "skype"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "primary": true
        }],
        "entitlements": [{"value": "Premium Plan"}],
        "roles": [{"value": "Admin", "type": "WindowsAzureActiveDirectoryRole", "primary": false}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        ENTERPRISE_SCHEMA: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations"
        }
    })
}

// ---------------------------------------------------------------------------------------------------------- create

#[tokio::test]
async fn create_returns_201_with_location_etag_and_meta() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let before = Utc::now();
    let response = call(&app, &org, Method::POST, &users_url(&org), Some(&user("alice@example.com"))).await;
    let location = header(&response, LOCATION.as_str());
    let etag = header(&response, ETAG.as_str());
    let body = expect_json(response, StatusCode::CREATED).await;

    let id = id_of(&body);
    assert!(!id.is_empty());
    assert_eq!(location.as_deref(), Some(user_url(&org, &id).as_str()));
    assert_eq!(etag.as_deref(), Some(version(1).as_str()));
    assert_eq!(body["schemas"], json!([USER_SCHEMA]));
    assert_eq!(body["userName"], "alice@example.com");
    assert_eq!(body["active"], true, "active defaults to true");
    let meta = &body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], json!(user_url(&org, &id)));
    assert_eq!(meta["version"], json!(version(1)));
    let created = timestamp(&meta["created"]);
    let modified = timestamp(&meta["lastModified"]);
    assert!(created >= before - chrono::Duration::seconds(5) && created <= Utc::now() + chrono::Duration::seconds(5));
    assert!(modified >= created, "lastModified {modified} before created {created}");
}

#[tokio::test]
async fn create_returns_every_value_exactly_as_sent() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let sent = rich_user();
    let body = create(&app, &org, &sent).await;
    for (key, value) in sent.as_object().unwrap() {
        if key != "schemas" {
            assert_eq!(&body[key], value, "{key} is returned as sent");
        }
    }
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
    let fetched = get_user(&app, &org, &id_of(&body)).await;
    assert_eq!(fetched, body, "GET returns what POST returned");
}

#[tokio::test]
async fn enterprise_attributes_add_the_extension_urn_to_schemas() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut sent = user("bob@example.com");
    sent[ENTERPRISE_SCHEMA] = json!({"department": "Sales"});
    let body = create(&app, &org, &sent).await;
    assert_eq!(body["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
    assert_eq!(body[ENTERPRISE_SCHEMA], json!({"department": "Sales"}));
    let plain = create(&app, &org, &user("carol@example.com")).await;
    assert_eq!(plain["schemas"], json!([USER_SCHEMA]));
    assert!(plain.get(ENTERPRISE_SCHEMA).is_none(), "{plain}");
}

#[tokio::test]
async fn the_password_is_accepted_but_never_returned_or_stored() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let secret = "Sup3r-Secret-Passw0rd-4711!";
    let mut sent = user("dave@example.com");
    sent["password"] = json!(secret);
    let created = create(&app, &org, &sent).await;
    let id = id_of(&created);
    assert!(created.get("password").is_none(), "{created}");
    assert!(!created.to_string().contains(secret));

    let fetched = get_user(&app, &org, &id).await;
    assert!(fetched.get("password").is_none(), "{fetched}");

    let url = format!("{}?attributes=password,userName", users_url(&org));
    let listed = expect_json(call(&app, &org, Method::GET, &url, None).await, StatusCode::OK).await;
    assert!(!listed.to_string().contains(secret));
    assert!(listed["Resources"][0].get("password").is_none(), "{listed}");

    let mut replacement = user("dave@example.com");
    replacement["password"] = json!(format!("{secret}-2"));
    let replaced =
        expect_json(call(&app, &org, Method::PUT, &user_url(&org, &id), Some(&replacement)).await, StatusCode::OK)
            .await;
    assert!(replaced.get("password").is_none(), "{replaced}");

    app.flush_logs().await;
    let table = app.dump_table().await;
    assert!(!table.contains(secret), "the password is stored somewhere");
}

#[tokio::test]
async fn unknown_extension_objects_are_kept_as_sent() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let custom = json!({"badge": 7, "zones": ["a", "B"], "nested": {"flag": true, "label": "MiXeD"}});
    let mut sent = user("erin@example.com");
    sent["urn:okta:custom:1.0"] = custom.clone();
    let created = create(&app, &org, &sent).await;
    assert_eq!(created["urn:okta:custom:1.0"], custom);
    assert!(created["schemas"].as_array().unwrap().contains(&json!(USER_SCHEMA)));
    let fetched = get_user(&app, &org, &id_of(&created)).await;
    assert_eq!(fetched["urn:okta:custom:1.0"], custom);
}

#[tokio::test]
async fn a_taken_user_name_in_any_case_is_409_uniqueness() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    create(&app, &org, &user("frank@example.com")).await;
    let again = call(&app, &org, Method::POST, &users_url(&org), Some(&user("FRANK@Example.com"))).await;
    expect_error(again, StatusCode::CONFLICT, Some("uniqueness")).await;
    assert_eq!(total_users(&app, &org).await, 1);
}

// ------------------------------------------------------------------------------------------------------------- get

#[tokio::test]
async fn get_returns_the_resource_with_its_etag() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("gina@example.com")).await;
    let response = call(&app, &org, Method::GET, &user_url(&org, &id_of(&created)), None).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(1)));
    let body = expect_json(response, StatusCode::OK).await;
    assert_eq!(body, created);
}

#[tokio::test]
async fn unknown_ids_are_404_on_every_method() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let body = user("nobody@example.com");
    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    for id in ["does-not-exist", "2819c223-7f76-453a-919d-413861904646"] {
        let url = user_url(&org, id);
        for (method, body) in
            [(Method::GET, None), (Method::PUT, Some(&body)), (Method::PATCH, Some(&patch)), (Method::DELETE, None)]
        {
            let response = call(&app, &org, method.clone(), &url, body).await;
            let error = expect_error(response, StatusCode::NOT_FOUND, None).await;
            assert_eq!(error["status"], "404", "{method} {id}");
        }
    }
    assert_eq!(total_users(&app, &org).await, 0, "a PUT to an unknown id creates nothing");
}

#[tokio::test]
async fn a_user_of_another_organization_is_404() {
    let app = spawn_app().await;
    let a = app.scim_org().await;
    let b = app.scim_org().await;
    let created = create(&app, &a, &user("hank@example.com")).await;
    let id = id_of(&created);
    let url = user_url(&b, &id);
    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    expect_error(call(&app, &b, Method::GET, &url, None).await, StatusCode::NOT_FOUND, None).await;
    expect_error(call(&app, &b, Method::PUT, &url, Some(&user("hank@example.com"))).await, StatusCode::NOT_FOUND, None)
        .await;
    expect_error(call(&app, &b, Method::PATCH, &url, Some(&patch)).await, StatusCode::NOT_FOUND, None).await;
    expect_error(call(&app, &b, Method::DELETE, &url, None).await, StatusCode::NOT_FOUND, None).await;
    assert_eq!(get_user(&app, &a, &id).await, created, "untouched in its own organization");
    assert_eq!(total_users(&app, &b).await, 0);
}

// ------------------------------------------------------------------------------------------------------------- put

#[tokio::test]
async fn put_replaces_every_writable_attribute() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut original = user("ivy@example.com");
    original["title"] = json!("Engineer");
    original["nickName"] = json!("Ives");
    original["name"] = json!({"givenName": "Ivy", "familyName": "Green"});
    original["emails"] = json!([{"value": "ivy@example.com", "type": "work", "primary": true}]);
    original[ENTERPRISE_SCHEMA] = json!({"department": "R&D"});
    let created = create(&app, &org, &original).await;
    let id = id_of(&created);

    let replacement = json!({
        "schemas": [USER_SCHEMA],
        "userName": "ivy@example.com",
        "displayName": "Ivy G.",
        "name": {"givenName": "Ivy"},
        "active": true,
        "emails": [{"value": "ivy@example.com", "type": "work", "primary": true}]
    });
    let response = call(&app, &org, Method::PUT, &user_url(&org, &id), Some(&replacement)).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(2)));
    let replaced = expect_json(response, StatusCode::OK).await;

    let mut expected = replacement.clone();
    expected["id"] = json!(id);
    assert_eq!(without_meta(&replaced), expected, "attributes left out of the PUT are gone");
    assert_eq!(replaced["meta"]["version"], json!(version(2)));
    assert_eq!(replaced["meta"]["created"], created["meta"]["created"]);
    assert_eq!(replaced["meta"]["location"], created["meta"]["location"]);
    assert!(timestamp(&replaced["meta"]["lastModified"]) >= timestamp(&created["meta"]["lastModified"]));
    assert_eq!(get_user(&app, &org, &id).await, replaced);
}

#[tokio::test]
async fn put_ignores_id_meta_and_groups_in_the_body() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("jack@example.com")).await;
    let id = id_of(&created);
    let mut replacement = user("jack@example.com");
    replacement["id"] = json!("another-id");
    replacement["displayName"] = json!("Jack");
    replacement["meta"] = json!({
        "resourceType": "Group", "created": "2001-01-01T00:00:00Z", "version": "W/\"99\"",
        "location": "https://evil.example.com/Users/another-id"
    });
    replacement["groups"] = json!([{"value": "g-1", "display": "Admins"}]);
    let replaced =
        expect_json(call(&app, &org, Method::PUT, &user_url(&org, &id), Some(&replacement)).await, StatusCode::OK)
            .await;
    assert_eq!(replaced["id"], json!(id));
    assert_eq!(replaced["displayName"], "Jack");
    assert_eq!(replaced["meta"]["resourceType"], "User");
    assert_eq!(replaced["meta"]["created"], created["meta"]["created"]);
    assert_eq!(replaced["meta"]["version"], json!(version(2)));
    assert_eq!(replaced["meta"]["location"], json!(user_url(&org, &id)));
    let groups = replaced.get("groups").cloned().unwrap_or(json!([]));
    assert_eq!(groups, json!([]), "groups are managed through /Groups");
    expect_error(call(&app, &org, Method::GET, &user_url(&org, "another-id"), None).await, StatusCode::NOT_FOUND, None)
        .await;
}

#[tokio::test]
async fn every_write_that_changes_the_user_increases_the_version_by_one() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("kim@example.com")).await;
    let id = id_of(&created);
    let url = user_url(&org, &id);
    assert_eq!(created["meta"]["version"], json!(version(1)));

    // The same document again changes nothing, so nothing is written (RFC 7644 §3.5.2.1).
    let response = call(&app, &org, Method::PUT, &url, Some(&user("kim@example.com"))).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(1)));
    let mut changed = user("kim@example.com");
    changed["nickName"] = json!("Kim");
    let response = call(&app, &org, Method::PUT, &url, Some(&changed)).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(2)));
    assert_eq!(expect_json(response, StatusCode::OK).await["meta"]["version"], json!(version(2)));

    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]});
    let response = call(&app, &org, Method::PATCH, &url, Some(&patch)).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(3)));
    assert_eq!(expect_json(response, StatusCode::OK).await["meta"]["version"], json!(version(3)));

    let response = call(&app, &org, Method::GET, &url, None).await;
    assert_eq!(header(&response, ETAG.as_str()), Some(version(3)));
    let fetched = expect_json(response, StatusCode::OK).await;
    assert_eq!(fetched["meta"]["version"], json!(version(3)));
    assert_eq!(fetched["title"], "CTO");
}

// ---------------------------------------------------------------------------------------------------------- delete

#[tokio::test]
async fn delete_returns_204_and_the_user_is_gone() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("lee@example.com")).await;
    let url = user_url(&org, &id_of(&created));
    let response = call(&app, &org, Method::DELETE, &url, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "", "204 has an empty body");
    expect_error(call(&app, &org, Method::GET, &url, None).await, StatusCode::NOT_FOUND, None).await;
    expect_error(call(&app, &org, Method::DELETE, &url, None).await, StatusCode::NOT_FOUND, None).await;
    assert_eq!(total_users(&app, &org).await, 0);
}

// ----------------------------------------------------------------------------------------------------------- etags

#[tokio::test]
async fn if_match_with_another_version_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let mut sent = user("mia@example.com");
    sent["displayName"] = json!("Mia");
    let created = create(&app, &org, &sent).await;
    let url = user_url(&org, &id_of(&created));
    let mut replacement = sent.clone();
    replacement["displayName"] = json!("Changed by PUT");
    let patch =
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "P"}]});
    for stale in [version(7), version(0), version(2)] {
        for (method, body) in [(Method::PUT, Some(&replacement)), (Method::PATCH, Some(&patch)), (Method::DELETE, None)]
        {
            let response =
                request(&app, &org, method.clone(), &url, body).header(IF_MATCH, &stale).send().await.unwrap();
            let error = expect_error(response, StatusCode::PRECONDITION_FAILED, None).await;
            assert_eq!(error["status"], "412", "{method} If-Match: {stale}");
        }
    }
    assert_eq!(get_user(&app, &org, &id_of(&created)).await, created, "nothing changed");
}

#[tokio::test]
async fn if_match_star_or_the_current_version_proceeds() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("ned@example.com")).await;
    let url = user_url(&org, &id_of(&created));

    let mut replacement = user("ned@example.com");
    replacement["title"] = json!("Lead");
    let response =
        request(&app, &org, Method::PUT, &url, Some(&replacement)).header(IF_MATCH, version(1)).send().await.unwrap();
    let replaced = expect_json(response, StatusCode::OK).await;
    assert_eq!((replaced["title"].clone(), replaced["meta"]["version"].clone()), (json!("Lead"), json!(version(2))));

    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "Head"}]});
    let response = request(&app, &org, Method::PATCH, &url, Some(&patch)).header(IF_MATCH, "*").send().await.unwrap();
    let patched = expect_json(response, StatusCode::OK).await;
    assert_eq!((patched["title"].clone(), patched["meta"]["version"].clone()), (json!("Head"), json!(version(3))));

    let response = request(&app, &org, Method::DELETE, &url, None).header(IF_MATCH, version(3)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(call(&app, &org, Method::GET, &url, None).await, StatusCode::NOT_FOUND, None).await;
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_is_304() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("olga@example.com")).await;
    let url = user_url(&org, &id_of(&created));
    let response = request(&app, &org, Method::GET, &url, None).header(IF_NONE_MATCH, version(1)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.text().await.unwrap(), "", "304 has no body");

    let response = request(&app, &org, Method::GET, &url, None).header(IF_NONE_MATCH, version(5)).send().await.unwrap();
    assert_eq!(expect_json(response, StatusCode::OK).await, created, "another version: the resource");

    let mut replacement = user("olga@example.com");
    replacement["title"] = json!("New");
    expect_json(call(&app, &org, Method::PUT, &url, Some(&replacement)).await, StatusCode::OK).await;
    let response = request(&app, &org, Method::GET, &url, None).header(IF_NONE_MATCH, version(1)).send().await.unwrap();
    assert_eq!(header(&response, ETAG.as_str()), Some(version(2)));
    assert_eq!(expect_json(response, StatusCode::OK).await["title"], "New", "the old ETag no longer matches");
}

// --------------------------------------------------------------------------------------------------- content types

#[tokio::test]
async fn json_or_no_content_type_is_accepted() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let url = users_url(&org);
    let send = |content_type: Option<&'static str>, body: Value| {
        let builder = app.http.post(&url).bearer_auth(&org.token).body(body.to_string());
        let builder = match content_type {
            Some(ct) => builder.header(CONTENT_TYPE, ct),
            None => builder,
        };
        async move { builder.send().await.unwrap() }
    };
    let json = expect_json(send(Some("application/json"), user("pia@example.com")).await, StatusCode::CREATED).await;
    assert_eq!(json["userName"], "pia@example.com");
    let charset = expect_json(
        send(Some("application/scim+json; charset=utf-8"), user("quin@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(charset["userName"], "quin@example.com");
    let none = expect_json(send(None, user("rob@example.com")).await, StatusCode::CREATED).await;
    assert_eq!(none["userName"], "rob@example.com");

    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
    let response = app
        .http
        .patch(user_url(&org, &id_of(&json)))
        .bearer_auth(&org.token)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(response, StatusCode::OK).await["title"], "T");
    assert_eq!(total_users(&app, &org).await, 3);
}

#[tokio::test]
async fn other_content_types_are_415() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("sam@example.com")).await;
    let id = id_of(&created);
    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
    let cases = [
        (Method::POST, users_url(&org), user("tia@example.com"), "text/plain"),
        (Method::POST, users_url(&org), user("tia@example.com"), "application/xml"),
        (Method::POST, users_url(&org), user("tia@example.com"), "application/x-www-form-urlencoded"),
        (Method::PUT, user_url(&org, &id), user("sam@example.com"), "text/plain"),
        (Method::PATCH, user_url(&org, &id), patch.clone(), "application/json-patch+json"),
        (Method::PATCH, user_url(&org, &id), patch, "text/html"),
    ];
    for (method, url, body, content_type) in cases {
        let response = app
            .http
            .request(method.clone(), &url)
            .bearer_auth(&org.token)
            .header(CONTENT_TYPE, content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let error = expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
        assert_eq!(error["status"], "415", "{method} {content_type}");
    }
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

// ---------------------------------------------------------------------------------------------------------- errors

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("uma@example.com")).await;
    let id = id_of(&created);
    for (method, url) in [(Method::POST, users_url(&org)), (Method::PUT, user_url(&org, &id))] {
        for text in ["{\"userName\": ", "{userName: \"x@example.com\"}", "{\"userName\": \"x@example.com\",}", ""] {
            let response = app
                .http
                .request(method.clone(), &url)
                .bearer_auth(&org.token)
                .header(CONTENT_TYPE, SCIM_JSON)
                .body(text)
                .send()
                .await
                .unwrap();
            let error = expect_error(response, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
            assert_eq!(error["status"], "400", "{method} {text:?}");
        }
    }
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

#[tokio::test]
async fn values_of_the_wrong_type_are_400_invalid_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("vic@example.com")).await;
    let id = id_of(&created);
    let wrong = [
        ("active", json!(5)),
        ("active", json!("maybe")),
        ("userName", json!(7)),
        ("emails", json!("x")),
        ("emails", json!([{"value": 5}])),
        ("name", json!("Vic")),
        ("title", json!(["a", "b"])),
        ("displayName", json!({"a": 1})),
    ];
    for (attribute, value) in wrong {
        let mut body = user("vic@example.com");
        body[attribute] = value.clone();
        let post = call(&app, &org, Method::POST, &users_url(&org), Some(&body)).await;
        let error = expect_error(post, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        assert_eq!(error["status"], "400", "POST {attribute}: {value}");
        let put = call(&app, &org, Method::PUT, &user_url(&org, &id), Some(&body)).await;
        expect_error(put, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

#[tokio::test]
async fn a_missing_user_name_is_400_invalid_value() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("wes@example.com")).await;
    let id = id_of(&created);
    let bodies = [
        json!({"schemas": [USER_SCHEMA], "emails": [{"value": "wes2@example.com", "primary": true}]}),
        json!({"schemas": [USER_SCHEMA], "userName": null, "emails": [{"value": "wes2@example.com", "primary": true}]}),
    ];
    for body in &bodies {
        let post = call(&app, &org, Method::POST, &users_url(&org), Some(body)).await;
        expect_error(post, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
        let put = call(&app, &org, Method::PUT, &user_url(&org, &id), Some(body)).await;
        expect_error(put, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    }
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

#[tokio::test]
async fn an_unknown_core_attribute_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("xena@example.com")).await;
    let id = id_of(&created);
    let mut body = user("yuri@example.com");
    body["favouriteColour"] = json!("red");
    let post = call(&app, &org, Method::POST, &users_url(&org), Some(&body)).await;
    let error = expect_error(post, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
    assert!(error["detail"].as_str().unwrap().contains("favouriteColour"), "{error}");
    let mut replacement = user("xena@example.com");
    replacement["favouriteColour"] = json!("red");
    let put = call(&app, &org, Method::PUT, &user_url(&org, &id), Some(&replacement)).await;
    expect_error(put, StatusCode::BAD_REQUEST, Some("invalidSyntax")).await;
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

#[tokio::test]
async fn a_body_over_4_mib_is_413() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("zoe@example.com")).await;
    let id = id_of(&created);
    let mut big = user("zack@example.com");
    big["displayName"] = json!("x".repeat(4 * 1024 * 1024 + 1024));
    let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "replace", "path": "displayName", "value": "x".repeat(4 * 1024 * 1024 + 1024)}
    ]});
    for (method, url, body) in [
        (Method::POST, users_url(&org), &big),
        (Method::PUT, user_url(&org, &id), &big),
        (Method::PATCH, user_url(&org, &id), &patch),
    ] {
        let response = call(&app, &org, method.clone(), &url, Some(body)).await;
        let error = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, None).await;
        assert_eq!(error["status"], "413", "{method}");
    }
    assert_eq!(total_users(&app, &org).await, 1);
    assert_eq!(get_user(&app, &org, &id).await, created);
}

#[tokio::test]
async fn bad_input_is_never_a_5xx() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let created = create(&app, &org, &user("bea@example.com")).await;
    let id = id_of(&created);
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_object =
        format!("{{\"userName\": \"deep@example.com\", \"name\": {}1{}}}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let bodies: Vec<String> = vec![
        "null".into(),
        "\"a string\"".into(),
        "[]".into(),
        "42".into(),
        deep,
        deep_object,
        json!({"schemas": "not-a-list", "userName": "c@example.com"}).to_string(),
        json!({"schemas": [], "userName": "c@example.com"}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": ""}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "c@example.com", "emails": [{"value": "not an email", "primary": true}]}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "c@example.com", "emails": [null]}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "c@example.com", "name": {"givenName": ["x"]}}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "c@example.com", ENTERPRISE_SCHEMA: "not an object"}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "c@example.com", ENTERPRISE_SCHEMA: {"manager": 5}}).to_string(),
        json!({"schemas": [USER_SCHEMA], "userName": "\u{0000}\u{fffd}@example.com"}).to_string(),
        "{\"userName\": \"\\ud800@example.com\"}".into(),
    ];
    for text in &bodies {
        for (method, url) in [(Method::POST, users_url(&org)), (Method::PUT, user_url(&org, &id))] {
            let response = app
                .http
                .request(method.clone(), &url)
                .bearer_auth(&org.token)
                .header(CONTENT_TYPE, SCIM_JSON)
                .body(text.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let shown: String = text.chars().take(120).collect();
            assert!(!status.is_server_error(), "{method} {shown}: {status}");
            if status.is_client_error() {
                expect_error(response, status, None).await;
            }
        }
    }
    let long_id = "a".repeat(3000);
    for path in ["%00", "a%2Fb", "..%2F..%2FGroups", long_id.as_str(), "%F0%9F%92%A9", "USER%23x"] {
        let response = call(&app, &org, Method::GET, &user_url(&org, path), None).await;
        let status = response.status();
        assert!(status.is_client_error(), "GET /Users/{}: {status}", &path[..path.len().min(40)]);
    }
    assert_eq!(get_user(&app, &org, &id).await["id"], json!(id), "the service still answers");
}

// Conditional requests: ETags on users and groups alike.

#[tokio::test]
async fn a_conditional_get_answers_304_with_the_etag_for_users_and_groups_alike() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let user =
        created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&unique_email("etag"))))
            .await;
    let team = create_group(&app, &org, "Tagged", &[&user]).await;
    for path in [format!("/Users/{user}"), format!("/Groups/{team}")] {
        let (status, headers, _) = send(scim(&app, &org, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK);
        let tag = headers["etag"].to_str().unwrap().to_owned();
        for condition in [tag.as_str(), "*"] {
            let (status, headers, _) =
                send(scim(&app, &org, Method::GET, &path).header("if-none-match", condition)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} {condition}");
            assert_eq!(headers["etag"].to_str().unwrap(), tag, "{path}: a 304 carries the current ETag");
        }
        // A stale If-Match is refused the same way on both.
        let (status, _, body) = send(scim(&app, &org, Method::DELETE, &path).header("if-match", "W/\"999\"")).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("If-Match"), "{body}");
    }
}
