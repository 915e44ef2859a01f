//! The initial passphrase a welcome email carries: a one-time credential, not a password
//! (docs/ARCHITECTURE.md, "Secrets"). It is random and long enough (≈ 89 bits) that a keyed hash
//! protects it as well as it protects SCIM tokens, so no Argon2id work is spent per provisioned
//! user; it signs in once, within `lifetimes::INITIAL_CREDENTIAL`, into a session that can only
//! choose a passphrase.
use std::fmt;

use rand::seq::IndexedRandom;
use subtle::ConstantTimeEq;

use super::TokenKey;
use crate::domain::EmailAddress;

/// No 0/O or 1/I/L: easy to read from an email and type. 18 characters of 31 ≈ 89 bits.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const LENGTH: usize = 18;
const GROUP: usize = 6;

/// A freshly generated initial passphrase; only the welcome email shows it.
pub struct InitialCredential(String);

impl fmt::Debug for InitialCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialCredential(<redacted>)")
    }
}

impl InitialCredential {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let symbols: Vec<char> =
            (0..LENGTH).filter_map(|_| ALPHABET.choose(&mut rng).map(|b| char::from(*b))).collect();
        // Shown as three groups of six.
        let groups: Vec<String> = symbols.chunks(GROUP).map(|group| group.iter().collect()).collect();
        Self(groups.join("-"))
    }

    /// The text for the welcome email.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// What the account item stores.
    pub fn hash(&self, key: &TokenKey, email: &EmailAddress) -> String {
        keyed_hash(key, email, &self.0)
    }
}

/// Upper case, without the separators and spaces people type or copy along.
fn normalize(presented: &str) -> String {
    presented.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase()
}

/// Bound to the account: the same characters are worth nothing for another email.
fn keyed_hash(key: &TokenKey, email: &EmailAddress, presented: &str) -> String {
    key.hash(&format!("initial:{}:{}", email.normalized(), normalize(presented)))
}

/// Whether `presented` is the initial passphrase whose hash the account holds (constant time).
pub fn initial_credential_matches(key: &TokenKey, email: &EmailAddress, presented: &str, stored_hash: &str) -> bool {
    let presented_hash = keyed_hash(key, email, presented);
    !stored_hash.is_empty() && bool::from(presented_hash.as_bytes().ct_eq(stored_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(&[7u8; 32]).unwrap()
    }

    fn email(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).unwrap()
    }

    #[test]
    fn a_credential_has_at_least_80_bits_in_typeable_groups() {
        let credential = InitialCredential::generate();
        let text = credential.reveal();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(groups.len(), 3, "{text}");
        assert!(groups.iter().all(|g| g.len() == GROUP && g.bytes().all(|b| ALPHABET.contains(&b))), "{text}");
        let bits = LENGTH as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 80.0, "{bits} bits");
        assert_ne!(InitialCredential::generate().reveal(), text, "random");
        assert_eq!(format!("{credential:?}"), "InitialCredential(<redacted>)");
    }

    #[test]
    fn it_matches_as_typed_and_only_for_its_account() {
        let credential = InitialCredential::generate();
        let jane = email("Jane@Example.com");
        let stored = credential.hash(&key(), &jane);
        assert!(!stored.contains(credential.reveal()));
        let typed = credential.reveal().to_lowercase().replace('-', " ");
        assert!(initial_credential_matches(&key(), &email("jane@example.com"), &typed, &stored));
        assert!(!initial_credential_matches(&key(), &email("john@example.com"), credential.reveal(), &stored));
        assert!(!initial_credential_matches(&key(), &jane, "ABCDEF-GHJKMN-PQRSTU", &stored));
        assert!(!initial_credential_matches(&TokenKey::new(&[8u8; 32]).unwrap(), &jane, credential.reveal(), &stored));
        assert!(!initial_credential_matches(&key(), &jane, credential.reveal(), ""));
    }
}
