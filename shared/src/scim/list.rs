//! List and search requests (RFC 7644 §3.4.2, §3.4.3): paging, sorting, filtering parameters and
//! attribute projection, shared by every resource type.
use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::filter::{parse_attr_path, parse_attr_path_list, parse_filter, AttrPath, AttributeRules, Filter};
use super::{ScimError, ScimType, DEFAULT_PAGE_SIZE, LIST_RESPONSE_SCHEMA, MAX_RESULTS, SEARCH_REQUEST_SCHEMA};

#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub projection: Projection,
    /// RFC 9865 cursor paging: `Some("")` asks for the first page, `Some(cursor)` for the page a
    /// `nextCursor` named; none is index paging (`startIndex`).
    pub cursor: Option<String>,
}

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn parse_index(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim().parse::<i64>().map_err(|_| invalid_value(format!("'{name}' must be an integer, not '{raw}'.")))
}

impl Projection {
    fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let list = |name: &str, raw: Option<&str>| -> Result<Vec<AttrPath>, ScimError> {
            match raw.map(str::trim).filter(|r| !r.is_empty()) {
                None => Ok(Vec::new()),
                Some(raw) => parse_attr_path_list(raw)
                    .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("Invalid '{name}': {e}"))),
            }
        };
        Ok(Self { attributes: list("attributes", attributes)?, excluded: list("excludedAttributes", excluded)? })
    }

    /// Projection parameters of a single-resource GET, POST, PUT or PATCH.
    pub fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        Self::parse(param(params, "attributes"), param(params, "excludedAttributes"))
    }

    pub fn excludes(&self, name: &str, rules: &dyn AttributeRules) -> bool {
        self.excluded.iter().any(|p| p.sub.is_none() && p.is(rules, name, None))
    }

    /// Applies `attributes` / `excludedAttributes`; `id` and `schemas` are always returned, and an
    /// attribute that is never returned (`password`) is not, even when asked for.
    pub fn apply(&self, mut resource: Value, rules: &dyn AttributeRules) -> Value {
        super::rules::remove_never_returned(&mut resource, rules);
        let Value::Object(source) = resource else { return resource };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for (key, value) in &source {
                if key == "id" || key == "schemas" {
                    out.insert(key.clone(), value.clone());
                }
            }
            for path in &self.attributes {
                copy_path(&source, &mut out, path, rules);
            }
            for path in self.attributes.iter().filter(|p| p.sub.is_some()) {
                prune_picked(&mut out, path, rules);
            }
            return Value::Object(out);
        }
        let mut out = source;
        for path in &self.excluded {
            remove_path(&mut out, path, rules);
        }
        Value::Object(out)
    }
}

/// Case-insensitive query parameter lookup (IdPs differ in spelling).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

