//! `/scim/v2/orgs/{orgId}/Users`: SCIM Users as Insomnia members (RFC 7644 §3.3–§3.6).
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use super::body::ScimBody;
use super::{scim_json, AppState, ScimCaller};
use crate::domain::MemberRole;
use crate::notify::deliver;
use crate::provisioning::{self, pause_after_conflict, WRITE_ATTEMPTS};
use crate::scim::list::{list_response, ListQuery, Projection};
use crate::scim::patch::parse_patch;
use crate::scim::user::{self, etag, UserDocument};
use crate::scim::{ScimError, ScimType};
use crate::store::{
    guard_owner_from_items, member_from_items, member_key, member_state_from_items, organization_from_items,
    user_name_guard_key, CreateContext, ManagedBy, MemberConflict, MemberRecord, MemberWriteError, MemberWriteExtras,
    OutboxItem, TeamRecord,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/orgs/{orgId}/Users", get(list).post(create))
        .route("/scim/v2/orgs/{orgId}/Users/.search", post(search))
        .route("/scim/v2/orgs/{orgId}/Users/{id}", get(read).put(replace).patch(patch).delete(remove))
}

/// Query parameters, with a malformed query string answered as a SCIM error.
pub(super) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(super) fn params(query: Params) -> Result<HashMap<String, String>, ScimError> {
    query
        .map(|Query(map)| map)
        .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("The query string is invalid: {e}")))
}

/// Runs `parse` after the token check when the input is bad, so that a bad request of a known
/// organization is answered 401 or 400 in the same order as a good one, and is logged.
pub(super) async fn checked<T>(
    caller: &ScimCaller,
    app: &AppState,
    parsed: Result<T, ScimError>,
) -> Result<T, ScimError> {
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => {
            caller.authorize(app).await?;
            Err(err)
        }
    }
}

fn user_response(status: StatusCode, member: &MemberRecord, base_url: &str, projection: &Projection) -> Response {
    let body = projection.apply(user::render(member, base_url), user::rules());
    let mut response = scim_json(status, &body);
    if let Ok(value) = HeaderValue::from_str(&etag(member.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED {
        if let Ok(value) = HeaderValue::from_str(&format!("{base_url}/Users/{}", member.id)) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

/// The versions an `If-Match` / `If-None-Match` header names; None for `*`.
pub(super) fn named_versions(value: &str) -> Option<Vec<u64>> {
    if value.trim() == "*" {
        return None;
    }
    Some(
        value
            .split(',')
            .filter_map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').parse::<u64>().ok())
            .collect(),
    )
}

pub(super) fn if_match_versions(headers: &HeaderMap) -> Option<Option<Vec<u64>>> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(named_versions)
}

fn check_if_match(headers: &HeaderMap, version: u64) -> Result<(), ScimError> {
    match if_match_versions(headers) {
        Some(Some(versions)) if !versions.contains(&version) => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("If-Match does not match the current version {}; read the user again.", etag(version)),
        )),
        _ => Ok(()),
    }
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("No user with id '{id}' in this organization."))
}

fn no_licenses() -> ScimError {
    ScimError::new(
        StatusCode::FORBIDDEN,
        None,
        "The organization has no Enterprise licenses left (its seat limit is reached). An owner can buy more licenses \
         or free one by deactivating a member.",
    )
}

