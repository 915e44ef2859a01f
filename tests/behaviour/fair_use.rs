//! Fair use per organization (docs/ARCHITECTURE.md, "Fair use"): a burst over an organization's
//! budget is answered 429 with `Retry-After`, the requests after the wait pass, a wrong token
//! never spends the budget, and another organization is unaffected at the same time.
use insomnia_scim::store::RateBudget;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, OperatorScope, ScimOrg, TestApp};

async fn discovery(app: &TestApp, org: &ScimOrg, token: &str) -> reqwest::Response {
    app.get(&format!("{}/ServiceProviderConfig", org.base), token).send().await.unwrap()
}

/// `n` requests at once; the statuses and the Retry-After values of the 429s.
async fn burst(app: &TestApp, org: &ScimOrg, n: usize) -> (Vec<StatusCode>, Vec<(String, serde_json::Value)>) {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        requests.spawn(app.get(&format!("{}/ServiceProviderConfig", org.base), &org.token).send());
    }
    let mut statuses = Vec::new();
    let mut refused = Vec::new();
    for response in requests.join_all().await {
        let response = response.unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            refused.push((retry_after.unwrap_or_default(), response.json().await.unwrap()));
        }
    }
    (statuses, refused)
}

#[tokio::test]
async fn a_burst_over_the_budget_waits_and_another_organization_is_unaffected() {
    let app = spawn_app().await;
    let limited = app.scim_org().await;
    let other = app.scim_org().await;
    // 2 requests/s in bursts of 4: windows of 2 s admitting 4 requests each.
    app.store.set_rate_budget(&limited.id.scope(), RateBudget { per_second: 2, burst: 4 }).await.unwrap();
    // This instance learns the budget from the next read (counted under the defaults until then).
    assert_eq!(discovery(&app, &limited, &limited.token).await.status(), StatusCode::OK);

    // Wrong tokens, many: they count in a bucket of their own, never in the organization's.
    for _ in 0..6 {
        let wrong = discovery(&app, &limited, "iscim_not-the-token").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }

    let ((statuses, refused), (other_statuses, _)) = tokio::join!(burst(&app, &limited, 12), burst(&app, &other, 12));
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!((1..=8).contains(&passed), "at most two windows' budget passes: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(!refused.is_empty(), "{statuses:?}");
    for (retry_after, body) in &refused {
        let seconds: u64 = retry_after.parse().unwrap_or_else(|_| panic!("Retry-After in seconds: {retry_after:?}"));
        assert!((1..=2).contains(&seconds), "at most the 2 s window: {seconds}");
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{body}");
        assert_eq!(body["status"], "429", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("request budget"), "{body}");
    }
    assert!(other_statuses.iter().all(|s| *s == StatusCode::OK), "the other organization: {other_statuses:?}");

    // After the wait the organization's requests pass again.
    let wait: u64 = refused.iter().filter_map(|(r, _)| r.parse().ok()).max().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 50)).await;
    for _ in 0..3 {
        assert_eq!(discovery(&app, &limited, &limited.token).await.status(), StatusCode::OK);
    }

    // The refusals are in the organization's request log (and so in the console).
    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&limited.id.scope(), 100).await.unwrap();
    let logged = logs.iter().filter(|l| l.status == 429).collect::<Vec<_>>();
    assert_eq!(logged.len(), refused.len(), "every 429 is logged");
    assert!(logged.iter().all(|l| l.detail.as_ref().is_some_and(|d| d.contains("request budget"))), "{logged:?}");
}

#[tokio::test]
async fn the_default_budget_lets_an_initial_sync_through() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // Entra asks for at least 25 requests/s per tenant: 60 at once stay within the default burst.
    let (statuses, _) = burst(&app, &org, 60).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}

/// The organization's fair-use count: every `RATE#` counter of its valid tokens, summed.
async fn counted(app: &TestApp, org: &ScimOrg) -> u64 {
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = app
        .store
        .client()
        .query()
        .table_name(&app.table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :rate)")
        .expression_attribute_values(":pk", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .expression_attribute_values(
            ":rate",
            AttributeValue::S(insomnia_scim::store::keys::rate_bucket_prefix(
                insomnia_scim::provisioning::fair_use::VALID_BUCKET,
            )),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items.iter().map(|item| item["n"].as_n().unwrap().parse::<u64>().unwrap()).sum()
}

#[tokio::test]
async fn concurrent_requests_share_counter_writes_and_every_request_is_counted() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // The first request this instance sees of the token learns that it is valid (uncounted).
    assert_eq!(discovery(&app, &org, &org.token).await.status(), StatusCode::OK);
    let before = counted(&app, &org).await;

    app.round_trips.start();
    let (statuses, _) = burst(&app, &org, 40).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(counted(&app, &org).await - before, 40, "each request counted once, none lost");
    let writes = app.round_trips.rate_counts();
    assert!((1..40).contains(&writes), "requests that came during an ADD share the next one: {writes} writes");
}
