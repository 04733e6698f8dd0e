//! Intake: which signed requests a node admits ([`admit`], a pure function of the request, the
//! sender's directory entry and the clock), and how an admitted one is recorded ([`submit`]).
//!
//! Rules (the signature itself is checked first, by `Directory::verify`, before any of this):
//! * the key must be unrevoked: a revoked key signs nothing new (its revocation is logged);
//! * a key signs only for the state it is registered for, and only on the channels the
//!   directory allows it (UNCC art. 24: requests through the channels the parties agreed);
//! * `submitted_at` must lie within the replay window and not beyond the allowed clock skew,
//!   so a captured request cannot be replayed later, nor pre-dated.

use super::{Case, Documents};
use custos_ledger::Hash;
use custos_model::EventType;
use custos_model::Request;
use custos_safeguards::Assessment;
use custos_store::{Authority, Batch, CaseStatus, NewEvent};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::{Appended, internal};
use crate::problem::Problem;

/// How fresh a request must be (`[intake]` of `custos.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// `submitted_at` may lie at most this many seconds before arrival (the replay window).
    pub max_age_seconds: u64,
    /// `submitted_at` may lie at most this many seconds after arrival (clock skew).
    pub max_future_seconds: u64,
}

/// Why intake refuses a request whose signature verified and whose content parsed. The text is
/// the problem's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeRefusal {
    /// The key was revoked.
    #[error(
        "the key {kid} of {name} ({state}) was revoked on {}{}; requests signed with it are refused. \
         Ask the node's operator to register the authority's new key.",
        .revoked_at.map(|t| t.to_string()).unwrap_or_default(),
        .reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    RevokedKey {
        /// The key's thumbprint.
        kid: String,
        /// The authority's name.
        name: String,
        /// Its state.
        state: String,
        /// When the key was revoked.
        revoked_at: Option<Timestamp>,
        /// Why.
        reason: Option<String>,
    },
    /// The request names another state than the key's.
    #[error(
        "$.requesting_authority.state is {claimed}, but the key {kid} is registered for {name} ({registered}); a key signs only for its own state"
    )]
    WrongState {
        /// The state the request names.
        claimed: String,
        /// The key's thumbprint.
        kid: String,
        /// The authority's name.
        name: String,
        /// The state the key is registered for.
        registered: String,
    },
    /// The request uses a channel the key may not use.
    #[error("$.channel is {channel}, but {name} may use only {}", .allowed.join(", "))]
    ChannelNotAllowed {
        /// The channel the request names.
        channel: String,
        /// The authority's name.
        name: String,
        /// The channels it may use.
        allowed: Vec<String>,
    },
    /// Signed longer ago than the replay window.
    #[error(
        "$.submitted_at is {submitted_at}, more than {max_age_seconds} s ago; stale requests are refused as possible replays. Sign the request afresh."
    )]
    Stale {
        /// The request's `submitted_at`.
        submitted_at: Timestamp,
        /// The replay window.
        max_age_seconds: u64,
    },
    /// Dated further ahead than the allowed clock skew.
    #[error(
        "$.submitted_at is {submitted_at}, more than {max_future_seconds} s in the future; check the sender's clock"
    )]
    FutureDated {
        /// The request's `submitted_at`.
        submitted_at: Timestamp,
        /// The allowed skew.
        max_future_seconds: u64,
    },
}

impl IntakeRefusal {
    fn revoked(a: &Authority) -> IntakeRefusal {
        IntakeRefusal::RevokedKey {
            kid: a.kid.clone(),
            name: a.name.clone(),
            state: a.state.clone(),
            revoked_at: a.revoked_at,
            reason: a.revoke_reason.clone(),
        }
    }
}

impl From<IntakeRefusal> for Problem {
    fn from(r: IntakeRefusal) -> Problem {
        let detail = r.to_string();
        match r {
            IntakeRefusal::RevokedKey { .. } => Problem::forbidden("revoked-key", detail),
            IntakeRefusal::WrongState { .. } => Problem::forbidden("wrong-state", detail),
            IntakeRefusal::ChannelNotAllowed { .. } => {
                Problem::forbidden("channel-not-allowed", detail)
            }
            IntakeRefusal::Stale { .. } => Problem::unprocessable("stale-request", detail),
            IntakeRefusal::FutureDated { .. } => Problem::unprocessable("future-request", detail),
        }
    }
}

