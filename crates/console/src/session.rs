//! Console sessions, sign-in lock-out and CSRF tokens.
//!
//! * A session is a random 256-bit token in an `HttpOnly; SameSite=Strict` cookie (`Secure`
//!   behind TLS). The node's database keeps only its SHA-256, with the user's name, the session's
//!   CSRF token and its times (`custos_service::console_state`), so sessions survive a restart and
//!   every process serving the node knows them. Sessions end after 30 minutes idle or 12 hours in
//!   all, and at sign-out; ended ones are refused at once and swept at the next sign-in.
//! * Sessions and sign-in counts are security state, not domain events: they are never logged
//!   (neither in the node's log nor in its tracing output), and a session token never leaves
//!   this module except in the cookie.
//! * Every form carries the session's CSRF token (synchronizer token, OWASP CSRF cheat sheet);
//!   the sign-in form, which has no session yet, a token also set as a short-lived cookie
//!   (double submit). Tokens are compared in constant time.
//! * After 5 failed sign-ins for a name within 15 minutes the name is locked for 15 minutes,
//!   whether or not such a user exists, so a guesser learns nothing about which names are real.
//!   Each attempt is counted before its password is checked (failures plus attempts under way
//!   stay at most 5), so a burst cannot have more guesses evaluated than the limit. For users the
//!   count is one atomic statement in the database, shared by every process. A name of no user
//!   stores nothing there: it has no account to protect, so its lock only needs to look the same,
//!   and it is kept in this process's memory, at most [`MAX_OTHER_NAMES`] names, oldest first
//!   out, so a flood of made-up names bounds memory and can never unlock a real name. Both run
//!   the same database statements (which change nothing for a name of no user), so the two
//!   take the same steps.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use custos_service::clock::Clock;
use custos_service::console_state::{
    ConsoleSession, ConsoleState, Reservation, SignInCounts, StoreError,
};
use custos_service::node::Node;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "custos_session";
/// Name of the sign-in form's CSRF cookie.
pub const SIGNIN_COOKIE: &str = "custos_signin";

const IDLE: Duration = Duration::from_secs(30 * 60);
const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// Failed sign-ins allowed within [`FAILURE_WINDOW`] before the name is locked.
pub const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a name stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Most names that are not users' kept in the lock-out (each at most 64 bytes).
pub const MAX_OTHER_NAMES: usize = 4096;

/// `t` moved on by `d` (saturating: these are bounds, not arithmetic anyone relies on).
fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn before(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// How long from `now` to `until` (zero if passed).
fn until(now: Timestamp, until: Timestamp) -> Duration {
    Duration::try_from(until.duration_since(now)).unwrap_or_default()
}

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's name (the user row is re-read on every request, so a role change or a
    /// disabled account takes effect at once).
    pub user: String,
    /// The token every form of this session must carry.
    pub csrf: String,
}

/// The node's console sessions and sign-in lock-out.
#[derive(Debug)]
pub struct Sessions {
    db: ConsoleState,
    clock: Clock,
    /// Names of no user (never in the database).
    others: Mutex<HashMap<String, Attempts>>,
    max_others: usize,
}

/// Sign-in attempts of a name of no user: those under way and the recent failures.
#[derive(Debug)]
struct Attempts {
    failures: u32,
    in_flight: u32,
    first_failure: Timestamp,
    locked_until: Option<Timestamp>,
    last_used: Timestamp,
}

impl Attempts {
    fn new(now: Timestamp) -> Attempts {
        Attempts {
            failures: 0,
            in_flight: 0,
            first_failure: now,
            locked_until: None,
            last_used: now,
        }
    }

    /// Forgets failures whose lock, or (when not locked) whose window, is over.
    fn expire(&mut self, now: Timestamp) {
        let over = match self.locked_until {
            Some(until) => until <= now,
            None => after(self.first_failure, FAILURE_WINDOW) <= now,
        };
        if over {
            self.failures = 0;
            self.locked_until = None;
        }
    }

    fn idle(&self) -> bool {
        self.failures == 0 && self.in_flight == 0
    }
}

