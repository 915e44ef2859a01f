use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailAddress, OrgId};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{value}' is not a valid {what}; expected one of: {}", .expected.join(", "))]
pub struct ValueError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

macro_rules! parse_enum {
    ($ty:ident, $what:literal, { $($text:literal => $variant:ident),+ $(,)? }) => {
        impl $ty {
            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                match raw.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(ValueError {
                        what: $what,
                        value: raw.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }

            pub fn as_str(&self) -> &'static str {
                match self { $($ty::$variant => $text,)+ }
            }
        }

        /// The console's spelling, for request bodies.
        impl std::str::FromStr for $ty {
            type Err = ValueError;

            fn from_str(raw: &str) -> Result<Self, ValueError> {
                Self::parse(raw)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Individual,
    Team,
    Enterprise,
}
parse_enum!(Plan, "plan", { "free" => Free, "individual" => Individual, "team" => Team, "enterprise" => Enterprise });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProvider {
    Okta,
    Azure,
}
parse_enum!(IdentityProvider, "identity provider", { "okta" => Okta, "azure" => Azure });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    CoOwner,
    Member,
}
parse_enum!(MemberRole, "role", { "owner" => Owner, "co-owner" => CoOwner, "member" => Member });

impl MemberRole {
    /// Owners and co-owners administer SCIM.
    pub fn is_admin(&self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::CoOwner)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfig {
    pub idp: IdentityProvider,
    pub configured_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub plan: Plan,
    /// Enterprise licenses bought; `None` means no limit is enforced.
    pub seat_limit: Option<u32>,
    pub verified_domains: Vec<String>,
    pub sso: Option<SsoConfig>,
    pub created_at: DateTime<Utc>,
}

/// One condition the seeds put on enabling SCIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScimRequirement {
    EnterprisePlan,
    OwnerOrCoOwner,
    VerifiedDomain,
    SsoConfigured,
    IdpConfirmed,
}

impl ScimRequirement {
    pub fn describe(&self) -> &'static str {
        match self {
            Self::EnterprisePlan => "the organization must be on the Enterprise plan",
            Self::OwnerOrCoOwner => "you must be an Owner or Co-Owner of the organization",
            Self::VerifiedDomain => "the organization must have at least one verified domain",
            Self::SsoConfigured => "SSO must be configured for your identity provider",
            Self::IdpConfirmed => "you must confirm the identity provider (okta or azure) that SSO is configured with",
        }
    }
}

impl Organization {
    pub fn new(id: OrgId, name: &str, plan: Plan, seat_limit: Option<u32>, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: name.trim().to_owned(),
            plan,
            seat_limit,
            verified_domains: Vec::new(),
            sso: None,
            created_at: now,
        }
    }

    /// The organization-side requirements (plan, domain, SSO) that are not met. The caller's role
    /// and the IdP confirmation are checked where the caller is known.
    pub fn unmet_scim_requirements(&self) -> Vec<ScimRequirement> {
        let mut unmet = Vec::new();
        if self.plan != Plan::Enterprise {
            unmet.push(ScimRequirement::EnterprisePlan);
        }
        if self.verified_domains.is_empty() {
            unmet.push(ScimRequirement::VerifiedDomain);
        }
        if self.sso.is_none() {
            unmet.push(ScimRequirement::SsoConfigured);
        }
        unmet
    }

    pub fn verify_domain(&mut self, domain: &str) -> Result<(), ValueError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let probe = format!("x@{domain}");
        if EmailAddress::parse(&probe).is_err() {
            return Err(ValueError { what: "domain", value: domain, expected: &["a DNS name like example.com"] });
        }
        if !self.verified_domains.contains(&domain) {
            self.verified_domains.push(domain);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Organization {
        Organization::new(OrgId::parse("acme").unwrap(), "Acme", Plan::Team, None, Utc::now())
    }

    #[test]
    fn names_every_unmet_requirement() {
        let mut o = org();
        assert_eq!(
            o.unmet_scim_requirements(),
            vec![ScimRequirement::EnterprisePlan, ScimRequirement::VerifiedDomain, ScimRequirement::SsoConfigured]
        );
        o.plan = Plan::Enterprise;
        o.verify_domain("Acme.COM").unwrap();
        o.sso = Some(SsoConfig { idp: IdentityProvider::Okta, configured_at: Utc::now() });
        assert!(o.unmet_scim_requirements().is_empty());
        assert_eq!(o.verified_domains, vec!["acme.com"]);
    }

    #[test]
    fn parses_enums_with_clear_errors() {
        assert_eq!(Plan::parse("Enterprise"), Ok(Plan::Enterprise));
        assert_eq!(MemberRole::parse("co-owner"), Ok(MemberRole::CoOwner));
        let err = IdentityProvider::parse("ping").unwrap_err();
        assert_eq!(err.to_string(), "'ping' is not a valid identity provider; expected one of: okta, azure");
        assert!(org().verify_domain("not a domain").is_err());
    }
}
