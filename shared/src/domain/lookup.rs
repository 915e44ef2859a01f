//! The attributes answered by a key lookup: what the writer indexes (`LOOKUP#{attribute}#…` items,
//! written with a member or a team) and what the reader queries, named once so the two cannot
//! disagree on a spelling.

/// An attribute whose values are indexed for lookups by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupAttr {
    /// A user's `externalId` (exact).
    ExternalId,
    /// A user's email addresses (lower case).
    Email,
    /// A group's `externalId` (exact).
    TeamExternalId,
}

impl LookupAttr {
    /// The attribute's segment in stored lookup items and in a member's stored `lookups`: stored
    /// data depends on these spellings, so they never change.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExternalId => "externalId",
            Self::Email => "email",
            Self::TeamExternalId => "team.externalId",
        }
    }

    /// A value as it is indexed: emails compare without case, identifiers exactly.
    pub fn normalize(self, value: &str) -> String {
        match self {
            Self::Email => value.to_lowercase(),
            Self::ExternalId | Self::TeamExternalId => value.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_and_normal_forms() {
        let all = [LookupAttr::ExternalId, LookupAttr::Email, LookupAttr::TeamExternalId];
        assert_eq!(all.map(LookupAttr::as_str), ["externalId", "email", "team.externalId"]);
        assert_eq!(LookupAttr::Email.normalize("A@Example.COM"), "a@example.com");
        assert_eq!(LookupAttr::ExternalId.normalize("Ext-1"), "Ext-1");
        assert_eq!(LookupAttr::TeamExternalId.normalize("Ext-1"), "Ext-1");
    }
}
