//! Reclassification: a reviewer corrects an offence's category or maximum penalty, and the node
//! assesses the request again on the corrected facts, with its own assessor (the same profile and
//! jurisdiction) and as of the time of the assessment it corrects, so that only the corrected
//! facts change and no deadline moves.
//!
//! Rules and their legal basis:
//! * the category and the maximum penalty are the requester's classification, and reviewers may
//!   correct it (request-format.md, *Offence*): dual criminality turns on the conduct, whatever
//!   its label (Budapest Convention art. 25(5); the wording of UNCC art. 35 is unconfirmed), and
//!   critics warn of conduct labelled "serious" under vague laws (legal-research.md §1.9);
//! * a correction names the offence by its index, changes its category or its penalty, and
//!   gives a reason of at least one sentence, like any departure from what was assessed
//!   (safeguards.md, *Decisions*);
//! * both assessments are kept: the new one is logged with the correction
//!   (`request.reclassified`), the case keeps the assessment of the requester's own
//!   classification beside the corrections in force;
//! * a correction that makes the recommendation less severe (a refusal turned into an
//!   execution, and any other lightening) waives a safeguard, so it needs a second reviewer: a
//!   supervisor who is not the proposer, as for decisions (safeguards.md 1.1, *Decisions*; UNCC
//!   art. 24 on conditions and safeguards).
//!
//! A supplement replaces the request document; the corrections of the old document lapse with it
//! (the log keeps them) and the new one is assessed as its requester classified it.

use std::collections::BTreeSet;

use custos_model::{EventType, MaxPenalty, OffenceCategory, Outcome, Request};
use custos_safeguards::{Assessment, Assessor};
use custos_store::{Batch, CaseStatus, Role, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::decision::{SecondReviewInput, check_second_reviewer, is_sentence};
use super::{Appended, Case, emit, internal, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// The two facts of an offence a reviewer may correct.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// The offence's category (request-format.md, *Offence*).
    #[schema(schema_with = schema::offence_category)]
    pub category: OffenceCategory,
    /// The statutory maximum penalty: years, `"life"` or `"death"`.
    #[schema(schema_with = schema::max_penalty)]
    pub max_penalty: MaxPenalty,
}

/// One offence's correction, as a reviewer submits it: the offence by its index, and the new
/// category, the new maximum penalty, or both.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffenceCorrection {
    /// Which offence: its index in the request's `investigation.offences`, from 0.
    #[schema(minimum = 0)]
    #[serde(deserialize_with = "whole_number")]
    pub index: usize,
    /// The corrected category.
    #[serde(default)]
    #[schema(schema_with = schema::offence_category_or_null)]
    pub category: Option<OffenceCategory>,
    /// The corrected statutory maximum penalty.
    #[serde(default)]
    #[schema(schema_with = schema::max_penalty_or_null)]
    pub max_penalty: Option<MaxPenalty>,
}

/// A whole number ≥ 0, also when written as a number with a zero fraction (`2.0`), as JSON
/// Schema's `integer` allows; one too large for an index becomes `usize::MAX` (no such offence).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(u) = n.as_u64() {
        return Ok(usize::try_from(u).unwrap_or(usize::MAX));
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(if f < usize::MAX as f64 {
            f as usize
        } else {
            usize::MAX
        }),
        _ => Err(serde::de::Error::custom(format_args!(
            "{n} is not an offence's index (a whole number from 0)"
        ))),
    }
}

/// A reclassification as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReclassificationInput {
    /// The corrections, at least one, each offence at most once.
    #[schema(min_items = 1)]
    pub offences: Vec<OffenceCorrection>,
    /// Why the requester's classification is wrong: at least one full sentence.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// One offence as it was classified and as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CorrectedOffence {
    /// Its index in the request's `investigation.offences`.
    pub index: usize,
    /// Its name in the requester's law.
    pub name: String,
    /// The classification before this correction.
    pub from: Classification,
    /// The classification after it.
    pub to: Classification,
}

