//! What a request did, in words: its subject (the user or group it acted on) and its operation,
//! told by the use cases through the request's `LogNote` and rendered to words here only
//! (docs/ARCHITECTURE.md, "Request log").
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::redact::{Redacted, Redactor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    User,
    Group,
}

/// The user or group a request acted on: its id and the name people know it by (userName or
/// displayName).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSubject {
    pub kind: SubjectKind,
    pub id: String,
    pub name: String,
}

impl LogSubject {
    pub fn user(id: &str, user_name: &str) -> Self {
        Self { kind: SubjectKind::User, id: id.to_owned(), name: user_name.to_owned() }
    }

    pub fn group(id: &str, display_name: &str) -> Self {
        Self { kind: SubjectKind::Group, id: id.to_owned(), name: display_name.to_owned() }
    }
}

/// What a request did to its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Created,
    /// A member added by hand, taken over by the IdP (same email).
    Linked,
    /// Attributes changed (their paths, e.g. `name.givenName`); none when nothing changed.
    Updated {
        attributes: Vec<String>,
    },
    Deactivated,
    Reactivated,
    Deleted,
    Read,
    Listed {
        kind: SubjectKind,
        filter: Option<String>,
    },
    /// A group's members changed (and perhaps its document: `attributes`).
    Members {
        added: usize,
        removed: usize,
        attributes: Vec<String>,
    },
}

/// Operation names, as the logs tab filters them.
pub const OPERATION_NAMES: [&str; 9] =
    ["created", "linked", "updated", "deactivated", "reactivated", "deleted", "read", "listed", "members"];

impl Operation {
    /// Its name for filters (one of [`OPERATION_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Linked => "linked",
            Self::Updated { .. } => "updated",
            Self::Deactivated => "deactivated",
            Self::Reactivated => "reactivated",
            Self::Deleted => "deleted",
            Self::Read => "read",
            Self::Listed { .. } => "listed",
            Self::Members { .. } => "members",
        }
    }

    /// The operation in words, e.g. "Deactivated bob@example.com", "Added 3 members to Engineering".
    pub fn words(&self, subject: Option<&LogSubject>) -> String {
        let name = subject.map(|s| s.name.as_str()).unwrap_or("a resource");
        let list = |attributes: &[String]| {
            const SHOWN: usize = 5;
            let mut shown: Vec<&str> = attributes.iter().take(SHOWN).map(String::as_str).collect();
            let more = attributes.len().saturating_sub(SHOWN);
            let more_text = format!("{more} more");
            if more > 0 {
                shown.push(&more_text);
            }
            shown.join(", ")
        };
        let plural = |n: usize| if n == 1 { "member" } else { "members" };
        match self {
            Self::Created => format!("Created {name}"),
            Self::Linked => format!("Linked {name} (added by hand, now managed by the IdP)"),
            Self::Updated { attributes } if attributes.is_empty() => format!("Updated {name} (no change)"),
            Self::Updated { attributes } => format!("Updated {name} ({})", list(attributes)),
            Self::Deactivated => format!("Deactivated {name}"),
            Self::Reactivated => format!("Reactivated {name}"),
            Self::Deleted => format!("Deleted {name}"),
            Self::Read => format!("Read {name}"),
            Self::Listed { kind, filter } => {
                let what = match kind {
                    SubjectKind::User => "users",
                    SubjectKind::Group => "groups",
                };
                match filter {
                    Some(filter) => format!("Listed {what} (filter {filter})"),
                    None => format!("Listed {what}"),
                }
            }
            Self::Members { added, removed, attributes } => {
                let mut parts = Vec::new();
                if *added > 0 {
                    parts.push(format!("Added {added} {} to {name}", plural(*added)));
                }
                if *removed > 0 {
                    let from = if parts.is_empty() { format!(" from {name}") } else { String::new() };
                    let verb = if parts.is_empty() { "Removed" } else { "removed" };
                    parts.push(format!("{verb} {removed} {}{from}", plural(*removed)));
                }
                if !attributes.is_empty() {
                    parts.push(format!("updated {}", list(attributes)));
                }
                if parts.is_empty() {
                    format!("Updated {name} (no change)")
                } else {
                    let text = parts.join(", ");
                    let mut chars = text.chars();
                    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or(text)
                }
            }
        }
    }
}

/// How many members' timelines one request writes (a team change adding or removing more names
/// only the first ones; the team's own log row says how many more): bounds the items one request
/// adds to the writer's batch (docs/ARCHITECTURE.md, "Member timeline").
pub const TIMELINE_MEMBERS_PER_REQUEST: usize = 20;