impl ListQuery {
    pub fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        Self::build(
            param(params, "filter"),
            param(params, "startIndex").map(|r| parse_index("startIndex", r)).transpose()?,
            param(params, "count").map(|r| parse_index("count", r)).transpose()?,
            param(params, "sortBy"),
            param(params, "sortOrder"),
            Projection::parse(param(params, "attributes"), param(params, "excludedAttributes"))?,
            param(params, "cursor"),
        )
    }

    /// A `POST …/.search` body (RFC 7644 §3.4.3).
    pub fn from_search_request(body: &Value) -> Result<Self, ScimError> {
        let Some(map) = body.as_object() else {
            return Err(ScimError::bad_request(ScimType::InvalidSyntax, "The search request must be a JSON object."));
        };
        let get = |name: &str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let schemas_ok = get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA)));
        if !schemas_ok {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("'schemas' must contain \"{SEARCH_REQUEST_SCHEMA}\"."),
            ));
        }
        let text = |name: &str| -> Result<Option<&str>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(invalid_value(format!("'{name}' must be a string."))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => {
                    n.as_i64().map(Some).ok_or_else(|| invalid_value(format!("'{name}' must be an integer.")))
                }
                Some(Value::String(s)) => parse_index(name, s).map(Some),
                Some(_) => Err(invalid_value(format!("'{name}' must be an integer."))),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => {
                    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    names
                        .map(|n| Some(n.join(",")))
                        .ok_or_else(|| invalid_value(format!("'{name}' must be an array of strings.")))
                }
                Some(_) => Err(invalid_value(format!("'{name}' must be an array of strings."))),
            }
        };
        let attributes = list("attributes")?;
        let excluded = list("excludedAttributes")?;
        Self::build(
            text("filter")?,
            number("startIndex")?,
            number("count")?,
            text("sortBy")?,
            text("sortOrder")?,
            Projection::parse(attributes.as_deref(), excluded.as_deref())?,
            text("cursor")?,
        )
    }

    fn build(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        projection: Projection,
        cursor: Option<&str>,
    ) -> Result<Self, ScimError> {
        // RFC 9865 §3: a request pages by index or by cursor, not both.
        if cursor.is_some() && start_index.is_some() {
            return Err(invalid_value("Use either 'startIndex' or 'cursor', not both.".into()));
        }
        let cursor = cursor.map(|c| c.trim().to_owned());
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(text) => Some(parse_filter(text)?),
        };
        let sort_by = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(
                parse_attr_path(text)
                    .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("Invalid 'sortBy': {e}")))?,
            ),
        };
        let descending = match sort_order.map(|s| s.trim().to_ascii_lowercase()) {
            None => false,
            Some(order) if order == "ascending" || order.is_empty() => false,
            Some(order) if order == "descending" => true,
            Some(order) => {
                return Err(invalid_value(format!("'sortOrder' must be 'ascending' or 'descending', not '{order}'.")))
            }
        };
        // RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0.
        let start_index = usize::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = usize::try_from(count.unwrap_or(DEFAULT_PAGE_SIZE as i64).max(0)).unwrap_or(0).min(MAX_RESULTS);
        Ok(Self { filter, start_index, count, sort_by, descending, projection, cursor })
    }

    /// Filters, sorts and pages resources held in memory; returns the page and the total.
    pub fn page_of(&self, mut resources: Vec<Value>, rules: &dyn AttributeRules) -> (Vec<Value>, usize) {
        if let Some(filter) = &self.filter {
            resources.retain(|r| filter.matches(r, rules));
        }
        if let Some(sort_by) = &self.sort_by {
            sort_resources(&mut resources, sort_by, self.descending, rules);
        }
        let total = resources.len();
        let page = resources.into_iter().skip(self.start_index - 1).take(self.count).collect();
        (page, total)
    }
}

/// Sorts by `path` as RFC 7644 §3.4.2.3 says: a multi-valued attribute sorts by its primary
/// value (else its first); resources without a value come last ascending and first descending.
pub fn sort_resources(resources: &mut [Value], path: &AttrPath, descending: bool, rules: &dyn AttributeRules) {
    resources.sort_by(|a, b| compare_sort_keys(&sort_key(a, path, rules), &sort_key(b, path, rules), descending));
}

/// What `resource` sorts by under `path` (case-folded unless the attribute is caseExact).
pub fn sort_key(resource: &Value, path: &AttrPath, rules: &dyn AttributeRules) -> Option<Value> {
    let case_exact = path.info(rules).is_some_and(|i| i.case_exact);
    sort_value(resource, path, rules).map(|v| match v {
        Value::String(s) if !case_exact => Value::String(s.to_lowercase()),
        other => other,
    })
}

/// The order of two sort keys (from [`sort_key`]): no value last ascending, first descending.
pub fn compare_sort_keys(a: &Option<Value>, b: &Option<Value>, descending: bool) -> Ordering {
    let ordering = match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_values(x, y),
    };
    if descending {
        ordering.reverse()
    } else {
        ordering
    }
}

