//! What the requesting authority is told (`custos.reply/v1`): its request's status in its own
//! words, the decision as communicated, and nothing of the deliberation behind it.
//!
//! Rules and their legal basis:
//! * the requester reads the decision and the reason written for it, never the findings, the
//!   recommendation or who decided (safeguards.md 1.1, *Decisions*): reviewers' identities are
//!   a safety matter and internal deliberation is not the requester's business;
//! * what was communicated is logged (`reply.communicated`) when a decision is recorded or
//!   information is asked for, so an auditor can compare the reply with the internal record
//!   (`replay.rs` does, for every reply).

use custos_model::EventType;
use custos_store::{Batch, CaseStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::decision::{DecisionKind, NarrowedTerms, RecordedDecision};
use super::{Appended, emit, internal};
use crate::problem::Problem;

/// The `format` of a reply.
pub const REPLY_FORMAT: &str = "custos.reply/v1";

/// Where a request stands, as its requester is told. A decision waiting for a second reviewer
/// reads as `under_review`: that one is needed would tell the requester the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// Received and being reviewed; no decision yet.
    UnderReview,
    /// More information was asked for (see the decision's `message`); answer by sending the
    /// request again under the same id.
    AwaitingInformation,
    /// Granted (in full or narrowed); being executed.
    Executing,
    /// Granted and handed over.
    Delivered,
    /// Refused.
    Refused,
    /// Closed.
    Closed,
    /// Withdrawn by the requester; nothing more is done but closing it.
    Withdrawn,
    /// The decision is postponed until a date, for the reason given (see `postponement`).
    Postponed,
    /// The node asks the requester's view before deciding (see `consultation`): answer with a
    /// signed message, or a signed supplement under the same id, by the date given.
    InConsultation,
}

impl ReplyStatus {
    /// The status a case's requester is told.
    pub fn of(status: CaseStatus) -> ReplyStatus {
        match status {
            CaseStatus::Assessed | CaseStatus::AwaitingSecondReview => ReplyStatus::UnderReview,
            CaseStatus::AwaitingInformation => ReplyStatus::AwaitingInformation,
            CaseStatus::Executing => ReplyStatus::Executing,
            CaseStatus::Delivered => ReplyStatus::Delivered,
            CaseStatus::Refused => ReplyStatus::Refused,
            CaseStatus::Closed => ReplyStatus::Closed,
            CaseStatus::Withdrawn => ReplyStatus::Withdrawn,
            CaseStatus::Postponed => ReplyStatus::Postponed,
            CaseStatus::InConsultation => ReplyStatus::InConsultation,
        }
    }

    /// Whether the requester has been told a decision (or asked for information) in this state.
    pub fn has_decision(self) -> bool {
        // Postponed and withdrawn cases carry no decision (an earlier request for information
        // was answered before they could be postponed, or lapses with the withdrawal).
        !matches!(
            self,
            ReplyStatus::UnderReview
                | ReplyStatus::Postponed
                | ReplyStatus::Withdrawn
                | ReplyStatus::InConsultation
        )
    }
}

/// A decision as the requesting authority reads it: what was decided and the words written for
/// it. Never the grounds (finding codes), the internal note, or who decided or confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Communicated {
    /// What was decided.
    pub decision: DecisionKind,
    /// Why, as written for the requester.
    pub reason: String,
    /// For `request_information`: what the requester is asked to supply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `execute_narrowed`: what is handed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over: Option<NarrowedTerms>,
    /// Conditions on the use of what is handed over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<super::conditions::Condition>,
    /// A ground of the node's own for a refusal the requester is told, never an assessment's
    /// finding: today only `emergency-verification-failed` (its authority denied the emergency
    /// request, by a confirmed call-back or a signed denial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground: Option<String>,
    /// When it was communicated.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl Communicated {
    /// What the requester is told of `decision` (with the `message` of a request for
    /// information), communicated at `at`.
    pub fn of(decision: &RecordedDecision, message: Option<&str>, at: Timestamp) -> Communicated {
        Communicated {
            decision: decision.decision,
            reason: decision.reason.clone(),
            message: message.map(str::to_owned),
            handed_over: decision.narrowed.clone(),
            conditions: decision.conditions.clone(),
            ground: None,
            at,
        }
    }
}

/// Logs what the requester of `case_id` is now told (`reply.communicated`): the status it reads
/// and the decision as communicated. Called in the job that records the decision.
pub(super) async fn communicate(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    status: CaseStatus,
    communicated: &Communicated,
) -> Result<(), Problem> {
    emit(
        b,
        out,
        EventType::ReplyCommunicated,
        communicated.at,
        Some(case_id),
        json!({
            "status": ReplyStatus::of(status),
            "communicated": serde_json::to_value(communicated).map_err(internal)?,
        }),
    )
    .await
}

/// Whether the requester sees events of this kind in its case's timeline (type and time only).
/// The deliberation (assessments, proposals, second reviews, the decision record with its
/// reviewers) is for staff; the requester sees its own submissions, what it was told, and what
/// was done for it. A kind added later stays hidden until it is named here.
pub fn requester_sees(kind: EventType) -> bool {
    matches!(
        kind,
        EventType::RequestReceived
            | EventType::RequestSupplemented
            // Its own confirmation of an emergency.
            | EventType::EmergencyConfirmed
            // Its own signed denial; the call-backs are staff's deliberation (who called whom).
            | EventType::EmergencyDenied
            | EventType::ReplyCommunicated
            | EventType::PreservationStarted
            | EventType::PreservationRenewed
            | EventType::PreservationReleased
            | EventType::PreservationFollowed
            | EventType::PreservationLapseWarned
            | EventType::ConfidentialityEnded
            | EventType::RequestDelivered
            | EventType::RequestClosed
            | EventType::RequestWithdrawn
            | EventType::ConfidentialityLimited
            | EventType::RequestPostponed
            | EventType::RequestResumed
            | EventType::ConsultationOpened
            | EventType::ConsultationAnswered
            | EventType::ConsultationLapsed
            | EventType::EvidenceSealed
            | EventType::EvidenceDelivered
            | EventType::EvidenceDestroyed
            | EventType::ConditionsAccepted
            | EventType::ConditionsDeclined
            | EventType::OrderDue
            | EventType::OrderReceived
            | EventType::OrderMissed
            | EventType::DeletionRequested
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_review_reads_as_under_review() {
        assert_eq!(
            ReplyStatus::of(CaseStatus::AwaitingSecondReview),
            ReplyStatus::of(CaseStatus::Assessed)
        );
        assert!(!ReplyStatus::of(CaseStatus::AwaitingSecondReview).has_decision());
        assert!(ReplyStatus::of(CaseStatus::AwaitingInformation).has_decision());
    }

    #[test]
    fn the_requester_sees_no_deliberation_in_its_timeline() {
        for kind in [
            EventType::RequestAssessed,
            EventType::DecisionProposed,
            EventType::DecisionSecondReviewRejected,
            EventType::DecisionRecorded,
            EventType::RequestInformationRequested,
            EventType::AuthorityAdded,
            EventType::UserAdded,
        ] {
            assert!(!requester_sees(kind), "{kind}");
        }
        assert!(requester_sees(EventType::ReplyCommunicated));
    }
}
