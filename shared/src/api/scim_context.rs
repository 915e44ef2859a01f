//! Who is calling a SCIM endpoint: the organization in the URL and the bearer token presented.
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use crate::auth::{AuthError, PresentedToken};
use crate::domain::OrgId;
use crate::scim::ScimError;
use crate::store::Item;

/// What the handlers tell the request log about a request (filled as the request proceeds).
#[derive(Debug, Default)]
pub struct LogNote {
    /// Set once the organization is known to have SCIM settings: only those requests are logged.
    pub org: Option<OrgId>,
    pub tolerances: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LogSlot(Arc<Mutex<LogNote>>);

impl LogSlot {
    fn update(&self, f: impl FnOnce(&mut LogNote)) {
        if let Ok(mut note) = self.0.lock() {
            f(&mut note);
        }
    }

    pub fn take(&self) -> LogNote {
        self.0.lock().map(|mut note| std::mem::take(&mut *note)).unwrap_or_default()
    }

    pub fn add_tolerance(&self, name: &str) {
        self.update(|note| {
            if !note.tolerances.iter().any(|t| t == name) {
                note.tolerances.push(name.to_owned());
            }
        });
    }
}

/// The caller of a `/scim/v2/orgs/{orgId}/…` route. Extracting it reads no data; `authorize`
/// checks the token against the organization's SCIM settings.
pub struct ScimCaller {
    pub org: OrgId,
    /// `{origin}/scim/v2/orgs/{orgId}`: the connector base URL, for `Location` and `meta.location`.
    pub base_url: String,
    token: Result<PresentedToken, AuthError>,
    pub log: LogSlot,
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|_| ScimError::from(AuthError::InvalidToken))?;
        let raw_org = params.iter().find(|(name, _)| *name == "orgId").map(|(_, value)| value).unwrap_or_default();
        // No token is valid for an organization id that cannot exist.
        let org = OrgId::parse(raw_org).map_err(|_| ScimError::from(AuthError::InvalidToken))?;
        let header = parts.headers.get(AUTHORIZATION).map(|value| value.to_str().unwrap_or("\u{0}"));
        let token = PresentedToken::from_authorization(header);
        let log = parts.extensions.get::<LogSlot>().cloned().unwrap_or_default();
        let base_url = format!("{}/scim/v2/orgs/{org}", app.origin(&parts.headers));
        Ok(Self { org, base_url, token, log })
    }
}

impl ScimCaller {
    /// Checks the token (one read of the organization's SCIM settings).
    pub async fn authorize(&self, app: &AppState) -> Result<(), ScimError> {
        self.authorize_with(app, Vec::new()).await.map(|_| ())
    }

    /// Checks the token while fetching `extra` items in the same BatchGetItem, so the check costs
    /// no round trip of its own. Returns the extra items found.
    pub async fn authorize_with(&self, app: &AppState, extra: Vec<Item>) -> Result<Vec<Item>, ScimError> {
        let (settings, items) = app.store.scim_settings_with(&self.org, extra).await?;
        if settings.is_some() {
            let org = self.org.clone();
            self.log.update(|note| note.org = Some(org));
        }
        let token = self.token.as_ref().map_err(|err| ScimError::from(*err))?;
        app.token_key.authorize(settings.as_ref(), token, app.clock.now())?;
        Ok(items)
    }
}
