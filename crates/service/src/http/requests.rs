//! Requests and their cases: signed intake (`POST /v1/requests`), the list and one case, a
//! case's timeline, and the reviewers' steps (decision, reclassification, second review,
//! delivered, closed, hold renewal), each a writer job. [`visible_case`] is the one rule of who
//! sees a case, [`answer`] the one rule of what: people the whole record ([`CaseView`]), the
//! requesting authority its reply ([`Reply`], `custos.reply/v1`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_model::{EventType, Request, parse_request};
use custos_store::{CaseStatus, StoredEvent};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::directory::hold_view;
use super::extract::{IfMatch, Staff, tagged};
use super::{ApiResult, body_problem, json_body, parse_stored, stored_name};
use crate::auth::Caller;
use crate::node::Node;
use crate::ops::reply::requester_sees;
use crate::ops::{
    Case, Communicated, ConsultationInput, DecisionInput, DecisionKind, Freshness,
    PostponementInput, REPLY_FORMAT, ReclassificationInput, ReplyStatus, SecondReviewInput,
    Submission, SubmitOutcome,
};
use crate::problem::{FieldProblem, Problem};
use crate::query::CaseQuery;
use crate::wire::{
    CaseAnswer, CaseEvents, CaseLink, CaseView, ConsultationMessage, ConsultationParty,
    ConsultationThread, EventView, HoldView, LoggedEvent, PackageDigestFields, Reply,
    ReplyDeadlines, ReplyEmergency, ReplyPackage, ReplyPostponement, ReplyPreservation,
    ReplySecrecyLimited, ReplyWithdrawal,
};
use crate::writer::Job;

/// A staff change of case `case_id` sent as JSON, the one shape of the case-change endpoints:
/// a stale `If-Match` refused first (412, before the body's or the case's own refusals), then
/// the body read, then the writer's job (checked again in its batch), answered with the case
/// as it now stands and its `ETag`.
pub(super) async fn change_case<I: serde::de::DeserializeOwned>(
    node: &Node,
    case_id: i64,
    if_match: &IfMatch,
    body: &[u8],
    job: impl FnOnce(I, crate::writer::Reply<Case>) -> Job,
) -> ApiResult<Response> {
    if_match.check(node, case_id).await?;
    let input: I = json_body(body)?;
    let case = if_match
        .call(node, case_id, |reply| job(input, reply))
        .await?;
    tagged(node, case_id, Json(case_view(node, &case).await?)).await
}

/// The staff's record of `c`, with where its order stands when one must follow an emergency
/// (as the answers to staff's changes give it; [`staff_view`] adds the linked cases).
pub(super) async fn case_view(node: &Node, c: &Case) -> ApiResult<CaseView> {
    let restarted = node.query().deadline_restarted_at(c.case_id).await?;
    case_view_restarted(node, c, restarted).await
}

/// [`case_view`] with when a supplement last restarted the clock already known (a list reads
/// those for its whole page in one query).
async fn case_view_restarted(
    node: &Node,
    c: &Case,
    restarted: Option<Timestamp>,
) -> ApiResult<CaseView> {
    Ok(CaseView {
        order: crate::ops::order::status_of(&node.store, c.case_id).await?,
        case: c.case_id,
        request_id: c.request_id.clone(),
        authority: c.authority_kid.clone(),
        status: c.status.as_str().into(),
        outcome: c.outcome,
        measure: c.measure,
        requesting_state: c.requesting_state.clone(),
        channel: c.channel,
        emergency: c.emergency,
        received_at: c.received_at,
        respond_by: c.respond_by,
        deadline: crate::wire::DeadlineView::of(crate::query::deadline(c, node.now()), restarted),
        notifies_person_at_once: {
            let d = c.decision.as_ref().or(c.pending_decision.as_ref());
            d.is_none_or(|d| d.decision.executes())
                && crate::ops::notifies_at_once(
                    c.notify_person_at,
                    d.and_then(|d| d.narrowed.as_ref())
                        .and_then(|n| n.confidentiality_until),
                    d.map_or(node.now(), |d| d.at),
                )
        },
        assessment: c.assessment.clone(),
        decision: c.decision.clone(),
        pending_decision: c.pending_decision.clone(),
        reclassification: c.reclassification.clone(),
        follows: None,
        followed_by: Vec::new(),
        assignee: c.assignee.clone(),
    })
}

