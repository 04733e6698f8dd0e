//! # custos-model — the treaty vocabulary
//!
//! What a request for electronic evidence *is*, in the terms of the UN Convention against
//! Cybercrime (UNCC): the measure asked for, the channel it travels by, the data categories, the
//! offences and their penalties, the authority asking, the targets, the period, the authorization
//! behind it, and the requester's secrecy and data-protection terms (`custos.request/v1`, see
//! `shared/spec/request-format.md`).
//!
//! This crate does no I/O and depends on no other Custos crate: storage, HTTP, crypto and the
//! safeguards engine all depend on it, never the reverse.
//!
//! Start reading at [`Request`] and [`parse_request`].

pub mod deadline;
pub mod diff;
pub mod event;
pub mod measure;
pub mod offence;
pub mod outcome;
pub mod package;
pub mod parse;
pub mod request;
#[cfg(feature = "strategies")]
pub mod strategies;
pub mod strict;
pub mod suggest;

pub use event::EventType;
pub use jiff::Timestamp;
pub use measure::{Channel, DataCategories, DataCategory, Measure};
pub use offence::{MaxPenalty, OffenceCategory, OffenceClass};
pub use outcome::{Outcome, Severity};
pub use package::{DigestKind, PackageDigest};
pub use parse::{InvalidRequest, Problem, parse_request, validate};
pub use request::{
    Assurances, AuthorityKind, Authorization, AuthorizationKind, Confidentiality, DataProtection,
    Emergency, FormatTag, Investigation, NonBlank, Offence, OnwardTransfer, Period, REQUEST_FORMAT,
    Request, RequestId, RequestingAuthority, RetentionDays, StateCode, Target, TargetKind,
    TargetValue, is_blank, is_given,
};
