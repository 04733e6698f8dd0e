//! The node's state changes, each one an event appended to the log together with the change to
//! the projections it causes. Every function here runs inside one [`Batch`] (one job of a group
//! commit, or one CLI command) and either appends its events and updates the projections, or
//! fails with a [`Problem`] and changes nothing. Nothing else in the service appends events.
//!
//! * [`intake`] — the intake rules ([`admit`]: key, channel, freshness) and recording a
//!   submission.
//! * [`decision`] — decisions, second review, narrowing.
//! * [`reclassification`] — a reviewer's correction of an offence's category or penalty, and
//!   the assessment on the corrected facts.
//! * [`lifecycle`] — holds, status changes, the scheduler's tick, notices and their retries.
//! * [`notice`] — the notice to the person concerned (`custos.notice/v1`), as JSON and text.
//! * [`extension`] — requests to move a deadline (the end of confidentiality) and their
//!   decision.
//! * [`directory`] — authorities and users.
//! * [`evidence`] — custody records, hand-over and destruction of sealed packages.
//! * [`reply`] — what the requesting authority is told (`custos.reply/v1`), and its logging.
//! * [`withdrawal`] — the requesting authority withdraws its request before execution.
//! * [`postponement`] — a reviewer postpones a decision until a date; the tick resumes it.
//! * [`consultation`] — a reviewer consults the requester; it answers, signed, or the tick
//!   lapses the consultation at its date.
//! * [`follow_up`] — a follow-up request linked to the preservation it follows (`follows`), the
//!   hold kept while it is pending, and the warning before a hold lapses.
//! * [`order`] — the order that must follow an emergency that waived prior authorization: due,
//!   received (signed), missed (the tick), and a reviewer's request to delete.
//! * [`publication`] — the public record of a closed case once its secrecy ends
//!   (`case.published`, by the tick).
//! * [`attachment`] — files staff keep with a case (the order, correspondence), logged by
//!   digest (`attachment.added`); staff only.
//! * [`assignment`] — a reviewer takes a case or releases it; the queue shows who has it.
//! * [`notes`] — staff's internal notes on a case, never shown to the requester or the public.
//!
//! Rules and their legal basis:
//! * a decision always carries a reason; one that departs from the assessment carries at least
//!   a sentence; executing over a `refuse` or `needs_information` recommendation needs a second
//!   reviewer with the supervisor role, and executing over `refer_for_review` a reason for each
//!   referred finding (safeguards.md 1.1, *Decisions*; UNCC art. 24 on conditions and
//!   safeguards);
//! * reviewers may correct an offence's category or penalty (request-format.md); a correction
//!   that lightens the recommendation needs a second reviewer, like a decision;
//! * narrowing can only narrow (UNCC art. 24: proportionality);
//! * preservation holds last `preservation_days` and are renewable (UNCC art. 42, at least 60
//!   days);
//! * once confidentiality ends the person concerned is due a notice, when the profile says so
//!   (rights-first; the Convention itself has no notice duty), saying what was handed over and
//!   how to challenge it (cf. EU Reg. 2023/1543 art. 13(3)); failed deliveries are logged and
//!   retried with backoff;
//! * the requesting authority may ask to extend secrecy, with reasons; a reviewer decides within
//!   the profile's cap (rights-first: 365 days from now; see [`extension`]);
//! * a request is admitted only from an unrevoked key, for its own state, on a channel it may use,
//!   and fresh (see [`admit`]);
//! * the requesting authority may withdraw its request, signed and with a reason, before
//!   execution; after that only closing remains (see [`withdrawal`]);
//! * a reviewer may postpone a decision with a reason and a date, which the requester reads;
//!   the scheduler brings the case back at that date (see [`postponement`]);
//! * a reviewer may consult the requester before refusing or granting on conditions; it
//!   answers signed, and the case comes back at the answer or the date (see [`consultation`]);
//! * an emergency is executed only once verified, by a confirmation key's signature or by a
//!   call-back to the directory's contact confirmed by a second person; a confirmed denial or a
//!   signed denial refuses it (`emergency-verification-failed`). The node's own safeguard
//!   against forged emergency requests, not a treaty rule (see [`emergency`]);
//! * an emergency executed without the prior authorization its justification waived owes the
//!   order within `lifecycle.order_due_hours` (operator default 48, modelled on EU Reg.
//!   2023/1543 art. 4(5), unconfirmed); a missed order is logged and may lead to a request to
//!   delete what was handed over (see [`order`]).

pub mod assignment;
pub mod attachment;
pub mod conditions;
pub mod consultation;
pub mod decision;
pub mod directory;
pub mod emergency;
pub mod evidence;
pub mod extension;
pub mod follow_up;
pub mod intake;
pub mod lifecycle;
pub mod notes;
pub mod notice;
pub mod order;
pub mod postponement;
pub mod publication;
pub mod reclassification;
pub mod reply;
pub mod schema;
pub mod transparency;
pub mod version;
pub mod withdrawal;

