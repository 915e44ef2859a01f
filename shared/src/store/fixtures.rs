//! Loaders that write many items fast by skipping what a SCIM write keeps in step: uniqueness
//! guards, lookups, license counters, the members' membership counters. Only for fixtures (tests,
//! benchmarks, `scimctl load-team`): compiled only with the `fixtures` feature, which no Lambda
//! function's crate enables, so no handler can call them.
use aws_sdk_dynamodb::types::AttributeValue;

use super::members::member_item;
use super::teams::{membership_item, team_key};
use super::{Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{MemberRecord, Membership};

impl Store {
    /// Writes member items as they are, without guards, lookups or counters.
    pub async fn load_members_unchecked(
        &self,
        org: &AuthorizedOrg,
        members: &[MemberRecord],
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(members.len());
        for member in members {
            items.push(member_item(org, member)?);
        }
        self.put_all(items).await
    }

    /// Writes memberships of `user_ids` in a team without the members' counters, and adds their
    /// number to the team's `member_count`.
    pub async fn load_memberships_unchecked(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        user_ids: &[String],
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(user_ids.len());
        for user_id in user_ids {
            let membership = Membership { team_id: team_id.to_owned(), user_id: user_id.clone(), display: None };
            items.push(membership_item(org, &membership)?);
        }
        self.put_all(items).await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(team_key(org, team_id)))
            .update_expression("ADD member_count :n")
            .expression_attribute_values(":n", AttributeValue::N(user_ids.len().to_string()))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }
}
