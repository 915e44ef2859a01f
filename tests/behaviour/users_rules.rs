//! Insomnia's rules for SCIM Users: matching existing members and accounts by email, welcome
//! emails with an initial passphrase, licenses and the seat limit, races, and never removing what
//! the IdP does not mention.
use std::time::Duration;

use insomnia_scim::auth::{initial_credential_matches, verify_passphrase};
use insomnia_scim::domain::{EmailAddress, IdentityProvider, MemberRole, Plan, TokenWindow};
use insomnia_scim::enablement::enable_scim;
use insomnia_scim::store::{ManagedBy, MemberRecord};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{spawn_app, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    assert_scim_error_ignoring_detail, create_group, created_id, encode, licenses, ok_body, okta, patch_body, scim,
    send, send_for_status_and_body, unique_email, user_with_work_email, with_body, ENTERPRISE_SCHEMA, PATCH_SCHEMA,
    USER_SCHEMA,
};

async fn post_user(app: &TestApp, org: &ScimOrg, body: &Value) -> (StatusCode, Value) {
    send_for_status_and_body(with_body(okta(app, org, Method::POST, "/Users"), body)).await
}

async fn put_user(app: &TestApp, org: &ScimOrg, id: &str, body: &Value) -> (StatusCode, Value) {
    send_for_status_and_body(with_body(okta(app, org, Method::PUT, &format!("/Users/{id}")), body)).await
}

async fn patch_user(app: &TestApp, org: &ScimOrg, id: &str, operations: Value) -> (StatusCode, Value) {
    send_for_status_and_body(with_body(okta(app, org, Method::PATCH, &format!("/Users/{id}")), &patch_body(operations)))
        .await
}

async fn set_active(app: &TestApp, org: &ScimOrg, id: &str, active: bool) -> (StatusCode, Value) {
    patch_user(app, org, id, json!([{"op": "replace", "value": {"active": active}}])).await
}

async fn get_user(app: &TestApp, org: &ScimOrg, id: &str) -> (StatusCode, Value) {
    send_for_status_and_body(okta(app, org, Method::GET, &format!("/Users/{id}"))).await
}

async fn delete_user(app: &TestApp, org: &ScimOrg, id: &str) -> StatusCode {
    okta(app, org, Method::DELETE, &format!("/Users/{id}")).send().await.unwrap().status()
}

