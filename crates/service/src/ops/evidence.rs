//! Evidence records: a sealed package taken into custody (`evidence.sealed`), handed over
//! (`evidence.delivered`) and destroyed after retention (`evidence.destroyed`). The files
//! themselves are kept by `custody.rs`, which calls [`record_sealed`] once a package is in place.
//!
//! Rules:
//! * evidence is attached only to a request decided for execution: the decision is what
//!   allows producing anything;
//! * a package names the targets it covers, each one the decision produces: executed in part
//!   (`narrowed.targets`), every package must name its targets among those kept; executed in
//!   full, a package that names none covers them all. Assistance granted in part: Budapest
//!   art. 27(6) (confirmed); UNCC art. 40 follows the UNTOC art. 18 model, whose paragraph on
//!   it is not confirmed in the project's research. The targets are recorded in the event's
//!   private body, never in its public leaf (identifiers are personal data);
//! * a package is handed over only to the requesting authority, and the hand-over is logged
//!   before a byte leaves: a delivery that is not in the log never happened;
//! * after `evidence_retention_days`, counted from the first hand-over, a package is destroyed,
//!   and the destruction is logged before the file goes;
//! * every event names the package by its digest under the field of its kind
//!   (`package_blake3` for format v2, `package_sha256` for v1: `custos_model::package`).

use super::{Case, Documents};
use custos_model::{EventType, PackageDigest, Request, TargetValue};
use custos_store::{Batch, CaseStatus, Evidence};
use jiff::Timestamp;
use serde_json::json;

use super::{Appended, days, emit, internal};
use crate::problem::{FieldProblem, Problem};

/// What sealing reported, as the `evidence.sealed` event records it.
#[derive(Debug, Clone)]
pub struct SealedPackage {
    /// The digest of the package bytes.
    pub digest: PackageDigest,
    /// Hex SHA-256 of the signed manifest.
    pub manifest_sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The age recipient.
    pub recipient: String,
    /// The manifest signer's verifier key.
    pub signer: String,
}

/// The case, if it exists and was decided for execution: only then can it receive evidence.
pub fn can_receive_evidence(case: Option<&Case>, case_id: i64) -> Result<&Case, Problem> {
    let case =
        case.ok_or_else(|| Problem::not_found(format!("there is no case {case_id} on this node")))?;
    if !matches!(case.status, CaseStatus::Executing | CaseStatus::Delivered) {
        return Err(Problem::conflict(
            "not-executed",
            format!(
                "case {case_id} is {}; evidence is attached only to a request decided for execution",
                case.status.as_str()
            ),
        ));
    }
    Ok(case)
}

/// The target values the decision in force produces: the narrowed targets when executed in
/// part, else every target of the request, in the request's order. `None` for a case not
/// decided for execution.
pub fn produced_targets(case: &Case) -> Result<Option<Vec<TargetValue>>, Problem> {
    let Some(decision) = case.decision.as_ref().filter(|d| d.decision.executes()) else {
        return Ok(None);
    };
    if let Some(kept) = decision.narrowed.as_ref().and_then(|n| n.targets.clone()) {
        return Ok(Some(kept));
    }
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    Ok(Some(request.targets.into_iter().map(|t| t.value).collect()))
}

/// Whether the decision in force executes the case in part (`narrowed.targets`).
fn in_part(case: &Case) -> bool {
    case.decision
        .as_ref()
        .and_then(|d| d.narrowed.as_ref())
        .is_some_and(|n| n.targets.is_some())
}

