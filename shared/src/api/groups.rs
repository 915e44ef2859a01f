//! `/scim/v2/orgs/{orgId}/Groups`: SCIM Groups as Insomnia teams.
use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use super::body::ScimBody;
use super::users::{checked, if_match_versions, named_versions, params, Params};
use super::{scim_text, AppState, ScimCaller};
use crate::provisioning::{self, Expected};
use crate::scim::group::{
    self, filter_mentions_members, split_patch, GroupDocument, ListPage, MemberRef, MembershipChange, Pushed,
    LIST_PAGE_BUDGET, MEMBERS_INLINE_LIMIT,
};
use crate::scim::list::{ListQuery, Projection};
use crate::scim::patch::parse_patch;
use crate::scim::user::etag;
use crate::scim::{ScimError, ScimType};
use crate::store::{
    member_key, team_from_items, team_key, team_name_guard_key, team_name_owner_from_items, team_state_from_items,
    Item, Membership, TeamRecord, TeamWriteError, TEAM_EXTERNAL_ID,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/orgs/{orgId}/Groups", get(list).post(create))
        .route("/scim/v2/orgs/{orgId}/Groups/.search", post(search))
        .route("/scim/v2/orgs/{orgId}/Groups/{id}", get(read).put(replace).patch(patch).delete(remove))
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("No group with id '{id}' in this organization."))
}

fn name_taken(name: &str) -> ScimError {
    ScimError::conflict(format!("A group with displayName '{name}' already exists in this organization."))
}

fn changed() -> ScimError {
    ScimError::new(StatusCode::PRECONDITION_FAILED, None, "The group was changed by another request; read it again.")
}

fn team_error(err: TeamWriteError, id: &str, name: &str) -> ScimError {
    match err {
        TeamWriteError::NameTaken => name_taken(name),
        TeamWriteError::Changed => changed(),
        TeamWriteError::Missing => not_found(id),
        TeamWriteError::Store(err) => err.into(),
        TeamWriteError::Interrupted { applied, requested, cause } => {
            tracing::error!(error = %cause, applied, requested, group = id, "membership change interrupted");
            ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                format!(
                    "{applied} of the {requested} member changes to group {id} were confirmed before the service \
                     failed; the group's member count matches the members it has. Retry the request: members \
                     already added or removed are skipped."
                ),
            )
        }
    }
}

fn too_many(team: &TeamRecord) -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "Group '{}' has {} members, more than the {MEMBERS_INLINE_LIMIT} one response can carry. Request it with \
             excludedAttributes=members and page its members with GET /Users?filter=groups.value eq \"{}\".",
            team.display_name, team.member_count, team.id
        ),
    )
}

fn check_if_match(headers: &HeaderMap, version: u64) -> Result<(), ScimError> {
    match if_match_versions(headers) {
        Some(Some(versions)) if !versions.contains(&version) => Err(changed()),
        _ => Ok(()),
    }
}