/// A correction as recorded: in force, or proposed and waiting for a second reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedReclassification {
    /// The offences it corrects.
    pub offences: Vec<CorrectedOffence>,
    /// Why.
    pub reason: String,
    /// Who corrected.
    pub reviewer: String,
    /// Who confirmed, for a correction that needed a second reviewer.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    /// The recommendation before the correction.
    #[schema(schema_with = schema::outcome)]
    pub outcome_before: Outcome,
    /// The recommendation on the corrected facts.
    #[schema(schema_with = schema::outcome)]
    pub outcome_after: Outcome,
    /// When it was proposed or recorded.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A correction waiting for a second reviewer, with the assessment it would bring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingReclassification {
    /// The proposed correction.
    pub reclassification: RecordedReclassification,
    /// The assessment on the corrected facts.
    #[schema(schema_with = schema::assessment)]
    pub assessment: Assessment,
}

/// A case's reclassification: the assessment of the requester's own classification, the
/// corrections in force (oldest first), and a correction waiting for a second reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseReclassification {
    /// The assessment of the request as its requester classified it.
    #[schema(schema_with = schema::assessment)]
    pub original: Assessment,
    /// The corrections in force, oldest first; the case's assessment rests on all of them.
    pub corrections: Vec<RecordedReclassification>,
    /// A correction waiting for a second reviewer.
    #[serde(default)]
    pub pending: Option<PendingReclassification>,
}

impl CaseReclassification {
    /// The classification of each offence of `request` with the corrections in force applied.
    pub fn classification(&self, request: &Request) -> Vec<Classification> {
        corrected(request, &self.corrections)
    }
}

/// Each offence's classification after `corrections` (in order).
pub fn corrected(
    request: &Request,
    corrections: &[RecordedReclassification],
) -> Vec<Classification> {
    let mut out: Vec<Classification> = request
        .investigation
        .offences
        .iter()
        .map(|o| Classification {
            category: o.category,
            max_penalty: o.max_penalty,
        })
        .collect();
    for c in corrections {
        for o in &c.offences {
            if let Some(slot) = out.get_mut(o.index) {
                *slot = o.to;
            }
        }
    }
    out
}

/// How severe a recommendation is, least first; a correction that lowers it waives a safeguard.
pub fn severity_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Execute => 0,
        Outcome::ExecuteNarrowed => 1,
        Outcome::ReferForReview => 2,
        Outcome::NeedsInformation => 3,
        Outcome::Refuse => 4,
    }
}

