//! Fair use per organization: a request budget for each SCIM connector, counted across every
//! Lambda instance in DynamoDB (docs/ARCHITECTURE.md, "Fair use").
//!
//! A fixed window of `burst / per_second` seconds admits `burst` requests: over any stretch of
//! time that admits at most twice what a token bucket of the same rate and burst would, and in the
//! long run exactly the rate. The window's length comes from the budget this instance last read for
//! the organization (the defaults before it read one), and is part of the counter's key, so
//! instances that disagree for a moment count apart and each still holds its limit. Only a request
//! presenting a token that passed the check on this instance is counted, all of an organization's
//! valid tokens in one counter (two static tokens during a rotation's overlap, OAuth access tokens):
//! a wrong token writes nothing and spends nothing; the first request an instance sees of a token
//! goes uncounted. What an instance learned lives in its gate ([`FairUseMemory`], part of the
//! function's state): each function state (and each test's app) has its own.
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::OrgId;
use crate::store::{RateBudget, RateWindow};

/// Generous enough for an IdP's initial sync (Entra asks for at least 25 requests/s per tenant).
pub const DEFAULT_BUDGET: RateBudget = RateBudget { per_second: 50, burst: 200 };

/// Organizations whose budget an instance remembers; past it the memory starts over.
const REMEMBERED: usize = 10_000;

/// Valid tokens remembered per organization: the current and the previous static token during a
/// rotation's overlap, and OAuth access tokens, each counted in the organization's one counter.
const VALID_TOKENS: usize = 4;

/// The bucket every valid token of an organization counts in: one budget, however many valid
/// tokens the organization has at once.
pub const VALID_BUCKET: &str = "valid";

/// What this instance learned of an organization from its token checks.
#[derive(Debug, Clone)]
struct Known {
    budget: RateBudget,
    /// Buckets of the tokens that last passed the check (newest last): only a request presenting
    /// one of them is counted, so a refused request (a wrong token) writes nothing.
    valid: Vec<String>,
}

/// What this instance remembers of each organization's fair use: held by the gate, so by the
/// function's state, one per instance.
#[derive(Debug, Default)]
pub struct FairUseMemory(Mutex<HashMap<OrgId, Known>>);

impl FairUseMemory {
    /// The budget to count this request under before its read comes back, and the buckets of the
    /// organization's valid tokens this instance saw pass.
    pub fn remembered(&self, org: &OrgId) -> (RateBudget, Vec<String>) {
        self.0
            .lock()
            .ok()
            .and_then(|map| map.get(org).cloned())
            .map_or((DEFAULT_BUDGET, Vec::new()), |known| (known.budget, known.valid))
    }

    /// Remembers what a token check found: the budget read (the defaults when none is set), and
    /// whether the presented token's bucket passed (remembered) or failed (forgotten).
    pub fn remember(&self, org: &OrgId, budget: RateBudget, bucket: Option<&str>, passed: bool) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= REMEMBERED && !map.contains_key(org) {
            map.clear();
        }
        let known = map.entry(org.clone()).or_insert_with(|| Known { budget, valid: Vec::new() });
        known.budget = budget;
        if let Some(bucket) = bucket {
            known.valid.retain(|b| b != bucket);
            if passed {
                known.valid.push(bucket.to_owned());
                let excess = known.valid.len().saturating_sub(VALID_TOKENS);
                known.valid.drain(..excess);
            }
        }
    }
}

/// The window `now` falls in for `budget`, in `bucket`.
pub fn window(budget: RateBudget, bucket: String, now: DateTime<Utc>) -> RateWindow {
    let per_second = i64::from(budget.per_second.max(1));
    let length_ms = (i64::from(budget.burst.max(1)) * 1000 / per_second).max(1000);
    RateWindow { bucket, length_ms, index: now.timestamp_millis().div_euclid(length_ms) }
}

