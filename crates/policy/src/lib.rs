//! The policy workbench (issue 17): what an operator runs before deploying a profile.
//!
//! * [`check`] — a profile against the schema and the annotation rules, every error located.
//! * [`diff`] — two profiles replayed over the same requests: which outcomes or findings change.
//! * [`prove`] — the profile's properties for *every* request the schema allows, by Cedar's
//!   symbolic compiler (SymCC) and the cvc5 SMT solver, with counterexamples turned back into
//!   requests ([`inverse`]).
//!
//! This crate sits above custos-safeguards and beside the node: `custos serve` never links the
//! solver path, and the build never needs the solver (it is found at run time, [`solver`]).

pub mod check;
pub mod diff;
pub mod inverse;
pub mod properties;
pub mod prove;
pub mod solver;
pub mod space;
