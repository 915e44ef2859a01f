//! The console page in a real browser (headless Chromium over WebDriver) against the local stack:
//! what an admin does, screen by screen, with a screenshot of each at desktop and phone width.
use chrono::{Duration, Utc};
use insomnia_scim::auth::InitialCredential;
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, MemberRole, RefreshFailure};
use insomnia_scim::lifetimes;
use reqwest::StatusCode;
use serde_json::json;

use crate::admin_support::{
    bare_org, console_org, enable, person, scim_status, sent_emails, unique_email, within_one_throttle_window,
    ConsoleOrg,
};
use crate::browser::Browser;
use crate::helpers::{create_pending_account, spawn_app, spawn_app_on_table, OperatorScope, TestApp};

const TAB: &str = "\u{E004}";
pub(crate) const ENTER: &str = "\u{E007}";
const SPACE: &str = "\u{E00D}";
const ESCAPE: &str = "\u{E00C}";

pub(crate) async fn assert_clean(browser: &Browser, screen: &str) {
    let unlabelled = browser.unlabelled_controls().await;
    assert!(unlabelled.is_empty(), "{screen}: controls without a label: {unlabelled:?}");
    let errors = browser.script_errors().await;
    assert!(errors.is_empty(), "{screen}: JavaScript errors: {errors:?}");
}

pub(crate) async fn open_console(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/console", app.address)).await;
    browser.find("#sign-in-email").await;
}

pub(crate) async fn sign_in(browser: &Browser, email: &str, passphrase: &str) {
    browser.type_into("#sign-in-email", email).await;
    browser.type_into("#sign-in-passphrase", passphrase).await;
    browser.click("#sign-in-submit").await;
}

pub(crate) async fn open_org(browser: &Browser, org: &str) {
    browser.find("#org-id").await;
    browser.type_into("#org-id", org).await;
    browser.keys(ENTER).await;
}

/// A few SCIM requests of the IdP, with `token`: answers how many were sent.
async fn provision(app: &TestApp, org: &ConsoleOrg, token: &str) -> usize {
    let base = org.connector_url(app);
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": unique_email("idp-user"),
        "name": { "givenName": "Ida", "familyName": "Pe" },
    });
    let created = app
        .http
        .post(format!("{base}/Users"))
        .bearer_auth(token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let missing = app.get(&format!("{base}/Users/no-such-user"), token).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    2
}

