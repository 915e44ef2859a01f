//! `GET /Groups` is bounded per page, not per team: a page of several large teams stops before the
//! team that would take it over `LIST_PAGE_BUDGET` (what one Lambda response can carry), answers
//! `200` with fewer teams than `count` and an honest `itemsPerPage`, and an IdP paging by
//! `startIndex` gets every team exactly once, each with all its members.
//!
//! The memberships are loaded straight into the table with the store's bulk loader. Their user ids
//! are long (the membership items do not need user items), so that a few thousand memberships weigh
//! what tens of thousands of real ones would, and the test stays fast on moto.
use crate::helpers::OperatorScope;
use std::collections::{BTreeMap, BTreeSet};

use insomnia_scim::scim::group::{envelope_len, LIST_PAGE_BUDGET};
use reqwest::{Method, StatusCode};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{create_bare_group, member_value_set, scim, LIST_SCHEMA};

const BIG_TEAMS: usize = 4;

/// A user id of about 800 bytes (within DynamoDB's 1 KiB sort-key limit).
fn long_user_id(team: usize, i: usize) -> String {
    format!("{}-{team}-{i}-{}", uuid::Uuid::new_v4(), "x".repeat(760))
}

/// What one member entry of a rendered group weighs in a response.
fn member_weight(org: &ScimOrg, id: &str) -> usize {
    let entry = serde_json::json!({"value": id, "$ref": format!("{}/Users/{id}", org.base), "type": "User"});
    envelope_len(&entry.to_string()) + 1
}

/// `GET /Groups?startIndex=…&count=100`: the status, the body as text and as JSON.
async fn list_page(app: &TestApp, org: &ScimOrg, query: &str) -> (StatusCode, String, serde_json::Value) {
    let response = scim(app, org, Method::GET, &format!("/Groups?{query}")).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.chars().take(500).collect()));
    (status, text, body)
}

#[tokio::test]
async fn a_page_of_large_teams_stops_within_the_budget_and_paging_by_start_index_returns_every_team_once() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // Each big team is ~40% of the budget: two fit on a page, three do not.
    let per_team = LIST_PAGE_BUDGET * 2 / 5 / member_weight(&org, &long_user_id(0, 0)) + 1;
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut loads = Vec::new();
    for team in 0..BIG_TEAMS {
        let gid = create_bare_group(&app, &org, &format!("Big team {team}")).await;
        let members: Vec<String> = (0..per_team).map(|i| long_user_id(team, i)).collect();
        expected.insert(gid.clone(), members.iter().cloned().collect());
        loads.push((gid, members));
    }
    let small = create_bare_group(&app, &org, "Small team").await;
    let few: Vec<String> = (0..3).map(|i| long_user_id(99, i)).collect();
    expected.insert(small.clone(), few.iter().cloned().collect());
    loads.push((small, few));
    let mut tasks = tokio::task::JoinSet::new();
    for (gid, members) in loads {
        let store = app.store.clone();
        let org_id = org.id.clone();
        tasks.spawn(async move { store.load_memberships_unchecked(&org_id.scope(), &gid, &members).await.unwrap() });
    }
    tasks.join_all().await;
    let sum: usize = expected.values().map(|m| m.iter().map(|id| member_weight(&org, id)).sum::<usize>()).sum();
    assert!(sum > LIST_PAGE_BUDGET * 3 / 2, "the teams together are well over one response: {sum}");

    // Without members every team fits on one page.
    let (status, _, body) = list_page(&app, &org, "excludedAttributes=members").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["itemsPerPage"], expected.len(), "{body}");

    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut start = 1;
    let mut pages = 0;
    while start <= expected.len() {
        let (status, text, body) = list_page(&app, &org, &format!("startIndex={start}&count=100")).await;
        assert_eq!(status, StatusCode::OK, "page at {start}: {body}");
        assert!(envelope_len(&text) <= LIST_PAGE_BUDGET, "page at {start} weighs {}", envelope_len(&text));
        assert_eq!(body["schemas"], serde_json::json!([LIST_SCHEMA]));
        assert_eq!(body["totalResults"], expected.len(), "totalResults counts every match on every page");
        assert_eq!(body["startIndex"], start);
        let resources = body["Resources"].as_array().unwrap();
        assert_eq!(body["itemsPerPage"], resources.len(), "itemsPerPage is what the page holds");
        assert!(!resources.is_empty(), "a page holds at least one team");
        assert!(resources.len() < expected.len(), "no page holds every team: {}", resources.len());
        for group in resources {
            let id = group["id"].as_str().unwrap().to_owned();
            let members = member_value_set(group);
            assert!(seen.insert(id.clone(), members).is_none(), "team {id} came twice");
        }
        start += resources.len();
        pages += 1;
        assert!(pages <= expected.len(), "paging ends");
    }
    assert!(pages >= 2, "{pages} pages");
    assert_eq!(seen.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "every team exactly once");
    for (id, members) in &expected {
        assert_eq!(seen[id].len(), members.len(), "team {id}");
        assert!(seen[id] == *members, "team {id} came with all its members");
    }
}
