//! Entra's documented query attribute `emails[type eq "work"].value` in /Users filters: a value
//! filter followed by a sub-attribute means the same as the condition inside the brackets
//! (`emails[type eq "work" and value eq "x"]`), and its `value eq` is answered by the email key
//! lookup, as `emails.value eq` is, not by reading every member.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, encode, entra, ok_body, send_for_status_and_body, unique_email, with_body, ENTERPRISE_SCHEMA,
    LIST_SCHEMA, SEARCH_SCHEMA, USER_SCHEMA,
};

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
