//! The one place where a passphrase is required (docs/ARCHITECTURE.md, "Tokens: rotation, revoke,
//! OAuth"): every change that issues a credential (enable, refresh, the OAuth client and its
//! secret) or stops provisioning (disable, revoke, deleting the OAuth client) takes a
//! `ConfirmedByPassphrase`, and only
//! `Console::confirm_passphrase` makes one: after the caller's role and passphrase are checked.
//! So no handler can reach those use cases without the passphrase, as `AuthorizedOrg` does for
//! tenant scope.
use super::accounts::{bounded, verify_off_runtime};
use super::authz::OrgCaller;
use super::{AdminError, Console};
use crate::auth::AuthorizedOrg;
use crate::domain::{EmailAddress, MemberRecord};
use crate::store::{GuardedAction, ScimHistoryAction, ScimHistoryEntry};

/// An Owner or Co-Owner who has just given their own passphrase for `action`. Its fields are
/// private and it has no public constructor: the guarded use cases require one as an argument.
#[derive(Debug)]
pub struct ConfirmedByPassphrase {
    caller: OrgCaller,
    admin: MemberRecord,
    action: GuardedAction,
}

impl ConfirmedByPassphrase {
    pub fn caller(&self) -> &OrgCaller {
        &self.caller
    }

    pub fn org(&self) -> &AuthorizedOrg {
        &self.caller.org
    }

    /// The confirmed person, an active Owner or Co-Owner of the organization.
    pub fn email(&self) -> &EmailAddress {
        &self.admin.email
    }

    pub fn action(&self) -> GuardedAction {
        self.action
    }
}

impl Console {
    /// Checks the caller's role, then their passphrase for `action`. Failures are counted per
    /// session (see `throttle`: not the sign-in counters, which anybody can fill with failed
    /// sign-ins), a wrong passphrase is recorded in the SCIM history (who, when, which action;
    /// never the attempt) and changes nothing.
    pub async fn confirm_passphrase(
        &self,
        caller: OrgCaller,
        passphrase: &str,
        action: GuardedAction,
    ) -> Result<ConfirmedByPassphrase, AdminError> {
        let admin = caller.require_admin()?.clone();
        if passphrase.is_empty() {
            return Err(AdminError::InvalidRequest(format!("`passphrase` is required to {}.", action.describe())));
        }
        bounded(passphrase, "passphrase")?;
        let counters = self.confirm_counters(&caller.session);
        self.count_confirmation(&counters).await?;
        let email = &caller.session.record.account_email;
        let account = self.store.account(email).await?.ok_or(AdminError::SessionInvalid)?;
        if !verify_off_runtime(passphrase, account.passphrase_hash).await? {
            let mut entry = ScimHistoryEntry::new(ScimHistoryAction::PassphraseRefused, Some(email.clone()), self.now);
            entry.attempted = Some(action);
            if let Err(err) = self.store.append_scim_history(&caller.org, &entry).await {
                tracing::warn!(org = %caller.org, error = %crate::telemetry::Chain(&err), "recording a refused passphrase in the history failed");
            }
            tracing::info!(org = %caller.org, action = action.describe(), "passphrase refused for a guarded change");
            return Err(AdminError::WrongPassphrase);
        }
        self.give_back_attempt(&counters).await;
        Ok(ConfirmedByPassphrase { caller, admin, action })
    }
}
