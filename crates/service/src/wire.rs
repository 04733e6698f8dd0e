//! The node's answers on the wire: one typed struct per JSON body the API sends, built by the
//! server (`http/`) and read back by clients (`custos submit`, `log verify`, `fetch`). Each is
//! `Serialize + Deserialize + ToSchema`, so the OpenAPI document describes exactly what is sent
//! and a client reads fields, not `Value["proof"]`.
//!
//! Timestamps travel as RFC 3339 text (jiff's `Display`), hashes and salts as base64, vocabulary
//! (outcome, measure, channel, event type) by its wire names.

use custos_ledger::Hash;
use custos_ledger::commitment::Salt;
use custos_model::{Channel, EventType, Measure, Outcome};
use custos_safeguards::Assessment;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::ops::{CaseReclassification, Communicated, RecordedDecision, ReplyStatus};

/// The `format` of an opening.
pub const OPENING_FORMAT: &str = "custos.opening/v1";

mod record;
pub use record::{ListedRecord, MAX_RECORDS_PAGE, PublishedRecord, PublishedRecords};

/// The claims of a requesting authority's proof, `Authorization: Custos-JWS <JWS>` (the claims
/// of RFC 9449 DPoP proofs): signed by the client (`custos fetch`), checked by the node
/// (`auth.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofClaims {
    /// The request's method.
    pub htm: String,
    /// The request's path.
    pub htu: String,
    /// When the proof was made (Unix seconds).
    pub iat: i64,
    /// A nonce (16 random bytes or more, base64url), required where a proof is single-use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A case as the API shows it (the answer to a submission, a decision and the other case calls).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseView {
    /// The node's case number.
    pub case: i64,
    /// The requester's id.
    pub request_id: String,
    /// Thumbprint of the sender's key.
    pub authority: String,
    /// Where it stands.
    #[schema(schema_with = schema::case_status)]
    pub status: String,
    /// The assessment's outcome.
    #[schema(schema_with = schema::outcome)]
    pub outcome: Outcome,
    /// The measure asked for.
    #[schema(schema_with = schema::measure)]
    pub measure: Measure,
    /// Requesting state.
    pub requesting_state: String,
    /// Channel.
    #[schema(schema_with = schema::channel)]
    pub channel: Channel,
    /// Emergency claimed.
    pub emergency: bool,
    /// Arrival.
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
    /// Answer due.
    #[schema(value_type = String, format = DateTime)]
    pub respond_by: Timestamp,
    /// Where the answer's deadline stands at the node's clock (the exact due instant, whether
    /// the clock runs, the badge, whether a supplement restarted it).
    pub deadline: DeadlineView,
    /// A warning: executing this case (as asked, or as decided) tells the person concerned at
    /// once, since no secrecy holds the notice back (a notice is owed and falls due at the
    /// execution). False when no notice is owed.
    pub notifies_person_at_once: bool,
    /// The latest assessment.
    #[schema(value_type = schema::Assessment)]
    pub assessment: Assessment,
    /// The decision in force.
    pub decision: Option<RecordedDecision>,
    /// A decision awaiting a second reviewer.
    pub pending_decision: Option<RecordedDecision>,
    /// Reviewers' corrections of the offences, if any: the assessment of the requester's own
    /// classification, the corrections in force, and one awaiting a second reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclassification: Option<CaseReclassification>,
    /// The preservation case this request follows up (`follows`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<CaseLink>,
    /// The follow-up cases of this preservation, by number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<CaseLink>,
    /// The order that must follow an emergency executed without the prior authorization its
    /// justification waived: required kinds, due time, received or missed, deletion asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::ops::OrderStatus>,
    /// The member of staff who has the case (`POST /v1/requests/{case}/assignment`); null when
    /// no one has taken it. Staff's record only: a requester's reply never names anyone.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// Where a case's response deadline stands (issue 16): the clock stops while the case is
/// decided or waits on the requester; badges are rolling windows from now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineView {
    /// The exact due instant (for a live countdown).
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
    /// `running`, or `stopped`.
    #[schema(value_type = String, pattern = "^(running|stopped)$")]
    pub clock: String,
    /// Why the clock is stopped: `decided` or `awaiting_requester`; null while it runs.
    #[schema(value_type = Option<String>, pattern = "^(decided|awaiting_requester)$")]
    pub stopped_because: Option<custos_model::deadline::Stopped>,
    /// `overdue` (the due instant is reached), `under_2h`, `under_8h`, `later` or `stopped`.
    #[schema(value_type = String, pattern = "^(overdue|under_2h|under_8h|later|stopped)$")]
    pub badge: custos_model::deadline::Badge,
    /// Whole seconds left at the node's clock, negative once overdue; null while stopped.
    pub seconds_left: Option<i64>,
    /// When a supplement restarted the clock (its new due instant is `due_at`), if one did.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub restarted_by_supplement_at: Option<Timestamp>,
}

