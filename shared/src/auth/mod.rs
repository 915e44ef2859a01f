//! Credentials: SCIM bearer tokens (keyed hashes, constant-time checks), OAuth 2.0 secrets of the
//! connector, account passphrases, and the one-time initial passphrase of a welcome email.
mod initial_credential;
mod oauth;
mod passphrase;
mod scim_token;
mod scope;

pub use initial_credential::{initial_credential_matches, InitialCredential};
pub use oauth::{CodeChallenge, OAuthSecret, SecretKind};
pub use passphrase::{
    argon2_gauge, check_passphrase_strength, generate_passphrase, hash_passphrase, hash_passphrase_async,
    verify_passphrase, verify_passphrase_async, Argon2Gauge, PassphraseError,
};
pub use scim_token::{AuthError, Credential, IssuedToken, PresentedToken, TokenKey, TokenKeyError};
pub use scope::AuthorizedOrg;