async fn find_by_user_name(app: &TestApp, org: &ScimOrg, user_name: &str) -> Value {
    let filter = encode(&format!("userName eq \"{user_name}\""));
    let (status, body) =
        send_for_status_and_body(okta(app, org, Method::GET, &format!("/Users?filter={filter}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn create_user(app: &TestApp, org: &ScimOrg, email: &str) -> String {
    created_id(with_body(okta(app, org, Method::POST, "/Users"), &user_with_work_email(email))).await
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

/// A SCIM organization on the Enterprise plan with a seat limit.
async fn scim_org_with_seats(app: &TestApp, seats: u32) -> ScimOrg {
    let id = app.create_org(Plan::Enterprise, Some(seats)).await;
    let token = enable_scim(
        &app.store,
        &app.app.token_key,
        &id.scope(),
        IdentityProvider::Okta,
        TokenWindow::Days90,
        app.app.clock.now(),
    )
    .await
    .unwrap();
    ScimOrg { base: format!("{}/scim/v2/orgs/{id}", app.address), id, token: token.reveal().to_owned() }
}

async fn mail_to(address: &str) -> Vec<Value> {
    crate::helpers::sent_emails(address).await
}

/// Waits (after the background work) until at least one message to `address` is there, then a
/// little longer so that a second one would be seen too.
async fn wait_for_mail(app: &TestApp, address: &str) -> Vec<Value> {
    app.flush_logs().await;
    for _ in 0..50 {
        if !mail_to(address).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.flush_logs().await;
    mail_to(address).await
}

/// After the background work, and a grace period, what was sent to `address`.
async fn mail_after_grace(app: &TestApp, address: &str) -> Vec<Value> {
    app.flush_logs().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.flush_logs().await;
    mail_to(address).await
}

fn message_text(message: &Value) -> String {
    match (message["body"].as_str(), message["raw_data"].as_str()) {
        (Some(body), _) => body.to_owned(),
        (None, Some(raw)) => raw.to_owned(),
        _ => message.to_string(),
    }
}

/// The initial passphrase in a welcome email: the word of the body that verifies against the
/// account's stored hash.
async fn passphrase_in(app: &TestApp, address: &str, message: &Value) -> String {
    let account = app.store.account(&email(address)).await.unwrap().unwrap();
    let hash = account.initial_credential_hash.clone().unwrap_or_else(|| panic!("no initial passphrase for {address}"));
    let text = message_text(message);
    let candidates = text
        .split(|c: char| c.is_whitespace() || c == '<' || c == '>')
        .map(|w| w.trim_matches(|c: char| "\"'.,:;()[]{}*`".contains(c)))
        .filter(|w| w.chars().count() >= 12 && !w.contains('@') && !w.starts_with("http"));
    for candidate in candidates {
        if initial_credential_matches(&app.app.token_key, &account.email, candidate, &hash) {
            return candidate.to_owned();
        }
    }
    panic!("no word of the welcome email verifies as the account's passphrase: {text}")
}

#[tokio::test]
async fn a_create_links_to_the_manual_member_with_that_email_in_any_case() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("dana.link");
    let manual = app.add_manual_member(&org.id, &address, MemberRole::Member, "dana's own passphrase").await;
    assert_eq!(licenses(&app, &org).await, (0, 1));

    let (local, domain) = address.split_once('@').unwrap();
    let user_name = format!("{local}@{}", domain.to_uppercase());
    let mut body = user_with_work_email(&user_name);
    body["emails"][0]["value"] = json!(address.to_uppercase());
    let (status, created) = post_user(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], manual.id.as_str(), "linked, not duplicated");
    assert_eq!(created["userName"], user_name.as_str(), "returned as sent");

    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, manual.id);
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
    assert!(members[0].active);
    assert_eq!(licenses(&app, &org).await, (1, 0), "the license moves from manual to SCIM");

    let account = app.store.account(&email(&address)).await.unwrap().unwrap();
    assert!(verify_passphrase("dana's own passphrase", account.passphrase_hash.as_deref().unwrap()).unwrap());
    assert!(mail_after_grace(&app, &address).await.is_empty(), "an existing account gets no welcome email");
}

#[tokio::test]
async fn a_create_whose_user_name_is_no_email_links_by_the_work_email() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("erin");
    let manual = app.add_manual_member(&org.id, &address, MemberRole::Member, "erin's own passphrase").await;
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": format!("Erin_{}", uuid::Uuid::new_v4()),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": address.to_uppercase()}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "Doe", "givenName": "Erin"}
    });
    let (status, created) = post_user(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], manual.id.as_str());
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
    assert_eq!(licenses(&app, &org).await, (1, 0));
}

#[tokio::test]
async fn linking_a_manual_member_needs_no_extra_seat() {
    let app = spawn_app().await;
    let org = scim_org_with_seats(&app, 1).await;
    let address = unique_email("full.house");
    let manual = app.add_manual_member(&org.id, &address, MemberRole::Member, "a manual passphrase").await;
    let (status, created) = post_user(&app, &org, &user_with_work_email(&address)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], manual.id.as_str());
    assert_eq!(licenses(&app, &org).await, (1, 0));
}

