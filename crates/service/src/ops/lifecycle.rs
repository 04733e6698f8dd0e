//! The lifecycle after a decision: preservation holds, delivery and closing, and the
//! scheduler's work (lapsed holds, ends of confidentiality, notices and their retries).
//!
//! Rules and their legal basis:
//! * preservation holds last `preservation_days` and are renewable (UNCC art. 42, at least 60
//!   days); a hold whose follow-up is pending is kept past its date ([`super::follow_up`]);
//! * once confidentiality ends the person concerned is due a notice, when the profile says so
//!   (rights-first; the Convention itself has no notice duty), with what was handed over and how
//!   to challenge it ([`super::notice`]);
//! * a notice that could not be delivered is tried again, after 1 min, 5 min, 30 min, 2 h, then
//!   every 6 h ([`retry_delay`]): an operational choice so a person is not left untold because a
//!   mail server was down; every attempt, delivered or failed with its reason, is logged.

use super::notice::{NoticeDocument, NoticeFacts, NoticeSettings};
use super::{Case, Documents};
use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Hold, Notice, Role, User};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::{Appended, days, emit, load_case, require_role};
use crate::problem::Problem;

/// Settings the lifecycle needs.
#[derive(Debug, Clone)]
pub struct LifecycleRules {
    /// Length of a preservation hold and of each renewal.
    pub preservation_days: u32,
    /// What notices say about the receiving side and its remedies.
    pub notices: NoticeSettings,
    /// How far the profile lets confidentiality reach (for extensions).
    pub secrecy_cap: SecrecyCap,
    /// Days before a hold lapses that the requester is warned (0: never).
    pub lapse_warning_days: u32,
    /// Hours within which the order must follow a waived authorization (`order.due`).
    pub order_due_hours: u32,
}

/// The default of [`LifecycleRules::lapse_warning_days`] (an operator default).
pub const DEFAULT_LAPSE_WARNING_DAYS: u32 = 14;

impl LifecycleRules {
    /// Rules with holds of `preservation_days`, the default notice text and no cap on secrecy
    /// (as the `convention` profile).
    pub fn new(preservation_days: u32) -> LifecycleRules {
        LifecycleRules {
            preservation_days,
            notices: NoticeSettings::default(),
            secrecy_cap: SecrecyCap::default(),
            lapse_warning_days: DEFAULT_LAPSE_WARNING_DAYS,
            order_due_hours: super::order::DEFAULT_ORDER_DUE_HOURS,
        }
    }

    /// The same rules, warning `days` before a hold lapses (0: never).
    pub fn warning(self, days: u32) -> LifecycleRules {
        LifecycleRules {
            lapse_warning_days: days,
            ..self
        }
    }

    /// The rules of a node: holds of `preservation_days`, and the notice settings and secrecy
    /// cap of its jurisdiction and profile.
    pub fn of(preservation_days: u32, assessor: &custos_safeguards::Assessor) -> LifecycleRules {
        let j = assessor.jurisdiction();
        LifecycleRules {
            preservation_days,
            notices: NoticeSettings {
                receiver: j.name.clone(),
                remedies: j
                    .remedies
                    .clone()
                    .unwrap_or_else(|| super::notice::DEFAULT_REMEDIES.to_owned()),
            },
            secrecy_cap: SecrecyCap::of(assessor.profile()),
            lapse_warning_days: DEFAULT_LAPSE_WARNING_DAYS,
            order_due_hours: super::order::DEFAULT_ORDER_DUE_HOURS,
        }
    }

    /// The same, with the order that must follow an emergency due within `hours`.
    pub fn with_order_due_hours(mut self, hours: u32) -> LifecycleRules {
        self.order_due_hours = hours;
        self
    }
}

impl Default for LifecycleRules {
    fn default() -> Self {
        LifecycleRules::new(90)
    }
}

/// The latest end of confidentiality a profile allows, counted from the moment it is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecrecyCap {
    /// The profile's name (for messages).
    pub profile: String,
    /// At most this many days from now; `None`: the profile sets no cap.
    pub days: Option<u32>,
}

impl SecrecyCap {
    /// The cap of a profile: the longest `@limit_days` of its rules that cap confidentiality
    /// (`@narrow("cap_confidentiality")`; `rights-first`: 365 days, from
    /// `confidentiality-too-long`), or none (`convention` has no such rule).
    pub fn of(profile: &custos_safeguards::Profile) -> SecrecyCap {
        let days = profile
            .rules()
            .iter()
            .filter_map(|r| match r.narrowing {
                Some(custos_safeguards::Narrowing::CapConfidentiality { days }) => Some(days),
                _ => None,
            })
            .max();
        SecrecyCap {
            profile: profile.name().to_owned(),
            days,
        }
    }