/// The staff's record of `c`, with the cases linked to it (its preservation, its follow-ups).
pub(super) async fn staff_view(node: &Node, c: &Case) -> ApiResult<CaseView> {
    let restarted = node.query().deadline_restarted_at(c.case_id).await?;
    staff_view_restarted(node, c, restarted).await
}

/// [`staff_view`] with the supplement's restart already known.
async fn staff_view_restarted(
    node: &Node,
    c: &Case,
    restarted: Option<Timestamp>,
) -> ApiResult<CaseView> {
    let links = crate::ops::follow_up::links(&node.store, c).await?;
    let link = |c: &Case| CaseLink {
        case: c.case_id,
        request_id: c.request_id.clone(),
        status: c.status.as_str().to_owned(),
    };
    Ok(CaseView {
        follows: links.follows.as_ref().map(link),
        followed_by: links.followed_by.iter().map(link).collect(),
        ..case_view_restarted(node, c, restarted).await?
    })
}

/// A value's JSON word (its serde name), e.g. a reply status.
fn json_word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The body of a `reply.communicated` event, as far as the reply reads it.
#[derive(serde::Deserialize)]
struct Told {
    communicated: Communicated,
}

/// The body of a `request.withdrawn` event, as far as the reply reads it.
#[derive(serde::Deserialize)]
struct Withdrawn {
    reason: String,
}

/// The body of a consultation's event, as far as the thread reads it.
#[derive(serde::Deserialize)]
struct Consulted {
    message: String,
    #[serde(default)]
    answer_by: Option<Timestamp>,
    #[serde(default)]
    by: Option<String>,
}

/// The consultation thread of `case_id`, oldest first; `staff` also sees which reviewer asked.
pub(super) async fn consultation_thread(
    node: &Node,
    case_id: i64,
    staff: bool,
) -> ApiResult<Vec<ConsultationMessage>> {
    thread_in(&node.store.case_events(case_id).await?, staff)
}

/// The consultation thread among a case's events (in log order).
fn thread_in(events: &[StoredEvent], staff: bool) -> ApiResult<Vec<ConsultationMessage>> {
    let mut out = Vec::new();
    for e in events {
        let from = match stored_name("event type", &e.event_type)? {
            EventType::ConsultationOpened => ConsultationParty::Requested,
            EventType::ConsultationAnswered => ConsultationParty::Requesting,
            _ => continue,
        };
        let m = parse_stored::<Consulted>("consultation", &e.body)?;
        out.push(ConsultationMessage {
            log_index: e.seq,
            at: e.at,
            from,
            message: m.message,
            answer_by: m.answer_by,
            by: if staff { m.by } else { None },
        });
    }
    Ok(out)
}

