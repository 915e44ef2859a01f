//! Reconciliation after the first sync (docs/ARCHITECTURE.md, "Reconciliation"): the members added
//! by hand that the IdP has not taken over, and the IdP users that look like a second account of
//! one of them (an address that differs only by domain or by alias, so provisioning created a new
//! member instead of linking). Pure: the store streams members in, this decides.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ManagedBy, MemberRecord};

/// At most this many manual members and mismatches are listed (the counts stay exact): keeps the
/// stored summary far below the 400 KB item limit (about 300 bytes an entry).
pub const RECONCILIATION_LISTED: usize = 200;

/// An address reduced to what identifies a person across the spellings an IdP may use: lower
/// case, the local part without its `+alias`, and the domain apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityKey {
    /// The whole address, lower case.
    normalized: String,
    /// The local part before any `+`, lower case.
    base: String,
    domain: String,
}

/// How an IdP user's address differs from a manual member's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// Same local part, another domain (`bob@corp.com` / `bob@corp.io`).
    Domain,
    /// Same domain, the local part differs by a `+alias` (`bob+okta@corp.com` / `bob@corp.com`).
    Alias,
}

impl IdentityKey {
    /// The key of an address; None for a text that is not one (a userName such as `bob`).
    pub fn of(address: &str) -> Option<Self> {
        let normalized = address.trim().to_lowercase();
        let (local, domain) = normalized.rsplit_once('@')?;
        let base = local.split('+').next().unwrap_or_default();
        if base.is_empty() || domain.is_empty() {
            return None;
        }
        Some(Self { base: base.to_owned(), domain: domain.to_owned(), normalized })
    }

    /// The part two addresses of one person share (the index of the matching).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How `self` differs from `other` when both name one person; None when they are the same
    /// address (a member linked by email) or two people.
    pub fn differs_from(&self, other: &IdentityKey) -> Option<MismatchKind> {
        if self.normalized == other.normalized || self.base != other.base {
            return None;
        }
        Some(if self.domain != other.domain { MismatchKind::Domain } else { MismatchKind::Alias })
    }
}

/// A member added by hand that no IdP user has taken over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualMember {
    pub id: String,
    pub email: String,
    pub role: super::MemberRole,
    pub active: bool,
    /// It consumes a licence (active members do).
    pub consumes_license: bool,
}

/// An IdP user that looks like a second account of a manual member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    pub kind: MismatchKind,
    /// The member the IdP created.
    pub provisioned_id: String,
    pub provisioned_user_name: String,
    pub provisioned_email: String,
    /// The member added by hand it should have linked to.
    pub manual_id: String,
    pub manual_email: String,
    /// Licences the duplicate takes beyond the one person's one: 1 while both are active.
    pub extra_licenses: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualSummary {
    /// Manual members (every one, active or not).
    pub count: u64,
    /// The licences they consume.
    pub licenses: u64,
    /// The first `RECONCILIATION_LISTED`, by email.
    pub listed: Vec<ManualMember>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MismatchSummary {
    pub count: u64,
    pub by_domain: u64,
    pub by_alias: u64,
    /// Licences the duplicates take beyond one per person.
    pub extra_licenses: u64,
    /// The first `RECONCILIATION_LISTED`, by the manual member's email.
    pub listed: Vec<Mismatch>,
}

/// The organization's member counters (exact, moved with every member write) when a check began:
/// when they differ later, members changed since (a link moves a licence from manual to SCIM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberTally {
    pub licenses_scim: u64,
    pub licenses_manual: u64,
    pub members: u64,
}

/// One reconciliation of an organization, as computed from every member at `computed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciliation {
    pub computed_at: DateTime<Utc>,
    /// Some member is managed by the IdP: it has synced at least once.
    pub idp_synced: bool,
    /// What the computation read (its cost).
    pub members_read: u64,
    pub elapsed_ms: u64,
    /// The counters read before the members were.
    #[serde(default)]
    pub tally: MemberTally,
    pub manual: ManualSummary,
    pub mismatches: MismatchSummary,
    /// Licences these members represent: every licence a manual member consumes (a duplicate's
    /// extra licence is its manual twin's, so it is not counted twice).
    pub total_licenses: u64,
}

/// What the matching keeps of an IdP-managed member.
struct Provisioned {
    id: String,
    user_name: String,
    email: String,
    active: bool,
}

