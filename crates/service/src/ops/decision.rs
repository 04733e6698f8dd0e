//! Decisions: a reviewer's decision on an assessed case, the second review of a decision that
//! needs one, and narrowing.
//!
//! Rules and their legal basis:
//! * a decision always carries a reason; one that departs from the assessment carries at least
//!   a sentence (safeguards.md, *Decisions*);
//! * four eyes wherever a safeguard is waived: executing (or executing narrowed) over a `refuse`
//!   or `needs_information` recommendation is a proposal until a second reviewer, a supervisor
//!   who is not the proposer, confirms it (safeguards.md 1.1, *Decisions*; UNCC art. 24 on
//!   conditions and safeguards);
//! * executing over `refer_for_review` needs a reason for each referred finding
//!   (`finding_reasons`; safeguards.md 1.1, *Decisions*);
//! * the reason (and a request for information's message, and an execution's conditions) is
//!   what the requester reads; the internal note is for staff only; what the requester is told
//!   is logged with the decision ([`super::reply`]; safeguards.md 1.1, *Decisions*);
//! * narrowing can only narrow (UNCC art. 24: proportionality);
//! * executing a preservation starts its hold (UNCC art. 42, at least 60 days; see
//!   [`super::lifecycle`]).

use super::Case;
use custos_model::EventType;
use custos_model::{DataCategories, Outcome, Period, Request, Severity, TargetValue};
use custos_store::{Batch, CaseStatus, Hold, Notice, Role, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

use super::conditions::{Condition, ConditionInput};
use super::lifecycle::LifecycleRules;
use super::reply::{Communicated, communicate};
use super::{Appended, days, emit, internal, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

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
    /// Whether it hands anything over: every execute-type decision. (Exhaustive, so a new kind
    /// must say; the emergency check of `decide` reads it.)
    pub fn executes(self) -> bool {
        match self {
            DecisionKind::Execute | DecisionKind::ExecuteNarrowed => true,
            DecisionKind::RequestInformation | DecisionKind::Refuse => false,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Execute => "execute",
            DecisionKind::ExecuteNarrowed => "execute_narrowed",
            DecisionKind::RequestInformation => "request_information",
            DecisionKind::Refuse => "refuse",
        }
    }

    fn follows(self, outcome: Outcome) -> bool {
        outcome
            == match self {
                DecisionKind::Execute => Outcome::Execute,
                DecisionKind::ExecuteNarrowed => Outcome::ExecuteNarrowed,
                DecisionKind::RequestInformation => Outcome::NeedsInformation,
                DecisionKind::Refuse => Outcome::Refuse,
            }
    }
}

/// The narrowed request a reviewer hands over (`execute_narrowed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrowedTerms {
    /// Data categories handed over (a subset of those asked).
    #[schema(schema_with = schema::data_categories)]
    pub data_categories: DataCategories,
    /// Period handed over (inside the one asked).
    #[schema(schema_with = schema::period_or_null)]
    #[serde(default, deserialize_with = "custos_model::strict::object_or_null")]
    pub period: Option<Period>,
    /// End of confidentiality (no later than asked).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidentiality_until: Option<Timestamp>,
    /// Execute in part: the target values produced, a non-empty subset of the request's
    /// targets, each once; absent, every target. Target identifiers are personal data: they
    /// stay in the case and its private events, never in logs, notices or public leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::targets)]
    pub targets: Option<Vec<TargetValue>>,
    /// Why each target is or is not produced (optional): target value → reason, each a target
    /// of the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(schema_with = schema::target_reasons)]
    pub target_reasons: BTreeMap<TargetValue, String>,
}

/// The narrowed terms as a reviewer sends them (`execute_narrowed`): every field is optional,
/// and an omitted field keeps what was asked. [`resolve_narrowing`] turns them into the
/// [`NarrowedTerms`] recorded, so the record always says what was decided.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrowedInput {
    /// Data categories handed over (a subset of those asked); absent or null: those asked.
    #[serde(default)]
    #[schema(schema_with = schema::data_categories_or_null)]
    pub data_categories: Option<DataCategories>,
    /// Period handed over (inside the one asked); absent or null: the period asked.
    #[schema(schema_with = schema::period_or_null)]
    #[serde(default, deserialize_with = "custos_model::strict::object_or_null")]
    pub period: Option<Period>,
    /// End of confidentiality (no later than asked). Absent: the end asked, as the profile's
    /// secrecy cap limits it (the assessment's proposal). `null`: no secrecy, the person
    /// concerned may be told at once (the notice falls due when the execution is recorded).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidentiality_until: Option<Option<Timestamp>>,
    /// Execute in part: the target values produced, a non-empty subset of the request's
    /// targets, each once; absent or null, every target.
    #[serde(default)]
    #[schema(schema_with = schema::targets)]
    pub targets: Option<Vec<TargetValue>>,
    /// Why each target is or is not produced (optional): target value → reason, each a target
    /// of the request.
    #[serde(default)]
    #[schema(schema_with = schema::target_reasons)]
    pub target_reasons: BTreeMap<TargetValue, String>,
}

