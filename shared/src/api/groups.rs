//! `/scim/v2/orgs/{orgId}/Groups`: SCIM Groups as Insomnia teams. HTTP only: each handler is given
//! its parsed input ([`Checked`]), calls one use case of `provisioning`, renders.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::body::ScimBody;
use super::etag::{expected, not_modified, not_modified_response, with_etag};
use super::request::{resource_response, Checked, NoBody, Raw, ResourceRead, ScimInput, Target};
use super::{scim_text, AppState};
use crate::log::{Operation, SubjectKind};
use crate::provisioning::{Expected, GroupView, MembersWanted, TeamPatched, TeamRead};
use crate::scim::group::{self, split_patch, GroupDocument, MemberRef, MembershipChange};
use crate::scim::list::{ListQuery, Projection};
use crate::scim::patch::{parse_patch, PatchRequest};
use crate::scim::{ScimError, ScimType};

fn group_response(status: StatusCode, view: &GroupView, base_url: &str, projection: &Projection) -> Response {
    let body = group::render_text(&view.team, view.members.as_deref(), base_url, projection);
    let location = format!("{base_url}/Groups/{}", view.team.id);
    resource_response(status, body, view.team.version, &location)
}

/// `POST /Groups`, and `PUT /Groups/{id}` (with its id and the version asked for).
pub(super) struct GroupWrite {
    id: String,
    expected: Expected,
    projection: Projection,
    doc: GroupDocument,
    members: Vec<MemberRef>,
    tolerances: Vec<String>,
}

impl ScimInput for GroupWrite {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        let (doc, members, tolerances) = GroupDocument::from_request(raw.body?.0)?;
        Ok(Self { expected: expected(&raw.headers), id: raw.id, projection, doc, members, tolerances })
    }
}

pub(super) async fn create(
    State(app): State<AppState>,
    Checked(caller, input): Checked<GroupWrite>,
) -> Result<Response, ScimError> {
    input.tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let view = app.provisioning().create_team(&caller, &input.doc, &input.members).await?;
    Ok(group_response(StatusCode::CREATED, &view, &caller.base_url, &input.projection))
}

/// `GET /Groups/{id}`.
pub(super) async fn read(
    State(app): State<AppState>,
    Checked(caller, input): Checked<ResourceRead>,
) -> Result<Response, ScimError> {
    let wanted = MembersWanted::of(&input.projection);
    let unchanged = |version| not_modified(&input.headers, version);
    match app.provisioning().read_team(&caller, &input.id, wanted, unchanged).await? {
        TeamRead::Found(view) => Ok(group_response(StatusCode::OK, &view, &caller.base_url, &input.projection)),
        TeamRead::NotModified { version } => Ok(not_modified_response(version)),
    }
}

pub(super) async fn replace(
    State(app): State<AppState>,
    Checked(caller, input): Checked<GroupWrite>,
) -> Result<Response, ScimError> {
    input.tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let wanted = MembersWanted::of(&input.projection);
    let (doc, refs) = (&input.doc, &input.members);
    let view = app.provisioning().replace_team(&caller, &input.id, &input.expected, doc, refs, wanted).await?;
    Ok(group_response(StatusCode::OK, &view, &caller.base_url, &input.projection))
}

/// `PATCH /Groups/{id}`: the operations on the document and the membership change.
pub(super) struct GroupPatch {
    id: String,
    expected: Expected,
    projection: Projection,
    document_ops: PatchRequest,
    change: MembershipChange,
}

impl ScimInput for GroupPatch {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        let request = parse_patch(&raw.body?.0)?;
        request.tolerances.iter().for_each(|t| raw.caller.log.add_tolerance(t.as_str()));
        let (document_ops, change) = split_patch(&request)?;
        Ok(Self { expected: expected(&raw.headers), id: raw.id, projection, document_ops, change })
    }
}

/// `204`, or, when the client names `attributes` or `excludedAttributes`, `200` with the group so
/// projected (RFC 7644 §3.5.2: a server MUST answer 200 when `attributes` is given). The 204
/// carries the ETag of the version the change made whenever that is known without reading the
/// group again: always with If-Match (a client chaining conditional PATCHes gets the ETag for
/// its next one); a plain member change without If-Match commutes with concurrent ones, so it
/// answers none rather than a read (docs/ARCHITECTURE.md, "Round trips per operation").
pub(super) async fn patch(
    State(app): State<AppState>,
    Checked(caller, input): Checked<GroupPatch>,
) -> Result<Response, ScimError> {
    let GroupPatch { id, expected, projection, document_ops, change } = input;
    let asked = !projection.attributes.is_empty() || !projection.excluded.is_empty();
    let body = asked.then(|| MembersWanted::of(&projection));
    match app.provisioning().patch_team(&caller, &id, &expected, &document_ops, change, body).await? {
        TeamPatched::View(view) => Ok(group_response(StatusCode::OK, &view, &caller.base_url, &projection)),
        TeamPatched::Version(Some(version)) => Ok(with_etag(StatusCode::NO_CONTENT.into_response(), version)),
        TeamPatched::Version(None) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

pub(super) async fn remove(
    State(app): State<AppState>,
    Checked(caller, input): Checked<Target>,
) -> Result<Response, ScimError> {
    app.provisioning().delete_team(&caller, &input.id, &input.expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A list page of teams is bounded by size, paged by index (docs/ARCHITECTURE.md, "Paging"): a
/// cursor is refused.
fn index_paged(query: ListQuery) -> Result<ListQuery, ScimError> {
    if query.cursor.is_some() {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "Cursor paging is offered on /Users; page /Groups with startIndex.",
        ));
    }
    Ok(query)
}

/// `GET /Groups`.
pub(super) struct GroupList(ListQuery);

impl ScimInput for GroupList {
    type Body = NoBody;

    fn parse(raw: Raw<'_, NoBody>) -> Result<Self, ScimError> {
        index_paged(ListQuery::from_params(&raw.query?)?).map(Self)
    }
}

/// `POST /Groups/.search` (RFC 7644 §3.4.3).
pub(super) struct GroupSearch(ListQuery);

impl ScimInput for GroupSearch {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        index_paged(ListQuery::from_search_request(&raw.body?.0)?).map(Self)
    }
}

pub(super) async fn list(
    State(app): State<AppState>,
    Checked(caller, GroupList(query)): Checked<GroupList>,
) -> Result<Response, ScimError> {
    let page = app.provisioning().list_teams(&caller, &query, &caller.base_url).await?;
    let filter = query.filter.as_ref().map(ToString::to_string);
    caller.log.update(|note| note.operation = Some(Operation::Listed { kind: SubjectKind::Group, filter }));
    Ok(scim_text(StatusCode::OK, page.0))
}

pub(super) async fn search(
    State(app): State<AppState>,
    Checked(caller, GroupSearch(query)): Checked<GroupSearch>,
) -> Result<Response, ScimError> {
    let page = app.provisioning().list_teams(&caller, &query, &caller.base_url).await?;
    let filter = query.filter.as_ref().map(ToString::to_string);
    caller.log.update(|note| note.operation = Some(Operation::Listed { kind: SubjectKind::Group, filter }));
    Ok(scim_text(StatusCode::OK, page.0))
}
