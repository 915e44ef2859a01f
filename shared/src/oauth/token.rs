//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; RFC 7636; RFC 9700 §4.14.2). Every
//! request authenticates the client (its id names the organization), then reads the settings, the
//! client, and the presented code or refresh token (with its family) in one BatchGetItem.
use std::fmt;

use super::{OAuth, OAuthError};
use crate::auth::{AuthorizedOrg, CodeChallenge, SecretKind, TokenKey};
use crate::domain::{AccessGrant, ClientId, GrantFamily, OrgId, RefreshGrant};
use crate::lifetimes;
use crate::store::{Claim, OAuthRead, ScimHistoryAction, ScimHistoryEntry};

/// A token request's parameters (form fields; the client's from Basic auth or the form).
#[derive(Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A successful answer (RFC 6749 §5.1). `Debug` hides the tokens.
#[derive(Clone, serde::Serialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAnswer").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("`{name}` is required")))
}

const NOT_VALID_CLIENT: &str = "client authentication failed (unknown client, wrong secret, or a client that no \
                                longer works: SCIM disabled, tokens revoked or the client replaced)";

impl OAuth {
    pub async fn token(&self, request: &TokenRequest) -> Result<TokenAnswer, OAuthError> {
        let grant = match required(&request.grant_type, "grant_type")? {
            "authorization_code" => Grant::AuthorizationCode,
            "refresh_token" => Grant::RefreshToken,
            "client_credentials" => Grant::ClientCredentials,
            _ => return Err(OAuthError::UnsupportedGrantType),
        };
        let raw_client = required(&request.client_id, "client_id")?;
        let secret = required(&request.client_secret, "client_secret")?;
        let (client_id, org) =
            ClientId::parse(raw_client).ok_or_else(|| OAuthError::InvalidClient(NOT_VALID_CLIENT.into()))?;
        // The presented code or refresh token, by keyed hash (a malformed one names nothing).
        let (code, refresh) = match grant {
            Grant::AuthorizationCode => (Some(required(&request.code, "code")?), None),
            Grant::RefreshToken => (None, Some(required(&request.refresh_token, "refresh_token")?)),
            Grant::ClientCredentials => (None, None),
        };
        let code_hash = code.and_then(|c| self.key.oauth_hash(SecretKind::AuthorizationCode, c));
        let refresh_hash = refresh.and_then(|r| self.key.oauth_hash(SecretKind::RefreshToken, r));
        let family = refresh.and_then(TokenKey::refresh_token_family);
        let read = self.store.oauth_read(&org, refresh_hash.as_deref(), family, code_hash.as_deref()).await?;
        let epoch = self.authenticate(&read, &client_id, secret)?;
        match grant {
            Grant::ClientCredentials => self.client_credentials(&org, &client_id, epoch).await,
            Grant::AuthorizationCode => {
                let hash = code_hash.ok_or_else(|| OAuthError::InvalidGrant("the code is not valid".into()))?;
                self.exchange_code(&org, &client_id, epoch, &read, &hash, request).await
            }
            Grant::RefreshToken => {
                let hash =
                    refresh_hash.ok_or_else(|| OAuthError::InvalidGrant("the refresh token is not valid".into()))?;
                self.refresh(&org, &client_id, epoch, read, &hash).await
            }
        }
    }

    /// The client's secret, checked in constant time against the live client of the current grant
    /// epoch; answers that epoch.
    fn authenticate(&self, read: &OAuthRead, client_id: &ClientId, secret: &str) -> Result<u64, OAuthError> {
        let refused = || OAuthError::InvalidClient(NOT_VALID_CLIENT.into());
        let settings = read.settings.as_ref().filter(|s| s.enabled).ok_or_else(refused)?;
        let client = read.client.as_ref().ok_or_else(refused)?;
        // The secret is always hashed and compared, whichever check fails.
        let secret_ok = self.key.matches(secret, &client.secret_hash);
        let live = client.client_id == *client_id && client.epoch == settings.grant_epoch;
        if !(secret_ok && live) {
            return Err(refused());
        }
        if client.secret_expires_at <= self.now {
            return Err(OAuthError::InvalidClient(
                "the client secret has expired: an organization owner must create a new OAuth client".into(),
            ));
        }
        Ok(settings.grant_epoch)
    }

