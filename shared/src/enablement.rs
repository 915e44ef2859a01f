//! Turning SCIM on for an organization and issuing its connector token (used by the console
//! endpoints and the operator CLI).
use chrono::{DateTime, Utc};

use crate::auth::AuthorizedOrg;
use crate::auth::{IssuedToken, TokenKey};
use crate::domain::{IdentityProvider, OrgId, ScimRequirement, ScimSettings, TokenWindow};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("organization '{0}' does not exist")]
    UnknownOrganization(OrgId),
    #[error("SCIM cannot be enabled: {}", .0.iter().map(|r| r.describe()).collect::<Vec<_>>().join("; "))]
    Unmet(Vec<ScimRequirement>),
    #[error("SSO is configured with {configured}, not {confirmed}")]
    IdpMismatch { configured: IdentityProvider, confirmed: IdentityProvider },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Enables SCIM with a new token (replacing any previous token at once) after checking the
/// organization-side requirements. The caller checks the caller's role.
pub async fn enable_scim(
    store: &Store,
    key: &TokenKey,
    org_id: &AuthorizedOrg,
    confirmed_idp: IdentityProvider,
    window: TokenWindow,
    now: DateTime<Utc>,
) -> Result<IssuedToken, EnableError> {
    let (org, _) =
        store.organization(org_id).await?.ok_or_else(|| EnableError::UnknownOrganization(org_id.id().clone()))?;
    let unmet = org.unmet_scim_requirements();
    if !unmet.is_empty() {
        return Err(EnableError::Unmet(unmet));
    }
    if let Some(sso) = &org.sso {
        if sso.idp != confirmed_idp {
            return Err(EnableError::IdpMismatch { configured: sso.idp, confirmed: confirmed_idp });
        }
    }
    let previous = store.scim_settings(org_id).await?;
    let (token, token_hash) = key.issue();
    let settings = ScimSettings::enabled(previous.as_ref(), confirmed_idp, window, token_hash, now);
    store.put_scim_settings(org_id, &settings, previous.map(|p| p.version)).await?;
    Ok(token)
}
