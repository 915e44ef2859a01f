//! Organizations and hand-added members (what the operator CLI does), on the real store.
use crate::helpers::OperatorScope;
use insomnia_scim::domain::{MemberRole, Plan};
use insomnia_scim::store::{Conflict, ManagedBy, MemberConflict, StoreError};

use crate::helpers::spawn_app;

#[tokio::test]
async fn manual_members_consume_licenses_and_respect_the_seat_limit() {
    let app = spawn_app().await;
    let org = app.create_org(Plan::Enterprise, Some(2)).await;
    app.add_manual_member(&org, "Owner@Example.com", MemberRole::Owner, "owner passphrase 1").await;
    app.add_manual_member(&org, "dev@example.com", MemberRole::Member, "member passphrase 1").await;
    let (_, licenses) = app.store.organization(&org.scope()).await.unwrap().unwrap();
    assert_eq!((licenses.scim, licenses.manual), (0, 2));

    let over = app.try_add_manual_member(&org, "third@example.com", MemberRole::Member).await;
    assert!(matches!(&over, Err(StoreError::Conflict(Conflict::Member(MemberConflict::SeatLimit)))), "{over:?}");

    let members = app.store.members(&org.scope()).await.unwrap();
    assert_eq!(members.len(), 2, "a refused add leaves nothing behind");
    assert!(members.iter().all(|m| m.managed_by == ManagedBy::Manual && m.active));
    assert!(app.store.account(&"owner@example.com".parse_email()).await.unwrap().is_some());
}

#[tokio::test]
async fn an_email_is_a_member_once_whatever_its_case() {
    let app = spawn_app().await;
    let org = app.create_org(Plan::Enterprise, None).await;
    app.add_manual_member(&org, "jane@example.com", MemberRole::Member, "a good passphrase").await;
    let again = app.try_add_manual_member(&org, "JANE@example.com", MemberRole::Member).await;
    // A hand-added member's userName is its email: whichever guard holds it first refuses.
    assert!(
        matches!(
            &again,
            Err(StoreError::Conflict(Conflict::Member(MemberConflict::UserNameTaken | MemberConflict::EmailTaken)))
        ),
        "{again:?}"
    );
    assert_eq!(app.store.members(&org.scope()).await.unwrap().len(), 1);
}

trait ParseEmail {
    fn parse_email(&self) -> insomnia_scim::domain::EmailAddress;
}

impl ParseEmail for str {
    fn parse_email(&self) -> insomnia_scim::domain::EmailAddress {
        insomnia_scim::domain::EmailAddress::parse(self).unwrap()
    }
}
