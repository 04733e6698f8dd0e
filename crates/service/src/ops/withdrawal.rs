//! Withdrawal: the requesting authority withdraws its request, signed and with a reason
//! (`request.withdrawn`). A request is the requesting party's to make, so it is its to take
//! back: before execution nothing has been done for it that cannot simply stop. After
//! withdrawal nothing more happens to the case but closing it.
//!
//! Rules and their basis:
//! * only the case's own authority withdraws, with its key's signature over
//!   `{"request_id", "reason"}` (the same signature rule as intake; another authority learns
//!   nothing of the case: 404);
//! * only before execution: once a case is decided to be executed (or refused, or closed), data
//!   may already have been gathered or the answer given; the Convention's dialogue (UNCC
//!   art. 40) assumes a pending request;
//! * a decision, second review, reclassification or supplement on a withdrawn case is refused
//!   (409 `withdrawn`); closing is allowed;
//! * a preservation hold in force is released with the withdrawal: a hold keeps data for the
//!   request that asked it (UNCC art. 42), and once that request is withdrawn there is nothing
//!   left to keep it for. Today holds start only at execution, after which withdrawal is
//!   refused, so this matters only to holds a later move keeps before execution.

use custos_model::EventType;
use custos_store::{Authority, Batch, CaseStatus};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Appended, Case, emit};
use crate::problem::{FieldProblem, Problem};

/// What the requesting authority signs to withdraw a request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    /// The request's own id (`id` of the request document); must be the case's.
    #[schema(min_length = 1)]
    pub request_id: String,
    /// Why it is withdrawn, in the requester's words.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// A verified withdrawal: who signed it, the JWS as received, and its payload.
pub type Withdrawal = super::Signed<WithdrawalInput>;

/// The statuses from which a requester may withdraw: every one before a decision is carried out.
pub const WITHDRAWABLE: [CaseStatus; 5] = [
    CaseStatus::Assessed,
    CaseStatus::Postponed,
    CaseStatus::InConsultation,
    CaseStatus::AwaitingInformation,
    CaseStatus::AwaitingSecondReview,
];

/// Refuses `what` on a withdrawn case (409 `withdrawn`).
pub(crate) fn refuse_if_withdrawn(case: &Case, what: &str) -> Result<(), Problem> {
    if case.status == CaseStatus::Withdrawn {
        return Err(Problem::conflict(
            "withdrawn",
            format!(
                "case {} was withdrawn by its requesting authority; {what} is refused (only closing it remains)",
                case.case_id
            ),
        ));
    }
    Ok(())
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-withdrawal", format!("{pointer}: {detail}"));
    p.errors = vec![FieldProblem {
        pointer: pointer.to_owned(),
        detail: detail.to_owned(),
    }];
    p
}

/// Withdraws `case_id` for its requesting authority (`request.withdrawn`). `current` is the
/// signer as the log has it under the write lock (a key revoked meanwhile is refused).
pub async fn withdraw(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    w: &Withdrawal,
    current: &Authority,
    now: Timestamp,
) -> Result<Case, Problem> {
    let case = b
        .case(case_id)
        .await?
        .filter(|c: &Case| c.authority_kid == current.kid);
    let Some(mut case) = case else {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} visible to you"
        )));
    };
    if let Some(at) = current.revoked_at {
        return Err(Problem::forbidden(
            "revoked-key",
            format!("the key {} was revoked on {at}", current.kid),
        ));
    }
    if w.input.request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "request_id {:?} is not case {case_id}'s request ({:?})",
                w.input.request_id, case.request_id
            ),
        ));
    }
    let reason = w.input.reason.trim();
    if custos_model::is_blank(reason) {
        return Err(field(
            "$.reason",
            "say why the request is withdrawn; a withdrawal needs a reason",
        ));
    }
    refuse_if_withdrawn(&case, "withdrawing it again")?;
    if !WITHDRAWABLE.contains(&case.status) {
        return Err(Problem::conflict(
            "not-withdrawable",
            format!(
                "case {case_id} is {}; a request can be withdrawn only before it is executed, refused or closed",
                case.status.as_str()
            ),
        ));
    }
    emit(
        b,
        out,
        EventType::RequestWithdrawn,
        now,
        Some(case_id),
        json!({
            "authority": current.kid, "request_id": case.request_id,
            "jws": w.jws, "payload_sha256": w.payload_sha256.to_hex(), "reason": reason,
        }),
    )
    .await?;
    if let Some(mut hold) = b.hold(case_id).await?.filter(|h| h.released_at.is_none()) {
        emit(
            b,
            out,
            EventType::PreservationReleased,
            now,
            Some(case_id),
            json!({ "reason": "withdrawn" }),
        )
        .await?;
        hold.released_at = Some(now);
        b.put_hold(&hold).await?;
    }
    // A proposal waiting for its second review lapses with the request.
    case.pending_decision = None;
    case.status = CaseStatus::Withdrawn;
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}
