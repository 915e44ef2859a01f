//! Every lifetime, window and delay of the service, in one unit (`chrono::Duration`) and one place
//! (docs/ARCHITECTURE.md, "Lifetimes"): how long a token, a session, a code or a stored item lasts,
//! when warnings start, how long the scheduler waits. Changing the expiry windows starts here.
//! Values the protocol states in seconds (`cursorTimeout`, `expires_in`, a cookie's `Max-Age`) are
//! converted where they are written.
use chrono::Duration;

// --- SCIM static tokens ---------------------------------------------------------------------

/// The expiry windows an admin can pick for a static token (`TokenWindow`).
pub const TOKEN_WINDOW_30_DAYS: Duration = Duration::days(30);
pub const TOKEN_WINDOW_90_DAYS: Duration = Duration::days(90);
pub const TOKEN_WINDOW_180_DAYS: Duration = Duration::days(180);
pub const TOKEN_WINDOW_1_YEAR: Duration = Duration::days(365);
pub const TOKEN_WINDOW_2_YEARS: Duration = Duration::days(730);

/// Warnings start this long before a credential expires: the admin status calls a token
/// "expiring soon", and the scheduler sends its first notice (seeds: 20 days).
pub const EXPIRY_WARNING: Duration = Duration::days(20);
/// The second expiry notice (the third is `LAST_NOTICE`, the fourth at expiry).
pub const SECOND_NOTICE: Duration = Duration::days(7);
/// The last expiry notice before the credential ends.
pub const LAST_NOTICE: Duration = Duration::days(1);

/// The longest a rotation keeps the previous static token working.
pub const MAX_OVERLAP: Duration = Duration::hours(24);

// --- OAuth ----------------------------------------------------------------------------------

/// How long an access token works.
pub const ACCESS_TOKEN: Duration = Duration::hours(1);
/// How long a refresh token works unused (each use rotates it and starts a new one).
pub const REFRESH_TOKEN: Duration = Duration::days(90);
/// How long an authorization code can be exchanged (RFC 6749 §4.1.2: at most 10 minutes).
pub const AUTHORIZATION_CODE: Duration = Duration::minutes(10);
/// How long the signed consent form of the authorize endpoint can be submitted.
pub const AUTHORIZE_FORM: Duration = Duration::minutes(10);
/// How long a client secret works; the scheduler warns the owners before it ends.
pub const CLIENT_SECRET: Duration = Duration::days(730);
/// OAuth items outlive their own expiry by this much before DynamoDB's TTL may delete them (it
/// deletes only eventually; checks compare the expiry themselves).
pub const OAUTH_ITEM_GRACE: Duration = Duration::days(1);

// --- Console --------------------------------------------------------------------------------

/// Sessions are short-lived: a stolen one is useless by the next working day.
pub const SESSION: Duration = Duration::hours(12);
/// How long a passphrase reset code can be used.
pub const RESET_CODE: Duration = Duration::minutes(15);
/// How long the initial passphrase of a welcome email can be used (once).
pub const INITIAL_CREDENTIAL: Duration = Duration::days(7);
/// The window the sign-in and confirmation throttles count failures in.
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);

/// The shortest time between two reconciliations of one organization (each reads every member:
/// docs/ARCHITECTURE.md, "Reconciliation"); sooner, the last one is answered.
pub const RECONCILIATION_INTERVAL: Duration = Duration::minutes(1);

// --- SCIM requests --------------------------------------------------------------------------

/// How long a `nextCursor` stays usable (RFC 9865 `cursorTimeout`, advertised in seconds).
pub const CURSOR_TIMEOUT: Duration = Duration::hours(1);
/// How long a remembered walk position of a user list is used: an IdP asks for the next page soon.
pub const WALK_POSITION: Duration = Duration::minutes(15);
/// The window in which unauthenticated requests to an organization are logged up to a limit.
pub const UNAUTHENTICATED_LOG_WINDOW: Duration = Duration::minutes(15);
/// How long the SCIM request log is kept.
pub const REQUEST_LOG_RETENTION: Duration = Duration::days(30);

// --- Background work ------------------------------------------------------------------------

/// How old an unfinished write must be before the scheduler's sweep completes it: any request
/// still working on it has long hit the function's timeout.
pub const SWEEP_AFTER: Duration = Duration::minutes(5);
/// A recorded member change's items outlive any sweep of it (DynamoDB removes them by `ttl`).
pub const MEMBER_CHANGE_RECORD: Duration = Duration::days(7);
/// A one-off notice's record (e.g. "the IdP was refused on the last admin today"), past its day.
pub const ONE_OFF_NOTICE_KEPT: Duration = Duration::days(2);
/// The first retry of an email that failed transiently; each further one waits twice as long…
pub const FIRST_EMAIL_RETRY: Duration = Duration::minutes(1);
/// … up to this.
pub const LONGEST_EMAIL_RETRY: Duration = Duration::hours(6);

// --- Connector health (docs/ARCHITECTURE.md, "Connector health") ---------------------------

/// The window errors and 429s are judged over.
pub const HEALTH_WINDOW: Duration = Duration::hours(1);
/// A connector is quiet after twice its learned cycle, never sooner than this.
pub const HEALTH_QUIET_FLOOR: Duration = Duration::hours(1);
/// A gap between two calls at least this long ends a run of the IdP (one sample of its cycle);
/// shorter gaps are within a run.
pub const HEALTH_BURST_GAP: Duration = Duration::minutes(10);
/// How long after a rotation or revoke the IdP may still send the token it retired before the
/// connector is said to be failing: the time an admin takes to paste the new token into the IdP.
pub const HEALTH_RETIRED_GRACE: Duration = Duration::minutes(15);
/// At most one unhealthy-connector email per organization in this long.
pub const HEALTH_EMAIL_INTERVAL: Duration = Duration::hours(24);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_come_in_order_and_before_the_shortest_window_ends() {
        assert!(LAST_NOTICE < SECOND_NOTICE && SECOND_NOTICE < EXPIRY_WARNING);
        assert!(EXPIRY_WARNING < TOKEN_WINDOW_30_DAYS, "a new 30-day token does not start 'expiring soon'");
        assert!(ACCESS_TOKEN < REFRESH_TOKEN && AUTHORIZATION_CODE <= Duration::minutes(10));
        assert!(FIRST_EMAIL_RETRY < LONGEST_EMAIL_RETRY);
    }
}
