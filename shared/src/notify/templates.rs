//! The text of every email the service sends. Plain text, in Insomnia's voice: say what happened,
//! why the reader gets it, and exactly what to do next. No message ever carries a SCIM token.
use chrono::{DateTime, Duration, Utc};

use super::EmailMessage;
use crate::domain::{EmailAddress, LastAdminChange};
use crate::store::OAuthCredential;

/// A subject and body, not yet addressed.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText {
    pub subject: String,
    pub text_body: String,
}

impl MessageText {
    pub fn addressed_to(self, to: Vec<EmailAddress>) -> EmailMessage {
        EmailMessage { to, subject: self.subject, text_body: self.text_body }
    }
}

// The welcome body holds a passphrase: never printed.
impl std::fmt::Debug for MessageText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageText").field("subject", &self.subject).finish_non_exhaustive()
    }
}

const SIGNATURE: &str = "— The Insomnia team";

const REFRESH_STEPS: &str = "\
To refresh the token:
  1. In Insomnia, open Enterprise Controls > SCIM and choose Refresh Token.
  2. Enter your passphrase to confirm. The new token is shown only once: copy it.
  3. In your identity provider (Okta or Microsoft Entra ID), open the Insomnia app's provisioning
     settings, replace the old token with the new one, and save.

The connector URL stays the same; only the token changes.";

/// The email of a brand-new account created through SCIM, with its initial passphrase.
pub fn welcome_message(
    email: &EmailAddress,
    org_name: &str,
    initial_passphrase: &str,
    valid_for: Duration,
) -> MessageText {
    let days = valid_for.num_days();
    MessageText {
        subject: format!("Welcome to Insomnia: you now have access to {org_name}"),
        text_body: format!(
            "Hello,

Your organization's identity provider added you to {org_name} in Insomnia, so an Insomnia account
was created for you.

  Account:              {email}
  Initial passphrase:   {initial_passphrase}

Sign in to Insomnia with this email address and passphrase within {days} days. It works for one
sign-in only: at that sign-in you choose a new passphrase of your own.

Lost this passphrase? Reset it from the Insomnia sign-in screen with this email address.

If you did not expect this email, contact the administrators of {org_name}.

{SIGNATURE}
"
        ),
    }
}

/// To owners and co-owners: the SCIM token expires soon and could not be refreshed automatically.
pub fn token_expiring_message(
    org_name: &str,
    days_left: u32,
    expires_at: DateTime<Utc>,
    reasons: &[String],
) -> MessageText {
    let when = match days_left {
        0 => "today".to_owned(),
        1 => "in 1 day".to_owned(),
        days => format!("in {days} days"),
    };
    let expires = expires_at.format("%B %-d, %Y at %H:%M UTC");
    // The reason the scheduler found, as the SCIM page names it; the requirements in general only
    // for a notice queued before reasons were kept.
    let why = if reasons.is_empty() {
        "automatic refresh needs the\norganization to keep meeting the SCIM requirements (Enterprise plan, a verified domain, SSO\nconfigured)".to_owned()
    } else {
        reasons.join("; ")
    };
    MessageText {
        subject: format!("SCIM provisioning for {org_name} stops {when}"),
        text_body: format!(
            "Hello,

The SCIM token that your identity provider uses to provision {org_name} in Insomnia expires {when},
on {expires}. Insomnia could not refresh it automatically: {why}.

When the token expires, SCIM provisioning stops: users and groups that you add, change, deactivate
or remove in your identity provider are no longer synced to Insomnia, so people removed there keep
their access in Insomnia until provisioning runs again.

{REFRESH_STEPS}

You get this email because you are an owner or co-owner of {org_name}.

{SIGNATURE}
"
        ),
    }
}

