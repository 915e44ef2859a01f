//! Tests: stand-in schema rules for the SCIM User (with the Enterprise extension) and Group, plus helpers.

use serde_json::{json, Value};

use super::filter::{AttrInfo, AttrType, AttributeRules, Mutability};
use super::*;

mod errors;
mod group;
mod parse;
mod rfc;
mod user;

pub(super) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(super) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(super) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A test-only extension with the types the core User lacks (Integer, Decimal, immutable, multi-valued strings).
pub(super) const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

fn a(attr_type: AttrType, multi_valued: bool, mutability: Mutability) -> Option<AttrInfo> {
    Some(AttrInfo { attr_type, multi_valued, case_exact: false, mutability })
}

fn rw(attr_type: AttrType) -> Option<AttrInfo> {
    a(attr_type, false, Mutability::ReadWrite)
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Sub-attributes of the multi-valued "value/type/primary/display" attributes.
fn plural_sub(sub: &str) -> Option<AttrInfo> {
    match sub {
        "value" | "type" | "display" => rw(AttrType::String),
        "primary" => rw(AttrType::Boolean),
        _ => None,
    }
}

pub(super) struct UserRules;

impl AttributeRules for UserRules {
    fn core_schema(&self) -> &str {
        USER
    }

    fn extension_schemas(&self) -> &[&str] {
        &[ENTERPRISE, TEST_EXT]
    }

    fn attribute(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        let name = lower(name);
        let sub = sub.map(lower);
        let schema = schema.map(lower);
        let schema = schema.as_deref().unwrap_or("");
        if schema.is_empty() || schema == lower(USER) {
            return user_core(&name, sub.as_deref());
        }
        if schema == lower(ENTERPRISE) {
            return match (name.as_str(), sub.as_deref()) {
                ("employeenumber" | "costcenter" | "organization" | "division" | "department", None) => {
                    rw(AttrType::String)
                }
                ("manager", None) => rw(AttrType::Complex),
                ("manager", Some("value")) => rw(AttrType::String),
                ("manager", Some("$ref")) => rw(AttrType::Reference),
                ("manager", Some("displayname")) => a(AttrType::String, false, Mutability::ReadOnly),
                _ => None,
            };
        }
        if schema == lower(TEST_EXT) {
            return match (name.as_str(), sub.as_deref()) {
                ("level", None) => rw(AttrType::Integer),
                ("score", None) => rw(AttrType::Decimal),
                ("badgeid", None) => a(AttrType::String, false, Mutability::Immutable),
                ("tags", None) => a(AttrType::String, true, Mutability::ReadWrite),
                ("lastseen", None) => rw(AttrType::DateTime),
                _ => None,
            };
        }
        None
    }
}

fn user_core(name: &str, sub: Option<&str>) -> Option<AttrInfo> {
    use AttrType::*;
    match (name, sub) {
        ("id", None) => a(String, false, Mutability::ReadOnly),
        ("meta", None) => a(Complex, false, Mutability::ReadOnly),
        ("meta", Some("resourcetype" | "created" | "lastmodified" | "location" | "version")) => {
            a(String, false, Mutability::ReadOnly)
        }
        ("groups", None) => a(Complex, true, Mutability::ReadOnly),
        ("groups", Some("value" | "$ref" | "display" | "type")) => a(String, false, Mutability::ReadOnly),
        (
            "externalid" | "username" | "displayname" | "nickname" | "title" | "usertype" | "preferredlanguage"
            | "locale" | "timezone",
            None,
        ) => rw(String),
        ("profileurl", None) => rw(Reference),
        ("active", None) => rw(Boolean),
        ("password", None) => a(String, false, Mutability::WriteOnly),
        ("name", None) => rw(Complex),
        (
            "name",
            Some("formatted" | "familyname" | "givenname" | "middlename" | "honorificprefix" | "honorificsuffix"),
        ) => rw(String),
        ("emails" | "phonenumbers" | "ims" | "photos" | "roles" | "entitlements", None) => {
            a(Complex, true, Mutability::ReadWrite)
        }
        ("emails" | "phonenumbers" | "ims" | "photos" | "roles" | "entitlements", Some(s)) => plural_sub(s),
        ("addresses", None) => a(Complex, true, Mutability::ReadWrite),
        (
            "addresses",
            Some("formatted" | "streetaddress" | "locality" | "region" | "postalcode" | "country" | "type"),
        ) => rw(String),
        ("addresses", Some("primary")) => rw(Boolean),
        _ => None,
    }
}

pub(super) struct GroupRules;

impl AttributeRules for GroupRules {
    fn core_schema(&self) -> &str {
        GROUP
    }

    fn extension_schemas(&self) -> &[&str] {
        &[]
    }

    fn attribute(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        if schema.is_some_and(|s| !s.eq_ignore_ascii_case(GROUP)) {
            return None;
        }
        let name = lower(name);
        let sub = sub.map(lower);
        match (name.as_str(), sub.as_deref()) {
            ("id", None) => a(AttrType::String, false, Mutability::ReadOnly),
            ("meta", None) => a(AttrType::Complex, false, Mutability::ReadOnly),
            ("meta", Some(_)) => a(AttrType::String, false, Mutability::ReadOnly),
            ("externalid" | "displayname", None) => rw(AttrType::String),
            ("members", None) => a(AttrType::Complex, true, Mutability::ReadWrite),
            ("members", Some("value" | "display" | "type")) => rw(AttrType::String),
            ("members", Some("$ref")) => rw(AttrType::Reference),
            _ => None,
        }
    }
}

/// A PatchOp body around `ops`.
pub(super) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

/// Parses and applies `ops`; returns the tolerances reported.
pub(super) fn run(doc: &mut Value, ops: Value, rules: &dyn AttributeRules) -> Result<Vec<Tolerance>, PatchError> {
    run_body(doc, &body(ops), rules)
}

pub(super) fn run_body(
    doc: &mut Value,
    body: &Value,
    rules: &dyn AttributeRules,
) -> Result<Vec<Tolerance>, PatchError> {
    let request = parse_patch(body)?;
    let mut tolerances = Vec::new();
    apply_patch(doc, &request, rules, &mut tolerances)?;
    Ok(tolerances)
}

/// Applies `ops` to a User; panics on error.
pub(super) fn user_ok(doc: &mut Value, ops: Value) -> Vec<Tolerance> {
    match run(doc, ops, &UserRules) {
        Ok(t) => t,
        Err(e) => panic!("patch failed: {e} ({})", e.scim_type()),
    }
}

pub(super) fn group_ok(doc: &mut Value, ops: Value) -> Vec<Tolerance> {
    match run(doc, ops, &GroupRules) {
        Ok(t) => t,
        Err(e) => panic!("patch failed: {e} ({})", e.scim_type()),
    }
}

/// Applies `ops` to a User, expects an error, and checks the document was left unchanged.
pub(super) fn user_err(doc: &Value, ops: Value) -> PatchError {
    let mut work = doc.clone();
    match run(&mut work, ops, &UserRules) {
        Ok(_) => panic!("expected an error, got {work:#}"),
        Err(e) => {
            assert_eq!(&work, doc, "document must be unchanged after an error");
            e
        }
    }
}

pub(super) fn group_err(doc: &Value, ops: Value) -> PatchError {
    let mut work = doc.clone();
    match run(&mut work, ops, &GroupRules) {
        Ok(_) => panic!("expected an error, got {work:#}"),
        Err(e) => {
            assert_eq!(&work, doc, "document must be unchanged after an error");
            e
        }
    }
}

/// Babs Jensen, as in RFC 7643 §8.2 (shortened).
pub(super) fn babs() -> Value {
    json!({
        "schemas": [USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}
        ],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        "meta": {"resourceType": "User", "version": "W/\"3694e05e9dff590\""}
    })
}

