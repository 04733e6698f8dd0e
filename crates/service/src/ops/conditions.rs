//! Execution on conditions: the typed conditions a reviewer attaches to an execution, and the
//! requesting authority's signed answer to them.
//!
//! Rules and their legal basis:
//! * a requested party may grant assistance subject to conditions, among them confidentiality
//!   and use limitation (specialty) (UNCC art. 40, paragraph numbering unconfirmed; its model,
//!   Budapest art. 28(2), confirmed: `legal-research.md` §1.11.4);
//! * no evidence is released before the requesting authority has accepted the conditions, by a
//!   signature of its key over their digest (`conditions.accepted`); it may decline them, with a
//!   reason (`conditions.declined`), and may still accept later;
//! * the digest is the hex SHA-256 of the RFC 8785 JSON of the conditions exactly as its reply
//!   shows them ([`conditions_sha256`]), so the authority signs what it read.

use custos_model::EventType;
use custos_store::{Authority, Batch, CaseStatus, Store};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Appended, Case, emit, internal};
use crate::problem::{FieldProblem, Problem};

/// A condition on the use of what is handed over. Recorded and shown typed; a plain string
/// (as decisions carried before conditions were typed) reads as `free_text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[serde(from = "ConditionInput")]
pub enum Condition {
    /// Specialty: the evidence may be used only for these purposes or proceedings.
    UseLimitation {
        /// The purposes or proceedings, in words.
        purposes: String,
    },
    /// The evidence and the request are kept confidential (optionally, how).
    Confidentiality {
        /// What confidentiality means here, if more than the word.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The evidence is deleted this many days after it is handed over.
    DeletionAfter {
        /// Days after the hand-over (1 to 36,500).
        #[schema(minimum = 1, maximum = 36500)]
        days: u32,
    },
    /// Any other condition, in words.
    FreeText {
        /// The condition.
        text: String,
    },
}

/// The typed form of a condition, as a decision may send it (its OpenAPI schema:
/// [`input_schema`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TypedCondition {
    /// Specialty: the purposes or proceedings the evidence may be used for.
    UseLimitation {
        /// The purposes or proceedings.
        purposes: String,
    },
    /// Confidentiality.
    Confidentiality {
        /// What it means here, if more than the word.
        #[serde(default)]
        text: Option<String>,
    },
    /// Deletion after N days from the hand-over.
    DeletionAfter {
        /// Days (1 to 36,500).
        #[serde(deserialize_with = "whole_number")]
        days: u32,
    },
    /// Any other condition.
    FreeText {
        /// The condition.
        text: String,
    },
}

/// A whole number, also when JSON writes it with a fraction of zero (`180.0`): JSON Schema
/// calls that an integer, and the API's description says integer.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(serde::de::Error::custom(format!(
            "{n} is not a whole number of days"
        )));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(n as u32)
}

/// A condition as a decision sends it: typed, or a plain string (read as `free_text`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConditionInput {
    /// A plain string: a free-text condition.
    Text(String),
    /// A typed condition.
    Typed(TypedCondition),
}

/// The schema of `DecisionInput.conditions`: each a plain string or a typed condition with
/// exactly its fields (the node refuses others, as it refuses unknown fields everywhere).
pub(crate) fn input_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type,
    };
    fn text() -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::String)
    }
    fn variant(kind: &str, about: &str, fields: Vec<(&str, ObjectBuilder, bool)>) -> ObjectBuilder {
        let mut b = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(about))
            .property("kind", text().enum_values(Some([kind])))
            .required("kind")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (name, schema, required) in fields {
            b = b.property(name, schema);
            if required {
                b = b.required(name);
            }
        }
        b
    }
    let one = OneOfBuilder::new()
        .item(text().description(Some("A free-text condition")))
        .item(variant(
            "use_limitation",
            "Specialty: the purposes or proceedings the evidence may be used for",
            vec![("purposes", text(), true)],
        ))
        .item(variant(
            "confidentiality",
            "Keep the evidence and the request confidential",
            vec![("text", text(), false)],
        ))
        .item(variant(
            "deletion_after",
            "Delete the evidence this many days after the hand-over",
            vec![(
                "days",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(36_500)),
                true,
            )],
        ))
        .item(variant(
            "free_text",
            "Any other condition",
            vec![("text", text(), true)],
        ));
    ArrayBuilder::new().items(one).build()
}

impl From<&str> for ConditionInput {
    fn from(text: &str) -> ConditionInput {
        ConditionInput::Text(text.to_owned())
    }
}

impl From<ConditionInput> for Condition {
    fn from(c: ConditionInput) -> Condition {
        match c {
            ConditionInput::Text(text) => Condition::FreeText { text },
            ConditionInput::Typed(t) => match t {
                TypedCondition::UseLimitation { purposes } => Condition::UseLimitation { purposes },
                TypedCondition::Confidentiality { text } => Condition::Confidentiality { text },
                TypedCondition::DeletionAfter { days } => Condition::DeletionAfter { days },
                TypedCondition::FreeText { text } => Condition::FreeText { text },
            },
        }
    }
}

