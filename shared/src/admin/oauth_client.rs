//! The organization's OAuth client for SCIM, as the console manages it: created (or replaced) with
//! its registered redirect URIs after the caller's passphrase, its secret shown once; deleted.
//! Either moves the grant epoch on, so grants of a replaced client stop at once
//! (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth").
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::authz::OrgCaller;
use super::confirm::ConfirmedByPassphrase;
use super::status::OAuthClientView;
use super::{AdminError, Console};
use crate::auth::SecretKind;
use crate::domain::{ClientId, OAuthClient, RedirectUri, ScimSettings, MAX_REDIRECT_URIS};
use crate::lifetimes;
use crate::store::{ScimHistoryAction, ScimHistoryEntry};

/// The answer of a client's creation: the only time its secret is shown. `Debug` hides it.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedClientView {
    #[serde(flatten)]
    pub client: OAuthClientView,
    pub client_secret: String,
    pub message: &'static str,
}

impl fmt::Debug for IssuedClientView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedClientView").field("client", &self.client).finish_non_exhaustive()
    }
}

const SECRET_SHOWN_ONCE: &str = "Copy the client secret now: it is shown only this once. Enter the client id, the \
                                 secret, the authorize URL and the token URL in your identity provider's SCIM \
                                 OAuth settings.";

fn parse_redirect_uris(raw: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    if raw.len() > MAX_REDIRECT_URIS {
        return Err(AdminError::InvalidRequest(format!("At most {MAX_REDIRECT_URIS} `redirectUris`.")));
    }
    let mut uris: Vec<RedirectUri> = Vec::new();
    for uri in raw {
        let uri = RedirectUri::parse(uri).map_err(|e| AdminError::InvalidRequest(format!("`redirectUris`: {e}.")))?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

impl Console {
    async fn live_settings(&self, caller: &OrgCaller) -> Result<ScimSettings, AdminError> {
        let settings = self.store.scim_settings(&caller.org).await?;
        settings.filter(|s| s.enabled).ok_or(AdminError::NotEnabled)
    }

    /// Creates the OAuth client (replacing any: the old one's grants stop). Redirect URIs are
    /// needed for the authorization code grant only (client credentials takes none).
    pub async fn create_oauth_client(
        &self,
        confirmed: &ConfirmedByPassphrase,
        redirect_uris: &[String],
        origin: &str,
    ) -> Result<IssuedClientView, AdminError> {
        let caller = confirmed.caller();
        let admin = caller.require_admin()?;
        let redirect_uris = parse_redirect_uris(redirect_uris)?;
        let settings = self.live_settings(caller).await?;
        let secret = self.key.issue_oauth(SecretKind::ClientSecret);
        let random = uuid::Uuid::new_v4().simple().to_string();
        let next = settings.grants_ended();
        let client = OAuthClient {
            client_id: ClientId::new(&caller.org, &random[..20]),
            secret_hash: secret.hash.clone(),
            redirect_uris,
            created_at: self.now,
            created_by: admin.email.clone(),
            secret_expires_at: self.now + lifetimes::CLIENT_SECRET,
            epoch: next.grant_epoch,
            last_used_at: None,
            notices_sent: Vec::new(),
        };
        let mut entry =
            ScimHistoryEntry::new(ScimHistoryAction::OauthClientCreated, Some(admin.email.clone()), self.now);
        entry.client_id = Some(client.client_id.as_str().to_owned());
        self.store.put_oauth_client(&caller.org, &client, &next, settings.version, &entry).await?;
        tracing::info!(org = %caller.org, client = client.client_id.as_str(), "OAuth client for SCIM created");
        Ok(IssuedClientView {
            client: OAuthClientView::new(&client, origin),
            client_secret: secret.reveal().to_owned(),
            message: SECRET_SHOWN_ONCE,
        })
    }

    /// Deletes the OAuth client (after the caller's passphrase: it stops provisioning through
    /// OAuth): its grants stop at once.
    pub async fn delete_oauth_client(&self, confirmed: &ConfirmedByPassphrase) -> Result<DateTime<Utc>, AdminError> {
        let caller = confirmed.caller();
        let admin = caller.require_admin()?;
        let settings = self.live_settings(caller).await?;
        let client = self
            .store
            .oauth_client(&caller.org)
            .await?
            .ok_or_else(|| AdminError::InvalidRequest("There is no OAuth client to delete.".into()))?;
        let next = settings.grants_ended();
        let mut entry =
            ScimHistoryEntry::new(ScimHistoryAction::OauthClientDeleted, Some(admin.email.clone()), self.now);
        entry.client_id = Some(client.client_id.as_str().to_owned());
        self.store.delete_oauth_client(&caller.org, &next, settings.version, &entry).await?;
        Ok(self.now)
    }
}
