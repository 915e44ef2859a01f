//! Accounts in the console: sign-in and sign-out, passphrase change, passphrase reset by email.
use chrono::{DateTime, Utc};
use rand::seq::IndexedRandom;
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use super::session::{Session, SessionToken};
use super::{AdminError, Console};
use crate::auth::{
    check_passphrase_strength, hash_passphrase_async, initial_credential_matches, verify_passphrase_async,
};
use crate::domain::{Account, EmailAddress};
use crate::lifetimes;
use crate::notify::passphrase_reset_message;
use crate::store::{ResetCodeRecord, SessionRecord, StoreError};

/// Wrong codes tried against one reset before it is deleted.
const RESET_CODE_FAILURES: u32 = 5;
/// No 0/O or 1/I/L: easy to read from an email and type. 10 characters ≈ 50 bits.
const RESET_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const RESET_CODE_LEN: usize = 10;
/// Longer inputs are refused before any hashing work.
const MAX_PASSPHRASE_INPUT: usize = 1024;

/// What a credentials check does with a right initial passphrase: a sign-in spends it (its
/// session can only choose a passphrase); an OAuth approval refuses it unspent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitialPassphrase {
    Spend,
    Refuse,
}

/// A successful sign-in: the session token is shown here only.
#[derive(Debug)]
pub struct SignIn {
    pub token: SessionToken,
    pub email: EmailAddress,
    pub expires_at: DateTime<Utc>,
    pub must_change_passphrase: bool,
}

fn parse_email(raw: &str) -> Result<EmailAddress, AdminError> {
    EmailAddress::parse(raw).map_err(|err| AdminError::InvalidRequest(format!("`email`: {err}.")))
}

pub(super) fn bounded(passphrase: &str, field: &str) -> Result<(), AdminError> {
    if passphrase.len() > MAX_PASSPHRASE_INPUT {
        return Err(AdminError::InvalidRequest(format!("`{field}` is longer than {MAX_PASSPHRASE_INPUT} bytes.")));
    }
    Ok(())
}

/// Argon2id costs tens of milliseconds of CPU and ~19 MiB: the auth module's gate runs it off the
/// async workers, a bounded number at once.
async fn hash_off_runtime(passphrase: &str) -> Result<String, AdminError> {
    Ok(hash_passphrase_async(passphrase.to_owned()).await?)
}

/// Checks a passphrase against a stored hash; without one (unknown account, or a welcome not yet
/// delivered) a dummy hash is checked, so both answers take the same time.
pub(super) async fn verify_off_runtime(passphrase: &str, stored: Option<String>) -> Result<bool, AdminError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (DUMMY.get_or_try_init(|| hash_off_runtime("timing equaliser passphrase")).await?.clone(), false),
    };
    let verified = verify_passphrase_async(passphrase.to_owned(), hash).await?;
    Ok(real && verified)
}

/// Upper case, without the separators people type or copy along.
fn normalize_code(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase()
}

fn generate_code() -> String {
    let mut rng = rand::rng();
    let code: String =
        (0..RESET_CODE_LEN).filter_map(|_| RESET_ALPHABET.choose(&mut rng).map(|b| char::from(*b))).collect();
    // Shown as two groups of five.
    let (head, tail) = code.split_at(RESET_CODE_LEN / 2);
    format!("{head}-{tail}")
}

impl Console {
    fn reset_code_hash(&self, email: &EmailAddress, normalized_code: &str) -> String {
        // Bound to the account: a code is worth nothing for another email.
        self.key.hash(&format!("reset:{}:{normalized_code}", email.normalized()))
    }

    /// Signs in with email and passphrase. Unknown email and wrong passphrase answer alike, after
    /// the same work; failures are counted per account and per source (see `throttle`).
    pub async fn sign_in(&self, email: &str, passphrase: &str, source: &str) -> Result<SignIn, AdminError> {
        let account = self.check_credentials(email, passphrase, source, InitialPassphrase::Spend).await?;
        let token = SessionToken::generate();
        let record = SessionRecord {
            account_email: account.email.clone(),
            created_at: self.now,
            expires_at: self.now + lifetimes::SESSION,
            must_change_passphrase: account.must_change_passphrase,
        };
        self.store.put_session(&token.hash(&self.key), &record).await?;
        tracing::info!(must_change = record.must_change_passphrase, "console sign-in");
        Ok(SignIn {
            token,
            email: account.email,
            expires_at: record.expires_at,
            must_change_passphrase: record.must_change_passphrase,
        })
    }

    /// The person's own passphrase, for approving an OAuth connection (throttled and checked like a
    /// sign-in; no session is made). An account that has not chosen a passphrase yet is refused,
    /// and its initial passphrase is not spent on it.
    pub async fn verify_passphrase_holder(
        &self,
        email: &str,
        passphrase: &str,
        source: &str,
    ) -> Result<EmailAddress, AdminError> {
        let account = self.check_credentials(email, passphrase, source, InitialPassphrase::Refuse).await?;
        if account.must_change_passphrase {
            return Err(AdminError::PassphraseChangeRequired);
        }
        Ok(account.email)
    }

