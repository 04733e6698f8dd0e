//! The records the store keeps, typed as the domain names them. Each row struct derives
//! `sqlx::FromRow` and reads its columns by name; `column.rs` says how a stored text or blob
//! becomes a time, a digest or a name.

use custos_ledger::Hash;
use custos_ledger::commitment::Salt;
use custos_model::{Channel, DigestKind, EventType, Measure, Outcome, PackageDigest};
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use strum::{EnumString, IntoStaticStr};

/// An event about to be appended. `type`, `at`, `seq` and `case` are added to the body.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What kind of event; its wire name (`request.received`) is stored.
    pub event_type: EventType,
    /// When it happened.
    pub at: Timestamp,
    /// The case it concerns, if any.
    pub case_id: Option<i64>,
    /// The event's own fields (a JSON object).
    pub body: serde_json::Value,
}

/// An event as stored. It keeps the type exactly as read, so that an audit can name a row
/// whose type no Custos node writes; [`StoredEvent::kind`] is the typed view.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    /// Its index in the log.
    #[sqlx(try_from = "i64")]
    pub seq: u64,
    /// Dotted event type, as stored.
    pub event_type: String,
    /// When it happened.
    #[sqlx(rename = "occurred_at", try_from = "crate::column::Stamp")]
    pub at: Timestamp,
    /// The case it concerns, if any.
    pub case_id: Option<i64>,
    /// The full event, RFC 8785 canonical JSON.
    pub body: String,
    /// The salt of its commitment.
    #[sqlx(try_from = "crate::column::SaltBytes")]
    pub salt: Salt,
    /// The public record the log publishes (the Merkle leaf's data).
    pub leaf: Vec<u8>,
}

impl StoredEvent {
    /// The kind of event; `None` for a type no Custos node writes (an edited row).
    pub fn kind(&self) -> Option<EventType> {
        EventType::from_name(&self.event_type)
    }
}

/// A checkpoint the node signed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCheckpoint {
    /// Tree size.
    #[sqlx(try_from = "i64")]
    pub size: u64,
    /// Root hash at that size.
    #[sqlx(try_from = "crate::column::Digest")]
    pub root: Hash,
    /// The signed note, as served.
    pub note: String,
    /// When it was signed.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub signed_at: Timestamp,
}

/// An entry of the directory of authorities.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Authority {
    /// RFC 7638 thumbprint of the signing key.
    pub kid: String,
    /// ISO 3166-1 alpha-2 code of the state it acts for.
    pub state: String,
    /// Its name.
    pub name: String,
    /// `judicial`, `prosecutorial`, `police`, `central_authority`, … (the request format's kinds).
    pub kind: String,
    /// Channels it may use: `mla`, `network_24_7`, `direct` (stored comma-separated).
    #[sqlx(try_from = "crate::column::CommaList")]
    pub channels: Vec<String>,
    /// The public JWK.
    pub jwk: String,
    /// Its age recipient for evidence, if registered.
    pub age_recipient: Option<String>,
    /// When it was added.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub added_at: Timestamp,
    /// When it was revoked, if it was.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum CaseStatus {
    /// Assessed; waiting for a reviewer.
    Assessed,
    /// The requester was asked for more information.
    AwaitingInformation,
    /// A decision waits for a second reviewer.
    AwaitingSecondReview,
    /// Decided: execute (in full or narrowed).
    Executing,
    /// Decided: refused.
    Refused,
    /// Evidence handed over.
    Delivered,
    /// Closed.
    Closed,
    /// Withdrawn by the requesting authority before execution; only closing may follow.
    Withdrawn,
    /// A reviewer postponed the decision until a date; then it awaits a decision again.
    Postponed,
    /// A reviewer consulted the requester; the case awaits its answer until a date.
    InConsultation,
}

