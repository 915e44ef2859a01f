//! Users: real IdP bodies (Okta, Entra) and the finer semantics.

use super::*;

// ----------------------------------------------------------------------------------------------------------------- Okta

#[test]
fn okta_deactivate_full_body() {
    let mut u = babs();
    let t = run_body(
        &mut u,
        &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}),
        &UserRules,
    )
    .unwrap();
    assert_eq!(u["active"], json!(false));
    assert!(t.is_empty());
    let mut expected = babs();
    expected["active"] = json!(false);
    assert_eq!(u, expected, "nothing else changes");
}

// ---------------------------------------------------------------------------------------------------------------- Entra

#[test]
fn entra_active_false_as_capitalised_string() {
    let mut u = plain_user();
    let t = user_ok(&mut u, json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(u["active"], json!(false));
    assert!(t.contains(&Tolerance::CapitalisedOp));
    assert!(t.contains(&Tolerance::BooleanAsString));
    assert_eq!(t.len(), 2);
}

#[test]
fn boolean_strings_any_case() {
    for (s, b) in [("true", true), ("TRUE", true), ("False", false), ("false", false)] {
        let mut u = plain_user();
        user_ok(&mut u, json!([{"op": "replace", "value": {"active": s}}]));
        assert_eq!(u["active"], json!(b), "{s}");
    }
}

#[test]
fn entra_add_work_email_creates_element() {
    let mut u = plain_user();
    let t = user_ok(&mut u, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y.com"}]));
    assert_eq!(u["emails"], json!([{"type": "work", "value": "x@y.com"}]));
    assert!(t.contains(&Tolerance::ValueFilterCreatedElement));
}

#[test]
fn entra_add_work_email_updates_existing_element() {
    let mut u = babs();
    let t =
        user_ok(&mut u, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]));
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[0], json!({"value": "new@example.com", "type": "work", "primary": true}));
    assert!(!t.contains(&Tolerance::ValueFilterCreatedElement));
}

#[test]
fn entra_replace_creates_element_with_two_eq_comparisons() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "Replace", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value", "value": "+1 555"}]),
    );
    assert_eq!(u["phoneNumbers"], json!([{"type": "mobile", "primary": true, "value": "+1 555"}]));
    assert!(t.contains(&Tolerance::ValueFilterCreatedElement));
}

#[test]
fn entra_replace_address_element_without_sub_creates_it() {
    let mut u = plain_user();
    user_ok(
        &mut u,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"locality": "Seattle"}}]),
    );
    assert_eq!(u["addresses"], json!([{"type": "work", "locality": "Seattle"}]));
}

#[test]
fn entra_replace_given_name_keeps_family_name() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "Replace", "path": "name.givenName", "value": "A"}]));
    assert_eq!(u["name"], json!({"givenName": "A", "familyName": "Tester"}));
}

#[test]
fn sub_attribute_path_creates_parent() {
    let mut u = json!({"schemas": [USER], "id": "x", "userName": "x"});
    user_ok(&mut u, json!([{"op": "add", "path": "name.familyName", "value": "Doe"}]));
    assert_eq!(u["name"], json!({"familyName": "Doe"}));
}

#[test]
fn entra_bare_manager_id() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-id"}]),
    );
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "mgr-id"}));
    assert!(t.contains(&Tolerance::BareManagerId));
    assert_eq!(u["schemas"], json!([USER, ENTERPRISE]), "extension URN added to schemas");
}

#[test]
fn manager_object_is_standard() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "m2", "$ref": "../Users/m2"}}]),
    );
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "m2", "$ref": "../Users/m2"}));
    assert!(t.is_empty());
}