/// Whether a node admits `request`, signed by `sender`'s key, arriving at `now`. The checks run
/// in this order: key state, the sender's state, channel, replay window, future dating. Both
/// window edges admit: a request exactly `max_age_seconds` old, or exactly `max_future_seconds`
/// ahead, is admitted.
pub fn admit(
    request: &Request,
    sender: &Authority,
    now: Timestamp,
    window: Freshness,
) -> Result<(), IntakeRefusal> {
    if sender.revoked_at.is_some() {
        return Err(IntakeRefusal::revoked(sender));
    }
    // The sender must be who the request says, on a channel it may use.
    let claimed = request.requesting_authority.state.as_str();
    if claimed != sender.state {
        return Err(IntakeRefusal::WrongState {
            claimed: claimed.to_owned(),
            kid: sender.kid.clone(),
            name: sender.name.clone(),
            registered: sender.state.clone(),
        });
    }
    let channel = request.channel.as_str();
    if !sender.channels.iter().any(|c| c == channel) {
        return Err(IntakeRefusal::ChannelNotAllowed {
            channel: channel.to_owned(),
            name: sender.name.clone(),
            allowed: sender.channels.clone(),
        });
    }
    // Fresh: a captured request cannot be replayed later, nor pre-dated.
    let seconds = |s: u64| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
    let age = now.duration_since(request.submitted_at);
    if age > seconds(window.max_age_seconds) {
        return Err(IntakeRefusal::Stale {
            submitted_at: request.submitted_at,
            max_age_seconds: window.max_age_seconds,
        });
    }
    if -age > seconds(window.max_future_seconds) {
        return Err(IntakeRefusal::FutureDated {
            submitted_at: request.submitted_at,
            max_future_seconds: window.max_future_seconds,
        });
    }
    Ok(())
}

/// A request whose signature, sender and content were checked, ready to be recorded.
#[derive(Debug)]
pub struct Submission {
    /// The sender (as in the directory when the signature was checked).
    pub authority: Authority,
    /// The parsed request.
    pub request: Request,
    /// SHA-256 of the signed payload.
    pub payload_sha256: Hash,
    /// The payload as signed (the request document).
    pub payload: String,
    /// The compact JWS as received (kept so anyone can re-verify it later).
    pub jws: String,
    /// The assessment made on arrival.
    pub assessment: Assessment,
    /// Arrival time.
    pub received_at: Timestamp,
}

/// What intake did with a submission.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// A new case.
    Created(Case),
    /// The same payload again: nothing new, the existing case.
    Repeated(Case),
    /// A supplement to a case awaiting information: re-assessed.
    Supplemented(Case),
}

/// What [`check`] found a submission to be, for [`record`].
#[derive(Debug)]
pub enum Admitted {
    /// The same payload again: the existing case, nothing to record.
    Repeated(Case),
    /// A supplement to this case, which awaits information.
    Supplement(Case),
    /// A new case, following up this preservation case, if any.
    New(Option<Case>),
}

/// Records a submission: `request.received` + `request.assessed`, or, for a case awaiting
/// information, `request.supplemented` + `request.assessed`. Idempotent on (authority, id).
///
/// `current` is the sender's directory entry as the log has it now: the directory may have
/// changed since the signature was checked (a revocation by another process), and the writer
/// passes what it knows under the write lock.
pub async fn submit(
    b: &mut Batch,
    out: &mut Appended,
    s: &Submission,
    current: Option<&Authority>,
) -> Result<SubmitOutcome, Problem> {
    let admitted = check(b, s, current).await?;
    record(b, out, s, admitted).await
}

