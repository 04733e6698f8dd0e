//! The public record of each case once its secrecy ends, as JSON: `GET /transparency/cases`
//! (the published records, paged) and `GET /transparency/cases/{case}` (one record with the
//! opening of its `case.published` event, the signed checkpoint and an inclusion proof of each
//! event). Public: no credentials, nothing here reads a case that is not published.
//!
//! The routes are the console's (`custos_console`, `pages/public_record.rs`): the same paths
//! answer HTML to a browser that asks for it, and these functions answer JSON otherwise and at
//! the `.json` paths. The OpenAPI document describes the JSON from here.

use axum::Json;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use custos_model::EventType;
use serde::Deserialize;

use super::{ApiResult, parse_stored};
use crate::node::Node;
use crate::ops::CaseRecord;
use crate::problem::Problem;
use crate::wire::{
    InclusionProof, ListedRecord, MAX_RECORDS_PAGE, OPENING_FORMAT, Opening, PublishedRecord,
    PublishedRecords,
};

/// The records a page lists by default.
pub const DEFAULT_RECORDS_PAGE: u64 = 50;

/// The query of the list: `offset` (from 0) and `limit` (1 to [`MAX_RECORDS_PAGE`]).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPage {
    /// Records to skip.
    #[serde(default)]
    pub offset: u32,
    /// At most this many.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl RecordPage {
    /// Reads the query string of `uri`; an unknown field, a value that is not a number or a
    /// limit out of range is a 400 naming it.
    pub fn of(uri: &Uri) -> ApiResult<RecordPage> {
        let page = axum::extract::Query::<RecordPage>::try_from_uri(uri)
            .map_err(|e| {
                Problem::bad_request(
                    "invalid-parameter",
                    format!(
                        "{}: {} (use offset=N and limit=1..{MAX_RECORDS_PAGE})",
                        uri,
                        e.body_text()
                    ),
                )
            })?
            .0;
        // The document says int32 (utoipa's u32): larger offsets are refused alike.
        if page.offset > i32::MAX.unsigned_abs() {
            return Err(Problem::bad_request(
                "invalid-parameter",
                format!("offset={}: at most {}", page.offset, i32::MAX),
            ));
        }
        if let Some(l) = page.limit
            && !(1..=MAX_RECORDS_PAGE).contains(&u64::from(l))
        {
            return Err(Problem::bad_request(
                "invalid-parameter",
                format!("limit={l}: a page lists 1 to {MAX_RECORDS_PAGE} records"),
            ));
        }
        Ok(page)
    }

    /// The limit in force.
    pub fn limit(&self) -> u64 {
        self.limit.map_or(DEFAULT_RECORDS_PAGE, u64::from)
    }
}

/// The published records of one page, in the order they were published.
pub async fn case_list(node: &Node, page: RecordPage) -> ApiResult<PublishedRecords> {
    let limit = page.limit();
    let total = node.store.published_count().await?;
    let mut records = Vec::new();
    let offset = u64::from(page.offset);
    for ev in node.store.published_events(offset, limit).await? {
        let Some(case) = ev.case_id else { continue };
        records.push(ListedRecord {
            index: ev.seq,
            href: format!("/transparency/cases/{case}.json"),
            record: stored_record(&ev.body)?,
        });
    }
    let end = offset.saturating_add(limit);
    Ok(PublishedRecords {
        total,
        offset,
        limit,
        next: (end < total).then(|| format!("/transparency/cases.json?offset={end}&limit={limit}")),
        records,
    })
}

fn stored_record(body: &str) -> ApiResult<CaseRecord> {
    #[derive(Deserialize)]
    struct Published {
        record: CaseRecord,
    }
    Ok(parse_stored::<Published>("case record", body)?.record)
}

fn not_published(case: i64) -> Problem {
    // The same answer whether the case does not exist or is still secret: the public learns
    // nothing of a case before its record.
    Problem::not_found(format!(
        "case {case} has no public record: a record is published once a case is closed and its \
         confidentiality has ended (see /transparency/cases)"
    ))
}

/// One case's public record with its proofs against the checkpoint `/log/checkpoint` serves.
pub async fn case_record(node: &Node, case: i64) -> ApiResult<PublishedRecord> {
    let ev = node
        .store
        .latest_case_event(case, EventType::CasePublished)
        .await?
        .ok_or_else(|| not_published(case))?;
    let record = stored_record(&ev.body)?;
    let served = node
        .served_checkpoint()
        .ok_or_else(|| Problem::unavailable("no checkpoint signed yet"))?;
    let (note, size) = (served.note, served.size);
    if ev.seq >= size {
        let mut p = Problem::unavailable(format!(
            "the record of case {case} is not yet under a signed checkpoint; retry in a second"
        ));
        p.retry_after = Some(1);
        return Err(p);
    }
    let mut proofs = Vec::with_capacity(record.events.len() + 1);
    for index in record.events.iter().map(|e| e.index).chain([ev.seq]) {
        proofs.push(inclusion(node, index, size).await?);
    }
    Ok(PublishedRecord {
        record,
        publication: Opening {
            format: OPENING_FORMAT.to_owned(),
            log: node.log.origin().to_owned(),
            index: ev.seq,
            event: parse_stored("event", &ev.body)?,
            salt: ev.salt,
            leaf: None,
        },
        checkpoint: note,
        proofs,
    })
}

async fn inclusion(node: &Node, index: u64, size: u64) -> ApiResult<InclusionProof> {
    let (leaf_hash, proof) = node
        .log
        .inclusion(index, size)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let leaf = node
        .store
        .leaves(index, index + 1)
        .await?
        .pop()
        .unwrap_or_default();
    Ok(InclusionProof {
        index,
        size,
        leaf_hash,
        leaf: String::from_utf8_lossy(&leaf).into_owned(),
        root: node
            .log
            .root_at(size)
            .map_err(|e| Problem::internal(e.to_string()))?,
        proof: proof.path,
    })
}

/// A public JSON answer: anyone's scripts may read it (`Access-Control-Allow-Origin: *`).
pub fn public_json<T: serde::Serialize>(value: T) -> Response {
    let mut r = Json(value).into_response();
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// The published records (JSON; `/transparency/cases.json` always JSON). 200 with an empty
/// list when nothing is published yet.
#[utoipa::path(get, path = "/transparency/cases", tag = "transparency",
    params(("offset" = Option<u32>, Query, description = "Records to skip"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)")),
    responses((status = 200, body = PublishedRecords), (status = 400, body = Problem)))]
pub async fn list(node: &Node, uri: &Uri) -> Response {
    match RecordPage::of(uri) {
        Ok(page) => match case_list(node, page).await {
            Ok(list) => public_json(list),
            Err(p) => p.into_response(),
        },
        Err(p) => p.into_response(),
    }
}

/// One case's public record with its proofs (JSON; `/transparency/cases/{case}.json` always
/// JSON). The record's number is the case number.
#[utoipa::path(get, path = "/transparency/cases/{case}", tag = "transparency",
    params(("case" = i64, Path, description = "The case number")),
    responses((status = 200, body = PublishedRecord), (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn record(node: &Node, case: i64) -> Response {
    match case_record(node, case).await {
        Ok(r) => public_json(r),
        Err(p) => p.into_response(),
    }
}