/// The targets a package for `case` covers, given those its sealer `named` (`field` says
/// where they were named, e.g. `--target`): every named one produced by the decision in force,
/// each once; none named, every target, but only for an execution in full. Refused with 422
/// `target-not-produced` or `targets-required`, listing the targets that may be produced: the
/// caller is the node's staff, who seal for this case (target identifiers are never logged).
pub fn covered_targets(
    case: &Case,
    named: &[TargetValue],
    field: &str,
) -> Result<Vec<TargetValue>, Problem> {
    let Some(produced) = produced_targets(case)? else {
        return Err(Problem::conflict(
            "not-executed",
            format!(
                "case {} is not decided for execution; evidence is sealed only for targets a decision produces",
                case.case_id
            ),
        ));
    };
    let may = || {
        produced
            .iter()
            .map(|t| format!("{:?}", t.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if named.is_empty() {
        if in_part(case) {
            return Err(target_problem(
                "targets-required",
                field,
                format!(
                    "case {} was executed in part: name the targets this package covers with {field} (repeatable), each one of those produced: {}",
                    case.case_id,
                    may()
                ),
            ));
        }
        return Ok(produced);
    }
    for (i, v) in named.iter().enumerate() {
        let problem = if !produced.contains(v) {
            "is not among the targets the decision produces"
        } else if named[..i].contains(v) {
            "names a target a second time"
        } else {
            continue;
        };
        return Err(target_problem(
            "target-not-produced",
            &format!("{field}[{i}]"),
            format!(
                "{field} #{} {problem}; nothing was stored. Case {} may be sealed for: {}",
                i + 1,
                case.case_id,
                may()
            ),
        ));
    }
    Ok(named.to_vec())
}

fn target_problem(slug: &str, pointer: &str, detail: String) -> Problem {
    let mut p = Problem::unprocessable(slug, detail.clone());
    p.errors.push(FieldProblem {
        pointer: pointer.to_owned(),
        detail,
    });
    p
}

/// The targets an `evidence.sealed` event's private body records (empty for none).
pub fn sealed_targets(body: &serde_json::Value) -> Vec<String> {
    sealed_targets_of(&body["targets"])
}

/// The text values of an event body's `targets` array (empty for none).
pub fn sealed_targets_of(targets: &serde_json::Value) -> Vec<String> {
    targets
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Appends `evidence.sealed` and its projection row. Called by `Custody::take` only, with the
/// package's file already in place, the case checked under the write lock and `targets` the
/// ones it covers ([`covered_targets`]).
pub(crate) async fn record_sealed(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    p: &SealedPackage,
    targets: &[TargetValue],
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let targets: Vec<&str> = targets.iter().map(TargetValue::as_str).collect();
    let ev = b
        .append(&custos_store::NewEvent {
            event_type: EventType::EvidenceSealed,
            at: now,
            case_id: Some(case_id),
            body: with_digest(
                &p.digest,
                json!({
                    "manifest_sha256": p.manifest_sha256,
                    "size": p.size, "recipient": p.recipient, "signer": p.signer,
                    // Private body only: the public leaf is a salted commitment to it.
                    "targets": targets,
                }),
            ),
        })
        .await?;
    let evidence = Evidence {
        package_digest: p.digest.hex().to_owned(),
        digest_kind: p.digest.kind(),
        case_id,
        size: i64::try_from(p.size).unwrap_or(i64::MAX),
        manifest_sha256: p.manifest_sha256.clone(),
        recipient: p.recipient.clone(),
        sealed_seq: i64::try_from(ev.seq).unwrap_or(i64::MAX),
        sealed_at: now,
        delivered_at: None,
        destroyed_at: None,
    };
    out.push(ev);
    b.put_evidence(&evidence).await?;
    Ok(evidence)
}

/// Logs the hand-over of a package to `to` (the requesting authority's key), before a byte
/// leaves; an executing case becomes delivered.
pub async fn record_delivered(
    b: &mut Batch,
    out: &mut Appended,
    package_digest: &str,
    to: &str,
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let mut e = b
        .evidence(package_digest)
        .await?
        .filter(|e| e.destroyed_at.is_none())
        .ok_or_else(|| Problem::not_found(format!("no package {package_digest}")))?;
    let digest = stored_digest(&e)?;
    // Nothing leaves before the execution's conditions are accepted (UNCC art. 40).
    if let Some(case) = b.case::<Documents>(e.case_id).await? {
        super::conditions::require_accepted(b, &case).await?;
    }
    emit(
        b,
        out,
        EventType::EvidenceDelivered,
        now,
        Some(e.case_id),
        with_digest(&digest, json!({ "to": to })),
    )
    .await?;
    e.delivered_at.get_or_insert(now);
    b.put_evidence(&e).await?;
    if let Some(mut case) = b.case::<Documents>(e.case_id).await?
        && case.status == CaseStatus::Executing
    {
        case.status = CaseStatus::Delivered;
        case.updated_at = now;
        b.put_case(&case).await?;
    }
    Ok(e)
}

/// Logs `evidence.destroyed` for every package whose retention (counted from its first
/// hand-over) ended by `now`, and returns their digests. The files are removed by the caller
/// after this commits (`custody::remove_destroyed_files`): a package is never gone without its
/// destruction in the log.
pub async fn destroy_due(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
    retention_days: u32,
) -> Result<Vec<String>, Problem> {
    let cutoff = now - days(retention_days);
    let mut destroyed = Vec::new();
    for mut e in b.evidence_delivered_before(cutoff).await? {
        let digest = stored_digest(&e)?;
        emit(
            b,
            out,
            EventType::EvidenceDestroyed,
            now,
            Some(e.case_id),
            with_digest(
                &digest,
                json!({
                    "reason": format!("retention of {retention_days} days after delivery ended"),
                    "delivered_at": e.delivered_at.map(|t| t.to_string()),
                }),
            ),
        )
        .await?;
        e.destroyed_at = Some(now);
        b.put_evidence(&e).await?;
        destroyed.push(e.package_digest);
    }
    Ok(destroyed)
}

/// `body` with the package's digest under the field of its kind.
fn with_digest(digest: &PackageDigest, mut body: serde_json::Value) -> serde_json::Value {
    let (field, value) = digest.field_pair();
    if let Some(map) = body.as_object_mut() {
        map.insert(field.to_owned(), value);
    }
    body
}

/// A stored package's digest; a row that has none is damage the audit reports.
fn stored_digest(e: &Evidence) -> Result<PackageDigest, Problem> {
    e.digest().ok_or_else(|| {
        internal(format!(
            "stored package {:?} has a malformed digest; run `custos audit`",
            e.package_digest
        ))
    })
}