impl DeadlineView {
    /// The view of `s`, restarted by a supplement at `restarted`.
    pub fn of(s: custos_model::deadline::Standing, restarted: Option<Timestamp>) -> DeadlineView {
        DeadlineView {
            due_at: s.due_at,
            clock: if s.stopped.is_some() {
                "stopped"
            } else {
                "running"
            }
            .to_owned(),
            stopped_because: s.stopped,
            badge: s.badge,
            seconds_left: s.seconds_left,
            restarted_by_supplement_at: restarted,
        }
    }
}

/// A case linked to another: a preservation and its follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseLink {
    /// The node's case number.
    pub case: i64,
    /// The requester's id.
    pub request_id: String,
    /// Where it stands, in the reader's words (a case status for staff, the reply status
    /// for the requester).
    pub status: String,
}

/// A preservation hold in force, as the requester reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyPreservation {
    /// The hold's end in force (renewable: `POST /v1/requests/{case}/extensions` with kind
    /// `preservation`).
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
    /// When the node warned that the hold lapses at `until`, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lapse_warned_at: Option<Timestamp>,
    /// Follow-up requests still pending: the hold is kept for them, past `until` if need be.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_for: Vec<CaseLink>,
}

/// What a requesting authority reads of its own request (`custos.reply/v1`): the answer to its
/// submission and to its reads of the case and the list. Where the request stands, the decision
/// as communicated (the reason written for the requester; for a narrowing what is handed over,
/// for a request for information the message, for an execution its conditions), the deadlines
/// that concern the requester, and the evidence it may fetch. Never the assessment, its findings
/// or their codes, the recommendation, the profile, who decided, internal notes or jurisdiction
/// flags: those are the staff's [`CaseView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reply {
    /// `custos.reply/v1`.
    #[schema(pattern = r"^custos\.reply/v1$")]
    pub format: String,
    /// The node's case number.
    pub case: i64,
    /// The requester's id.
    pub request_id: String,
    /// Where it stands.
    pub status: ReplyStatus,
    /// The decision as communicated; null while the request is under review.
    pub decision: Option<Communicated>,
    /// The deadlines that concern the requester.
    pub deadlines: ReplyDeadlines,
    /// Evidence packages the requester may fetch (`custos fetch`), oldest first.
    pub evidence: Vec<ReplyPackage>,
    /// For a withdrawn request: when and why the requester withdrew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<ReplyWithdrawal>,
    /// For a postponed request: why, and until when (then it is under review again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postponement: Option<ReplyPostponement>,
    /// The consultations of the request, oldest first: the node's questions and the
    /// requester's answers (never who wrote on the node's side).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consultation: Vec<ConsultationMessage>,
    /// When the confidentiality asked cannot be honoured in full: the end asked and the end
    /// the node can keep. Said before anything is executed; the requester may withdraw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrecy_limited: Option<ReplySecrecyLimited>,
    /// For an execution on conditions (`decision.conditions`): their digest to sign and whether
    /// they are accepted; nothing is released before they are. Absent without conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<crate::ops::ConditionsStatus>,
    /// For a preservation hold in force: its end, the warning before it lapses, and the
    /// follow-ups it is kept for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preservation: Option<ReplyPreservation>,
    /// The preservation request this one follows up (`follows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<CaseLink>,
    /// The requests that follow this preservation up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<CaseLink>,
    /// For a request claiming an emergency: whether it is verified for its payload in force (by
    /// a confirmation key of the authority, or a call-back to its registered contact confirmed
    /// by a second person). It is not executed until it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<ReplyEmergency>,
    /// When an emergency was executed without the prior authorization its justification
    /// waived: the order that must follow (the kinds that satisfy the rule, when it is due,
    /// whether it was received or is missing) and, after a missed order, the node's request
    /// to delete what was handed over (`order.deletion_requested`). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::ops::OrderStatus>,
}

