//! The projections as the log says they must be: every table the node acts on, rebuilt from the
//! events alone.
//!
//! The tables (`authorities`, `users`, `cases`, `holds`, `notices`, `extensions`, `evidence`) are
//! caches of the
//! events, updated in the transaction that appends them. Anyone who can write the database can
//! edit a cache without touching an event: un-revoke a key, promote an auditor, turn a refusal
//! into an execution. [`Projections::replay`] folds the events into what each row must hold, and
//! [`Projections::diff`] names every row that differs. The audit runs both; the node runs them
//! at start and refuses to serve a database whose tables contradict its log.
//!
//! While folding, the replay also checks what no table shows: that each request was signed by
//! a key registered and unrevoked at the time (optional: it costs one Ed25519 verification per
//! request), and that each decision was made by a user whose *logged* role allowed it, with a
//! second supervisor where a safeguard was overridden.
//!
//! This is deliberately a second, independent statement of what `ops` does to the tables: if the
//! two ever disagree, the audit says so rather than trusting either.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use custos_jose::{PublicJwk, verify_compact};
use custos_model::{EventType, Outcome, Request, parse_request};
use custos_safeguards::Assessment;
use custos_store::{
    Authority, CaseStatus, Evidence, Extension, ExtensionKind, ExtensionStatus, Hold, Notice, Role,
    StoredEvent,
};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

mod desk;
mod publication;

use crate::ops::{
    Case, CaseReclassification, Communicated, DecisionKind, PendingReclassification,
    RecordedDecision, RecordedReclassification, ReplyStatus,
};

/// One thing the audit found wrong, named so a person can look at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of problem: `event`, `checkpoint`, `history`, `projection`, `signature`,
    /// `role`, `four-eyes`, `reasons`, `lifecycle`, `evidence`, `reply`.
    pub kind: &'static str,
    /// What is wrong and where.
    pub detail: String,
}

impl Finding {
    pub(crate) fn new(kind: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            kind,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// A user as the log knows it (the credential hashes are never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedUser {
    /// Login name.
    pub name: String,
    /// Role given when the user was added.
    pub role: Role,
    /// When added.
    pub added_at: Timestamp,
    /// Whether a console password was set.
    pub has_password: bool,
}

/// The directory and the users: what authorization decisions rest on.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Authorities by key thumbprint, revocations applied.
    pub authorities: HashMap<String, Authority>,
    /// Users by name.
    pub users: HashMap<String, LoggedUser>,
    /// Confirmation keys by thumbprint: they confirm an authority's emergencies, never sign.
    pub confirmation_keys: HashMap<String, ConfirmationKey>,
    /// Call-back contacts by authority (its own key's thumbprint), the latest set.
    pub contacts: HashMap<String, crate::ops::Contact>,
}

/// A confirmation key as the log registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationKey {
    /// Its RFC 7638 thumbprint.
    pub kid: String,
    /// The authority (its own key's thumbprint) whose emergencies it may confirm.
    pub authority_kid: String,
    /// The public JWK, as JSON.
    pub jwk: String,
    /// When registered.
    pub added_at: Timestamp,
}

impl Registry {
    /// Applies one event (events of other kinds are ignored). Returns a problem with the event,
    /// if it cannot be applied.
    pub fn apply(&mut self, e: &StoredEvent, body: &Value) -> Result<(), String> {
        let Some(kind) = e.kind().filter(|k| k.is_directory()) else {
            return Ok(());
        };
        match kind {
            EventType::AuthorityAdded => {
                let kid = text(body, "kid")?;
                let jwk = PublicJwk::parse(&body["jwk"].to_string())
                    .map_err(|err| format!("its key does not parse: {err}"))?;
                if jwk.thumbprint() != kid {
                    return Err(format!("kid {kid} is not the thumbprint of its key"));
                }
                if self.authorities.contains_key(kid) || self.confirmation_keys.contains_key(kid) {
                    return Err(format!("the key {kid} is added a second time"));
                }
                let channels = body["channels"]
                    .as_array()
                    .ok_or("channels is not a list")?
                    .iter()
                    .map(|c| c.as_str().map(str::to_owned).ok_or("a channel is not text"))
                    .collect::<Result<Vec<_>, _>>()?;
                self.authorities.insert(
                    kid.to_owned(),
                    Authority {
                        kid: kid.to_owned(),
                        state: text(body, "state")?.to_owned(),
                        name: text(body, "name")?.to_owned(),
                        kind: text(body, "kind")?.to_owned(),
                        channels,
                        jwk: jwk.to_json(),
                        age_recipient: body["age_recipient"].as_str().map(str::to_owned),
                        added_at: e.at,
                        revoked_at: None,
                        revoke_reason: None,
                    },
                );
            }
            EventType::AuthorityRevoked => {
                let kid = text(body, "kid")?;
                let a = self
                    .authorities
                    .get_mut(kid)
                    .ok_or_else(|| format!("revokes {kid}, which no earlier event added"))?;
                if a.revoked_at.is_some() {
                    return Err(format!("revokes {kid} a second time"));
                }
                a.revoked_at = Some(e.at);
                a.revoke_reason = body["reason"].as_str().map(str::to_owned);
            }
            EventType::AuthorityConfirmationKeyAdded => {
                let kid = text(body, "kid")?;
                let authority_kid = text(body, "authority_kid")?;
                let jwk = PublicJwk::parse(&body["jwk"].to_string())
                    .map_err(|err| format!("its key does not parse: {err}"))?;
                if jwk.thumbprint() != kid {
                    return Err(format!("kid {kid} is not the thumbprint of its key"));
                }
                if self.authorities.contains_key(kid) || self.confirmation_keys.contains_key(kid) {
                    return Err(format!("the key {kid} is added a second time"));
                }
                match self.authorities.get(authority_kid) {
                    None => {
                        return Err(format!(
                            "confirms for {authority_kid}, which no earlier event added"
                        ));
                    }
                    Some(a) if a.revoked_at.is_some() => {
                        return Err(format!("confirms for {authority_kid}, which was revoked"));
                    }
                    Some(_) => {}
                }
                self.confirmation_keys.insert(
                    kid.to_owned(),
                    ConfirmationKey {
                        kid: kid.to_owned(),
                        authority_kid: authority_kid.to_owned(),
                        jwk: jwk.to_json(),
                        added_at: e.at,
                    },
                );
            }
            EventType::AuthorityContactSet => {
                let kid = text(body, "authority_kid")?;
                let contact = crate::ops::Contact {
                    name: text(body, "name")?.to_owned(),
                    phone: text(body, "phone")?.to_owned(),
                };
                if contact.name.trim().is_empty() || contact.phone.trim().is_empty() {
                    return Err("a blank contact".into());
                }
                match self.authorities.get(kid) {
                    None => {
                        return Err(format!("a contact for {kid}, which no earlier event added"));
                    }
                    Some(a) if a.revoked_at.is_some() => {
                        return Err(format!("a contact for {kid}, which was revoked"));
                    }
                    Some(_) => {}
                }
                self.contacts.insert(kid.to_owned(), contact);
            }
            EventType::UserAdded => {
                let name = text(body, "name")?;
                let role = Role::parse(text(body, "role")?).ok_or("unknown role")?;
                if self.users.contains_key(name) {
                    return Err(format!("the user {name} is added a second time"));
                }
                self.users.insert(
                    name.to_owned(),
                    LoggedUser {
                        name: name.to_owned(),
                        role,
                        added_at: e.at,
                        has_password: false,
                    },
                );
            }
            EventType::UserPasswordSet => {
                let name = text(body, "name")?;
                self.users
                    .get_mut(name)
                    .ok_or_else(|| format!("sets a password for {name}, who was never added"))?
                    .has_password = true;
            }
            // Not a directory event (filtered above).
            _ => {}
        }
        Ok(())
    }

    /// Applies a stored event if it is a directory or user event (parsing its body); others
    /// are ignored.
    pub fn apply_stored(&mut self, e: &StoredEvent) -> Result<(), String> {
        if !e.kind().is_some_and(EventType::is_directory) {
            return Ok(());
        }
        let body: Value = serde_json::from_str(&e.body).map_err(|err| err.to_string())?;
        self.apply(e, &body)
    }

    /// The logged role of `name`, if the log knows the user.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.users.get(name).map(|u| u.role)
    }
}