#[test]
fn manager_empty_string_or_null_removes_it() {
    for v in [json!(""), Value::Null, json!({"value": ""})] {
        let mut u = plain_user();
        u["schemas"] = json!([USER, ENTERPRISE]);
        u[ENTERPRISE] = json!({"manager": {"value": "m1"}});
        user_ok(&mut u, json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": v}]));
        assert!(u.get(ENTERPRISE).is_none(), "{v}: {u:#}");
        assert_eq!(u["schemas"], json!([USER]), "{v}: extension URN dropped from schemas");
    }
    let mut u = plain_user();
    u[ENTERPRISE] = json!({"manager": {"value": "m1"}, "department": "Eng"});
    user_ok(&mut u, json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": ""}]));
    assert_eq!(u[ENTERPRISE], json!({"department": "Eng"}));
}

#[test]
fn manager_value_sub_path() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "add", "path": format!("{ENTERPRISE}:manager.value"), "value": "m3"}]));
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "m3"}));
}

#[test]
fn manager_read_only_display_name_is_ignored() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "m1", "displayName": "Boss"}}]),
    );
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "m1"}));
    assert!(t.contains(&Tolerance::ReadOnlyValueIgnored));
}

#[test]
fn entra_no_path_replace_with_dotted_and_urn_keys() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "Replace", "value": {
            "displayName": "D",
            "name.givenName": "G",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Eng"
        }}]),
    );
    assert_eq!(u["displayName"], json!("D"));
    assert_eq!(u["name"], json!({"givenName": "G", "familyName": "Tester"}));
    assert_eq!(u[ENTERPRISE], json!({"department": "Eng"}));
    assert!(t.contains(&Tolerance::DottedKeyInValue));
    assert!(t.contains(&Tolerance::CapitalisedOp));
    assert_eq!(u["schemas"], json!([USER, ENTERPRISE]));
}

#[test]
fn no_path_value_with_extension_object() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "add", "value": {ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "m1"}}}}]),
    );
    assert_eq!(u[ENTERPRISE], json!({"employeeNumber": "701984", "manager": {"value": "m1"}}));
    assert!(t.is_empty());
}

#[test]
fn no_path_value_with_bare_manager_inside_extension_object() {
    let mut u = plain_user();
    let t = user_ok(&mut u, json!([{"op": "replace", "value": {ENTERPRISE: {"manager": "m9"}}}]));
    assert_eq!(u[ENTERPRISE]["manager"], json!({"value": "m9"}));
    assert!(t.contains(&Tolerance::BareManagerId));
}

#[test]
fn path_naming_a_whole_extension() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "add", "path": ENTERPRISE, "value": {"department": "Ops", "costCenter": "4130"}}]));
    assert_eq!(u[ENTERPRISE], json!({"department": "Ops", "costCenter": "4130"}));
    user_ok(&mut u, json!([{"op": "remove", "path": ENTERPRISE}]));
    assert!(u.get(ENTERPRISE).is_none());
    assert_eq!(u["schemas"], json!([USER]));
}

// ------------------------------------------------------------------------------------------------ types and tolerances

#[test]
fn single_element_for_multi_valued_is_wrapped() {
    let mut u = plain_user();
    let t = user_ok(&mut u, json!([{"op": "add", "path": "emails", "value": {"value": "a@b.c", "type": "work"}}]));
    assert_eq!(u["emails"], json!([{"value": "a@b.c", "type": "work"}]));
    assert!(t.contains(&Tolerance::SingleValueForMultiValued));
}

