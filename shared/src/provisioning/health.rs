//! Connector health as the request log is written and as the scheduler visits (docs/ARCHITECTURE.md,
//! "Connector health"): each write pass of the log adds its counts to the organization's health
//! item (one UpdateItem, returned as it is now), the state is evaluated from it, and a change of
//! state is stored with a condition on the state it moves from, the owners' email queued in the
//! same transaction: one email per transition, whichever writer sees it first.
use chrono::{DateTime, Utc};

use crate::auth::AuthorizedOrg;
use crate::domain::health::{reason, Health, HealthDelta, HealthKind, Outcome, RefusedCredential};
use crate::domain::{IdentityProvider, OrgId, OutboxItem};
use crate::lifetimes;
use crate::store::{RequestLogRecord, Store, StoreError, StoredHealth};

/// The IdP as people write it.
pub fn idp_name(idp: Option<IdentityProvider>) -> &'static str {
    match idp {
        Some(IdentityProvider::Okta) => "Okta",
        Some(IdentityProvider::Azure) => "Microsoft Entra ID",
        None => "Your identity provider",
    }
}

/// A state change that was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMove {
    pub org: OrgId,
    pub from: Option<HealthKind>,
    pub to: HealthKind,
    /// Whether the owners' email was queued with it.
    pub emailed: bool,
}

/// What one write pass adds, per organization.
pub fn deltas(records: &[RequestLogRecord]) -> Vec<(OrgId, HealthDelta)> {
    let mut deltas: Vec<(OrgId, HealthDelta)> = Vec::new();
    for record in records {
        let outcome = Outcome::of(record.status, record.authenticated, record.refused);
        let why = reason(record.status, record.scim_type.as_deref());
        let delta = match deltas.iter().position(|(org, _)| *org == record.org) {
            Some(at) => deltas.get_mut(at).map(|(_, delta)| delta),
            None => {
                deltas.push((record.org.clone(), HealthDelta::default()));
                deltas.last_mut().map(|(_, delta)| delta)
            }
        };
        if let Some(delta) = delta {
            delta.add(record.at, outcome, Some(why));
        }
    }
    deltas
}

/// Folds one write pass into each organization's health and settles its state; one
/// organization's failure does not keep the others' counts from being written.
pub async fn record_pass(
    store: &Store,
    records: &[RequestLogRecord],
    now: DateTime<Utc>,
) -> (Vec<HealthMove>, Vec<(OrgId, StoreError)>) {
    let mut moves = Vec::new();
    let mut failures = Vec::new();
    for (org, delta) in deltas(records) {
        match record_org(store, &org, &delta, now).await {
            Ok(moved) => moves.extend(moved),
            Err(err) => failures.push((org, err)),
        }
    }
    (moves, failures)
}

async fn record_org(
    store: &Store,
    org: &OrgId,
    delta: &HealthDelta,
    now: DateTime<Utc>,
) -> Result<Option<HealthMove>, StoreError> {
    let stored = store.record_health(org, delta, now).await?;
    if stored.created {
        store.enrol_health(org).await?;
    }
    settle(store, org, stored, now, true).await
}

/// The scheduler's visit: every enrolled organization's state as of `now` (quiet and recovery
/// by time have no request to notice them).
pub async fn settle_all(store: &Store, now: DateTime<Utc>) -> Result<HealthRound, StoreError> {
    let mut moves = Vec::new();
    let mut failures = Vec::new();
    let orgs = store.health_roster().await?;
    for org in orgs {
        let visited = match store.health(&org).await {
            Ok(Some(stored)) => settle(store, &org, stored, now, false).await,
            Ok(None) => Ok(None),
            Err(err) => Err(err),
        };
        match visited {
            Ok(moved) => moves.extend(moved),
            Err(err) => failures.push((org, err)),
        }
    }
    Ok(HealthRound { moves, failures })
}

/// What a scheduler round did: the state changes, and the organizations it could not settle.
#[derive(Debug, Default)]
pub struct HealthRound {
    pub moves: Vec<HealthMove>,
    pub failures: Vec<(OrgId, StoreError)>,
}

/// Evaluates `stored` at `now` and stores a change of state. `learn`: the item was just written
/// by a log pass, so its last two calls are a fresh cycle sample.
async fn settle(
    store: &Store,
    org: &OrgId,
    mut stored: StoredHealth,
    now: DateTime<Utc>,
    learn: bool,
) -> Result<Option<HealthMove>, StoreError> {
    let cycle = if learn { stored.record.learned_cycle() } else { None };
    store.tidy_health(org, &stored, cycle, now).await?;
    if cycle.is_some() {
        stored.record.cycle_secs = cycle;
    }
    let health = stored.record.evaluate(now);
    let to = health.kind();
    let from = stored.record.state;
    if from == Some(to) {
        return Ok(None);
    }
    let mut email = None;
    if to.is_unhealthy() {
        // A connector turned off is no trouble to report (its IdP may call on, or stop).
        let Some(settings) = store.scim_settings(org).await?.filter(|s| s.enabled) else {
            return Ok(None);
        };
        // An expired token has its own notice at expiry (the token scheduler's): not emailed twice.
        let told_already =
            matches!(health, Health::FailingCredentials { credential: RefusedCredential::Expired { .. }, .. });
        let email_due = stored.record.last_email_at.is_none_or(|at| now - at >= lifetimes::HEALTH_EMAIL_INTERVAL);
        if email_due && !told_already {
            email = owners_email(store, org, &health, idp_name(Some(settings.idp)), now).await?;
        }
    }
    if !store.move_health(org, from, to, now, email.as_ref()).await? {
        return Ok(None);
    }
    tracing::info!(org = %org, from = from.map(|k| k.as_str()).unwrap_or("none"), to = to.as_str(), emailed = email.is_some(), "connector health changed");
    Ok(Some(HealthMove { org: org.clone(), from, to, emailed: email.is_some() }))
}

/// The email to the organization's active owners and co-owners, none when it has none.
async fn owners_email(
    store: &Store,
    org: &OrgId,
    health: &Health,
    idp: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxItem>, StoreError> {
    // Acting for the organization as the service itself, as the scheduler does.
    let scope = AuthorizedOrg::for_operator(org.clone());
    let (organization, admins, budget) =
        tokio::try_join!(store.organization(&scope), store.organization_admins(&scope), store.rate_budget(&scope),)?;
    let recipients: Vec<_> = admins.into_iter().filter(|m| m.active && m.role.is_admin()).map(|m| m.email).collect();
    let Some((organization, _)) = organization.filter(|_| !recipients.is_empty()) else {
        return Ok(None);
    };
    let budget = budget.unwrap_or(super::fair_use::DEFAULT_BUDGET);
    Ok(Some(OutboxItem::connector_health(
        recipients,
        org,
        &organization.name,
        health.kind().as_str(),
        health.headline(idp),
        health.advice(idp, (budget.per_second, budget.burst)),
        now,
    )))
}
