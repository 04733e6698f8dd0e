//! Emergencies verified twice (issue 13, §2). A signature defeats a forged e-mail but not a
//! stolen key or an insider, and forged "emergency data requests" are a recurring attack; so an
//! emergency request is not executed until a second person at its authority confirms it, with a
//! confirmation key registered in the directory (`authority.confirmation_key_added`), never the
//! key that signed the request. This is the node's own safeguard, not a treaty rule.
//!
//! * [`confirm`] — `emergency.confirmed`: the authority's confirmation, a compact JWS over
//!   `{"request_id", "request_sha256"}`, verified by `Directory::verify_confirmation` before
//!   its payload is read, and kept in the event so the replay verifies it again;
//! * [`require_verified`] — every execute-type decision on an unverified emergency is refused
//!   409 `emergency-unverified`, before the four-eyes routing.
//!
//! * [`record_callback`] / [`review_callback`] — verification by call-back: a reviewer calls
//!   the contact registered in the directory for the case's authority (`authority.contact_set`,
//!   never a number from the request) and records who was reached and the outcome
//!   (`emergency.callback_recorded`); a supervisor who did not record it confirms
//!   (`emergency.callback_confirmed`) or rejects (`emergency.callback_rejected`) the record;
//! * [`deny`] — the authority denies the request, signed by a confirmation key
//!   (`emergency.denied`, `POST /v1/requests/{case}/denial`);
//! * a confirmed call-back whose outcome is `denied`, or a signed denial, fails verification:
//!   `emergency.verification_failed`, and the case is refused with the ground
//!   [`VERIFICATION_FAILED`], which the requester's reply shows (never who called). After it only
//!   closing remains, as after any refusal.
//!
//! A confirmation, and a call-back, binds the request's current signed payload (its SHA-256): a
//! supplement changes the payload, and the new one must be verified again.

use custos_model::EventType;
use custos_store::{Batch, CaseStatus, Role, StoredEvent, User};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::directory::Contact;
use super::reply::{Communicated, communicate};
use super::{Appended, Case, emit, internal, load_case, require_role};
use crate::problem::{FieldProblem, Problem};

/// The ground of a refusal for an emergency its authority denied.
pub const VERIFICATION_FAILED: &str = "emergency-verification-failed";

/// What the requester reads when its emergency failed verification.
const FAILED_REASON: &str = "The requesting authority did not confirm this emergency request when asked through the channel registered with this node: it is refused as not verified.";

/// The statuses in which an emergency is verified (or fails): before a decision is carried out.
pub const UNDECIDED: [CaseStatus; 5] = super::withdrawal::WITHDRAWABLE;

/// What the person reached on a call-back said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    /// The authority confirms it sent the request: once the record is confirmed, verified.
    Confirmed,
    /// The authority denies having sent it: once the record is confirmed, verification fails.
    Denied,
    /// Nobody who could answer was reached: nothing is verified; call again.
    Unreachable,
}

/// A reviewer's record of a call-back, as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackInput {
    /// Who was reached at the registered contact (name, function).
    #[schema(min_length = 1)]
    pub reached: String,
    /// What they said.
    pub outcome: CallbackOutcome,
    /// Anything else worth keeping (staff only).
    #[serde(default)]
    pub note: Option<String>,
}

/// A supervisor's review of a call-back record.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackReviewInput {
    /// Confirm the record (true) or reject it, to be called again (false).
    pub confirm: bool,
    /// Why.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// The payload of a denial, as a confirmation key signs it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenialInput {
    /// The requester's id of the request denied.
    pub request_id: String,
    /// Hex SHA-256 of the request's JWS payload bytes, as signed.
    pub request_sha256: String,
    /// Why, e.g. "we sent no such request".
    #[schema(min_length = 1)]
    pub reason: String,
}

/// A call-back as recorded (staff's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackRecord {
    /// The event that recorded it.
    pub seq: u64,
    /// The reviewer who called.
    pub reviewer: String,
    /// The directory's contact called.
    pub contact: Contact,
    /// Who was reached.
    pub reached: String,
    /// What they said.
    pub outcome: CallbackOutcome,
    /// The reviewer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The payload the call-back verified (hex SHA-256).
    pub request_sha256: String,
    /// When recorded.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The supervisor who confirmed it (none while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
}

