//! Tokens never reach the table, the request log or the process logs; the request log records
//! each SCIM request of a known organization.
use crate::helpers::OperatorScope;
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn no_token_value_is_stored_or_logged() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let wrong = "iscim_this-is-a-wrong-but-plausible-token";
    for token in [org.token.as_str(), wrong] {
        app.http
            .get(format!("{}/ServiceProviderConfig?filter=x", org.base))
            .bearer_auth(token)
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .send()
            .await
            .unwrap();
    }
    app.flush_logs().await;

    let table = app.dump_table().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    let process_logs = crate::helpers::process_logs();
    assert!(!process_logs.is_empty(), "the capture must see the service's traces");
    for secret in [org.token.as_str(), wrong] {
        assert!(!table.contains(secret), "token found in the table");
        assert!(!format!("{logs:?}").contains(secret), "token found in the request log");
        assert!(!process_logs.contains(secret), "token found in the process logs");
    }
    assert!(!table.to_lowercase().contains("authorization"), "no header is stored");
}

#[tokio::test]
async fn each_scim_request_is_recorded_newest_first() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let ok = app
        .http
        .get(format!("{}/Schemas?attributes=id", org.base))
        .bearer_auth(&org.token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let request_id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    app.flush_logs().await;
    let denied = app
        .http
        .get(format!("{}/ServiceProviderConfig", org.base))
        .bearer_auth("iscim_wrong")
        .header("user-agent", "Microsoft.Identity.Provisioning")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    app.flush_logs().await;

    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let (newest, oldest) = (&logs[0], &logs[1]);
    assert_eq!(newest.status, 401);
    assert_eq!(newest.idp, "azure");
    assert!(newest.detail.as_deref().unwrap().contains("not valid"));
    assert_eq!(newest.resource_type.as_deref(), Some("ServiceProviderConfig"));
    assert_eq!(oldest.status, 200);
    assert_eq!(oldest.method, "GET");
    assert_eq!(oldest.path, format!("/scim/v2/orgs/{}/Schemas", org.id));
    assert_eq!(oldest.query.as_deref(), Some("attributes=id"));
    assert_eq!(oldest.idp, "okta");
    assert_eq!(oldest.request_id, request_id);
    assert!(oldest.scim_type.is_none() && oldest.detail.is_none());
}

#[tokio::test]
async fn requests_for_unknown_organizations_are_not_recorded() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.get(&format!("{}/scim/v2/orgs/ghost/Schemas", app.address), &org.token).send().await.unwrap();
    app.flush_logs().await;
    let ghost = insomnia_scim::domain::OrgId::parse("ghost").unwrap();
    assert!(app.store.recent_request_logs(&ghost.scope(), 10).await.unwrap().is_empty());
}
