//! RFC 7644 §4 discovery documents. They advertise exactly what the service implements.
use serde_json::{json, Value};

use super::bulk::{BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_BYTES};
use super::schema::{SchemaDef, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SCHEMAS, USER_SCHEMA};
use super::{CURSOR_TIMEOUT_SECS, DEFAULT_PAGE_SIZE, LIST_RESPONSE_SCHEMA, MAX_RESULTS};

pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://developer.konghq.com/insomnia/scim/",
        "patch": { "supported": true },
        // RFC 9865: `startIndex` and `cursor` paging of /Users (docs/ARCHITECTURE.md, "Paging").
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_PAGE_SIZE,
            "maxPageSize": MAX_RESULTS,
            "cursorTimeout": CURSOR_TIMEOUT_SECS
        },
        // docs/ARCHITECTURE.md, "Bulk": limits that fit the function's time and memory budgets.
        "bulk": { "supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD_BYTES },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The connector token generated in Insomnia (Enterprise Controls > SCIM), sent as 'Authorization: Bearer <token>'.",
            "primary": true
        }, {
            "type": "oauth2",
            "name": "OAuth 2.0",
            "description": "An access token from the service's OAuth 2.0 token endpoint (authorization code with PKCE, or client credentials, for the organization's OAuth client), sent as 'Authorization: Bearer <token>'.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6749",
            "primary": false
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig")
        }
    })
}

pub const RESOURCE_TYPE_IDS: [&str; 2] = ["User", "Group"];

pub fn resource_type(id: &str, base_url: &str) -> Option<Value> {
    let (endpoint, description, schema, extensions): (&str, &str, &str, Vec<Value>) =
        match id.to_ascii_lowercase().as_str() {
            "user" => (
                "/Users",
                "Members of the Insomnia organization",
                USER_SCHEMA,
                vec![json!({ "schema": ENTERPRISE_USER_SCHEMA, "required": false })],
            ),
            "group" => ("/Groups", "Teams of the Insomnia organization", GROUP_SCHEMA, vec![]),
            _ => return None,
        };
    let name = if schema == USER_SCHEMA { "User" } else { "Group" };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": { "resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/{name}") }
    }))
}

pub fn resource_types(base_url: &str) -> Value {
    let resources: Vec<Value> = RESOURCE_TYPE_IDS.iter().filter_map(|id| resource_type(id, base_url)).collect();
    list_response(resources)
}

pub fn schemas(base_url: &str) -> Value {
    list_response(SCHEMAS.iter().map(|s| s.to_json(base_url)).collect())
}

pub fn schema(id: &str, base_url: &str) -> Option<Value> {
    SchemaDef::find(id).map(|s| s.to_json(base_url))
}

/// A complete, single-page ListResponse.
fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_point_at_the_organization_base() {
        let base = "https://api/scim/v2/orgs/acme";
        assert_eq!(service_provider_config(base)["meta"]["location"], format!("{base}/ServiceProviderConfig"));
        let types = resource_types(base);
        assert_eq!(types["totalResults"], 2);
        assert_eq!(types["Resources"][0]["schemaExtensions"][0]["schema"], ENTERPRISE_USER_SCHEMA);
        assert_eq!(resource_type("group", base).unwrap()["endpoint"], "/Groups");
        assert!(resource_type("Widget", base).is_none());
        assert_eq!(schemas(base)["totalResults"], 3);
        assert!(schema(ENTERPRISE_USER_SCHEMA, base).is_some());
        assert!(schema("urn:nope", base).is_none());
    }
}