    /// The latest end allowed if set at `now`.
    pub fn latest(&self, now: Timestamp) -> Option<Timestamp> {
        self.days.map(|d| now + days(d))
    }
}

/// A staff renewal of a preservation hold (`POST /v1/requests/{case}/hold/renew`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRenewalInput {
    /// Why the hold is renewed (optional in the API, required by the console); recorded in the
    /// `preservation.renewed` event.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A staff release of a preservation hold before its date
/// (`POST /v1/requests/{case}/hold/release`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldReleaseInput {
    /// Why the data need no longer be kept; recorded in the `preservation.released` event.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// The end of a hold renewed at `now`: `preservation_days` from the renewal, never earlier than
/// the end in force. Renewals never stack: renewing twice in a row gives the same date.
pub fn renewed_end(expires_at: Timestamp, now: Timestamp, preservation_days: u32) -> Timestamp {
    expires_at.max(now + days(preservation_days))
}

async fn hold_in_force(b: &mut Batch, case_id: i64) -> Result<Hold, Problem> {
    b.hold(case_id)
        .await?
        .filter(|h| h.released_at.is_none())
        .ok_or_else(|| {
            Problem::conflict(
                "no-hold",
                format!("case {case_id} has no preservation hold in force"),
            )
        })
}

fn hold_field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-hold-change", format!("{pointer}: {detail}"));
    p.errors.push(crate::problem::FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Renews a preservation hold to `preservation_days` from now ([`renewed_end`]).
pub async fn renew_hold(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    user: &User,
    input: &HoldRenewalInput,
    now: Timestamp,
) -> Result<Hold, Problem> {
    require_role(user, Role::Reviewer, "renewing a preservation hold")?;
    let mut hold = hold_in_force(b, case_id).await?;
    let reason = input.reason.as_deref().map(str::trim);
    if reason == Some("") {
        return Err(hold_field(
            "$.reason",
            "the reason is blank; give one or leave it out",
        ));
    }
    let previous = hold.expires_at;
    hold.expires_at = renewed_end(previous, now, rules.preservation_days);
    hold.renewals += 1;
    let mut body = json!({
        "expires_at": hold.expires_at.to_string(), "by": user.name,
        "previous_expires_at": previous.to_string(),
    });
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    emit(
        b,
        out,
        EventType::PreservationRenewed,
        now,
        Some(case_id),
        body,
    )
    .await?;
    b.put_hold(&hold).await?;
    Ok(hold)
}

/// Releases a preservation hold before its date, with a reason (reviewers and above, as
/// renewing). A hold kept for a pending follow-up cannot be released (Budapest art. 29(7)).
pub async fn release_hold(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &HoldReleaseInput,
    now: Timestamp,
) -> Result<Hold, Problem> {
    require_role(user, Role::Reviewer, "releasing a preservation hold")?;
    let mut hold = hold_in_force(b, case_id).await?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(hold_field(
            "$.reason",
            "releasing a hold needs a written reason",
        ));
    }
    if let Some(follower) = super::follow_up::keeping(b, &hold).await? {
        return Err(Problem::conflict(
            "follow-up-pending",
            format!(
                "case {case_id}'s hold is kept for its follow-up, case {follower}, which is pending; it cannot be released before that is decided"
            ),
        ));
    }
    emit(
        b,
        out,
        EventType::PreservationReleased,
        now,
        Some(case_id),
        json!({ "by": user.name, "reason": reason }),
    )
    .await?;
    hold.released_at = Some(now);
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
                CaseStatus::Executing
                    | CaseStatus::Delivered
                    | CaseStatus::Refused
                    | CaseStatus::Withdrawn
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

/// How long to wait after the `failures`-th failed delivery before trying again: 1 min, 5 min,
/// 30 min, 2 h, then every 6 h.
pub fn retry_delay(failures: i64) -> SignedDuration {
    SignedDuration::from_secs(match failures {
        ..=0 => 0,
        1 => 60,
        2 => 5 * 60,
        3 => 30 * 60,
        4 => 2 * 3600,
        _ => 6 * 3600,
    })
}

/// When the next delivery attempt of a notice is due: its due date for the first, then the last
/// attempt plus [`retry_delay`]; `None` once it was sent. Computed from the row alone, so a node
/// that restarts loses no retry and never retries early.
pub fn next_attempt(n: &Notice) -> Option<Timestamp> {
    if n.sent_at.is_some() {
        return None;
    }
    Some(match n.last_attempt_at {
        Some(last) if n.attempts > 0 => (last + retry_delay(n.attempts)).max(n.due_at),
        _ => n.due_at,
    })
}

/// A notice to be delivered now by the configured command.
#[derive(Debug, Clone)]
pub struct DueNotice {
    /// The case.
    pub case_id: i64,
    /// The requester's id (for the command's environment).
    pub request_id: String,
    /// When it fell due.
    pub due_at: Timestamp,
    /// The number this attempt will have (1 for the first).
    pub attempt: i64,
    /// The notice to deliver, or why it could not be made (then the attempt fails with that
    /// reason, and is retried like any other).
    pub document: Result<NoticeDocument, String>,
}

/// The scheduler's work at `now`: release lapsed holds, record ends of confidentiality. Returns
/// the notices whose next delivery attempt is due. Idempotent: items are picked by state, not
/// by timers, so a node that was down catches up on everything that fell due meanwhile.
pub async fn tick(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    now: Timestamp,
) -> Result<Vec<DueNotice>, Problem> {
    for mut hold in b.expired_holds(now).await? {
        // Kept past its date while a follow-up is pending (Budapest art. 29(7)).
        if super::follow_up::keeping(b, &hold).await?.is_some() {
            continue;
        }
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
    // After the releases: the replay reads every later event of a pass as "holds released".
    super::follow_up::warn_lapses(b, out, rules.lapse_warning_days, now).await?;
    super::postponement::resume_due(b, out, now).await?;
    super::consultation::lapse_due(b, out, now).await?;
    super::order::miss_due(b, out, now).await?;
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
        if next_attempt(&notice).is_none_or(|at| at > now) {
            continue;
        }
        let case = b.case::<Documents>(notice.case_id).await?;
        let document = match &case {
            Some(case) => notice_document(b, case, &notice, rules, now).await?,
            None => Err(format!("case {} is missing", notice.case_id)),
        };
        due.push(DueNotice {
            case_id: notice.case_id,
            request_id: case.map(|c| c.request_id).unwrap_or_default(),
            due_at: notice.due_at,
            attempt: notice.attempts + 1,
            document,
        });
    }
    // Last: a case whose secrecy ended in this pass is published in it, after its
    // `confidentiality.ended`.
    super::publication::publish_due(b, out, now).await?;
    Ok(due)
}

/// The notice of `case` as it would be sent at `now`.
pub async fn notice_document(
    b: &mut Batch,
    case: &Case,
    notice: &Notice,
    rules: &LifecycleRules,
    now: Timestamp,
) -> Result<Result<NoticeDocument, String>, Problem> {
    let handed_over_at = b
        .evidence_for_case(case.case_id)
        .await?
        .iter()
        .filter_map(|e| e.delivered_at)
        .min();
    Ok(NoticeDocument::of(
        case,
        &rules.notices,
        NoticeFacts {
            handed_over_at,
            confidentiality_ended_at: notice.ended_at,
            issued_at: now,
        },
    ))
}

/// How a delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeDelivery {
    /// The command took the notice (exit 0); the SHA-256 (hex) of the JSON it was given.
    Sent {
        /// SHA-256 of the notice's JSON as handed to the command.
        notice_sha256: String,
    },
    /// It failed, and why (never the notice's contents).
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// Longest error kept and logged for a failed delivery.
const MAX_ERROR: usize = 300;

/// Records the result of a delivery attempt made at `at`: `notice.sent`, or `notice.failed`
/// with the reason and when the next attempt is due. A result for a notice already sent, or not
/// due, records nothing. Returns the notice as it now stands.
pub async fn notice_result(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    delivery: NoticeDelivery,
    at: Timestamp,
) -> Result<Option<Notice>, Problem> {
    let Some(mut notice) = b
        .notice(case_id)
        .await?
        .filter(|n| n.sent_at.is_none() && n.due_at <= at)
    else {
        return Ok(None);
    };
    notice.attempts += 1;
    notice.last_attempt_at = Some(at);
    match delivery {
        NoticeDelivery::Sent { notice_sha256 } => {
            emit(
                b,
                out,
                EventType::NoticeSent,
                at,
                Some(case_id),
                json!({ "attempt": notice.attempts, "notice_sha256": notice_sha256 }),
            )
            .await?;
            notice.sent_at = Some(at);
            notice.last_error = None;
        }
        NoticeDelivery::Failed { error } => {
            // One line, bounded: it is shown in the console and kept in the log.
            let mut error: String = error
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(MAX_ERROR)
                .collect();
            if error.is_empty() {
                error = "the delivery failed without a reason".to_owned();
            }
            let next = at + retry_delay(notice.attempts);
            emit(
                b,
                out,
                EventType::NoticeFailed,
                at,
                Some(case_id),
                json!({
                    "attempt": notice.attempts, "error": error,
                    "next_attempt_at": next.to_string(),
                }),
            )
            .await?;
            notice.last_error = Some(error);
        }
    }
    b.put_notice(&notice).await?;
    Ok(Some(notice))
}

/// What a reviewer does with a notice owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeActionKind {
    /// The notice was given outside the node (by post, in person): recorded as sent
    /// (`notice.sent` with `by_hand`), so the scheduler stops trying. Needs `note`.
    SentByHand,
    /// The notice waits until `until` (`notice.deferred`), no later than the profile's cap on
    /// secrecy allows from now. Needs `until` and `reason`.
    Deferred,
}