/// Whether a correction from `before` to `after` needs a second reviewer: it makes the
/// recommendation less severe.
pub fn needs_second_reviewer(before: Outcome, after: Outcome) -> bool {
    severity_rank(after) < severity_rank(before)
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-reclassification", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Records a reviewer's correction of a case's offences: at once, or as a proposal for a second
/// reviewer when it lightens the recommendation.
pub async fn reclassify(
    b: &mut Batch,
    out: &mut Appended,
    assessor: &Assessor,
    case_id: i64,
    user: &User,
    input: &ReclassificationInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    require_role(user, Role::Reviewer, "a reclassification")?;
    let mut case = load_case(b, case_id).await?;
    super::withdrawal::refuse_if_withdrawn(&case, "a reclassification")?;
    match case.status {
        CaseStatus::Assessed | CaseStatus::AwaitingInformation => {}
        CaseStatus::AwaitingSecondReview => {
            return Err(Problem::conflict(
                "awaiting-second-review",
                format!(
                    "case {case_id} has a proposal waiting for a second reviewer; it must be confirmed or sent back before the offences are corrected"
                ),
            ));
        }
        other => {
            return Err(Problem::conflict(
                "already-decided",
                format!(
                    "case {case_id} is {}; offences can be corrected only before a decision",
                    other.as_str()
                ),
            ));
        }
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(field(
            "$.reason",
            "a reclassification needs a written reason",
        ));
    }
    if !is_sentence(reason) {
        return Err(field(
            "$.reason",
            "a reclassification departs from the requester's own classification; its reason must be at least one full sentence",
        ));
    }
    if input.offences.is_empty() {
        return Err(field(
            "$.offences",
            "name at least one offence to correct, by its index",
        ));
    }
    let request: Request = serde_json::from_str(&case.request_json).map_err(internal)?;
    let in_force = case
        .reclassification
        .as_ref()
        .map(|r| r.corrections.as_slice())
        .unwrap_or_default();
    let current = corrected(&request, in_force);
    let mut seen = BTreeSet::new();
    let mut offences = Vec::with_capacity(input.offences.len());
    for (i, c) in input.offences.iter().enumerate() {
        let Some(from) = current.get(c.index).copied() else {
            return Err(field(
                &format!("$.offences[{i}].index"),
                &format!(
                    "the request has {} offence(s), numbered from 0; there is no offence {}",
                    current.len(),
                    c.index
                ),
            ));
        };
        if !seen.insert(c.index) {
            return Err(field(
                &format!("$.offences[{i}].index"),
                &format!("offence {} is corrected twice", c.index),
            ));
        }
        if c.category.is_none() && c.max_penalty.is_none() {
            return Err(field(
                &format!("$.offences[{i}]"),
                "give the corrected category, the corrected max_penalty, or both",
            ));
        }
        let to = Classification {
            category: c.category.unwrap_or(from.category),
            max_penalty: c.max_penalty.unwrap_or(from.max_penalty),
        };
        if to == from {
            return Err(field(
                &format!("$.offences[{i}]"),
                &format!(
                    "offence {} is already classified as {}, {}; a correction must change something",
                    c.index, from.category, from.max_penalty
                ),
            ));
        }
        offences.push(CorrectedOffence {
            index: c.index,
            name: request.investigation.offences[c.index]
                .name
                .as_str()
                .to_owned(),
            from,
            to,
        });
    }
    let mut facts = request.clone();
    for (o, class) in facts.investigation.offences.iter_mut().zip(&current) {
        o.category = class.category;
        o.max_penalty = class.max_penalty;
    }
    for c in &offences {
        let o = &mut facts.investigation.offences[c.index];
        o.category = c.to.category;
        o.max_penalty = c.to.max_penalty;
    }
    // As of the assessment it corrects: only the corrected facts change, no deadline moves.
    let assessment = assessor
        .assess(&facts, case.assessment.assessed_at)
        .map_err(|e| {
            tracing::error!(error = %e, "re-assessment failed");
            Problem::internal(
                "the safeguards engine failed on the corrected facts (fail closed); nothing was recorded",
            )
        })?;
    let record = RecordedReclassification {
        offences,
        reason: reason.to_owned(),
        reviewer: user.name.clone(),
        confirmed_by: None,
        outcome_before: case.outcome,
        outcome_after: assessment.outcome,
        at: now,
    };
    let body = json!({
        "reclassification": serde_json::to_value(&record).map_err(internal)?,
        "assessment": serde_json::to_value(&assessment).map_err(internal)?,
    });
    if needs_second_reviewer(record.outcome_before, record.outcome_after) {
        emit(
            b,
            out,
            EventType::RequestReclassificationProposed,
            now,
            Some(case_id),
            body,
        )
        .await?;
        let original = case.assessment.clone();
        case.reclassification
            .get_or_insert_with(|| CaseReclassification {
                original,
                corrections: vec![],
                pending: None,
            })
            .pending = Some(PendingReclassification {
            reclassification: record,
            assessment,
        });
        case.status = CaseStatus::AwaitingSecondReview;
        case.updated_at = now;
    } else {
        emit(
            b,
            out,
            EventType::RequestReclassified,
            now,
            Some(case_id),
            body,
        )
        .await?;
        apply(&mut case, record, assessment, now);
    }
    b.put_case(&case).await?;
    Ok(case)
}

/// A correction in force: the case rests on the new assessment and awaits a decision on it.
fn apply(
    case: &mut Case,
    record: RecordedReclassification,
    assessment: Assessment,
    now: Timestamp,
) {
    let original = case.assessment.clone();
    let r = case
        .reclassification
        .get_or_insert_with(|| CaseReclassification {
            original,
            corrections: vec![],
            pending: None,
        });
    r.corrections.push(record);
    r.pending = None;
    case.outcome = assessment.outcome;
    case.respond_by = assessment.deadlines.respond_by;
    case.notify_person_at = assessment.deadlines.notify_person_at;
    case.assessment = assessment;
    case.status = CaseStatus::Assessed;
    case.updated_at = now;
}

/// The second review of a proposed correction (called by [`super::second_review`] when the case
/// has no pending decision but a pending correction): the same rule as for decisions.
pub(super) async fn second_review(
    b: &mut Batch,
    out: &mut Appended,
    mut case: Case,
    pending: PendingReclassification,
    user: &User,
    input: &SecondReviewInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let (confirm, reason) = (input.confirm, input.reason.as_str());
    let PendingReclassification {
        reclassification: mut record,
        assessment,
    } = pending;
    check_second_reviewer(&record.reviewer, user, reason, "correction")?;
    let reason = reason.trim();
    let case_id = case.case_id;
    if !confirm {
        emit(
            b,
            out,
            EventType::RequestReclassificationRejected,
            now,
            Some(case_id),
            json!({
                "reviewer": user.name, "reason": reason,
                "proposed": serde_json::to_value(&record).map_err(internal)?,
            }),
        )
        .await?;
        if let Some(r) = case.reclassification.as_mut() {
            r.pending = None;
        }
        case.status = CaseStatus::Assessed;
        case.updated_at = now;
        b.put_case(&case).await?;
        return Ok(case);
    }
    record.confirmed_by = Some(user.name.clone());
    emit(
        b,
        out,
        EventType::RequestReclassified,
        now,
        Some(case_id),
        json!({
            "reclassification": serde_json::to_value(&record).map_err(internal)?,
            "assessment": serde_json::to_value(&assessment).map_err(internal)?,
            "second_review_reason": reason,
        }),
    )
    .await?;
    apply(&mut case, record, assessment, now);
    b.put_case(&case).await?;
    Ok(case)
}

/// Schemas of the custos-model and custos-safeguards types above, which know no OpenAPI.
pub(crate) mod schema {
    use custos_model::OffenceCategory;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::{Ref, RefOr};

    fn category_names() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(OffenceCategory::ALL.map(|c| c.as_str())))
    }

    /// `OffenceCategory`: its wire names.
    pub fn offence_category() -> RefOr<Schema> {
        category_names()
            .description(Some("The offence's category (request-format.md, Offence)."))
            .into()
    }

    /// `Option<OffenceCategory>`.
    pub fn offence_category_or_null() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(category_names())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some("The corrected category, or null to keep it."))
            .into()
    }

    fn penalty() -> OneOfBuilder {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["life", "death"])),
            )
    }

    /// `MaxPenalty`: years (a number ≥ 0), `"life"` or `"death"`.
    pub fn max_penalty() -> RefOr<Schema> {
        penalty()
            .description(Some(
                "The statutory maximum penalty: years (≥ 0), \"life\" or \"death\".",
            ))
            .into()
    }

    /// `Option<MaxPenalty>`.
    pub fn max_penalty_or_null() -> RefOr<Schema> {
        penalty()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "The corrected maximum penalty (years ≥ 0, \"life\" or \"death\"), or null to keep it.",
            ))
            .into()
    }

    /// `Outcome`: its wire names.
    pub fn outcome() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(custos_model::Outcome::ALL.iter().map(|o| o.as_str())))
            .description(Some("A recommendation of the assessment."))
            .into()
    }

    /// `custos.assessment/v1`, described once in `wire::schema` under this name.
    pub fn assessment() -> RefOr<Schema> {
        RefOr::Ref(Ref::from_schema_name("Assessment"))
    }
}
