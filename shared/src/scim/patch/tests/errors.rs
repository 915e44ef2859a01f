//! Errors while applying, and atomicity.

use super::*;

#[test]
fn type_mismatch_names_attribute_and_expectation() {
    let u = babs();
    let e = user_err(&u, json!([{"op": "replace", "path": "active", "value": "maybe"}]));
    assert_eq!(e.scim_type(), "invalidValue");
    let msg = e.to_string();
    assert!(msg.contains("\"active\""), "{msg}");
    assert!(msg.contains("boolean"), "{msg}");
    assert!(msg.contains("maybe"), "{msg}");

    let e = user_err(&u, json!([{"op": "replace", "path": "userName", "value": 5}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("\"userName\" expects a string"), "{e}");

    let e = user_err(&u, json!([{"op": "replace", "path": "name", "value": "Babs"}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("object"), "{e}");

    let e = user_err(&u, json!([{"op": "replace", "path": "title", "value": ["a", "b"]}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("single-valued"), "{e}");

    let e = user_err(&u, json!([{"op": "add", "path": "emails", "value": ["a@b.c"]}]));
    assert_eq!(e.scim_type(), "invalidValue");

    let e = user_err(&u, json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "yes"}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("emails.primary"), "{e}");
}

#[test]
fn no_path_value_must_be_an_object() {
    let e = user_err(&babs(), json!([{"op": "replace", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("must be an object"), "{e}");
}

#[test]
fn read_only_targets() {
    let u = babs();
    for op in [
        json!({"op": "replace", "path": "id", "value": "other"}),
        json!({"op": "remove", "path": "meta"}),
        json!({"op": "replace", "path": "meta.version", "value": "W/\"1\""}),
        json!({"op": "add", "path": "groups", "value": [{"value": "g9"}]}),
        json!({"op": "remove", "path": "groups[value eq \"e9e30dba\"]"}),
        json!({"op": "replace", "value": {"meta": {"resourceType": "Other"}}}),
    ] {
        let e = user_err(&u, json!([op.clone()]));
        assert_eq!(e.scim_type(), "mutability", "{op}: {e}");
        assert!(e.to_string().contains("readOnly"), "{op}: {e}");
    }
}

#[test]
fn unknown_core_attribute_and_sub_attribute() {
    let u = babs();
    let e = user_err(&u, json!([{"op": "add", "path": "shoeSize", "value": "42"}]));
    assert_eq!(e.scim_type(), "invalidPath");
    assert!(e.to_string().contains("shoeSize"), "{e}");

    let e = user_err(&u, json!([{"op": "add", "value": {"shoeSize": "42"}}]));
    assert_eq!(e.scim_type(), "invalidPath");

    let e = user_err(&u, json!([{"op": "replace", "path": "name.nickname", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidPath");
    assert!(e.to_string().contains("nickname"), "{e}");

    let e = user_err(&u, json!([{"op": "replace", "path": "title.x", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidPath");

    let e = user_err(&u, json!([{"op": "remove", "path": "shoeSize"}]));
    assert_eq!(e.scim_type(), "invalidPath");

    let e = user_err(&u, json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidPath");
    assert!(e.to_string().contains("multi-valued"), "{e}");
}

#[test]
fn filter_on_unknown_sub_attribute_is_invalid_filter() {
    let u = babs();
    let e = user_err(&u, json!([{"op": "remove", "path": "emails[colour eq \"red\"]"}]));
    assert_eq!(e.scim_type(), "invalidFilter");
    assert!(e.to_string().contains("colour"), "{e}");
}

#[test]
fn replace_filter_matching_nothing_is_no_target() {
    let u = babs();
    let e = user_err(&u, json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "x"}]));
    assert_eq!(e.scim_type(), "noTarget");
    assert!(e.to_string().contains("emails"), "{e}");
    let e = user_err(
        &u,
        json!([{"op": "replace", "path": "emails[type eq \"fax\" or type eq \"other\"].value", "value": "x"}]),
    );
    assert_eq!(e.scim_type(), "noTarget");
    // an eq filter with a value that is not an object for a whole-element write cannot create anything
    let e = user_err(&u, json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn remove_without_path_built_by_hand_is_no_target() {
    let mut u = babs();
    let request = PatchRequest {
        operations: vec![PatchOp { op: PatchOpKind::Remove, path: None, raw_path: None, value: None }],
        tolerances: vec![],
    };
    let e = apply_patch(&mut u, &request, &UserRules, &mut Vec::new()).unwrap_err();
    assert_eq!(e.scim_type(), "noTarget");
    assert_eq!(u, babs());
}

#[test]
fn add_without_value_built_by_hand_is_invalid_value() {
    let mut u = babs();
    let request = PatchRequest {
        operations: vec![PatchOp { op: PatchOpKind::Add, path: None, raw_path: None, value: None }],
        tolerances: vec![],
    };
    let e = apply_patch(&mut u, &request, &UserRules, &mut Vec::new()).unwrap_err();
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn atomic_when_second_operation_fails() {
    let u = babs();
    let mut work = u.clone();
    let mut tolerances = vec![];
    let request = parse_patch(&body(json!([
        {"op": "Replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "other"}
    ])))
    .unwrap();
    let e = apply_patch(&mut work, &request, &UserRules, &mut tolerances).unwrap_err();
    assert_eq!(e.scim_type(), "mutability");
    assert!(e.to_string().starts_with("Operations[1]: "), "{e}");
    assert_eq!(work, u, "document unchanged");
    assert!(tolerances.is_empty(), "nothing reported for a failed request");
}

#[test]
fn atomic_when_a_later_key_of_a_no_path_value_fails() {
    let u = babs();
    let e = user_err(
        &u,
        json!([{"op": "replace", "value": {"displayName": "Changed", "title": "New", "active": "perhaps"}}]),
    );
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn document_must_be_an_object() {
    let mut doc = json!("not a resource");
    let request = parse_patch(&body(json!([{"op": "remove", "path": "title"}]))).unwrap();
    let e = apply_patch(&mut doc, &request, &UserRules, &mut Vec::new()).unwrap_err();
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert_eq!(doc, json!("not a resource"));
}

#[test]
fn core_schema_object_cannot_be_removed() {
    let e = user_err(&babs(), json!([{"op": "remove", "path": USER}]));
    assert_eq!(e.scim_type(), "mutability");
}