/// Where a requester's emergency stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyEmergency {
    /// Verified for the payload in force (`POST /v1/requests/{case}/confirmation`,
    /// `custos confirm`, or a confirmed call-back); a supplement must be verified again.
    pub verified: bool,
}

/// The confidentiality a requester asked, and the end this node can keep it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplySecrecyLimited {
    /// The end asked; null: secrecy without end.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub asked_until: Option<Timestamp>,
    /// The latest end this node can keep.
    #[schema(value_type = String, format = DateTime)]
    pub limited_to: Timestamp,
}

/// Who wrote a message of a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationParty {
    /// The requested side (this node's reviewers).
    Requested,
    /// The requesting authority.
    Requesting,
}

/// One message of a consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsultationMessage {
    /// Its log index.
    pub log_index: u64,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who wrote it.
    pub from: ConsultationParty,
    /// The message.
    pub message: String,
    /// For the node's question: the date to answer by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answer_by: Option<Timestamp>,
    /// For the node's question, to staff only: the reviewer who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A case's consultation thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsultationThread {
    /// The case.
    pub case: i64,
    /// Oldest first.
    pub messages: Vec<ConsultationMessage>,
}

/// A postponement as the requester reads it: the reason written for it and the date; never
/// who postponed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyPostponement {
    /// Why, as written for the requester.
    pub reason: String,
    /// Until when.
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
}

/// The requester's own withdrawal of its request, as it reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyWithdrawal {
    /// When the node recorded it.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Why, as the requester wrote it.
    pub reason: String,
}

/// The deadlines of a request that concern its requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyDeadlines {
    /// When the node is due to answer.
    #[schema(value_type = String, format = DateTime)]
    pub respond_by: Timestamp,
    /// For a preservation in force: the data are kept until then (renewable).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub preserved_until: Option<Timestamp>,
    /// For an execution under confidentiality: the person concerned is not told before then,
    /// as granted.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidential_until: Option<Timestamp>,
}

/// How a package is identified: the digest of its file, under the field that names its kind.
/// Exactly one is present: `package_blake3` for packages of format v2, `package_sha256` for
/// packages of format v1 (sealed before v2). Either is 64 lower-case hex digits, and is what
/// the package's download path ends with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageDigestFields {
    /// Hex BLAKE3-256 of the package (the age file), for packages of format v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_blake3: Option<String>,
    /// Hex SHA-256 of the package (the age file), for packages of format v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_sha256: Option<String>,
}

impl PackageDigestFields {
    /// The fields for `digest`.
    pub fn of(digest: &custos_model::PackageDigest) -> PackageDigestFields {
        PackageDigestFields::stored(digest.kind(), digest.hex())
    }

    /// The fields for a digest as stored (kind and hex).
    pub fn stored(kind: custos_model::DigestKind, hex: &str) -> PackageDigestFields {
        let hex = Some(hex.to_owned());
        match kind {
            custos_model::DigestKind::Blake3 => PackageDigestFields {
                package_blake3: hex,
                package_sha256: None,
            },
            custos_model::DigestKind::Sha256 => PackageDigestFields {
                package_blake3: None,
                package_sha256: hex,
            },
        }
    }

    /// The digest named, if exactly one well-formed field is present.
    pub fn digest(&self) -> Option<custos_model::PackageDigest> {
        use custos_model::{DigestKind, PackageDigest};
        match (&self.package_blake3, &self.package_sha256) {
            (Some(h), None) => PackageDigest::new(DigestKind::Blake3, h),
            (None, Some(h)) => PackageDigest::new(DigestKind::Sha256, h),
            _ => None,
        }
    }

    /// The hex of whichever field is present (for messages and paths).
    pub fn hex(&self) -> &str {
        self.package_blake3
            .as_deref()
            .or(self.package_sha256.as_deref())
            .unwrap_or("")
    }
}

/// An evidence package the requester may fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyPackage {
    /// The package's digest, under the field of its kind.
    #[serde(flatten)]
    pub digest: PackageDigestFields,
    /// Its size in bytes.
    pub size: i64,
    /// When it was sealed.
    #[schema(value_type = String, format = DateTime)]
    pub sealed_at: Timestamp,
    /// Where to download it (with a single-use signed proof).
    pub download: String,
    /// The request's target values it covers (executed in part: only targets produced).
    #[serde(default)]
    pub targets: Vec<String>,
}