impl Provisioned {
    /// How this IdP user's addresses differ from a manual member's email, if it looks like them.
    /// The email is looked at first: it is what linking compares. (Keys are made again here, for
    /// the few candidates, rather than kept for every IdP user.)
    fn differs_from(&self, manual: &IdentityKey) -> Option<MismatchKind> {
        let by_email = IdentityKey::of(&self.email).and_then(|key| key.differs_from(manual));
        // (A userName equal to the member's email cannot be: userNames are unique, and a manual
        // member's userName is its email.)
        by_email.or_else(|| IdentityKey::of(&self.user_name).and_then(|key| key.differs_from(manual)))
    }
}

/// Members are added one at a time (as the store streams them, in any order); `finish` matches.
/// Memory: the manual members, and per IdP-managed one its id, userName, email and base key
/// (about 0.4 KB with the index).
#[derive(Default)]
pub struct ReconciliationBuilder {
    manual: Vec<(ManualMember, Option<IdentityKey>)>,
    provisioned: Vec<Provisioned>,
    by_base: HashMap<String, Vec<usize>>,
    members_read: u64,
}

impl ReconciliationBuilder {
    pub fn add(&mut self, member: &MemberRecord) {
        self.members_read += 1;
        match member.managed_by {
            ManagedBy::Manual => self.manual.push((
                ManualMember {
                    id: member.id.clone(),
                    email: member.email.to_string(),
                    role: member.role,
                    active: member.active,
                    consumes_license: member.consumes_license(),
                },
                IdentityKey::of(member.email.as_str()),
            )),
            ManagedBy::Scim => {
                let index = self.provisioned.len();
                let keys = [IdentityKey::of(member.email.as_str()), IdentityKey::of(&member.user_name)];
                let mut bases: Vec<&str> = keys.iter().flatten().map(IdentityKey::base).collect();
                bases.dedup();
                for base in bases {
                    self.by_base.entry(base.to_owned()).or_default().push(index);
                }
                self.provisioned.push(Provisioned {
                    id: member.id.clone(),
                    user_name: member.user_name.clone(),
                    email: member.email.to_string(),
                    active: member.active,
                });
            }
        }
    }

