//! Credentials: SCIM bearer tokens (keyed hashes, constant-time checks) and account passphrases.
mod passphrase;
mod scim_token;

pub use passphrase::{generate_passphrase, hash_passphrase, verify_passphrase, PassphraseError};
pub use scim_token::{AuthError, IssuedToken, PresentedToken, TokenKey, TokenKeyError};