/// A field that is present, even as `null` (`Some(None)`); absent is `None` by `default`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl From<NarrowedTerms> for NarrowedInput {
    /// Terms stated in full; a `None` end of confidentiality keeps the one asked.
    fn from(t: NarrowedTerms) -> Self {
        NarrowedInput {
            data_categories: Some(t.data_categories),
            period: t.period,
            confidentiality_until: t.confidentiality_until.map(Some),
            targets: t.targets,
            target_reasons: t.target_reasons,
        }
    }
}

/// The terms decided: each omitted field of `input` filled with what was asked (the end of
/// confidentiality as the assessment limits it), then checked by [`check_narrows`].
pub fn resolve_narrowing(
    request: &Request,
    case: &Case,
    input: &NarrowedInput,
    now: Timestamp,
) -> Result<NarrowedTerms, Problem> {
    let requested = request.confidentiality_requested();
    let asked = request.confidentiality_until();
    let confidentiality_until = match input.confidentiality_until {
        Some(Some(until)) => Some(until),
        // Secrecy lifted: it ends when decided (never later than asked).
        Some(None) => requested.then(|| asked.map_or(now, |a| a.min(now))),
        None => {
            let cap = case
                .assessment
                .narrowed
                .as_ref()
                .and_then(|n| n.confidentiality_until);
            match (asked, cap) {
                (Some(a), Some(c)) => Some(a.min(c)),
                (a, c) if requested => a.or(c),
                _ => None,
            }
        }
    };
    let terms = NarrowedTerms {
        data_categories: input.data_categories.unwrap_or(request.data_categories),
        period: input.period.or(request.period),
        confidentiality_until,
        targets: input.targets.clone(),
        target_reasons: input.target_reasons.clone(),
    };
    check_narrows(request, &terms)?;
    Ok(terms)
}

/// A reviewer's decision as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// What is decided.
    pub decision: DecisionKind,
    /// Why, in words the requester and an auditor can follow: the requester reads this in its
    /// reply (`custos.reply/v1`).
    #[schema(min_length = 1)]
    pub reason: String,
    /// Internal deliberation, for staff only: never in the requester's reply.
    #[serde(default)]
    pub internal_note: Option<String>,
    /// For `execute_narrowed`: what is handed over, each omitted field as asked; absent or
    /// null, the assessment's proposal.
    #[serde(default, deserialize_with = "custos_model::strict::object_or_null")]
    pub narrowed: Option<NarrowedInput>,
    /// For `request_information`: the message to the requester.
    #[serde(default)]
    pub message: Option<String>,
    /// For `execute` and `execute_narrowed`: conditions on the use of what is handed over, one
    /// per entry, typed (`kind`: `use_limitation`, `confidentiality`, `deletion_after`,
    /// `free_text`) or a plain string (free text). The requester reads them in its reply and must
    /// accept them by signature before any evidence is released.
    #[serde(default)]
    #[schema(schema_with = super::conditions::input_schema)]
    pub conditions: Vec<ConditionInput>,
    /// The assessment's findings (their codes) the decision rests on, e.g. the grounds of a
    /// refusal. Each must be a finding of the case's assessment.
    #[serde(default)]
    pub grounds: Vec<String>,
    /// Why each finding the assessment refers for review does not stand in the way: finding
    /// code → reason. Required, one non-blank reason per referred finding, when executing over
    /// a `refer_for_review` recommendation; otherwise optional. Every key must be a finding of
    /// severity `refer_for_review` of the case's assessment.
    #[serde(default)]
    pub finding_reasons: BTreeMap<String, String>,
}

