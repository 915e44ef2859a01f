//! The request log explains itself: each row names its subject and says its operation in words,
//! keeps both bodies with every secret masked at write (bounded, the cut marked), filters by
//! subject and operation; and each member has a provisioning timeline with diffs.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, ConsoleOrg};
use crate::helpers::TestApp;
use crate::secrets::{password_keys, password_patch_forms};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

struct Connector<'a> {
    app: &'a TestApp,
    org: ConsoleOrg,
    token: String,
}

impl<'a> Connector<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let org = console_org(app).await;
        let token = enable(app, &org, "90d").await;
        Self { app, org, token }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self
            .app
            .http
            .request(method, format!("{}{path}", self.org.connector_url(self.app)))
            .bearer_auth(&self.token)
            .header("user-agent", "Okta SCIM Client 1.0.0");
        if let Some(body) = body {
            request = request.header("content-type", "application/scim+json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create_user(&self, email: &str) -> String {
        let body = json!({"schemas": [USER_SCHEMA], "userName": email, "name": {"givenName": "Bob"},
            "emails": [{"value": email, "type": "work", "primary": true}], "active": true});
        let (status, created) = self.send(Method::POST, "/Users", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    async fn patch(&self, path: &str, operations: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(&json!({"schemas": [PATCH_SCHEMA], "Operations": operations}))).await
    }

    async fn logs(&self, query: &str) -> Vec<Value> {
        self.app.flush_logs().await;
        let url = self.org.url(self.app, &format!("/scim/logs{query}"));
        let (status, page) = call(self.app, Method::GET, &url, Some(&self.org.owner.session), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["logs"].as_array().unwrap().clone()
    }

    async fn timeline(&self, member: &str) -> (StatusCode, Value) {
        self.app.flush_logs().await;
        let url = self.org.url(self.app, &format!("/members/{member}/timeline"));
        call(self.app, Method::GET, &url, Some(&self.org.owner.session), None).await
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn bodies_are_kept_with_every_password_and_token_masked_at_write() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let mut secrets = Vec::new();
    for (i, key) in password_keys().into_iter().enumerate() {
        let secret = format!("Post-Secret-{i}-{}", uuid::Uuid::new_v4().simple());
        let email = unique("pw");
        let mut body =
            json!({"schemas": [USER_SCHEMA], "userName": email, "emails": [{"value": email, "primary": true}]});
        body[key.as_str()] = json!(secret);
        let (status, created) = idp.send(Method::POST, "/Users", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {created}");
        secrets.push(secret);
    }
    let id = idp.create_user(&unique("patched")).await;
    let forms = password_patch_forms();
    for (i, form) in forms.iter().enumerate() {
        let secret = format!("Patch-Secret-{i}-{}", uuid::Uuid::new_v4().simple());
        let (status, answer) = idp.patch(&format!("/Users/{id}"), form(&secret)).await;
        assert!(status.is_success(), "form {i}: {answer}");
        secrets.push(secret);
    }
    // A token pasted as an attribute name, and a password in a body that is not JSON.
    let pasted = json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", idp.token.clone(): "x"});
    assert_eq!(idp.send(Method::POST, "/Users", Some(&pasted)).await.0, StatusCode::BAD_REQUEST);
    let broken = format!("Broken-Secret-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .http
        .post(format!("{}/Users", idp.org.connector_url(&app)))
        .bearer_auth(&idp.token)
        .header("content-type", "application/scim+json")
        .body(format!("{{\"userName\": \"y@example.com\", \"password\": \"{broken}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    secrets.push(broken);

    let logs = idp.logs("?limit=200").await;
    app.flush_logs().await;
    let table = app.dump_table().await;
    for secret in secrets.iter().chain([&idp.token]) {
        assert!(!table.contains(secret.as_str()), "a secret from a body reached the table: {secret}");
    }
    assert!(!serde_json::to_string(&logs).unwrap().contains(&idp.token));
    // The bodies are there, masked, and the rest stays readable.
    let posts: Vec<&Value> = logs.iter().filter(|l| l["method"] == "POST" && l["status"] == 201).collect();
    assert_eq!(posts.len(), 6, "five spellings and one plain create");
    for post in &posts[1..] {
        let sent = post["requestBody"]["text"].as_str().unwrap();
        assert!(sent.contains("[redacted]") && sent.contains("\"userName\""), "{sent}");
        let answered = post["responseBody"]["text"].as_str().unwrap();
        assert!(answered.contains("\"id\""), "{answered}");
        assert_eq!(post["requestBody"]["truncated"], false);
    }
    let patches: Vec<&Value> = logs.iter().filter(|l| l["method"] == "PATCH").collect();
    assert_eq!(patches.len(), 6);
    assert!(patches.iter().all(|p| p["requestBody"]["text"].as_str().unwrap().contains("[redacted]")));
    let pasted_row = logs
        .iter()
        .find(|l| l["status"] == 400 && l["requestBody"]["text"].as_str().unwrap().contains("x@example.com"))
        .unwrap();
    assert!(pasted_row["requestBody"]["text"].as_str().unwrap().contains("[redacted]"), "{pasted_row}");
    let unreadable =
        logs.iter().find(|l| l["status"] == 400 && l["resourceType"] == "Users" && l["scimType"] == "invalidSyntax");
    assert!(
        unreadable.is_some_and(|l| l["requestBody"]["text"].as_str().unwrap().starts_with("[not kept")),
        "{logs:#?}"
    );
}

#[tokio::test]
async fn a_body_over_16_kb_is_cut_and_the_cut_is_marked() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let long = "a".repeat(40 * 1024);
    let (status, _) = idp.patch("/Users/nobody", json!([{"op": "replace", "path": "title", "value": long}])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let logs = idp.logs("?method=PATCH").await;
    let body = &logs[0]["requestBody"];
    assert_eq!(body["truncated"], true, "{body}");
    assert!(body["bytes"].as_u64().unwrap() > 40 * 1024);
    let text = body["text"].as_str().unwrap();
    assert!(text.len() < 17 * 1024, "kept {} bytes", text.len());
    assert!(text.ends_with("the first 16 KB are kept]"), "{}", &text[text.len() - 80..]);
    assert_eq!(logs[0]["responseBody"]["truncated"], false);
}

#[tokio::test]
async fn rows_name_their_subject_and_operation_and_filter_by_them() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let bob = unique("bob");
    let bob_id = idp.create_user(&bob).await;
    let members: Vec<String> =
        [unique("m1"), unique("m2"), unique("m3")].iter().map(String::as_str).map(str::to_owned).collect();
    let mut member_ids = Vec::new();
    for email in &members {
        member_ids.push(idp.create_user(email).await);
    }
    let (status, _) = idp
        .patch(&format!("/Users/{bob_id}"), json!([{"op": "replace", "path": "name.givenName", "value": "Robert"}, {"op": "add", "path": "title", "value": "Engineer"}]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        idp.patch(&format!("/Users/{bob_id}"), json!([{"op": "replace", "path": "active", "value": false}])).await.0,
        StatusCode::OK
    );
    let (status, group) = idp
        .send(Method::POST, "/Groups", Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = group["id"].as_str().unwrap().to_owned();
    let adds: Vec<Value> = member_ids.iter().map(|id| json!({"value": id})).collect();
    let (status, _) =
        idp.patch(&format!("/Groups/{group_id}"), json!([{"op": "add", "path": "members", "value": adds}])).await;
    assert!(status.is_success());
    let removal = format!("members[value eq \"{}\"]", member_ids[0]);
    assert!(idp.patch(&format!("/Groups/{group_id}"), json!([{"op": "remove", "path": removal}])).await.0.is_success());
    let filter = format!("userName eq \"{bob}\"");
    let list = format!("/Users?filter={}", filter.replace(' ', "%20").replace('"', "%22"));
    assert_eq!(idp.send(Method::GET, &list, None).await.0, StatusCode::OK);

    let logs = idp.logs("").await;
    let summaries: Vec<&str> = logs.iter().map(|l| l["summary"].as_str().unwrap_or_default()).collect();
    for expected in [
        format!("Created {bob}"),
        format!("Updated {bob} (name.givenName, title)"),
        format!("Deactivated {bob}"),
        "Created Engineering".to_owned(),
        "Added 3 members to Engineering".to_owned(),
        "Removed 1 member from Engineering".to_owned(),
    ] {
        assert!(summaries.contains(&expected.as_str()), "{expected} not in {summaries:#?}");
    }
    let listed = logs.iter().find(|l| l["operation"] == "listed").unwrap()["summary"].as_str().unwrap();
    assert!(listed.starts_with("Listed users (filter userName eq") && listed.contains(&bob), "{listed}");
    let deactivated = logs.iter().find(|l| l["operation"] == "deactivated").unwrap();
    assert_eq!(deactivated["subject"]["id"], bob_id.as_str());
    assert_eq!(deactivated["subject"]["name"], bob.as_str());
    assert_eq!(deactivated["subject"]["kind"], "user");

    // Filters, on the server: by part of the subject's name (any case) or its id, by operation.
    let by_name = idp.logs(&format!("?subject={}", bob.split('@').next().unwrap().to_uppercase())).await;
    assert_eq!(by_name.len(), 3, "create, update, deactivate: {by_name:#?}");
    assert!(by_name.iter().all(|l| l["subject"]["id"] == bob_id.as_str()));
    assert_eq!(idp.logs(&format!("?subject={bob_id}")).await.len(), 3);
    let deactivations = idp.logs("?operation=deactivated").await;
    assert_eq!(deactivations.len(), 1);
    let member_changes = idp.logs("?operation=members&subject=engineering").await;
    assert_eq!(member_changes.len(), 2);
    let url = idp.org.url(&app, "/scim/logs?operation=renamed");
    let (status, error) = call(&app, Method::GET, &url, Some(&idp.org.owner.session), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

#[tokio::test]
async fn a_members_timeline_shows_its_history_newest_first_with_diffs() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let bob = unique("bob");
    let id = idp.create_user(&bob).await;
    let (status, _) = idp
        .patch(&format!("/Users/{id}"), json!([{"op": "replace", "path": "name.givenName", "value": "Robert"}, {"op": "add", "path": "title", "value": "Engineer"}]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = format!("Timeline-Secret-{}", uuid::Uuid::new_v4().simple());
    assert!(idp
        .patch(&format!("/Users/{id}"), json!([{"op": "replace", "path": "password", "value": secret}]))
        .await
        .0
        .is_success());
    let (_, group) = idp
        .send(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": id}]})),
        )
        .await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    assert!(idp
        .patch(&format!("/Groups/{group_id}"), json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]))
        .await
        .0
        .is_success());
    assert_eq!(
        idp.patch(&format!("/Users/{id}"), json!([{"op": "replace", "path": "active", "value": false}])).await.0,
        StatusCode::OK
    );
    // Another member's history is not in it.
    idp.create_user(&unique("other")).await;

    let (status, page) = idp.timeline(&id).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events = page["events"].as_array().unwrap();
    let summaries: Vec<&str> = events.iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["Deactivated", "Left Sales", "Joined Sales", "Updated", "Created"], "{page:#}");
    let deactivated = &events[0]["changes"];
    assert_eq!(deactivated, &json!([{"attribute": "active", "old": "true", "new": "false"}]));
    let updated = events[3]["changes"].as_array().unwrap();
    let given = updated.iter().find(|c| c["attribute"] == "name.givenName").unwrap();
    assert_eq!((given["old"].as_str(), given["new"].as_str()), (Some("Bob"), Some("Robert")));
    let title = updated.iter().find(|c| c["attribute"] == "title").unwrap();
    assert_eq!((title["old"].as_str(), title["new"].as_str()), (None, Some("Engineer")));
    let created = events[4]["changes"].as_array().unwrap();
    assert!(created.iter().any(|c| c["attribute"] == "userName" && c["new"] == bob.as_str()), "{created:?}");
    assert!(events.iter().all(|e| e["requestId"].as_str().is_some_and(|r| !r.is_empty())));
    assert!(!page.to_string().contains(&secret));
    assert!(!app.dump_table().await.contains(&secret));

    // One Query of the member's own partition: a member nobody provisioned has none.
    let (status, empty) = idp.timeline("no-such-member").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["events"], json!([]));
}

#[tokio::test]
async fn a_team_change_writes_a_bounded_number_of_timelines_and_says_how_many_more() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let bound = insomnia_scim::log::TIMELINE_MEMBERS_PER_REQUEST;
    let mut ids = Vec::new();
    for i in 0..bound + 2 {
        ids.push(idp.create_user(&unique(&format!("bulk{i}"))).await);
    }
    let (_, group) =
        idp.send(Method::POST, "/Groups", Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "Everyone"}))).await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    let adds: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    assert!(idp
        .patch(&format!("/Groups/{group_id}"), json!([{"op": "add", "path": "members", "value": adds}]))
        .await
        .0
        .is_success());

    let row = idp.logs("?operation=members").await;
    let summary = row[0]["summary"].as_str().unwrap();
    assert!(summary.starts_with(&format!("Added {} members to Everyone", bound + 2)), "{summary}");
    assert!(summary.contains(&format!("first {bound} members, and 2 more")), "{summary}");
    let mut joined = 0;
    for id in &ids {
        let (_, page) = idp.timeline(id).await;
        joined += page["events"].as_array().unwrap().iter().filter(|e| e["summary"] == "Joined Everyone").count();
    }
    assert_eq!(joined, bound);
}

#[tokio::test]
async fn a_request_that_touches_a_member_twice_keeps_both_events_and_its_row() {
    let app = crate::helpers::spawn_app().await;
    let idp = Connector::new(&app).await;
    let id = idp.create_user(&unique("twice")).await;
    let patch = |value: &str| {
        json!({"method": "PATCH", "path": format!("/Users/{id}"), "data": {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": value}]}})
    };
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [patch("First"), patch("Second")]});
    let (status, answer) = idp.send(Method::POST, "/Bulk", Some(&bulk)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let rows: Vec<Value> =
        idp.logs("?method=POST").await.into_iter().filter(|r| r["path"].as_str().unwrap().ends_with("/Bulk")).collect();
    assert_eq!(rows.len(), 1, "the request's row is written beside two entries of one member: {rows:#?}");
    let (_, page) = idp.timeline(&id).await;
    let events = page["events"].as_array().unwrap();
    let summaries: Vec<&str> = events.iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["Updated", "Updated", "Created"], "{page:#}");
    assert_eq!(events[0]["changes"], json!([{"attribute": "title", "old": "First", "new": "Second"}]));
    assert_eq!(events[1]["changes"], json!([{"attribute": "title", "old": null, "new": "First"}]));
}