/// How an emergency was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Verified {
    /// A confirmation key of the authority signed a confirmation.
    Signature {
        /// The confirmation key.
        kid: String,
        /// When.
        #[schema(value_type = String, format = DateTime)]
        at: Timestamp,
    },
    /// A call-back confirmed by a second person.
    Callback(CallbackRecord),
}

/// Where an emergency's verification stands, folded from its case's events (staff's view).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// Verified for the payload in force by a signed confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_signature: Option<Verified>,
    /// Verified for the payload in force by a confirmed call-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_callback: Option<Verified>,
    /// A call-back recorded and waiting for a supervisor's confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_callback: Option<CallbackRecord>,
    /// Verification failed (`emergency.verification_failed`): `callback` or `denial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl Verification {
    /// The state of a case whose payload in force has the hex SHA-256 `current`, from its
    /// events in order.
    pub fn of(current: &str, events: &[StoredEvent]) -> Verification {
        let mut v = Verification::default();
        for e in events {
            let Some(kind) = e.kind() else { continue };
            let Ok(body) = serde_json::from_str::<serde_json::Value>(&e.body) else {
                continue;
            };
            let sha = body["request_sha256"].as_str().unwrap_or("");
            match kind {
                EventType::EmergencyConfirmed if sha == current => {
                    v.by_signature.get_or_insert(Verified::Signature {
                        kid: body["kid"].as_str().unwrap_or("").to_owned(),
                        at: e.at,
                    });
                }
                EventType::EmergencyCallbackRecorded => {
                    v.pending_callback = serde_json::from_value(body["record"].clone()).ok();
                }
                EventType::EmergencyCallbackRejected => v.pending_callback = None,
                EventType::EmergencyCallbackConfirmed => {
                    if let Some(mut r) = v.pending_callback.take() {
                        r.confirmed_by = body["reviewer"].as_str().map(str::to_owned);
                        if r.outcome == CallbackOutcome::Confirmed && r.request_sha256 == current {
                            v.by_callback.get_or_insert(Verified::Callback(r));
                        }
                    }
                }
                EventType::EmergencyVerificationFailed => {
                    v.failed = body["by"].as_str().map(str::to_owned);
                }
                _ => {}
            }
        }
        v
    }

    /// Whether the payload in force is verified (and verification has not failed).
    pub fn verified(&self) -> bool {
        self.failed.is_none() && (self.by_signature.is_some() || self.by_callback.is_some())
    }
}

/// An authority's emergencies and how they were verified, for staff and the transparency
/// reports: computed from the cases and their events, never a stored counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmergencyCounts {
    /// Cases whose request claims an emergency.
    pub emergencies: u64,
    /// Of those, verified by a signed confirmation (payload in force).
    pub verified_by_signature: u64,
    /// Of those, verified by a confirmed call-back (a case verified both ways counts in both).
    pub verified_by_callback: u64,
    /// Of those, failed verification (refused `emergency-verification-failed`).
    pub failed_verification: u64,
}

impl EmergencyCounts {
    /// Counts one emergency case.
    pub fn add(&mut self, v: &Verification) {
        self.emergencies += 1;
        self.verified_by_signature += u64::from(v.by_signature.is_some());
        self.verified_by_callback += u64::from(v.by_callback.is_some());
        self.failed_verification += u64::from(v.failed.is_some());
    }
}

async fn verification(b: &mut Batch, case: &Case) -> Result<Verification, Problem> {
    let events = b.case_events(case.case_id).await?;
    Ok(Verification::of(&case.payload_sha256.to_hex(), &events))
}

/// The payload of a confirmation, as the confirmation key signs it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationInput {
    /// The requester's id of the request confirmed.
    pub request_id: String,
    /// Hex SHA-256 of the request's JWS payload bytes, as signed.
    pub request_sha256: String,
}