fn group_response(
    status: StatusCode,
    team: &TeamRecord,
    members: Option<&[Membership]>,
    base_url: &str,
    projection: &Projection,
) -> Response {
    let mut response = scim_text(status, group::render_text(team, members, base_url, projection));
    if let Ok(value) = HeaderValue::from_str(&etag(team.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED {
        if let Ok(value) = HeaderValue::from_str(&format!("{base_url}/Groups/{}", team.id)) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

/// Members as the team would hold them: each requested id must be a user of this organization.
/// `known` holds user items already read (e.g. in the token check's BatchGetItem).
async fn resolve_members(
    app: &AppState,
    caller: &ScimCaller,
    refs: &[MemberRef],
    known: &[Item],
    team_id: &str,
) -> Result<Vec<Membership>, ScimError> {
    let mut found: HashMap<String, String> = HashMap::new();
    for item in known {
        if let Ok(Some(member)) = crate::store::member_from_items(std::slice::from_ref(item)) {
            found.insert(member.id.clone(), member.user_name.clone());
        }
    }
    let missing: Vec<String> = refs.iter().filter(|r| !found.contains_key(&r.value)).map(|r| r.value.clone()).collect();
    if !missing.is_empty() {
        for member in app.store.members_by_ids(&caller.org, &missing).await? {
            found.insert(member.id.clone(), member.user_name.clone());
        }
    }
    let unknown: Vec<&str> = refs.iter().filter(|r| !found.contains_key(&r.value)).map(|r| r.value.as_str()).collect();
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(5).copied().collect();
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!(
                "{} member value(s) are not users of this organization: {}{}. Nothing was changed.",
                unknown.len(),
                shown.join(", "),
                if unknown.len() > shown.len() { ", …" } else { "" }
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    Ok(refs
        .iter()
        .filter(|r| seen.insert(r.value.clone()))
        .map(|r| Membership {
            team_id: team_id.to_owned(),
            user_id: r.value.clone(),
            display: found.get(&r.value).cloned(),
        })
        .collect())
}

/// User items to read with the token check, so a PATCH adding one member needs no extra read.
fn user_keys(caller: &ScimCaller, refs: &[&MemberRef]) -> Vec<Item> {
    if refs.len() > 90 {
        return Vec::new();
    }
    refs.iter().map(|r| member_key(&caller.org, &r.value)).collect()
}

async fn create(
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
    let name = doc.display_name().to_owned();
    let mut keys = vec![team_name_guard_key(&caller.org, &name)];
    keys.extend(user_keys(&caller, &refs.iter().collect::<Vec<_>>()));
    let items = caller.authorize_with(&app, keys).await?;
    if team_name_owner_from_items(&items).is_some() {
        return Err(name_taken(&name));
    }
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let members = resolve_members(&app, &caller, &refs, &items, &id).await?;
    let team = TeamRecord {
        id: id.clone(),
        display_name: name.clone(),
        external_id: doc.external_id(),
        member_count: 0,
        version: 1,
        created_at: now,
        modified_at: now,
        resource: Some(doc.to_stored()),
    };
    app.store.create_team(&caller.org, &team).await.map_err(|e| team_error(e, &id, &name))?;
    if !members.is_empty() {
        if let Err(err) = app.store.add_team_members(&caller.org, &id, &members, None, now).await {
            // The IdP retries a failed POST; a half-made team would answer that retry 409. Undo it.
            let failure = team_error(err, &id, &name);
            let undo = async {
                let current = app.store.team_state(&caller.org, &id).await?;
                provisioning::delete_team(&app.store, &caller.org, &id, current, &Expected::Any, now).await
            };
            return Err(match undo.await {
                Ok(()) => ScimError::new(
                    failure.status,
                    None,
                    format!("Group '{name}' was not created: its members could not be written. Retry the request."),
                ),
                Err(undo) => {
                    tracing::error!(error = %undo, group = %id, "could not undo a partly created group");
                    failure
                }
            });
        }
    }
    let team = app.store.team(&caller.org, &id).await?.ok_or_else(|| not_found(&id))?;
    let mut members = members;
    members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(group_response(StatusCode::CREATED, &team, Some(&members), &caller.base_url, &projection))
}

async fn read(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    query: Params,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let projection = checked(&caller, &app, params(query).and_then(|p| Projection::from_params(&p))).await?;
    let items = caller.authorize_with(&app, vec![team_key(&caller.org, &id)]).await?;
    let team = team_from_items(&items)?.ok_or_else(|| not_found(&id))?;
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(named_versions)
        .is_some_and(|versions| versions.is_none_or(|v| v.contains(&team.version)));
    if not_modified {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let members = members_for(&app, &caller, &team, &projection).await?;
    Ok(group_response(StatusCode::OK, &team, members.as_deref(), &caller.base_url, &projection))
}

/// The team's members, unless the projection leaves them out (then nothing is read).
async fn members_for(
    app: &AppState,
    caller: &ScimCaller,
    team: &TeamRecord,
    projection: &Projection,
) -> Result<Option<Vec<Membership>>, ScimError> {
    let wanted = !projection.excludes("members", group::rules())
        && (projection.attributes.is_empty()
            || projection.attributes.iter().any(|p| p.name.eq_ignore_ascii_case("members")));
    if !wanted {
        return Ok(None);
    }
    if team.member_count > MEMBERS_INLINE_LIMIT {
        return Err(too_many(team));
    }
    Ok(Some(app.store.team_members(&caller.org, &team.id).await?))
}

/// Applies a member-set change to a team: validates every added user first (so an unknown one
/// changes nothing), then writes memberships in transactions that keep the count exact.
async fn apply_members(
    app: &AppState,
    caller: &ScimCaller,
    team: &TeamRecord,
    change: MembershipChange,
    known: &[Item],
    expected: Option<u64>,
) -> Result<(), ScimError> {
    let now = app.clock.now();
    let err = |e| team_error(e, &team.id, &team.display_name);
    let (to_add, to_remove): (Vec<MemberRef>, Vec<String>) = if let Some(target) = &change.replace_all {
        let current = app.store.team_members(&caller.org, &team.id).await?;
        let mut target: BTreeSet<MemberRef> = target.clone();
        target.extend(change.adds.iter().cloned());
        target.retain(|m| !change.removes.contains(&m.value));
        let target_ids: BTreeSet<&String> = target.iter().map(|m| &m.value).collect();
        let current_ids: BTreeSet<&String> = current.iter().map(|m| &m.user_id).collect();
        (
            target.iter().filter(|m| !current_ids.contains(&m.value)).cloned().collect(),
            current.iter().filter(|m| !target_ids.contains(&m.user_id)).map(|m| m.user_id.clone()).collect(),
        )
    } else {
        let mut removes: Vec<String> = change.removes.iter().cloned().collect();
        if !change.filtered_removes.is_empty() {
            let current = app.store.team_members(&caller.org, &team.id).await?;
            let parent = crate::scim::filter::AttrPath::new("members", None);
            for membership in &current {
                let element =
                    serde_json::json!({ "value": membership.user_id, "display": membership.display, "type": "User" });
                if change.filtered_removes.iter().any(|f| f.matches_element(&element, &parent, group::rules())) {
                    removes.push(membership.user_id.clone());
                }
            }
        }
        (change.adds.iter().cloned().collect(), removes)
    };
    let memberships = resolve_members(app, caller, &to_add, known, &team.id).await?;
    let mut expected = expected;
    if !memberships.is_empty() {
        app.store.add_team_members(&caller.org, &team.id, &memberships, expected, now).await.map_err(err)?;
        expected = None;
    }
    if !to_remove.is_empty() {
        app.store.remove_team_members(&caller.org, &team.id, &to_remove, expected, now).await.map_err(err)?;
    }
    Ok(())
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
        let (doc, members, tolerances) = GroupDocument::from_request(body?.0)?;
        Ok((projection, doc, members, tolerances))
    })();
    let (projection, doc, refs, tolerances) = checked(&caller, &app, parsed).await?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    let mut keys = vec![team_key(&caller.org, &id)];
    keys.extend(user_keys(&caller, &refs.iter().collect::<Vec<_>>()));
    let items = caller.authorize_with(&app, keys).await?;
    let team = team_from_items(&items)?.ok_or_else(|| not_found(&id))?;
    check_if_match(&headers, team.version)?;
    // Validate members before anything is written.
    resolve_members(&app, &caller, &refs, &items, &id).await?;
    let now = app.clock.now();
    let updated = TeamRecord {
        display_name: doc.display_name().to_owned(),
        external_id: doc.external_id(),
        modified_at: now,
        version: team.version + 1,
        resource: Some(doc.to_stored()),
        ..team.clone()
    };
    if updated.resource != team.resource || updated.display_name != team.display_name {
        app.store
            .update_team(&caller.org, &team, &updated)
            .await
            .map_err(|e| team_error(e, &id, &updated.display_name))?;
    }
    let change = MembershipChange { replace_all: Some(refs.into_iter().collect()), ..MembershipChange::default() };
    apply_members(&app, &caller, &updated, change, &items, None).await?;
    let team = app.store.team(&caller.org, &id).await?.ok_or_else(|| not_found(&id))?;
    let members = members_for(&app, &caller, &team, &projection).await?;
    Ok(group_response(StatusCode::OK, &team, members.as_deref(), &caller.base_url, &projection))
}

async fn patch(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<ScimBody, ScimError>,
) -> Result<Response, ScimError> {
    let parsed = body.and_then(|b| {
        let request = parse_patch(&b.0)?;
        request.tolerances.iter().for_each(|t| caller.log.add_tolerance(t.as_str()));
        split_patch(&request)
    });
    let (document_ops, change) = checked(&caller, &app, parsed).await?;
    let adds: Vec<&MemberRef> = change.adds.iter().chain(change.replace_all.iter().flatten()).collect();
    let mut keys = vec![team_key(&caller.org, &id)];
    keys.extend(user_keys(&caller, &adds));
    let items = caller.authorize_with(&app, keys).await?;
    let team = team_from_items(&items)?.ok_or_else(|| not_found(&id))?;
    check_if_match(&headers, team.version)?;
    let pinned = matches!(if_match_versions(&headers), Some(Some(_)));

    let mut doc = GroupDocument::of_team(&team);
    let tolerances = doc.patch(&team.id, &document_ops)?;
    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
    // Unknown members refuse the whole request before anything is written.
    let added: Vec<MemberRef> = adds.into_iter().cloned().collect();
    resolve_members(&app, &caller, &added, &items, &id).await?;

    let now = app.clock.now();
    let mut current = team.clone();
    let mut expected = pinned.then_some(team.version);
    if doc.to_stored() != GroupDocument::of_team(&team).to_stored() {
        current = write_document(&app, &caller, team.clone(), &document_ops, now, pinned).await?;
        expected = None;
    }
    if !change.is_empty() {
        apply_members(&app, &caller, &current, change, &items, expected).await?;
    }
    let team = app.store.team(&caller.org, &id).await?.ok_or_else(|| not_found(&id))?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(team.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// Applies the document part of a PATCH (rename, externalId) and writes it conditionally on the
/// version read; after a lost race (unless If-Match pinned the version) it re-reads the team and
/// applies the operations again to what is now stored, so no concurrent change is lost.
async fn write_document(
    app: &AppState,
    caller: &ScimCaller,
    mut team: TeamRecord,
    document_ops: &crate::scim::patch::PatchRequest,
    now: chrono::DateTime<chrono::Utc>,
    pinned: bool,
) -> Result<TeamRecord, ScimError> {
    for _ in 0..10 {
        let mut doc = GroupDocument::of_team(&team);
        doc.patch(&team.id, document_ops)?;
        let renamed = TeamRecord {
            display_name: doc.display_name().to_owned(),
            external_id: doc.external_id(),
            modified_at: now,
            version: team.version + 1,
            resource: Some(doc.to_stored()),
            ..team.clone()
        };
        match app.store.update_team(&caller.org, &team, &renamed).await {
            Ok(()) => return Ok(renamed),
            Err(TeamWriteError::Changed) if !pinned => {
                team = app.store.team(&caller.org, &team.id).await?.ok_or_else(|| not_found(&team.id))?;
            }
            Err(e) => return Err(team_error(e, &team.id, &renamed.display_name)),
        }
    }
    Err(ScimError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "The group is being changed by other requests; retry shortly.",
    ))
}

async fn remove(
    State(app): State<AppState>,
    caller: ScimCaller,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let items = caller.authorize_with(&app, vec![team_key(&caller.org, &id)]).await?;
    let expected = super::users::expected_version(&headers);
    let first = team_state_from_items(&items)?;
    provisioning::delete_team(&app.store, &caller.org, &id, first, &expected, app.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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

async fn run_list(app: &AppState, caller: &ScimCaller, query: ListQuery) -> Result<Response, ScimError> {
    let rules = group::rules();
    let equality = query.filter.as_ref().and_then(|f| f.as_string_equality());
    let teams: Vec<TeamRecord> = match equality {
        Some((path, value)) if path.is(rules, "displayName", None) => {
            let items = caller.authorize_with(app, vec![team_name_guard_key(&caller.org, value)]).await?;
            match team_name_owner_from_items(&items) {
                Some(owner) => app.store.team(&caller.org, &owner).await?.into_iter().collect(),
                None => Vec::new(),
            }
        }
        Some((path, value)) if path.is(rules, "id", None) => {
            let items = caller.authorize_with(app, vec![team_key(&caller.org, value)]).await?;
            team_from_items(&items)?.into_iter().collect()
        }
        Some((path, value)) if path.is(rules, "externalId", None) => {
            let (authorized, ids) = tokio::join!(
                caller.authorize(app),
                app.store.member_ids_by_lookup(&caller.org, TEAM_EXTERNAL_ID, value)
            );
            authorized?;
            app.store.teams_by_ids(&caller.org, &ids?).await?
        }
        Some((path, value)) if path.is(rules, "members", Some("value")) || path.is(rules, "members", None) => {
            let (authorized, ids) = tokio::join!(caller.authorize(app), app.store.user_team_ids(&caller.org, value));
            authorized?;
            app.store.teams_by_ids(&caller.org, &ids?).await?
        }
        _ => {
            caller.authorize(app).await?;
            app.store.teams(&caller.org).await?
        }
    };
    let (page, total) = match query.filter.as_ref().filter(|f| filter_mentions_members(f)) {
        Some(filter) => {
            // Filtered one team at a time, so that only one team's members are held at once.
            let mut matching = Vec::new();
            for team in &teams {
                if team.member_count > MEMBERS_INLINE_LIMIT {
                    return Err(too_many(team));
                }
                let members = app.store.team_members(&caller.org, &team.id).await?;
                if filter.matches(&group::render(team, Some(&members), &caller.base_url), rules) {
                    matching.push(group::render(team, None, &caller.base_url));
                }
            }
            let mut unfiltered = query.clone();
            unfiltered.filter = None;
            unfiltered.page_of(matching, rules)
        }
        None => query.page_of(teams.iter().map(|team| group::render(team, None, &caller.base_url)).collect(), rules),
    };
    // Written group by group and held to one Lambda response: the page ends before the group that would not fit.
    let mut written = ListPage::new(total, query.start_index, LIST_PAGE_BUDGET);
    for doc in page {
        let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
        let team = teams.iter().find(|t| t.id == id).ok_or_else(ScimError::internal)?;
        let members = members_for(app, caller, team, &query.projection).await?;
        let text = group::render_text(team, members.as_deref(), &caller.base_url, &query.projection);
        match written.push(&text) {
            Pushed::Added => {}
            Pushed::Full => break,
            Pushed::TooBig => return Err(too_big_for_a_response(team)),
        }
    }
    Ok(scim_text(StatusCode::OK, written.finish()))
}

/// A group under the member limit whose text still outweighs a whole response (long member ids or names).
fn too_big_for_a_response(team: &TeamRecord) -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "Group '{}' with its {} members is larger than one response can carry. Request it with \
             excludedAttributes=members and page its members with GET /Users?filter=groups.value eq \"{}\".",
            team.display_name, team.member_count, team.id
        ),
    )
}