    pub fn finish(mut self, computed_at: DateTime<Utc>, elapsed_ms: u64, tally: MemberTally) -> Reconciliation {
        self.manual.sort_by(|a, b| a.0.email.cmp(&b.0.email).then_with(|| a.0.id.cmp(&b.0.id)));
        let mut manual = ManualSummary::default();
        let mut mismatches = MismatchSummary::default();
        for (member, key) in &self.manual {
            manual.count += 1;
            manual.licenses += u64::from(member.consumes_license);
            let candidates = key.as_ref().and_then(|k| self.by_base.get(k.base()).map(|found| (k, found)));
            if let Some((key, found)) = candidates {
                for provisioned in found.iter().filter_map(|index| self.provisioned.get(*index)) {
                    let Some(kind) = provisioned.differs_from(key) else { continue };
                    let extra = u64::from(provisioned.active && member.consumes_license);
                    mismatches.count += 1;
                    match kind {
                        MismatchKind::Domain => mismatches.by_domain += 1,
                        MismatchKind::Alias => mismatches.by_alias += 1,
                    }
                    mismatches.extra_licenses += extra;
                    if mismatches.listed.len() < RECONCILIATION_LISTED {
                        mismatches.listed.push(Mismatch {
                            kind,
                            provisioned_id: provisioned.id.clone(),
                            provisioned_user_name: provisioned.user_name.clone(),
                            provisioned_email: provisioned.email.clone(),
                            manual_id: member.id.clone(),
                            manual_email: member.email.clone(),
                            extra_licenses: extra,
                        });
                    }
                }
            }
            if manual.listed.len() < RECONCILIATION_LISTED {
                manual.listed.push(member.clone());
            }
        }
        Reconciliation {
            computed_at,
            idp_synced: !self.provisioned.is_empty(),
            members_read: self.members_read,
            elapsed_ms,
            tally,
            total_licenses: manual.licenses,
            manual,
            mismatches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, MemberRole};

    fn key(address: &str) -> IdentityKey {
        IdentityKey::of(address).unwrap()
    }

    #[test]
    fn keys_tell_domain_and_alias_apart_and_ignore_case() {
        assert_eq!(key("bob@corp.io").differs_from(&key("bob@corp.com")), Some(MismatchKind::Domain));
        assert_eq!(key("Bob+okta@Corp.com").differs_from(&key("bob@corp.com")), Some(MismatchKind::Alias));
        assert_eq!(key("bob+x@corp.io").differs_from(&key("bob@corp.com")), Some(MismatchKind::Domain));
        // Only case differs: the same address (linking compares case-insensitively).
        assert_eq!(key("BOB@corp.com").differs_from(&key("bob@corp.com")), None);
        // Another person.
        assert_eq!(key("bobby@corp.com").differs_from(&key("bob@corp.com")), None);
        assert_eq!(key("rob@corp.com").base(), "rob");
        assert!(IdentityKey::of("bob").is_none());
        assert!(IdentityKey::of("+x@corp.com").is_none());
    }

    fn manual(email: &str, active: bool) -> MemberRecord {
        let mut m = MemberRecord::manual(EmailAddress::parse(email).unwrap(), MemberRole::Member, Utc::now());
        m.active = active;
        m
    }

    fn provisioned(user_name: &str, email: &str, active: bool) -> MemberRecord {
        let mut m = MemberRecord::provisioned(EmailAddress::parse(email).unwrap(), &serde_json::json!({}), Utc::now());
        m.user_name = user_name.to_owned();
        m.active = active;
        m
    }

    #[test]
    fn counts_manual_members_and_duplicates_with_their_licences() {
        let mut builder = ReconciliationBuilder::default();
        // Provisioned before and after the members they duplicate: order does not matter.
        builder.add(&provisioned("bob@corp.io", "bob@corp.io", true));
        builder.add(&manual("bob@corp.com", true));
        builder.add(&manual("carol@corp.com", true));
        builder.add(&manual("dan@corp.com", false));
        builder.add(&provisioned("Carol+okta@corp.com", "carol+okta@corp.com", true));
        builder.add(&provisioned("dan@corp.com.au", "dan@corp.com.au", true));
        builder.add(&provisioned("erin@corp.com", "erin@corp.com", true));
        // The IdP's userName has another domain, its email is another person's spelling.
        builder.add(&provisioned("frank@corp.io", "frank.h@corp.com", true));
        builder.add(&manual("frank@corp.com", true));
        let summary = builder.finish(Utc::now(), 0, MemberTally::default());

        assert!(summary.idp_synced);
        assert_eq!(summary.members_read, 9);
        assert_eq!((summary.manual.count, summary.manual.licenses), (4, 3));
        let m = &summary.mismatches;
        assert_eq!((m.count, m.by_domain, m.by_alias), (4, 3, 1));
        // dan's manual member is inactive: its duplicate takes no extra licence.
        assert_eq!(m.extra_licenses, 3);
        assert_eq!(summary.total_licenses, 3);
        let dan = m.listed.iter().find(|x| x.manual_email == "dan@corp.com").unwrap();
        assert_eq!((dan.kind, dan.extra_licenses), (MismatchKind::Domain, 0));
        let frank = m.listed.iter().find(|x| x.manual_email == "frank@corp.com").unwrap();
        assert_eq!(frank.kind, MismatchKind::Domain);
        let emails: Vec<&str> = summary.manual.listed.iter().map(|x| x.email.as_str()).collect();
        assert_eq!(emails, ["bob@corp.com", "carol@corp.com", "dan@corp.com", "frank@corp.com"]);
    }

    #[test]
    fn no_provisioned_member_means_not_synced_and_no_mismatch() {
        let mut builder = ReconciliationBuilder::default();
        builder.add(&manual("bob@corp.com", true));
        let summary = builder.finish(Utc::now(), 0, MemberTally::default());
        assert!(!summary.idp_synced);
        assert_eq!(summary.mismatches.count, 0);
        assert_eq!(summary.manual.count, 1);
    }

    #[test]
    fn lists_are_bounded_and_counts_stay_exact() {
        let mut builder = ReconciliationBuilder::default();
        for i in 0..RECONCILIATION_LISTED + 5 {
            builder.add(&manual(&format!("p{i}@corp.com"), true));
            builder.add(&provisioned(&format!("p{i}@corp.io"), &format!("p{i}@corp.io"), true));
        }
        let summary = builder.finish(Utc::now(), 0, MemberTally::default());
        assert_eq!(summary.manual.count as usize, RECONCILIATION_LISTED + 5);
        assert_eq!(summary.manual.listed.len(), RECONCILIATION_LISTED);
        assert_eq!(summary.mismatches.count as usize, RECONCILIATION_LISTED + 5);
        assert_eq!(summary.mismatches.listed.len(), RECONCILIATION_LISTED);
    }
}
