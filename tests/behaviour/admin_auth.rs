//! Console accounts: sign-in and sessions, slowed failed sign-ins, passphrase change (also the
//! forced one at first sign-in), and passphrase reset by email.
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::auth::{verify_passphrase, InitialCredential};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, MemberRole};
use insomnia_scim::lifetimes;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{
    account, call, call_with_headers, console_org, sent_emails, sign_in, sign_in_raw, status, unique_email,
    within_one_throttle_window,
};
use crate::helpers::{create_pending_account, process_logs, spawn_app, spawn_app_on_table, TestApp};

const NEW_PASSPHRASE: &str = "a brand new passphrase of mine";

fn url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address)
}

#[tokio::test]
async fn sign_in_answers_a_session_token_of_which_only_a_hash_is_stored() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let (status_code, body) = sign_in_raw(&app, &org.owner.email.to_uppercase(), &org.owner.passphrase).await;
    assert_eq!(status_code, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("isess_"), "{token}");
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["mustChangePassphrase"], false);
    let expires_at: chrono::DateTime<Utc> = serde_json::from_value(body["expiresAt"].clone()).unwrap();
    assert!(expires_at <= Utc::now() + Duration::hours(12) && expires_at > Utc::now() + Duration::hours(11));

    let table = app.dump_table().await;
    assert!(!table.contains(token), "the session token is stored");
    assert!(!table.contains(&org.owner.passphrase), "a passphrase is stored");
    assert!(table.contains("SESSION#"), "no session item");
    let logged = process_logs();
    assert!(!logged.contains(token) && !logged.contains(&org.owner.passphrase), "a secret was logged");
    // The session works.
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(token), None).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn unknown_email_and_wrong_passphrase_get_the_same_answer() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let (wrong_code, wrong) = sign_in_raw(&app, &org.owner.email, "not the passphrase at all").await;
    let (unknown_code, unknown) = sign_in_raw(&app, &unique_email("nobody"), "not the passphrase at all").await;
    assert_eq!(wrong_code, StatusCode::UNAUTHORIZED);
    assert_eq!((unknown_code, &unknown), (wrong_code, &wrong));
    assert_eq!(wrong["error"], "invalid_credentials");
    assert_eq!(wrong["message"], "The email or passphrase is incorrect.");
}

/// The console page asks on load whether it is signed in: without a session that is a plain
/// "no" (200), not a 401 the browser reports as an error; every other caller still gets the 401.
#[tokio::test]
async fn a_session_probe_without_a_session_is_a_plain_no_and_other_callers_still_get_401() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let current = url(&app, "/auth/sessions/current");
    let probe = |session: Option<&str>| {
        let mut request = app.http.get(&current).header("x-session-probe", "1");
        if let Some(session) = session {
            request = request.bearer_auth(session);
        }
        request
    };
    for session in [None, Some("isess_not-a-session")] {
        let answer = probe(session).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.json::<Value>().await.unwrap(), json!({ "signedIn": false }));
    }
    let signed_in: Value = probe(Some(&org.owner.session)).send().await.unwrap().json().await.unwrap();
    assert_eq!(signed_in["signedIn"], true);
    assert_eq!(signed_in["email"], org.owner.email.as_str());
    let (code, body) = call(&app, Method::GET, &current, None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthenticated");
}

