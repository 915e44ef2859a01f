//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, PKCE S256 required): the request is checked
//! (an unknown client or an unregistered redirect URI is never redirected to), then an Owner or
//! Co-Owner of the client's organization signs in (the console's sign-in: throttled, Argon2id) and
//! approves; a single-use code bound to the client, the redirect URI and the challenge is issued.
//! The approval form carries a signed, short-lived token bound to the request's parameters (CSRF).

use super::OAuth;
use crate::admin::AdminError;
use crate::auth::{CodeChallenge, SecretKind};
use crate::domain::{ClientId, CodeGrant, EmailAddress, OAuthClient, OrgId};
use crate::lifetimes;

/// How long the approval form can be sent.
const MAX_STATE: usize = 512;

/// The request's parameters as given.
#[derive(Debug, Default, Clone)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct ValidAuthorize {
    pub org: OrgId,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: CodeChallenge,
    /// Signed form token for the approval (see `sign_form`).
    pub form_token: String,
}

/// Why a request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// Shown to the person, never redirected (unknown client, unregistered redirect URI).
    Page(String),
    /// Redirected to the registered URI (RFC 6749 §4.1.2.1).
    Redirect { redirect_uri: String, error: &'static str, description: String, state: Option<String> },
}

/// A successful approval: where to send the person, with the code.
#[derive(Debug)]
pub struct Approval {
    pub redirect_uri: String,
    pub code: String,
    pub state: Option<String>,
}

/// Why an approval was refused, for the page shown again.
#[derive(Debug)]
pub enum ApprovalRefusal {
    /// The request itself is wrong (see `AuthorizeRefusal`).
    Request(AuthorizeRefusal),
    /// The form's token is missing, wrong or expired: start again from the identity provider.
    FormExpired,
    /// Sign-in refused (wrong credentials, throttled, passphrase change needed, bad input).
    SignIn(AdminError),
    /// Signed in, but not an Owner or Co-Owner of the client's organization.
    NotAdmin,
    /// The store failed (the cause is logged).
    Failed(crate::store::StoreError),
}

fn form_purpose(request: &ValidAuthorize) -> String {
    format!(
        "oauth-authorize|{}|{}|{}|{}",
        request.client_id.as_str(),
        request.redirect_uri,
        request.code_challenge.as_str(),
        request.state.as_deref().unwrap_or_default()
    )
}

impl OAuth {
    /// Checks an authorization request (GET, and again on the approval's POST).
    pub async fn check_authorize(&self, params: &AuthorizeParams) -> Result<ValidAuthorize, AuthorizeRefusal> {
        let page = |text: &str| AuthorizeRefusal::Page(text.to_owned());
        let raw_client = params.client_id.as_deref().ok_or_else(|| page("The request names no client_id."))?;
        let (client_id, org) = ClientId::parse(raw_client).ok_or_else(|| page("The client_id is not known."))?;
        let read = self
            .store
            .oauth_read(&org, None, None, None)
            .await
            .map_err(|_| page("The service could not check the request; try again."))?;
        let live = |c: &OAuthClient| read.settings.as_ref().is_some_and(|s| s.enabled && s.grant_epoch == c.epoch);
        let client = read
            .client
            .filter(|c| c.client_id == client_id && live(c))
            .ok_or_else(|| page("The client_id is not known."))?;
        let redirect_uri = params
            .redirect_uri
            .as_deref()
            .filter(|uri| client.allows(uri))
            .ok_or_else(|| page("The redirect_uri is not registered for this client (exact match)."))?
            .to_owned();
        let state = params.state.clone().filter(|s| !s.is_empty());
        let redirect = |error, description: &str| AuthorizeRefusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_owned(),
            state: state.clone(),
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(redirect("invalid_request", "state is too long"));
        }
        if params.response_type.as_deref() != Some("code") {
            return Err(redirect("unsupported_response_type", "response_type must be code"));
        }
        if params.code_challenge_method.as_deref() != Some("S256") {
            return Err(redirect("invalid_request", "PKCE is required: code_challenge_method must be S256"));
        }
        let code_challenge = params
            .code_challenge
            .as_deref()
            .and_then(CodeChallenge::parse)
            .ok_or_else(|| redirect("invalid_request", "code_challenge must be 43 base64url characters (S256)"))?;
        let mut valid =
            ValidAuthorize { org, client_id, redirect_uri, state, code_challenge, form_token: String::new() };
        valid.form_token =
            self.key.sign_form(&form_purpose(&valid), (self.now + lifetimes::AUTHORIZE_FORM).timestamp());
        Ok(valid)
    }

    /// The approval: the form's token, the person's sign-in and role, then the code.
    pub async fn approve(
        &self,
        params: &AuthorizeParams,
        form_token: &str,
        email: &str,
        passphrase: &str,
        source: &str,
    ) -> Result<Approval, ApprovalRefusal> {
        let request = self.check_authorize(params).await.map_err(ApprovalRefusal::Request)?;
        if !self.key.verify_form(form_token, &form_purpose(&request), self.now.timestamp()) {
            return Err(ApprovalRefusal::FormExpired);
        }
        // The console's check (throttled, Argon2id), without a session; an initial passphrase is refused unspent.
        let approver =
            self.console.verify_passphrase_holder(email, passphrase, source).await.map_err(ApprovalRefusal::SignIn)?;
        self.require_admin(&request.org, &approver).await?;
        let code = self.key.issue_oauth(SecretKind::AuthorizationCode);
        let epoch = self
            .store
            .scim_settings(&request.org)
            .await
            .map_err(ApprovalRefusal::Failed)?
            .filter(|s| s.enabled)
            .map(|s| s.grant_epoch)
            .ok_or_else(|| ApprovalRefusal::Request(AuthorizeRefusal::Page("SCIM is not enabled.".into())))?;
        let grant = CodeGrant {
            client_id: request.client_id.clone(),
            epoch,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.as_str().to_owned(),
            approved_by: approver.clone(),
            expires_at: self.now + lifetimes::AUTHORIZATION_CODE,
            family: None,
            used_at: None,
        };
        self.store.put_code(&request.org, &code.hash, &grant).await.map_err(ApprovalRefusal::Failed)?;
        tracing::info!(org = %request.org, client = request.client_id.as_str(), "OAuth authorization approved");
        Ok(Approval { redirect_uri: request.redirect_uri, code: code.reveal().to_owned(), state: request.state })
    }

    async fn require_admin(&self, org: &OrgId, email: &EmailAddress) -> Result<(), ApprovalRefusal> {
        let member = self.store.org_member_by_email(org, email).await.map_err(ApprovalRefusal::Failed)?;
        match member {
            Some(member) if member.active && member.role.is_admin() => Ok(()),
            _ => Err(ApprovalRefusal::NotAdmin),
        }
    }
}