#[tokio::test]
async fn a_manual_member_the_idp_never_touches_keeps_everything() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let kept = unique_email("kept.manual");
    app.add_manual_member(&org.id, &kept, MemberRole::Member, "kept manual passphrase").await;
    let before: MemberRecord =
        app.store.members(&org.id.scope()).await.unwrap().into_iter().find(|m| m.email.as_str() == kept).unwrap();

    // A provisioning cycle that touches everyone else.
    let (status, list) = send_for_status_and_body(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 1);
    let x = create_user(&app, &org, &unique_email("x")).await;
    let y = create_user(&app, &org, &unique_email("y")).await;
    let (status, _) = patch_user(&app, &org, &x, json!([{"op": "replace", "path": "title", "value": "Dev"}])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = set_active(&app, &org, &x, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(delete_user(&app, &org, &y).await, StatusCode::NO_CONTENT);
    let (status, read) = get_user(&app, &org, &before.id).await;
    assert_eq!(status, StatusCode::OK, "manual members are readable over SCIM");
    assert_eq!(read["active"], json!(true));

    let after = app.store.members(&org.id.scope()).await.unwrap().into_iter().find(|m| m.id == before.id).unwrap();
    assert_eq!(after, before, "nothing about the manual member changed");
    assert_eq!(after.managed_by, ManagedBy::Manual);
    assert_eq!(licenses(&app, &org).await, (0, 1), "it still consumes its manual license");
    let account = app.store.account(&email(&kept)).await.unwrap().unwrap();
    assert!(verify_passphrase("kept manual passphrase", account.passphrase_hash.as_deref().unwrap()).unwrap());
}

#[tokio::test]
async fn an_account_of_another_organization_is_linked_without_a_welcome_email() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let other = app.create_org(Plan::Enterprise, None).await;
    let address = unique_email("elsewhere");
    let elsewhere = app.add_manual_member(&other, &address, MemberRole::Member, "passphrase from elsewhere").await;
    let other_before = app.store.members(&other.scope()).await.unwrap();

    let (status, created) = post_user(&app, &org, &user_with_work_email(&address)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, created["id"].as_str().unwrap());
    assert_ne!(members[0].id, elsewhere.id, "a member of this organization, not the other one's");
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
    assert_eq!(members[0].email, email(&address));
    assert_eq!(licenses(&app, &org).await, (1, 0));

    let account = app.store.account(&email(&address)).await.unwrap().unwrap();
    assert!(
        verify_passphrase("passphrase from elsewhere", account.passphrase_hash.as_deref().unwrap()).unwrap(),
        "the existing account is used as it is"
    );
    assert_eq!(app.store.members(&other.scope()).await.unwrap(), other_before, "the other organization is untouched");
    assert!(mail_after_grace(&app, &address).await.is_empty(), "no welcome email for an existing account");
}

#[tokio::test]
async fn a_brand_new_account_gets_exactly_one_welcome_email_with_an_initial_passphrase() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("brand.new");
    assert!(app.store.account(&email(&address)).await.unwrap().is_none());
    create_user(&app, &org, &address).await;

    let mail = wait_for_mail(&app, &address).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let passphrase = passphrase_in(&app, &address, &mail[0]).await;
    assert!(passphrase.chars().count() >= 18, "{passphrase}");
    let (code, session) = crate::admin_support::sign_in_raw(&app, &address, &passphrase).await;
    assert_eq!(code, StatusCode::CREATED, "the emailed passphrase signs in: {session}");
    assert_eq!(session["mustChangePassphrase"], true);
    let subject = mail[0]["subject"].as_str().unwrap_or_default();
    assert!(subject.to_lowercase().contains("welcome"), "the subject says welcome: {subject}");
}

/// A user created inactive takes no licence and cannot sign in: no welcome (and no initial
/// passphrase) until it first becomes active; then exactly one, which signs in; a later
/// deactivation and reactivation sends none.
#[tokio::test]
async fn a_user_created_inactive_gets_its_welcome_when_it_first_becomes_active() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("later");
    let mut body = user_with_work_email(&address);
    body["active"] = json!(false);
    let (status, created) = post_user(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(mail_after_grace(&app, &address).await.is_empty(), "no welcome while inactive");

    let (status, answer) = set_active(&app, &org, &id, true).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mail = wait_for_mail(&app, &address).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let passphrase = passphrase_in(&app, &address, &mail[0]).await;
    let (code, session) = crate::admin_support::sign_in_raw(&app, &address, &passphrase).await;
    assert_eq!(code, StatusCode::CREATED, "the emailed passphrase signs in: {session}");

    for active in [false, true] {
        assert_eq!(set_active(&app, &org, &id, active).await.0, StatusCode::OK);
    }
    assert_eq!(mail_after_grace(&app, &address).await.len(), 1, "one welcome, whatever follows");
}

#[tokio::test]
async fn the_initial_passphrase_is_never_stored_logged_or_returned() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("secret.keeper");
    let (status, created) = post_user(&app, &org, &user_with_work_email(&address)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mail = wait_for_mail(&app, &address).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let passphrase = passphrase_in(&app, &address, &mail[0]).await;

    let table = app.dump_table().await;
    assert!(!table.contains(&passphrase), "the passphrase is in the table");
    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    assert!(!format!("{logs:?}").contains(&passphrase), "the passphrase is in the request log");
    assert!(!created.to_string().contains(&passphrase), "the passphrase is in the response");
    let (_, read) = get_user(&app, &org, created["id"].as_str().unwrap()).await;
    assert!(!read.to_string().contains(&passphrase));
}

