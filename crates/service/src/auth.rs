//! Who is asking: people by bearer token, requesting authorities by a signed proof.
//!
//! * **Users** hold API tokens `cst.<name>.<secret>`. The node stores only an Argon2id hash;
//!   a verified token is remembered (by its SHA-256) for a minute so Argon2's deliberate cost is
//!   paid once per minute, not per request.
//! * **Requesting authorities** sign each read with their directory key: the header
//!   `Authorization: Custos-JWS <compact JWS>` whose payload is `{"htm": METHOD, "htu": PATH,
//!   "iat": UNIX-SECONDS}` (the claims of RFC 9449 DPoP proofs). A proof is valid for five
//!   minutes and only for the method and path it names. A proof for an evidence download must
//!   also carry a nonce (`"jti"`, at least 16 random bytes, base64url): the node admits each jti
//!   once, and only from proofs made since it started (see [`ProofNonces`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use custos_store::{Authority, Store, User};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::directory::Directory;
use crate::problem::Problem;

/// Who made an API call.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A person with a token.
    User(User),
    /// A requesting authority, by signed proof.
    Authority(Authority),
}

/// How long a verified token is remembered.
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
/// How old an authority's proof may be.
const PROOF_MAX_AGE_SECONDS: i64 = 300;

/// Remembers verified tokens, and the nonces of single-use proofs.
#[derive(Debug, Default)]
pub struct TokenCache {
    verified: Mutex<HashMap<[u8; 32], (User, Instant)>>,
    /// Nonces of the single-use proofs (evidence downloads) seen since the node started.
    pub nonces: ProofNonces,
}

/// Most nonces remembered at once. Each entry comes from a signed proof of a registered
/// authority and lives at most the proof window, so this is reached only by a flood.
const MAX_NONCES: usize = 100_000;

/// The `jti` values of single-use proofs, each kept until its proof is stale anyway.
///
/// The set lives in memory: after a restart it is empty. So that a proof captured before the
/// restart cannot be replayed then, single-use proofs must be made (`iat`) no earlier than the
/// second the set was created, i.e. the node's start.
#[derive(Debug)]
pub struct ProofNonces {
    started: i64,
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    /// jti → last second at which its proof is still fresh.
    until: HashMap<String, i64>,
    last_purge: i64,
}

/// A fresh `jti` for a single-use proof: 16 random bytes, base64url.
pub fn new_proof_nonce() -> String {
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce)
}

impl Default for ProofNonces {
    fn default() -> Self {
        ProofNonces::new(jiff::Timestamp::now().as_second())
    }
}

impl ProofNonces {
    /// A set for a node started at `started` (Unix seconds).
    pub fn new(started: i64) -> Self {
        ProofNonces {
            started,
            seen: Mutex::new(Nonces::default()),
        }
    }

    /// Admits `jti` of a proof made at `iat` (already checked to be fresh at `now`) once.
    pub fn admit(&self, jti: &str, iat: i64, now: i64) -> Result<(), Problem> {
        if !(22..=128).contains(&jti.len())
            || !jti
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Problem::unauthorized(
                "bad-proof",
                "the proof's \"jti\" must be at least 16 random bytes in base64url (22 to 128 characters)",
            ));
        }
        if iat < self.started {
            return Err(Problem::unauthorized(
                "stale-proof",
                "the proof was made before the node started; sign a fresh one",
            ));
        }
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| Problem::internal("the proof nonce set is unusable"))?;
        // Forget nonces whose proofs are stale: they can no longer pass the `iat` check.
        if now > seen.last_purge {
            seen.until.retain(|_, until| *until >= now);
            seen.last_purge = now;
        }
        if seen.until.contains_key(jti) {
            return Err(Problem::unauthorized(
                "replayed-proof",
                "this proof was already used; an evidence download needs a fresh proof with a new \"jti\" each time",
            ));
        }
        if seen.until.len() >= MAX_NONCES {
            return Err(Problem::unavailable(
                "too many evidence downloads in the last five minutes; retry in a minute",
            ));
        }
        seen.until
            .insert(jti.to_owned(), iat.saturating_add(PROOF_MAX_AGE_SECONDS));
        Ok(())
    }
}

