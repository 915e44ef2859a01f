//! The SCIM request log in the console: newest first, cursor paging, filters, and never a secret.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, within_one_throttle_window, ConsoleOrg};
use crate::helpers::{spawn_app, TestApp};

async fn logs(app: &TestApp, org: &ConsoleOrg, query: &str) -> (StatusCode, Value) {
    call(app, Method::GET, &org.url(app, &format!("/scim/logs{query}")), Some(&org.owner.session), None).await
}

fn at(record: &Value) -> DateTime<Utc> {
    serde_json::from_value(record["at"].clone()).unwrap()
}

/// Sends a mix of SCIM requests (some carrying secrets where no IdP should put them); answers
/// the token and how many requests were sent.
async fn traffic(app: &TestApp, org: &ConsoleOrg) -> (String, usize) {
    let token = enable(app, org, "90d").await;
    let base = org.connector_url(app);
    let scim = |method: Method, path: &str| app.http.request(method, format!("{base}{path}")).bearer_auth(&token);
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jane@example.com",
        "password": "hunter2-user-password",
        "emails": [{ "value": "jane@example.com", "primary": true }],
    });
    let requests = vec![
        scim(Method::GET, "/Users?startIndex=1&count=10"),
        scim(Method::POST, "/Users").header("content-type", "application/scim+json").body(user.to_string()),
        scim(Method::GET, "/Users/does-not-exist"),
        scim(Method::GET, &format!("/Users?access_token={token}")),
        scim(Method::GET, "/Users?filter=password%20eq%20%22hunter2-filter%22"),
        scim(Method::PATCH, "/Users/does-not-exist").header("content-type", "application/scim+json").body("{}"),
        scim(Method::GET, "/Groups"),
        scim(Method::POST, "/Groups").header("content-type", "application/scim+json").body("{not json"),
        scim(Method::GET, "/ServiceProviderConfig"),
    ];
    let count = requests.len();
    for request in requests {
        request.send().await.unwrap();
    }
    app.flush_logs().await;
    (token, count)
}

#[tokio::test]
async fn the_log_is_newest_first_pages_with_a_cursor_and_never_shows_a_secret() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let (token, sent) = traffic(&app, &org).await;

    let (code, all) = logs(&app, &org, "").await;
    assert_eq!(code, StatusCode::OK, "{all}");
    let records = all["logs"].as_array().unwrap().clone();
    assert_eq!(records.len(), sent, "{all}");
    assert_eq!(all["nextCursor"], Value::Null);
    let times: Vec<DateTime<Utc>> = records.iter().map(at).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first: {times:?}");
    assert_eq!(records[0]["path"].as_str().unwrap(), format!("/scim/v2/orgs/{}/ServiceProviderConfig", org.id));
    let created = records.iter().find(|r| r["method"] == "POST" && r["resourceType"] == "Users").unwrap();
    assert_eq!(created["status"], 201);
    for field in ["requestId", "latencyMs", "idp", "tolerances"] {
        assert!(created.get(field).is_some(), "{field} missing: {created}");
    }
    let bad_json = records.iter().find(|r| r["method"] == "POST" && r["resourceType"] == "Groups").unwrap();
    assert_eq!(bad_json["status"], 400);
    assert_eq!(bad_json["scimType"], "invalidSyntax");

    let text = all.to_string();
    for secret in [token.as_str(), "hunter2", &org.owner.passphrase, &org.owner.session] {
        assert!(!text.contains(secret), "the log shows {secret}: {text}");
    }
    assert!(text.contains("access_token=[redacted]"), "{text}");

    // Two at a time: the same records, in the same order, none twice.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let query = match &cursor {
            Some(cursor) => format!("?limit=2&cursor={cursor}"),
            None => "?limit=2".to_owned(),
        };
        let (code, page) = logs(&app, &org, &query).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        let items = page["logs"].as_array().unwrap();
        assert!(items.len() <= 2);
        paged.extend(items.iter().map(|r| r["requestId"].clone()));
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<Value> = records.iter().map(|r| r["requestId"].clone()).collect();
    assert_eq!(paged, expected);
}

