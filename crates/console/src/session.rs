//! Console sessions, sign-in lock-out and CSRF tokens.
//!
//! * A session is a random 256-bit id in an `HttpOnly; SameSite=Strict` cookie (`Secure` behind
//!   TLS). The node keeps only its SHA-256, with the user's name and the session's CSRF token.
//!   Sessions end after 30 minutes idle or 12 hours in all, at sign-out, and when the node
//!   restarts (they live in memory: a restart signs everyone out, which is the safe direction).
//! * Every form carries the session's CSRF token (synchronizer token, OWASP CSRF cheat sheet);
//!   the sign-in form, which has no session yet, a token also set as a short-lived cookie
//!   (double submit). Tokens are compared in constant time.
//! * After 5 failed sign-ins for a name within 15 minutes the name is locked for 15 minutes,
//!   whether or not such a user exists, so a guesser learns nothing about which names are real.
//!   Each attempt is reserved before its password is checked (failures plus attempts under way
//!   stay below 5), so a burst cannot have more guesses evaluated than the limit. Users' names
//!   and other names are kept apart: the names of users are as many as the users and are never
//!   evicted; other names are at most [`MAX_OTHER_NAMES`], oldest first out, so a flood of made-up
//!   names bounds memory and can never unlock a real name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
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

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's name (the user row is re-read on every request, so a role change or a
    /// disabled account takes effect at once).
    pub user: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The node's console sessions and sign-in lock-out.
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
    /// Sign-in attempts and failures by name.
    pub lockout: Lockout,
}

/// Sign-in attempts per name: those under way and the recent failures.
#[derive(Debug)]
struct Attempts {
    failures: u32,
    in_flight: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
    last_used: Instant,
}

impl Attempts {
    fn new(now: Instant) -> Attempts {
        Attempts {
            failures: 0,
            in_flight: 0,
            first_failure: now,
            locked_until: None,
            last_used: now,
        }
    }

