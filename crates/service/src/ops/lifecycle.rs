//! The lifecycle after a decision: preservation holds, delivery and closing, and the
//! scheduler's work (lapsed holds, ends of confidentiality, notices).
//!
//! Rules and their legal basis:
//! * preservation holds last `preservation_days` and are renewable (UNCC art. 42, at least 60
//!   days);
//! * once confidentiality ends the person concerned is due a notice, when the profile says so
//!   (rights-first; the Convention itself has no notice duty).

use super::{Case, Documents};
use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Hold, Role, User};
use jiff::Timestamp;
use serde_json::json;

use super::{Appended, days, emit, load_case, require_role};
use crate::problem::Problem;

/// Settings the lifecycle needs.
#[derive(Debug, Clone)]
pub struct LifecycleRules {
    /// Length of a preservation hold and of each renewal.
    pub preservation_days: u32,
}

/// Renews a preservation hold by another `preservation_days`.
pub async fn renew_hold(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    user: &User,
    now: Timestamp,
) -> Result<Hold, Problem> {
    require_role(user, Role::Reviewer, "renewing a preservation hold")?;
    let mut hold = b
        .hold(case_id)
        .await?
        .filter(|h| h.released_at.is_none())
        .ok_or_else(|| {
            Problem::conflict(
                "no-hold",
                format!("case {case_id} has no preservation hold in force"),
            )
        })?;
    hold.expires_at = hold.expires_at.max(now) + days(rules.preservation_days);
    hold.renewals += 1;
    emit(
        b,
        out,
        EventType::PreservationRenewed,
        now,
        Some(case_id),
        json!({
            "expires_at": hold.expires_at.to_string(), "by": user.name,
        }),
    )
    .await?;
    b.put_hold(&hold).await?;
    Ok(hold)
}

/// Marks an executed request delivered, or closes a case.
pub async fn advance(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    to: CaseStatus,
    now: Timestamp,
) -> Result<Case, Problem> {
    require_role(user, Role::Reviewer, "changing a case's status")?;
    let mut case = load_case(b, case_id).await?;
    let event = match to {
        CaseStatus::Delivered if case.status == CaseStatus::Executing => {
            Some(EventType::RequestDelivered)
        }
        CaseStatus::Closed
            if matches!(
                case.status,
                CaseStatus::Executing | CaseStatus::Delivered | CaseStatus::Refused
            ) =>
        {
            Some(EventType::RequestClosed)
        }
        _ => None,
    };
    let Some(event) = event else {
        return Err(Problem::conflict(
            "invalid-transition",
            format!(
                "case {case_id} is {}; it cannot become {}",
                case.status.as_str(),
                to.as_str()
            ),
        ));
    };
    emit(
        b,
        out,
        event,
        now,
        Some(case_id),
        json!({ "by": user.name }),
    )
    .await?;
    case.status = to;
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}

/// Notices that fell due and are to be sent by the configured command.
#[derive(Debug, Clone)]
pub struct DueNotice {
    /// The case.
    pub case_id: i64,
    /// The requester's id (for the command's environment).
    pub request_id: String,
    /// When it fell due.
    pub due_at: Timestamp,
}

/// The scheduler's work at `now`: release lapsed holds, record ends of confidentiality. Returns
/// the notices now due for sending. Idempotent: items are picked by state, not by timers, so a
/// node that was down catches up on everything that fell due meanwhile.
pub async fn tick(
    b: &mut Batch,
    out: &mut Appended,
    now: Timestamp,
) -> Result<Vec<DueNotice>, Problem> {
    for mut hold in b.expired_holds(now).await? {
        emit(
            b,
            out,
            EventType::PreservationReleased,
            now,
            Some(hold.case_id),
            json!({
                "expired_at": hold.expires_at.to_string(),
            }),
        )
        .await?;
        hold.released_at = Some(now);
        b.put_hold(&hold).await?;
    }
    let mut due = Vec::new();
    for mut notice in b.due_notices(now).await? {
        if notice.ended_at.is_none() {
            emit(
                b,
                out,
                EventType::ConfidentialityEnded,
                now,
                Some(notice.case_id),
                json!({
                    "due_at": notice.due_at.to_string(),
                }),
            )
            .await?;
            notice.ended_at = Some(now);
            b.put_notice(&notice).await?;
        }
        let request_id = b
            .case::<Documents>(notice.case_id)
            .await?
            .map(|c| c.request_id)
            .unwrap_or_default();
        due.push(DueNotice {
            case_id: notice.case_id,
            request_id,
            due_at: notice.due_at,
        });
    }
    Ok(due)
}

/// Records the result of sending a notice.
pub async fn notice_result(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    result: Result<(), String>,
    now: Timestamp,
) -> Result<(), Problem> {
    let Some(mut notice) = b
        .due_notices(now)
        .await?
        .into_iter()
        .find(|n| n.case_id == case_id)
    else {
        return Ok(());
    };
    notice.attempts += 1;
    match result {
        Ok(()) => {
            emit(
                b,
                out,
                EventType::NoticeSent,
                now,
                Some(case_id),
                json!({ "attempt": notice.attempts }),
            )
            .await?;
            notice.sent_at = Some(now);
            notice.last_error = None;
        }
        Err(e) => notice.last_error = Some(e),
    }
    b.put_notice(&notice).await?;
    Ok(())
}