#[tokio::test]
async fn the_log_filters_by_status_class_method_resource_type_and_time() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    traffic(&app, &org).await;
    let (_, all) = logs(&app, &org, "").await;
    let records = all["logs"].as_array().unwrap().clone();

    let check = |query: &'static str, keep: fn(&Value) -> bool| {
        let expected: Vec<Value> = records.iter().filter(|r| keep(r)).map(|r| r["requestId"].clone()).collect();
        (query, expected)
    };
    for (query, expected) in [
        check("?status=4xx", |r| (400..500).contains(&r["status"].as_u64().unwrap())),
        check("?status=2XX", |r| (200..300).contains(&r["status"].as_u64().unwrap())),
        check("?status=5xx", |_| false),
        check("?status=404", |r| r["status"] == 404),
        check("?method=post", |r| r["method"] == "POST"),
        check("?resourceType=groups", |r| r["resourceType"] == "Groups"),
        check("?method=GET&resourceType=Users&status=2xx", |r| {
            r["method"] == "GET" && r["resourceType"] == "Users" && r["status"] == 200
        }),
    ] {
        let (code, page) = logs(&app, &org, query).await;
        assert_eq!(code, StatusCode::OK, "{query}: {page}");
        let got: Vec<Value> = page["logs"].as_array().unwrap().iter().map(|r| r["requestId"].clone()).collect();
        assert_eq!(got, expected, "{query}");
    }
    // A filtered page of one still pages through every match.
    let (_, first) = logs(&app, &org, "?status=4xx&limit=1").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = logs(&app, &org, &format!("?status=4xx&limit=1&cursor={cursor}")).await;
    assert_ne!(first["logs"][0]["requestId"], second["logs"][0]["requestId"]);
    assert!((400..500).contains(&second["logs"][0]["status"].as_u64().unwrap()));

    // A time range: from the third oldest to the third newest, both included.
    let (newest, oldest) = (at(&records[2]), at(&records[records.len() - 3]));
    let range = format!("?from={}&to={}", oldest.to_rfc3339(), newest.to_rfc3339()).replace('+', "%2B");
    let (code, page) = logs(&app, &org, &range).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    let got: BTreeSet<String> = page["logs"].as_array().unwrap().iter().map(|r| r["requestId"].to_string()).collect();
    let expected: BTreeSet<String> = records[2..records.len() - 2].iter().map(|r| r["requestId"].to_string()).collect();
    assert_eq!(got, expected);

    for bad in [
        "?status=7xx",
        "?method=TRACE",
        "?resourceType=Bulk",
        "?from=yesterday",
        "?limit=1000",
        "?cursor=%%%",
        "?sort=at",
    ] {
        let (code, body) = logs(&app, &org, bad).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // A cursor outside the requested time range is refused, not a server error.
    let (_, first) = logs(&app, &org, "?limit=1").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (code, body) = logs(
        &app,
        &org,
        &format!("?to={}&cursor={cursor}", at(&records[records.len() - 1]).to_rfc3339().replace('+', "%2B")),
    )
    .await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")), "{body}");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_logged_at_a_bounded_rate_per_organization_and_source() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;
    let url = format!("{}/Users?count=1", org.connector_url(&app));
    let from = |last: u8| {
        let address = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last));
        reqwest::Client::builder().local_address(address).build().unwrap()
    };
    // Anyone can claim to be Okta and send no token (or a wrong one): 15 from one address, 10
    // from each of two more.
    for (last, count) in [(21u8, 15), (22, 10), (23, 10)] {
        let client = from(last);
        for n in 0..count {
            let mut request = client.get(&url).header("user-agent", "Okta SCIM Client 1.0.0");
            if n % 2 == 1 {
                request = request.bearer_auth("iscim_not_the_token");
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        }
    }
    // The IdP's own requests are always logged.
    for _ in 0..3 {
        assert_eq!(app.get(&url, &token).send().await.unwrap().status(), StatusCode::OK);
    }
    app.flush_logs().await;
    let (code, page) = logs(&app, &org, "?limit=200").await;
    assert_eq!(code, StatusCode::OK, "{page}");
    let records = page["logs"].as_array().unwrap();
    let refused: Vec<&Value> = records.iter().filter(|r| r["status"] == 401).collect();
    let served = records.iter().filter(|r| r["status"] == 200).count();
    assert_eq!(served, 3, "{page}");
    // At most 10 per source and 20 per organization in a window: 10 from the first address and
    // 10 more from the others, not 35.
    assert_eq!(refused.len(), 20, "{page}");
    assert!(refused.iter().all(|r| r["authenticated"] == false), "{refused:?}");
    assert!(records.iter().filter(|r| r["status"] == 200).all(|r| r["authenticated"] == true), "{page}");
}