/// A new random token for user `name`, and its Argon2id hash.
pub fn new_token(name: &str) -> Result<(Zeroizing<String>, String), Problem> {
    let mut secret = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    let token = Zeroizing::new(format!(
        "cst.{name}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    ));
    let salt = SaltString::generate(&mut rand_core::OsRng);
    let hash = Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map_err(|e| Problem::internal(format!("hashing the token failed: {e}")))?
        .to_string();
    Ok((token, hash))
}

/// The shortest console password accepted (NIST SP 800-63B §3.1.1.2 asks for at least 8; a
/// node guarding evidence asks for more).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The Argon2id hash of a console password, after checking its length.
pub fn hash_password(password: &str) -> Result<String, Problem> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Problem::unprocessable(
            "weak-password",
            format!(
                "a console password needs at least {MIN_PASSWORD_CHARS} characters (got {chars}); a passphrase of several words is easiest"
            ),
        ));
    }
    if chars > 1024 {
        return Err(Problem::unprocessable(
            "weak-password",
            "a console password is at most 1024 characters",
        ));
    }
    let salt = SaltString::generate(&mut rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Problem::internal(format!("hashing the password failed: {e}")))
}

/// Whether `secret` matches the Argon2 PHC string `stored`. Argon2 is deliberately slow, so the
/// check runs off the async workers.
async fn argon2_matches(stored: String, secret: Zeroizing<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// Checks a console password against a stored Argon2 hash.
pub async fn verify_password(stored: Option<String>, password: Zeroizing<String>) -> bool {
    // Without a stored hash, still pay Argon2's cost so timing does not tell which users exist.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$QpmRRKQrDHyxVBd7iZ8bKFwKDRyVbDE5JDBO4Z2fRnU";
    let has_hash = stored.is_some();
    let ok = argon2_matches(stored.unwrap_or_else(|| DUMMY.to_owned()), password).await;
    ok && has_hash
}

/// A user name: lower-case letters, digits, `-` and `_`, 1 to 64 characters.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl TokenCache {
    /// Checks a bearer token.
    pub async fn verify(&self, store: &Store, token: &str) -> Result<User, Problem> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(map) = self.verified.lock()
            && let Some((user, at)) = map.get(&key)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(user.clone());
        }
        let bad = || {
            Problem::unauthorized(
                "bad-token",
                "the API token is not valid; ask an admin for one (`custos user add`)",
            )
        };
        let mut parts = token.splitn(3, '.');
        let (Some("cst"), Some(name), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let user = store.user(name).await?.ok_or_else(bad)?;
        if user.disabled_at.is_some() {
            return Err(Problem::unauthorized(
                "disabled-user",
                format!("the user {name} is disabled"),
            ));
        }
        let ok = argon2_matches(user.token_hash.clone(), Zeroizing::new(token.to_owned())).await;
        if !ok {
            return Err(bad());
        }
        if let Ok(mut map) = self.verified.lock() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key, (user.clone(), Instant::now()));
        }
        Ok(user)
    }
}

/// Identifies the caller from the `Authorization` header.
pub async fn caller(
    store: &Store,
    tokens: &TokenCache,
    directory: &Directory,
    authorization: Option<&str>,
    method: &str,
    path: &str,
) -> Result<Caller, Problem> {
    caller_with(store, tokens, directory, authorization, method, path, false).await
}

/// Like [`caller`], but an authority's proof must carry a `jti` not seen before (for requests
/// whose every replay would be logged again, such as evidence downloads).
pub async fn caller_single_use(
    store: &Store,
    tokens: &TokenCache,
    directory: &Directory,
    authorization: Option<&str>,
    method: &str,
    path: &str,
) -> Result<Caller, Problem> {
    caller_with(store, tokens, directory, authorization, method, path, true).await
}

async fn caller_with(
    store: &Store,
    tokens: &TokenCache,
    directory: &Directory,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    single_use: bool,
) -> Result<Caller, Problem> {
    let Some(value) = authorization else {
        return Err(Problem::unauthorized(
            "no-credentials",
            "send `Authorization: Bearer <token>` (people) or `Authorization: Custos-JWS <proof>` (requesting authorities)",
        ));
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        // The role is the one the log gave, never the table's (which anyone with the database
        // could edit).
        let user = tokens.verify(store, token.trim()).await?;
        return directory.with_logged_role(user).await.map(Caller::User);
    }
    if let Some(jws) = value.strip_prefix("Custos-JWS ") {
        let nonces = single_use.then_some(&tokens.nonces);
        return authority_proof(directory, jws.trim(), method, path, nonces)
            .await
            .map(Caller::Authority);
    }
    Err(Problem::unauthorized(
        "no-credentials",
        "the Authorization scheme must be Bearer or Custos-JWS",
    ))
}