/// Every refusal of [`submit`], reading only: a submission refused here wrote nothing, so the
/// writer needs no savepoint to undo it.
pub async fn check(
    b: &mut Batch,
    s: &Submission,
    current: Option<&Authority>,
) -> Result<Admitted, Problem> {
    match current {
        None => {
            return Err(Problem::unauthorized(
                "unknown-key",
                format!(
                    "the key {} is not in this node's directory of authorities",
                    s.authority.kid
                ),
            ));
        }
        Some(a) if a.revoked_at.is_some() => return Err(revoked_problem(a)),
        Some(_) => {}
    }
    let request_id = s.request.id.as_str();
    if let Some(case) = b
        .find_case::<Documents>(&s.authority.kid, request_id)
        .await?
    {
        if case.payload_sha256 == s.payload_sha256 {
            return Ok(Admitted::Repeated(case));
        }
        super::withdrawal::refuse_if_withdrawn(&case, "a supplement")?;
        super::follow_up::same_link(&case, &s.request)?;
        // A supplement answers a request for information, or a consultation.
        if !matches!(
            case.status,
            CaseStatus::AwaitingInformation | CaseStatus::InConsultation
        ) {
            return Err(Problem::conflict(
                "request-id-reused",
                format!(
                    "request {request_id:?} was already received from this authority (case {}) with a different content; \
                     a request can be changed only while the node awaits information on it. Use a new id for a new request.",
                    case.case_id
                ),
            ));
        }
        return Ok(Admitted::Supplement(case));
    }
    // Checked before anything is stored: a follow-up of an unknown case stores nothing.
    let followed = super::follow_up::followed_case(b, &s.authority.kid, &s.request).await?;
    Ok(Admitted::New(followed))
}

/// Records what [`check`] admitted. Fails only when the database or a serialisation does.
pub async fn record(
    b: &mut Batch,
    out: &mut Appended,
    s: &Submission,
    admitted: Admitted,
) -> Result<SubmitOutcome, Problem> {
    let assessment_json = serde_json::to_value(&s.assessment).map_err(internal)?;
    match admitted {
        Admitted::Repeated(case) => Ok(SubmitOutcome::Repeated(case)),
        Admitted::Supplement(case) => {
            record_arrival(
                b,
                out,
                EventType::RequestSupplemented,
                case.case_id,
                s,
                assessment_json,
            )
            .await?;
            // The request and its assessment are new; when it first arrived and what was
            // decided stay. Corrections of the old document's offences lapse with it (the log
            // keeps them).
            let case = Case {
                received_at: case.received_at,
                decision: case.decision,
                pending_decision: case.pending_decision,
                assignee: case.assignee,
                ..arrived_case(case.case_id, s)
            };
            b.put_case(&case).await?;
            Ok(SubmitOutcome::Supplemented(case))
        }
        Admitted::New(followed) => {
            let case = arrived_case(b.next_case_id().await?, s);
            // The case row goes first: events reference it.
            b.put_case(&case).await?;
            record_arrival(
                b,
                out,
                EventType::RequestReceived,
                case.case_id,
                s,
                assessment_json,
            )
            .await?;
            if let Some(followed) = followed {
                super::follow_up::record_link(b, out, case.case_id, &followed, s.received_at)
                    .await?;
            }
            Ok(SubmitOutcome::Created(case))
        }
    }
}

/// The events of an arrival, appended in one statement: the signed request as received (or
/// supplemented), then its assessment, then a limit on its secrecy if any.
async fn record_arrival(
    b: &mut Batch,
    out: &mut Appended,
    event_type: EventType,
    case_id: i64,
    s: &Submission,
    assessment: serde_json::Value,
) -> Result<(), Problem> {
    let event = |event_type, body| NewEvent {
        event_type,
        at: s.received_at,
        case_id: Some(case_id),
        body,
    };
    let received = json!({
        "authority": s.authority.kid,
        "request_id": s.request.id.as_str(),
        "payload_sha256": s.payload_sha256.to_hex(),
        "jws": s.jws,
    });
    let mut events = vec![
        event(event_type, received),
        event(
            EventType::RequestAssessed,
            json!({ "assessment": assessment }),
        ),
    ];
    // Secrecy that cannot be honoured in full is said before anything is executed, so the
    // requester may withdraw (cf. Budapest art. 27(8), confirmed: the requested party that
    // cannot keep a request confidential informs the requesting party promptly, which then
    // decides whether to proceed).
    if let Some(limited) = secrecy_limited(s) {
        events.push(event(EventType::ConfidentialityLimited, limited));
    }
    out.extend(b.append_all(&events).await?);
    Ok(())
}

