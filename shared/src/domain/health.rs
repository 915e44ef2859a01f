//! Connector health (docs/ARCHITECTURE.md, "Connector health"): what an organization's SCIM
//! traffic says about its identity provider's connection, evaluated from counters the request log
//! keeps as it is written (`HealthRecord`) and an instant. Pure: no read, no clock.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::lifetimes;

/// Counters are kept in buckets of this many seconds.
pub const BUCKET_SECS: i64 = 300;
/// Errors: at least this many answered requests in the window…
pub const ERROR_MIN_REQUESTS: u64 = 10;
/// …of which at least this share (percent) failed with a 4xx (other than 401/429) or a 5xx.
pub const ERROR_SHARE_PERCENT: u64 = 20;
/// Throttled: at least this many 429s from fair use in the window (one now and then is the budget
/// doing its job: the IdP waits and retries).
pub const THROTTLED_MIN: u64 = 10;
/// Reasons named in the errors state.
pub const TOP_REASONS: usize = 3;

/// A credential this organization issued, refused (never the credential itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefusedCredential {
    /// A static token a rotation replaced at `at`, past its overlap.
    Replaced { at: DateTime<Utc> },
    /// A static token revoked at `at`.
    Revoked { at: DateTime<Utc> },
    /// The current static token, expired at `at`.
    Expired { at: DateTime<Utc> },
    /// An OAuth access token of a grant that ended (revoke, disable, a new OAuth client).
    GrantEnded,
    /// An OAuth access token past its hour (the IdP should have used its refresh token).
    AccessTokenExpired,
}

impl RefusedCredential {
    /// Which credential, in words (never the credential): "the token replaced on Dec 7 at 10:04
    /// UTC". The health banner and the request log's row both say it so.
    pub fn words(&self) -> String {
        match self {
            Self::Replaced { at } => format!("the token replaced on {}", day(*at)),
            Self::Revoked { at } => format!("a token revoked on {}", day(*at)),
            Self::Expired { at } => format!("the token that expired on {}", day(*at)),
            Self::GrantEnded => "an OAuth access token whose authorization ended".to_owned(),
            Self::AccessTokenExpired => "an expired OAuth access token".to_owned(),
        }
    }
}

/// How one logged request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// 4xx other than 401 and 429: the IdP sent something we refuse.
    ClientError,
    ServerError,
    /// 429 from fair use.
    Throttled,
    /// A credential this organization issued, refused.
    Refused(RefusedCredential),
    /// No token, or one this organization never issued: anyone can send these.
    Unknown,
}

impl Outcome {
    pub fn of(status: u16, authenticated: bool, refused: Option<RefusedCredential>) -> Self {
        match (refused, authenticated, status) {
            (Some(credential), _, _) => Self::Refused(credential),
            (None, false, _) => Self::Unknown,
            (None, true, 429) => Self::Throttled,
            (None, true, 500..) => Self::ServerError,
            (None, true, 400..) => Self::ClientError,
            (None, true, _) => Self::Succeeded,
        }
    }

    /// The counter it adds to (`Counts` field names, as stored).
    pub fn counter(&self) -> &'static str {
        match self {
            Self::Succeeded => "ok",
            Self::ClientError => "c4",
            Self::ServerError => "c5",
            Self::Throttled => "c429",
            Self::Refused(_) => "refused",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the organization's own IdP made the request (a call, for the cycle and quiet).
    pub fn is_call(&self) -> bool {
        !matches!(self, Self::Unknown)
    }
}

/// The counts of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub c4: u64,
    pub c5: u64,
    pub c429: u64,
    pub refused: u64,
    pub unknown: u64,
}

impl Counts {
    pub fn add(&mut self, counter: &str, n: u64) {
        let slot = match counter {
            "ok" => &mut self.ok,
            "c4" => &mut self.c4,
            "c5" => &mut self.c5,
            "c429" => &mut self.c429,
            "refused" => &mut self.refused,
            "unknown" => &mut self.unknown,
            _ => return,
        };
        *slot = slot.saturating_add(n);
    }

