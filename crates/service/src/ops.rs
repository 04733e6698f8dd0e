//! The node's state changes, each one an event appended to the log together with the change to
//! the projections it causes. Every function here runs inside one [`Batch`] (one job of a group
//! commit, or one CLI command) and either appends its events and updates the projections, or
//! fails with a [`Problem`] and changes nothing.
//!
//! Rules and their legal basis:
//! * a decision always carries a reason; one that departs from the assessment carries at least
//!   a sentence, and executing over a `refuse` recommendation needs a second reviewer with the
//!   supervisor role (safeguards.md, *Decisions*; UNCC art. 24 on conditions and safeguards);
//! * narrowing can only narrow (UNCC art. 24: proportionality);
//! * preservation holds last `preservation_days` and are renewable (UNCC art. 42, at least 60
//!   days);
//! * once confidentiality ends the person concerned is due a notice, when the profile says so
//!   (rights-first; the Convention itself has no notice duty).

use custos_jose::PublicJwk;
use custos_ledger::Hash;
use custos_model::{DataCategories, Period, Request};

use custos_safeguards::Assessment;
use custos_store::{
    Authority, Batch, Case, CaseStatus, Hold, NewEvent, Notice, Role, StoredEvent, User,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::problem::{FieldProblem, Problem};

/// Events appended by one job, in order.
pub type Appended = Vec<StoredEvent>;

async fn emit(
    b: &mut Batch,
    out: &mut Appended,
    event_type: &str,
    at: Timestamp,
    case_id: Option<i64>,
    body: serde_json::Value,
) -> Result<(), Problem> {
    let ev = b
        .append(&NewEvent {
            event_type: event_type.into(),
            at,
            case_id,
            body,
        })
        .await?;
    out.push(ev);
    Ok(())
}

/// A request whose signature, sender and content were checked, ready to be recorded.
#[derive(Debug)]
pub struct Submission {
    /// The sender (as in the directory when the signature was checked).
    pub authority: Authority,
    /// The parsed request.
    pub request: Request,
    /// SHA-256 of the signed payload.
    pub payload_sha256: Hash,
    /// The payload as signed (the request document).
    pub payload: String,
    /// The compact JWS as received (kept so anyone can re-verify it later).
    pub jws: String,
    /// The assessment made on arrival.
    pub assessment: Assessment,
    /// Arrival time.
    pub received_at: Timestamp,
}

/// What intake did with a submission.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// A new case.
    Created(Case),
    /// The same payload again: nothing new, the existing case.
    Repeated(Case),
    /// A supplement to a case awaiting information: re-assessed.
    Supplemented(Case),
}

/// Records a submission: `request.received` + `request.assessed`, or, for a case awaiting
/// information, `request.supplemented` + `request.assessed`. Idempotent on (authority, id).
///
/// `current` is the sender's directory entry as the log has it now: the directory may have
/// changed since the signature was checked (a revocation by another process), and the writer
/// passes what it knows under the write lock.
pub async fn submit(
    b: &mut Batch,
    out: &mut Appended,
    s: &Submission,
    current: Option<&Authority>,
) -> Result<SubmitOutcome, Problem> {
    match current {
        None => {
            return Err(Problem::unauthorized(
                "unknown-key",
                format!(
                    "the key {} is not in this node's directory of authorities",
                    s.authority.kid
                ),
            ));
        }
        Some(a) if a.revoked_at.is_some() => return Err(revoked_problem(a)),
        Some(_) => {}
    }
    let request_id = s.request.id.as_str();
    let now = s.received_at;
    let assessment_json = serde_json::to_value(&s.assessment).map_err(internal)?;
    if let Some(mut case) = b.find_case(&s.authority.kid, request_id).await? {
        if case.payload_sha256 == s.payload_sha256 {
            return Ok(SubmitOutcome::Repeated(case));
        }
        if case.status != CaseStatus::AwaitingInformation {
            return Err(Problem::conflict(
                "request-id-reused",
                format!(
                    "request {request_id:?} was already received from this authority (case {}) with a different content; \
                     a request can be changed only while the node awaits information on it. Use a new id for a new request.",
                    case.case_id
                ),
            ));
        }
        record_arrival(
            b,
            out,
            "request.supplemented",
            case.case_id,
            s,
            assessment_json,
        )
        .await?;
        fill_case(&mut case, s, now);
        case.status = CaseStatus::Assessed;
        b.put_case(&case).await?;
        return Ok(SubmitOutcome::Supplemented(case));
    }
    let case_id = b.next_case_id().await?;
    let mut case = Case {
        case_id,
        authority_kid: s.authority.kid.clone(),
        request_id: request_id.to_owned(),
        payload_sha256: s.payload_sha256,
        request_json: String::new(),
        status: CaseStatus::Assessed,
        outcome: String::new(),
        assessment: String::new(),
        measure: String::new(),
        requesting_state: String::new(),
        channel: String::new(),
        emergency: false,
        received_at: now,
        respond_by: now,
        confidentiality_until: None,
        notify_person_at: None,
        decision: None,
        pending_decision: None,
        updated_at: now,
    };
    fill_case(&mut case, s, now);
    // The case row goes first: events reference it.
    b.put_case(&case).await?;
    record_arrival(b, out, "request.received", case_id, s, assessment_json).await?;
    Ok(SubmitOutcome::Created(case))
}

