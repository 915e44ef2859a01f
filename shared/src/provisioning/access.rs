//! Who is calling the SCIM connector, and the token check that lets them in: one read of the
//! organization's SCIM settings together with what the use case needs first.
use crate::auth::{AuthError, AuthorizedOrg, PresentedToken};
use crate::domain::OrgId;
use crate::log::LogSlot;
use crate::store::{Prefetch, Prefetched};

use super::{Provisioning, ProvisioningError};

/// The caller of an organization's connector: the organization in the URL and the bearer token
/// presented (checked by the use case, not yet here).
pub struct Caller {
    pub org: OrgId,
    pub token: Result<PresentedToken, AuthError>,
    /// What the request log learns as the request goes (the organization, tolerances applied).
    pub log: LogSlot,
}

impl Provisioning<'_> {
    /// Checks the caller's token (one read of the SCIM settings).
    pub async fn authorize(&self, caller: &Caller) -> Result<AuthorizedOrg, ProvisioningError> {
        self.authorize_with(caller, &Prefetch::default()).await.map(|(org, _)| org)
    }

    /// Checks the caller's token while reading `prefetch` in the same BatchGetItem, so the check
    /// costs no round trip of its own.
    pub(super) async fn authorize_with(
        &self,
        caller: &Caller,
        prefetch: &Prefetch,
    ) -> Result<(AuthorizedOrg, Prefetched), ProvisioningError> {
        let (settings, found) = self.store.scim_settings_with(&caller.org, prefetch).await?;
        if settings.is_some() {
            // Only an organization with SCIM settings has a request log.
            let org = caller.org.clone();
            caller.log.update(|note| note.org = Some(org));
            // The request's span (api::request_log) learns the organization when its log record does.
            tracing::Span::current().record("org", caller.org.as_str());
        }
        let token = caller.token.as_ref().map_err(|err| ProvisioningError::Auth(*err))?;
        let org = self.token_key.authorize(&caller.org, settings.as_ref(), token, self.clock.now())?;
        Ok((org, found))
    }
}
