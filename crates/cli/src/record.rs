//! `custos log check-record`: checks a case's public record (`/transparency/cases/{case}`) from
//! outside, trusting nothing the node says but what its verifier key signs. The record file (or
//! the node's answer) carries the signed checkpoint, an inclusion proof of each of the case's
//! events and the opening (event and salt) of the `case.published` event; this recomputes the
//! publication's leaf from the opening, so the log is seen to commit to exactly the record
//! shown, then asks the node for its current checkpoint and a consistency proof to it.

use std::path::Path;

use custos_ledger::checkpoint::Checkpoint;
use custos_ledger::commitment::PublicRecord;
use custos_ledger::{VerifierKey, leaf_hash, verify_consistency, verify_inclusion};
use custos_model::EventType;
use custos_service::wire::{ConsistencyProof, PublishedRecord};

use crate::Failure;
use crate::client::{client, get, parse_vkey, url};
use crate::node_cmd::runtime;
use crate::out::outln;

/// Where the record comes from.
pub enum RecordSource<'a> {
    /// A file saved from `/transparency/cases/{case}.json`.
    File(&'a Path),
    /// The node's record of this case.
    Case(i64),
}

/// What the offline checks established.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    /// The case.
    pub case: i64,
    /// The publication's log index.
    pub index: u64,
    /// The size of the checkpoint the proofs are against.
    pub size: u64,
    /// The checkpoint's root.
    pub root: custos_ledger::Hash,
    /// How many inclusion proofs were checked.
    pub proofs: usize,
}

/// The checks that need nothing but the document and the key: the checkpoint's signature, each
/// proof against it, each leaf's event type, and the publication's leaf recomputed from its
/// opening, whose event holds exactly the record shown.
pub fn check_offline(doc: &PublishedRecord, vkey: &VerifierKey) -> Result<Checked, String> {
    let (cp, _) = Checkpoint::open(&doc.checkpoint, vkey.name(), std::slice::from_ref(vkey))
        .map_err(|e| format!("the checkpoint does not verify with {}: {e}", vkey.name()))?;
    let record = &doc.record;
    let o = &doc.publication;
    if o.log != cp.origin {
        return Err(format!(
            "the publication names log {:?}, the checkpoint is of {:?}",
            o.log, cp.origin
        ));
    }
    // The publication event: of this kind, at its index, of this case, holding the record and
    // nothing else.
    if o.event.kind != EventType::CasePublished || o.event.seq != o.index {
        return Err(format!(
            "the publication is event {} ({}) at index {}, not a case.published at its own index",
            o.event.seq, o.event.kind, o.index
        ));
    }
    if o.event.case != Some(record.case) {
        return Err(format!(
            "the publication concerns case {:?}, the record case {}",
            o.event.case, record.case
        ));
    }
    let keys: Vec<&str> = o.event.fields.keys().map(String::as_str).collect();
    if keys != ["record"] {
        return Err(format!(
            "the publication event holds {keys:?}; it must hold the record alone"
        ));
    }
    let shown = serde_json::to_value(record).map_err(|e| format!("record: {e}"))?;
    if o.event.fields.get("record") != Some(&shown) {
        return Err(
            "the record shown is NOT the record the publication event commits to".to_owned(),
        );
    }
    let event = o.event.to_value().map_err(|e| format!("event: {e}"))?;
    let day = o.event.at.strftime("%Y-%m-%d").to_string();
    let publication_leaf =
        PublicRecord::for_event(EventType::CasePublished.as_str(), &day, &event, &o.salt)
            .map_err(|e| format!("publication: {e}"))?
            .leaf_bytes();
    // One proof per event of the record, in its order, then the publication's.
    let expected: Vec<(u64, EventType)> = record
        .events
        .iter()
        .map(|e| (e.index, e.event_type))
        .chain([(o.index, EventType::CasePublished)])
        .collect();
    if doc.proofs.len() != expected.len() {
        return Err(format!(
            "{} proofs for {} events and the publication",
            doc.proofs.len(),
            expected.len() - 1
        ));
    }
    for (p, (index, kind)) in doc.proofs.iter().zip(&expected) {
        if p.index != *index || p.size != cp.size {
            return Err(format!(
                "the proof of event {index} is for index {} in a tree of {}, not the checkpoint's {}",
                p.index, p.size, cp.size
            ));
        }
        let leaf = PublicRecord::from_leaf_bytes(p.leaf.as_bytes())
            .map_err(|e| format!("event {index}: its leaf is not a public record: {e}"))?;
        if leaf.event_type() != kind.as_str() {
            return Err(format!(
                "event {index}: the log's leaf is a {}, the record says {kind}",
                leaf.event_type()
            ));
        }
        if *index == o.index && p.leaf.as_bytes() != publication_leaf.as_slice() {
            return Err(format!(
                "the publication's opening does NOT match leaf {index}: the log does not commit to this record"
            ));
        }
        verify_inclusion(
            *index,
            cp.size,
            &leaf_hash(p.leaf.as_bytes()),
            &p.proof,
            &cp.root,
        )
        .map_err(|e| {
            format!(
                "event {index} is NOT in the signed tree of size {} ({e})",
                cp.size
            )
        })?;
    }
    Ok(Checked {
        case: record.case,
        index: o.index,
        size: cp.size,
        root: cp.root,
        proofs: doc.proofs.len(),
    })
}