#[tokio::test]
async fn an_owner_enables_refreshes_reads_logs_and_disables_scim_in_a_browser() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let mut browser = Browser::start().await;

    // Sign in with the keyboard alone; a wrong passphrase first.
    open_console(&browser, &app).await;
    assert_clean(&browser, "sign-in").await;
    browser.screens("sign-in").await;
    browser.click("#sign-in-email").await;
    browser.keys(&format!("{}{TAB}wrong passphrase{ENTER}", org.owner.email)).await;
    browser.wait_text("#sign-in-error", "The email or passphrase is incorrect.").await;
    browser.screens("sign-in-wrong-passphrase").await;
    assert_eq!(browser.focused_id().await, "sign-in-passphrase");
    browser.keys(&format!("{}{ENTER}", org.owner.passphrase)).await;
    browser.find("#org-id").await;
    // The organizations this person administers are listed by name, with the role.
    let listed = format!("#managed-orgs [data-org=\"{}\"]", org.id);
    browser.wait_text(&listed, &format!("({}) · Owner", org.id)).await;
    assert_clean(&browser, "organizations").await;
    browser.screens("choose-organization").await;

    // Someone else's organization: refused with a message; then the owner's, picked from the list.
    open_org(&browser, "not-mine").await;
    browser.wait_text("#org-error", "You are not an Owner or Co-Owner of “not-mine”").await;
    browser.click(&listed).await;
    browser.wait_text("#scim-title", "SCIM").await;
    browser.wait_text("#requirements", "Identity provider confirmed").await;
    assert_eq!(browser.property("#scim-toggle", "disabled").await, json!(true), "off until the IdP is confirmed");
    let requirements = browser.text("#requirements").await;
    assert!(
        requirements.contains("✓ Met Enterprise plan")
            && requirements.contains("✗ Not met Identity provider confirmed\nConfirm below"),
        "{requirements}"
    );
    assert_clean(&browser, "requirements").await;
    browser.screens("scim-requirements").await;

    // Confirm the IdP, enable with the keyboard: the modal shows the connector URL and the token once.
    browser.click("#idp-okta").await;
    browser.wait_until("the toggle is usable", "!document.getElementById('scim-toggle').disabled").await;
    browser.script("document.getElementById('scim-toggle').focus();", json!([])).await;
    browser.keys(SPACE).await;
    browser.find("#enable-window").await;
    assert_eq!(browser.focused_id().await, "enable-window");
    assert_clean(&browser, "enable dialog").await;
    browser.screens("enable-dialog").await;
    browser.choose("#enable-window", "1y").await;
    // Enabling issues a token: the passphrase is asked for, a wrong one changes nothing.
    browser.click("#enable-generate").await;
    browser.wait_text("#enable-error", "Enter your passphrase").await;
    browser.type_into("#enable-passphrase", "not my passphrase").await;
    browser.click("#enable-generate").await;
    browser.wait_text("#enable-error", "passphrase is incorrect").await;
    assert!(app.store.scim_settings(&org.id).await.unwrap().is_none(), "nothing was enabled");
    browser.type_into("#enable-passphrase", &org.owner.passphrase).await;
    browser.click("#enable-generate").await;
    browser.find("#token-value").await;
    let token = browser.property("#token-value", "value").await.as_str().unwrap().to_owned();
    assert!(token.starts_with("iscim_"), "{token}");
    assert_eq!(browser.property("#token-url", "value").await, json!(org.connector_url(&app)));
    browser.wait_text("#token-warning", "shown only once").await;
    assert_clean(&browser, "token dialog").await;
    browser.screens("token-dialog").await;

    // The IdP works with it.
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK);
    let mut sent = 1 + provision(&app, &org, &token).await;

    // Closed, the token is nowhere: not in the page, the URL, storage or history; nor after a reload.
    browser.click("#token-done").await;
    browser.wait_until("the dialog is closed", "!document.getElementById('token-dialog').open").await;
    browser.wait_text("#flash", "The token is no longer shown").await;
    assert_eq!(browser.focused_id().await, "scim-toggle");
    let leaks = "return [document.documentElement.outerHTML, document.body.innerText, location.href, \
                 JSON.stringify(history.state), String(localStorage.length), String(sessionStorage.length), \
                 document.cookie, document.getElementById('token-value').value].join('\\n');";
    for moment in ["after closing", "after a reload"] {
        let seen = browser.script(leaks, json!([])).await.as_str().unwrap().to_owned();
        assert!(!seen.contains(&token), "the token is still on the page {moment}");
        assert!(!seen.contains("isess_"), "the session token is readable by the page {moment}");
        assert!(!browser.source().await.contains(&token));
        assert!(!browser.url().await.contains("iscim_"), "{moment}");
        if moment == "after closing" {
            browser.reload().await;
            browser.wait_text("#status-facts", "Enabled").await;
        }
    }
    let facts = browser.text("#status-facts").await;
    for part in ["Enabled", "Okta", &org.connector_url(&app), "Valid", "days left", "1 year", "Last automatic refresh"]
    {
        assert!(facts.contains(part), "{part}: {facts}");
    }
    assert_clean(&browser, "status").await;
    browser.screens("scim-status").await;

    // Refresh: a wrong passphrase changes nothing; the right one shows a new token once.
    browser.click("#refresh-open").await;
    browser.type_into("#refresh-passphrase", "not my passphrase").await;
    browser.click("#refresh-submit").await;
    browser.wait_text("#refresh-error", "The passphrase is incorrect. Nothing was changed").await;
    assert_clean(&browser, "refresh dialog").await;
    browser.screens("refresh-wrong-passphrase").await;
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK, "the old token still works");
    sent += 1;
    browser.type_into("#refresh-passphrase", &org.owner.passphrase).await;
    browser.click("#refresh-submit").await;
    browser
        .wait_until("a new token is shown", "document.getElementById('token-value').value.startsWith('iscim_')")
        .await;
    let new_token = browser.property("#token-value", "value").await.as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    // Escape does not close it (the token would be lost for good); its button does.
    browser.keys(ESCAPE).await;
    browser.wait_until("the dialog is still open", "document.getElementById('token-dialog').open").await;
    browser.click("#token-done").await;
    browser
        .wait_until(
            "the dialog is closed and emptied",
            "!document.getElementById('token-dialog').open \
        && document.getElementById('token-value').value === ''",
        )
        .await;
    let seen = browser.script(leaks, json!([])).await.as_str().unwrap().to_owned();
    assert!(!seen.contains(&new_token), "the new token is still on the page after closing");
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::UNAUTHORIZED, "the old token is dead");
    assert_eq!(scim_status(&app, &org.id, &new_token).await, StatusCode::OK);
    sent += 2;
    // Enough requests for a second page of the log (25 a page).
    for _ in 0..24 {
        assert_eq!(scim_status(&app, &org.id, &new_token).await, StatusCode::OK);
        sent += 1;
    }
    app.flush_logs().await;

    // The log shows those requests, newest first; filters narrow them; more on demand; a row's detail.
    browser.click("#tab-logs").await;
    browser.wait_until("a full first page", "document.querySelectorAll('#logs-body tr').length === 25").await;
    assert!(browser.visible("#logs-more").await);
    browser.click("#logs-more").await;
    browser
        .wait_until("the second page", &format!("document.querySelectorAll('#logs-body tr').length === {sent}"))
        .await;
    assert!(!browser.visible("#logs-more").await);
    assert_clean(&browser, "logs").await;
    browser.screens("logs").await;
    browser.choose("#f-status", "4xx").await;
    browser.click("#f-apply").await;
    browser.wait_until("4xx only", "document.querySelectorAll('#logs-body tr').length === 2").await;
    let statuses = browser
        .script("return Array.from(document.querySelectorAll('#logs-body tr')).map(r => r.dataset.status);", json!([]))
        .await;
    assert_eq!(statuses, json!(["401", "404"]), "newest first");
    browser.choose("#f-status", "").await;
    browser.choose("#f-method", "POST").await;
    browser.choose("#f-resource", "Users").await;
    browser.click("#f-apply").await;
    browser
        .wait_until(
            "the one POST",
            "document.querySelectorAll('#logs-body tr').length === 1 \
        && document.querySelector('#logs-body tr').dataset.status === '201'",
        )
        .await;
    browser.choose("#f-method", "").await;
    browser.choose("#f-status", "code").await;
    browser.type_into("#f-code", "404").await;
    browser.click("#f-apply").await;
    browser
        .wait_until(
            "the 404 only",
            "document.querySelectorAll('#logs-body tr').length === 1 \
        && document.querySelector('#logs-body tr').dataset.status === '404'",
        )
        .await;
    // The date pickers' typing order depends on the locale: set them as the picker would.
    let set = "document.getElementById(arguments[0]).value = arguments[1];";
    browser.script(set, json!(["f-from", "2020-01-01T00:00"])).await;
    browser.click("#f-apply").await;
    browser.wait_until("still the 404 since 2020", "document.querySelectorAll('#logs-body tr').length === 1").await;
    browser.script(set, json!(["f-to", "2021-01-01T00:00"])).await;
    browser.click("#f-apply").await;
    browser.wait_until("nothing in 2020", "document.querySelectorAll('#logs-body tr').length === 0").await;
    assert!(browser.visible("#logs-empty").await);
    browser.script(set, json!(["f-to", ""])).await;
    browser.click("#f-apply").await;
    browser.wait_until("the 404 again", "document.querySelectorAll('#logs-body tr').length === 1").await;
    browser.screens("logs-filtered").await;
    browser.click("#logs-body tr button").await;
    let detail = browser.wait_text("#log-facts", "/Users/no-such-user").await;
    for part in ["Status\n404", "Resource type\nUsers", "Tolerances applied\nNone"] {
        assert!(detail.contains(part), "{part}: {detail}");
    }
    assert_clean(&browser, "log detail").await;
    browser.screens("log-detail").await;
    browser.keys(ESCAPE).await;
    browser.click("#f-clear").await;
    browser.wait_until("all again", "document.querySelectorAll('#logs-body tr').length === 25").await;

    // History, members and licenses, the set-up guide.
    browser.click("#tab-history").await;
    let history = browser.wait_text("#history-body", "Token refreshed").await;
    assert!(history.contains("Enabled") && history.contains(&org.owner.email), "{history}");
    browser.screens("history").await;
    browser.click("#tab-members").await;
    let licenses = browser.wait_text("#licenses", "SCIM-provisioned").await;
    assert!(licenses.contains("SCIM-provisioned\n1") && licenses.contains("Added by hand\n1"), "{licenses}");
    let members = browser.wait_text("#members-body", "SCIM").await;
    assert!(
        members.contains(&org.owner.email) && members.contains("Manual") && members.contains("Active"),
        "{members}"
    );
    assert_clean(&browser, "members").await;
    browser.screens("members").await;
    browser.click("#tab-guide").await;
    let guide = browser.wait_text("#panel-guide", "Okta").await;
    assert!(guide.contains("Microsoft Entra ID") && guide.matches(&org.connector_url(&app)).count() >= 3, "{guide}");
    browser.screens("setup-guide").await;

    // Disable: the confirmation says what stops; then SCIM is refused.
    browser.click("#tab-overview").await;
    browser.click("#scim-toggle").await;
    browser.wait_text("#disable-what", "refused (401)").await;
    assert_clean(&browser, "disable dialog").await;
    browser.screens("disable-dialog").await;
    browser.type_into("#disable-passphrase", &org.owner.passphrase).await;
    browser.click("#disable-confirm").await;
    browser.wait_text("#toggle-text", "Off").await;
    assert_eq!(scim_status(&app, &org.id, &new_token).await, StatusCode::UNAUTHORIZED);
    browser.wait_text("#banners", "SCIM is disabled").await;
    browser.screens("scim-disabled").await;

    // Sign out: the session cookie is gone and the page is back at sign-in.
    browser.click("#sign-out").await;
    browser.find("#sign-in-email").await;
    browser.reload().await;
    browser.find("#sign-in-email").await;
    assert_clean(&browser, "signed out").await;
}