/// What the requester of `c` reads (`custos.reply/v1`): built from the case, the reply last
/// logged as communicated, the hold and notice in force and the packages not destroyed. Nothing
/// of the assessment, the recommendation, the grounds, the internal note or the people.
pub(super) async fn reply(node: &Node, c: &Case) -> ApiResult<Reply> {
    // The case's events read once (a submission's reply is on every intake's path): each part
    // below takes the latest of its kind from them.
    let events = node.store.case_events(c.case_id).await?;
    let latest = |kind: EventType| events.iter().rev().find(|e| e.kind() == Some(kind));
    let status = ReplyStatus::of(c.status);
    let decision = match status.has_decision() {
        true => match latest(EventType::ReplyCommunicated) {
            Some(e) => Some(parse_stored::<Told>("reply", &e.body)?.communicated),
            None => None,
        },
        false => None,
    };
    let executed = c.decision.as_ref().filter(|d| {
        matches!(
            d.decision,
            DecisionKind::Execute | DecisionKind::ExecuteNarrowed
        )
    });
    let mut deadlines = ReplyDeadlines {
        respond_by: c.respond_by,
        preserved_until: None,
        confidential_until: None,
    };
    let mut evidence = Vec::new();
    if let Some(d) = executed {
        deadlines.preserved_until = node
            .store
            .active_hold(c.case_id)
            .await?
            .map(|h| h.expires_at);
        let request: Request = parse_stored("request", &c.request_json)?;
        if request.confidentiality_requested() {
            // As granted: the notice's date where one is owed (secrecy ends when the person is
            // told), else the narrowed end, else the end asked.
            deadlines.confidential_until = match node.store.notice(c.case_id).await? {
                Some(n) => Some(n.due_at),
                None => d
                    .narrowed
                    .as_ref()
                    .and_then(|n| n.confidentiality_until)
                    .or(c.confidentiality_until),
            };
        }
        let q = node.query();
        for e in node.store.evidence_for_case(c.case_id).await? {
            if e.destroyed_at.is_none() {
                // The requester's own targets: what each package covers (execute in part).
                let targets = q.evidence_targets(&e).await?;
                evidence.push(ReplyPackage {
                    targets,
                    download: format!("/v1/requests/{}/evidence/{}", c.case_id, e.package_digest),
                    digest: PackageDigestFields::stored(e.digest_kind, &e.package_digest),
                    size: e.size,
                    sealed_at: e.sealed_at,
                });
            }
        }
    }
    let postponement = match c.status {
        CaseStatus::Postponed => latest(EventType::RequestPostponed)
            .map(|e| parse_stored::<ReplyPostponement>("postponement", &e.body))
            .transpose()?,
        _ => None,
    };
    let consultation = thread_in(&events, false)?;
    // Only as the assessment in force says it: a supplement assessed again may lift it.
    let assessed = latest(EventType::RequestAssessed).map(|e| e.seq);
    let secrecy_limited = latest(EventType::ConfidentialityLimited)
        .filter(|e| Some(e.seq) > assessed)
        .map(|e| parse_stored::<ReplySecrecyLimited>("confidentiality", &e.body))
        .transpose()?;
    let withdrawal = match c.status {
        CaseStatus::Withdrawn | CaseStatus::Closed => latest(EventType::RequestWithdrawn)
            .map(|e| {
                parse_stored::<Withdrawn>("withdrawal", &e.body).map(|w| ReplyWithdrawal {
                    at: e.at,
                    reason: w.reason,
                })
            })
            .transpose()?,
        _ => None,
    };
    let conditions = match executed {
        Some(_) => crate::ops::conditions::status_of(&node.store, c).await?,
        None => None,
    };
    let links = crate::ops::follow_up::links(&node.store, c).await?;
    let link = |c: &Case| CaseLink {
        case: c.case_id,
        request_id: c.request_id.clone(),
        status: json_word(&ReplyStatus::of(c.status)),
    };
    let preservation = match node.store.active_hold(c.case_id).await? {
        Some(h) => Some(ReplyPreservation {
            lapse_warned_at: crate::ops::follow_up::lapse_warned(
                &node.store,
                c.case_id,
                h.expires_at,
            )
            .await?,
            until: h.expires_at,
            kept_for: links
                .followed_by
                .iter()
                .filter(|f| crate::ops::follow_up::pending(f.status))
                .map(link)
                .collect(),
        }),
        None => None,
    };
    // Only while an order must follow an emergency: due, received or missed.
    let order = crate::ops::order::fold(&events)?;
    let emergency = match c.emergency {
        true => Some(ReplyEmergency {
            verified: !crate::ops::emergency::unverified_in(c, &events),
        }),
        false => None,
    };
    Ok(Reply {
        preservation,
        follows: links.follows.as_ref().map(link),
        followed_by: links.followed_by.iter().map(link).collect(),
        order,
        conditions,
        emergency,
        format: REPLY_FORMAT.to_owned(),
        case: c.case_id,
        request_id: c.request_id.clone(),
        status,
        decision,
        deadlines,
        evidence,
        withdrawal,
        postponement,
        consultation,
        secrecy_limited,
    })
}

/// A case as `caller` may read it: people the whole record, the requesting authority its reply.
pub(super) async fn answer(node: &Node, caller: &Caller, c: &Case) -> ApiResult<CaseAnswer> {
    Ok(match caller {
        Caller::User(_) => CaseAnswer::Staff(Box::new(staff_view(node, c).await?)),
        Caller::Authority(_) => CaseAnswer::Requester(Box::new(reply(node, c).await?)),
    })
}

/// A compact JWS: `header.payload.signature`, each part base64url without padding.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\s*$")]
pub struct CompactJws(pub String);