async fn create(
    State(app): State<AppState>,
    caller: ScimCaller,
    query: Params,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = (|| {
        let projection = Projection::from_params(&params(query)?)?;
        let (doc, tolerances) = UserDocument::from_request(body?.0)?;
        let email = doc.account_email()?;
        Ok((projection, doc, tolerances, email))
    })();
    let (projection, doc, tolerances, email) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let user_name = doc.user_name().to_owned();
    let taken =
        || ScimError::conflict(format!("A user with userName '{user_name}' already exists in this organization."));

    for _ in 0..WRITE_ATTEMPTS {
        let items = caller.authorize_with(&app, CreateContext::keys(&caller.org, &user_name, &email)).await?;
        let context = CreateContext::from_items(items)?;
        let organization = context.organization.ok_or_else(ScimError::internal)?;
        let now = app.clock.now();
        if let (Some(name_owner), email_owner) = (&context.user_name_owner, &context.email_owner) {
            if email_owner.as_ref() != Some(name_owner) {
                return Err(taken());
            }
        }
        let (old, new, new_account) = match &context.email_owner {
            Some(owner) => {
                let existing = app.store.member(&caller.org, owner).await?.ok_or_else(ScimError::internal)?;
                if existing.managed_by == ManagedBy::Scim {
                    return Err(ScimError::conflict(format!(
                        "A user with email '{email}' already exists in this organization (id {}).",
                        existing.id
                    )));
                }
                // Link the member added by hand: from now on the IdP manages it.
                let linked = MemberRecord {
                    managed_by: ManagedBy::Scim,
                    user_name: user_name.clone(),
                    active: doc.active(),
                    modified_at: now,
                    version: existing.version + 1,
                    external_id: doc.external_id(),
                    resource: Some(doc.to_stored()),
                    lookups: doc.lookups(),
                    ..existing.clone()
                };
                (Some(existing), linked, None)
            }
            None => {
                let member = MemberRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    email: email.clone(),
                    user_name: user_name.clone(),
                    role: MemberRole::Member,
                    managed_by: ManagedBy::Scim,
                    active: doc.active(),
                    created_at: now,
                    modified_at: now,
                    version: 1,
                    external_id: doc.external_id(),
                    resource: Some(doc.to_stored()),
                    lookups: doc.lookups(),
                };
                let account = context.account.is_none().then(|| crate::store::Account {
                    email: email.clone(),
                    passphrase_hash: None,
                    must_change_passphrase: true,
                    welcome_pending: true,
                    created_at: now,
                });
                (None, member, account)
            }
        };
        let welcome = new_account.as_ref().map(|a| OutboxItem::welcome(&a.email, &caller.org, &organization.name, now));
        let mut extras = MemberWriteExtras { new_account, actions: Vec::new() };
        if let Some(item) = &welcome {
            extras.actions.push((crate::store::outbox_put_action(item)?, "welcome email".to_owned()));
        }
        match app.store.write_member(&caller.org, old.as_ref(), &new, extras).await {
            Ok(()) => {
                if let Some(item) = welcome {
                    // Delivered after the response; the outbox keeps it until it is sent.
                    let (store, mailer) = (app.store.clone(), app.mailer.clone());
                    let now = app.clock.now();
                    app.logs.spawn_after_response(async move {
                        deliver(&store, &mailer, item, now).await;
                    });
                }
                return Ok(user_response(StatusCode::CREATED, &new, &caller.base_url, &projection));
            }
            Err(MemberWriteError::Conflict(MemberConflict::UserNameTaken)) => return Err(taken()),
            Err(MemberWriteError::Conflict(MemberConflict::EmailTaken)) if old.is_none() => {
                return Err(ScimError::conflict(format!(
                    "A user with email '{email}' already exists in this organization."
                )))
            }
            Err(MemberWriteError::Conflict(MemberConflict::SeatLimit)) => return Err(no_licenses()),
            Err(MemberWriteError::Conflict(_)) => continue,
            Err(MemberWriteError::Store(err)) => return Err(err.into()),
        }
    }
    Err(busy())
}

fn busy() -> ScimError {
    ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, "The user is being changed by other requests; retry shortly.")
}

async fn read(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let projection = checked(&caller, &app, params(query).and_then(|p| Projection::from_params(&p))).await?;
    // The user's teams are looked up at the same time as the token check and the user.
    let (items, team_ids) = tokio::join!(
        caller.authorize_with(&app, vec![member_key(&caller.org, &id)]),
        app.store.user_team_ids(&caller.org, &id)
    );
    let member = member_from_items(&items?)?.ok_or_else(|| not_found(&id))?;
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(named_versions)
        .is_some_and(|versions| versions.is_none_or(|v| v.contains(&member.version)));
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag(member.version)) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    let teams = app.store.teams_by_ids(&caller.org, &team_ids?).await?;
    let mut response = user_response(StatusCode::OK, &member, &caller.base_url, &projection);
    if !teams.is_empty() && !projection.excludes("groups", user::rules()) {
        response = with_groups(response, &member, &teams, &caller.base_url, &projection);
    }
    Ok(response)
}

