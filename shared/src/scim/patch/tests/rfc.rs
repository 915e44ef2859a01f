//! The examples of RFC 7644 §3.5.2.1–3.

use super::*;

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";

#[test]
fn add_member_to_group() {
    let mut g = json!({"schemas": [GROUP], "id": "g1", "displayName": "Tour Guides"});
    let t = group_ok(
        &mut g,
        json!([{
            "op": "add",
            "path": "members",
            "value": [{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS}]
        }]),
    );
    assert!(t.is_empty());
    assert_eq!(
        g["members"],
        json!([{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS}])
    );
}

#[test]
fn add_without_path_merges_attributes() {
    let mut u = plain_user();
    user_ok(
        &mut u,
        json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}]),
    );
    assert_eq!(u["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    assert_eq!(u["nickname"], json!("Babs"));
    assert_eq!(u["userName"], json!("t@contoso.com"), "other attributes untouched");
}

#[test]
fn add_existing_email_does_not_duplicate() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}]}}]));
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn add_to_multi_valued_appends() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "add", "path": "emails", "value": [{"value": "b@other.org", "type": "other"}]}]));
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2], json!({"value": "b@other.org", "type": "other"}));
    assert_eq!(emails[0]["primary"], json!(true), "existing primary kept");
}

#[test]
fn add_single_valued_replaces() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "add", "path": "title", "value": "Manager"}]));
    assert_eq!(u["title"], json!("Manager"));
}

#[test]
fn add_complex_merges_sub_attributes() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "add", "path": "name", "value": {"middleName": "Jane", "givenName": "Babs"}}]));
    assert_eq!(
        u["name"],
        json!({"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Babs", "middleName": "Jane"})
    );
}

#[test]
fn remove_all_members() {
    let mut g = tour_guides();
    group_ok(&mut g, json!([{"op": "remove", "path": "members"}]));
    assert!(g.get("members").is_none());
    assert_eq!(g["displayName"], json!("Tour Guides"));
}

#[test]
fn remove_one_member() {
    let mut g = tour_guides();
    group_ok(&mut g, json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]));
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m["value"] != json!(BABS)));
}

#[test]
fn remove_work_email_with_complex_filter() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]));
    assert_eq!(u["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
}

#[test]
fn remove_multiple_members_as_written_in_the_rfc() {
    // The RFC writes `value eq"…"` without a blank.
    let mut g = tour_guides();
    group_ok(
        &mut g,
        json!([
            {"op": "remove", "path": format!("members[value eq\"{BABS}\"]")},
            {"op": "remove", "path": format!("members[value eq\"{MANDY}\"]")}
        ]),
    );
    assert_eq!(g["members"], json!([{"value": "u1", "display": "a@x"}]));
}

#[test]
fn remove_all_then_add_replaces_members() {
    let mut g = tour_guides();
    group_ok(
        &mut g,
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [
                {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
            ]}
        ]),
    );
    assert_eq!(
        g["members"],
        json!([{"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}])
    );
}

#[test]
fn replace_members() {
    let mut g = tour_guides();
    group_ok(
        &mut g,
        json!([{"op": "replace", "path": "members", "value": [
            {"display": "Babs Jensen", "value": BABS},
            {"display": "James Smith", "value": "08e1d05d"}
        ]}]),
    );
    assert_eq!(
        g["members"],
        json!([{"display": "Babs Jensen", "value": BABS}, {"display": "James Smith", "value": "08e1d05d"}])
    );
}

#[test]
fn replace_filtered_element() {
    let mut u = babs();
    user_ok(
        &mut u,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
            "region": "CA", "postalCode": "91608", "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true
        }}]),
    );
    let addrs = u["addresses"].as_array().unwrap();
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[0]["streetAddress"], json!("911 Universal City Plaza"));
    assert_eq!(addrs[0]["postalCode"], json!("91608"));
    assert_eq!(addrs[1]["type"], json!("home"), "other element untouched");
}

#[test]
fn replace_sub_attribute_of_filtered_element() {
    let mut u = babs();
    user_ok(
        &mut u,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    assert_eq!(u["addresses"][0]["streetAddress"], json!("1010 Broadway Ave"));
    assert_eq!(u["addresses"][0]["locality"], json!("Hollywood"), "siblings kept");
    assert_eq!(u["addresses"][1]["streetAddress"], json!("456 Hollywood Blvd"));
}

#[test]
fn replace_without_path() {
    let mut u = babs();
    user_ok(
        &mut u,
        json!([{"op": "replace", "value": {
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(u["emails"], json!([{"value": "bjensen@example.com", "type": "work", "primary": true}]));
    assert_eq!(u["nickname"], json!("Babs"));
}

#[test]
fn replace_of_absent_attribute_adds_it() {
    let mut u = plain_user();
    user_ok(&mut u, json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    assert_eq!(u["title"], json!("Boss"));
}

#[test]
fn replace_complex_leaves_unspecified_sub_attributes() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]));
    assert_eq!(u["name"]["givenName"], json!("Babs"));
    assert_eq!(u["name"]["familyName"], json!("Jensen"));
}

#[test]
fn remove_sub_attribute_of_filtered_elements() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "addresses[type eq \"work\"].locality"}]));
    assert!(u["addresses"][0].get("locality").is_none());
    assert_eq!(u["addresses"][1]["locality"], json!("Hollywood"));
}

#[test]
fn remove_single_valued_and_sub_attribute() {
    let mut u = babs();
    user_ok(&mut u, json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "name.givenName"}]));
    assert!(u.get("title").is_none());
    assert!(u["name"].get("givenName").is_none());
    assert_eq!(u["name"]["familyName"], json!("Jensen"));
}
