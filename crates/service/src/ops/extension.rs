//! Extensions: one model for every deadline a requesting authority may ask to move. The
//! authority asks, with its signed proof, reasons and the date it wants
//! ([`request_extension`], `extension.requested`); a reviewer grants it, possibly to an earlier
//! date, or refuses it, with a reason the requester reads ([`decide_extension`],
//! `extension.granted` / `extension.refused`), within the profile's cap. Built for the end of
//! confidentiality ([`ExtensionKind::Confidentiality`]) and the renewal of a preservation hold
//! ([`ExtensionKind::Preservation`]: a grant also logs `preservation.renewed` with the new end;
//! no profile cap applies); notice dates are a further kind of the same model.
//!
//! Rules and their legal basis:
//! * only the case's own authority may ask, and only a reviewer (not an auditor) decides: the
//!   same separation as for every decision on a case (safeguards.md, *Decisions*);
//! * secrecy is never open-ended and never longer than the profile allows, counted from the
//!   moment it is set: `rights-first` at most 365 days from now (its `confidentiality-too-long`
//!   rule; critics: no perpetual secrecy; N&P principle 8; EU Reg. 2023/1543 art. 13), the
//!   `convention` profile no cap of its own (the Convention sets none);
//! * granting moves the end of confidentiality and with it the notice to the person concerned;
//!   once confidentiality has ended (the person may already have been told) it cannot be
//!   extended.

use custos_model::{EventType, Request};
use custos_store::{
    Authority, Batch, CaseStatus, Extension, ExtensionKind, ExtensionStatus, Notice, Role, User,
};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::lifecycle::LifecycleRules;
use super::{Appended, Case, emit, internal, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// A requesting authority's request to move a deadline, as it sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionInput {
    /// Which deadline: `confidentiality`, or `preservation` (renew a hold).
    #[schema(schema_with = schema::extension_kind)]
    pub kind: ExtensionKind,
    /// The date wanted (RFC 3339): later than the deadline in force, and within the profile's
    /// cap counted from now.
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
    /// Why the deadline must move.
    #[schema(min_length = 1)]
    pub reasons: String,
}

/// Which request for an extension: its case and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionRef {
    /// The case.
    pub case_id: i64,
    /// The extension's number (the log index of its `extension.requested`).
    pub extension_id: i64,
}

/// A reviewer's answer to a request for an extension.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDecisionInput {
    /// Grant (true) or refuse (false).
    pub grant: bool,
    /// For a grant: the new deadline, no later than asked (default: the date asked). Absent for
    /// a refusal.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// Why, in words the requester reads.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Where a deadline of a case stands, for an extension of `kind`.
struct Deadline {
    /// The deadline in force.
    until: Timestamp,
    /// The notice that waits for it, if one is owed.
    notice: Option<Notice>,
}

/// The end of confidentiality in force on `case`, or why there is none to extend.
async fn confidentiality_end(
    b: &mut Batch,
    case: &Case,
    now: Timestamp,
) -> Result<Deadline, Problem> {
    let case_id = case.case_id;
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    if !request
        .confidentiality
        .as_ref()
        .is_some_and(|c| c.requested)
    {
        return Err(Problem::conflict(
            "no-confidentiality",
            format!("case {case_id}'s request asks no confidentiality; there is none to extend"),
        ));
    }
    let executes = matches!(
        case.status,
        CaseStatus::Executing | CaseStatus::Delivered | CaseStatus::Closed
    ) && case.decision.as_ref().is_some_and(|d| {
        matches!(
            d.decision,
            super::DecisionKind::Execute | super::DecisionKind::ExecuteNarrowed
        )
    });
    if !executes {
        return Err(Problem::conflict(
            "not-executing",
            format!(
                "case {case_id} is {}; confidentiality can be extended once the case is decided to be executed (until then the decision sets it)",
                case.status.as_str()
            ),
        ));
    }
    let ended = |at: Timestamp| {
        Problem::conflict(
            "confidentiality-ended",
            format!(
                "the confidentiality of case {case_id} ended on {at}; an ended secrecy cannot be extended"
            ),
        )
    };
    if let Some(notice) = b.notice(case_id).await? {
        if let Some(at) = notice.ended_at.or(notice.sent_at) {
            return Err(ended(at));
        }
        if notice.due_at <= now {
            return Err(ended(notice.due_at));
        }
        return Ok(Deadline {
            until: notice.due_at,
            notice: Some(notice),
        });
    }
    // No notice is owed (a profile without notices, or a preservation): the end is the last one
    // granted, else the decision's narrowed end, else the end asked.
    let granted = b
        .case_extensions(case_id)
        .await?
        .into_iter()
        .filter(|x| x.kind == ExtensionKind::Confidentiality)
        .filter_map(|x| x.granted_until)
        .next_back();
    let narrowed = case
        .decision
        .as_ref()
        .and_then(|d| d.narrowed.as_ref())
        .and_then(|n| n.confidentiality_until);
    let Some(until) = granted.or(narrowed).or(case.confidentiality_until) else {
        return Err(Problem::conflict(
            "no-end",
            format!(
                "the confidentiality of case {case_id} has no end date (the profile sets none); there is no deadline to extend"
            ),
        ));
    };
    if until <= now {
        return Err(ended(until));
    }
    Ok(Deadline {
        until,
        notice: None,
    })
}