/// The value a resource sorts by: for a multi-valued attribute, the primary element's (else the
/// first element's) value.
fn sort_value(resource: &Value, path: &AttrPath, rules: &dyn AttributeRules) -> Option<Value> {
    let top = AttrPath { sub: None, ..path.clone() };
    let multi = top.info(rules).is_some_and(|i| i.multi_valued);
    if multi {
        let elements = top.values(resource, rules);
        let chosen = elements
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| elements.first())?;
        let sub = path.sub.as_deref().unwrap_or("value");
        return match chosen {
            Value::Object(map) => map.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(_, v)| v.clone()),
            other => Some((*other).clone()),
        }
        .filter(|v| !v.is_null());
    }
    path.values(resource, rules).into_iter().find(|v| !v.is_null()).cloned()
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or_default().partial_cmp(&y.as_f64().unwrap_or_default()).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

pub fn list_response(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// A page of a cursor walk (RFC 9865 §3): no `startIndex`, and `nextCursor` while more follow.
pub fn cursor_list_response(resources: Vec<Value>, total: usize, next_cursor: Option<String>) -> Value {
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let (Some(next), Value::Object(map)) = (next_cursor, &mut body) {
        map.insert("nextCursor".into(), Value::String(next));
    }
    body
}

fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object that holds `path`'s attribute: the resource itself, or its extension object.
fn container_key(path: &AttrPath, rules: &dyn AttributeRules) -> Option<String> {
    path.extension(rules)
        .map(str::to_owned)
        .or_else(|| path.schema.clone().filter(|s| !s.eq_ignore_ascii_case(rules.core_schema())))
}

fn copy_path(source: &Map<String, Value>, out: &mut Map<String, Value>, path: &AttrPath, rules: &dyn AttributeRules) {
    // A bare extension URN selects the whole extension object.
    if let Some(urn) = path.as_schema_urn(rules) {
        if let Some(key) = find_key(source, urn) {
            out.insert(key.clone(), source[&key].clone());
        }
        return;
    }
    let (from, into): (Option<&Map<String, Value>>, &mut Map<String, Value>) = match container_key(path, rules) {
        None => (Some(source), out),
        Some(urn) => {
            let Some(key) = find_key(source, &urn) else { return };
            let target = out.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(target) = target else { return };
            (source[&key].as_object(), target)
        }
    };
    let Some(from) = from else { return };
    let Some(key) = find_key(from, &path.name) else { return };
    let value = &from[&key];
    match &path.sub {
        None => {
            into.insert(key, value.clone());
        }
        Some(sub) => {
            let pick = |element: &Value| -> Option<Value> {
                let element = element.as_object()?;
                let sub_key = find_key(element, sub)?;
                Some(json!({ sub_key.clone(): element[&sub_key].clone() }))
            };
            match value {
                // Several sub-attributes of one multi-valued attribute (`emails.value,emails.type`) are merged
                // element by element; elements left empty are dropped by `prune_picked`.
                Value::Array(items) => {
                    let empty = || Value::Array(vec![Value::Object(Map::new()); items.len()]);
                    let slot = into.entry(key).or_insert_with(empty);
                    if let Value::Array(slots) = slot {
                        for (slot, item) in slots.iter_mut().zip(items) {
                            if let (Value::Object(slot), Some(Value::Object(picked))) = (slot, pick(item)) {
                                slot.extend(picked);
                            }
                        }
                    }
                }
                other => {
                    if let Some(Value::Object(picked)) = pick(other) {
                        let slot = into.entry(key).or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(slot) = slot {
                            slot.extend(picked);
                        }
                    }
                }
            }
        }
    }
}

/// Drops the elements of a multi-valued attribute that none of the requested sub-attributes filled, and the
/// attribute when no element is left.
fn prune_picked(out: &mut Map<String, Value>, path: &AttrPath, rules: &dyn AttributeRules) {
    let container = match container_key(path, rules) {
        None => Some(out),
        Some(urn) => find_key(out, &urn).and_then(|key| out.get_mut(&key)).and_then(Value::as_object_mut),
    };
    let Some(container) = container else { return };
    let Some(key) = find_key(container, &path.name) else { return };
    if let Some(Value::Array(items)) = container.get_mut(&key) {
        items.retain(|item| !item.as_object().is_some_and(Map::is_empty));
        if items.is_empty() {
            container.remove(&key);
        }
    }
}

fn remove_path(out: &mut Map<String, Value>, path: &AttrPath, rules: &dyn AttributeRules) {
    if path.sub.is_none() && (path.name == "id" || path.name.eq_ignore_ascii_case("schemas")) && path.schema.is_none() {
        return;
    }
    if let Some(urn) = path.as_schema_urn(rules) {
        if let Some(key) = find_key(out, urn) {
            out.remove(&key);
        }
        return;
    }
    let container = match container_key(path, rules) {
        None => Some(out),
        Some(urn) => find_key(out, &urn).and_then(|key| out.get_mut(&key)).and_then(Value::as_object_mut),
    };
    let Some(container) = container else { return };
    let Some(key) = find_key(container, &path.name) else { return };
    match &path.sub {
        None => {
            container.remove(&key);
        }
        Some(sub) => {
            let strip = |element: &mut Value| {
                if let Some(element) = element.as_object_mut() {
                    if let Some(sub_key) = find_key(element, sub) {
                        element.remove(&sub_key);
                    }
                }
            };
            match container.get_mut(&key) {
                Some(Value::Array(items)) => items.iter_mut().for_each(strip),
                Some(other) => strip(other),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER_RESOURCE;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn paging_defaults_and_limits() {
        let q = ListQuery::from_params(&params(&[])).unwrap();
        assert_eq!((q.start_index, q.count), (1, DEFAULT_PAGE_SIZE));
        let q = ListQuery::from_params(&params(&[("startIndex", "0"), ("count", "5000")])).unwrap();
        assert_eq!((q.start_index, q.count), (1, MAX_RESULTS));
        let q = ListQuery::from_params(&params(&[("count", "-3")])).unwrap();
        assert_eq!(q.count, 0);
        assert_eq!(
            ListQuery::from_params(&params(&[("count", "ten")])).unwrap_err().scim_type,
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            ListQuery::from_params(&params(&[("filter", "userName eq")])).unwrap_err().scim_type,
            Some(ScimType::InvalidFilter)
        );
        assert!(ListQuery::from_params(&params(&[("sortOrder", "sideways")])).is_err());
    }

    #[test]
    fn projection_keeps_id_and_schemas() {
        let user = json!({
            "schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng", "costCenter": "1"},
            "meta": {"resourceType": "User"}
        });
        let only = Projection::parse(Some("userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None).unwrap();
        assert_eq!(
            only.apply(user.clone(), &USER_RESOURCE),
            json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "G"}, "emails": [{"value": "a@x"}],
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng"}})
        );
        let without =
            Projection::parse(None, Some("emails,name.familyName,meta,id")).unwrap().apply(user, &USER_RESOURCE);
        assert!(without.get("emails").is_none() && without.get("meta").is_none());
        assert_eq!(without["id"], "1");
        assert_eq!(without["name"], json!({"givenName": "G"}));
    }

    #[test]
    fn sorting_puts_missing_values_last_ascending_and_first_descending() {
        let mut list = vec![json!({"userName": "b"}), json!({}), json!({"userName": "A"}), json!({"userName": "c"})];
        let path = parse_attr_path("userName").unwrap();
        sort_resources(&mut list, &path, false, &USER_RESOURCE);
        let names: Vec<_> = list.iter().map(|r| r.get("userName").cloned()).collect();
        assert_eq!(names, vec![Some(json!("A")), Some(json!("b")), Some(json!("c")), None]);
        sort_resources(&mut list, &path, true, &USER_RESOURCE);
        assert!(list[0].get("userName").is_none(), "missing values come first when descending");
        assert_eq!(list[1]["userName"], "c");
    }
}