async fn authority_proof(
    directory: &Directory,
    jws: &str,
    method: &str,
    path: &str,
    nonces: Option<&ProofNonces>,
) -> Result<Authority, Problem> {
    let (authority, payload) = directory.verify(jws).await?;
    #[derive(serde::Deserialize)]
    struct Claims {
        htm: String,
        htu: String,
        iat: i64,
        #[serde(default)]
        jti: Option<String>,
    }
    let claims: Claims = serde_json::from_slice(&payload).map_err(|e| {
        Problem::unauthorized(
            "bad-proof",
            format!("the proof's payload must be {{\"htm\",\"htu\",\"iat\"}}: {e}"),
        )
    })?;
    if !claims.htm.eq_ignore_ascii_case(method) || claims.htu != path {
        return Err(Problem::unauthorized(
            "bad-proof",
            format!(
                "the proof is for {} {}, not for {method} {path}",
                claims.htm, claims.htu
            ),
        ));
    }
    let now = jiff::Timestamp::now().as_second();
    let age = now - claims.iat;
    if !(-60..=PROOF_MAX_AGE_SECONDS).contains(&age) {
        return Err(Problem::unauthorized(
            "stale-proof",
            format!(
                "the proof was made {age} s ago; proofs are valid for {PROOF_MAX_AGE_SECONDS} s. Sign a fresh one."
            ),
        ));
    }
    if let Some(nonces) = nonces {
        let jti = claims.jti.as_deref().ok_or_else(|| {
            Problem::unauthorized(
                "bad-proof",
                "this request needs a single-use proof: add a \"jti\" claim of at least 16 random bytes, base64url, new for every request (`custos fetch` does this)",
            )
        })?;
        nonces.admit(jti, claims.iat, now)?;
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JTI: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn slug(p: &Problem) -> &str {
        p.kind.rsplit('/').next().unwrap_or_default()
    }

    #[test]
    fn a_nonce_is_admitted_once_within_the_window() {
        let n = ProofNonces::new(1_000);
        assert!(n.admit(JTI, 1_000, 1_000).is_ok());
        let again = n.admit(JTI, 1_000, 1_100).unwrap_err();
        assert_eq!((again.status, slug(&again)), (401, "replayed-proof"));
        assert!(n.admit("BBBBBBBBBBBBBBBBBBBBBB", 1_000, 1_100).is_ok());
    }

    #[test]
    fn nonces_are_forgotten_once_their_proofs_are_stale() {
        let n = ProofNonces::new(1_000);
        n.admit(JTI, 1_000, 1_000).unwrap();
        n.admit("BBBBBBBBBBBBBBBBBBBBBB", 1_200, 1_200).unwrap();
        // At 1_301 the first proof (iat 1_000) is stale: its nonce is dropped, the other kept.
        n.admit("CCCCCCCCCCCCCCCCCCCCCC", 1_300, 1_301).unwrap();
        let seen = n.seen.lock().unwrap();
        assert!(!seen.until.contains_key(JTI));
        assert!(seen.until.contains_key("BBBBBBBBBBBBBBBBBBBBBB"));
        assert_eq!(seen.until.len(), 2);
    }

    #[test]
    fn proofs_made_before_the_start_and_malformed_nonces_are_refused() {
        let n = ProofNonces::new(1_000);
        let early = n.admit(JTI, 999, 1_000).unwrap_err();
        assert_eq!((early.status, slug(&early)), (401, "stale-proof"));
        for bad in ["short", "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAA AAAAAAAAAAAA"] {
            let p = n.admit(bad, 1_000, 1_000).unwrap_err();
            assert_eq!((p.status, slug(&p)), (401, "bad-proof"), "{bad}");
        }
    }

    #[test]
    fn the_set_is_bounded() {
        let n = ProofNonces::new(0);
        {
            let mut seen = n.seen.lock().unwrap();
            for i in 0..MAX_NONCES {
                seen.until.insert(format!("{i:0>22}"), 300);
            }
            seen.last_purge = 10;
        }
        let full = n.admit(JTI, 10, 10).unwrap_err();
        assert_eq!(full.status, 503);
        // Once those proofs are stale, room is made again.
        assert!(n.admit(JTI, 301, 301).is_ok());
    }
}