#[tokio::test]
async fn sign_in_refuses_bad_input_with_a_json_error() {
    let app = spawn_app().await;
    let sessions = url(&app, "/auth/sessions");
    for (body, expected) in [
        (json!({ "email": "not an email", "passphrase": "x" }), "`email`"),
        (json!({ "email": "a@example.com" }), "missing field `passphrase`"),
        (json!({ "email": "a@example.com", "passphrase": "x", "remember": true }), "unknown field `remember`"),
        (json!(["a@example.com"]), "request body"),
    ] {
        let (code, error) = call(&app, Method::POST, &sessions, None, Some(body)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"], "invalid_request");
        assert!(error["message"].as_str().unwrap().contains(expected), "{error}");
    }
    let response = app.http.post(&sessions).header("content-type", "text/plain").body("hi").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = app.http.post(&sessions).header("content-type", "application/json").body("{").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_request");
}

#[tokio::test]
async fn sign_out_ends_the_session_at_once() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let other = sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    let (code, body) =
        call(&app, Method::DELETE, &url(&app, "/auth/sessions/current"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    let (code, body) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthenticated");
    let (code, _) =
        call(&app, Method::DELETE, &url(&app, "/auth/sessions/current"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // Only that session ended.
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&other), None).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn repeated_failed_sign_ins_of_one_account_are_refused_until_the_window_ends() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    within_one_throttle_window(std::time::Duration::from_secs(30)).await;
    for _ in 0..5 {
        let (code, _) = sign_in_raw(&app, &org.owner.email, "a wrong passphrase!").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    let sessions = url(&app, "/auth/sessions");
    let body = json!({ "email": org.owner.email, "passphrase": org.owner.passphrase });
    let (code, headers, error) = call_with_headers(&app, Method::POST, &sessions, None, Some(body.clone())).await;
    // Even the right passphrase is not checked while the account is locked.
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert_eq!(error["error"], "too_many_attempts");
    let retry_after: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert!(error["message"].as_str().unwrap().contains(&format!("{retry_after} seconds")), "{error}");

    // Another account from the same source is not locked by it.
    let colleague = crate::admin_support::person(&app, &org.id, MemberRole::CoOwner, "colleague").await;
    assert!(colleague.session.starts_with("isess_"));

    // The next window lets the right passphrase in again.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + Duration::minutes(16))).await;
    sign_in(&later, &org.owner.email, &org.owner.passphrase).await;
}

#[tokio::test]
async fn successful_sign_ins_do_not_count_as_failures() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    for _ in 0..8 {
        sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    }
    for _ in 0..4 {
        let (code, _) = sign_in_raw(&app, &org.owner.email, "a wrong passphrase!").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_from_one_source_are_refused_whatever_the_account() {
    let app = spawn_app().await;
    within_one_throttle_window(std::time::Duration::from_secs(30)).await;
    for _ in 0..30 {
        let (code, _) = sign_in_raw(&app, &unique_email("probe"), "a wrong passphrase!").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    let (code, error) = sign_in_raw(&app, &unique_email("probe"), "a wrong passphrase!").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert!(error["message"].as_str().unwrap().contains("from this network"), "{error}");
}

#[tokio::test]
async fn the_initial_passphrase_must_be_changed_at_first_sign_in() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    // As the welcome leaves it: a passphrase to change, the welcome still marked pending.
    let email = unique_email("newcomer");
    let address = EmailAddress::parse(&email).unwrap();
    create_pending_account(&app, &address).await;
    app.try_add_manual_member(&org.id, &email, MemberRole::CoOwner).await.unwrap();
    let initial = give_initial_credential(&app, &address, Utc::now() + lifetimes::INITIAL_CREDENTIAL).await;

    let (code, body) = sign_in_raw(&app, &email, &initial).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["mustChangePassphrase"], true);
    let session = body["token"].as_str().unwrap().to_owned();
    for (method, path, request) in [
        (Method::GET, "/scim", None),
        (Method::POST, "/scim/enable", Some(json!({ "idp": "okta", "window": "90d" }))),
        (Method::GET, "/members", None),
        (Method::GET, "/scim/logs", None),
    ] {
        let (code, error) = call(&app, method, &org.url(&app, path), Some(&session), request).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(error["error"], "passphrase_change_required", "{path}");
        assert!(error["message"].as_str().unwrap().contains("/auth/passphrase"), "{error}");
    }

    let change = json!({ "currentPassphrase": initial, "newPassphrase": NEW_PASSPHRASE });
    let (code, body) = call(&app, Method::POST, &url(&app, "/auth/passphrase"), Some(&session), Some(change)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&session), None).await;
    assert_eq!(code, StatusCode::OK, "the same session may do everything now");

    let stored = account(&app, &email).await;
    assert!(!stored.must_change_passphrase);
    assert!(!stored.welcome_pending);
    // A late welcome retry finds nothing pending and cannot overwrite the chosen passphrase.
    let late = InitialCredential::generate();
    let late_hash = late.hash(&app.app.token_key, &address);
    assert!(!app.store.set_initial_credential(&address, &late_hash, Utc::now() + Duration::days(7)).await.unwrap());
    assert!(account(&app, &email).await.initial_credential_hash.is_none(), "the initial passphrase is gone");
    assert!(verify_passphrase(NEW_PASSPHRASE, account(&app, &email).await.passphrase_hash.as_deref().unwrap()).unwrap());

    let (code, _) = sign_in_raw(&app, &email, &initial).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, body) = sign_in_raw(&app, &email, NEW_PASSPHRASE).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(body["mustChangePassphrase"], false);
}

/// Gives a pending account an initial passphrase as the welcome delivery does; returns its text.
async fn give_initial_credential(app: &TestApp, address: &EmailAddress, expires_at: DateTime<Utc>) -> String {
    let credential = InitialCredential::generate();
    let hash = credential.hash(&app.app.token_key, address);
    assert!(app.store.set_initial_credential(address, &hash, expires_at).await.unwrap());
    credential.reveal().to_owned()
}

#[tokio::test]
async fn the_initial_passphrase_signs_in_once_as_typed_and_not_after_it_expires() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let email = unique_email("once");
    let address = EmailAddress::parse(&email).unwrap();
    create_pending_account(&app, &address).await;
    app.try_add_manual_member(&org.id, &email, MemberRole::Member).await.unwrap();
    let initial = give_initial_credential(&app, &address, Utc::now() + lifetimes::INITIAL_CREDENTIAL).await;

    // Typed in lower case with spaces for dashes: still the same credential.
    let typed = initial.to_lowercase().replace('-', " ");
    let (code, body) = sign_in_raw(&app, &email, &typed).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["mustChangePassphrase"], true);
    assert!(account(&app, &email).await.initial_credential_used_at.is_some());

    let (code, body) = sign_in_raw(&app, &email, &initial).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "single use: {body}");
    assert_eq!(body["error"], "initial_passphrase_spent");
    assert!(body["message"].as_str().unwrap().contains("/auth/passphrase-resets"), "{body}");
    let (code, body) = sign_in_raw(&app, &email, "ABCDEF-GHJKMN-PQRSTU").await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));

    // One whose week has passed signs nobody in, and is said to have expired to whoever holds it.
    let late_email = unique_email("late");
    let late_address = EmailAddress::parse(&late_email).unwrap();
    create_pending_account(&app, &late_address).await;
    let expired = give_initial_credential(&app, &late_address, Utc::now() - Duration::seconds(1)).await;
    let (code, body) = sign_in_raw(&app, &late_email, &expired).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("initial_passphrase_spent")));
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
    assert!(account(&app, &late_email).await.initial_credential_used_at.is_none());
    assert!(!app.dump_table().await.contains(&initial), "only the keyed hash is stored");
}