/// Every projection as the events say it must be, and what the fold found on the way.
#[derive(Debug, Default)]
pub struct Projections {
    /// Directory and users.
    pub registry: Registry,
    /// Cases by number.
    pub cases: BTreeMap<i64, Case>,
    /// Requests received whose assessment is not logged yet (a case exists from then on).
    arrived: BTreeMap<i64, Arrival>,
    /// Preservation holds by case.
    pub holds: BTreeMap<i64, Hold>,
    /// Notices by case.
    pub notices: BTreeMap<i64, Notice>,
    /// Requests for extensions by number.
    pub extensions: BTreeMap<i64, Extension>,
    /// Packages by digest.
    pub evidence: BTreeMap<String, Evidence>,
    /// The payload digests of each emergency case that its authority confirmed.
    confirmed: BTreeMap<i64, std::collections::BTreeSet<String>>,
    /// Problems met while folding (an event that cannot apply, a decision its author's role
    /// did not allow, a request signed by a revoked key, …).
    pub findings: Vec<Finding>,
    /// Decisions (and requests for information) not yet communicated to the requester, by
    /// case: the event that recorded it and what the requester must be told.
    untold: BTreeMap<i64, (u64, Communicated)>,
    /// Postponed cases and the date each is postponed to.
    postponed: BTreeMap<i64, jiff::Timestamp>,
    /// Cases in consultation: the date each answer is due by, and when it was opened.
    consulting: BTreeMap<i64, (jiff::Timestamp, jiff::Timestamp)>,
    /// Cases whose conditions the requesting authority accepted (by event).
    conditions_accepted: BTreeMap<i64, u64>,
    /// Follow-ups and the preservation case each follows.
    follows: BTreeMap<i64, i64>,
    /// Follow-ups received whose link is not logged yet (by the event that received them).
    unlinked: BTreeMap<i64, u64>,
    /// The hold end each case was last warned of.
    lapse_warned: BTreeMap<i64, Timestamp>,
    /// Renewals granted through an extension and not yet logged as `preservation.renewed`:
    /// the granting event and the end granted.
    renewal_owed: BTreeMap<i64, (u64, Timestamp)>,
    /// Transparency reports published so far, and the ε they spent.
    reports: crate::ops::transparency::Reports,
    /// Call-back records waiting for a supervisor, by case.
    callbacks: BTreeMap<i64, crate::ops::CallbackRecord>,
    /// Cases whose emergency was denied (a confirmed call-back or a signed denial), by the
    /// event: each must fail verification in the same job.
    denied: BTreeMap<i64, u64>,
    /// Orders that must follow an emergency, by case.
    orders: BTreeMap<i64, OwedOrder>,
    /// Executions that waived prior authorization whose `order.due` is not logged yet (the
    /// event that executed).
    orders_unstarted: BTreeMap<i64, u64>,
    /// Each case's events so far (for the record its publication must carry), and the event
    /// that published each published case.
    case_log: BTreeMap<i64, Vec<crate::ops::CaseEventRef>>,
    published: BTreeMap<i64, u64>,
    /// Attachments as logged (`attachment.added`), in log order: the audit checks each file.
    pub attachments: Vec<crate::ops::attachment::Attachment>,
}

/// An order owed by a case, as its events say.
#[derive(Debug)]
struct OwedOrder {
    due_at: Timestamp,
    required: Vec<String>,
    received: bool,
    missed: bool,
    deletion_requested: bool,
}

/// A received request, before its assessment makes it a case.
#[derive(Debug)]
struct Arrival {
    authority_kid: String,
    request_id: String,
    payload_sha256: custos_ledger::Hash,
    request_json: String,
    request: Request,
    at: Timestamp,
}

/// The columns of a case that the request document sets.
fn set_request_fields(case: &mut Case, request: &Request) {
    case.measure = request.measure;
    case.requesting_state = request.requesting_authority.state.as_str().to_owned();
    case.channel = request.channel;
    case.emergency = request.emergency.as_ref().is_some_and(|x| x.claimed);
    case.confidentiality_until = request.confidentiality.as_ref().and_then(|c| c.until);
}

/// What the tables hold, read once, for [`Projections::diff`].
#[derive(Debug, Default)]
pub struct Tables {
    /// `authorities`.
    pub authorities: Vec<Authority>,
    /// `users` (role and whether a password is set).
    pub users: Vec<(String, Role, Timestamp, bool)>,
    /// `cases`.
    pub cases: Vec<Case>,
    /// `holds`.
    pub holds: Vec<Hold>,
    /// `notices`.
    pub notices: Vec<Notice>,
    /// `extensions`.
    pub extensions: Vec<Extension>,
    /// `evidence`.
    pub evidence: Vec<Evidence>,
    /// Cases whose transparency report columns differ from their own documents (migration
    /// 0008; the report counts these columns, so an edit of them alone would skew it).
    pub report_columns_differ: Vec<i64>,
}

fn text<'a>(body: &'a Value, field: &str) -> Result<&'a str, String> {
    body[field]
        .as_str()
        .ok_or_else(|| format!("{field} is missing or not text"))
}

fn time(body: &Value, field: &str) -> Result<Timestamp, String> {
    text(body, field)?
        .parse()
        .map_err(|e| format!("{field} is not a time: {e}"))
}

/// Whether the fold re-verifies each request's signature (the audit does; the node's start-up
/// check trusts the signed log for that and only decodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every request JWS under the key the log registered.
    Verify,
    /// Decode payloads without verifying.
    Decode,
}

