//! The console's security state in the node's database: sessions (by the SHA-256 of their
//! token) and the sign-in counts of existing users, so that both survive a restart and every
//! process serving the node sees the same (issue 15).
//!
//! Not domain events: no writer job, nothing appended to the log, nothing replayed or audited.
//! A session token must never reach the log; only its digest is handed down here. The console
//! (`crates/console/src/session.rs`) holds the rules and passes the times they give; this is its
//! typed door to the store, so the console never depends on custos-store.

use custos_store::Store;
use jiff::Timestamp;

pub use custos_store::{ConsoleSession, Reservation, SignInCounts, StoreError};

type Done<T> = Result<T, StoreError>;

/// Sessions and sign-in counts of one node's database. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct ConsoleState {
    store: Store,
}

impl ConsoleState {
    pub(crate) fn new(store: Store) -> ConsoleState {
        ConsoleState { store }
    }

    /// Stores a new session.
    pub async fn start_session(&self, s: &ConsoleSession) -> Done<()> {
        self.store.insert_console_session(s).await
    }

    /// The live session with this token digest at `now`, marked used (see
    /// `Store::touch_console_session`).
    pub async fn use_session(
        &self,
        token_sha256: &[u8; 32],
        now: Timestamp,
        idle_until: Timestamp,
    ) -> Done<Option<ConsoleSession>> {
        self.store
            .touch_console_session(token_sha256, now, idle_until)
            .await
    }

    /// The stored session with this token digest, live or not.
    pub async fn session(&self, token_sha256: &[u8; 32]) -> Done<Option<ConsoleSession>> {
        self.store.console_session(token_sha256).await
    }

    /// Ends a session.
    pub async fn end_session(&self, token_sha256: &[u8; 32]) -> Done<()> {
        self.store.delete_console_session(token_sha256).await
    }

    /// Deletes the sessions ended by `now`.
    pub async fn sweep_sessions(&self, now: Timestamp) -> Done<u64> {
        self.store.sweep_console_sessions(now).await
    }

    /// Counts a sign-in attempt of `user_name` before its password is checked, if that user
    /// exists and may try (see `Store::reserve_sign_in`).
    pub async fn reserve_sign_in(
        &self,
        user_name: &str,
        now: Timestamp,
        window_from: Timestamp,
        limit: u32,
    ) -> Done<Reservation> {
        self.store
            .reserve_sign_in(user_name, now, window_from, limit)
            .await
    }

    /// A reserved attempt failed; locks until `lock_until` at the `limit`th failure.
    pub async fn fail_sign_in(
        &self,
        user_name: &str,
        limit: u32,
        lock_until: Timestamp,
    ) -> Done<Option<SignInCounts>> {
        self.store.fail_sign_in(user_name, limit, lock_until).await
    }

    /// A reserved attempt succeeded: failures and lock forgotten.
    pub async fn succeed_sign_in(&self, user_name: &str) -> Done<()> {
        self.store.succeed_sign_in(user_name).await
    }

    /// A reserved attempt was never checked: given back.
    pub async fn release_sign_in(&self, user_name: &str) -> Done<()> {
        self.store.release_sign_in(user_name).await
    }

    /// A user's stored sign-in counts.
    pub async fn sign_in_counts(&self, user_name: &str) -> Done<Option<SignInCounts>> {
        self.store.sign_in_counts(user_name).await
    }

    /// How many names have sign-in counts stored.
    pub async fn sign_in_names(&self) -> Done<u64> {
        self.store.sign_in_names().await
    }

    /// Deletes the sign-in counts with nothing left to remember.
    pub async fn sweep_sign_ins(&self, now: Timestamp, window_from: Timestamp) -> Done<u64> {
        self.store.sweep_sign_ins(now, window_from).await
    }
}