/// What the requester of `s` must be told when its assessment limits the confidentiality it
/// asked (`rights-first`'s `confidentiality-unbounded` / `confidentiality-too-long`): the end
/// it asked (null: without end) and the end it can have.
pub fn secrecy_limited(s: &Submission) -> Option<serde_json::Value> {
    let asked = s.request.confidentiality.as_ref().filter(|c| c.requested)?;
    let limited_to = s.assessment.narrowed.as_ref()?.confidentiality_until?;
    if asked.until.is_some_and(|u| u <= limited_to) {
        return None;
    }
    Some(json!({
        "asked_until": asked.until.map(|u| u.to_string()),
        "limited_to": limited_to.to_string(),
    }))
}

/// A case as a submission leaves it: assessed, with the request and its assessment in force.
fn arrived_case(case_id: i64, s: &Submission) -> Case {
    let r = &s.request;
    let now = s.received_at;
    Case {
        case_id,
        authority_kid: s.authority.kid.clone(),
        request_id: r.id.as_str().to_owned(),
        payload_sha256: s.payload_sha256,
        request_json: s.payload.clone(),
        status: CaseStatus::Assessed,
        outcome: s.assessment.outcome,
        assessment: s.assessment.clone(),
        measure: r.measure,
        requesting_state: r.requesting_authority.state.as_str().to_owned(),
        channel: r.channel,
        emergency: r.emergency.as_ref().is_some_and(|e| e.claimed),
        received_at: now,
        respond_by: s.assessment.deadlines.respond_by,
        confidentiality_until: r.confidentiality.as_ref().and_then(|c| c.until),
        notify_person_at: s.assessment.deadlines.notify_person_at,
        decision: None,
        pending_decision: None,
        reclassification: None,
        updated_at: now,
        assignee: None,
    }
}

