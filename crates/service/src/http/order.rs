//! The order that must follow an emergency, over HTTP (`ops::order`).
//!
//! * `POST /v1/requests/{case}/order` — the requesting authority sends the order, a compact JWS
//!   signed by its key over `{"request_id", "authorization": {…}}`; answered with its reply.
//! * `POST /v1/requests/{case}/deletion-request` — after a missed order, a reviewer asks the
//!   requester to delete what was handed over; answered with the staff's record.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::ApiResult;
use super::extract::{IfMatch, Staff};
use super::requests::{change_case, signed_job};
use crate::node::Node;
use crate::ops::{DeletionRequestInput, OrderInput};
use crate::problem::Problem;
use crate::wire::{CaseView, Reply};
use crate::writer::Job;

/// Send the order that must follow an emergency (the requesting authority, signed).
///
/// When a justified emergency waived prior authorization and the case was executed, the order
/// is due (the reply's `order.due_at`, `order.required`). The body is a compact JWS signed by
/// the key the case's authority submits with, over `{"request_id": …, "authorization": {"kind":
/// …, "reference": …, "issued_by"?: …, "issued_at"?: …}}` (as `authorization` of the request
/// format). The kind must be one the rule asks for (422 at `$.authorization.kind`); a case that
/// owes no order is a 409 `no-order-due`. Logged as `order.received` (marked late after the
/// due time). The answer is the requester's reply.
#[utoipa::path(post, path = "/v1/requests/{case}/order", params(("case" = i64, Path)),
    request_body(content = super::CompactJws, content_type = "application/jose", description = "A compact JWS whose payload is an OrderInput"),
    responses((status = 200, body = Reply, description = "Received: the requester's reply"),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn send_order(
    State(node): State<Arc<Node>>,
    Path(case_id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Reply>> {
    // Signature first: nothing of the payload is read before it verifies.
    signed_job::<OrderInput>(&node, &headers, body, |order, reply| Job::ReceiveOrder {
        case_id,
        order,
        reply,
    })
    .await
}

/// Ask the requester to delete what was handed over, after its order was missed (reviewers and
/// above), with a message it reads in its reply (`order.deletion_requested`). Refused (409)
/// before the order is missed, after it arrived, or a second time. Logged as
/// `deletion.requested`.
#[utoipa::path(post, path = "/v1/requests/{case}/deletion-request", params(("case" = i64, Path), ("If-Match" = Option<String>, Header, description = "The case's ETag as read (GET /v1/requests/{case}); if the case changed since, 412 stale-version and nothing is changed. Optional.")), request_body = DeletionRequestInput, security(("bearer" = [])),
    responses((status = 200, body = CaseView, headers(("ETag" = String, description = "The case's version after the change, e.g. \"c12-v7\""))), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 412, body = Problem, description = "stale-version: the case changed since the If-Match version; says what changed it, when and who")))]
pub(crate) async fn request_deletion(
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
        |input: DeletionRequestInput, reply| Job::RequestDeletion {
            case_id,
            user,
            input,
            reply,
        },
    )
    .await
}