    /// Email and passphrase, counted per account and per source (see `throttle`): the account.
    async fn check_credentials(
        &self,
        email: &str,
        passphrase: &str,
        source: &str,
        initial: InitialPassphrase,
    ) -> Result<Account, AdminError> {
        let email = parse_email(email)?;
        bounded(passphrase, "passphrase")?;
        let counters = self.sign_in_counters(&email, source);
        self.count_attempt(&counters).await?;
        let account = self.store.account(&email).await?;
        let used_initial = match &account {
            Some(account) => self.initial_credential_sign_in(account, passphrase, initial).await?,
            None => false,
        };
        if !used_initial {
            let stored = account.as_ref().and_then(|a| a.passphrase_hash.clone());
            if !verify_off_runtime(passphrase, stored).await? {
                return Err(AdminError::InvalidCredentials);
            }
        }
        let account = account.ok_or(AdminError::InvalidCredentials)?;
        self.give_back_attempt(&counters).await;
        Ok(account)
    }

    /// Whether `presented` is the account's emailed initial passphrase, spending it if so. It is
    /// checked by keyed hash first: only its holder skips the Argon2id check (no timing tells
    /// anyone else anything). Right but used or expired is said as such, to its holder.
    async fn initial_credential_sign_in(
        &self,
        account: &Account,
        presented: &str,
        initial: InitialPassphrase,
    ) -> Result<bool, AdminError> {
        let Some(hash) = account.initial_credential_hash.as_deref() else {
            return Ok(false);
        };
        if !initial_credential_matches(&self.key, &account.email, presented, hash) {
            return Ok(false);
        }
        if initial == InitialPassphrase::Refuse {
            return Err(AdminError::PassphraseChangeRequired);
        }
        if account.initial_credential_used_at.is_some() {
            return Err(AdminError::InitialPassphraseSpent("was already used"));
        }
        if account.initial_credential_expires_at.is_none_or(|expires_at| expires_at <= self.now) {
            return Err(AdminError::InitialPassphraseSpent("has expired"));
        }
        if !self.store.use_initial_credential(&account.email, hash, self.now).await? {
            return Err(AdminError::InitialPassphraseSpent("was already used"));
        }
        Ok(true)
    }

    /// Checks the current passphrase for a change: the chosen one (Argon2id) or, before there is
    /// one, the initial passphrase that opened this must-change session.
    async fn current_passphrase_holds(&self, account: &Account, current: &str) -> Result<bool, AdminError> {
        if account.passphrase_hash.is_none() {
            if let Some(hash) = account.initial_credential_hash.as_deref() {
                let unexpired = account.initial_credential_expires_at.is_some_and(|expires_at| expires_at > self.now);
                if unexpired && initial_credential_matches(&self.key, &account.email, current, hash) {
                    return Ok(true);
                }
            }
        }
        verify_off_runtime(current, account.passphrase_hash.clone()).await
    }

