//! The record of a proof of a profile's properties (`custos.proof/v1`): written by
//! `custos policy prove --dir NODE` into `NODE/proofs/<profile>.json`, read by the console's
//! profile page. Plain data: proving lives in custos-policy, and a node never runs the solver.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Profile;

/// The format tag of a proof record.
pub const PROOF_FORMAT: &str = "custos.proof/v1";

/// SHA-256 (lower-case hex) of a profile's Cedar text: what a proof record names, so that a
/// record proves that text and no other.
pub fn profile_sha256(profile: &Profile) -> String {
    hex::encode(Sha256::digest(profile.source().as_bytes()))
}

/// One run of `custos policy prove` over one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofRecord {
    /// Always [`PROOF_FORMAT`].
    pub format: String,
    /// The profile's name (`@profile`).
    pub profile: String,
    /// SHA-256 (hex) of the profile's Cedar text: a record proves that text and no other.
    pub profile_sha256: String,
    /// When the proof ran.
    pub proved_at: Timestamp,
    /// The solver, as it names itself (e.g. `cvc5 1.4.2`).
    pub solver: String,
    /// Every property checked, in the order checked.
    pub properties: Vec<PropertyResult>,
}

/// The verdict on one property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyResult {
    /// Stable name, e.g. `judicial-authorization` or `no-dead-rule`.
    pub name: String,
    /// What it claims, in plain words.
    pub statement: String,
    /// Its legal basis (sources separated by `; `).
    pub basis: String,
    pub status: ProofStatus,
    /// For `fails`: the counterexample's facts, in words; for `not_applicable` and `error`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Solver time, in milliseconds.
    pub millis: u64,
}

/// What the solver found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofStatus {
    /// True for every request the schema allows.
    Holds,
    /// False: a counterexample exists.
    Fails,
    /// The profile states nothing the property could check (e.g. no cap on secrecy).
    NotApplicable,
    /// The solver gave no answer (time limit, `unknown`) or failed.
    Error,
}
