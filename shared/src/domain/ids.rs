use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("organization id must be 1 to 64 characters of letters, digits, '-' or '_'")]
    InvalidOrgId,
}

/// An organization id as it appears in connector URLs (`/scim/v2/orgs/{orgId}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::InvalidOrgId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OrgId> for String {
    fn from(id: OrgId) -> Self {
        id.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_url_safe_ids_and_rejects_the_rest() {
        assert!(OrgId::parse("acme-corp_1").is_ok());
        for bad in ["", "a/b", "a b", "org#1", &"x".repeat(65), "ünï"] {
            assert_eq!(OrgId::parse(bad), Err(IdError::InvalidOrgId), "{bad}");
        }
    }
}
