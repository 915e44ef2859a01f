//! The token check as a gate (docs/ARCHITECTURE.md, "The token check"): every SCIM use case passes
//! it first, in the same read as its first data. The gate is owned by the function's state and
//! holds what an instance remembers between requests (fair use, last use); the decision itself is
//! the pure [`decide`](super::decision::decide).
use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::decision::{decide, recognise_refused, Decision};
use super::fair_use::{self, FairUseMemory};
use super::last_use::LastUseMemory;
use super::{Provisioning, ProvisioningError};
use crate::auth::{AuthError, AuthorizedOrg, PresentedToken};
use crate::domain::{OrgId, ScimSettings};
use crate::log::LogSlot;
use crate::store::{Prefetch, Prefetched, RateBudget, RateWindow};

/// The caller of an organization's connector: the organization in the URL and the bearer token
/// presented (checked by the gate, not yet here).
#[derive(Clone)]
pub struct Caller {
    pub org: OrgId,
    pub token: Result<PresentedToken, AuthError>,
    /// What the request log learns as the request goes (the organization, tolerances applied).
    pub log: LogSlot,
}

/// What one instance remembers across token checks: which tokens passed and each organization's
/// fair-use budget, and when each credential's use was last written. One per function state.
#[derive(Debug, Default)]
pub struct Gate {
    fair_use: FairUseMemory,
    last_use: LastUseMemory,
}

/// How a request is counted for fair use, settled before the read (the count rides it).
struct Counting {
    /// The budget this instance last read for the organization (the defaults before it read one).
    budget: RateBudget,
    /// The presented token's fair-use bucket (none: no token).
    bucket: Option<String>,
    /// The window counted in: only for a token this instance saw pass.
    window: Option<RateWindow>,
}

impl Gate {
    /// The fair-use count rides the token check's read (docs/ARCHITECTURE.md, "Fair use"), for a
    /// request presenting a token this instance saw pass; all valid tokens share one counter.
    fn counting(&self, org: &OrgId, bucket: Option<String>, now: DateTime<Utc>) -> Counting {
        let (budget, known) = self.fair_use.remembered(org);
        let window = bucket
            .as_ref()
            .filter(|bucket| known.contains(bucket))
            .map(|_| fair_use::window(budget, fair_use::VALID_BUCKET.to_owned(), now));
        Counting { budget, bucket, window }
    }
}

impl Provisioning<'_> {
    /// Checks the caller's token (one read of the SCIM settings).
    pub async fn authorize(&self, caller: &Caller) -> Result<AuthorizedOrg, ProvisioningError> {
        self.authorize_with(caller, &Prefetch::default()).await.map(|(org, _)| org)
    }

    /// Checks the caller's token while reading `prefetch` in the same BatchGetItem, so the check
    /// costs no round trip of its own.
    pub(super) async fn authorize_with(
        &self,
        caller: &Caller,
        prefetch: &Prefetch,
    ) -> Result<(AuthorizedOrg, Prefetched), ProvisioningError> {
        let presented = caller.token.as_ref().ok();
        let counting =
            self.gate.counting(&caller.org, presented.map(|token| self.token_key.bucket(token)), self.clock.now());
        // An OAuth access token's grant is read under its keyed hash in the same BatchGetItem.
        let prefetch = match presented.and_then(|token| self.token_key.access_token_hash(token)) {
            Some(hash) => Cow::Owned(prefetch.clone().with_access_token(hash)),
            None => Cow::Borrowed(prefetch),
        };
        let (settings, mut found) =
            self.store.scim_settings_counted(&caller.org, &prefetch, counting.window.as_ref()).await?;
        if settings.is_some() {
            note_organization(caller);
        }
        let token = caller.token.as_ref().map_err(|err| ProvisioningError::Auth(*err))?;
        let now = self.clock.now();
        let decision =
            decide(settings.as_ref(), found.access_grant.as_ref(), &self.token_key.presented_hash(token), now);
        self.remember(caller, settings.as_ref(), &counting, found.rate_budget, &decision, now);
        if let Err(refusal) = decision {
            // Connector health tells the organization's own credentials from strangers'.
            let hash = self.token_key.presented_hash(token);
            let refused = recognise_refused(settings.as_ref(), found.access_grant.as_ref(), &hash, refusal, now);
            caller.log.update(|note| note.refused = refused);
        }
        decision?;
        caller.log.update(|note| note.authenticated = true);
        // Judged only once the token is valid: a wrong token never learns or spends the budget.
        if let (Some(window), Some(count)) = (counting.window, found.rate_count.take()) {
            match count {
                Ok(count) => {
                    let budget = counting.budget;
                    if let Some(retry_after) = fair_use::over_budget(budget, &window, count, self.clock.now()) {
                        return Err(ProvisioningError::OverBudget {
                            retry_after,
                            per_second: budget.per_second,
                            burst: budget.burst,
                        });
                    }
                }
                // Fair use is no reason to fail a request: an uncounted one goes through.
                Err(err) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), "fair-use count failed; request let through")
                }
            }
        }
        Ok((AuthorizedOrg::checked(caller.org.clone()), found))
    }

    /// What the gate keeps of a decision. The token that passed is remembered; a remembered one is
    /// forgotten once it fails (disabled, expired, replaced, revoked), so its requests stop being
    /// counted. Another wrong token changes nothing. A credential that passed has its use noted.
    fn remember(
        &self,
        caller: &Caller,
        settings: Option<&ScimSettings>,
        counting: &Counting,
        budget_read: Option<RateBudget>,
        decision: &Decision,
        now: DateTime<Utc>,
    ) {
        let budget = budget_read.unwrap_or(fair_use::DEFAULT_BUDGET);
        self.gate.fair_use.remember(&caller.org, budget, counting.bucket.as_deref(), decision.is_ok());
        if let (Ok(credential), Some(settings)) = (decision, settings) {
            self.gate.last_use.note(self.store, self.background, &caller.org, settings, credential, now);
        }
    }
}

/// Only an organization with SCIM settings has a request log; the request's span
/// (`api::request_log`) learns the organization when its log record does.
fn note_organization(caller: &Caller) {
    let org = caller.org.clone();
    caller.log.update(|note| note.org = Some(org));
    tracing::Span::current().record("org", caller.org.as_str());
}