impl CaseStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// The JSON documents a case carries: its assessment, its decisions and its reclassification. The store keeps them
/// as JSON text and hands them out typed; the layer that gives them meaning names their types
/// (the service: `custos_safeguards::Assessment` and its recorded decision), so the store needs
/// no rule of its own to read them.
pub trait CaseDocuments: std::fmt::Debug + Clone + PartialEq + 'static {
    /// The latest assessment.
    type Assessment: Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + Clone
        + PartialEq
        + Send
        + Sync
        + Unpin;
    /// A decision, in force or waiting for a second reviewer.
    type Decision: Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + Clone
        + PartialEq
        + Send
        + Sync
        + Unpin;
    /// The corrections of a case's offences (reclassification).
    type Reclassification: Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + Clone
        + PartialEq
        + Send
        + Sync
        + Unpin;
}

/// The current state of one request (a projection of its events).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Case<D: CaseDocuments> {
    /// The node's number for it.
    pub case_id: i64,
    /// Who sent it.
    pub authority_kid: String,
    /// The requester's own id.
    pub request_id: String,
    /// SHA-256 of the signed payload currently in force.
    #[sqlx(try_from = "crate::column::Digest")]
    pub payload_sha256: Hash,
    /// The request document currently in force, exactly as signed.
    pub request_json: String,
    /// Where it stands.
    #[sqlx(try_from = "crate::column::Named<CaseStatus>")]
    pub status: CaseStatus,
    /// The latest assessment's outcome.
    #[sqlx(try_from = "crate::column::Named<Outcome>")]
    pub outcome: Outcome,
    /// The latest assessment.
    #[sqlx(json)]
    pub assessment: D::Assessment,
    /// The measure asked for.
    #[sqlx(try_from = "crate::column::Named<Measure>")]
    pub measure: Measure,
    /// The requesting state.
    pub requesting_state: String,
    /// The channel it came by.
    #[sqlx(try_from = "crate::column::Named<Channel>")]
    pub channel: Channel,
    /// Whether it claims an emergency.
    pub emergency: bool,
    /// When it arrived.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub received_at: Timestamp,
    /// When an answer is due.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub respond_by: Timestamp,
    /// When confidentiality ends, if asked.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub confidentiality_until: Option<Timestamp>,
    /// When the person concerned is to be told, if the profile requires it.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub notify_person_at: Option<Timestamp>,
    /// The decision in force, if any.
    #[sqlx(json(nullable))]
    pub decision: Option<D::Decision>,
    /// A decision waiting for a second reviewer, if any.
    #[sqlx(json(nullable))]
    pub pending_decision: Option<D::Decision>,
    /// Its reclassification, if a reviewer ever corrected its offences: the corrections in
    /// force, the assessment they replaced, and one waiting for a second reviewer.
    #[sqlx(json(nullable))]
    pub reclassification: Option<D::Reclassification>,
    /// Last change.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub updated_at: Timestamp,
    /// The member of staff who has the case (took it last and has not released it), if any.
    pub assignee: Option<String>,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases from this authority.
    pub authority_kid: Option<String>,
    /// Only cases in this status.
    pub status: Option<CaseStatus>,
    /// Only cases whose assessment has this outcome.
    pub outcome: Option<Outcome>,
    /// Only cases asking this measure.
    pub measure: Option<Measure>,
    /// Only cases from this requesting state.
    pub requesting_state: Option<String>,
    /// Only cases that came by this channel.
    pub channel: Option<Channel>,
    /// Only cases that claim (true) or do not claim (false) an emergency.
    pub emergency: Option<bool>,
    /// Leave out closed and refused cases.
    pub open_only: bool,
    /// Only cases with this text (case-insensitive, as a substring; `%` and `_` literal) in
    /// the request id, an agency reference (`investigation.reference`,
    /// `authorization.reference`), a target's value, or the authority's name (as the request
    /// gives it or as the directory has it).
    pub text: Option<String>,
    /// Only cases this person has (`Some(Some(name))`), or that no one has (`Some(None)`).
    pub assignee: Option<Option<String>>,
    /// Skip this many (paging).
    pub offset: u32,
    /// At most this many.
    pub limit: u32,
}

/// A preservation hold.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Hold {
    /// The case.
    pub case_id: i64,
    /// When preservation started.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub started_at: Timestamp,
    /// When it lapses unless renewed.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub expires_at: Timestamp,
    /// How often it was renewed.
    pub renewals: i64,
    /// When it was released.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub released_at: Option<Timestamp>,
}