#[test]
fn integer_decimal_datetime_and_multi_valued_strings() {
    let mut u = plain_user();
    user_ok(
        &mut u,
        json!([{"op": "add", "value": {TEST_EXT: {"level": 3, "score": 4.5, "tags": ["a", "b"], "lastSeen": "2024-01-01T00:00:00Z"}}}]),
    );
    assert_eq!(u[TEST_EXT], json!({"level": 3, "score": 4.5, "tags": ["a", "b"], "lastSeen": "2024-01-01T00:00:00Z"}));
    user_ok(&mut u, json!([{"op": "add", "path": format!("{TEST_EXT}:tags"), "value": ["b", "c"]}]));
    assert_eq!(u[TEST_EXT]["tags"], json!(["a", "b", "c"]), "add skips equal elements");
    user_ok(&mut u, json!([{"op": "remove", "path": format!("{TEST_EXT}:tags[value eq \"a\"]")}]));
    assert_eq!(u[TEST_EXT]["tags"], json!(["b", "c"]));

    let e = user_err(&u, json!([{"op": "replace", "path": format!("{TEST_EXT}:level"), "value": 2.5}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("an integer"), "{e}");
    let e = user_err(&u, json!([{"op": "replace", "path": format!("{TEST_EXT}:score"), "value": "4.5"}]));
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(e.to_string().contains("a number"), "{e}");
}

#[test]
fn unknown_attribute_under_known_extension_is_kept() {
    let mut u = plain_user();
    let t = user_ok(&mut u, json!([{"op": "add", "value": {format!("{ENTERPRISE}:favouriteColour"): "teal"}}]));
    assert_eq!(u[ENTERPRISE]["favouriteColour"], json!("teal"));
    assert!(t.contains(&Tolerance::DottedKeyInValue));
    user_ok(&mut u, json!([{"op": "replace", "path": format!("{ENTERPRISE}:favouriteColour"), "value": {"r": 1}}]));
    assert_eq!(u[ENTERPRISE]["favouriteColour"], json!({"r": 1}));
}

#[test]
fn unknown_extension_object_is_stored_as_sent() {
    let mut u = plain_user();
    let ext = "urn:example:custom:1.0:User";
    user_ok(&mut u, json!([{"op": "add", "value": {ext: {"badge": 7, "zone": ["a"]}}}]));
    assert_eq!(u[ext], json!({"badge": 7, "zone": ["a"]}));
    user_ok(&mut u, json!([{"op": "add", "value": {ext: {"floor": "3"}}}]));
    assert_eq!(u[ext], json!({"badge": 7, "zone": ["a"], "floor": "3"}), "add merges");
    user_ok(&mut u, json!([{"op": "replace", "value": {ext: {"floor": "4"}}}]));
    assert_eq!(u[ext], json!({"floor": "4"}), "replace sets");
    assert_eq!(u["schemas"], json!([USER]), "unknown extensions are not added to schemas");
}

#[test]
fn a_write_only_attribute_is_accepted_but_never_kept_in_any_spelling() {
    let qualified = format!("{USER}:password");
    for ops in [
        json!([{"op": "replace", "path": "password", "value": "s3cret!"}]),
        json!([{"op": "add", "path": "PassWord", "value": "s3cret!"}]),
        json!([{"op": "replace", "path": qualified.clone(), "value": "s3cret!"}]),
        json!([{"op": "replace", "value": {"password": "s3cret!"}}]),
        json!([{"op": "add", "value": {qualified.to_uppercase(): "s3cret!"}}]),
        json!([{"op": "replace", "value": {USER: {"Password": "s3cret!"}}}]),
    ] {
        let mut u = plain_user();
        user_ok(&mut u, ops.clone());
        assert!(!u.to_string().to_lowercase().contains("password"), "{ops}: {u}");
        assert!(!u.to_string().contains("s3cret!"), "{ops}: {u}");
    }
    // A document that already held one (written before this rule) loses it on its next write.
    let mut u = plain_user();
    u["password"] = json!("stale-secret");
    u[qualified.as_str()] = json!("stale-secret");
    user_ok(&mut u, json!([{"op": "replace", "path": "displayName", "value": "X"}]));
    assert!(!u.to_string().contains("stale-secret"), "{u}");
}

// ---------------------------------------------------------------------------------------------------------------- primary

#[test]
fn added_primary_email_wins() {
    let mut u = babs();
    user_ok(
        &mut u,
        json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.org", "type": "other", "primary": true}]}]),
    );
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails[0]["primary"], json!(false));
    assert_eq!(emails[2]["primary"], json!(true));
    assert_eq!(emails.iter().filter(|e| e["primary"] == json!(true)).count(), 1);
}

#[test]
fn primary_set_through_filter_wins() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]));
    assert_eq!(u["emails"][0]["primary"], json!(false));
    assert_eq!(u["emails"][1]["primary"], json!(true));
}

