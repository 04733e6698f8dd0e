//! The directory of authorities and the users' roles as the node acts on them: derived from the
//! log, not read from a table.
//!
//! Anyone who can write the database can un-revoke a key in `authorities` or promote an auditor
//! in `users`. So the node never asks those tables who may do what. At start it folds the events
//! (after checking them against its own signed checkpoint, see [`crate::integrity`]) into a
//! [`Registry`], and the writer applies every later directory or user event to it, its own and
//! those other processes appended under a checkpoint signed with the node key. Intake's
//! signature check, the revocation re-check under the write lock, and every role check read it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{OnceLock, RwLock};

use custos_jose::{PublicJwk, parse_compact};
use custos_store::{Authority, Role, StoredEvent, User};

use crate::ops::revoked_problem;
use crate::problem::Problem;
use crate::replay::{ConfirmationKey, Registry};

/// How a miss asks for events other processes appended: the writer's `Job::Sync`, which takes
/// them in under a checkpoint signed with the node key. (A trait, so the directory needs nothing
/// of the writer, which needs the directory.)
pub trait CatchUp: Send + Sync + std::fmt::Debug {
    /// Takes in what other processes appended.
    fn catch_up(&self) -> Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + '_>>;

    /// Takes in what other processes appended, if the database holds events the node has not
    /// taken in (one cheap read when it holds none).
    fn refresh(&self) -> Pin<Box<dyn Future<Output = Result<(), Problem>> + Send + '_>> {
        self.catch_up()
    }
}

/// The verified directory and users.
#[derive(Debug, Default)]
pub struct Directory {
    registry: RwLock<Folded>,
    keys: RwLock<HashMap<String, PublicJwk>>,
    writer: OnceLock<Box<dyn CatchUp>>,
}

/// The registry and the log index of the first event not folded into it yet.
#[derive(Debug, Default)]
struct Folded {
    registry: Registry,
    next: u64,
}

impl std::ops::Deref for Folded {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl Directory {
    /// A directory holding what the log says.
    pub fn new(registry: Registry) -> Directory {
        Directory::folded_to(registry, 0)
    }

    /// A directory holding what the log's events before `next` say: an event before it is
    /// never applied twice (another process's events may be read again after a failed batch,
    /// or were already folded at start while the tree was read).
    pub fn folded_to(registry: Registry, next: u64) -> Directory {
        Directory {
            registry: RwLock::new(Folded { registry, next }),
            keys: RwLock::default(),
            writer: OnceLock::new(),
        }
    }

    /// Lets a miss (a key or user the directory does not know yet) ask the writer to take in
    /// what other processes appended, e.g. `custos authority add` a moment ago.
    pub fn attach(&self, writer: impl CatchUp + 'static) {
        let _ = self.writer.set(Box::new(writer));
    }

    async fn catch_up(&self) {
        if let Some(w) = self.writer.get()
            && let Err(p) = w.catch_up().await
        {
            tracing::warn!(problem = %p, "could not take in events appended by another process");
        }
    }

    /// Brings the directory up to the database before a decision that no write batch checks
    /// again (an authority's signed read): a key revoked through another process a moment ago
    /// is refused here too, not a second later.
    pub async fn refresh(&self) {
        if let Some(w) = self.writer.get()
            && let Err(p) = w.refresh().await
        {
            tracing::warn!(problem = %p, "could not take in events appended by another process");
        }
    }

    /// Takes in committed events (directory and user events; others are ignored).
    pub fn apply(&self, events: &[StoredEvent]) {
        let Ok(mut r) = self.registry.write() else {
            return;
        };
        for e in events {
            if e.seq < r.next {
                continue;
            }
            r.next = e.seq + 1;
            if let Err(problem) = r.registry.apply_stored(e) {
                tracing::error!(seq = e.seq, %problem, "a logged directory event could not be applied");
            }
        }
    }

    /// An authority by key thumbprint, as the log has it (revocations applied).
    pub fn authority(&self, kid: &str) -> Option<Authority> {
        self.registry
            .read()
            .ok()
            .and_then(|r| r.authorities.get(kid).cloned())
    }

    /// A confirmation key by thumbprint, as the log has it.
    pub fn confirmation_key(&self, kid: &str) -> Option<ConfirmationKey> {
        self.registry
            .read()
            .ok()
            .and_then(|r| r.confirmation_keys.get(kid).cloned())
    }

    /// An authority's call-back contact, as the log has it (the latest set).
    pub fn contact(&self, authority_kid: &str) -> Option<crate::ops::Contact> {
        self.registry
            .read()
            .ok()
            .and_then(|r| r.contacts.get(authority_kid).cloned())
    }

    /// As [`Directory::contact`], after taking in what other processes appended if the
    /// directory has none (e.g. `custos authority contact set` a moment ago).
    pub async fn contact_caught_up(&self, authority_kid: &str) -> Option<crate::ops::Contact> {
        if self.contact(authority_kid).is_none() {
            self.catch_up().await;
        }
        self.contact(authority_kid)
    }

