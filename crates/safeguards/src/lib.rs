//! # custos-safeguards — the assessment engine
//!
//! Applies a **profile** (a set of safeguard rules) to one valid request, at a given time, for a
//! **receiving jurisdiction**, and yields findings, one outcome, the narrowed request and the
//! deadlines (`custos.assessment/v1`, see `shared/spec/safeguards.md`, version [`SPEC_VERSION`];
//! the repository's tests read a copy in `testdata/spec/`). It recommends; a person decides.
//!
//! The rules are not Rust: each is a Cedar `forbid` policy in `policies/*.cedar`, annotated with
//! its code, severity, legal basis and message, and validated against `policies/custos.cedarschema`.
//! Rust computes the facts a policy may look at ([`facts`]), reads which policies fired, and does
//! the arithmetic of narrowing and deadlines ([`engine`]).
//!
//! Where to start reading: [`Assessor::assess`]; the rules themselves are in
//! `policies/rights-first.cedar` and `policies/convention.cedar`.
//!
//! No I/O: profiles and jurisdictions are parsed from text the caller has read.

pub mod assessment;
pub mod engine;
pub mod facts;
pub mod jurisdiction;
pub mod profile;
pub mod proof;
pub mod template;

pub use assessment::{
    ASSESSMENT_FORMAT, Assessment, Deadlines, Finding, Narrowed, Outcome, Severity,
};
pub use engine::{AssessError, Assessor, narrow};
pub use facts::Facts;
pub use jurisdiction::{DeadlineSettings, Jurisdiction, JurisdictionError, LocalStatus};
pub use profile::{
    BUILTIN_PROFILES, Narrowing, Position, ProblemKind, Profile, ProfileError, ProfileProblem, Rule,
};
pub use proof::{PROOF_FORMAT, ProofRecord, ProofStatus, PropertyResult, profile_sha256};
pub use template::required_order;

/// The version of `safeguards.md` that the engine and the built-in profiles implement.
pub const SPEC_VERSION: &str = "1.1";