/// The deadline of `kind` in force on `case`.
async fn deadline(
    b: &mut Batch,
    kind: ExtensionKind,
    case: &Case,
    now: Timestamp,
) -> Result<Deadline, Problem> {
    match kind {
        ExtensionKind::Confidentiality => confidentiality_end(b, case, now).await,
        ExtensionKind::Preservation => hold_end(b, case).await,
    }
}

/// The end of the preservation hold in force on `case`, or why there is none to renew.
async fn hold_end(b: &mut Batch, case: &Case) -> Result<Deadline, Problem> {
    match b.hold(case.case_id).await? {
        Some(h) if h.released_at.is_none() => Ok(Deadline {
            until: h.expires_at,
            notice: None,
        }),
        Some(h) => Err(Problem::conflict(
            "no-hold",
            format!(
                "the preservation hold of case {} was released on {}; a released hold cannot be renewed. Send a new preservation request",
                case.case_id,
                h.released_at.map(|t| t.to_string()).unwrap_or_default()
            ),
        )),
        None => Err(Problem::conflict(
            "no-hold",
            format!(
                "case {} has no preservation hold (holds start when a preservation is executed); there is none to renew",
                case.case_id
            ),
        )),
    }
}

/// Refuses a date beyond the profile's cap counted from `now`.
fn within_cap(
    rules: &LifecycleRules,
    pointer: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<(), Problem> {
    let cap = &rules.secrecy_cap;
    match (cap.latest(now), cap.days) {
        (Some(latest), Some(days)) if until > latest => Err(field(
            pointer,
            &format!(
                "{until} is more than {days} days from now; the {} profile allows confidentiality to reach at most {days} days ahead (at the latest {latest})",
                cap.profile
            ),
        )),
        _ => Ok(()),
    }
}

/// The requesting authority asks to move a deadline of its own case (`extension.requested`).
/// `authority` is the caller as the log has it now.
pub async fn request_extension(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    authority: &Authority,
    input: &ExtensionInput,
    now: Timestamp,
) -> Result<Extension, Problem> {
    let case = b
        .case(case_id)
        .await?
        .filter(|c: &Case| c.authority_kid == authority.kid);
    // Another authority learns nothing about the case, not even that it exists.
    let Some(case) = case else {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} visible to you"
        )));
    };
    if let Some(at) = authority.revoked_at {
        return Err(Problem::forbidden(
            "revoked-key",
            format!("the key {} was revoked on {at}", authority.kid),
        ));
    }
    let reasons = input.reasons.trim();
    if reasons.is_empty() {
        return Err(field(
            "$.reasons",
            "say why the deadline must move; a request for an extension needs reasons",
        ));
    }
    let in_force = deadline(b, input.kind, &case, now).await?;
    if let Some(pending) = b
        .case_extensions(case_id)
        .await?
        .into_iter()
        .find(|x| x.kind == input.kind && x.status == ExtensionStatus::Pending)
    {
        return Err(Problem::conflict(
            "extension-pending",
            format!(
                "extension {} of case {case_id} ({}) asked on {} is still waiting for a reviewer; ask again once it is decided",
                pending.extension_id,
                input.kind.as_str(),
                pending.asked_at
            ),
        ));
    }
    if input.until <= in_force.until {
        return Err(field(
            "$.until",
            &format!(
                "{} is not later than the deadline in force ({}); an extension moves it later",
                input.until, in_force.until
            ),
        ));
    }
    if input.kind == ExtensionKind::Confidentiality {
        within_cap(rules, "$.until", input.until, now)?;
    }
    let event = emit_returning(
        b,
        out,
        EventType::ExtensionRequested,
        now,
        case_id,
        json!({
            "kind": input.kind.as_str(), "by": authority.kid,
            "current_until": in_force.until.to_string(), "until": input.until.to_string(),
            "reasons": reasons,
        }),
    )
    .await?;
    let x = Extension {
        extension_id: event,
        case_id,
        kind: input.kind,
        asked_by: authority.kid.clone(),
        asked_at: now,
        current_until: in_force.until,
        asked_until: input.until,
        reasons: reasons.to_owned(),
        status: ExtensionStatus::Pending,
        decided_by: None,
        decided_at: None,
        granted_until: None,
        decision_reason: None,
    };
    b.put_extension(&x).await?;
    Ok(x)
}