#[tokio::test]
async fn a_first_sign_in_changes_the_initial_passphrase_and_a_forgotten_one_is_reset_by_email_code() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let email = unique_email("newcomer");
    let address = EmailAddress::parse(&email).unwrap();
    create_pending_account(&app, &address).await;
    app.try_add_manual_member(&org.id, &email, MemberRole::CoOwner).await.unwrap();
    // As the welcome email leaves it: a one-time initial passphrase.
    let credential = InitialCredential::generate();
    let initial = credential.reveal().to_owned();
    let hash = credential.hash(&app.app.token_key, &address);
    assert!(app
        .store
        .set_initial_credential(&address, &hash, Utc::now() + lifetimes::INITIAL_CREDENTIAL)
        .await
        .unwrap());
    let mut browser = Browser::start().await;

    open_console(&browser, &app).await;
    sign_in(&browser, &email, &initial).await;
    browser.find("#change-current").await;
    assert_eq!(browser.focused_id().await, "change-current");
    assert_clean(&browser, "change passphrase").await;
    browser.screens("change-passphrase").await;
    browser.keys(&format!("{initial}{TAB}my own long passphrase{TAB}my own long passphrase typo{ENTER}")).await;
    browser.wait_text("#change-error", "The two new passphrases differ.").await;
    browser.type_into("#change-repeat", "my own long passphrase").await;
    browser.click("#change-form button[type=submit]").await;
    browser.find("#org-id").await;
    open_org(&browser, org.id.as_str()).await;
    browser.wait_text("#requirements", "Identity provider confirmed").await;

    // Forgotten: a code by email, a new passphrase, sign in with it.
    browser.click("#sign-out").await;
    browser.click("#forgot").await;
    browser.find("#reset-email").await;
    assert_eq!(browser.property("#reset-email", "value").await, json!(email), "the sign-in email carries over");
    browser.click("#reset-request-form button[type=submit]").await;
    browser.find("#reset-code").await;
    assert_clean(&browser, "reset").await;
    browser.screens("passphrase-reset").await;
    app.flush_logs().await;
    let mail = sent_emails(&email).await;
    let body = mail.last().unwrap()["body"].as_str().unwrap().to_owned();
    let code = body.lines().skip_while(|l| !l.contains("Your reset code is")).nth(2).unwrap().trim().to_owned();
    browser.type_into("#reset-code", "WRONG-CODE1").await;
    browser.type_into("#reset-new", "a passphrase after the reset").await;
    browser.click("#reset-confirm-form button[type=submit]").await;
    browser.wait_text("#reset-confirm-error", "wrong, expired or already used").await;
    browser.type_into("#reset-code", &code).await;
    browser.click("#reset-confirm-form button[type=submit]").await;
    browser.wait_text("#flash", "Passphrase changed. Sign in with the new passphrase.").await;
    sign_in(&browser, &email, "a passphrase after the reset").await;
    browser.find("#org-id").await;

    // Throttled: past 5 failures the answer says how long to wait.
    browser.click("#sign-out").await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;
    for _ in 0..5 {
        sign_in(&browser, &email, "guessing wrong").await;
        browser.wait_text("#sign-in-error", "incorrect").await;
        browser.script("document.getElementById('sign-in-error').textContent = '';", json!([])).await;
    }
    sign_in(&browser, &email, "guessing wrong").await;
    let said = browser.wait_text("#sign-in-error", "Too many failed attempts. Wait").await;
    // The wait is the rest of the 15-minute window, in minutes or (under two) seconds.
    let wait: String = said.split("Wait ").nth(1).unwrap().split(' ').take(2).collect::<Vec<_>>().join(" ");
    let (amount, unit) = wait.split_once(' ').unwrap();
    assert!(amount.parse::<u32>().unwrap() > 0 && ["minutes", "seconds"].contains(&unit), "{said}");
    browser.screens("sign-in-throttled").await;
    assert_clean(&browser, "throttled").await;
}