    fn plus(self, other: Counts) -> Counts {
        Counts {
            ok: self.ok + other.ok,
            c4: self.c4 + other.c4,
            c5: self.c5 + other.c5,
            c429: self.c429 + other.c429,
            refused: self.refused + other.refused,
            unknown: self.unknown + other.unknown,
        }
    }
}

/// The bucket (its start, in seconds since the epoch) `at` falls in.
pub fn bucket_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(BUCKET_SECS) * BUCKET_SECS
}

/// Whether a bucket still counts at `now` (it overlaps the last `HEALTH_WINDOW`).
pub fn bucket_in_window(bucket: i64, now: DateTime<Utc>) -> bool {
    bucket + BUCKET_SECS > (now - lifetimes::HEALTH_WINDOW).timestamp()
}

/// The last refused credential of the organization's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedSeen {
    pub credential: RefusedCredential,
    pub at: DateTime<Utc>,
}

/// The state of a connector, as stored (the transition compares these) and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    /// The IdP has not provisioned yet.
    Waiting,
    Healthy,
    FailingCredentials,
    Errors,
    Quiet,
    Throttled,
}

impl HealthKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Healthy => "healthy",
            Self::FailingCredentials => "failing_credentials",
            Self::Errors => "errors",
            Self::Quiet => "quiet",
            Self::Throttled => "throttled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Waiting, Self::Healthy, Self::FailingCredentials, Self::Errors, Self::Quiet, Self::Throttled]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }

    /// Whether owners are told when the connector moves into it.
    pub fn is_unhealthy(&self) -> bool {
        !matches!(self, Self::Waiting | Self::Healthy)
    }
}

/// What the request log has kept of an organization's traffic (one item, updated by each write
/// pass of the log), and the state last settled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthRecord {
    pub buckets: BTreeMap<i64, Counts>,
    /// Failure reasons per bucket ("400 invalidValue", "409 uniqueness").
    pub reasons: BTreeMap<i64, BTreeMap<String, u64>>,
    pub last_call_at: Option<DateTime<Utc>>,
    /// The call before `last_call_at` (written with it, from the stored value): a gap between the
    /// two longer than `HEALTH_BURST_GAP` is one sample of the IdP's cycle.
    pub prev_call_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_refused: Option<RefusedSeen>,
    /// The IdP's usual time between runs, learned from its gaps.
    pub cycle_secs: Option<i64>,
    pub state: Option<HealthKind>,
    pub since: Option<DateTime<Utc>>,
    pub last_email_at: Option<DateTime<Utc>>,
}

/// The connector's health at an instant.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Waiting,
    Healthy,
    FailingCredentials { credential: RefusedCredential, last_seen: DateTime<Utc> },
    Errors { failed: u64, total: u64, server_errors: u64, top_reasons: Vec<(String, u64)> },
    Quiet { last_call_at: DateTime<Utc>, usual_cycle: Duration },
    Throttled { count: u64 },
}

impl HealthRecord {
    /// The counts of the buckets within the window at `now`.
    pub fn window(&self, now: DateTime<Utc>) -> Counts {
        self.buckets
            .iter()
            .filter(|(bucket, _)| bucket_in_window(**bucket, now))
            .fold(Counts::default(), |sum, (_, counts)| sum.plus(*counts))
    }

    /// Requests with unknown tokens (or none) in the window: shown, never acted on.
    pub fn unknown_tokens(&self, now: DateTime<Utc>) -> u64 {
        self.window(now).unknown
    }

    /// Stored buckets (counters and reasons) that left the window at `now`: to remove.
    pub fn stale_buckets(&self, now: DateTime<Utc>) -> Vec<i64> {
        let mut stale: Vec<i64> = self
            .buckets
            .keys()
            .chain(self.reasons.keys())
            .copied()
            .filter(|bucket| !bucket_in_window(*bucket, now))
            .collect();
        stale.sort_unstable();
        stale.dedup();
        stale
    }