/// A notice owed to the person concerned once confidentiality ends.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notice {
    /// The case.
    pub case_id: i64,
    /// When it falls due.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub due_at: Timestamp,
    /// When the node recorded the end of confidentiality.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub ended_at: Option<Timestamp>,
    /// When it was sent.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub sent_at: Option<Timestamp>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When the last delivery attempt was made (with `attempts`, it says when the next is due).
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub last_attempt_at: Option<Timestamp>,
}

/// Which deadline a requester asks to move. One model for every such deadline: today the end of
/// confidentiality and the end of a preservation hold; notice dates are to follow.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ExtensionKind {
    /// The end of confidentiality (secrecy), and with it the notice to the person concerned.
    Confidentiality,
    /// The end of a preservation hold: a renewal (the hold is kept to the date granted).
    Preservation,
}

impl ExtensionKind {
    /// Every kind.
    pub const ALL: [ExtensionKind; 2] =
        [ExtensionKind::Confidentiality, ExtensionKind::Preservation];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a request for an extension stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ExtensionStatus {
    /// Asked; waiting for a reviewer.
    Pending,
    /// Granted (possibly to an earlier date than asked).
    Granted,
    /// Refused.
    Refused,
}

impl ExtensionStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A requesting authority's request to move a deadline, and the reviewer's answer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Extension {
    /// Its number: the log index of its `extension.requested` event.
    pub extension_id: i64,
    /// The case.
    pub case_id: i64,
    /// Which deadline.
    #[sqlx(try_from = "crate::column::Named<ExtensionKind>")]
    pub kind: ExtensionKind,
    /// The asking authority's key thumbprint (the case's own authority).
    pub asked_by: String,
    /// When it was asked.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub asked_at: Timestamp,
    /// The deadline in force when it was asked.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub current_until: Timestamp,
    /// The date asked for.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub asked_until: Timestamp,
    /// The requester's reasons.
    pub reasons: String,
    /// Where it stands.
    #[sqlx(try_from = "crate::column::Named<ExtensionStatus>")]
    pub status: ExtensionStatus,
    /// The reviewer who decided.
    pub decided_by: Option<String>,
    /// When.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub decided_at: Option<Timestamp>,
    /// The new deadline, if granted.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub granted_until: Option<Timestamp>,
    /// The reviewer's reason (which the requester reads).
    pub decision_reason: Option<String>,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Auditor,
    /// Decides requests.
    Reviewer,
    /// Decides, and confirms decisions that need a second reviewer.
    Supervisor,
    /// Manages the node.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// A person who uses the node.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    #[sqlx(try_from = "crate::column::Named<Role>")]
    pub role: Role,
    /// Argon2 PHC string of the API token.
    pub token_hash: String,
    /// When added.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub added_at: Timestamp,
    /// When disabled, if so.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub disabled_at: Option<Timestamp>,
    /// Argon2 PHC string of the console password; `None` until one is set.
    pub password_hash: Option<String>,
}

/// A sealed evidence package.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Evidence {
    /// Lower-case hex digest of the package bytes (of kind `digest_kind`); also its file name.
    pub package_digest: String,
    /// Which digest: BLAKE3 for packages of format v2, SHA-256 for v1.
    #[sqlx(try_from = "String")]
    pub digest_kind: DigestKind,
    /// The case it answers.
    pub case_id: i64,
    /// Size in bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of its signed manifest.
    pub manifest_sha256: String,
    /// The age recipient it is sealed to.
    pub recipient: String,
    /// Log index of its `evidence.sealed` event.
    pub sealed_seq: i64,
    /// When it was sealed.
    #[sqlx(try_from = "crate::column::Stamp")]
    pub sealed_at: Timestamp,
    /// When it was first handed over.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub delivered_at: Option<Timestamp>,
    /// When it was destroyed.
    #[sqlx(try_from = "crate::column::MaybeStamp")]
    pub destroyed_at: Option<Timestamp>,
}

impl Evidence {
    /// Its digest, typed.
    pub fn digest(&self) -> Option<PackageDigest> {
        PackageDigest::new(self.digest_kind, &self.package_digest)
    }
}
