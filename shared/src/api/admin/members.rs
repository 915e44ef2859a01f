//! `/admin/orgs/{orgId}/members`: members (managed by SCIM or by hand, role, teams) and licenses;
//! `…/members/reconciliation`: the manual members the IdP has not taken over, likely duplicates.
use axum::Json;

use super::{only, params, AdminCaller, Params};
use crate::admin::{parse_limit, AdminError, MembersPage, ReconciliationView, DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE};

/// `GET …/members?limit=…&cursor=…`, in member-id order.
pub async fn members(request: AdminCaller, query: Params) -> Result<Json<MembersPage>, AdminError> {
    let params = params(query)?;
    only(&params, &["limit", "cursor"])?;
    let limit = parse_limit(params.get("limit"), DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE)?;
    let page = request.console.members(&request.caller, params.get("cursor").map(String::as_str), limit).await?;
    Ok(Json(page))
}

/// `GET …/members/reconciliation`: the last reconciliation (one read).
pub async fn reconciliation(request: AdminCaller, query: Params) -> Result<Json<ReconciliationView>, AdminError> {
    only(&params(query)?, &[])?;
    Ok(Json(request.console.reconciliation(&request.caller).await?))
}

/// `POST …/members/reconciliation`: reconciles now (at most once a minute; sooner, the last one).
pub async fn reconcile(request: AdminCaller, query: Params) -> Result<Json<ReconciliationView>, AdminError> {
    only(&params(query)?, &[])?;
    Ok(Json(request.console.reconcile(&request.caller).await?))
}

/// `GET …/members/{memberId}/timeline`: the member's SCIM history, newest first.
pub async fn timeline(
    request: AdminCaller,
    axum::extract::Path(path): axum::extract::Path<std::collections::HashMap<String, String>>,
) -> Result<Json<crate::admin::TimelinePage>, AdminError> {
    let member_id = path.get("memberId").map(String::as_str).unwrap_or_default();
    Ok(Json(request.console.member_timeline(&request.caller, member_id).await?))
}