    /// The role the log gave `name`.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.registry.read().ok().and_then(|r| r.role(name))
    }

    /// `user` (read from the users table for its credentials) with the role the log gave it.
    /// A user the log never added is refused.
    pub async fn with_logged_role(&self, mut user: User) -> Result<User, Problem> {
        if self.role(&user.name).is_none() {
            self.catch_up().await;
        }
        match self.role(&user.name) {
            Some(role) => {
                user.role = role;
                Ok(user)
            }
            None => {
                tracing::warn!(user = %user.name, "a user row without a user.added event was refused");
                Err(Problem::unauthorized(
                    "bad-token",
                    "the API token is not valid; ask an admin for one (`custos user add`)",
                ))
            }
        }
    }

    fn key(&self, a: &Authority) -> Result<PublicJwk, Problem> {
        if let Ok(k) = self.keys.read()
            && let Some(hit) = k.get(&a.kid)
        {
            return Ok(hit.clone());
        }
        let jwk = PublicJwk::parse(&a.jwk)
            .map_err(|e| Problem::internal(format!("logged key of {} is unusable: {e}", a.kid)))?;
        if let Ok(mut k) = self.keys.write() {
            k.insert(a.kid.clone(), jwk.clone());
        }
        Ok(jwk)
    }

    /// Checks a confirmation (compact JWS) against the directory: the `kid` must name a
    /// registered confirmation key of an unrevoked authority, and the signature must verify.
    /// The key that signs requests cannot confirm them. Returns the key and the payload.
    pub async fn verify_confirmation(
        &self,
        jws: &str,
    ) -> Result<(ConfirmationKey, Vec<u8>), Problem> {
        let unverified =
            parse_compact(jws).map_err(|e| Problem::bad_request("malformed-jws", e.to_string()))?;
        let kid = unverified.header().kid.clone().ok_or_else(|| {
            Problem::bad_request(
                "malformed-jws",
                "JWS protected header: kid is missing; set it to the RFC 7638 thumbprint of the confirmation key",
            )
        })?;
        if self.confirmation_key(&kid).is_none() && self.authority(&kid).is_none() {
            self.catch_up().await;
        }
        if self.authority(&kid).is_some() {
            return Err(Problem::forbidden(
                "not-a-confirmation-key",
                format!(
                    "the key {kid} signs requests; a confirmation must be signed by another person's confirmation key registered for the authority (`custos authority confirm-key add`)"
                ),
            ));
        }
        let Some(key) = self.confirmation_key(&kid) else {
            return Err(Problem::unauthorized(
                "unknown-key",
                format!(
                    "the key {kid} is not a confirmation key in this node's directory; ask the operator to register it"
                ),
            ));
        };
        let jwk = PublicJwk::parse(&key.jwk)
            .map_err(|e| Problem::internal(format!("logged key of {kid} is unusable: {e}")))?;
        let verified = unverified.verify(&jwk).map_err(|_| {
            Problem::unauthorized(
                "bad-signature",
                format!("the signature does not verify under the confirmation key {kid}"),
            )
        })?;
        if let Some(a) = self.authority(&key.authority_kid)
            && a.revoked_at.is_some()
        {
            return Err(revoked_problem(&a));
        }
        Ok((key, verified.payload))
    }

    /// Checks a compact JWS against the directory: the `kid` must name a registered, unrevoked
    /// key and the signature must verify. Returns the signer and the payload. Nothing about the
    /// payload is looked at before the signature checks.
    pub async fn verify(&self, jws: &str) -> Result<(Authority, Vec<u8>), Problem> {
        let unverified =
            parse_compact(jws).map_err(|e| Problem::bad_request("malformed-jws", e.to_string()))?;
        let kid = unverified.header().kid.clone().ok_or_else(|| {
            Problem::bad_request(
                "malformed-jws",
                "JWS protected header: kid is missing; set it to the RFC 7638 thumbprint of your key",
            )
        })?;
        if self.authority(&kid).is_none() {
            self.catch_up().await;
        }
        if let Some(c) = self.confirmation_key(&kid) {
            // A stolen confirmation key must not become a way in: it can only confirm.
            return Err(Problem::forbidden(
                "confirmation-key",
                format!(
                    "the key {kid} is a confirmation key of {}: it may confirm that authority's emergency requests, not sign requests; sign with the authority's own key",
                    c.authority_kid
                ),
            ));
        }
        let Some(authority) = self.authority(&kid) else {
            return Err(Problem::unauthorized(
                "unknown-key",
                format!(
                    "the key {kid} is not in this node's directory of authorities; ask the operator to register it"
                ),
            ));
        };
        let jwk = self.key(&authority)?;
        let verified = unverified.verify(&jwk).map_err(|_| {
            Problem::unauthorized(
                "bad-signature",
                format!("the signature does not verify under the registered key {kid}; the request may be forged or altered"),
            )
        })?;
        if authority.revoked_at.is_some() {
            return Err(revoked_problem(&authority));
        }
        Ok((authority, verified.payload))
    }
}