/// The two events of an arrival: the signed request as received (or supplemented), then its
/// assessment.
async fn record_arrival(
    b: &mut Batch,
    out: &mut Appended,
    event_type: &str,
    case_id: i64,
    s: &Submission,
    assessment: serde_json::Value,
) -> Result<(), Problem> {
    let received = json!({
        "authority": s.authority.kid,
        "request_id": s.request.id.as_str(),
        "payload_sha256": s.payload_sha256.to_hex(),
        "jws": s.jws,
    });
    emit(b, out, event_type, s.received_at, Some(case_id), received).await?;
    emit(
        b,
        out,
        "request.assessed",
        s.received_at,
        Some(case_id),
        json!({ "assessment": assessment }),
    )
    .await
}

fn fill_case(case: &mut Case, s: &Submission, now: Timestamp) {
    let r = &s.request;
    case.payload_sha256 = s.payload_sha256;
    case.request_json = s.payload.clone();
    case.outcome = s.assessment.outcome.as_str().to_owned();
    case.assessment = serde_json::to_string(&s.assessment).unwrap_or_default();
    case.measure = r.measure.as_str().to_owned();
    case.requesting_state = r.requesting_authority.state.as_str().to_owned();
    case.channel = r.channel.as_str().to_owned();
    case.emergency = r.emergency.as_ref().is_some_and(|e| e.claimed);
    case.respond_by = s.assessment.deadlines.respond_by;
    case.confidentiality_until = r.confidentiality.as_ref().and_then(|c| c.until);
    case.notify_person_at = s.assessment.deadlines.notify_person_at;
    case.updated_at = now;
}

fn internal(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "internal error");
    Problem::internal("the node could not record this; nothing was changed")
}

/// The problem for a revoked key.
pub fn revoked_problem(a: &Authority) -> Problem {
    Problem::forbidden(
        "revoked-key",
        format!(
            "the key {} of {} ({}) was revoked on {}{}; requests signed with it are refused. \
             Ask the node's operator to register the authority's new key.",
            a.kid,
            a.name,
            a.state,
            a.revoked_at.map(|t| t.to_string()).unwrap_or_default(),
            a.revoke_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    )
}

/// What a reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Hand over what was asked.
    Execute,
    /// Hand over less than was asked.
    ExecuteNarrowed,
    /// Ask the requester for more information.
    RequestInformation,
    /// Refuse.
    Refuse,
}

impl DecisionKind {
    fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Execute => "execute",
            DecisionKind::ExecuteNarrowed => "execute_narrowed",
            DecisionKind::RequestInformation => "request_information",
            DecisionKind::Refuse => "refuse",
        }
    }

    fn follows(self, outcome: &str) -> bool {
        match self {
            DecisionKind::Execute => outcome == "execute",
            DecisionKind::ExecuteNarrowed => outcome == "execute_narrowed",
            DecisionKind::RequestInformation => outcome == "needs_information",
            DecisionKind::Refuse => outcome == "refuse",
        }
    }
}