/// A fresh Entra-provisioned user: no emails, no extension.
pub(super) fn plain_user() -> Value {
    json!({
        "schemas": [USER],
        "id": "u-42",
        "userName": "t@contoso.com",
        "active": true,
        "name": {"givenName": "Tess", "familyName": "Tester"},
        "meta": {"resourceType": "User"}
    })
}

pub(super) fn tour_guides() -> Value {
    json!({
        "schemas": [GROUP],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"},
            {"value": "u1", "display": "a@x"}
        ],
        "meta": {"resourceType": "Group"}
    })
}

#[test]
fn tolerance_names_are_unique_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for t in Tolerance::ALL {
        let s = t.as_str();
        assert!(seen.insert(s), "duplicate name {s}");
        assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s} is not snake_case");
        assert_eq!(t.to_string(), s);
        assert_eq!(serde_json::to_value(t).unwrap(), json!(s));
    }
    assert_eq!(Tolerance::CapitalisedOp.as_str(), "capitalised_op");
    assert_eq!(Tolerance::RemoveByValueList.as_str(), "remove_by_value_list");
}

#[test]
fn scim_types_and_status() {
    let cases = [
        (PatchError::InvalidSyntax("x".into()), "invalidSyntax"),
        (PatchError::InvalidPath("x".into()), "invalidPath"),
        (PatchError::NoTarget("x".into()), "noTarget"),
        (PatchError::InvalidValue("x".into()), "invalidValue"),
        (PatchError::Mutability("x".into()), "mutability"),
        (PatchError::InvalidFilter("x".into()), "invalidFilter"),
    ];
    for (e, t) in cases {
        assert_eq!(e.scim_type(), t);
        assert_eq!(e.status(), 400);
        assert_eq!(e.detail(), "x");
        assert_eq!(e.to_string(), "x");
    }
}