/// A case as its reader may see it: people (reviewers, supervisors, auditors) the whole record,
/// the requesting authority its reply.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CaseAnswer {
    /// For people: the whole record.
    Staff(Box<CaseView>),
    /// For the requesting authority: its reply.
    Requester(Box<Reply>),
}

/// The timeline of a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseEvents {
    /// The case number.
    pub case: i64,
    /// Its events, oldest first.
    pub events: Vec<EventView>,
}

/// One event of a case's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Its index in the log.
    pub log_index: u64,
    /// The event type, e.g. `request.received`.
    #[serde(rename = "type")]
    #[schema(schema_with = schema::event_type)]
    pub kind: EventType,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Where to get its inclusion proof, once a checkpoint covers it.
    pub inclusion_proof: Option<String>,
    /// The full event (people only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<LoggedEvent>,
}

/// An event as the log commits to it: the common fields, and the fields of its kind.
///
/// Kept field for field as the node stored it: a client recomputes the event's commitment from
/// [`LoggedEvent::to_value`], so nothing may be dropped or renamed on the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    pub at: Timestamp,
    /// Its index in the log.
    pub seq: u64,
    /// The case it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<i64>,
    /// The fields of its kind (e.g. `package_sha256` of `evidence.sealed`).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl LoggedEvent {
    /// The event as JSON, the value its commitment is computed over.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// A text field of its kind, e.g. `package_sha256`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

impl utoipa::PartialSchema for LoggedEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        let integer = || ObjectBuilder::new().schema_type(Type::Integer);
        ObjectBuilder::new()
            .description(Some(
                "An event as the log commits to it: its type, time, log index and case, and the fields of its kind",
            ))
            .property("type", schema::event_type())
            .required("type")
            .property("at", schema::date_time())
            .required("at")
            .property("seq", integer().minimum(Some(0)))
            .required("seq")
            .property("case", integer())
            // The fields of each kind of event (see ops/).
            .additional_properties(Some(AdditionalProperties::<
                utoipa::openapi::schema::Schema,
            >::FreeForm(true)))
            .into()
    }
}

impl ToSchema for LoggedEvent {}

/// An event with the salt of its commitment: enough to check, against the signed log alone,
/// that the log holds exactly this event (`custos log check-opening`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Opening {
    /// `custos.opening/v1`.
    pub format: String,
    /// The log's origin (the first line of its checkpoints).
    pub log: String,
    /// The event's index in the log.
    pub index: u64,
    /// The event.
    pub event: LoggedEvent,
    /// The salt of its commitment (base64).
    #[serde(with = "b64_salt")]
    #[schema(value_type = String)]
    pub salt: Salt,
    /// The public record the log holds for it (`custos log open` adds it; the API leaves it
    /// out, as the inclusion proof serves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf: Option<String>,
}

/// A preservation hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    /// The case it preserves data for.
    pub case: i64,
    /// When it started.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// When it lapses unless renewed.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    /// How often it was renewed.
    pub renewals: i64,
}

/// A notice owed to the persons concerned by a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NoticeView {
    /// The case.
    pub case: i64,
    /// When it falls due.
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
    /// Due now and not yet sent.
    pub due: bool,
    /// When confidentiality ended, if it has.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confidentiality_ended_at: Option<Timestamp>,
    /// When it was sent, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt was made.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<Timestamp>,
    /// When the next attempt is due (the due date, then after each failure 1 min, 5 min,
    /// 30 min, 2 h, then every 6 h); absent once sent.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
}

/// The answer to a confirmation of an emergency request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyConfirmation {
    /// The case.
    pub case: i64,
    /// The requester's id of the request.
    pub request_id: String,
    /// Hex SHA-256 of the request's signed payload confirmed.
    pub request_sha256: String,
    /// The confirmation key's thumbprint.
    pub kid: String,
    /// Whether the emergency is now verified (always true on success).
    pub verified: bool,
}

