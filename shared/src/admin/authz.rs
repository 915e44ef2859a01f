//! Who may use an organization's console endpoints: an active Owner or Co-Owner member of it,
//! signed in with a session that is not restricted to changing the initial passphrase.
use super::session::Session;
use super::{AdminError, Console};
use crate::auth::AuthorizedOrg;
use crate::domain::{MemberRecord, MemberRole, OrgId};

/// Organizations listed per request at most (an account administers a handful).
const MAX_LISTED_ORGANIZATIONS: usize = 100;

/// An organization the caller may open in the console.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ManagedOrganization {
    pub id: OrgId,
    pub name: String,
    pub role: MemberRole,
}

/// A signed-in caller of `/admin/orgs/{orgId}/…`, with their membership of that organization.
#[derive(Debug, Clone)]
pub struct OrgCaller {
    pub session: Session,
    /// The organization, as one whose data this caller (an active member of it) may reach; each
    /// use case still checks the role it needs (`require_admin`).
    pub org: AuthorizedOrg,
    /// The caller's active membership of the organization, if any (any role).
    pub member: Option<MemberRecord>,
}

impl OrgCaller {
    pub fn is_admin(&self) -> bool {
        self.member.as_ref().is_some_and(|m| m.role.is_admin())
    }

    /// The caller's membership if they are an active Owner or Co-Owner; 403 otherwise.
    pub fn require_admin(&self) -> Result<&MemberRecord, AdminError> {
        self.member.as_ref().filter(|m| m.role.is_admin()).ok_or_else(|| AdminError::NotOrgAdmin(self.org.to_string()))
    }
}

impl Console {
    /// Resolves the caller's membership of `raw_org`. A session restricted to the passphrase
    /// change is refused here, before anything about the organization is read.
    pub async fn org_caller(&self, session: Session, raw_org: &str) -> Result<OrgCaller, AdminError> {
        if session.record.must_change_passphrase {
            return Err(AdminError::PassphraseChangeRequired);
        }
        // An id that cannot exist gets the same answer as an organization one does not administer.
        let org = OrgId::parse(raw_org).map_err(|_| AdminError::NotOrgAdmin(raw_org.chars().take(64).collect()))?;
        let member =
            self.store.org_member_by_email(&org, &session.record.account_email).await?.filter(|member| member.active);
        if member.is_none() {
            return Err(AdminError::NotOrgAdmin(org.to_string()));
        }
        Ok(OrgCaller { session, org: AuthorizedOrg::checked(org), member })
    }

    /// The organizations the caller administers (active Owner or Co-Owner), by name: found through
    /// the account's email guards, each membership then read consistently by `org_caller`, the same
    /// check every `/admin/orgs/{orgId}` request makes.
    pub async fn managed_organizations(&self, session: &Session) -> Result<Vec<ManagedOrganization>, AdminError> {
        if session.record.must_change_passphrase {
            return Err(AdminError::PassphraseChangeRequired);
        }
        let mut managed = Vec::new();
        let ids = self.store.account_organizations(&session.record.account_email).await?;
        for id in ids.into_iter().take(MAX_LISTED_ORGANIZATIONS) {
            let caller = match self.org_caller(session.clone(), id.as_str()).await {
                Ok(caller) => caller,
                Err(AdminError::NotOrgAdmin(_)) => continue,
                Err(err) => return Err(err),
            };
            let Some(role) = caller.member.as_ref().filter(|m| m.role.is_admin()).map(|m| m.role) else {
                continue;
            };
            if let Some((organization, _)) = self.store.organization(&caller.org).await? {
                managed.push(ManagedOrganization { id, name: organization.name, role });
            }
        }
        managed.sort_by(|a, b| {
            a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
        Ok(managed)
    }
}