#[tokio::test]
async fn deactivation_reactivation_and_delete_move_the_license_counts() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.add_manual_member(&org.id, &unique_email("manual"), MemberRole::Member, "a manual passphrase").await;
    let a_email = unique_email("a");
    let a = create_user(&app, &org, &a_email).await;
    let b_email = unique_email("b");
    let b = create_user(&app, &org, &b_email).await;
    assert_eq!(licenses(&app, &org).await, (2, 1));

    assert_eq!(set_active(&app, &org, &a, false).await.0, StatusCode::OK);
    assert_eq!(licenses(&app, &org).await, (1, 1));
    assert_eq!(set_active(&app, &org, &a, false).await.0, StatusCode::OK);
    assert_eq!(licenses(&app, &org).await, (1, 1), "deactivating twice frees one license once");

    let (status, body) = put_user(&app, &org, &a, &user_with_work_email(&a_email)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], json!(true));
    assert_eq!(licenses(&app, &org).await, (2, 1), "PUT with active true reactivates");

    let mut inactive = user_with_work_email(&b_email);
    inactive["active"] = json!(false);
    let (status, body) = put_user(&app, &org, &b, &inactive).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(licenses(&app, &org).await, (1, 1), "PUT with active false deactivates");

    assert_eq!(delete_user(&app, &org, &b).await, StatusCode::NO_CONTENT);
    assert_eq!(licenses(&app, &org).await, (1, 1), "deleting an inactive member frees nothing more");
    assert_eq!(delete_user(&app, &org, &a).await, StatusCode::NO_CONTENT);
    assert_eq!(licenses(&app, &org).await, (0, 1));
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].managed_by, ManagedBy::Manual);
}

#[tokio::test]
async fn a_create_beyond_the_seat_limit_is_403_no_enterprise_licenses_left() {
    let app = spawn_app().await;
    let org = scim_org_with_seats(&app, 2).await;
    app.add_manual_member(&org.id, &unique_email("seat.one"), MemberRole::Member, "a manual passphrase").await;
    create_user(&app, &org, &unique_email("seat.two")).await;
    assert_eq!(licenses(&app, &org).await, (1, 1));

    let refused = unique_email("seat.three");
    let (status, body) = post_user(&app, &org, &user_with_work_email(&refused)).await;
    assert_scim_error_ignoring_detail(status, &body, StatusCode::FORBIDDEN, None);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("no Enterprise licenses left"), "{detail}");

    assert_eq!(app.store.members(&org.id.scope()).await.unwrap().len(), 2, "a refused create leaves nothing behind");
    assert_eq!(licenses(&app, &org).await, (1, 1));
    assert!(app.store.account(&email(&refused)).await.unwrap().is_none(), "no account for a refused create");
    assert_eq!(find_by_user_name(&app, &org, &refused).await["totalResults"], 0);
    assert!(mail_after_grace(&app, &refused).await.is_empty(), "no welcome email for a refused create");
}

#[tokio::test]
async fn a_reactivation_beyond_the_seat_limit_is_403_and_leaves_the_user_inactive() {
    let app = spawn_app().await;
    let org = scim_org_with_seats(&app, 1).await;
    let a_email = unique_email("seat.a");
    let a = create_user(&app, &org, &a_email).await;
    assert_eq!(set_active(&app, &org, &a, false).await.0, StatusCode::OK);
    assert_eq!(licenses(&app, &org).await, (0, 0));
    create_user(&app, &org, &unique_email("seat.b")).await;
    assert_eq!(licenses(&app, &org).await, (1, 0));

    let (status, body) = set_active(&app, &org, &a, true).await;
    assert_scim_error_ignoring_detail(status, &body, StatusCode::FORBIDDEN, None);
    assert!(body["detail"].as_str().unwrap().contains("no Enterprise licenses left"), "{body}");

    let (status, body) = put_user(&app, &org, &a, &user_with_work_email(&a_email)).await;
    assert_scim_error_ignoring_detail(status, &body, StatusCode::FORBIDDEN, None);
    assert!(body["detail"].as_str().unwrap().contains("no Enterprise licenses left"), "{body}");

    let (_, read) = get_user(&app, &org, &a).await;
    assert_eq!(read["active"], json!(false));
    assert_eq!(read["meta"]["version"], "W/\"2\"", "refused writes change nothing");
    assert_eq!(licenses(&app, &org).await, (1, 0));
}

