//! The SCIM Group resource of an Insomnia team. Members are not part of the stored document: they
//! are separate membership items, so the document logic splits them out of requests.
use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::filter::{CompareOp, Filter};
use super::list::Projection;
use super::patch::{apply_patch, PatchOp, PatchOpKind, PatchRequest};
use super::schema::{ResourceSchema, GROUP_RESOURCE, GROUP_SCHEMA};
use super::user::etag;
use super::{ScimError, ScimType};
use crate::domain::{Membership, TeamRecord};

pub const RESOURCE_TYPE: &str = "Group";
/// Beyond this many members a group is not rendered with its members in one response (Lambda
/// responses stop at 6 MB; a member entry is ~150 bytes).
pub const MEMBERS_INLINE_LIMIT: u64 = 20_000;

/// Lambda's limit on a synchronous response: the payload the function hands back to API Gateway.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
/// The most one list page of groups may weigh, as [`ListPage`] weighs it. The body travels as a JSON string
/// inside Lambda's response envelope, where every `"` and `\` of it takes two bytes; the 64 KiB left over are for
/// the envelope itself (status, headers).
pub const LIST_PAGE_BUDGET: usize = LAMBDA_RESPONSE_LIMIT - 64 * 1024;

pub fn rules() -> &'static ResourceSchema {
    &GROUP_RESOURCE
}

fn is_members_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("members")
}

/// A requested member: a user id, and the display name the IdP gave.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemberRef {
    pub value: String,
    pub display: Option<String>,
}

