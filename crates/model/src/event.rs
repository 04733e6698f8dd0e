//! The kinds of event a node's log records. The wire names (`request.received`, …) are part of
//! every event's body and of its public leaf, so they never change; this enum is the one list of
//! them, and code matches on it instead of on strings.

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// One kind of event in the log.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    strum::Display,
    VariantArray,
)]
pub enum EventType {
    // The directory: who may sign requests, and the node's users.
    #[serde(rename = "authority.added")]
    #[strum(serialize = "authority.added")]
    AuthorityAdded,
    #[serde(rename = "authority.revoked")]
    #[strum(serialize = "authority.revoked")]
    AuthorityRevoked,
    /// A confirmation key of an authority (e.g. its duty supervisor's): it may confirm the
    /// authority's emergency requests, never sign one.
    #[serde(rename = "authority.confirmation_key_added")]
    #[strum(serialize = "authority.confirmation_key_added")]
    AuthorityConfirmationKeyAdded,
    /// An authority's call-back contact (e.g. its duty office and phone), set or changed by the
    /// operator: the only number a reviewer calls to verify an emergency, never one from a request.
    #[serde(rename = "authority.contact_set")]
    #[strum(serialize = "authority.contact_set")]
    AuthorityContactSet,
    #[serde(rename = "user.added")]
    #[strum(serialize = "user.added")]
    UserAdded,
    #[serde(rename = "user.password_set")]
    #[strum(serialize = "user.password_set")]
    UserPasswordSet,
    // A request's way through the node.
    #[serde(rename = "request.received")]
    #[strum(serialize = "request.received")]
    RequestReceived,
    #[serde(rename = "request.assessed")]
    #[strum(serialize = "request.assessed")]
    RequestAssessed,
    #[serde(rename = "request.information_requested")]
    #[strum(serialize = "request.information_requested")]
    RequestInformationRequested,
    #[serde(rename = "request.supplemented")]
    #[strum(serialize = "request.supplemented")]
    RequestSupplemented,
    #[serde(rename = "request.reclassification_proposed")]
    #[strum(serialize = "request.reclassification_proposed")]
    RequestReclassificationProposed,
    #[serde(rename = "request.reclassification_rejected")]
    #[strum(serialize = "request.reclassification_rejected")]
    RequestReclassificationRejected,
    #[serde(rename = "request.reclassified")]
    #[strum(serialize = "request.reclassified")]
    RequestReclassified,
    #[serde(rename = "decision.proposed")]
    #[strum(serialize = "decision.proposed")]
    DecisionProposed,
    #[serde(rename = "decision.second_review_rejected")]
    #[strum(serialize = "decision.second_review_rejected")]
    DecisionSecondReviewRejected,
    #[serde(rename = "decision.recorded")]
    #[strum(serialize = "decision.recorded")]
    DecisionRecorded,
    /// What the requesting authority was told: the decision as its reply carries it (the
    /// reason and message written for it, what is handed over, the conditions), never the
    /// findings, the recommendation or who decided.
    #[serde(rename = "reply.communicated")]
    #[strum(serialize = "reply.communicated")]
    ReplyCommunicated,
    #[serde(rename = "preservation.started")]
    #[strum(serialize = "preservation.started")]
    PreservationStarted,
    #[serde(rename = "preservation.renewed")]
    #[strum(serialize = "preservation.renewed")]
    PreservationRenewed,
    #[serde(rename = "preservation.released")]
    #[strum(serialize = "preservation.released")]
    PreservationReleased,
    /// A follow-up request was linked to the preservation request it names in `follows`
    /// (logged on the follow-up's case, with the arrival).
    #[serde(rename = "preservation.followed")]
    #[strum(serialize = "preservation.followed")]
    PreservationFollowed,
    /// The requester was warned that its hold lapses soon (the scheduler, once per end date).
    #[serde(rename = "preservation.lapse_warned")]
    #[strum(serialize = "preservation.lapse_warned")]
    PreservationLapseWarned,
    #[serde(rename = "confidentiality.ended")]
    #[strum(serialize = "confidentiality.ended")]
    ConfidentialityEnded,
    #[serde(rename = "notice.sent")]
    #[strum(serialize = "notice.sent")]
    NoticeSent,
    #[serde(rename = "notice.failed")]
    #[strum(serialize = "notice.failed")]
    NoticeFailed,
    /// A reviewer deferred the notice to the person concerned, with a reason, to a date within
    /// the profile's cap on secrecy.
    #[serde(rename = "notice.deferred")]
    #[strum(serialize = "notice.deferred")]
    NoticeDeferred,
    // Deadlines a requester asked to move, and the reviewer's answer.
    #[serde(rename = "extension.requested")]
    #[strum(serialize = "extension.requested")]
    ExtensionRequested,
    #[serde(rename = "extension.granted")]
    #[strum(serialize = "extension.granted")]
    ExtensionGranted,
    #[serde(rename = "extension.refused")]
    #[strum(serialize = "extension.refused")]
    ExtensionRefused,
    /// A reviewer postponed the decision, with a reason and a date.
    #[serde(rename = "request.postponed")]
    #[strum(serialize = "request.postponed")]
    RequestPostponed,
    /// The postponement's date passed: the case awaits a decision again (the scheduler).
    #[serde(rename = "request.resumed")]
    #[strum(serialize = "request.resumed")]
    RequestResumed,
    /// A reviewer consulted the requester (a message and a date to answer by) before refusing
    /// or granting on conditions.
    #[serde(rename = "consultation.opened")]
    #[strum(serialize = "consultation.opened")]
    ConsultationOpened,
    /// The requester answered a consultation with a signed message.
    #[serde(rename = "consultation.answered")]
    #[strum(serialize = "consultation.answered")]
    ConsultationAnswered,
    /// The date to answer a consultation by passed without an answer (the scheduler).
    #[serde(rename = "consultation.lapsed")]
    #[strum(serialize = "consultation.lapsed")]
    ConsultationLapsed,
    /// The requester was told, before anything is executed, that its secrecy cannot be
    /// honoured in full (the assessment limited the confidentiality it asked).
    #[serde(rename = "confidentiality.limited")]
    #[strum(serialize = "confidentiality.limited")]
    ConfidentialityLimited,
    /// The requesting authority withdrew its request (signed), before execution.
    #[serde(rename = "request.withdrawn")]
    #[strum(serialize = "request.withdrawn")]
    RequestWithdrawn,
    // The requesting authority's answer to the conditions of an execution.
    #[serde(rename = "conditions.accepted")]
    #[strum(serialize = "conditions.accepted")]
    ConditionsAccepted,
    #[serde(rename = "conditions.declined")]
    #[strum(serialize = "conditions.declined")]
    ConditionsDeclined,
    /// An emergency request confirmed by a confirmation key of its authority (issue 13: every
    /// emergency verified twice before anything is handed over).
    #[serde(rename = "emergency.confirmed")]
    #[strum(serialize = "emergency.confirmed")]
    EmergencyConfirmed,
    /// A reviewer's record of a call to the authority's registered contact: who was reached and
    /// the outcome (confirmed, denied, unreachable), over the payload in force.
    #[serde(rename = "emergency.callback_recorded")]
    #[strum(serialize = "emergency.callback_recorded")]
    EmergencyCallbackRecorded,
    /// A supervisor who did not record it confirms the call-back record.
    #[serde(rename = "emergency.callback_confirmed")]
    #[strum(serialize = "emergency.callback_confirmed")]
    EmergencyCallbackConfirmed,
    /// A supervisor who did not record it rejects the call-back record (to be called again).
    #[serde(rename = "emergency.callback_rejected")]
    #[strum(serialize = "emergency.callback_rejected")]
    EmergencyCallbackRejected,
    /// The authority denies the request, signed by one of its confirmation keys.
    #[serde(rename = "emergency.denied")]
    #[strum(serialize = "emergency.denied")]
    EmergencyDenied,
    /// The emergency failed verification (a confirmed call-back denied it, or a signed denial):
    /// the case is refused with the ground `emergency-verification-failed`.
    #[serde(rename = "emergency.verification_failed")]
    #[strum(serialize = "emergency.verification_failed")]
    EmergencyVerificationFailed,
    // The order that must follow an emergency that waived prior authorization.
    #[serde(rename = "order.due")]
    #[strum(serialize = "order.due")]
    OrderDue,
    #[serde(rename = "order.received")]
    #[strum(serialize = "order.received")]
    OrderReceived,
    #[serde(rename = "order.missed")]
    #[strum(serialize = "order.missed")]
    OrderMissed,
    #[serde(rename = "deletion.requested")]
    #[strum(serialize = "deletion.requested")]
    DeletionRequested,
    #[serde(rename = "request.delivered")]
    #[strum(serialize = "request.delivered")]
    RequestDelivered,
    #[serde(rename = "request.closed")]
    #[strum(serialize = "request.closed")]
    RequestClosed,
    /// The public record of a closed case whose secrecy ended (issue 14): the body holds the
    /// record itself (`custos.case-record/v1`), so the log commits to what is published.
    #[serde(rename = "case.published")]
    #[strum(serialize = "case.published")]
    CasePublished,
    // Evidence in custody.
    #[serde(rename = "evidence.sealed")]
    #[strum(serialize = "evidence.sealed")]
    EvidenceSealed,
    #[serde(rename = "evidence.delivered")]
    #[strum(serialize = "evidence.delivered")]
    EvidenceDelivered,
    #[serde(rename = "evidence.destroyed")]
    #[strum(serialize = "evidence.destroyed")]
    EvidenceDestroyed,
    /// A transparency report of a period published (issue 14): the noisy figures served to
    /// anyone, the privacy loss spent, and the exact table they were drawn from, which the
    /// event's commitment seals for oversight bodies.
    #[serde(rename = "report.published")]
    #[strum(serialize = "report.published")]
    ReportPublished,
    /// A file kept with a case for staff (the order, correspondence), stored by its BLAKE3
    /// digest; never shown to the requester nor on public pages.
    #[serde(rename = "attachment.added")]
    #[strum(serialize = "attachment.added")]
    AttachmentAdded,
    // The desk's own work on a case (issue 16): who has it, and staff's internal notes. Never
    // shown to the requester, never in a case's public record.
    /// A reviewer or supervisor took the case (`from`: whom it was taken over from, if anyone).
    #[serde(rename = "case.assigned")]
    #[strum(serialize = "case.assigned")]
    CaseAssigned,
    /// The case was released: no one has it now.
    #[serde(rename = "case.unassigned")]
    #[strum(serialize = "case.unassigned")]
    CaseUnassigned,
    /// An internal note by staff on the case.
    #[serde(rename = "note.added")]
    #[strum(serialize = "note.added")]
    NoteAdded,
}