impl Projections {
    /// Folds `events` (in log order) into projections.
    pub fn replay<'a>(
        events: impl IntoIterator<Item = &'a StoredEvent>,
        signatures: Signatures,
    ) -> Projections {
        let mut p = Projections::default();
        for e in events {
            p.apply(e, signatures);
        }
        p.finish();
        p
    }

    /// At the end of the log: a finding for every decision whose reply was never logged (the
    /// node logs it in the job that records the decision, so none is ever pending).
    pub fn finish(&mut self) {
        for (case, seq) in std::mem::take(&mut self.unlinked) {
            self.findings.push(Finding::new(
                "lifecycle",
                format!(
                    "case {case}: the request received at event {seq} follows another, but no preservation.followed links them"
                ),
            ));
        }
        for (case, (seq, _)) in std::mem::take(&mut self.renewal_owed) {
            self.findings.push(Finding::new(
                "lifecycle",
                format!("case {case}: the renewal granted at event {seq} never moved the hold"),
            ));
        }
        for (case, seq) in std::mem::take(&mut self.denied) {
            self.findings.push(Finding::new(
                "emergency",
                format!("case {case}: event {seq} denied the emergency, but the case never failed verification"),
            ));
        }
        for (case, seq) in std::mem::take(&mut self.orders_unstarted) {
            self.findings.push(Finding::new(
                "order",
                format!(
                    "case {case}: event {seq} executed an emergency that waived prior authorization, and no order was made due"
                ),
            ));
        }
        for (case, (seq, _)) in std::mem::take(&mut self.untold) {
            self.findings.push(Finding::new(
                "reply",
                format!(
                    "case {case}: what event {seq} decided was never communicated to the requester"
                ),
            ));
        }
    }

    /// Remembers what the requester of `e`'s case must be told next.
    fn owe_reply(&mut self, e: &StoredEvent, told: Communicated) {
        let Some(case) = e.case_id else { return };
        if let Some((seq, _)) = self.untold.insert(case, (e.seq, told)) {
            self.findings.push(Finding::new(
                "reply",
                format!(
                    "event {} ({}): case {case}: what event {seq} decided was never communicated to the requester",
                    e.seq, e.event_type
                ),
            ));
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, e: &StoredEvent, signatures: Signatures) {
        let body: Value = match serde_json::from_str(&e.body) {
            Ok(v) => v,
            Err(err) => {
                self.findings.push(Finding::new(
                    "event",
                    format!("event {}: body is not JSON ({err})", e.seq),
                ));
                return;
            }
        };
        if let Err(detail) = self.apply_body(e, &body, signatures) {
            self.findings.push(Finding::new(
                "event",
                format!("event {} ({}): {detail}", e.seq, e.event_type),
            ));
        }
        self.remember_case_event(e);
    }

    /// `attachment.added`: a valid record, on a case, by a reviewer, once per file and case.
    fn attachment_added(&mut self, e: &StoredEvent) -> Result<(), String> {
        let a = crate::ops::attachment::Attachment::of(e).ok_or("is not an attachment")??;
        self.case_mut(e)?;
        self.require_role(e, &a.by, Role::Reviewer, "adding an attachment");
        if let Some(first) = self
            .attachments
            .iter()
            .find(|x| x.case_id == a.case_id && x.blake3 == a.blake3)
        {
            return Err(format!(
                "attaches {} to case {} again (first at event {})",
                a.blake3, a.case_id, first.log_index
            ));
        }
        self.attachments.push(a);
        Ok(())
    }

    fn case_mut(&mut self, e: &StoredEvent) -> Result<&mut Case, String> {
        let id = e.case_id.ok_or("names no case")?;
        if self.arrived.contains_key(&id) {
            return Err(format!(
                "concerns case {id}, which was received but not yet assessed"
            ));
        }
        self.cases
            .get_mut(&id)
            .ok_or_else(|| format!("concerns case {id}, which no earlier event received"))
    }

    fn require_role(&mut self, e: &StoredEvent, who: &str, min: Role, what: &str) {
        let problem = match self.registry.users.get(who) {
            None => Some(format!("{who} is not a user the log knows")),
            Some(u) if u.role == Role::Auditor || u.role < min => Some(format!(
                "{who} was {} in the log; {what} needs {}",
                u.role.as_str(),
                min.as_str()
            )),
            Some(_) => None,
        };
        if let Some(p) = problem {
            self.findings.push(Finding::new(
                "role",
                format!("event {} ({}): {p}", e.seq, e.event_type),
            ));
        }
    }

    fn apply_body(
        &mut self,
        e: &StoredEvent,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(), String> {
        let at = e.at;
        let Some(kind) = e.kind() else {
            return Err(format!("unknown event type {:?}", e.event_type));
        };
        // Every kind has its arm: a kind added to the model does not compile here until the
        // replay folds it.
        match kind {
            EventType::AuthorityAdded
            | EventType::AuthorityRevoked
            | EventType::AuthorityConfirmationKeyAdded
            | EventType::AuthorityContactSet
            | EventType::UserAdded
            | EventType::UserPasswordSet => {
                self.registry.apply(e, body)?;
            }
            EventType::RequestReceived => {
                let (request_json, kid, payload_sha256) = self.arrival(e, body, signatures)?;
                let id = e.case_id.ok_or("names no case")?;
                let request = parse_request(request_json.as_bytes())
                    .map_err(|err| format!("the signed request does not parse: {err}"))?;
                if self.cases.contains_key(&id) || self.arrived.contains_key(&id) {
                    return Err(format!("receives case {id} a second time"));
                }
                // The case exists once its assessment is logged (the next event of the job).
                self.arrived.insert(
                    id,
                    Arrival {
                        authority_kid: kid,
                        request_id: text(body, "request_id")?.to_owned(),
                        payload_sha256,
                        request_json,
                        request,
                        at,
                    },
                );
            }
            EventType::RequestSupplemented => {
                let (request_json, kid, payload_sha256) = self.arrival(e, body, signatures)?;
                let id = e.case_id.ok_or("names no case")?;
                let request = parse_request(request_json.as_bytes())
                    .map_err(|err| format!("the signed request does not parse: {err}"))?;
                self.require_status(
                    e,
                    &[CaseStatus::AwaitingInformation, CaseStatus::InConsultation],
                );
                let case = self.case_mut(e)?;
                if case.authority_kid != kid {
                    return Err(format!("supplements case {id} from another authority"));
                }
                let old_follows = serde_json::from_str::<Request>(&case.request_json)
                    .ok()
                    .and_then(|r| r.follows);
                if old_follows != request.follows {
                    return Err(format!(
                        "supplements case {id} with another request to follow than it was received with"
                    ));
                }
                self.consulting.remove(&id);
                let case = self.case_mut(e)?;
                case.payload_sha256 = payload_sha256;
                case.request_json = request_json;
                // As ops::submit: corrections of the old document lapse with it.
                case.reclassification = None;
                set_request_fields(case, &request);
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
            }
            EventType::RequestAssessed => {
                let assessment: Assessment = serde_json::from_value(body["assessment"].clone())
                    .map_err(|err| format!("the assessment does not parse: {err}"))?;
                let id = e.case_id.ok_or("names no case")?;
                if let Some(a) = self.arrived.remove(&id) {
                    let mut case = Case {
                        case_id: id,
                        authority_kid: a.authority_kid,
                        request_id: a.request_id,
                        payload_sha256: a.payload_sha256,
                        request_json: a.request_json,
                        status: CaseStatus::Assessed,
                        outcome: assessment.outcome,
                        measure: a.request.measure,
                        requesting_state: String::new(),
                        channel: a.request.channel,
                        emergency: false,
                        received_at: a.at,
                        respond_by: assessment.deadlines.respond_by,
                        confidentiality_until: None,
                        notify_person_at: assessment.deadlines.notify_person_at,
                        assessment,
                        decision: None,
                        pending_decision: None,
                        reclassification: None,
                        updated_at: at,
                        assignee: None,
                    };
                    set_request_fields(&mut case, &a.request);
                    self.cases.insert(id, case);
                    if a.request.follows.is_some() {
                        self.unlinked.insert(id, e.seq);
                    }
                    return Ok(());
                }
                let case = self.case_mut(e)?;
                case.outcome = assessment.outcome;
                case.respond_by = assessment.deadlines.respond_by;
                case.notify_person_at = assessment.deadlines.notify_person_at;
                case.assessment = assessment;
                case.updated_at = at;
            }
            EventType::RequestInformationRequested => {
                let d = decision(body, "decision")?;
                self.require_role(e, &d.reviewer, Role::Reviewer, "asking for information");
                self.require_status(e, &[CaseStatus::Assessed, CaseStatus::AwaitingInformation]);
                let case = self.case_mut(e)?;
                case.status = CaseStatus::AwaitingInformation;
                case.updated_at = at;
                let told = Communicated::of(&d, Some(text(body, "message")?), at);
                self.owe_reply(e, told);
            }
            EventType::DecisionProposed => {
                let d = decision(body, "decision")?;
                self.require_verified(e, d.decision);
                self.require_role(e, &d.reviewer, Role::Reviewer, "proposing a decision");
                self.require_status(e, &[CaseStatus::Assessed, CaseStatus::AwaitingInformation]);
                let case = self.case_mut(e)?;
                case.status = CaseStatus::AwaitingSecondReview;
                case.pending_decision = Some(d);
                case.updated_at = at;
            }
            EventType::DecisionSecondReviewRejected => {
                let who = text(body, "reviewer")?.to_owned();
                let proposed = decision(body, "proposed")?;
                self.require_role(e, &who, Role::Supervisor, "a second review");
                self.require_status(e, &[CaseStatus::AwaitingSecondReview]);
                if who == proposed.reviewer {
                    self.four_eyes(e, &format!("{who} reviewed their own proposal"));
                }
                let case = self.case_mut(e)?;
                case.status = CaseStatus::Assessed;
                case.pending_decision = None;
                case.updated_at = at;
            }
            EventType::EmergencyConfirmed => {
                self.emergency_confirmed(e, body, signatures)?;
            }
            EventType::EmergencyDenied => {
                let (signed, _) = self.signed_by_confirmation_key(e, body, signatures)?;
                if signed["reason"]
                    .as_str()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    return Err("a denial without a reason".into());
                }
                self.require_status(e, &crate::ops::emergency::UNDECIDED);
                let id = self.case_mut(e)?.case_id;
                self.denied.insert(id, e.seq);
            }
            EventType::EmergencyCallbackRecorded => {
                let r: crate::ops::CallbackRecord = serde_json::from_value(body["record"].clone())
                    .map_err(|err| format!("record is not a call-back record: {err}"))?;
                self.require_role(e, &r.reviewer, Role::Reviewer, "recording a call-back");
                self.require_status(e, &crate::ops::emergency::UNDECIDED);
                let contacts = self.registry.contacts.clone();
                let case = self.case_mut(e)?;
                let id = case.case_id;
                // As ops: only the directory's contact, never a number from the request.
                if contacts.get(&case.authority_kid) != Some(&r.contact) {
                    return Err(format!(
                        "case {id}: the call-back went to a contact that is not the one the directory had for {}",
                        case.authority_kid
                    ));
                }
                if !case.emergency || r.request_sha256 != case.payload_sha256.to_hex() {
                    return Err("a call-back over no emergency, or another version of it".into());
                }
                if r.seq != e.seq || r.reached.trim().is_empty() || r.confirmed_by.is_some() {
                    return Err("the record is not as ops writes it".into());
                }
                if self.callbacks.insert(id, r).is_some() {
                    return Err("a call-back recorded while another waits".into());
                }
            }
            EventType::EmergencyCallbackConfirmed | EventType::EmergencyCallbackRejected => {
                let who = text(body, "reviewer")?.to_owned();
                self.require_role(e, &who, Role::Supervisor, "confirming a call-back");
                self.require_status(e, &crate::ops::emergency::UNDECIDED);
                let id = self.case_mut(e)?.case_id;
                let pending = self
                    .callbacks
                    .remove(&id)
                    .ok_or("reviews a call-back that no record awaits")?;
                if body["recorded"].as_u64() != Some(pending.seq) {
                    return Err("reviews another call-back than the one waiting".into());
                }
                if who == pending.reviewer {
                    self.four_eyes(e, &format!("{who} confirmed their own call-back"));
                }
                if kind == EventType::EmergencyCallbackConfirmed {
                    let current = self.case_mut(e)?.payload_sha256.to_hex();
                    match pending.outcome {
                        crate::ops::CallbackOutcome::Confirmed
                            if pending.request_sha256 == current =>
                        {
                            self.confirmed.entry(id).or_default().insert(current);
                        }
                        crate::ops::CallbackOutcome::Denied => {
                            self.denied.insert(id, e.seq);
                        }
                        _ => {}
                    }
                }
            }
            EventType::EmergencyVerificationFailed => {
                self.require_status(e, &crate::ops::emergency::UNDECIDED);
                let case = self.case_mut(e)?;
                let id = case.case_id;
                if text(body, "ground")? != crate::ops::VERIFICATION_FAILED {
                    return Err("fails verification on another ground".into());
                }
                case.status = CaseStatus::Refused;
                case.pending_decision = None;
                if let Some(r) = case.reclassification.as_mut() {
                    r.pending = None;
                }
                case.updated_at = at;
                self.callbacks.remove(&id);
                if self.denied.remove(&id).is_none() {
                    self.findings.push(Finding::new(
                        "emergency",
                        format!(
                            "event {} ({}): case {id} failed verification, but its authority denied nothing (no signed denial, no confirmed call-back denying it)",
                            e.seq, e.event_type
                        ),
                    ));
                }
                let mut told = crate::ops::emergency::failed_reply(at);
                told.reason = text(body, "reason")?.to_owned();
                self.owe_reply(e, told);
            }
            EventType::DecisionRecorded => {
                let d = decision(body, "decision")?;
                self.require_verified(e, d.decision);
                self.require_role(e, &d.reviewer, Role::Reviewer, "recording a decision");
                if d.confirmed_by.is_some() {
                    self.require_status(e, &[CaseStatus::AwaitingSecondReview]);
                } else {
                    self.require_status(
                        e,
                        &[CaseStatus::Assessed, CaseStatus::AwaitingInformation],
                    );
                }
                if let Some(second) = &d.confirmed_by {
                    self.require_role(e, second, Role::Supervisor, "a second review");
                    if second == &d.reviewer {
                        self.four_eyes(e, &format!("{second} confirmed their own decision"));
                    }
                }
                let case = self.case_mut(e)?;
                let executes = matches!(
                    d.decision,
                    DecisionKind::Execute | DecisionKind::ExecuteNarrowed
                );
                // As ops::decide: executing over a refusal or a request for information needs a
                // second reviewer; over a referral, a reason for each referred finding.
                let waived = case.outcome;
                let unconfirmed_override = executes
                    && matches!(waived, Outcome::Refuse | Outcome::NeedsInformation)
                    && d.confirmed_by.is_none();
                let unreasoned: Vec<String> = if executes && waived == Outcome::ReferForReview {
                    case.assessment
                        .findings
                        .iter()
                        .filter(|f| f.severity == custos_model::Severity::ReferForReview)
                        .filter(|f| {
                            d.finding_reasons
                                .get(&f.code)
                                .is_none_or(|r| r.trim().is_empty())
                        })
                        .map(|f| f.code.clone())
                        .collect()
                } else {
                    vec![]
                };
                case.decision = Some(d.clone());
                case.pending_decision = None;
                case.updated_at = at;
                case.status = match d.decision {
                    DecisionKind::Refuse => CaseStatus::Refused,
                    DecisionKind::Execute | DecisionKind::ExecuteNarrowed => CaseStatus::Executing,
                    DecisionKind::RequestInformation => {
                        return Err("records a request for information as a decision".into());
                    }
                };
                let (case_id, notify_at) = (case.case_id, case.notify_person_at);
                if executes && crate::ops::order::waived(case) {
                    self.orders_unstarted.insert(case_id, e.seq);
                }
                self.owe_reply(e, Communicated::of(&d, None, at));
                if unconfirmed_override {
                    self.four_eyes(
                        e,
                        &format!(
                            "case {case_id} was executed over a {waived} recommendation without a second reviewer"
                        ),
                    );
                }
                if !unreasoned.is_empty() {
                    self.findings.push(Finding::new(
                        "reasons",
                        format!(
                            "event {} ({}): case {case_id} was executed over a referral without a reason for {}",
                            e.seq,
                            e.event_type,
                            unreasoned.join(", ")
                        ),
                    ));
                }
                if executes && let Some(notify_at) = notify_at {
                    // As ops::start_execution: secrecy narrowed by the reviewer ends the wait
                    // for the notice earlier.
                    let due_at = match d.narrowed.as_ref().and_then(|n| n.confidentiality_until) {
                        Some(until) => until.max(at).min(notify_at),
                        None => notify_at,
                    };
                    self.notices.insert(
                        case_id,
                        Notice {
                            case_id,
                            due_at,
                            ended_at: None,
                            sent_at: None,
                            attempts: 0,
                            last_error: None,
                            last_attempt_at: None,
                        },
                    );
                }
            }
            EventType::RequestReclassificationProposed => {
                let r = reclassification(body, "reclassification")?;
                let assessment = logged_assessment(body)?;
                self.require_role(
                    e,
                    &r.reviewer,
                    Role::Reviewer,
                    "proposing a reclassification",
                );
                self.require_status(e, &[CaseStatus::Assessed, CaseStatus::AwaitingInformation]);
                let case = self.case_mut(e)?;
                if r.outcome_before != case.outcome || r.outcome_after != assessment.outcome {
                    return Err(format!(
                        "the proposal says {} → {}, the case was {} and the assessment says {}",
                        r.outcome_before, r.outcome_after, case.outcome, assessment.outcome
                    ));
                }
                let original = case.assessment.clone();
                case.reclassification
                    .get_or_insert_with(|| CaseReclassification {
                        original,
                        corrections: vec![],
                        pending: None,
                    })
                    .pending = Some(PendingReclassification {
                    reclassification: r,
                    assessment,
                });
                case.status = CaseStatus::AwaitingSecondReview;
                case.updated_at = at;
            }
            EventType::RequestReclassificationRejected => {
                let who = text(body, "reviewer")?.to_owned();
                let proposed = reclassification(body, "proposed")?;
                self.require_role(e, &who, Role::Supervisor, "a second review");
                self.require_status(e, &[CaseStatus::AwaitingSecondReview]);
                if who == proposed.reviewer {
                    self.four_eyes(e, &format!("{who} reviewed their own correction"));
                }
                let case = self.case_mut(e)?;
                let pending = case
                    .reclassification
                    .as_mut()
                    .and_then(|r| r.pending.take());
                if pending.is_none_or(|p| p.reclassification != proposed) {
                    return Err("rejects a correction that was not the one proposed".into());
                }
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
            }
            EventType::RequestReclassified => {
                let r = reclassification(body, "reclassification")?;
                let assessment = logged_assessment(body)?;
                self.require_role(e, &r.reviewer, Role::Reviewer, "a reclassification");
                if let Some(second) = &r.confirmed_by {
                    self.require_status(e, &[CaseStatus::AwaitingSecondReview]);
                    self.require_role(e, second, Role::Supervisor, "a second review");
                    if second == &r.reviewer {
                        self.four_eyes(e, &format!("{second} confirmed their own correction"));
                    }
                } else {
                    self.require_status(
                        e,
                        &[CaseStatus::Assessed, CaseStatus::AwaitingInformation],
                    );
                }
                let case = self.case_mut(e)?;
                let case_id = case.case_id;
                let pending = case
                    .reclassification
                    .as_mut()
                    .and_then(|r| r.pending.take());
                if r.confirmed_by.is_some() {
                    let proposed = pending.map(|p| {
                        let mut p = p.reclassification;
                        p.confirmed_by.clone_from(&r.confirmed_by);
                        p
                    });
                    if proposed.as_ref() != Some(&r) {
                        return Err("confirms a correction that was not the one proposed".into());
                    }
                }
                if r.outcome_before != case.outcome || r.outcome_after != assessment.outcome {
                    return Err(format!(
                        "the correction says {} → {}, the case was {} and the assessment says {}",
                        r.outcome_before, r.outcome_after, case.outcome, assessment.outcome
                    ));
                }
                // As ops::reclassify: a correction that lightens the recommendation needs a
                // second reviewer.
                let unconfirmed = r.confirmed_by.is_none()
                    && crate::ops::reclassification::needs_second_reviewer(
                        r.outcome_before,
                        r.outcome_after,
                    );
                let (before, after) = (r.outcome_before, r.outcome_after);
                let original = case.assessment.clone();
                let doc = case
                    .reclassification
                    .get_or_insert_with(|| CaseReclassification {
                        original,
                        corrections: vec![],
                        pending: None,
                    });
                doc.corrections.push(r);
                case.outcome = assessment.outcome;
                case.respond_by = assessment.deadlines.respond_by;
                case.notify_person_at = assessment.deadlines.notify_person_at;
                case.assessment = assessment;
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
                if unconfirmed {
                    self.four_eyes(
                        e,
                        &format!(
                            "case {case_id} was reclassified from {before} to {after} without a second reviewer"
                        ),
                    );
                }
            }
            EventType::ReplyCommunicated => {
                let told: Communicated = serde_json::from_value(body["communicated"].clone())
                    .map_err(|err| format!("communicated is not a decision as told: {err}"))?;
                let status: ReplyStatus = serde_json::from_value(body["status"].clone())
                    .map_err(|err| format!("status is not a reply status: {err}"))?;
                let case = self.case_mut(e)?;
                let (id, actual) = (case.case_id, ReplyStatus::of(case.status));
                let mut wrong = Vec::new();
                if status != actual {
                    wrong.push(format!(
                        "it tells the requester {} where the case was {} in the log",
                        json_name(&status),
                        json_name(&actual)
                    ));
                }
                match self.untold.remove(&id) {
                    None => {
                        wrong.push("it communicates a decision no earlier event recorded".into())
                    }
                    Some((seq, expected)) => {
                        let differ = told_differences(&told, &expected);
                        if !differ.is_empty() {
                            wrong.push(format!(
                                "it differs from what event {seq} decided in {}",
                                differ.join(", ")
                            ));
                        }
                    }
                }
                for w in wrong {
                    self.findings.push(Finding::new(
                        "reply",
                        format!("event {} ({}): case {id}: {w}", e.seq, e.event_type),
                    ));
                }
            }
            EventType::PreservationStarted => {
                let id = self.case_mut(e)?.case_id;
                self.holds.insert(
                    id,
                    Hold {
                        case_id: id,
                        started_at: at,
                        expires_at: time(body, "expires_at")?,
                        renewals: 0,
                        released_at: None,
                    },
                );
            }
            EventType::PreservationRenewed => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "renewing a hold");
                let id = e.case_id.ok_or("names no case")?;
                let expires_at = time(body, "expires_at")?;
                if let Some((seq, granted)) = self.renewal_owed.remove(&id)
                    && granted != expires_at
                {
                    return Err(format!(
                        "renews the hold to {expires_at}, not to {granted} as event {seq} granted"
                    ));
                }
                let hold = self
                    .holds
                    .get_mut(&id)
                    .ok_or("renews a hold never started")?;
                hold.expires_at = expires_at;
                hold.renewals += 1;
            }
            EventType::PreservationReleased => {
                let id = e.case_id.ok_or("names no case")?;
                // A person's early release (`ops::release_hold`) names who, with a reason.
                if let Some(who) = body.get("by") {
                    let who = who.as_str().ok_or("by is not a text")?.to_owned();
                    self.require_role(e, &who, Role::Reviewer, "releasing a hold");
                    if text(body, "reason")?.trim().is_empty() {
                        return Err("releases a hold without a reason".into());
                    }
                }
                // The scheduler's release names the date that passed; a withdrawal its reason.
                let lapsed = body.get("expired_at").is_some();
                let keeper = self.follow_up_pending(id);
                let hold = self
                    .holds
                    .get_mut(&id)
                    .ok_or("releases a hold never started")?;
                if lapsed && at < hold.expires_at {
                    return Err(format!(
                        "releases the hold of case {id} before its date ({})",
                        hold.expires_at
                    ));
                }
                hold.released_at = Some(at);
                if let (true, Some(follower)) = (lapsed, keeper) {
                    self.findings.push(Finding::new(
                        "lifecycle",
                        format!(
                            "event {} ({}): the hold of case {id} was released while its follow-up, case {follower}, was pending",
                            e.seq, e.event_type
                        ),
                    ));
                }
            }
            EventType::PreservationFollowed => {
                self.preservation_followed(e, body)?;
            }
            EventType::PreservationLapseWarned => {
                let id = e.case_id.ok_or("names no case")?;
                let expires_at = time(body, "expires_at")?;
                let days_before = body["days_before"]
                    .as_i64()
                    .ok_or("days_before is not a number")?;
                let keeper = self.follow_up_pending(id);
                let hold = self
                    .holds
                    .get(&id)
                    .filter(|h| h.released_at.is_none())
                    .ok_or("warns of the lapse of a hold not in force")?;
                if hold.expires_at != expires_at {
                    return Err(format!(
                        "warns of a lapse on {expires_at}; the hold ends on {}",
                        hold.expires_at
                    ));
                }
                if at >= expires_at
                    || at < expires_at - jiff::SignedDuration::from_hours(24 * days_before)
                {
                    return Err(format!(
                        "warns at {at} of a lapse on {expires_at}, not within the {days_before} days before it"
                    ));
                }
                if let Some(follower) = keeper {
                    return Err(format!(
                        "warns of a lapse while follow-up case {follower} keeps the hold"
                    ));
                }
                if self.lapse_warned.insert(id, expires_at) == Some(expires_at) {
                    return Err(format!("warns of the lapse on {expires_at} a second time"));
                }
                self.holds_released(e);
            }
            EventType::ConfidentialityEnded => {
                // An event of the scheduler's pass, after its releases.
                self.holds_released(e);
                let id = e.case_id.ok_or("names no case")?;
                let n = self.notices.get_mut(&id).ok_or("no notice was owed")?;
                n.ended_at = Some(at);
            }
            EventType::NoticeSent | EventType::NoticeFailed => {
                let id = e.case_id.ok_or("names no case")?;
                // Given by hand (`ops::act_on_notice`): a reviewer says so.
                if kind == EventType::NoticeSent && body.get("by_hand").is_some() {
                    let who = text(body, "by")?.to_owned();
                    self.require_role(e, &who, Role::Reviewer, "recording a notice given by hand");
                }
                let n = self.notices.get_mut(&id).ok_or("no notice was owed")?;
                if n.sent_at.is_some() {
                    return Err("records a delivery of a notice already sent".into());
                }
                n.attempts = body["attempt"].as_i64().ok_or("attempt is not a number")?;
                n.last_attempt_at = Some(at);
                if kind == EventType::NoticeSent {
                    n.sent_at = Some(at);
                    n.last_error = None;
                } else {
                    n.last_error = Some(text(body, "error")?.to_owned());
                }
            }
            EventType::NoticeDeferred => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "deferring a notice");
                if text(body, "reason")?.trim().is_empty() {
                    return Err("defers a notice without a reason".into());
                }
                let id = e.case_id.ok_or("names no case")?;
                let due_at = time(body, "due_at")?;
                let n = self.notices.get_mut(&id).ok_or("no notice was owed")?;
                if n.sent_at.is_some() {
                    return Err("defers a notice already sent".into());
                }
                n.due_at = due_at;
            }
            EventType::ExtensionRequested => {
                let case = self.case_mut(e)?;
                let (case_id, authority) = (case.case_id, case.authority_kid.clone());
                let by = text(body, "by")?.to_owned();
                if by != authority {
                    self.findings.push(Finding::new(
                        "signature",
                        format!(
                            "event {} ({}): {by} asked to extend a deadline of case {case_id}, which {authority} sent",
                            e.seq, e.event_type
                        ),
                    ));
                }
                let kind: ExtensionKind = text(body, "kind")?
                    .parse()
                    .map_err(|_| "kind is not a kind of extension")?;
                let id = i64::try_from(e.seq).map_err(|x| x.to_string())?;
                self.extensions.insert(
                    id,
                    Extension {
                        extension_id: id,
                        case_id,
                        kind,
                        asked_by: by,
                        asked_at: at,
                        current_until: time(body, "current_until")?,
                        asked_until: time(body, "until")?,
                        reasons: text(body, "reasons")?.to_owned(),
                        status: ExtensionStatus::Pending,
                        decided_by: None,
                        decided_at: None,
                        granted_until: None,
                        decision_reason: None,
                    },
                );
            }
            EventType::ExtensionGranted | EventType::ExtensionRefused => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "deciding an extension");
                let id = body["extension"]
                    .as_i64()
                    .ok_or("extension is not a number")?;
                let case_id = self.case_mut(e)?.case_id;
                let x = self
                    .extensions
                    .get_mut(&id)
                    .filter(|x| x.case_id == case_id)
                    .ok_or_else(|| {
                        format!("decides extension {id}, which this case never asked")
                    })?;
                if x.status != ExtensionStatus::Pending {
                    return Err(format!("decides extension {id} a second time"));
                }
                x.decided_by = Some(who);
                x.decided_at = Some(at);
                x.decision_reason = Some(text(body, "reason")?.to_owned());
                if kind == EventType::ExtensionRefused {
                    x.status = ExtensionStatus::Refused;
                    return Ok(());
                }
                let until = time(body, "until")?;
                x.status = ExtensionStatus::Granted;
                x.granted_until = Some(until);
                let kind = x.kind;
                match kind {
                    ExtensionKind::Preservation => {
                        if self
                            .holds
                            .get(&case_id)
                            .is_none_or(|h| h.released_at.is_some())
                        {
                            return Err(format!(
                                "renews the hold of case {case_id}, which has none in force"
                            ));
                        }
                        // The grant's `preservation.renewed` moves it (the next event).
                        self.renewal_owed.insert(case_id, (e.seq, until));
                    }
                    ExtensionKind::Confidentiality => {
                        if let Some(n) = self.notices.get_mut(&case_id) {
                            if n.ended_at.is_some() || n.sent_at.is_some() {
                                return Err(format!(
                                    "extends the confidentiality of case {case_id} after it ended"
                                ));
                            }
                            n.due_at = until;
                        }
                        let case = self.case_mut(e)?;
                        case.confidentiality_until = Some(until);
                        if case.notify_person_at.is_some() {
                            case.notify_person_at = Some(until);
                        }
                        case.updated_at = at;
                    }
                }
            }
            EventType::ConsultationOpened => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "consulting the requester");
                self.require_status(e, &[CaseStatus::Assessed]);
                let answer_by = time(body, "answer_by")?;
                if answer_by <= at {
                    return Err(format!(
                        "asks an answer by {answer_by}, not later than itself"
                    ));
                }
                let case = self.case_mut(e)?;
                case.status = CaseStatus::InConsultation;
                case.updated_at = at;
                let id = case.case_id;
                self.consulting.insert(id, (answer_by, at));
            }
            EventType::ConsultationAnswered => {
                let (payload, kid, digest) = self.signed(e, body, signatures)?;
                let input: crate::ops::ConsultationAnswerInput =
                    serde_json::from_slice(&payload)
                        .map_err(|err| format!("the signed answer does not parse: {err}"))?;
                self.require_status(e, &[CaseStatus::InConsultation]);
                let case = self.case_mut(e)?;
                if case.authority_kid != kid {
                    return Err(format!(
                        "answers the consultation of case {} by another authority",
                        case.case_id
                    ));
                }
                if input.request_id != case.request_id
                    || digest.to_hex() != text(body, "payload_sha256")?
                {
                    return Err("the signed answer names another request".into());
                }
                let id = case.case_id;
                let (_, opened) = self
                    .consulting
                    .remove(&id)
                    .ok_or("answers a consultation never opened")?;
                let case = self.case_mut(e)?;
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
                // As ops::consultation: the clock stood still while the requester was asked.
                case.respond_by =
                    crate::ops::consultation::resumed_due(case.respond_by, opened, at);
            }
            EventType::ConsultationLapsed => {
                // An event of the scheduler's pass, after its releases.
                self.holds_released(e);
                self.require_status(e, &[CaseStatus::InConsultation]);
                let id = e.case_id.ok_or("names no case")?;
                let (answer_by, opened) = self
                    .consulting
                    .remove(&id)
                    .ok_or("lapses a consultation never opened")?;
                if at < answer_by {
                    return Err(format!(
                        "lapses the consultation of case {id} before its date ({answer_by})"
                    ));
                }
                let case = self.case_mut(e)?;
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
                case.respond_by =
                    crate::ops::consultation::resumed_due(case.respond_by, opened, at);
            }
            EventType::ConfidentialityLimited => {
                // Logged with the assessment that limited it (the same job).
                let case = self.case_mut(e)?;
                let asked = serde_json::from_str::<Request>(&case.request_json)
                    .ok()
                    .and_then(|r| r.confidentiality)
                    .filter(|c| c.requested);
                if asked.is_none() {
                    return Err("limits a confidentiality the request did not ask".into());
                }
                if case
                    .assessment
                    .narrowed
                    .and_then(|n| n.confidentiality_until)
                    != Some(time(body, "limited_to")?)
                {
                    return Err("limits confidentiality to another end than the assessment".into());
                }
            }
            EventType::RequestPostponed => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "postponing a case");
                self.require_status(e, &[CaseStatus::Assessed]);
                let until = time(body, "until")?;
                if until <= at {
                    return Err(format!("postpones to {until}, not later than itself"));
                }
                let case = self.case_mut(e)?;
                case.status = CaseStatus::Postponed;
                case.updated_at = at;
                let id = case.case_id;
                self.postponed.insert(id, until);
            }
            EventType::RequestResumed => {
                // An event of the scheduler's pass, after its releases.
                self.holds_released(e);
                self.require_status(e, &[CaseStatus::Postponed]);
                let id = e.case_id.ok_or("names no case")?;
                let until = self
                    .postponed
                    .remove(&id)
                    .ok_or("resumes a case never postponed")?;
                if at < until {
                    return Err(format!(
                        "resumes case {id} before the date of its postponement ({until})"
                    ));
                }
                let case = self.case_mut(e)?;
                case.status = CaseStatus::Assessed;
                case.updated_at = at;
            }
            EventType::RequestWithdrawn => {
                let (payload, kid, digest) = self.signed(e, body, signatures)?;
                let input: crate::ops::WithdrawalInput = serde_json::from_slice(&payload)
                    .map_err(|err| format!("the signed withdrawal does not parse: {err}"))?;
                self.require_status(e, &crate::ops::withdrawal::WITHDRAWABLE);
                let case = self.case_mut(e)?;
                if case.authority_kid != kid {
                    return Err(format!(
                        "withdraws case {} by another authority",
                        case.case_id
                    ));
                }
                if input.request_id != case.request_id
                    || digest.to_hex() != text(body, "payload_sha256")?
                {
                    return Err("the signed withdrawal names another request".into());
                }
                case.status = CaseStatus::Withdrawn;
                case.pending_decision = None;
                case.updated_at = at;
                let id = case.case_id;
                self.postponed.remove(&id);
                self.consulting.remove(&id);
            }
            EventType::RequestDelivered | EventType::RequestClosed => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "changing a case's status");
                if kind == EventType::RequestDelivered {
                    self.require_status(e, &[CaseStatus::Executing]);
                } else {
                    self.require_status(
                        e,
                        &[
                            CaseStatus::Executing,
                            CaseStatus::Delivered,
                            CaseStatus::Refused,
                            CaseStatus::Withdrawn,
                        ],
                    );
                }
                let case = self.case_mut(e)?;
                case.status = if kind == EventType::RequestDelivered {
                    CaseStatus::Delivered
                } else {
                    CaseStatus::Closed
                };
                case.updated_at = at;
            }
            EventType::EvidenceSealed => {
                self.require_status(e, &[CaseStatus::Executing, CaseStatus::Delivered]);
                let id = self.case_mut(e)?.case_id;
                let digest = package_of(body)?;
                let sha = digest.hex().to_owned();
                if self.evidence.contains_key(&sha) {
                    return Err(format!("package {sha} is sealed a second time"));
                }
                self.evidence.insert(
                    sha.clone(),
                    Evidence {
                        package_digest: sha,
                        digest_kind: digest.kind(),
                        case_id: id,
                        size: body["size"].as_i64().ok_or("size is not a number")?,
                        manifest_sha256: text(body, "manifest_sha256")?.to_owned(),
                        recipient: text(body, "recipient")?.to_owned(),
                        sealed_seq: i64::try_from(e.seq).map_err(|x| x.to_string())?,
                        sealed_at: at,
                        delivered_at: None,
                        destroyed_at: None,
                    },
                );
                self.sealed_targets(e, body)?;
            }
            EventType::ConditionsAccepted | EventType::ConditionsDeclined => {
                self.require_status(e, &[CaseStatus::Executing, CaseStatus::Delivered]);
                let accepted = self
                    .conditions_accepted
                    .get(&e.case_id.unwrap_or(-1))
                    .copied();
                let case = self.case_mut(e)?;
                let id = case.case_id;
                let conditions = case
                    .decision
                    .as_ref()
                    .map(|d| d.conditions.clone())
                    .unwrap_or_default();
                if conditions.is_empty() {
                    return Err(format!(
                        "answers the conditions of case {id}, whose decision set none"
                    ));
                }
                let expected =
                    crate::ops::conditions_sha256(&conditions).map_err(|p| p.detail.clone())?;
                let signed = text(body, "conditions_sha256")?;
                if signed != expected {
                    return Err(format!(
                        "answers conditions with digest {signed}; the decision's are {expected}"
                    ));
                }
                if let Some(seq) = accepted {
                    return Err(format!(
                        "answers the conditions of case {id} again after event {seq} accepted them"
                    ));
                }
                if kind == EventType::ConditionsAccepted {
                    self.conditions_accepted.insert(id, e.seq);
                }
            }
            EventType::EvidenceDelivered => {
                let digest = package_of(body)?;
                let sha = digest.hex();
                if let Some(id) = e.case_id
                    && !self.conditions_accepted.contains_key(&id)
                    && self
                        .cases
                        .get(&id)
                        .and_then(|c| c.decision.as_ref())
                        .is_some_and(|d| !d.conditions.is_empty())
                {
                    return Err(format!(
                        "releases {sha} of case {id} before its conditions were accepted"
                    ));
                }
                let p = self
                    .evidence
                    .get_mut(sha)
                    .filter(|p| p.digest_kind == digest.kind())
                    .ok_or_else(|| format!("delivers {digest}, which was never sealed"))?;
                if p.destroyed_at.is_some() {
                    return Err(format!("delivers {sha} after its destruction"));
                }
                p.delivered_at.get_or_insert(at);
                let case = self.case_mut(e)?;
                if case.status == CaseStatus::Executing {
                    case.status = CaseStatus::Delivered;
                    case.updated_at = at;
                }
            }
            EventType::OrderDue
            | EventType::OrderReceived
            | EventType::OrderMissed
            | EventType::DeletionRequested => {
                self.order_event(e, kind, body, signatures)?;
            }
            EventType::CasePublished => self.published(e, body)?,
            EventType::EvidenceDestroyed => {
                let digest = package_of(body)?;
                self.evidence
                    .get_mut(digest.hex())
                    .filter(|p| p.digest_kind == digest.kind())
                    .ok_or_else(|| format!("destroys {digest}, which was never sealed"))?
                    .destroyed_at = Some(at);
            }
            // Published once per period, within the budget written with it, consistent.
            EventType::ReportPublished => self.reports.apply(e)?,
            EventType::AttachmentAdded => self.attachment_added(e)?,
            EventType::CaseAssigned | EventType::CaseUnassigned | EventType::NoteAdded => {
                self.desk_event(e, kind, body)?;
            }
        }
        Ok(())
    }

    /// A change the lifecycle does not allow from the case's logged status: the node acted on
    /// a case table that said otherwise.
    /// The first pending follow-up of `case` (a preservation), if any: it keeps the hold.
    fn follow_up_pending(&self, case: i64) -> Option<i64> {
        self.follows
            .iter()
            .filter(|&(_, &followed)| followed == case)
            .map(|(&follower, _)| follower)
            .find(|f| {
                self.cases
                    .get(f)
                    .is_some_and(|c| crate::ops::follow_up::pending(c.status))
            })
    }

    /// At an event of the scheduler's pass after its releases: every hold whose date passed is
    /// released, unless a pending follow-up keeps it.
    fn holds_released(&mut self, e: &StoredEvent) {
        let kept: Vec<(i64, Timestamp)> = self
            .holds
            .values()
            .filter(|h| h.released_at.is_none() && h.expires_at <= e.at)
            .map(|h| (h.case_id, h.expires_at))
            .collect();
        for (case, expires_at) in kept {
            if self.follow_up_pending(case).is_none() {
                self.findings.push(Finding::new(
                    "lifecycle",
                    format!(
                        "event {} ({}): the hold of case {case} ended on {expires_at} but the scheduler kept it without a pending follow-up",
                        e.seq, e.event_type
                    ),
                ));
            }
        }
    }

    /// `preservation.followed`: the follow-up's request names the followed one, which is a
    /// preservation of the same authority.
    fn preservation_followed(&mut self, e: &StoredEvent, body: &Value) -> Result<(), String> {
        let id = e.case_id.ok_or("names no case")?;
        let followed = body["follows_case"]
            .as_i64()
            .ok_or("follows_case is not a number")?;
        let followed_request = text(body, "follows_request_id")?.to_owned();
        let follower = self.case_mut(e)?;
        let names = serde_json::from_str::<Request>(&follower.request_json)
            .ok()
            .and_then(|r| r.follows);
        let kid = follower.authority_kid.clone();
        if names.as_ref().map(|f| f.as_str()) != Some(followed_request.as_str()) {
            return Err(format!(
                "links case {id} to request {followed_request:?}, which its request does not follow"
            ));
        }
        let target = self
            .cases
            .get(&followed)
            .ok_or_else(|| format!("links case {id} to case {followed}, which does not exist"))?;
        if target.authority_kid != kid || target.request_id != followed_request {
            return Err(format!(
                "links case {id} to case {followed}, which is not its authority's request {followed_request:?}"
            ));
        }
        if !target.measure.is_preservation() {
            return Err(format!(
                "links case {id} to case {followed}, which is not a preservation"
            ));
        }
        if self.unlinked.remove(&id).is_none() || self.follows.insert(id, followed).is_some() {
            return Err(format!("links case {id} a second time"));
        }
        Ok(())
    }

    fn require_status(&mut self, e: &StoredEvent, allowed: &[CaseStatus]) {
        let Some(status) = e
            .case_id
            .and_then(|id| self.cases.get(&id))
            .map(|c| c.status)
        else {
            return;
        };
        if !allowed.contains(&status) {
            self.findings.push(Finding::new(
                "lifecycle",
                format!(
                    "event {} ({}): case {} was {} in the log, where this is not allowed",
                    e.seq,
                    e.event_type,
                    e.case_id.unwrap_or_default(),
                    status.as_str()
                ),
            ));
        }
    }

    /// `evidence.sealed` names the targets it covers, each once, each produced by the decision
    /// in force when it was sealed (as `ops::evidence::covered_targets`). A finding names
    /// positions, never a target identifier.
    fn sealed_targets(&mut self, e: &StoredEvent, body: &Value) -> Result<(), String> {
        let named = body["targets"]
            .as_array()
            .ok_or("names no targets (an array of target values)")?;
        let case = self.case_mut(e)?;
        let id = case.case_id;
        let produced = crate::ops::evidence::produced_targets(case)
            .map_err(|p| p.detail)?
            .unwrap_or_default();
        let mut wrong = Vec::new();
        if named.is_empty() {
            wrong.push("it covers no target".to_owned());
        }
        for (i, v) in named.iter().enumerate() {
            let Some(v) = v.as_str() else {
                wrong.push(format!("target {} is not a text", i + 1));
                continue;
            };
            if !produced.iter().any(|p| p.as_str() == v) {
                wrong.push(format!(
                    "target {} is not among the {} the decision in force produces",
                    i + 1,
                    produced.len()
                ));
            } else if named[..i].iter().any(|o| o.as_str() == Some(v)) {
                wrong.push(format!("target {} is named twice", i + 1));
            }
        }
        if !wrong.is_empty() {
            self.findings.push(Finding::new(
                "evidence",
                format!(
                    "event {} (evidence.sealed): a package of case {id} sealed for what was not produced: {}",
                    e.seq,
                    wrong.join("; ")
                ),
            ));
        }
        Ok(())
    }

    fn four_eyes(&mut self, e: &StoredEvent, detail: &str) {
        self.findings.push(Finding::new(
            "four-eyes",
            format!("event {} ({}): {detail}", e.seq, e.event_type),
        ));
    }

    /// The request document of an arrival, its signer and digest, with the signature checked
    /// against the directory as the log had it at that moment.
    /// `emergency.confirmed`: signed by a confirmation key of the case's own authority, over
    /// the request's id and its payload in force (as `ops::emergency::confirm`).
    fn emergency_confirmed(
        &mut self,
        e: &StoredEvent,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(), String> {
        let (_, current) = self.signed_by_confirmation_key(e, body, signatures)?;
        let case_id = self.case_mut(e)?.case_id;
        self.confirmed.entry(case_id).or_default().insert(current);
        Ok(())
    }

    /// A confirmation or denial: signed by a confirmation key of the case's own authority, over
    /// the request's id and its payload in force, on an emergency. The signed payload and the
    /// digest.
    fn signed_by_confirmation_key(
        &mut self,
        e: &StoredEvent,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(Value, String), String> {
        let kid = text(body, "kid")?;
        let jws = text(body, "jws")?;
        let key = self
            .registry
            .confirmation_keys
            .get(kid)
            .cloned()
            .ok_or_else(|| format!("signed by {kid}, which is no confirmation key"))?;
        let payload = match signatures {
            Signatures::Verify => {
                let jwk = PublicJwk::parse(&key.jwk).map_err(|x| x.to_string())?;
                verify_compact(jws, &jwk)
                    .map_err(|_| format!("the signature does not verify under {kid}"))?
                    .payload
            }
            Signatures::Decode => jws
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .ok_or("the JWS payload is not base64url")?,
        };
        let signed: Value =
            serde_json::from_slice(&payload).map_err(|_| "the signed payload is not JSON")?;
        let case = self.case_mut(e)?;
        if key.authority_kid != case.authority_kid {
            return Err(format!(
                "signed by {kid}, a confirmation key of another authority"
            ));
        }
        let current = case.payload_sha256.to_hex();
        if signed["request_id"].as_str() != Some(case.request_id.as_str())
            || signed["request_sha256"].as_str() != Some(current.as_str())
            || body["request_sha256"].as_str() != Some(current.as_str())
        {
            return Err("concerns another request or another version of it".into());
        }
        if !case.emergency {
            return Err("concerns a request that claims no emergency".into());
        }
        Ok((signed, current))
    }

    /// As `ops::decide`: no execute-type decision on an emergency not confirmed.
    fn require_verified(&mut self, e: &StoredEvent, kind: DecisionKind) {
        let Some(case) = e.case_id.and_then(|id| self.cases.get(&id)) else {
            return;
        };
        let verified = self
            .confirmed
            .get(&case.case_id)
            .is_some_and(|d| d.contains(&case.payload_sha256.to_hex()));
        if kind.executes() && case.emergency && !verified {
            self.findings.push(Finding::new(
                "emergency",
                format!(
                    "event {} ({}): executes case {}, an emergency not confirmed by its authority",
                    e.seq, e.event_type, case.case_id
                ),
            ));
        }
    }

    /// The order that must follow an emergency, as `ops::order` records it: due only with the
    /// execution of a case whose emergency waived prior authorization, for the kinds the rule
    /// asks; received only where due, signed by the case's authority, of such a kind, once;
    /// missed only once the due time passed with no order; deletion asked only after a miss,
    /// by a reviewer, once.
    fn order_event(
        &mut self,
        e: &StoredEvent,
        kind: EventType,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(), String> {
        let id = e.case_id.ok_or("names no case")?;
        match kind {
            EventType::OrderDue => {
                if self.orders_unstarted.remove(&id).is_none() {
                    return Err(format!(
                        "makes an order due for case {id}, which no execution that waived prior authorization preceded"
                    ));
                }
                let case = self.case_mut(e)?;
                let request: Request = serde_json::from_str(&case.request_json)
                    .map_err(|err| format!("the request does not parse: {err}"))?;
                let expected: Vec<String> = custos_safeguards::required_order(&request)
                    .iter()
                    .map(|k| k.as_str().to_owned())
                    .collect();
                let required: Vec<String> = body["required"]
                    .as_array()
                    .ok_or("required is not a list")?
                    .iter()
                    .map(|k| k.as_str().map(str::to_owned).ok_or("a kind is not text"))
                    .collect::<Result<_, _>>()?;
                if required != expected {
                    return Err(format!(
                        "asks for {} where the rule asks for {}",
                        required.join(" or "),
                        expected.join(" or ")
                    ));
                }
                let due_at = time(body, "due_at")?;
                if due_at < e.at {
                    return Err(format!("makes the order due at {due_at}, before itself"));
                }
                self.orders.insert(
                    id,
                    OwedOrder {
                        due_at,
                        required,
                        received: false,
                        missed: false,
                        deletion_requested: false,
                    },
                );
            }
            EventType::OrderReceived => {
                let (payload, kid, digest) = self.signed(e, body, signatures)?;
                let input: crate::ops::OrderInput = serde_json::from_slice(&payload)
                    .map_err(|err| format!("the signed order does not parse: {err}"))?;
                let case = self.case_mut(e)?;
                if case.authority_kid != kid {
                    return Err(format!("sends the order of case {id} by another authority"));
                }
                if input.request_id != case.request_id
                    || digest.to_hex() != text(body, "payload_sha256")?
                {
                    return Err("the signed order names another request".into());
                }
                let o = self
                    .orders
                    .get_mut(&id)
                    .ok_or_else(|| format!("receives an order for case {id}, which owed none"))?;
                if o.received {
                    return Err(format!("receives the order of case {id} a second time"));
                }
                if !o.required.contains(&input.authorization.kind)
                    || text(body, "kind")? != input.authorization.kind
                {
                    return Err(format!(
                        "receives a {} order where {} was required",
                        input.authorization.kind,
                        o.required.join(" or ")
                    ));
                }
                o.received = true;
            }
            EventType::OrderMissed => {
                let o = self.orders.get_mut(&id).ok_or_else(|| {
                    format!("records a missed order for case {id}, which owed none")
                })?;
                if o.received || o.missed {
                    return Err(format!(
                        "records the order of case {id} as missed after it was received or already missed"
                    ));
                }
                if e.at < o.due_at {
                    return Err(format!(
                        "records the order of case {id} as missed before it was due ({})",
                        o.due_at
                    ));
                }
                o.missed = true;
            }
            _ => {
                let who = text(body, "by")?.to_owned();
                self.require_role(e, &who, Role::Reviewer, "asking for deletion");
                let o = self
                    .orders
                    .get_mut(&id)
                    .ok_or_else(|| format!("asks deletion for case {id}, which owed no order"))?;
                if !o.missed || o.received || o.deletion_requested {
                    return Err(format!(
                        "asks deletion for case {id} without a missed order, after the order arrived, or a second time"
                    ));
                }
                o.deletion_requested = true;
            }
        }
        Ok(())
    }

    fn arrival(
        &mut self,
        e: &StoredEvent,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(String, String, custos_ledger::Hash), String> {
        let (payload, kid, digest) = self.signed(e, body, signatures)?;
        let text = String::from_utf8(payload).map_err(|_| "the payload is not UTF-8")?;
        Ok((text, kid, digest))
    }

    /// The payload of a signed requester's message logged in `body` (`authority`, `jws`,
    /// `payload_sha256`), its signer and digest, the signature checked against the directory
    /// as the log had it at that moment.
    fn signed(
        &mut self,
        e: &StoredEvent,
        body: &Value,
        signatures: Signatures,
    ) -> Result<(Vec<u8>, String, custos_ledger::Hash), String> {
        let kid = text(body, "authority")?.to_owned();
        let jws = text(body, "jws").map_err(|_| "a received request without its signature")?;
        let authority = self.registry.authorities.get(&kid).ok_or_else(|| {
            format!("signed by {kid}, which no earlier event added to the directory")
        })?;
        if let Some(revoked) = authority.revoked_at {
            self.findings.push(Finding::new(
                "signature",
                format!(
                    "event {} ({}): signed by {kid}, which was revoked on {revoked}, before the request arrived",
                    e.seq, e.event_type
                ),
            ));
        }
        let payload = match signatures {
            Signatures::Verify => {
                let jwk = PublicJwk::parse(&authority.jwk).map_err(|x| x.to_string())?;
                verify_compact(jws, &jwk)
                    .map_err(|_| format!("the request's signature does not verify under {kid}"))?
                    .payload
            }
            Signatures::Decode => jws
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .ok_or("the JWS payload is not base64url")?,
        };
        let digest = custos_ledger::Hash(<sha2::Sha256 as sha2::Digest>::digest(&payload).into());
        if body["payload_sha256"].as_str() != Some(digest.to_hex().as_str()) {
            return Err("payload_sha256 is not the digest of the signed request".into());
        }
        Ok((payload, kid, digest))
    }

    /// Every difference between the tables and these projections, each named by table and key.
    pub fn diff(&self, t: &Tables) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut differ = |what: String| out.push(Finding::new("projection", what));

        let logged = &self.registry.authorities;
        for a in &t.authorities {
            match logged.get(&a.kid) {
                None => differ(format!(
                    "authorities: {} is in the table but no event added it",
                    a.kid
                )),
                Some(l) => {
                    let same_key =
                        PublicJwk::parse(&a.jwk).ok().map(|k| k.to_json()) == Some(l.jwk.clone());
                    if !same_key
                        || a.state != l.state
                        || a.name != l.name
                        || a.kind != l.kind
                        || a.channels != l.channels
                        || a.age_recipient != l.age_recipient
                        || a.added_at != l.added_at
                    {
                        differ(format!(
                            "authorities: {} differs from its authority.added event",
                            a.kid
                        ));
                    }
                    if a.revoked_at != l.revoked_at || a.revoke_reason != l.revoke_reason {
                        differ(format!(
                            "authorities: {} is {} in the table but {} in the log",
                            a.kid,
                            revoked_words(a.revoked_at),
                            revoked_words(l.revoked_at)
                        ));
                    }
                }
            }
        }
        missing(
            &mut differ,
            "authorities",
            logged.keys(),
            t.authorities.iter().map(|a| &a.kid),
        );

        let users = &self.registry.users;
        for (name, role, added_at, has_password) in &t.users {
            match users.get(name) {
                None => differ(format!(
                    "users: {name} is in the table but no event added them"
                )),
                Some(l) => {
                    if *role != l.role {
                        differ(format!(
                            "users: {name} is {} in the table but {} in the log",
                            role.as_str(),
                            l.role.as_str()
                        ));
                    }
                    if *added_at != l.added_at {
                        differ(format!("users: {name}'s added_at differs from the log"));
                    }
                    if *has_password && !l.has_password {
                        differ(format!(
                            "users: {name} has a console password the log never recorded"
                        ));
                    }
                }
            }
        }
        missing(
            &mut differ,
            "users",
            users.keys(),
            t.users.iter().map(|u| &u.0),
        );

        for id in &t.report_columns_differ {
            differ(format!(
                "cases: case {id}'s report columns differ from its own documents (edited outside the node)"
            ));
        }
        for c in &t.cases {
            match self.cases.get(&c.case_id) {
                None if self.arrived.contains_key(&c.case_id) => differ(format!(
                    "cases: case {} was received in the log but never assessed",
                    c.case_id
                )),
                None => differ(format!(
                    "cases: case {} is in the table but no event received it",
                    c.case_id
                )),
                Some(l) => {
                    let fields = case_differences(c, l);
                    if !fields.is_empty() {
                        differ(format!(
                            "cases: case {} differs from its events in {}",
                            c.case_id,
                            fields.join(", ")
                        ));
                    }
                }
            }
        }
        missing(
            &mut differ,
            "cases",
            self.cases.keys(),
            t.cases.iter().map(|c| &c.case_id),
        );

        compare(
            &mut differ,
            "holds",
            &self.holds,
            &t.holds,
            |h| h.case_id,
            |h| format!("case {} has a hold no event started", h.case_id),
            |h| format!("the hold of case {} differs from its events", h.case_id),
        );
        // Every delivery attempt is logged (notice.sent, notice.failed), so whole rows compare.
        compare(
            &mut differ,
            "notices",
            &self.notices,
            &t.notices,
            |n| n.case_id,
            |n| format!("case {} has a notice no decision owed", n.case_id),
            |n| format!("the notice of case {} differs from its events", n.case_id),
        );
        compare(
            &mut differ,
            "extensions",
            &self.extensions,
            &t.extensions,
            |x| x.extension_id,
            |x| {
                format!(
                    "extension {} (case {}) is in the table but no event asked it",
                    x.extension_id, x.case_id
                )
            },
            |x| {
                format!(
                    "extension {} of case {} differs from its events",
                    x.extension_id, x.case_id
                )
            },
        );
        compare(
            &mut differ,
            "evidence",
            &self.evidence,
            &t.evidence,
            |p| p.package_digest.clone(),
            |p| {
                format!(
                    "package {} is in the table but no event sealed it",
                    p.package_digest
                )
            },
            |p| format!("package {} differs from its events", p.package_digest),
        );
        out
    }
}

fn reclassification(body: &Value, field: &str) -> Result<RecordedReclassification, String> {
    serde_json::from_value(body[field].clone())
        .map_err(|e| format!("{field} is not a recorded reclassification: {e}"))
}

fn logged_assessment(body: &Value) -> Result<Assessment, String> {
    serde_json::from_value(body["assessment"].clone())
        .map_err(|err| format!("the assessment does not parse: {err}"))
}

fn decision(body: &Value, field: &str) -> Result<RecordedDecision, String> {
    serde_json::from_value(body[field].clone())
        .map_err(|e| format!("{field} is not a recorded decision: {e}"))
}

/// A value's wire name (a reply status), for findings.
fn json_name(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The fields where a logged reply differs from the decision it communicates.
fn told_differences(told: &Communicated, expected: &Communicated) -> Vec<&'static str> {
    let mut d = Vec::new();
    let mut check = |same: bool, name: &'static str| {
        if !same {
            d.push(name);
        }
    };
    check(told.decision == expected.decision, "decision");
    check(told.reason == expected.reason, "reason");
    check(told.message == expected.message, "message");
    check(told.handed_over == expected.handed_over, "handed_over");
    check(told.conditions == expected.conditions, "conditions");
    check(told.ground == expected.ground, "ground");
    check(told.at == expected.at, "at");
    d
}

fn revoked_words(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "not revoked".to_owned(), |t| format!("revoked on {t}"))
}

