//! Reconciliation on the members page, in a real browser: the counts, the manual members the IdP
//! has not taken over with the two fixes, and the likely second accounts with what to fix.
use insomnia_scim::domain::Plan;

use crate::admin_support::{console_org_with, enable};
use crate::browser::Browser;
use crate::console_browser::{assert_clean, open_console, open_org, sign_in};
use crate::helpers::spawn_app;
use crate::reconciliation::{idp_creates, manual_members};

#[tokio::test]
async fn the_members_page_names_manual_members_and_second_accounts_with_their_licences() {
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, Some(25)).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let emails = manual_members(&app, &org, tag, &["alice", "bob", "carol", "erin"]).await;
    let token = enable(&app, &org, "90d").await;
    idp_creates(&app, &org, &token, &emails[0], &emails[0], true).await;
    let bob = format!("bob.{tag}@example.org");
    idp_creates(&app, &org, &token, &bob, &bob, true).await;
    let carol = format!("carol.{tag}+okta@example.com");
    idp_creates(&app, &org, &token, &carol, &carol, true).await;

    let mut browser = Browser::start().await;
    open_console(&browser, &app).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.wait_text("#scim-title", "SCIM").await;
    browser.click("#tab-members").await;

    // The first visit computes the reconciliation; the counts and licences are on the page.
    let counts = browser.wait_text("#reconciliation-counts", "Added by hand, not taken over").await;
    assert!(counts.contains("Added by hand, not taken over\n4"), "owner, bob, carol, erin: {counts}");
    assert!(counts.contains("Likely second accounts\n2 (1 by domain, 1 by alias)"), "{counts}");
    assert!(counts.contains("Extra licenses from second accounts\n2"), "{counts}");
    assert!(counts.contains("Licenses these represent\n4"), "{counts}");
    let summary = browser.text("#reconciliation-summary").await;
    assert!(summary.contains("4 members added by hand are not managed by Okta and use 4 licenses"), "{summary}");

    // Manual members: the two fixes, the IdP named as people write it; alice was linked.
    let manual = browser.text("#reconciliation-manual").await;
    assert!(manual.contains("remove them") && manual.contains("assign them to the Insomnia app in Okta"), "{manual}");
    assert!(manual.contains(&org.owner.email) && manual.contains(&emails[3]), "{manual}");
    assert!(!manual.contains(&emails[0]), "a member linked by email is not listed: {manual}");

    // Second accounts: each with the member it duplicates, how it differs and what to fix.
    let mismatches = browser.text("#reconciliation-mismatches-body").await;
    assert!(mismatches.contains(&bob) && mismatches.contains("Domain"), "{mismatches}");
    assert!(mismatches.contains(&carol) && mismatches.contains("Alias"), "{mismatches}");
    assert!(
        mismatches.contains(&format!("In Okta, set the user's userName and email to {}", emails[1])),
        "{mismatches}"
    );
    assert!(browser.text("#reconciliation-as-of").await.contains("members read in"));

    // The IdP provisions someone new; "Check again" within the minute answers the same summary,
    // and says that members changed since.
    let gina = format!("gina.{tag}@example.com");
    idp_creates(&app, &org, &token, &gina, &gina, true).await;
    browser.click("#reconcile").await;
    browser.wait_text("#reconciliation-as-of", "Members changed since: check again").await;
    assert!(browser.text("#reconciliation-counts").await.contains("Licenses these represent\n4"));
    assert_clean(&browser, "reconciliation").await;
    browser.screens("reconciliation").await;
}