#[tokio::test]
async fn a_member_who_is_not_an_owner_gets_no_access_in_a_browser() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let member = person(&app, &org.id, MemberRole::Member, "member").await;
    let mut browser = Browser::start().await;

    open_console(&browser, &app).await;
    sign_in(&browser, &member.email, &member.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.wait_text("#org-error", "You are not an Owner or Co-Owner").await;
    assert!(!browser.visible("#screen-scim").await);
    assert_clean(&browser, "not an owner").await;
    browser.screens("not-an-owner").await;
    // Nor by the address of the page.
    browser.goto(&format!("{}/console#org={}&tab=logs", app.address, org.id)).await;
    browser.wait_text("#org-error", "You are not an Owner or Co-Owner").await;
    assert!(!browser.visible("#logs-body").await);

    // An owner of an organization that meets none of the requirements: each says what to do, and
    // the switch stays off.
    let bare = bare_org(&app).await;
    let owner = person(&app, &bare, MemberRole::Owner, "bare-owner").await;
    browser.goto(&format!("{}/console", app.address)).await;
    browser.click("#sign-out").await;
    sign_in(&browser, &owner.email, &owner.passphrase).await;
    open_org(&browser, bare.as_str()).await;
    let requirements = browser.wait_text("#requirements", "Enterprise plan").await;
    for todo in [
        "Upgrade the organization to the Enterprise plan",
        "Add and verify a domain your members use: in the Insomnia web app, Enterprise Controls → Domains",
        "Configure SSO with Okta or Microsoft Entra ID: in the Insomnia web app, Enterprise Controls → SSO",
    ] {
        assert!(requirements.contains(todo), "{todo}: {requirements}");
    }
    // Where SSO is configured is a link, not a page name this console does not have.
    assert_eq!(
        browser.property("[data-requirement=sso_configured] a", "href").await,
        json!("https://app.insomnia.rest/app/enterprise/sso/list")
    );
    assert_eq!(requirements.matches("✗ Not met").count(), 4, "{requirements}");
    assert_eq!(browser.property("#scim-toggle", "disabled").await, json!(true));
    assert!(!browser.visible("#idp-confirm").await, "the IdP is confirmed once the rest is met");
    assert_clean(&browser, "requirements unmet").await;
    browser.screens("scim-requirements-unmet").await;

    // The error check can fail: it sees an uncaught error of the page.
    browser.script("setTimeout(() => { throw new Error('probe error'); }, 0);", json!([])).await;
    browser.wait_until("the probe ran", "document.documentElement.dataset.jsErrors === '1'").await;
    let errors = browser.script_errors().await;
    assert!(errors.iter().any(|e| e.contains("probe error")), "{errors:?}");
}