/// To owners and co-owners: a credential of the OAuth connection expires (or has expired).
pub fn oauth_expiring_message(
    org_name: &str,
    credential: OAuthCredential,
    days_left: u32,
    expires_at: DateTime<Utc>,
) -> MessageText {
    let expires = expires_at.format("%B %-d, %Y at %H:%M UTC");
    let (what, action) = match credential {
        OAuthCredential::ClientSecret => (
            "The OAuth client secret that your identity provider uses for SCIM provisioning of",
            "Create a new OAuth client in Insomnia (Enterprise Controls > SCIM > OAuth client) and enter\n\
             its client ID and secret in your identity provider's provisioning settings.",
        ),
        OAuthCredential::RefreshToken => (
            "Your identity provider has not renewed its OAuth access for a long time. The refresh token\n\
             it holds for SCIM provisioning of",
            "Authorize the connection again in your identity provider (its provisioning settings: \"Authenticate\"\n\
             or \"Authorize\"). An identity provider that keeps renewing its access needs nothing.",
        ),
    };
    let consequence = if days_left == 0 {
        "Until then, changes in your identity provider are not synced to Insomnia."
    } else {
        "When it expires, SCIM provisioning stops: changes in your identity provider are no longer synced\nto Insomnia."
    };
    let (subject, state) = match days_left {
        0 => (
            format!("SCIM provisioning for {org_name} has stopped (OAuth)"),
            format!("has expired, on {expires}: provisioning has stopped."),
        ),
        1 => (
            format!("SCIM provisioning for {org_name} stops in 1 day (OAuth)"),
            format!("expires in 1 day, on {expires}."),
        ),
        days => (
            format!("SCIM provisioning for {org_name} stops in {days} days (OAuth)"),
            format!("expires in {days} days, on {expires}."),
        ),
    };
    MessageText {
        subject,
        text_body: format!(
            "Hello,

{what} {org_name} in Insomnia {state}

{consequence}

{action}

You get this email because you are an owner or co-owner of {org_name}.

{SIGNATURE}
"
        ),
    }
}

/// To owners and co-owners: the SCIM token has expired and provisioning has stopped.
pub fn token_expired_message(org_name: &str) -> MessageText {
    MessageText {
        subject: format!("SCIM provisioning for {org_name} has stopped"),
        text_body: format!(
            "Hello,

The SCIM token of {org_name} has expired, so SCIM provisioning has stopped: users and groups that
you add, change, deactivate or remove in your identity provider are no longer synced to Insomnia.
People removed in your identity provider keep their access in Insomnia until provisioning runs
again.

{REFRESH_STEPS}

Your identity provider then resumes syncing on its next provisioning cycle.

You get this email because you are an owner or co-owner of {org_name}.

{SIGNATURE}
"
        ),
    }
}