#[tokio::test]
async fn changing_the_passphrase_needs_the_current_one_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let other = sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    let change_url = url(&app, "/auth/passphrase");
    let session = Some(org.owner.session.as_str());

    let wrong = json!({ "currentPassphrase": "not my passphrase", "newPassphrase": NEW_PASSPHRASE });
    let (code, error) = call(&app, Method::POST, &change_url, session, Some(wrong)).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")));

    let weak = json!({ "currentPassphrase": org.owner.passphrase, "newPassphrase": "short" });
    let (code, error) = call(&app, Method::POST, &change_url, session, Some(weak)).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("weak_passphrase")));
    assert!(error["message"].as_str().unwrap().contains("at least 12 characters"), "{error}");

    let same = json!({ "currentPassphrase": org.owner.passphrase, "newPassphrase": org.owner.passphrase });
    let (code, error) = call(&app, Method::POST, &change_url, session, Some(same)).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("weak_passphrase")));

    let (code, _) = call(&app, Method::POST, &change_url, None, Some(json!({}))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let good = json!({ "currentPassphrase": org.owner.passphrase, "newPassphrase": NEW_PASSPHRASE });
    let (code, body) = call(&app, Method::POST, &change_url, session, Some(good)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&other), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "the other session survived the change");
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), session, None).await;
    assert_eq!(code, StatusCode::OK);
    sign_in(&app, &org.owner.email, NEW_PASSPHRASE).await;
    let (code, _) = sign_in_raw(&app, &org.owner.email, &org.owner.passphrase).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}

/// The reset code in the latest reset email to `email`.
async fn reset_code(app: &TestApp, email: &str) -> String {
    app.flush_logs().await;
    let messages = sent_emails(email).await;
    let message = messages.last().unwrap_or_else(|| panic!("no reset email to {email}"));
    assert!(message["subject"].as_str().unwrap().contains("reset code"), "{message}");
    let body = message["body"].as_str().unwrap();
    let line =
        body.lines().skip_while(|l| !l.contains("Your reset code is")).nth(2).unwrap_or_else(|| panic!("{body}"));
    line.trim().to_owned()
}

async fn request_reset(app: &TestApp, email: &str) -> (StatusCode, Value) {
    call(app, Method::POST, &url(app, "/auth/passphrase-resets"), None, Some(json!({ "email": email }))).await
}