/// A request to move a deadline, and its answer. The requesting authority sees its own
/// requests without the reviewer's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExtensionView {
    /// Its number (the log index of its `extension.requested` event).
    pub extension: i64,
    /// The case.
    pub case: i64,
    /// Which deadline.
    #[schema(schema_with = crate::ops::extension::schema::extension_kind)]
    pub kind: custos_store::ExtensionKind,
    /// `pending`, `granted` or `refused`.
    #[schema(schema_with = crate::ops::extension::schema::extension_status)]
    pub status: custos_store::ExtensionStatus,
    /// When it was asked.
    #[schema(value_type = String, format = DateTime)]
    pub asked_at: Timestamp,
    /// The deadline in force when it was asked.
    #[schema(value_type = String, format = DateTime)]
    pub current_until: Timestamp,
    /// The date asked for.
    #[schema(value_type = String, format = DateTime)]
    pub asked_until: Timestamp,
    /// The requester's reasons.
    pub reasons: String,
    /// When it was decided.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    /// The new deadline, if granted.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub granted_until: Option<Timestamp>,
    /// The reviewer's reason, written for the requester.
    pub reason: Option<String>,
    /// Who decided (shown to the node's staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

/// A requesting authority's registered key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthorityView {
    /// RFC 7638 thumbprint of its key.
    pub kid: String,
    /// Its state.
    pub state: String,
    /// Its name.
    pub name: String,
    /// What kind of authority it is.
    pub kind: String,
    /// The channels it may use.
    #[schema(schema_with = schema::channels)]
    pub channels: Vec<Channel>,
    /// Its public key.
    pub jwk: Jwk,
    /// The age recipient evidence for it is sealed to.
    pub age_recipient: Option<String>,
    /// When it was registered.
    #[schema(value_type = String, format = DateTime)]
    pub added_at: Timestamp,
    /// When its key was revoked, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

/// One authority for staff: its entry, its call-back contact and its emergencies' verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthorityDetail {
    /// The directory entry.
    pub authority: AuthorityView,
    /// The call-back contact registered for it (`authority.contact_set`), if any.
    pub contact: Option<crate::ops::Contact>,
    /// Its emergency requests and how they were verified (computed from the log).
    pub emergencies: crate::ops::EmergencyCounts,
}

/// The answer to a signed denial of an emergency request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyDenial {
    /// The case.
    pub case: i64,
    /// The requester's id of the request.
    pub request_id: String,
    /// The confirmation key's thumbprint.
    pub kid: String,
    /// The ground the case is refused on: `emergency-verification-failed`.
    pub ground: String,
}

/// A public key as a JWK (OKP, Ed25519; RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `Ed25519`.
    pub crv: String,
    /// `OKP`.
    pub kty: String,
    /// The public key (base64url).
    pub x: String,
}

/// The evidence packages of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceList {
    /// The case.
    pub case: i64,
    /// The requesting authority's state (ISO 3166-1 alpha-2), which names its role in the chain
    /// of custody (`custos fetch` writes it as CASE/UCO).
    #[serde(default)]
    pub requesting_state: String,
    /// Its packages, oldest first.
    pub packages: Vec<EvidencePackage>,
}

/// One sealed package of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidencePackage {
    /// The package's digest, under the field of its kind.
    #[serde(flatten)]
    pub digest: PackageDigestFields,
    /// Its size in bytes.
    pub size: i64,
    /// Hex SHA-256 of its signed `manifest.json`.
    pub manifest_sha256: String,
    /// The age recipient it is sealed to.
    pub recipient: String,
    /// When it was sealed.
    #[schema(value_type = String, format = DateTime)]
    pub sealed_at: Timestamp,
    /// When it was first handed over, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    /// Destroyed after its retention ended.
    pub destroyed: bool,
    /// Where the requesting authority downloads it.
    pub download: String,
    /// The request's target values it covers (executed in part: only targets produced).
    #[serde(default)]
    pub targets: Vec<String>,
    /// The opening of its `evidence.sealed` event.
    pub opening: Option<Opening>,
    /// The openings of its later custody events, oldest first: every `evidence.delivered` and
    /// its `evidence.destroyed`, each checkable against the signed log like `opening`.
    #[serde(default)]
    pub custody: Vec<Opening>,
}

/// A package taken into custody (the answer to an upload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceReceipt {
    /// The case.
    pub case: i64,
    /// The package's digest, under the field of its kind.
    #[serde(flatten)]
    pub digest: PackageDigestFields,
    /// Its size in bytes.
    pub size: i64,
    /// Hex SHA-256 of its signed `manifest.json`, as declared.
    pub manifest_sha256: String,
    /// The age recipient it is recorded for.
    pub recipient: String,
    /// Log index of its `evidence.sealed` event.
    pub log_index: i64,
    /// When it was sealed into custody.
    #[schema(value_type = String, format = DateTime)]
    pub sealed_at: Timestamp,
    /// The request's target values it covers.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// An RFC 9162 inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The leaf hash (base64).
    #[serde(with = "b64_hash")]
    #[schema(value_type = String)]
    pub leaf_hash: Hash,
    /// The leaf data: the event's public commitment.
    pub leaf: String,
    /// The root of the tree of `size` leaves (base64).
    #[serde(with = "b64_hash")]
    #[schema(value_type = String)]
    pub root: Hash,
    /// The audit path (base64 hashes).
    #[serde(with = "b64_hashes")]
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<Hash>,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size.
    pub new: u64,
    /// The proof (base64 hashes).
    #[serde(with = "b64_hashes")]
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<Hash>,
}

