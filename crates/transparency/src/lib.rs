//! `custos-transparency`: what a node publishes about its own work, for anyone to read.
//!
//! * [`report`] — the `custos.transparency/v1` document ([`Report`]) and the period it covers
//!   ([`Period`], dates inclusive).
//!
//! The crate does no I/O: the service counts (through the store), this crate turns counts into
//! a report.

pub mod report;

pub use report::{Period, PeriodError, Report};
