use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("'{0}' is not a valid email address")]
    Invalid(String),
}

/// An email address as the user typed it; compared and keyed case-insensitively
/// (Insomnia matches accounts to IdP users by email, ignoring case).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        let invalid = || EmailError::Invalid(raw.to_owned());
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which the address is unique.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}
impl Eq for EmailAddress {}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(email: EmailAddress) -> Self {
        email.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares_case_insensitively() {
        let a = EmailAddress::parse(" Jane.Doe@Example.com ").unwrap();
        assert_eq!(a.as_str(), "Jane.Doe@Example.com");
        assert_eq!(a, EmailAddress::parse("jane.doe@example.COM").unwrap());
        assert_eq!(a.normalized(), "jane.doe@example.com");
        assert_eq!(a.domain(), "Example.com");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in ["", "plain", "@x.com", "a@", "a@b", "a b@x.com", "a@x..com", "a@.x.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