    /// When the connector is expected to have called again by: its learned cycle twice over, never
    /// less than the floor. None until a cycle was learned.
    pub fn quiet_after(&self) -> Option<Duration> {
        let cycle = Duration::seconds(self.cycle_secs?);
        Some((cycle * 2).max(lifetimes::HEALTH_QUIET_FLOOR))
    }

    /// A new cycle sample from the last write, if its gap was one: the learned cycle moves a
    /// quarter of the way towards it (the first sample is taken as it is).
    pub fn learned_cycle(&self) -> Option<i64> {
        let gap = (self.last_call_at? - self.prev_call_at?).num_seconds();
        if gap < lifetimes::HEALTH_BURST_GAP.num_seconds() {
            return None;
        }
        Some(match self.cycle_secs {
            None => gap,
            Some(cycle) => (cycle * 3 + gap) / 4,
        })
    }

    pub fn evaluate(&self, now: DateTime<Utc>) -> Health {
        // The IdP's latest call with one of our credentials failed: nothing else works until fixed.
        // A token retired moments ago is expected for a while (the admin is pasting the new one).
        if let Some(refused) = self.last_refused {
            let in_grace = match refused.credential {
                RefusedCredential::Replaced { at } | RefusedCredential::Revoked { at } => {
                    now - at < lifetimes::HEALTH_RETIRED_GRACE
                }
                _ => false,
            };
            if self.last_success_at.is_none_or(|ok| ok < refused.at) && !in_grace {
                return Health::FailingCredentials { credential: refused.credential, last_seen: refused.at };
            }
        }
        let counts = self.window(now);
        if counts.c429 >= THROTTLED_MIN {
            return Health::Throttled { count: counts.c429 };
        }
        let failed = counts.c4 + counts.c5;
        let total = failed + counts.ok;
        if total >= ERROR_MIN_REQUESTS && failed * 100 >= ERROR_SHARE_PERCENT * total {
            return Health::Errors { failed, total, server_errors: counts.c5, top_reasons: self.top_reasons(now) };
        }
        let Some(last_call_at) = self.last_call_at.filter(|_| self.last_success_at.is_some()) else {
            return Health::Waiting;
        };
        if let Some(after) = self.quiet_after() {
            if now - last_call_at > after {
                return Health::Quiet { last_call_at, usual_cycle: Duration::seconds(self.cycle_secs.unwrap_or(0)) };
            }
        }
        Health::Healthy
    }

    fn top_reasons(&self, now: DateTime<Utc>) -> Vec<(String, u64)> {
        let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, reasons) in self.reasons.iter().filter(|(bucket, _)| bucket_in_window(**bucket, now)) {
            for (reason, n) in reasons {
                *sums.entry(reason.as_str()).or_default() += n;
            }
        }
        let mut top: Vec<(String, u64)> = sums.into_iter().map(|(r, n)| (r.to_owned(), n)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(TOP_REASONS);
        top
    }
}

/// What one write pass of the request log adds to an organization's health record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthDelta {
    /// (bucket, counter) → requests.
    pub counts: BTreeMap<(i64, &'static str), u64>,
    /// (bucket, reason) → requests.
    pub reasons: BTreeMap<(i64, String), u64>,
    pub last_call_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_refused: Option<RefusedSeen>,
}

