//! `/scim/v2/orgs/{orgId}/Users`: SCIM Users as Insomnia members (RFC 7644 §3.3–§3.6). HTTP only:
//! each handler is given its parsed input ([`Checked`]), calls one use case of `provisioning`,
//! renders.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::body::ScimBody;
use super::etag::{expected, not_modified, not_modified_response};
use super::request::{resource_response, Checked, NoBody, Raw, ResourceRead, ScimInput, Target};
use super::{scim_json, AppState};
use crate::domain::{MemberRecord, TeamRecord};
use crate::log::{Operation, SubjectKind};
use crate::provisioning::{Expected, UserChange, UserListRequest, UserView};
use crate::scim::list::{cursor_list_response, list_response, ListQuery, Projection};
use crate::scim::patch::{parse_patch, PatchRequest};
use crate::scim::user::{self, UserDocument};
use crate::scim::ScimError;

/// A user as answered: its document, with its teams as the read-only `groups` when they were read.
fn render(view: &UserView, base_url: &str, projection: &Projection) -> Value {
    let mut body = user::render(&view.member, base_url);
    if !view.teams.is_empty() && !projection.excludes("groups", user::rules()) {
        if let Value::Object(map) = &mut body {
            map.insert("groups".into(), groups_value(&view.teams, base_url));
        }
    }
    projection.apply(body, user::rules())
}

/// A user's read-only `groups` attribute.
pub fn groups_value(teams: &[TeamRecord], base_url: &str) -> Value {
    Value::Array(
        teams
            .iter()
            .map(|t| json!({"value": t.id, "$ref": format!("{base_url}/Groups/{}", t.id), "display": t.display_name, "type": "direct"}))
            .collect(),
    )
}

fn user_response(status: StatusCode, view: &UserView, base_url: &str, projection: &Projection) -> Response {
    let body = render(view, base_url, projection).to_string();
    let location = format!("{base_url}/Users/{}", view.member.id);
    resource_response(status, body, view.member.version, &location)
}

/// A written member's answer (its teams are not re-read: a write does not change them).
fn written(member: MemberRecord) -> UserView {
    UserView { member, teams: Vec::new() }
}

/// `POST /Users`.
pub(super) struct NewUser {
    projection: Projection,
    doc: UserDocument,
    tolerances: Vec<String>,
}

impl ScimInput for NewUser {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        let (doc, tolerances) = UserDocument::from_request(raw.body?.0)?;
        doc.account_email()?;
        Ok(Self { projection, doc, tolerances })
    }
}

pub(super) async fn create(
    State(app): State<AppState>,
    Checked(caller, input): Checked<NewUser>,
) -> Result<Response, ScimError> {
    input.tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let member = app.provisioning().create_user(&caller, &input.doc).await?;
    Ok(user_response(StatusCode::CREATED, &written(member), &caller.base_url, &input.projection))
}

/// `GET /Users/{id}`.
pub(super) async fn read(
    State(app): State<AppState>,
    Checked(caller, input): Checked<ResourceRead>,
) -> Result<Response, ScimError> {
    let view = app.provisioning().read_user(&caller, &input.id).await?;
    if not_modified(&input.headers, view.member.version) {
        return Ok(not_modified_response(view.member.version));
    }
    Ok(user_response(StatusCode::OK, &view, &caller.base_url, &input.projection))
}

/// `PUT /Users/{id}`.
pub(super) struct UserReplace {
    id: String,
    expected: Expected,
    projection: Projection,
    doc: UserDocument,
    tolerances: Vec<String>,
}

impl ScimInput for UserReplace {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        let (doc, tolerances) = UserDocument::from_request(raw.body?.0)?;
        Ok(Self { expected: expected(&raw.headers), id: raw.id, projection, doc, tolerances })
    }
}

pub(super) async fn replace(
    State(app): State<AppState>,
    Checked(caller, input): Checked<UserReplace>,
) -> Result<Response, ScimError> {
    input.tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let change = UserChange::Replace(input.doc);
    let member = app.provisioning().change_user(&caller, &input.id, &input.expected, &change).await?;
    Ok(user_response(StatusCode::OK, &written(member), &caller.base_url, &input.projection))
}

/// `PATCH /Users/{id}`.
pub(super) struct UserPatch {
    id: String,
    expected: Expected,
    projection: Projection,
    request: PatchRequest,
}

impl ScimInput for UserPatch {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        let request = parse_patch(&raw.body?.0)?;
        Ok(Self { expected: expected(&raw.headers), id: raw.id, projection, request })
    }
}

pub(super) async fn patch(
    State(app): State<AppState>,
    Checked(caller, input): Checked<UserPatch>,
) -> Result<Response, ScimError> {
    let change = UserChange::Patch(input.request);
    let member = app.provisioning().change_user(&caller, &input.id, &input.expected, &change).await?;
    Ok(user_response(StatusCode::OK, &written(member), &caller.base_url, &input.projection))
}

pub(super) async fn remove(
    State(app): State<AppState>,
    Checked(caller, input): Checked<Target>,
) -> Result<Response, ScimError> {
    app.provisioning().delete_user(&caller, &input.id, &input.expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /Users`: the query planned, its cursor (if any) decoded.
pub(super) struct UserList(UserListRequest);

impl ScimInput for UserList {
    type Body = NoBody;

    fn parse(raw: Raw<'_, NoBody>) -> Result<Self, ScimError> {
        let query = ListQuery::from_params(&raw.query?)?;
        raw.app.provisioning().plan_user_list(&raw.caller.org, query).map(Self)
    }
}

/// `POST /Users/.search` (RFC 7644 §3.4.3).
pub(super) struct UserSearch(UserListRequest);

impl ScimInput for UserSearch {
    type Body = ScimBody;

    fn parse(raw: Raw<'_, ScimBody>) -> Result<Self, ScimError> {
        let query = ListQuery::from_search_request(&raw.body?.0)?;
        raw.app.provisioning().plan_user_list(&raw.caller.org, query).map(Self)
    }
}

pub(super) async fn list(
    State(app): State<AppState>,
    Checked(caller, UserList(request)): Checked<UserList>,
) -> Result<Response, ScimError> {
    run_list(&app, &caller, request).await
}

pub(super) async fn search(
    State(app): State<AppState>,
    Checked(caller, UserSearch(request)): Checked<UserSearch>,
) -> Result<Response, ScimError> {
    run_list(&app, &caller, request).await
}

async fn run_list(app: &AppState, caller: &super::ScimCaller, request: UserListRequest) -> Result<Response, ScimError> {
    // Filters are evaluated on resources as they are answered (`meta.location` included).
    let page = app.provisioning().list_users(caller, &request, &caller.base_url).await?;
    let query = request.query();
    let filter = query.filter.as_ref().map(ToString::to_string);
    caller.log.update(|note| note.operation = Some(Operation::Listed { kind: SubjectKind::User, filter }));
    let resources: Vec<Value> =
        page.users.iter().map(|view| render(view, &caller.base_url, &query.projection)).collect();
    let body = match query.cursor {
        Some(_) => cursor_list_response(resources, page.total, page.next_cursor),
        None => list_response(resources, page.total, query.start_index),
    };
    Ok(scim_json(StatusCode::OK, &body))
}