/// A reviewer's action on a notice owed (`POST /v1/requests/{case}/notice/action`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeAction {
    /// `sent_by_hand` or `deferred`.
    pub action: NoticeActionKind,
    /// For `sent_by_hand`: how and when it was given, for the record.
    #[serde(default)]
    pub note: Option<String>,
    /// For `deferred`: the new due time, later than now and than the due time in force.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// For `deferred`: why telling the person now would harm (for the record).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Records a reviewer's action on the notice of `case_id` (reviewers and above): sent by hand,
/// or deferred within the profile's cap. A notice already sent cannot be acted on.
pub async fn act_on_notice(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    user: &User,
    action: &NoticeAction,
    now: Timestamp,
) -> Result<Notice, Problem> {
    require_role(user, Role::Reviewer, "acting on a notice")?;
    let mut notice = b
        .notice(case_id)
        .await?
        .filter(|n| n.sent_at.is_none())
        .ok_or_else(|| {
            Problem::conflict(
                "no-notice-owed",
                format!("case {case_id} owes no notice that is still to be sent"),
            )
        })?;
    let field = |pointer: &str, detail: &str| {
        let mut p = Problem::unprocessable("invalid-notice-action", format!("{pointer}: {detail}"));
        p.errors.push(crate::problem::FieldProblem {
            pointer: pointer.into(),
            detail: detail.into(),
        });
        p
    };
    let given = |f: &Option<String>| f.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let (note, reason) = (given(&action.note), given(&action.reason));
    match action.action {
        NoticeActionKind::SentByHand => {
            if action.until.is_some() || action.reason.is_some() {
                let at = if action.until.is_some() {
                    "$.until"
                } else {
                    "$.reason"
                };
                return Err(field(
                    at,
                    "until and reason belong to a deferral; a notice sent by hand takes a note",
                ));
            }
            let note = note.as_str();
            if note.is_empty() {
                return Err(field("$.note", "say how and when the notice was given"));
            }
            notice.attempts += 1;
            emit(
                b,
                out,
                EventType::NoticeSent,
                now,
                Some(case_id),
                json!({
                    "attempt": notice.attempts, "by_hand": true, "by": user.name, "note": note,
                }),
            )
            .await?;
            notice.last_attempt_at = Some(now);
            notice.sent_at = Some(now);
            notice.last_error = None;
        }
        NoticeActionKind::Deferred => {
            if action.note.is_some() {
                return Err(field(
                    "$.note",
                    "a note belongs to a notice sent by hand; a deferral takes until and reason",
                ));
            }
            let Some(until) = &action.until else {
                return Err(field("$.until", "a deferral needs the new due time"));
            };
            let reason = reason.as_str();
            if reason.is_empty() {
                return Err(field("$.reason", "a deferral needs a written reason"));
            }
            if *until <= now.max(notice.due_at) {
                return Err(field(
                    "$.until",
                    &format!(
                        "{until} defers nothing: it must be later than now and than the notice's due date ({})",
                        notice.due_at
                    ),
                ));
            }
            let cap = &rules.secrecy_cap;
            if let (Some(latest), Some(days)) = (cap.latest(now), cap.days)
                && *until > latest
            {
                return Err(field(
                    "$.until",
                    &format!(
                        "{until} is more than {days} days from now; the {} profile lets secrecy reach at most {days} days ahead (at the latest {latest})",
                        cap.profile
                    ),
                ));
            }
            emit(
                b,
                out,
                EventType::NoticeDeferred,
                now,
                Some(case_id),
                json!({
                    "by": user.name, "reason": reason, "due_at": until.to_string(),
                    "previous_due_at": notice.due_at.to_string(),
                }),
            )
            .await?;
            notice.due_at = *until;
        }
    }
    b.put_notice(&notice).await?;
    Ok(notice)
}
