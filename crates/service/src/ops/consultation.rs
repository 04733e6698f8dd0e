//! Consultation: before refusing, or before granting on conditions, a reviewer asks the
//! requester's view — a message and a date to answer by (`consultation.opened`). The requester
//! answers with a signed message (`consultation.answered`) or a signed supplement of its
//! request (the intake's supplement path); either brings the case back to awaiting a decision.
//! If the date passes unanswered, the scheduler's tick brings it back (`consultation.lapsed`),
//! by state, so a node that was down catches up.
//!
//! Rules and their basis:
//! * consulting the requesting party before refusing or postponing, to see whether assistance
//!   can be given in part or on conditions: Budapest art. 27(6)–(7) (confirmed); UNCC art. 40
//!   follows the UNTOC art. 18 model, whose paragraph on it is not confirmed in the project's
//!   research;
//! * the requester reads the thread, never which reviewer wrote (safeguards.md 1.1,
//!   *Decisions*: reviewers' identities are a safety matter);
//! * only a case awaiting a decision is put to consultation, by a reviewer (not an auditor);
//!   while it lasts no decision is recorded, and the requester may still withdraw;
//! * only the case's own authority answers, signed (another authority: 404).

use custos_model::EventType;
use custos_store::{Authority, Batch, CaseStatus, Role, User};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Appended, Case, emit, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// A reviewer's consultation of the requester.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultationInput {
    /// What the requester is asked, in words it reads (e.g. whether it would accept the data
    /// in part, or on a condition).
    #[schema(min_length = 1)]
    pub message: String,
    /// The date to answer by (RFC 3339, later than now); the case awaits a decision again then.
    #[schema(value_type = String, format = DateTime)]
    pub answer_by: Timestamp,
}

/// What the requesting authority signs to answer a consultation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultationAnswerInput {
    /// The request's own id; must be the case's.
    #[schema(min_length = 1)]
    pub request_id: String,
    /// The answer.
    #[schema(min_length = 1)]
    pub message: String,
}

/// A verified answer: who signed it, the JWS as received, and its payload.
pub type ConsultationAnswer = super::Signed<ConsultationAnswerInput>;

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-consultation", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// The due time of a case whose consultation, opened at `opened`, ends at `now`: the clock
/// stood still while the requester was asked, so the wait is added (issue 16). A supplement
/// instead restarts the clock from its arrival (a new assessment).
pub fn resumed_due(respond_by: Timestamp, opened: Timestamp, now: Timestamp) -> Timestamp {
    respond_by
        .checked_add(opened.duration_until(now).max(jiff::SignedDuration::ZERO))
        .unwrap_or(respond_by)
}

/// When the consultation of `case_id` in force was opened.
async fn opened_at(b: &mut Batch, case_id: i64) -> Result<Timestamp, Problem> {
    Ok(b.latest_case_event(case_id, EventType::ConsultationOpened)
        .await?
        .ok_or_else(|| super::internal("a consultation without its event"))?
        .at)
}

/// Opens a consultation of the requester of `case_id` (`consultation.opened`).
pub async fn consult(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &ConsultationInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    require_role(user, Role::Reviewer, "consulting the requester")?;
    let mut case = load_case(b, case_id).await?;
    super::withdrawal::refuse_if_withdrawn(&case, "a consultation")?;
    if case.status != CaseStatus::Assessed {
        return Err(Problem::conflict(
            "not-consultable",
            format!(
                "case {case_id} is {}; the requester is consulted while a case awaits a decision",
                case.status.as_str()
            ),
        ));
    }
    let message = input.message.trim();
    if custos_model::is_blank(message) {
        return Err(field(
            "$.message",
            "a consultation needs a message, written for the requester",
        ));
    }
    if input.answer_by <= now {
        return Err(field(
            "$.answer_by",
            &format!("{} is not later than now ({now})", input.answer_by),
        ));
    }
    emit(
        b,
        out,
        EventType::ConsultationOpened,
        now,
        Some(case_id),
        json!({ "by": user.name, "message": message, "answer_by": input.answer_by.to_string() }),
    )
    .await?;
    case.status = CaseStatus::InConsultation;
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}

/// The requesting authority answers the consultation of `case_id` (`consultation.answered`).
/// `current` is the signer as the log has it under the write lock.
pub async fn answer_consultation(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    a: &ConsultationAnswer,
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
    if a.input.request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "request_id {:?} is not case {case_id}'s request ({:?})",
                a.input.request_id, case.request_id
            ),
        ));
    }
    let message = a.input.message.trim();
    if custos_model::is_blank(message) {
        return Err(field("$.message", "an answer needs a message"));
    }
    if case.status != CaseStatus::InConsultation {
        return Err(Problem::conflict(
            "no-consultation",
            format!(
                "case {case_id} is {}; there is no consultation waiting for an answer",
                case.status.as_str()
            ),
        ));
    }
    emit(
        b,
        out,
        EventType::ConsultationAnswered,
        now,
        Some(case_id),
        json!({
            "authority": current.kid, "request_id": case.request_id,
            "jws": a.jws, "payload_sha256": a.payload_sha256.to_hex(), "message": message,
        }),
    )
    .await?;
    case.respond_by = resumed_due(case.respond_by, opened_at(b, case_id).await?, now);
    case.status = CaseStatus::Assessed;
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}

/// The tick's part: every consultation whose date to answer by has come, unanswered, lapses
/// and its case awaits a decision again (`consultation.lapsed`), to the second and not before.
pub(crate) async fn lapse_due(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
) -> Result<(), Problem> {
    for mut case in b
        .cases_in_status::<super::Documents>(CaseStatus::InConsultation)
        .await?
    {
        let opened = b
            .latest_case_event(case.case_id, EventType::ConsultationOpened)
            .await?
            .ok_or_else(|| super::internal("a consultation without its event"))?;
        let body: serde_json::Value =
            serde_json::from_str(&opened.body).map_err(super::internal)?;
        let answer_by: Timestamp = body["answer_by"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| super::internal("a consultation without its date"))?;
        if answer_by > now {
            continue;
        }
        emit(
            b,
            out,
            EventType::ConsultationLapsed,
            now,
            Some(case.case_id),
            json!({ "answer_by": answer_by.to_string() }),
        )
        .await?;
        case.respond_by = resumed_due(case.respond_by, opened.at, now);
        case.status = CaseStatus::Assessed;
        case.updated_at = now;
        b.put_case(&case).await?;
    }
    Ok(())
}
