//! `/scim/v2/orgs/{orgId}/Groups`: SCIM Groups as Insomnia teams. HTTP only: each handler
//! parses, calls one use case of `provisioning`, renders.
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::ScimBody;
use super::etag::{expected, not_modified, not_modified_response, with_etag};
use super::request::{checked, list_query, params, resource_response, search_query, Params};
use super::{scim_text, AppState, ScimCaller};
use crate::provisioning::{GroupView, MembersWanted, TeamRead};
use crate::scim::group::{self, split_patch, GroupDocument};
use crate::scim::list::{ListQuery, Projection};
use crate::scim::patch::parse_patch;
use crate::scim::{ScimError, ScimType};

fn group_response(status: StatusCode, view: &GroupView, base_url: &str, projection: &Projection) -> Response {
    let body = group::render_text(&view.team, view.members.as_deref(), base_url, projection);
    let location = format!("{base_url}/Groups/{}", view.team.id);
    resource_response(status, body, view.team.version, &location)
}

pub(super) async fn create(
    State(app): State<AppState>,
    caller: ScimCaller,
    query: Params,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = (|| {
        let projection = Projection::from_params(&params(query)?)?;
        let (doc, members, tolerances) = GroupDocument::from_request(body?.0)?;
        Ok((projection, doc, members, tolerances))
    })();
    let (projection, doc, refs, tolerances) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let view = app.provisioning().create_team(&caller, &doc, &refs).await?;
    Ok(group_response(StatusCode::CREATED, &view, &caller.base_url, &projection))
}

pub(super) async fn read(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let projection = checked(&caller, &app, params(query).and_then(|p| Projection::from_params(&p))).await?;
    let wanted = MembersWanted::of(&projection);
    let unchanged = |version| not_modified(&headers, version);
    match app.provisioning().read_team(&caller, &id, wanted, unchanged).await? {
        TeamRead::Found(view) => Ok(group_response(StatusCode::OK, &view, &caller.base_url, &projection)),
        TeamRead::NotModified { version } => Ok(not_modified_response(version)),
    }
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
        let (doc, members, tolerances) = GroupDocument::from_request(body?.0)?;
        Ok((projection, doc, members, tolerances))
    })();
    let (projection, doc, refs, tolerances) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let wanted = MembersWanted::of(&projection);
    let view = app.provisioning().replace_team(&caller, &id, &expected(&headers), &doc, &refs, wanted).await?;
    Ok(group_response(StatusCode::OK, &view, &caller.base_url, &projection))
}

/// `204` with the ETag, or, when the client names `attributes` or `excludedAttributes`, `200` with the
/// group so projected (RFC 7644 §3.5.2: a server MUST answer 200 when `attributes` is given).
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
        request.tolerances.iter().for_each(|t| caller.log.add_tolerance(t.as_str()));
        let (document_ops, change) = split_patch(&request)?;
        Ok((projection, document_ops, change))
    })();
    let (projection, document_ops, change) = checked(&caller, &app, parsed).await?;
    let asked = !projection.attributes.is_empty() || !projection.excluded.is_empty();
    let wanted = if asked { MembersWanted::of(&projection) } else { MembersWanted::No };
    let view = app.provisioning().patch_team(&caller, &id, &expected(&headers), &document_ops, change, wanted).await?;
    if asked {
        return Ok(group_response(StatusCode::OK, &view, &caller.base_url, &projection));
    }
    Ok(with_etag(StatusCode::NO_CONTENT.into_response(), view.team.version))
}

pub(super) async fn remove(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    app.provisioning().delete_team(&caller, &id, &expected(&headers)).await?;
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
    if query.cursor.is_some() {
        // docs/ARCHITECTURE.md, "Paging": a list page of teams is bounded by size, paged by index.
        let refused = ScimError::bad_request(
            ScimType::InvalidValue,
            "Cursor paging is offered on /Users; page /Groups with startIndex.",
        );
        return checked(caller, app, Err(refused)).await;
    }
    let page = app.provisioning().list_teams(caller, &query, &caller.base_url).await?;
    Ok(scim_text(StatusCode::OK, page.0))
}
