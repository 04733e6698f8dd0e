//! The public record of a case as `/transparency/cases` serves it (issue 14, part 3): the record
//! committed in the log (`custos.case-record/v1`, [`CaseRecord`]), the opening of the
//! `case.published` event that commits to it, the signed checkpoint `/log/checkpoint` served,
//! and an inclusion proof of each of the case's events (and of the publication) against it.
//! `custos log check-record` reads these.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InclusionProof, Opening};
use crate::ops::CaseRecord;

/// The most records one page of `/transparency/cases` lists.
pub const MAX_RECORDS_PAGE: u64 = 200;

/// `GET /transparency/cases/{case}`: one case's public record, checkable offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublishedRecord {
    /// The record (the `record` of the publication's event).
    pub record: CaseRecord,
    /// The `case.published` event and its salt: its leaf is recomputed from them. The event
    /// holds nothing but the record (and the type, time, index and case every event has).
    pub publication: Opening,
    /// The signed checkpoint (C2SP signed note, as `/log/checkpoint` served it) the proofs
    /// are against.
    pub checkpoint: String,
    /// One inclusion proof per event of `record.events`, in that order, then the
    /// publication's, each against `checkpoint`.
    pub proofs: Vec<InclusionProof>,
}

/// `GET /transparency/cases`: the published records, in the order they were published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublishedRecords {
    /// How many records the node has published.
    pub total: u64,
    /// The first record's position in the whole list (from 0).
    pub offset: u64,
    /// The most this page lists.
    pub limit: u64,
    /// The path of the next page, if there is one.
    pub next: Option<String>,
    /// The records of this page.
    pub records: Vec<ListedRecord>,
}

/// One record in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ListedRecord {
    /// The log index of its `case.published` event.
    pub index: u64,
    /// Where its full record, with proofs, is (JSON).
    pub href: String,
    /// The record.
    pub record: CaseRecord,
}
