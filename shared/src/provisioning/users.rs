//! SCIM Users as Insomnia members: create or link by email (seat limit, welcome email), read,
//! replace and patch (reactivation included), delete, list.
use chrono::{DateTime, Utc};

use super::retry::{pause_after_conflict, WRITE_ATTEMPTS};
use super::{deletes, Caller, Expected, Provisioning, ProvisioningError};
use crate::auth::AuthorizedOrg;
use crate::domain::{
    Account, EmailAddress, LastAdminChange, ManagedBy, MemberRecord, MemberRole, OutboxItem, TeamRecord,
};
use crate::log::{LogSubject, MemberEvent, MemberEventKind, Operation};
use crate::notify::deliver;
use crate::scim::patch::PatchRequest;
use crate::scim::user::UserDocument;
use crate::store::{MemberConflict, MemberWriteError, MemberWriteExtras, Prefetch};
use crate::telemetry::Chain;

const KIND: &str = "user";

fn not_found(id: &str) -> ProvisioningError {
    ProvisioningError::NotFound { kind: KIND, id: id.to_owned() }
}

fn user_name_taken(user_name: &str) -> ProvisioningError {
    ProvisioningError::Taken(format!("A user with userName '{user_name}' already exists in this organization."))
}

fn being_deleted(what: &str) -> ProvisioningError {
    ProvisioningError::Taken(format!(
        "'{what}' is held by a user whose delete is still being completed. Retry the request in a few seconds."
    ))
}

/// A member with the teams it belongs to.
pub struct UserView {
    pub member: MemberRecord,
    pub teams: Vec<TeamRecord>,
}

/// How a PUT or PATCH changes a user.
pub enum UserChange {
    /// PUT: the whole document.
    Replace(UserDocument),
    /// PATCH: operations on the stored document.
    Patch(PatchRequest),
}

/// The member as the IdP's document now describes it (an inactive member frees its license; a
/// reactivated one takes one again, under the seat limit).
fn rewritten(old: &MemberRecord, doc: &UserDocument, now: DateTime<Utc>) -> MemberRecord {
    MemberRecord {
        managed_by: ManagedBy::Scim,
        user_name: doc.user_name().to_owned(),
        active: doc.active(),
        modified_at: now,
        version: old.next_version(),
        external_id: doc.external_id(),
        resource: Some(doc.to_stored()),
        lookups: doc.lookups(),
        ..old.clone()
    }
}

/// The member as its timeline compares it: its SCIM document (or, for a member added by hand,
/// what it has), with `active` and `userName` as recorded.
fn timeline_document(member: &MemberRecord) -> Option<serde_json::Value> {
    let mut doc = UserDocument::of_member(member).as_value().clone();
    if let serde_json::Value::Object(map) = &mut doc {
        map.insert("active".into(), serde_json::Value::Bool(member.active));
        map.insert("userName".into(), serde_json::Value::String(member.user_name.clone()));
    }
    Some(doc)
}

/// Tells the request log what a write did to the user (docs/ARCHITECTURE.md, "Request log").
fn describe_change(caller: &Caller, old: &MemberRecord, new: &MemberRecord) {
    let (before, after) = (timeline_document(old), timeline_document(new));
    let operation = match (old.active, new.active) {
        (true, false) => Operation::Deactivated,
        (false, true) => Operation::Reactivated,
        _ => Operation::Updated {
            attributes: crate::log::diff(&crate::log::Redactor::default(), before.as_ref(), after.as_ref())
                .into_iter()
                .map(|c| c.attribute)
                .collect(),
        },
    };
    caller.log.describe(LogSubject::user(&new.id, &new.user_name), operation);
    caller.log.member_events(vec![MemberEvent {
        member_id: new.id.clone(),
        user_name: new.user_name.clone(),
        kind: MemberEventKind::Changed { before, after },
    }]);
}