/// `custos log check-record`.
pub fn check_record(server: &str, vkey: &str, source: RecordSource<'_>) -> Result<(), Failure> {
    let vkey = parse_vkey(vkey)?;
    let rt = runtime().map_err(Failure::Setup)?;
    rt.block_on(async {
        let c = client().map_err(Failure::Setup)?;
        let doc: PublishedRecord = match source {
            RecordSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
                serde_json::from_str(&text).map_err(|e| {
                    Failure::Input(format!(
                        "{}: not a public record (from /transparency/cases/N.json): {e}",
                        path.display()
                    ))
                })?
            }
            RecordSource::Case(case) => {
                let text = get(&c, url(server, &format!("/transparency/cases/{case}.json")))
                    .await
                    .map_err(|e| Failure::Input(format!("{e:#}")))?
                    .text()
                    .await
                    .map_err(|e| Failure::Setup(e.into()))?;
                serde_json::from_str(&text).map_err(|e| {
                    Failure::Input(format!("the node's record of case {case} does not read: {e}"))
                })?
            }
        };
        let checked = check_offline(&doc, &vkey)
            .map_err(|e| Failure::Input(format!("record of case {}: {e}", doc.record.case)))?;
        let current = consistent_with_current(&c, server, &vkey, &checked).await?;
        outln!(
            "ok: the public record of case {} is event {} of the log; {} inclusion proofs check against the checkpoint of size {} signed by {}, consistent with the node's current checkpoint of size {current}",
            checked.case,
            checked.index,
            checked.proofs,
            checked.size,
            vkey.name()
        )
    })
}

/// The node's current checkpoint, verified, and a consistency proof from the record's to it.
async fn consistent_with_current(
    c: &reqwest::Client,
    server: &str,
    vkey: &VerifierKey,
    checked: &Checked,
) -> Result<u64, Failure> {
    let note = get(c, url(server, "/log/checkpoint"))
        .await
        .map_err(Failure::Setup)?
        .text()
        .await
        .map_err(|e| Failure::Setup(e.into()))?;
    let (cur, _) =
        Checkpoint::open(&note, vkey.name(), std::slice::from_ref(vkey)).map_err(|e| {
            Failure::Input(format!(
                "the node's current checkpoint does not verify: {e}"
            ))
        })?;
    if cur.size < checked.size {
        return Err(Failure::Input(format!(
            "the node's current checkpoint (size {}) is older than the record's (size {}): the log was rolled back or forked",
            cur.size, checked.size
        )));
    }
    if cur.size == checked.size {
        return if cur.root == checked.root {
            Ok(cur.size)
        } else {
            Err(Failure::Input(format!(
                "two checkpoints of size {} with different roots: a split view",
                cur.size
            )))
        };
    }
    let p: ConsistencyProof = get(
        c,
        url(
            server,
            &format!("/v1/log/consistency?old={}&new={}", checked.size, cur.size),
        ),
    )
    .await
    .map_err(Failure::Setup)?
    .json()
    .await
    .map_err(|e| Failure::Setup(e.into()))?;
    verify_consistency(checked.size, cur.size, &p.proof, &checked.root, &cur.root).map_err(|e| {
        Failure::Input(format!(
            "the record's checkpoint (size {}) is NOT consistent with the node's current one (size {}): {e}",
            checked.size, cur.size
        ))
    })?;
    Ok(cur.size)
}