/// Who signed a confirmation, as the directory verified it.
#[derive(Debug, Clone)]
pub struct ConfirmationSigner {
    /// The confirmation key's thumbprint.
    pub kid: String,
    /// The authority whose confirmation key it is.
    pub authority_kid: String,
}

/// As [`is_unverified_emergency`], from the case's events as read (for the queue and pages):
/// verified by a confirmation key's signature or by a confirmed call-back.
pub fn unverified_in(case: &Case, events: &[StoredEvent]) -> bool {
    case.emergency && !Verification::of(&case.payload_sha256.to_hex(), events).verified()
}

/// Whether `case` leads the queue: a justified emergency (the request the safeguards give the
/// emergency clock, `emergency_respond_within_hours`) still waiting for the node's decision.
/// A request that no longer parses (it did at intake) is not put first.
pub fn leads_queue(case: &Case) -> bool {
    case.emergency
        && matches!(
            case.status,
            CaseStatus::Assessed | CaseStatus::AwaitingSecondReview
        )
        && custos_model::parse_request(case.request_json.as_bytes())
            .is_ok_and(|r| r.emergency_justified())
}

/// Whether `case` is an emergency whose current payload is not verified, by a confirmation
/// key's signature or by a confirmed call-back.
pub async fn is_unverified_emergency(b: &mut Batch, case: &Case) -> Result<bool, Problem> {
    if !case.emergency {
        return Ok(false);
    }
    Ok(!verification(b, case).await?.verified())
}

/// Refuses an execute-type decision on an unverified emergency (409 `emergency-unverified`).
pub async fn require_verified(b: &mut Batch, case: &Case) -> Result<(), Problem> {
    if is_unverified_emergency(b, case).await? {
        return Err(Problem::conflict(
            "emergency-unverified",
            format!(
                "case {} claims an emergency that is not verified yet: it cannot be executed until its authority confirms it with a confirmation key (POST /v1/requests/{}/confirmation) or a call-back to its registered contact is recorded and confirmed by a second person (POST /v1/requests/{}/callback)",
                case.case_id, case.case_id, case.case_id
            ),
        ));
    }
    Ok(())
}

fn field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-confirmation", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}

/// Records a confirmation of an emergency (`emergency.confirmed`). `jws` is the confirmation as
/// sent, already verified under `signer`'s key; `input` its payload.
pub async fn confirm(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    signer: &ConfirmationSigner,
    jws: &str,
    input: &ConfirmationInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let case = load_case(b, case_id).await?;
    // Another authority's confirmation key learns nothing of this case (as for reads: 404).
    if case.authority_kid != signer.authority_kid {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} of the authority whose confirmation key {} signed this",
            signer.kid
        )));
    }
    if !case.emergency {
        return Err(Problem::conflict(
            "not-an-emergency",
            format!("case {case_id} claims no emergency; there is nothing to confirm"),
        ));
    }
    if !matches!(
        case.status,
        CaseStatus::Assessed | CaseStatus::AwaitingInformation | CaseStatus::AwaitingSecondReview
    ) {
        return Err(Problem::conflict(
            "already-decided",
            format!(
                "case {case_id} is {}; an emergency is confirmed before it is decided",
                case.status.as_str()
            ),
        ));
    }
    if input.request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "case {case_id} is the request {:?}, not {:?}",
                case.request_id, input.request_id
            ),
        ));
    }
    let current = case.payload_sha256.to_hex();
    if !input.request_sha256.eq_ignore_ascii_case(&current) {
        return Err(field(
            "$.request_sha256",
            "this is not the SHA-256 of the request's signed payload in force; confirm the request as it was signed (a supplement must be confirmed again)",
        ));
    }
    if verification(b, &case).await?.by_signature.is_some() {
        return Err(Problem::conflict(
            "already-verified",
            format!("case {case_id}'s emergency is already confirmed"),
        ));
    }
    emit(
        b,
        out,
        EventType::EmergencyConfirmed,
        now,
        Some(case_id),
        json!({
            "request_id": case.request_id,
            "request_sha256": current,
            "kid": signer.kid,
            "authority_kid": signer.authority_kid,
            "jws": jws,
        }),
    )
    .await?;
    Ok(case)
}