    async fn client_credentials(&self, org: &OrgId, client: &ClientId, epoch: u64) -> Result<TokenAnswer, OAuthError> {
        let access = self.key.issue_oauth(SecretKind::AccessToken);
        let grant = AccessGrant {
            client_id: client.clone(),
            epoch,
            expires_at: self.now + lifetimes::ACCESS_TOKEN,
            family: None,
        };
        self.store.put_access_grant(org, &access.hash, &grant).await?;
        tracing::info!(org = %org, client = client.as_str(), "OAuth access token issued (client credentials)");
        Ok(answer(access.reveal(), None))
    }

    async fn exchange_code(
        &self,
        org: &OrgId,
        client: &ClientId,
        epoch: u64,
        read: &OAuthRead,
        hash: &str,
        request: &TokenRequest,
    ) -> Result<TokenAnswer, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let code = read.code.as_ref().ok_or_else(|| invalid("the code is not valid"))?;
        if code.client_id != *client {
            return Err(invalid("the code was not issued to this client"));
        }
        if code.used_at.is_some() {
            self.code_replayed(org, code.family.as_deref()).await;
            return Err(invalid("the code was used already; the tokens issued for it are revoked"));
        }
        if code.expires_at <= self.now || code.epoch != epoch {
            return Err(invalid("the code has expired or was revoked"));
        }
        if request.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri must be the one the code was issued for"));
        }
        let verifier = required(&request.code_verifier, "code_verifier")?;
        let challenge = CodeChallenge::parse(&code.code_challenge).ok_or_else(|| invalid("the code is not valid"))?;
        if !challenge.verifies(verifier) {
            return Err(invalid("code_verifier does not match the code_challenge (PKCE S256)"));
        }
        let family_id = uuid::Uuid::new_v4().simple().to_string();
        // Single use: of two concurrent exchanges, one claims the code.
        match self.store.claim_code(org, hash, &family_id, self.now).await? {
            Claim::Claimed(_) => {}
            Claim::Reused(code) => {
                self.code_replayed(org, code.family.as_deref()).await;
                return Err(invalid("the code was used already; the tokens issued for it are revoked"));
            }
            Claim::Missing => return Err(invalid("the code is not valid")),
        }
        let family = GrantFamily {
            id: family_id,
            client_id: client.clone(),
            created_at: self.now,
            revoked_at: None,
            access_tokens: Vec::new(),
            refresh_expires_at: self.now + lifetimes::REFRESH_TOKEN,
        };
        let answer = self.issue_pair(org, client, epoch, family, true).await?;
        tracing::info!(org = %org, client = client.as_str(), "OAuth code exchanged for tokens");
        Ok(answer)
    }

    async fn refresh(
        &self,
        org: &OrgId,
        client: &ClientId,
        epoch: u64,
        read: OAuthRead,
        hash: &str,
    ) -> Result<TokenAnswer, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let token = read.refresh.as_ref().ok_or_else(|| invalid("the refresh token is not valid"))?;
        let family =
            read.family.filter(|f| f.id == token.family).ok_or_else(|| invalid("the refresh token is not valid"))?;
        if token.client_id != *client {
            return Err(invalid("the refresh token was not issued to this client"));
        }
        if family.revoked_at.is_some() {
            return Err(invalid("the refresh token was revoked (a refresh token of its family was reused)"));
        }
        if token.used_at.is_some() {
            self.revoke_family(org, &family, "refresh token reused").await;
            return Err(invalid("the refresh token was used already: every token of its family is revoked"));
        }
        if token.expires_at <= self.now || token.epoch != epoch {
            return Err(invalid("the refresh token has expired or was revoked"));
        }
        match self.store.claim_refresh(org, hash, self.now).await? {
            Claim::Claimed(_) => {}
            Claim::Reused(_) => {
                self.revoke_family(org, &family, "refresh token reused").await;
                return Err(invalid("the refresh token was used already: every token of its family is revoked"));
            }
            Claim::Missing => return Err(invalid("the refresh token is not valid")),
        }
        let answer = self.issue_pair(org, client, epoch, family, false).await?;
        tracing::info!(org = %org, client = client.as_str(), "OAuth refresh token rotated");
        Ok(answer)
    }

    /// A new refresh token and access token of `family`, written with it in one transaction.
    async fn issue_pair(
        &self,
        org: &OrgId,
        client: &ClientId,
        epoch: u64,
        mut family: GrantFamily,
        new_family: bool,
    ) -> Result<TokenAnswer, OAuthError> {
        let refresh = self.key.issue_refresh_token(&family.id);
        let access = self.key.issue_oauth(SecretKind::AccessToken);
        let refresh_grant = RefreshGrant {
            client_id: client.clone(),
            epoch,
            family: family.id.clone(),
            issued_at: self.now,
            expires_at: self.now + lifetimes::REFRESH_TOKEN,
            used_at: None,
        };
        let expires_at = self.now + lifetimes::ACCESS_TOKEN;
        let access_grant =
            AccessGrant { client_id: client.clone(), epoch, expires_at, family: Some(family.id.clone()) };
        family.access_tokens.retain(|(_, at)| *at > self.now);
        family.access_tokens.push((access.hash.clone(), expires_at));
        family.refresh_expires_at = refresh_grant.expires_at;
        let written = self
            .store
            .put_refresh_grants(
                org,
                &family,
                new_family,
                (&refresh.hash, &refresh_grant),
                (&access.hash, &access_grant),
            )
            .await;
        match written {
            Ok(()) => Ok(answer(access.reveal(), Some(refresh.reveal()))),
            Err(crate::store::StoreError::Conflict(_)) => {
                Err(OAuthError::InvalidGrant("the grant was revoked meanwhile".into()))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn code_replayed(&self, org: &OrgId, family: Option<&str>) {
        let Some(id) = family else { return };
        match self.store.family(org, id).await {
            Ok(Some(family)) if family.revoked_at.is_none() => self.revoke_family(org, &family, "code reused").await,
            Ok(_) => {}
            Err(err) => {
                tracing::error!(org = %org, error = %crate::telemetry::Chain(&err), "reading the family of a reused code failed")
            }
        }
    }

    /// Revokes a family after a replay (RFC 9700 §4.14.2) and records it in the history. A failure
    /// is logged: the replayed request is refused either way.
    async fn revoke_family(&self, org: &OrgId, family: &GrantFamily, why: &str) {
        tracing::warn!(org = %org, client = family.client_id.as_str(), why, "OAuth grant family revoked");
        if let Err(err) = self.store.revoke_family(org, family, self.now).await {
            tracing::error!(org = %org, error = %crate::telemetry::Chain(&err), "revoking an OAuth grant family failed");
            return;
        }
        let mut entry = ScimHistoryEntry::new(ScimHistoryAction::OauthFamilyRevoked, None, self.now);
        entry.client_id = Some(family.client_id.as_str().to_owned());
        // The client authenticated with its secret: the organization is the caller's.
        let scope = AuthorizedOrg::checked(org.clone());
        if let Err(err) = self.store.append_scim_history(&scope, &entry).await {
            tracing::error!(org = %org, error = %crate::telemetry::Chain(&err), "recording a revoked OAuth grant family failed");
        }
    }
}

fn answer(access: &str, refresh: Option<&str>) -> TokenAnswer {
    TokenAnswer {
        access_token: access.to_owned(),
        token_type: "Bearer",
        expires_in: lifetimes::ACCESS_TOKEN.num_seconds(),
        refresh_token: refresh.map(str::to_owned),
    }
}