/// Compares a table's rows with the rows the events give, by key: a row no event explains, a row
/// that differs, and (through [`missing`]) a logged row the table lacks.
fn compare<K: Ord + std::fmt::Display, V: PartialEq>(
    differ: &mut impl FnMut(String),
    table: &str,
    logged: &std::collections::BTreeMap<K, V>,
    stored: &[V],
    key: impl Fn(&V) -> K,
    unexplained: impl Fn(&V) -> String,
    differs: impl Fn(&V) -> String,
) {
    for row in stored {
        match logged.get(&key(row)) {
            None => differ(format!("{table}: {}", unexplained(row))),
            Some(l) if l != row => differ(format!("{table}: {}", differs(row))),
            Some(_) => {}
        }
    }
    let keys: Vec<K> = stored.iter().map(&key).collect();
    missing(differ, table, logged.keys(), keys.iter());
}

fn missing<'a, K: Ord + std::fmt::Display + 'a>(
    differ: &mut impl FnMut(String),
    table: &str,
    logged: impl Iterator<Item = &'a K>,
    stored: impl Iterator<Item = &'a K>,
) {
    let stored: std::collections::BTreeSet<&K> = stored.collect();
    for k in logged {
        if !stored.contains(k) {
            differ(format!(
                "{table}: {k} is in the log but missing from the table"
            ));
        }
    }
}