#[tokio::test]
async fn the_page_warns_before_the_token_expires_and_says_when_provisioning_has_stopped() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "30d").await;
    // The scheduler could not extend it (as it records a failure).
    let now = Utc::now();
    let mut settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    settings.last_refresh_failure =
        Some(RefreshFailure { reason: "the plan is not Enterprise".into(), at: now + Duration::days(14) });
    settings.version += 1;
    app.store.put_scim_settings(&org.id.scope(), &settings, Some(settings.version - 1)).await.unwrap();
    let mut browser = Browser::start().await;

    // 15 days later: a warning banner with the Refresh Token action.
    let soon = spawn_app_on_table(&app.table, Clock::Fixed(now + Duration::days(15))).await;
    open_console(&browser, &soon).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    let banner = browser.wait_text(".banner-warning[data-code=token_expiring_soon]", "expires in 15 days").await;
    assert!(banner.contains("could not be refreshed automatically") && banner.contains("Refresh Token"), "{banner}");
    let facts = browser.text("#status-facts").await;
    assert!(facts.contains("Expiring soon") && facts.contains("15 days left"), "{facts}");
    assert!(facts.contains("Automatic refresh failed") && facts.contains("the plan is not Enterprise"), "{facts}");
    assert_clean(&browser, "expiring").await;
    browser.screens("banner-expiring-soon").await;

    // 31 days later: an error banner, provisioning has stopped; refreshed from the banner.
    let expired = spawn_app_on_table(&app.table, Clock::Fixed(now + Duration::days(31))).await;
    open_console(&browser, &expired).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.wait_text(".banner-error[data-code=token_expired]", "provisioning has stopped").await;
    browser.wait_text("#token-state", "Expired").await;
    // Said as what it is, by the service's clock: not "0 days left".
    let expires = browser.text("#token-expires").await;
    assert!(expires.contains("(expired 1 day ago)"), "{expires}");
    assert_clean(&browser, "expired").await;
    browser.screens("banner-expired").await;
    browser.click(".banner-error button").await;
    browser.type_into("#refresh-passphrase", &org.owner.passphrase).await;
    browser.keys(ENTER).await;
    browser.wait_until("a new token", "document.getElementById('token-value').value.startsWith('iscim_')").await;
    let new_token = browser.property("#token-value", "value").await.as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    browser.click("#token-done").await;
    browser.wait_text("#token-state", "Valid").await;
    assert!(!browser.visible(".banner-error").await, "the error banner is gone");

    // The tabs with the arrow keys.
    browser.script("document.getElementById('tab-overview').focus();", json!([])).await;
    browser.keys("\u{E014}").await; // ArrowRight
    assert_eq!(browser.focused_id().await, "tab-logs");
    browser.find("#log-filters").await;
    browser.keys("\u{E012}\u{E012}").await; // ArrowLeft twice: wraps to the guide
    assert_eq!(browser.focused_id().await, "tab-guide");
    browser.wait_text("#panel-guide", &format!("{}/scim/v2/orgs/{}", expired.address, org.id)).await;
    assert_clean(&browser, "tabs by keyboard").await;
}

/// The text of the page that a secret must never be in: the DOM, the visible text, the address,
/// the history's state, web storage, the readable cookies and the once-only field.
const LEAKS: &str = "return [document.documentElement.outerHTML, document.body.innerText, location.href, \
                     JSON.stringify(history.state), String(localStorage.length), String(sessionStorage.length), \
                     document.cookie, document.getElementById('token-value').value].join('\\n');";

/// The once-only dialog's secret, once it shows one.
async fn shown_secret(browser: &Browser, prefix: &str) -> String {
    browser
        .wait_until(
            "a secret is shown",
            &format!("document.getElementById('token-dialog').open && document.getElementById('token-value').value.startsWith('{prefix}')"),
        )
        .await;
    browser.property("#token-value", "value").await.as_str().unwrap().to_owned()
}

async fn close_secret(browser: &Browser) {
    browser.click("#token-done").await;
    browser
        .wait_until(
            "the dialog is closed and emptied",
            "!document.getElementById('token-dialog').open && document.getElementById('token-value').value === ''",
        )
        .await;
}