impl Condition {
    /// The condition trimmed, or what is wrong with it (the field, relative to the condition's path).
    pub fn checked(self) -> Result<Condition, (&'static str, String)> {
        fn words(field: &'static str, s: String) -> Result<String, (&'static str, String)> {
            let t = s.trim();
            if t.is_empty() {
                return Err((field, "is blank".into()));
            }
            Ok(t.to_owned())
        }
        Ok(match self {
            Condition::UseLimitation { purposes } => Condition::UseLimitation {
                purposes: words(".purposes", purposes)?,
            },
            Condition::Confidentiality { text } => Condition::Confidentiality {
                text: text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
            },
            Condition::DeletionAfter { days } => {
                if !(1..=36_500).contains(&days) {
                    return Err((".days", format!("{days} is not between 1 and 36500")));
                }
                Condition::DeletionAfter { days }
            }
            Condition::FreeText { text } => Condition::FreeText {
                text: words(".text", text)?,
            },
        })
    }

    /// The condition in one line of words (console, CLI).
    pub fn describe(&self) -> String {
        match self {
            Condition::UseLimitation { purposes } => format!("use only for: {purposes}"),
            Condition::Confidentiality { text: None } => "keep confidential".into(),
            Condition::Confidentiality { text: Some(t) } => format!("keep confidential: {t}"),
            Condition::DeletionAfter { days } => {
                format!("delete {days} days after the hand-over")
            }
            Condition::FreeText { text } => text.clone(),
        }
    }
}

/// Hex SHA-256 of the RFC 8785 JSON of `conditions` as the reply shows them: what the
/// requesting authority signs when it accepts or declines.
pub fn conditions_sha256(conditions: &[Condition]) -> Result<String, Problem> {
    let value = serde_json::to_value(conditions).map_err(internal)?;
    let canonical = custos_ledger::commitment::canonicalize(&value)
        .map_err(|e| Problem::internal(format!("conditions cannot be canonicalized: {e}")))?;
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

/// The requesting authority's answer to the conditions: the payload of its signed
/// `POST /v1/requests/{case}/conditions/acceptance`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceInput {
    /// The requester's id of the request (as in the reply).
    pub request_id: String,
    /// Hex SHA-256 of the RFC 8785 JSON of the conditions as the reply shows them
    /// (`decision.conditions`; the reply's `conditions.sha256`).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub conditions_sha256: String,
    /// `accept` (the default) or `decline`.
    #[serde(default)]
    pub answer: AcceptanceAnswer,
    /// Why, when declining (required then).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Accept or decline the conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceAnswer {
    /// The authority accepts the conditions: evidence may be released.
    #[default]
    Accept,
    /// The authority declines them: nothing is released.
    Decline,
}

/// Where the conditions of an execution stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceState {
    /// Not answered yet: nothing is released.
    Pending,
    /// Accepted by the authority's signature.
    Accepted,
    /// Declined (the authority may still accept).
    Declined,
}

/// The conditions of an executed case and their acceptance, as the reply and staff read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConditionsStatus {
    /// Hex SHA-256 of the RFC 8785 JSON of the decision's `conditions` (what to sign).
    pub sha256: String,
    /// Where they stand.
    pub state: AcceptanceState,
    /// When answered.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<Timestamp>,
    /// The reason given, when declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Under a `deletion_after` condition, once evidence was handed over: the date by which
    /// the requester is to delete it (the first hand-over plus the days; the shortest such
    /// condition). The node states the date; it cannot enforce deletion at the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delete_by: Option<Timestamp>,
}

/// Reads a conditions event's answer from its kind and body.
fn answered(
    kind: EventType,
    at: Timestamp,
    body: &str,
    sha256: String,
) -> Result<ConditionsStatus, Problem> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(internal)?;
    Ok(ConditionsStatus {
        sha256,
        state: if kind == EventType::ConditionsAccepted {
            AcceptanceState::Accepted
        } else {
            AcceptanceState::Declined
        },
        answered_at: Some(at),
        reason: v["reason"].as_str().map(str::to_owned),
        delete_by: None,
    })
}

/// The date to delete by under the shortest `deletion_after` of `conditions`: `handed_over`
/// (the first `evidence.delivered`) plus its days; `None` without either.
pub fn delete_by(conditions: &[Condition], handed_over: Option<Timestamp>) -> Option<Timestamp> {
    let days = conditions
        .iter()
        .filter_map(|c| match c {
            Condition::DeletionAfter { days } => Some(*days),
            _ => None,
        })
        .min()?;
    handed_over?
        .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
        .ok()
}