/// Whether a sign-in may go on to check the password.
#[derive(Debug)]
pub enum Verdict<'a> {
    /// Go on; settle the attempt with its outcome.
    Go(Attempt<'a>),
    /// The name is locked for this much longer.
    Locked(Duration),
    /// As many attempts as failures are left are already under way for this name.
    Crowded,
}

/// A reserved sign-in attempt. Dropped without an outcome (the password was not checked, or
/// the client went away), it gives its place back without counting as a failure.
#[derive(Debug)]
#[must_use]
pub struct Attempt<'a> {
    sessions: &'a Sessions,
    name: String,
    /// A name of no user: counted in memory only.
    other: bool,
    open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed,
    Succeeded,
    Abandoned,
}

impl Attempt<'_> {
    /// The password was wrong; true when this failure locks the name.
    pub async fn failed(mut self) -> Result<bool, StoreError> {
        // Counted already: from here on, whatever happens, it stays counted.
        self.open = false;
        let s = self.sessions;
        let now = s.clock.now();
        let lock_until = after(now, LOCKOUT);
        // Run for every name, so a name of no user takes the same steps (it changes nothing).
        let counts =
            s.db.fail_sign_in(&self.name, MAX_FAILURES, lock_until)
                .await?;
        if self.other {
            return Ok(s.settle_other(&self.name, Outcome::Failed, now));
        }
        Ok(counts.is_some_and(|c: SignInCounts| {
            c.failures >= MAX_FAILURES && c.locked_until == Some(lock_until)
        }))
    }

    /// The password was not checked (the node was too busy): the attempt does not count.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.open = false;
        let s = self.sessions;
        s.db.release_sign_in(&self.name).await?;
        if self.other {
            s.settle_other(&self.name, Outcome::Abandoned, s.clock.now());
        }
        Ok(())
    }

    /// The password was right: the name's failures are forgotten.
    pub async fn succeeded(mut self) -> Result<(), StoreError> {
        self.open = false;
        let s = self.sessions;
        s.db.succeed_sign_in(&self.name).await?;
        if self.other {
            s.settle_other(&self.name, Outcome::Succeeded, s.clock.now());
        }
        Ok(())
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if self.other {
            self.sessions
                .settle_other(&self.name, Outcome::Abandoned, self.sessions.clock.now());
            return;
        }
        // Given back in the background: a drop cannot wait. Without a runtime (a test's end)
        // the attempt stays counted until its window passes, the safe direction.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (db, name) = (self.sessions.db.clone(), std::mem::take(&mut self.name));
            rt.spawn(async move {
                if let Err(e) = db.release_sign_in(&name).await {
                    tracing::warn!(error = %e, "a sign-in attempt could not be given back");
                }
            });
        }
    }
}

impl Sessions {
    /// The sessions and lock-out of `node`, reading its clock.
    pub fn new(node: &Node) -> Sessions {
        Sessions::with_max_others(node, MAX_OTHER_NAMES)
    }

    /// As [`Sessions::new`], keeping at most `max_others` names that are not users'.
    pub fn with_max_others(node: &Node, max_others: usize) -> Sessions {
        Sessions {
            db: node.console_state(),
            clock: node.clock.clone(),
            others: Mutex::new(HashMap::new()),
            max_others: max_others.max(1),
        }
    }