/// `local` with its letter at `index` in upper case.
fn casing(local: &str, index: usize) -> String {
    local.chars().enumerate().map(|(i, c)| if i == index { c.to_ascii_uppercase() } else { c }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_user_name_in_different_cases_make_one_member() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let letters: String =
        uuid::Uuid::new_v4().simple().to_string().chars().take(12).map(|c| char::from(b'a' + (c as u8 % 26))).collect();
    let local = format!("race{letters}");
    let mut set = JoinSet::new();
    for i in 0..10 {
        let user_name = format!("{}@example.com", casing(&local, i));
        let request = with_body(okta(&app, &org, Method::POST, "/Users"), &user_with_work_email(&user_name));
        set.spawn(send_for_status_and_body(request));
    }
    let mut created = 0;
    let mut conflicts = 0;
    while let Some(result) = set.join_next().await {
        let (status, body) = result.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_scim_error_ignoring_detail(status, &body, StatusCode::CONFLICT, Some("uniqueness"));
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, conflicts), (1, 9));
    assert_eq!(app.store.members(&org.id.scope()).await.unwrap().len(), 1);
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let address = format!("{local}@example.com");
    assert_eq!(find_by_user_name(&app, &org, &address).await["totalResults"], 1);
    assert_eq!(wait_for_mail(&app, &address).await.len(), 1, "one account, one welcome email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_attributes_all_survive() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = create_user(&app, &org, &unique_email("busy")).await;
    let changes: Vec<(String, Value)> = vec![
        ("displayName".into(), json!("Busy Bee")),
        ("nickName".into(), json!("Bee")),
        ("profileUrl".into(), json!("https://example.com/bee")),
        ("title".into(), json!("Keeper")),
        ("userType".into(), json!("Employee")),
        ("preferredLanguage".into(), json!("en-GB")),
        ("locale".into(), json!("en-GB")),
        ("timezone".into(), json!("Europe/London")),
        ("externalId".into(), json!("ext-busy-1")),
        ("name.givenName".into(), json!("Busy")),
        ("name.familyName".into(), json!("Bee")),
        ("name.middleName".into(), json!("Honey")),
        ("name.honorificPrefix".into(), json!("Dr.")),
        ("name.honorificSuffix".into(), json!("III")),
        ("name.formatted".into(), json!("Dr. Busy Honey Bee III")),
        (format!("{ENTERPRISE_SCHEMA}:employeeNumber"), json!("701984")),
        (format!("{ENTERPRISE_SCHEMA}:costCenter"), json!("4130")),
        (format!("{ENTERPRISE_SCHEMA}:organization"), json!("Hive")),
        (format!("{ENTERPRISE_SCHEMA}:division"), json!("Pollination")),
        (format!("{ENTERPRISE_SCHEMA}:department"), json!("Flowers")),
    ];
    assert_eq!(changes.len(), 20);
    let mut set = JoinSet::new();
    for (path, value) in &changes {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": path, "value": value}]});
        let request = with_body(okta(&app, &org, Method::PATCH, &format!("/Users/{id}")), &body);
        set.spawn(send_for_status_and_body(request));
    }
    let mut failed = Vec::new();
    while let Some(result) = set.join_next().await {
        let (status, body) = result.unwrap();
        if status != StatusCode::OK {
            failed.push(format!("{status}: {body}"));
        }
    }
    assert!(failed.is_empty(), "{} of 20 PATCHes failed: {failed:#?}", failed.len());

    let (_, user) = get_user(&app, &org, &id).await;
    for (path, value) in &changes {
        let actual = if let Some(attribute) = path.strip_prefix(&format!("{ENTERPRISE_SCHEMA}:")) {
            &user[ENTERPRISE_SCHEMA][attribute]
        } else if let Some(sub) = path.strip_prefix("name.") {
            &user["name"][sub]
        } else {
            &user[path.as_str()]
        };
        assert_eq!(actual, value, "{path} lost: {user}");
    }
    assert_eq!(user["meta"]["version"], "W/\"21\"", "twenty writes after the create");
}

#[tokio::test]
async fn a_create_retried_after_success_is_409_and_makes_no_duplicate() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let address = unique_email("retry");
    let body = user_with_work_email(&address);
    let (status, first) = post_user(&app, &org, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = post_user(&app, &org, &body).await;
    assert_scim_error_ignoring_detail(status, &again, StatusCode::CONFLICT, Some("uniqueness"));

    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, first["id"].as_str().unwrap());
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let found = find_by_user_name(&app, &org, &address).await;
    assert_eq!(found["totalResults"], 1, "the IdP resolves the 409 by a lookup");
    assert_eq!(found["Resources"][0]["id"], first["id"]);
    assert_eq!(wait_for_mail(&app, &address).await.len(), 1, "the retry sends no second welcome email");
}