#[test]
fn replace_array_with_two_primaries_keeps_last() {
    let mut u = plain_user();
    user_ok(
        &mut u,
        json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}
        ]}]),
    );
    assert_eq!(u["emails"], json!([{"value": "a@x", "primary": false}, {"value": "b@x", "primary": true}]));
}

// ------------------------------------------------------------------------------------------------------- empty values

#[test]
fn null_empty_array_and_empty_object_unassign() {
    let mut u = babs();
    user_ok(
        &mut u,
        json!([
            {"op": "replace", "path": "title", "value": null},
            {"op": "replace", "path": "emails", "value": []},
            {"op": "replace", "path": "name", "value": {}},
            {"op": "replace", "value": {"displayName": null}}
        ]),
    );
    for gone in ["title", "emails", "name", "displayName"] {
        assert!(u.get(gone).is_none(), "{gone} should be removed: {u:#}");
    }
}

#[test]
fn removing_last_element_or_sub_attribute_removes_attribute() {
    let mut u = plain_user();
    u["emails"] = json!([{"value": "a@x", "type": "work"}]);
    user_ok(&mut u, json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    assert!(u.get("emails").is_none());
    user_ok(&mut u, json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"}]));
    assert!(u.get("name").is_none());
}

#[test]
fn setting_sub_attribute_to_null_removes_it() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "replace", "path": "name", "value": {"formatted": null}}]));
    assert!(u["name"].get("formatted").is_none());
    assert_eq!(u["name"]["givenName"], json!("Barbara"));
}

// --------------------------------------------------------------------------------------------------------------- remove

#[test]
fn remove_is_idempotent() {
    let mut u = plain_user();
    let before = u.clone();
    user_ok(
        &mut u,
        json!([
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "remove", "path": "emails[type eq \"work\"].value"},
            {"op": "remove", "path": format!("{ENTERPRISE}:department")},
            {"op": "remove", "path": "addresses.locality"}
        ]),
    );
    assert_eq!(u, before);
}

#[test]
fn remove_sub_attribute_from_every_element() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "addresses.locality"}]));
    for a in u["addresses"].as_array().unwrap() {
        assert!(a.get("locality").is_none());
    }
}

#[test]
fn remove_with_or_and_not_filters() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "emails[not (type eq \"work\")]"}]));
    assert_eq!(u["emails"], json!([{"value": "bjensen@example.com", "type": "work", "primary": true}]));
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}]));
    assert!(u.get("emails").is_none());
}

// ----------------------------------------------------------------------------------------------------------------- case

#[test]
fn existing_key_case_is_kept() {
    let mut u = json!({"schemas": [USER], "id": "x", "UserName": "old", "NAME": {"GivenName": "a"}, "Emails": [{"Value": "a@x", "Type": "work"}]});
    user_ok(
        &mut u,
        json!([
            {"op": "replace", "path": "userName", "value": "new"},
            {"op": "replace", "path": "name.givenName", "value": "b"},
            {"op": "replace", "value": {"USERNAME": "newer"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x"}
        ]),
    );
    assert_eq!(
        u,
        json!({"schemas": [USER], "id": "x", "UserName": "newer", "NAME": {"GivenName": "b"}, "Emails": [{"Value": "b@x", "Type": "work"}]})
    );
}

#[test]
fn path_case_insensitive_and_extension_key_case() {
    let mut u = plain_user();
    u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"] = json!({"Department": "Old"});
    user_ok(
        &mut u,
        json!([{"op": "replace", "path": "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:DEPARTMENT", "value": "New"}]),
    );
    assert_eq!(u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"], json!({"Department": "New"}));
    assert!(u.get(ENTERPRISE).is_none());
}

#[test]
fn core_urn_qualified_path() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "replace", "path": format!("{USER}:displayName"), "value": "Q"}]));
    assert_eq!(u["displayName"], json!("Q"));
}

