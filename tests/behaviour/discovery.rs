//! RFC 7644 §4 discovery documents, served per organization.
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

async fn get_json(app: &crate::helpers::TestApp, url: &str, token: &str) -> Value {
    let response = app.get(url, token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn service_provider_config_advertises_what_is_implemented() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let spc = get_json(&app, &format!("{}/ServiceProviderConfig", org.base), &org.token).await;
    assert_eq!(spc["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig");
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 100);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["filter"]["maxResults"], 200);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(spc["meta"]["location"], format!("{}/ServiceProviderConfig", org.base));
}

#[tokio::test]
async fn resource_types_list_user_and_group() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let list = get_json(&app, &format!("{}/ResourceTypes", org.base), &org.token).await;
    assert_eq!(list["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(list["totalResults"], 2);
    let names: Vec<&str> = list["Resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["User", "Group"]);
    let user = get_json(&app, &format!("{}/ResourceTypes/User", org.base), &org.token).await;
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schemaExtensions"][0]["schema"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    assert_eq!(user["meta"]["location"], format!("{}/ResourceTypes/User", org.base));

    let missing = app.get(&format!("{}/ResourceTypes/Widget", org.base), &org.token).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["status"], "404");
}

#[tokio::test]
async fn schemas_describe_user_group_and_enterprise_user() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let list = get_json(&app, &format!("{}/Schemas", org.base), &org.token).await;
    let ids: Vec<&str> = list["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ]
    );
    let user =
        get_json(&app, &format!("{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", org.base), &org.token).await;
    let user_name = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let group =
        get_json(&app, &format!("{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", org.base), &org.token).await;
    let members = group["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "members").unwrap();
    assert_eq!(members["multiValued"], true);
    let missing = app.get(&format!("{}/Schemas/urn:nope", org.base), &org.token).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