    /// Reserves a sign-in attempt for `name`, or says why not. Counted before the password is
    /// checked, so concurrent guesses, in this process or another, cannot overtake it.
    pub async fn attempt(&self, name: &str) -> Result<Verdict<'_>, StoreError> {
        let now = self.clock.now();
        let go = |other| {
            Verdict::Go(Attempt {
                sessions: self,
                name: name.to_owned(),
                other,
                open: true,
            })
        };
        match self
            .db
            .reserve_sign_in(name, now, before(now, FAILURE_WINDOW), MAX_FAILURES)
            .await?
        {
            Reservation::Reserved(_) => Ok(go(false)),
            Reservation::Refused(c) => Ok(match c.locked_until.filter(|u| *u > now) {
                Some(u) => Verdict::Locked(until(now, u)),
                None => Verdict::Crowded,
            }),
            Reservation::NoUser => Ok(match self.reserve_other(name, now) {
                Ok(()) => go(true),
                Err(refusal) => refusal,
            }),
        }
    }

    fn reserve_other(&self, name: &str, now: Timestamp) -> Result<(), Verdict<'_>> {
        let Ok(mut map) = self.others.lock() else {
            return Err(Verdict::Crowded);
        };
        if !map.contains_key(name) {
            make_room(&mut map, self.max_others, now);
        }
        let a = map
            .entry(name.to_owned())
            .or_insert_with(|| Attempts::new(now));
        a.expire(now);
        a.last_used = now;
        if let Some(u) = a.locked_until {
            return Err(Verdict::Locked(until(now, u)));
        }
        if a.failures + a.in_flight >= MAX_FAILURES {
            return Err(Verdict::Crowded);
        }
        a.in_flight += 1;
        Ok(())
    }

    fn settle_other(&self, name: &str, outcome: Outcome, now: Timestamp) -> bool {
        let Ok(mut map) = self.others.lock() else {
            return false;
        };
        // Gone only if evicted by a flood of other names.
        let Some(a) = map.get_mut(name) else {
            return false;
        };
        a.in_flight = a.in_flight.saturating_sub(1);
        a.last_used = now;
        a.expire(now);
        let mut locks = false;
        match outcome {
            Outcome::Failed => {
                if a.failures == 0 {
                    a.first_failure = now;
                }
                a.failures += 1;
                if a.failures >= MAX_FAILURES && a.locked_until.is_none() {
                    a.locked_until = Some(after(now, LOCKOUT));
                    locks = true;
                }
            }
            Outcome::Succeeded => {
                a.failures = 0;
                a.locked_until = None;
            }
            Outcome::Abandoned => {}
        }
        if a.idle() {
            map.remove(name);
        }
        locks
    }

    /// How much longer `name` is locked, if it is.
    pub async fn locked_for(&self, name: &str) -> Result<Option<Duration>, StoreError> {
        let now = self.clock.now();
        let locked_until = match self.db.sign_in_counts(name).await? {
            Some(c) => c.locked_until,
            None => self
                .others
                .lock()
                .ok()
                .and_then(|m| m.get(name).and_then(|a| a.locked_until)),
        };
        Ok(locked_until.filter(|u| *u > now).map(|u| until(now, u)))
    }

    /// How many names are kept: (users' in the database, others' in memory).
    pub async fn names_kept(&self) -> Result<(u64, usize), StoreError> {
        let users = self.db.sign_in_names().await?;
        let others = self.others.lock().map(|m| m.len()).unwrap_or_default();
        Ok((users, others))
    }
}

/// Before a new name goes into `map`: drops names with nothing left to remember, and if the map
/// is still full, the least recently used. Only names of no user are here, so no flood can
/// unlock a user.
fn make_room(map: &mut HashMap<String, Attempts>, max: usize, now: Timestamp) {
    if map.len() < max {
        return;
    }
    map.retain(|_, a| {
        a.expire(now);
        !a.idle()
    });
    while map.len() >= max {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, a)| a.last_used)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&oldest);
    }
}

/// A fresh random token, base64url without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    /// Starts a session for `user`; returns the cookie value (the only copy of the token: the
    /// database keeps its SHA-256). Sweeps ended sessions and spent sign-in counts first.
    pub async fn start(&self, user: &str) -> Result<String, StoreError> {
        let now = self.clock.now();
        self.db.sweep_sessions(now).await?;
        self.db
            .sweep_sign_ins(now, before(now, FAILURE_WINDOW))
            .await?;
        let id = random_token();
        self.db
            .start_session(&ConsoleSession {
                token_sha256: key(&id),
                user_name: user.to_owned(),
                csrf: random_token(),
                created_at: now,
                last_seen_at: now,
                idle_until: after(now, IDLE),
                expires_at: after(now, ABSOLUTE),
            })
            .await?;
        Ok(id)
    }

    /// The live session with this cookie value, if any (and marks it used).
    pub async fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let now = self.clock.now();
        let live = self.db.use_session(&key(id), now, after(now, IDLE)).await?;
        Ok(live.map(|s| Session {
            user: s.user_name,
            csrf: s.csrf,
        }))
    }

    /// Ends a session.
    pub async fn end(&self, id: &str) -> Result<(), StoreError> {
        self.db.end_session(&key(id)).await
    }
}