/// The narrowed request a reviewer hands over (`execute_narrowed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrowedTerms {
    /// Data categories handed over (a subset of those asked).
    #[schema(schema_with = crate::http::schema::data_categories)]
    pub data_categories: DataCategories,
    /// Period handed over (inside the one asked).
    #[schema(schema_with = crate::http::schema::period_or_null)]
    #[serde(default, deserialize_with = "custos_model::strict::object_or_null")]
    pub period: Option<Period>,
    /// End of confidentiality (no later than asked).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidentiality_until: Option<Timestamp>,
}

/// A reviewer's decision as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// What is decided.
    pub decision: DecisionKind,
    /// Why, in words the requester and an auditor can follow.
    #[schema(min_length = 1)]
    pub reason: String,
    /// For `execute_narrowed`: what is handed over; defaults to the assessment's proposal.
    #[serde(default, deserialize_with = "custos_model::strict::object_or_null")]
    pub narrowed: Option<NarrowedTerms>,
    /// For `request_information`: the message to the requester.
    #[serde(default)]
    pub message: Option<String>,
    /// The assessment's findings (their codes) the decision rests on, e.g. the grounds of a
    /// refusal. Each must be a finding of the case's assessment.
    #[serde(default)]
    pub grounds: Vec<String>,
}

/// A decision as recorded on the case.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedDecision {
    /// What was decided.
    pub decision: DecisionKind,
    /// Why.
    pub reason: String,
    /// Who decided.
    pub reviewer: String,
    /// Who confirmed, for decisions needing a second reviewer.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    /// What is handed over, for `execute_narrowed`.
    #[serde(default)]
    pub narrowed: Option<NarrowedTerms>,
    /// Findings of the assessment the decision rests on (codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounds: Vec<String>,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
}

/// Settings the lifecycle needs.
#[derive(Debug, Clone)]
pub struct LifecycleRules {
    /// Length of a preservation hold and of each renewal.
    pub preservation_days: u32,
}

pub(crate) fn require_role(user: &User, min: Role, what: &str) -> Result<(), Problem> {
    if user.role == Role::Auditor {
        return Err(Problem::forbidden(
            "read-only",
            format!(
                "{} is an auditor: auditors read everything and change nothing ({what} refused)",
                user.name
            ),
        ));
    }
    if user.role < min {
        return Err(Problem::forbidden(
            "role",
            format!(
                "{what} needs the {} role; {} is {}",
                min.as_str(),
                user.name,
                user.role.as_str()
            ),
        ));
    }
    Ok(())
}

/// A reason is "at least one sentence": several words ending in a full stop, question or
/// exclamation mark. Checked for decisions that depart from the assessment.
fn is_sentence(reason: &str) -> bool {
    let t = reason.trim();
    t.split_whitespace().count() >= 4 && t.ends_with(['.', '!', '?'])
}

