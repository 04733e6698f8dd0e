//! `custos-ledger`: the pure, storage-agnostic core of Custos' tamper-evident log.
//!
//! Every state change of a Custos deployment (a request received, vetted,
//! answered…) is appended to an append-only Merkle log, and the log publishes
//! signed checkpoints that anyone can verify. This crate holds everything that
//! is pure computation about that log, so that the server, the CLI and
//! independent auditors share one implementation, and so that it can be tested
//! against public vectors:
//!
//! * [`hash`] — RFC 6962/9162 leaf, node and empty-tree hashing; the [`Hash`](struct@Hash) type.
//! * [`tree`] — the Merkle tree over a pluggable [`HashStore`], roots, inclusion
//!   and consistency proofs (RFC 9162 §2.1), and their stateless verification.
//! * [`note`] — C2SP signed notes with Ed25519 keys.
//! * [`checkpoint`] — C2SP tlog-checkpoint bodies, signed as notes.
//! * [`cosignature`] — C2SP tlog-cosignature: witness keys (type 0x04) and
//!   Ed25519 `cosignature/v1` lines over checkpoints.
//! * [`tiles`] — C2SP tlog-tiles: tile paths, tile bytes, entry bundles, and
//!   verification from tiles.
//! * [`commitment`] — the public leaf of an event: a salted SHA-256 commitment
//!   to its RFC 8785 canonical JSON.
//!
//! The crate does no I/O: no files, no network, no database. Storage sits behind
//! [`tree::HashStore`]; randomness comes from a caller-supplied RNG, except
//! [`commitment::Salt::random`], which asks the operating system.

pub mod checkpoint;
pub mod commitment;
pub mod cosignature;
pub mod hash;
pub mod note;
pub mod tiles;
pub mod tree;

pub use checkpoint::Checkpoint;
pub use cosignature::{WitnessSignerKey, WitnessVerifierKey};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use note::{SignerKey, VerifierKey};
pub use tree::{
    ConsistencyProof, HashReader, HashStore, InclusionProof, MemoryStore, MerkleTree, NodeId,
    verify_consistency, verify_inclusion,
};
