//! Members and licenses in the console: who manages each member, active, role, teams, counts.
use std::collections::BTreeMap;

use insomnia_scim::domain::{MemberRole, Plan};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org_with, enable, person, unique_email};
use crate::helpers::spawn_app;

#[tokio::test]
async fn members_show_who_manages_them_their_role_and_teams_and_the_licenses_add_up() {
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, Some(10)).await;
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "co-owner").await;
    let member = person(&app, &org.id, MemberRole::Member, "member").await;
    let token = enable(&app, &org, "90d").await;
    let base = org.connector_url(&app);
    let scim = |method: Method, path: &str, body: Value| {
        app.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
    };

    let mut provisioned = Vec::new();
    for prefix in ["provisioned", "leaver"] {
        let email = unique_email(prefix);
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "externalId": format!("ext-{prefix}"),
            "emails": [{ "value": email, "primary": true }],
            "active": true,
        });
        let response = scim(Method::POST, "/Users", body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        provisioned.push((email, created["id"].as_str().unwrap().to_owned()));
    }
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "active", "value": false }],
    });
    let response = scim(Method::PATCH, &format!("/Users/{}", provisioned[1].1), deactivate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let team = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Platform",
        "members": [{ "value": provisioned[0].1 }],
    });
    let response = scim(Method::POST, "/Groups", team).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    app.flush_logs().await;

    let (code, page) = call(&app, Method::GET, &org.url(&app, "/members"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert_eq!(
        page["licenses"],
        json!({
            "scimProvisioned": 1,
            "manual": 3,
            "totalConsuming": 4,
            "seatLimit": 10,
            "available": 6,
            "members": 5,
        })
    );
    let by_email: BTreeMap<String, Value> = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m.clone()))
        .collect();
    assert_eq!(by_email.len(), 5);
    let expect = |email: &str, managed_by: &str, role: &str, active: bool| {
        let m = &by_email[email];
        assert_eq!(m["managedBy"], managed_by, "{m}");
        assert_eq!(m["role"], role, "{m}");
        assert_eq!(m["active"], active, "{m}");
        assert_eq!(m["consumesLicense"], active, "{m}");
    };
    expect(&org.owner.email, "manual", "owner", true);
    expect(&co_owner.email, "manual", "co-owner", true);
    expect(&member.email, "manual", "member", true);
    expect(&provisioned[0].0, "scim", "member", true);
    expect(&provisioned[1].0, "scim", "member", false);
    let teams = &by_email[&provisioned[0].0]["teams"];
    assert_eq!(teams.as_array().unwrap().len(), 1, "{teams}");
    assert_eq!(teams[0]["displayName"], "Platform");
    assert_eq!(by_email[&provisioned[0].0]["externalId"], "ext-provisioned");
    assert_eq!(by_email[&member.email]["teams"], json!([]));
    assert!(!page.to_string().contains(&token));

    // Two at a time: every member once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut url = org.url(&app, "/members?limit=2");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (code, page) = call(&app, Method::GET, &url, Some(&co_owner.session), None).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        seen.extend(page["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let mut all: Vec<String> = by_email.values().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    all.sort();
    assert_eq!(seen, all);

    let (code, _) = call(&app, Method::GET, &org.url(&app, "/members?limit=500"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/members"), Some(&member.session), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_person_sees_the_organizations_they_administer_by_name_and_no_others() {
    let app = spawn_app().await;
    let first = crate::admin_support::console_org(&app).await;
    let second = crate::admin_support::console_org(&app).await;
    let third = crate::admin_support::console_org(&app).await;
    app.try_add_manual_member(&second.id, &first.owner.email, MemberRole::CoOwner).await.unwrap();
    app.try_add_manual_member(&third.id, &first.owner.email, MemberRole::Member).await.unwrap();
    let listed = |session: String| {
        let app = &app;
        async move {
            let url = format!("{}/admin/orgs", app.address);
            let (code, body) = call(app, Method::GET, &url, Some(&session), None).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            let rows = body["organizations"].as_array().unwrap().clone();
            rows.iter()
                .map(|o| (o["id"].as_str().unwrap().to_owned(), o["role"].as_str().unwrap().to_owned()))
                .collect()
        }
    };
    let mine: BTreeMap<String, String> = listed(first.owner.session.clone()).await;
    let expected: BTreeMap<String, String> =
        [(first.id.to_string(), "owner".to_owned()), (second.id.to_string(), "co_owner".to_owned())].into();
    assert_eq!(mine, expected, "a plain membership is not listed");
    let theirs: BTreeMap<String, String> = listed(second.owner.session.clone()).await;
    assert_eq!(theirs.keys().collect::<Vec<_>>(), [&second.id.to_string()]);

    let (code, _) = call(&app, Method::GET, &format!("{}/admin/orgs", app.address), None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}