/// A decision as recorded on the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedDecision {
    /// What was decided.
    pub decision: DecisionKind,
    /// Why, as written for the requester.
    pub reason: String,
    /// Internal deliberation (staff only; never in the requester's reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<String>,
    /// Who decided.
    pub reviewer: String,
    /// Who confirmed, for decisions needing a second reviewer.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    /// What is handed over, for `execute_narrowed`.
    #[serde(default)]
    pub narrowed: Option<NarrowedTerms>,
    /// Conditions on the use of what is handed over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Findings of the assessment the decision rests on (codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounds: Vec<String>,
    /// The reason given for each referred finding (finding code → reason).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub finding_reasons: BTreeMap<String, String>,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
}

/// A reason is "at least one sentence": several words ending in a full stop, question or
/// exclamation mark. Checked for decisions that depart from the assessment.
pub(super) fn is_sentence(reason: &str) -> bool {
    let t = reason.trim();
    t.split_whitespace().count() >= 4 && t.ends_with(['.', '!', '?'])
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
    super::withdrawal::refuse_if_withdrawn(&case, "a decision")?;
    if case.status == CaseStatus::AwaitingSecondReview {
        return Err(Problem::conflict(
            "awaiting-second-review",
            format!(
                "case {case_id} has a proposal waiting for a second reviewer; it must be confirmed or sent back before another decision"
            ),
        ));
    }
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
    // Before the four-eyes routing: not even a proposal to execute an unverified emergency.
    if input.decision.executes() {
        super::emergency::require_verified(b, &case).await?;
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(field("$.reason", "a decision needs a written reason"));
    }
    let departs = case.outcome != Outcome::ReferForReview && !input.decision.follows(case.outcome);
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
    let assessment = &case.assessment;
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
    let executes = matches!(
        input.decision,
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed
    );
    let finding_reasons = check_finding_reasons(
        &case,
        &input.finding_reasons,
        executes && case.outcome == Outcome::ReferForReview,
    )?;
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    let narrowed = match input.decision {
        DecisionKind::ExecuteNarrowed => {
            let terms = match &input.narrowed {
                Some(t) => resolve_narrowing(&request, &case, t, now)?,
                None => {
                    let t = proposed_narrowing(&case)?;
                    check_narrows(&request, &t)?;
                    t
                }
            };
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
    let executes = matches!(
        input.decision,
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed
    );
    let mut conditions = Vec::new();
    for (i, c) in input.conditions.iter().enumerate() {
        if !executes {
            return Err(field(
                "$.conditions",
                "conditions belong only to an execute or execute_narrowed decision",
            ));
        }
        // A plain string has no field to point into.
        let plain = matches!(c, ConditionInput::Text(_));
        let c = Condition::from(c.clone()).checked().map_err(|(at, what)| {
            let at = if plain { "" } else { at };
            let what = if plain {
                "a condition is blank"
            } else {
                what.as_str()
            };
            field(&format!("$.conditions[{i}]{at}"), what)
        })?;
        conditions.push(c);
    }
    let decision = RecordedDecision {
        decision: input.decision,
        reason: reason.to_owned(),
        internal_note: input
            .internal_note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        reviewer: user.name.clone(),
        confirmed_by: None,
        narrowed,
        conditions,
        grounds: input.grounds.clone(),
        finding_reasons,
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
                EventType::RequestInformationRequested,
                now,
                Some(case_id),
                json!({
                    "decision": decision_json, "message": message,
                }),
            )
            .await?;
            case.status = CaseStatus::AwaitingInformation;
            let told = Communicated::of(&decision, Some(message), now);
            communicate(b, out, case_id, case.status, &told).await?;
        }
        DecisionKind::Refuse => {
            emit(
                b,
                out,
                EventType::DecisionRecorded,
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            case.status = CaseStatus::Refused;
            let told = Communicated::of(&decision, None, now);
            communicate(b, out, case_id, case.status, &told).await?;
            case.decision = Some(decision);
        }
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed
            if waives_a_safeguard(case.outcome) =>
        {
            // Executing over a refusal or a request for information: a second reviewer must
            // confirm.
            emit(
                b,
                out,
                EventType::DecisionProposed,
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            case.status = CaseStatus::AwaitingSecondReview;
            case.pending_decision = Some(decision);
        }
        DecisionKind::Execute | DecisionKind::ExecuteNarrowed => {
            emit(
                b,
                out,
                EventType::DecisionRecorded,
                now,
                Some(case_id),
                json!({ "decision": decision_json }),
            )
            .await?;
            let told = Communicated::of(&decision, None, now);
            communicate(b, out, case_id, CaseStatus::Executing, &told).await?;
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
    super::withdrawal::refuse_if_withdrawn(&case, "a second review")?;
    let Some(mut decision) = case.pending_decision.clone() else {
        if let Some(pending) = case
            .reclassification
            .as_ref()
            .and_then(|r| r.pending.clone())
        {
            return super::reclassification::second_review(b, out, case, pending, user, input, now)
                .await;
        }
        return Err(Problem::conflict(
            "no-pending-decision",
            format!(
                "case {case_id} has no decision or reclassification waiting for a second reviewer"
            ),
        ));
    };
    check_second_reviewer(&decision.reviewer, user, reason, "decision")?;
    case.pending_decision = None;
    case.updated_at = now;
    if !confirm {
        emit(b, out, EventType::DecisionSecondReviewRejected, now, Some(case_id), json!({
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
        EventType::DecisionRecorded,
        now,
        Some(case_id),
        json!({
            "decision": decision_json, "second_review_reason": reason.trim(),
        }),
    )
    .await?;
    let told = Communicated::of(&decision, None, now);
    communicate(b, out, case_id, CaseStatus::Executing, &told).await?;
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    start_execution(b, out, rules, &mut case, &request, &decision, now).await?;
    b.put_case(&case).await?;
    Ok(case)
}

/// Whether an execution recorded at `at` tells the person concerned at once: a notice is owed
/// (`notify_person_at`) and no secrecy holds it back (`until`: the decision's end of
/// confidentiality, as `start_execution` reads it). The console warns before such a decision.
pub fn notifies_at_once(
    notify_person_at: Option<Timestamp>,
    until: Option<Timestamp>,
    at: Timestamp,
) -> bool {
    notify_person_at.is_some_and(|n| until.map_or(n, |u| u.max(at).min(n)) <= at)
}

/// Whether executing over `outcome` waives a safeguard, and so needs a second reviewer.
pub fn waives_a_safeguard(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Refuse | Outcome::NeedsInformation)
}

/// Four eyes: the second reviewer is not the proposer, and gives a reason (the role is checked
/// first, by the caller). `what` names what was proposed ("decision", "correction").
pub(super) fn check_second_reviewer(
    proposer: &str,
    user: &User,
    reason: &str,
    what: &str,
) -> Result<(), Problem> {
    if proposer == user.name {
        return Err(Problem::forbidden(
            "same-reviewer",
            format!(
                "{} proposed this {what}; a different supervisor must review it",
                user.name
            ),
        ));
    }
    if reason.trim().is_empty() {
        return Err(field("$.reason", "a second review needs a written reason"));
    }
    Ok(())
}

/// The codes of the findings `case`'s assessment refers for review.
pub fn referred_findings(case: &Case) -> Vec<&str> {
    case.assessment
        .findings
        .iter()
        .filter(|f| f.severity == Severity::ReferForReview)
        .map(|f| f.code.as_str())
        .collect()
}

/// Checks `finding_reasons`: every key a referred finding, every reason non-blank, and, when
/// `required`, one for each referred finding. Every problem is named with its pointer. Returns
/// the reasons trimmed.
fn check_finding_reasons(
    case: &Case,
    given: &BTreeMap<String, String>,
    required: bool,
) -> Result<BTreeMap<String, String>, Problem> {
    let referred = referred_findings(case);
    let mut errors = Vec::new();
    for (code, text) in given {
        let pointer = format!("$.finding_reasons.{code}");
        if !referred.contains(&code.as_str()) {
            errors.push(FieldProblem {
                pointer,
                detail: format!(
                    "{code:?} is not a finding this assessment refers for review (referred: {})",
                    if referred.is_empty() {
                        "none".to_owned()
                    } else {
                        referred.join(", ")
                    }
                ),
            });
        } else if text.trim().is_empty() {
            errors.push(FieldProblem {
                pointer,
                detail: format!("the reason for {code} is blank"),
            });
        }
    }
    if required {
        for code in &referred {
            if !given.contains_key(*code) {
                errors.push(FieldProblem {
                    pointer: format!("$.finding_reasons.{code}"),
                    detail: format!(
                        "executing over a referral needs a reason for each referred finding; {code} has none"
                    ),
                });
            }
        }
    }
    if errors.is_empty() {
        return Ok(given
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect());
    }
    let mut p = Problem::unprocessable(
        "invalid-decision",
        errors
            .iter()
            .map(|e| format!("{}: {}", e.pointer, e.detail))
            .collect::<Vec<_>>()
            .join("; "),
    );
    p.errors = errors;
    Err(p)
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
    case.decision = Some(decision.clone());
    // An emergency that waived prior authorization: the order is due from now.
    super::order::start_clock(b, out, rules, case, now).await?;
    if request.measure.is_preservation() {
        let expires_at = now + days(rules.preservation_days);
        emit(
            b,
            out,
            EventType::PreservationStarted,
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
        debug_assert_eq!(
            due_at <= now,
            notifies_at_once(
                Some(notify_at),
                decision
                    .narrowed
                    .as_ref()
                    .and_then(|n| n.confidentiality_until),
                now
            )
        );
        b.put_notice(&Notice {
            case_id: case.case_id,
            due_at,
            ended_at: None,
            sent_at: None,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
        })
        .await?;
    }
    Ok(())
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
    let assessment = &case.assessment;
    match assessment.narrowed {
        Some(n) => Ok(NarrowedTerms {
            data_categories: n.data_categories,
            period: n.period,
            confidentiality_until: n.confidentiality_until,
            targets: None,
            target_reasons: Default::default(),
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

/// Execute in part: the targets kept must be a non-empty subset of the request's, each once,
/// and every reason must concern a target of the request. Problems name the position, never the
/// identifier (personal data).
fn check_targets(request: &Request, terms: &NarrowedTerms) -> Result<(), Problem> {
    let asked = |v: &TargetValue| request.targets.iter().any(|t| &t.value == v);
    if let Some(kept) = &terms.targets {
        if kept.is_empty() {
            return Err(field(
                "$.narrowed.targets",
                "produce for at least one target, or refuse",
            ));
        }
        for (i, v) in kept.iter().enumerate() {
            if !asked(v) {
                return Err(field(
                    &format!("$.narrowed.targets[{i}]"),
                    "is not a target of the request; narrowing can only remove targets",
                ));
            }
            if kept[..i].contains(v) {
                return Err(field(
                    &format!("$.narrowed.targets[{i}]"),
                    "names a target a second time",
                ));
            }
        }
    }
    for (n, (v, reason)) in terms.target_reasons.iter().enumerate() {
        // Keys are identifiers: the pointer names the object and the detail the key's rank.
        if !asked(v) {
            return Err(field(
                "$.narrowed.target_reasons",
                &format!(
                    "key {} (in sorted order) is not a target of the request",
                    n + 1
                ),
            ));
        }
        if reason.trim().is_empty() {
            return Err(field(
                "$.narrowed.target_reasons",
                &format!("the reason of key {} (in sorted order) is blank", n + 1),
            ));
        }
    }
    Ok(())
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
    check_targets(request, terms)?;
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

/// Schemas of the custos-model types in [`NarrowedTerms`], which know nothing of OpenAPI.
pub(crate) mod schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder,
        SchemaFormat, SchemaType, Type,
    };

    fn date_time() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build()
    }

    /// `DataCategories`: a non-empty set of distinct categories.
    pub fn data_categories() -> Array {
        let category = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(custos_model::DataCategory::ALL.map(|c| c.as_str())));
        ArrayBuilder::new()
            .items(category)
            .min_items(Some(1))
            .max_items(Some(custos_model::DataCategory::ALL.len()))
            .unique_items(true)
            .build()
    }

    /// `Option<DataCategories>`: as [`data_categories`], or null.
    pub fn data_categories_or_null() -> Array {
        let mut a = data_categories();
        a.schema_type = SchemaType::Array(vec![Type::Array, Type::Null]);
        a
    }

    /// A target value: 1 to 512 characters.
    fn target_value() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(512))
    }

    /// `Option<Vec<TargetValue>>`: the target values produced, or null (every target).
    pub fn targets() -> Array {
        ArrayBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
            .items(target_value())
            .build()
    }

    /// `BTreeMap<TargetValue, String>`: target value → reason.
    pub fn target_reasons() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(target_value()))
            .additional_properties(Some(AdditionalProperties::RefOr(
                utoipa::openapi::Schema::Object(
                    ObjectBuilder::new().schema_type(Type::String).build(),
                )
                .into(),
            )))
            .build()
    }

    /// `Option<Period>`: `from` and `to` (RFC 3339), or null.
    pub fn period_or_null() -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
            .property("from", date_time())
            .property("to", date_time())
            .required("from")
            .required("to")
            .additional_properties(Some(
                AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(false),
            ))
            .build()
    }
}
