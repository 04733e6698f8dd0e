//! Who is asking: people by bearer token, requesting authorities by a signed proof.
//!
//! * **Users** hold API tokens `cst.<name>.<secret>`. The node stores only an Argon2id hash;
//!   a verified token is remembered (by its SHA-256) for a minute so Argon2's deliberate cost is
//!   paid once per minute, not per request.
//! * **Requesting authorities** sign each read with their directory key: the header
//!   `Authorization: Custos-JWS <compact JWS>` whose payload is `{"htm": METHOD, "htu": PATH,
//!   "iat": UNIX-SECONDS}` (the claims of RFC 9449 DPoP proofs). A proof is valid for five
//!   minutes and only for the method and path it names.

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

/// Remembers verified tokens.
#[derive(Debug, Default)]
pub struct TokenCache {
    verified: Mutex<HashMap<[u8; 32], (User, Instant)>>,
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
        return authority_proof(directory, jws.trim(), method, path)
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
) -> Result<Authority, Problem> {
    let (authority, payload) = directory.verify(jws).await?;
    #[derive(serde::Deserialize)]
    struct Claims {
        htm: String,
        htu: String,
        iat: i64,
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
    let age = jiff::Timestamp::now().as_second() - claims.iat;
    if !(-60..=PROOF_MAX_AGE_SECONDS).contains(&age) {
        return Err(Problem::unauthorized(
            "stale-proof",
            format!(
                "the proof was made {age} s ago; proofs are valid for {PROOF_MAX_AGE_SECONDS} s. Sign a fresh one."
            ),
        ));
    }
    Ok(authority)
}