#[tokio::test]
async fn a_user_absent_from_the_idp_is_never_removed_or_disabled() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let quiet = create_user(&app, &org, &unique_email("quiet")).await;
    let manual =
        app.add_manual_member(&org.id, &unique_email("quiet.manual"), MemberRole::Member, "quiet passphrase").await;

    // The IdP imports, provisions and deprovisions others, and never mentions these two again.
    let (status, list) = send_for_status_and_body(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 2);
    let b = create_user(&app, &org, &unique_email("b")).await;
    let c = create_user(&app, &org, &unique_email("c")).await;
    assert_eq!(set_active(&app, &org, &b, false).await.0, StatusCode::OK);
    assert_eq!(delete_user(&app, &org, &c).await, StatusCode::NO_CONTENT);
    let (status, list) = send_for_status_and_body(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=100")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 3);

    let (status, read) = get_user(&app, &org, &quiet).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["active"], json!(true));
    assert_eq!(read["meta"]["version"], "W/\"1\"", "never written since its create");
    let members = app.store.members(&org.id.scope()).await.unwrap();
    let ids: std::collections::BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [quiet.as_str(), manual.id.as_str(), b.as_str()].into_iter().collect());
    assert!(members.iter().filter(|m| m.id != b).all(|m| m.active));
    assert_eq!(licenses(&app, &org).await, (1, 1));
}

// Required attributes cannot be removed (`mutability`), and `/Schemas` publishes what the service
// really requires.

#[tokio::test]
async fn removing_or_unassigning_a_required_attribute_is_a_mutability_error() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("required");
    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    let team = create_group(&app, &org, "Required", &[]).await;
    for (path, operations) in [
        (format!("/Users/{id}"), json!([{"op": "remove", "path": "userName"}])),
        (format!("/Users/{id}"), json!([{"op": "remove", "path": format!("{USER_SCHEMA}:userName")}])),
        (format!("/Users/{id}"), json!([{"op": "replace", "path": "userName", "value": null}])),
        (format!("/Groups/{team}"), json!([{"op": "remove", "path": "displayName"}])),
    ] {
        let (status, _, body) = send(with_body(scim(&app, &org, Method::PATCH, &path), &patch_body(operations))).await;
        assert_scim_error_ignoring_detail(status, &body, StatusCode::BAD_REQUEST, Some("mutability"));
        assert!(body["detail"].as_str().unwrap().contains("required"), "{body}");
    }
    // Nothing changed.
    let user = ok_body(scim(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(user["userName"], email);
}

#[tokio::test]
async fn the_user_schema_publishes_that_an_email_is_required() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let schema = ok_body(scim(&app, &org, Method::GET, &format!("/Schemas/{USER_SCHEMA}"))).await;
    let attribute =
        |name: &str| schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).cloned().unwrap();
    assert_eq!(attribute("emails")["required"], true);
    assert_eq!(attribute("userName")["required"], true);
    assert_eq!(attribute("password")["returned"], "never");
    // What a checker sends from the schema alone (the required attributes) is accepted.
    let email = unique_email("checker");
    let minimal =
        json!({"schemas": [USER_SCHEMA], "userName": format!("u-{}", &email[..8]), "emails": [{"value": email}]});
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Users"), &minimal)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// An organization with SCIM on, and an Owner and a Co-Owner added by hand whom the IdP then took
/// over by email (as happens at the first sync): their SCIM ids and emails.
async fn org_with_linked_admins(app: &TestApp) -> (ScimOrg, [(String, String); 2]) {
    let org = app.scim_org().await;
    let mut linked = Vec::new();
    for (role, name) in [(MemberRole::Owner, "owner"), (MemberRole::CoOwner, "co.owner")] {
        let address = unique_email(name);
        app.add_manual_member(&org.id, &address, role, "an owner's passphrase").await;
        let (status, user) = post_user(app, &org, &user_with_work_email(&address)).await;
        assert_eq!(status, StatusCode::CREATED, "linked by email: {user}");
        linked.push((user["id"].as_str().unwrap().to_owned(), address));
    }
    let [owner, co_owner]: [(String, String); 2] = linked.try_into().unwrap();
    (org, [owner, co_owner])
}