/// The value of cookie `name` the browser sent: the `CookieJar` holds every `Cookie` header's
/// pairs as the `cookie` crate parses them (RFC 6265 §5.4); of two pairs with one name, the last.
pub fn cookie_value(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name).map(|c| c.value().to_owned())
}

/// Whether the browser reached the node over TLS (directly or through a proxy that says so).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A cookie with the console's attributes, built with the `cookie` crate: `Path=/console;
/// HttpOnly; SameSite=Strict`, `Secure` behind TLS, and `Max-Age` when given (0 deletes it).
pub fn console_cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<u64>,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure);
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(
            i64::try_from(age).unwrap_or(i64::MAX),
        ));
    }
    c.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use custos_service::clock::ManualClock;
    use custos_service::query::Role;
    use std::sync::Arc;

    const S: Duration = Duration::from_secs(1);

    fn t0() -> Timestamp {
        "2026-06-01T09:00:00Z".parse().unwrap()
    }

    /// A node as `custos init` makes it, with reviewers `alice` and `bob`, on a clock moved by hand.
    struct Fixture {
        dir: tempfile::TempDir,
        clock: ManualClock,
        node: Arc<Node>,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let config = custos_service::Config::new("custos.test/console");
            let key = custos_ledger::SignerKey::from_seed(&config.origin, &[7; 32]).unwrap();
            std::fs::write(
                dir.path().join(&config.key),
                format!("{}\n", key.to_private_string().as_str()),
            )
            .unwrap();
            custos_service::NodeDir::create_database(dir.path(), &config)
                .await
                .unwrap();
            std::fs::write(
                dir.path().join(custos_service::config::CONFIG_FILE),
                config.to_toml().unwrap(),
            )
            .unwrap();
            let nd = custos_service::NodeDir::open(dir.path()).await.unwrap();
            for name in ["alice", "bob"] {
                custos_service::offline::add_user(&nd, name, Role::Reviewer, t0())
                    .await
                    .unwrap();
            }
            let clock = ManualClock::new(t0());
            let node = Fixture::open(dir.path(), &clock).await;
            Fixture { dir, clock, node }
        }

        /// The node in `dir` opened again (a restart, or another process on one database).
        async fn open(dir: &std::path::Path, clock: &ManualClock) -> Arc<Node> {
            Node::open_with_clock(dir, clock.clock()).await.unwrap()
        }

        fn advance(&self, d: Duration) {
            self.clock.advance(SignedDuration::try_from(d).unwrap());
        }
    }

    async fn go<'a>(s: &'a Sessions, name: &str) -> Attempt<'a> {
        match s.attempt(name).await.unwrap() {
            Verdict::Go(a) => a,
            other => panic!("expected to go on, got {other:?}"),
        }
    }

    async fn fail(s: &Sessions, name: &str) -> bool {
        go(s, name).await.failed().await.unwrap()
    }

    #[tokio::test]
    async fn a_session_lives_until_idle_or_absolute_end_then_is_refused_and_swept() {
        let f = Fixture::new().await;
        let s = Sessions::new(&f.node);
        let id = s.start("alice").await.unwrap();
        let got = s.get(&id).await.unwrap().expect("live session");
        assert_eq!(got.user, "alice");
        assert_ne!(got.csrf, id, "the CSRF token is not the session id");
        assert!(s.get("not-a-session").await.unwrap().is_none());
        let db = f.node.console_state();
        let stored = db.session(&key(&id)).await.unwrap().expect("stored");
        assert_eq!(
            stored.token_sha256,
            <[u8; 32]>::from(Sha256::digest(id.as_bytes()))
        );
        assert_ne!(stored.csrf, id);

        // Idle: a use a second before 30 minutes keeps it; 30 minutes after that use, it is over.
        f.advance(IDLE - S);
        assert!(s.get(&id).await.unwrap().is_some());
        f.advance(IDLE - S);
        assert!(
            s.get(&id).await.unwrap().is_some(),
            "idle time counts from the last use"
        );
        f.advance(IDLE);
        assert!(s.get(&id).await.unwrap().is_none(), "30 minutes idle");
        f.advance(S);
        assert!(s.get(&id).await.unwrap().is_none(), "not revived");

        // Used every 20 minutes, a session still ends 12 hours after it started.
        let long = s.start("bob").await.unwrap();
        let ended = db.session(&key(&id)).await.unwrap();
        assert!(
            ended.is_none(),
            "the idle session was swept at the next sign-in"
        );
        let mut lived = Duration::ZERO;
        while lived + Duration::from_secs(20 * 60) < ABSOLUTE {
            f.advance(Duration::from_secs(20 * 60));
            lived += Duration::from_secs(20 * 60);
            assert!(
                s.get(&long).await.unwrap().is_some(),
                "alive after {lived:?}"
            );
        }
        f.advance(ABSOLUTE - lived);
        assert!(s.get(&long).await.unwrap().is_none(), "12 hours in all");

        // Sign-out ends one session, not the others.
        let a = s.start("alice").await.unwrap();
        let b = s.start("alice").await.unwrap();
        s.end(&a).await.unwrap();
        assert!(s.get(&a).await.unwrap().is_none());
        assert!(s.get(&b).await.unwrap().is_some());
        assert!(db.session(&key(&long)).await.unwrap().is_none(), "swept");
    }

    #[tokio::test]
    async fn a_burst_gets_five_attempts_checked_and_then_the_name_is_locked_even_for_the_right_password()
     {
        let f = Fixture::new().await;
        let s = Sessions::new(&f.node);
        // Forty guesses at once: five are let through to Argon2, the rest refused before it.
        let mut through = Vec::new();
        let mut crowded = 0;
        for _ in 0..40 {
            match s.attempt("alice").await.unwrap() {
                Verdict::Go(a) => through.push(a),
                Verdict::Crowded => crowded += 1,
                Verdict::Locked(_) => panic!("nothing has failed yet"),
            }
        }
        assert_eq!(through.len(), MAX_FAILURES as usize);
        assert_eq!(crowded, 40 - MAX_FAILURES as usize);
        f.advance(S);
        let mut locks = Vec::new();
        for a in through {
            locks.push(a.failed().await.unwrap());
        }
        assert_eq!(
            locks,
            [false, false, false, false, true],
            "the fifth failure locks"
        );
        // Locked: refused before any password is looked at, so also the right one.
        f.advance(S);
        match s.attempt("alice").await.unwrap() {
            Verdict::Locked(left) => assert_eq!(left, LOCKOUT - S),
            other => panic!("expected locked, got {other:?}"),
        }
        assert_eq!(s.locked_for("alice").await.unwrap(), Some(LOCKOUT - S));
        go(&s, "bob").await.succeeded().await.unwrap();
        // The lock ends after its full time.
        f.advance(LOCKOUT - 2 * S);
        assert!(matches!(
            s.attempt("alice").await.unwrap(),
            Verdict::Locked(_)
        ));
        f.advance(S);
        assert!(!fail(&s, "alice").await, "a fresh count after the lock");
    }

    #[tokio::test]
    async fn an_attempt_never_checked_gives_its_place_back_without_counting() {
        let f = Fixture::new().await;
        let s = Sessions::new(&f.node);
        let held: Vec<Attempt<'_>> = {
            let mut v = Vec::new();
            for _ in 0..MAX_FAILURES {
                v.push(go(&s, "alice").await);
            }
            v
        };
        assert!(matches!(
            s.attempt("alice").await.unwrap(),
            Verdict::Crowded
        ));
        let mut held = held.into_iter();
        // Given back explicitly (the node was too busy to check it)…
        held.next().unwrap().release().await.unwrap();
        let db = f.node.console_state();
        let counted = db.sign_in_counts("alice").await.unwrap().unwrap();
        assert_eq!((counted.attempts, counted.failures), (MAX_FAILURES - 1, 0));
        // …or dropped (the client went away): given back in the background.
        drop(held);
        // The give-back is a database write on a background task: waited for up to 30 s (a
        // deadline, not a pause: it returns as soon as the write is seen; a loaded machine
        // took longer than 10,000 yields).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut left = MAX_FAILURES - 1;
        while std::time::Instant::now() < deadline {
            left = db.sign_in_counts("alice").await.unwrap().unwrap().attempts;
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(left, 0, "every dropped attempt was given back");
        go(&s, "alice").await.succeeded().await.unwrap();
        assert_eq!(s.locked_for("alice").await.unwrap(), None);
    }

    #[tokio::test]
    async fn success_forgets_failures_and_the_window_forgets_old_ones() {
        let f = Fixture::new().await;
        let s = Sessions::new(&f.node);
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!fail(&s, "bob").await);
        }
        go(&s, "bob").await.succeeded().await.unwrap();
        f.advance(S);
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!fail(&s, "bob").await);
        }
        // The window of those four has passed: this is the first of a new count.
        f.advance(FAILURE_WINDOW);
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!fail(&s, "bob").await);
        }
        f.advance(S);
        assert!(fail(&s, "bob").await, "the fifth of the new window locks");
        // A lock lasts its full time even after the window of the failures that made it.
        f.advance(LOCKOUT - S);
        assert!(matches!(
            s.attempt("bob").await.unwrap(),
            Verdict::Locked(_)
        ));
    }

    #[tokio::test]
    async fn names_of_no_user_store_nothing_stay_bounded_and_never_unlock_a_user() {
        let f = Fixture::new().await;
        let s = Sessions::with_max_others(&f.node, 8);
        for _ in 0..MAX_FAILURES {
            fail(&s, "alice").await;
        }
        // Names of no user are locked the same way, so locking tells nothing about who exists.
        for _ in 0..MAX_FAILURES {
            fail(&s, "mallory").await;
        }
        assert!(matches!(
            s.attempt("mallory").await.unwrap(),
            Verdict::Locked(_)
        ));
        for i in 0..200 {
            f.advance(Duration::from_millis(1));
            fail(&s, &format!("ghost-{i}")).await;
            let (users, others) = s.names_kept().await.unwrap();
            assert!(others <= 8, "{others} names of no user kept");
            assert_eq!(users, 1, "only the user's name has a row in the database");
        }
        assert!(
            matches!(s.attempt("alice").await.unwrap(), Verdict::Locked(_)),
            "the flood did not unlock the user"
        );
        assert!(
            s.locked_for("mallory").await.unwrap().is_none(),
            "the oldest name of no user went first"
        );
        let db = f.node.console_state();
        for name in ["mallory", "ghost-0", "ghost-199"] {
            assert_eq!(db.sign_in_counts(name).await.unwrap(), None, "{name}");
        }
    }

    #[tokio::test]
    async fn sessions_and_locks_survive_a_restart_and_are_shared_by_two_processes() {
        let f = Fixture::new().await;
        let a = Sessions::new(&f.node);
        let id = a.start("alice").await.unwrap();
        let csrf = a.get(&id).await.unwrap().unwrap().csrf;
        // Another process on the same database: the same session, the same count.
        let other = Fixture::open(f.dir.path(), &f.clock).await;
        let b = Sessions::new(&other);
        let seen = b
            .get(&id)
            .await
            .unwrap()
            .expect("known to the other process");
        assert_eq!(
            (seen.user.as_str(), seen.csrf.as_str()),
            ("alice", csrf.as_str())
        );
        for i in 0..MAX_FAILURES {
            let through = if i % 2 == 0 { &a } else { &b };
            fail(through, "bob").await;
        }
        for s in [&a, &b] {
            assert!(matches!(
                s.attempt("bob").await.unwrap(),
                Verdict::Locked(_)
            ));
        }
        b.end(&id).await.unwrap();
        assert!(a.get(&id).await.unwrap().is_none(), "signed out everywhere");
        let kept = a.start("alice").await.unwrap();
        drop((a, b));
        f.node.close().await;
        other.close().await;
        drop(other);

        // A restart: the session and the lock are still there.
        f.advance(S);
        let node = Fixture::open(f.dir.path(), &f.clock).await;
        let s = Sessions::new(&node);
        assert_eq!(
            s.get(&kept).await.unwrap().map(|s| s.user).as_deref(),
            Some("alice")
        );
        assert!(matches!(
            s.attempt("bob").await.unwrap(),
            Verdict::Locked(_)
        ));
    }

    fn jar(headers: &[&str]) -> CookieJar {
        let mut h = HeaderMap::new();
        for v in headers {
            h.append(header::COOKIE, v.parse().unwrap());
        }
        CookieJar::from_headers(&h)
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let j = jar(&["a=1; custos_session=xyz", "b=2"]);
        assert_eq!(cookie_value(&j, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie_value(&j, "b").as_deref(), Some("2"));
        assert_eq!(cookie_value(&j, "custos"), None);
        assert_eq!(
            cookie_value(&jar(&[" custos_session = x y "]), SESSION_COOKIE).as_deref(),
            Some("x y")
        );
    }

    #[test]
    fn cookies_are_set_with_the_consoles_attributes() {
        // What the response says, as the jar writes it.
        let set = |c: Cookie<'static>| {
            let resp = axum::response::IntoResponse::into_response((CookieJar::new().add(c), ()));
            resp.headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            set(console_cookie(SESSION_COOKIE, "abc".into(), false, None)),
            ["custos_session=abc; HttpOnly; SameSite=Strict; Path=/console"]
        );
        assert_eq!(
            set(console_cookie(SIGNIN_COOKIE, "t".into(), false, Some(600))),
            ["custos_signin=t; HttpOnly; SameSite=Strict; Path=/console; Max-Age=600"]
        );
        assert_eq!(
            set(console_cookie(SESSION_COOKIE, String::new(), true, Some(0))),
            ["custos_session=; HttpOnly; SameSite=Strict; Secure; Path=/console; Max-Age=0"]
        );
    }

    #[test]
    fn tokens_compare_exactly() {
        let t = random_token();
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &random_token()));
        assert!(!same_token(&t, &t[1..]));
    }

    proptest::proptest! {
        /// Whatever a browser (or an attacker) sends as `Cookie`, reading it never panics, and a
        /// session cookie set among others is found exactly.
        #[test]
        fn any_cookie_header_is_read_safely(noise in "[ -~]{0,200}", value in "[A-Za-z0-9_-]{1,64}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = noise.parse() {
                h.append(header::COOKIE, v);
                let _ = cookie_value(&CookieJar::from_headers(&h), SESSION_COOKIE);
            }
            h.append(header::COOKIE, format!("a=b; {SESSION_COOKIE}={value}; c=d").parse().unwrap());
            let found = cookie_value(&CookieJar::from_headers(&h), SESSION_COOKIE);
            // The jar keeps the last pair of a name: the noise header comes first, so whatever it
            // holds, the session cookie after it is the one read.
            proptest::prop_assert_eq!(found.as_deref(), Some(value.as_str()));
        }

        /// Any bytes a header can hold are read without panic.
        #[test]
        fn any_cookie_header_bytes_are_read_safely(noise in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut h = HeaderMap::new();
            if let Ok(v) = axum::http::HeaderValue::from_bytes(&noise) {
                h.append(header::COOKIE, v);
                let _ = cookie_value(&CookieJar::from_headers(&h), SESSION_COOKIE);
            }
        }
    }
}