/// The acceptance state of the conditions of `case` as the log has it, or `None` when its
/// decision sets none.
pub async fn status_of(store: &Store, case: &Case) -> Result<Option<ConditionsStatus>, Problem> {
    let Some(d) = case.decision.as_ref().filter(|d| !d.conditions.is_empty()) else {
        return Ok(None);
    };
    let sha256 = conditions_sha256(&d.conditions)?;
    let events = store.case_events(case.case_id).await?;
    let handed_over = events
        .iter()
        .find(|e| e.kind() == Some(EventType::EvidenceDelivered))
        .map(|e| e.at);
    let delete_by = delete_by(&d.conditions, handed_over);
    // Acceptance is final: no decline follows it (refused by `answer_conditions`).
    for kind in [EventType::ConditionsAccepted, EventType::ConditionsDeclined] {
        if let Some(e) = events.iter().rev().find(|e| e.kind() == Some(kind)) {
            let status = answered(kind, e.at, &e.body, sha256)?;
            return Ok(Some(ConditionsStatus {
                delete_by,
                ..status
            }));
        }
    }
    Ok(Some(ConditionsStatus {
        sha256,
        state: AcceptanceState::Pending,
        answered_at: None,
        reason: None,
        delete_by,
    }))
}

/// Refuses a release of evidence of `case` while its conditions are not accepted (409,
/// `conditions-not-accepted`, naming the digest to sign and where).
pub async fn require_accepted(b: &mut Batch, case: &Case) -> Result<(), Problem> {
    let Some(d) = case.decision.as_ref().filter(|d| !d.conditions.is_empty()) else {
        return Ok(());
    };
    if b.latest_case_event(case.case_id, EventType::ConditionsAccepted)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let sha = conditions_sha256(&d.conditions)?;
    Err(Problem::conflict(
        "conditions-not-accepted",
        format!(
            "case {} was executed on conditions that the requesting authority has not accepted; nothing is released before it signs their acceptance (POST /v1/requests/{}/conditions/acceptance with conditions_sha256 {sha})",
            case.case_id, case.case_id
        ),
    ))
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-acceptance", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// The requesting authority accepts or declines the conditions of its executed case
/// (`conditions.accepted` / `conditions.declined`). `authority` is the caller as the log has it
/// now.
pub async fn answer_conditions(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    authority: &Authority,
    input: &AcceptanceInput,
    now: Timestamp,
) -> Result<ConditionsStatus, Problem> {
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
    if input.request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "{:?} is not the request of case {case_id} ({:?})",
                input.request_id, case.request_id
            ),
        ));
    }
    if !matches!(case.status, CaseStatus::Executing | CaseStatus::Delivered) {
        return Err(Problem::conflict(
            "not-executing",
            format!(
                "case {case_id} is {}; conditions are answered only on an executed case",
                case.status.as_str()
            ),
        ));
    }
    let Some(conditions) = case
        .decision
        .as_ref()
        .map(|d| &d.conditions)
        .filter(|c| !c.is_empty())
    else {
        return Err(Problem::conflict(
            "no-conditions",
            format!("case {case_id} was executed without conditions; there is nothing to accept"),
        ));
    };
    let sha = conditions_sha256(conditions)?;
    if input.conditions_sha256 != sha {
        return Err(field(
            "$.conditions_sha256",
            &format!(
                "{} is not the digest of the conditions of case {case_id} as its reply shows them ({sha}); read the reply again and sign what it shows",
                input.conditions_sha256
            ),
        ));
    }
    if let Some(e) = b
        .latest_case_event(case_id, EventType::ConditionsAccepted)
        .await?
    {
        return Err(Problem::conflict(
            "conditions-already-accepted",
            format!(
                "the conditions of case {case_id} were accepted on {}; an acceptance is final",
                e.at
            ),
        ));
    }
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let kind = match input.answer {
        AcceptanceAnswer::Accept => EventType::ConditionsAccepted,
        AcceptanceAnswer::Decline => {
            if reason.is_none() {
                return Err(field(
                    "$.reason",
                    "declining the conditions needs a reason the reviewers can read",
                ));
            }
            EventType::ConditionsDeclined
        }
    };
    let mut body = json!({
        "request_id": case.request_id, "conditions_sha256": sha, "by": authority.kid,
    });
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    emit(b, out, kind, now, Some(case_id), body).await?;
    Ok(ConditionsStatus {
        sha256: sha,
        state: if kind == EventType::ConditionsAccepted {
            AcceptanceState::Accepted
        } else {
            AcceptanceState::Declined
        },
        answered_at: Some(now),
        reason: reason.map(str::to_owned),
        // Acceptance comes before any hand-over: no date to delete by yet.
        delete_by: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_to_delete_by_is_the_first_hand_over_plus_the_shortest_deletion() {
        let at: Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
        let day = jiff::SignedDuration::from_hours(24);
        let conditions = [
            Condition::DeletionAfter { days: 90 },
            Condition::Confidentiality { text: None },
            Condition::DeletionAfter { days: 30 },
        ];
        assert_eq!(delete_by(&conditions, Some(at)), Some(at + day * 30));
        assert_eq!(
            delete_by(&conditions, None),
            None,
            "nothing handed over yet"
        );
        assert_eq!(
            delete_by(&[Condition::Confidentiality { text: None }], Some(at)),
            None
        );
    }
}
