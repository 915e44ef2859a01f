//! OAuth 2.0 for the SCIM connector (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"): the
//! token endpoint's grants (authorization code with PKCE, refresh token with rotation and family
//! revocation on reuse, client credentials) and the authorization endpoint's approval by an
//! organization's Owner or Co-Owner. The HTTP adapter is `api::oauth`; the items are `store::oauth`.
mod authorize;
mod error;
mod token;

use chrono::{DateTime, Utc};

use crate::admin::Console;
use crate::auth::TokenKey;
use crate::store::Store;

pub use authorize::{Approval, ApprovalRefusal, AuthorizeParams, AuthorizeRefusal, ValidAuthorize};
pub use error::OAuthError;
pub use token::{TokenAnswer, TokenRequest};

/// The OAuth use cases, with this request's time.
pub struct OAuth {
    pub store: Store,
    pub key: TokenKey,
    /// The console, whose sign-in (throttled, Argon2id) the approval goes through.
    pub console: Console,
    pub now: DateTime<Utc>,
}