/// Parses a `members` value: an array of `{value, display?, $ref?, type?}` (a single object is
/// accepted too). Nested groups are refused.
pub fn member_refs(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "'members' must be an array of {\"value\": \"<user id>\"} objects.",
            ))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let object = item.as_object().ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    "Each member must be an object like {\"value\": \"<user id>\"}.",
                )
            })?;
            let get = |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            if get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("group")) {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    "Teams cannot contain other teams: members must be users (type \"User\").",
                ));
            }
            let value = get("value").and_then(Value::as_str).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    "Each member needs a 'value': the id of a user of this organization.",
                )
            })?;
            Ok(MemberRef {
                value: value.to_owned(),
                display: get("display").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// The team document without members.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDocument(Value);

impl GroupDocument {
    /// Validates a POST or PUT body; returns the document and the members it lists.
    pub fn from_request(body: Value) -> Result<(Self, Vec<MemberRef>, Vec<String>), ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::bad_request(ScimType::InvalidSyntax, "The request body must be a JSON object."));
        };
        let mut members = Vec::new();
        let keys: Vec<String> = body.keys().cloned().collect();
        for key in keys {
            let lower = key.to_ascii_lowercase();
            if lower == "id" || lower == "meta" {
                body.remove(&key);
            } else if is_members_key(&key) {
                if let Some(value) = body.remove(&key) {
                    members = member_refs(&value)?;
                }
            } else if lower != "schemas"
                && !lower.starts_with("urn:")
                && GROUP_RESOURCE.definition(None, &key, None).is_none()
            {
                return Err(ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("Unknown attribute '{key}': the Group schema has displayName, externalId and members."),
                ));
            }
        }
        let mut tolerances = Vec::new();
        if !body.keys().any(|k| k.eq_ignore_ascii_case("schemas")) {
            tolerances.push("missing_schemas".to_owned());
        }
        let mut doc = json!({ "schemas": [GROUP_SCHEMA] });
        let request = PatchRequest {
            operations: vec![PatchOp {
                op: PatchOpKind::Replace,
                path: None,
                raw_path: None,
                value: Some(Value::Object(body)),
            }],
            tolerances: Vec::new(),
        };
        let mut applied = Vec::new();
        apply_patch(&mut doc, &request, &GROUP_RESOURCE, &mut applied)?;
        tolerances.extend(applied.iter().map(|t| t.as_str().to_owned()));
        let doc = Self(doc);
        doc.check()?;
        Ok((doc, members, tolerances))
    }

    pub fn of_team(team: &TeamRecord) -> Self {
        let stored = team.resource.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok());
        Self(stored.unwrap_or_else(|| json!({ "schemas": [GROUP_SCHEMA], "displayName": team.display_name })))
    }

    /// Applies the document part of a PATCH to team `id` (a value repeating the id is ignored).
    pub fn patch(&mut self, id: &str, request: &PatchRequest) -> Result<Vec<String>, ScimError> {
        if request.operations.is_empty() {
            return Ok(Vec::new());
        }
        let mut applied = Vec::new();
        super::user::with_id(&mut self.0, id, |doc| apply_patch(doc, request, &GROUP_RESOURCE, &mut applied))?;
        self.check()?;
        Ok(applied.iter().map(|t| t.as_str().to_owned()).collect())
    }

    fn check(&self) -> Result<(), ScimError> {
        if let Some(Value::String(external_id)) = self.get("externalId") {
            super::check_key_length("externalId", external_id)?;
        }
        match self.get("displayName") {
            Some(Value::String(name)) if !name.trim().is_empty() => super::check_key_length("displayName", name),
            _ => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "'displayName' is required and must be a non-empty string.",
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    pub fn display_name(&self) -> &str {
        self.get("displayName").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn external_id(&self) -> Option<String> {
        self.get("externalId").and_then(Value::as_str).map(str::to_owned)
    }

    pub fn to_stored(&self) -> String {
        self.0.to_string()
    }
}

/// What a PATCH does to the member set, folded in operation order.
#[derive(Debug, Default)]
pub struct MembershipChange {
    /// `replace` of all members, or `remove` of all (an empty set).
    pub replace_all: Option<BTreeSet<MemberRef>>,
    pub adds: BTreeSet<MemberRef>,
    pub removes: BTreeSet<String>,
    /// Removals by a filter that is not a plain list of ids: resolved against the current members.
    pub filtered_removes: Vec<Filter>,
}

impl MembershipChange {
    pub fn is_empty(&self) -> bool {
        self.replace_all.is_none()
            && self.adds.is_empty()
            && self.removes.is_empty()
            && self.filtered_removes.is_empty()
    }

    fn add(&mut self, refs: Vec<MemberRef>) {
        for member in refs {
            self.removes.remove(&member.value);
            self.adds.insert(member);
        }
    }

    fn remove(&mut self, ids: Vec<String>) {
        for id in ids {
            self.adds.retain(|m| m.value != id);
            if let Some(all) = &mut self.replace_all {
                all.retain(|m| m.value != id);
            }
            self.removes.insert(id);
        }
    }

    fn replace(&mut self, refs: Vec<MemberRef>) {
        self.replace_all = Some(refs.into_iter().collect());
        self.adds.clear();
        self.removes.clear();
        self.filtered_removes.clear();
    }
}

/// `value eq "a"` or `value eq "a" or value eq "b"`: the ids; None for any other filter.
fn ids_of(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: Value::String(id) }
            if path.schema.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = ids_of(a)?;
            ids.extend(ids_of(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// Splits a PATCH into the operations on the document and the change to the member set.
pub fn split_patch(request: &PatchRequest) -> Result<(PatchRequest, MembershipChange), ScimError> {
    let mut document_ops = Vec::new();
    let mut change = MembershipChange::default();
    for op in &request.operations {
        match (&op.path, &op.value) {
            (Some(path), value) if is_members_key(&path.attr.name) && path.attr.schema.is_none() => {
                if path.attr.sub.is_some() || path.sub.is_some() {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidPath,
                        format!(
                            "'{}': member sub-attributes cannot be changed; add or remove whole members.",
                            op.raw_path.as_deref().unwrap_or("members")
                        ),
                    ));
                }
                match (op.op, &path.value_filter) {
                    (PatchOpKind::Add, None) => {
                        change.add(member_refs(value.as_ref().ok_or_else(|| missing_value("add"))?)?);
                    }
                    (PatchOpKind::Replace, None) => {
                        change.replace(member_refs(value.as_ref().ok_or_else(|| missing_value("replace"))?)?);
                    }
                    (PatchOpKind::Remove, Some(filter)) => match ids_of(filter) {
                        Some(ids) => change.remove(ids),
                        None => change.filtered_removes.push(filter.clone()),
                    },
                    (PatchOpKind::Remove, None) => match value {
                        Some(listed) if !listed.is_null() => {
                            change.remove(member_refs(listed)?.into_iter().map(|m| m.value).collect());
                        }
                        _ => change.replace(Vec::new()),
                    },
                    (_, Some(_)) => {
                        return Err(ScimError::bad_request(
                            ScimType::InvalidPath,
                            "A members value filter can only be used to remove members.",
                        ))
                    }
                }
            }
            (None, Some(Value::Object(object))) if object.keys().any(|k| is_members_key(k)) => {
                let mut rest = Map::new();
                for (key, value) in object {
                    if is_members_key(key) {
                        match op.op {
                            PatchOpKind::Add => change.add(member_refs(value)?),
                            _ => change.replace(member_refs(value)?),
                        }
                    } else {
                        rest.insert(key.clone(), value.clone());
                    }
                }
                if !rest.is_empty() {
                    document_ops.push(PatchOp { value: Some(Value::Object(rest)), ..op.clone() });
                }
            }
            _ => document_ops.push(op.clone()),
        }
    }
    Ok((PatchRequest { operations: document_ops, tolerances: request.tolerances.clone() }, change))
}

fn missing_value(op: &str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, format!("'{op}' of members needs a 'value' listing the members."))
}

/// The full SCIM representation; `members` None leaves them out.
pub fn render(team: &TeamRecord, members: Option<&[Membership]>, base_url: &str) -> Value {
    let mut doc = GroupDocument::of_team(team).0;
    if let Value::Object(map) = &mut doc {
        map.insert("id".into(), Value::String(team.id.clone()));
        if let Some(members) = members {
            let list: Vec<Value> = members
                .iter()
                .map(|m| {
                    let mut entry = json!({ "value": m.user_id, "$ref": format!("{base_url}/Users/{}", m.user_id), "type": "User" });
                    if let (Some(display), Value::Object(e)) = (&m.display, &mut entry) {
                        e.insert("display".into(), Value::String(display.clone()));
                    }
                    entry
                })
                .collect();
            map.insert("members".into(), Value::Array(list));
        }
        map.insert(
            "meta".into(),
            json!({
                "resourceType": RESOURCE_TYPE,
                "created": team.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "lastModified": team.modified_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "location": format!("{base_url}/Groups/{}", team.id),
                "version": etag(team.version),
            }),
        );
    }
    doc
}

/// A group as JSON text, projected. Members are written straight from the memberships, not built
/// as a JSON tree first: a 20,000-member group is ~4 MB of text but several times that as a tree,
/// which would take a Lambda past its memory budget. A projection that picks parts of members
/// (`attributes=members.value`) takes the general path.
pub fn render_text(
    team: &TeamRecord,
    members: Option<&[Membership]>,
    base_url: &str,
    projection: &Projection,
) -> String {
    let touches_member_parts =
        projection.attributes.iter().chain(&projection.excluded).any(|p| is_members_key(&p.name) && p.sub.is_some());
    let members = match members {
        Some(members) if !touches_member_parts => members,
        _ => {
            let mut doc = render(team, members, base_url);
            // `members.display` is returned on request only (docs/ARCHITECTURE.md, "Discovery").
            if !projection.attributes.iter().any(|p| p.is(rules(), "members", Some("display"))) {
                strip_member_display(&mut doc);
            }
            return projection.apply(doc, rules()).to_string();
        }
    };
    let doc = projection.apply(render(team, None, base_url), rules());
    let Value::Object(doc) = doc else { return doc.to_string() };
    let body = WithMembers { doc: &doc, members: MembersText { members, base_url } };
    // Cannot fail (string keys only); if it ever did, the tree path still says everything.
    serde_json::to_string(&body)
        .unwrap_or_else(|_| projection.apply(render(team, Some(members), base_url), rules()).to_string())
}

fn strip_member_display(doc: &mut Value) {
    let entries = doc.as_object_mut().and_then(|d| d.get_mut("members")).and_then(Value::as_array_mut);
    for entry in entries.into_iter().flatten() {
        if let Value::Object(entry) = entry {
            entry.remove("display");
        }
    }
}

#[derive(serde::Serialize)]
struct WithMembers<'a> {
    #[serde(flatten)]
    doc: &'a Map<String, Value>,
    members: MembersText<'a>,
}

