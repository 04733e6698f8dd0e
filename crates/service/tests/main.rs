//! The in-process tests of custos-service, one binary: `ops`, the writer and the scheduler
//! against a temporary store, with an injected clock (no sleeps). Everything is built by
//! `fixture`: an SQLite file, or with `CUSTOS_TEST_BACKEND=postgres` a database of its own on the
//! PostgreSQL server.

mod fixture;

mod attachments;
mod callback;
mod collaboration;
mod conditions;
mod consultation;
mod custody_chain;
mod deadlines;
mod decisions;
mod directory;
mod emergency;
mod evidence_targets;
mod extensions;
mod follow_up;
mod intake;
mod integrity;
mod lifecycle;
mod narrowing;
mod notices;
mod notifications;
mod order;
mod postponement;
mod publication;
mod queue;
mod reclassification;
mod replay;
mod reply;
mod scheduler;
mod search;
mod secrecy;
mod supplements;
mod targets;
mod transparency;
mod versions;
mod withdrawal;
mod witnesses;
mod writer;