    /// Forgets failures whose lock, or (when not locked) whose window, is over.
    fn expire(&mut self, now: Instant) {
        let over = match self.locked_until {
            Some(until) => until <= now,
            None => now.duration_since(self.first_failure) >= FAILURE_WINDOW,
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

#[derive(Debug, Default)]
struct Names {
    /// Names of users: bounded by the users, never evicted.
    users: HashMap<String, Attempts>,
    /// Well-formed names of no user: bounded, oldest first out.
    others: HashMap<String, Attempts>,
}

/// The sign-in lock-out. Callers check names for form first (`auth::valid_user_name`), so every
/// key is at most 64 bytes.
#[derive(Debug)]
pub struct Lockout {
    names: Mutex<Names>,
    max_others: usize,
}

impl Default for Lockout {
    fn default() -> Lockout {
        Lockout::new(MAX_OTHER_NAMES)
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
/// the client went away), it frees its place without counting as a failure.
#[derive(Debug)]
#[must_use]
pub struct Attempt<'a> {
    lockout: &'a Lockout,
    name: String,
    user: bool,
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
    pub fn failed(self) -> bool {
        self.failed_at(Instant::now())
    }

    /// The password was right: the name's failures are forgotten.
    pub fn succeeded(mut self) {
        self.open = false;
        self.lockout
            .settle(&self.name, self.user, Outcome::Succeeded, Instant::now());
    }

    fn failed_at(mut self, now: Instant) -> bool {
        self.open = false;
        self.lockout
            .settle(&self.name, self.user, Outcome::Failed, now)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.open {
            self.lockout
                .settle(&self.name, self.user, Outcome::Abandoned, Instant::now());
        }
    }
}

impl Lockout {
    /// A lock-out keeping at most `max_others` names that are not users'.
    pub fn new(max_others: usize) -> Lockout {
        Lockout {
            names: Mutex::new(Names::default()),
            max_others: max_others.max(1),
        }
    }

    /// Reserves a sign-in attempt for `name` (`user`: whether a user has that name), or says
    /// why not. Counted before the password is checked, so concurrent guesses cannot overtake it.
    pub fn attempt(&self, name: &str, user: bool) -> Verdict<'_> {
        self.attempt_at(name, user, Instant::now())
    }

    fn attempt_at(&self, name: &str, user: bool, now: Instant) -> Verdict<'_> {
        let Ok(mut names) = self.names.lock() else {
            return Verdict::Crowded;
        };
        let max_others = self.max_others;
        let map = if user {
            &mut names.users
        } else {
            &mut names.others
        };
        if !map.contains_key(name) {
            make_room(map, (!user).then_some(max_others), now);
        }
        let a = map
            .entry(name.to_owned())
            .or_insert_with(|| Attempts::new(now));
        a.expire(now);
        a.last_used = now;
        if let Some(until) = a.locked_until {
            return Verdict::Locked(until.saturating_duration_since(now));
        }
        if a.failures + a.in_flight >= MAX_FAILURES {
            return Verdict::Crowded;
        }
        a.in_flight += 1;
        Verdict::Go(Attempt {
            lockout: self,
            name: name.to_owned(),
            user,
            open: true,
        })
    }

    fn settle(&self, name: &str, user: bool, outcome: Outcome, now: Instant) -> bool {
        let Ok(mut names) = self.names.lock() else {
            return false;
        };
        let map = if user {
            &mut names.users
        } else {
            &mut names.others
        };
        // Gone only if evicted, which happens to names of no user alone.
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
                    a.locked_until = Some(now + LOCKOUT);
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
    pub fn locked_for(&self, name: &str) -> Option<Duration> {
        self.locked_for_at(name, Instant::now())
    }

    fn locked_for_at(&self, name: &str, now: Instant) -> Option<Duration> {
        let names = self.names.lock().ok()?;
        let a = names.users.get(name).or_else(|| names.others.get(name))?;
        a.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// How many names are kept: (users', others').
    pub fn names_kept(&self) -> (usize, usize) {
        self.names
            .lock()
            .map(|n| (n.users.len(), n.others.len()))
            .unwrap_or_default()
    }
}

/// Before a new name goes into `map`: drops names with nothing left to remember, and if `max` is
/// given and the map is still full, the least recently used. Users' names (no `max`) are bounded
/// by the users and only tidied, never evicted, so no flood can unlock a user.
fn make_room(map: &mut HashMap<String, Attempts>, max: Option<usize>, now: Instant) {
    const TIDY_USERS_AT: usize = 1024;
    if map.len() < max.unwrap_or(TIDY_USERS_AT) {
        return;
    }
    map.retain(|_, a| {
        a.expire(now);
        !a.idle()
    });
    let Some(max) = max else {
        return;
    };
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
    /// Starts a session for `user`; returns the cookie value.
    pub fn start(&self, user: &str) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            user: user.to_owned(),
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        if let Ok(mut live) = self.live.lock() {
            live.retain(|_, s| alive(s, now));
            live.insert(key(&id), session);
        }
        id
    }

    /// The live session with this cookie value, if any (and marks it used).
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut live = self.live.lock().ok()?;
        let k = key(id);
        match live.get_mut(&k) {
            Some(s) if alive(s, now) => {
                s.last_seen = now;
                Some(s.clone())
            }
            Some(_) => {
                live.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&key(id));
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
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

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_at_sign_out() {
        let s = Sessions::default();
        let id = s.start("alice");
        let got = s.get(&id).expect("live session");
        assert_eq!(got.user, "alice");
        assert_ne!(got.csrf, id, "the CSRF token is not the session id");
        assert!(s.get("not-a-session").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
    }

    fn go<'a>(v: Verdict<'a>) -> Attempt<'a> {
        match v {
            Verdict::Go(a) => a,
            other => panic!("expected to go on, got {other:?}"),
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_gets_five_attempts_checked_and_then_the_name_is_locked_even_for_the_right_password()
    {
        let l = Lockout::default();
        let t0 = Instant::now();
        // Forty guesses at once: five are let through to Argon2, the rest refused before it.
        let mut through = Vec::new();
        let mut crowded = 0;
        for _ in 0..40 {
            match l.attempt_at("alice", true, t0) {
                Verdict::Go(a) => through.push(a),
                Verdict::Crowded => crowded += 1,
                Verdict::Locked(_) => panic!("nothing has failed yet"),
            }
        }
        assert_eq!(through.len(), MAX_FAILURES as usize);
        assert_eq!(crowded, 40 - MAX_FAILURES as usize);
        let locks: Vec<bool> = through.into_iter().map(|a| a.failed_at(t0 + S)).collect();
        assert_eq!(
            locks,
            [false, false, false, false, true],
            "the fifth failure locks"
        );
        // Locked: refused before any password is looked at, so also the right one.
        match l.attempt_at("alice", true, t0 + 2 * S) {
            Verdict::Locked(left) => assert_eq!(left, LOCKOUT - S),
            other => panic!("expected locked, got {other:?}"),
        }
        assert_eq!(l.locked_for_at("alice", t0 + 2 * S), Some(LOCKOUT - S));
        assert!(matches!(
            l.attempt_at("bob", true, t0 + 2 * S),
            Verdict::Go(_)
        ));
        // The lock ends after its full time.
        assert!(matches!(
            l.attempt_at("alice", true, t0 + S + LOCKOUT - S),
            Verdict::Locked(_)
        ));
        let a = go(l.attempt_at("alice", true, t0 + S + LOCKOUT));
        assert!(
            !a.failed_at(t0 + S + LOCKOUT),
            "a fresh count after the lock"
        );
    }

    #[test]
    fn an_attempt_never_checked_frees_its_place_without_counting() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let held: Vec<Attempt<'_>> = (0..MAX_FAILURES)
            .map(|_| go(l.attempt_at("alice", true, t0)))
            .collect();
        assert!(matches!(l.attempt_at("alice", true, t0), Verdict::Crowded));
        drop(held);
        assert_eq!(l.names_kept(), (0, 0), "nothing is remembered");
        let a = go(l.attempt_at("alice", true, t0));
        a.succeeded();
        assert_eq!(l.locked_for_at("alice", t0), None);
    }

    #[test]
    fn success_forgets_failures_and_the_window_forgets_old_ones() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let fail = |at: Instant| go(l.attempt_at("bob", true, at)).failed_at(at);
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!fail(t0));
        }
        go(l.attempt_at("bob", true, t0)).succeeded();
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!fail(t0 + S));
        }
        // The window of those four has passed: this is the first of a new count.
        assert!(!fail(t0 + S + FAILURE_WINDOW));
        for _ in 0..MAX_FAILURES - 2 {
            assert!(!fail(t0 + S + FAILURE_WINDOW));
        }
        assert!(
            fail(t0 + 2 * S + FAILURE_WINDOW),
            "the fifth of the new window locks"
        );
        // A lock lasts its full time even after the window of the failures that made it.
        let later = t0 + 2 * S + FAILURE_WINDOW + LOCKOUT - S;
        assert!(matches!(
            l.attempt_at("bob", true, later),
            Verdict::Locked(_)
        ));
    }

    #[test]
    fn a_flood_of_names_of_no_user_stays_bounded_and_never_unlocks_a_user() {
        let l = Lockout::new(8);
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            go(l.attempt_at("alice", true, t0)).failed_at(t0);
        }
        // Names of no user are locked the same way, so locking tells nothing about who exists.
        for _ in 0..MAX_FAILURES {
            go(l.attempt_at("mallory", false, t0)).failed_at(t0);
        }
        assert!(matches!(
            l.attempt_at("mallory", false, t0),
            Verdict::Locked(_)
        ));
        for i in 0..1000 {
            let at = t0 + Duration::from_millis(i + 1);
            go(l.attempt_at(&format!("ghost-{i}"), false, at)).failed_at(at);
            let (users, others) = l.names_kept();
            assert!(others <= 8, "{others} names of no user kept");
            assert_eq!(users, 1);
        }
        let end = t0 + 2 * S;
        assert!(
            matches!(l.attempt_at("alice", true, end), Verdict::Locked(_)),
            "the flood did not unlock the user"
        );
        assert!(
            l.locked_for_at("mallory", end).is_none(),
            "the oldest name of no user went first"
        );
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
