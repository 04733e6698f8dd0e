//! Extensions of deadlines and notices to persons concerned, over HTTP.
//!
//! * `POST /v1/requests/{case}/extensions` — the requesting authority asks, with its signed
//!   proof, to move a deadline of its own case (the end of confidentiality, or a preservation
//!   hold's end: a renewal).
//! * `GET /v1/requests/{case}/extensions` — the case's requests and their answers (the
//!   authority its own, without reviewers' names; staff everything).
//! * `GET /v1/extensions` — the requests waiting for a reviewer (staff).
//! * `POST /v1/requests/{case}/extensions/{extension}/decision` — a reviewer grants or refuses.
//! * `GET /v1/requests/{case}/notice` — the notice to the person concerned as it would be sent
//!   now (`custos.notice/v1`, with its text), for staff, e.g. to send it by hand when the node
//!   has no `notice_command`.
//! * `POST /v1/requests/{case}/notice/action` — a reviewer records the notice as given by hand,
//!   or defers it with a reason within the profile's cap.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{IfMatch, tagged};
use super::requests::visible_case;
use super::{ApiResult, Staff, json_body};
use crate::auth::Caller;
use crate::node::Node;
use crate::ops::notice::NoticeFacts;
use crate::ops::{ExtensionDecisionInput, ExtensionInput, LifecycleRules, NoticeDocument};
use crate::problem::Problem;
use crate::query::Extension;
use crate::wire::ExtensionView;
use crate::writer::Job;

/// The view of an extension; `staff` sees who decided.
pub(crate) fn extension_view(x: &Extension, staff: bool) -> ExtensionView {
    ExtensionView {
        extension: x.extension_id,
        case: x.case_id,
        kind: x.kind,
        status: x.status,
        asked_at: x.asked_at,
        current_until: x.current_until,
        asked_until: x.asked_until,
        reasons: x.reasons.clone(),
        decided_at: x.decided_at,
        granted_until: x.granted_until,
        reason: x.decision_reason.clone(),
        decided_by: if staff { x.decided_by.clone() } else { None },
    }
}

/// Ask to move a deadline of your case (requesting authorities, with their signed proof).
///
/// Kind `confidentiality`: the end of secrecy, and with it the notice to the person concerned;
/// the date must be later than the end in force and within the profile's cap counted from now
/// (`rights-first`: 365 days; `convention`: none). Kind `preservation`: the renewal of a hold in
/// force, to a date later than its end (a grant also logs `preservation.renewed`). One request
/// of a kind may wait at a time. Logged as `extension.requested`; a reviewer decides.
#[utoipa::path(post, path = "/v1/requests/{case}/extensions", params(("case" = i64, Path)), request_body = ExtensionInput,
    security(("custos_jws" = [])),
    responses((status = 201, body = ExtensionView, description = "Asked; waiting for a reviewer"), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn request(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ExtensionView>)> {
    let authority = match caller {
        Caller::Authority(a) => a,
        Caller::User(u) => {
            return Err(Problem::forbidden(
                "authorities-only",
                format!(
                    "{} is a person of this node: the requesting authority asks for an extension with its signed proof, and a reviewer decides it (POST /v1/requests/{case_id}/extensions/{{extension}}/decision)",
                    u.name
                ),
            ));
        }
    };
    let input: ExtensionInput = json_body(&body)?;
    let x = node
        .writer
        .call(|reply| Job::RequestExtension {
            case_id,
            authority,
            input,
            reply,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(extension_view(&x, false))))
}

/// The requests to move a case's deadlines, and their answers (the requesting authority sees its
/// own cases', without reviewers' names).
#[utoipa::path(get, path = "/v1/requests/{case}/extensions", params(("case" = i64, Path)),
    security(("bearer" = []), ("custos_jws" = [])),
    responses((status = 200, body = Vec<ExtensionView>), (status = 404, body = Problem)))]
pub(crate) async fn of_case(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    caller: Caller,
) -> ApiResult<Json<Vec<ExtensionView>>> {
    visible_case(&node, &caller, case_id).await?;
    let staff = matches!(caller, Caller::User(_));
    let list = node.query().case_extensions(case_id).await?;
    Ok(Json(
        list.iter().map(|x| extension_view(x, staff)).collect(),
    ))
}

