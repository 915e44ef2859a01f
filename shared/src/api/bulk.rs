//! `POST /scim/v2/orgs/{orgId}/Bulk` (RFC 7644 §3.7). Each operation is handed to the handler of the
//! single request it stands for, so it is parsed, checked (token, fair use) and written by the same use
//! case, with the same guarantees: a Bulk cut off part way leaves each operation done or not done, as the
//! single requests would (docs/ARCHITECTURE.md, "Bulk").
use std::collections::HashMap;
use std::future::Future;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::body::{BulkBody, ScimBody};
use super::request::{parse_checked, Checked, NoBody, Raw, ScimInput};
use super::{groups, scim_json, users, AppState, ScimCaller};
use crate::scim::bulk::{bulk_response, BulkMethod, BulkOperation, BulkRequest, BulkResource, BulkResult};
use crate::scim::ScimError;

impl ScimInput for BulkRequest {
    type Body = BulkBody;

    fn parse(raw: Raw<'_, BulkBody>) -> Result<Self, ScimError> {
        Self::parse(&raw.body?.0)
    }
}

pub(super) async fn post(
    State(app): State<AppState>,
    Checked(caller, request): Checked<BulkRequest>,
) -> Result<Response, ScimError> {
    if request.operations.is_empty() {
        caller.authorize(&app).await?;
        return Ok(scim_json(StatusCode::OK, &bulk_response(&[])));
    }
    let results = run(&app, &caller, &request).await?;
    Ok(scim_json(StatusCode::OK, &bulk_response(&results)))
}

/// Runs the operations in order; one that refers to a resource a later POST creates waits for it (RFC 7644
/// §3.7.1), and one whose reference cannot be resolved (its POST failed, or a cycle) is `409`.
async fn run(app: &AppState, caller: &ScimCaller, request: &BulkRequest) -> Result<Vec<BulkResult>, ScimError> {
    let posted: HashMap<&str, usize> = request
        .operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == BulkMethod::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|id| (id, i)))
        .collect();
    let mut created: HashMap<String, String> = HashMap::new();
    let mut done = vec![false; request.operations.len()];
    let mut results = Vec::with_capacity(request.operations.len());
    let mut errors = 0;
    loop {
        let mut progressed = false;
        for (i, op) in request.operations.iter().enumerate() {
            if done.get(i).copied().unwrap_or(true) {
                continue;
            }
            let references = op.references();
            // Waits while a reference names a POST of this request that has not run yet.
            if references
                .iter()
                .any(|r| posted.get(r.as_str()).is_some_and(|&j| !done.get(j).copied().unwrap_or(true) && j != i))
            {
                continue;
            }
            if let Some(mark) = done.get_mut(i) {
                *mark = true;
            }
            progressed = true;
            let unresolved: Vec<&String> = references.iter().filter(|r| !created.contains_key(r.as_str())).collect();
            let result = if let Some(missing) = unresolved.first() {
                unresolved_reference(op, missing)
            } else {
                let op = op.resolved(&|bulk_id| created.get(bulk_id).cloned());
                let result = execute(app, caller, &op).await;
                if result.status == StatusCode::UNAUTHORIZED.as_u16() {
                    // The token is the whole request's: no operation can run.
                    return Err(ScimError::from(crate::auth::AuthError::InvalidToken));
                }
                result
            };
            if let (Some(bulk_id), Some(location)) = (&result.bulk_id, &result.location) {
                if op.method == BulkMethod::Post && !result.is_error() {
                    let id = location.rsplit('/').next().unwrap_or_default().to_owned();
                    created.insert(bulk_id.clone(), id);
                }
            }
            errors += usize::from(result.is_error());
            results.push(result);
            if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                return Ok(results);
            }
        }
        if !progressed {
            break;
        }
    }
    // What is left refers in a cycle.
    for (op, _) in request.operations.iter().zip(&done).filter(|(_, done)| !**done) {
        let missing = op.references().into_iter().find(|r| !created.contains_key(r)).unwrap_or_default();
        results.push(unresolved_reference(op, &missing));
        errors += 1;
        if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    Ok(results)
}

fn unresolved_reference(op: &BulkOperation, bulk_id: &str) -> BulkResult {
    let error = ScimError::new(
        StatusCode::CONFLICT,
        Some(crate::scim::ScimType::InvalidValue),
        format!(
            "The reference 'bulkId:{bulk_id}' cannot be resolved: no operation of this request with that bulkId \
             created a resource (it failed, or the references form a cycle)."
        ),
    );
    BulkResult {
        method: op.method,
        bulk_id: op.bulk_id.clone(),
        location: None,
        version: None,
        status: error.status.as_u16(),
        error: Some(error.body()),
    }
}

/// The operation as the single request it stands for, through that request's handler.
async fn execute(app: &AppState, caller: &ScimCaller, op: &BulkOperation) -> BulkResult {
    let mut headers = HeaderMap::new();
    if let Some(version) = op.version.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MATCH, version);
    }
    // Each operation is its own request: its id, no query, its version as If-Match, its data as body.
    let no_body = || Raw {
        app,
        caller,
        id: op.id.clone().unwrap_or_default(),
        query: Ok(HashMap::new()),
        headers: headers.clone(),
        body: Ok(NoBody),
    };
    let data = || no_body().with_body(ScimBody(op.data.clone().unwrap_or_default()));
    let answer = match (op.resource, op.method) {
        (BulkResource::Users, BulkMethod::Post) => through(app, caller, data(), users::create).await,
        (BulkResource::Users, BulkMethod::Put) => through(app, caller, data(), users::replace).await,
        (BulkResource::Users, BulkMethod::Patch) => through(app, caller, data(), users::patch).await,
        (BulkResource::Users, BulkMethod::Delete) => through(app, caller, no_body(), users::remove).await,
        (BulkResource::Groups, BulkMethod::Post) => through(app, caller, data(), groups::create).await,
        (BulkResource::Groups, BulkMethod::Put) => through(app, caller, data(), groups::replace).await,
        (BulkResource::Groups, BulkMethod::Patch) => through(app, caller, data(), groups::patch).await,
        (BulkResource::Groups, BulkMethod::Delete) => through(app, caller, no_body(), groups::remove).await,
    };
    let location = match (&op.id, op.method) {
        (Some(id), _) => Some(format!("{}{}/{id}", caller.base_url, op.resource.endpoint())),
        (None, _) => None,
    };
    match answer {
        Ok(response) => {
            let header_text = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            BulkResult {
                method: op.method,
                bulk_id: op.bulk_id.clone(),
                location: header_text(header::LOCATION).or(location),
                version: header_text(header::ETAG),
                status: response.status().as_u16(),
                error: None,
            }
        }
        Err(error) => BulkResult {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            location: if op.method == BulkMethod::Post { None } else { location },
            version: None,
            status: error.status.as_u16(),
            error: Some(error.body()),
        },
    }
}

/// Hands `raw` to `handler` as the extractor would: parsed, and bad input answered after the token check.
async fn through<T, F, Fut>(
    app: &AppState,
    caller: &ScimCaller,
    raw: Raw<'_, T::Body>,
    handler: F,
) -> Result<Response, ScimError>
where
    T: ScimInput,
    F: FnOnce(State<AppState>, Checked<T>) -> Fut,
    Fut: Future<Output = Result<Response, ScimError>>,
{
    let input = parse_checked(raw).await?;
    handler(State(app.clone()), Checked(caller.clone(), input)).await
}