    /// The session of an `Authorization` header; expiry is checked here, since DynamoDB removes
    /// expired items only eventually (and moto never).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Session, AdminError> {
        self.authenticate_hash(SessionToken::from_authorization(header)?.hash(&self.key)).await
    }

    /// The session whose token hashes to `token_hash` (see `authenticate`).
    pub async fn authenticate_hash(&self, token_hash: String) -> Result<Session, AdminError> {
        let record = self.store.session(&token_hash).await?.ok_or(AdminError::SessionInvalid)?;
        if record.is_expired(self.now) {
            if let Err(err) = self.store.delete_session(&token_hash).await {
                tracing::warn!(error = %crate::telemetry::Chain(&err), "deleting an expired session failed");
            }
            return Err(AdminError::SessionInvalid);
        }
        Ok(Session { token_hash, record })
    }

    pub async fn sign_out(&self, session: &Session) -> Result<(), AdminError> {
        self.store.delete_session(&session.token_hash).await?;
        Ok(())
    }

    /// Changes the caller's passphrase (the current one is needed, counted per session like every
    /// re-confirmation). The caller's other sessions are revoked; this one may do everything again.
    pub async fn change_passphrase(&self, session: &Session, current: &str, new: &str) -> Result<(), AdminError> {
        bounded(current, "currentPassphrase")?;
        bounded(new, "newPassphrase")?;
        if current == new {
            return Err(AdminError::WeakPassphrase("it must differ from the current passphrase".into()));
        }
        // Strength first: a refused new passphrase costs no attempt.
        let new_hash = hash_off_runtime(new).await?;
        let email = &session.record.account_email;
        let counters = self.confirm_counters(session);
        self.count_confirmation(&counters).await?;
        let account = self.store.account(email).await?.ok_or(AdminError::SessionInvalid)?;
        if !self.current_passphrase_holds(&account, current).await? {
            return Err(AdminError::WrongPassphrase);
        }
        self.give_back_attempt(&counters).await;
        self.store.set_account_passphrase(email, &new_hash).await?;
        let revoked = self.store.revoke_account_sessions(email, Some(&session.token_hash)).await?;
        if session.record.must_change_passphrase {
            self.store.unrestrict_session(&session.token_hash).await?;
        }
        tracing::info!(revoked_sessions = revoked, "console passphrase changed");
        Ok(())
    }

    /// Asks for a reset code by email. The answer never depends on whether the account exists:
    /// the work (lookup, code, email) runs after the response.
    pub fn request_reset(&self, email: &str, source: &str) -> Result<(), AdminError> {
        let email = parse_email(email)?;
        let console = self.clone();
        let source = source.to_owned();
        self.background.spawn_after_response(async move {
            if let Err(err) = console.send_reset_code(&email, &source).await {
                tracing::warn!(error = %crate::telemetry::Chain(&err), "sending a passphrase reset code failed");
            }
        });
        Ok(())
    }

    async fn send_reset_code(&self, email: &EmailAddress, source: &str) -> Result<(), AdminError> {
        match self.count_attempt(&self.reset_counters(email, source)).await {
            Err(AdminError::TooManyAttempts { .. }) => {
                tracing::info!("passphrase reset request dropped: too many requests");
                return Ok(());
            }
            other => other?,
        }
        let Some(account) = self.store.account(email).await? else {
            return Ok(());
        };
        let code = generate_code();
        let record = ResetCodeRecord {
            code_hash: self.reset_code_hash(&account.email, &normalize_code(&code)),
            created_at: self.now,
            expires_at: self.now + lifetimes::RESET_CODE,
            failed_attempts: 0,
        };
        self.store.put_reset_code(&account.email, &record).await?;
        let message = passphrase_reset_message(&account.email, &code, lifetimes::RESET_CODE.num_minutes())
            .addressed_to(vec![account.email.clone()]);
        self.mailer.send(&message).await.map_err(AdminError::internal)?;
        Ok(())
    }

    /// Sets a new passphrase with a reset code (single use); every session of the account ends.
    /// Confirmations are counted per email and per source (see `throttle`), and the code (a keyed
    /// hash) is checked before the new passphrase is hashed: a wrong code costs no Argon2id.
    pub async fn confirm_reset(&self, email: &str, code: &str, new: &str, source: &str) -> Result<(), AdminError> {
        let email = parse_email(email)?;
        bounded(new, "newPassphrase")?;
        // Strength first (a length check, no hashing): a refused passphrase does not use up the code.
        check_passphrase_strength(new)?;
        self.count_attempt(&self.reset_confirm_counters(&email, source)).await?;
        let code = normalize_code(code);
        if code.len() != RESET_CODE_LEN {
            return Err(AdminError::InvalidResetCode);
        }
        let pending = self.store.reset_code(&email).await?.filter(|r| r.expires_at > self.now);
        let Some(pending) = pending else {
            return Err(AdminError::InvalidResetCode);
        };
        let presented = self.reset_code_hash(&email, &code);
        let matches: bool = presented.as_bytes().ct_eq(pending.code_hash.as_bytes()).into();
        if !matches {
            self.store.fail_reset_code(&email, &pending.code_hash, RESET_CODE_FAILURES).await?;
            return Err(AdminError::InvalidResetCode);
        }
        // Only a confirmed code pays for the hash; hashed before the code is spent, so a failure
        // here leaves the code usable.
        let new_hash = hash_off_runtime(new).await?;
        if !self.store.consume_reset_code(&email, &pending.code_hash).await? {
            return Err(AdminError::InvalidResetCode);
        }
        match self.store.set_account_passphrase(&email, &new_hash).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Err(AdminError::InvalidResetCode),
            Err(err) => return Err(err.into()),
        }
        let revoked = self.store.revoke_account_sessions(&email, None).await?;
        tracing::info!(revoked_sessions = revoked, "console passphrase reset");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_normalize() {
        let code = generate_code();
        assert_eq!(code.len(), RESET_CODE_LEN + 1);
        assert_eq!(code.chars().nth(5), Some('-'));
        let normalized = normalize_code(&code.to_lowercase());
        assert_eq!(normalized.len(), RESET_CODE_LEN);
        assert!(normalized.bytes().all(|b| RESET_ALPHABET.contains(&b)));
        assert_eq!(normalize_code(" abcde - fghjk "), "ABCDEFGHJK");
        assert_ne!(generate_code(), generate_code());
    }
}
