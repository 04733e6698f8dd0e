//! The directory of authorities as intake sees it: a cache of public keys by thumbprint, filled
//! from the store on a miss and reloaded whenever `authority.*` events are committed. The final
//! word on revocation is the database's, checked again inside the write transaction.

use std::collections::HashMap;
use std::sync::RwLock;

use custos_jose::{PublicJwk, parse_compact};
use custos_store::{Authority, Store};

use crate::ops::revoked_problem;
use crate::problem::Problem;

/// Cached directory entries.
#[derive(Debug, Default)]
pub struct Directory {
    entries: RwLock<HashMap<String, (Authority, PublicJwk)>>,
}

impl Directory {
    /// Drops every cached entry (they are reloaded on demand).
    pub fn invalidate(&self) {
        if let Ok(mut e) = self.entries.write() {
            e.clear();
        }
    }

    async fn lookup(
        &self,
        store: &Store,
        kid: &str,
    ) -> Result<Option<(Authority, PublicJwk)>, Problem> {
        if let Ok(e) = self.entries.read()
            && let Some(hit) = e.get(kid)
        {
            return Ok(Some(hit.clone()));
        }
        let Some(a) = store.authority(kid).await? else {
            return Ok(None);
        };
        let jwk = PublicJwk::parse(&a.jwk)
            .map_err(|e| Problem::internal(format!("stored key of {kid} is unusable: {e}")))?;
        if let Ok(mut e) = self.entries.write() {
            e.insert(kid.to_owned(), (a.clone(), jwk.clone()));
        }
        Ok(Some((a, jwk)))
    }

    /// Checks a compact JWS against the directory: the `kid` must name a registered, unrevoked
    /// key and the signature must verify. Returns the signer and the payload. Nothing about the
    /// payload is looked at before the signature checks.
    pub async fn verify(&self, store: &Store, jws: &str) -> Result<(Authority, Vec<u8>), Problem> {
        let unverified =
            parse_compact(jws).map_err(|e| Problem::bad_request("malformed-jws", e.to_string()))?;
        let kid = unverified.header().kid.clone().ok_or_else(|| {
            Problem::bad_request(
                "malformed-jws",
                "JWS protected header: kid is missing; set it to the RFC 7638 thumbprint of your key",
            )
        })?;
        let Some((authority, jwk)) = self.lookup(store, &kid).await? else {
            return Err(Problem::unauthorized(
                "unknown-key",
                format!(
                    "the key {kid} is not in this node's directory of authorities; ask the operator to register it"
                ),
            ));
        };
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