/// A reviewer grants (possibly to an earlier date than asked) or refuses a pending request for
/// an extension (`extension.granted` / `extension.refused`). Granting moves the deadline.
pub async fn decide_extension(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    which: ExtensionRef,
    user: &User,
    input: &ExtensionDecisionInput,
    now: Timestamp,
) -> Result<Extension, Problem> {
    let ExtensionRef {
        case_id,
        extension_id,
    } = which;
    require_role(user, Role::Reviewer, "deciding an extension")?;
    let mut case = load_case(b, case_id).await?;
    let mut x = b
        .extension(extension_id)
        .await?
        .filter(|x| x.case_id == case_id)
        .ok_or_else(|| {
            Problem::not_found(format!(
                "case {case_id} has no request for an extension numbered {extension_id}"
            ))
        })?;
    if x.status != ExtensionStatus::Pending {
        return Err(Problem::conflict(
            "already-decided",
            format!(
                "extension {extension_id} of case {case_id} was already {} on {}",
                x.status.as_str(),
                x.decided_at.map(|t| t.to_string()).unwrap_or_default()
            ),
        ));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(field(
            "$.reason",
            "a decision on an extension needs a written reason (the requester reads it)",
        ));
    }
    if !input.grant {
        if input.until.is_some() {
            return Err(field(
                "$.until",
                "a refusal sets no date; leave until out, or grant",
            ));
        }
        emit(
            b,
            out,
            EventType::ExtensionRefused,
            now,
            Some(case_id),
            json!({
                "extension": extension_id, "kind": x.kind.as_str(), "by": user.name,
                "reason": reason,
            }),
        )
        .await?;
        x.status = ExtensionStatus::Refused;
        x.decided_by = Some(user.name.clone());
        x.decided_at = Some(now);
        x.decision_reason = Some(reason.to_owned());
        b.put_extension(&x).await?;
        return Ok(x);
    }
    let until = input.until.unwrap_or(x.asked_until);
    if until > x.asked_until {
        return Err(field(
            "$.until",
            &format!(
                "{until} is later than the date asked ({}); a grant may be shorter than asked, never longer",
                x.asked_until
            ),
        ));
    }
    let in_force = deadline(b, x.kind, &case, now).await?;
    if until <= in_force.until {
        return Err(field(
            "$.until",
            &format!(
                "{until} is not later than the deadline in force ({}); refuse instead",
                in_force.until
            ),
        ));
    }
    if x.kind == ExtensionKind::Confidentiality {
        within_cap(rules, "$.until", until, now)?;
    }
    emit(
        b,
        out,
        EventType::ExtensionGranted,
        now,
        Some(case_id),
        json!({
            "extension": extension_id, "kind": x.kind.as_str(), "by": user.name,
            "reason": reason, "previous_until": in_force.until.to_string(),
            "until": until.to_string(),
        }),
    )
    .await?;
    match x.kind {
        ExtensionKind::Confidentiality => {
            case.confidentiality_until = Some(until);
            if case.notify_person_at.is_some() {
                case.notify_person_at = Some(until);
            }
            case.updated_at = now;
            b.put_case(&case).await?;
            if let Some(mut notice) = in_force.notice {
                notice.due_at = until;
                b.put_notice(&notice).await?;
            }
        }
        ExtensionKind::Preservation => {
            // A renewal of the hold to the date granted (cf. EU Reg. 2023/1543 art. 11(1),
            // confirmed: a preservation may be extended; UNCC art. 42: renewable).
            let mut hold = b
                .hold(case_id)
                .await?
                .ok_or_else(|| internal("the hold vanished"))?;
            hold.expires_at = until;
            hold.renewals += 1;
            emit(
                b,
                out,
                EventType::PreservationRenewed,
                now,
                Some(case_id),
                json!({
                    "expires_at": until.to_string(), "by": user.name, "extension": extension_id,
                }),
            )
            .await?;
            b.put_hold(&hold).await?;
        }
    }
    x.status = ExtensionStatus::Granted;
    x.decided_by = Some(user.name.clone());
    x.decided_at = Some(now);
    x.granted_until = Some(until);
    x.decision_reason = Some(reason.to_owned());
    b.put_extension(&x).await?;
    Ok(x)
}

/// Appends one event of a case and returns its log index.
async fn emit_returning(
    b: &mut Batch,
    out: &mut Appended,
    event_type: EventType,
    at: Timestamp,
    case_id: i64,
    body: serde_json::Value,
) -> Result<i64, Problem> {
    emit(b, out, event_type, at, Some(case_id), body).await?;
    let seq = out
        .last()
        .map(|e| e.seq)
        .ok_or_else(|| internal("no event"))?;
    i64::try_from(seq).map_err(internal)
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-extension", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Schemas of the store's vocabulary of extensions, which knows nothing of OpenAPI.
pub(crate) mod schema {
    use custos_store::{ExtensionKind, ExtensionStatus};
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

    /// `ExtensionKind`: its wire name.
    pub fn extension_kind() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ExtensionKind::ALL.map(ExtensionKind::as_str)))
            .build()
    }

    /// `ExtensionStatus`: its wire name.
    pub fn extension_status() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(
                [
                    ExtensionStatus::Pending,
                    ExtensionStatus::Granted,
                    ExtensionStatus::Refused,
                ]
                .map(ExtensionStatus::as_str),
            ))
            .build()
    }
}
