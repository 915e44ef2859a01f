//! `/scim/v2/orgs/{orgId}/Users`: SCIM Users as Insomnia members (RFC 7644 §3.3–§3.6). HTTP only:
//! each handler parses, calls one use case of `provisioning`, renders.
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::body::ScimBody;
use super::etag::{expected, not_modified, not_modified_response};
use super::request::{checked, list_query, params, resource_response, search_query, Params};
use super::{scim_json, AppState, ScimCaller};
use crate::domain::MemberRecord;
use crate::provisioning::{groups_value, UserChange, UserView};
use crate::scim::list::{cursor_list_response, list_response, ListQuery, Projection};
use crate::scim::patch::parse_patch;
use crate::scim::user::{self, UserDocument};
use crate::scim::ScimError;

fn user_response(status: StatusCode, view: &UserView, base_url: &str, projection: &Projection) -> Response {
    let mut body = user::render(&view.member, base_url);
    if !view.teams.is_empty() && !projection.excludes("groups", user::rules()) {
        if let Value::Object(map) = &mut body {
            map.insert("groups".into(), groups_value(&view.teams, base_url));
        }
    }
    let body = projection.apply(body, user::rules()).to_string();
    let location = format!("{base_url}/Users/{}", view.member.id);
    resource_response(status, body, view.member.version, &location)
}

/// A written member's answer (its teams are not re-read: a write does not change them).
fn written(member: MemberRecord) -> UserView {
    UserView { member, teams: Vec::new() }
}

pub(super) async fn create(
    State(app): State<AppState>,
    caller: ScimCaller,
    query: Params,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = (|| {
        let projection = Projection::from_params(&params(query)?)?;
        let (doc, tolerances) = UserDocument::from_request(body?.0)?;
        doc.account_email()?;
        Ok((projection, doc, tolerances))
    })();
    let (projection, doc, tolerances) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let member = app.provisioning().create_user(&caller, &doc).await?;
    Ok(user_response(StatusCode::CREATED, &written(member), &caller.base_url, &projection))
}

pub(super) async fn read(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let projection = checked(&caller, &app, params(query).and_then(|p| Projection::from_params(&p))).await?;
    let view = app.provisioning().read_user(&caller, &id).await?;
    if not_modified(&headers, view.member.version) {
        return Ok(not_modified_response(view.member.version));
    }
    Ok(user_response(StatusCode::OK, &view, &caller.base_url, &projection))
}

pub(super) async fn replace(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = (|| {
        let projection = Projection::from_params(&params(query)?)?;
        let (doc, tolerances) = UserDocument::from_request(body?.0)?;
        Ok((projection, doc, tolerances))
    })();
    let (projection, doc, tolerances) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let change = UserChange::Replace(doc);
    let member = app.provisioning().change_user(&caller, &id, &expected(&headers), &change).await?;
    Ok(user_response(StatusCode::OK, &written(member), &caller.base_url, &projection))
}

pub(super) async fn patch(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = (|| {
        let projection = Projection::from_params(&params(query)?)?;
        let request = parse_patch(&body?.0)?;
        Ok((projection, request))
    })();
    let (projection, request) = checked(&caller, &app, parsed).await?;
    let change = UserChange::Patch(request);
    let member = app.provisioning().change_user(&caller, &id, &expected(&headers), &change).await?;
    Ok(user_response(StatusCode::OK, &written(member), &caller.base_url, &projection))
}

pub(super) async fn remove(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    app.provisioning().delete_user(&caller, &id, &expected(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list(
    State(app): State<AppState>,
    caller: ScimCaller,
    query: Params,
) -> Result<Response, ScimError> {
    let query = list_query(&caller, &app, query).await?;
    run_list(&app, &caller, query).await
}

pub(super) async fn search(
    State(app): State<AppState>,
    caller: ScimCaller,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let query = search_query(&caller, &app, body).await?;
    run_list(&app, &caller, query).await
}

async fn run_list(app: &AppState, caller: &ScimCaller, query: ListQuery) -> Result<Response, ScimError> {
    let page = app.provisioning().list_users(caller, &query, &caller.base_url).await?;
    let projected: Vec<Value> = page.resources.into_iter().map(|r| query.projection.apply(r, user::rules())).collect();
    let body = match query.cursor {
        Some(_) => cursor_list_response(projected, page.total, page.next_cursor),
        None => list_response(projected, page.total, query.start_index),
    };
    Ok(scim_json(StatusCode::OK, &body))
}