mod b64_hash {
    use custos_ledger::Hash;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&h.to_base64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <&str>::deserialize(d)?;
        Hash::from_base64(text).map_err(D::Error::custom)
    }
}

mod b64_hashes {
    use custos_ledger::Hash;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(Hash::to_base64))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| Hash::from_base64(h).map_err(D::Error::custom))
            .collect()
    }
}

mod b64_salt {
    use custos_ledger::commitment::Salt;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(salt: &Salt, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&salt.to_base64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Salt, D::Error> {
        let text = <&str>::deserialize(d)?;
        Salt::from_base64(text).map_err(D::Error::custom)
    }
}

/// Schemas of the types from crates that know nothing of OpenAPI (model, safeguards, store).
pub(crate) mod schema {
    use custos_model::Severity;
    use utoipa::ToSchema;
    use utoipa::openapi::schema::{
        Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, SchemaFormat, Type,
    };

    use crate::query::{CaseStatus, STATUSES};

    pub use crate::ops::decision::schema::{data_categories, period_or_null};
    use crate::ops::schema::names;
    pub use crate::ops::schema::{channel, event_type, measure, outcome};

    pub fn date_time() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build()
    }

    pub fn severity() -> Object {
        names(
            Severity::ALL.iter().map(|s| s.as_str()),
            "How much the finding weighs.",
        )
    }

    pub fn channels() -> Array {
        ArrayBuilder::new().items(channel()).build()
    }

    pub fn case_status() -> Object {
        names(STATUSES.map(CaseStatus::as_str), "Where the case stands.")
    }

    // The shape of `custos.assessment/v1` (custos_safeguards::Assessment), described here so
    // that the safeguards crate needs no OpenAPI. `wire::tests` checks it against a serialised
    // assessment. The structs are never built: they only derive the schema.

    /// One assessment of one request (`custos.assessment/v1`).
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct Assessment {
        /// `custos.assessment/v1`.
        format: String,
        request_id: String,
        /// The profile that assessed it.
        profile: String,
        #[schema(value_type = String, format = DateTime)]
        assessed_at: String,
        #[schema(schema_with = outcome)]
        outcome: String,
        /// Most severe first.
        findings: Vec<Finding>,
        /// Present exactly when the outcome is `execute_narrowed`.
        narrowed: Option<Narrowed>,
        deadlines: Deadlines,
    }

    /// One safeguard rule that fired.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct Finding {
        /// The rule's identifier, e.g. `period-too-long`.
        code: String,
        #[schema(schema_with = severity)]
        severity: String,
        /// The legal basis, one source per entry.
        basis: Vec<String>,
        /// What is wrong and what would fix it.
        message: String,
    }

    /// The request as narrowed by the `narrow` findings.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct Narrowed {
        #[schema(schema_with = data_categories)]
        data_categories: Vec<String>,
        #[schema(schema_with = period_or_null)]
        period: Option<String>,
        #[schema(value_type = Option<String>, format = DateTime)]
        confidentiality_until: Option<String>,
    }

    /// When things fall due.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct Deadlines {
        #[schema(value_type = String, format = DateTime)]
        respond_by: String,
        /// For preservation: keep the data until then (renewable).
        #[schema(value_type = Option<String>, format = DateTime)]
        preserve_until: Option<String>,
        /// When the person concerned is to be told.
        #[schema(value_type = Option<String>, format = DateTime)]
        notify_person_at: Option<String>,
    }
}

/// A supplement of a request and what it changed (`GET /v1/requests/{case}/supplements`,
/// staff only: the changes may name target identifiers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupplementView {
    /// The `request.supplemented` event's log index.
    pub log_index: u64,
    /// When it arrived; the response deadline restarted then.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The fields it changed against the document it replaced.
    pub changes: Vec<FieldChangeView>,
}