impl Provisioning<'_> {
    /// Creates the user, or links the member added by hand with the same account email; a brand-new
    /// account gets its welcome email after the response.
    pub async fn create_user(&self, caller: &Caller, doc: &UserDocument) -> Result<MemberRecord, ProvisioningError> {
        let email = doc.account_email()?;
        let user_name = doc.user_name().to_owned();
        for attempt in 0..WRITE_ATTEMPTS {
            let (org, found) = self.authorize_with(caller, &Prefetch::new_member(&user_name, &email)).await?;
            let (organization, _) = found
                .organization
                .ok_or_else(|| ProvisioningError::NotFound { kind: "organization", id: org.to_string() })?;
            let now = self.clock.now();
            if let Some(name_owner) = &found.user_name_owner {
                if found.email_owner.as_ref() != Some(name_owner) {
                    if self.finished_interrupted_delete(&org, name_owner).await? {
                        continue;
                    }
                    return Err(user_name_taken(&user_name));
                }
            }
            let (old, new, new_account) = match &found.email_owner {
                Some(owner) => {
                    let Some(existing) = self.store.member(&org, owner).await? else {
                        // The holder is being deleted: finish that delete, then create.
                        if self.finished_interrupted_delete(&org, owner).await? {
                            continue;
                        }
                        return Err(being_deleted(&email.to_string()));
                    };
                    if existing.managed_by == ManagedBy::Scim {
                        return Err(ProvisioningError::Taken(format!(
                            "A user with email '{email}' already exists in this organization (id {}).",
                            existing.id
                        )));
                    }
                    // Link the member added by hand: from now on the IdP manages it.
                    let linked = rewritten(&existing, doc, now);
                    (Some(existing), linked, None)
                }
                None => {
                    let member = MemberRecord {
                        id: uuid::Uuid::new_v4().to_string(),
                        email: email.clone(),
                        user_name: user_name.clone(),
                        role: MemberRole::Member,
                        managed_by: ManagedBy::Scim,
                        active: doc.active(),
                        created_at: now,
                        modified_at: now,
                        version: 1,
                        external_id: doc.external_id(),
                        resource: Some(doc.to_stored()),
                        lookups: doc.lookups(),
                    };
                    let account = found.account.is_none().then(|| Account::awaiting_welcome(email.clone(), now));
                    (None, member, account)
                }
            };
            // A user created inactive takes no licence and cannot sign in: its welcome (and initial
            // passphrase) waits until it first becomes active (`change_user`).
            let welcome = new_account
                .as_ref()
                .filter(|_| new.active)
                .map(|a| OutboxItem::welcome(&a.email, &org, &organization.name, now));
            let extras = MemberWriteExtras { new_account, welcome: welcome.clone() };
            match self.store.write_member(&org, old.as_ref(), &new, extras).await {
                Ok(()) => {
                    self.deliver_after_response(welcome);
                    let (operation, kind) = match &old {
                        Some(old) => (
                            Operation::Linked,
                            MemberEventKind::Linked { before: timeline_document(old), after: timeline_document(&new) },
                        ),
                        None => (Operation::Created, MemberEventKind::Created { document: timeline_document(&new) }),
                    };
                    caller.log.describe(LogSubject::user(&new.id, &new.user_name), operation);
                    let event = MemberEvent { member_id: new.id.clone(), user_name: new.user_name.clone(), kind };
                    caller.log.member_events(vec![event]);
                    return Ok(new);
                }
                Err(MemberWriteError::Conflict(MemberConflict::UserNameTaken)) => {
                    return Err(user_name_taken(&user_name))
                }
                Err(MemberWriteError::Conflict(MemberConflict::EmailTaken)) if old.is_none() => {
                    return Err(ProvisioningError::Taken(format!(
                        "A user with email '{email}' already exists in this organization."
                    )))
                }
                Err(MemberWriteError::Conflict(MemberConflict::SeatLimit)) => {
                    return Err(ProvisioningError::NoLicenses)
                }
                // Linking the last active admin as an inactive user.
                Err(MemberWriteError::Conflict(MemberConflict::LastAdmin)) => {
                    let refused = ProvisioningError::LastAdmin {
                        id: new.id,
                        email: new.email.to_string(),
                        refused: LastAdminChange::Deactivate,
                    };
                    return Err(self.told_owners(&org, refused));
                }
                // Someone wrote the same member or account meanwhile: read again.
                Err(MemberWriteError::Conflict(_)) => pause_after_conflict(attempt).await,
                Err(MemberWriteError::Store(err)) => return Err(err.into()),
            }
        }
        Err(ProvisioningError::Busy { kind: KIND })
    }

    /// Whether `holder` was a user being deleted (a DELETE cut off part way) whose delete this
    /// request has now finished, freeing its userName and email.
    async fn finished_interrupted_delete(&self, org: &AuthorizedOrg, holder: &str) -> Result<bool, ProvisioningError> {
        match self.store.member_state(org, holder).await? {
            Some(state) if state.deleting => {
                deletes::delete_user(
                    self.store,
                    org,
                    holder,
                    Some(state),
                    Vec::new(),
                    &Expected::Any,
                    self.clock.now(),
                )
                .await
                .map_err(|err| {
                    tracing::warn!(error = %crate::telemetry::Chain(&err), user = holder, "could not finish an interrupted delete");
                    being_deleted(holder)
                })?;
                Ok(true)
            }
            Some(_) => Ok(false),
            // Deleted meanwhile: the guard went with it.
            None => Ok(true),
        }
    }

    /// The user with its teams (read alongside the token check).
    pub async fn read_user(&self, caller: &Caller, id: &str) -> Result<UserView, ProvisioningError> {
        let (org, found) = self.authorize_with(caller, &Prefetch::member_with_teams(id)).await?;
        let member = found.member(id).cloned().ok_or_else(|| not_found(id))?;
        caller.log.describe(LogSubject::user(&member.id, &member.user_name), Operation::Read);
        let teams = if found.ids.is_empty() { Vec::new() } else { self.store.teams_by_ids(&org, &found.ids).await? };
        Ok(UserView { member, teams })
    }

    /// Replaces or patches the user, conditionally on the version read; after a lost race it reads
    /// again and re-applies the change, unless If-Match pinned the version.
    pub async fn change_user(
        &self,
        caller: &Caller,
        id: &str,
        expected: &Expected,
        change: &UserChange,
    ) -> Result<MemberRecord, ProvisioningError> {
        let (org, found) = self.authorize_with(caller, &Prefetch::member(id)).await?;
        let mut current = found.member(id).cloned();
        for attempt in 0..WRITE_ATTEMPTS {
            let old = current.take().ok_or_else(|| not_found(id))?;
            if !expected.allows(old.version) {
                return Err(ProvisioningError::Precondition { kind: KIND, current: old.version });
            }
            let now = self.clock.now();
            let doc = match change {
                UserChange::Replace(doc) => doc.clone(),
                UserChange::Patch(request) => {
                    let mut doc = UserDocument::of_member(&old);
                    let tolerances = doc.patch(&old.id, request)?;
                    tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
                    doc
                }
            };
            let new = rewritten(&old, &doc, now);
            // A change that changes nothing writes nothing: the version and lastModified stay
            // (RFC 7644 §3.5.2.1), and so does the ETag IdPs compare.
            if (MemberRecord { version: old.version, modified_at: old.modified_at, ..new.clone() }) == old {
                caller
                    .log
                    .describe(LogSubject::user(&old.id, &old.user_name), Operation::Updated { attributes: Vec::new() });
                return Ok(old);
            }
            let welcome = self.welcome_on_first_activation(&org, &old, &new, now).await?;
            let extras = MemberWriteExtras { new_account: None, welcome: welcome.clone() };
            match self.store.write_member(&org, Some(&old), &new, extras).await {
                Ok(()) => {
                    self.deliver_after_response(welcome);
                    describe_change(caller, &old, &new);
                    return Ok(new);
                }
                Err(MemberWriteError::Conflict(MemberConflict::UserNameTaken)) => {
                    return Err(user_name_taken(&new.user_name))
                }
                Err(MemberWriteError::Conflict(MemberConflict::SeatLimit)) => {
                    return Err(ProvisioningError::NoLicenses)
                }
                Err(MemberWriteError::Conflict(MemberConflict::LastAdmin)) => {
                    let refused = ProvisioningError::LastAdmin {
                        id: old.id,
                        email: old.email.to_string(),
                        refused: LastAdminChange::Deactivate,
                    };
                    return Err(self.told_owners(&org, refused));
                }
                Err(MemberWriteError::Conflict(_)) if expected.pinned() => {
                    return Err(ProvisioningError::ChangedMeanwhile { kind: KIND })
                }
                Err(MemberWriteError::Conflict(_)) => {
                    pause_after_conflict(attempt).await;
                    current = self.store.member(&org, id).await?;
                }
                Err(MemberWriteError::Store(err)) => return Err(err.into()),
            }
        }
        Err(ProvisioningError::Busy { kind: KIND })
    }

    /// The welcome of an account created with its user inactive, when that user becomes active for
    /// the first time: the account still waits for its welcome (`welcome_pending`; delivery clears
    /// it, so a welcome queued twice is sent once). Read only on an inactive → active change.
    async fn welcome_on_first_activation(
        &self,
        org: &AuthorizedOrg,
        old: &MemberRecord,
        new: &MemberRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<OutboxItem>, ProvisioningError> {
        if old.active || !new.active {
            return Ok(None);
        }
        let (account, organization) = tokio::try_join!(self.store.account(&new.email), self.store.organization(org))?;
        Ok(match (account, organization) {
            (Some(account), Some((organization, _))) if account.welcome_pending => {
                Some(OutboxItem::welcome(&account.email, org, &organization.name, now))
            }
            _ => None,
        })
    }

    /// Sends `welcome` after the response; the outbox keeps it until it is sent.
    fn deliver_after_response(&self, welcome: Option<OutboxItem>) {
        let Some(item) = welcome else { return };
        let (store, mailer, key, now) =
            (self.store.clone(), self.mailer.clone(), self.token_key.clone(), self.clock.now());
        self.background.spawn_after_response(async move {
            let outcome = deliver(&store, &mailer, &key, item, now).await;
            crate::metrics::email_outcome(&outcome).emit(now.timestamp_millis());
        });
    }

    /// Deletes the user (docs/ARCHITECTURE.md, "Deletes").
    pub async fn delete_user(&self, caller: &Caller, id: &str, expected: &Expected) -> Result<(), ProvisioningError> {
        // The user's teams are looked up at the same time as the token check and the user.
        let (org, mut found) = self.authorize_with(caller, &Prefetch::member_with_teams(id)).await?;
        let first = found.take_member_state(id);
        let user_name = first.as_ref().map_or_else(|| id.to_owned(), |s| s.member.user_name.clone());
        let team_ids = std::mem::take(&mut found.ids);
        deletes::delete_user(self.store, &org, id, first, team_ids, expected, self.clock.now())
            .await
            .map_err(|err| self.told_owners(&org, err))?;
        caller.log.describe(LogSubject::user(id, &user_name), Operation::Deleted);
        let event = MemberEvent { member_id: id.to_owned(), user_name, kind: MemberEventKind::Deleted };
        caller.log.member_events(vec![event]);
        Ok(())
    }

    /// Emails the owners, after the response, when the IdP was refused on the last active Owner
    /// or Co-Owner (once per member and day: an IdP retries the refused change every cycle).
    /// Answers the error as it came.
    fn told_owners(&self, org: &AuthorizedOrg, err: ProvisioningError) -> ProvisioningError {
        let ProvisioningError::LastAdmin { id, email, refused } = &err else { return err };
        let Ok(email) = EmailAddress::parse(email) else { return err };
        let (store, mailer, key, now) =
            (self.store.clone(), self.mailer.clone(), self.token_key.clone(), self.clock.now());
        let (org, id, refused) = (org.clone(), id.clone(), *refused);
        self.background.spawn_after_response(async move {
            let read = tokio::try_join!(store.organization_admins(&org), store.organization(&org));
            let (admins, organization) = match read {
                Ok((admins, Some((organization, _)))) => (admins, organization),
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(error = %Chain(&err), "the owners could not be told of a refused change to the last admin");
                    return;
                }
            };
            let recipients = admins.into_iter().filter(MemberRecord::is_active_admin).map(|a| a.email).collect();
            let item = OutboxItem::last_admin_kept(recipients, &org, &organization.name, &email, refused, now);
            let notice = format!("last-admin#{id}#{}", now.date_naive());
            match store.enqueue_email_once(&org, &notice, now + crate::lifetimes::ONE_OFF_NOTICE_KEPT, &item).await {
                Ok(true) => {
                    let outcome = deliver(&store, &mailer, &key, item, now).await;
                    crate::metrics::email_outcome(&outcome).emit(now.timestamp_millis());
                }
                // Queued already today.
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %Chain(&err), "the owners could not be told of a refused change to the last admin")
                }
            }
        });
        err
    }
}
