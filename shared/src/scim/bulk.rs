//! Bulk requests (RFC 7644 §3.7), pure: parsing a BulkRequest, its limits, `bulkId` references, and
//! the BulkResponse. Each operation is run by the API layer through the handler and use case of the
//! single request it stands for (docs/ARCHITECTURE.md, "Bulk").
use serde_json::{json, Map, Value};

use super::{ScimError, ScimType};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Most operations one Bulk request may hold, announced as `bulk.maxOperations`. Operations run one after
/// the other, each as its single request would (a create: about 3 round trips, a few tens of ms in AWS), so
/// 100 stay well inside the function's 29 s timeout (docs/ARCHITECTURE.md, "Bulk").
pub const BULK_MAX_OPERATIONS: usize = 100;
/// Largest Bulk body, announced as `bulk.maxPayloadSize`: 100 operations of 10 KiB.
pub const BULK_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
const BULK_ID_PREFIX: &str = "bulkId:";

/// The HTTP methods a Bulk operation may use (RFC 7644 §3.7: no GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// The resource types a Bulk operation may address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkResource {
    Users,
    Groups,
}

impl BulkResource {
    pub fn endpoint(&self) -> &'static str {
        match self {
            Self::Users => "/Users",
            Self::Groups => "/Groups",
        }
    }
}

/// One operation as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    /// The resource type and, except for POST, the resource id (possibly `bulkId:…`).
    pub resource: BulkResource,
    pub id: Option<String>,
    /// `version`: sent as If-Match.
    pub version: Option<String>,
    pub data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    pub operations: Vec<BulkOperation>,
    /// Stop after this many errors (RFC 7644 §3.7.3); None runs every operation.
    pub fail_on_errors: Option<usize>,
}

fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}

impl BulkRequest {
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let Some(body) = body.as_object() else {
            return Err(invalid("The Bulk request must be a JSON object.".to_owned()));
        };
        let schemas_ok = get(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(BULK_REQUEST_SCHEMA)));
        if !schemas_ok {
            return Err(invalid(format!("'schemas' must contain \"{BULK_REQUEST_SCHEMA}\".")));
        }
        let fail_on_errors = match get(body, "failOnErrors") {
            None => None,
            Some(value) => match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidValue,
                        "'failOnErrors' must be a positive integer.",
                    ))
                }
            },
        };
        let Some(Value::Array(list)) = get(body, "Operations") else {
            return Err(invalid("'Operations' must be an array of operations.".to_owned()));
        };
        if list.len() > BULK_MAX_OPERATIONS {
            return Err(too_many_operations(list.len()));
        }
        let operations = list.iter().enumerate().map(|(i, op)| parse_operation(i, op)).collect::<Result<_, _>>()?;
        let request = Self { operations, fail_on_errors };
        request.check_bulk_ids()?;
        Ok(request)
    }

    fn check_bulk_ids(&self) -> Result<(), ScimError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, op) in self.operations.iter().enumerate() {
            if let Some(id) = &op.bulk_id {
                if !seen.insert(id.as_str()) {
                    return Err(invalid(format!("Operations[{i}]: the bulkId '{id}' is used twice.")));
                }
            }
        }
        Ok(())
    }
}

/// `413` for a request of more operations than `maxOperations` (RFC 7644 §3.7.4).
pub fn too_many_operations(count: usize) -> ScimError {
    ScimError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        None,
        format!(
            "The Bulk request holds {count} operations; at most {BULK_MAX_OPERATIONS} are accepted (ServiceProviderConfig \
             bulk.maxOperations). Split it into several requests."
        ),
    )
}

/// `413` for a body over `maxPayloadSize` (RFC 7644 §3.7.4).
pub fn too_large() -> ScimError {
    ScimError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        None,
        format!(
            "The Bulk request is larger than {BULK_MAX_PAYLOAD_BYTES} bytes (ServiceProviderConfig bulk.maxPayloadSize). \
             Split it into several requests."
        ),
    )
}

fn parse_operation(i: usize, op: &Value) -> Result<BulkOperation, ScimError> {
    let Some(op) = op.as_object() else {
        return Err(invalid(format!("Operations[{i}] must be an object.")));
    };
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match get(op, name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("Operations[{i}].{name} must be a string."))),
        }
    };
    let method = match text("method")?.map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("POST") => BulkMethod::Post,
        Some("PUT") => BulkMethod::Put,
        Some("PATCH") => BulkMethod::Patch,
        Some("DELETE") => BulkMethod::Delete,
        Some(other) => {
            return Err(invalid(format!(
                "Operations[{i}].method '{other}' is not a Bulk method: use POST, PUT, PATCH or DELETE."
            )))
        }
        None => return Err(invalid(format!("Operations[{i}] needs a 'method'."))),
    };
    let bulk_id = text("bulkId")?;
    if method == BulkMethod::Post && bulk_id.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(format!("Operations[{i}]: a POST needs a 'bulkId' (RFC 7644 §3.7).")));
    }
    let path = text("path")?.ok_or_else(|| invalid(format!("Operations[{i}] needs a 'path'.")))?;
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let resource = match segments.next().map(str::to_ascii_lowercase).as_deref() {
        Some("users") => BulkResource::Users,
        Some("groups") => BulkResource::Groups,
        _ => return Err(invalid(format!("Operations[{i}].path '{path}' must start with /Users or /Groups."))),
    };
    let id = segments.next().map(str::to_owned).filter(|s| !s.is_empty());
    match (method, &id) {
        (BulkMethod::Post, Some(_)) => {
            return Err(invalid(format!("Operations[{i}]: a POST goes to /Users or /Groups, not '{path}'.")))
        }
        (BulkMethod::Post, None) => {}
        (_, None) => {
            return Err(invalid(format!("Operations[{i}]: a {} names its resource: '/Users/{{id}}'.", method.as_str())))
        }
        (_, Some(id)) if id.contains('/') => {
            return Err(invalid(format!("Operations[{i}].path '{path}' names no resource.")))
        }
        _ => {}
    }
    let data = get(op, "data").cloned();
    if method != BulkMethod::Delete && data.is_none() {
        return Err(invalid(format!("Operations[{i}]: a {} needs 'data'.", method.as_str())));
    }
    Ok(BulkOperation { method, bulk_id, resource, id, version: text("version")?, data })
}