struct MembersText<'a> {
    members: &'a [Membership],
    base_url: &'a str,
}

impl serde::Serialize for MembersText<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.members.len()))?;
        for m in self.members {
            seq.serialize_element(&MemberText {
                value: &m.user_id,
                reference: format!("{}/Users/{}", self.base_url, m.user_id),
                kind: "User",
            })?;
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
struct MemberText<'a> {
    value: &'a str,
    #[serde(rename = "$ref")]
    reference: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A ListResponse written resource by resource, held to a budget: a page stops before the resource that would
/// take it over (RFC 7644 §3.4.2.4 lets a page hold fewer resources than `count`), so the whole answer, not each
/// group, fits in one Lambda response. `itemsPerPage` says how many it holds, so a client paging by `startIndex`
/// gets every resource.
pub struct ListPage {
    text: String,
    items: usize,
    weight: usize,
    budget: usize,
}

/// What [`ListPage::push`] did with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Added,
    /// The page is full; the resource belongs on a later page.
    Full,
    /// The resource alone is over the budget: no page can carry it.
    TooBig,
}

/// The closing part of a page: `],"itemsPerPage":N}` with N of up to 20 digits.
const TAIL_RESERVE: usize = 48;

impl ListPage {
    pub fn new(total: usize, start_index: usize, budget: usize) -> Self {
        let text = format!(
            "{{\"schemas\":[{}],\"totalResults\":{total},\"startIndex\":{start_index},\"Resources\":[",
            Value::String(super::LIST_RESPONSE_SCHEMA.to_owned())
        );
        let weight = envelope_len(&text) + TAIL_RESERVE;
        ListPage { text, items: 0, weight, budget }
    }