/// One field a supplement added, removed or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChangeView {
    /// The field's JSON pointer (RFC 6901), e.g. `/investigation/reference` or `/targets/1`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    #[schema(pattern = "^(added|removed|changed)$")]
    pub change: String,
    /// The value before (absent for an added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RequestValue>)]
    pub old: Option<Value>,
    /// The value after (absent for a removed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RequestValue>)]
    pub new: Option<Value>,
}

/// A value of a request document's field: text, a number, yes/no, null, or a list or object
/// of such values (the schema of any JSON value, spelt out for the contract test).
pub struct RequestValue;

impl utoipa::PartialSchema for RequestValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        use utoipa::openapi::{Ref, RefOr};
        let this = || RefOr::Ref(Ref::from_schema_name("RequestValue"));
        let plain = |t: Type| ObjectBuilder::new().schema_type(t);
        OneOfBuilder::new()
            .item(plain(Type::String))
            .item(plain(Type::Number))
            .item(plain(Type::Boolean))
            .item(plain(Type::Null))
            .item(ArrayBuilder::new().items(this()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(this())),
            )
            .into()
    }
}

impl ToSchema for RequestValue {}

impl SupplementView {
    /// The view of a supplement as the query gives it.
    pub fn of(s: &crate::query::Supplement) -> SupplementView {
        SupplementView {
            log_index: s.index,
            at: s.at,
            changes: s
                .changes
                .iter()
                .map(|c| FieldChangeView {
                    path: c.path.clone(),
                    change: match c.change {
                        custos_model::diff::ChangeKind::Added => "added",
                        custos_model::diff::ChangeKind::Removed => "removed",
                        custos_model::diff::ChangeKind::Changed => "changed",
                    }
                    .to_owned(),
                    old: c.old.clone(),
                    new: c.new.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use custos_ledger::commitment::commit;
    use custos_model::{DataCategories, Period, Severity};
    use custos_safeguards::{Deadlines, Finding, Narrowed};
    use serde_json::json;
    use utoipa::PartialSchema;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    /// An event read as a [`LoggedEvent`] gives back the very JSON it was committed over.
    #[test]
    fn a_logged_event_keeps_every_field_and_its_commitment() {
        let salt = Salt::from_bytes([7; 32]);
        for at in [
            "2025-03-01T12:00:00Z",
            "2025-03-01T12:00:00.5Z",
            "2025-03-01T12:00:00.123456789Z",
        ] {
            // As the store writes it: the body, then type, at (jiff's Display), seq and case.
            let stored = json!({
                "package_sha256": "ab".repeat(32), "size": 1234, "nested": {"a": [1, 2.5, null]},
                "type": "evidence.sealed", "at": ts(at).to_string(), "seq": 9, "case": 3,
            });
            let event: LoggedEvent = serde_json::from_value(stored.clone()).expect("an event");
            assert_eq!(event.kind, EventType::EvidenceSealed);
            assert_eq!(event.text("package_sha256"), Some("ab".repeat(32).as_str()));
            assert_eq!(event.to_value().expect("JSON"), stored, "{at}");
            assert_eq!(
                commit(&event.to_value().expect("JSON"), &salt).expect("committed"),
                commit(&stored, &salt).expect("committed")
            );
        }
        let directory_event =
            json!({"type": "user.added", "at": "2025-03-01T12:00:00Z", "seq": 0, "name": "sam"});
        let event: LoggedEvent = serde_json::from_value(directory_event.clone()).expect("an event");
        assert_eq!(event.case, None);
        assert_eq!(event.to_value().expect("JSON"), directory_event);
    }

    #[test]
    fn proofs_and_openings_travel_as_base64() {
        let proof = ConsistencyProof {
            old: 1,
            new: 2,
            proof: vec![Hash([1; 32])],
        };
        let v = serde_json::to_value(&proof).expect("JSON");
        assert_eq!(v["proof"][0], Hash([1; 32]).to_base64());
        assert_eq!(
            serde_json::from_value::<ConsistencyProof>(v).expect("back"),
            proof
        );
        let bad = json!({"old": 1, "new": 2, "proof": ["not base64"]});
        assert!(serde_json::from_value::<ConsistencyProof>(bad).is_err());
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    }

    /// The OpenAPI description of `custos.assessment/v1` (written here, as the safeguards crate
    /// knows no OpenAPI) names exactly the fields an assessment has.
    #[test]
    fn the_assessment_schema_matches_the_assessment() {
        let t = ts("2025-03-01T12:00:00Z");
        let assessment = Assessment {
            format: custos_safeguards::ASSESSMENT_FORMAT.into(),
            request_id: "XA-1".into(),
            profile: "rights-first".into(),
            assessed_at: t,
            outcome: Outcome::ExecuteNarrowed,
            findings: vec![Finding {
                code: "period-too-long".into(),
                severity: Severity::Narrow,
                basis: vec!["UNCC art. 24".into()],
                message: "narrowed".into(),
            }],
            narrowed: Some(Narrowed {
                data_categories: DataCategories::ALL,
                period: Some(Period { from: t, to: t }),
                confidentiality_until: Some(t),
            }),
            deadlines: Deadlines {
                respond_by: t,
                preserve_until: Some(t),
                notify_person_at: Some(t),
            },
        };
        let value = serde_json::to_value(&assessment).expect("JSON");
        let properties = |s: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            let v = serde_json::to_value(s).expect("a schema");
            keys(&v["properties"])
        };
        assert_eq!(properties(schema::Assessment::schema()), keys(&value));
        assert_eq!(
            properties(schema::Finding::schema()),
            keys(&value["findings"][0])
        );
        assert_eq!(
            properties(schema::Narrowed::schema()),
            keys(&value["narrowed"])
        );
        assert_eq!(
            properties(schema::Deadlines::schema()),
            keys(&value["deadlines"])
        );
    }
}

// ---- Witnesses (issue 14, part 2): `GET /v1/log/witnesses`. ----

/// The node's witnesses as its staff see them: what each last cosigned, its last failure, and
/// whether it reported a split view.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WitnessesView {
    /// Cosignatures a served checkpoint needs.
    pub quorum: usize,
    /// The size of the node's newest signed checkpoint.
    pub latest_size: u64,
    /// The size of the checkpoint `/log/checkpoint` serves with cosignatures (absent: none
    /// reached the quorum yet, and the node's own checkpoint is served).
    pub cosigned_size: Option<u64>,
    /// How many witnesses' cosignatures that checkpoint carries.
    pub cosignatures: usize,
    /// Each configured witness, in the configuration's order.
    pub witnesses: Vec<WitnessView>,
}

/// One witness, as the node knows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WitnessView {
    /// Its name (the configuration's, else its key's).
    pub name: String,
    /// Its submission prefix.
    pub url: String,
    /// Its verifier key (`name+id+base64`, type 0x04).
    pub vkey: String,
    /// The size of the last checkpoint it cosigned for this node.
    pub last_cosigned_size: Option<u64>,
    /// When the node last received its cosignature.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_cosigned_at: Option<Timestamp>,
    /// Why its last attempt failed (kept after later successes; compare the times).
    pub last_error: Option<String>,
    /// When that failure happened.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<Timestamp>,
    /// Its last refusal says it holds another history of this log (a split view).
    pub split_view: bool,
    /// No new attempt before this time (backoff after failures).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
}

// ---- Attachments (issue 16): files staff keep with a case; never in the requester's reply. ----

/// A file attached to a case, as its `attachment.added` event records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentView {
    /// Hex BLAKE3 of the bytes: the attachment's name in the API.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type it was sent with.
    pub media_type: String,
    /// What it is.
    pub kind: crate::ops::attachment::AttachmentKind,
    /// The file's name (staff's text).
    pub name: String,
    /// Who added it.
    pub added_by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub added_at: Timestamp,
    /// The log index of its `attachment.added` event.
    pub log_index: u64,
    /// Where its bytes are served (checked against the digest first).
    pub download: String,
}

impl AttachmentView {
    /// The view of a logged attachment.
    pub fn of(a: &crate::ops::attachment::Attachment) -> AttachmentView {
        AttachmentView {
            download: format!("/v1/requests/{}/attachments/{}", a.case_id, a.blake3),
            blake3: a.blake3.clone(),
            size: a.size,
            media_type: a.media_type.clone(),
            kind: a.kind,
            name: a.name.clone(),
            added_by: a.by.clone(),
            added_at: a.at,
            log_index: a.log_index,
        }
    }
}

/// A case's attachments, in the order they were added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentList {
    /// The case.
    pub case: i64,
    /// Its attachments.
    pub attachments: Vec<AttachmentView>,
}