/// Re-renders a user response with its read-only `groups` attribute.
fn with_groups(
    response: Response,
    member: &MemberRecord,
    teams: &[TeamRecord],
    base_url: &str,
    projection: &Projection,
) -> Response {
    let mut body = user::render(member, base_url);
    if let Value::Object(map) = &mut body {
        let groups: Vec<Value> = teams
            .iter()
            .map(|t| serde_json::json!({"value": t.id, "$ref": format!("{base_url}/Groups/{}", t.id), "display": t.display_name, "type": "direct"}))
            .collect();
        map.insert("groups".into(), Value::Array(groups));
    }
    let wanted =
        projection.attributes.is_empty() || projection.attributes.iter().any(|p| p.name.eq_ignore_ascii_case("groups"));
    if !wanted {
        return response;
    }
    let mut out = scim_json(StatusCode::OK, &projection.apply(body, user::rules()));
    if let Some(tag) = response.headers().get(header::ETAG) {
        out.headers_mut().insert(header::ETAG, tag.clone());
    }
    out
}

/// Reads the member (with the token check on the first attempt), computes its new state, and
/// writes it conditionally on the version read, re-reading after a lost race unless If-Match
/// pinned the version.
async fn update_member<F>(
    app: &AppState,
    caller: &ScimCaller,
    id: &str,
    headers: &HeaderMap,
    change: F,
) -> Result<MemberRecord, ScimError>
where
    F: Fn(&MemberRecord) -> Result<MemberRecord, ScimError>,
{
    let pinned = matches!(if_match_versions(headers), Some(Some(_)));
    let mut items = caller.authorize_with(app, vec![member_key(&caller.org, id)]).await?;
    for attempt in 0..WRITE_ATTEMPTS {
        let old = member_from_items(&items)?.ok_or_else(|| not_found(id))?;
        check_if_match(headers, old.version)?;
        let new = change(&old)?;
        match app.store.write_member(&caller.org, Some(&old), &new, MemberWriteExtras::default()).await {
            Ok(()) => return Ok(new),
            Err(MemberWriteError::Conflict(MemberConflict::UserNameTaken)) => {
                return Err(ScimError::conflict(format!(
                    "A user with userName '{}' already exists in this organization.",
                    new.user_name
                )))
            }
            Err(MemberWriteError::Conflict(MemberConflict::SeatLimit)) => return Err(no_licenses()),
            Err(MemberWriteError::Conflict(_)) if pinned => {
                return Err(ScimError::new(
                    StatusCode::PRECONDITION_FAILED,
                    None,
                    "The user was changed by another request; read it again.",
                ))
            }
            Err(MemberWriteError::Conflict(_)) => {
                pause_after_conflict(attempt).await;
                items = app
                    .store
                    .member(&caller.org, id)
                    .await?
                    .map(|m| vec![member_item(&caller.org, &m)])
                    .unwrap_or_default();
            }
            Err(MemberWriteError::Store(err)) => return Err(err.into()),
        }
    }
    Err(busy())
}

fn member_item(org: &crate::domain::OrgId, member: &MemberRecord) -> crate::store::Item {
    crate::store::member_item(org, member).unwrap_or_default()
}

/// The member as the IdP's document now describes it.
fn rewritten(old: &MemberRecord, doc: &UserDocument, now: chrono::DateTime<chrono::Utc>) -> MemberRecord {
    MemberRecord {
        managed_by: ManagedBy::Scim,
        user_name: doc.user_name().to_owned(),
        active: doc.active(),
        modified_at: now,
        version: old.version + 1,
        external_id: doc.external_id(),
        resource: Some(doc.to_stored()),
        lookups: doc.lookups(),
        ..old.clone()
    }
}

async fn replace(
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
    let now = app.clock.now();
    let member = update_member(&app, &caller, &id, &headers, |old| Ok(rewritten(old, &doc, now))).await?;
    Ok(user_response(StatusCode::OK, &member, &caller.base_url, &projection))
}

