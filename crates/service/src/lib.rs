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
//! * [`console_state`] — the console's sessions and sign-in counts in the node's database
//!   (security state, not events).
//! * [`directory`] — the directory and users' roles as the log says; JWS verification for intake.
//! * [`integrity`] — what the node trusts: its signed checkpoints and the head file beside the
//!   database; a history they contradict is refused.
//! * [`replay`] — every table rebuilt from the events, and the differences named.
//! * [`audit`] — `custos audit`: the log, the tables and custody checked with the verifier key.
//! * [`offline`] — the writes of the CLI's `authority`, `user` and `evidence seal` commands,
//!   one batch each, checked and signed like the writer's.
//! * [`auth`] — API tokens (Argon2id) for people, signed proofs for requesting authorities.
//! * [`ops`] — every state change: intake (and its rules, [`ops::admit`]), decisions, second
//!   review, holds, notices, directory and user changes, evidence records.
//! * [`writer`] — the single writer with group commit and checkpoint signing; runs only typed
//!   [`writer::Job`]s.
//! * [`scheduler`] — what falls due: lapsed holds, ends of confidentiality, notices, retention.
//! * [`log`] — the in-memory Merkle tree over the events table, proofs and tiles.
//! * [`custody`] — the files of sealed packages: taken in whole or not at all, removed only
//!   after their logged destruction.
//! * [`attachments`] — the files staff attach to a case, kept by BLAKE3 digest, written
//!   durably before `attachment.added` is logged, checked on every read and by the audit.
//! * [`custody_case`] — the chain of custody of a case's evidence, per package, and its CASE/UCO
//!   JSON-LD for forensic tools (a pure function of the logged events).
//! * [`http`] — routes and OpenAPI (`http/mod.rs`; the handlers by theme in `http/requests.rs`,
//!   `http/directory.rs`, `http/log.rs` and `http/evidence.rs`; who is calling, as extractors,
//!   in `http/extract.rs`), problems (RFC 9457).
//! * [`wire`] — the node's JSON answers as typed structs, shared by the server and the CLI.
//! * [`serve`] — the listener: timeouts, connection cap, shedding of stalled connections.
//! * [`cosigning`] — witnessed checkpoints: witnesses asked to cosign in the background, the
//!   newest checkpoint with a quorum kept beside the head file and served; [`witnessing`] — the
//!   task `custos serve` runs (`Node::run_cosigning`).
//! * [`transparency`] — public transparency reports (`custos.transparency/v1`).
//! * [`templates`] — reply templates per ground (built-in words, replaced by `[templates]`).
//! * [`profiles`] — the profiles a node shows its staff, with the record of their last proof.
//! * [`notify`] — notifications to staff through a command or a webhook, following the log
//!   from a cursor kept in the store.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod console_state;
pub mod cosigning;
pub mod custody;
pub mod custody_case;
pub mod directory;
pub mod http;
pub mod integrity;
pub mod log;
pub mod migrate;
pub mod node;
pub mod node_dir;
pub mod notify;
pub mod offline;
pub mod ops;
pub mod problem;
pub mod profiles;
pub mod query;
pub mod replay;
pub mod scheduler;
pub mod serve;
pub mod templates;
pub mod transparency;
pub mod wire;
pub mod witnessing;
pub mod writer;

pub use config::Config;
pub use node::Node;
pub use node_dir::NodeDir;
pub use problem::Problem;
