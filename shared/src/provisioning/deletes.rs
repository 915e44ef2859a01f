//! Deleting a user or a team so that a lost race changes nothing and a crash part way leaves a
//! state the retried DELETE completes (docs/ARCHITECTURE.md, "Deletes").
//!
//! Both go in three steps. First the version-checked mark (the If-Match check holds against any
//! concurrent writer, and a lost race has changed nothing): from then on no read shows the
//! resource, no write succeeds, and no membership can be added to it. Then the memberships go,
//! each with both counters in its transaction. Last the resource itself, with its guards and
//! counters: a user only once its own membership counter is zero, so no membership outlives it
//! even when the user-to-team index (GSI1, eventually consistent) lags.
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::retry::{pause_after_conflict, WRITE_ATTEMPTS};
use super::{Expected, ProvisioningError};
use crate::auth::AuthorizedOrg;
use crate::domain::LastAdminChange;
use crate::retry::Backoff;
use crate::store::{
    MemberConflict, MemberRecord, MemberState, MemberWriteError, Store, TeamGuard, TeamRecord, TeamState,
    TeamWriteError,
};

/// Memberships read per round of a team's delete.
const TEAM_SWEEP_PAGE: usize = 490;
/// How long one request spends removing a team's memberships before it answers that the delete is
/// unfinished (the retried DELETE goes on), well inside the function's timeout.
const TEAM_SWEEP_BUDGET: Duration = Duration::from_secs(20);

/// Deletes user `id`. `first` is the user as the token check's BatchGetItem read it, and
/// `first_teams` the user's teams as the index showed them at the same time.
pub async fn delete_user(
    store: &Store,
    org: &AuthorizedOrg,
    id: &str,
    first: Option<MemberState>,
    first_teams: Vec<String>,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let not_found = || ProvisioningError::NotFound { kind: "user", id: id.to_owned() };
    let mut state = first;
    let mut teams = Some(first_teams);
    for attempt in 0..WRITE_ATTEMPTS {
        let current = state.take().ok_or_else(not_found)?;
        if current.deleting {
            // An earlier DELETE was decided and marked it: finish that one, whatever If-Match says.
            return finish_user_delete(store, org, &current.member, teams, now).await;
        }
        if !expected.allows(current.member.version) {
            return Err(ProvisioningError::Precondition { kind: "user", current: current.member.version });
        }
        let known_teams = match teams.take() {
            Some(teams) => teams,
            None => store.user_team_ids(org, id).await?,
        };
        // A user in no team (its own counter says so, read consistently) goes in one transaction.
        let outcome = if known_teams.is_empty() && current.team_count <= 0 {
            store.delete_member_without_teams(org, &current.member).await.map(|()| true)
        } else {
            store.mark_member_deleting(org, &current.member, now).await.map(|()| false)
        };
        match outcome {
            Ok(true) => return Ok(()),
            Ok(false) => return finish_user_delete(store, org, &current.member, Some(known_teams), now).await,
            Err(MemberWriteError::Conflict(MemberConflict::LastAdmin)) => {
                return Err(ProvisioningError::LastAdmin {
                    id: current.member.id.clone(),
                    email: current.member.email.to_string(),
                    refused: LastAdminChange::Delete,
                })
            }
            // Changed meanwhile (or joined a team): read again; If-Match is checked again.
            Err(MemberWriteError::Conflict(_)) => {
                pause_after_conflict(attempt).await;
                state = store.member_state(org, id).await?;
            }
            Err(MemberWriteError::Store(err)) => return Err(err.into()),
        }
    }
    Err(ProvisioningError::Busy { kind: "user" })
}

