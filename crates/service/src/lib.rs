//! `custos-service`: a running Custos node.
//!
//! Start reading at [`node::Node::open`] (how a node is assembled from its directory), then
//! [`http`] (what the API offers), [`ops`] (every state change and the rule behind it) and
//! [`writer`] (how changes become one ordered, durable, signed log).
//!
//! * [`config`] — `custos.toml`.
//! * [`directory`] — authority keys by RFC 7638 thumbprint; JWS verification for intake.
//! * [`auth`] — API tokens (Argon2id) for people, signed proofs for requesting authorities.
//! * [`ops`] — intake, decisions, second review, holds, notices, directory and user changes.
//! * [`writer`] — the single writer with group commit and checkpoint signing.
//! * [`log`] — the in-memory Merkle tree over the events table, proofs and tiles.
//! * [`evidence`] — sealed packages attached to requests, and their logged hand-over.
//! * [`http`] — routes, problems (RFC 9457), OpenAPI.
//! * [`serve`] — the listener: timeouts, connection cap, shedding of stalled connections.

pub mod auth;
pub mod config;
pub mod directory;
pub mod evidence;
pub mod http;
pub mod log;
pub mod node;
pub mod ops;
pub mod problem;
pub mod serve;
pub mod writer;

pub use config::Config;
pub use node::Node;
pub use problem::Problem;