// ------------------------------------------------------------------------------------------------------------- schemas

#[test]
fn schemas_can_be_added_but_not_removed() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "add", "path": "schemas", "value": [ENTERPRISE]}]));
    assert_eq!(u["schemas"], json!([USER, ENTERPRISE]));
    let e = user_err(&u, json!([{"op": "remove", "path": "schemas"}]));
    assert_eq!(e.scim_type(), "mutability");
    assert!(e.to_string().contains("schemas"), "{e}");
    let e = user_err(&u, json!([{"op": "replace", "path": "schemas", "value": [ENTERPRISE]}]));
    assert_eq!(e.scim_type(), "invalidValue");
}

#[test]
fn schemas_equal_in_no_path_value_is_a_no_op() {
    let mut u = plain_user();
    let before = u.clone();
    user_ok(&mut u, json!([{"op": "replace", "value": {"schemas": [USER]}}]));
    assert_eq!(u, before);
}

// -------------------------------------------------------------------------------------------------------- immutability

#[test]
fn immutable_attribute_set_once() {
    let mut u = plain_user();
    let badge = format!("{TEST_EXT}:badgeId");
    user_ok(&mut u, json!([{"op": "add", "path": badge, "value": "B-1"}]));
    assert_eq!(u[TEST_EXT]["badgeId"], json!("B-1"));
    user_ok(&mut u, json!([{"op": "replace", "path": badge, "value": "B-1"}]));
    let e = user_err(&u, json!([{"op": "replace", "path": badge, "value": "B-2"}]));
    assert_eq!(e.scim_type(), "mutability");
    assert!(e.to_string().contains("immutable"), "{e}");
    let e = user_err(&u, json!([{"op": "remove", "path": badge}]));
    assert_eq!(e.scim_type(), "mutability");
}

// --------------------------------------------------------------------------------------------------------- tolerances

#[test]
fn tolerances_are_appended_once() {
    let mut u = plain_user();
    let request = parse_patch(&body(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "displayName", "value": "x"},
        {"op": "Add", "value": {"active": "TRUE"}}
    ])))
    .unwrap();
    let mut tolerances = vec![Tolerance::BooleanAsString];
    apply_patch(&mut u, &request, &UserRules, &mut tolerances).unwrap();
    assert_eq!(tolerances, vec![Tolerance::BooleanAsString, Tolerance::CapitalisedOp]);
    assert_eq!(u["active"], json!(true));
}

#[test]
fn sub_attribute_of_multi_valued_without_filter() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "add", "path": "emails.value", "value": "a@x"}]));
    assert_eq!(u["emails"], json!([{"value": "a@x"}]));
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "replace", "path": "emails.display", "value": "Babs"}]));
    assert!(u["emails"].as_array().unwrap().iter().all(|e| e["display"] == json!("Babs")));
}

#[test]
fn entra_role_with_primary_as_string() {
    let mut u = plain_user();
    let t = user_ok(
        &mut u,
        json!([{"op": "Add", "path": "roles", "value": [{"primary": "False", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}]),
    );
    assert_eq!(u["roles"], json!([{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]));
    assert!(t.contains(&Tolerance::BooleanAsString));
}

#[test]
fn remove_with_value_on_single_valued_removes_it() {
    let mut u = plain_user();
    u[ENTERPRISE] = json!({"manager": {"value": "m1"}});
    let t = user_ok(&mut u, json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager"), "value": "m1"}]));
    assert!(u.get(ENTERPRISE).is_none());
    assert!(!t.contains(&Tolerance::RemoveByValueList));
}

#[test]
fn filter_present_operator() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "emails[primary pr]"}]));
    assert_eq!(u["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
}