/// What happened to one member in a request, for its timeline: told by the use case, masked and
/// turned into a stored entry by the log writer.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEvent {
    pub member_id: String,
    pub user_name: String,
    pub kind: MemberEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MemberEventKind {
    Created { document: Option<Value> },
    Linked { before: Option<Value>, after: Option<Value> },
    Changed { before: Option<Value>, after: Option<Value> },
    Deleted,
    JoinedTeam { team_id: String, team: String },
    LeftTeam { team_id: String, team: String },
}

/// One attribute's change, masked: `old → new` (None: absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    pub old: Option<Redacted>,
    pub new: Option<Redacted>,
}

/// Most attribute changes kept in one timeline entry.
const CHANGES_PER_ENTRY: usize = 40;

/// The attribute changes from `before` to `after` (SCIM documents), leaf by leaf, every value
/// masked (a secret-named attribute shows only that it changed).
pub fn diff(redactor: &Redactor, before: Option<&Value>, after: Option<&Value>) -> Vec<AttributeChange> {
    let mut old = Vec::new();
    let mut new = Vec::new();
    if let Some(before) = before {
        flatten("", before, &mut old);
    }
    if let Some(after) = after {
        flatten("", after, &mut new);
    }
    let mut names: Vec<&String> = old.iter().chain(new.iter()).map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    let find = |list: &[(String, String)], name: &str| list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mask = |name: &str, value: Option<String>| {
        value.map(|v| {
            if crate::redact::is_secret_name(name) {
                redactor.text("[redacted]")
            } else {
                redactor.text(&v).clipped(256)
            }
        })
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (find(&old, name), find(&new, name));
            (o != n).then(|| AttributeChange { attribute: name.clone(), old: mask(name, o), new: mask(name, n) })
        })
        .take(CHANGES_PER_ENTRY)
        .collect()
}

/// Leaves of a SCIM document as `(path, value)`: `name.givenName`, `emails[work].value` (a
/// multi-valued element by its `type` when it has one, else its position). `schemas` is left out.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if prefix.is_empty() && key == "schemas" {
                    continue;
                }
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&path, value, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let label = item.get("type").and_then(Value::as_str).map_or_else(|| i.to_string(), str::to_owned);
                flatten(&format!("{prefix}[{label}]"), item, out);
            }
        }
        Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        Value::Null => {}
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_read_as_words() {
        let bob = LogSubject::user("u1", "bob@example.com");
        let team = LogSubject::group("g1", "Engineering");
        assert_eq!(Operation::Created.words(Some(&bob)), "Created bob@example.com");
        assert_eq!(Operation::Deactivated.words(Some(&bob)), "Deactivated bob@example.com");
        let updated = Operation::Updated { attributes: vec!["name.givenName".into(), "title".into()] };
        assert_eq!(updated.words(Some(&bob)), "Updated bob@example.com (name.givenName, title)");
        let added = Operation::Members { added: 3, removed: 0, attributes: vec![] };
        assert_eq!(added.words(Some(&team)), "Added 3 members to Engineering");
        let removed = Operation::Members { added: 0, removed: 1, attributes: vec![] };
        assert_eq!(removed.words(Some(&LogSubject::group("g2", "Sales"))), "Removed 1 member from Sales");
        let listed = Operation::Listed { kind: SubjectKind::User, filter: Some("userName eq \"x\"".into()) };
        assert_eq!(listed.words(None), "Listed users (filter userName eq \"x\")");
    }

    #[test]
    fn diffs_name_each_changed_leaf_and_mask_secrets() {
        let redactor = Redactor::default();
        let before = json!({"schemas": ["x"], "userName": "a@x.com", "name": {"givenName": "Al"}, "emails": [{"type": "work", "value": "a@x.com"}], "active": true});
        let after = json!({"schemas": ["y"], "userName": "a@x.com", "name": {"givenName": "Alan"}, "title": "Eng", "emails": [{"type": "work", "value": "a@x.com"}], "active": false, "password": "hunter2"});
        let changes = diff(&redactor, Some(&before), Some(&after));
        let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(names, ["active", "name.givenName", "password", "title"]);
        assert_eq!(changes[1].old.as_ref().unwrap(), "Al");
        assert_eq!(changes[1].new.as_ref().unwrap(), "Alan");
        assert_eq!(changes[2].new.as_ref().unwrap(), "[redacted]");
        assert!(changes[3].old.is_none());
    }
}
