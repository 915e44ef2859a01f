//! The route table: which function serves which path. `template.yaml` must give API Gateway the
//! same set (a test compares them), and the dev server serves all of them on one port.

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

/// `(function, method, path)` for every route. Paths use the `{param}` syntax that both axum and
/// API Gateway understand.
pub const ROUTES: &[(Function, &str, &str)] = &[
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/ServiceProviderConfig"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/ResourceTypes"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/ResourceTypes/{id}"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/Schemas"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/Schemas/{id}"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/Users"),
    (Function::ScimUsers, "POST", "/scim/v2/orgs/{orgId}/Users"),
    (Function::ScimUsers, "POST", "/scim/v2/orgs/{orgId}/Users/.search"),
    (Function::ScimUsers, "GET", "/scim/v2/orgs/{orgId}/Users/{id}"),
    (Function::ScimUsers, "PUT", "/scim/v2/orgs/{orgId}/Users/{id}"),
    (Function::ScimUsers, "PATCH", "/scim/v2/orgs/{orgId}/Users/{id}"),
    (Function::ScimUsers, "DELETE", "/scim/v2/orgs/{orgId}/Users/{id}"),
    (Function::ScimGroups, "GET", "/scim/v2/orgs/{orgId}/Groups"),
    (Function::ScimGroups, "POST", "/scim/v2/orgs/{orgId}/Groups"),
    (Function::ScimGroups, "POST", "/scim/v2/orgs/{orgId}/Groups/.search"),
    (Function::ScimGroups, "GET", "/scim/v2/orgs/{orgId}/Groups/{id}"),
    (Function::ScimGroups, "PUT", "/scim/v2/orgs/{orgId}/Groups/{id}"),
    (Function::ScimGroups, "PATCH", "/scim/v2/orgs/{orgId}/Groups/{id}"),
    (Function::ScimGroups, "DELETE", "/scim/v2/orgs/{orgId}/Groups/{id}"),
    (Function::ScimAdmin, "POST", "/auth/sessions"),
    (Function::ScimAdmin, "DELETE", "/auth/sessions/current"),
    (Function::ScimAdmin, "POST", "/auth/passphrase"),
    (Function::ScimAdmin, "POST", "/auth/passphrase-resets"),
    (Function::ScimAdmin, "POST", "/auth/passphrase-resets/confirm"),
    (Function::ScimAdmin, "GET", "/admin/orgs/{orgId}/scim"),
    (Function::ScimAdmin, "POST", "/admin/orgs/{orgId}/scim/enable"),
    (Function::ScimAdmin, "POST", "/admin/orgs/{orgId}/scim/token/refresh"),
    (Function::ScimAdmin, "POST", "/admin/orgs/{orgId}/scim/disable"),
    (Function::ScimAdmin, "GET", "/admin/orgs/{orgId}/scim/logs"),
    (Function::ScimAdmin, "GET", "/admin/orgs/{orgId}/scim/history"),
    (Function::ScimAdmin, "GET", "/admin/orgs/{orgId}/members"),
];