/// Submit a signed request.
///
/// The body is a compact JWS (`alg: EdDSA`, `kid` = RFC 7638 thumbprint of a registered key)
/// whose payload is a `custos.request/v1` document. The signature is checked before anything
/// else. The same payload again returns the existing case (200); a different payload under the
/// same id is refused (409) unless the node awaits information on it, in which case it is a
/// supplement and is re-assessed (200).
///
/// The answer is the requester's reply (`custos.reply/v1`: case, request id, status), never the
/// assessment: the node's reviewers read that.
#[utoipa::path(post, path = "/v1/requests", request_body(content = CompactJws, content_type = "application/jose"),
    responses((status = 201, body = Reply, description = "Received and assessed: the requester's reply"), (status = 200, body = Reply, description = "Already received, or supplemented: the requester's reply"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
              (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn submit(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    // 1. Signature first: nothing of the payload is read before it verifies.
    let (authority, payload, jws) = signed_body(&node, &headers, body).await?;
    // 2. The payload must be a valid request.
    let request = parse_request(&payload).map_err(|invalid| {
        let mut p = Problem::unprocessable(
            "invalid-request",
            format!(
                "the signed request is not a valid custos.request/v1 document: {}",
                invalid
                    .problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
        p.errors = invalid
            .problems
            .iter()
            .map(|x| FieldProblem {
                pointer: x.path.clone(),
                detail: x.message.clone(),
            })
            .collect();
        p
    })?;
    // 3. The intake rules: the key's state and channels, the replay window, future dating.
    let now = node.now();
    let intake = &node.config.intake;
    let window = Freshness {
        max_age_seconds: intake.max_age_seconds,
        max_future_seconds: intake.max_future_seconds,
    };
    crate::ops::admit(&request, &authority, now, window)?;
    // 4. Assess and record.
    let assessment = node.assessor.assess(&request, now).map_err(|e| {
        tracing::error!(error = %e, "assessment failed");
        Problem::internal(
            "the safeguards engine failed on this request (fail closed); nothing was recorded",
        )
    })?;
    let submission = Submission {
        authority,
        payload_sha256: custos_ledger::Hash(Sha256::digest(&payload).into()),
        payload: String::from_utf8(payload)
            .map_err(|_| Problem::bad_request("invalid-request", "the payload is not UTF-8"))?,
        request,
        jws,
        assessment,
        received_at: now,
    };
    let outcome = node
        .writer
        .call(|tx| Job::Submit(Box::new(submission), tx))
        .await?;
    let (status, case) = match outcome {
        SubmitOutcome::Created(c) => (StatusCode::CREATED, c),
        SubmitOutcome::Repeated(c) | SubmitOutcome::Supplemented(c) => (StatusCode::OK, c),
    };
    let mut resp = (status, Json(reply(&node, &case).await?)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/requests/{}", case.case_id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// The signer and payload of a signed requester's call (`application/jose`, a compact JWS),
/// with the JWS as received. The signature is checked before anything reads the payload.
pub(super) async fn signed_body(
    node: &Node,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(custos_store::Authority, Vec<u8>, String)> {
    let jws = compact_jws(headers, body, "the request")?;
    let (authority, payload) = node.directory.verify(&jws).await?;
    Ok((authority, payload, jws))
}

/// A requester's signed message about a case (a withdrawal, a consultation's answer, an
/// order): signature first, then its payload as `I`, then the writer's `job`; the answer is the
/// requester's reply.
pub(super) async fn signed_job<I: serde::de::DeserializeOwned>(
    node: &Node,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    job: impl FnOnce(Box<crate::ops::Signed<I>>, crate::writer::Reply<Case>) -> Job,
) -> ApiResult<Json<Reply>> {
    let (authority, payload, jws) = signed_body(node, headers, body).await?;
    let input: I = json_body(&payload)?;
    let signed = Box::new(crate::ops::Signed::new(authority, jws, &payload, input));
    let case = node.writer.call(|reply| job(signed, reply)).await?;
    Ok(Json(reply(node, &case).await?))
}

/// The compact JWS a signed call carries (`application/jose`), not yet verified; `what` names
/// it in the error ("the request", "the acceptance", …).
pub(super) fn compact_jws(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> ApiResult<String> {
    let body = body.map_err(body_problem)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Media types are case-insensitive (RFC 9110 §8.3.1).
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/jose"))
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            "Unsupported media type",
            format!(
                "send {what} as a compact JWS with Content-Type: application/jose (got {content_type:?})"
            ),
        ));
    }
    Ok(std::str::from_utf8(&body)
        .map_err(|_| {
            Problem::bad_request("malformed-jws", "a compact JWS is ASCII; the body is not")
        })?
        .trim()
        .to_owned())
}

/// Withdraw a request (the requesting authority, signed).
///
/// The body is a compact JWS signed by the key that the case's authority submits with, whose
/// payload is `{"request_id": …, "reason": …}` (the case's request id; a reason in words). Allowed
/// before the case is executed, refused or closed; afterwards nothing more is done to the case
/// but closing it, and a decision on it is refused (409 `withdrawn`). Logged as
/// `request.withdrawn`. The answer is the requester's reply, status `withdrawn`.
#[utoipa::path(post, path = "/v1/requests/{case}/withdrawal", params(("case" = i64, Path)),
    request_body(content = CompactJws, content_type = "application/jose", description = "A compact JWS whose payload is a WithdrawalInput"),
    responses((status = 200, body = Reply, description = "Withdrawn: the requester's reply"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn withdraw(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Reply>> {
    signed_job(&node, &headers, body, |withdrawal, reply| Job::Withdraw {
        case_id,
        withdrawal,
        reply,
    })
    .await
}

/// The case `case_id` if `caller` may see it: people see every case, an authority its own.
pub(super) async fn visible_case(node: &Node, caller: &Caller, case_id: i64) -> ApiResult<Case> {
    let case = node.store.case(case_id).await?;
    match (case, caller) {
        (Some(c), Caller::User(_)) => Ok(c),
        (Some(c), Caller::Authority(a)) if c.authority_kid == a.kid => Ok(c),
        // An authority learns nothing about other authorities' cases, not even that they exist.
        _ => Err(Problem::not_found(format!(
            "there is no case {case_id} visible to you"
        ))),
    }
}

/// Most requests `GET /v1/requests` returns at once (and its default).
pub const MAX_LIST_LIMIT: u32 = 500;

/// List requests: justified emergencies first, by their response deadline, then the others,
/// soonest deadline first. A filter the list does not know, or a value it cannot take, is
/// refused (400), never answered with `[]`.
///
/// People get every case as its whole record ([`CaseView`]). A requesting authority gets its own
/// cases only, each as its reply (`custos.reply/v1`), and may not filter by `status`, `outcome`
/// or `assignee` (403 `people-only`): those are the node's internal record; nor search with `q`
/// (403 `people-only`), the staff's search. `assignee=me` is the caller's own cases.
#[utoipa::path(get, path = "/v1/requests", params(CaseQuery),
    security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = Vec<CaseAnswer>, description = "People: each case's whole record (CaseView); a requesting authority: its own cases, each as its reply (Reply)"),
              (status = 400, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn list_requests(
    State(node): State<Arc<Node>>,
    RawQuery(q): RawQuery,
    caller: Caller,
) -> ApiResult<Json<Vec<CaseAnswer>>> {
    let q = CaseQuery::parse(q.as_deref().unwrap_or(""))?;
    let limit = q.limit.unwrap_or(MAX_LIST_LIMIT);
    if limit > MAX_LIST_LIMIT {
        return Err(Problem::bad_request(
            "limit-too-large",
            format!("limit={limit}: at most {MAX_LIST_LIMIT} requests a page; page on with offset"),
        ));
    }
    let only_from = match &caller {
        Caller::Authority(a) => {
            if q.q.is_some() {
                return Err(Problem::forbidden(
                    "people-only",
                    format!(
                        "{} is a requesting authority: it cannot search the list with q (the staff's search over every case); list its own cases without q and page with offset",
                        a.name
                    ),
                ));
            }
            if q.status.is_some() || q.outcome.is_some() || q.assignee.is_some() {
                return Err(Problem::forbidden(
                    "people-only",
                    format!(
                        "{} is a requesting authority: its list cannot be filtered by status, outcome or assignee (the node's internal record); each reply says where the request stands",
                        a.name
                    ),
                ));
            }
            Some(a.kid.as_str())
        }
        Caller::User(_) => None,
    };
    let q = CaseQuery {
        limit: Some(limit),
        ..q
    };
    let q = match &caller {
        Caller::User(u) => q.for_viewer(&u.name),
        Caller::Authority(_) => q,
    };
    let cases = node.query().cases(&q, only_from).await?;
    let mut out = Vec::with_capacity(cases.len());
    if let Caller::User(_) = caller {
        let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
        let restarted = node.query().deadlines_restarted_at(&ids).await?;
        for c in &cases {
            let at = restarted.get(&c.case_id).copied();
            out.push(CaseAnswer::Staff(Box::new(
                staff_view_restarted(&node, c, at).await?,
            )));
        }
        return Ok(Json(out));
    }
    for c in &cases {
        out.push(answer(&node, &caller, c).await?);
    }
    Ok(Json(out))
}

/// One request: for people its whole record ([`CaseView`]), for the requesting authority its
/// reply (`custos.reply/v1`: status, the decision and the reason written for it, deadlines,
/// evidence; never the assessment, the recommendation or who decided).
#[utoipa::path(get, path = "/v1/requests/{case}", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = CaseAnswer, description = "People: the case's whole record (CaseView); the requesting authority: its reply (Reply)", headers(("ETag" = String, description = "The case's version (strong, e.g. \"c12-v7\"), to send as If-Match with a change"))),
              (status = 404, body = Problem)))]
pub(super) async fn get_request(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Response> {
    let c = visible_case(&node, &caller, case_id).await?;
    tagged(&node, case_id, Json(answer(&node, &caller, &c).await?)).await
}

/// The timeline of a request: its events with their log indexes (the full events for people;
/// for the requesting authority the types and times of what concerns it: its submissions, what
/// it was told, holds, secrecy's end, delivery and evidence, never the deliberation).
#[utoipa::path(get, path = "/v1/requests/{case}/events", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = CaseEvents), (status = 404, body = Problem)))]
pub(super) async fn request_events(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Json<CaseEvents>> {
    visible_case(&node, &caller, case_id).await?;
    let published = node.log.published_size();
    let mut events = Vec::new();
    for e in node.store.case_events(case_id).await? {
        let kind = stored_name("event type", &e.event_type)?;
        if matches!(caller, Caller::Authority(_)) && !requester_sees(kind) {
            continue;
        }
        events.push(EventView {
            log_index: e.seq,
            kind,
            at: e.at,
            inclusion_proof: (e.seq < published)
                .then(|| format!("/v1/log/inclusion?index={}&size={published}", e.seq)),
            event: match caller {
                Caller::User(_) => Some(parse_stored::<LoggedEvent>("event", &e.body)?),
                Caller::Authority(_) => None,
            },
        });
    }
    Ok(Json(CaseEvents {
        case: case_id,
        events,
    }))
}

/// Record a reviewer's decision.
#[utoipa::path(post, path = "/v1/requests/{case}/decision", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = DecisionInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn decide(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: DecisionInput, reply| Job::Decide {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

/// Correct the category or the maximum penalty of a case's offences (reviewers and above), with
/// a reason of at least one sentence. The node assesses the request again on the corrected facts
/// with its own profile and jurisdiction; both assessments are kept. A correction that makes the
/// recommendation less severe (e.g. turns a refusal into an execution) is a proposal until a
/// second reviewer confirms it (`second-review`); the case then awaits its second review.
#[utoipa::path(post, path = "/v1/requests/{case}/reclassification", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = ReclassificationInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\"")), description = "Reclassified and assessed again, or proposed for a second review"),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn reclassify(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: ReclassificationInput, reply| Job::Reclassify {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

/// Confirm or reject a decision or a reclassification waiting for a second reviewer
/// (supervisors only, not the proposer).
#[utoipa::path(post, path = "/v1/requests/{case}/second-review", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = SecondReviewInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn second_review(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: SecondReviewInput, reply| Job::SecondReview {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

async fn advance(
    node: &Node,
    case_id: i64,
    user: custos_store::User,
    if_match: IfMatch,
    to: CaseStatus,
) -> ApiResult<Response> {
    if_match.check(node, case_id).await?;
    let case = if_match
        .call(node, case_id, |tx| Job::Advance {
            case_id,
            user,
            to,
            reply: tx,
        })
        .await?;
    tagged(node, case_id, Json(case_view(node, &case).await?)).await
}

/// Postpone the decision on a case awaiting one (reviewers and above), with a reason the
/// requester reads and a date; at that date the scheduler brings the case back to awaiting a
/// decision. Logged as `request.postponed` (and `request.resumed`).
#[utoipa::path(post, path = "/v1/requests/{case}/postponement", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = PostponementInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn postpone(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: PostponementInput, reply| Job::Postpone {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

/// Consult the requester before refusing or granting on conditions (reviewers and above): a
/// message it reads and a date to answer by. The case waits for the answer (a signed message,
/// `POST /v1/requests/{case}/consultation/answer`, or a signed supplement) or the date, then
/// awaits a decision again. Logged as `consultation.opened`.
#[utoipa::path(post, path = "/v1/requests/{case}/consultation", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = ConsultationInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn consult(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    change_case(
        &node,
        case_id,
        &if_match,
        &body,
        |input: ConsultationInput, reply| Job::Consult {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}

/// A case's consultation thread (people see which reviewer asked; the requesting authority
/// does not).
#[utoipa::path(get, path = "/v1/requests/{case}/consultation", params(("case" = i64, Path)), security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = ConsultationThread), (status = 404, body = Problem)))]
pub(super) async fn consultation(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Json<ConsultationThread>> {
    visible_case(&node, &caller, case_id).await?;
    let staff = matches!(caller, Caller::User(_));
    Ok(Json(ConsultationThread {
        case: case_id,
        messages: consultation_thread(&node, case_id, staff).await?,
    }))
}

/// Answer a consultation (the requesting authority, signed).
///
/// The body is a compact JWS signed by the case's authority whose payload is
/// `{"request_id": …, "message": …}`. The case then awaits a decision again. Logged as
/// `consultation.answered`. The answer is the requester's reply, with the thread.
#[utoipa::path(post, path = "/v1/requests/{case}/consultation/answer", params(("case" = i64, Path)),
    request_body(content = CompactJws, content_type = "application/jose", description = "A compact JWS whose payload is a ConsultationAnswerInput"),
    responses((status = 200, body = Reply, description = "Answered: the requester's reply"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn answer_consultation(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Reply>> {
    signed_job(&node, &headers, body, |answer, reply| {
        Job::AnswerConsultation {
            case_id,
            answer,
            reply,
        }
    })
    .await
}

/// Mark an executed request delivered.
#[utoipa::path(post, path = "/v1/requests/{case}/delivered", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn mark_delivered(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
) -> ApiResult<Response> {
    advance(&node, case_id, user, if_match, CaseStatus::Delivered).await
}

/// Close a decided request.
#[utoipa::path(post, path = "/v1/requests/{case}/closed", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn mark_closed(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
) -> ApiResult<Response> {
    advance(&node, case_id, user, if_match, CaseStatus::Closed).await
}

/// Renew a preservation hold (reviewers and above): its end becomes the profile's hold length
/// from now, never earlier than the end in force, so renewals never stack. The body is optional:
/// `{"reason": "…"}`, recorded in `preservation.renewed`. The answer shows the new end.
#[utoipa::path(post, path = "/v1/requests/{case}/hold/renew", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body(content = Option<crate::ops::HoldRenewalInput>, description = "Optional: the reason for the renewal"), security(("bearer" = [])),
    responses((status = 200, body = HoldView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn renew_hold(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    // No body, or `null`: no reason given.
    let text = body.trim_ascii();
    let input: crate::ops::HoldRenewalInput = if text.is_empty() || text == b"null" {
        Default::default()
    } else {
        json_body(&body)?
    };
    let h = if_match
        .call(&node, case_id, |tx| Job::Renew {
            case_id,
            user,
            input,
            reply: tx,
        })
        .await?;
    tagged(&node, case_id, Json(hold_view(&h))).await
}

/// Release a preservation hold before its date (reviewers and above), with a reason, recorded
/// in `preservation.released`. A hold kept for a pending follow-up is 409 `follow-up-pending`.
#[utoipa::path(post, path = "/v1/requests/{case}/hold/release", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = crate::ops::HoldReleaseInput, security(("bearer" = [])),
    responses((status = 200, body = HoldView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(super) async fn release_hold(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let input: crate::ops::HoldReleaseInput = json_body(&body)?;
    let h = if_match
        .call(&node, case_id, |tx| Job::Release {
            case_id,
            user,
            input,
            reply: tx,
        })
        .await?;
    tagged(&node, case_id, Json(hold_view(&h))).await
}