/// To owners and co-owners: the IdP tried to deactivate or delete the last active Owner or
/// Co-Owner, and the service refused, so that someone can still manage SCIM.
pub fn last_admin_kept_message(org_name: &str, member_email: &EmailAddress, refused: LastAdminChange) -> MessageText {
    let verb = refused.verb();
    MessageText {
        subject: format!("Your identity provider tried to {verb} the last owner of {org_name}"),
        text_body: format!(
            "Hello,

Your identity provider asked Insomnia to {verb} {member_email}, the last active Owner or Co-Owner
of {org_name}. Insomnia refused: without an active Owner or Co-Owner nobody could refresh, revoke
or disable the organization's SCIM token. The identity provider reports the refusal as a failed
operation and will retry it.

To let the change through, first make another member an Owner or Co-Owner of {org_name} in
the Insomnia web app (the organization's Members page, https://app.insomnia.rest/app/dashboard);
the identity provider's next retry then succeeds. If
{member_email} should stay, assign them to the Insomnia application in your identity provider again.

You get this email because you are an owner or co-owner of {org_name}.

{SIGNATURE}
"
        ),
    }
}

/// To owners and co-owners: the SCIM connector became unhealthy (at most one a day).
pub fn connector_health_message(org_name: &str, headline: &str, advice: &str) -> MessageText {
    MessageText {
        subject: format!("SCIM provisioning for {org_name} needs attention"),
        text_body: format!(
            "Hello,

{headline}

What to do: {advice}

The SCIM page in Insomnia (Enterprise Controls > SCIM) shows the connector's health and the request
log. Until this is fixed, changes you make in your identity provider may not reach Insomnia.

You get this email because you are an owner or co-owner of {org_name}. Insomnia sends at most one
such email a day; the page shows when the connector recovers.

{SIGNATURE}
"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn jane() -> EmailAddress {
        EmailAddress::parse("Jane.Doe@Example.com").unwrap()
    }

    #[test]
    fn the_welcome_gives_the_passphrase_and_what_to_do_with_it() {
        let text = welcome_message(&jane(), "Acme Corp", "ABCDEF-GHJKMN-PQRSTU", Duration::days(7));
        assert!(text.subject.contains("Acme Corp") && text.subject.contains("Insomnia"), "{}", text.subject);
        let body = &text.text_body;
        for expected in [
            "identity provider added you to Acme Corp in Insomnia",
            "Jane.Doe@Example.com",
            "Initial passphrase:   ABCDEF-GHJKMN-PQRSTU",
            "within 7 days",
            "It works for one\nsign-in only",
            "Reset it from the Insomnia sign-in screen",
        ] {
            assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
        }
    }

    #[test]
    fn the_oauth_notices_say_what_ends_when_and_what_to_do() {
        let at = Utc.with_ymd_and_hms(2028, 11, 30, 12, 0, 0).unwrap();
        let secret = oauth_expiring_message("Acme", OAuthCredential::ClientSecret, 7, at);
        assert_eq!(secret.subject, "SCIM provisioning for Acme stops in 7 days (OAuth)");
        assert!(secret.text_body.contains("OAuth client secret") && secret.text_body.contains("November 30, 2028"));
        assert!(secret.text_body.contains("Create a new OAuth client"), "{}", secret.text_body);
        let ended = oauth_expiring_message("Acme", OAuthCredential::RefreshToken, 0, at);
        assert_eq!(ended.subject, "SCIM provisioning for Acme has stopped (OAuth)");
        assert!(ended.text_body.contains("has expired") && ended.text_body.contains("Authorize the connection again"));
        assert!(!ended.text_body.contains("When it expires"), "{}", ended.text_body);
    }

    #[test]
    fn debug_output_never_shows_a_body() {
        let text = welcome_message(&jane(), "Acme Corp", "ABCDEF-GHJKMN-PQRSTU", Duration::days(7));
        let message = text.clone().addressed_to(vec![jane()]);
        assert_eq!(message.to, vec![jane()]);
        for shown in [format!("{text:?}"), format!("{message:?}")] {
            assert!(!shown.contains("ABCDEF-GHJKMN"), "{shown}");
            assert!(shown.contains("Acme Corp"), "{shown}");
        }
    }

    #[test]
    fn the_expiry_warning_says_when_and_how_to_refresh() {
        let expires_at = Utc.with_ymd_and_hms(2026, 11, 23, 14, 5, 0).unwrap();
        let text = token_expiring_message("Acme Corp", 12, expires_at, &[]);
        assert_eq!(text.subject, "SCIM provisioning for Acme Corp stops in 12 days");
        let body = &text.text_body;
        for expected in [
            "expires in 12 days,\non November 23, 2026 at 14:05 UTC",
            "SCIM provisioning stops",
            "Enterprise Controls > SCIM and choose Refresh Token",
            "Enter your passphrase",
            "replace the old token with the new one",
            "owner or co-owner of Acme Corp",
        ] {
            assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
        }
        assert!(token_expiring_message("Acme", 1, expires_at, &[]).subject.ends_with("stops in 1 day"));
        assert!(token_expiring_message("Acme", 0, expires_at, &[]).subject.ends_with("stops today"));
    }

    #[test]
    fn the_expiry_notice_says_provisioning_stopped_and_how_to_restart_it() {
        let text = token_expired_message("Acme Corp");
        assert_eq!(text.subject, "SCIM provisioning for Acme Corp has stopped");
        for expected in ["has expired", "SCIM provisioning has stopped", "Refresh Token", "Enter your passphrase"] {
            assert!(text.text_body.contains(expected), "missing {expected:?} in:\n{}", text.text_body);
        }
    }

    #[test]
    fn token_messages_carry_no_token() {
        // The templates take no token at all; this guards against one slipping into the text.
        let expires_at = Utc.with_ymd_and_hms(2026, 11, 23, 14, 5, 0).unwrap();
        for text in [token_expiring_message("Acme", 3, expires_at, &[]), token_expired_message("Acme")] {
            let body = text.text_body.to_lowercase();
            assert!(!body.contains("iscim_") && !body.contains("bearer"), "{body}");
            assert!(body.split_whitespace().all(|word| word.len() < 32), "a long opaque value in:\n{body}");
        }
    }
}