/// Whole seconds to wait before the window's budget is back: `None` when the request is within it.
pub fn over_budget(budget: RateBudget, window: &RateWindow, count: u64, now: DateTime<Utc>) -> Option<u64> {
    if count <= u64::from(budget.burst) {
        return None;
    }
    let wait_ms = (window.ends_at_ms() - now.timestamp_millis()).max(1);
    Some(u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().unwrap()
    }

    #[test]
    fn the_window_lasts_burst_over_rate_and_at_least_a_second() {
        let w = window(DEFAULT_BUDGET, "b".into(), at(10_500));
        assert_eq!((w.length_ms, w.index), (4000, 2));
        let w = window(RateBudget { per_second: 100, burst: 10 }, "b".into(), at(10_500));
        assert_eq!(w.length_ms, 1000);
    }

    #[test]
    fn the_burst_passes_and_the_next_request_waits_for_the_window_to_end() {
        let budget = RateBudget { per_second: 2, burst: 4 };
        let now = at(10_500);
        let w = window(budget, "b".into(), now);
        assert_eq!(over_budget(budget, &w, 4, now), None);
        // The window is [10 s, 12 s): 1.5 s left, rounded up.
        assert_eq!(over_budget(budget, &w, 5, now), Some(2));
        assert_eq!(over_budget(budget, &w, 5, at(11_999)), Some(1));
    }

    #[test]
    fn over_any_stretch_it_admits_at_most_twice_a_token_bucket() {
        // Requests as fast as admitted for 60 s: the fixed window admits burst per window.
        let budget = RateBudget { per_second: 5, burst: 20 };
        let mut admitted = Vec::new();
        let mut counts: HashMap<i64, u64> = HashMap::new();
        for ms in (0..60_000).step_by(10) {
            let w = window(budget, "b".into(), at(ms));
            let n = counts.entry(w.index).or_default();
            *n += 1;
            if over_budget(budget, &w, *n, at(ms)).is_none() {
                admitted.push(ms);
            }
        }
        for stretch_ms in [10, 1000, 4000, 10_000, 30_000] {
            let bucket_allows = f64::from(budget.burst) + f64::from(budget.per_second) * stretch_ms as f64 / 1000.0;
            let most = (0..60_000 - stretch_ms)
                .step_by(10)
                .map(|start| admitted.iter().filter(|t| **t >= start && **t < start + stretch_ms).count())
                .max()
                .unwrap_or(0);
            assert!(most as f64 <= 2.0 * bucket_allows, "{stretch_ms} ms: {most} > 2 × {bucket_allows}");
        }
        assert_eq!(admitted.len(), 15 * 20, "60 s = 15 windows of 4 s, 20 each: the sustained rate exactly");
    }

    #[test]
    fn a_budget_read_is_remembered_per_organization() {
        let memory = FairUseMemory::default();
        let org = OrgId::parse("fair-use-memory").unwrap();
        assert_eq!(memory.remembered(&org), (DEFAULT_BUDGET, Vec::new()));
        memory.remember(&org, RateBudget { per_second: 1, burst: 2 }, Some("b"), true);
        assert_eq!(memory.remembered(&org), (RateBudget { per_second: 1, burst: 2 }, vec!["b".to_owned()]));
        let other = OrgId::parse("fair-use-other").unwrap();
        assert_eq!(memory.remembered(&other), (DEFAULT_BUDGET, Vec::new()), "per organization");
        assert_eq!(FairUseMemory::default().remembered(&org), (DEFAULT_BUDGET, Vec::new()), "per instance");
    }

    #[test]
    fn two_valid_tokens_are_both_remembered_without_ping_pong() {
        let memory = FairUseMemory::default();
        let org = OrgId::parse("fair-use-two-tokens").unwrap();
        for _ in 0..3 {
            memory.remember(&org, DEFAULT_BUDGET, Some("old"), true);
            memory.remember(&org, DEFAULT_BUDGET, Some("new"), true);
        }
        assert_eq!(memory.remembered(&org).1, ["old", "new"]);
        // A wrong token changes nothing; a remembered one that fails is forgotten.
        memory.remember(&org, DEFAULT_BUDGET, Some("wrong"), false);
        assert_eq!(memory.remembered(&org).1, ["old", "new"]);
        memory.remember(&org, DEFAULT_BUDGET, Some("old"), false);
        assert_eq!(memory.remembered(&org).1, ["new"]);
        for bucket in ["a", "b", "c", "d", "e"] {
            memory.remember(&org, DEFAULT_BUDGET, Some(bucket), true);
        }
        assert_eq!(memory.remembered(&org).1, ["b", "c", "d", "e"], "at most four, the newest");
    }
}