/// The checks a confirmation key's signed message about `case` passes before it is recorded:
/// the case's own authority (another learns nothing: 404), an emergency not yet decided, the
/// request's id and the digest of its payload in force. Returns the digest.
fn check_signed(
    case: &Case,
    signer: &ConfirmationSigner,
    request_id: &str,
    request_sha256: &str,
    what: &str,
) -> Result<String, Problem> {
    let case_id = case.case_id;
    if case.authority_kid != signer.authority_kid {
        return Err(Problem::not_found(format!(
            "there is no case {case_id} of the authority whose confirmation key {} signed this",
            signer.kid
        )));
    }
    check_undecided_emergency(case, what)?;
    if request_id != case.request_id {
        return Err(field(
            "$.request_id",
            &format!(
                "case {case_id} is the request {:?}, not {request_id:?}",
                case.request_id
            ),
        ));
    }
    let current = case.payload_sha256.to_hex();
    if !request_sha256.eq_ignore_ascii_case(&current) {
        return Err(field(
            "$.request_sha256",
            "this is not the SHA-256 of the request's signed payload in force; sign over the request as it was signed (after a supplement, the new one)",
        ));
    }
    Ok(current)
}

/// Refuses `what` unless `case` claims an emergency and is not decided yet.
fn check_undecided_emergency(case: &Case, what: &str) -> Result<(), Problem> {
    let case_id = case.case_id;
    super::withdrawal::refuse_if_withdrawn(case, what)?;
    if !case.emergency {
        return Err(Problem::conflict(
            "not-an-emergency",
            format!("case {case_id} claims no emergency; there is nothing to verify"),
        ));
    }
    if !UNDECIDED.contains(&case.status) {
        return Err(Problem::conflict(
            "already-decided",
            format!(
                "case {case_id} is {}; an emergency is verified before it is decided ({what} refused)",
                case.status.as_str()
            ),
        ));
    }
    Ok(())
}

/// Records a reviewer's call-back to the authority's registered contact
/// (`emergency.callback_recorded`). `contact` is the directory's, as the log has it under the
/// write lock; without one nothing can be recorded.
pub async fn record_callback(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    contact: Option<Contact>,
    input: &CallbackInput,
    now: Timestamp,
) -> Result<Verification, Problem> {
    require_role(user, Role::Reviewer, "recording a call-back")?;
    let case = load_case(b, case_id).await?;
    check_undecided_emergency(&case, "recording a call-back")?;
    let Some(contact) = contact else {
        return Err(Problem::conflict(
            "no-contact",
            format!(
                "the authority {} has no call-back contact in the directory, and a number from the request is never called; ask the operator to register one (`custos authority contact set --authority {} --name … --phone …`), or have the authority confirm with a confirmation key",
                case.authority_kid, case.authority_kid
            ),
        ));
    };
    let reached = input.reached.trim();
    if custos_model::is_blank(reached) {
        return Err(callback_field(
            "$.reached",
            "say who was reached at the registered contact (name and function)",
        ));
    }
    let v = verification(b, &case).await?;
    if let Some(p) = &v.pending_callback {
        return Err(Problem::conflict(
            "callback-pending",
            format!(
                "case {case_id} has a call-back recorded by {} waiting for a supervisor's confirmation; confirm or reject it first",
                p.reviewer
            ),
        ));
    }
    let record = CallbackRecord {
        seq: b.log_size().await?,
        reviewer: user.name.clone(),
        contact,
        reached: reached.to_owned(),
        outcome: input.outcome,
        note: input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        request_sha256: case.payload_sha256.to_hex(),
        at: now,
        confirmed_by: None,
    };
    emit(
        b,
        out,
        EventType::EmergencyCallbackRecorded,
        now,
        Some(case_id),
        json!({
            "request_id": case.request_id,
            "request_sha256": record.request_sha256,
            "authority_kid": case.authority_kid,
            "record": serde_json::to_value(&record).map_err(internal)?,
        }),
    )
    .await?;
    verification(b, &case).await
}