/// The problem for a revoked key (also refused at the signature check and under the write lock).
pub fn revoked_problem(a: &Authority) -> Problem {
    IntakeRefusal::revoked(a).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Freshness = Freshness {
        max_age_seconds: 300,
        max_future_seconds: 60,
    };

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Case p01 (state XA, channel mla), signed at `submitted_at`.
    fn request(state: &str, channel: &str, submitted_at: Timestamp) -> Request {
        let doc: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../testdata/cases/p01-ransomware-production.json"
        ))
        .unwrap();
        let mut r = doc["request"].clone();
        r["requesting_authority"]["state"] = state.into();
        r["channel"] = channel.into();
        r["submitted_at"] = submitted_at.to_string().into();
        custos_model::parse_request(r.to_string().as_bytes()).unwrap()
    }

    fn sender() -> Authority {
        Authority {
            kid: "kid-xa".into(),
            state: "XA".into(),
            name: "Central Authority XA".into(),
            kind: "central_authority".into(),
            channels: vec!["mla".into(), "network_24_7".into()],
            jwk: "{}".into(),
            age_recipient: None,
            added_at: at("2026-01-01T00:00:00Z"),
            revoked_at: None,
            revoke_reason: None,
        }
    }

    fn signed_at() -> Timestamp {
        at("2026-11-19T08:00:00Z")
    }

    fn admit_at(request: &Request, now: Timestamp) -> Result<(), IntakeRefusal> {
        admit(request, &sender(), now, WINDOW)
    }

    fn secs(n: i64) -> SignedDuration {
        SignedDuration::from_secs(n)
    }

    fn problem(r: IntakeRefusal) -> (u16, String) {
        let p = Problem::from(r);
        let slug = p.kind.rsplit('/').next().unwrap_or_default().to_owned();
        (p.status, slug)
    }

    #[test]
    fn a_fresh_request_from_its_own_state_on_an_allowed_channel_is_admitted() {
        let r = request("XA", "mla", signed_at());
        assert_eq!(admit_at(&r, signed_at()), Ok(()));
        let r = request("XA", "network_24_7", signed_at());
        assert_eq!(admit_at(&r, signed_at() + secs(1)), Ok(()));
    }

    #[test]
    fn exactly_at_the_replay_window_is_admitted_one_second_past_is_stale() {
        let r = request("XA", "mla", signed_at());
        assert_eq!(admit_at(&r, signed_at() + secs(300)), Ok(()));
        let refused = admit_at(&r, signed_at() + secs(301)).unwrap_err();
        assert_eq!(
            refused,
            IntakeRefusal::Stale {
                submitted_at: signed_at(),
                max_age_seconds: 300
            }
        );
        assert_eq!(problem(refused.clone()), (422, "stale-request".into()));
        assert_eq!(
            refused.to_string(),
            "$.submitted_at is 2026-11-19T08:00:00Z, more than 300 s ago; stale requests are refused as possible replays. Sign the request afresh."
        );
    }

    #[test]
    fn future_dating_by_the_allowed_skew_is_admitted_one_second_more_is_refused() {
        let r = request("XA", "mla", signed_at());
        assert_eq!(admit_at(&r, signed_at() - secs(60)), Ok(()));
        let refused = admit_at(&r, signed_at() - secs(61)).unwrap_err();
        assert_eq!(
            refused,
            IntakeRefusal::FutureDated {
                submitted_at: signed_at(),
                max_future_seconds: 60
            }
        );
        assert_eq!(problem(refused.clone()), (422, "future-request".into()));
        assert!(
            refused.to_string().contains("60 s in the future"),
            "{refused}"
        );
    }

    #[test]
    fn a_key_signs_only_for_its_own_state() {
        let r = request("XB", "mla", signed_at());
        let refused = admit_at(&r, signed_at()).unwrap_err();
        assert!(
            matches!(&refused, IntakeRefusal::WrongState { claimed, registered, .. }
                if claimed == "XB" && registered == "XA"),
            "{refused:?}"
        );
        assert_eq!(problem(refused.clone()), (403, "wrong-state".into()));
        assert_eq!(
            refused.to_string(),
            "$.requesting_authority.state is XB, but the key kid-xa is registered for Central Authority XA (XA); a key signs only for its own state"
        );
    }

    #[test]
    fn a_channel_the_key_may_not_use_is_refused() {
        let r = request("XA", "direct", signed_at());
        let refused = admit_at(&r, signed_at()).unwrap_err();
        assert!(
            matches!(&refused, IntakeRefusal::ChannelNotAllowed { channel, .. } if channel == "direct"),
            "{refused:?}"
        );
        assert_eq!(
            problem(refused.clone()),
            (403, "channel-not-allowed".into())
        );
        assert_eq!(
            refused.to_string(),
            "$.channel is direct, but Central Authority XA may use only mla, network_24_7"
        );
    }

    #[test]
    fn a_revoked_key_is_refused_before_anything_else() {
        let mut revoked = sender();
        revoked.revoked_at = Some(at("2026-11-01T00:00:00Z"));
        revoked.revoke_reason = Some("key compromised".into());
        // Wrong state and stale too: the revocation is what the sender hears.
        let r = request("XB", "mla", signed_at());
        let refused = admit(&r, &revoked, signed_at() + secs(3600), WINDOW).unwrap_err();
        assert!(
            matches!(refused, IntakeRefusal::RevokedKey { .. }),
            "{refused:?}"
        );
        assert_eq!(problem(refused.clone()), (403, "revoked-key".into()));
        assert_eq!(
            refused.to_string(),
            "the key kid-xa of Central Authority XA (XA) was revoked on 2026-11-01T00:00:00Z (key compromised); requests signed with it are refused. Ask the node's operator to register the authority's new key."
        );
        assert_eq!(revoked_problem(&revoked).detail, refused.to_string());
    }

    #[test]
    fn the_sender_is_checked_before_freshness() {
        // As intake always did: a stale request on a forbidden channel hears about the channel.
        let r = request("XA", "direct", signed_at());
        let refused = admit_at(&r, signed_at() + secs(3600)).unwrap_err();
        assert!(
            matches!(refused, IntakeRefusal::ChannelNotAllowed { .. }),
            "{refused:?}"
        );
    }
}
