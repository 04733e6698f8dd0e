//! `custos-service`: a running Custos node.
//!
//! Start reading at [`node::Node::open`] (how a node is assembled from its directory), then
//! [`http`] (what the API offers), [`ops`] (every state change and the rule behind it) and
//! [`writer`] (how changes become one ordered, durable, signed log).
//!
//! * [`config`] — `custos.toml`; [`node_dir`] — a node directory opened once (configuration,
//!   key, database), by the node and by every command.
//! * [`query`] — typed reads for the console, the API's lists and the CLI; [`query::CaseQuery`],
//!   the one filter of case lists.
//! * [`directory`] — the directory and users' roles as the log says; JWS verification for intake.
//! * [`integrity`] — what the node trusts: its signed checkpoints and the head file beside the
//!   database; a history they contradict is refused.
//! * [`replay`] — every table rebuilt from the events, and the differences named.
//! * [`audit`] — `custos audit`: the log, the tables and custody checked with the verifier key.
//! * [`offline`] — the writes of the CLI's `authority`, `user` and `evidence seal` commands,
//!   one batch each, checked and signed like the writer's.
//! * [`auth`] — API tokens (Argon2id) for people, signed proofs for requesting authorities.
//! * [`ops`] — intake, decisions, second review, holds, notices, directory and user changes.
//! * [`writer`] — the single writer with group commit and checkpoint signing.
//! * [`log`] — the in-memory Merkle tree over the events table, proofs and tiles.
//! * [`evidence`] — sealed packages attached to requests, and their logged hand-over.
//! * [`http`] — routes, problems (RFC 9457), OpenAPI.
//! * [`serve`] — the listener: timeouts, connection cap, shedding of stalled connections.

pub mod audit;
pub mod auth;
pub mod config;
pub mod directory;
pub mod evidence;
pub mod http;
pub mod integrity;
pub mod log;
pub mod node;
pub mod node_dir;
pub mod offline;
pub mod ops;
pub mod problem;
pub mod query;
pub mod replay;
pub mod serve;
pub mod writer;

pub use config::Config;
pub use node::Node;
pub use node_dir::NodeDir;
pub use problem::Problem;
