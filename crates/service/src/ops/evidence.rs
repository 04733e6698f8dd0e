//! Evidence records: a sealed package taken into custody (`evidence.sealed`), handed over
//! (`evidence.delivered`) and destroyed after retention (`evidence.destroyed`). The files
//! themselves are kept by `custody.rs`, which calls [`record_sealed`] once a package is in place.
//!
//! Rules:
//! * evidence is attached only to a request decided for execution: the decision is what
//!   allows producing anything;
//! * a package is handed over only to the requesting authority, and the hand-over is logged
//!   before a byte leaves: a delivery that is not in the log never happened;
//! * after `evidence_retention_days`, counted from the first hand-over, a package is destroyed,
//!   and the destruction is logged before the file goes.

use super::{Case, Documents};
use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Evidence};
use jiff::Timestamp;
use serde_json::json;

use super::{Appended, days, emit};
use crate::problem::Problem;

/// What sealing reported, as the `evidence.sealed` event records it.
#[derive(Debug, Clone)]
pub struct SealedPackage {
    /// Hex SHA-256 of the package bytes.
    pub package_sha256: String,
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

/// Appends `evidence.sealed` and its projection row. Called by `Custody::take` only, with the
/// package's file already in place and the case checked under the write lock.
pub(crate) async fn record_sealed(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    p: &SealedPackage,
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let ev = b
        .append(&custos_store::NewEvent {
            event_type: EventType::EvidenceSealed,
            at: now,
            case_id: Some(case_id),
            body: json!({
                "package_sha256": p.package_sha256, "manifest_sha256": p.manifest_sha256,
                "size": p.size, "recipient": p.recipient, "signer": p.signer,
            }),
        })
        .await?;
    let evidence = Evidence {
        package_sha256: p.package_sha256.clone(),
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
    package_sha256: &str,
    to: &str,
    now: Timestamp,
) -> Result<Evidence, Problem> {
    let mut e = b
        .evidence(package_sha256)
        .await?
        .filter(|e| e.destroyed_at.is_none())
        .ok_or_else(|| Problem::not_found(format!("no package {package_sha256}")))?;
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
        json!({ "package_sha256": package_sha256, "to": to }),
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
        emit(
            b,
            out,
            EventType::EvidenceDestroyed,
            now,
            Some(e.case_id),
            json!({
                "package_sha256": e.package_sha256,
                "reason": format!("retention of {retention_days} days after delivery ended"),
                "delivered_at": e.delivered_at.map(|t| t.to_string()),
            }),
        )
        .await?;
        e.destroyed_at = Some(now);
        b.put_evidence(&e).await?;
        destroyed.push(e.package_sha256);
    }
    Ok(destroyed)
}
