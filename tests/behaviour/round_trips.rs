//! DynamoDB round trips per request, counted by an SDK interceptor (request-log writes apart).
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_authenticated_discovery_request_costs_one_round_trip() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // This instance counts a token's requests against the budget once it saw the token pass.
    app.get(&format!("{}/ServiceProviderConfig", org.base), &org.token).send().await.unwrap();
    for route in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        app.round_trips.start();
        let response = app.get(&format!("{}{route}", org.base), &org.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        app.flush_logs().await;
        // The token check's read also fetches the fair-use budget, hence a BatchGetItem of two keys.
        assert_eq!(app.round_trips.calls(), ["BatchGetItem"], "{route}");
        assert_eq!(app.round_trips.rate_counts(), 1, "{route}: one fair-use count, beside the read");
        assert_eq!(app.round_trips.sequential(), 1, "{route}");
        assert_eq!(app.round_trips.log_writes(), 1, "{route}: one request-log write, off the response path");
    }
}