async fn load_case(b: &mut Batch, case_id: i64) -> Result<Case, Problem> {
    b.case(case_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no case {case_id} on this node")))
}

/// Records a reviewer's decision.
pub async fn decide(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    user: &User,
    input: &DecisionInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    require_role(user, Role::Reviewer, "recording a decision")?;
    let mut case = load_case(b, case_id).await?;
    if !matches!(
        case.status,
        CaseStatus::Assessed | CaseStatus::AwaitingInformation
    ) {
        return Err(Problem::conflict(
            "already-decided",
            format!(
                "case {case_id} is {}; a decision can be recorded only on an assessed case",
                case.status.as_str()
            ),
        ));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(field("$.reason", "a decision needs a written reason"));
    }
    let departs = case.outcome != "refer_for_review" && !input.decision.follows(&case.outcome);
    if departs && !is_sentence(reason) {
        return Err(field(
            "$.reason",
            &format!(
                "this decision ({}) departs from the assessment ({}); its reason must be at least one full sentence",
                input.decision.as_str(),
                case.outcome
            ),
        ));
    }
    let assessment: Assessment = serde_json::from_str(&case.assessment).map_err(internal)?;
    for (i, ground) in input.grounds.iter().enumerate() {
        if !assessment.findings.iter().any(|f| &f.code == ground) {
            return Err(field(
                &format!("$.grounds[{i}]"),
                &format!(
                    "{ground:?} is not a finding of this case's assessment (its findings: {})",
                    assessment
                        .findings
                        .iter()
                        .map(|f| f.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    let narrowed = match input.decision {
        DecisionKind::ExecuteNarrowed => {
            let terms = match &input.narrowed {
                Some(t) => t.clone(),
                None => proposed_narrowing(&case)?,
            };
            check_narrows(&request, &terms)?;
            Some(terms)
        }
        _ if input.narrowed.is_some() => {
            return Err(field(
                "$.narrowed",
                "narrowed terms belong only to an execute_narrowed decision",
            ));
        }
        _ => None,
    };
    let decision = RecordedDecision {
        decision: input.decision,
        reason: reason.to_owned(),
        reviewer: user.name.clone(),
        confirmed_by: None,
        narrowed,
        grounds: input.grounds.clone(),
        at: now,
    };
    let decision_json = serde_json::to_value(&decision).map_err(internal)?;
    match input.decision {
        DecisionKind::RequestInformation => {
            let message = input.message.as_deref().map(str::trim).unwrap_or("");
            if message.is_empty() {
                return Err(field(
                    "$.message",
                    "asking for information needs a message to the requester",
                ));
            }
            emit(
                b,
                out,
                "request.information_requested",
                now,
                Some(case_id),
                json!({
                    "decision": decision_json, "message": message,
                }),
            )
            .await?;
            case.status = CaseStatus::AwaitingInformation;
        }
        DecisionKind::Refuse => {
            emit(
                b,
                out,
                "decision.recorded",
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            case.status = CaseStatus::Refused;
            case.decision = Some(decision_json.to_string());
        }
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed if case.outcome == "refuse" => {
            // Executing over a refusal recommendation: a second reviewer must confirm.
            emit(
                b,
                out,
                "decision.proposed",
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            case.status = CaseStatus::AwaitingSecondReview;
            case.pending_decision = Some(decision_json.to_string());
        }
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed => {
            emit(
                b,
                out,
                "decision.recorded",
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            start_execution(b, out, rules, &mut case, &request, &decision, now).await?;
        }
    }
    case.updated_at = now;
    b.put_case(&case).await?;
    Ok(case)
}

/// A second reviewer's confirmation or rejection.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondReviewInput {
    /// Confirm the pending decision (true) or send the case back for review (false).
    pub confirm: bool,
    /// Why.
    pub reason: String,
}

/// A supervisor other than the proposer confirms (or rejects) a decision that needs a second
/// reviewer.
pub async fn second_review(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case_id: i64,
    user: &User,
    input: &SecondReviewInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let (confirm, reason) = (input.confirm, input.reason.as_str());
    require_role(user, Role::Supervisor, "a second review")?;
    let mut case = load_case(b, case_id).await?;
    let Some(pending) = case.pending_decision.clone() else {
        return Err(Problem::conflict(
            "no-pending-decision",
            format!("case {case_id} has no decision waiting for a second reviewer"),
        ));
    };
    let mut decision: RecordedDecision = serde_json::from_str(&pending).map_err(internal)?;
    if decision.reviewer == user.name {
        return Err(Problem::forbidden(
            "same-reviewer",
            format!(
                "{} proposed this decision; a different supervisor must review it",
                user.name
            ),
        ));
    }
    if reason.trim().is_empty() {
        return Err(field("$.reason", "a second review needs a written reason"));
    }
    case.pending_decision = None;
    case.updated_at = now;
    if !confirm {
        emit(b, out, "decision.second_review_rejected", now, Some(case_id), json!({
            "reviewer": user.name, "reason": reason.trim(), "proposed": serde_json::to_value(&decision).map_err(internal)?,
        }))
        .await?;
        case.status = CaseStatus::Assessed;
        b.put_case(&case).await?;
        return Ok(case);
    }
    decision.confirmed_by = Some(user.name.clone());
    let decision_json = serde_json::to_value(&decision).map_err(internal)?;
    emit(
        b,
        out,
        "decision.recorded",
        now,
        Some(case_id),
        json!({
            "decision": decision_json, "second_review_reason": reason.trim(),
        }),
    )
    .await?;
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    start_execution(b, out, rules, &mut case, &request, &decision, now).await?;
    b.put_case(&case).await?;
    Ok(case)
}

async fn start_execution(
    b: &mut Batch,
    out: &mut Appended,
    rules: &LifecycleRules,
    case: &mut Case,
    request: &Request,
    decision: &RecordedDecision,
    now: Timestamp,
) -> Result<(), Problem> {
    case.status = CaseStatus::Executing;
    case.decision = Some(serde_json::to_string(decision).map_err(internal)?);
    if request.measure.is_preservation() {
        let expires_at = now + days(rules.preservation_days);
        emit(
            b,
            out,
            "preservation.started",
            now,
            Some(case.case_id),
            json!({
                "expires_at": expires_at.to_string(),
            }),
        )
        .await?;
        b.put_hold(&Hold {
            case_id: case.case_id,
            started_at: now,
            expires_at,
            renewals: 0,
            released_at: None,
        })
        .await?;
    }
    if let Some(notify_at) = case.notify_person_at {
        // Secrecy narrowed by the reviewer ends the wait for the notice earlier.
        let due_at = match decision
            .narrowed
            .as_ref()
            .and_then(|n| n.confidentiality_until)
        {
            Some(until) => until.max(now).min(notify_at),
            None => notify_at,
        };
        b.put_notice(&Notice {
            case_id: case.case_id,
            due_at,
            ended_at: None,
            sent_at: None,
            attempts: 0,
            last_error: None,
        })
        .await?;
    }
    Ok(())
}

fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(24 * i64::from(n))
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-decision", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

fn proposed_narrowing(case: &Case) -> Result<NarrowedTerms, Problem> {
    let assessment: Assessment = serde_json::from_str(&case.assessment).map_err(internal)?;
    match assessment.narrowed {
        Some(n) => Ok(NarrowedTerms {
            data_categories: n.data_categories,
            period: n.period,
            confidentiality_until: n.confidentiality_until,
        }),
        None => Err(field(
            "$.narrowed",
            &format!(
                "the assessment proposes no narrowing (outcome {}); state what is handed over",
                assessment.outcome.as_str()
            ),
        )),
    }
}

/// Refuses terms that would hand over more than was asked.
pub fn check_narrows(request: &Request, terms: &NarrowedTerms) -> Result<(), Problem> {
    if terms.data_categories.is_empty() {
        return Err(field(
            "$.narrowed.data_categories",
            "hand over at least one data category, or refuse",
        ));
    }
    if !terms.data_categories.is_subset(request.data_categories) {
        let extra = terms.data_categories.difference(request.data_categories);
        return Err(field(
            "$.narrowed.data_categories",
            &format!("{extra} was not asked for; narrowing can only remove categories"),
        ));
    }
    if let Some(p) = &terms.period {
        if p.from > p.to {
            return Err(field("$.narrowed.period", "from is after to"));
        }
        if let Some(asked) = &request.period
            && (p.from < asked.from || p.to > asked.to)
        {
            return Err(field(
                "$.narrowed.period",
                &format!(
                    "{} .. {} reaches outside the period asked ({} .. {})",
                    p.from, p.to, asked.from, asked.to
                ),
            ));
        }
    } else if request.period.is_some() {
        return Err(field(
            "$.narrowed.period",
            "the request names a period; the narrowed terms must too",
        ));
    }
    let asked_until = request
        .confidentiality
        .as_ref()
        .filter(|c| c.requested)
        .and_then(|c| c.until);
    match (terms.confidentiality_until, asked_until) {
        (Some(n), Some(a)) if n > a => Err(field(
            "$.narrowed.confidentiality_until",
            &format!(
                "{n} is later than the end of confidentiality asked ({a}); secrecy can only be shortened"
            ),
        )),
        (Some(_), None)
            if !request
                .confidentiality
                .as_ref()
                .is_some_and(|c| c.requested) =>
        {
            Err(field(
                "$.narrowed.confidentiality_until",
                "the request asks no confidentiality; none can be imposed",
            ))
        }
        _ => Ok(()),
    }
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
        "preservation.renewed",
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
    let (allowed, event) = match to {
        CaseStatus::Delivered => (case.status == CaseStatus::Executing, "request.delivered"),
        CaseStatus::Closed => (
            matches!(
                case.status,
                CaseStatus::Executing | CaseStatus::Delivered | CaseStatus::Refused
            ),
            "request.closed",
        ),
        _ => (false, ""),
    };
    if !allowed {
        return Err(Problem::conflict(
            "invalid-transition",
            format!(
                "case {case_id} is {}; it cannot become {}",
                case.status.as_str(),
                to.as_str()
            ),
        ));
    }
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
            "preservation.released",
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
                "confidentiality.ended",
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
            .case(notice.case_id)
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
                "notice.sent",
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

/// A new directory entry, as given by the operator.
#[derive(Debug, Clone)]
pub struct NewAuthority {
    /// State code.
    pub state: String,
    /// Name.
    pub name: String,
    /// Kind (request-format authority kinds).
    pub kind: String,
    /// Allowed channels.
    pub channels: Vec<String>,
    /// Its public key.
    pub jwk: PublicJwk,
    /// Its age recipient, if any.
    pub age_recipient: Option<String>,
}

/// Adds an authority to the directory (`authority.added`).
pub async fn add_authority(
    b: &mut Batch,
    out: &mut Appended,
    a: &NewAuthority,
    now: Timestamp,
) -> Result<Authority, Problem> {
    let kid = a.jwk.thumbprint();
    if let Some(existing) = b.authority(&kid).await? {
        return Err(Problem::conflict(
            "key-registered",
            format!(
                "the key {kid} is already registered, for {} ({}){}; one key belongs to one authority",
                existing.name,
                existing.state,
                if existing.revoked_at.is_some() {
                    ", and was revoked: a revoked key cannot return"
                } else {
                    ""
                }
            ),
        ));
    }
    let authority = Authority {
        kid: kid.clone(),
        state: a.state.clone(),
        name: a.name.clone(),
        kind: a.kind.clone(),
        channels: a.channels.clone(),
        jwk: a.jwk.to_json(),
        age_recipient: a.age_recipient.clone(),
        added_at: now,
        revoked_at: None,
        revoke_reason: None,
    };
    b.insert_authority(&authority).await?;
    emit(
        b,
        out,
        "authority.added",
        now,
        None,
        json!({
            "kid": kid, "state": a.state, "name": a.name, "kind": a.kind,
            "channels": a.channels, "jwk": serde_json::to_value(&a.jwk).map_err(internal)?,
            "age_recipient": a.age_recipient,
        }),
    )
    .await?;
    Ok(authority)
}

/// Revokes an authority's key (`authority.revoked`).
pub async fn revoke_authority(
    b: &mut Batch,
    out: &mut Appended,
    kid: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Authority, Problem> {
    let Some(a) = b.authority(kid).await? else {
        return Err(Problem::not_found(format!(
            "no authority with key {kid}; `custos authority list` shows them"
        )));
    };
    if a.revoked_at.is_some() {
        return Err(Problem::conflict(
            "already-revoked",
            format!("the key {kid} was already revoked"),
        ));
    }
    b.revoke_authority(kid, now, reason).await?;
    emit(
        b,
        out,
        "authority.revoked",
        now,
        None,
        json!({ "kid": kid, "reason": reason }),
    )
    .await?;
    Ok(b.authority(kid).await?.unwrap_or(a))
}

/// Adds a user (`user.added`; the token's hash stays out of the log).
pub async fn add_user(b: &mut Batch, out: &mut Appended, user: &User) -> Result<(), Problem> {
    if b.user(&user.name).await?.is_some() {
        return Err(Problem::conflict(
            "user-exists",
            format!("there is already a user {}", user.name),
        ));
    }
    b.insert_user(user).await?;
    emit(
        b,
        out,
        "user.added",
        user.added_at,
        None,
        json!({ "name": user.name, "role": user.role.as_str() }),
    )
    .await?;
    Ok(())
}

/// Sets a user's console password (its Argon2id hash). The event names the user, never the hash.
pub async fn set_password(
    b: &mut Batch,
    out: &mut Appended,
    name: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), Problem> {
    if b.user(name).await?.is_none() {
        return Err(Problem::not_found(format!(
            "there is no user {name}; add it first (`custos user add`)"
        )));
    }
    b.set_password_hash(name, password_hash).await?;
    emit(
        b,
        out,
        "user.password_set",
        now,
        None,
        json!({ "name": name }),
    )
    .await
}