fn assert_last_admin_refused(status: StatusCode, body: &Value, who: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(who) && detail.contains("last active Owner or Co-Owner"), "says why: {detail}");
    assert!(detail.contains("Make another member an Owner or Co-Owner"), "says what to do: {detail}");
}

#[tokio::test]
async fn the_idp_cannot_deactivate_or_delete_the_last_active_owner_and_the_owners_are_told() {
    let app = spawn_app().await;
    let (org, [(owner, owner_email), (co_owner, co_owner_email)]) = org_with_linked_admins(&app).await;

    // While another active admin stands, an admin is deactivated like anyone.
    assert_eq!(set_active(&app, &org, &co_owner, false).await.0, StatusCode::OK);

    let (status, body) = set_active(&app, &org, &owner, false).await;
    assert_last_admin_refused(status, &body, &owner_email);
    // Retried as an IdP does, by PUT, and by DELETE: refused the same way, nothing changed.
    let (_, read) = get_user(&app, &org, &owner).await;
    let mut replaced = read.clone();
    replaced["active"] = json!(false);
    let (status, body) = put_user(&app, &org, &owner, &replaced).await;
    assert_last_admin_refused(status, &body, &owner_email);
    let (status, body) = send_for_status_and_body(okta(&app, &org, Method::DELETE, &format!("/Users/{owner}"))).await;
    assert_last_admin_refused(status, &body, &owner_email);
    let (status, after) = get_user(&app, &org, &owner).await;
    assert_eq!(
        (status, &after["active"], &after["meta"]["version"]),
        (StatusCode::OK, &json!(true), &read["meta"]["version"])
    );

    // The refusal is on the request log's rows the owners read.
    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    let refused: Vec<_> = logs.iter().filter(|r| r.status == 400).collect();
    assert_eq!(refused.len(), 3, "{logs:#?}");
    assert!(refused.iter().all(|r| r.detail.as_ref().is_some_and(|d| d.contains("last active Owner"))), "{refused:#?}");

    // The owner is emailed once that day, however often the IdP retries.
    let mail = wait_for_mail(&app, &owner_email).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert!(message_text(&mail[0]).contains("Insomnia refused"), "{}", message_text(&mail[0]));
    assert!(mail[0].to_string().contains("tried to deactivate the last owner"), "{}", mail[0]);
    assert!(mail_after_grace(&app, &co_owner_email).await.is_empty(), "the inactive co-owner is not an owner to tell");

    // Once another admin is active again, the IdP's retry goes through; the new last one is kept.
    assert_eq!(set_active(&app, &org, &co_owner, true).await.0, StatusCode::OK);
    assert_eq!(delete_user(&app, &org, &owner).await, StatusCode::NO_CONTENT);
    let (status, body) = set_active(&app, &org, &co_owner, false).await;
    assert_last_admin_refused(status, &body, &co_owner_email);
}

#[tokio::test]
async fn two_admins_deactivated_at_once_leave_one_of_them_active() {
    let app = spawn_app().await;
    let (org, [(owner, _), (co_owner, _)]) = org_with_linked_admins(&app).await;
    // Each in a team too, so that one is deleted in steps (its mark) while the other is deactivated.
    create_group(&app, &org, "Admins", &[owner.as_str(), co_owner.as_str()]).await;

    let (deactivated, deleted) = tokio::join!(
        set_active(&app, &org, &owner, false),
        send_for_status_and_body(okta(&app, &org, Method::DELETE, &format!("/Users/{co_owner}")))
    );
    let outcomes = [deactivated.0, deleted.0];
    let succeeded = outcomes.iter().filter(|s| s.is_success()).count();
    assert_eq!(succeeded, 1, "exactly one goes through: {deactivated:?} {deleted:?}");
    assert!(outcomes.contains(&StatusCode::BAD_REQUEST), "the other is refused: {outcomes:?}");

    let admins = app.store.organization_admins(&org.id.scope()).await.unwrap();
    assert_eq!(admins.iter().filter(|m| m.is_active_admin()).count(), 1, "{admins:#?}");
}
