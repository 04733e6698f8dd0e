//! `custos-transparency`: what a node publishes about its own work, for anyone to read.
//!
//! * [`report`] — the `custos.transparency/v1` document ([`Report`]) and the period it covers
//!   ([`Period`], dates inclusive).
//! * [`csv`] — the same report as CSV rows (`section,key,value`), for spreadsheets.
//! * [`table`] — the exact counts of a period ([`Table`]), never public.
//! * [`release`] — the differentially private release of a table (OpenDP's discrete Laplace
//!   mechanism over public domains) and its post-processing; the exact report; the consistency
//!   check the replay runs.
//!
//! The crate does no I/O: the service counts (through the store), this crate turns counts into
//! a report.

pub mod csv;
pub mod release;
pub mod report;
pub mod table;

pub use release::{Domains, ReleaseError};
pub use report::{Period, PeriodError, Report};
pub use table::Table;