async fn patch(
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
    let now = app.clock.now();
    let log = caller.log.clone();
    let member = update_member(&app, &caller, &id, &headers, |old| {
        let mut doc = UserDocument::of_member(old);
        let tolerances = doc.patch(&old.id, &request)?;
        tolerances.iter().for_each(|t| log.add_tolerance(t));
        Ok(rewritten(old, &doc, now))
    })
    .await?;
    Ok(user_response(StatusCode::OK, &member, &caller.base_url, &projection))
}

async fn remove(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    // The user's teams are looked up at the same time as the token check and the user.
    let (items, team_ids) = tokio::join!(
        caller.authorize_with(&app, vec![member_key(&caller.org, &id)]),
        app.store.user_team_ids(&caller.org, &id)
    );
    let (items, team_ids) = (items?, team_ids?);
    let expected = expected_version(&headers);
    let first = member_state_from_items(&items)?;
    provisioning::delete_user(&app.store, &caller.org, &id, first, team_ids, &expected, app.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What the request's `If-Match` header asks of the current version.
pub(super) fn expected_version(headers: &HeaderMap) -> provisioning::Expected {
    match if_match_versions(headers) {
        Some(Some(versions)) => provisioning::Expected::OneOf(versions),
        _ => provisioning::Expected::Any,
    }
}

async fn list(State(app): State<AppState>, caller: ScimCaller, query: Params) -> Result<Response, ScimError> {
    let query = checked(&caller, &app, params(query).and_then(|p| ListQuery::from_params(&p))).await?;
    run_list(&app, &caller, query).await
}

async fn search(
    State(app): State<AppState>,
    caller: ScimCaller,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let query = checked(&caller, &app, body.and_then(|b| ListQuery::from_search_request(&b.0))).await?;
    run_list(&app, &caller, query).await
}

/// How a filter can be answered by key lookups instead of reading the organization's members.
enum Lookup {
    Id(String),
    UserName(String),
    Index(&'static str, String),
    Team(String),
}

fn lookup_for(query: &ListQuery) -> Option<Lookup> {
    let rules = user::rules();
    let filter = query.filter.as_ref()?;
    // A team's members are paged by key without re-checking the filter: only for exactly `groups.value eq`.
    if let Some((path, value)) = filter.as_string_equality() {
        if path.is(rules, "groups", Some("value")) || path.is(rules, "groups", None) {
            return Some(Lookup::Team(value.to_owned()));
        }
    }
    // The other lookups give candidates that `page_of` re-checks against the whole filter, so any equality the
    // filter requires will do (`emails[type eq "work"].value eq "x"` requires `emails.value eq "x"`).
    filter.required_string_equalities().into_iter().find_map(|(path, value)| {
        if path.is(rules, "id", None) {
            Some(Lookup::Id(value.to_owned()))
        } else if path.is(rules, "userName", None) {
            Some(Lookup::UserName(value.to_owned()))
        } else if path.is(rules, "externalId", None) {
            Some(Lookup::Index("externalId", value.to_owned()))
        } else if path.is(rules, "emails", None) || path.is(rules, "emails", Some("value")) {
            Some(Lookup::Index("email", value.to_lowercase()))
        } else {
            None
        }
    })
}

async fn run_list(app: &AppState, caller: &ScimCaller, query: ListQuery) -> Result<Response, ScimError> {
    let rules = user::rules();
    let render = |members: Vec<MemberRecord>| -> Vec<Value> {
        members.iter().map(|m| user::render(m, &caller.base_url)).collect()
    };
    let (page, total) = match lookup_for(&query) {
        Some(Lookup::Id(id)) => {
            let items = caller.authorize_with(app, vec![member_key(&caller.org, &id)]).await?;
            query.page_of(render(member_from_items(&items)?.into_iter().collect()), rules)
        }
        Some(Lookup::UserName(name)) => {
            let items = caller.authorize_with(app, vec![user_name_guard_key(&caller.org, &name)]).await?;
            let members = match guard_owner_from_items(&items) {
                Some(owner) => app.store.member(&caller.org, &owner).await?.into_iter().collect(),
                None => Vec::new(),
            };
            query.page_of(render(members), rules)
        }
        Some(Lookup::Index(attribute, value)) => {
            let (authorized, ids) =
                tokio::join!(caller.authorize(app), app.store.member_ids_by_lookup(&caller.org, attribute, &value));
            authorized?;
            let ids = ids?;
            let members = if ids.is_empty() { Vec::new() } else { app.store.members_by_ids(&caller.org, &ids).await? };
            query.page_of(render(members), rules)
        }
        Some(Lookup::Team(team_id)) if query.sort_by.is_none() => {
            // A team's members, paged by key: the total is the team's exact counter, and only the
            // user ids up to this page's end and this page's users are read.
            let (items, page_ids) = tokio::join!(
                caller.authorize_with(app, vec![crate::store::team_key(&caller.org, &team_id)]),
                app.store.team_member_ids(&caller.org, &team_id, query.start_index - 1, query.count)
            );
            let total = crate::store::team_from_items(&items?)?.map_or(0, |team| team.member_count);
            let page_ids = page_ids?;
            let members =
                if page_ids.is_empty() { Vec::new() } else { app.store.members_by_ids(&caller.org, &page_ids).await? };
            (render(members), usize::try_from(total).unwrap_or(usize::MAX))
        }
        Some(Lookup::Team(team_id)) => {
            let (authorized, memberships) =
                tokio::join!(caller.authorize(app), app.store.team_members(&caller.org, &team_id));
            authorized?;
            let ids: Vec<String> = memberships?.into_iter().map(|m| m.user_id).collect();
            let members = if ids.is_empty() { Vec::new() } else { app.store.members_by_ids(&caller.org, &ids).await? };
            let resources = render(members);
            let total = resources.len();
            let mut query = query.clone();
            query.filter = None;
            let (page, _) = query.page_of(resources, rules);
            (page, total)
        }
        None if query.filter.is_none() && query.sort_by.is_none() => {
            // Members come in key order: the same order on every page. The total is the
            // organization's member counter, so only the pages up to this one are read.
            let items = caller.authorize_with(app, vec![crate::store::organization_key(&caller.org)]).await?;
            let total = organization_from_items(&items)?.map_or(0, |(_, counts)| counts.members);
            let wanted = query.start_index - 1 + query.count;
            let mut members = Vec::new();
            let mut start = None;
            while members.len() < wanted {
                let limit = i32::try_from(wanted - members.len()).unwrap_or(i32::MAX).max(1);
                let (page, next) = app.store.members_page(&caller.org, start, Some(limit)).await?;
                members.extend(page);
                start = next;
                if start.is_none() {
                    break;
                }
            }
            let page: Vec<MemberRecord> = members.into_iter().skip(query.start_index - 1).take(query.count).collect();
            (render(page), usize::try_from(total).unwrap_or(usize::MAX))
        }
        None => {
            caller.authorize(app).await?;
            let members = app.store.members(&caller.org).await?;
            query.page_of(render(members), rules)
        }
    };
    let wants_groups = query.projection.attributes.iter().any(|p| p.name.eq_ignore_ascii_case("groups"));
    let mut projected = Vec::with_capacity(page.len());
    for mut resource in page {
        if wants_groups {
            add_groups(app, caller, &mut resource).await?;
        }
        projected.push(query.projection.apply(resource, rules));
    }
    Ok(scim_json(StatusCode::OK, &list_response(projected, total, query.start_index)))
}

/// Adds the read-only `groups` attribute to a rendered user (lists do this only on request: it
/// costs a lookup per user).
async fn add_groups(app: &AppState, caller: &ScimCaller, resource: &mut Value) -> Result<(), ScimError> {
    let Some(id) = resource.get("id").and_then(Value::as_str).map(str::to_owned) else { return Ok(()) };
    let team_ids = app.store.user_team_ids(&caller.org, &id).await?;
    if team_ids.is_empty() {
        return Ok(());
    }
    let teams = app.store.teams_by_ids(&caller.org, &team_ids).await?;
    let groups: Vec<Value> = teams
        .iter()
        .map(|t| {
            serde_json::json!({"value": t.id, "$ref": format!("{}/Groups/{}", caller.base_url, t.id), "display": t.display_name, "type": "direct"})
        })
        .collect();
    if let Value::Object(map) = resource {
        map.insert("groups".into(), Value::Array(groups));
    }
    Ok(())
}
