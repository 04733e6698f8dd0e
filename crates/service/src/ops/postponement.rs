//! Postponement: a reviewer postpones the decision on a case, with a reason and a date, for
//! example when executing it now would interfere with a domestic investigation
//! (`request.postponed`); the requester reads both in its reply. When the date passes the
//! scheduler's tick brings the case back to awaiting a decision (`request.resumed`), by state,
//! so a node that was down catches up.
//!
//! Rules and their basis:
//! * postponing rather than refusing where execution would interfere with an ongoing domestic
//!   investigation or proceeding: Budapest art. 27(5) (confirmed); UNCC art. 40 follows the
//!   UNTOC art. 18 model, whose paragraph on postponement is not confirmed in the project's
//!   research;
//! * reasons are given for a postponement (Budapest art. 27(6)–(7), confirmed): the reason is
//!   written for the requester, as a decision's is;
//! * only a case awaiting a decision is postponed, by a reviewer (not an auditor); while
//!   postponed no decision is recorded, and the requester may still withdraw.

use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Role, User};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Appended, Case, emit, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// A reviewer's postponement of a case.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostponementInput {
    /// Why, in words the requester reads.
    #[schema(min_length = 1)]
    pub reason: String,
    /// Until when (RFC 3339, later than now): the case awaits a decision again then.
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-postponement", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Postpones the decision on `case_id` until `input.until` (`request.postponed`).
pub async fn postpone(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &PostponementInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    require_role(user, Role::Reviewer, "postponing a case")?;
    let mut case = load_case(b, case_id).await?;
    super::withdrawal::refuse_if_withdrawn(&case, "a postponement")?;
    if case.status != CaseStatus::Assessed {
        return Err(Problem::conflict(
            "not-postponable",
            format!(
                "case {case_id} is {}; only a case awaiting a decision can be postponed",
                case.status.as_str()
            ),
        ));
    }
    let reason = input.reason.trim();
    if custos_model::is_blank(reason) {
        return Err(field(
            "$.reason",
            "a postponement needs a reason, written for the requester",
        ));
    }
    if input.until <= now {
        return Err(field(
            "$.until",
            &format!("{} is not later than now ({now})", input.until),
        ));
    }
    emit(
        b,
        out,
        EventType::RequestPostponed,
        now,
        Some(case_id),
        json!({ "by": user.name, "reason": reason, "until": input.until.to_string() }),
    )
    .await?;
    case.status = CaseStatus::Postponed;
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}

/// The date the latest postponement of `case_id` runs to.
pub(crate) async fn postponed_until(b: &mut Batch, case_id: i64) -> Result<Timestamp, Problem> {
    let e = b
        .latest_case_event(case_id, EventType::RequestPostponed)
        .await?
        .ok_or_else(|| super::internal(format!("case {case_id} is postponed without an event")))?;
    let body: serde_json::Value = serde_json::from_str(&e.body).map_err(super::internal)?;
    body["until"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| super::internal(format!("case {case_id}: postponement without a date")))
}

/// The tick's part: every postponed case whose date has come awaits a decision again
/// (`request.resumed`), to the second and not before.
pub(crate) async fn resume_due(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
) -> Result<(), Problem> {
    for mut case in b
        .cases_in_status::<super::Documents>(CaseStatus::Postponed)
        .await?
    {
        let until = postponed_until(b, case.case_id).await?;
        if until > now {
            continue;
        }
        emit(
            b,
            out,
            EventType::RequestResumed,
            now,
            Some(case.case_id),
            json!({ "postponed_until": until.to_string() }),
        )
        .await?;
        case.status = CaseStatus::Assessed;
        case.updated_at = now;
        b.put_case(&case).await?;
    }
    Ok(())
}
