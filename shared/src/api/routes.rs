//! The route table: which function serves which path with which handler. It is the single source
//! of both the axum routers (`scim_users_routes`, `scim_groups_routes`, `admin_routes` fold their
//! function's entries) and of what `template.yaml` must give API Gateway (a test compares them);
//! the dev server serves all of them on one port.
use axum::routing::{on, MethodFilter, MethodRouter, Router};

use super::{admin, bulk, console_web, discovery, groups, oauth, users, AppState};

/// A Lambda function of the service, by its crate (and SAM logical resource) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    ScimUsers,
    ScimGroups,
    ScimAdmin,
}

impl Function {
    pub fn crate_name(&self) -> &'static str {
        match self {
            Self::ScimUsers => "scim-users",
            Self::ScimGroups => "scim-groups",
            Self::ScimAdmin => "scim-admin",
        }
    }
}

/// The HTTP methods the service serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method as HTTP (and SAM's `Method`) spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Put => MethodFilter::PUT,
            Self::Patch => MethodFilter::PATCH,
            Self::Delete => MethodFilter::DELETE,
        }
    }
}

/// One route: the handler is given the entry's method, so a route cannot serve another method
/// than the one the table (and so the template check) names.
#[derive(Clone, Copy)]
pub struct Route {
    pub function: Function,
    pub method: Method,
    /// In the `{param}` syntax that both axum and API Gateway understand.
    pub path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl Route {
    /// The method router of this entry alone.
    pub fn method_router(&self) -> MethodRouter<AppState> {
        (self.handler)(self.method.filter())
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.function.crate_name(), self.method.as_str(), self.path)
    }
}

const fn route(
    function: Function,
    method: Method,
    path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
) -> Route {
    Route { function, method, path, handler }
}

use Function::{ScimAdmin, ScimGroups, ScimUsers};
use Method::{Delete, Get, Patch, Post, Put};

/// Every route of the service.
pub const ROUTES: &[Route] = &[
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/ServiceProviderConfig", |m| on(m, discovery::service_provider_config)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/ResourceTypes", |m| on(m, discovery::resource_types)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/ResourceTypes/{id}", |m| on(m, discovery::resource_type)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/Schemas", |m| on(m, discovery::schemas)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/Schemas/{id}", |m| on(m, discovery::schema)),
    route(ScimUsers, Post, "/scim/v2/orgs/{orgId}/.search", |m| on(m, discovery::search_all)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/Users", |m| on(m, users::list)),
    route(ScimUsers, Post, "/scim/v2/orgs/{orgId}/Users", |m| on(m, users::create)),
    route(ScimUsers, Post, "/scim/v2/orgs/{orgId}/Users/.search", |m| on(m, users::search)),
    route(ScimUsers, Get, "/scim/v2/orgs/{orgId}/Users/{id}", |m| on(m, users::read)),
    route(ScimUsers, Put, "/scim/v2/orgs/{orgId}/Users/{id}", |m| on(m, users::replace)),
    route(ScimUsers, Patch, "/scim/v2/orgs/{orgId}/Users/{id}", |m| on(m, users::patch)),
    route(ScimUsers, Delete, "/scim/v2/orgs/{orgId}/Users/{id}", |m| on(m, users::remove)),
    route(ScimGroups, Get, "/scim/v2/orgs/{orgId}/Groups", |m| on(m, groups::list)),
    route(ScimGroups, Post, "/scim/v2/orgs/{orgId}/Groups", |m| on(m, groups::create)),
    route(ScimGroups, Post, "/scim/v2/orgs/{orgId}/Groups/.search", |m| on(m, groups::search)),
    route(ScimGroups, Get, "/scim/v2/orgs/{orgId}/Groups/{id}", |m| on(m, groups::read)),
    route(ScimGroups, Put, "/scim/v2/orgs/{orgId}/Groups/{id}", |m| on(m, groups::replace)),
    route(ScimGroups, Patch, "/scim/v2/orgs/{orgId}/Groups/{id}", |m| on(m, groups::patch)),
    route(ScimGroups, Delete, "/scim/v2/orgs/{orgId}/Groups/{id}", |m| on(m, groups::remove)),
    // Bulk runs Users and Groups operations: served by the Groups function, whose timeout is the longest.
    route(ScimGroups, Post, "/scim/v2/orgs/{orgId}/Bulk", |m| on(m, bulk::post)),
    route(ScimAdmin, Post, "/auth/sessions", |m| on(m, admin::auth::sign_in)),
    route(ScimAdmin, Get, "/auth/sessions/current", |m| on(m, admin::auth::current)),
    route(ScimAdmin, Delete, "/auth/sessions/current", |m| on(m, admin::auth::sign_out)),
    route(ScimAdmin, Post, "/auth/passphrase", |m| on(m, admin::auth::change_passphrase)),
    route(ScimAdmin, Post, "/auth/passphrase-resets", |m| on(m, admin::auth::request_reset)),
    route(ScimAdmin, Post, "/auth/passphrase-resets/confirm", |m| on(m, admin::auth::confirm_reset)),
    route(ScimAdmin, Get, "/admin/orgs", |m| on(m, admin::auth::organizations)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/scim", |m| on(m, admin::scim::status)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/enable", |m| on(m, admin::scim::enable)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/token/refresh", |m| on(m, admin::scim::refresh)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/token/revoke", |m| on(m, admin::scim::revoke)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/oauth/client", |m| on(m, admin::scim::create_client)),
    route(ScimAdmin, Delete, "/admin/orgs/{orgId}/scim/oauth/client", |m| on(m, admin::scim::delete_client)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/disable", |m| on(m, admin::scim::disable)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/scim/auto-refresh", |m| on(m, admin::scim::auto_refresh)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/scim/logs", |m| on(m, admin::scim::logs)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/scim/history", |m| on(m, admin::scim::history)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/members", |m| on(m, admin::members::members)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/members/reconciliation", |m| on(m, admin::members::reconciliation)),
    route(ScimAdmin, Post, "/admin/orgs/{orgId}/members/reconciliation", |m| on(m, admin::members::reconcile)),
    route(ScimAdmin, Get, "/admin/orgs/{orgId}/members/{memberId}/timeline", |m| on(m, admin::members::timeline)),
    route(ScimAdmin, Get, "/oauth/authorize", |m| on(m, oauth::authorize_page)),
    route(ScimAdmin, Post, "/oauth/authorize", |m| on(m, oauth::authorize_approve)),
    route(ScimAdmin, Post, "/oauth/token", |m| on(m, oauth::token)),
    route(ScimAdmin, Get, "/console", |m| on(m, console_web::page)),
    route(ScimAdmin, Get, "/console/assets/{file}", |m| on(m, console_web::asset)),
];

/// The router of one function: its table entries folded in (axum merges the method routers of
/// entries that share a path).
pub(super) fn router_of(function: Function) -> Router<AppState> {
    ROUTES
        .iter()
        .filter(|route| route.function == function)
        .fold(Router::new(), |router, route| router.route(route.path, route.method_router()))
}
