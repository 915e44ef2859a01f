//! Argon2id passphrase hashes. Every hash and verification goes through one process-wide gate
//! sized to the CPUs: each one holds about 19 MiB for tens of milliseconds, so unbounded they let
//! a burst (an IdP's initial sync, a flood of failed sign-ins) grow memory without limit, while
//! more at once than there are CPUs would not finish any sooner.
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Wake, Waker};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::seq::IndexedRandom;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("the passphrase must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("the passphrase must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("the stored passphrase hash could not be read")]
    CorruptHash,
    #[error("hashing the passphrase failed")]
    Hashing,
}

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 256;

/// Argon2id computations allowed at once in this process.
static GATE: LazyLock<Gate> = LazyLock::new(|| {
    let limit = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Gate { limit, slots: Semaphore::new(limit), in_flight: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
});

struct Gate {
    limit: usize,
    slots: Semaphore,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// The gate's state, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Gauge {
    /// Computations allowed at once (the CPU count).
    pub limit: usize,
    /// Computations running now.
    pub in_flight: usize,
    /// The most that ever ran at once in this process.
    pub peak: usize,
}

pub fn argon2_gauge() -> Argon2Gauge {
    Argon2Gauge {
        limit: GATE.limit,
        in_flight: GATE.in_flight.load(Ordering::SeqCst),
        peak: GATE.peak.load(Ordering::SeqCst),
    }
}

/// Runs one Argon2id computation under a slot already taken, counted by the gauge.
fn with_slot<T>(_slot: SemaphorePermit<'static>, compute: impl FnOnce() -> T) -> T {
    let running = GATE.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    GATE.peak.fetch_max(running, Ordering::SeqCst);
    let result = compute();
    GATE.in_flight.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Waits for a slot without holding a runtime thread, then computes on the blocking pool.
async fn gated_off_runtime<T: Send + 'static>(
    compute: impl FnOnce() -> Result<T, PassphraseError> + Send + 'static,
) -> Result<T, PassphraseError> {
    let slot = GATE.slots.acquire().await.map_err(|_| PassphraseError::Hashing)?;
    tokio::task::spawn_blocking(move || with_slot(slot, compute)).await.map_err(|_| PassphraseError::Hashing)?
}

/// Waits for a slot on the calling thread (for synchronous callers: the CLI, tests).
fn gated_here<T>(compute: impl FnOnce() -> Result<T, PassphraseError>) -> Result<T, PassphraseError> {
    // Unconstrained: on a runtime thread an exhausted task budget would make the wait spin.
    let slot = block_on(tokio::task::unconstrained(GATE.slots.acquire())).map_err(|_| PassphraseError::Hashing)?;
    with_slot(slot, compute)
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion on this thread, parking it while the future waits.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Whether a new passphrase is acceptable (its length), without hashing it.
pub fn check_passphrase_strength(passphrase: &str) -> Result<(), PassphraseError> {
    check_length(passphrase)
}

fn check_length(passphrase: &str) -> Result<(), PassphraseError> {
    let length = passphrase.chars().count();
    if length < MIN_LEN {
        return Err(PassphraseError::TooShort { min: MIN_LEN });
    }
    if length > MAX_LEN {
        return Err(PassphraseError::TooLong { max: MAX_LEN });
    }
    Ok(())
}

fn compute_hash(passphrase: &str) -> Result<String, PassphraseError> {
    let mut salt_bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| PassphraseError::Hashing)?;
    Argon2::default()
        .hash_password(passphrase.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PassphraseError::Hashing)
}

fn compute_verify(passphrase: &str, parsed: &PasswordHash<'_>) -> bool {
    Argon2::default().verify_password(passphrase.as_bytes(), parsed).is_ok()
}

/// Argon2id (the crate's default algorithm, with OWASP-recommended parameters) in PHC string form,
/// computed on the blocking pool once the gate has a slot (waiting does not hold a runtime thread).
pub async fn hash_passphrase_async(passphrase: String) -> Result<String, PassphraseError> {
    check_length(&passphrase)?;
    gated_off_runtime(move || compute_hash(&passphrase)).await
}

/// Checks a passphrase against a stored hash, like `hash_passphrase_async`.
pub async fn verify_passphrase_async(passphrase: String, stored_hash: String) -> Result<bool, PassphraseError> {
    PasswordHash::new(&stored_hash).map_err(|_| PassphraseError::CorruptHash)?;
    gated_off_runtime(move || {
        let parsed = PasswordHash::new(&stored_hash).map_err(|_| PassphraseError::CorruptHash)?;
        Ok(compute_verify(&passphrase, &parsed))
    })
    .await
}

/// `hash_passphrase_async` for synchronous callers: waits for the gate on the calling thread.
pub fn hash_passphrase(passphrase: &str) -> Result<String, PassphraseError> {
    check_length(passphrase)?;
    gated_here(|| compute_hash(passphrase))
}

/// `verify_passphrase_async` for synchronous callers: waits for the gate on the calling thread.
pub fn verify_passphrase(passphrase: &str, stored_hash: &str) -> Result<bool, PassphraseError> {
    let parsed = PasswordHash::new(stored_hash).map_err(|_| PassphraseError::CorruptHash)?;
    gated_here(|| Ok(compute_verify(passphrase, &parsed)))
}

/// An initial passphrase for a new account: six words from a fixed list plus digits, easy to type once.
pub fn generate_passphrase() -> String {
    const WORDS: &[&str] = &[
        "amber", "basil", "cedar", "delta", "ember", "fable", "garnet", "harbor", "indigo", "jasper", "kelp", "lumen",
        "maple", "nectar", "onyx", "pepper", "quartz", "raven", "sable", "tundra", "umber", "velvet", "willow",
        "xenon", "yarrow", "zephyr", "canyon", "meadow", "glacier", "orchid", "falcon", "comet",
    ];
    let mut rng = rand::rng();
    let words: Vec<&str> = (0..6).filter_map(|_| WORDS.choose(&mut rng).copied()).collect();
    let number = rand::Rng::random_range(&mut rng, 10..100);
    format!("{}-{number}", words.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_contain_the_passphrase() {
        let hash = hash_passphrase("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_passphrase("correct horse battery", &hash).unwrap());
        assert!(!verify_passphrase("wrong horse battery", &hash).unwrap());
        assert!(matches!(verify_passphrase("x", "not-a-hash"), Err(PassphraseError::CorruptHash)));
    }

    /// A burst far beyond the CPU count: every call completes correctly, never more than the
    /// bound at once (the gauge is process-wide, so other tests' hashes only add to the load).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_hashes_and_verifications_never_runs_more_than_the_bound_at_once() {
        let stored = hash_passphrase_async("the stored passphrase".into()).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let stored = stored.clone();
                tokio::spawn(async move {
                    match i % 4 {
                        0 => verify_passphrase_async("the stored passphrase".into(), stored)
                            .await
                            .map(|ok| ok.then_some(())),
                        1 => verify_passphrase_async("a wrong passphrase".into(), stored)
                            .await
                            .map(|ok| (!ok).then_some(())),
                        2 => tokio::task::spawn_blocking(move || verify_passphrase("the stored passphrase", &stored))
                            .await
                            .unwrap()
                            .map(|ok| ok.then_some(())),
                        _ => {
                            let passphrase = format!("burst passphrase {i}");
                            let hash = hash_passphrase_async(passphrase.clone()).await.unwrap();
                            verify_passphrase_async(passphrase, hash).await.map(|ok| ok.then_some(()))
                        }
                    }
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), Some(()), "call {i} answered wrongly");
        }
        let gauge = argon2_gauge();
        assert!(gauge.limit >= 1);
        assert!(gauge.peak >= 1, "{gauge:?}");
        assert!(gauge.peak <= gauge.limit, "more than the bound ran at once: {gauge:?}");
    }

    #[tokio::test]
    async fn the_async_forms_check_like_the_sync_ones() {
        assert!(matches!(hash_passphrase_async("short".into()).await, Err(PassphraseError::TooShort { .. })));
        let corrupt = verify_passphrase_async("long enough passphrase".into(), "not-a-hash".into()).await;
        assert!(matches!(corrupt, Err(PassphraseError::CorruptHash)));
    }

    #[test]
    fn rejects_short_and_huge_passphrases() {
        assert!(matches!(hash_passphrase("short"), Err(PassphraseError::TooShort { .. })));
        assert!(matches!(hash_passphrase(&"x".repeat(300)), Err(PassphraseError::TooLong { .. })));
    }

    #[test]
    fn generated_passphrases_are_long_and_differ() {
        let a = generate_passphrase();
        assert!(a.len() >= 20, "{a}");
        assert_ne!(a, generate_passphrase());
        assert!(hash_passphrase(&a).is_ok());
    }
}
