//! Assignment (issue 16): a reviewer or supervisor takes a case (`case.assigned`), so the queue
//! shows who has it, and releases it (`case.unassigned`). Nothing is deleted: a takeover is a new
//! `case.assigned` naming whom it was taken `from`. Operator practice, not a treaty rule.
//!
//! Rules, as a desk handling emergencies at night needs them:
//! * staff only, and not auditors: they read everything and change nothing;
//! * taking a case someone else has is allowed and recorded as a takeover (`from`), not refused:
//!   the duty officer must be able to act on an emergency while its holder is asleep. A page
//!   sent with its version (`If-Match`) is refused if someone took the case meanwhile, so no
//!   one takes over without having seen who had it;
//! * taking a case one already has changes nothing (a second click is not an event);
//! * only the holder releases a case, or a supervisor (who divides the work);
//! * a closed case is not taken: closing says nothing more will be done on it. It may still
//!   be released.

use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Role, User};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{Appended, Case, emit, load_case, require_role};
use crate::problem::Problem;

/// What to do with a case's assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentAction {
    /// The caller takes the case (from whoever has it).
    Take,
    /// The case is released: no one has it.
    Release,
}

/// A change of who has a case.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// `take` or `release`.
    pub action: AssignmentAction,
}

/// Whether `user` may take `case` now (taking a case one already has changes nothing).
pub fn may_take(case: &Case, user: &User) -> bool {
    user.role >= Role::Reviewer
        && case.status != CaseStatus::Closed
        && case.assignee.as_deref() != Some(user.name.as_str())
}

/// Whether `user` may release `case`: someone has it, and it is `user` or `user` supervises.
pub fn may_release(case: &Case, user: &User) -> bool {
    user.role >= Role::Reviewer
        && case
            .assignee
            .as_deref()
            .is_some_and(|holder| holder == user.name || user.role >= Role::Supervisor)
}

/// Takes or releases `case_id` for `user` (`case.assigned` / `case.unassigned`).
pub async fn assign(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &AssignmentInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let what = match input.action {
        AssignmentAction::Take => "taking a case",
        AssignmentAction::Release => "releasing a case",
    };
    require_role(user, Role::Reviewer, what)?;
    let mut case = load_case(b, case_id).await?;
    let held_by = case.assignee.clone();
    match input.action {
        AssignmentAction::Take => {
            if held_by.as_deref() == Some(user.name.as_str()) {
                return Ok(case);
            }
            if case.status == CaseStatus::Closed {
                return Err(Problem::conflict(
                    "case-closed",
                    format!(
                        "case {case_id} is closed: nothing more is done on it, so it cannot be taken"
                    ),
                ));
            }
            emit(
                b,
                out,
                EventType::CaseAssigned,
                now,
                Some(case_id),
                json!({ "by": user.name, "from": held_by }),
            )
            .await?;
            case.assignee = Some(user.name.clone());
        }
        AssignmentAction::Release => {
            let Some(holder) = held_by else {
                return Err(Problem::conflict(
                    "not-assigned",
                    format!(
                        "case {case_id} is not assigned to anyone; there is nothing to release"
                    ),
                ));
            };
            if holder != user.name && user.role < Role::Supervisor {
                return Err(Problem::forbidden(
                    "not-yours",
                    format!(
                        "case {case_id} is {holder}'s: only {holder} or a supervisor can release it; take it over instead"
                    ),
                ));
            }
            emit(
                b,
                out,
                EventType::CaseUnassigned,
                now,
                Some(case_id),
                json!({ "by": user.name, "from": holder }),
            )
            .await?;
            case.assignee = None;
        }
    }
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}