/// A requester's signed message, verified: the signer as the directory had it when the signature
/// was checked, the compact JWS as received (kept in the log so the audit can check the signature
/// again), the SHA-256 of the signed payload, and the payload parsed as `T`.
#[derive(Debug, Clone)]
pub struct Signed<T> {
    pub authority: custos_store::Authority,
    pub jws: String,
    pub payload_sha256: custos_ledger::Hash,
    pub input: T,
}

impl<T> Signed<T> {
    /// The message whose payload bytes are `payload`, parsed as `input`.
    pub fn new(authority: custos_store::Authority, jws: String, payload: &[u8], input: T) -> Self {
        use sha2::Digest as _;
        Signed {
            authority,
            jws,
            payload_sha256: custos_ledger::Hash(sha2::Sha256::digest(payload).into()),
            input,
        }
    }
}

pub use assignment::{AssignmentAction, AssignmentInput, assign, may_release, may_take};
pub use conditions::{
    AcceptanceAnswer, AcceptanceInput, AcceptanceState, Condition, ConditionInput,
    ConditionsStatus, TypedCondition, answer_conditions, conditions_sha256,
};
pub use consultation::{
    ConsultationAnswer, ConsultationAnswerInput, ConsultationInput, answer_consultation, consult,
};
pub use decision::{
    DecisionInput, DecisionKind, NarrowedInput, NarrowedTerms, RecordedDecision, SecondReviewInput,
    check_narrows, decide, notifies_at_once, referred_findings, resolve_narrowing, second_review,
    waives_a_safeguard,
};
pub use directory::{
    Contact, NewAuthority, add_authority, add_confirmation_key, add_user, revoke_authority,
    set_contact, set_password,
};
pub use emergency::{
    CallbackInput, CallbackOutcome, CallbackRecord, CallbackReviewInput, ConfirmationInput,
    ConfirmationSigner, DenialInput, EmergencyCounts, VERIFICATION_FAILED, Verification, Verified,
};
pub use evidence::{destroy_due, record_delivered};
pub use extension::{
    ExtensionDecisionInput, ExtensionInput, ExtensionRef, decide_extension, request_extension,
};
pub use intake::{
    Admitted, Freshness, IntakeRefusal, Submission, SubmitOutcome, admit, revoked_problem, submit,
};
pub use lifecycle::{
    DueNotice, HoldReleaseInput, HoldRenewalInput, LifecycleRules, NoticeAction, NoticeActionKind,
    NoticeDelivery, SecrecyCap, act_on_notice, advance, next_attempt, notice_document,
    notice_result, release_hold, renew_hold, renewed_end, retry_delay, tick,
};
pub use notes::{CaseNotes, MAX_NOTE_CHARS, Note, NoteInput, add_note, notes_in};
pub use notice::{DEFAULT_REMEDIES, NOTICE_FORMAT, NoticeDocument, NoticeSettings};
pub use order::{
    DeletionRequestInput, DeletionRequested, Order, OrderAuthorization, OrderInput, OrderStatus,
};
pub use postponement::{PostponementInput, postpone};
pub use publication::{
    CASE_RECORD_FORMAT, CaseEventRef, CaseRecord, RecordDates, RecordEvent, WITHHELD_FINDINGS,
    publish_due,
};
pub use reclassification::{
    CaseReclassification, Classification, CorrectedOffence, OffenceCorrection,
    PendingReclassification, ReclassificationInput, RecordedReclassification, reclassify,
};
pub use reply::{Communicated, REPLY_FORMAT, ReplyStatus};
pub use withdrawal::{Withdrawal, WithdrawalInput, withdraw};

use custos_model::EventType;
use custos_store::{Batch, CaseDocuments, NewEvent, Role, StoredEvent, User};
use jiff::{SignedDuration, Timestamp};

use crate::problem::Problem;

/// The documents a case carries, as the service types them: the assessment of
/// `custos-safeguards`, and the decisions and the reclassification recorded here.
#[derive(Debug, Clone, PartialEq)]
pub enum Documents {}

impl CaseDocuments for Documents {
    type Assessment = custos_safeguards::Assessment;
    type Decision = RecordedDecision;
    type Reclassification = CaseReclassification;
}

/// A case, with its assessment and decisions typed.
pub type Case = custos_store::Case<Documents>;

/// Events appended by one job, in order.
pub type Appended = Vec<StoredEvent>;

async fn emit(
    b: &mut Batch,
    out: &mut Appended,
    event_type: EventType,
    at: Timestamp,
    case_id: Option<i64>,
    body: serde_json::Value,
) -> Result<(), Problem> {
    let ev = b
        .append(&NewEvent {
            event_type,
            at,
            case_id,
            body,
        })
        .await?;
    out.push(ev);
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "internal error");
    Problem::internal("the node could not record this; nothing was changed")
}

/// Refuses a change to a user whose role is below `min`, and auditors always.
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

async fn load_case(b: &mut Batch, case_id: i64) -> Result<Case, Problem> {
    b.case(case_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no case {case_id} on this node")))
}

fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(24 * i64::from(n))
}
