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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
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

#[derive(Debug)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// The node's console sessions and sign-in failures.
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, Failures>>,
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

    /// How much longer `name` is locked, if it is.
    pub fn locked_for(&self, name: &str) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().ok()?;
        let until = failures.get(name)?.locked_until?;
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    /// Counts a failed sign-in for `name`; true when this failure locks the name.
    pub fn failed(&self, name: &str) -> bool {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return false;
        };
        if failures.len() > 100_000 {
            failures.retain(|_, f| now.duration_since(f.first) < FAILURE_WINDOW);
        }
        let f = failures.entry(name.to_owned()).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        if now.duration_since(f.first) >= FAILURE_WINDOW || f.locked_until.is_some_and(|t| t <= now)
        {
            *f = Failures {
                count: 0,
                first: now,
                locked_until: None,
            };
        }
        f.count += 1;
        if f.count >= MAX_FAILURES {
            f.locked_until = Some(now + LOCKOUT);
            return true;
        }
        false
    }

    /// Forgets the failures of `name` after a successful sign-in.
    pub fn succeeded(&self, name: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(name);
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
}

/// The value of cookie `name` in the request's `Cookie` headers (RFC 6265 §5.4).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Whether the browser reached the node over TLS (directly or through a proxy that says so).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value with the console's attributes; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_fifth_failure_locks_the_name_and_success_resets_the_count() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!s.failed("bob"));
        }
        assert!(s.locked_for("bob").is_none());
        s.succeeded("bob");
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!s.failed("bob"));
        }
        assert!(s.failed("bob"), "the fifth failure in a row locks");
        let left = s.locked_for("bob").expect("locked");
        assert!(left <= LOCKOUT && left > LOCKOUT - Duration::from_secs(5));
        assert!(
            s.locked_for("carol").is_none(),
            "other names are not affected"
        );
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; custos_session=xyz".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "custos"), None);
        assert!(set_cookie("n", "v", true, Some(0)).contains("; Secure; Max-Age=0"));
        assert!(set_cookie("n", "v", false, None).ends_with("SameSite=Strict"));
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
                let _ = cookie(&h, SESSION_COOKIE);
            }
            h.append(header::COOKIE, format!("a=b; {SESSION_COOKIE}={value}; c=d").parse().unwrap());
            let found = cookie(&h, SESSION_COOKIE);
            // The noise header comes first; if it holds its own session cookie, that one wins.
            if !noise.contains(&format!("{SESSION_COOKIE}=")) {
                proptest::prop_assert_eq!(found.as_deref(), Some(value.as_str()));
            }
        }
    }
}