#[tokio::test]
async fn an_owner_rotates_with_an_overlap_revokes_every_token_and_connects_oauth_in_a_browser() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let mut browser = Browser::start().await;
    open_console(&browser, &app).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.wait_text("#requirements", "Identity provider confirmed").await;
    browser.click("#idp-okta").await;
    browser.wait_until("the toggle is usable", "!document.getElementById('scim-toggle').disabled").await;
    browser.click("#scim-toggle").await;
    browser.type_into("#enable-passphrase", &org.owner.passphrase).await;
    browser.click("#enable-generate").await;
    let old = shown_secret(&browser, "iscim_").await;
    close_secret(&browser).await;
    assert_eq!(scim_status(&app, &org.id, &old).await, StatusCode::OK);
    // No OAuth client yet; revoke is offered.
    browser.find("#revoke-open").await;
    browser.find("#oauth-none").await;

    // Refresh with a 1 h overlap: the dialog says until when the previous token works.
    browser.click("#refresh-open").await;
    browser.wait_text("#refresh-overlap-hint", "stops working as soon as").await;
    browser.choose("#refresh-overlap", "1").await;
    browser.wait_text("#refresh-overlap-hint", "The previous token keeps working until about").await;
    assert_clean(&browser, "refresh with overlap").await;
    browser.screens("refresh-overlap-dialog").await;
    browser.type_into("#refresh-passphrase", &org.owner.passphrase).await;
    let asked = Utc::now();
    browser.click("#refresh-submit").await;
    let new = shown_secret(&browser, "iscim_").await;
    assert_ne!(new, old);
    close_secret(&browser).await;
    for token in [&old, &new] {
        assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::OK, "both work during the overlap");
    }
    app.flush_logs().await;
    browser.reload().await;
    let previous = browser.wait_text("#previous-token", "stops at").await;
    let stops: Vec<String> = (-1..=1)
        .map(|m| (asked + Duration::hours(1) + Duration::minutes(m)).format("%-d %b %Y, %H:%M UTC").to_string())
        .collect();
    assert!(stops.iter().any(|at| previous.contains(at)), "{previous}, expected one of {stops:?}");
    assert!(!previous.contains("Last used: never"), "the old token's last use is shown: {previous}");
    let used = browser.text("#token-last-used").await;
    assert!(used.ends_with("UTC"), "the new token's last use: {used}");
    assert_clean(&browser, "status in an overlap").await;
    browser.screens("scim-overlap").await;

    // Revoke: a wrong passphrase changes nothing; the right one stops both tokens.
    browser.click("#revoke-open").await;
    browser.wait_text("#revoke-what", "every OAuth grant").await;
    browser.type_into("#revoke-passphrase", "not my passphrase").await;
    browser.keys(ENTER).await;
    browser.wait_text("#revoke-error", "The passphrase is incorrect. Nothing was changed").await;
    assert_clean(&browser, "revoke dialog").await;
    browser.screens("revoke-wrong-passphrase").await;
    for token in [&old, &new] {
        assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::OK, "a wrong passphrase revokes nothing");
    }
    browser.type_into("#revoke-passphrase", &org.owner.passphrase).await;
    browser.click("#revoke-confirm").await;
    let banner = browser.wait_text(".banner-error[data-code=tokens_revoked]", "All tokens revoked").await;
    assert!(banner.contains("refresh the token to get a new one") && banner.contains("Refresh Token"), "{banner}");
    for token in [&old, &new] {
        assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::UNAUTHORIZED, "revoked");
    }
    browser.wait_text("#token-state", "Revoked").await;
    assert_eq!(browser.text("#toggle-text").await, "On", "SCIM stays enabled");
    assert!(!browser.visible("#previous-token").await);
    assert_clean(&browser, "revoked").await;
    browser.screens("banner-revoked").await;

    // An OAuth client: its secret once, in the same modal; client credentials work on SCIM.
    browser.click("#oauth-create-open").await;
    assert_eq!(browser.focused_id().await, "oauth-redirects");
    browser.keys("https://idp.example.com/oauth/callback\n  \nhttp://localhost:8443/cb").await;
    browser.type_into("#oauth-passphrase", &org.owner.passphrase).await;
    assert_clean(&browser, "OAuth client dialog").await;
    browser.screens("oauth-create-dialog").await;
    browser.click("#oauth-create-submit").await;
    let secret = shown_secret(&browser, "iscim_cs_").await;
    let client_id = browser.property("#client-id-value", "value").await.as_str().unwrap().to_owned();
    assert!(client_id.starts_with(&format!("{}.", org.id)), "{client_id}");
    assert_eq!(browser.property("#client-token-url", "value").await, json!(format!("{}/oauth/token", app.address)));
    browser.wait_text("#token-warning", "client secret is shown only once").await;
    assert_eq!(browser.text("#token-value-label").await, "Client secret");
    assert_clean(&browser, "OAuth secret dialog").await;
    browser.screens("oauth-secret-dialog").await;
    let answer = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .form(&[("grant_type", "client_credentials"), ("client_id", &client_id), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let issued: serde_json::Value = answer.json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(scim_status(&app, &org.id, &access).await, StatusCode::OK, "the access token works on SCIM");
    close_secret(&browser).await;
    browser.wait_text("#flash", "The client secret is no longer shown").await;
    assert_eq!(browser.focused_id().await, "oauth-create-open");
    let facts = browser.wait_text("#oauth-facts", &client_id).await;
    for part in [
        "https://idp.example.com/oauth/callback",
        "http://localhost:8443/cb",
        "Secret expires",
        "Last used",
        "/oauth/token",
    ] {
        assert!(facts.contains(part), "{part}: {facts}");
    }
    for moment in ["after closing", "after a reload"] {
        if moment == "after a reload" {
            browser.reload().await;
            browser.wait_text("#oauth-facts", &client_id).await;
        }
        let seen = browser.script(LEAKS, json!([])).await.as_str().unwrap().to_owned();
        assert!(!seen.contains(&secret), "the client secret is on the page {moment}");
        assert!(!browser.source().await.contains(&secret), "{moment}");
        assert!(!browser.url().await.contains("iscim_"), "{moment}");
    }
    assert_clean(&browser, "OAuth client").await;
    browser.screens("oauth-client").await;

    // History: the rotation with its overlap, the revoke, the client; the guide names the endpoints.
    browser.click("#tab-history").await;
    let history = browser.wait_text("#history-body", "All tokens and OAuth grants revoked").await;
    for part in ["Token refreshed (the previous token works until", "OAuth client created", &client_id, "Enabled"] {
        assert!(history.contains(part), "{part}: {history}");
    }
    assert_clean(&browser, "history").await;
    browser.screens("history-tokens").await;
    browser.click("#tab-guide").await;
    let guide = browser.wait_text("#panel-guide", "OAuth (Okta / Entra)").await;
    for url in [format!("{}/oauth/token", app.address), format!("{}/oauth/authorize", app.address)] {
        assert!(guide.contains(&url), "{url}: {guide}");
    }

    // Delete the client (its access token stops); generate a new token from the banner.
    browser.click("#tab-overview").await;
    browser.click("#oauth-delete-open").await;
    browser.wait_text("#oauth-delete-what", "stops at once").await;
    assert_clean(&browser, "delete OAuth client").await;
    browser.type_into("#oauth-delete-passphrase", &org.owner.passphrase).await;
    browser.click("#oauth-delete-confirm").await;
    browser.wait_text("#oauth-card", "No OAuth client yet.").await;
    assert_eq!(scim_status(&app, &org.id, &access).await, StatusCode::UNAUTHORIZED);
    browser.click(".banner-error[data-code=tokens_revoked] button").await;
    assert!(!browser.visible("#refresh-overlap").await, "no token to overlap with");
    browser.type_into("#refresh-passphrase", &org.owner.passphrase).await;
    browser.keys(ENTER).await;
    let fresh = shown_secret(&browser, "iscim_").await;
    close_secret(&browser).await;
    assert_eq!(scim_status(&app, &org.id, &fresh).await, StatusCode::OK);
    browser.wait_text("#token-state", "Valid").await;
    assert!(!browser.visible(".banner-error").await, "the revoked banner is gone");
    assert_clean(&browser, "a new token after the revoke").await;
}

/// Where `css` sits horizontally inside its parent (px from the parent's left edge).
const LEFT_IN_PARENT: &str = "const e = document.querySelector(arguments[0]); \
     return Math.round(e.getBoundingClientRect().left - e.parentElement.getBoundingClientRect().left);";

/// What a new admin, who has read only the product documents, stumbled on: every state the page
/// shows agrees with every other, the documents' words, a once-only dialog that cannot be lost by a
/// stray key and says where each value goes, a disable that Enter cannot trigger, and a phone layout
/// that shows every tab.
#[tokio::test]
async fn a_new_admin_walks_the_console_and_meets_no_contradiction() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let mut browser = Browser::start().await;

    // First load: no request answers an error (no 401 probe of the session, no favicon 404).
    open_console(&browser, &app).await;
    let failed = browser
        .script(
            "return performance.getEntriesByType('resource').filter(e => e.responseStatus >= 400).map(e => e.name);",
            json!([]),
        )
        .await;
    assert_eq!(failed, json!([]), "requests that failed on first load");
    assert_eq!(
        browser
            .script("const i = document.querySelector('link[rel~=icon]'); return i ? i.href : null;", json!([]))
            .await,
        json!("data:,"),
        "the page names its icon, so the browser asks for no /favicon.ico"
    );
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;

    // While SCIM is off, what is missing sits right under the switch that asks for it.
    browser.wait_text("#requirements", "Identity provider confirmed").await;
    assert_eq!(
        browser.script("return document.getElementById('toggle-card').nextElementSibling.id;", json!([])).await,
        json!("requirements-card")
    );
    // The documents' expiry windows.
    let windows = browser
        .script(
            "return Array.from(document.querySelectorAll('#enable-window option')).map(o => o.text).join(',');",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(windows.contains("No expiration") && !windows.contains("No expiry"), "{windows}");
    let knob_off = browser.script(LEFT_IN_PARENT, json!(["#scim-toggle .knob"])).await;

    // Enable: behind the once-only dialog the page already says what is true.
    browser.click("#idp-okta").await;
    browser.wait_until("the toggle is usable", "!document.getElementById('scim-toggle').disabled").await;
    browser.click("#scim-toggle").await;
    browser.type_into("#enable-passphrase", &org.owner.passphrase).await;
    browser.click("#enable-generate").await;
    browser.wait_until("a token", "document.getElementById('token-value').value.startsWith('iscim_')").await;
    browser.wait_text("#scim-state", "Enabled").await;
    browser.wait_text("#toggle-text", "On").await;
    // Where each value goes in Okta, and both shown whole (wrapped, nothing cut off).
    assert!(browser.text("#token-url-where").await.contains("SCIM connector base URL"));
    assert!(browser.text("#token-value-where").await.contains("Authorization"));
    assert!(browser.text("#token-userid-where").await.contains("Unique identifier field for users: email"));
    for field in ["#token-url", "#token-value"] {
        let whole = browser
            .script(
                "const e = document.querySelector(arguments[0]); \
                 return e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 2;",
                json!([field]),
            )
            .await;
        assert_eq!(whole, json!(true), "{field} is shown whole");
    }
    // Escape does not throw the token away.
    browser.keys(ESCAPE).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(browser.script("return document.getElementById('token-dialog').open;", json!([])).await, json!(true));
    assert!(browser.property("#token-value", "value").await.as_str().unwrap().starts_with("iscim_"));
    assert_clean(&browser, "token dialog").await;
    browser.screens("token-dialog-okta").await;
    browser.click("#token-done").await;
    browser.wait_text("#flash", "The token is no longer shown").await;
    let knob_on = browser.script(LEFT_IN_PARENT, json!(["#scim-toggle .knob"])).await;
    assert_ne!(knob_on, knob_off, "the knob moves between off and on");
    let issued = browser.text("#token-issued").await;
    assert!(issued.contains("issued today") && issued.ends_with(")"), "the token's age: {issued}");
    // Automatic refresh is on, and an owner can turn it off (with the passphrase).
    browser.wait_text("#auto-refresh", "On:").await;
    browser.click("#auto-refresh-open").await;
    browser.type_into("#auto-refresh-passphrase", &org.owner.passphrase).await;
    browser.click("#auto-refresh-confirm").await;
    browser.wait_text("#auto-refresh", "Off:").await;
    assert_eq!(
        app.store.scim_settings(&org.id).await.unwrap().unwrap().auto_refresh,
        insomnia_scim::domain::AutoRefresh::Off
    );

    // The documents' words; the destructive action apart from the everyday one.
    assert_eq!(browser.text("#refresh-open").await, "Refresh Token");
    assert_eq!(
        browser
            .script(
                "return document.getElementById('refresh-open').parentElement \
                 === document.getElementById('revoke-open').parentElement;",
                json!([])
            )
            .await,
        json!(false)
    );
    browser.click("#refresh-open").await;
    assert_eq!(browser.text("#refresh-title").await, "Refresh Token");
    assert_eq!(browser.text("label[for=refresh-passphrase]").await, "Passphrase");
    assert_eq!(browser.text("#refresh-submit").await, "Refresh Token");
    browser.click("#refresh-dialog .cancel").await;

    // A notice belongs to its tab; roles in words.
    browser.click("#tab-members").await;
    browser.wait_text("#members-body", &org.owner.email).await;
    assert_eq!(
        browser.script("return document.getElementById('flash').textContent;", json!([])).await,
        json!(""),
        "the overview's notice does not follow to other tabs"
    );
    let members = browser.text("#members-body").await;
    assert!(members.contains("Owner") && !members.contains("owner\n") && !members.ends_with("owner"), "{members}");

    // At phone width every tab is reachable without a hidden scroll.
    browser.resize((375, 800)).await;
    let hidden_tabs = browser
        .script(
            "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('[role=tab]'))\
             .filter(t => t.getBoundingClientRect().right > w || t.getBoundingClientRect().left < 0).map(t => t.id);",
            json!([]),
        )
        .await;
    assert_eq!(hidden_tabs, json!([]), "tabs off-screen at 375 px");
    browser.screens("tabs-phone").await;
    browser.resize((1280, 900)).await;

    // Disable: the safe choice has the focus; afterwards the page says it once, and asks for the
    // IdP again without claiming it is confirmed.
    browser.click("#tab-overview").await;
    browser.click("#scim-toggle").await;
    browser.wait_text("#disable-what", "refused (401)").await;
    assert_eq!(
        browser.script("return document.activeElement.classList.contains('cancel');", json!([])).await,
        json!(true),
        "Enter must not disable SCIM"
    );
    browser.type_into("#disable-passphrase", &org.owner.passphrase).await;
    browser.click("#disable-confirm").await;
    browser.wait_text("#toggle-text", "Off").await;
    browser.wait_text("#banners", "SCIM is disabled").await;
    let page = browser.text("#main").await;
    assert_eq!(page.matches("SCIM is disabled").count(), 1, "{page}");
    browser.find("#idp-confirm").await;
    let requirement = browser.text("[data-requirement=idp_confirmed]").await;
    assert!(requirement.starts_with("✗ Not met"), "{requirement}");
    assert_clean(&browser, "disabled").await;
    browser.screens("scim-disabled-requirements").await;
}

/// The request log reads as the IdP meant its requests: paths and queries decoded, times to the
/// second, the IdP by its name, why a request failed on its own row, times filtered in UTC like the
/// table shows them, and how long the log is kept.
#[tokio::test]
async fn the_request_log_reads_as_the_idp_meant_it() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let base = org.connector_url(&app);
    let lookup = app
        .get(&format!("{base}/Users?filter=userName%20eq%20%22ann%40example.com%22"), &token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), StatusCode::OK);
    let missing = app
        .get(&format!("{base}/Users/no-such-user"), &token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.flush_logs().await;

    let browser = Browser::start().await;
    open_console(&browser, &app).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.click("#tab-logs").await;
    let rows = browser.wait_text("#logs-body", "no-such-user").await;
    assert!(rows.contains(r#"filter=userName eq "ann@example.com""#), "decoded: {rows}");
    assert!(rows.contains("Okta") && !rows.contains("okta"), "the IdP by its name: {rows}");
    let failed = browser.text("#logs-body tr[data-status='404']").await;
    assert!(failed.contains("not found") || failed.contains("No user"), "the reason on the row: {failed}");
    let time = browser.text("#logs-body tr td").await;
    assert!(
        time.len() > 8 && time[time.len() - 8..].chars().filter(|c| *c == ':').count() == 2,
        "to the second: {time}"
    );
    assert!(browser.text("#logs-retention").await.contains("kept 30 days"));
    assert_eq!(browser.text("label[for=f-from]").await, "From (UTC)");

    // The pickers are read as UTC, whatever the browser's time zone.
    browser.script("document.getElementById('f-from').value = '2020-01-01T00:00';", json!([])).await;
    browser.click("#f-apply").await;
    browser
        .wait_until(
            "the log read from 2020-01-01 00:00 UTC",
            "performance.getEntriesByType('resource').some(e => e.name.includes('from=2020-01-01T00%3A00%3A00.000Z'))",
        )
        .await;
    assert_clean(&browser, "readable logs").await;
}