/// Requests for extensions waiting for a reviewer, oldest first.
#[utoipa::path(get, path = "/v1/extensions", security(("bearer" = [])),
    responses((status = 200, body = Vec<ExtensionView>), (status = 403, body = Problem)))]
pub(crate) async fn pending(
    State(node): State<Arc<Node>>,
    _: Staff,
) -> ApiResult<Json<Vec<ExtensionView>>> {
    let list = node.query().pending_extensions().await?;
    Ok(Json(list.iter().map(|x| extension_view(x, true)).collect()))
}

/// Grant (possibly to an earlier date than asked) or refuse a request for an extension
/// (reviewers and above; auditors are refused). The reason is what the requester reads.
/// Granting moves the deadline within the profile's cap; logged as `extension.granted` or
/// `extension.refused`.
#[utoipa::path(post, path = "/v1/requests/{case}/extensions/{extension}/decision",
    params(("case" = i64, Path), ("extension" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = ExtensionDecisionInput, security(("bearer" = [])),
    responses((status = 200, body = ExtensionView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(crate) async fn decide(
    State(node): State<Arc<Node>>,
    Path((case_id, extension_id)): Path<(i64, i64)>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let input: ExtensionDecisionInput = json_body(&body)?;
    let x = if_match
        .call(&node, case_id, |reply| Job::DecideExtension {
            case_id,
            extension_id,
            user,
            input,
            reply,
        })
        .await?;
    tagged(&node, case_id, Json(extension_view(&x, true))).await
}

/// The notice to the person concerned by a case, as it would be sent now (`custos.notice/v1`,
/// with its plain text). What the `notice_command` reads on its standard input; without one,
/// staff send it by hand.
#[utoipa::path(get, path = "/v1/requests/{case}/notice", params(("case" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = NoticeDocument), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub(crate) async fn notice(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    _: Staff,
) -> ApiResult<Json<NoticeDocument>> {
    let query = node.query();
    let case = query
        .case(case_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no case {case_id} on this node")))?;
    let notice = query.notice(case_id).await?.ok_or_else(|| {
        Problem::conflict(
            "no-notice",
            format!(
                "case {case_id} owes no notice (not executed, a profile without notices, or a preservation alone)"
            ),
        )
    })?;
    let handed_over_at = query
        .evidence_for_case(case_id)
        .await?
        .iter()
        .filter_map(|e| e.delivered_at)
        .min();
    let rules = LifecycleRules::of(node.config.lifecycle.preservation_days, &node.assessor)
        .warning(node.config.lifecycle.lapse_warning_days);
    let doc = NoticeDocument::of(
        &case,
        &rules.notices,
        NoticeFacts {
            handed_over_at,
            confidentiality_ended_at: notice.ended_at,
            issued_at: node.now(),
        },
    )
    .map_err(|e| Problem::conflict("no-notice", e))?;
    Ok(Json(doc))
}

/// Act on the notice owed by a case (reviewers and above): `{"action": "sent_by_hand", "note"}`
/// records it as given outside the node (`notice.sent`, `by_hand`), so the scheduler stops;
/// `{"action": "deferred", "until", "reason"}` moves its due time (`notice.deferred`), no later
/// than the profile's cap on secrecy allows from now. A notice already sent is 409.
#[utoipa::path(post, path = "/v1/requests/{case}/notice/action", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = crate::ops::NoticeAction, security(("bearer" = [])),
    responses((status = 200, body = crate::wire::NoticeView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(crate) async fn act_on_notice(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    Staff(user): Staff,
    if_match: IfMatch,
    body: Bytes,
) -> ApiResult<Response> {
    if_match.check(&node, case_id).await?;
    let action: crate::ops::NoticeAction = json_body(&body)?;
    let n = if_match
        .call(&node, case_id, |reply| crate::writer::Job::NoticeAction {
            case_id,
            user,
            action,
            reply,
        })
        .await?;
    tagged(
        &node,
        case_id,
        Json(super::directory::notice_view(&n, node.now())),
    )
    .await
}
