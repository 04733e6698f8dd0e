//! Who is asking: people by bearer token, requesting authorities by a signed proof.
//!
//! * **Users** hold API tokens `cst.<name>.<secret>`. The node stores only an Argon2id hash;
//!   a verified token is remembered (by its SHA-256) for a minute so Argon2's deliberate cost is
//!   paid once per minute, not per request.
//! * Every Argon2 verification of the process (API tokens and console passwords) holds a permit
//!   of [`Argon2Gate`], so a flood of sign-ins costs bounded memory; without a permit in time
//!   the caller hears "busy" (503, `Retry-After`).
//! * **Requesting authorities** sign each read with their directory key: the header
//!   `Authorization: Custos-JWS <compact JWS>` whose payload is `{"htm": METHOD, "htu": PATH,
//!   "iat": UNIX-SECONDS}` (the claims of RFC 9449 DPoP proofs). A proof is valid for five
//!   minutes and only for the method and path it names. A proof for an evidence download must
//!   also carry a nonce (`"jti"`, at least 16 random bytes, base64url): the node admits each jti
//!   once, and only from proofs made since it started (see [`ProofNonces`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use custos_store::{Authority, Store, User};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

use crate::directory::Directory;
use crate::problem::Problem;
use crate::wire::ProofClaims;

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

/// Most Argon2 verifications that run at once, whatever the core count: each holds 19 MiB.
const MAX_ARGON2_PERMITS: usize = 8;
/// How long a verification may wait for a permit before the node answers "busy".
const ARGON2_WAIT: Duration = Duration::from_secs(2);
/// What a busy node asks the client to wait, in seconds (`Retry-After`).
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 1;
/// Largest Argon2 memory cost accepted from a stored hash (KiB): the node's own hashes use 19 MiB,
/// and the bound keeps every permit's memory bounded even for a hash written by hand.
const MAX_ARGON2_M_KIB: u32 = 64 * 1024;

/// No Argon2 permit came free in time: the node is busy verifying secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node is busy checking passwords and tokens; retry in {BUSY_RETRY_AFTER_SECONDS} s")]
pub struct Busy;

impl From<Busy> for Problem {
    fn from(b: Busy) -> Problem {
        Problem::busy(b.to_string(), BUSY_RETRY_AFTER_SECONDS)
    }
}

/// The process-wide bound on Argon2: a semaphore with about one permit per core, and for each
/// permit one reusable memory area, so concurrent sign-ins cost at most `permits × 19 MiB` and
/// never more allocations than that, however many arrive.
#[derive(Debug)]
pub struct Argon2Gate {
    permits: Arc<Semaphore>,
    memory: Mutex<Vec<Vec<Block>>>,
    wait: Duration,
}

/// The right to run one Argon2 verification; Argon2 only runs while one is held.
#[derive(Debug)]
pub struct Argon2Permit {
    // Held, never read: dropping it hands the permit back.
    _held: OwnedSemaphorePermit,
}

impl Argon2Gate {
    /// A gate with `permits` concurrent verifications, each waiting at most `wait` for a permit.
    pub fn new(permits: usize, wait: Duration) -> Argon2Gate {
        Argon2Gate {
            permits: Arc::new(Semaphore::new(permits)),
            memory: Mutex::new(Vec::new()),
            wait,
        }
    }

    /// The gate every verification of this process goes through.
    pub fn global() -> &'static Argon2Gate {
        static GATE: LazyLock<Argon2Gate> = LazyLock::new(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            Argon2Gate::new(cores.clamp(2, MAX_ARGON2_PERMITS), ARGON2_WAIT)
        });
        &GATE
    }

    /// Waits (boundedly) for a permit.
    pub async fn permit(&self) -> Result<Argon2Permit, Busy> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(held)) => Ok(Argon2Permit { _held: held }),
            _ => Err(Busy),
        }
    }

    /// Whether `secret` matches the Argon2 PHC string `stored`. Runs off the async workers and
    /// keeps the permit until Argon2 has finished, even if the caller goes away meanwhile.
    pub async fn matches(
        &'static self,
        permit: Argon2Permit,
        stored: String,
        secret: Zeroizing<String>,
    ) -> bool {
        tokio::task::spawn_blocking(move || {
            let mut blocks = self
                .memory
                .lock()
                .ok()
                .and_then(|mut m| m.pop())
                .unwrap_or_default();
            let ok = phc_matches(&stored, secret.as_bytes(), &mut blocks);
            if let Ok(mut m) = self.memory.lock() {
                m.push(blocks);
            }
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false)
    }
}

