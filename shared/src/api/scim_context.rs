//! Who is calling a SCIM endpoint: the organization in the URL and the bearer token presented.
use std::ops::Deref;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use crate::auth::{AuthError, PresentedToken};
use crate::domain::OrgId;
use crate::provisioning::Caller;
use crate::scim::ScimError;

pub use crate::log::LogSlot;

/// The caller of a `/scim/v2/orgs/{orgId}/…` route. The use case it is handed to checks the token
/// (the gate); extracting it reads only for a path whose resource id is not UTF-8, answered 404
/// after the token check.
#[derive(Clone)]
pub struct ScimCaller {
    pub caller: Caller,
    /// `{origin}/scim/v2/orgs/{orgId}`: the connector base URL, for `Location` and `meta.location`.
    pub base_url: String,
}

impl Deref for ScimCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        // No token is valid for an organization id that cannot exist.
        let invalid_org = || ScimError::from(AuthError::InvalidToken);
        let (raw_org, id_is_utf8) = match RawPathParams::from_request_parts(parts, app).await {
            Ok(params) => {
                let raw = params.iter().find(|(name, _)| *name == "orgId").map(|(_, value)| value);
                (raw.unwrap_or_default().to_owned(), true)
            }
            // axum gives no parameter at all when one of them is not UTF-8. If the organization id is fine it is
            // the resource id that is not, and no resource has that id.
            Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
                (org_segment(parts.uri.path()).ok_or_else(invalid_org)?, false)
            }
            Err(_) => return Err(invalid_org()),
        };
        let org = OrgId::parse(&raw_org).map_err(|_| invalid_org())?;
        let header = parts.headers.get(AUTHORIZATION).map(|value| value.to_str().unwrap_or("\u{0}"));
        let token = PresentedToken::from_authorization(header);
        let log = parts.extensions.get::<LogSlot>().cloned().unwrap_or_default();
        let base_url = format!("{}/scim/v2/orgs/{org}", app.origin(&parts.headers));
        let caller = Self { caller: Caller { org, token, log }, base_url };
        if !id_is_utf8 {
            let refused = Err(ScimError::not_found("No resource has this id: the id in the path is not valid UTF-8."));
            return super::request::after_check(app, &caller, refused).await;
        }
        Ok(caller)
    }
}

/// The organization id of a `/scim/v2/orgs/{orgId}/…` path, percent-decoded; None when it is not UTF-8.
fn org_segment(path: &str) -> Option<String> {
    let raw = path.strip_prefix("/scim/v2/orgs/")?.split('/').next()?;
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = |b: u8| char::from(b).to_digit(16);
        let escaped = match (byte, bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => u8::try_from(hi * 16 + lo).ok(),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

impl ScimCaller {
    /// Checks the token (one read of the organization's SCIM settings).
    pub async fn authorize(&self, app: &AppState) -> Result<(), ScimError> {
        app.provisioning().authorize(&self.caller).await?;
        Ok(())
    }
}