impl BulkOperation {
    /// The bulkIds this operation refers to (in its path or anywhere in its data).
    pub fn references(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(id) = self.id.as_deref().and_then(|id| id.strip_prefix(BULK_ID_PREFIX)) {
            found.push(id.to_owned());
        }
        if let Some(data) = &self.data {
            collect_references(data, &mut found);
        }
        found
    }

    /// The operation with every `bulkId:…` replaced by the id `resolve` gives.
    pub fn resolved(&self, resolve: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut op = self.clone();
        if let Some(id) = &op.id {
            if let Some(target) = id.strip_prefix(BULK_ID_PREFIX).and_then(resolve) {
                op.id = Some(target);
            }
        }
        if let Some(data) = &mut op.data {
            replace_references(data, resolve);
        }
        op
    }
}

fn collect_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                found.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

fn replace_references(value: &mut Value, resolve: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::String(s) => {
            if let Some(target) = s.strip_prefix(BULK_ID_PREFIX).and_then(resolve) {
                *s = target;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_references(v, resolve)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_references(v, resolve)),
        _ => {}
    }
}

/// One entry of a BulkResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResult {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    /// The error body, for a failed operation.
    pub error: Option<Value>,
}

impl BulkResult {
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("method".into(), json!(self.method.as_str()));
        if let Some(id) = &self.bulk_id {
            out.insert("bulkId".into(), json!(id));
        }
        if let Some(location) = &self.location {
            out.insert("location".into(), json!(location));
        }
        if let Some(version) = &self.version {
            out.insert("version".into(), json!(version));
        }
        out.insert("status".into(), json!(self.status.to_string()));
        if let Some(error) = &self.error {
            out.insert("response".into(), error.clone());
        }
        Value::Object(out)
    }
}

pub fn bulk_response(results: &[BulkResult]) -> Value {
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results.iter().map(BulkResult::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(operations: Value) -> Result<BulkRequest, ScimError> {
        BulkRequest::parse(&json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": operations}))
    }

    #[test]
    fn operations_parse_with_their_paths_and_references() {
        let parsed = request(json!([
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "a"}},
            {"method": "post", "path": "/Groups", "bulkId": "g1", "data": {"members": [{"value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "version": "W/\"1\"", "data": {"Operations": []}},
            {"method": "DELETE", "path": "/Users/abc"}
        ]))
        .unwrap();
        assert_eq!(parsed.operations.len(), 4);
        assert_eq!(parsed.operations[1].references(), ["u1"]);
        assert_eq!(parsed.operations[2].references(), ["g1"]);
        assert_eq!(parsed.operations[3].id.as_deref(), Some("abc"));
        let resolved = parsed.operations[1].resolved(&|b| (b == "u1").then(|| "id-1".to_owned()));
        assert_eq!(resolved.data.unwrap()["members"][0]["value"], "id-1");
        let resolved = parsed.operations[2].resolved(&|b| (b == "g1").then(|| "id-g".to_owned()));
        assert_eq!(resolved.id.as_deref(), Some("id-g"));
    }

    #[test]
    fn bad_requests_are_named() {
        assert!(BulkRequest::parse(&json!({"Operations": []})).is_err());
        assert!(request(json!([{"method": "GET", "path": "/Users/x"}])).is_err());
        assert!(request(json!([{"method": "POST", "path": "/Users", "data": {}}])).is_err(), "POST needs a bulkId");
        assert!(request(json!([{"method": "PUT", "path": "/Users", "data": {}}])).is_err());
        assert!(request(json!([{"method": "DELETE", "path": "/Widgets/x"}])).is_err());
        let twice = json!({"method": "POST", "path": "/Users", "bulkId": "a", "data": {}});
        assert!(request(json!([twice, twice])).is_err());
        let many: Vec<Value> =
            (0..=BULK_MAX_OPERATIONS).map(|_| json!({"method": "DELETE", "path": "/Users/x"})).collect();
        assert_eq!(request(Value::Array(many)).unwrap_err().status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        let fail = json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 0, "Operations": []});
        assert!(BulkRequest::parse(&fail).is_err());
    }
}