impl HealthDelta {
    /// Counts one request answered `status` at `at`; `reason` names a failure ("409 uniqueness").
    pub fn add(&mut self, at: DateTime<Utc>, outcome: Outcome, reason: Option<String>) {
        let bucket = bucket_of(at);
        *self.counts.entry((bucket, outcome.counter())).or_default() += 1;
        if let (Outcome::ClientError | Outcome::ServerError, Some(reason)) = (outcome, reason) {
            *self.reasons.entry((bucket, reason)).or_default() += 1;
        }
        let latest = |slot: &mut Option<DateTime<Utc>>| {
            if slot.is_none_or(|seen| seen < at) {
                *slot = Some(at);
            }
        };
        if outcome.is_call() {
            latest(&mut self.last_call_at);
        }
        match outcome {
            Outcome::Succeeded => latest(&mut self.last_success_at),
            Outcome::Refused(credential) if self.last_refused.is_none_or(|seen| seen.at < at) => {
                self.last_refused = Some(RefusedSeen { credential, at });
            }
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// The reason a failed request is counted under: its status and SCIM error type, never its detail
/// (which may name a person, and would make the reasons unbounded).
pub fn reason(status: u16, scim_type: Option<&str>) -> String {
    match scim_type {
        Some(kind) => format!("{status} {kind}"),
        None => status.to_string(),
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%b %-d at %H:%M UTC").to_string()
}

/// The words of a state (`idp`: the IdP as people write it, "Okta", "Microsoft Entra ID").
impl Health {
    pub fn kind(&self) -> HealthKind {
        match self {
            Self::Waiting => HealthKind::Waiting,
            Self::Healthy => HealthKind::Healthy,
            Self::FailingCredentials { .. } => HealthKind::FailingCredentials,
            Self::Errors { .. } => HealthKind::Errors,
            Self::Quiet { .. } => HealthKind::Quiet,
            Self::Throttled { .. } => HealthKind::Throttled,
        }
    }

    /// What happened, in a sentence.
    pub fn headline(&self, idp: &str) -> String {
        match self {
            Self::Waiting => format!("{idp} has not provisioned yet."),
            Self::Healthy => format!("{idp} is provisioning normally."),
            Self::FailingCredentials { credential, .. } => match credential {
                RefusedCredential::Replaced { .. } | RefusedCredential::Revoked { .. } => {
                    format!("Your identity provider is still sending {}.", credential.words())
                }
                RefusedCredential::Expired { .. } | RefusedCredential::GrantEnded => {
                    format!("Your identity provider is sending {}.", credential.words())
                }
                RefusedCredential::AccessTokenExpired => {
                    format!("Your identity provider keeps sending {}.", credential.words())
                }
            },
            Self::Errors { failed, total, .. } => {
                format!("{failed} of the last {total} requests from {idp} failed in the last hour.")
            }
            Self::Quiet { last_call_at, .. } => {
                format!("{idp} has not called since {}, longer than its usual cycle.", day(*last_call_at))
            }
            Self::Throttled { count } => {
                format!("{count} requests from {idp} were over the organization's request budget in the last hour.")
            }
        }
    }

    /// What to do about it. `budget`: the organization's fair-use budget (per second, burst).
    pub fn advice(&self, idp: &str, budget: (u32, u32)) -> String {
        match self {
            Self::Waiting => format!("Copy the connector URL and a token into {idp} and start provisioning."),
            Self::Healthy => String::new(),
            Self::FailingCredentials { credential, .. } => match credential {
                RefusedCredential::Replaced { .. } => format!("Paste the new token into {idp}."),
                RefusedCredential::Revoked { .. } | RefusedCredential::Expired { .. } => {
                    format!("Refresh the token here, then paste the new token into {idp}.")
                }
                RefusedCredential::GrantEnded | RefusedCredential::AccessTokenExpired => {
                    format!("Authorize {idp} again with the current OAuth client (its client id and secret).")
                }
            },
            Self::Errors { .. } => {
                format!("Open the failing requests in the log, fix the attributes or mappings in {idp}, then retry.")
            }
            Self::Quiet { usual_cycle, .. } => format!(
                "{idp} usually calls every {} minutes: check that provisioning is on and not quarantined in {idp}.",
                usual_cycle.num_minutes().max(1)
            ),
            Self::Throttled { .. } => format!(
                "The budget is {} requests a second (bursts of {}). {idp} waits and retries on its own; if a large sync \
                 keeps hitting it, ask Insomnia support to raise the organization's budget.",
                budget.0, budget.1
            ),
        }
    }

    /// The log filter that shows the requests at fault (`status` of the log endpoint).
    pub fn log_filter(&self) -> Option<&'static str> {
        match self {
            Self::Errors { failed, server_errors, .. } if server_errors * 2 > *failed => Some("5xx"),
            Self::Errors { .. } => Some("4xx"),
            Self::FailingCredentials { .. } => Some("401"),
            Self::Throttled { .. } => Some("429"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 4, 0).unwrap()
    }

    fn record_with(now: DateTime<Utc>, outcomes: &[(Outcome, u64)]) -> HealthRecord {
        let mut record = HealthRecord::default();
        for (outcome, n) in outcomes {
            record.buckets.entry(bucket_of(now)).or_default().add(outcome.counter(), *n);
            if outcome.is_call() {
                record.last_call_at = Some(now);
            }
            if *outcome == Outcome::Succeeded {
                record.last_success_at = Some(now);
            }
        }
        record
    }

    #[test]
    fn outcomes_follow_status_and_credential() {
        let replaced = RefusedCredential::Replaced { at: t0() };
        assert_eq!(Outcome::of(401, false, Some(replaced)), Outcome::Refused(replaced));
        assert_eq!(Outcome::of(401, false, None), Outcome::Unknown);
        assert_eq!(Outcome::of(429, true, None), Outcome::Throttled);
        assert_eq!(Outcome::of(503, true, None), Outcome::ServerError);
        assert_eq!(Outcome::of(409, true, None), Outcome::ClientError);
        assert_eq!(Outcome::of(204, true, None), Outcome::Succeeded);
        assert!(!Outcome::Unknown.is_call());
    }

    #[test]
    fn no_call_yet_is_waiting_and_successes_are_healthy() {
        assert_eq!(HealthRecord::default().evaluate(t0()), Health::Waiting);
        assert_eq!(record_with(t0(), &[(Outcome::Succeeded, 3)]).evaluate(t0()), Health::Healthy);
    }

    #[test]
    fn a_refused_credential_fails_until_a_later_success() {
        let mut record = record_with(t0(), &[(Outcome::Succeeded, 3)]);
        let replaced = RefusedCredential::Replaced { at: t0() - Duration::hours(1) };
        let later = t0() + Duration::minutes(1);
        record.last_refused = Some(RefusedSeen { credential: replaced, at: later });
        let health = record.evaluate(later);
        assert_eq!(health, Health::FailingCredentials { credential: replaced, last_seen: later });
        assert!(health.headline("Okta").contains("replaced on Dec 7 at 09:04 UTC"), "{}", health.headline("Okta"));
        assert_eq!(health.advice("Okta", (50, 200)), "Paste the new token into Okta.");
        // Within the grace after the rotation, the old token is expected a while.
        let fresh = RefusedCredential::Replaced { at: later - Duration::minutes(1) };
        let mut pasting = record.clone();
        pasting.last_refused = Some(RefusedSeen { credential: fresh, at: later });
        assert_eq!(pasting.evaluate(later), Health::Healthy);
        let after = later - Duration::minutes(1) + lifetimes::HEALTH_RETIRED_GRACE;
        assert_eq!(pasting.evaluate(after).kind(), HealthKind::FailingCredentials);
        // Days later, still failing: nothing else has worked since.
        assert_eq!(record.evaluate(later + Duration::days(3)).kind(), HealthKind::FailingCredentials);
        record.last_success_at = Some(later + Duration::seconds(1));
        assert_eq!(record.evaluate(later + Duration::seconds(1)), Health::Healthy);
    }

    #[test]
    fn unknown_tokens_are_counted_apart_and_change_nothing() {
        let record = record_with(t0(), &[(Outcome::Succeeded, 1), (Outcome::Unknown, 500)]);
        assert_eq!(record.evaluate(t0()), Health::Healthy);
        assert_eq!(record.unknown_tokens(t0()), 500);
        assert_eq!(record_with(t0(), &[(Outcome::Unknown, 500)]).evaluate(t0()), Health::Waiting);
    }

    #[test]
    fn errors_need_a_share_and_a_minimum_and_leave_with_the_hour() {
        // 9 requests, all failing: too few to judge.
        assert_eq!(record_with(t0(), &[(Outcome::ClientError, 9)]).evaluate(t0()), Health::Waiting);
        // 2 of 10 failing: the threshold.
        let mut record = record_with(t0(), &[(Outcome::Succeeded, 8), (Outcome::ClientError, 2)]);
        record.reasons.entry(bucket_of(t0())).or_default().insert("409 uniqueness".into(), 2);
        let health = record.evaluate(t0());
        assert_eq!(
            health,
            Health::Errors { failed: 2, total: 10, server_errors: 0, top_reasons: vec![("409 uniqueness".into(), 2)] }
        );
        assert_eq!(health.log_filter(), Some("4xx"));
        // 1 of 10: below.
        let below = record_with(t0(), &[(Outcome::Succeeded, 9), (Outcome::ServerError, 1)]);
        assert_eq!(below.evaluate(t0()), Health::Healthy);
        // An hour and a bucket later the failures are out of the window.
        let later = t0() + lifetimes::HEALTH_WINDOW + Duration::seconds(BUCKET_SECS);
        assert_eq!(record.evaluate(later), Health::Healthy);
        assert_eq!(record.stale_buckets(later), vec![bucket_of(t0())]);
        assert!(record.stale_buckets(t0()).is_empty());
    }

    #[test]
    fn throttled_from_a_minimum_of_429s() {
        let record = record_with(t0(), &[(Outcome::Succeeded, 100), (Outcome::Throttled, THROTTLED_MIN)]);
        let health = record.evaluate(t0());
        assert_eq!(health, Health::Throttled { count: THROTTLED_MIN });
        assert!(health.advice("Okta", (2, 4)).contains("2 requests a second (bursts of 4)"));
        let few = record_with(t0(), &[(Outcome::Succeeded, 100), (Outcome::Throttled, THROTTLED_MIN - 1)]);
        assert_eq!(few.evaluate(t0()), Health::Healthy);
    }

    #[test]
    fn the_cycle_is_learned_from_gaps_and_quiet_comes_after_it_with_a_floor() {
        let mut record = record_with(t0(), &[(Outcome::Succeeded, 1)]);
        // A burst (calls a few seconds apart) teaches nothing.
        record.prev_call_at = Some(t0() - Duration::seconds(5));
        assert_eq!(record.learned_cycle(), None);
        // Entra's 40 minutes.
        record.prev_call_at = Some(t0() - Duration::minutes(40));
        assert_eq!(record.learned_cycle(), Some(2400));
        record.cycle_secs = Some(2400);
        assert_eq!(record.quiet_after(), Some(Duration::minutes(80)));
        assert_eq!(record.evaluate(t0() + Duration::minutes(80)), Health::Healthy);
        let quiet = record.evaluate(t0() + Duration::minutes(81));
        assert_eq!(quiet, Health::Quiet { last_call_at: t0(), usual_cycle: Duration::minutes(40) });
        assert!(quiet.advice("Microsoft Entra ID", (50, 200)).contains("every 40 minutes"));
        // A short cycle still waits for the floor.
        record.cycle_secs = Some(600);
        assert_eq!(record.quiet_after(), Some(lifetimes::HEALTH_QUIET_FLOOR));
        // The next sample moves the cycle a quarter of the way.
        record.cycle_secs = Some(2400);
        record.prev_call_at = Some(t0() - Duration::minutes(80));
        assert_eq!(record.learned_cycle(), Some((2400 * 3 + 4800) / 4));
        // Without a learned cycle, never quiet.
        record.cycle_secs = None;
        assert_eq!(record.evaluate(t0() + Duration::days(30)), Health::Healthy);
    }

    #[test]
    fn kinds_round_trip_and_only_bad_ones_are_unhealthy() {
        for kind in [
            HealthKind::Waiting,
            HealthKind::Healthy,
            HealthKind::FailingCredentials,
            HealthKind::Errors,
            HealthKind::Quiet,
            HealthKind::Throttled,
        ] {
            assert_eq!(HealthKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.is_unhealthy(), !matches!(kind, HealthKind::Waiting | HealthKind::Healthy));
        }
        assert_eq!(HealthKind::parse("bad"), None);
    }
}
