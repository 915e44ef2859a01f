use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::seq::IndexedRandom;

#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("the passphrase must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("the passphrase must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("the stored passphrase hash could not be read")]
    CorruptHash,
    #[error("hashing the passphrase failed")]
    Hashing,
}

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 256;

/// Argon2id (the crate's default algorithm, with OWASP-recommended parameters) in PHC string form.
pub fn hash_passphrase(passphrase: &str) -> Result<String, PassphraseError> {
    let length = passphrase.chars().count();
    if length < MIN_LEN {
        return Err(PassphraseError::TooShort { min: MIN_LEN });
    }
    if length > MAX_LEN {
        return Err(PassphraseError::TooLong { max: MAX_LEN });
    }
    let mut salt_bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| PassphraseError::Hashing)?;
    Argon2::default()
        .hash_password(passphrase.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PassphraseError::Hashing)
}

pub fn verify_passphrase(passphrase: &str, stored_hash: &str) -> Result<bool, PassphraseError> {
    let parsed = PasswordHash::new(stored_hash).map_err(|_| PassphraseError::CorruptHash)?;
    Ok(Argon2::default().verify_password(passphrase.as_bytes(), &parsed).is_ok())
}

/// An initial passphrase for a new account: six words from a fixed list plus digits, easy to type once.
pub fn generate_passphrase() -> String {
    const WORDS: &[&str] = &[
        "amber", "basil", "cedar", "delta", "ember", "fable", "garnet", "harbor", "indigo", "jasper", "kelp", "lumen",
        "maple", "nectar", "onyx", "pepper", "quartz", "raven", "sable", "tundra", "umber", "velvet", "willow",
        "xenon", "yarrow", "zephyr", "canyon", "meadow", "glacier", "orchid", "falcon", "comet",
    ];
    let mut rng = rand::rng();
    let words: Vec<&str> = (0..6).filter_map(|_| WORDS.choose(&mut rng).copied()).collect();
    let number = rand::Rng::random_range(&mut rng, 10..100);
    format!("{}-{number}", words.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_contain_the_passphrase() {
        let hash = hash_passphrase("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_passphrase("correct horse battery", &hash).unwrap());
        assert!(!verify_passphrase("wrong horse battery", &hash).unwrap());
        assert!(matches!(verify_passphrase("x", "not-a-hash"), Err(PassphraseError::CorruptHash)));
    }

    #[test]
    fn rejects_short_and_huge_passphrases() {
        assert!(matches!(hash_passphrase("short"), Err(PassphraseError::TooShort { .. })));
        assert!(matches!(hash_passphrase(&"x".repeat(300)), Err(PassphraseError::TooLong { .. })));
    }

    #[test]
    fn generated_passphrases_are_long_and_differ() {
        let a = generate_passphrase();
        assert!(a.len() >= 20, "{a}");
        assert_ne!(a, generate_passphrase());
        assert!(hash_passphrase(&a).is_ok());
    }
}
