//! Tenant scope as a type (docs/ARCHITECTURE.md, "Tenant scope"): an [`AuthorizedOrg`] names an
//! organization whose data the current caller has been allowed to touch. Only a successful check
//! makes one: the SCIM token check (`provisioning::Gate`, on `provisioning::decide`), the console's owner check, or
//! an operator's own tools, which say so by name. The store's calls on an organization's data take
//! one, so a handler that skips the check does not compile.
use std::fmt;
use std::ops::Deref;

use crate::domain::OrgId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedOrg(OrgId);

impl AuthorizedOrg {
    /// Made by a check in this crate (the token check, the console's owner check).
    pub(crate) fn checked(org: OrgId) -> Self {
        Self(org)
    }

    /// For the operator's own tools and jobs, which act for every organization: the CLI, the
    /// token scheduler, fixture loaders and tests. Never for a request's caller.
    pub fn for_operator(org: OrgId) -> Self {
        Self(org)
    }

    pub fn id(&self) -> &OrgId {
        &self.0
    }
}

impl Deref for AuthorizedOrg {
    type Target = OrgId;

    fn deref(&self) -> &OrgId {
        &self.0
    }
}

impl fmt::Display for AuthorizedOrg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