    /// Adds one resource's JSON text unless that would take the page over its budget.
    pub fn push(&mut self, resource: &str) -> Pushed {
        let separator = usize::from(self.items > 0);
        let weight = envelope_len(resource) + separator;
        if self.weight + weight > self.budget {
            return if self.items == 0 { Pushed::TooBig } else { Pushed::Full };
        }
        if separator == 1 {
            self.text.push(',');
        }
        self.text.push_str(resource);
        self.weight += weight;
        self.items += 1;
        Pushed::Added
    }

    pub fn items(&self) -> usize {
        self.items
    }

    /// The ListResponse text.
    pub fn finish(mut self) -> String {
        self.text.push_str(&format!("],\"itemsPerPage\":{}}}", self.items));
        self.text
    }
}

/// The bytes `text` takes as a JSON string in Lambda's response envelope. serde_json writes no raw control
/// characters, so only `"` and `\` grow (to two bytes each).
pub fn envelope_len(text: &str) -> usize {
    text.len() + text.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
}

/// Whether a filter refers to `members` (then members must be loaded to evaluate it).
pub fn filter_mentions_members(filter: &Filter) -> bool {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) | Filter::ValuePath { path, .. } => {
            is_members_key(&path.name)
        }
        Filter::And(a, b) | Filter::Or(a, b) => filter_mentions_members(a) || filter_mentions_members(b),
        Filter::Not(inner) => filter_mentions_members(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::parse_patch;

    fn ids(set: &BTreeSet<MemberRef>) -> Vec<&str> {
        set.iter().map(|m| m.value.as_str()).collect()
    }

    fn a_team(resource: Option<&str>) -> TeamRecord {
        let now = chrono::Utc::now();
        TeamRecord {
            id: "t-1".into(),
            display_name: "Engineering".into(),
            external_id: Some("ext-1".into()),
            member_count: 2,
            version: 7,
            created_at: now,
            modified_at: now,
            resource: resource.map(str::to_owned),
        }
    }

    #[test]
    fn group_text_written_member_by_member_equals_the_projected_tree() {
        let team = a_team(Some(
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","externalId":"ext-1"}"#,
        ));
        let members = vec![
            Membership { team_id: "t-1".into(), user_id: "u-1".into(), display: Some("ada@example.com".into()) },
            Membership { team_id: "t-1".into(), user_id: "u-2\"quoted".into(), display: None },
        ];
        let base = "https://scim.example.com/scim/v2/orgs/acme";
        let queries: [&[(&str, &str)]; 7] = [
            &[],
            &[("attributes", "displayName,members")],
            &[("excludedAttributes", "externalId")],
            &[("attributes", "members.value")],
            &[("excludedAttributes", "members.display")],
            &[("attributes", "members.display")],
            &[("attributes", "Members.Display,members.value")],
        ];
        for query in queries {
            let params = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            let projection = Projection::from_params(&params).unwrap();
            let text: Value = serde_json::from_str(&render_text(&team, Some(&members), base, &projection)).unwrap();
            let mut tree = render(&team, Some(&members), base);
            let asked = query.iter().any(|(k, v)| *k == "attributes" && v.to_lowercase().contains("members.display"));
            if !asked {
                strip_member_display(&mut tree);
            }
            let tree = projection.apply(tree, rules());
            assert_eq!(text, tree, "{query:?}");
            assert_eq!(text["members"][0].get("display").is_some(), asked, "display on request only: {query:?}");
        }
        let none = Projection::from_params(&Default::default()).unwrap();
        let text: Value = serde_json::from_str(&render_text(&team, None, base, &none)).unwrap();
        assert_eq!(text, render(&team, None, base));
        assert!(text.get("members").is_none());
    }

    #[test]
    fn a_list_page_stops_before_the_resource_that_would_take_it_over_its_budget() {
        let resource = |n: usize| json!({"id": format!("g{n}"), "displayName": "\"quoted\" \\ name"}).to_string();
        let one = envelope_len(&resource(1));
        assert!(one > resource(1).len(), "quotes and backslashes weigh two bytes");
        let empty = ListPage::new(7, 3, usize::MAX);
        let overhead = envelope_len(&empty.finish()) + TAIL_RESERVE;
        // Room for two resources (and the comma between them), not three.
        let budget = overhead + 2 * one + 1 + one / 2;
        let mut page = ListPage::new(7, 3, budget);
        assert_eq!(page.push(&resource(1)), Pushed::Added);
        assert_eq!(page.push(&resource(2)), Pushed::Added);
        assert_eq!(page.push(&resource(3)), Pushed::Full);
        assert_eq!(page.items(), 2);
        let text = page.finish();
        assert!(envelope_len(&text) <= budget, "{} > {budget}", envelope_len(&text));
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            body,
            json!({
                "schemas": [super::super::LIST_RESPONSE_SCHEMA],
                "totalResults": 7,
                "startIndex": 3,
                "itemsPerPage": 2,
                "Resources": [serde_json::from_str::<Value>(&resource(1)).unwrap(), serde_json::from_str::<Value>(&resource(2)).unwrap()]
            })
        );
        // The first resource of a page is refused only when no page could carry it.
        let mut small = ListPage::new(1, 1, one);
        assert_eq!(small.push(&resource(1)), Pushed::TooBig);
        assert_eq!(small.items(), 0);
        let empty: Value = serde_json::from_str(&ListPage::new(0, 1, LIST_PAGE_BUDGET).finish()).unwrap();
        assert_eq!(empty["Resources"], json!([]));
        assert_eq!(empty["itemsPerPage"], 0);
    }

    #[test]
    fn patch_operations_fold_in_order() {
        let request = parse_patch(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
                {"op": "remove", "path": "members[value eq \"u3\"]"},
                {"op": "Replace", "path": "displayName", "value": "T2"}
            ]
        }))
        .unwrap();
        let (doc_ops, change) = split_patch(&request).unwrap();
        assert_eq!(doc_ops.operations.len(), 1);
        assert_eq!(ids(&change.adds), ["u2"]);
        assert_eq!(change.removes.iter().collect::<Vec<_>>(), ["u1", "u3"]);
        assert!(change.replace_all.is_none());
    }

    #[test]
    fn okta_no_path_replace_splits_members_from_the_document() {
        let request = parse_patch(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": "g1", "displayName": "New", "members": [{"value": "u9"}]}}]
        }))
        .unwrap();
        let (doc_ops, change) = split_patch(&request).unwrap();
        assert_eq!(doc_ops.operations[0].value.as_ref().unwrap().get("members"), None);
        assert_eq!(ids(change.replace_all.as_ref().unwrap()), ["u9"]);
    }

    #[test]
    fn nested_groups_and_bad_members_are_refused() {
        assert!(member_refs(&json!([{"value": "g", "type": "Group"}])).is_err());
        assert!(member_refs(&json!([{"display": "x"}])).is_err());
        assert!(member_refs(&json!("u1")).is_err());
        let err = GroupDocument::from_request(json!({"schemas": [GROUP_SCHEMA]})).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    }
}
