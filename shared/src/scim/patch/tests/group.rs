//! Groups: Okta and Entra member management.

use super::*;

#[test]
fn okta_add_member() {
    let mut g = json!({"schemas": [GROUP], "id": "g1", "displayName": "Eng"});
    let t = group_ok(&mut g, json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "a@x"}]}]));
    assert_eq!(g["members"], json!([{"value": "u1", "display": "a@x"}]));
    assert!(t.is_empty());
}

#[test]
fn okta_remove_member_by_filter() {
    let mut g = tour_guides();
    group_ok(&mut g, json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]));
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m["value"] != json!("u1")));
}

#[test]
fn okta_replace_with_own_id_is_accepted() {
    let mut g = tour_guides();
    let t = group_ok(&mut g, json!([{"op": "replace", "value": {"id": "g1", "displayName": "New"}}]));
    assert_eq!(g["displayName"], json!("New"));
    assert_eq!(g["id"], json!("g1"));
    assert_eq!(t, vec![Tolerance::ReadOnlyValueIgnored]);
}

#[test]
fn okta_replace_with_other_id_is_a_mutability_error() {
    let g = tour_guides();
    let e = group_err(&g, json!([{"op": "replace", "value": {"id": "g2", "displayName": "New"}}]));
    assert_eq!(e.scim_type(), "mutability");
    assert!(e.to_string().contains("\"id\" is readOnly"), "{e}");
}

#[test]
fn entra_remove_members_by_value_list() {
    let mut g = tour_guides();
    let t = group_ok(&mut g, json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "only u1 removed: {g:#}");
    assert!(members.iter().all(|m| m["value"] != json!("u1")));
    assert!(t.contains(&Tolerance::RemoveByValueList));
    assert!(t.contains(&Tolerance::CapitalisedOp));
}

#[test]
fn entra_remove_several_members_and_unknown_ones() {
    let mut g = tour_guides();
    group_ok(
        &mut g,
        json!([{"op": "Remove", "path": "members", "value": [
            {"value": "u1"}, {"value": "902c246b-6245-4190-8e05-00816be7344a"}, {"value": "nobody"}
        ]}]),
    );
    assert_eq!(g["members"], json!([{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"}]));
}

#[test]
fn entra_remove_last_member_by_value_list_removes_attribute() {
    let mut g = json!({"schemas": [GROUP], "id": "g1", "displayName": "Eng", "members": [{"value": "u1"}]});
    group_ok(&mut g, json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
    assert!(g.get("members").is_none());
}

#[test]
fn entra_add_members_skips_existing() {
    let mut g = tour_guides();
    let t = group_ok(&mut g, json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]));
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 4);
    assert_eq!(members.iter().filter(|m| m["value"] == json!("u1")).count(), 1);
    assert_eq!(members[2], json!({"value": "u1", "display": "a@x"}), "existing member kept as is");
    assert_eq!(members[3], json!({"value": "u2"}));
    assert_eq!(t, vec![Tolerance::CapitalisedOp]);
}

#[test]
fn entra_add_members_to_empty_group() {
    let mut g = json!({"schemas": [GROUP], "id": "g1", "displayName": "Eng"});
    group_ok(&mut g, json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]));
    assert_eq!(g["members"], json!([{"value": "u1"}, {"value": "u2"}]));
}

#[test]
fn entra_replace_display_name() {
    let mut g = tour_guides();
    group_ok(&mut g, json!([{"op": "Replace", "path": "displayName", "value": "T2"}]));
    assert_eq!(g["displayName"], json!("T2"));
}

#[test]
fn member_sub_attribute_type_is_checked() {
    let g = tour_guides();
    let e = group_err(&g, json!([{"op": "add", "path": "members", "value": [{"value": 17}]}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("members.value"), "{e}");
    let e = group_err(&g, json!([{"op": "add", "path": "members", "value": [{"value": "u9", "colour": "red"}]}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("colour"), "{e}");
}

#[test]
fn group_has_no_user_attributes() {
    let g = tour_guides();
    let e = group_err(&g, json!([{"op": "replace", "path": "userName", "value": "x"}]));
    assert_eq!(e.scim_type(), "invalidPath");
    assert!(e.to_string().contains(GROUP), "{e}");
}

#[test]
fn replace_member_display_by_filter() {
    let mut g = tour_guides();
    group_ok(&mut g, json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "b@x"}]));
    assert_eq!(g["members"][2], json!({"value": "u1", "display": "b@x"}));
}