/// Removes a marked user's memberships, then the user.
async fn finish_user_delete(
    store: &Store,
    org: &AuthorizedOrg,
    marked: &MemberRecord,
    known_teams: Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let mut known_teams = known_teams;
    // Rounds of "remove what the index shows, then try to finish": it normally catches up at once.
    for round in 0..Backoff::INDEX_LAG.attempts {
        let teams = match known_teams.take() {
            Some(teams) => teams,
            None => store.user_team_ids(org, &marked.id).await.map_err(|e| unfinished("user", &marked.id, &e))?,
        };
        let unfinished = |cause: &(dyn std::error::Error + 'static)| unfinished("user", &marked.id, cause);
        store.remove_user_from_teams(org, &marked.id, &teams, now).await.map_err(|e| unfinished(&e))?;
        match store.finish_member_delete(org, marked).await {
            Ok(()) => return Ok(()),
            Err(MemberWriteError::Conflict(_)) => match store.member_state(org, &marked.id).await {
                // A concurrent DELETE finished it.
                Ok(None) => return Ok(()),
                // Memberships the index does not show yet: give it a moment.
                Ok(Some(_)) => Backoff::INDEX_LAG.pause(round).await,
                Err(err) => return Err(unfinished(&err)),
            },
            Err(MemberWriteError::Store(err)) => return Err(unfinished(&err)),
        }
    }
    Err(ProvisioningError::Unfinished {
        kind: "user",
        what: "it still holds team memberships that are being removed".to_owned(),
    })
}

/// Deletes team `id`. `first` is the team as it was read last (by the token check's BatchGetItem).
pub async fn delete_team(
    store: &Store,
    org: &AuthorizedOrg,
    id: &str,
    first: Option<TeamState>,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let not_found = || ProvisioningError::NotFound { kind: "group", id: id.to_owned() };
    let mut state = first;
    for attempt in 0..WRITE_ATTEMPTS {
        let current = state.take().ok_or_else(not_found)?;
        if !current.deleting {
            if !expected.allows(current.team.version) {
                return Err(ProvisioningError::Precondition { kind: "group", current: current.team.version });
            }
            match store.mark_team_deleting(org, &current.team, now).await {
                Ok(()) => {}
                Err(TeamWriteError::Changed) => {
                    pause_after_conflict(attempt).await;
                    state = store.team_state(org, id).await?;
                    continue;
                }
                Err(TeamWriteError::Missing) => return Err(not_found()),
                Err(TeamWriteError::Store(err)) => return Err(err.into()),
                Err(_) => return Err(ProvisioningError::Busy { kind: "group" }),
            }
        }
        return finish_team_delete(store, org, &current.team, now).await;
    }
    Err(ProvisioningError::Busy { kind: "group" })
}

/// Removes a marked team's memberships (each transaction moving the team's and the members'
/// counters), then the team with its name guard and lookup.
async fn finish_team_delete(
    store: &Store,
    org: &AuthorizedOrg,
    marked: &TeamRecord,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let started = Instant::now();
    let unfinished = |cause: &(dyn std::error::Error + 'static)| unfinished("group", &marked.id, cause);
    loop {
        // The team's partition, read consistently: no member can be added any more.
        let user_ids = store.team_member_ids(org, &marked.id, 0, TEAM_SWEEP_PAGE).await.map_err(|e| unfinished(&e))?;
        if user_ids.is_empty() {
            break;
        }
        if started.elapsed() > TEAM_SWEEP_BUDGET {
            return Err(ProvisioningError::Unfinished {
                kind: "group",
                what: "its members are still being removed".to_owned(),
            });
        }
        match store.remove_team_members(org, &marked.id, &user_ids, TeamGuard::Sweep, now).await {
            Ok(_) | Err(TeamWriteError::Missing) => {}
            Err(err) => return Err(unfinished(&err)),
        }
    }
    match store.finish_team_delete(org, marked).await {
        Ok(()) | Err(TeamWriteError::Missing) => Ok(()),
        Err(err) => Err(unfinished(&err)),
    }
}

/// A fault after the mark: the delete holds and the retried DELETE finishes it, so the caller is
/// told to retry (503), and the cause is logged for operators.
fn unfinished(kind: &'static str, id: &str, cause: &(dyn std::error::Error + 'static)) -> ProvisioningError {
    tracing::error!(error = %crate::telemetry::Chain(cause), kind, id, "delete interrupted after its first step; a retry finishes it");
    ProvisioningError::Unfinished { kind, what: "it was interrupted part way".to_owned() }
}