async fn confirm_reset(app: &TestApp, email: &str, code: &str, passphrase: &str) -> (StatusCode, Value) {
    let body = json!({ "email": email, "code": code, "newPassphrase": passphrase });
    call(app, Method::POST, &url(app, "/auth/passphrase-resets/confirm"), None, Some(body)).await
}

#[tokio::test]
async fn a_reset_code_sent_by_email_sets_a_new_passphrase_once() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let email = &org.owner.email;
    let (code, body) = request_reset(&app, email).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let reset = reset_code(&app, email).await;
    assert_eq!(reset.len(), 11, "{reset}");
    assert!(!app.dump_table().await.contains(&reset.replace('-', "")), "the reset code is stored");
    assert!(!process_logs().contains(&reset), "the reset code was logged");

    let (code, error) = confirm_reset(&app, email, "AAAAA-AAAAA", NEW_PASSPHRASE).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_reset_code")));
    let (code, error) = confirm_reset(&app, email, &reset, "short").await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("weak_passphrase")));

    // Typed in lower case, without the dash: still the code.
    let typed = reset.to_lowercase().replace('-', "");
    let (code, body) = confirm_reset(&app, email, &typed, NEW_PASSPHRASE).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, _) = confirm_reset(&app, email, &reset, "yet another passphrase").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "a reset code worked twice");

    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "a session survived the reset");
    sign_in(&app, email, NEW_PASSPHRASE).await;
    let (code, _) = sign_in_raw(&app, email, &org.owner.passphrase).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let stored = account(&app, email).await;
    assert!(!stored.must_change_passphrase && !stored.welcome_pending);
}

#[tokio::test]
async fn a_reset_request_answers_the_same_whether_or_not_the_account_exists() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let nobody = unique_email("nobody");
    let (known_code, known) = request_reset(&app, &org.owner.email).await;
    let (unknown_code, unknown) = request_reset(&app, &nobody).await;
    assert_eq!((known_code, &known), (unknown_code, &unknown));
    app.flush_logs().await;
    assert_eq!(sent_emails(&org.owner.email).await.len(), 1);
    assert!(sent_emails(&nobody).await.is_empty());
    let (code, error) = confirm_reset(&app, &nobody, "ABCDE-FGHJK", NEW_PASSPHRASE).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_reset_code")));
}

#[tokio::test]
async fn a_reset_code_expires_and_a_newer_one_replaces_it() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let email = &org.owner.email;
    request_reset(&app, email).await;
    let first = reset_code(&app, email).await;
    request_reset(&app, email).await;
    let second = reset_code(&app, email).await;
    assert_ne!(first, second);
    let (code, _) = confirm_reset(&app, email, &first, NEW_PASSPHRASE).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "the replaced code still works");

    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + Duration::minutes(16))).await;
    let (code, error) = confirm_reset(&later, email, &second, NEW_PASSPHRASE).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_reset_code")));
    sign_in(&app, email, &org.owner.passphrase).await;
}

#[tokio::test]
async fn a_reset_code_dies_after_five_wrong_guesses() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let email = &org.owner.email;
    request_reset(&app, email).await;
    let reset = reset_code(&app, email).await;
    for _ in 0..5 {
        let (code, _) = confirm_reset(&app, email, "AAAAA-AAAAA", NEW_PASSPHRASE).await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
    }
    let (code, _) = confirm_reset(&app, email, &reset, NEW_PASSPHRASE).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "the code survived five wrong guesses");
    status(&app, &org).await;
}

// The Argon2id gate holds under a flood of failed sign-ins.

#[tokio::test]
async fn a_flood_of_failed_sign_ins_never_runs_more_argon2_hashes_at_once_than_there_are_cpus() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..24 {
        // Half for a real account, half for unknown ones (which still spend one hash, so the
        // answer does not tell them apart).
        let email = if i % 2 == 0 { org.owner.email.clone() } else { unique_email("nobody") };
        let request = app
            .http
            .post(format!("{}/auth/sessions", app.address))
            .json(&json!({"email": email, "passphrase": "not the passphrase, at all"}));
        flood.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = flood.join_next().await {
        let status = status.unwrap();
        assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{status}");
    }
    let gauge = insomnia_scim::auth::argon2_gauge();
    assert!(gauge.peak >= 1, "the sign-ins hashed: {gauge:?}");
    assert!(gauge.peak <= gauge.limit, "more Argon2id hashes ran at once than the bound: {gauge:?}");
}
