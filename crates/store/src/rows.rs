//! The records the store keeps. Plain data; the service gives them meaning.

use custos_ledger::Hash;
use custos_ledger::commitment::Salt;
use jiff::Timestamp;

/// An event about to be appended. `type`, `at`, `seq` and `case` are added to the body.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Dotted event type, e.g. `request.received`.
    pub event_type: String,
    /// When it happened.
    pub at: Timestamp,
    /// The case it concerns, if any.
    pub case_id: Option<i64>,
    /// The event's own fields (a JSON object).
    pub body: serde_json::Value,
}

/// An event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its index in the log.
    pub seq: u64,
    /// Dotted event type.
    pub event_type: String,
    /// When it happened.
    pub at: Timestamp,
    /// The case it concerns, if any.
    pub case_id: Option<i64>,
    /// The full event, RFC 8785 canonical JSON.
    pub body: String,
    /// The salt of its commitment.
    pub salt: Salt,
    /// The public record the log publishes (the Merkle leaf's data).
    pub leaf: Vec<u8>,
}

/// A checkpoint the node signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The signed note, as served.
    pub note: String,
    /// When it was signed.
    pub signed_at: Timestamp,
}

/// An entry of the directory of authorities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// RFC 7638 thumbprint of the signing key.
    pub kid: String,
    /// ISO 3166-1 alpha-2 code of the state it acts for.
    pub state: String,
    /// Its name.
    pub name: String,
    /// `judicial`, `prosecutorial`, `police`, `central_authority`, … (the request format's kinds).
    pub kind: String,
    /// Channels it may use: `mla`, `network_24_7`, `direct`.
    pub channels: Vec<String>,
    /// The public JWK.
    pub jwk: String,
    /// Its age recipient for evidence, if registered.
    pub age_recipient: Option<String>,
    /// When it was added.
    pub added_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl CaseStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Assessed => "assessed",
            CaseStatus::AwaitingInformation => "awaiting_information",
            CaseStatus::AwaitingSecondReview => "awaiting_second_review",
            CaseStatus::Executing => "executing",
            CaseStatus::Refused => "refused",
            CaseStatus::Delivered => "delivered",
            CaseStatus::Closed => "closed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "assessed" => CaseStatus::Assessed,
            "awaiting_information" => CaseStatus::AwaitingInformation,
            "awaiting_second_review" => CaseStatus::AwaitingSecondReview,
            "executing" => CaseStatus::Executing,
            "refused" => CaseStatus::Refused,
            "delivered" => CaseStatus::Delivered,
            "closed" => CaseStatus::Closed,
            _ => return None,
        })
    }
}

/// The current state of one request (a projection of its events).
#[derive(Debug, Clone)]
pub struct Case {
    /// The node's number for it.
    pub case_id: i64,
    /// Who sent it.
    pub authority_kid: String,
    /// The requester's own id.
    pub request_id: String,
    /// SHA-256 of the signed payload currently in force.
    pub payload_sha256: Hash,
    /// The request document currently in force.
    pub request_json: String,
    /// Where it stands.
    pub status: CaseStatus,
    /// The latest assessment's outcome.
    pub outcome: String,
    /// The latest assessment (JSON).
    pub assessment: String,
    /// The measure asked for.
    pub measure: String,
    /// The requesting state.
    pub requesting_state: String,
    /// The channel it came by.
    pub channel: String,
    /// Whether it claims an emergency.
    pub emergency: bool,
    /// When it arrived.
    pub received_at: Timestamp,
    /// When an answer is due.
    pub respond_by: Timestamp,
    /// When confidentiality ends, if asked.
    pub confidentiality_until: Option<Timestamp>,
    /// When the person concerned is to be told, if the profile requires it.
    pub notify_person_at: Option<Timestamp>,
    /// The decision in force (JSON), if any.
    pub decision: Option<String>,
    /// A decision waiting for a second reviewer (JSON), if any.
    pub pending_decision: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases from this authority.
    pub authority_kid: Option<String>,
    /// Only cases in this status.
    pub status: Option<String>,
    /// Only cases whose assessment has this outcome.
    pub outcome: Option<String>,
    /// Only cases asking this measure.
    pub measure: Option<String>,
    /// Only cases from this requesting state.
    pub requesting_state: Option<String>,
    /// Only cases that came by this channel.
    pub channel: Option<String>,
    /// Only cases that claim (true) or do not claim (false) an emergency.
    pub emergency: Option<bool>,
    /// Leave out closed and refused cases.
    pub open_only: bool,
    /// Skip this many (paging).
    pub offset: u32,
    /// At most this many.
    pub limit: u32,
}

/// A preservation hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The case.
    pub case_id: i64,
    /// When preservation started.
    pub started_at: Timestamp,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
    /// How often it was renewed.
    pub renewals: i64,
    /// When it was released.
    pub released_at: Option<Timestamp>,
}

/// A notice owed to the person concerned once confidentiality ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The case.
    pub case_id: i64,
    /// When it falls due.
    pub due_at: Timestamp,
    /// When the node recorded the end of confidentiality.
    pub ended_at: Option<Timestamp>,
    /// When it was sent.
    pub sent_at: Option<Timestamp>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
        match self {
            Role::Auditor => "auditor",
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auditor" => Role::Auditor,
            "reviewer" => Role::Reviewer,
            "supervisor" => Role::Supervisor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// A person who uses the node.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string of the API token.
    pub token_hash: String,
    /// When added.
    pub added_at: Timestamp,
    /// When disabled, if so.
    pub disabled_at: Option<Timestamp>,
    /// Argon2 PHC string of the console password; `None` until one is set.
    pub password_hash: Option<String>,
}

/// A sealed evidence package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Lower-case hex SHA-256 of the package bytes; also its file name.
    pub package_sha256: String,
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
    pub sealed_at: Timestamp,
    /// When it was first handed over.
    pub delivered_at: Option<Timestamp>,
    /// When it was destroyed.
    pub destroyed_at: Option<Timestamp>,
}
