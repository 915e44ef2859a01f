//! `parse_patch`: the PatchOp message.

use super::*;

fn parse_err(b: Value) -> PatchError {
    match parse_patch(&b) {
        Ok(r) => panic!("expected an error, parsed {r:?}"),
        Err(e) => e,
    }
}

#[test]
fn parses_ops_paths_and_values() {
    let r = parse_patch(&body(json!([
        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "x@y.com"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "replace", "value": {"active": false}}
    ])))
    .unwrap();
    assert_eq!(r.operations.len(), 3);
    assert!(r.tolerances.is_empty());

    let add = &r.operations[0];
    assert_eq!(add.op, PatchOpKind::Add);
    assert_eq!(add.raw_path.as_deref(), Some("emails[type eq \"work\"].value"));
    let p = add.path.as_ref().unwrap();
    assert_eq!(p.attr.name, "emails");
    assert!(p.value_filter.is_some());
    assert_eq!(p.sub.as_deref(), Some("value"));
    assert_eq!(add.value, Some(json!("x@y.com")));

    let rm = &r.operations[1];
    assert_eq!(rm.op, PatchOpKind::Remove);
    let p = rm.path.as_ref().unwrap();
    assert_eq!((p.attr.name.as_str(), p.attr.sub.as_deref()), ("name", Some("givenName")));
    assert_eq!(rm.value, None);

    let rep = &r.operations[2];
    assert_eq!(rep.op, PatchOpKind::Replace);
    assert!(rep.path.is_none() && rep.raw_path.is_none());
}

#[test]
fn capitalised_op_is_a_tolerance() {
    for (op, kind) in [("Replace", PatchOpKind::Replace), ("Add", PatchOpKind::Add), ("REMOVE", PatchOpKind::Remove)] {
        let r = parse_patch(&body(json!([{"op": op, "path": "title", "value": "x"}]))).unwrap();
        assert_eq!(r.operations[0].op, kind);
        assert_eq!(r.tolerances, vec![Tolerance::CapitalisedOp]);
    }
}

#[test]
fn lowercase_operations_key_and_op_member_case() {
    let r = parse_patch(&json!({
        "schemas": [PATCH_OP_SCHEMA],
        "operations": [{"Op": "replace", "Path": "title", "Value": "Boss"}]
    }))
    .unwrap();
    assert_eq!(r.operations[0].op, PatchOpKind::Replace);
    assert_eq!(r.operations[0].raw_path.as_deref(), Some("title"));
    assert_eq!(r.operations[0].value, Some(json!("Boss")));
    assert_eq!(r.tolerances, vec![Tolerance::MessageKeyCase]);
}

#[test]
fn exact_key_wins_over_other_case() {
    let r = parse_patch(&json!({
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "replace", "path": "title", "value": "A"}],
        "operations": "ignored"
    }))
    .unwrap();
    assert_eq!(r.operations.len(), 1);
    assert!(r.tolerances.is_empty());
}

#[test]
fn empty_and_null_path_mean_no_path() {
    let r = parse_patch(&body(json!([{"op": "replace", "path": "", "value": {"title": "x"}}]))).unwrap();
    assert!(r.operations[0].path.is_none());
    assert_eq!(r.tolerances, vec![Tolerance::EmptyPath]);
    let r = parse_patch(&body(json!([{"op": "replace", "path": null, "value": {"title": "x"}}]))).unwrap();
    assert!(r.operations[0].path.is_none());
    assert!(r.tolerances.is_empty());
}

#[test]
fn schemas_urn_compares_case_insensitively() {
    let r = parse_patch(&json!({
        "schemas": ["URN:ietf:params:scim:api:messages:2.0:patchop"],
        "Operations": [{"op": "remove", "path": "title"}]
    }));
    assert!(r.is_ok());
}

#[test]
fn missing_schemas() {
    let e = parse_err(json!({"Operations": [{"op": "remove", "path": "title"}]}));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("schemas"), "{e}");
    assert!(e.to_string().contains(PATCH_OP_SCHEMA), "{e}");
}

#[test]
fn schemas_without_patch_op_urn() {
    let e = parse_err(json!({"schemas": [USER], "Operations": [{"op": "remove", "path": "title"}]}));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains(PATCH_OP_SCHEMA), "{e}");
    let e = parse_err(json!({"schemas": PATCH_OP_SCHEMA, "Operations": [{"op": "remove", "path": "title"}]}));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("array"), "{e}");
}

#[test]
fn body_not_an_object() {
    let e = parse_err(json!([{"op": "add"}]));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("JSON object"), "{e}");
}

#[test]
fn operations_missing_not_array_or_empty() {
    let e = parse_err(json!({"schemas": [PATCH_OP_SCHEMA]}));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("Operations"), "{e}");

    let e =
        parse_err(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add", "path": "title", "value": "x"}}));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("must be an array"), "{e}");
    assert!(e.to_string().contains("an object"), "{e}");

    let e = parse_err(body(json!([])));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn unknown_op_is_named() {
    let e = parse_err(body(json!([{"op": "move", "from": "title", "path": "nickName"}])));
    assert_eq!(e.scim_type(), "invalidSyntax");
    let msg = e.to_string();
    assert!(msg.contains("\"move\""), "{msg}");
    assert!(msg.contains("Operations[0]"), "{msg}");
    assert!(msg.contains("add") && msg.contains("remove") && msg.contains("replace"), "{msg}");
}

#[test]
fn op_missing_or_not_a_string_or_operation_not_an_object() {
    let e = parse_err(body(json!([{"path": "title", "value": "x"}])));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().contains("no \"op\""), "{e}");
    let e = parse_err(body(json!([{"op": 1, "path": "title", "value": "x"}])));
    assert_eq!(e.scim_type(), "invalidSyntax");
    let e = parse_err(body(json!([{"op": "remove", "path": "title"}, "add"])));
    assert_eq!(e.scim_type(), "invalidSyntax");
    assert!(e.to_string().starts_with("Operations[1]: "), "{e}");
}

#[test]
fn add_or_replace_without_value() {
    let e = parse_err(body(json!([{"op": "add", "path": "title"}])));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("\"add\" requires a \"value\""), "{e}");
    let e = parse_err(body(json!([{"op": "add", "path": "title", "value": null}])));
    assert_eq!(e.scim_type(), "invalidValue");
    let e = parse_err(body(json!([{"op": "replace", "path": "title"}])));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("\"replace\" requires a \"value\""), "{e}");
    // replace with an explicit null is fine (it unassigns)
    assert!(parse_patch(&body(json!([{"op": "replace", "path": "title", "value": null}]))).is_ok());
}

#[test]
fn remove_without_path_is_no_target() {
    let e = parse_err(body(json!([{"op": "remove"}])));
    assert_eq!(e.scim_type(), "noTarget");
    assert!(e.to_string().contains("path"), "{e}");
    let e = parse_err(body(json!([{"op": "remove", "path": ""}])));
    assert_eq!(e.scim_type(), "noTarget");
}

#[test]
fn bad_path_syntax_is_invalid_path() {
    for path in ["emails[type eq \"work\"", "emails[type zz \"work\"]", "name..givenName", "emails]"] {
        let e = parse_err(body(json!([{"op": "replace", "path": path, "value": "x"}])));
        assert_eq!(e.scim_type(), "invalidPath", "{path}: {e}");
        assert!(e.to_string().contains(path), "{e}");
    }
    let e = parse_err(body(json!([{"op": "replace", "path": 5, "value": "x"}])));
    assert_eq!(e.scim_type(), "invalidPath");
}
