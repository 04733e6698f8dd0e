//! Emergencies verified twice (issue 13, §2). A signature defeats a forged e-mail but not a
//! stolen key or an insider, and forged "emergency data requests" are a recurring attack; so an
//! emergency request is not executed until a second person at its authority confirms it, with a
//! confirmation key registered in the directory (`authority.confirmation_key_added`), never the
//! key that signed the request. This is the node's own safeguard, not a treaty rule.
//!
//! * [`confirm`] — `emergency.confirmed`: the authority's confirmation, a compact JWS over
//!   `{"request_id", "request_sha256"}`, verified by `Directory::verify_confirmation` before
//!   its payload is read, and kept in the event so the replay verifies it again;
//! * [`require_verified`] — every execute-type decision on an unverified emergency is refused
//!   409 `emergency-unverified`, before the four-eyes routing.
//!
//! A confirmation binds the request's current signed payload (its SHA-256): a supplement
//! changes the payload, and the new one must be confirmed again.

use custos_model::EventType;
use custos_store::{Batch, CaseStatus, StoredEvent};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Appended, Case, emit, internal, load_case};
use crate::problem::{FieldProblem, Problem};

/// The payload of a confirmation, as the confirmation key signs it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationInput {
    /// The requester's id of the request confirmed.
    pub request_id: String,
    /// Hex SHA-256 of the request's JWS payload bytes, as signed.
    pub request_sha256: String,
}

/// Who signed a confirmation, as the directory verified it.
#[derive(Debug, Clone)]
pub struct ConfirmationSigner {
    /// The confirmation key's thumbprint.
    pub kid: String,
    /// The authority whose confirmation key it is.
    pub authority_kid: String,
}

/// The digests of a case's payloads that a confirmation key confirmed, from its events.
async fn confirmed_digests(b: &mut Batch, case_id: i64) -> Result<Vec<String>, Problem> {
    confirmed_in(&b.case_events(case_id).await?)
}

/// The digests confirmed by the `emergency.confirmed` events among `events`.
fn confirmed_in(events: &[StoredEvent]) -> Result<Vec<String>, Problem> {
    let mut out = Vec::new();
    for e in events {
        if e.kind() == Some(EventType::EmergencyConfirmed) {
            let body: serde_json::Value = serde_json::from_str(&e.body).map_err(internal)?;
            if let Some(d) = body["request_sha256"].as_str() {
                out.push(d.to_owned());
            }
        }
    }
    Ok(out)
}

/// As [`is_unverified_emergency`], from the case's events as read (for the queue and pages).
pub fn unverified_in(case: &Case, events: &[StoredEvent]) -> Result<bool, Problem> {
    Ok(case.emergency && !confirmed_in(events)?.contains(&case.payload_sha256.to_hex()))
}

/// Whether `case` leads the queue: a justified emergency (the request the safeguards give the
/// emergency clock, `emergency_respond_within_hours`) still waiting for the node's decision.
/// A request that no longer parses (it did at intake) is not put first.
pub fn leads_queue(case: &Case) -> bool {
    case.emergency
        && matches!(
            case.status,
            CaseStatus::Assessed | CaseStatus::AwaitingSecondReview
        )
        && custos_model::parse_request(case.request_json.as_bytes())
            .is_ok_and(|r| r.emergency_justified())
}

/// Whether `case` is an emergency whose current payload no confirmation key confirmed.
pub async fn is_unverified_emergency(b: &mut Batch, case: &Case) -> Result<bool, Problem> {
    if !case.emergency {
        return Ok(false);
    }
    let current = case.payload_sha256.to_hex();
    Ok(!confirmed_digests(b, case.case_id).await?.contains(&current))
}

/// Refuses an execute-type decision on an unverified emergency (409 `emergency-unverified`).
pub async fn require_verified(b: &mut Batch, case: &Case) -> Result<(), Problem> {
    if is_unverified_emergency(b, case).await? {
        return Err(Problem::conflict(
            "emergency-unverified",
            format!(
                "case {} claims an emergency that is not verified yet: it cannot be executed until its authority confirms it with a confirmation key (POST /v1/requests/{}/confirmation)",
                case.case_id, case.case_id
            ),
        ));
    }
    Ok(())
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-confirmation", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Records a confirmation of an emergency (`emergency.confirmed`). `jws` is the confirmation as
/// sent, already verified under `signer`'s key; `input` its payload.
pub async fn confirm(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    signer: &ConfirmationSigner,
    jws: &str,
    input: &ConfirmationInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let case = load_case(b, case_id).await?;
    // Another authority's confirmation key learns nothing of this case (as for reads: 404).
    if case.authority_kid != signer.authority_kid {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} of the authority whose confirmation key {} signed this",
            signer.kid
        )));
    }
    if !case.emergency {
        return Err(Problem::conflict(
            "not-an-emergency",
            format!("case {case_id} claims no emergency; there is nothing to confirm"),
        ));
    }
    if !matches!(
        case.status,
        CaseStatus::Assessed | CaseStatus::AwaitingInformation | CaseStatus::AwaitingSecondReview
    ) {
        return Err(Problem::conflict(
            "already-decided",
            format!(
                "case {case_id} is {}; an emergency is confirmed before it is decided",
                case.status.as_str()
            ),
        ));
    }
    if input.request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "case {case_id} is the request {:?}, not {:?}",
                case.request_id, input.request_id
            ),
        ));
    }
    let current = case.payload_sha256.to_hex();
    if !input.request_sha256.eq_ignore_ascii_case(&current) {
        return Err(field(
            "$.request_sha256",
            "this is not the SHA-256 of the request's signed payload in force; confirm the request as it was signed (a supplement must be confirmed again)",
        ));
    }
    if confirmed_digests(b, case_id).await?.contains(&current) {
        return Err(Problem::conflict(
            "already-verified",
            format!("case {case_id}'s emergency is already confirmed"),
        ));
    }
    emit(
        b,
        out,
        EventType::EmergencyConfirmed,
        now,
        Some(case_id),
        json!({
            "request_id": case.request_id,
            "request_sha256": current,
            "kid": signer.kid,
            "authority_kid": signer.authority_kid,
            "jws": jws,
        }),
    )
    .await?;
    Ok(case)
}