/// A supervisor who did not record it confirms or rejects the pending call-back record
/// (`emergency.callback_confirmed` / `.callback_rejected`). A confirmed `denied` outcome fails
/// the verification and refuses the case.
pub async fn review_callback(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    user: &User,
    input: &CallbackReviewInput,
    now: Timestamp,
) -> Result<Verification, Problem> {
    require_role(user, Role::Supervisor, "confirming a call-back")?;
    let mut case = load_case(b, case_id).await?;
    check_undecided_emergency(&case, "reviewing a call-back")?;
    let Some(pending) = verification(b, &case).await?.pending_callback else {
        return Err(Problem::conflict(
            "no-pending-callback",
            format!("case {case_id} has no call-back record waiting for confirmation"),
        ));
    };
    super::decision::check_second_reviewer(&pending.reviewer, user, &input.reason, "call-back")?;
    let kind = if input.confirm {
        EventType::EmergencyCallbackConfirmed
    } else {
        EventType::EmergencyCallbackRejected
    };
    emit(
        b,
        out,
        kind,
        now,
        Some(case_id),
        json!({
            "recorded": pending.seq, "reviewer": user.name, "reason": input.reason.trim(),
            "outcome": pending.outcome, "request_sha256": pending.request_sha256,
        }),
    )
    .await?;
    if input.confirm && pending.outcome == CallbackOutcome::Denied {
        fail(b, out, &mut case, "callback", now).await?;
    }
    verification(b, &case).await
}

/// Records the authority's signed denial of an emergency request (`emergency.denied`) and
/// fails its verification. `jws` is the denial as sent, verified under `signer`'s key.
pub async fn deny(
    b: &mut Batch,
    out: &mut Appended,
    case_id: i64,
    signer: &ConfirmationSigner,
    jws: &str,
    input: &DenialInput,
    now: Timestamp,
) -> Result<Case, Problem> {
    let mut case = load_case(b, case_id).await?;
    let current = check_signed(
        &case,
        signer,
        &input.request_id,
        &input.request_sha256,
        "a denial",
    )?;
    let reason = input.reason.trim();
    if custos_model::is_blank(reason) {
        return Err(field("$.reason", "say why the request is denied"));
    }
    emit(
        b,
        out,
        EventType::EmergencyDenied,
        now,
        Some(case_id),
        json!({
            "request_id": case.request_id, "request_sha256": current, "kid": signer.kid,
            "authority_kid": signer.authority_kid, "reason": reason, "jws": jws,
        }),
    )
    .await?;
    fail(b, out, &mut case, "denial", now).await?;
    Ok(case)
}

/// Verification failed (`by`: `callback` or `denial`): `emergency.verification_failed`, the case
/// refused with the ground [`VERIFICATION_FAILED`], and the requester told.
async fn fail(
    b: &mut Batch,
    out: &mut Appended,
    case: &mut Case,
    by: &str,
    now: Timestamp,
) -> Result<(), Problem> {
    emit(
        b,
        out,
        EventType::EmergencyVerificationFailed,
        now,
        Some(case.case_id),
        json!({ "ground": VERIFICATION_FAILED, "by": by, "reason": FAILED_REASON }),
    )
    .await?;
    // A proposal waiting for a second reviewer lapses with the request, as on withdrawal.
    case.pending_decision = None;
    if let Some(r) = case.reclassification.as_mut() {
        r.pending = None;
    }
    case.status = CaseStatus::Refused;
    case.updated_at = now;
    b.put_case(case).await?;
    let told = failed_reply(now);
    communicate(b, out, case.case_id, case.status, &told).await
}

/// What the requester is told when its emergency failed verification.
pub fn failed_reply(at: Timestamp) -> Communicated {
    Communicated {
        decision: super::DecisionKind::Refuse,
        reason: FAILED_REASON.to_owned(),
        message: None,
        handed_over: None,
        conditions: vec![],
        ground: Some(VERIFICATION_FAILED.to_owned()),
        at,
    }
}

fn callback_field(pointer: &str, detail: &str) -> Problem {
    let mut p = Problem::unprocessable("invalid-callback", format!("{pointer}: {detail}"));
    p.errors.push(FieldProblem {
        pointer: pointer.into(),
        detail: detail.into(),
    });
    p
}