/// The names of the columns where a stored case differs from the logged one.
fn case_differences(c: &Case, l: &Case) -> Vec<&'static str> {
    let mut d = Vec::new();
    let mut check = |same: bool, name: &'static str| {
        if !same {
            d.push(name);
        }
    };
    check(c.authority_kid == l.authority_kid, "authority_kid");
    check(c.request_id == l.request_id, "request_id");
    check(c.payload_sha256 == l.payload_sha256, "payload_sha256");
    check(c.request_json == l.request_json, "request_json");
    check(c.status == l.status, "status");
    check(c.outcome == l.outcome, "outcome");
    check(c.assessment == l.assessment, "assessment");
    check(c.measure == l.measure, "measure");
    check(c.requesting_state == l.requesting_state, "requesting_state");
    check(c.channel == l.channel, "channel");
    check(c.emergency == l.emergency, "emergency");
    check(c.received_at == l.received_at, "received_at");
    check(c.respond_by == l.respond_by, "respond_by");
    check(
        c.confidentiality_until == l.confidentiality_until,
        "confidentiality_until",
    );
    check(c.notify_person_at == l.notify_person_at, "notify_person_at");
    check(c.decision == l.decision, "decision");
    check(c.pending_decision == l.pending_decision, "pending_decision");
    check(c.reclassification == l.reclassification, "reclassification");
    check(c.updated_at == l.updated_at, "updated_at");
    check(c.assignee == l.assignee, "assignee");
    d
}

/// The package an `evidence.*` event names: its `package_blake3` (format v2) or
/// `package_sha256` (v1), exactly one of them, 64 lower-case hex digits.
fn package_of(body: &serde_json::Value) -> Result<custos_model::PackageDigest, String> {
    custos_model::PackageDigest::from_fields(body).ok_or_else(|| {
        "names no package digest: it must have exactly one of package_blake3 and package_sha256, 64 lower-case hex digits".to_owned()
    })
}