/// Argon2 verification of `secret` against a PHC string, in the caller's memory `blocks` (grown
/// if needed, never shrunk, so each permit allocates once).
fn phc_matches(stored: &str, secret: &[u8], blocks: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_KIB {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut buf = Zeroizing::new([0u8; 64]);
    let Some(out) = buf.get_mut(..expected.len()) else {
        return false;
    };
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(secret, salt, &mut *out, &mut blocks[..])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(out).is_ok_and(|got| got == expected)
}

/// Checks a console password against a stored Argon2 hash, through the process's Argon2 gate.
pub async fn verify_password(
    stored: Option<String>,
    password: Zeroizing<String>,
) -> Result<bool, Busy> {
    // Without a stored hash, still pay Argon2's cost so timing does not tell which users exist.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$QpmRRKQrDHyxVBd7iZ8bKFwKDRyVbDE5JDBO4Z2fRnU";
    let gate = Argon2Gate::global();
    let permit = gate.permit().await?;
    let has_hash = stored.is_some();
    let ok = gate
        .matches(permit, stored.unwrap_or_else(|| DUMMY.to_owned()), password)
        .await;
    Ok(ok && has_hash)
}

/// A user name: lower-case letters, digits, `-` and `_`, 1 to 64 characters.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl TokenCache {
    fn cached(&self, key: &[u8; 32]) -> Option<User> {
        let map = self.verified.lock().ok()?;
        let (user, at) = map.get(key)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| user.clone())
    }

    /// Checks a bearer token.
    pub async fn verify(&self, store: &Store, token: &str) -> Result<User, Problem> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(user) = self.cached(&key) {
            return Ok(user);
        }
        let bad = || {
            Problem::unauthorized(
                "bad-token",
                "the API token is not valid; ask an admin for one (`custos user add`)",
            )
        };
        let mut parts = token.splitn(3, '.');
        let (Some("cst"), Some(name), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        // A token the node could not have issued costs no database read and no Argon2.
        if !valid_user_name(name) || secret.len() > 64 {
            return Err(bad());
        }
        let user = store.user(name).await?.ok_or_else(bad)?;
        if user.disabled_at.is_some() {
            return Err(Problem::unauthorized(
                "disabled-user",
                format!("the user {name} is disabled"),
            ));
        }
        let gate = Argon2Gate::global();
        let permit = gate.permit().await?;
        // A burst with one new token: whoever waited for a permit may find it verified by now.
        if let Some(user) = self.cached(&key) {
            return Ok(user);
        }
        let ok = gate
            .matches(
                permit,
                user.token_hash.clone(),
                Zeroizing::new(token.to_owned()),
            )
            .await;
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

/// Splits `Authorization` into its scheme, lower-cased for matching (RFC 9110 §11.1: schemes
/// are case-insensitive), and its credentials.
fn scheme(value: &str) -> Option<(String, &str)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), rest.trim()))
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
    match scheme(value) {
        Some((s, token)) if s == "bearer" => {
            // The role is the one the log gave, never the table's (which anyone with the
            // database could edit).
            let user = tokens.verify(store, token).await?;
            return directory.with_logged_role(user).await.map(Caller::User);
        }
        Some((s, jws)) if s == "custos-jws" => {
            let nonces = single_use.then_some(&tokens.nonces);
            return authority_proof(directory, jws, method, path, nonces)
                .await
                .map(Caller::Authority);
        }
        _ => {}
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
    // A read is not checked again in a write batch: revocations other processes logged count
    // from the moment they committed.
    directory.refresh().await;
    let (authority, payload) = directory.verify(jws).await?;
    let claims: ProofClaims = serde_json::from_slice(&payload).map_err(|e| {
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

    #[test]
    fn auth_schemes_are_case_insensitive() {
        for v in ["Bearer cst.a.b", "bearer cst.a.b", "BEARER  cst.a.b "] {
            assert_eq!(scheme(v), Some(("bearer".to_owned(), "cst.a.b")), "{v}");
        }
        for v in ["Custos-JWS x.y.z", "custos-jws x.y.z", "CUSTOS-JWS x.y.z"] {
            assert_eq!(scheme(v), Some(("custos-jws".to_owned(), "x.y.z")), "{v}");
        }
        assert_eq!(scheme("Bearer"), None);
    }

    #[test]
    fn the_gate_checks_passwords_in_reused_memory_and_refuses_forged_costs() {
        let hash = hash_password("correct horse battery staple").expect("hashed");
        let mut blocks = Vec::new();
        assert!(phc_matches(
            &hash,
            b"correct horse battery staple",
            &mut blocks
        ));
        let allocated = blocks.len();
        assert!(allocated > 0);
        assert!(!phc_matches(
            &hash,
            b"correct horse battery stapler",
            &mut blocks
        ));
        assert_eq!(blocks.len(), allocated, "the memory is reused, not grown");
        // A stored hash asking for more memory than any the node makes is refused unrun.
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$QpmRRKQrDHyxVBd7iZ8bKFwKDRyVbDE5JDBO4Z2fRnU";
        assert!(!phc_matches(greedy, b"x", &mut blocks));
        assert_eq!(blocks.len(), allocated);
        assert!(!phc_matches("not a hash", b"x", &mut blocks));
    }

    #[tokio::test]
    async fn with_every_permit_taken_a_check_is_refused_as_busy_then_runs_when_one_is_free() {
        let gate: &'static Argon2Gate = Box::leak(Box::new(Argon2Gate::new(1, Duration::ZERO)));
        let held = gate.permit().await.expect("the one permit");
        assert_eq!(gate.permit().await.unwrap_err(), Busy);
        let p = Problem::from(Busy);
        assert_eq!(
            (p.status, p.retry_after.map(u64::from)),
            (503, Some(BUSY_RETRY_AFTER_SECONDS))
        );
        let resp = axum::response::IntoResponse::into_response(p);
        assert_eq!(resp.headers()["retry-after"], "1");
        drop(held);
        let hash = hash_password("correct horse battery staple").expect("hashed");
        let permit = gate.permit().await.expect("free again");
        let secret = Zeroizing::new("correct horse battery staple".to_owned());
        assert!(gate.matches(permit, hash, secret).await);
        // The permit went back when Argon2 was done.
        assert!(gate.permit().await.is_ok());
    }
}