impl EventType {
    /// Every kind, in the order above.
    pub const ALL: &'static [EventType] = EventType::VARIANTS;

    /// The wire name, e.g. `request.received`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The kind a wire name stands for; `None` for a name no Custos node writes.
    pub fn from_name(name: &str) -> Option<EventType> {
        name.parse().ok()
    }

    /// Events of the directory (authorities and users), which the node folds into its verified
    /// directory rather than into a case.
    pub fn is_directory(self) -> bool {
        matches!(
            self,
            EventType::AuthorityAdded
                | EventType::AuthorityRevoked
                | EventType::AuthorityConfirmationKeyAdded
                | EventType::AuthorityContactSet
                | EventType::UserAdded
                | EventType::UserPasswordSet
        )
    }

    /// The desk's own events (assignment, internal notes, attachments): staff's working
    /// record, which the requester and the public never read.
    pub fn is_desk(self) -> bool {
        matches!(
            self,
            EventType::CaseAssigned
                | EventType::CaseUnassigned
                | EventType::NoteAdded
                | EventType::AttachmentAdded
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_agree_between_serde_and_strum_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for &t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
            assert!(seen.insert(t.as_str()), "{t} twice");
            let (family, _) = t.as_str().split_once('.').expect("family.verb");
            assert_eq!(
                t.is_directory(),
                family == "authority" || family == "user",
                "{t}"
            );
        }
        assert_eq!(EventType::from_name("request.Received"), None);
        assert_eq!(EventType::RequestReceived.as_str(), "request.received");
    }
}
